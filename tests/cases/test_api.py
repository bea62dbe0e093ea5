"""The case endpoints through HTTP, as the named users of tests/conftest.py.

Every endpoint has a negative scope test (a case, node, meeting or review outside the caller's
subtree answers 404 exactly like a missing one) with a positive control; every action of the
workflow is taken through the API at least once; refused requests change nothing (cases,
transitions, rollups and audit events are compared before and after).
"""

import io
import json
import re
import threading
from datetime import timedelta

import openpyxl
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from docx import Document

from jiedao.cases import api_common
from jiedao.cases.cycles import services as cycles
from jiedao.cases.models import (
    Case,
    CaseStat,
    CaseStatDelta,
    CaseTransition,
    Category,
    Deliberation,
    QuarterlyReview,
    WeeklyDigest,
)
from jiedao.cases.statistics import rollups
from jiedao.cases.workflow import Action, table_rows
from jiedao.core import sealed
from jiedao.core.models import AuditEvent
from jiedao.core.services import token_create

BASE = "/api/v1"
MISSING = 987654
NOT_FOUND = {"detail": "未找到该对象。", "field": None, "code": "not_found"}
PHONE = "13812345678"


def is_chinese(text):
    return bool(re.search(r"[\u4e00-\u9fff]", text or ""))


class Counts:
    """Everything a case request could change, to prove a refusal changed nothing."""

    def __init__(self):
        self.before = self.snapshot()

    @staticmethod
    def snapshot():
        return {
            "cases": list(Case.objects.order_by("pk").values_list("pk", "state", "version", "tier", "level")),
            "transitions": CaseTransition.objects.count(),
            "stats": list(CaseStat.objects.order_by("pk").values_list("reported", "accepted", "dispatched", "closed")),
            "stat_deltas": CaseStatDelta.objects.count(),
            "digests": WeeklyDigest.objects.count(),
            "meetings": list(Deliberation.objects.values_list("pk", "status")),
            "reviews": list(QuarterlyReview.objects.values_list("pk", "status")),
            # the tokens the test hands out are set-up, not effects of the request under test
            "audit": AuditEvent.objects.exclude(action="core.token.create").count(),
        }

    def unchanged(self):
        return self.snapshot() == self.before


def file(api, world, **over):
    body = {
        "source": "door_visit", "node": world.grid.pk, "building": world.building.pk,
        "title": "楼下垃圾三天没人清运", "description": "1幢楼下垃圾堆放三天，臭气熏天。", "category": "garbage",
        "reporter_name": "陈阿姨", "reporter_phone": PHONE, **over,
    }
    response = api.post("/cases", body)
    assert response.status_code == 201, response.content
    return response.json()


def act(api, case_id, action, **fields):
    return api.post(f"/cases/{case_id}/actions", {"action": action, **fields})


def allowed(api, case_id):
    response = api.get(f"/cases/{case_id}")
    assert response.status_code == 200, response.content
    return [a["action"] for a in response.json()["allowed_actions"]]


# --- the loop end to end ---------------------------------------------------------------------------


def test_full_loop_through_http(world, catalogue, as_):
    worker, secretary, handler = as_(world.worker), as_(world.secretary), as_(world.handler)
    case = file(worker, world, latitude=29.405, longitude=121.605, address="东门路 1 号")
    cid = case["id"]
    assert (case["state"], case["tier"], case["source"], case["category_code"]) == ("reported", "public", "door_visit",
                                                                                    "garbage")
    assert case["reporter_phone"] == "138******78" and case["reporter_name"] == "陈阿姨"
    assert (case["grid_name"], case["community_name"], case["building_name"]) == ("东门第一网格", "东门社区", "1幢")
    assert (case["latitude"], case["longitude"]) == (29.405, 121.605)
    assert [a["action"] for a in case["allowed_actions"]] == ["accept", "merge"]
    assert handler.get(f"/cases/{cid}").status_code == 404  # not dispatched to the department yet

    steps = [
        (secretary, "accept", {}, "accepted"),
        (secretary, "dispatch", {}, "dispatched"),
        (handler, "acknowledge", {}, "acknowledged"),
        (handler, "handle", {"reason": "已联系环卫所"}, "in_progress"),
        (handler, "resolve", {"reason": "已清运并加设垃圾桶"}, "resolved"),
        (worker, "verify_pass", {}, "verified"),
        (secretary, "follow_up", {"contacted": True, "solved": True, "rating": "satisfied",
                                  "comment": "电话回访，满意"}, "verified"),
        (secretary, "close", {}, "closed"),
    ]
    for api, action, fields, state in steps:
        assert action in allowed(api, cid), action
        response = act(api, cid, action, **fields)
        assert response.status_code == 200, (action, response.content)
        body = response.json()
        assert body["state"] == state, action
        if action == "dispatch":
            assert body["handling_department_name"] == "城建办" and body["level"] == 2
            assert body["deadline_at"] is not None and body["overdue"] is False
            assert allowed(handler, cid) == ["acknowledge", "return", "escalate"]

    case = Case.objects.get(pk=cid)
    assert (case.state, case.resolved_level, case.rating, case.result) == ("closed", 2, "satisfied", "已清运并加设垃圾桶")
    assert (case.contacted_in_time, case.solved) == (True, True)
    timeline = worker.get(f"/cases/{cid}/transitions")
    assert timeline.status_code == 200
    assert [t["action"] for t in timeline.json()["items"]] == ["report"] + [s[1] for s in steps]
    assert timeline.json()["items"][5]["actor_name"] == "handler"
    detail = worker.get(f"/cases/{cid}").json()
    assert [t["seq"] for t in detail["transitions"]] == list(range(9))
    assert detail["allowed_actions"] == []  # a grid worker may not reopen
    assert AuditEvent.objects.filter(object_type="cases.case", object_id=str(cid)).count() == 9
    rollups.fold()
    assert CaseStat.objects.get(node=world.grid).closed == 1


