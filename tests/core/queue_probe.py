"""Functions the queue tests send to a real worker (a separate process on PostgreSQL): each
leaves a trace in the data directory that the test reads back."""

import os

from django.conf import settings


def job() -> str:
    """A periodic job: appends one line per run, returns the worker's process id."""
    with (settings.DATA_DIR / "queue-probe-job.log").open("a") as out:
        out.write(f"{os.getpid()}\n")
    return str(os.getpid())


def touch(name: str, text: str) -> None:
    """A background task: writes `text` and the worker's process id to a file."""
    (settings.DATA_DIR / name).write_text(f"{text} {os.getpid()}")
