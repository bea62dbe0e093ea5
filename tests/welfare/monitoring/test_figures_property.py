"""The monitoring figures (docs/figures.md § 防止返贫动态监测) recounted from raw rows on random
histories.

Random monitored-household rows (some closed — rejected or risk removed — and at most one open
per household, with random lead, inclusion and removal days over the last two years) and random
visits are written; then for every named user's scope, with and without a node, and random
periods, `selectors.figures` is compared with a brute force that reads the rows in Python: a
household is under monitoring on a day when included on or before it and not removed by then;
due in a month when under monitoring on its first day; visited when a visit is dated in the
month; overdue when due last month and not visited in it; a decision late on `end` when the lead
is more than 15 days before `end` and the decision (the day of the approve or reject step in the
transition rows) is not made by `end`. Visited never exceeds due.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jiedao.core import caching, scope
from jiedao.core.permissions import Perm
from jiedao.people import services as people_services
from jiedao.welfare.models.monitoring import (
    ENTRY_STATES,
    MonitoredHousehold,
    MonitoringState,
    MonitoringTransition,
    MonitoringVisit,
)
from jiedao.welfare.monitoring import selectors

EXAMPLES = int(os.environ.get("JIEDAO_WELFARE_FIGURES_EXAMPLES", "10"))
USERS = ("worker", "other_worker", "village_worker", "secretary", "leader", "admin", "handler")
OPEN = [s for s in MonitoringState.values if s not in ("rejected", "removed")]


def _first(day: date) -> date:
    return day.replace(day=1)


def _prev(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def _under(row: MonitoredHousehold, day: date) -> bool:
    return row.included_on is not None and row.included_on <= day and (row.removed_on is None or row.removed_on > day)


def brute(user, start: date, end: date, node) -> dict[str, int]:
    paths = scope.granted_paths(user, Perm.VIEW_WELFARE)
    rows = [r for r in MonitoredHousehold.objects.select_related("household__node")
            if (paths is None or any(r.node.path.startswith(p) for p in paths))
            and (node is None or r.node.path.startswith(node.path))]
    visits: dict[int, list[date]] = {}
    for v in MonitoringVisit.objects.all():
        visits.setdefault(v.monitored_id, []).append(v.visited_on)
    decided: dict[int, date] = {}
    for t in MonitoringTransition.objects.filter(action__in=("approve", "reject")).order_by("seq"):
        decided.setdefault(t.monitored_id, timezone.localdate(t.created_at))
    first, last = _first(end), _prev(_first(end))

    def late(row) -> bool:
        day = decided.get(row.pk)
        return row.lead_on < end - timedelta(days=15) and (day is None or day > end)

    def visited(row, month: date) -> bool:
        return any(_first(d) == month for d in visits.get(row.pk, []))

    current = [r for r in rows if _under(r, end)]
    due = [r for r in rows if _under(r, first)]
    due_last = [r for r in rows if _under(r, last)]
    return {
        "households": len(current), "people": sum(r.members for r in current), "due": len(due),
        "visited": sum(1 for r in due if visited(r, first)),
        "overdue": sum(1 for r in due_last if not visited(r, last)),
        "included": sum(1 for r in rows if r.included_on and start <= r.included_on <= end),
        "removed": sum(1 for r in rows if r.removed_on and start <= r.removed_on <= end),
        "late_decisions": sum(1 for r in rows if late(r)),
    }


def write_rows(world, households, data) -> None:
    today = timezone.localdate()
    day = st.integers(0, 730).map(lambda n: today - timedelta(days=n))
    for household in households:
        for index in range(data.draw(st.integers(0, 2))):
            last = index == 1 or data.draw(st.booleans())
            state = data.draw(st.sampled_from(OPEN if last else ["rejected", "removed"]))
            lead = data.draw(day)
            row = MonitoredHousehold(household=household, subdistrict=world.subdistrict,
                                     kind="marginal", risk_types=["illness"], lead_source="department", lead_on=lead,
                                     members=data.draw(st.integers(1, 5)), state=state)
            if state not in ENTRY_STATES and state != "rejected":
                row.included_on = lead + timedelta(days=data.draw(st.integers(0, (today - lead).days)))
                row.decided_on = row.included_on
                if state == "removed":
                    row.removed_on = row.included_on + timedelta(
                        days=data.draw(st.integers(0, (today - row.included_on).days)))
            elif state == "rejected":
                row.decided_on = lead + timedelta(days=data.draw(st.integers(0, (today - lead).days)))
            row.save()
            if row.decided_on is not None:  # the decision's step, as monitored_act writes it
                action = "reject" if state == "rejected" else "approve"
                MonitoringTransition.objects.create(
                    monitored=row, seq=1, action=action, from_state="notice",
                    to_state="rejected" if action == "reject" else "monitored", actor_repr="test",
                    created_at=timezone.make_aware(datetime.combine(row.decided_on, time(12))))
            for when in data.draw(st.lists(st.integers(0, 150), max_size=6)):
                MonitoringVisit.objects.create(monitored=row, visited_on=today - timedelta(days=when))
            if last:
                break


def test_random_histories_count_by_the_book(world):
    homes = []
    for node, number in ((world.building, "101"), (world.grid, "102"), (world.other_grid, "201"),
                         (world.village_grid, "301"), (world.village_grid, "302")):
        homes.append(people_services.household_create(actor=world.admin, node=node, number=number, address="测试路"))
    nodes = [None, world.community, world.grid, world.village, world.subdistrict]
    today = timezone.localdate()

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        with transaction.atomic():
            write_rows(world, homes, data)
            for name in USERS:
                user = getattr(world, name)
                end = today - timedelta(days=data.draw(st.integers(0, 400)))
                start = end - timedelta(days=data.draw(st.integers(0, 400)))
                node = data.draw(st.sampled_from(nodes))
                f = selectors.figures(user, start, end, node=node)
                assert f.__dict__ == brute(user, start, end, node), (name, start, end, node)
                assert f.visited <= f.due
                panel = selectors.panel_figures(user, node, start, end)
                if name == "handler":
                    assert panel == []
                else:
                    assert panel[0][1] == f"{f.households}户、{f.people}人"
                    assert panel[1][1] == f"{f.due}/{f.visited}" and panel[2][1] == str(f.overdue)
            transaction.set_rollback(True)

    run()
