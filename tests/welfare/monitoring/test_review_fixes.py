"""The review's fixes (issue 17): scope follows the household's current place, the notice cannot
be backdated, out-of-range dates answer 4xx, and the smaller service and page refusals."""

from datetime import date, timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from jiedao.core.errors import DomainError
from jiedao.people import services as people_services
from jiedao.welfare.models.monitoring import Measure, MonitoredHousehold
from jiedao.welfare.monitoring import selectors, services

from .conftest import lead, to_monitored

BASE = "/api/v1/welfare/monitoring"


def _move(world, household, node):
    return people_services.household_update(actor=world.admin, household=household, node=node)


# --- 1. scope follows the household's current place -------------------------------------------


def test_a_moved_household_goes_with_its_new_grid(world, mon, client):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    _move(world, mon.home, world.other_grid)
    today = timezone.localdate()
    with pytest.raises(Http404):
        selectors.monitored_get(world.worker, m.pk)
    assert not selectors.monitored_list(world.worker).filter(pk=m.pk).exists()
    assert m.pk not in [r.pk for r in selectors.overdue_in_month(world.worker, today.replace(day=1))]
    mine = selectors.my_visits(world.worker)
    assert m.pk not in [r.pk for r in mine.this_week + mine.later + mine.done]
    with pytest.raises(Http404):
        services.visit_record(actor=world.worker, monitored=m, note="旧网格")
    assert selectors.monitored_get(world.other_worker, m.pk).pk == m.pk
    assert selectors.monitored_list(world.other_worker).filter(pk=m.pk).exists()
    assert selectors.figures(world.other_worker, today, today).households == 1
    assert selectors.figures(world.worker, today, today).households == 0
    measure = Measure.objects.create(monitored=m, category="medical", content="救助", owner="村委", due_on=today)
    with pytest.raises(Http404):
        selectors.measure_get(world.worker, measure.pk)
    assert selectors.measure_get(world.other_worker, measure.pk).pk == measure.pk
    services.visit_record(actor=world.other_worker, monitored=m, note="新网格")
    client.force_login(world.worker)
    assert client.get(f"/welfare/monitoring/{m.pk}/").status_code == 404
    client.force_login(world.other_worker)
    assert client.get(f"/welfare/monitoring/{m.pk}/").status_code == 200


# --- 2. the notice cannot start before the deliberation ---------------------------------------


def _deliberated(world, mon):
    m = lead(world, mon.home, actor=world.worker)
    today = timezone.localdate()
    services.monitored_act(actor=world.worker, monitored=m, action="verify", consent_on=today)
    return services.monitored_act(actor=world.secretary, monitored=m, action="deliberate", reason="评议通过")


def test_a_backdated_notice_is_refused(world, mon):
    m = _deliberated(world, mon)
    today = timezone.localdate()
    with pytest.raises(DomainError) as exc:
        services.monitored_act(actor=world.secretary, monitored=m, action="publish",
                               notice_from=today - timedelta(days=6), notice_to=today - timedelta(days=1))
    assert exc.value.field == "notice_from" and "评议" in str(exc.value)
    m.refresh_from_db()
    assert m.state == "deliberated" and m.notice_from is None
    m = services.monitored_act(actor=world.secretary, monitored=m, action="publish")
    assert m.notice_from == today and m.notice_to == today + timedelta(days=4)
    with pytest.raises(DomainError):  # the five days are not over
        services.monitored_act(actor=world.secretary, monitored=m, action="approve")


def test_a_backdated_exit_notice_is_refused(world, mon):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    today = timezone.localdate()
    services.monitored_act(actor=world.worker, monitored=m, action="exit_verify", exit_income=9000,
                           secure_education=True, secure_medical=True, secure_housing=True, secure_water=True)
    m = services.monitored_act(actor=world.secretary, monitored=m, action="exit_deliberate", reason="评议通过")
    with pytest.raises(DomainError) as exc:
        services.monitored_act(actor=world.secretary, monitored=m, action="exit_publish",
                               notice_from=today - timedelta(days=6), notice_to=today - timedelta(days=1))
    assert exc.value.field == "notice_from"
    with pytest.raises(DomainError) as exc:  # nor a notice far ahead
        services.monitored_act(actor=world.secretary, monitored=m, action="exit_publish",
                               notice_from=today + timedelta(days=400))
    assert exc.value.field == "notice_from"
    m = services.monitored_act(actor=world.secretary, monitored=m, action="exit_publish")
    assert m.exit_notice_from == today


# --- 3. dates out of range answer 400, not 500 -------------------------------------------------


