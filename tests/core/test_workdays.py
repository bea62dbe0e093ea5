"""Deadline arithmetic over the 2026 official schedule (State Council notice of 2025-11-04), with
the default office hours 08:30–12:00 and 13:30–17:30 (450 minutes a day) unless a test says."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiedao.core import workdays
from jiedao.core.models import WorkdayOverride, WorkdayYear

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


@pytest.fixture(autouse=True)
def _fresh_table(db):
    workdays.forget_overrides()
    yield
    workdays.forget_overrides()


# (what, start, limit, deadline): N working days end at close of office on the N-th working day
# after the start day; a start on a rest day or after close starts at the next opening.
WORKING_DAYS = [
    ("Sunday night, 1 day", at(2026, 3, 1, 23, 57), 1, at(2026, 3, 3, 17, 30)),
    ("Monday just after midnight, 1 day", at(2026, 3, 2, 0, 4), 1, at(2026, 3, 3, 17, 30)),
    ("Monday during office hours, 1 day", at(2026, 3, 2, 17, 29), 1, at(2026, 3, 3, 17, 30)),
    ("Monday at close, 1 day", at(2026, 3, 2, 17, 30), 1, at(2026, 3, 4, 17, 30)),
    ("Monday lunch break, 1 day", at(2026, 3, 2, 12, 30), 1, at(2026, 3, 3, 17, 30)),
    ("Friday before close, 1 day", at(2026, 3, 6, 17, 0), 1, at(2026, 3, 9, 17, 30)),
    ("Friday after close, 1 day", at(2026, 3, 6, 18, 0), 1, at(2026, 3, 10, 17, 30)),
    ("Friday after close, 3 days", at(2026, 3, 6, 20, 0), 3, at(2026, 3, 12, 17, 30)),
    # Spring Festival 2026: Sat 2/14 is worked, 2/15–2/23 off, Sat 2/28 worked.
    ("before Spring Festival, 1 day", at(2026, 2, 13), 1, at(2026, 2, 14, 17, 30)),
    ("before Spring Festival, 2 days", at(2026, 2, 13), 2, at(2026, 2, 24, 17, 30)),
    ("during Spring Festival, 1 day", at(2026, 2, 18), 1, at(2026, 2, 25, 17, 30)),
    # National Day: 9/30 worked, 10/1–10/7 off, Sat 10/10 is a make-up workday.
    ("National Day, 1 day", at(2026, 9, 29), 1, at(2026, 9, 30, 17, 30)),
    ("National Day, 2 days", at(2026, 9, 29), 2, at(2026, 10, 8, 17, 30)),
    ("make-up Saturday, 4 days", at(2026, 9, 29), 4, at(2026, 10, 10, 17, 30)),
    ("after the make-up Saturday, 5 days", at(2026, 9, 29), 5, at(2026, 10, 12, 17, 30)),
    ("started on the make-up Saturday", at(2026, 10, 10, 9), 1, at(2026, 10, 12, 17, 30)),
    ("started on a holiday", at(2026, 10, 3, 15), 1, at(2026, 10, 9, 17, 30)),
    # Fractions: a share of the day's 450 office minutes; 0.5 day = 3 h 45 min, lunch does not count.
    ("half a day from 10:00", at(2026, 3, 2, 10), 0.5, at(2026, 3, 2, 15, 15)),
    ("half a day from 17:00", at(2026, 3, 2, 17), 0.5, at(2026, 3, 3, 11, 45)),
    ("half a day from Sunday", at(2026, 3, 1, 15), 0.5, at(2026, 3, 2, 13, 45)),
    ("half a day from 08:00", at(2026, 3, 2, 8), 0.5, at(2026, 3, 2, 13, 45)),
    ("a day and a half", at(2026, 3, 2, 10), 1.5, at(2026, 3, 4, 13, 45)),
    ("2.5 days over a weekend", at(2026, 3, 5, 10), 2.5, at(2026, 3, 10, 13, 45)),
]


@pytest.mark.parametrize(("what", "start", "limit", "deadline"), WORKING_DAYS, ids=[w[0] for w in WORKING_DAYS])
def test_working_days(what, start, limit, deadline):
    assert workdays.add_working_days(start, limit) == (deadline, False)


WORKING_HOURS = [
    ("across lunch", at(2026, 9, 30, 11), 2, at(2026, 9, 30, 14, 30)),
    ("overnight", at(2026, 3, 2, 17), 2, at(2026, 3, 3, 10)),
    ("from the evening", at(2026, 3, 2, 21), 1, at(2026, 3, 3, 9, 30)),
    ("ending at close", at(2026, 3, 2, 13, 30), 4, at(2026, 3, 2, 17, 30)),
    ("ending at noon", at(2026, 3, 2, 10), 2, at(2026, 3, 2, 12)),
    # 1.5 h on 9/30, then the holiday, then 3.5 h on the morning of 10/8.
    ("across National Day", at(2026, 9, 30, 16), 5, at(2026, 10, 8, 12)),
    ("over a weekend", at(2026, 3, 6, 16), 8, at(2026, 3, 9, 16, 30)),
]


@pytest.mark.parametrize(("what", "start", "hours", "deadline"), WORKING_HOURS, ids=[w[0] for w in WORKING_HOURS])
def test_working_hours(what, start, hours, deadline):
    assert workdays.add_working_hours(start, hours) == (deadline, False)


def test_other_office_hours_are_passed_in():
    spans = ((time(9), time(12)), (time(14), time(18)))  # 420 minutes
    assert workdays.add_working_days(at(2026, 3, 1, 23, 57), 1, spans=spans).at == at(2026, 3, 3, 18)
    assert workdays.add_working_days(at(2026, 3, 2, 10), 0.5, spans=spans).at == at(2026, 3, 2, 15, 30)
    assert workdays.add_working_hours(at(2026, 3, 2, 11), 2, spans=spans).at == at(2026, 3, 2, 15)
    assert workdays.office_minutes(spans) == 420 and workdays.office_minutes() == 450
    no_lunch = ((time(8), time(12)), (time(12), time(16)))
    assert workdays.add_working_hours(at(2026, 3, 2, 11), 2, spans=no_lunch).at == at(2026, 3, 2, 13)
    with pytest.raises(ValueError):
        workdays.add_working_days(at(2026, 3, 2), 1, spans=((time(12), time(9)),))


def test_working_days_between():
    assert workdays.working_days_between(date(2026, 2, 13), date(2026, 2, 28)) == 6  # 14, 24–28


# --- years the package does not know --------------------------------------------------------------


def test_an_unknown_year_is_an_estimate_and_strict_refuses_it():
    with pytest.raises(workdays.UnknownYear) as exc:
        workdays.is_workday(date(2027, 3, 3))
    assert "2027" in str(exc.value) and "节假日" in str(exc.value)
    assert workdays.is_workday(date(2027, 3, 3), strict=False)
    # 2026-12-28 (Mon) + 10 working days reaches into 2027: weekends only, so Fri 1/1 counts.
    assert workdays.add_working_days(at(2026, 12, 28), 10) == (at(2027, 1, 11, 17, 30), True)
    assert workdays.add_working_days(at(2026, 12, 28), 3) == (at(2026, 12, 31, 17, 30), False)
    assert workdays.add_working_hours(at(2026, 12, 31, 16), 2) == (at(2027, 1, 1, 9), True)


def test_override_rows_count_but_only_a_declared_year_is_known():
    WorkdayOverride.objects.create(date=date(2027, 1, 1), is_workday=False, name="元旦")
    WorkdayOverride.objects.create(date=date(2026, 10, 12), is_workday=False, name="临时停工")
    assert not workdays.is_workday(date(2027, 1, 1), strict=False)
    assert workdays.add_working_days(at(2026, 10, 9), 2) == (at(2026, 10, 13, 17, 30), False)
    # One row for 2027 is not the whole year: still an estimate, and strict still refuses.
    assert workdays.add_working_days(at(2026, 12, 28), 10) == (at(2027, 1, 12, 17, 30), True)
    with pytest.raises(workdays.UnknownYear):
        workdays.is_workday(date(2027, 1, 4))
    assert not workdays.year_known(2027) and workdays.year_known(2026)
    assert workdays.estimated_between(date(2026, 12, 1), date(2027, 1, 5))
    WorkdayYear.objects.create(year=2027)
    assert workdays.add_working_days(at(2026, 12, 28), 10) == (at(2027, 1, 12, 17, 30), False)
    assert workdays.is_workday(date(2027, 1, 4)) and not workdays.is_workday(date(2027, 1, 1))
    assert workdays.year_known(2027) and not workdays.estimated_between(date(2026, 12, 1), date(2027, 1, 5))


# --- properties -----------------------------------------------------------------------------------


@st.composite
def office_hours(draw):
    """Valid office hours: morning_start < morning_end <= afternoon_start < afternoon_end."""
    minutes = sorted(draw(st.lists(st.integers(6 * 60, 21 * 60), min_size=4, max_size=4, unique=True)))
    if draw(st.booleans()):
        minutes[2] = minutes[1]  # no lunch break
    return tuple((time(a // 60, a % 60), time(b // 60, b % 60)) for a, b in (minutes[:2], minutes[2:]))


START = at(2026, 1, 1, 0, 0)
starts = st.integers(0, 360 * 24 * 60).map(lambda m: START + timedelta(minutes=m))
day_limits = st.sampled_from([0.5, 1, 1.5, 2, 2.5, 3, 5, 10, 15])
hour_limits = st.sampled_from([0.5, 1, 2, 4, 8, 24, 40])


def _within_office_hours(moment, spans):
    local = moment.astimezone(TZ)
    return workdays.is_workday(local.date(), strict=False) and any(a < local.time() <= b for a, b in spans)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=starts, later_by=st.integers(0, 9 * 24 * 60), limit=day_limits, hours=hour_limits, spans=office_hours())
def test_deadlines_are_after_the_start_in_office_hours_and_monotone(first, later_by, limit, hours, spans):
    second = first + timedelta(minutes=later_by)
    for add, amount in ((workdays.add_working_days, limit), (workdays.add_working_hours, hours)):
        one, two = add(first, amount, spans=spans), add(second, amount, spans=spans)
        assert one.at > first and two.at > second
        assert _within_office_hours(one.at, spans) and _within_office_hours(two.at, spans)
        assert one.at <= two.at, (first, second, amount)
    assert workdays.in_office_hours(workdays.add_working_days(first, limit, spans=spans).at, spans)
