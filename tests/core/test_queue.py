"""The real queue (Celery on Redis, JIEDAO_QUEUE_URL) and the in-process default.

These tests use the real Redis at JIEDAO_TEST_QUEUE_URL (default redis://127.0.0.1:6379/5), each
on a queue of its own name. Without Redis they are skipped, except under CI=true (`./dev.sh test`
in CI) where a missing Redis fails the run.

The worker is a real `jiedao worker` process on PostgreSQL. On SQLite the test database lives in
the test process's memory, where no other process can reach it, so there the worker is Celery's
real worker run in a thread of the test process (celery.contrib.testing.worker) — still consuming
from the real Redis, never eager mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from jiedao.core import queue, queue_worker, scheduler, tasks
from jiedao.core.models import JobRun

REPO = Path(__file__).resolve().parents[2]
PROBE_JOB = scheduler.Job("probe", "tests.core.queue_probe.job", scheduler.every(5))
WAIT_SECONDS = 90  # an upper bound for a slow shared machine, not a timing assertion


def _redis_url() -> str:
    return os.environ.get("JIEDAO_TEST_QUEUE_URL", "redis://127.0.0.1:6379/5")


@pytest.fixture
def redis_client():
    import redis

    url = _redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis 不可用（{url}）：{exc}；设置 JIEDAO_TEST_QUEUE_URL 指向可用的 Redis / Redis unreachable"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    yield client
    client.close()


@pytest.fixture
def on_queue(settings, redis_client):
    """The queue configured as in production, on a queue name of this test's own."""
    name = f"jiedao-test-{uuid.uuid4().hex[:12]}"
    settings.JIEDAO_QUEUE_URL = _redis_url()
    settings.JIEDAO_QUEUE_NAME = name
    settings.JIEDAO_TASKS = "thread"
    yield name
    for key in redis_client.scan_iter(match=f"*{name}*"):
        redis_client.delete(key)


def pending(client, name: str) -> int:
    """Messages waiting on the queue (kombu keeps each priority level in a Redis list)."""
    return sum(client.llen(key) for key in client.scan_iter(match=f"{name}*") if client.type(key) == b"list")


