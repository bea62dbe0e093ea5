"""The independent check of the figures (issue 11, deliverable 2).

Random case histories are played through the real services (`case_create`, `case_act`, the named
users of tests/conftest.py acting in their roles, the resident with the ticket), interleaved
over several cases in two grids, a village grid and a community, on a simulated clock that
crosses months (and the site's time zone's midnight), with partial folds of the rollups in
between. Then every counter of the rollups, for every scope (each grid, each community, the
sub-district, everywhere) and every month, is compared with a brute-force count made ONLY from
the CaseTransition rows (`brute_force`: the transition history replayed, then the book's rules
of docs/figures.md applied, written here independently of jiedao.cases.statistics.figures) —
first with deltas pending, then after a fold, then after `rollups.rebuild()`. Every rate of
every scope, month and ranked unit lies in [0, 1].

The only inputs besides the transition rows are where the program filed each case and the
category it filed it under (the history's first row does not repeat them).

To extend to a new action: add how the brute force reads its history row to READS (and, if
the action takes parameters, how to draw them to PARAMS); an action of the table missing from
READS fails `test_every_action_of_the_table_is_read_by_the_brute_force`.

JIEDAO_FIGURES_EXAMPLES sets the number of random histories (default 6, a few seconds on SQLite).
"""

from __future__ import annotations

import os
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jiedao.cases import services
from jiedao.cases.models import Case as CaseRow
from jiedao.cases.models import (
    CaseStat,
    CaseStatArea,
    CaseStatAreaTotal,
    CaseStatDelta,
    CaseTransition,
    Rating,
    Source,
    State,
    Tier,
)
from jiedao.cases.statistics import rollups, stats
from jiedao.cases.workflow import TABLE, Action, Actor
from jiedao.core import caching
from jiedao.core.errors import DomainError, PermissionError_
from tests.cases.test_rollups import assert_coarse_matches_fine

ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]
COUNTERS = rollups.COUNTERS
TZ = ZoneInfo(settings.TIME_ZONE)
EXAMPLES = int(os.environ.get("JIEDAO_FIGURES_EXAMPLES", "6"))
# 23:30 local on the last day of March (15:30 UTC), with microseconds: months turn at local midnight.
START = datetime(2026, 3, 31, 15, 30, 0, 123456, tzinfo=ZoneInfo("UTC"))
LAST = datetime(2026, 11, 20, tzinfo=ZoneInfo("UTC"))  # deadlines stay in years the calendar knows
STEPS = (timedelta(0), timedelta(minutes=5), timedelta(hours=1, minutes=50), timedelta(hours=2),
         timedelta(hours=2, microseconds=1), timedelta(hours=9), timedelta(days=1), timedelta(days=6),
         timedelta(days=20))
FORWARD = frozenset({Action.ACCEPT, Action.DISPATCH, Action.ACKNOWLEDGE, Action.RESOLVE, Action.VERIFY_PASS,
                     Action.FOLLOW_UP, Action.CLOSE})
USERS = ("worker", "other_worker", "village_worker", "secretary", "handler", "leader", "admin")
RESIDENT = "resident"


def month_of(moment: datetime) -> date:
    return moment.astimezone(TZ).date().replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


# --- the brute force: the history replayed, then the book's rules -------------------------------


@dataclass
class Replayed:
    """What the transition rows say about one case."""

    node: int  # where the program filed it: the grid, or the community
    community: int
    category: int | None
    state: str = State.REPORTED
    created: datetime | None = None
    accepted: datetime | None = None
    dispatched: datetime | None = None
    acknowledged: datetime | None = None
    deadline: datetime | None = None
    deferred: datetime | None = None
    resolved: datetime | None = None
    level: int | None = None
    closed: datetime | None = None
    rated: datetime | None = None
    rating: str = ""
    contacted: bool = False
    solved: bool = False
    returned: bool = False
    reworked: bool = False
    reopened: bool = False
    merged: bool = False


def _category(h: Replayed, row: CaseTransition) -> None:
    if "category" in row.data:
        h.category = row.data["category"]


def _clear_handling(h: Replayed) -> None:
    h.deadline = h.acknowledged = None


