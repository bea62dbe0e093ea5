"""Campaigns, checklists, tenancies and inspections through the services, with the named users."""

from datetime import date, timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from jiedao.core import audit
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.safety import selectors, services
from jiedao.safety.models import CampaignTarget, Hazard, HazardState, Inspection


def today():
    return timezone.localdate()


def plan(world, **over):
    fields = dict(actor=world.secretary, node=world.community, title="消防安全专项整治", kind="special", field="fire",
                  starts_on=today() - timedelta(days=10), ends_on=today() + timedelta(days=20))
    fields.update(over)
    return services.campaign_create(**fields)


def test_campaign_targets_by_grid_and_assigns_the_grid_worker(world, safety):
    campaign = plan(world, rule={"nodes": [world.grid.pk]})
    targets = dict(CampaignTarget.objects.filter(campaign=campaign).values_list("business__name", "inspector_id"))
    assert targets == {"海鲜排档": world.worker.pk, "东门工业园": world.worker.pk, "园内电焊铺": world.worker.pk}
    assert AuditEvent.objects.filter(action="safety.campaign.create").count() == 1


@pytest.mark.parametrize(("rule", "names"), [
    ({"industries": ["零售"]}, {"好邻居超市"}),
    ({"site": "park"}, {"东门工业园", "园内电焊铺"}),
    ({"businesses": ["shop", "diner"]}, {"好邻居超市", "海鲜排档"}),
    ({"colours": ["green"], "nodes": ["other_grid"]}, {"好邻居超市"}),
])
def test_campaign_target_rules(world, safety, rule, names):
    ids = {"park": safety.park.pk, "shop": safety.shop.pk, "diner": safety.diner.pk, "other_grid": world.other_grid.pk}
    resolved = {k: ([ids.get(x, x) for x in v] if isinstance(v, list) else ids[v]) for k, v in rule.items()}
    campaign = plan(world, rule=resolved)
    assert set(campaign.targets.values_list("business__name", flat=True)) == names


def test_campaign_refusals_change_nothing(world, safety):
    with pytest.raises(DomainError) as exc:
        plan(world, rule={"businesses": [safety.cold_store.pk]})  # the village's, not the community's
    assert exc.value.field == "businesses"
    with pytest.raises(DomainError) as exc:
        plan(world, ends_on=today() - timedelta(days=30))
    assert exc.value.field == "ends_on"
    with pytest.raises(PermissionError_):
        plan(world, actor=world.worker, node=world.grid)
    with pytest.raises(Http404):
        plan(world, node=world.village)
    assert not selectors.campaigns_visible(world.admin).exists()


def test_inspection_turns_failed_items_into_hazards_with_working_day_deadlines(world, safety):
    campaign = plan(world)
    ordinary, major = safety.item("ordinary"), safety.item("major")
    inspection = services.inspection_record(
        actor=world.worker, business=safety.diner, inspected_on=today(), template=safety.fire, campaign=campaign,
        answers={ordinary.pk: "fail", major.pk: "fail"}, contact_name="陈老板", contact_confirmed=True,
        findings=[{"description": "厨房燃气软管老化", "severity": "ordinary", "deadline_days": 2}],
    )
    hazards = list(Hazard.objects.filter(inspection=inspection).order_by("pk"))
    assert [h.severity for h in hazards] == ["ordinary", "major", "ordinary"]
    assert [h.deadline_days for h in hazards] == [3, 5, 2]
    assert all(h.deadline_at > h.found_at and h.state == HazardState.OPEN for h in hazards)
    assert hazards[1].legal_basis == "《消防法》第二十八条" and hazards[0].responsible_person == "陈老板"
    assert inspection.hazard_count == 3
    safety.diner.refresh_from_db()
    assert safety.diner.risk_colour == "red"  # an open major hazard
    assert audit.verify_chain().ok


