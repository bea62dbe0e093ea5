"""Issue 17 review fixes of the benefits part: grant periods around imports, scope of imported
payments, the catalogue's writers, overlapping and ended grants, month and amount cells."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from jiedao.core import imports
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.models import ImportJob
from jiedao.people.models import Resident
from jiedao.welfare.benefits import importer, services
from jiedao.welfare.benefits.workflow import GrantAction
from jiedao.welfare.models.benefits import Grant, Payment

from .conftest import ident
from .test_import import errors, run, xlsx

pytestmark = pytest.mark.django_db


# --- 1. a month earlier than an import-created grant -----------------------------------------


def test_import_starts_a_new_grant_at_the_earliest_month_of_the_file(world, ben):
    rows = [[1, "张桂英", ident(1), "城市低保", "2026-04", 2, 400, ""],
            [2, "张桂英", ident(1), "城市低保", "2026-03", 2, 400, ""]]
    job = run(world, xlsx(rows))
    assert job.bad_rows == 0
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.COMMITTED and job.created_rows == 2
    grant = Grant.objects.get(resident=ben.zhang)
    assert grant.starts_on == date(2026, 3, 1)
    assert Payment.objects.filter(grant=grant).count() == 2


def test_a_later_import_may_move_an_import_created_grant_earlier(world, ben):
    imports.import_commit(actor=world.secretary,
                          job=run(world, xlsx([[1, "张桂英", ident(1), "城市低保", "2026-04", 2, 400, ""]])))
    job = run(world, xlsx([[1, "张桂英", ident(1), "城市低保", "2026-02", 2, 400, ""]]))
    assert job.bad_rows == 0, errors(job)
    imports.import_commit(actor=world.secretary, job=job)
    grant = Grant.objects.get(resident=ben.zhang)
    assert grant.starts_on == date(2026, 2, 1) and Payment.objects.filter(grant=grant).count() == 2


def test_a_grant_made_on_the_page_keeps_its_start(world, ben):
    services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                          starts_on=date(2026, 4, 1), amount="400", persons=2)
    job = run(world, xlsx([[1, "张桂英", ident(1), "城市低保", "2026-02", 2, 400, ""]]))
    assert "早于" in errors(job)[(2, "发放月份")]


def test_starts_on_is_editable_when_no_payment_precedes_it(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 4, 1), amount="400", persons=2)
    services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 4, 1))
    grant = services.grant_update(actor=world.secretary, grant=grant, starts_on=date(2026, 1, 1))
    assert grant.starts_on == date(2026, 1, 1)
    services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 2, 1))
    with pytest.raises(DomainError) as err:
        services.grant_update(actor=world.secretary, grant=grant, starts_on=date(2026, 3, 1))
    assert err.value.field == "starts_on"


# --- 2. an import writes only into the importer's scope ----------------------------------------


def test_import_refuses_a_row_whose_grant_is_in_another_community(world, ben):
    rural = services.grant_create(actor=world.admin, programme=ben.rural, resident=ben.qian,
                                  starts_on=date(2026, 1, 1), amount="300", persons=1)
    services.payment_record(actor=world.admin, grant=rural, month=date(2026, 3, 1), amount="300")
    Resident.objects.filter(pk=ben.qian.pk).update(node=world.building)  # moved to 东门
    job = run(world, xlsx([[1, "钱老汉", ident(5), "农村低保", "2026-03", 1, 999, ""]]))
    message = errors(job)[(2, "救助类别")]
    assert "横塘村" in message
    assert Payment.objects.get(grant=rural, month=date(2026, 3, 1)).amount == Decimal("300.00")


# --- 3. the catalogue is the sub-district's -----------------------------------------------------


def test_community_secretary_may_not_edit_the_catalogue(world, ben):
    with pytest.raises(PermissionError_):
        services.programme_update(actor=world.secretary, programme=ben.longevity, default_amount="1500")
    with pytest.raises(PermissionError_):
        services.programme_create(actor=world.secretary, code="x3", name="新项目")
    services.programme_update(actor=world.leader, programme=ben.longevity, default_amount="1500")
    assert services.may_edit_catalogue(world.admin) and not services.may_edit_catalogue(world.secretary)


# --- 4. overlapping grants ---------------------------------------------------------------------


def test_overlapping_grant_of_the_same_payee_is_refused(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang,
                                  starts_on=date(2026, 1, 1), amount="100")
    services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.END, reason="迁出")
    grant.refresh_from_db()
    with pytest.raises(DomainError) as err:
        services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang,
                              starts_on=date(2025, 6, 1), amount="100")
    assert err.value.field == "starts_on"
    after = services.add_months(grant.ends_on.replace(day=1), 1)
    services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang, starts_on=after,
                          amount="100")


def test_a_month_paid_on_another_grant_of_the_payee_is_refused(world, ben):
    first = services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang,
                                  starts_on=date(2026, 1, 1), amount="100")
    services.payment_record(actor=world.secretary, grant=first, month=date(2026, 1, 1))
    # an older row written before the overlap check
    second = Grant.objects.create(programme=ben.longevity, resident=ben.wang, node=ben.wang.node,
                                  community=world.community, starts_on=date(2025, 1, 1), ends_on=date(2026, 6, 30),
                                  amount=Decimal("100"), persons=1, state="ended")
    assert services.payment_refusal(second, date(2026, 1, 1))[0] == "month"


# --- 5. an ended grant stays ended ------------------------------------------------------------


def test_ended_grant_refuses_a_new_end_date_and_later_months(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang,
                                  starts_on=date(2026, 1, 1), amount="100")
    services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.END, reason="迁出")
    grant.refresh_from_db()
    with pytest.raises(DomainError) as err:
        services.grant_update(actor=world.secretary, grant=grant, ends_on=date(2030, 1, 1))
    assert err.value.field == "ends_on"
    Grant.objects.filter(pk=grant.pk).update(ends_on=None)  # an old row without an end date
    grant.refresh_from_db()
    later = services.add_months(timezone.localdate().replace(day=1), 1)
    assert services.payment_refusal(grant, later) is not None


# --- 6. month cells --------------------------------------------------------------------------


def test_month_typed_as_a_number_is_refused():
    with pytest.raises(ValueError) as err:
        importer.parse_month(2026.10)
    assert "文本" in str(err.value)
    with pytest.raises(ValueError):
        importer.parse_month(202610)
    with pytest.raises(ValueError):
        importer.parse_month(date(1900, 1, 1))
    with pytest.raises(ValueError):
        importer.parse_month("2026/2/30")
    assert importer.parse_month("2026/2/28") == date(2026, 2, 1)
    assert importer.parse_month("202610") == date(2026, 10, 1)


# --- 8. amounts ---------------------------------------------------------------------------------


def test_amount_grouping_must_be_well_formed_and_payments_positive(world, ben):
    assert services.clean_amount("1,234.50") == Decimal("1234.50")
    assert services.clean_amount("1,234,567") == Decimal("1234567.00")
    for bad in ("1,2,3", "12,34", ",123", "1,2345"):
        with pytest.raises(DomainError):
            services.clean_amount(bad)
    grant = services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang,
                                  starts_on=date(2026, 1, 1), amount="100")
    for bad in ("0", "-5"):
        with pytest.raises(DomainError) as err:
            services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 1, 1), amount=bad)
        assert err.value.field == "amount"
    job = run(world, xlsx([[1, "王大爷", ident(3, 1930), "长寿补贴", "2026-03", 1, 0, ""]]))
    assert "大于 0" in errors(job)[(2, "发放金额(元)")]


def test_import_does_not_make_a_grant_overlapping_a_later_one(world, ben):
    later = Grant.objects.create(programme=ben.longevity, resident=ben.wang, node=ben.wang.node,
                                 community=world.community, starts_on=date(2026, 5, 1), ends_on=date(2026, 8, 31),
                                 amount=Decimal("100"), persons=1, state="ended")
    rows = [[1, "王大爷", ident(3, 1930), "长寿补贴", "2026-03", 1, 100, ""],
            [2, "王大爷", ident(3, 1930), "长寿补贴", "2026-06", 1, 100, ""]]
    job = run(world, xlsx(rows))
    assert "重叠" in errors(job)[(2, "发放月份")] and job.good_rows == 1
    imports.import_commit(actor=world.secretary,
                          job=imports.import_set_mode(actor=world.secretary, job=job, mode=ImportJob.Mode.GOOD_ONLY))
    assert list(Grant.objects.filter(resident=ben.wang)) == [later]
    assert Payment.objects.get().grant == later


# --- 11. the commit reads and writes per batch ----------------------------------------------


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_commit_gives_the_same_result_whatever_the_batch_size(world, ben, monkeypatch, batch):
    monkeypatch.setattr(imports, "BATCH", batch)
    services.grant_create(actor=world.secretary, programme=ben.longevity, resident=ben.wang,
                          starts_on=date(2026, 1, 1), amount="100")
    services.payment_record(actor=world.secretary, grant=Grant.objects.get(resident=ben.wang), month=date(2026, 2, 1))
    rows = [[1, "张桂英", ident(1), "城市低保", "2026-04", 2, 400, ""],
            [2, "李明", ident(2, 1980), "城市低保", "2026-03", 2, 400, ""],  # same household: the same grant
            [3, "王大爷", ident(3, 1930), "长寿补贴", "2026-02", 1, 120, ""],  # corrects February
            [4, "王大爷", ident(3, 1930), "长寿补贴", "2026-03", 1, 100, ""],
            [5, "张桂英", ident(1), "城市低保", "2026-02", 2, 400, ""]]
    job = run(world, xlsx(rows))
    assert job.bad_rows == 0, errors(job)
    job = imports.import_commit(actor=world.secretary, job=job)
    assert (job.created_rows, job.updated_rows, job.bad_rows) == (4, 1, 0)
    urban = Grant.objects.get(programme=ben.urban)
    assert urban.starts_on == date(2026, 2, 1) and urban.from_import
    assert sorted(Payment.objects.filter(grant=urban).values_list("month", flat=True)) == [
        date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
    assert Payment.objects.get(resident=ben.wang, month=date(2026, 2, 1)).amount == Decimal("120.00")
    assert Grant.objects.count() == 2