def test_every_workflow_action_is_reachable_through_the_api(world, catalogue, as_):
    worker, secretary, handler, leader = (as_(getattr(world, n)) for n in ("worker", "secretary", "handler", "leader"))
    done = set()

    def do(api, case_id, action, **fields):
        response = act(api, case_id, action, **fields)
        assert response.status_code == 200, (action, response.content)
        done.add(action)
        return response.json()

    # 小事: tiered and handled by the community itself, then escalated to the departments
    small = file(worker, world, category="dispute", title="邻里噪音纠纷", description="楼上深夜噪音")["id"]
    assert do(secretary, small, "tier", tier="community")["tier_label"] == "小事"
    do(secretary, small, "accept")
    assert do(secretary, small, "dispatch")["handling_node_name"] == "东门社区"
    do(secretary, small, "acknowledge")
    body = do(secretary, small, "escalate", reason="调解不成，需科室介入")
    assert (body["state"], body["level"], body["escalation_count"], body["tier"]) == ("accepted", 2, 1, "public")
    # ... to the joint meeting (level 3), which could not settle it: handed over to the district,
    # returned by the district, dispatched again by a leader, deferred, resolved
    do(secretary, small, "dispatch", department=world.department.pk)
    do(handler, small, "escalate", reason="涉及多个部门，需联席会议协调")
    body = do(leader, small, "hand_over", reason="联席会议协调不成", district_ref="区信访2026-0001")
    assert (body["state"], body["level"], body["district_ref"]) == ("with_district", 4, "区信访2026-0001")
    assert do(leader, small, "district_reply", outcome="returned", reply="请街道组织调解")["state"] == "accepted"
    do(leader, small, "dispatch", department=world.department.pk)
    later = timezone.localdate() + timedelta(days=30)
    assert do(leader, small, "defer", reason="需等待鉴定结果", new_deadline=f"{later:%Y-%m-%d}")["deferred_at"]

    # 大事: supervised, returned by the department, dispatched again, fixed badly, redone
    big = file(worker, world)["id"]
    do(secretary, big, "accept", tier="public")
    do(secretary, big, "dispatch", department=world.department.pk)
    assert do(leader, big, "supervise", reason="请加快处理")["supervise_count"] == 1
    body = do(handler, big, "return", reason="非本科室职责")
    assert (body["state"], body["return_count"], body["handling_department_id"]) == ("accepted", 1, None)
    assert handler.get(f"/cases/{big}").status_code == 404  # no longer the department's
    do(secretary, big, "dispatch")
    do(handler, big, "acknowledge")
    do(handler, big, "handle")
    do(handler, big, "resolve", reason="已清运")
    body = do(worker, big, "verify_fail", reason="现场仍有垃圾")
    assert (body["state"], body["rework_count"]) == ("in_progress", 1)

    # refused, then reopened by the leadership; a duplicate merged into it
    junk = file(worker, world, title="重复反映", description="同一处垃圾")["id"]
    assert do(secretary, junk, "reject", reason="已有同一事项")["state"] == "rejected"
    assert do(leader, junk, "reopen", reason="复核后应受理")["state"] == "accepted"
    duplicate = file(worker, world, title="同一处垃圾", description="又有人反映")["id"]
    body = do(worker, duplicate, "merge", into=junk)
    assert body["state"] == "closed" and body["merged_into_id"] == junk

    # 私事: guidance given and resolved at the community, verified, called back, closed
    private = file(worker, world, category="dispute", tier="private", title="家中水管漏水", description="自家水管")["id"]
    do(secretary, private, "accept")
    assert do(secretary, private, "resolve", reason="建议联系物业维修")["guidance"] == "建议联系物业维修"
    do(worker, private, "verify_pass")
    followed = do(worker, private, "follow_up", contacted=False, solved=True, rating="basic")
    assert (followed["rating_label"], followed["contacted_in_time"], followed["solved"]) == ("基本满意", False, True)
    assert do(secretary, private, "close")["state"] == "closed"

    assert done == set(Action.values)


