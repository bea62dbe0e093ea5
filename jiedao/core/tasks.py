"""Background work. In-process worker threads by default, so a single machine needs nothing
else; `JIEDAO_TASKS=eager` runs tasks at once (tests, debugging).

Tasks are named by dotted path and take plain arguments (ids), so the same calls can be carried
by a real queue later without changing the callers.
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


def submit(path: str, *args: Any, **kwargs: Any) -> Future | None:
    """Run the function at `path` with the arguments, in the background unless eager."""
    global _executor
    if getattr(settings, "JIEDAO_TASKS", "thread") == "eager":
        _resolve(path)(*args, **kwargs)
        return None
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=getattr(settings, "JIEDAO_TASK_THREADS", 2),
                                       thread_name_prefix="jiedao-task")
    return _executor.submit(_run, path, args, kwargs)
