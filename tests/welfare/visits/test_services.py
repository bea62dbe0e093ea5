"""Visits and the due list, a need turned into a case, veterans' records and checks."""

from datetime import timedelta

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiedao.cases.models import Case, Source
from jiedao.core.errors import DomainError
from jiedao.core.models import AuditEvent
from jiedao.people.models import SpecialGroup
from jiedao.welfare.models.visits import Visit
from jiedao.welfare.visits import selectors, services


def rows_of(user, **kw):
    return {(r.name, r.group_name): r for r in selectors.due_rows(user, **kw)}


def test_due_dates_from_the_interval_and_never_visited(world, v):
    today = timezone.localdate()
    rows = rows_of(world.admin)
    assert set(rows) == {("陈阿婆", "独居老人"), ("陈阿婆", "残疾人"), ("吴奶奶", "独居老人"), ("林老兵", "退役军人"),
                         ("周大伯", "退役军人")}
    elderly = rows[("陈阿婆", "独居老人")]
    assert elderly.never and elderly.due == today - timedelta(days=23) and elderly.status == "overdue"
    assert rows[("陈阿婆", "残疾人")].due == today + timedelta(days=60) and rows[("陈阿婆", "残疾人")].status == "later"
    assert elderly.grid_name == "东门第一网格" and elderly.visitors == ["张网格"] and elderly.community_name == "东门社区"
    assert elderly.phone_masked and "13800001234" not in elderly.phone_masked


def test_recording_a_visit_updates_the_overdue_list_at_once(world, v):
    today = timezone.localdate()
    before = rows_of(world.worker, bucket="overdue")
    assert ("陈阿婆", "独居老人") in before
    visit = services.visit_record(actor=world.worker, resident=v.alice, visited_on=today, mode="home",
                                  groups=[SpecialGroup.objects.get(code="alone_elderly").pk], findings="身体良好")
    after = rows_of(world.worker)
    assert after[("陈阿婆", "独居老人")].due == today + timedelta(days=7)
    assert after[("陈阿婆", "独居老人")].last_visit == today
    assert after[("陈阿婆", "残疾人")].never  # counted for the group chosen only
    assert ("陈阿婆", "独居老人") not in rows_of(world.worker, bucket="overdue")
    assert AuditEvent.objects.filter(action="welfare.visit.record", object_id=str(visit.pk)).exists()


def test_no_groups_counts_for_all_of_the_residents_groups(world, v):
    visit = services.visit_record(actor=world.worker, resident=v.alice, visited_on=timezone.localdate(),
                                  findings="正常")
    assert {g.code for g in visit.groups.all()} == {"alone_elderly", "disabled"}


def test_editing_an_interval_changes_the_due_list_at_once(world, v):
    today = timezone.localdate()
    SpecialGroup.objects.filter(code="disabled").update(visit_interval_days=10)
    assert rows_of(world.admin)[("陈阿婆", "残疾人")].due == today - timedelta(days=20)
    SpecialGroup.objects.filter(code="disabled").update(visit_interval_days=None)
    assert ("陈阿婆", "残疾人") not in rows_of(world.admin)


def test_an_ended_tag_leaves_the_schedule(world, v):
    v.alice.tags.filter(group__code="disabled").update(end_date=timezone.localdate())
    assert ("陈阿婆", "残疾人") not in rows_of(world.admin)


def test_scope_and_mine(world, v):
    assert {n for n, _ in rows_of(world.worker)} == {"陈阿婆", "林老兵"}
    assert {n for n, _ in rows_of(world.other_worker)} == {"吴奶奶"}
    assert {n for n, _ in rows_of(world.secretary)} == {"陈阿婆", "林老兵", "吴奶奶"}
    assert {n for n, _ in rows_of(world.secretary, mine=True)} == {"陈阿婆", "林老兵", "吴奶奶"}
    assert rows_of(world.handler) == {}