# --- refusals change nothing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "state", "action", "fields"),
    [
        ("worker", "accepted", "dispatch", {}),  # grid workers do not dispatch
        ("leader", "accepted", "tier", {"tier": "community"}),
        ("secretary", "dispatched", "acknowledge", {}),  # the department acknowledges, not the community
        ("worker", "verified", "close", {}),
        ("leader", "reported", "reject", {"reason": "不受理"}),
    ],
)
def test_forbidden_action_is_403_in_chinese_and_changes_nothing(world, catalogue, as_, who, state, action, fields):
    api = as_(getattr(world, who))
    case = file(as_(world.worker), world)
    Case.objects.filter(pk=case["id"]).update(state=state, handling_department=world.department, level=2)
    counts = Counts()
    response = act(api, case["id"], action, **fields)
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "forbidden" and is_chinese(body["detail"]) and str(Action(action).label) in body["detail"]
    assert counts.unchanged()
    assert action not in allowed(api, case["id"])


@pytest.mark.parametrize(
    ("state", "action", "label"),
    [("reported", "close", "待受理"), ("closed", "accept", "已结案"), ("accepted", "verify_pass", "已受理")],
)
def test_action_in_the_wrong_state_is_400_naming_action(world, catalogue, as_, state, action, label):
    secretary = as_(world.secretary)
    case = file(as_(world.worker), world)
    Case.objects.filter(pk=case["id"]).update(state=state)
    counts = Counts()
    response = act(secretary, case["id"], action)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "action" and label in response.json()["detail"]
    assert counts.unchanged()


def test_conflict_is_409_and_changes_nothing(world, catalogue, as_, monkeypatch):
    """The other request commits between our read and our guarded update (compare-and-set lost)."""
    secretary = as_(world.secretary)
    case = file(as_(world.worker), world)
    real_filter = Case.objects.filter

    def racing_filter(*args, **kwargs):
        if "version" in kwargs:
            Case.objects.all().update(version=99)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Case.objects, "filter", racing_filter)
    response = act(secretary, case["id"], "accept")
    monkeypatch.undo()
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "conflict" and is_chinese(response.json()["detail"])
    assert Case.objects.get(pk=case["id"]).state == "reported"
    assert not CaseTransition.objects.filter(case_id=case["id"], action="accept").exists()


INTAKE_REFUSALS = [
    ({"tier": "urgent_matter"}, 422, "tier"),
    ({"source": "rumour"}, 422, "source"),
    ({"node": MISSING}, 404, "node"),
    ({"node": "other_grid"}, 404, "node"),  # another grid: the worker does not even see it
    ({"node": "subdistrict"}, 404, "node"),
    ({"building": MISSING}, 404, "building"),
    ({"node": "other_grid_by_secretary", "building": "building"}, 400, "building"),
    ({"reporter_phone": "12345"}, 400, "reporter_phone"),
    ({"latitude": 91, "longitude": 121.6}, 422, "latitude"),
    ({"latitude": 29.4, "longitude": -181}, 422, "longitude"),
    ({"latitude": 29.4}, 400, "longitude"),
    ({"description": None}, 422, "description"),
    ({"description": "   "}, 400, "description"),
    ({"node": None}, 400, "node"),  # neither a node nor a building
    ({"title": "长" * 101}, 400, "title"),
    ({"category": "no_such_code"}, 404, "category"),
    ({"urgency": "whenever"}, 422, "urgency"),
    ({"reporter": "陈阿姨"}, 422, "reporter"),  # a typo is refused, not ignored
]


@pytest.mark.parametrize(("change", "status", "field"), INTAKE_REFUSALS)
def test_intake_bad_input_names_the_field(world, catalogue, as_, change, status, field):
    who = world.secretary if change.get("node") == "other_grid_by_secretary" else world.worker
    api = as_(who)
    body = {"source": "door_visit", "node": world.grid.pk, "title": "楼道堆物", "description": "三楼楼道堆满杂物",
            "category": "dispute"}
    for key, value in change.items():
        if value is None:
            body.pop(key)
        elif value == "other_grid_by_secretary":
            body[key] = world.other_grid.pk
        elif isinstance(value, str) and hasattr(world, value) and key in ("node", "building"):
            body[key] = getattr(world, value).pk
        else:
            body[key] = value
    counts = Counts()
    response = api.post("/cases", body)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()


