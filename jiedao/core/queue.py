"""The real queue: Celery with Redis as broker, used only when JIEDAO_QUEUE_URL is set.

Two Celery tasks carry everything, so no caller needs to know about Celery:

* ``jiedao.run_task(path, args, kwargs)`` — background work submitted through
  jiedao.core.tasks.submit (imports, and any future task): the dotted path of a function and
  plain arguments (ids), exactly what the in-process thread pool receives.
* ``jiedao.run_job(name, path, slot)`` — one run of a periodic job of jiedao.core.scheduler.JOBS.
  The beat (our scheduler loop, see there) claims the slot by compare-and-set on the job's
  JobRun row and sets ``queued_at = slot``; the worker starts the run only by clearing
  ``queued_at`` where it still equals the slot (a second compare-and-set). Two beats cannot both
  claim a slot, and a message delivered twice (a worker lost mid-task, a re-sent message) runs
  once.

Messages are JSON (never pickle) and no results are stored: outcomes of jobs are written to their
JobRun rows, and background tasks record their own progress (e.g. an import job's state).
`jiedao worker` starts a worker (and, unless --no-beat, the beat loop in a thread of it).

This module only sends; the worker side (the two tasks, `jiedao worker`) is
jiedao.core.queue_worker, so the senders (tasks.submit, the scheduler) import this module without
it importing them back.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from django.conf import settings

RUN_TASK = "jiedao.run_task"
RUN_JOB = "jiedao.run_job"

_apps: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def enabled() -> bool:
    """True when a queue is configured (JIEDAO_QUEUE_URL)."""
    return bool(getattr(settings, "JIEDAO_QUEUE_URL", ""))


def queue_name() -> str:
    return getattr(settings, "JIEDAO_QUEUE_NAME", "jiedao")


def get_app() -> Any:
    """The Celery application for the configured broker and queue (one per configuration)."""
    from celery import Celery

    key = (settings.JIEDAO_QUEUE_URL, queue_name())
    with _lock:
        app = _apps.get(key)
        if app is not None:
            return app
        app = Celery("jiedao", broker=key[0], set_as_current=False)
        app.conf.update(
            task_default_queue=key[1],
            task_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,
            result_backend=None,
            enable_utc=True,
            timezone=settings.TIME_ZONE,
            # One message at a time per process: a long import does not hold back queued jobs.
            worker_prefetch_multiplier=1,
            worker_hijack_root_logger=False,
            worker_send_task_events=False,
            broker_connection_retry_on_startup=True,
            broker_connection_timeout=5,
            # Sending must not hang a web request when Redis is down: fail fast, the caller reports it.
            broker_transport_options={"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                      "interval_max": 1, "socket_connect_timeout": 5, "socket_timeout": 10},
        )
        _apps[key] = app
        return app


def send_task(path: str, args: tuple, kwargs: dict) -> Any:
    """Put one background task on the queue."""
    return get_app().send_task(RUN_TASK, args=[path, list(args), kwargs], queue=queue_name(), retry=False)


def send_job(name: str, path: str, slot: datetime) -> Any:
    """Put one claimed run of a periodic job on the queue."""
    return get_app().send_task(RUN_JOB, args=[name, path, slot.isoformat()], queue=queue_name(), retry=False)
