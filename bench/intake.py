"""Benchmark: cases filed per second through the real intake API, against a bare endpoint in the
same server (parse, check two fields, insert one case row and one audit row) and a no-op
endpoint — side by side in one run, on SQLite and on PostgreSQL.

Each database gets the demo sub-district (`jiedao seed`); the server is the `serve` command
(gunicorn, 4 workers x 2 threads, its default on 2 cores) run through manage.py under the
benchmark's settings, bench.settings (the project's routes plus the reference endpoints of
bench/views.py); the load is wrk (Debian's package) with 8 connections for --seconds per
endpoint, from the same 2-core machine. The real intake is
`POST /api/v1/cases` by a grid worker's API token: token check, scope, validation, phone
encryption, ticket, the case row, its first transition row, the rollup counter and the hash-chained
audit row, in one transaction.

Every 5th real request (--suggest-every) leaves out the category, so intake runs the category
suggestion for it. After the load, the work intake leaves to jobs (folding the rollup deltas,
recording the suggestion of cases filed with a category) is run and timed per row.

The bare floor is measured twice: with the case row saved through the ORM (a plain Django
endpoint) and through the cached insert the real intake uses (`?cached`, the stricter floor). --rounds N alternates the three endpoints N times and prints the median ratio.

Beside each rate: the server's CPU per request — utime + stime from /proc/<pid>/stat of every
process in the server's process group (the gunicorn master and its workers), read before and after
the load and divided by the requests served. Not the machine's CPU: on a shared machine that
counts everyone else's work (2 cores / rate when the machine is saturated).

Usage: .venv/bin/python bench/intake.py [--seconds 15] [--rounds 3] [--port 8791]
           [--postgres postgres://postgres@127.0.0.1:5432/jiedao_bench]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
JIEDAO = str(ROOT / ".venv" / "bin" / "jiedao")
PYTHON = str(ROOT / ".venv" / "bin" / "python")

# 24 grid workers of the demo, each filing in their own grid: requests spread over grids,
# buildings and categories as they do in a real sub-district.
SETUP = r"""
import json, django; django.setup()
from jiedao.core.services import token_create
from jiedao.org.models import User, OrgNode
out = []
for n in range(1, 25):
    user = User.objects.get(username=f"wangge{n:02d}")
    grid = user.assignments.get().node
    building = OrgNode.objects.filter(path__startswith=grid.path, kind="building").first()
    _, token = token_create(actor=user, name="bench")
    out.append({"token": token, "node": grid.pk, "building": building.pk, "org_path": building.path})
print(json.dumps(out))
"""
# The intake's deferred work, run after the load on the same database: the rollup fold (every 5 s
# in production) and the suggestion backfill (every minute), timed per row they handled.
DEFERRED = r"""
import time, django; django.setup()
from jiedao.cases.statistics import rollups
from jiedao.cases.models import Case
from jiedao.insight import services
from jiedao.insight import selectors
selectors.warm()  # the job runs in a process that has the model loaded already
missing = Case.objects.filter(suggestion__isnull=True).count()
t = time.process_time(); w = time.perf_counter(); folded = rollups.fold()
fold_cpu, fold_wall = time.process_time() - t, time.perf_counter() - w
t = time.process_time(); w = time.perf_counter(); services.suggestion_backfill(max_batches=10_000)
fill_cpu, fill_wall = time.process_time() - t, time.perf_counter() - w
filled = missing - Case.objects.filter(suggestion__isnull=True).count()
print(f"fold {folded} deltas: {1000 * fold_cpu / max(folded, 1):.3f} ms CPU, {1000 * fold_wall / max(folded, 1):.3f} ms"
      f" wall per delta; suggestion backfill {filled} cases: {1000 * fill_cpu / max(filled, 1):.3f} ms CPU,"
      f" {1000 * fill_wall / max(filled, 1):.3f} ms wall per case")
