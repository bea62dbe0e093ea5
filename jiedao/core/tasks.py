"""Background work. In-process worker threads by default, so a single machine needs nothing
else; `JIEDAO_TASKS=eager` runs tasks at once (tests, debugging); with JIEDAO_QUEUE_URL set they go
to the real queue (Celery on Redis, jiedao.core.queue) and `jiedao worker` runs them.

Tasks are named by dotted path and take plain arguments (ids, JSON values), so the same calls are
carried by the queue without changing the callers.

Work on untrusted input (validating an uploaded spreadsheet) goes through `submit_isolated`:
without a queue its thread starts a child process (jiedao.core.taskchild) whose address space is
capped (`JIEDAO_TASK_MEMORY_MB`) and waits for it (with a queue, the worker does the same), so a file that defeats every check of
jiedao.core.tabular ends that child — a MemoryError, or calamine aborting the process — and never
the web process; the task's `on_crash` records the failure (e.g. the import job fails).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
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


CHILD_TIMEOUT_SECONDS = 1800  # a child still running after this is killed (its reader stops far sooner)


def _run_child(path: str, args: tuple, on_crash: str, memory_mb: int | None = None) -> int:
    """Run the task in a child process under a memory cap; on a failure call `on_crash(*args)`.
    Returns the child's exit status (negative: the signal that ended it)."""
    memory_mb = memory_mb or getattr(settings, "JIEDAO_TASK_MEMORY_MB", 2048)
    env = {**os.environ}
    env["DJANGO_SETTINGS_MODULE"] = getattr(settings, "SETTINGS_MODULE", None) or env.get(
        "DJANGO_SETTINGS_MODULE", "jiedao.settings")
    root = Path(__file__).resolve().parents[2]  # this code, whatever the environment points at
    try:
        child = subprocess.run(
            [sys.executable, "-m", "jiedao.core.taskchild", path, json.dumps(list(args)), str(memory_mb)],
            cwd=root, env=env, timeout=CHILD_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        status, detail = child.returncode, child.stderr[-2000:].decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        status, detail = -9, "timed out"
    if status != 0:
        log.error("isolated task %s ended with status %s: %s", path, status, detail)
        _run(on_crash, args, {})
    return status


def run_isolated(path: str, args: list, on_crash: str) -> int:
    """What the queue's worker runs for `submit_isolated`: the task in a capped child process."""
    return _run_child(path, tuple(args), on_crash)


def submit_isolated(path: str, *args: Any, on_crash: str) -> Future | Any | None:
    """As `submit`, for work on untrusted input: without a queue, in a child process with capped
    memory (see the module docstring). `on_crash` is the dotted path of a function taking the
    same arguments, called when the child fails or is killed. Eager mode runs it at once, here."""
    global _executor
    if getattr(settings, "JIEDAO_TASKS", "thread") == "eager":
        _resolve(path)(*args)
        return None
    from jiedao.core import queue

    if queue.enabled():
        try:
            # The worker, too, runs it in a capped child: a native abort must not end a worker process.
            return queue.send_task("jiedao.core.tasks.run_isolated", (path, list(args), on_crash), {})
        except Exception:
            log.exception("task queue unreachable; running %s in a child process instead", path)
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=getattr(settings, "JIEDAO_TASK_THREADS", 2),
                                       thread_name_prefix="jiedao-task")
    return _executor.submit(_run_child, path, args, on_crash)


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
