"""Leads, adjustments with history, the plan and the visits through the services."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.welfare.models.monitoring import Measure, MonitoringChange, MonitoringState, MonitoringVisit
from jiedao.welfare.monitoring import selectors, services

from .conftest import backdate_deliberation, lead, to_monitored


def test_a_lead_takes_members_from_the_register_and_the_recorder_as_cadre(world, mon):
    m = lead(world, mon.home, actor=world.worker, risk_types=["labour", "illness"])
    assert m.members == 2 and m.cadre == world.worker and m.risk_types == ["illness", "labour"]
    assert m.decision_due == m.lead_on + timedelta(days=15)
    assert AuditEvent.objects.filter(action="welfare.monitored.create", object_id=str(m.pk)).exists()
    with pytest.raises(ConflictError):
        lead(world, mon.home)


def test_lead_refusals(world, mon):
    with pytest.raises(Http404):
        lead(world, mon.home, actor=world.other_worker)
    with pytest.raises(Http404):  # no welfare role at all
        lead(world, mon.home, actor=world.handler)
    with pytest.raises(DomainError) as exc:
        lead(world, mon.home, lead_source="x")
    assert exc.value.field == "lead_source"
    with pytest.raises(DomainError) as exc:
        lead(world, mon.home, risk_types=[])
    assert exc.value.field == "risk_types"
    with pytest.raises(DomainError) as exc:
        lead(world, mon.home, lead_on=timezone.localdate() + timedelta(days=1))
    assert exc.value.field == "lead_on"
    with pytest.raises(DomainError) as exc:
        lead(world, mon.home, cadre=world.other_worker.pk)
    assert exc.value.field == "cadre"


def test_a_late_decision_is_flagged(world, mon):
    m = lead(world, mon.home, lead_on=timezone.localdate() - timedelta(days=16))
    assert m.decision_late
    assert list(selectors.monitored_list(world.secretary, late=True)) == [m]


def test_adjust_keeps_history_and_kind_and_cadre_are_the_communitys(world, mon):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    with pytest.raises(PermissionError_):
        services.monitored_adjust(actor=world.worker, monitored=m, reason="调整", kind="sudden")
    rows = services.monitored_adjust(actor=world.worker, monitored=m, reason="新增因学", risk_types=["illness", "schooling"],
                                     income_per_head=5500)
    assert {r.field for r in rows} == {"risk_types", "income_per_head"}
    rows = services.monitored_adjust(actor=world.secretary, monitored=m, reason="突发困难", kind="sudden",
                                     cadre=world.secretary.pk)
    assert {r.field for r in rows} == {"kind", "cadre"}
    change = MonitoringChange.objects.get(monitored=m, field="cadre")
    assert change.old["id"] == world.worker.pk and change.new["id"] == world.secretary.pk
    with pytest.raises(DomainError):
        services.monitored_adjust(actor=world.secretary, monitored=m, reason="无变化", kind="sudden")
    with pytest.raises(DomainError) as exc:
        services.monitored_adjust(actor=world.secretary, monitored=m, reason="", kind="unstable")
    assert exc.value.field == "reason"


def test_a_visit_records_a_risk_change_and_a_measure(world, mon):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    measure = services.measure_add(actor=world.worker, monitored=m, category="medical", content="大病救助",
                                   owner="街道社会事务办", due_on=timezone.localdate() + timedelta(days=30))
    visit = services.visit_record(
        actor=world.worker, monitored=m, note="孩子考上大学", income_per_head=6100, risks_added=["schooling"],
        measures=[{"id": measure.pk, "status": "done", "progress": "已报销"}],
        new_measure={"category": "education", "content": "雨露计划补助", "owner": "村委会",
                     "due_on": timezone.localdate() + timedelta(days=60)}, submission="abc")
    m.refresh_from_db()
    assert m.risk_types == ["illness", "schooling"] and m.income_per_head == 6100
    assert m.last_visit_on == timezone.localdate()
    assert visit.risks_added == ["schooling"]
    assert set(MonitoringChange.objects.filter(visit=visit).values_list("field", flat=True)) == {"risk_types",
                                                                                                  "income_per_head"}
    measure.refresh_from_db()
    assert measure.status == "done" and measure.done_on == timezone.localdate()
    assert Measure.objects.filter(monitored=m).count() == 2
    again = services.visit_record(actor=world.worker, monitored=m, note="重发", submission="abc")
    assert again.pk == visit.pk and MonitoringVisit.objects.filter(monitored=m).count() == 1


def test_visit_refusals(world, mon):
    m = lead(world, mon.home, actor=world.worker)
    with pytest.raises(DomainError):  # not under monitoring yet
        services.visit_record(actor=world.worker, monitored=m)
    m = to_monitored(world, m)
    with pytest.raises(DomainError) as exc:
        services.visit_record(actor=world.worker, monitored=m, risks_removed=["illness"])
    assert exc.value.field == "risks_removed"
    with pytest.raises(DomainError) as exc:
        services.visit_record(actor=world.worker, monitored=m, new_measure={"category": "bogus", "content": "x",
                                                                             "owner": "y", "due_on": "2026-01-01"})
    assert exc.value.field == "category"
    with pytest.raises(Http404):
        services.visit_record(actor=world.other_worker, monitored=m)
    assert not MonitoringVisit.objects.filter(monitored=m).exists()


def test_my_visits_and_the_overdue_list(world, mon):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    today = timezone.localdate()
    # included two months ago, never visited: overdue last month, due this week
    type(m).objects.filter(pk=m.pk).update(included_on=today - timedelta(days=70))
    mine = selectors.my_visits(world.worker, today)
    assert [x.pk for x in mine.this_week] == [m.pk] and mine.this_week[0].missed_last_month
    last = selectors.previous_month(selectors.month_start(today))
    assert [x.pk for x in selectors.overdue_in_month(world.secretary, last)] == [m.pk]
    assert list(selectors.overdue_in_month(world.other_worker, last)) == []
    services.visit_record(actor=world.worker, monitored=m, visited_on=today)
    mine = selectors.my_visits(world.worker, today)
    assert [x.pk for x in mine.done] == [m.pk] and not mine.this_week
    assert selectors.my_visits(world.other_worker, today).done == []


def test_line_set_is_the_subdistricts_managers(world, mon):
    year = timezone.localdate().year + 1
    with pytest.raises(Http404):  # the sub-district is above a grid worker's place
        services.line_set(actor=world.worker, subdistrict=world.subdistrict, year=year, amount=8000)
    line = services.line_set(actor=world.leader, subdistrict=world.subdistrict, year=year, amount=8000)
    assert line.amount == 8000
    with pytest.raises(DomainError) as exc:
        services.line_set(actor=world.leader, subdistrict=world.community, year=year, amount=8000)
    assert exc.value.field == "subdistrict"


def test_state_after_full_exit(world, mon):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    today = timezone.localdate()
    m = services.monitored_act(actor=world.worker, monitored=m, action="exit_verify", exit_income=9000,
                               secure_education=True, secure_medical=True, secure_housing=True, secure_water=True)
    m = services.monitored_act(actor=world.secretary, monitored=m, action="exit_deliberate", reason="评议通过")
    backdate_deliberation(m, exit=True)
    m = services.monitored_act(actor=world.secretary, monitored=m, action="exit_publish",
                               notice_from=today - timedelta(days=6), notice_to=today - timedelta(days=1))
    m = services.monitored_act(actor=world.leader, monitored=m, action="exit_approve")
    assert m.state == MonitoringState.REMOVED and m.removed_on == today
    f = selectors.figures(world.leader, today.replace(month=1, day=1), today)
    assert (f.households, f.included, f.removed) == (0, 1, 1)
    lead(world, mon.home)  # a closed record lets a new lead in
