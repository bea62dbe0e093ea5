from datetime import timedelta

from django.utils import timezone

from jiedao.core import scheduler
from jiedao.core.models import JobRun


def test_due_jobs_run_once_and_are_rescheduled(db, monkeypatch):
    calls = []
    monkeypatch.setattr(scheduler, "JOBS", [scheduler.Job("probe", "tests.core.test_scheduler.probe",
                                                          scheduler.every(5))])
    monkeypatch.setattr("tests.core.test_scheduler.CALLS", calls, raising=False)
    now = timezone.now()
    assert scheduler.run_due(now) == ["probe"]
    assert scheduler.run_due(now) == []  # claimed: next run is in five minutes
    assert scheduler.run_due(now + timedelta(minutes=6)) == ["probe"]
    run = JobRun.objects.get(name="probe")
    assert run.last_result == "ran" and run.next_run_at > now + timedelta(minutes=6)
    assert len(CALLS) == 2


def test_a_failing_job_is_recorded_not_raised(db, monkeypatch):
    monkeypatch.setattr(scheduler, "JOBS", [scheduler.Job("boom", "tests.core.test_scheduler.boom", scheduler.every(5))])
    assert scheduler.run_due() == ["boom"]
    assert JobRun.objects.get(name="boom").last_result == "失败：ZeroDivisionError"


def test_next_monday():
    compute = scheduler.next_monday_at(1)
    moment = timezone.localtime(compute(timezone.now()))
    assert moment.weekday() == 0 and moment.hour == 1 and moment > timezone.localtime()


CALLS: list = []


def probe():
    CALLS.append(1)
    return "ran"


def boom():
    return 1 / 0
