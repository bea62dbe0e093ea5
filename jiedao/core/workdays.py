"""Chinese working days (statutory holidays and make-up workdays, 调休) and deadline arithmetic.

Which days are working days: a `WorkdayOverride` row (entered by an administrator) decides its
date; otherwise the `chinese-calendar` package, which knows the official schedule up to the year
it was released for; otherwise Monday to Friday. A year is *known* when the package knows it or an
administrator declared its holiday table complete (`WorkdayYear`). Every computation remembers
whether it had to judge a day of an unknown year: its result is then an *estimate* (weekends only,
plus the override rows already entered), and says so. `is_workday(strict=True)` refuses such a
day instead (`UnknownYear`).

Time limits (办理时限, docs/user-guide.md「办理时限怎么算」) count office hours, which the caller
passes in as `spans` (the sub-district's 办件规则; core does not know about sub-districts):

* N working days end at the close of office (the end of the last span) on the N-th working day
  after the start day. The start day is the day of the start if that is a working day and the
  start is before its close; otherwise the next working day (a start on a rest day, or at or
  after close, counts as a start at the next opening). A fraction of a day is that share of a
  day's office time, counted on from there (for less than one day: from the start itself).
* Working hours count office time only: lunch, nights and rest days do not count.
* Either kind of deadline ends within office hours (at the latest at a span's close).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import chinese_calendar
from django.utils import timezone
from django.utils.translation import gettext

from jiedao.core import caching

Spans = tuple[tuple[time, time], ...]
# 08:30–12:00 and 13:30–17:30: the default 办件规则 (cases.CasePolicy), for callers without one.
DEFAULT_OFFICE_HOURS: Spans = ((time(8, 30), time(12)), (time(13, 30), time(17, 30)))
MAX_DAYS = 3660  # a computation never looks further ahead than ten years


class UnknownYear(Exception):
    def __init__(self, year: int) -> None:
        super().__init__(
            gettext("尚未确认 %(year)s 年的法定节假日安排：请系统管理员在“节假日调整”中录入该年的放假和调休日期，并确认录入完整。")
            % {"year": year}
        )
        self.year = year


class Deadline(NamedTuple):
    """A computed moment, and whether it is an estimate (it relied on a year not yet known)."""

    at: datetime
    estimated: bool


@dataclass(frozen=True)
class Table:
    overrides: dict[date, bool]
    declared: frozenset[int]


def _load() -> Table:
    from jiedao.core.models import WorkdayOverride, WorkdayYear

    return Table(dict(WorkdayOverride.objects.values_list("date", "is_workday")),
                 frozenset(WorkdayYear.objects.values_list("year", flat=True)))


def table() -> Table:
    """The override rows and the declared years, cached per process (the services that change
    them bump the cache generation; jiedao.core.caching)."""
    return caching.get(("workdays",), _load)


def forget_overrides() -> None:
    """Drop this process's cached table (tests; writes outside the services)."""
    caching.clear()


@lru_cache(maxsize=4096)
def _package_says(day: date) -> bool | None:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def package_knows(year: int) -> bool:
    """Whether the chinese-calendar package has the official schedule of `year`."""
    return _package_says(date(year, 1, 1)) is not None


def year_known(year: int) -> bool:
    """Known: the package has the year, or an administrator declared its holiday table complete."""
    return package_knows(year) or year in table().declared


@dataclass
class Calendar:
    """One computation's view of the working-day table. It remembers whether any day it judged
    lies in a year that is not known (`estimated`); `strict` refuses such a day instead."""

    strict: bool = False
    estimated: bool = False
    table: Table = field(default_factory=table)

    def is_workday(self, day: date) -> bool:
        known = _package_says(day)
        if day.year not in self.table.declared and known is None:
            if self.strict:
                raise UnknownYear(day.year)
            self.estimated = True
        if day in self.table.overrides:
            return self.table.overrides[day]
        return known if known is not None else day.weekday() < 5

    def next_workday(self, day: date) -> date:
        for _ in range(MAX_DAYS):
            day += timedelta(days=1)
            if self.is_workday(day):
                return day
        raise ValueError(gettext("时限过长"))


def is_workday(day: date, *, strict: bool = True) -> bool:
    """Whether `day` is a working day; strict: UnknownYear for a day of a year not known."""
    return Calendar(strict=strict).is_workday(day)


