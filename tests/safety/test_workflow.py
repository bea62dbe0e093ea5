"""The hazard workflow against its transition table: every state × action × role, the guards,
compare-and-set, history rows and audit events, and escalation into a case linked back."""

import itertools
from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from jiedao.cases.models import Case, Source, State, Tier
from jiedao.core import audit
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.safety import services
from jiedao.safety.models import Hazard, HazardState, HazardTransition, RiskChange
from jiedao.safety.workflow import TRANSITIONS, HazardAction, HazardActor, find

ROLES = {  # named user → the actor kinds the table knows them by (on a hazard in 东门第一网格)
    "worker": {HazardActor.INSPECTOR},
    "secretary": {HazardActor.COMMUNITY},
    "leader": {HazardActor.LEADER},
    "admin": {HazardActor.ADMIN},
    "handler": set(),  # sees hazards (department), no part in the workflow
}
PARAMS = {HazardAction.EXTEND: {"deadline_days": 3}, HazardAction.START: {"measures": "更换灭火器"}}


def found(world, safety, *, severity="ordinary", overdue=True):
    item = safety.item(severity)
    inspection = services.inspection_record(actor=world.worker, business=safety.diner,
                                            inspected_on=timezone.localdate(), template=safety.fire,
                                            answers={item.pk: "fail"}, contact_name="陈老板")
    hazard = Hazard.objects.get(inspection=inspection)
    if overdue:
        Hazard.objects.filter(pk=hazard.pk).update(deadline_at=timezone.now() - timedelta(days=1))
        hazard.refresh_from_db()
    return hazard


def in_state(hazard, state):
    Hazard.objects.filter(pk=hazard.pk).update(state=state)
    hazard.refresh_from_db()
    return hazard


@pytest.mark.parametrize(("state", "action"), list(itertools.product(HazardState.values, HazardAction.values)))
def test_every_state_action_role_against_the_table(world, safety, state, action):
    hazard = in_state(found(world, safety), state)
    row = find(action, state)
    for name, kinds in ROLES.items():
        actor = getattr(world, name)
        version = Hazard.objects.get(pk=hazard.pk).version
        steps = HazardTransition.objects.filter(hazard=hazard).count()
        if row is None:
            with pytest.raises(DomainError) as exc:
                services.hazard_act(actor=actor, hazard=hazard, action=action, reason="说明", **PARAMS.get(action, {}))
            assert not isinstance(exc.value, PermissionError_) and exc.value.field == "action", name
        elif not row.actors & kinds:
            with pytest.raises(PermissionError_):
                services.hazard_act(actor=actor, hazard=hazard, action=action, reason="说明", **PARAMS.get(action, {}))
        elif row.refusal(Hazard.objects.get(pk=hazard.pk), actor, kinds):
            # the row's guard (e.g. escalation of a hazard already rectified and awaiting re-inspection)
            with pytest.raises(DomainError) as exc:
                services.hazard_act(actor=actor, hazard=hazard, action=action, reason="说明", **PARAMS.get(action, {}))
            assert exc.value.message == row.refusal(Hazard.objects.get(pk=hazard.pk), actor, kinds)
        else:
            done = services.hazard_act(actor=actor, hazard=hazard, action=action, reason="说明",
                                       **PARAMS.get(action, {}))
            assert done.state == (row.target or state), name
            assert done.version == version + 1
            assert HazardTransition.objects.filter(hazard=hazard, seq=done.version, action=action,
                                                   from_state=state, to_state=done.state).exists()
            assert AuditEvent.objects.filter(action=f"safety.hazard.{action}", object_id=str(hazard.pk)).exists()
            hazard = in_state(done, state)  # back to the state under test for the next role
            if action == HazardAction.ESCALATE:
                Hazard.objects.filter(pk=hazard.pk).update(case=None)
                hazard.refresh_from_db()
            continue
        assert Hazard.objects.get(pk=hazard.pk).version == version
        assert HazardTransition.objects.filter(hazard=hazard).count() == steps
    # out of scope: another grid's worker, and the village's, get 404 whatever the table says
    for outsider in (world.other_worker, world.village_worker):
        with pytest.raises(Http404):
            services.hazard_act(actor=outsider, hazard=hazard, action=action, reason="说明", **PARAMS.get(action, {}))


def test_table_rows_name_known_values():
    for row in TRANSITIONS:
        assert row.sources <= set(HazardState.values) and row.actors <= set(HazardActor.values)


