"""Queue SQLite writers on a lock instead of in SQLite's busy handler.

SQLite allows one writer at a time. A connection that finds the database locked sleeps in its
busy handler in growing steps (up to 100 ms) and retries, so under load writers wait far longer
than the lock is actually held: a long latency tail. `write_lock()` makes writers queue instead:
a lock shared by the threads of a process and an flock(2) on a file beside the database shared
by the processes, both of which wake the next waiter the moment the holder commits.

On PostgreSQL (row locks, no database-wide write lock) it does nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

from django.db import connection

_thread_lock = threading.Lock()
_files: dict[tuple[int, str], int] = {}  # (pid, path) -> open descriptor (a forked worker opens its own)


def _lock_fd(path: str) -> int:
    key = (os.getpid(), path)
    fd = _files.get(key)
    if fd is None:
        fd = _files[key] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd


def _lock_path() -> str | None:
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
        return None
    return name + "-writelock"


@contextlib.contextmanager
def write_lock() -> Iterator[None]:
    """Hold around a write transaction (outside any atomic block) so writers queue in order."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        # Inside an open transaction the write lock may already be held: waiting here could
        # deadlock with a writer in another process, so only top-level transactions queue.
        yield
        return
    path = _lock_path()
    with _thread_lock:
        fd = _lock_fd(path) if path else None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
