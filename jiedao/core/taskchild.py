"""The child process of jiedao.core.tasks.submit_isolated:
`python -m jiedao.core.taskchild PATH ARGS_JSON MEMORY_MB`.

It caps its own address space first (RLIMIT_AS, before Django and the task's libraries load),
then runs the task like the in-process pool does. Exit status 0 when the task returned; 1 when
it raised (a MemoryError included); a native abort (calamine failing to allocate) ends it by a
signal. The parent records any of these through the task's `on_crash`.
"""

from __future__ import annotations

import json
import os
import resource
import sys


def main() -> int:
    path, arguments, memory_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cap = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    import django

    django.setup()
    from jiedao.core.tasks import _run

    try:
        _run(path, tuple(json.loads(arguments)), {})
    except BaseException:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
