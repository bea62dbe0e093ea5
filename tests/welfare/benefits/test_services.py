"""Grants, their workflow and payments through the services: rules, scope, audit, history."""

from datetime import date
from decimal import Decimal

import pytest
from django.http import Http404

from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.welfare.benefits import services, workflow
from jiedao.welfare.benefits.workflow import GrantAction, GrantActor
from jiedao.welfare.models.benefits import Grant, GrantState, GrantTransition, Payment, Programme

pytestmark = pytest.mark.django_db


def test_defaults_seed_once_and_are_editable(world, ben):
    assert services.programme_seed_defaults(actor=world.admin) == 0
    names = set(Programme.objects.values_list("name", flat=True))
    assert {"城市低保", "农村低保", "特困供养", "临时救助", "长寿补贴", "廉租住房补贴", "扶贫小额信贷"} <= names
    assert ben.urban.review_months == 12 and ben.urban.unit == "household"
    services.programme_update(actor=world.leader, programme=ben.longevity, default_amount="1500")
    ben.longevity.refresh_from_db()
    assert ben.longevity.default_amount == Decimal("1500.00")
    with pytest.raises(DomainError) as err:
        services.programme_create(actor=world.admin, code="x1", name="城市低保")
    assert err.value.field == "name"
    with pytest.raises(PermissionError_):
        services.programme_create(actor=world.handler, code="x2", name="新项目")


def test_grant_defaults_review_date_household_and_audit(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 3, 15), amount="400", persons=2)
    assert grant.household_id == ben.h1.pk and grant.community_id == world.community.pk
    assert grant.next_review_on == date(2027, 3, 15)
    assert grant.amount == Decimal("400.00") and grant.state == GrantState.ACTIVE
    assert AuditEvent.objects.filter(action="welfare.grant.create", object_id=str(grant.pk)).exists()
    # the household already has one: a second member cannot open another 城市低保 grant
    with pytest.raises(DomainError) as err:
        services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.li, starts_on=date(2026, 4, 1),
                              amount="100")
    assert err.value.field == "resident"
    # per person: the standard × persons
    g2 = services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang,
                               starts_on=date(2026, 1, 1))
    assert g2.amount == Decimal("1200.00")


@pytest.mark.parametrize("amount,message", [
    ("-1", "负数"), ("abc", "数字"), ("1.234", "两位小数"), ("99999999", "1000 万元"), ("", "请填写")])
def test_grant_amount_errors_name_the_field(world, ben, amount, message):
    with pytest.raises(DomainError) as err:
        services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                              starts_on=date(2026, 1, 1), amount=amount or None)
    assert err.value.field == "amount" and message in err.value.message
    assert not Grant.objects.exists()


def test_grant_scope_404_and_403(world, ben):
    with pytest.raises(Http404):  # the village is not the secretary's
        services.grant_create(actor=world.secretary, programme=ben.rural, resident=ben.qian, starts_on=date(2026, 1, 1),
                              amount="300")
    with pytest.raises(PermissionError_):  # a grid worker sees welfare, does not decide it
        services.grant_create(actor=world.worker, programme=ben.urban, resident=ben.zhang, starts_on=date(2026, 1, 1),
                              amount="300")
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 1, 1), amount="300")
    with pytest.raises(Http404):
        services.grant_act(actor=world.village_worker, grant=grant, action=GrantAction.SUSPEND, reason="x")
    with pytest.raises(PermissionError_):
        services.grant_act(actor=world.worker, grant=grant, action=GrantAction.SUSPEND, reason="x")
    with pytest.raises(PermissionError_):
        services.payment_record(actor=world.worker, grant=grant, month=date(2026, 2, 1))


ROLES = ["admin", "leader", "secretary", "worker", "other_worker", "village_worker", "handler"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", workflow.TRANSITIONS, ids=lambda r: r.action)
def test_workflow_table_by_role(world, ben, role, row):
    """Every row × role: a manager of the grant's place may act; others get 403 (or 404 outside)."""
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 1, 1), amount="300")
    source = sorted(row.sources)[0]
    if source == GrantState.SUSPENDED:
        grant = services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.SUSPEND, reason="暂停")
    actor = getattr(world, role)
    allowed = role in ("admin", "leader", "secretary") and GrantActor.MANAGER in row.actors
    if role in ("village_worker", "other_worker", "handler"):
        with pytest.raises(Http404):
            services.grant_act(actor=actor, grant=grant, action=row.action, reason="说明")
        return
    if not allowed:
        with pytest.raises(PermissionError_):
            services.grant_act(actor=actor, grant=grant, action=row.action, reason="说明")
        return
    after = services.grant_act(actor=actor, grant=grant, action=row.action, reason="说明")
    assert after.state == (row.target or source)
    step = GrantTransition.objects.filter(grant=grant).order_by("-seq").first()
    assert step.action == row.action and step.to_state == after.state
    assert AuditEvent.objects.filter(action=f"welfare.grant.{row.action}").exists()


def test_reason_required_and_stale_version_conflicts(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 1, 1), amount="300")
    with pytest.raises(DomainError) as err:
        services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.END, reason="")
    assert err.value.field == "reason"
    with pytest.raises(DomainError):  # not from 在保
        services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.RESUME, reason="x")
    ended = services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.END, reason="收入超标")
    assert ended.state == GrantState.ENDED and ended.ends_on is not None and ended.next_review_on is None
    machine = services.GRANT_MACHINE
    with pytest.raises(ConflictError):
        machine.act(grant, actor=world.secretary, kinds={GrantActor.MANAGER}, action=GrantAction.SUSPEND, reason="x")


def test_review_moves_the_next_review_date(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2025, 1, 1), amount="300")
    after = services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.REVIEW)
    assert after.reviewed_on is not None and after.next_review_on > after.reviewed_on
    with pytest.raises(DomainError) as err:
        services.grant_act(actor=world.secretary, grant=after, action=GrantAction.REVIEW,
                           next_review_on=date(2020, 1, 1))
    assert err.value.field == "next_review_on"


def test_payment_record_corrects_same_month_and_refuses_out_of_period(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 2, 10), amount="400", persons=2)
    p = services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 3, 20))
    assert (p.month, p.amount, p.persons) == (date(2026, 3, 1), Decimal("400.00"), 2)
    again = services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 3, 1), amount="410.5")
    assert again.pk == p.pk and Payment.objects.count() == 1 and again.amount == Decimal("410.50")
    with pytest.raises(DomainError) as err:
        services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 1, 1))
    assert err.value.field == "month"
    grant = services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.SUSPEND, reason="失联")
    with pytest.raises(DomainError) as err:
        services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 4, 1))
    assert err.value.field == "grant"


def test_the_generated_documentation_is_current():
    from pathlib import Path

    from jiedao.welfare.benefits.docs import workflow_markdown

    docs = Path(__file__).resolve().parents[3] / "docs" / "benefits-workflow.md"
    assert docs.read_text(encoding="utf-8") == workflow_markdown(), \
        "run: python -m jiedao.welfare.benefits.docs > docs/benefits-workflow.md"
