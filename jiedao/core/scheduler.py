"""Scheduler for periodic jobs (deadline watch, weekly digests).

Without a queue, `jiedao serve` starts it in a background thread of each server worker process
and runs the due jobs there; `jiedao scheduler` runs it in the foreground (for a separate
process, or cron with `--once`). Each due job is claimed by a compare-and-set on its JobRun row,
so any number of processes may run the loop against one database and every run still happens
once.

With a queue (JIEDAO_QUEUE_URL, see jiedao.core.queue) the same loop is the beat: it claims a due
job the same way and puts it on the queue instead of running it, and `jiedao worker` runs it.
`jiedao serve` then starts no scheduler; the beat runs inside `jiedao worker` (or `jiedao
scheduler`). We keep our loop rather than Celery beat because JOBS stays the one list of jobs (each app
registers its own in ready())
(with schedules such as "Mondays 01:00 local time" as plain functions), and because Celery beat
keeps its schedule per process: two beats would both send every job, while our claim lets any
number of beats run and still sends each slot once.
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


def every_seconds(seconds: int) -> Callable[[datetime], datetime]:
    return lambda now: now + timedelta(seconds=seconds)


def next_monday_at(hour: int) -> Callable[[datetime], datetime]:
    def compute(now: datetime) -> datetime:
        local = timezone.localtime(now)
        days = (7 - local.weekday()) % 7 or 7
        return (local + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)

    return compute


def next_day_at(hour: int) -> Callable[[datetime], datetime]:
    """Nightly: the next local day at `hour` o'clock."""

    def compute(now: datetime) -> datetime:
        local = timezone.localtime(now) + timedelta(days=1)
        return local.replace(hour=hour, minute=0, second=0, microsecond=0)

    return compute


# Every periodic job of the installation, in INSTALLED_APPS order: each app registers its own in
# its AppConfig.ready() (core knows no higher app's functions).
JOBS: list[Job] = []


def register(name: str, path: str, next_after: Callable[[datetime], datetime]) -> None:
    """Add a periodic job (`path`: the dotted path of a function taking no arguments). The name
    keys its JobRun row, so it must stay stable; a second registration of a name is refused."""
    if any(job.name == name for job in JOBS):
        raise ValueError(f"periodic job {name!r} is registered twice")
    JOBS.append(Job(name, path, next_after))


def _claim(job: Job, now: datetime, *, queued: bool = False) -> datetime | None:
    """Claim the job's due run (compare-and-set on next_run_at); the slot it held, or None."""
    from jiedao.core.models import JobRun

    run = JobRun.objects.filter(name=job.name).first()
    if run is None:
        with contextlib.suppress(IntegrityError), transaction.atomic():
            JobRun.objects.create(name=job.name, next_run_at=now)
        run = JobRun.objects.get(name=job.name)
    if run.next_run_at > now:
        return None
    changes: dict = {"next_run_at": job.next_after(now)}
    if queued:
        changes["queued_at"] = now
    else:
        changes["last_started_at"] = now
    if not JobRun.objects.filter(name=job.name, next_run_at=run.next_run_at).update(**changes):
        return None
    return run.next_run_at


def execute(name: str, path: str) -> str:
    """Run one job's function and record its outcome on the JobRun row (in-process or worker)."""
    from jiedao.core.models import JobRun
    from jiedao.core.tasks import _resolve

    try:
        result = _resolve(path)()
        outcome = str(result)[:500]
    except Exception as exc:  # a failing job must not stop the others
        log.exception("scheduled job %s failed", name)
        outcome = f"失败：{type(exc).__name__}"
    JobRun.objects.filter(name=name).update(last_finished_at=timezone.now(), last_result=outcome)
    return outcome


def _enqueue(job: Job, now: datetime, previous: datetime) -> bool:
    """Send a claimed run to the queue; if Redis refuses, give the slot back for the next pass."""
    from jiedao.core import queue
    from jiedao.core.models import JobRun

    try:
        queue.send_job(job.name, job.path, now)
    except Exception:
        log.exception("could not queue scheduled job %s; will retry", job.name)
        JobRun.objects.filter(name=job.name, queued_at=now).update(next_run_at=previous, queued_at=None)
        return False
    return True


def run_due(now: datetime | None = None) -> list[str]:
    """Run (or, with a queue, enqueue) every job that is due and not claimed by another process;
    returns the names run or enqueued."""
    from jiedao.core import queue

    queued = queue.enabled()
    ran = []
    for job in JOBS:
        now = now or timezone.now()
        previous = _claim(job, now, queued=queued)
        if previous is None:
            continue
        if queued:
            if _enqueue(job, now, previous):
                ran.append(job.name)
            continue
        execute(job.name, job.path)
        ran.append(job.name)
    return ran


def in_process() -> bool:
    """Whether `jiedao serve` runs the scheduler in its worker processes: not with a queue (the
    beat runs in `jiedao worker`), nor when JIEDAO_SCHEDULER is off."""
    import os

    from jiedao.core import queue

    if queue.enabled():
        return False
    return os.environ.get("JIEDAO_SCHEDULER", "on").lower() not in ("off", "0", "false", "no")


def loop(stop: threading.Event, interval: float = 5.0) -> None:
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
