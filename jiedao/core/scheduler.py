"""In-process scheduler for periodic jobs (deadline watch, weekly digests).

`jiedao serve` starts it in a background thread of the server's master process; `jiedao
scheduler` runs it in the foreground (for a separate process, or cron with `--once`). Each due
job is claimed by a compare-and-set on its JobRun row, so any number of processes may run the
loop against one database and every run still happens once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, close_old_connections, connections, transaction
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    path: str  # dotted path of a function taking no arguments
    next_after: Callable[[datetime], datetime]


def every(minutes: int) -> Callable[[datetime], datetime]:
    return lambda now: now + timedelta(minutes=minutes)


def next_monday_at(hour: int) -> Callable[[datetime], datetime]:
    def compute(now: datetime) -> datetime:
        local = timezone.localtime(now)
        days = (7 - local.weekday()) % 7 or 7
        return (local + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)

    return compute


JOBS = [
    Job("sla_scan", "jiedao.cases.sla.sla_scan", every(5)),
    Job("weekly_digests", "jiedao.cases.cycles.weekly_digests_generate_all", next_monday_at(1)),
    Job("classifier_retrain", "jiedao.insight.services.classifier_retrain_scheduled", next_monday_at(3)),
]


def _claim(job: Job, now: datetime) -> bool:
    from jiedao.core.models import JobRun

    run = JobRun.objects.filter(name=job.name).first()
    if run is None:
        with contextlib.suppress(IntegrityError), transaction.atomic():
            JobRun.objects.create(name=job.name, next_run_at=now)
        run = JobRun.objects.get(name=job.name)
    if run.next_run_at > now:
        return False
    return bool(JobRun.objects.filter(name=job.name, next_run_at=run.next_run_at).update(
        next_run_at=job.next_after(now), last_started_at=now))


def run_due(now: datetime | None = None) -> list[str]:
    """Run every job that is due and not claimed by another process; returns the names run."""
    from jiedao.core.models import JobRun
    from jiedao.core.tasks import _resolve

    ran = []
    for job in JOBS:
        now = now or timezone.now()
        if not _claim(job, now):
            continue
        try:
            result = _resolve(job.path)()
            outcome = str(result)[:500]
        except Exception as exc:  # a failing job must not stop the others
            log.exception("scheduled job %s failed", job.name)
            outcome = f"失败：{type(exc).__name__}"
        JobRun.objects.filter(name=job.name).update(last_finished_at=timezone.now(), last_result=outcome)
        ran.append(job.name)
    return ran


def loop(stop: threading.Event, interval: float = 30.0) -> None:
    while not stop.is_set():
        close_old_connections()
        try:
            run_due()
        except Exception:
            log.exception("scheduler pass failed")
        finally:
            connections.close_all()
        stop.wait(interval)


_thread: threading.Thread | None = None
_stop = threading.Event()


def start_background() -> None:
    """Start the loop in a daemon thread (once per process)."""
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=loop, args=(_stop,), name="jiedao-scheduler", daemon=True)
        _thread.start()


def run_forever() -> None:
    """Foreground loop for `jiedao scheduler` (stops on Ctrl-C)."""
    with contextlib.suppress(KeyboardInterrupt):
        loop(threading.Event())