def test_visit_refusals_change_nothing(world, v):
    today = timezone.localdate()
    with pytest.raises(Http404):  # another grid
        services.visit_record(actor=world.other_worker, resident=v.alice, visited_on=today, findings="x")
    with pytest.raises(Http404):  # a department handler holds no welfare grant
        services.visit_record(actor=world.handler, resident=v.alice, visited_on=today, findings="x")
    cases = [
        ({"visited_on": today + timedelta(days=1), "findings": "x"}, "visited_on"),
        ({"visited_on": today - timedelta(days=400), "findings": "x"}, "visited_on"),
        ({"visited_on": today, "findings": ""}, "findings"),
        ({"visited_on": today, "findings": "x", "mode": "letter"}, "mode"),
        ({"visited_on": today, "findings": "x", "groups": [SpecialGroup.objects.get(code="veteran").pk]}, "groups"),
    ]
    for kwargs, field in cases:
        with pytest.raises(DomainError) as exc:
            services.visit_record(actor=world.worker, resident=v.alice, **kwargs)
        assert exc.value.field == field
    assert not Visit.objects.exists()


def test_a_need_becomes_a_case_linked_back(world, v):
    visit = services.visit_record(actor=world.worker, resident=v.alice, visited_on=timezone.localdate(),
                                  findings="行动不便", needs="楼道需要安装扶手")
    visit = services.visit_raise_case(actor=world.worker, visit=visit)
    case = Case.objects.get(pk=visit.case_id)
    assert case.source == Source.DOOR_VISIT and case.internal and case.resident_id == v.alice.pk
    assert case.building_id == world.building.pk
    with pytest.raises(DomainError):
        services.visit_raise_case(actor=world.worker, visit=visit)
    plain = services.visit_record(actor=world.worker, resident=v.alice, visited_on=timezone.localdate(), findings="好")
    with pytest.raises(DomainError) as exc:
        services.visit_raise_case(actor=world.worker, visit=plain)
    assert exc.value.field == "needs"
    with pytest.raises(Http404):
        services.visit_raise_case(actor=world.other_worker, visit=plain)


def test_the_due_list_reads_in_a_constant_number_of_queries(world, v):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            selectors.due_rows(world.admin)
        return len(ctx.captured_queries)

    first = count()
    for resident in (v.alice, v.bob):
        services.visit_record(actor=world.admin, resident=resident, visited_on=timezone.localdate(), findings="好")
    assert count() == first <= 3


def test_veteran_checks_and_years(world, v):
    today = timezone.localdate()
    services.veteran_check(actor=world.worker, veteran=v.dan_veteran, checked_on=today - timedelta(days=3),
                           notes="核对", filed=True)
    services.veteran_check(actor=world.worker, veteran=v.dan_veteran, checked_on=today - timedelta(days=10))
    v.dan_veteran.refresh_from_db()
    assert v.dan_veteran.checked_on == today - timedelta(days=3) and v.dan_veteran.filed
    assert v.dan_veteran.checks.count() == 2
    with pytest.raises(DomainError) as exc:
        services.veteran_update(actor=world.worker, veteran=v.dan_veteran, discharged_year=1980)
    assert exc.value.field == "discharged_year"
    with pytest.raises(Http404):
        services.veteran_check(actor=world.other_worker, veteran=v.dan_veteran, checked_on=today)
    with pytest.raises(DomainError):
        services.veteran_create(actor=world.worker, resident=v.dan)


def test_card_number_reaches_the_veteran_when_issued(world, v):
    app = services.card_apply(actor=world.worker, veteran=v.dan_veteran)
    v.dan_veteran.refresh_from_db()
    assert v.dan_veteran.card_status == "applying"
    with pytest.raises(DomainError):
        services.card_apply(actor=world.worker, veteran=v.dan_veteran)
    for action, extra in (("approve", {}), ("make", {"card_number": "ZJ123"}), ("issue", {})):
        app = services.card_act(actor=world.secretary, application=app, action=action, **extra)
    v.dan_veteran.refresh_from_db()
    assert (app.state, app.issued_on, v.dan_veteran.card_status, v.dan_veteran.card_number) == (
        "issued", timezone.localdate(), "issued", "ZJ123")
    with pytest.raises(DomainError):
        services.card_apply(actor=world.worker, veteran=v.dan_veteran)
