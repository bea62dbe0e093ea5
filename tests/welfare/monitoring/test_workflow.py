"""The entry/exit table, applied: every state × action × role against workflow.TABLE."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.welfare.models.monitoring import MonitoredHousehold, MonitoringState, MonitoringTransition
from jiedao.welfare.monitoring import services, workflow
from jiedao.welfare.monitoring.workflow import MonitoringAction, MonitoringActor

from .conftest import lead, put_in_state

ROLES = {"worker": MonitoringActor.CADRE, "secretary": MonitoringActor.COMMUNITY, "leader": MonitoringActor.LEADER,
         "admin": MonitoringActor.ADMIN}


def params_for(action: str) -> dict:
    today = timezone.localdate()
    if action == "verify":
        return {"consent_on": today}
    if action in ("publish", "exit_publish"):
        return {"notice_from": today, "notice_to": today + timedelta(days=4)}
    if action == "exit_verify":
        return {"exit_income": 9000, "secure_education": True, "secure_medical": True, "secure_housing": True,
                "secure_water": True}
    return {}


def test_actor_kinds_follow_roles(world, mon):
    m = lead(world, mon.home)
    for name, kind in ROLES.items():
        assert services.monitored_actor_kinds(getattr(world, name), m) == {kind}


@pytest.mark.parametrize("state", MonitoringState.values)
def test_every_state_action_role_against_the_table(world, mon, state):
    m = put_in_state(lead(world, mon.home), state)
    for action in MonitoringAction.values:
        row = workflow.find(action, state)
        for name, kind in ROLES.items():
            fresh = MonitoredHousehold.objects.get(pk=m.pk)
            before = (fresh.state, fresh.version, MonitoringTransition.objects.filter(monitored=fresh).count())
            allowed = row is not None and kind in row.actors
            if allowed:
                done = services.monitored_act(actor=getattr(world, name), monitored=fresh, action=action,
                                              reason="说明", **params_for(action))
                assert done.state == (row.target or state), (state, action, name)
                assert MonitoringTransition.objects.filter(monitored=fresh).count() == before[2] + 1
                put_in_state(MonitoredHousehold.objects.get(pk=m.pk), state)  # back for the next role
            else:
                expected = PermissionError_ if row is not None else DomainError
                with pytest.raises(expected):
                    services.monitored_act(actor=getattr(world, name), monitored=fresh, action=action, reason="说明",
                                           **params_for(action))
                after = MonitoredHousehold.objects.get(pk=m.pk)
                assert (after.state, after.version, MonitoringTransition.objects.filter(monitored=fresh).count()) \
                    == before


def test_out_of_scope_actor_gets_404(world, mon):
    from django.http import Http404

    m = lead(world, mon.home)
    with pytest.raises(Http404):
        services.monitored_act(actor=world.other_worker, monitored=m, action="verify",
                               consent_on=timezone.localdate())


def test_guards_and_params(world, mon):
    today = timezone.localdate()
    m = lead(world, mon.home)
    with pytest.raises(DomainError) as exc:
        services.monitored_act(actor=world.worker, monitored=m, action="verify")
    assert exc.value.field == "consent_on"
    m = services.monitored_act(actor=world.worker, monitored=m, action="verify", consent_on=today, members=2)
    with pytest.raises(DomainError) as exc:
        services.monitored_act(actor=world.secretary, monitored=m, action="deliberate")
    assert exc.value.field == "reason"
    m = services.monitored_act(actor=world.secretary, monitored=m, action="deliberate", reason="通过")
    with pytest.raises(DomainError) as exc:
        services.monitored_act(actor=world.secretary, monitored=m, action="publish", notice_from=today,
                               notice_to=today + timedelta(days=3))
    assert exc.value.field == "notice_to"
    m = services.monitored_act(actor=world.secretary, monitored=m, action="publish")
    assert (m.notice_to - m.notice_from).days + 1 == 5
    assert "approve" not in workflow.allowed_actions(m.state, {MonitoringActor.COMMUNITY}, current=m)
    with pytest.raises(DomainError) as exc:
        services.monitored_act(actor=world.secretary, monitored=m, action="approve")
    assert "公示期" in exc.value.message


def test_exit_needs_income_above_the_line_and_the_four_checks(world, mon):
    m = put_in_state(lead(world, mon.home), MonitoringState.MONITORED)
    ok = params_for("exit_verify")
    with pytest.raises(DomainError) as exc:
        services.monitored_act(actor=world.worker, monitored=m, action="exit_verify", **{**ok, "exit_income": 7200})
    assert exc.value.field == "exit_income"
    for check in ("secure_education", "secure_medical", "secure_housing", "secure_water"):
        with pytest.raises(DomainError) as exc:
            services.monitored_act(actor=world.worker, monitored=m, action="exit_verify", **{**ok, check: False})
        assert exc.value.field == check
    m = services.monitored_act(actor=world.worker, monitored=m, action="exit_verify", **ok)
    assert m.state == MonitoringState.EXIT_VERIFIED and m.exit_income == 9000
    m = services.monitored_act(actor=world.secretary, monitored=m, action="exit_refuse", reason="收入不稳定")
    assert m.state == MonitoringState.MONITORED and m.exit_income is None and not m.secure_water


def test_stale_version_conflicts(world, mon):
    m = lead(world, mon.home)
    stale = MonitoredHousehold.objects.get(pk=m.pk)
    services.monitored_act(actor=world.worker, monitored=m, action="verify", consent_on=timezone.localdate())
    # the service rereads the row: acting on a stale copy applies to the row as it now is
    with pytest.raises(DomainError):
        services.monitored_act(actor=world.worker, monitored=stale, action="verify", consent_on=timezone.localdate())
    assert ConflictError.status_code == 409


def test_the_generated_documentation_is_current():
    from pathlib import Path

    from jiedao.welfare.monitoring.docs import workflow_markdown

    docs = Path(__file__).resolve().parents[3] / "docs" / "welfare-monitoring-workflow.md"
    assert docs.read_text(encoding="utf-8") == workflow_markdown(), \
        "run: python -m jiedao.welfare.monitoring.docs > docs/welfare-monitoring-workflow.md"