def _follow_up(h: Replayed, row: CaseTransition) -> None:
    h.rated, h.rating = row.created_at, row.data["rating"]
    h.contacted, h.solved = row.data["contacted"], row.data["solved"]
    if h.rating == Rating.UNSATISFIED or not h.solved:  # sent back: the resolution no longer stands
        h.resolved, h.reopened = None, True
        assert row.to_state in (State.IN_PROGRESS, State.ACCEPTED), row
    else:
        assert row.to_state == row.from_state, row


def _reopen(h: Replayed, row: CaseTransition) -> None:
    _clear_handling(h)
    h.closed = h.resolved = None
    h.accepted = h.accepted or row.created_at
    h.reopened, h.merged = True, False


def _merge(h: Replayed, row: CaseTransition) -> None:
    h.merged, h.closed = True, row.created_at


def _district_reply(h: Replayed, row: CaseTransition) -> None:
    if row.data["outcome"] == "resolved":  # resolved by the district: a resolution at its level
        h.resolved, h.level = row.created_at, row.data["level"]


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


# How the brute force reads each action's history row (what the row's time and data change).
READS: dict[str, Callable[[Replayed, CaseTransition], None]] = {
    "report": lambda h, row: setattr(h, "created", row.created_at),
    Action.ACCEPT: lambda h, row: (setattr(h, "accepted", h.accepted or row.created_at), _category(h, row)),
    Action.REJECT: lambda h, row: setattr(h, "closed", row.created_at),
    Action.TIER: _category,
    Action.DISPATCH: lambda h, row: (setattr(h, "dispatched", row.created_at),
                                     setattr(h, "deadline", _parse(row.data["deadline"])),
                                     setattr(h, "acknowledged", None), setattr(h, "deferred", None)),
    Action.ACKNOWLEDGE: lambda h, row: setattr(h, "acknowledged", row.created_at),
    Action.RETURN: lambda h, row: (_clear_handling(h), setattr(h, "returned", True)),
    Action.HANDLE: lambda h, row: None,
    Action.ESCALATE: lambda h, row: _clear_handling(h),
    Action.SUPERVISE: lambda h, row: None,
    Action.RESOLVE: lambda h, row: (setattr(h, "resolved", row.created_at), setattr(h, "level", row.data["level"])),
    Action.VERIFY_PASS: lambda h, row: None,
    Action.VERIFY_FAIL: lambda h, row: (setattr(h, "resolved", None), setattr(h, "reworked", True)),
    Action.FOLLOW_UP: _follow_up,
    Action.CLOSE: lambda h, row: setattr(h, "closed", row.created_at),
    Action.REOPEN: _reopen,
    Action.MERGE: _merge,
    Action.DEFER: lambda h, row: (setattr(h, "deferred", row.created_at),
                                  setattr(h, "deadline", _parse(row.data["new_deadline"]))),
    Action.HAND_OVER: lambda h, row: _clear_handling(h),
    Action.DISTRICT_REPLY: _district_reply,
}


def replay(rows: list[CaseTransition], filed: Replayed) -> Replayed:
    h = filed
    for row in rows:
        read = READS.get(row.action)
        assert read is not None, f"the brute force does not know how to read “{row.action}”: add it to READS"
        read(h, row)
        h.state = row.to_state
    return h


def book(h: Replayed) -> dict[date, dict[str, int]]:
    """The book's rules (docs/figures.md), applied to what the history says."""
    out: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def count(moment: datetime, *names: str) -> None:
        for name in names:
            out[month_of(moment)][name] += 1

    count(h.created, "reported")
    if h.merged:
        count(h.closed, "merged")
        return out
    if h.state == State.REJECTED:
        count(h.closed, "rejected")
    if h.accepted:
        count(h.accepted, "accepted")
        if h.dispatched:
            count(h.accepted, "dispatched")
            if h.acknowledged and h.acknowledged - h.dispatched <= timedelta(hours=2):
                count(h.accepted, "acknowledged_in_time")
        for flag in ("returned", "reworked", "reopened"):
            if getattr(h, flag):
                count(h.accepted, flag)
    stands = h.resolved is not None and h.state in (State.RESOLVED, State.VERIFIED, State.CLOSED)
    if stands:
        count(h.resolved, "resolved", f"resolved_level{h.level}")
    if h.state != State.REJECTED and (h.deadline or stands):
        due = min(t for t in (h.deadline, h.resolved if stands else None) if t is not None)
        if h.deferred:
            count(due, "deferred")
        else:
            count(due, "due")
            if stands:
                count(due, "due_resolved")
                if h.deadline is None or h.resolved <= h.deadline:
                    count(due, "on_time")
            if h.state == State.CLOSED:
                count(due, "due_closed")
    if h.state == State.CLOSED:
        count(h.closed, "closed")
    if h.rated:
        count(h.rated, "followed_up")
        if h.contacted:
            count(h.rated, "contacted")
        if h.solved:
            count(h.rated, "solved")
        count(h.rated, {"satisfied": "satisfied", "basic": "basic", "unsatisfied": "unsatisfied"}[h.rating])
    return out