def test_intake_takes_the_title_and_place_by_the_one_rule(world, catalogue, as_):
    """No title: the description's first 30 characters; no node: the building decides (the same
    rule as the page and Open311, all in services.case_create)."""
    description = "三楼楼道堆满杂物，消防通道被堵住，住户多次反映无人处理，请尽快清理并告知物业加强巡查。"
    response = as_(world.worker).post("/cases", {"source": "door_visit", "building": world.building.pk,
                                                 "description": description, "category": "dispute"})
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert case.title == description[:30] + "…" and case.node_id == world.building.parent_id
    assert case.filed_category.code == "dispute"


def test_intake_refused_to_those_who_may_not_file(world, catalogue, as_):
    handler, leader = as_(world.handler), as_(world.leader)
    counts = Counts()
    body = {"source": "hotline", "node": world.grid.pk, "title": "路灯不亮", "description": "东门路路灯不亮"}
    response = handler.post("/cases", body)  # sees the sub-district's tree, files no cases
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert counts.unchanged()
    assert leader.post("/cases", body).status_code == 201  # the leadership takes hotline calls


def test_reporter_phone_is_encrypted_and_only_masked_in_responses(world, catalogue, as_):
    worker = as_(world.worker)
    case = file(worker, world)
    for response in (worker.get(f"/cases/{case['id']}"), worker.get("/cases"), worker.get(f"/cases/{case['id']}/transitions")):
        assert response.status_code == 200 and PHONE not in response.content.decode()
    stored = Case.objects.get(pk=case["id"])
    assert PHONE not in stored.reporter_phone_enc and sealed.reveal(stored, "reporter_phone") == PHONE
    anonymous = file(worker, world, anonymous=True)
    assert (anonymous["reporter_name"], anonymous["reporter_phone"]) == ("", "")
    assert Case.objects.get(pk=anonymous["id"]).reporter_phone_enc == ""


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"action": "promote"}, 422, "action"),
        ({"action": "reject"}, 400, "reason"),
        ({"action": "accept", "department": "department"}, 400, "department"),  # not a parameter of accept
        ({"action": "dispatch", "department": MISSING}, 404, "department"),
        ({"action": "merge"}, 400, "into"),
        ({"action": "merge", "into": MISSING}, 404, "into"),
        ({"action": "merge", "into": "village_case"}, 404, "into"),  # out of the worker's scope
        ({"action": "merge", "into": "self"}, 400, "into"),
        ({"action": "tier"}, 400, "tier"),
        ({"action": "tier", "tier": "huge"}, 422, "tier"),
        ({"action": "accept", "category": "no_such_code"}, 404, "category"),
        ({"action": "follow_up"}, 400, "contacted"),
        ({"action": "follow_up", "contacted": True}, 400, "solved"),
        ({"action": "follow_up", "contacted": True, "solved": False}, 400, "rating"),
        ({"action": "follow_up", "contacted": "maybe", "solved": True, "rating": "basic"}, 422, "contacted"),
        ({"action": "accept", "solved": True}, 400, "solved"),
        ({"action": "accept", "rating": "satisfied"}, 400, "rating"),
        ({"action": "accept", "reason": "好", "extra": 1}, 422, "extra"),
    ],
)
def test_action_bad_input_names_the_field(world, catalogue, as_, fields, status, field):
    worker, secretary, village = as_(world.worker), as_(world.secretary), as_(world.village_worker)
    case = file(worker, world)
    village_case = file(village, world, node=world.village_grid.pk, building=None)
    api = secretary
    if fields["action"] in ("dispatch", "follow_up"):
        state = {"dispatch": "accepted", "follow_up": "resolved"}[fields["action"]]
        Case.objects.filter(pk=case["id"]).update(state=state)
    if fields["action"] == "merge":
        api = worker
    values = {"department": world.department.pk, "village_case": village_case["id"], "self": case["id"]}
    payload = {k: values.get(v, v) if isinstance(v, str) and k != "action" else v for k, v in fields.items()}
    counts = Counts()
    response = act(api, case["id"], **payload)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()


# --- reading ---------------------------------------------------------------------------------------


