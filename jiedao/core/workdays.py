"""Chinese working days: statutory holidays and make-up workdays (调休).

The `chinese-calendar` package knows the official schedule up to the year it was released
for; `WorkdayOverride` rows (edited by administrators) take precedence and cover later years.
For a year known to neither, `is_workday` raises `UnknownYear` with a message an administrator
can act on, unless asked for a weekend-only estimate (`strict=False`).

Time limits (办理时限) count from dispatch: N working days end at the same time of day on the
N-th following working day; working hours count only office hours (settings
JIEDAO_OFFICE_HOURS, default 09:00–12:00 and 13:30–17:30).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

import chinese_calendar
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext


class UnknownYear(Exception):
    def __init__(self, year: int) -> None:
        super().__init__(
            gettext("尚未录入 %(year)s 年的法定节假日安排：请系统管理员在“节假日调整”中补充该年的放假和调休日期。")
            % {"year": year}
        )
        self.year = year


def _overrides() -> dict[date, bool]:
    from django.core.cache import cache

    from jiedao.core.models import WorkdayOverride

    cached = cache.get("jiedao:workday-overrides")
    if cached is None:
        cached = dict(WorkdayOverride.objects.values_list("date", "is_workday"))
        cache.set("jiedao:workday-overrides", cached, 300)
    return cached


def forget_overrides() -> None:
    from django.core.cache import cache

    cache.delete("jiedao:workday-overrides")


@lru_cache(maxsize=4096)
def _package_says(day: date) -> bool | None:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def years_with_overrides() -> set[int]:
    return {d.year for d in _overrides()}


def is_workday(day: date, *, strict: bool = True) -> bool:
    overrides = _overrides()
    if day in overrides:
        return overrides[day]
    known = _package_says(day)
    if known is not None:
        return known
    if day.year in years_with_overrides() or not strict:
        return day.weekday() < 5  # an administrator listed the year's exceptions: the rest is ordinary
    raise UnknownYear(day.year)


def office_hours() -> list[tuple[time, time]]:
    spans = getattr(settings, "JIEDAO_OFFICE_HOURS", None) or [(time(9), time(12)), (time(13, 30), time(17, 30))]
    return [(start, end) for start, end in spans]


def _next_workday(day: date, strict: bool) -> date:
    day += timedelta(days=1)
    while not is_workday(day, strict=strict):
        day += timedelta(days=1)
    return day


def add_working_days(start: datetime, days: int, *, strict: bool = True) -> datetime:
    """The deadline N working days after `start`.

    A start on a rest day counts from the first office hour of the next working day."""
    local = timezone.localtime(start)
    day = local.date()
    if not is_workday(day, strict=strict):
        day = _next_workday(day, strict)
        local = datetime.combine(day, office_hours()[0][0], tzinfo=local.tzinfo)
    for _ in range(days):
        day = _next_workday(day, strict)
    return local.replace(year=day.year, month=day.month, day=day.day)


def add_working_hours(start: datetime, hours: float, *, strict: bool = True) -> datetime:
    """The moment `hours` office hours after `start` (time outside office hours does not count)."""
    remaining = timedelta(hours=hours)
    local = timezone.localtime(start)
    tz = local.tzinfo
    day = local.date()
    cursor = local
    for _ in range(3660):
        if is_workday(day, strict=strict):
            for open_at, close_at in office_hours():
                span_start = max(cursor, datetime.combine(day, open_at, tzinfo=tz))
                span_end = datetime.combine(day, close_at, tzinfo=tz)
                if span_start >= span_end:
                    continue
                available = span_end - span_start
                if remaining <= available:
                    return span_start + remaining
                remaining -= available
        day += timedelta(days=1)
        cursor = datetime.combine(day, time(0), tzinfo=tz)
    raise ValueError(gettext("时限过长"))


def working_days_between(start: date, end: date, *, strict: bool = True) -> int:
    """Working days in (start, end]: how many working days a case took or is late by."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += is_workday(day, strict=strict)
    return count