def brute_force(filed: dict[int, Replayed]) -> list[tuple[Replayed, dict[date, dict[str, int]]]]:
    """Every case's figures, from its transition rows alone."""
    rows: dict[int, list[CaseTransition]] = defaultdict(list)
    for row in CaseTransition.objects.filter(case_id__in=list(filed)).order_by("case_id", "seq"):
        rows[row.case_id].append(row)
    out = []
    for case_id, start in filed.items():
        assert [row.seq for row in rows[case_id]] == list(range(len(rows[case_id])))  # one linear history
        h = replay(rows[case_id], Replayed(node=start.node, community=start.community, category=start.category))
        out.append((h, book(h)))
    return out


# --- the comparison -------------------------------------------------------------------------------


ZERO = dict.fromkeys(COUNTERS, 0)


def _sum(figures: list[tuple[Replayed, dict]], keep: Callable[[Replayed], bool]) -> dict[date, dict[str, int]]:
    total: dict[date, dict[str, int]] = defaultdict(lambda: dict(ZERO))
    for h, by_month in figures:
        if keep(h):
            for month, counts in by_month.items():
                for name, value in counts.items():
                    total[month][name] += value
    return total


def _rates_within_bounds(rates: stats.Rates, where: Any) -> None:
    for name, value in rates.rates().items():
        assert value is None or 0 <= value <= 1, (where, name, value, rates.counts)


def compare(world, filed: dict[int, Replayed], months: list[date], when: str) -> None:
    """Every reader of the rollups, for every scope and month, against the brute force."""
    figures = brute_force(filed)
    assert {m for _, by_month in figures for m in by_month} <= set(months), when
    start, end = months[0], next_month(months[-1])
    scopes = [
        (world.grid.path, lambda h: h.node == world.grid.pk),
        (world.other_grid.path, lambda h: h.node == world.other_grid.pk),
        (world.village_grid.path, lambda h: h.node == world.village_grid.pk),
        (world.community.path, lambda h: h.community == world.community.pk),
        (world.village.path, lambda h: h.community == world.village.pk),
        (world.subdistrict.path, lambda h: True),
        (None, lambda h: True),
    ]
    for path, keep in scopes:
        expected = _sum(figures, keep)
        by_month = {row["month"]: row["rates"] for row in stats.trend(path, start, end)}
        for month in months:
            rates = by_month.get(month) or stats.rates_from({})
            assert rates.counts == expected.get(month, ZERO), (when, path, month)
            _rates_within_bounds(rates, (when, path, month))
        whole = stats.totals(path, start, end)
        assert whole.counts == {c: sum(expected.get(m, ZERO)[c] for m in months) for c in COUNTERS}, (when, path)
        _rates_within_bounds(whole, (when, path))
    # Rankings: the sub-district's communities (one row per unit and month) and a community's grids
    # and its own cases (the fine rows).
    for path, by, unit_of in ((world.subdistrict.path, "child", lambda h: h.community),
                              (world.community.path, "child", lambda h: h.node)):
        for row in stats.ranking(path, start, end, by=by):
            expected = _sum(figures, lambda h, unit=row["unit_id"], unit_of=unit_of: unit_of(h) == unit)
            assert row["rates"].counts == {c: sum(expected.get(m, ZERO)[c] for m in months) for c in COUNTERS}, \
                (when, path, row["unit_name"])
            _rates_within_bounds(row["rates"], (when, path, row["unit_name"]))
    # Categories (every category's 登记 and 办结 over the period).
    categories = {row["category_id"]: (row["reported"], row["resolved"])
                  for row in stats.by_category(None, start, end, limit=100) if row["reported"] or row["resolved"]}
    expected = defaultdict(lambda: [0, 0])
    for h, by_month in figures:
        for counts in by_month.values():
            expected[h.category][0] += counts.get("reported", 0)
            expected[h.category][1] += counts.get("resolved", 0)
    assert categories == {k: tuple(v) for k, v in expected.items() if v != [0, 0]}, when


