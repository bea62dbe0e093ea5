"""三级调处 for real, the table's guards, 缓办 and dispatch that does what it says — through the API
as the named users of tests/conftest.py, with the refusals (status, field, message) and proof that
a refusal changed nothing; and on the case page (what is offered, the next step, the district
block, the dispatch form's preselection)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import Case, CasePolicy, CaseTransition, Category, Level, Source, State, Tier
from jiedao.cases.workflow import Action
from jiedao.core.models import AuditEvent
from tests.cases.test_api import Counts, act, allowed, file


def _ok(api, case_id, action, **fields):
    response = act(api, case_id, action, **fields)
    assert response.status_code == 200, (action, response.content.decode())
    return response.json()


def _refused(api, case_id, action, status=400, field="action", **fields):
    counts = Counts()
    response = act(api, case_id, action, **fields)
    assert response.status_code == status, (action, response.content.decode())
    assert response.json()["field"] == field, response.json()
    assert counts.unchanged()
    return response.json()["detail"]


@pytest.fixture
def users(world, as_):
    return {name: as_(getattr(world, name)) for name in ("worker", "secretary", "handler", "leader", "admin")}


# --- guards -------------------------------------------------------------------------------------


def test_a_public_matter_cannot_be_resolved_on_acceptance(world, catalogue, users):
    worker, secretary = users["worker"], users["secretary"]
    big = file(worker, world)["id"]
    _ok(secretary, big, "accept")
    assert "resolve" not in allowed(worker, big) and "resolve" not in allowed(secretary, big)
    message = _refused(worker, big, "resolve", reason="已处理")
    assert message == "只有私事可以在受理后直接办结（给出引导意见）；大事、小事请先派遣，由承办单位办理后办结。"
    private = file(worker, world, tier="private", title="咨询医保", description="医保报销")["id"]
    _ok(secretary, private, "accept")
    assert "resolve" in allowed(worker, private)
    assert _ok(worker, private, "resolve", reason="已告知办理渠道")["state"] == "resolved"


def test_the_resolver_cannot_verify_unless_the_subdistrict_allows_it(world, catalogue, users):
    worker, secretary = users["worker"], users["secretary"]
    small = file(worker, world, category="dispute", title="楼道堆物", description="楼道堆满杂物")["id"]
    for action in ("accept", "dispatch", "acknowledge"):
        _ok(secretary, small, action)
    _ok(secretary, small, "resolve", reason="已清理")
    assert not {"verify_pass", "verify_fail"} & set(allowed(secretary, small))
    message = _refused(secretary, small, "verify_pass")
    assert message == "按本街道办件规则，办结人不能核查自己办结的事项，请由网格员或社区其他人员核查。"
    assert {"verify_pass", "verify_fail"} <= set(allowed(worker, small))
    # A sub-district that switches the rule off lets the resolver verify.
    CasePolicy.objects.create(subdistrict=world.subdistrict, separate_verifier=False)
    assert "verify_pass" in allowed(secretary, small)
    assert _ok(secretary, small, "verify_pass")["state"] == "verified"


def test_a_private_matter_that_fails_verification_goes_back_to_acceptance(world, catalogue, users):
    worker, secretary = users["worker"], users["secretary"]
    private = file(worker, world, tier="private", title="家中水管漏水", description="自家水管")["id"]
    _ok(secretary, private, "accept")
    _ok(secretary, private, "resolve", reason="建议联系物业维修")
    body = _ok(worker, private, "verify_fail", reason="居民说物业不管")
    # No handling unit: back to 已受理 (never 办理中 without a handler), resolvable again.
    assert (body["state"], body["rework_count"], body["next_step"]["unit"]) == ("accepted", 1, "东门社区")
    assert "resolve" in allowed(secretary, private)
    _ok(secretary, private, "resolve", reason="已联系志愿者上门维修")
    body = _ok(worker, private, "follow_up", contacted=True, solved=False, rating="unsatisfied")
    assert (body["state"], body["reopen_count"]) == ("accepted", 1)


# --- 三级调处: the joint meeting and the district ------------------------------------------------


def _to_joint_meeting(world, users) -> int:
    """A 小事 the community could not settle, escalated to the departments and then to the joint meeting."""
    worker, secretary, handler = users["worker"], users["secretary"], users["handler"]
    case = file(worker, world, category="dispute", title="邻里漏水纠纷", description="楼上漏水，协商不成")["id"]
    for action in ("accept", "dispatch", "acknowledge"):
        _ok(secretary, case, action)
    body = _ok(secretary, case, "escalate", reason="调解不成")
    assert (body["level"], body["tier"], body["state"]) == (2, "public", "accepted")  # the departments': a 大事
    assert body["next_step"] == {"unit": "东门社区", "unit_kind": "community",
                                 "actor_kinds": ["community", "leader", "admin"], "actions": ["dispatch"],
                                 "action_labels": ["派遣"]}
    _ok(secretary, case, "dispatch", department=world.department.pk)
    _ok(handler, case, "acknowledge")
    body = _ok(handler, case, "escalate", reason="涉及多个部门")
    assert (body["level"], body["difficult"], body["state"], body["handling_department_id"]) == (3, True, "accepted",
                                                                                                 None)
    return case


def test_the_joint_meeting_level_waits_for_a_leader(world, catalogue, users):
    secretary, leader = users["secretary"], users["leader"]
    case = _to_joint_meeting(world, users)
    body = secretary.get(f"/cases/{case}").json()
    assert body["next_step"]["unit"] == "丹西街道联席会议"
    assert body["next_step"]["actions"] == ["dispatch", "hand_over"]
    # Nobody may escalate further; the community may not dispatch it any more.
    assert "escalate" not in allowed(secretary, case) and "dispatch" not in allowed(secretary, case)
    assert _refused(secretary, case, "escalate", reason="再上报") == (
        "已上报至联席会议，不能再上报；联席会议协调不成的，由街道领导移交区级。")
    assert _refused(secretary, case, "dispatch", department=world.department.pk) == (
        "联席会议层级及以上的事项由街道领导派遣（按联席会议确定的牵头单位）。")
    assert allowed(leader, case) == ["dispatch", "supervise", "hand_over"]


def test_a_joint_meeting_decision_dispatches_with_its_own_deadline(world, catalogue, users):
    case = Case.objects.get(pk=_to_joint_meeting(world, users))
    deadline = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=20), time(17, 30)))
    # What the 联席会议 page does when its decision names the lead unit (jiedao.cases.services.case_act).
    done = services.case_act(actor=world.leader, case=case, action=Action.DISPATCH, department=world.department,
                             deadline=deadline, reason="联席会议决定：城建办牵头")
    assert (done.state, done.level, done.handling_department, done.deadline_at) == (
        State.DISPATCHED, Level.JOINT_MEETING, world.department, deadline)
    done = services.case_act(actor=world.handler, case=done, action=Action.ACKNOWLEDGE)
    done = services.case_act(actor=world.handler, case=done, action=Action.RESOLVE, reason="多部门联合处置完毕")
    assert done.resolved_level == Level.JOINT_MEETING


def test_hand_over_to_the_district_and_the_district_resolves_it(world, catalogue, users):
    worker, secretary, leader = users["worker"], users["secretary"], users["leader"]
    case = _to_joint_meeting(world, users)
    assert _refused(leader, case, "hand_over", field="district_ref", reason="协调不成") == "请填写区级受理编号。"
    future = f"{timezone.localdate() + timedelta(days=1):%Y-%m-%d}"
    assert _refused(leader, case, "hand_over", field="sent_on", reason="协调不成", district_ref="X",
                    sent_on=future) == "移交日期不能晚于今天。"
    assert _refused(secretary, case, "hand_over", status=403, field=None, reason="协调不成", district_ref="X")
    body = _ok(leader, case, "hand_over", reason="联席会议协调不成，涉及区级规划", district_ref="区信访2026-0088")
    assert (body["state"], body["state_label"], body["level"], body["level_label"]) == (
        "with_district", "区级办理中", 4, "区级")
    assert body["district_ref"] == "区信访2026-0088" and body["district_sent_at"] is not None
    assert body["next_step"]["unit"] == "区级（受理编号 区信访2026-0088）"
    assert body["next_step"]["actions"] == ["district_reply"]
    assert allowed(secretary, case) == [] and allowed(worker, case) == []
    assert allowed(leader, case) == ["district_reply"]  # nothing offers 上报 at 区级
    assert _refused(leader, case, "escalate", reason="再上报") == "“区级办理中”状态的事项不能上报。"
    assert _refused(leader, case, "district_reply", field="outcome", reply="已处理") == (
        "请选择区级反馈的结果：已办结或退回街道办理。")
    assert _refused(leader, case, "district_reply", field="reply", outcome="resolved") == "请填写区级答复。"

    body = _ok(leader, case, "district_reply", outcome="resolved", reply="区规划分局已责令整改，漏水已修复")
    assert (body["state"], body["resolved_level"], body["result"]) == ("resolved", 4, "区规划分局已责令整改，漏水已修复")
    assert body["district_reply"] == body["result"] and body["district_replied_at"] is not None
    # Then verified, called back and closed as usual.
    _ok(worker, case, "verify_pass")
    _ok(secretary, case, "follow_up", contacted=True, solved=True, rating="satisfied")
    assert _ok(secretary, case, "close")["state"] == "closed"
    steps = list(CaseTransition.objects.filter(case_id=case).values_list("action", flat=True))
    assert steps[-5:] == ["hand_over", "district_reply", "verify_pass", "follow_up", "close"]
    assert CaseTransition.objects.get(case_id=case, action="hand_over").data["district_ref"] == "区信访2026-0088"
    assert AuditEvent.objects.filter(action="cases.case.district_reply", object_id=str(case)).exists()


def test_the_district_returns_it_and_the_subdistrict_handles_it(world, catalogue, users):
    worker, secretary, handler, leader = users["worker"], users["secretary"], users["handler"], users["leader"]
    case = _to_joint_meeting(world, users)
    _ok(leader, case, "hand_over", reason="协调不成", district_ref="区指挥中心-17",
        sent_on=f"{timezone.localdate():%Y-%m-%d}")
    body = _ok(leader, case, "district_reply", outcome="returned", reply="属街道职责，请街道处理")
    assert (body["state"], body["level"], body["district_reply"]) == ("accepted", 4, "属街道职责，请街道处理")
    assert body["next_step"]["unit"] == "丹西街道" and body["next_step"]["actions"] == ["dispatch"]
    # Level 4: no escalation and no second hand-over; a leader dispatches it again.
    assert allowed(leader, case) == ["dispatch", "supervise"]
    assert _refused(leader, case, "hand_over", reason="再移交", district_ref="X") == (
        "只有上报至联席会议（第三级）、协调不成的事项才能移交区级。")
    _ok(leader, case, "dispatch", department=world.department.pk)
    _ok(handler, case, "acknowledge")
    assert "escalate" not in allowed(handler, case)
    _ok(handler, case, "resolve", reason="街道组织维修完毕")
    body = _ok(worker, case, "verify_fail", reason="仍在漏水")
    assert (body["state"], body["handling_department_id"]) == ("in_progress", world.department.pk)
    _ok(handler, case, "resolve", reason="更换防水层")
    _ok(worker, case, "verify_pass")
    assert _ok(secretary, case, "close")["state"] == "closed"
    assert Case.objects.get(pk=case).resolved_level == 4


# --- dispatch that does what it says ------------------------------------------------------------


def test_a_small_matter_is_never_dispatched_to_a_department(world, catalogue, users):
    worker, secretary = users["worker"], users["secretary"]
    small = file(worker, world, category="dispute", title="楼上噪音", description="深夜噪音")["id"]
    _ok(secretary, small, "accept")
    message = _refused(secretary, small, "dispatch", field="department", department=world.department.pk)
    assert message == "小事由社区自行办理，不能派给部门；如需部门办理，请先将分流改为大事。"
    body = _ok(secretary, small, "dispatch")
    assert (body["handling_node_name"], body["handling_department_id"]) == ("东门社区", None)
    step = CaseTransition.objects.filter(case_id=small, action="dispatch").get()
    assert step.data["department"] == "" and step.data["community"] == "东门社区"
    # Tiered as a 大事 first, it goes to the department.
    other = file(worker, world, category="dispute", title="楼道漏雨", description="公共楼道漏雨")["id"]
    _ok(secretary, other, "accept", tier="public")
    assert _ok(secretary, other, "dispatch", department=world.department.pk)["handling_department_name"] == "城建办"


def test_dispatch_needs_a_tier_and_a_private_matter_is_not_dispatched(world, catalogue, users):
    worker, secretary = users["worker"], users["secretary"]
    untiered = file(worker, world, title="不知道归谁", description="说不清", category=None)["id"]
    Case.objects.filter(pk=untiered).update(tier="")
    _ok(secretary, untiered, "accept")
    assert "dispatch" not in allowed(secretary, untiered) and "tier" in allowed(secretary, untiered)
    assert _refused(secretary, untiered, "dispatch") == "请先分流（大事、小事或私事）再派遣。"
    private = file(worker, world, tier="private", title="咨询", description="咨询社保")["id"]
    _ok(secretary, private, "accept")
    assert _refused(secretary, private, "dispatch") == "私事不派遣：请给出引导意见后直接办结。"


# --- 缓办 ------------------------------------------------------------------------------------------


def test_a_leader_defers_the_deadline_to_the_close_of_office_hours(world, catalogue, users):
    secretary, handler, leader = users["secretary"], users["handler"], users["leader"]
    case = file(users["worker"], world)["id"]
    _ok(secretary, case, "accept")
    _ok(secretary, case, "dispatch")
    _ok(handler, case, "acknowledge")
    old = Case.objects.get(pk=case).deadline_at
    assert "defer" not in allowed(secretary, case) and "defer" not in allowed(handler, case)
    assert "defer" in allowed(leader, case)
    new_day = timezone.localdate(old) + timedelta(days=10)
    assert _refused(handler, case, "defer", status=403, field=None, reason="等材料", new_deadline=f"{new_day:%Y-%m-%d}")
    assert _refused(leader, case, "defer", field="reason", new_deadline=f"{new_day:%Y-%m-%d}") == "请填写缓办的说明。"
    same_day = f"{timezone.localdate(old):%Y-%m-%d}"
    assert _refused(leader, case, "defer", field="new_deadline", reason="等材料", new_deadline=same_day) == (
        f"新的办理期限应晚于当前期限（{same_day}）。")
    assert _refused(leader, case, "defer", field="new_deadline", reason="等材料") == "请选择新的办理期限。"
    Case.objects.filter(pk=case).update(sla_status="overdue")
    body = _ok(leader, case, "defer", reason="需等待房屋安全鉴定结果", new_deadline=f"{new_day:%Y-%m-%d}")
    deferred = Case.objects.get(pk=case)
    assert body["state"] == "acknowledged" and deferred.deferred_at is not None
    assert timezone.localtime(deferred.deadline_at) == timezone.make_aware(datetime.combine(new_day, time(17, 30)))
    assert deferred.sla_status == ""  # the deadline watch marks it afresh
    step = CaseTransition.objects.filter(case_id=case, action="defer").get()
    assert {k: datetime.fromisoformat(v) for k, v in step.data.items()} == {
        "old_deadline": old, "new_deadline": deferred.deadline_at}
    # The sub-district's own office hours decide the hour.
    CasePolicy.objects.create(subdistrict=world.subdistrict, afternoon_end=time(18, 0))
    later = new_day + timedelta(days=3)
    _ok(leader, case, "defer", reason="鉴定延期", new_deadline=f"{later:%Y-%m-%d}")
    assert timezone.localtime(Case.objects.get(pk=case).deadline_at).time() == time(18, 0)


def test_the_new_action_parameters_are_refused_on_other_actions(world, catalogue, users):
    case = file(users["worker"], world)["id"]
    assert _refused(users["secretary"], case, "accept", field="district_ref", district_ref="X") == (
        "“受理”不需要字段 district_ref。")
    assert _refused(users["secretary"], case, "accept", status=422, field="outcome", outcome="maybe")


# --- the case page ----------------------------------------------------------------------------------


def html(response) -> str:
    return response.content.decode()


def _page(client, user, case_id):
    client.force_login(user)
    response = client.get(reverse("cases:detail", args=[case_id]))
    assert response.status_code == 200
    return response


def test_the_page_offers_only_what_can_succeed_and_names_the_next_step(client, world, catalogue):
    case = services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, title="垃圾",
                                description="楼下垃圾", category=catalogue["garbage"])
    case = services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    page = _page(client, world.worker, case.pk)
    assert [f.action for f in page.context["action_forms"]] == ["merge"]  # no 办结 for a 大事
    assert "当前责任单位" in html(page) and "<strong>东门社区</strong>" in html(page)
    assert "<strong>派遣</strong>" in html(page)
    client.force_login(world.worker)
    refused = client.post(reverse("cases:act", args=[case.pk]),
                          {"action": "resolve", "version": case.version, "reason": "已处理"})
    assert refused.status_code == 400 and "只有私事可以在受理后直接办结" in html(refused)
    assert Case.objects.get(pk=case.pk).state == State.ACCEPTED


def test_the_dispatch_form_preselects_from_the_routing_rules_only(client, world, catalogue):
    routed = services.case_act(actor=world.secretary, action=Action.ACCEPT, case=services.case_create(
        actor=world.worker, source=Source.PATROL, node=world.grid, title="垃圾", description="垃圾",
        category=catalogue["garbage"]))
    form = next(f for f in _page(client, world.secretary, routed.pk).context["action_forms"]
                if f.action == Action.DISPATCH)
    assert form.initial["department"] == world.department.pk
    assert "已按派遣规则预选“城建办”" in str(form.fields["department"].help_text)
    assert form.fields["department"].required and form.fields["department"].empty_label == "请选择承办部门"
    assert not any("小事" in str(label) for _value, label in form.fields["department"].choices)

    lamp = Category.objects.create(code="lamp", name="路灯不亮", default_tier=Tier.PUBLIC)  # no routing rule
    unrouted = services.case_act(actor=world.secretary, action=Action.ACCEPT, case=services.case_create(
        actor=world.worker, source=Source.PATROL, node=world.grid, title="路灯", description="路灯不亮", category=lamp))
    page = _page(client, world.secretary, unrouted.pk)
    form = next(f for f in page.context["action_forms"] if f.action == Action.DISPATCH)
    assert "department" not in form.initial and "预选" not in html(page)
    assert "没有适用的派遣规则" in str(form.fields["department"].help_text)
    client.force_login(world.secretary)
    missing = client.post(reverse("cases:act", args=[unrouted.pk]), {"action": "dispatch", "version": unrouted.version})
    assert missing.status_code == 400 and "大事需选择承办部门" in html(missing)

    small = services.case_act(actor=world.secretary, action=Action.ACCEPT, case=services.case_create(
        actor=world.worker, source=Source.PATROL, node=world.grid, title="纠纷", description="邻里纠纷",
        category=catalogue["dispute"]))
    page = _page(client, world.secretary, small.pk)
    form = next(f for f in page.context["action_forms"] if f.action == Action.DISPATCH)
    assert "department" not in form.fields and "小事由本社区办理：派至东门社区" in html(page)


def test_the_district_block_and_the_deferral_on_the_page(client, world, catalogue):
    case = services.case_create(actor=world.worker, source=Source.PATROL, node=world.grid, title="违建",
                                description="违法搭建", category=catalogue["garbage"])
    case = services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    Case.objects.filter(pk=case.pk).update(level=Level.JOINT_MEETING)
    case = services.case_act(actor=world.leader, case=Case.objects.get(pk=case.pk), action=Action.HAND_OVER,
                             reason="协调不成", district_ref="区执法局-2026-3")
    page = _page(client, world.leader, case.pk)
    text = html(page)
    assert "区级办理" in text and "区执法局-2026-3" in text and "等待区级答复" in text and "区级办理中" in text
    assert [f.action for f in page.context["action_forms"]] == ["district_reply"]
    form = page.context["action_forms"][0]
    assert set(form.fields) == {"action", "version", "outcome", "reply"}
    assert [f.action for f in _page(client, world.worker, case.pk).context["action_forms"]] == []

    client.force_login(world.leader)
    response = client.post(reverse("cases:act", args=[case.pk]), {"action": "district_reply", "version": case.version,
                                                                  "outcome": "returned", "reply": "请街道办理"})
    assert response.status_code == 302
    case = services.case_act(actor=world.leader, case=Case.objects.get(pk=case.pk), action=Action.DISPATCH,
                             department=world.department)
    new_day = timezone.localdate(case.deadline_at) + timedelta(days=7)
    response = client.post(reverse("cases:act", args=[case.pk]), {
        "action": "defer", "version": case.version, "reason": "等待鉴定", "new_deadline": f"{new_day:%Y-%m-%d}"})
    assert response.status_code == 302
    text = html(_page(client, world.leader, case.pk))
    assert "已缓办" in text and "期限延至" in text and "请街道办理" in text


def test_the_leaders_home_lists_what_waits_for_them(client, world, catalogue):
    case = services.case_create(actor=world.worker, source=Source.PATROL, node=world.grid, title="违建协调",
                                description="违法搭建", category=catalogue["garbage"])
    case = services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    client.force_login(world.leader)
    widget = next(w for w in client.get(reverse("home")).context["widgets"] if w["type"] == "overview")
    assert widget["for_leaders"] == []
    Case.objects.filter(pk=case.pk).update(level=Level.JOINT_MEETING)
    response = client.get(reverse("home"))
    widget = next(w for w in response.context["widgets"] if w["type"] == "overview")
    assert [c.pk for c in widget["for_leaders"]] == [case.pk] and "等待街道领导" in html(response)
