"""Background work. In-process worker threads by default, so a single machine needs nothing
else; `JIEDAO_TASKS=eager` runs tasks at once (tests, debugging); with JIEDAO_QUEUE_URL set they go
to the real queue (Celery on Redis, jiedao.core.queue) and `jiedao worker` runs them.

Tasks are named by dotted path and take plain arguments (ids, JSON values), so the same calls are
carried by the queue without changing the callers.
"""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

log = logging.getLogger(__name__)
_executor: ThreadPoolExecutor | None = None


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _run(path: str, args: tuple, kwargs: dict) -> Any:
    close_old_connections()
    try:
        return _resolve(path)(*args, **kwargs)
    except Exception:
        log.exception("background task %s failed", path)
        raise
    finally:
        connections.close_all()


def submit(path: str, *args: Any, **kwargs: Any) -> Future | Any | None:
    """Run the function at `path` with the arguments, in the background unless eager: on the
    queue when one is configured (a Celery AsyncResult), else in a thread (a Future)."""
    global _executor
    if getattr(settings, "JIEDAO_TASKS", "thread") == "eager":
        _resolve(path)(*args, **kwargs)
        return None
    from jiedao.core import queue

    if queue.enabled():
        try:
            return queue.send_task(path, args, kwargs)
        except Exception:
            # Redis unreachable: the work still gets done, here, rather than failing the request.
            log.exception("task queue unreachable; running %s in-process instead", path)
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=getattr(settings, "JIEDAO_TASK_THREADS", 2),
                                       thread_name_prefix="jiedao-task")
    return _executor.submit(_run, path, args, kwargs)