"""
CATEGORIES = ["exposed_garbage", "street_lamp", "neighbour_dispute", "illegal_parking", "public_space",
              "elevator", "property_management", "fire_hazard", "street_vending", "pet_nuisance"]

LUA = """
local requests = {{}}
{entries}
local n = 0
request = function()
  n = n + 1
  local r = requests[(n % #requests) + 1]
  return wrk.format("POST", nil, r[1], r[2])
end
"""


def run(cmd: list[str], env: dict, **kw) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    sys.exit(f"server at {url} did not start")


def _stat_fields(pid: str) -> list[str] | None:
    try:
        stat = Path("/proc", pid, "stat").read_text()
    except OSError:  # the process ended while we looked
        return None
    return stat[stat.rindex(")") + 2:].split()  # the fields after "pid (comm) "; comm may hold spaces


def process_ticks(pgid: int, database: str | None) -> tuple[dict[int, int], dict[int, int]]:
    """({pid: utime + stime clock ticks} of the server, the same of the database backends) so
    far, from /proc/<pid>/stat. The server is every live process in process group `pgid`: the
    gunicorn master and the workers it forked, in the group the benchmark started it in — nobody
    else on the machine. The database backends are PostgreSQL's processes serving `database`
    (their title names it); none on SQLite, where the database work is in the server's processes."""
    server: dict[int, int] = {}
    backends: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or (fields := _stat_fields(entry.name)) is None:
            continue
        ticks = int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
        if int(fields[2]) == pgid:  # field 5, pgrp
            server[int(entry.name)] = ticks
        elif database:
            try:
                title = Path(entry.path, "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {database} " in title:
                backends[int(entry.name)] = ticks
    return server, backends


def _spent(before: dict[int, int], after: dict[int, int]) -> int:
    """Ticks spent between two readings by the processes alive at the second (a process started
    in between counts from zero). Worker recycling is off and the server's database connections
    outlive the run (JIEDAO_DB_CONN_MAX_AGE), so no process exits with uncounted ticks."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items())


def wrk(url: str, seconds: int, script: Path | None, pgid: int, database: str | None) -> tuple[float, float, float, str]:
    """(requests/s, server CPU ms per request, database backend CPU ms per request, notes). The
    server figure is the CPU time the server's own processes (process group `pgid`: gunicorn's
    master and workers) spent during the load, divided by the requests served — neither wrk nor
    anyone else's work on a shared machine counts, so it stays comparable when the rate does not."""
    cmd = ["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    before, db_before = process_ticks(pgid, database)
    out = subprocess.run([*cmd, url], capture_output=True, text=True).stdout
    after, db_after = process_ticks(pgid, database)
    processes = len(after)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = max(int(re.search(r"(\d+) requests in", out).group(1)), 1)
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    cpu_ms, db_ms = tick_ms * _spent(before, after) / total, tick_ms * _spent(db_before, db_after) / total
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    note = f"p50 {p50}, server CPU {cpu_ms:.2f} ms/request ({processes} processes)"
    if database:
        note += f", PostgreSQL backends {db_ms:.2f} ms/request"
    return rate, cpu_ms, db_ms, note + (f", {non2xx.group(1)} non-2xx" if non2xx else "")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def bench_database(label: str, database_url: str | None, seconds: int, port: int, rounds: int = 1,
                   suggest_every: int = 0, workers_n: int = 4, threads: int = 2) -> dict[str, float]:
    data_dir = tempfile.mkdtemp(prefix="jiedao-intake-")
    # JIEDAO_MAX_REQUESTS=0: the no-op rounds alone pass gunicorn's 5,000-request recycling mark, so
    # workers would be replaced (cold caches, new connections) at random points of the other
    # endpoints' rounds; the benchmark measures the steady state.
    # PYTHONPATH: every step (seed, server, jobs) runs this checkout's code, and bench is importable.
    # JIEDAO_DB_CONN_MAX_AGE: PostgreSQL connections kept for the whole run, so no backend exits
    # (taking its CPU ticks with it) between the two readings of an endpoint's load.
    env = dict(os.environ, JIEDAO_DATA_DIR=data_dir, JIEDAO_SCHEDULER="off",
               JIEDAO_MAX_REQUESTS="0", JIEDAO_DB_CONN_MAX_AGE="3600", PYTHONPATH=str(ROOT),
               DJANGO_SETTINGS_MODULE="jiedao.settings", JIEDAO_LOG_LEVEL="WARNING")
    env.pop("JIEDAO_DATABASE_URL", None)
    if database_url:
        env["JIEDAO_DATABASE_URL"] = database_url
    run([JIEDAO, "seed", "--force"], env)
    workers = json.loads(run([PYTHON, "-c", SETUP], env, cwd=ROOT).strip().splitlines()[-1])
    real_entries, bare_entries = [], []
    for index in range(240):
        who = workers[index % len(workers)]
        fields = {"source": "door_visit", "node": who["node"], "building": who["building"],
                  "title": "楼下垃圾三天没人清运", "description": "1幢楼下垃圾堆放三天，臭气熏天，请尽快处理。",
                  "category": CATEGORIES[index % len(CATEGORIES)], "reporter_name": "陈阿姨",
                  "reporter_phone": "13812345678"}
        if suggest_every and index % suggest_every == 0:
            del fields["category"]  # filed without a category: intake runs the category suggestion
        headers = '{["Content-Type"] = "application/json", ["Authorization"] = "Bearer ' + who["token"] + '"}'
        real_entries.append(f"requests[#requests + 1] = {{{headers}, [[{json.dumps(fields, ensure_ascii=False)}]]}}")
        bare_body = json.dumps({**fields, "org_path": who["org_path"]}, ensure_ascii=False)
        bare_entries.append(f'requests[#requests + 1] = {{{{["Content-Type"] = "application/json"}}, [[{bare_body}]]}}')
    scripts = Path(data_dir)
    real = scripts / "real.lua"
    real.write_text(LUA.format(entries="\n".join(real_entries)))
    bare = scripts / "bare.lua"
    bare.write_text(LUA.format(entries="\n".join(bare_entries)))
    # `jiedao serve` always loads the production settings; manage.py runs the same command with
    # the benchmark's.
    server_env = dict(env, DJANGO_SETTINGS_MODULE="bench.settings")
    server = subprocess.Popen([PYTHON, str(ROOT / "manage.py"), "serve", "--port", str(port), "--workers", str(workers_n),
                               "--threads", str(threads)],
                              env=server_env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    database = urlsplit(database_url).path.lstrip("/") if database_url else None
    try:
        wait_ready(base + "/bench/noop")
        wrk(base + "/bench/noop", 3, None, server.pid, database)  # warm up every worker thread
        results: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        db_cpu: dict[str, list[float]] = {}
        ratios, strict = [], []
        # Rounds alternate the endpoints, so a burst of load from elsewhere on the machine hits
        # both sides of the ratio rather than one; the median ratio is the figure to quote.
        for round_no in range(1, rounds + 1):
            tag = f" r{round_no}" if rounds > 1 else ""
            for name, url, script in (("no-op", "/bench/noop", None), ("bare insert", "/bench/bare-intake", bare),
                                      ("bare cached", "/bench/bare-intake?cached", bare),
                                      ("real intake", "/api/v1/cases", real)):
                rate, cpu_ms, db_ms, note = wrk(base + url, seconds, script, server.pid, database)
                results.setdefault(name, []).append(rate)
                cpu.setdefault(name, []).append(cpu_ms)
                db_cpu.setdefault(name, []).append(db_ms)
                print(f"{label:<11} {name:<12}{tag:<4} {rate:>9.0f} req/s   {note}", flush=True)
            ratios.append(results["real intake"][-1] / results["bare insert"][-1])
            strict.append(results["real intake"][-1] / results["bare cached"][-1])
            print(f"{label:<11} real intake / bare floor{tag} = {ratios[-1]:.2f}"
                  f" (/ cached-insert floor = {strict[-1]:.2f}); load average {load_average()}", flush=True)
        med = {name: statistics.median(values) for name, values in cpu.items()}
        print(f"{label:<11} median of {rounds} round(s): real intake / bare floor = {statistics.median(ratios):.2f}"
              f" (real {statistics.median(results['real intake']):.0f} req/s,"
              f" bare {statistics.median(results['bare insert']):.0f} req/s);"
              f" / cached-insert floor = {statistics.median(strict):.2f}"
              f" ({statistics.median(results['bare cached']):.0f} req/s)", flush=True)
        # The CPU ratio is the one a shared machine disturbs least: the server's own CPU per request.
        print(f"{label:<11} median server CPU per request: real {med['real intake']:.2f} ms,"
              f" bare {med['bare insert']:.2f} ms, bare cached {med['bare cached']:.2f} ms, no-op {med['no-op']:.2f} ms;"
              f" bare / real = {med['bare insert'] / med['real intake']:.2f},"
              f" bare cached / real = {med['bare cached'] / med['real intake']:.2f}", flush=True)
        if database:
            db_med = {name: statistics.median(values) for name, values in db_cpu.items()}
            print(f"{label:<11} median PostgreSQL backend CPU per request: real {db_med['real intake']:.2f} ms,"
                  f" bare {db_med['bare insert']:.2f} ms, bare cached {db_med['bare cached']:.2f} ms,"
                  f" no-op {db_med['no-op']:.2f} ms", flush=True)
        medians = {name: statistics.median(rates) for name, rates in results.items()}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    try:
        deferred = run([PYTHON, "-c", DEFERRED], env, cwd=ROOT).strip().splitlines()[-1]
        print(f"{label:<11} deferred work (in production a job does it): {deferred}", flush=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/jiedao_bench")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--rounds", type=int, default=1, help="alternate the endpoints this many times")
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="benchmark one database only")
    parser.add_argument("--workers", type=int, default=4, help="server processes (jiedao serve's default on 2 cores)")
    parser.add_argument("--threads", type=int, default=2, help="threads per server process (jiedao serve's default)")
    parser.add_argument("--suggest-every", type=int, default=5,
                        help="every Nth real request has no category, so intake suggests one (0: never)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    name = urlsplit(args.postgres).path.lstrip("/")  # the database named in --postgres, nobody else's
    if not re.fullmatch(r"\w+", name):
        sys.exit(f"--postgres should name a database: {args.postgres}")
    if args.only != "sqlite":  # a SQLite-only run leaves PostgreSQL alone
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       capture_output=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"],
                       capture_output=True)
    print(f"# intake benchmark: wrk -t2 -c8, {args.seconds}s per endpoint x {args.rounds} round(s), jiedao serve"
          f" {args.workers} workers x {args.threads} threads; every {args.suggest_every or 'no'}th real request without a category")
    print(f"# load average at start {load_average()} on {os.cpu_count()} CPUs", flush=True)
    if args.only != "postgres":
        bench_database("SQLite", None, args.seconds, args.port, args.rounds, args.suggest_every, args.workers, args.threads)
    if args.only != "sqlite":
        bench_database("PostgreSQL", args.postgres, args.seconds, args.port + 1, args.rounds, args.suggest_every,
                       args.workers, args.threads)


if __name__ == "__main__":
    main()
