"""The safety figures (docs/figures.md § 安全生产) recounted from raw rows on random histories.

Random programs of inspections (on random past days, failing random checklist items, with extra
findings) and hazard actions (every action of the table, by every named user, refusals included)
run through the real services. Then, for every named user's scope and random periods,
`selectors.figures` is compared with a brute force that reads ONLY raw rows: Business rows for
底数, Inspection rows for 排摸, and for hazards the HazardTransition history replayed — the state
is the last step's, the deadline the report's (or the latest extension's), the rectification
time the latest 提交整改 — never the Hazard row's own state or dates. Every rate lies in [0, 1].

The other counts of the pages are recounted the same way: the colour counts (Business rows), each
inspection's 发现隐患数 (its hazards whose history does not end cancelled), a campaign's target
count and 排摸 coverage in each viewer's scope (CampaignTarget and Inspection rows). Businesses
close and reopen in the programs, so a business inspected and closed since cannot push 排摸 past
the 底数.
"""

from __future__ import annotations

import os
from contextlib import suppress
from datetime import datetime, timedelta

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jiedao.core import caching, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.people import services as people_services
from jiedao.people.models import Business
from jiedao.safety import rollups, selectors, services
from jiedao.safety.models import CampaignTarget, Hazard, HazardMonth, HazardTransition, Inspection, VisitMonth
from jiedao.safety.workflow import HazardAction

EXAMPLES = int(os.environ.get("JIEDAO_SAFETY_FIGURES_EXAMPLES", "8"))
USERS = ("worker", "other_worker", "village_worker", "secretary", "leader", "admin", "handler")
INSPECTORS = ("worker", "other_worker", "village_worker", "secretary")


def _in_scope(user, path: str, node=None) -> bool:
    paths = scope.granted_paths(user, Perm.VIEW_SAFETY)
    return (paths is None or any(path.startswith(p) for p in paths)) and (node is None or path.startswith(node.path))


def replay(steps: list[HazardTransition]) -> tuple[str, datetime, datetime | None]:
    """A hazard's (state, deadline, time of the rectification that stands) from its transitions
    alone — never the Hazard row's own state or dates."""
    deadline = datetime.fromisoformat(steps[0].data["deadline"])
    rectified = None
    for step in steps:
        if step.action == "extend":
            deadline = datetime.fromisoformat(step.data["to"])
        if step.action == "submit":
            rectified = step.created_at
        if step.action == "reinspect_fail":
            rectified = None
    return steps[-1].to_state, deadline, rectified


def brute_force(user, start, end, now, node=None) -> dict[str, int]:
    """The figures from raw rows only (see the module doc), under `node` if given."""
    tz = timezone.get_current_timezone()
    low = datetime.combine(start, datetime.min.time(), tzinfo=tz)
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    base_ids = {b.pk for b in Business.objects.select_related("node") if b.is_active and _in_scope(user, b.node.path, node)}
    base = len(base_ids)
    visited = {i.business_id for i in Inspection.objects.select_related("node")
               if start <= i.inspected_on <= end and _in_scope(user, i.node.path, node)} & base_ids
    history: dict[int, list[HazardTransition]] = {}
    for step in HazardTransition.objects.order_by("hazard_id", "seq"):
        history.setdefault(step.hazard_id, []).append(step)
    counts = {"hazards": 0, "major": 0, "rectified": 0, "on_time": 0, "overdue_open": 0}
    for hazard_id, node_path, found_at, severity in Hazard.objects.values_list("pk", "node__path", "found_at",
                                                                               "severity"):
        if not (low <= found_at < high) or not _in_scope(user, node_path, node):
            continue
        state, deadline, rectified = replay(history[hazard_id])
        if state == "cancelled":
            continue
        counts["hazards"] += 1
        counts["major"] += severity == "major"
        if state == "closed":
            counts["rectified"] += 1
            counts["on_time"] += rectified is not None and rectified <= deadline
        elif state in ("open", "rectifying") and deadline < now:
            counts["overdue_open"] += 1
    return {"base": base, "visited": len(visited), **counts}


def last_states() -> dict[int, str]:
    states: dict[int, str] = {}
    for hazard_id, to_state in HazardTransition.objects.order_by("hazard_id", "seq").values_list("hazard_id",
                                                                                                "to_state"):
        states[hazard_id] = to_state
    return states


