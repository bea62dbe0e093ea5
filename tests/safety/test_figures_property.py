"""The safety figures (docs/figures.md § 安全生产) recounted from raw rows on random histories.

Random programs of inspections (on random past days, failing random checklist items, with extra
findings) and hazard actions (every action of the table, by every named user, refusals included)
run through the real services. Then, for every named user's scope and random periods,
`selectors.figures` is compared with a brute force that reads ONLY raw rows: Business rows for
底数, Inspection rows for 排摸, and for hazards the HazardTransition history replayed — the state
is the last step's, the deadline the report's (or the latest extension's), the rectification
time the latest 提交整改 — never the Hazard row's own state or dates. Every rate lies in [0, 1].
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
from jiedao.people.models import Business
from jiedao.safety import selectors, services
from jiedao.safety.models import Hazard, HazardTransition, Inspection
from jiedao.safety.workflow import HazardAction

EXAMPLES = int(os.environ.get("JIEDAO_SAFETY_FIGURES_EXAMPLES", "8"))
USERS = ("worker", "other_worker", "village_worker", "secretary", "leader", "admin", "handler")
INSPECTORS = ("worker", "other_worker", "village_worker", "secretary")


def _in_scope(user, path: str) -> bool:
    paths = scope.granted_paths(user, Perm.VIEW_SAFETY)
    return paths is None or any(path.startswith(p) for p in paths)


def brute_force(user, start, end, now) -> dict[str, int]:
    """The figures from raw rows only (see the module doc)."""
    tz = timezone.get_current_timezone()
    low = datetime.combine(start, datetime.min.time(), tzinfo=tz)
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    base = sum(1 for b in Business.objects.select_related("node") if b.is_active and _in_scope(user, b.node.path))
    visited = {i.business_id for i in Inspection.objects.select_related("node")
               if start <= i.inspected_on <= end and _in_scope(user, i.node.path)}
    history: dict[int, list[HazardTransition]] = {}
    for step in HazardTransition.objects.order_by("hazard_id", "seq"):
        history.setdefault(step.hazard_id, []).append(step)
    counts = {"hazards": 0, "major": 0, "rectified": 0, "on_time": 0, "overdue_open": 0}
    for hazard_id, node_path, found_at, severity in Hazard.objects.values_list("pk", "node__path", "found_at",
                                                                               "severity"):
        if not (low <= found_at < high) or not _in_scope(user, node_path):
            continue
        steps = history[hazard_id]
        state = steps[-1].to_state
        if state == "cancelled":
            continue
        deadline = datetime.fromisoformat(steps[0].data["deadline"])
        rectified = None
        for step in steps:
            if step.action == "extend":
                deadline = datetime.fromisoformat(step.data["to"])
            if step.action == "submit":
                rectified = step.created_at
            if step.action == "reinspect_fail":
                rectified = None
        counts["hazards"] += 1
        counts["major"] += severity == "major"
        if state == "closed":
            counts["rectified"] += 1
            counts["on_time"] += rectified is not None and rectified <= deadline
        elif state in ("open", "rectifying") and deadline < now:
            counts["overdue_open"] += 1
    return {"base": base, "visited": len(visited), **counts}


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


def run_program(world, safety, data) -> None:
    businesses = [safety.diner, safety.park, safety.tenant, safety.shop, safety.cold_store]
    items = list(safety.fire.items.all())
    today = timezone.localdate()
    for _ in range(data.draw(st.integers(1, 14), label="steps")):
        if data.draw(st.booleans(), label="inspect?") or not Hazard.objects.exists():
            inspector = getattr(world, data.draw(st.sampled_from(INSPECTORS), label="inspector"))
            business = data.draw(st.sampled_from(businesses), label="business")
            answers = {i.pk: data.draw(st.sampled_from(["ok", "fail", "na"]), label="answer") for i in items}
            findings = [{"description": "其他隐患", "severity": data.draw(st.sampled_from(["ordinary", "major"])),
                         "deadline_days": data.draw(st.integers(1, 10))}
                        for _ in range(data.draw(st.integers(0, 1), label="findings"))]
            day = today - timedelta(days=data.draw(st.integers(0, 60), label="days ago"))
            with suppress(DomainError, Http404):
                services.inspection_record(actor=inspector, business=business, inspected_on=day,
                                           template=safety.fire, answers=answers, findings=findings)
        else:
            hazard = data.draw(st.sampled_from(list(Hazard.objects.order_by("pk"))), label="hazard")
            actor = getattr(world, data.draw(st.sampled_from(USERS), label="actor"))
            action = data.draw(st.sampled_from(HazardAction.values), label="action")
            params = {"deadline_days": data.draw(st.integers(1, 10))} if action == "extend" else {}
            with suppress(DomainError, Http404):
                services.hazard_act(actor=actor, hazard=hazard, action=action, reason="说明", **params)


def test_random_histories_count_by_the_book(world, safety):
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        with transaction.atomic():
            run_program(world, safety, data)
            check(world, data)
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