def compare_folded(filed: dict[int, Replayed]) -> None:
    """After a full fold: the fine rows are exactly the brute force per (month, node, category),
    nothing is negative, and every coarse row adds up its fine rows."""
    assert not CaseStatDelta.objects.exists()
    expected: dict[tuple, dict[str, int]] = defaultdict(lambda: dict(ZERO))
    for h, by_month in brute_force(filed):
        for month, counts in by_month.items():
            for name, value in counts.items():
                expected[(month, h.node, h.category)][name] += value
    folded = {(row.month, row.node_id, row.category_id): {c: getattr(row, c) for c in COUNTERS}
              for row in CaseStat.objects.all()}
    assert {k: v for k, v in folded.items() if any(v.values())} == {k: v for k, v in expected.items()}
    for model in (CaseStat, CaseStatArea, CaseStatAreaTotal):
        for row in model.objects.all():
            assert all(getattr(row, c) >= 0 for c in COUNTERS), row
    if CaseStat.objects.exists():
        assert_coarse_matches_fine()


def check_everything(world, filed: dict[int, Replayed], months: list[date]) -> None:
    compare(world, filed, months, "pending")
    rollups.fold()
    compare(world, filed, months, "folded")
    compare_folded(filed)
    rollups.rebuild()
    compare(world, filed, months, "rebuilt")
    compare_folded(filed)


# --- playing histories through the real services --------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at

    def advance(self, step: timedelta) -> None:
        self.at = min(self.at + step, LAST)


# How to draw each action's parameters: (pick, world, catalogue, the case, the other cases) -> params,
# where pick(options) chooses one of a list (hypothesis draws it; the threads of the PostgreSQL
# variant use their own random generator).
PARAMS: dict[str, Callable[..., dict[str, Any]]] = {
    Action.ACCEPT: lambda pick, world, catalogue, case, others: {
        **({"tier": pick(list(Tier.values))} if pick([False, True]) else {}),
        **({"category": pick([catalogue["garbage"], catalogue["dispute"]])} if pick([False, True]) else {}),
    },
    Action.TIER: lambda pick, world, catalogue, case, others: {
        "tier": pick(list(Tier.values)),
        **({"category": pick([catalogue["garbage"], catalogue["dispute"]])} if pick([False, True]) else {}),
    },
    Action.DISPATCH: lambda pick, world, catalogue, case, others: (
        {"department": world.department} if case.tier == Tier.PUBLIC else {}),
    Action.FOLLOW_UP: lambda pick, world, catalogue, case, others: {
        "contacted": pick([True, False]), "solved": pick([True, False]), "rating": pick(list(Rating.values)),
        "comment": "回访",
    },
    Action.MERGE: lambda pick, world, catalogue, case, others: {"into": pick(others)} if others else {},
    Action.DEFER: lambda pick, world, catalogue, case, others: {
        "new_deadline": timezone.localdate(case.deadline_at or timezone.now()) + timedelta(days=pick([1, 9, 40]))},
    Action.HAND_OVER: lambda pick, world, catalogue, case, others: {"district_ref": "区12345-2026-0001"},
    Action.DISTRICT_REPLY: lambda pick, world, catalogue, case, others: {
        "outcome": pick(["resolved", "returned"]), "reply": "区级答复"},
}