def test_list_is_scoped_and_filters(world, catalogue, as_):
    worker, other, secretary, handler, leader = (
        as_(getattr(world, n)) for n in ("worker", "other_worker", "secretary", "handler", "leader"))
    garbage = file(worker, world)
    dispute = file(worker, world, category="dispute", title="邻里噪音", description="楼上噪音", building=None)
    elsewhere = file(other, world, node=world.other_grid.pk, building=None, title="井盖缺失")
    village = file(as_(world.village_worker), world, node=world.village_grid.pk, building=None, title="河道漂浮物")

    def ids(api, **params):
        response = api.get("/cases", **params)
        assert response.status_code == 200, response.content
        return sorted(c["id"] for c in response.json()["items"])

    assert ids(worker) == sorted([garbage["id"], dispute["id"]])
    assert ids(other) == [elsewhere["id"]]
    assert ids(secretary) == sorted([garbage["id"], dispute["id"], elsewhere["id"]])
    assert ids(leader) == sorted([garbage["id"], dispute["id"], elsewhere["id"], village["id"]])
    assert ids(handler) == []  # nothing dispatched to 城建办 yet
    assert ids(secretary, tier="community") == [dispute["id"]]
    assert ids(secretary, category="dispute") == [dispute["id"]]
    assert ids(secretary, node=world.other_grid.pk) == [elsewhere["id"]]
    assert ids(secretary, q=garbage["ticket"]) == [garbage["id"]]
    assert ids(secretary, q="井盖") == [elsewhere["id"]]
    assert ids(leader, mine="true") == []
    assert ids(worker, mine="true") == sorted([garbage["id"], dispute["id"]])

    assert act(secretary, garbage["id"], "accept").status_code == 200
    assert act(secretary, garbage["id"], "dispatch").status_code == 200
    assert ids(secretary, state="dispatched") == [garbage["id"]]
    assert ids(handler) == [garbage["id"]] and ids(handler, mine="true") == [garbage["id"]]
    assert ids(secretary, overdue="true") == []
    Case.objects.filter(pk=garbage["id"]).update(deadline_at=timezone.now() - timedelta(hours=1))
    assert ids(secretary, overdue="true") == [garbage["id"]]
    assert secretary.get(f"/cases/{garbage['id']}").json()["overdue"] is True

    bad = secretary.get("/cases", state="lost")
    assert bad.status_code == 422 and bad.json()["field"] == "state"
    assert secretary.get("/cases", category="nothing").json() == {**NOT_FOUND, "field": "category"}
    page = leader.get("/cases", limit=2, offset=1).json()
    assert page["count"] == 4 and len(page["items"]) == 2


def test_workflow_table_and_categories(world, catalogue, as_):
    worker = as_(world.worker)
    rows = worker.get("/cases/workflow").json()
    assert rows == [{**r, "action_label": str(r["action_label"])} for r in table_rows()]
    assert {r["action"] for r in rows} == set(Action.values)
    categories = worker.get("/cases/categories", limit=500).json()
    codes = {c["code"]: c for c in categories["items"]}
    assert codes["exposed_garbage"]["parent_name"] == "市容环境" and codes["exposed_garbage"]["time_limit_label"] == "1 工作日"
    assert codes["city_appearance"]["is_group"] is True and "garbage" in codes
    Category.objects.filter(code="exposed_garbage").update(is_active=False)
    assert "exposed_garbage" not in {c["code"] for c in worker.get("/cases/categories", limit=500).json()["items"]}


def test_unauthenticated_is_401(world, client):
    for url in ("/cases", "/cases/workflow", "/cases/stats/rates"):
        assert client.get(BASE + url).status_code == 401


# --- scope: every endpoint --------------------------------------------------------------------------

THIS_MONTH = f"{timezone.localdate():%Y-%m}"
RECORD = {"held_at": "2026-03-20T19:00:00", "location": "议事厅", "host": "王书记",
          "attendees": [{"name": "李大爷", "role": "居民代表"}], "summary": "议定"}

# Every endpoint's scope (404 for outsiders, refusals change nothing) is checked from the table in
# tests/cases/scope_table.py by tests/test_api_scope.py.


@pytest.fixture
def scoped(world, settings, tmp_path):
    """A case in 东门第一网格 (with a photo) and the cycle objects of 东门社区 around it."""
    from tests.cases.scope_table import build

    settings.MEDIA_ROOT = tmp_path / "media"
    return build(world)


def test_out_of_scope_case_answers_exactly_like_a_missing_one(world, scoped, as_):
    other = as_(world.other_worker)
    for suffix in ("", "/transitions"):
        outside = other.get(f"/cases/{scoped['case']}{suffix}")
        missing = other.get(f"/cases/{MISSING}{suffix}")
        assert outside.status_code == missing.status_code == 404 and outside.content == missing.content
    assert other.get("/cases").json() == {"items": [], "count": 0, "count_capped": False, "next_cursor": None}


def test_worker_cannot_query_stats_of_another_grid(world, catalogue, as_):
    worker = as_(world.worker)
    for node in (world.other_grid, world.village_grid, world.community, world.subdistrict):
        response = worker.get("/cases/stats/rates", node=node.pk)
        assert response.status_code == 404 and response.json() == {**NOT_FOUND, "field": "node"}
    assert worker.get("/cases/stats/rates", node=world.grid.pk).status_code == 200