def office_minutes(spans: Spans = DEFAULT_OFFICE_HOURS) -> int:
    """A working day's office time in minutes (450 for the default hours)."""
    return sum((datetime.combine(date.min, end) - datetime.combine(date.min, start)).seconds // 60
               for start, end in spans)


def _add_office_time(calendar: Calendar, start: datetime, amount: timedelta, spans: Spans) -> datetime:
    """The moment `amount` of office time after `start` (local, aware): time outside office hours
    on working days does not count. Ends within a span (at the latest at its close)."""
    tz = start.tzinfo
    remaining, cursor, day = amount, start, start.date()
    for _ in range(MAX_DAYS):
        if calendar.is_workday(day):
            for open_at, close_at in spans:
                span_start = max(cursor, datetime.combine(day, open_at, tzinfo=tz))
                span_end = datetime.combine(day, close_at, tzinfo=tz)
                if span_start >= span_end:
                    continue
                if remaining <= span_end - span_start:
                    return span_start + remaining
                remaining -= span_end - span_start
        day += timedelta(days=1)
        cursor = datetime.combine(day, time(0), tzinfo=tz)
    raise ValueError(gettext("时限过长"))


def _spans(spans: Sequence[Sequence[time]] | None) -> Spans:
    chosen = tuple((start, end) for start, end in (spans or DEFAULT_OFFICE_HOURS))
    if not chosen or any(start >= end for start, end in chosen) or any(
            a[1] > b[0] for a, b in pairwise(chosen)):
        raise ValueError("office hours must be ordered, non-overlapping spans")
    return chosen


def start_day(calendar: Calendar, start: datetime, spans: Spans) -> date:
    """The day a limit counts from (day 0): the start's own day if it is a working day and the
    start is before close of office, else the next working day."""
    local = timezone.localtime(start)
    day = local.date()
    if not calendar.is_workday(day) or local.time() >= spans[-1][1]:
        day = calendar.next_workday(day)
    return day


def add_working_days(start: datetime, days: Decimal | float | int, *,
                     spans: Sequence[Sequence[time]] | None = None, strict: bool = False) -> Deadline:
    """The deadline of a limit of `days` working days starting at `start` (see the module doc)."""
    spans = _spans(spans)
    days = Decimal(str(days))
    if days <= 0:
        raise ValueError("a limit is positive")
    calendar = Calendar(strict=strict)
    local = timezone.localtime(start)
    tz = local.tzinfo
    day = start_day(calendar, local, spans)
    whole = int(days)
    fraction = timedelta(seconds=round(float(days - whole) * office_minutes(spans) * 60))
    if whole == 0:
        begin = local if day == local.date() else datetime.combine(day, time(0), tzinfo=tz)
        return Deadline(_add_office_time(calendar, begin, fraction, spans), calendar.estimated)
    for _ in range(whole):
        day = calendar.next_workday(day)
    end = datetime.combine(day, spans[-1][1], tzinfo=tz)
    if fraction:
        end = _add_office_time(calendar, end, fraction, spans)
    return Deadline(end, calendar.estimated)


def add_working_hours(start: datetime, hours: Decimal | float | int, *,
                      spans: Sequence[Sequence[time]] | None = None, strict: bool = False) -> Deadline:
    """The moment `hours` office hours after `start` (time outside office hours does not count)."""
    spans = _spans(spans)
    calendar = Calendar(strict=strict)
    amount = timedelta(seconds=round(float(hours) * 3600))
    if amount <= timedelta(0):
        raise ValueError("a limit is positive")
    return Deadline(_add_office_time(calendar, timezone.localtime(start), amount, spans), calendar.estimated)


def in_office_hours(moment: datetime, spans: Sequence[Sequence[time]] | None = None) -> bool:
    """Whether `moment` lies within office hours of a working day (a span's close included)."""
    spans = _spans(spans)
    local = timezone.localtime(moment)
    if not Calendar().is_workday(local.date()):
        return False
    return any(open_at < local.time() <= close_at for open_at, close_at in spans)


def estimated_between(start: date, end: date) -> bool:
    """Whether any year from `start` to `end` is not known: a date in that range chosen by people
    (a deferral, a meeting's decision) still relies on days nobody could check yet."""
    return any(not year_known(year) for year in range(start.year, end.year + 1))


def working_days_between(start: date, end: date, *, strict: bool = True) -> int:
    """Working days in (start, end]: how many working days a case took or is late by."""
    calendar = Calendar(strict=strict)
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += calendar.is_workday(day)
    return count