def test_rectify_fail_and_pass_loop_counts_rework_and_recolours(world, safety):
    hazard = found(world, safety, overdue=False)
    safety.diner.refresh_from_db()
    assert safety.diner.risk_colour == "yellow"
    hazard = services.hazard_act(actor=world.worker, hazard=hazard, action="start", measures="更换灭火器",
                                 responsible_person="陈老板")
    hazard = services.hazard_act(actor=world.worker, hazard=hazard, action="submit", reason="已更换")
    assert hazard.rectified_at is not None and hazard.state == HazardState.AWAITING
    hazard = services.hazard_act(actor=world.secretary, hazard=hazard, action="reinspect_fail", reason="型号不符")
    assert hazard.state == HazardState.RECTIFYING and hazard.rework_count == 1 and hazard.rectified_at is None
    hazard = services.hazard_act(actor=world.worker, hazard=hazard, action="submit", reason="已按要求更换")
    hazard = services.hazard_act(actor=world.worker, hazard=hazard, action="reinspect_pass")
    assert hazard.state == HazardState.CLOSED and hazard.closed_at is not None
    safety.diner.refresh_from_db()
    assert safety.diner.risk_colour == "green"
    changes = list(RiskChange.objects.filter(business=safety.diner).order_by("pk").values_list("to_colour", "reason"))
    assert [c[0] for c in changes] == ["yellow", "green"]
    assert "未销号隐患 1 个" in changes[0][1] and "复查通过" in changes[1][1]
    assert list(hazard.transitions.values_list("seq", flat=True)) == [0, 1, 2, 3, 4, 5]
    assert audit.verify_chain().ok


def test_major_hazard_reinspection_needs_community_or_above(world, safety):
    hazard = in_state(found(world, safety, severity="major"), HazardState.AWAITING)
    with pytest.raises(DomainError) as exc:
        services.hazard_act(actor=world.worker, hazard=hazard, action="reinspect_pass")
    assert "重大隐患" in exc.value.message
    hazard = services.hazard_act(actor=world.secretary, hazard=hazard, action="reinspect_pass")
    assert hazard.state == HazardState.CLOSED


def test_escalation_only_when_overdue_or_major_creates_a_linked_case(world, safety):
    fresh = found(world, safety, overdue=False)
    with pytest.raises(DomainError) as exc:
        services.hazard_act(actor=world.secretary, hazard=fresh, action="escalate", reason="拒不整改")
    assert "逾期" in exc.value.message and not Case.objects.exists()
    late = found(world, safety)
    late = services.hazard_act(actor=world.secretary, hazard=late, action="escalate", reason="逾期拒不整改")
    case = Case.objects.get()
    assert late.case == case and late.state == HazardState.OPEN
    assert (case.source, case.tier, case.state) == (Source.PATROL, Tier.PUBLIC, State.REPORTED)
    assert late.code in case.title and "海鲜排档" in case.description
    with pytest.raises(DomainError) as exc:
        services.hazard_act(actor=world.secretary, hazard=late, action="escalate", reason="再次")
    assert "重复" in exc.value.message
    major = found(world, safety, severity="major", overdue=False)
    services.hazard_act(actor=world.leader, hazard=major, action="escalate", reason="重大隐患挂牌督办")
    assert Case.objects.count() == 2


def test_extend_recomputes_the_deadline_in_working_days(world, safety):
    hazard = found(world, safety)
    with pytest.raises(DomainError) as exc:
        services.hazard_act(actor=world.secretary, hazard=hazard, action="extend", reason="设备到货延迟",
                            deadline_days=99)
    assert exc.value.field == "deadline_days"
    hazard = services.hazard_act(actor=world.secretary, hazard=hazard, action="extend", reason="设备到货延迟",
                                 deadline_days=3)
    assert hazard.deadline_at > timezone.now() + timedelta(days=2) and hazard.deadline_days == 3


def test_lost_compare_and_set_changes_nothing(world, safety):
    hazard = found(world, safety)
    stale = Hazard.objects.get(pk=hazard.pk)
    services.hazard_act(actor=world.worker, hazard=hazard, action="start")
    # the machine reads the row itself; a stale version in the caller's hands still loses
    # nothing: acting from the stale object re-reads and applies to the current state
    with pytest.raises(DomainError):
        services.hazard_act(actor=world.worker, hazard=stale, action="start")
    assert HazardTransition.objects.filter(hazard=hazard).count() == 2
    from jiedao.safety.services import HAZARD_MACHINE

    current = Hazard.objects.select_related("node", "business").get(pk=hazard.pk)
    Hazard.objects.filter(pk=hazard.pk).update(version=current.version + 1)
    with pytest.raises(ConflictError):
        HAZARD_MACHINE.act(current, actor=world.worker, kinds={HazardActor.INSPECTOR}, action="submit", reason="x")
    assert Hazard.objects.get(pk=hazard.pk).state == HazardState.RECTIFYING


def test_reason_required_where_the_table_says(world, safety):
    hazard = found(world, safety)
    with pytest.raises(DomainError) as exc:
        services.hazard_act(actor=world.worker, hazard=hazard, action="submit", reason="  ")
    assert exc.value.field == "reason"


def test_the_generated_documentation_is_current():
    from pathlib import Path

    from jiedao.safety.docs import workflow_markdown

    docs = Path(__file__).resolve().parents[2] / "docs" / "safety-workflow.md"
    assert docs.read_text(encoding="utf-8") == workflow_markdown(), \
        "run: python -m jiedao.safety.docs > docs/safety-workflow.md"
