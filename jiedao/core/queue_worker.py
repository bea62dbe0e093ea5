"""The worker side of the queue (jiedao.core.queue sends): the two Celery tasks and `jiedao worker`.

A worker runs exactly what the in-process default runs: a task through jiedao.core.tasks, a
periodic job through jiedao.core.scheduler.execute.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from jiedao.core import queue, scheduler
from jiedao.core.tasks import _run

log = logging.getLogger(__name__)
_lock = threading.Lock()


def app() -> Any:
    """The configured Celery application with the two tasks registered, for a worker."""
    celery_app = queue.get_app()
    with _lock:
        if queue.RUN_TASK not in celery_app.tasks:
            celery_app.task(name=queue.RUN_TASK, ignore_result=True)(run_task)
            celery_app.task(name=queue.RUN_JOB, ignore_result=True)(run_job)
    return celery_app


def run_task(path: str, args: list, kwargs: dict) -> None:
    """Worker side of queue.send_task: the same call the in-process pool makes."""
    _run(path, tuple(args), kwargs)


def run_job(name: str, path: str, slot: str) -> str:
    """Worker side of queue.send_job: start the run only if this slot is still queued (compare-and-set),
    then run it and record the outcome like the in-process scheduler does."""
    from django.db import close_old_connections
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    from jiedao.core.models import JobRun

    close_old_connections()
    moment = parse_datetime(slot)
    started = JobRun.objects.filter(name=name, queued_at=moment).update(queued_at=None,
                                                                         last_started_at=timezone.now())
    if not started:
        log.info("job %s for %s already started elsewhere; skipped", name, slot)
        return "skipped"
    return scheduler.execute(name, path)


# --- `jiedao worker` ------------------------------------------------------------------------------


def run_worker(*, concurrency: int | None, pool: str, beat: bool, loglevel: str = "INFO") -> None:
    """Start a Celery worker on the configured queue in the foreground (blocks until stopped).

    With `beat`, the scheduler loop runs in a thread of the worker's main process once the worker
    is ready, enqueuing due jobs; any number of workers may do so (claims are compare-and-set)."""
    from celery import signals

    if beat:
        def start_beat(**_kwargs: Any) -> None:
            scheduler.start_background()

        signals.worker_ready.connect(start_beat, weak=False)
    argv = ["worker", f"--loglevel={loglevel}", f"--pool={pool}", "-Q", queue.queue_name(),
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    app().worker_main(argv)
