"""Benchmark: the real queue (Celery on Redis) against the in-process thread pool.

Prints, for N no-op background tasks submitted through jiedao.core.tasks.submit:

  thread   the default: in-process worker threads (JIEDAO_TASKS=thread), submit + run
  enqueue  with JIEDAO_QUEUE_URL: putting the messages on Redis (what a web request pays)
  worker   a real `jiedao worker` process (prefork) draining them (tasks/s, end to end)

and the latency of one periodic job through the queue: the beat claims and enqueues it, the
worker claims it again and records the result on its JobRun row (median and p90 of --jobs runs).

Usage:  .venv/bin/python bench/queue_throughput.py [--tasks 2000] [--jobs 30] [--concurrency 2]
                                                  [--queue-url redis://127.0.0.1:6379/5]
                                                  [--database-url postgres://…]   (default: SQLite)
Runs on a fresh data directory (and, on SQLite, a fresh database); timings on a shared 2-core
machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
COUNTER = "jiedao-bench-counter"


def noop() -> None:
    """The task: count itself in Redis (so the benchmark knows when all have run)."""
    import redis

    redis.Redis.from_url(os.environ["JIEDAO_QUEUE_URL"]).incr(COUNTER + os.environ["JIEDAO_QUEUE_NAME"])


def thread_noop() -> None:
    pass


def noop_job() -> str:
    return "ok"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--queue-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="jiedao-bench-queue-")
    queue_name = f"jiedao-bench-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIEDAO_")}
    env.update(JIEDAO_DATA_DIR=data_dir, JIEDAO_QUEUE_URL=args.queue_url, JIEDAO_QUEUE_NAME=queue_name,
               JIEDAO_SECRET_KEY="bench", DJANGO_SETTINGS_MODULE="jiedao.settings",
               PYTHONPATH=f"{BENCH}{os.pathsep}{ROOT}")
    if args.database_url:
        env["JIEDAO_DATABASE_URL"] = args.database_url
    os.environ.update(env)
    sys.path[:0] = [str(BENCH), str(ROOT)]
    subprocess.run([sys.executable, "-m", "jiedao.cli", "manage", "migrate", "-v", "0"], cwd=ROOT, env=env,
                   check=True)

    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.utils import timezone

    from jiedao.core import scheduler, tasks
    from jiedao.core.models import JobRun

    client = redis.Redis.from_url(args.queue_url)
    counter = COUNTER + queue_name
    n = args.tasks
    print(f"queue_throughput: {n} no-op tasks, {args.jobs} jobs, worker concurrency {args.concurrency}, "
          f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, Redis {args.queue_url}")

    # 1. the default: in-process threads
    settings.JIEDAO_QUEUE_URL = ""
    started = time.perf_counter()
    futures = [tasks.submit("queue_throughput.thread_noop") for _ in range(n)]
    for future in futures:
        future.result()
    elapsed = time.perf_counter() - started
    print(f"  thread   submit+run  {n / elapsed:10.0f} tasks/s")

    # 2. enqueue onto Redis (no worker yet)
    settings.JIEDAO_QUEUE_URL = args.queue_url
    started = time.perf_counter()
    for _ in range(n):
        tasks.submit("queue_throughput.noop")
    elapsed = time.perf_counter() - started
    print(f"  enqueue  submit      {n / elapsed:10.0f} tasks/s  ({elapsed / n * 1000:.2f} ms per submit)")

    # 3. a real worker drains them
    log = open(Path(data_dir) / "worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen([sys.executable, "-m", "jiedao.cli", "worker", "--no-beat",
                               "--concurrency", str(args.concurrency), "--loglevel", "WARNING"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while int(client.get(counter) or 0) == 0:  # start-up is not part of the throughput
            time.sleep(0.01)
        first, started = int(client.get(counter)), time.perf_counter()
        while int(client.get(counter) or 0) < n:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        print(f"  worker   run         {(n - first) / elapsed:10.0f} tasks/s  (real `jiedao worker`, "
              f"prefork × {args.concurrency})")

        # 4. one periodic job through the beat and the worker, end to end
        scheduler.JOBS[:] = [scheduler.Job("bench", "queue_throughput.noop_job", scheduler.every(5))]
        latencies = []
        for _ in range(args.jobs):
            JobRun.objects.filter(name="bench").update(next_run_at=timezone.now(), last_finished_at=None)
            started = time.perf_counter()
            assert scheduler.run_due() == ["bench"]
            while not JobRun.objects.filter(name="bench", last_finished_at__isnull=False).exists():
                time.sleep(0.002)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        print(f"  job      beat→done   median {statistics.median(latencies):6.1f} ms, "
              f"p90 {latencies[int(len(latencies) * 0.9) - 1]:6.1f} ms")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
        for key in client.scan_iter(match=f"*{queue_name}*"):
            client.delete(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