def test_inspection_refusals_name_the_field(world, safety):
    ordinary = safety.item("ordinary")
    cases = [
        (dict(inspected_on=today() + timedelta(days=1)), "inspected_on"),
        (dict(inspected_on=date(1, 1, 2)), "inspected_on"),
        (dict(answers={ordinary.pk: "maybe"}), f"answers.{ordinary.pk}"),
        (dict(answers={999999: "fail"}), "answers"),
        (dict(contact_confirmed=True), "contact_name"),
        (dict(findings=[{"description": ""}]), "findings[1].description"),
        (dict(findings=[{"description": "x", "deadline_days": 0}]), "findings[1].deadline_days"),
    ]
    for over, field in cases:
        kwargs = dict(actor=world.worker, business=safety.diner, inspected_on=today(), template=safety.fire)
        kwargs.update(over)
        with pytest.raises(DomainError) as exc:
            services.inspection_record(**kwargs)
        assert exc.value.field == field, over
    assert not Inspection.objects.exists() and not Hazard.objects.exists()


def test_inspection_out_of_scope_is_404_and_department_cannot_inspect(world, safety):
    with pytest.raises(Http404):
        services.inspection_record(actor=world.worker, business=safety.shop, inspected_on=today())
    with pytest.raises(PermissionError_):
        services.inspection_record(actor=world.handler, business=safety.shop, inspected_on=today())
    with pytest.raises(PermissionError_):
        services.inspection_record(actor=world.leader, business=safety.shop, inspected_on=today())


def test_tenant_inspected_together_with_its_park(world, safety):
    site = services.inspection_record(actor=world.worker, business=safety.park, inspected_on=today())
    tenant = services.inspection_record(actor=world.worker, business=safety.tenant, inspected_on=today(),
                                        site_inspection=site)
    assert list(site.tenant_inspections.all()) == [tenant]
    with pytest.raises(DomainError) as exc:
        services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=today(),
                                   site_inspection=site)
    assert exc.value.field == "site_inspection"
    assert list(selectors.tenants_of(world.worker, safety.park)) == [safety.tenant]


def test_tenancy_refuses_nesting(world, safety):
    with pytest.raises(DomainError) as exc:
        services.tenancy_set(actor=world.secretary, site=safety.tenant, tenant=safety.diner, kind="park")
    assert exc.value.field == "site"
    with pytest.raises(DomainError):
        services.tenancy_set(actor=world.secretary, site=safety.diner, tenant=safety.diner, kind="factory")


def test_checklist_update_replaces_items_and_is_audited(world, safety):
    services.template_update(actor=world.admin, template=safety.fire, items=[{"text": "消防设施完好", "severity": "major"}])
    assert list(safety.fire.items.values_list("text", "severity")) == [("消防设施完好", "major")]
    assert AuditEvent.objects.filter(action="safety.template.update").count() == 1
    with pytest.raises(DomainError) as exc:
        services.template_update(actor=world.admin, template=safety.fire, items=[{"text": "a", "severity": "huge"}])
    assert exc.value.field == "items[1].severity"
    with pytest.raises(Http404):  # the sub-district's checklists are edited at the sub-district
        services.template_update(actor=world.secretary, template=safety.fire, name="改名")
    with pytest.raises(PermissionError_):
        services.template_update(actor=world.handler, template=safety.fire, name="改名")


def test_coverage_per_grid_and_inspector(world, safety):
    campaign = plan(world)
    services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=today(), campaign=campaign)
    services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=today(), campaign=campaign)
    coverage = selectors.campaign_coverage(world.secretary, campaign)
    assert (coverage.total.target, coverage.total.visited) == (4, 1)
    grids = {row.label: (row.visited, row.target) for row in coverage.by_grid}
    assert grids == {"东门第一网格": (1, 3), "东门第二网格": (0, 1)}
    people = {row.label: (row.visited, row.target) for row in coverage.by_inspector}
    assert people == {"张网格": (1, 3), "赵网格": (0, 1)}
    assert coverage.by_grid[0].label == "东门第一网格"  # most behind first
    mine = selectors.campaign_coverage(world.other_worker, campaign)
    assert (mine.total.target, mine.total.visited) == (1, 0)


def test_dates_are_checked_against_the_campaign(world, safety):
    campaign = plan(world, starts_on=today() - timedelta(days=3), ends_on=today() - timedelta(days=1))
    with pytest.raises(DomainError) as exc:
        services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=today(), campaign=campaign)
    assert exc.value.field == "inspected_on"
