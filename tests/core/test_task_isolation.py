"""Work on untrusted files runs in a child process with capped memory: whatever happens there
(a MemoryError, calamine aborting the process), the web process lives on and `on_crash` runs."""

import os
from concurrent.futures import ThreadPoolExecutor

from jiedao.core import tasks

PROBE = "tests.core.isolation_probe"


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def in_a_thread(*args, **kwargs):
    """As in the web process: the pool's thread starts the child and waits for it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(tasks._run_child, *args, **kwargs).result()


def test_running_out_of_memory_or_a_native_abort_ends_only_the_child(tmp_path, db):
    trace = tmp_path / "memory"
    assert in_a_thread(f"{PROBE}.allocate", (str(trace),), f"{PROBE}.crashed", memory_mb=1024) == 1
    ran, crashed = lines(trace)
    assert int(ran.split()[1]) != os.getpid() and crashed == "crashed"  # ran in a child; recorded here
    assert ran.split()[2] == "businesses,residents,welfare_payments"  # the child knows the import specs without the views
    trace = tmp_path / "abort"
    status = in_a_thread(f"{PROBE}.far_cell", (str(trace),), f"{PROBE}.crashed", memory_mb=1024)
    assert status < 0 and lines(trace)[-1] == "crashed"  # ended by a signal (SIGABRT)


def test_with_a_queue_the_worker_runs_the_task_in_a_child_too(settings, monkeypatch):
    from jiedao.core import queue

    sent = []
    settings.JIEDAO_TASKS = "thread"
    monkeypatch.setattr(queue, "enabled", lambda: True)
    monkeypatch.setattr(queue, "send_task", lambda path, args, kwargs: sent.append((path, args, kwargs)))
    tasks.submit_isolated("jiedao.core.imports.import_validate_by_id", 7,
                          on_crash="jiedao.core.imports.import_validate_crashed")
    assert sent == [("jiedao.core.tasks.run_isolated",
                     ("jiedao.core.imports.import_validate_by_id", [7], "jiedao.core.imports.import_validate_crashed"), {})]
