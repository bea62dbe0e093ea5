"""联席会议 (level 3 of 三级调处): a case escalated to the sub-district's joint meeting waits on its
agenda; the meeting's decision names the lead department, the co-units and a date, and dispatches
the case to the lead department with that date as its deadline; resolved there, it counts as
resolved at level 3. Through the API and the pages, as the world's named users."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import Case, JointMeeting, JointMeetingItem, State
from jiedao.core.models import AuditEvent
from jiedao.org import services as org_services
from jiedao.org.models import NodeKind

BASE = "/api/v1"


def _today():
    return timezone.localdate()


@pytest.fixture
def units(world):
    """城建办 (the world's, with its handler) and two more departments of 丹西街道."""
    root = world.root
    return {
        "chengjian": world.department,
        "zongzhi": org_services.department_create(actor=root, subdistrict=world.subdistrict, name="综治办"),
        "minzheng": org_services.department_create(actor=root, subdistrict=world.subdistrict, name="民政办"),
    }


def act(api, case_id, action, **fields):
    response = api.post(f"/cases/{case_id}/actions", {"action": action, **fields})
    assert response.status_code == 200, response.content
    return response.json()


def file(api, world, title="垃圾房长期满溢", category="garbage"):
    response = api.post("/cases", {"source": "door_visit", "node": world.grid.pk, "title": title,
                                   "description": f"{title}，多次反映未解决", "category": category})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def to_level_3(world, as_, title="垃圾房长期满溢") -> int:
    """A 大事 filed by the grid worker, dispatched to 城建办, escalated by its handler: level 3, accepted."""
    case_id = file(as_(world.worker), world, title)
    act(as_(world.secretary), case_id, "accept")
    act(as_(world.secretary), case_id, "dispatch")
    act(as_(world.handler), case_id, "acknowledge")
    body = act(as_(world.handler), case_id, "escalate", reason="涉及多个部门，科室无法单独化解")
    assert (body["state"], body["level"], body["difficult"]) == ("accepted", 3, True)
    return case_id


def create_meeting(as_, world, **fields):
    response = as_(world.leader).post("/cases/joint-meetings", {"subdistrict": world.subdistrict.pk, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def decide(api, meeting, item_id, **fields):
    return api.post(f"/cases/joint-meetings/{meeting['id']}/items/{item_id}/decision", fields)


# --- the whole way ----------------------------------------------------------------------------------


def test_leader_prepares_decides_and_the_lead_department_resolves_at_level_3(world, catalogue, units, as_):
    case_id = to_level_3(world, as_)
    leader = as_(world.leader)
    assert [c["id"] for c in leader.get("/cases/joint-meetings/pending-cases",
                                        subdistrict=world.subdistrict.pk).json()["items"]] == [case_id]

    meeting = create_meeting(as_, world)
    assert meeting["title"] == f"{_today().year}年{_today().month}月信访联席会议"
    assert meeting["status"] == "draft" and meeting["can_hold"] is True
    assert {m["name"] for m in meeting["members"]} == {"城建办", "综治办", "民政办"}
    [item] = meeting["items"]
    assert (item["case_id"], item["why"], item["decided_at"]) == (case_id, "涉及多个部门，科室无法单独化解", None)
    # On this agenda, the case no longer waits to be put on one.
    assert leader.get("/cases/joint-meetings/pending-cases", subdistrict=world.subdistrict.pk).json()["count"] == 0

    due = _today() + timedelta(days=7)
    response = decide(leader, meeting, item["id"], decision="城建办牵头清运，综治办配合约谈物业",
                      lead_department=units["chengjian"].pk, co_departments=[units["zongzhi"].pk],
                      due_date=due.isoformat())
    assert response.status_code == 200, response.content
    decided = response.json()
    assert decided["lead_department"]["name"] == "城建办"
    assert [d["name"] for d in decided["co_departments"]] == ["综治办"]
    assert decided["decided_at"] and decided["due_date"] == due.isoformat()
    assert (decided["state"], decided["level"]) == ("dispatched", 3)

    case = Case.objects.get(pk=case_id)
    assert case.state == State.DISPATCHED and case.level == 3
    assert case.handling_department_id == units["chengjian"].pk
    assert case.deadline_at == timezone.make_aware(datetime.combine(due, time(17, 30)))
    step = case.transitions.order_by("-seq").first()
    assert step.action == "dispatch" and step.actor == world.leader and "城建办牵头清运" in step.reason

    # The lead department's handler sees it, acknowledges and resolves it: resolved at level 3.
    handler = as_(world.handler)
    assert handler.get(f"/cases/{case_id}").status_code == 200
    act(handler, case_id, "acknowledge")
    body = act(handler, case_id, "resolve", reason="已清运并落实每日保洁")
    assert (body["state"], body["resolved_level"]) == ("resolved", 3)

    # One decision per item.
    again = decide(leader, meeting, item["id"], decision="再议", lead_department=units["zongzhi"].pk,
                   due_date=due.isoformat())
    assert again.status_code == 400 and again.json()["field"] == "item"
    assert AuditEvent.objects.filter(action="cases.case.joint_decided", object_id=str(case_id)).count() == 1


def test_the_handler_of_a_member_department_sees_the_meeting_but_may_not_act(world, catalogue, units, as_):
    to_level_3(world, as_)
    meeting = create_meeting(as_, world)
    handler = as_(world.handler)
    assert handler.get(f"/cases/joint-meetings/{meeting['id']}").json()["can_hold"] is False
    assert [m["id"] for m in handler.get("/cases/joint-meetings").json()["items"]] == [meeting["id"]]
    refused = decide(handler, meeting, meeting["items"][0]["id"], decision="由我办", lead_department=world.department.pk,
                     due_date=(_today() + timedelta(days=3)).isoformat())
    assert refused.status_code == 403
    # Not a member: the meeting is out of sight.
    as_(world.leader).put(f"/cases/joint-meetings/{meeting['id']}",
                          {"title": meeting["title"], "members": [units["zongzhi"].pk]})
    assert handler.get(f"/cases/joint-meetings/{meeting['id']}").status_code == 404
    assert handler.get("/cases/joint-meetings").json()["count"] == 0


def test_grid_workers_and_secretaries_neither_see_nor_prepare_meetings(world, catalogue, units, as_):
    to_level_3(world, as_)
    meeting = create_meeting(as_, world)
    for user in (world.worker, world.secretary):
        api = as_(user)
        assert api.get(f"/cases/joint-meetings/{meeting['id']}").status_code == 404
        assert api.get("/cases/joint-meetings").json()["count"] == 0
        created = api.post("/cases/joint-meetings", {"subdistrict": world.subdistrict.pk})
        assert created.status_code == 404 and created.json()["field"] == "subdistrict"
    assert JointMeeting.objects.count() == 1


# --- refusals ----------------------------------------------------------------------------------------


def test_decision_refusals_name_the_field_and_change_nothing(world, catalogue, units, as_):
    case_id = to_level_3(world, as_)
    meeting = create_meeting(as_, world, members=[units["chengjian"].pk, units["zongzhi"].pk])
    item_id = meeting["items"][0]["id"]
    leader = as_(world.leader)
    due = (_today() + timedelta(days=5)).isoformat()
    good = {"decision": "城建办牵头", "lead_department": units["chengjian"].pk, "due_date": due}
    cases = [
        ({"lead_department": units["minzheng"].pk}, "lead_department", "不是本次会议的成员单位"),
        ({"co_departments": [units["chengjian"].pk]}, "co_departments", "不能与牵头单位相同"),
        ({"co_departments": [units["minzheng"].pk]}, "co_departments", "不是本次会议的成员单位"),
        ({"due_date": (_today() - timedelta(days=1)).isoformat()}, "due_date", "请选择以后的日期"),
        ({"decision": "  "}, "decision", "请填写会议决定"),
    ]
    for change, field, words in cases:
        response = decide(leader, meeting, item_id, **{**good, **change})
        assert response.status_code == 400, (change, response.content)
        assert response.json()["field"] == field and words in response.json()["detail"], response.json()
    assert decide(leader, meeting, item_id, **{**good, "due_date": "2026-02-30"}).status_code == 422
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.handling_department_id) == (State.ACCEPTED, None)
    assert not JointMeetingItem.objects.filter(decided_at__isnull=False).exists()
    assert decide(leader, meeting, item_id, **good).status_code == 200


def test_only_level_3_accepted_cases_of_the_sub_district_go_on_the_agenda(world, catalogue, units, as_):
    to_level_3(world, as_)
    meeting = create_meeting(as_, world)
    leader = as_(world.leader)
    # A case at level 1, still waiting for acceptance.
    fresh = file(as_(world.worker), world, "路灯不亮")
    refused = leader.post(f"/cases/joint-meetings/{meeting['id']}/items", {"case": fresh})
    assert refused.status_code == 400 and refused.json()["field"] == "case"
    assert "第三级" in refused.json()["detail"]
    # Already on this agenda.
    again = leader.post(f"/cases/joint-meetings/{meeting['id']}/items", {"case": meeting["items"][0]["case_id"]})
    assert again.status_code == 400 and "已在本次会议的议程中" in again.json()["detail"]
    # Another sub-district's case: out of the leader's sight, exactly like a missing one.
    other = org_services.node_create(actor=world.root, parent=None, kind=NodeKind.SUBDISTRICT, name="丹东街道",
                                     code="330225003000")
    community = org_services.node_create(actor=world.root, parent=other, kind=NodeKind.COMMUNITY, name="丹东社区",
                                         code="330225003001")
    elsewhere = services.case_create(actor=world.root, source="petition", node=community, title="征迁补偿争议",
                                     description="征迁补偿标准有争议", category=catalogue["garbage"])
    services.case_act(actor=world.root, case=elsewhere, action="accept")
    for _step in range(2):
        services.case_act(actor=world.root, case=elsewhere, action="escalate", reason="村社和科室均未能化解")
    assert Case.objects.get(pk=elsewhere.pk).level == 3
    hidden = leader.post(f"/cases/joint-meetings/{meeting['id']}/items", {"case": elsewhere.pk})
    missing = leader.post(f"/cases/joint-meetings/{meeting['id']}/items", {"case": 987654})
    assert hidden.status_code == missing.status_code == 404 and hidden.json() == missing.json()
    assert hidden.json()["field"] == "case"
    # The administrator of all (superuser) sees it, and still may not put it on 丹西街道's agenda.
    root_refused = as_(world.root).post(f"/cases/joint-meetings/{meeting['id']}/items", {"case": elsewhere.pk})
    assert root_refused.status_code == 400 and "不属于本街道" in root_refused.json()["detail"]
    assert JointMeetingItem.objects.count() == 1


def test_a_case_not_tiered_as_a_public_matter_is_refused_with_the_way_out(world, catalogue, units, as_):
    case_id = file(as_(world.worker), world, "楼上楼下噪音纠纷", category="dispute")
    secretary = as_(world.secretary)
    act(secretary, case_id, "accept")
    act(secretary, case_id, "escalate", reason="调解不成")
    act(secretary, case_id, "escalate", reason="科室条线也未化解")
    # Escalating to the departments made it a 大事; the community re-tiers it as 小事 at level 3.
    assert Case.objects.get(pk=case_id).tier == "public"
    act(secretary, case_id, "tier", tier="community")
    meeting = create_meeting(as_, world)
    refused = decide(as_(world.leader), meeting, meeting["items"][0]["id"], decision="综治办牵头调解",
                     lead_department=units["zongzhi"].pk, due_date=(_today() + timedelta(days=3)).isoformat())
    assert refused.status_code == 400 and refused.json()["field"] == "case"
    assert "请社区（村）先改为大事" in refused.json()["detail"]
    act(secretary, case_id, "tier", tier="public")
    accepted = decide(as_(world.leader), meeting, meeting["items"][0]["id"], decision="综治办牵头调解",
                      lead_department=units["zongzhi"].pk, due_date=(_today() + timedelta(days=3)).isoformat())
    assert accepted.status_code == 200, accepted.content


# --- the agenda over time ----------------------------------------------------------------------------


def test_agenda_takes_new_escalations_and_a_returned_case_waits_again(world, catalogue, units, as_):
    first = to_level_3(world, as_, "垃圾房长期满溢")
    meeting = create_meeting(as_, world)
    second = to_level_3(world, as_, "小区道路破损")
    leader = as_(world.leader)
    assert [c["id"] for c in leader.get("/cases/joint-meetings/pending-cases",
                                        subdistrict=world.subdistrict.pk).json()["items"]] == [second]
    # A second meeting in preparation does not take the first's case.
    other = create_meeting(as_, world, title="临时信访联席会议")
    assert [i["case_id"] for i in other["items"]] == [second]
    removed = leader.delete(f"/cases/joint-meetings/{other['id']}/items/{other['items'][0]['id']}")
    assert removed.status_code == 204
    agenda = leader.post(f"/cases/joint-meetings/{meeting['id']}/agenda").json()
    assert [i["case_id"] for i in agenda] == [first, second]

    item = agenda[0]
    assert decide(leader, meeting, item["id"], decision="城建办牵头", lead_department=world.department.pk,
                  due_date=(_today() + timedelta(days=5)).isoformat()).status_code == 200
    removing = leader.delete(f"/cases/joint-meetings/{meeting['id']}/items/{item['id']}")
    assert removing.status_code == 400 and removing.json()["field"] == "item"
    # The lead department sends it back: it waits for a meeting again.
    act(as_(world.handler), first, "return", reason="需要规划部门先出具意见")
    waiting = leader.get("/cases/joint-meetings/pending-cases", subdistrict=world.subdistrict.pk).json()["items"]
    assert [c["id"] for c in waiting] == [first]


def test_holding_the_meeting_freezes_its_agenda(world, catalogue, units, as_):
    to_level_3(world, as_)
    meeting = create_meeting(as_, world, location="街道三楼会议室")
    leader = as_(world.leader)
    url = f"/cases/joint-meetings/{meeting['id']}"
    future = leader.post(url + "/hold", {"held_at": (timezone.now() + timedelta(days=1)).isoformat(), "summary": "x"})
    assert future.status_code == 400 and future.json()["field"] == "held_at"
    empty = leader.post(url + "/hold", {"held_at": timezone.now().isoformat(), "summary": " "})
    assert empty.status_code == 400 and empty.json()["field"] == "summary"
    held = leader.post(url + "/hold", {"held_at": timezone.now().isoformat(), "summary": "逐件研究了上报事项。",
                                      "attendees": "李主任、孙科员", "host": "李主任"})
    assert held.status_code == 200, held.content
    body = held.json()
    assert body["status"] == "held" and body["host"] == "李主任" and body["location"] == "街道三楼会议室"
    assert body["summary"].startswith("参会人员：李主任、孙科员")
    assert leader.post(url + "/hold", {"held_at": timezone.now().isoformat(), "summary": "再"}).status_code == 400
    assert leader.post(url + "/agenda").status_code == 400
    changed = leader.put(url, {"title": "改名"})
    assert changed.status_code == 400 and changed.json()["field"] == "status"
    # A decision taken at the meeting can still be recorded afterwards.
    assert decide(leader, meeting, meeting["items"][0]["id"], decision="城建办牵头", lead_department=world.department.pk,
                  due_date=(_today() + timedelta(days=5)).isoformat()).status_code == 200


def test_members_and_title_are_checked(world, catalogue, units, as_):
    leader = as_(world.leader)
    none = leader.post("/cases/joint-meetings", {"subdistrict": world.subdistrict.pk, "members": []})
    assert none.status_code == 400 and none.json()["field"] == "members"
    not_a_subdistrict = leader.post("/cases/joint-meetings", {"subdistrict": world.community.pk})
    assert not_a_subdistrict.status_code == 400 and not_a_subdistrict.json()["field"] == "subdistrict"
    meeting = create_meeting(as_, world, title="十二月信访联席会议", members=[world.department.pk])
    blank = leader.put(f"/cases/joint-meetings/{meeting['id']}", {"title": " "})
    assert blank.status_code == 400 and blank.json()["field"] == "title"


# --- pages -------------------------------------------------------------------------------------------


def html(response) -> str:
    return response.content.decode()


def test_pages_for_the_leader_and_not_for_grid_workers(client, world, catalogue, units, as_):
    case_id = to_level_3(world, as_)
    client.force_login(world.leader)
    assert "联席会议" in html(client.get(reverse("home")))  # the menu entry
    assert client.get(reverse("cases:joint_list")).status_code == 200
    assert client.get(reverse("cases:joint_new")).status_code == 200
    response = client.post(reverse("cases:joint_new"), {"subdistrict": world.subdistrict.pk, "title": "",
                                                        "location": "街道三楼会议室", "host": "李主任"})
    assert response.status_code == 302
    meeting = JointMeeting.objects.get()
    page = client.get(reverse("cases:joint_detail", args=[meeting.pk]))
    assert page.status_code == 200
    text = html(page)
    assert Case.objects.get(pk=case_id).ticket in text and "涉及多个部门" in text and "东门第一网格" in text
    item = meeting.items.get()
    due = _today() + timedelta(days=4)
    decided = client.post(reverse("cases:joint_decide", args=[meeting.pk, item.pk]), {
        f"item{item.pk}-decision": "城建办牵头清运", f"item{item.pk}-lead_department": world.department.pk,
        f"item{item.pk}-co_departments": [units["zongzhi"].pk], f"item{item.pk}-due_date": due.isoformat(),
    })
    assert decided.status_code == 302, html(decided)
    case = Case.objects.get(pk=case_id)
    assert case.state == State.DISPATCHED and case.handling_department == world.department
    # The case page says who leads, who co-operates, and by when.
    detail = html(client.get(reverse("cases:detail", args=[case_id])))
    assert "联席会议：" in detail and "牵头：城建办" in detail and "配合：综治办" in detail
    assert f"{due:%Y-%m-%d}" in detail
    held = client.post(reverse("cases:joint_hold", args=[meeting.pk]), {
        "hold-held_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "hold-attendees": "李主任",
        "hold-summary": "议定一件。"})
    assert held.status_code == 302
    assert JointMeeting.objects.get().status == JointMeeting.Status.HELD

    client.force_login(world.worker)
    assert client.get(reverse("cases:joint_list")).status_code == 403
    assert client.get(reverse("cases:joint_detail", args=[meeting.pk])).status_code in (403, 404)
    assert "联席会议" not in html(client.get(reverse("home")))
    client.force_login(world.handler)  # a member department's handler: reads, no forms
    page = client.get(reverse("cases:joint_detail", args=[meeting.pk]))
    assert page.status_code == 200 and "确认决定" not in html(page)


def test_a_refused_decision_on_the_page_shows_the_message_on_its_field(client, world, catalogue, units, as_):
    to_level_3(world, as_)
    meeting_id = create_meeting(as_, world)["id"]
    item = JointMeetingItem.objects.get()
    client.force_login(world.leader)
    response = client.post(reverse("cases:joint_decide", args=[meeting_id, item.pk]), {
        f"item{item.pk}-decision": "城建办牵头", f"item{item.pk}-lead_department": world.department.pk,
        f"item{item.pk}-co_departments": [world.department.pk],
        f"item{item.pk}-due_date": (_today() + timedelta(days=2)).isoformat(),
    })
    assert response.status_code == 400
    assert "配合单位不能与牵头单位相同" in html(response)
    assert Case.objects.get(pk=item.case_id).state == State.ACCEPTED


# --- the demo ----------------------------------------------------------------------------------------


def test_the_demo_holds_one_meeting_and_prepares_the_next(world, units):
    from jiedao.cases.demo import seed_cases
    from jiedao.cases.mediation.demo import seed_joint_meetings

    seed_cases(world.subdistrict, seed=1, count=300, days=30)
    line = seed_joint_meetings(world.subdistrict, seed=1)
    held, draft = JointMeeting.objects.order_by("id")
    assert held.status == JointMeeting.Status.HELD and draft.status == JointMeeting.Status.DRAFT
    decided = list(held.items.select_related("case", "lead_department"))
    assert len(decided) == 2 and all(i.decided_at and i.lead_department for i in decided)
    for item in decided:
        assert item.case.level == 3 and item.case.handling_department_id == item.lead_department_id
        assert item.case.state in (State.DISPATCHED, State.ACKNOWLEDGED)
    waiting = list(draft.items.select_related("case"))
    assert waiting and all(i.decided_at is None and i.case.level == 3 and i.case.state == State.ACCEPTED
                           for i in waiting)
    assert f"已决定 2 件，待上会 {len(waiting)} 件，移交区级 1 件" in line
    handed = Case.objects.get(state=State.WITH_DISTRICT)  # the demo shows the district's state too
    assert handed.level == 4 and handed.district_ref.startswith("区12345-")
