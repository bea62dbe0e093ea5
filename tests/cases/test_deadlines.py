"""Deadlines of cases: the sub-district's office hours (办件规则), the category's unit, estimated
deadlines in a year not yet known and their recomputation once an administrator declares the
year complete; the 办件规则 page and API. The arithmetic itself: tests/core/test_workdays.py."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from jiedao.cases.catalogue import services as catalogue_services
from jiedao.cases.catalogue import sla
from jiedao.cases.models import Case, CasePolicy, LimitUnit, Tier, Urgency
from jiedao.cases.policy import policy_for
from jiedao.cases.services import case_act
from jiedao.cases.workflow import Action
from jiedao.core import workdays
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.models import AuditEvent, WorkdayOverride, WorkdayYear
from tests.cases.test_workflow import file_case
from tests.core.test_i18n import html

TZ = ZoneInfo("Asia/Shanghai")
UNKNOWN_2027 = pytest.mark.skipif(workdays.package_knows(2027),
                                  reason="chinese-calendar now knows 2027: pick a year it does not know")


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def when(text):
    return datetime.fromisoformat(text)


def dispatch_at(world, catalogue, moment, monkeypatch, **over):
    """A case filed, accepted and dispatched by the secretary at `moment` (the clock is set back)."""
    case = file_case(world, catalogue, **over)
    case = case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    with monkeypatch.context() as clock:
        clock.setattr(timezone, "now", lambda: moment)
        return case_act(actor=world.secretary, case=case, action=Action.DISPATCH)


# --- deadline_for: units, urgency, the sub-district's office hours -----------------------------


def test_deadline_for_follows_the_category_unit_and_urgency(world, catalogue):
    garbage = catalogue["garbage"]  # 1 working day
    sub = world.subdistrict.pk
    assert sla.deadline_for(garbage, at(2026, 3, 1, 23, 57), subdistrict_id=sub) == (at(2026, 3, 3, 17, 30), False)
    assert sla.deadline_for(garbage, at(2026, 3, 2, 0, 4), subdistrict_id=sub) == (at(2026, 3, 3, 17, 30), False)
    # Urgent: half a day of office time (3 h 45 min), lunch not counted.
    assert sla.deadline_for(garbage, at(2026, 3, 2, 10), Urgency.URGENT, subdistrict_id=sub).at == at(2026, 3, 2, 15, 15)
    garbage.time_limit_unit, garbage.time_limit = LimitUnit.WORKING_HOURS, Decimal(4)
    assert sla.deadline_for(garbage, at(2026, 3, 6, 16), subdistrict_id=sub).at == at(2026, 3, 9, 11)
    garbage.time_limit_unit = LimitUnit.HOURS  # clock hours, 24/7: may end at night
    assert sla.deadline_for(garbage, at(2026, 3, 7, 22), subdistrict_id=sub) == (at(2026, 3, 8, 2), False)
    assert sla.deadline_for(garbage, at(2027, 3, 6, 22), subdistrict_id=sub) == (at(2027, 3, 7, 2), False)
    assert sla.deadline_for(None, at(2026, 3, 2), subdistrict_id=sub).at == at(2026, 3, 9, 17, 30)  # 5 days


def test_a_dispatch_uses_its_subdistricts_office_hours(world, catalogue, monkeypatch):
    catalogue_services.case_policy_update(actor=world.admin, subdistrict=world.subdistrict,
                                          morning_start="09:00", afternoon_end="18:00")
    case = dispatch_at(world, catalogue, at(2026, 3, 1, 23, 57), monkeypatch)
    assert (case.deadline_at, case.deadline_estimated) == (at(2026, 3, 3, 18), False)
    other = dispatch_at(world, catalogue, at(2026, 3, 2, 0, 4), monkeypatch, title="二号楼垃圾")
    assert other.deadline_at == case.deadline_at
    # Another sub-district without rules of its own keeps the default hours.
    assert sla.office_hours(None) == ((time(8, 30), time(12)), (time(13, 30), time(17, 30)))


# --- the deadline watch ---------------------------------------------------------------------------


def test_near_means_within_four_office_hours(world, catalogue, monkeypatch):
    case = dispatch_at(world, catalogue, at(2026, 3, 2, 10), monkeypatch)  # ends Tue 3/3 17:30
    # 4 office hours before 17:30 is 13:30, and the lunch break before it does not count either.
    assert sla.sla_status_for(case, at(2026, 3, 3, 11, 59)) == ""
    assert sla.sla_status_for(case, at(2026, 3, 3, 12)) == "near"
    assert sla.sla_scan(now=at(2026, 3, 3, 11, 59))["near"] == 0
    assert sla.sla_scan(now=at(2026, 3, 3, 14))["near"] == 1
    assert sla.sla_scan(now=at(2026, 3, 3, 17, 31))["overdue"] == 1
    # A deadline at 09:00 (working hours) is near from the afternoon before, not from 05:00.
    Case.objects.filter(pk=case.pk).update(deadline_at=at(2026, 3, 10, 9), sla_status="")
    case.refresh_from_db()
    assert sla.sla_status_for(case, at(2026, 3, 9, 13, 59)) == ""
    assert sla.sla_status_for(case, at(2026, 3, 9, 14)) == "near"
    assert sla.sla_status_for(case, at(2026, 3, 9, 23)) == "near"
    # A later deadline (a new dispatch, a recomputation) lifts the mark at the next scan.
    Case.objects.filter(pk=case.pk).update(sla_status="overdue", deadline_at=at(2026, 3, 20, 17, 30))
    assert sla.sla_scan(now=at(2026, 3, 10, 10))["cleared"] == 1
    assert Case.objects.get(pk=case.pk).sla_status == ""


# --- estimated deadlines and declaring a year complete ---------------------------------------------


@UNKNOWN_2027
def test_a_deadline_in_2027_is_estimated_until_the_year_is_declared(world, catalogue, as_, client, monkeypatch):
    dispute = catalogue["dispute"]
    dispute.time_limit = 10
    dispute.save()
    case = dispatch_at(world, catalogue, at(2026, 12, 28), monkeypatch, category=dispute, title="楼上漏水")
    deferred = dispatch_at(world, catalogue, at(2026, 12, 28), monkeypatch, category=dispute, title="噪音扰民")
    Case.objects.filter(pk=deferred.pk).update(deferred_at=at(2026, 12, 29), deadline_at=at(2027, 2, 26, 17, 30))
    secretary, admin = as_(world.secretary), as_(world.admin)

    body = secretary.get(f"/cases/{case.pk}").json()
    assert body["deadline_estimated"] is True
    assert when(body["deadline_at"]) == at(2027, 1, 11, 17, 30)  # weekends only: Fri 1/1 counted as a workday
    listed = {c["id"]: c["deadline_estimated"] for c in secretary.get("/cases").json()["items"]}
    assert listed[case.pk] is True
    client.force_login(world.secretary)
    assert "期限涉及的年度节假日安排尚未确认录入完整" in html(client.get(reverse("cases:detail", args=[case.pk])))
    assert "estimate-mark" in html(client.get(reverse("cases:list")))

    # A community secretary may not declare; an administrator may not declare an empty year.
    refused = secretary.post("/cases/workday-years", {"year": 2027})
    assert refused.status_code == 403 and not WorkdayYear.objects.exists()
    empty = admin.post("/cases/workday-years", {"year": 2027})
    assert empty.status_code == 400 and empty.json()["field"] == "year" and "还没有录入任何放假日期" in empty.json()["detail"]
    known = admin.post("/cases/workday-years", {"year": 2026})
    assert known.status_code == 400 and "已包含 2026 年" in known.json()["detail"]

    # One row for 2027 is not the whole year: the case stays an estimate, the notice stays.
    client.force_login(world.admin)
    assert client.post(reverse("cases:holidays"), {"date": "2027-01-01", "is_workday": "0", "name": "元旦"}).status_code == 302
    assert secretary.get(f"/cases/{case.pk}").json()["deadline_estimated"] is True
    page = html(client.get(reverse("cases:holidays")))
    assert "2027 年的法定节假日安排尚未确认录入完整" in page and "确认 2027 年节假日已录入完整" in page
    years = {y["year"]: y for y in admin.get("/cases/workday-years").json()}
    assert years[2027]["known"] is False and years[2027]["holidays"] == 1 and years[2027]["estimated_cases"] == 2

    declared = admin.post("/cases/workday-years", {"year": 2027})
    assert declared.status_code == 201, declared.content
    assert declared.json() == {"year": 2027, "holidays": 1, "workdays": 0, "recomputed": 2, "moved": 1}
    body = secretary.get(f"/cases/{case.pk}").json()
    assert body["deadline_estimated"] is False and when(body["deadline_at"]) == at(2027, 1, 12, 17, 30)
    kept = Case.objects.get(pk=deferred.pk)
    assert (kept.deadline_at, kept.deadline_estimated) == (at(2027, 2, 26, 17, 30), False)  # the approved date stands
    client.force_login(world.secretary)
    assert "期限涉及的年度" not in html(client.get(reverse("cases:detail", args=[case.pk])))
    years = {y["year"]: y for y in admin.get("/cases/workday-years").json()}
    assert years[2027]["known"] is True and years[2027]["declared_by"] == str(world.admin)

    event = AuditEvent.objects.get(action="cases.case.deadline_recompute", object_id=str(case.pk))
    assert event.before == {"deadline_at": "2027-01-11T17:30:00+08:00", "deadline_estimated": True}
    assert event.after == {"deadline_at": "2027-01-12T17:30:00+08:00", "deadline_estimated": False}
    assert AuditEvent.objects.filter(action="core.workdayyear.declare").count() == 1
    assert AuditEvent.objects.get(action="cases.deadline.recompute").after == {"year": 2027, "cases": 2, "moved": 1}
    again = admin.post("/cases/workday-years", {"year": 2027})
    assert again.status_code == 400 and "已确认录入完整" in again.json()["detail"]
    # New dispatches into 2027 are no longer estimates.
    later = dispatch_at(world, catalogue, at(2026, 12, 30), monkeypatch, category=dispute, title="路灯不亮")
    assert (later.deadline_at, later.deadline_estimated) == (at(2027, 1, 14, 17, 30), False)


@UNKNOWN_2027
def test_declaring_on_the_holiday_page(world, catalogue, client, monkeypatch):
    WorkdayOverride.objects.create(date=date(2027, 1, 1), is_workday=False, name="元旦")
    client.force_login(world.secretary)
    assert client.post(reverse("cases:holiday_declare"), {"year": 2027}).status_code == 403
    client.force_login(world.admin)
    response = client.post(reverse("cases:holiday_declare"), {"year": 2027}, follow=True)
    page = html(response)
    assert "已确认 2027 年节假日录入完整" in page and "已确认完整" in page
    assert "2027 年的法定节假日安排尚未确认录入完整" not in page
    refused = client.post(reverse("cases:holiday_declare"), {"year": 2027})
    assert refused.status_code == 400 and "已确认录入完整" in html(refused)
    with pytest.raises(PermissionError_):
        catalogue_services.workday_year_declare(actor=world.leader, year=2028)


def test_a_meetings_date_is_not_an_estimate(world, catalogue):
    case = file_case(world, catalogue)
    case = case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    case = case_act(actor=world.secretary, case=case, action=Action.DISPATCH, deadline=at(2027, 6, 30, 17, 30))
    assert (case.deadline_at, case.deadline_estimated) == (at(2027, 6, 30, 17, 30), False)


# --- 办件规则 (CasePolicy) ---------------------------------------------------------------------------


POLICY_FORM = {"weight_response": "0.1", "weight_resolution": "0.5", "weight_satisfaction": "0.4",
               "weight_basic": "0.9", "morning_start": "08:30", "morning_end": "12:00", "afternoon_start": "13:30",
               "afternoon_end": "17:30", "separate_verifier": "on"}


def test_policy_page_validates_saves_and_audits(world, client):
    client.force_login(world.admin)
    response = client.get(reverse("cases:policies"))  # one sub-district: straight to its rules
    assert response.status_code == 302 and response.url == reverse("cases:policy", args=[world.subdistrict.pk])
    url = response.url
    page = html(client.get(url))
    assert "本街道目前沿用默认规则" in page and 'value="08:30"' in page and "办理时限怎么算" in page
    assert "办件规则" in html(client.get(reverse("cases:catalogue")))

    bad = client.post(url, {**POLICY_FORM, "weight_resolution": "0.6"})
    assert bad.status_code == 400 and "三项权重之和应为 1，现为 1.1。" in html(bad)
    bad = client.post(url, {**POLICY_FORM, "morning_end": "14:00"})
    assert bad.status_code == 400 and "下午上班时间不能早于上午下班时间" in html(bad)
    bad = client.post(url, {**POLICY_FORM, "afternoon_end": "13:00"})
    assert bad.status_code == 400 and "下午下班时间应晚于下午上班时间" in html(bad)
    bad = client.post(url, {**POLICY_FORM, "weight_basic": "1.2"})
    assert bad.status_code == 400
    assert not CasePolicy.objects.exists()

    saved = client.post(url, {**POLICY_FORM, "weight_response": "0.2", "weight_resolution": "0.4",
                              "afternoon_end": "18:00", "separate_verifier": ""})
    assert saved.status_code == 302
    policy = policy_for(world.subdistrict.pk)
    assert (policy.weight_response, policy.afternoon_end, policy.separate_verifier) == (
        Decimal("0.2"), time(18), False)
    event = AuditEvent.objects.get(action="cases.casepolicy.update")
    assert event.before is None and event.after["afternoon_end"] == "18:00:00" and event.after["weight_response"] == "0.200"
    client.post(url, {**POLICY_FORM, "weight_response": "0.2", "weight_resolution": "0.4", "afternoon_end": "18:00"})
    latest = AuditEvent.objects.filter(action="cases.casepolicy.update").latest("id")
    assert latest.before == {"separate_verifier": False} and latest.after == {
        "subdistrict_id": world.subdistrict.pk, "separate_verifier": True}
    assert "本街道目前沿用默认规则" not in html(client.get(url))
    # The default rules are the superuser's; the sub-district's rules no longer follow them.
    assert client.get(reverse("cases:policy_default")).status_code == 403
    client.force_login(world.root)
    rows = html(client.get(reverse("cases:policies")))
    assert "默认规则" in rows and world.subdistrict.name in rows
    assert client.post(reverse("cases:policy_default"), {**POLICY_FORM, "afternoon_end": "17:00"}).status_code == 302
    assert policy_for(None).afternoon_end == time(17) and policy_for(world.subdistrict.pk).afternoon_end == time(18)


@pytest.mark.parametrize("who", ["secretary", "leader", "worker", "handler"])
def test_policy_pages_are_for_catalogue_administrators(world, client, who):
    client.force_login(getattr(world, who))
    assert client.get(reverse("cases:policies")).status_code == 403
    assert client.get(reverse("cases:policy", args=[world.subdistrict.pk])).status_code == 403
    assert "办件规则" not in html(client.get(reverse("home")))


def test_policy_page_out_of_scope_is_404(world, client):
    from jiedao.org import services as org_services
    from jiedao.org.models import NodeKind

    other = org_services.node_create(actor=world.root, parent=None, kind=NodeKind.SUBDISTRICT, name="丹东街道",
                                     code="330225003000")
    client.force_login(world.admin)
    assert client.get(reverse("cases:policy", args=[other.pk])).status_code == 404
    assert client.get(reverse("cases:policy", args=[world.community.pk])).status_code == 404


def test_policy_api(world, as_):
    admin, url = as_(world.admin), f"/cases/policies/{world.subdistrict.pk}"
    body = admin.get(url).json()
    assert body == {"id": world.subdistrict.pk, "subdistrict_name": "丹西街道", "own": False, "weight_response": 0.1,
                    "weight_resolution": 0.5, "weight_satisfaction": 0.4, "weight_basic": 0.9,
                    "morning_start": "08:30", "morning_end": "12:00", "afternoon_start": "13:30",
                    "afternoon_end": "17:30", "separate_verifier": True}
    for change, field, words in [
        ({"weight_basic": 1.5}, "weight_basic", "基本满意折算应在 0 到 1 之间"),
        ({"weight_response": 0.3}, "weight_satisfaction", "三项权重之和应为 1"),
        ({"morning_start": "12:30"}, "morning_end", "上午下班时间应晚于上午上班时间"),
        ({"afternoon_start": "11:00"}, "afternoon_start", "下午上班时间不能早于上午下班时间"),
    ]:
        response = admin.put(url, change)
        assert response.status_code == 400 and response.json()["field"] == field and words in response.json()["detail"]
    assert admin.put(url, {"colour": "red"}).status_code == 422
    changed = admin.put(url, {"weight_response": 0.2, "weight_resolution": 0.4, "afternoon_end": "18:00"})
    assert changed.status_code == 200 and changed.json()["own"] is True and changed.json()["afternoon_end"] == "18:00"
    assert AuditEvent.objects.filter(action="cases.casepolicy.update").count() == 1
    assert as_(world.leader).put(url, {"separate_verifier": False}).status_code == 403
    assert as_(world.worker).get(url).status_code == 404
    assert admin.put("/cases/policies/default", {"separate_verifier": False}).status_code == 403
    root = as_(world.root)
    assert root.put("/cases/policies/default", {"afternoon_end": "17:00"}).json()["afternoon_end"] == "17:00"
    items = root.get("/cases/policies").json()["items"]
    assert [(i["id"], i["own"], i["afternoon_end"]) for i in items] == [
        (None, True, "17:00"), (world.subdistrict.pk, True, "18:00")]
    assert as_(world.worker).get("/cases/policies").json()["items"] == []


def test_policy_service_refusals(world):
    with pytest.raises(PermissionError_):
        catalogue_services.case_policy_update(actor=world.admin, subdistrict=None, separate_verifier=False)
    with pytest.raises(DomainError) as exc:
        catalogue_services.case_policy_update(actor=world.admin, subdistrict=world.community, separate_verifier=False)
    assert exc.value.field == "subdistrict"
    with pytest.raises(DomainError) as exc:
        catalogue_services.case_policy_update(actor=world.admin, subdistrict=world.subdistrict, morning_start="8点")
    assert exc.value.field == "morning_start" and "上午上班时间应为时间" in exc.value.message
    with pytest.raises(DomainError):
        catalogue_services.case_policy_update(actor=world.admin, subdistrict=world.subdistrict, tier=Tier.PUBLIC)
    # Exactly on the tolerance is accepted.
    policy = catalogue_services.case_policy_update(actor=world.admin, subdistrict=world.subdistrict,
                                                   weight_response="0.101")
    assert policy.weight_response == Decimal("0.101")
