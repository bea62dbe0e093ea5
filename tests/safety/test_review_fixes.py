"""The review's findings on the safety app, each tested against the rows: one writer of the risk
colour (and the nightly recompute), the rule edit queued, the inspection page's query count, the
sub-district taken from the object or the user's choice, checklist edits in place, escalated
hazards kept off Open311."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiedao.cases import selectors as case_selectors
from jiedao.cases import services as case_services
from jiedao.cases.workflow import Action
from jiedao.core import audit, scheduler
from jiedao.core.errors import DomainError
from jiedao.core.models import AuditEvent
from jiedao.core.permissions import Role
from jiedao.org import services as org_services
from jiedao.org.models import NodeKind
from jiedao.people import services as people_services
from jiedao.people.models import Business
from jiedao.safety import selectors, services
from jiedao.safety.models import (
    ChecklistItem,
    ChecklistTemplate,
    Hazard,
    RiskChange,
    RiskRule,
    SafetyPhoto,
)


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


def fail_items(world, safety, business, *severities, days_ago=0):
    answers = {safety.item(s).pk: "fail" for s in severities}
    return services.inspection_record(actor=world.worker, business=business, template=safety.fire, answers=answers,
                                      inspected_on=timezone.localdate() - timedelta(days=days_ago))


# --- 1. one writer of the colour, and the nightly job ------------------------------------------


def test_the_register_cannot_set_the_colour(world, safety):
    with pytest.raises(DomainError) as exc:
        people_services.business_update(actor=world.admin, business=safety.shop, risk_colour="red")
    assert exc.value.field == "risk_colour"
    with pytest.raises(DomainError):
        people_services.business_create(actor=world.admin, node=world.grid, name="新店", risk_colour="red")
    assert Business.objects.get(pk=safety.shop.pk).risk_colour == "green"


def test_a_registered_or_changed_business_is_coloured_by_the_rule_at_once(world, safety):
    fuel = people_services.business_create(actor=world.admin, node=world.grid, name="东门加油站", industry="加油站")
    assert Business.objects.get(pk=fuel.pk).risk_colour == "yellow"  # a high-risk industry
    people_services.business_update(actor=world.admin, business=safety.shop, industry="燃气")
    shop = Business.objects.get(pk=safety.shop.pk)
    assert shop.risk_colour == "yellow"
    assert "高风险行业：燃气" in RiskChange.objects.filter(business=shop).get().reason


def test_the_nightly_job_follows_overdue_hazards_without_a_write(world, safety):
    assert any(job.name == "safety_risk_recompute" and job.path == "jiedao.safety.services.risk_recompute_all"
               for job in scheduler.JOBS)
    inspection = fail_items(world, safety, safety.diner, "ordinary")
    services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=timezone.localdate(),
                               findings=[{"description": "电线老化"}])
    assert Business.objects.get(pk=safety.diner.pk).risk_colour == "yellow"
    assert Hazard.objects.filter(business=safety.diner).count() == 2 and inspection.pk
    # time passes: both deadlines are behind us, and nothing is written
    Hazard.objects.filter(business=safety.diner).update(deadline_at=timezone.now() - timedelta(hours=1))
    assert Business.objects.get(pk=safety.diner.pk).risk_colour == "yellow"
    assert services.risk_recompute_all() == 1
    assert Business.objects.get(pk=safety.diner.pk).risk_colour == "red"
    change = RiskChange.objects.filter(business=safety.diner).first()
    assert "逾期未整改隐患 2 个" in change.reason and "每日定时重新评定" in change.reason
    assert services.risk_recompute_all() == 0  # nothing more to change


# --- 2. the rule edit is queued -----------------------------------------------------------------


def test_a_rule_edit_queues_the_recompute_and_audits_it_in_one_batch(world, safety, monkeypatch,
                                                                     django_capture_on_commit_callbacks):
    singles = []
    original = audit.record
    monkeypatch.setattr(audit, "record", lambda **kw: (singles.append(kw["action"]), original(**kw))[1])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        rule = services.risk_rule_update(actor=world.admin, subdistrict=world.subdistrict,
                                         high_risk_industries=["零售", "餐饮", "仓储"])
    assert rule.recomputing and len(queued) == 1
    assert Business.objects.get(pk=safety.shop.pk).risk_colour == "green"  # not in the request
    batches = []
    original_many = audit.record_many
    monkeypatch.setattr(audit, "record_many", lambda **kw: (batches.append(len(kw["events"])),
                                                            original_many(**kw))[1])
    queued[0]()
    assert batches == [3] and "safety.risk.change" not in singles
    assert set(Business.objects.filter(risk_colour="yellow").values_list("name", flat=True)) == {
        "好邻居超市", "海鲜排档", "横塘冷库"}
    assert AuditEvent.objects.filter(action="safety.risk.change").count() == 3
    assert not RiskRule.objects.get(subdistrict=world.subdistrict).recomputing


def test_the_rule_page_says_it_is_recomputing(world, safety, login):
    c = login(world.admin)
    r = c.post(f"/safety/risk-rule/?subdistrict={world.subdistrict.pk}", {
        "red_open_major": 1, "red_open_overdue": 2, "yellow_open": 1, "yellow_recent": 3, "recent_days": 365,
        "high_risk_industries": "零售"})
    assert r.status_code == 302
    page = c.get(r["Location"]).content.decode()
    assert "正在重新计算" in page
    assert Business.objects.get(pk=safety.shop.pk).risk_colour == "green"  # the job runs after commit


# --- 3. the inspection page's queries do not grow with its hazards and photos -----------------


def test_the_inspection_page_reads_a_fixed_number_of_queries(world, safety, login):
    c = login(world.worker)

    def page_queries(n: int) -> int:
        inspection = services.inspection_record(
            actor=world.worker, business=safety.park, inspected_on=timezone.localdate(),
            findings=[{"description": f"隐患{i}"} for i in range(n)])
        SafetyPhoto.objects.bulk_create([SafetyPhoto(inspection=inspection, kind="inspection", stored=f"{n}-{i}",
                                                     content_type="image/png", size=1) for i in range(n)])
        c.get(f"/safety/inspections/{inspection.pk}/")  # warm the per-process caches
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(f"/safety/inspections/{inspection.pk}/").status_code == 200
        return len(ctx.captured_queries)

    assert page_queries(1) == page_queries(3)


# --- 4. several sub-districts: the object's, or the one chosen ---------------------------------


@pytest.fixture
def second(world):
    """A second sub-district, 丹东街道, where the leader also leads."""
    node = org_services.node_create(actor=world.root, parent=None, kind=NodeKind.SUBDISTRICT, name="丹东街道",
                                    code="330225003000")
    org_services.role_assign(actor=world.root, user=world.leader, role=Role.LEADER, node=node)
    from jiedao.core import caching

    caching.clear()
    return node


def test_a_leader_of_two_sub_districts_chooses_the_rule(world, safety, second, login):
    c = login(world.leader)
    page = c.get("/safety/risk-rule/")
    assert page.status_code == 200 and "丹西街道" in page.content.decode() and "丹东街道" in page.content.decode()
    assert "form" not in page.context or page.context.get("form") is None
    assert c.get(f"/safety/risk-rule/?subdistrict={second.pk}").context["subdistrict"] == second
    r = c.post(f"/safety/risk-rule/?subdistrict={second.pk}", {
        "red_open_major": 1, "red_open_overdue": 2, "yellow_open": 1, "yellow_recent": 7, "recent_days": 365,
        "high_risk_industries": ""})
    assert r.status_code == 302
    assert RiskRule.objects.get(subdistrict=second).yellow_recent == 7
    assert not RiskRule.objects.filter(subdistrict=world.subdistrict).exists()
    assert c.get(f"/safety/risk-rule/?subdistrict={world.community.pk}").status_code == 404


def test_a_checklist_of_a_two_sub_district_leader_goes_where_chosen(world, safety, second, login):
    c = login(world.leader)
    chooser = c.get("/safety/checklists/new/")
    assert chooser.status_code == 200 and "丹东街道" in chooser.content.decode()
    r = c.post(f"/safety/checklists/new/?subdistrict={second.pk}", {
        "field": "gas", "name": "燃气检查表", "is_active": "on", "items": "气瓶存放合规 | | 重大 | 3"})
    assert r.status_code == 302
    assert ChecklistTemplate.objects.get(name="燃气检查表").node == second
    # an existing checklist is edited in its own sub-district, whatever the user's first one is
    assert c.get(f"/safety/checklists/{safety.fire.pk}/edit/").status_code == 200
    assert c.get(f"/safety/checklists/new/?subdistrict={world.grid.pk}").status_code == 404


def test_a_worker_of_one_sub_district_is_not_asked(world, safety, login):
    page = login(world.worker).get("/safety/risk-rule/")
    assert page.status_code == 200 and page.context["subdistrict"] == world.subdistrict


# --- 6. checklist edits in place ----------------------------------------------------------------


def test_a_checklist_edit_keeps_the_items_the_past_refers_to(world, safety):
    ordinary, major = safety.item("ordinary"), safety.item("major")
    inspection = fail_items(world, safety, safety.diner, "ordinary", "major")
    hazard = Hazard.objects.get(inspection=inspection, item=major)
    services.template_update(actor=world.admin, template=safety.fire, items=[
        {"text": "消防设施完好", "severity": "major"},
        {"text": ordinary.text, "legal_basis": "《消防法》第十六条", "severity": "major", "deadline_days": 2},
    ])
    kept = ChecklistItem.objects.get(pk=ordinary.pk)  # same row, changed in place
    assert (kept.seq, kept.severity, kept.deadline_days, kept.is_active) == (2, "major", 2, True)
    retired = ChecklistItem.objects.get(pk=major.pk)  # referenced: retired, not deleted
    assert not retired.is_active and Hazard.objects.get(pk=hazard.pk).item_id == major.pk
    assert [i.text for i in selectors.template_get(world.admin, safety.fire.pk).items.all()] == [
        "消防设施完好", ordinary.text]
    event = AuditEvent.objects.filter(action="safety.template.update").latest("pk")
    changes = event.after["items"]
    assert [r["text"] for r in changes["added"]] == ["消防设施完好"]
    assert [r["id"] for r in changes["retired"]] == [major.pk]
    assert changes["changed"][0]["to"]["severity"] == "major"
    # a new inspection asks only the active items; an old item id is refused
    with pytest.raises(DomainError):
        services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=timezone.localdate(),
                                   template=safety.fire, answers={major.pk: "fail"})
    # an item named by id is updated; an unknown id is refused with the row named
    services.template_update(actor=world.admin, template=safety.fire,
                             items=[{"id": kept.pk, "text": "灭火器有效", "severity": "ordinary"}])
    assert ChecklistItem.objects.get(pk=kept.pk).text == "灭火器有效"
    with pytest.raises(DomainError) as exc:
        services.template_update(actor=world.admin, template=safety.fire,
                                 items=[{"id": major.pk, "text": "x"}])
    assert exc.value.field == "items[1].id"


def test_an_unused_checklist_item_removed_is_deleted(world, safety):
    gas = services.template_create(actor=world.admin, node=world.subdistrict, field="gas", name="燃气",
                                   items=[{"text": "甲"}, {"text": "乙"}])
    first, second = gas.items.order_by("seq")
    services.template_update(actor=world.admin, template=gas, items=[{"text": "乙"}, {"text": "丙"}])
    assert not ChecklistItem.objects.filter(pk=first.pk).exists()
    assert list(gas.items.order_by("seq").values_list("pk", "text")) == [
        (second.pk, "乙"), (gas.items.get(text="丙").pk, "丙")]


# --- 7. escalated hazards stay internal ---------------------------------------------------------


def test_an_escalated_hazard_is_not_published_on_open311(world, safety, client):
    inspection = fail_items(world, safety, safety.diner, "major")
    hazard = Hazard.objects.get(inspection=inspection)
    hazard = services.hazard_act(actor=world.leader, hazard=hazard, action="escalate", reason="重大隐患挂牌督办")
    case = hazard.case
    assert case.internal and case.tier == "public"
    case_services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    assert not case_selectors.open311_public_cases().filter(pk=case.pk).exists()
    listing = client.get("/open311/v2/requests.json").content.decode()
    assert case.ticket not in listing and "海鲜排档" not in listing
    # an ordinary case accepted the same way is public: the rule is about internal cases only
    other = case_services.case_create(actor=world.worker, source="patrol", node=world.grid, tier="public",
                                      description="路灯不亮", suggest=False)
    case_services.case_act(actor=world.secretary, case=other, action=Action.ACCEPT)
    assert case_selectors.open311_public_cases().filter(pk=other.pk).exists()


# --- 5. the campaign list counts the viewer's targets ------------------------------------------


def test_the_campaign_list_counts_the_viewers_targets(world, safety, login):
    today = timezone.localdate()
    services.campaign_create(actor=world.admin, node=world.subdistrict, title="消防大排查", kind="sweep",
                             field="fire", starts_on=today, ends_on=today)
    [campaign] = login(world.worker).get("/safety/campaigns/").context["page"].object_list
    assert campaign.n_targets == 3  # of the sub-district's 5, the grid's 3