# --- statistics -------------------------------------------------------------------------------------


def _close_one(world, catalogue, rating="satisfied"):
    from tests.cases.test_cycles import run_to_verified
    from tests.cases.test_workflow import file_case

    return run_to_verified(world, file_case(world, catalogue), rating=rating)


def test_stats_endpoints(world, catalogue, as_):
    _close_one(world, catalogue)
    _close_one(world, catalogue, rating="basic")
    worker, leader, root, handler = (as_(getattr(world, n)) for n in ("worker", "leader", "root", "handler"))

    rates = worker.get("/cases/stats/rates")  # default: the worker's own grid, this year
    assert rates.status_code == 200, rates.content
    body = rates.json()
    assert (body["node_name"], body["end_month"]) == ("东门第一网格", THIS_MONTH)
    assert body["rates"]["counts"]["reported"] == 2 and body["rates"]["resolution_rate"] == 1.0
    assert body["rates"]["counts"]["followed_up"] == 2 and body["rates"]["response_rate"] == 1.0
    assert body["rates"]["due_resolved_rate"] == 1.0 and body["rates"]["reopen_rate"] == 0.0
    assert body["rates"]["satisfaction_rate"] == pytest.approx(0.95) and body["levels"]["level2"] == 2
    assert leader.get("/cases/stats/rates").json()["node_name"] == "丹西街道"
    assert root.get("/cases/stats/rates").json()["node_name"] == "全部"
    village = leader.get("/cases/stats/rates", node=world.village.pk).json()
    assert village["rates"]["counts"]["reported"] == 0 and village["rates"]["satisfaction_rate"] is None

    ranking = leader.get("/cases/stats/ranking").json()
    assert [(r["position"], r["unit_name"]) for r in ranking["items"]] == [(1, "东门第一网格")]
    by_community = leader.get("/cases/stats/ranking", by="community").json()
    assert by_community["by"] == "community" and by_community["items"][0]["unit_name"] == "东门社区"

    trend = leader.get("/cases/stats/trend", **{"from": f"{timezone.localdate().year - 1}-12", "to": THIS_MONTH}).json()
    assert trend["months"][0]["rates"]["counts"]["reported"] == 0  # months without data are there, with zeros
    assert trend["months"][-1]["month"] == THIS_MONTH and trend["months"][-1]["rates"]["counts"]["reported"] == 2
    assert len(trend["months"]) == timezone.localdate().month + 1

    categories = leader.get("/cases/stats/categories").json()
    assert categories["items"] == [{"category_id": catalogue["garbage"].pk, "name": "暴露垃圾", "reported": 2,
                                    "resolved": 2}]

    refused = handler.get("/cases/stats/rates")  # a department handler has no place of cases
    assert refused.status_code == 403 and is_chinese(refused.json()["detail"])
    for params, status, field in [({"from": "2026-13"}, 422, "from"), ({"to": "March"}, 422, "to"),
                                  ({"from": "2026-05", "to": "2026-04"}, 400, "from"),
                                  ({"from": "2000-01", "to": "2026-01"}, 400, "from")]:
        response = leader.get("/cases/stats/rates", **params)
        assert response.status_code == status, (params, response.content)
        assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    bad_by = leader.get("/cases/stats/ranking", by="street")
    assert bad_by.status_code == 422 and bad_by.json()["field"] == "by"


# --- cycles -------------------------------------------------------------------------------------


def test_weekly_digest_generate_and_read(world, catalogue, as_):
    worker = as_(world.worker)
    file(worker, world)
    response = worker.post("/cases/digests", {"node": world.grid.pk})
    assert response.status_code == 200, response.content
    digest = response.json()
    assert digest["node_name"] == "东门第一网格" and digest["data"]["new"] == 1
    assert digest["week_start"] == str(cycles.week_start_of(timezone.localdate()))
    listed = worker.get("/cases/digests", node=world.grid.pk, week=str(timezone.localdate())).json()
    assert [d["id"] for d in listed["items"]] == [digest["id"]]
    assert worker.get(f"/cases/digests/{digest['id']}").json()["data"]["by_category"] == [["暴露垃圾", 1]]
    building = worker.post("/cases/digests", {"node": world.building.pk})
    assert building.status_code == 400 and building.json()["field"] == "node"