def check_counts(world, campaign) -> None:
    """Colour counts, inspections' 发现隐患数, campaign target counts and coverage from raw rows."""
    states = last_states()
    for inspection in Inspection.objects.all():
        found = [pk for pk in Hazard.objects.filter(inspection=inspection).values_list("pk", flat=True)
                 if states[pk] != "cancelled"]
        assert inspection.hazard_count == len(found), inspection.pk
    visited_ids = set(Inspection.objects.filter(campaign=campaign).values_list("business_id", flat=True))
    for name in USERS:
        user = getattr(world, name)
        colours = {"red": 0, "yellow": 0, "green": 0}
        for b in Business.objects.select_related("node"):
            if b.is_active and _in_scope(user, b.node.path):
                colours[b.risk_colour] += 1
        assert selectors.colour_counts(user) == colours, name
        targets = [t.business_id for t in CampaignTarget.objects.filter(campaign=campaign).select_related(
            "business__node") if _in_scope(user, t.business.node.path)]
        if not scope.restrict(type(campaign).objects.filter(pk=campaign.pk), user, Perm.VIEW_SAFETY).exists():
            continue
        assert selectors.campaign_target_counts(user, [campaign.pk]).get(campaign.pk, 0) == len(targets), name
        total = selectors.campaign_coverage(user, campaign).total
        assert (total.target, total.visited) == (len(targets), len(set(targets) & visited_ids)), name
        assert total.rate is None or 0 <= total.rate <= 1


def check(world, data) -> None:
    now = timezone.now()
    today = timezone.localdate()
    for name in USERS:
        user = getattr(world, name)
        for _ in range(2):
            start = today - timedelta(days=data.draw(st.integers(0, 90), label="start"))
            end = start + timedelta(days=data.draw(st.integers(0, 90), label="length"))
            f = selectors.figures(user, start, end, now=now)
            expected = brute_force(user, start, end, now)
            got = {k: getattr(f, k) for k in expected}
            assert got == expected, (name, start, end)
            for rate in (f.coverage_rate, f.rectification_rate, f.on_time_rate):
                assert rate is None or 0 <= rate <= 1
        # whole months: read from the rollups kept on write (jiedao.safety.rollups)
        back = data.draw(st.integers(0, 3), label="months back")
        start = today.replace(day=1)
        for _ in range(back):
            start = (start - timedelta(days=1)).replace(day=1)
        last = (today.replace(day=1) - timedelta(days=1)) if data.draw(st.booleans(), label="to last month?") else today
        end = max(last, start + timedelta(days=27))
        while (end + timedelta(days=1)).day != 1 and end < today:
            end += timedelta(days=1)
        node = data.draw(st.sampled_from([None, world.subdistrict, world.community, world.grid, world.village]),
                         label="node")
        f = selectors.figures(user, start, end, now=now, node=node)
        expected = brute_force(user, start, end, now, node=node)
        assert {k: getattr(f, k) for k in expected} == expected, (name, start, end, node)
    kept = sorted(HazardMonth.objects.exclude(found=0).values_list("node_id", "month", *rollups.COUNTERS))
    kept_visits = sorted(VisitMonth.objects.values_list("business_id", "node_id", "month"))
    rollups.rebuild()
    assert sorted(HazardMonth.objects.values_list("node_id", "month", *rollups.COUNTERS)) == kept
    assert sorted(VisitMonth.objects.values_list("business_id", "node_id", "month")) == kept_visits


def run_program(world, safety, data, campaign=None) -> None:
    businesses = [safety.diner, safety.park, safety.tenant, safety.shop, safety.cold_store]
    items = list(safety.fire.items.all())
    today = timezone.localdate()
    for _ in range(data.draw(st.integers(1, 14), label="steps")):
        if data.draw(st.integers(0, 5), label="close or reopen?") == 0:
            business = data.draw(st.sampled_from(businesses), label="business")
            people_services.business_update(actor=world.admin, business=business,
                                            is_active=not Business.objects.get(pk=business.pk).is_active)
        elif data.draw(st.booleans(), label="inspect?") or not Hazard.objects.exists():
            inspector = getattr(world, data.draw(st.sampled_from(INSPECTORS), label="inspector"))
            business = data.draw(st.sampled_from(businesses), label="business")
            answers = {i.pk: data.draw(st.sampled_from(["ok", "fail", "na"]), label="answer") for i in items}
            findings = [{"description": "其他隐患", "severity": data.draw(st.sampled_from(["ordinary", "major"])),
                         "deadline_days": data.draw(st.integers(1, 10))}
                        for _ in range(data.draw(st.integers(0, 1), label="findings"))]
            day = today - timedelta(days=data.draw(st.integers(0, 60), label="days ago"))
            in_campaign = campaign is not None and data.draw(st.booleans(), label="in the campaign?")
            with suppress(DomainError, Http404):
                services.inspection_record(actor=inspector, business=business, inspected_on=day,
                                           template=safety.fire, answers=answers, findings=findings,
                                           campaign=campaign if in_campaign else None)
        else:
            hazard = data.draw(st.sampled_from(list(Hazard.objects.order_by("pk"))), label="hazard")
            actor = getattr(world, data.draw(st.sampled_from(USERS), label="actor"))
            action = data.draw(st.sampled_from(HazardAction.values), label="action")
            params = {"deadline_days": data.draw(st.integers(1, 10))} if action == "extend" else {}
            with suppress(DomainError, Http404):
                services.hazard_act(actor=actor, hazard=hazard, action=action, reason="说明", **params)


