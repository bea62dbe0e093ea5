"""Where the time of one real intake request goes: queries per request (with their SQL) and CPU
milliseconds per request, in-process through Django's test client (no server, no network).

Seeds the demo into a scratch SQLite database (or the PostgreSQL database given), files
--requests cases through `POST /api/v1/cases` with grid workers' API tokens, and prints the
queries of one warm request and the mean CPU time. With --profile, also a pyinstrument profile.

Usage: .venv/bin/python bench/intake_profile.py [--requests 300] [--postgres URL] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ticks(pid: int | None) -> int:
    """utime + stime of a process so far, in clock ticks (0 without one)."""
    if not pid:
        return 0
    stat = Path("/proc", str(pid), "stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


class Sampler:
    """A statistical profiler on the process's CPU clock (ITIMER_PROF): every 0.5 ms of CPU the
    signal handler records the main thread's stack. Shares of samples are shares of CPU; unlike
    cProfile it does not inflate many small Python calls."""

    INTERVAL = 0.0005

    def __init__(self) -> None:
        import collections
        import signal

        self.stacks: collections.Counter = collections.Counter()
        self.signal = signal
        signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.INTERVAL, self.INTERVAL)

    def _sample(self, signum, frame) -> None:
        stack = []
        while frame is not None:
            code = frame.f_code
            stack.append(f"{code.co_filename.rsplit('site-packages/', 1)[-1].replace(str(ROOT) + '/', '')}"
                         f":{code.co_firstlineno}({code.co_name})")
            frame = frame.f_back
        self.stacks[tuple(stack)] += 1

    def stop(self) -> None:
        self.signal.setitimer(self.signal.ITIMER_PROF, 0, 0)

    def report(self, top: int, ms_per_request: float) -> None:
        import collections

        total = sum(self.stacks.values()) or 1
        inclusive: collections.Counter = collections.Counter()
        own: collections.Counter = collections.Counter()
        for stack, n in self.stacks.items():
            own[stack[0]] += n
            for name in set(stack):
                inclusive[name] += n
        print(f"# {total} samples; share of the request's CPU ({ms_per_request:.2f} ms), µs per request")
        for title, counter in (("inclusive", inclusive), ("self", own)):
            print(f"## {title}")
            for name, n in counter.most_common(top):
                print(f"{100 * n / total:6.1f}%  {ms_per_request * 1000 * n / total:7.0f} µs  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N",
                        help="print the N costliest functions by cumulative time (cProfile, no extra package)")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="sample the stack every 0.5 ms of CPU (no extra package, little overhead) and print the"
                             " N functions with the largest inclusive and self shares")
    parser.add_argument("--no-category", action="store_true", help="file without a category (suggestion runs)")
    parser.add_argument("--seeded", default="", help="reuse this data dir (already seeded)")
    parser.add_argument("--bare", action="store_true", help="measure the bare insert (/bench/bare-intake) instead")
    args = parser.parse_args()
    data_dir = args.seeded or tempfile.mkdtemp(prefix="jiedao-profile-")
    # bench.settings: the project's settings and routes plus /bench/bare-intake (bench/views.py)
    os.environ.update(JIEDAO_DATA_DIR=data_dir, JIEDAO_SCHEDULER="off", DJANGO_SETTINGS_MODULE="bench.settings",
                      PYTHONPATH=str(ROOT), JIEDAO_LOG_LEVEL="WARNING")
    if args.postgres:
        os.environ["JIEDAO_DATABASE_URL"] = args.postgres
    if not args.seeded:
        subprocess.run([str(ROOT / ".venv" / "bin" / "jiedao"), "seed", "--force"], check=True, capture_output=True)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from jiedao.core.services import token_create
    from jiedao.org.models import OrgNode, User

    workers = []
    for n in range(1, 25):
        user = User.objects.get(username=f"wangge{n:02d}")
        grid = user.assignments.get().node
        building = OrgNode.objects.filter(path__startswith=grid.path, kind="building").first()
        _, token = token_create(actor=user, name="profile")
        workers.append((token, grid.pk, building.pk))
    client = Client()

    def body(i: int) -> tuple[str, str]:
        token, node, building = workers[i % len(workers)]
        fields = {"source": "door_visit", "node": node, "building": building, "title": "楼下垃圾三天没人清运",
                  "description": "1幢楼下垃圾堆放三天，臭气熏天，请尽快处理。", "reporter_name": "陈阿姨",
                  "reporter_phone": "13812345678"}
        if not args.no_category:
            fields["category"] = "exposed_garbage"
        return token, json.dumps(fields, ensure_ascii=False)

    def post(i: int):
        token, data = body(i)
        if args.bare:
            return client.post("/bench/bare-intake", data, content_type="application/json")
        return client.post("/api/v1/cases", data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")

    for i in range(len(workers) * 2):  # warm: every token seen twice
        assert post(i).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = post(0)
    assert response.status_code == 201, response.content
    print(f"# one warm request: {len(queries.captured_queries)} queries, response {len(response.content)} bytes")
    for q in queries.captured_queries:
        print("  ", q["sql"][:160])
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002)
        profiler.start()
    cprofiler = None
    if args.cprofile:
        import cProfile

        cprofiler = cProfile.Profile(time.process_time)
        cprofiler.enable()
    backend = None
    if connection.vendor == "postgresql":  # the backend serving this process: its CPU from /proc
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    backend_ticks = _ticks(backend)
    sampler = Sampler() if args.sample else None
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(args.requests):
        post(i)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    backend_ms = 1000 * (_ticks(backend) - backend_ticks) / os.sysconf("SC_CLK_TCK") / args.requests
    if sampler:
        sampler.stop()
        sampler.report(args.sample, 1000 * cpu / args.requests)
    if cprofiler:
        import pstats

        cprofiler.disable()
        stats = pstats.Stats(cprofiler).sort_stats("cumulative")
        stats.print_stats(args.cprofile)
        if os.environ.get("PROFILE_CALLEES"):  # e.g. PROFILE_CALLEES=_intake_insert
            stats.print_callees(os.environ["PROFILE_CALLEES"])
        if os.environ.get("PROFILE_CALLERS"):  # e.g. PROFILE_CALLERS=from_db
            stats.print_callers(os.environ["PROFILE_CALLERS"])
    if profiler:
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))
    db = ("PostgreSQL" if args.postgres else "SQLite") + (" bare insert" if args.bare else " real intake")
    print(f"{db}: {args.requests} requests, CPU {1000 * cpu / args.requests:.2f} ms/request, "
          f"wall {1000 * wall / args.requests:.2f} ms/request (one thread, in-process)"
          + (f"; PostgreSQL backend CPU {backend_ms:.2f} ms/request" if backend else ""))
    print(f"data dir: {data_dir}")


if __name__ == "__main__":
    main()