def test_deliberation_through_the_api(world, catalogue, as_):
    worker, secretary = as_(world.worker), as_(world.secretary)
    hard = file(worker, world, title="多部门推诿的违建")
    plain = file(worker, world, title="普通事项", category="dispute")  # not a repeat of the first
    Case.objects.filter(pk=hard["id"]).update(difficult=True)
    assert worker.post("/cases/deliberations", {"community": world.community.pk, "month": THIS_MONTH}).status_code == 404
    response = secretary.post("/cases/deliberations", {"community": world.community.pk, "month": THIS_MONTH})
    assert response.status_code == 201, response.content
    meeting = response.json()
    assert [(i["ticket"], i["why"]) for i in meeting["items"]] == [(hard["ticket"], "疑难")]
    added = secretary.post(f"/cases/deliberations/{meeting['id']}/items", {"case": plain["id"], "why": "居民联名"})
    assert added.status_code == 201 and added.json()["why"] == "居民联名"
    item_id = meeting["items"][0]["id"]
    no_owner = secretary.post(f"/cases/deliberations/{meeting['id']}/record",
                              {**RECORD, "decisions": [{"item": item_id, "decision": "联合拆除"}]})
    assert no_owner.status_code == 400 and no_owner.json()["field"] == "decisions"
    empty = secretary.post(f"/cases/deliberations/{meeting['id']}/record", {**RECORD, "attendees": []})
    assert empty.status_code == 400 and empty.json()["field"] == "attendees"
    recorded = secretary.post(
        f"/cases/deliberations/{meeting['id']}/record",
        {**RECORD, "decisions": [{"item": item_id, "decision": "联合城建办现场拆除", "owner": "孙科员",
                                  "due_date": "2026-12-31"}]},
    )
    assert recorded.status_code == 200, recorded.content
    body = recorded.json()
    assert body["status"] == "held" and body["attendees"] == [{"name": "李大爷", "role": "居民代表"}]
    assert body["items"][0]["decision"] == "联合城建办现场拆除" and body["items"][0]["due_date"] == "2026-12-31"
    event = AuditEvent.objects.get(action="cases.case.deliberated", object_id=str(hard["id"]))
    assert event.reason == "联合城建办现场拆除"
    late = secretary.post(f"/cases/deliberations/{meeting['id']}/items", {"case": plain["id"]})
    assert late.status_code == 400
    listed = secretary.get("/cases/deliberations", community=world.community.pk, month=THIS_MONTH).json()
    assert [(m["id"], m["item_count"], m["status_label"]) for m in listed["items"]] == [(meeting["id"], 2, "已召开")]


def test_quarterly_review_through_the_api(world, catalogue, as_):
    secretary, leader = as_(world.secretary), as_(world.leader)
    done = _close_one(world, catalogue)  # verified and rated
    open_case = file(as_(world.worker), world, title="仍在办理")
    today = timezone.localdate()
    year, quarter = today.year, (today.month - 1) // 3 + 1
    response = secretary.post("/cases/reviews", {"community": world.community.pk, "year": year, "quarter": quarter})
    assert response.status_code == 201, response.content
    review = response.json()
    assert review["counts"] == {"total": 2, "pending": 2, "struck_off": 0, "carried_over": 0}
    items = {i["case_id"]: i for i in secretary.get(f"/cases/reviews/{review['id']}/items").json()["items"]}
    url = f"/cases/reviews/{review['id']}/items/{{}}"
    refused = secretary.put(url.format(items[open_case["id"]]["id"]), {"verdict": "struck_off"})
    assert refused.status_code == 400 and refused.json()["field"] == "verdict"
    early = secretary.post(f"/cases/reviews/{review['id']}/finalize")
    assert early.status_code == 400 and early.json()["field"] == "items"
    assert secretary.put(url.format(items[done.pk]["id"]), {"verdict": "struck_off"}).status_code == 200
    carried = secretary.put(url.format(items[open_case["id"]]["id"]), {"verdict": "carried_over", "reason": "需协调产权单位"})
    assert carried.status_code == 200 and carried.json()["verdict_label"] == "结转下季"
    assert leader.post(f"/cases/reviews/{review['id']}/finalize").status_code == 403  # the leader may not close cases
    finalized = secretary.post(f"/cases/reviews/{review['id']}/finalize")
    assert finalized.status_code == 200, finalized.content
    body = finalized.json()
    assert body["status"] == "finalized" and body["figures"]["struck_off"] == 1
    assert Case.objects.get(pk=done.pk).state == "closed"
    assert secretary.get(f"/cases/reviews/{review['id']}/items", verdict="carried_over").json()["count"] == 1
    again = secretary.put(url.format(items[done.pk]["id"]), {"verdict": "carried_over", "reason": "x"})
    assert again.status_code == 400

    xlsx = secretary.get(f"/cases/reviews/{review['id']}/report.xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Type"] == api_common.XLSX
    assert "attachment" in xlsx["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)))
    assert workbook["汇总"]["A1"].value == body["title"]
    docx = secretary.get(f"/cases/reviews/{review['id']}/report.docx")
    assert docx.status_code == 200 and docx["Content-Type"] == api_common.DOCX
    document = Document(io.BytesIO(b"".join(docx.streaming_content)))
    assert document.paragraphs[0].text == body["title"]
    assert "需协调产权单位" in "\n".join(p.text for p in document.paragraphs)
    listed = secretary.get("/cases/reviews", community=world.community.pk, year=year).json()
    assert [r["id"] for r in listed["items"]] == [review["id"]]


# --- concurrency (PostgreSQL) ---------------------------------------------------------------------

RACERS = 8
ROUNDS = 4
ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]