@dataclass
class Program:
    """Cases filed and moved through the services; `filed` is what the brute force starts from."""

    world: Any
    catalogue: dict
    clock: Clock
    filed: dict[int, Replayed] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    PLACES = ("grid", "other_grid", "village_grid", "community")
    REPORTERS = {"grid": "worker", "other_grid": "other_worker", "village_grid": "village_worker",
                 "community": "secretary"}

    def file(self, place: str, category: str | None) -> CaseRow:
        node = getattr(self.world, place)
        case = services.case_create(
            actor=getattr(self.world, self.REPORTERS[place]), source=Source.DOOR_VISIT, node=node,
            title="楼下垃圾无人清运", description="垃圾堆放三天。",
            category=self.catalogue[category] if category else None, suggest=False,
        )
        community = node.pk if place == "community" else node.parent_id
        self.filed[case.pk] = Replayed(node=node.pk, community=community,
                                       category=case.category_id if category else None)
        return case

    def choices(self, case: CaseRow) -> list[tuple[str, str]]:
        """Every (user, action) the table allows on the case as it now is; the steps that move a
        case towards its end are listed three times, so histories get there more often."""
        found = []
        for name in USERS:
            user = getattr(self.world, name)
            for action in TABLE.allowed_actions(case.state, services.actor_kinds(user, case)):
                found += [(name, action)] * (3 if action in FORWARD else 1)
        found += [(RESIDENT, action) for action in TABLE.allowed_actions(case.state, {Actor.RESIDENT})]
        return found

    def act(self, case: CaseRow, who: str, action: str, params: dict[str, Any]) -> str:
        actor = None if who == RESIDENT else getattr(self.world, who)
        extra = {"ticket": case.ticket} if who == RESIDENT else {}
        try:
            services.case_act(actor=actor, case=case, action=action, reason="说明", **extra, **params)
        # Refused by a rule, or (concurrent actors) the case moved out of the actor's sight between
        # reading it and acting, e.g. a return took it from the handler's department: nothing changed.
        except (DomainError, PermissionError_, Http404) as refused:
            outcome = f"refused:{action}:{type(refused).__name__}"
        else:
            outcome = action
        self.outcomes[outcome] += 1
        return outcome

    def months(self) -> list[date]:
        """From the first month to the last one anything happened or falls due in (deadlines,
        deferred ones most of all, run past the last step)."""
        last = max([self.clock.at, *CaseRow.objects.filter(pk__in=list(self.filed))
                    .exclude(deadline_at=None).values_list("deadline_at", flat=True)])
        months, month = [], month_of(START)
        while month <= month_of(last):
            months.append(month)
            month = next_month(month)
        return months


@pytest.fixture
def clock(monkeypatch):
    """The services' clock (django.utils.timezone.now), moved by the program."""
    fake = Clock()
    monkeypatch.setattr(timezone, "now", fake)
    return fake


def _run_random_history(world, catalogue, clock, data) -> Program:
    program = Program(world, catalogue, clock)
    clock.at = START
    cases = [program.file(data.draw(st.sampled_from(Program.PLACES)),
                          data.draw(st.sampled_from(["garbage", "dispute", None])))
             for _ in range(data.draw(st.integers(2, 5)))]
    for _ in range(data.draw(st.integers(8, 36))):
        clock.advance(data.draw(st.sampled_from(STEPS)))
        index = data.draw(st.integers(0, len(cases) - 1))
        case = CaseRow.objects.get(pk=cases[index].pk)
        choices = program.choices(case)
        if not choices:
            continue
        who, action = data.draw(st.sampled_from(choices))
        others = [CaseRow.objects.get(pk=c.pk) for n, c in enumerate(cases) if n != index]
        draw_params = PARAMS.get(action)
        pick = lambda options: data.draw(st.sampled_from(options))  # noqa: E731
        params = draw_params(pick, world, catalogue, case, others) if draw_params else {}
        program.act(case, who, action, params)
        if data.draw(st.integers(0, 5)) == 0:  # a partial fold now and then, in id order
            rollups.fold(limit=data.draw(st.integers(1, 4)))
    return program


def test_random_histories_count_by_the_book(world, catalogue, clock):
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        with transaction.atomic():
            program = _run_random_history(world, catalogue, clock, data)
            check_everything(world, program.filed, program.months())
            transaction.set_rollback(True)

    run()


# --- one scripted history that takes every action (coverage whatever the random draws) ------------


