"""Deadline arithmetic over the 2026 official schedule (State Council notice of 2025-11-04)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from jiedao.core import workdays
from jiedao.core.models import WorkdayOverride

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _fresh_overrides(db):
    workdays.forget_overrides()
    yield
    workdays.forget_overrides()


def test_national_day_and_makeup_saturday():
    # Dispatched Tue 2026-09-29: 9/30 is a workday, 10/1-10/7 off, 10/8 Thu, 10/9 Fri, 10/10 Sat (调休上班).
    assert workdays.add_working_days(at(2026, 9, 29), 1) == at(2026, 9, 30)
    assert workdays.add_working_days(at(2026, 9, 29), 2) == at(2026, 10, 8)
    assert workdays.add_working_days(at(2026, 9, 29), 4) == at(2026, 10, 10)
    assert workdays.add_working_days(at(2026, 9, 29), 5) == at(2026, 10, 12)


def test_spring_festival_2026():
    # 2/14 Sat is worked, 2/15-2/23 off, 2/28 Sat worked.
    assert workdays.is_workday(date(2026, 2, 14)) and not workdays.is_workday(date(2026, 2, 23))
    assert workdays.add_working_days(at(2026, 2, 13), 1) == at(2026, 2, 14)
    assert workdays.add_working_days(at(2026, 2, 13), 2) == at(2026, 2, 24)
    assert workdays.working_days_between(date(2026, 2, 13), date(2026, 2, 28)) == 6  # 14, 24-28


def test_start_on_holiday_counts_from_next_office_morning():
    assert workdays.add_working_days(at(2026, 10, 3, 15), 1) == at(2026, 10, 9, 9)


def test_working_hours_skip_lunch_nights_and_holidays():
    assert workdays.add_working_hours(at(2026, 9, 30, 11), 2) == at(2026, 9, 30, 14, 30)
    # 5 hours from 16:00 on 9/30: 1.5 h that day, then 3 h on the morning of 10/8 (after the
    # holiday) and the last half hour after lunch.
    assert workdays.add_working_hours(at(2026, 9, 30, 16), 5) == at(2026, 10, 8, 14, 0)


def test_unknown_year_needs_an_administrator():
    with pytest.raises(workdays.UnknownYear) as exc:
        workdays.is_workday(date(2027, 3, 3))
    assert "2027" in str(exc.value) and "节假日" in str(exc.value)
    assert workdays.is_workday(date(2027, 3, 3), strict=False)


def test_overrides_take_precedence_and_cover_new_years():
    WorkdayOverride.objects.create(date=date(2027, 1, 1), is_workday=False, name="元旦")
    WorkdayOverride.objects.create(date=date(2026, 10, 12), is_workday=False, name="临时停工")
    workdays.forget_overrides()
    assert not workdays.is_workday(date(2027, 1, 1))
    assert workdays.is_workday(date(2027, 1, 4))  # the year is now known through the table
    assert workdays.add_working_days(at(2026, 10, 9), 2) == at(2026, 10, 13)
