"""A case's figures, by the book: what one case contributes to the rollups, from its current row.

Every count counts CASES, never events (docs/figures.md; DESIGN.md §6). A case contributes at
most 1 to each counter, in the month of the timestamp that defines that counter, and all of a
case's figures go to one key: its fine node (the grid, or the community for a case filed on the
community itself) and its category. When the row changes, the rollups move by the difference
of the figures before and after (`changes`, appended as CaseStatDelta rows by the workflow's
after-hook): a failed verification followed by a new resolution moves the case's 办结 to the new
month, it never adds a second one. `rollups.rebuild()` computes exactly the same figures with
aggregate SQL over the case table; the property test (tests/cases/test_figures_property.py)
checks both against a count made from the transition history alone.

    reported 登记            created_at month; every case
    merged 合并              closed_at month; a merged case counts only in 登记 and 合并
    rejected 不予受理        closed_at month; state rejected
    accepted 受理            accepted_at month; accepted_at set
      dispatched 派遣, acknowledged_in_time 及时签收 (the standing dispatch signed within 2 h),
      returned 退回, reworked 返工, reopened 重办 (each: ever, for this case)
                             all in the accepted month, so each is a part of that month's 受理
    resolved 办结 + resolved_level1..4   resolved_at month; the standing resolution (resolved_at
                             set, state resolved/verified/closed), at the level it happened
    due 到期应办结 / deferred 缓办      month of min(deadline_at, resolved_at); a case with a
                             deadline or a standing resolution, not rejected; an approved
                             deferral (deferred_at) counts it in 缓办 instead of 到期应办结
      due_resolved 到期已办结, on_time 按期办结 (resolved by the deadline, or no deadline),
      due_closed 到期已结案: parts of 到期应办结, same month
    closed 结案              closed_at month; state closed
    followed_up 有效回访, contacted 及时联系, solved 已解决, satisfied 满意, basic 基本满意,
    unsatisfied 不满意       rated_at month; the latest follow-up's answers
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone

from jiedao.cases.models import COUNTER_LABELS, Rating, State

COUNTERS = tuple(name for name, _ in COUNTER_LABELS)
ACK_IN_TIME = timedelta(hours=2)  # 及时签收: signed within two hours of the dispatch
RESOLVED_STATES = frozenset({State.RESOLVED, State.VERIFIED, State.CLOSED})

Figures = dict[date, dict[str, int]]  # month (first day) -> counter -> 1


def month_of(moment: datetime) -> date:
    """The first day of the month of `moment` in the site's time zone."""
    return timezone.localtime(moment).date().replace(day=1)


def standing_resolution(case: Any) -> bool:
    """The case's resolution stands: resolved and not sent back since (a failed verification,
    a bad follow-up and a reopening clear resolved_at)."""
    return case.resolved_at is not None and case.state in RESOLVED_STATES and case.merged_into_id is None


def case_figures(case: Any) -> Figures:
    """The case's whole contribution to the rollups of its key: month -> counter -> 1.

    `case` is a Case (or anything with its fields: state, created_at, accepted_at, dispatched_at,
    acknowledged_at, deadline_at, deferred_at, resolved_at, resolved_level, level, closed_at,
    rated_at, rating, contacted_in_time, solved, return_count, rework_count, reopen_count,
    merged_into_id)."""
    out: dict[date, dict[str, int]] = defaultdict(dict)

    def add(moment: datetime | None, **counters: bool) -> None:
        if moment is None:
            return
        month = out[month_of(moment)]
        for name, on in counters.items():
            if on:
                month[name] = 1

    add(case.created_at, reported=True)
    if case.merged_into_id is not None:
        add(case.closed_at, merged=True)
        return _clean(out)
    state = case.state
    add(case.closed_at, rejected=state == State.REJECTED, closed=state == State.CLOSED)
    if case.accepted_at is not None:
        acknowledged = (case.acknowledged_at is not None and case.dispatched_at is not None
                        and case.acknowledged_at - case.dispatched_at <= ACK_IN_TIME)
        add(case.accepted_at, accepted=True, dispatched=case.dispatched_at is not None,
            acknowledged_in_time=acknowledged, returned=case.return_count > 0, reworked=case.rework_count > 0,
            reopened=case.reopen_count > 0)
    standing = standing_resolution(case)
    if standing:
        level = case.resolved_level or case.level
        add(case.resolved_at, resolved=True, **{f"resolved_level{level}": True})
    if state != State.REJECTED:
        ends = [moment for moment in (case.deadline_at, case.resolved_at if standing else None) if moment is not None]
        if ends:
            if case.deferred_at is not None:
                add(min(ends), deferred=True)
            else:
                on_time = standing and (case.deadline_at is None or case.resolved_at <= case.deadline_at)
                add(min(ends), due=True, due_resolved=standing, on_time=on_time, due_closed=state == State.CLOSED)
    if case.rated_at is not None:
        add(case.rated_at, followed_up=True, contacted=bool(case.contacted_in_time), solved=bool(case.solved),
            satisfied=case.rating == Rating.SATISFIED, basic=case.rating == Rating.BASIC,
            unsatisfied=case.rating == Rating.UNSATISFIED)
    return _clean(out)


def _clean(out: dict[date, dict[str, int]]) -> Figures:
    return {month: counters for month, counters in out.items() if counters}


@dataclass(frozen=True)
class Key:
    """Where a case's figures go: its fine node (grid, or the community for a case filed on the
    community) and category, with what the delta rows carry to be read without joins."""

    node_id: int | None
    category_id: int | None
    org_path: str
    community_id: int | None
    subdistrict_id: int | None


def key_of(case: Any) -> Key:
    return Key(case.grid_id or case.community_id, case.category_id, case.org_path, case.community_id,
               case.subdistrict_id)


def changes(before: Any, after: Any) -> list[tuple[Key, date, dict[str, int]]]:
    """What the rollups must add when a case changes from `before` to `after` (either None for
    no case): (key, month, counter -> +1/-1) for every month and key whose figures differ.
    With the same key, the difference month by month; with another key (a new category), the
    old figures leave the old key and the new ones arrive at the new key."""
    old = case_figures(before) if before is not None else {}
    new = case_figures(after) if after is not None else {}
    old_key = key_of(before) if before is not None else None
    new_key = key_of(after) if after is not None else None
    if old_key == new_key or old_key is None or new_key is None or \
            (old_key.node_id, old_key.category_id) == (new_key.node_id, new_key.category_id):
        key = new_key or old_key
        return [(key, month, diff) for month, diff in _difference(old, new)]
    return [(old_key, month, diff) for month, diff in _difference(old, {})] + \
        [(new_key, month, diff) for month, diff in _difference({}, new)]


def _difference(old: Figures, new: Figures) -> list[tuple[date, dict[str, int]]]:
    rows = []
    for month in sorted(set(old) | set(new)):
        a, b = old.get(month, {}), new.get(month, {})
        diff = {name: b.get(name, 0) - a.get(name, 0) for name in set(a) | set(b)}
        diff = {name: value for name, value in diff.items() if value}
        if diff:
            rows.append((month, diff))
    return rows