def test_a_history_with_every_action_counts_by_the_book(world, catalogue, clock):
    w = world
    program = Program(w, catalogue, clock)
    g = program.file("grid", "garbage")  # 大事: returned, reworked twice, followed up badly, reopened
    d = program.file("other_grid", "dispute")  # 小事 → category and tier changed at acceptance
    v = program.file("village_grid", None)  # uncategorised until accepted; rejected, reopened
    c = program.file("community", "dispute")  # filed on the community; accepted, then merged into d
    p = program.file("grid", "dispute")  # 私事 resolved at acceptance, bad follow-up, back to accepted
    r = program.file("other_grid", "garbage")  # closed, then reopened
    x = program.file("grid", "garbage")  # 缓办: out of the 到期 population, into 缓办
    y = program.file("other_grid", "garbage")  # to the district, returned, dispatched, resolved at level 4
    z = program.file("village_grid", "garbage")  # to the district, resolved there (level 4)
    script = [
        (g, "secretary", Action.ACCEPT, {}, timedelta(minutes=30)),  # 23:30 → 00:00 local: April
        (g, "secretary", Action.DISPATCH, {}, timedelta(minutes=5)),
        (g, "leader", Action.SUPERVISE, {}, timedelta(hours=1)),
        (g, "handler", Action.RETURN, {}, timedelta(hours=1)),
        (g, "secretary", Action.DISPATCH, {}, timedelta(0)),
        (g, "handler", Action.ACKNOWLEDGE, {}, timedelta(hours=2)),  # exactly two hours: in time
        (g, "handler", Action.HANDLE, {}, timedelta(hours=3)),
        (g, "handler", Action.RESOLVE, {}, timedelta(hours=1)),
        (g, "worker", Action.VERIFY_FAIL, {}, timedelta(days=1)),
        (g, "handler", Action.RESOLVE, {}, timedelta(days=1)),
        (g, "worker", Action.VERIFY_FAIL, {}, timedelta(days=1)),
        (g, "handler", Action.RESOLVE, {}, timedelta(days=30)),  # a month later, after the deadline
        (g, "worker", Action.VERIFY_PASS, {}, timedelta(hours=1)),
        (g, RESIDENT, Action.FOLLOW_UP, {"contacted": True, "solved": False, "rating": Rating.SATISFIED},
         timedelta(days=1)),
        (g, "handler", Action.RESOLVE, {}, timedelta(days=1)),
        (g, "secretary", Action.FOLLOW_UP, {"contacted": False, "solved": True, "rating": Rating.BASIC},
         timedelta(hours=1)),
        (g, "worker", Action.VERIFY_PASS, {}, timedelta(hours=1)),
        (g, "secretary", Action.CLOSE, {}, timedelta(days=12)),
        (r, "secretary", Action.ACCEPT, {}, timedelta(hours=1)),
        (r, "secretary", Action.DISPATCH, {}, timedelta(hours=1)),
        (r, "handler", Action.ACKNOWLEDGE, {}, timedelta(hours=1)),
        (r, "handler", Action.RESOLVE, {}, timedelta(hours=1)),
        (r, "other_worker", Action.VERIFY_PASS, {}, timedelta(hours=1)),
        (r, "secretary", Action.FOLLOW_UP, {"contacted": True, "solved": True, "rating": Rating.SATISFIED},
         timedelta(hours=1)),
        (r, "secretary", Action.CLOSE, {}, timedelta(hours=1)),
        (r, "leader", Action.REOPEN, {}, timedelta(days=1)),
        (d, "secretary", Action.ACCEPT, {"tier": Tier.PUBLIC, "category": catalogue["garbage"]}, timedelta(hours=1)),
        (d, "secretary", Action.DISPATCH, {"department": w.department}, timedelta(hours=2, microseconds=1)),
        (d, "handler", Action.ACKNOWLEDGE, {}, timedelta(hours=1)),  # two hours and a microsecond: late
        (d, "handler", Action.ESCALATE, {}, timedelta(hours=1)),
        (d, "leader", Action.DISPATCH, {"department": w.department}, timedelta(hours=1)),  # level 3: a leader
        (d, "handler", Action.ACKNOWLEDGE, {}, timedelta(hours=1)),
        (d, "handler", Action.RESOLVE, {}, timedelta(hours=1)),  # early: due in the resolution's month
        (d, "other_worker", Action.VERIFY_PASS, {}, timedelta(hours=1)),
        (v, "admin", Action.TIER, {"tier": Tier.COMMUNITY, "category": catalogue["dispute"]}, timedelta(days=1)),
        (v, "admin", Action.REJECT, {}, timedelta(days=1)),
        (v, "leader", Action.REOPEN, {}, timedelta(days=6)),
        (v, "village_worker", Action.MERGE, {"into": d}, timedelta(hours=1)),  # stays merged
        (c, "secretary", Action.ACCEPT, {}, timedelta(hours=1)),
        (c, "secretary", Action.MERGE, {"into": d}, timedelta(days=1)),
        (p, "secretary", Action.ACCEPT, {"tier": Tier.PRIVATE}, timedelta(hours=1)),
        (p, "secretary", Action.RESOLVE, {}, timedelta(hours=1)),
        (p, RESIDENT, Action.FOLLOW_UP, {"contacted": True, "solved": True, "rating": Rating.UNSATISFIED},
         timedelta(hours=1)),
        (p, "secretary", Action.RESOLVE, {}, timedelta(days=1)),
        (p, "worker", Action.VERIFY_PASS, {}, timedelta(hours=1)),
        (p, "worker", Action.FOLLOW_UP, {"contacted": True, "solved": True, "rating": Rating.SATISFIED},
         timedelta(hours=1)),
        (p, "secretary", Action.CLOSE, {}, timedelta(hours=1)),
        (x, "secretary", Action.ACCEPT, {}, timedelta(hours=1)),
        (x, "secretary", Action.DISPATCH, {}, timedelta(hours=1)),
        (x, "handler", Action.ACKNOWLEDGE, {}, timedelta(hours=1)),
        (x, "leader", Action.DEFER, lambda case: {"new_deadline": timezone.localdate(case.deadline_at)
                                                  + timedelta(days=20)}, timedelta(hours=1)),
        (x, "handler", Action.RESOLVE, {}, timedelta(days=10)),  # late by the first deadline: 缓办
        (x, "worker", Action.VERIFY_PASS, {}, timedelta(hours=1)),
        (x, "secretary", Action.CLOSE, {}, timedelta(hours=1)),
        (y, "secretary", Action.ACCEPT, {}, timedelta(hours=1)),
        (y, "secretary", Action.ESCALATE, {}, timedelta(hours=1)),
        (y, "secretary", Action.ESCALATE, {}, timedelta(hours=1)),  # level 3: the joint meeting's
        (y, "leader", Action.HAND_OVER, {"district_ref": "区12345-2026-0001"}, timedelta(days=1)),
        (y, "leader", Action.DISTRICT_REPLY, {"outcome": "returned", "reply": "属街道职责，退回办理"},
         timedelta(days=3)),
        (y, "leader", Action.DISPATCH, {"department": w.department}, timedelta(hours=1)),
        (y, "handler", Action.ACKNOWLEDGE, {}, timedelta(hours=1)),
        (y, "handler", Action.RESOLVE, {}, timedelta(hours=1)),
        (z, "admin", Action.ACCEPT, {}, timedelta(hours=1)),
        (z, "admin", Action.ESCALATE, {}, timedelta(hours=1)),
        (z, "admin", Action.ESCALATE, {}, timedelta(hours=1)),
        (z, "leader", Action.HAND_OVER, {"district_ref": "区12345-2026-0002"}, timedelta(days=1)),
        (z, "leader", Action.DISTRICT_REPLY, {"outcome": "resolved", "reply": "区住建委已协调修复"},
         timedelta(days=5)),
        (z, "village_worker", Action.VERIFY_PASS, {}, timedelta(hours=1)),
    ]
    for n, (case, who, action, params, step) in enumerate(script):
        clock.advance(step)
        case = CaseRow.objects.get(pk=case.pk)
        if callable(params):  # parameters that depend on the case as it now is
            params = params(case)
        if "into" in params:
            params = {**params, "into": CaseRow.objects.get(pk=params["into"].pk)}
        program.act(case, who, action, params)
        if n % 4 == 3:
            rollups.fold(limit=3)
    assert set(program.outcomes) == set(TABLE.actions.values), program.outcomes  # each taken, none refused
    check_everything(w, program.filed, program.months())
    totals = stats.totals(None, date(2026, 1, 1), date(2027, 1, 1))
    counts = totals.counts
    # v and c merged (c after its acceptance): they count only as filed and merged.
    assert (counts["reported"], counts["merged"], counts["rejected"], counts["accepted"]) == (9, 2, 0, 7)
    # g resolved five times, d, p and x once each, r's resolution undone by the reopening; y and z
    # resolved at the district's level (y after the district returned it, z by the district): 办结 6.
    assert counts["resolved"] == 6 and (counts["resolved_level1"], counts["resolved_level2"],
                                        counts["resolved_level3"], counts["resolved_level4"]) == (1, 2, 1, 2)
    # Due: g (late), d (early), p and z (no deadline, resolved), y (in time); x deferred (缓办),
    # r reopened (no deadline, no resolution).
    assert (counts["due"], counts["due_resolved"], counts["on_time"], counts["due_closed"],
            counts["deferred"]) == (5, 5, 4, 2, 1)
    # The latest follow-ups: g basic (contacted no), p satisfied, r satisfied.
    assert (counts["followed_up"], counts["contacted"], counts["solved"], counts["satisfied"],
            counts["basic"], counts["unsatisfied"]) == (3, 2, 3, 2, 1, 0)
    # Signed in time: g (exactly two hours after its second dispatch), d (a microsecond late after
    # its first dispatch, in time after the second: the standing one counts), x, y; not r (reopened).
    assert (counts["dispatched"], counts["acknowledged_in_time"], counts["returned"], counts["reworked"],
            counts["reopened"]) == (5, 4, 1, 1, 3)