@pytest.mark.parametrize(("path", "field"), [
    ("/overdue?month=9999-12", "month"),
    ("/overdue?month=0001-01", "month"),
    ("/figures?start=0001-01-01&end=0001-01-02", "start"),
    ("/figures?start=2026-01-01&end=9999-12-31", "end"),
])
def test_out_of_range_dates_answer_400(world, mon, as_, path, field):
    r = as_(world.leader).get(path)
    assert r.status_code == 400, r.content
    assert r.json()["field"] == field and "2000" in r.json()["detail"]


def test_out_of_range_month_on_the_overdue_page_is_a_form_error(world, mon, client):
    client.force_login(world.leader)
    r = client.get("/welfare/monitoring/overdue/?month=9999-12")
    assert r.status_code == 400
    assert "2000" in r.content.decode()
    assert client.get("/welfare/monitoring/overdue/?month=2026-01").status_code == 200


def test_selectors_refuse_years_out_of_range(world):
    with pytest.raises(DomainError) as exc:
        selectors.overdue_in_month(world.leader, date(9999, 12, 1))
    assert exc.value.field == "month"
    with pytest.raises(DomainError) as exc:
        selectors.figures(world.leader, date(2026, 1, 1), date(9999, 12, 31))
    assert exc.value.field == "end"


# --- 4. 超 15 天未认定 counts the state on `end` ------------------------------------------------


def test_late_decisions_reads_the_state_on_end(world, mon):
    today = timezone.localdate()
    m = lead(world, mon.home, actor=world.worker, lead_on=today - timedelta(days=40))
    to_monitored(world, m)  # decided today, 40 days after the lead
    assert selectors.figures(world.leader, today - timedelta(days=30), today - timedelta(days=5)).late_decisions == 1
    assert selectors.figures(world.leader, today - timedelta(days=30), today).late_decisions == 0
    assert selectors.figures(world.leader, today - timedelta(days=60), today - timedelta(days=26)).late_decisions == 0


# --- 5–7. service refusals ------------------------------------------------------------------


def test_a_submission_id_reused_on_another_household_is_refused(world, mon):
    second = people_services.household_create(actor=world.admin, node=world.grid, number="102", address="测试路102号")
    people_services.resident_create(actor=world.admin, node=world.grid, household=second, name="户主102", relation="户主")
    a = to_monitored(world, lead(world, mon.home, actor=world.worker))
    b = to_monitored(world, lead(world, second, actor=world.worker))
    first = services.visit_record(actor=world.worker, monitored=a, note="一", submission="s-1")
    assert services.visit_record(actor=world.worker, monitored=a, note="一", submission="s-1").pk == first.pk
    with pytest.raises(DomainError) as exc:
        services.visit_record(actor=world.worker, monitored=b, note="二", submission="s-1")
    assert exc.value.field == "submission"
    assert not b.visits.exists()


def test_measure_update_on_a_closed_household_is_refused(world, mon):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    measure = services.measure_add(actor=world.worker, monitored=m, category="medical", content="救助", owner="村委",
                                   due_on=timezone.localdate())
    from .conftest import put_in_state
    put_in_state(m, "removed")
    with pytest.raises(DomainError) as exc:
        services.measure_update(actor=world.worker, measure=measure, status="done", progress="办完")
    assert "结束监测" in str(exc.value)
    measure.refresh_from_db()
    assert measure.status == "planned" and measure.progress == ""


@pytest.mark.parametrize("due", ["9999-12-31", "1999-12-31", date(2100, 1, 1)])
def test_measure_due_dates_out_of_range_are_refused(world, mon, due):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    with pytest.raises(DomainError) as exc:
        services.measure_add(actor=world.worker, monitored=m, category="medical", content="救助", owner="村委",
                             due_on=due)
    assert exc.value.field == "due_on" and "完成时限" in str(exc.value)
    measure = services.measure_add(actor=world.worker, monitored=m, category="medical", content="救助", owner="村委",
                                   due_on=timezone.localdate() + timedelta(days=365))
    with pytest.raises(DomainError) as exc:
        services.measure_update(actor=world.worker, measure=measure, due_on=due)
    assert exc.value.field == "due_on"


# --- 8–10. pages ------------------------------------------------------------------------------


