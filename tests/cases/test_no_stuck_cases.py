"""No case without a next step (jiedao.cases.stuck), and no action offered that cannot succeed.

A property test plays random walks through the transition table with the named users of
tests/conftest.py (and the resident with the ticket): both tiers and 私事, escalation to the joint
meeting, hand-over to the district and both replies, deferral, returns, failed verifications,
unsatisfied follow-ups, rejection and reopening, merging. At every step each action the table
offers someone (guards applied) is one that case_act carries out, and every state short of
结案/不予受理 has a responsible unit and a named user who can take its next step. A static test
checks the table itself; the scheduled check is tested on cases made stuck by hand.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiedao.cases import services, stuck
from jiedao.cases.models import Case, Notification, Rating, Source, State, Tier
from jiedao.cases.workflow import TABLE, Action, Actor, allowed_actions
from jiedao.org.models import RoleAssignment

USERS = ("worker", "secretary", "handler", "leader", "admin", "resident")
FINAL = {State.CLOSED, State.REJECTED}


class _Rollback(Exception):
    pass


def test_every_unfinished_state_has_a_way_forward_in_the_table():
    for state in State.values:
        if state in FINAL:
            continue
        onward = [row for row in TABLE.transitions if state in row.sources and row.target not in (None, state)]
        assert onward, f"no row leaves {state}"
        assert any(row.actors - {Actor.RESIDENT} for row in onward), state
    # Every guard says its condition in words (the documentation shows it).
    assert all(row.guard_note for row in TABLE.transitions if row.guard is not None)


def _file(world, catalogue, tier: str) -> Case:
    category = catalogue["dispute"] if tier == Tier.COMMUNITY else catalogue["garbage"]
    return services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
                                title="楼下问题", description="1幢楼下的问题。", category=category, tier=tier)


def _offered(world, case: Case) -> list[tuple[str, str]]:
    """(who, action) for every action the table offers a named user on this case now."""
    pairs = []
    for name in USERS:
        if name == "resident":
            kinds, user = {Actor.RESIDENT}, None
        else:  # a user who relates to the case in any way sees it (no kind: nothing offered)
            user = getattr(world, name)
            kinds = services.actor_kinds(user, case)
        pairs += [(name, action) for action in allowed_actions(case.state, kinds, current=case, actor=user)]
    return pairs


def _params(world, case: Case, action: str, data, other: Case) -> dict:
    reason = {"reason": "说明"}
    if action == Action.TIER:
        return {"tier": data.draw(st.sampled_from(Tier.values))}
    if action == Action.DISPATCH:
        return {"department": world.department} if case.tier == Tier.PUBLIC else {}
    if action == Action.FOLLOW_UP:
        return {"rating": data.draw(st.sampled_from(Rating.values)), "contacted": data.draw(st.booleans()),
                "solved": data.draw(st.booleans())}
    if action == Action.MERGE:
        return {"into": other}
    if action == Action.DEFER:
        current = timezone.localdate(case.deadline_at) if case.deadline_at else timezone.localdate()
        return {**reason, "new_deadline": max(current, timezone.localdate()) + timedelta(days=data.draw(st.integers(1, 9)))}
    if action == Action.HAND_OVER:
        return {**reason, "district_ref": "区指挥中心-0001"}
    if action == Action.DISTRICT_REPLY:
        return {"outcome": data.draw(st.sampled_from(["resolved", "returned"])), "reply": "区级答复"}
    return reason


def _check_next_step(world, case: Case, offered: list[tuple[str, str]]) -> None:
    step = stuck.next_step(case)
    if case.state in FINAL:
        assert step is None
        return
    assert step is not None and step.unit and step.actions and step.kinds, (case.state, case.tier, case.level)
    movers = {who for who, action in offered if action in step.actions}
    assert movers, (case.state, case.tier, case.level, step, offered)


@pytest.mark.django_db(transaction=False)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(tier=st.sampled_from([Tier.PUBLIC, Tier.COMMUNITY, Tier.PRIVATE]), data=st.data())
def test_random_walks_never_leave_a_case_without_a_next_step(world, catalogue, tier, data):
    try:
        with transaction.atomic():
            case = _file(world, catalogue, tier)
            other = _file(world, catalogue, Tier.PUBLIC)  # what a duplicate is merged into
            for _step in range(data.draw(st.integers(4, 18))):
                offered = _offered(world, case)
                _check_next_step(world, case, offered)
                if not offered:
                    break
                # Any offered action may be drawn; the next step's thrice as often, so walks get deep.
                forward = stuck.next_step(case).actions if case.state not in FINAL else ()
                who, action = data.draw(st.sampled_from(offered + [p for p in offered if p[1] in forward] * 2))
                params = _params(world, case, action, data, other)
                if who == "resident":
                    case = services.case_act(actor=None, ticket=case.ticket, case=case, action=action, **params)
                else:
                    case = services.case_act(actor=getattr(world, who), case=case, action=action, **params)
            _check_next_step(world, case, _offered(world, case))
            raise _Rollback
    except _Rollback:
        pass


# --- the scheduled check ----------------------------------------------------------------------


def _accepted(world, catalogue, tier=Tier.PUBLIC) -> Case:
    case = _file(world, catalogue, tier)
    return services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)


def test_stuck_check_finds_cases_nobody_can_move_and_tells_the_leaders(world, catalogue):
    healthy = services.case_act(actor=world.secretary, case=_accepted(world, catalogue), action=Action.DISPATCH)
    assert stuck.next_step(healthy).unit == "城建办" and stuck.next_step(healthy).actions == (Action.ACKNOWLEDGE,)
    assert stuck.stuck_check()["stuck"] == 0
    # Running without a handling unit (what a failed verification of a 私事 used to leave) ...
    orphan = _accepted(world, catalogue)
    Case.objects.filter(pk=orphan.pk).update(state=State.IN_PROGRESS)
    # ... and a department nobody handles for any more.
    RoleAssignment.objects.filter(user=world.handler).delete()
    result = stuck.stuck_check()
    assert result["stuck"] == 2 and result["checked"] == 2
    reasons = {case.pk: case.why for case in stuck.stuck_cases()[1]}
    assert reasons == {orphan.pk: "没有责任单位", healthy.pk: "没有在岗的承办人可以办理"}
    told = Notification.objects.filter(kind="stuck")
    assert {(n.user_id, n.case_id) for n in told} == {(u.pk, c) for u in (world.admin, world.leader)
                                                      for c in (orphan.pk, healthy.pk)}
    assert "无人可推进" in told.first().message
    assert stuck.stuck_check()["notified"] == 2 * 2 and told.count() == 4  # once per case and person


def test_next_step_names_the_unit_and_the_people(world, catalogue):
    reported = _file(world, catalogue, Tier.PUBLIC)
    step = stuck.next_step(reported)
    assert (step.unit, step.unit_kind, step.actions) == ("东门社区", "community", (Action.ACCEPT,))
    assert step.kinds == {Actor.COMMUNITY, Actor.GRID, Actor.ADMIN}
    small = services.case_act(actor=world.secretary, case=_accepted(world, catalogue, Tier.COMMUNITY),
                              action=Action.DISPATCH)
    assert (stuck.next_step(small).unit, stuck.next_step(small).kinds) == ("东门社区", {Actor.HANDLER})
    joint = _accepted(world, catalogue)
    Case.objects.filter(pk=joint.pk).update(level=3)
    joint.refresh_from_db()
    step = stuck.next_step(joint)
    assert (step.unit, step.unit_kind) == ("丹西街道联席会议", "joint_meeting")
    assert step.actions == (Action.DISPATCH, Action.HAND_OVER) and step.kinds == {Actor.LEADER, Actor.ADMIN}
    district = services.case_act(actor=world.leader, case=joint, action=Action.HAND_OVER, reason="协调不成",
                                 district_ref="区信访-7")
    step = stuck.next_step(district)
    assert (step.unit, step.actions) == ("区级（受理编号 区信访-7）", (Action.DISTRICT_REPLY,))
    closed = services.case_act(actor=world.secretary, case=_accepted(world, catalogue), action=Action.MERGE,
                               into=reported)
    assert stuck.next_step(closed) is None