def wait_for(predicate, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


# --- without a queue: exactly the in-process behaviour ---------------------------------------------


def test_without_a_queue_jobs_and_tasks_run_in_process(db, settings, monkeypatch):
    settings.JIEDAO_QUEUE_URL = ""
    settings.JIEDAO_TASKS = "thread"
    monkeypatch.setattr(scheduler, "JOBS", [PROBE_JOB])
    assert not queue.enabled()
    assert scheduler.in_process()
    now = timezone.now()
    assert scheduler.run_due(now) == ["probe"]
    run = JobRun.objects.get(name="probe")
    assert run.last_result == str(os.getpid()) and run.queued_at is None  # ran here, not queued
    future = tasks.submit("tests.core.queue_probe.touch", "in-process.txt", "thread")
    future.result(timeout=30)  # a thread of this process
    assert (settings.DATA_DIR / "in-process.txt").read_text() == f"thread {os.getpid()}"


def test_with_a_queue_serve_runs_no_scheduler(settings, monkeypatch):
    monkeypatch.delenv("JIEDAO_SCHEDULER", raising=False)
    settings.JIEDAO_QUEUE_URL = ""
    assert scheduler.in_process()
    settings.JIEDAO_QUEUE_URL = "redis://127.0.0.1:6379/5"
    assert not scheduler.in_process()  # the beat runs in `jiedao worker` instead


# --- the beat: claims once, enqueues once ---------------------------------------------------------


def test_the_beat_enqueues_a_due_job_once(db, on_queue, redis_client, monkeypatch):
    monkeypatch.setattr(scheduler, "JOBS", [PROBE_JOB])
    now = timezone.now()
    assert scheduler.run_due(now) == ["probe"]
    assert scheduler.run_due(now) == []  # a second beat on the same slot: already claimed
    assert pending(redis_client, on_queue) == 1
    run = JobRun.objects.get(name="probe")
    assert run.queued_at == now and run.last_finished_at is None and run.next_run_at > now
    assert not (Path(queue.settings.DATA_DIR) / "queue-probe-job.log").exists()  # not run here
    assert scheduler.run_due(now + timedelta(minutes=6)) == ["probe"]  # the next slot
    assert pending(redis_client, on_queue) == 2


@pytest.mark.skipif("os.environ.get('JIEDAO_DATABASE_URL', '').split(':')[0] not in ('postgres', 'postgresql')",
                    reason="threads racing on one database need PostgreSQL (the SQLite test database is in memory)")
def test_two_beats_racing_enqueue_each_slot_once(transactional_db, on_queue, redis_client, monkeypatch):
    from django.db import connections

    monkeypatch.setattr(scheduler, "JOBS", [PROBE_JOB])
    JobRun.objects.create(name="probe", next_run_at=timezone.now() - timedelta(minutes=1))
    now = timezone.now()
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def beat():
        try:
            barrier.wait()
            results.append(scheduler.run_due(now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [], [], ["probe"]]
    assert pending(redis_client, on_queue) == 1


def test_an_unreachable_queue_gives_the_slot_back(db, settings, monkeypatch):
    settings.JIEDAO_QUEUE_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.JIEDAO_QUEUE_NAME = f"jiedao-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr(scheduler, "JOBS", [PROBE_JOB])
    JobRun.objects.create(name="probe", next_run_at=timezone.now() - timedelta(minutes=1))
    before = JobRun.objects.get(name="probe").next_run_at
    assert scheduler.run_due() == []
    run = JobRun.objects.get(name="probe")
    assert run.next_run_at == before and run.queued_at is None  # due again on the next pass


def test_an_unreachable_queue_runs_background_tasks_in_process(db, settings):
    settings.JIEDAO_QUEUE_URL = "redis://127.0.0.1:1/0"
    settings.JIEDAO_QUEUE_NAME = f"jiedao-test-{uuid.uuid4().hex[:12]}"
    settings.JIEDAO_TASKS = "thread"
    future = tasks.submit("tests.core.queue_probe.touch", "fallback.txt", "fallback")
    future.result(timeout=30)
    assert (settings.DATA_DIR / "fallback.txt").read_text() == f"fallback {os.getpid()}"


# --- a real worker ----------------------------------------------------------------------------------


def _test_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, settings, on_queue):
    """A real worker consuming this test's queue: a `jiedao worker` process on PostgreSQL, Celery's
    worker in a thread on SQLite (see the module docstring)."""
    if connection.vendor == "postgresql":
        env = {k: v for k, v in os.environ.items() if not k.startswith("JIEDAO_")}
        env.update(JIEDAO_DATA_DIR=str(settings.DATA_DIR), JIEDAO_DATABASE_URL=_test_database_url(),
                   JIEDAO_QUEUE_URL=settings.JIEDAO_QUEUE_URL, JIEDAO_QUEUE_NAME=on_queue,
                   JIEDAO_SECRET_KEY="queue-test", DJANGO_SETTINGS_MODULE="jiedao.settings")
        log = (settings.DATA_DIR / "worker.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "jiedao.cli", "worker", "--concurrency", "1", "--no-beat"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
    else:
        from celery.contrib.testing.worker import start_worker

        with start_worker(queue_worker.app(), pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield None


def test_a_real_worker_runs_queued_jobs_once_and_background_tasks(worker, settings, on_queue, redis_client,
                                                                   monkeypatch):
    monkeypatch.setattr(scheduler, "JOBS", [PROBE_JOB])
    now = timezone.now()
    assert scheduler.run_due(now) == ["probe"]  # the beat claims the slot and enqueues it
    queue.send_job("probe", PROBE_JOB.path, now)  # the same slot delivered a second time
    # A background task through the ordinary entry point; with one worker slot, messages run in
    # order, so once it is done both job messages have been handled.
    tasks.submit("tests.core.queue_probe.touch", "task-done.txt", "queued")
    marker = settings.DATA_DIR / "task-done.txt"
    text = wait_for(lambda: marker.exists() and marker.read_text(), "the background task")
    label, pid = text.split()
    assert label == "queued"
    assert (settings.DATA_DIR / "queue-probe-job.log").read_text() == f"{pid}\n"  # ran once, where the task ran
    run = JobRun.objects.get(name="probe")
    assert run.last_result == pid and run.queued_at is None and run.last_finished_at is not None
    assert pending(redis_client, on_queue) == 0
    if connection.vendor == "postgresql":
        assert int(pid) != os.getpid()  # another process: the `jiedao worker`