def test_the_line_page_sets_the_chosen_subdistrict(world, client):
    from jiedao.org import services as org_services
    from jiedao.org.models import NodeKind
    from jiedao.welfare.models.monitoring import MonitoringLine

    second = org_services.node_create(actor=world.root, parent=None, kind=NodeKind.SUBDISTRICT, name="丹东街道",
                                      code="330225003000")
    client.force_login(world.root)
    page = client.get("/welfare/monitoring/lines/").content.decode()
    assert "丹东街道" in page and "丹西街道" in page
    r = client.post("/welfare/monitoring/lines/", {"subdistrict": second.pk, "year": 2026, "amount": 7300})
    assert r.status_code == 302
    assert MonitoringLine.objects.get(subdistrict=second, year=2026).amount == 7300
    assert not MonitoringLine.objects.filter(subdistrict=world.subdistrict, year=2026, amount=7300).exists()
    client.force_login(world.leader)  # manages 丹西 only: 丹东 is not a choice
    r = client.post("/welfare/monitoring/lines/", {"subdistrict": second.pk, "year": 2026, "amount": 9999})
    assert r.status_code == 400 and MonitoringLine.objects.get(subdistrict=second, year=2026).amount == 7300
    assert "丹东街道" not in client.get("/welfare/monitoring/lines/").content.decode()
    r = client.post("/welfare/monitoring/lines/", {"subdistrict": world.subdistrict.pk, "year": 2027, "amount": 7500})
    assert r.status_code == 302 and MonitoringLine.objects.get(subdistrict=world.subdistrict, year=2027).amount == 7500


def test_measure_dates_on_the_page_and_input_kept_on_error(world, mon, client):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    today = timezone.localdate()
    measure = services.measure_add(actor=world.worker, monitored=m, category="medical", content="大病救助",
                                   owner="村委会", due_on=today)
    client.force_login(world.worker)
    url = f"/welfare/monitoring/measures/{measure.pk}/"
    page = client.get(f"/welfare/monitoring/{m.pk}/").content.decode()
    assert 'name="due_on"' in page and 'name="done_on"' in page and 'name="progress"' in page
    r = client.post(url, {"status": "ongoing", "progress": "已联系医院", "due_on": "9999-12-31"})
    assert r.status_code == 400
    body = r.content.decode()
    assert "已联系医院" in body and "完成时限" in body and "9999-12-31" in body
    measure.refresh_from_db()
    assert measure.due_on == today and measure.progress == ""
    new_due = today + timedelta(days=90)
    r = client.post(url, {"status": "done", "progress": "已报销", "due_on": new_due.isoformat(),
                          "done_on": (today - timedelta(days=2)).isoformat()})
    assert r.status_code == 302
    measure.refresh_from_db()
    assert (measure.status, measure.progress, measure.due_on, measure.done_on) == (
        "done", "已报销", new_due, today - timedelta(days=2))


def test_the_cadre_filter_lists_every_cadre_in_scope(world, client):
    from jiedao.people.models import Household

    homes = Household.objects.bulk_create(
        [Household(node=world.grid, subdistrict=world.subdistrict, number=f"9{i:03d}", address="测试路")
         for i in range(302)])
    today = timezone.localdate()
    rows = [MonitoredHousehold(household=h, subdistrict=world.subdistrict, kind="marginal", risk_types=["illness"],
                               lead_source="department", lead_on=today, cadre=world.admin) for h in homes[:301]]
    rows.append(MonitoredHousehold(household=homes[301], subdistrict=world.subdistrict, kind="marginal",
                                   risk_types=["illness"], lead_source="department", lead_on=today,
                                   cadre=world.worker))
    MonitoredHousehold.objects.bulk_create(rows)
    client.force_login(world.leader)
    page = client.get("/welfare/monitoring/").content.decode()
    assert f'<option value="{world.worker.pk}"' in page and f'<option value="{world.admin.pk}"' in page


def test_a_reused_submission_on_the_visit_page_keeps_the_input_and_a_fresh_id(world, mon, client):
    second = people_services.household_create(actor=world.admin, node=world.grid, number="102", address="测试路102号")
    people_services.resident_create(actor=world.admin, node=world.grid, household=second, name="户主102", relation="户主")
    a = to_monitored(world, lead(world, mon.home, actor=world.worker))
    b = to_monitored(world, lead(world, second, actor=world.worker))
    services.visit_record(actor=world.worker, monitored=a, note="一", submission="s-1")
    client.force_login(world.worker)
    today = timezone.localdate().isoformat()
    r = client.post(f"/welfare/monitoring/{b.pk}/visit/", {"visited_on": today, "note": "二户走访情况",
                                                                "submission": "s-1"})
    assert r.status_code == 400
    body = r.content.decode()
    assert "二户走访情况" in body and "提交标识已用于另一户" in body and 'value="s-1"' not in body
    assert not b.visits.exists()