def test_random_histories_count_by_the_book(world, safety):
    today = timezone.localdate()
    campaign = services.campaign_create(actor=world.admin, node=world.subdistrict, title="消防大排查", kind="sweep",
                                        field="fire", starts_on=today - timedelta(days=60), ends_on=today)

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        with transaction.atomic():
            run_program(world, safety, data, campaign)
            check(world, data)
            check_counts(world, campaign)
            transaction.set_rollback(True)

    run()


def test_a_scripted_history_counts_late_and_on_time(world, safety):
    """One history with each outcome, so the brute force is exercised whatever the draws."""
    today = timezone.localdate()
    major, ordinary = safety.item("major"), safety.item("ordinary")
    old = services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=today - timedelta(days=40),
                                     template=safety.fire, answers={major.pk: "fail", ordinary.pk: "fail"})
    late_major, late_ordinary = old.hazards.order_by("pk")
    fresh = services.inspection_record(actor=world.worker, business=safety.park, inspected_on=today,
                                       findings=[{"description": "配电箱无门", "deadline_days": 3},
                                                 {"description": "误报", "deadline_days": 3}])
    on_time, wrong = fresh.hazards.order_by("pk")
    for hazard, who in ((late_major, world.secretary), (on_time, world.worker)):
        services.hazard_act(actor=world.worker, hazard=hazard, action="submit", reason="已整改")
        services.hazard_act(actor=who, hazard=hazard, action="reinspect_pass")
    services.hazard_act(actor=world.leader, hazard=wrong, action="cancel", reason="误报")
    f = selectors.figures(world.leader, today - timedelta(days=60), today)
    assert (f.base, f.visited, f.hazards, f.major, f.rectified, f.on_time, f.overdue_open) == (5, 2, 3, 1, 2, 1, 1)
    assert brute_force(world.leader, today - timedelta(days=60), today, timezone.now()) == {
        "base": 5, "visited": 2, "hazards": 3, "major": 1, "rectified": 2, "on_time": 1, "overdue_open": 1}
    assert late_ordinary.pk  # still open, past its deadline: the one overdue


def test_coverage_counts_businesses_of_the_base_not_inspections(world, safety):
    """Five businesses inspected twice each, three closed since: 排摸 2 of a 底数 of 2 (100%), where
    counting inspections (10) or every business inspected (5) would pass 100%."""
    today = timezone.localdate()
    for business in (safety.diner, safety.park, safety.tenant, safety.shop, safety.cold_store):
        for days_ago in (1, 2):
            services.inspection_record(actor=world.admin, business=business, inspected_on=today - timedelta(days_ago))
    for business in (safety.diner, safety.park, safety.tenant):
        people_services.business_update(actor=world.admin, business=business, is_active=False)
    f = selectors.figures(world.leader, today - timedelta(days=30), today)
    assert (f.base, f.visited, f.coverage_rate) == (2, 2, 1.0)
    assert sum(selectors.colour_counts(world.leader).values()) == f.base


def test_a_cancelled_hazard_leaves_its_inspections_count(world, safety):
    inspection = services.inspection_record(actor=world.worker, business=safety.diner,
                                            inspected_on=timezone.localdate(),
                                            findings=[{"description": "配电箱无门"}, {"description": "误报"}])
    assert inspection.hazard_count == 2
    wrong = inspection.hazards.get(description="误报")
    services.hazard_act(actor=world.leader, hazard=wrong, action="cancel", reason="误报")
    inspection.refresh_from_db()
    assert inspection.hazard_count == 1


def test_campaign_counts_are_the_viewers(world, safety):
    """A sub-district campaign of five targets: the grid worker counts the two of the grid."""
    today = timezone.localdate()
    campaign = services.campaign_create(actor=world.admin, node=world.subdistrict, title="消防大排查", kind="sweep",
                                        field="fire", starts_on=today, ends_on=today)
    assert selectors.campaign_target_counts(world.leader, [campaign.pk]) == {campaign.pk: 5}
    assert selectors.campaign_target_counts(world.worker, [campaign.pk]) == {campaign.pk: 3}  # diner, park, tenant
    assert selectors.campaign_target_counts(world.village_worker, [campaign.pk]) == {campaign.pk: 1}