def test_every_action_of_the_table_is_read_by_the_brute_force():
    assert set(TABLE.actions.values) <= set(READS), sorted(set(TABLE.actions.values) - set(READS))


# --- concurrent actors on PostgreSQL ---------------------------------------------------------------


@pytest.mark.skipif(not ON_POSTGRES, reason="concurrent transactions need PostgreSQL (set JIEDAO_DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_actors_count_by_the_book(world, catalogue):
    """Four threads (each its own connection) act on the same cases at random while a fifth folds
    in small batches: of two steps on one case exactly one wins, and the rollups still equal the
    brute force from the history, pending, folded and rebuilt."""
    program = Program(world, catalogue, Clock())
    cases = [program.file(place, category) for place in Program.PLACES for category in ("garbage", "dispute")]
    errors: list[BaseException] = []
    stop = threading.Event()

    def actor(seed: int) -> None:
        from django.db import connection as own

        rng = random.Random(seed)
        try:
            for _ in range(60):
                case = CaseRow.objects.get(pk=rng.choice(cases).pk)
                choices = program.choices(case)
                if not choices:
                    continue
                who, action = rng.choice(choices)
                others = [CaseRow.objects.get(pk=c.pk) for c in cases if c.pk != case.pk]
                draw_params = PARAMS.get(action)
                params = draw_params(rng.choice, world, catalogue, case, others) if draw_params else {}
                program.act(case, who, action, params)  # a lost race is refused (ConflictError), nothing changed
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    def folder() -> None:
        from django.db import connection as own

        try:
            while not stop.is_set():
                rollups.fold(limit=5)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=actor, args=(seed,)) for seed in range(4)]
    fold_thread = threading.Thread(target=folder)
    fold_thread.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    stop.set()
    fold_thread.join(timeout=60)
    assert not errors, errors
    assert sum(n for k, n in program.outcomes.items() if not k.startswith("refused")) > 50
    # The real clock: from this month to the last deadline (a deferral can move one weeks ahead).
    last = max([timezone.now(), *CaseRow.objects.exclude(deadline_at=None).values_list("deadline_at", flat=True)])
    months, month = [], timezone.localdate().replace(day=1)
    while month <= month_of(last):
        months.append(month)
        month = next_month(month)
    check_everything(world, program.filed, months)