@pytest.mark.skipif(not ON_POSTGRES, reason="concurrent transactions need PostgreSQL (set JIEDAO_DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_actions_only_one_wins(world, catalogue):
    """8 requests take the same action on the same case at the same moment, each on its own
    connection: exactly one wins; the others get 409 (lost the compare-and-set) or 400 (the case
    had already moved on), and nothing is written twice."""
    from jiedao.cases import services

    assert connection.vendor == "postgresql"

    headers = {"HTTP_AUTHORIZATION": "Bearer " + token_create(actor=world.secretary, name="并发")[1]}
    assert Client().get(f"{BASE}/me", **headers).status_code == 200  # the token's last use is recorded now
    for _round in range(ROUNDS):
        case = services.case_create(actor=world.worker, source="door_visit", node=world.grid, title="并发受理",
                                    description="同一事项同时受理", category=catalogue["garbage"])
        barrier = threading.Barrier(RACERS)
        results: list[tuple[int, dict]] = []
        lock = threading.Lock()

        def race(case_id=case.pk, barrier=barrier, results=results, lock=lock):
            from django.db import connection as thread_connection

            try:
                client = Client()
                barrier.wait(timeout=30)
                response = client.post(f"{BASE}/cases/{case_id}/actions", json.dumps({"action": "accept"}),
                                       content_type="application/json", **headers)
                with lock:
                    results.append((response.status_code, response.json()))
            finally:
                thread_connection.close()

        threads = [threading.Thread(target=race) for _ in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(results) == RACERS, results
        statuses = sorted(status for status, _body in results)
        assert statuses.count(200) == 1, results
        for status, body in results:
            if status != 200:
                assert (status, body["field"]) in {(409, "action"), (400, "action")}, (status, body)
        assert CaseTransition.objects.filter(case=case, action="accept").count() == 1
        assert AuditEvent.objects.filter(action="cases.case.accept", object_id=str(case.pk)).count() == 1
        fresh = Case.objects.get(pk=case.pk)
        assert (fresh.state, fresh.version) == ("accepted", 1)


# --- the intake's response is built without ninja's validation: it must be the same body -----------


def _ninja_body(case_id, user):
    """The detail body as ninja builds it (schema validation) for `user`."""
    from django.test import RequestFactory

    from jiedao.api import api
    from jiedao.cases.api import CaseDetailOut
    from jiedao.cases.selectors import case_get

    request = RequestFactory().get("/")
    request.auth = request.user = user
    validated = CaseDetailOut.model_validate(case_get(user, case_id), context={"request": request, "response_status": 200})
    return json.loads(api.create_response(request, validated.model_dump(by_alias=True), status=200).content)


def test_the_fast_intake_response_equals_the_validated_detail(world, catalogue, as_):
    from django.test import RequestFactory

    from jiedao.cases.api import CaseDetailOut
    from jiedao.cases.selectors import case_get
    from jiedao.core.fastpath import respond

    worker, secretary, handler = as_(world.worker), as_(world.secretary), as_(world.handler)
    filed = file(worker, world, latitude=29.405, longitude=121.605, address="东门路 1 号")
    assert filed == worker.get(f"/cases/{filed['id']}").json() == _ninja_body(filed["id"], world.worker)
    anonymous = file(worker, world, anonymous=True, category=None)  # no category, no reporter
    assert anonymous == _ninja_body(anonymous["id"], world.worker)
    # every field filled on the way to closing: dates, department, result, rating, counts
    for api, action, fields in [(secretary, "accept", {}), (secretary, "dispatch", {}), (handler, "acknowledge", {}),
                                (handler, "resolve", {"reason": "已清运"}), (worker, "verify_pass", {}),
                                (secretary, "follow_up", {"contacted": True, "solved": True, "rating": "basic",
                                                          "comment": "基本满意"}),
                                (secretary, "close", {})]:
        assert act(api, filed["id"], action, **fields).status_code == 200
        for user in (world.worker, world.secretary):
            request = RequestFactory().get("/")
            request.auth = request.user = user
            ours = json.loads(respond(request, CaseDetailOut, case_get(user, filed["id"])).content)
            assert ours == _ninja_body(filed["id"], user), action
