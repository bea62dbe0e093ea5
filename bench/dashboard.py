"""Benchmark: the leadership dashboard (驾驶舱) at district and city scale, on SQLite and
PostgreSQL side by side in one run, against a plain aggregate query over the case table.

For each scale and database: the data (`jiedao seed --scale SCALE`: the org tree plus a year of
case history — about 1.4 million cases for a district, 24 million for the city) is seeded
unless --reuse finds it already there; then a measuring process, on the same machine:

- requests the real dashboard page (`GET /cases/dashboard/?node=…&months=…`, template,
  charts data, ranking and overdue list included) as the `leader` account through Django's test
  client, for the root, a district (city scale), a sub-district, a community and a grid:
  --repeat requests each after two warm-up requests, median and p95, and the CPU of the process
  (the server side of the request; SQLite runs inside it), on PostgreSQL plus the CPU of the
  connection's backend process (from /proc, mean per request over the series);
  each as a first view (nothing cached: the cache is emptied before every request), a view
  right after a case moved (a pending delta appended under the node: figures and overdue list
  computed and rendered again) and a repeat view (all cached by an earlier view of the same
  scope);
- requests the page's 本月热点 fragment (GET /cases/dashboard/hotspots/, which the page loads
  after it is shown) for each scope, first (nothing cached) and repeat (cached per node);
- times the stats functions alone (totals, trend, categories, ranking) at the root;
- times the same root page with 5,000 pending (unfolded) rollup deltas, and folding them
  (inside a transaction that is rolled back, so the data stays as seeded);
- runs a plain aggregate over the case table for last month (counts by state and rating, the
  query a dashboard without rollups would need), three times, median;
- writes EXPLAIN (PostgreSQL: ANALYZE) of every query the root dashboard runs to
  DATA_ROOT/explain-SCALE-DB.txt.

Usage:
  .venv/bin/python bench/dashboard.py [--scales district,city] [--reuse] [--repeat 30]
      [--data-root /work/scale-data] [--postgres postgres://postgres@127.0.0.1:5432/jiedao_scale]

SQLite data lives in DATA_ROOT/SCALE-sqlite; PostgreSQL databases are named after --postgres
with "_SCALE" appended (jiedao_scale_district, jiedao_scale_city). Seeding the city takes
minutes per database; keep the data and pass --reuse to measure again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
JIEDAO = [PYTHON, "-m", "jiedao.cli"]  # this checkout's code (the venv's `jiedao` script may be another's)

MEASURE = r"""
import json, statistics, sys, time
import django
django.setup()
from datetime import date, timedelta
from django.core import signals
from django.db import close_old_connections, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from jiedao.cases.statistics import rollups
from jiedao.cases.statistics import stats
from jiedao.cases.models import CaseStatDelta, Category
from jiedao.org.models import OrgNode, User

signals.request_started.disconnect(close_old_connections)
signals.request_finished.disconnect(close_old_connections)
repeat, explain_file = int(sys.argv[1]), sys.argv[2]
leader = User.objects.get(username="leader")
client = Client()
client.force_login(leader)

def pick(kind):
    return OrgNode.objects.filter(kind=kind).order_by("path").first()

root = OrgNode.objects.get(path="0001")
scopes = [(root.kind, root)]
for kind in ("district", "subdistrict", "community", "grid"):
    node = pick(kind)
    if node is not None and node.pk != root.pk:
        scopes.append((kind, node))

from django.core.cache import cache

# PostgreSQL: this connection's backend process on the same machine; its CPU from /proc (clock
# ticks, 10 ms), read around a whole series and divided by the requests: a mean, not a median.
import os
backend = None
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = f"/proc/{cursor.fetchone()[0]}/stat"
TICK = os.sysconf("SC_CLK_TCK")

def backend_cpu():
    if backend is None:
        return 0.0
    with open(backend) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime

def timed(fn, n, before=None):
    for _ in range(2):
        fn()
    samples, cpu = [], []
    db_started = backend_cpu()
    for _ in range(n):
        if before is not None:
            before()
        t, c = time.perf_counter(), time.process_time()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    db = (backend_cpu() - db_started) * 1000 / n
    samples.sort()
    return {"median": statistics.median(samples), "p95": samples[min(len(samples) - 1, int(len(samples) * 0.95))],
            "cpu": statistics.median(cpu), "db": db}

def page(node, months):
    def get():
        response = client.get(f"/cases/dashboard/?node={node.pk}&months={months}")
        assert response.status_code == 200, response.status_code
    return get

out = {"cases": None, "pages": [], "vendor": connection.vendor}
with connection.cursor() as cursor:
    cursor.execute("SELECT COUNT(*) FROM cases_case" if connection.vendor == "sqlite" else
                   "SELECT reltuples::bigint FROM pg_class WHERE relname = 'cases_case'")
    out["cases"] = int(cursor.fetchone()[0])
# A case moved under the node: one pending delta (all counters zero, so the seeded figures stay
# as they are) appended under the node's first grid just before the request, outside the timing.
# Its key changes, so the figures and the overdue list are computed and rendered again, exactly
# as after a real step of a case there; everything else cached stays.
moved_ids = []
def a_case_moved(node):
    grid = (OrgNode.objects.filter(kind="grid", path__startswith=node.path).order_by("path").first()
            if node.kind != "grid" else node)
    def before():
        delta = CaseStatDelta.objects.create(month=timezone.localdate().replace(day=1), node_id=grid.pk,
                                             org_path=grid.path, community_id=grid.parent_id,
                                             subdistrict_id=grid.subdistrict_id, category_id=None)
        moved_ids.append(delta.pk)
    return before

def fragment(node):
    def get():
        response = client.get(f"/cases/dashboard/hotspots/?node={node.pk}", HTTP_HX_REQUEST="true")
        assert response.status_code == 200, response.status_code
    return get

# first: nothing in Django's cache (emptied before every request, outside the timing); moved: as
# right after a case moved under the node; repeat: a view after an earlier one of the same scope.
# The page's 本月热点 comes in a fragment request of its own after the page is shown: measured
# apart, with nothing cached (first) and cached by an earlier view of the node (repeat).
for kind, node in scopes:
    for months in (1, 12):
        out["pages"].append({"scope": kind, "node": node.name, "months": months, "view": "first",
                             **timed(page(node, months), repeat, before=cache.clear)})
        out["pages"].append({"scope": kind, "node": node.name, "months": months, "view": "moved",
                             **timed(page(node, months), repeat, before=a_case_moved(node))})
        out["pages"].append({"scope": kind, "node": node.name, "months": months, "view": "repeat",
                             **timed(page(node, months), repeat)})
    out["fragments"] = out.get("fragments", [])
    out["fragments"].append({"scope": kind, "node": node.name, "view": "first",
                             **timed(fragment(node), max(5, repeat // 3), before=cache.clear)})
    out["fragments"].append({"scope": kind, "node": node.name, "view": "repeat",
                             **timed(fragment(node), repeat)})
CaseStatDelta.objects.filter(pk__in=moved_ids).delete()

this_month = timezone.localdate().replace(day=1)
end = (this_month + timedelta(days=32)).replace(day=1)
def functions():
    stats.totals(root.path, this_month, end)
    stats.trend(root.path, (this_month - timedelta(days=330)).replace(day=1), end)
    stats.by_category(root.path, this_month, end)
    stats.ranking(root.path, this_month, end, by="child")
out["functions"] = timed(functions, repeat)

# Pending deltas: exact reads before a fold, and the fold itself (rolled back afterwards).
grids = list(OrgNode.objects.filter(kind="grid").order_by("?").values_list("id", "parent_id", "subdistrict_id",
                                                                          "path")[:500])
categories = list(Category.objects.values_list("id", flat=True))
with transaction.atomic():
    CaseStatDelta.objects.bulk_create([
        CaseStatDelta(month=this_month, node_id=g, org_path=p, community_id=c, subdistrict_id=s,
                      category_id=categories[i % len(categories)], reported=1, accepted=1)
        for i, (g, c, s, p) in enumerate(grids * 10)
    ], batch_size=1000)
    pending_totals = stats.totals(root.path, this_month, end).counts["reported"]
    out["pending_page"] = timed(page(root, 1), max(5, repeat // 3), before=cache.clear)
    t = time.perf_counter()
    folded = rollups.fold()
    out["fold"] = {"deltas": folded, "ms": (time.perf_counter() - t) * 1000}
    assert stats.totals(root.path, this_month, end).counts["reported"] == pending_totals  # exact across the fold
    transaction.set_rollback(True)

last = (this_month - timedelta(days=1)).replace(day=1)
start_utc = timezone.make_aware(timezone.datetime(last.year, last.month, 1))
end_utc = timezone.make_aware(timezone.datetime(this_month.year, this_month.month, 1))
plain_sql = ("SELECT state, rating, COUNT(*) FROM cases_case WHERE created_at >= %s AND created_at < %s "
             "GROUP BY state, rating")
samples, cpu = [], []
for _ in range(3):
    t, c = time.perf_counter(), time.process_time()
    with connection.cursor() as cursor:
        cursor.execute(plain_sql, [start_utc, end_utc])
        rows = cursor.fetchall()
    samples.append((time.perf_counter() - t) * 1000)
    cpu.append((time.process_time() - c) * 1000)
out["plain"] = {"median": statistics.median(samples), "cpu": statistics.median(cpu), "rows": sum(r[2] for r in rows)}
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + plain_sql, [start_utc, end_utc])
        out["plain"]["server"] = cursor.fetchone()[0][0]["Execution Time"]

with CaptureQueriesContext(connection) as captured:
    page(root, 1)()
out["queries"] = len(captured.captured_queries)
out["server_ms"] = 0.0
with open(explain_file, "w") as f, connection.cursor() as cursor:
    for q in captured.captured_queries:
        sql = q["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        f.write(f"-- {float(q['time']) * 1000:.1f} ms\n{sql}\n")
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
            plan = cursor.fetchall()
            for row in plan:
                if str(row[0]).strip().startswith(("Execution Time:", "Planning Time:")):
                    out["server_ms"] += float(str(row[0]).split(":")[1].split()[0])
            for row in plan:
                f.write("   " + " | ".join(str(x) for x in row) + "\n")
            f.write("\n")
            continue
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        for row in cursor.fetchall():
            f.write("   " + " | ".join(str(x) for x in row) + "\n")
        f.write("\n")
print("RESULT " + json.dumps(out))
"""


def seeded(env: dict) -> bool:
    check = subprocess.run([PYTHON, "-c", "import django; django.setup(); from jiedao.cases.models import Case;"
                            " print(Case.objects.exists())"], env=env, capture_output=True, text=True, cwd=ROOT)
    return check.returncode == 0 and check.stdout.strip().endswith("True")


def prepare(label: str, scale: str, env: dict, reuse: bool, cases: int | None) -> float | None:
    if reuse and seeded(env):
        print(f"[{label} {scale}] reusing the seeded data", flush=True)
        return None
    print(f"[{label} {scale}] seeding (jiedao seed --scale {scale} --force)…", flush=True)
    started = time.monotonic()
    extra = ["--cases", str(cases)] if cases is not None else []
    done = subprocess.run([*JIEDAO, "seed", "--scale", scale, "--force", *extra], env=env, cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"seeding failed:\n{done.stdout[-3000:]}")
    seconds = time.monotonic() - started
    print("\n".join(line for line in done.stdout.splitlines() if "done" in line or "history" in line.lower()))
    print(f"[{label} {scale}] seeded in {seconds:.0f} s", flush=True)
    return seconds


def measure(env: dict, repeat: int, explain_file: Path) -> dict:
    done = subprocess.run([PYTHON, "-c", MEASURE, str(repeat), str(explain_file)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode or line is None:
        sys.exit(f"measuring failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def ensure_pg_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    exists = subprocess.run(["psql", base + "/postgres", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                            capture_output=True, text=True).stdout.strip()
    if exists != "1":
        subprocess.run(["psql", base + "/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="district,city")
    parser.add_argument("--reuse", action="store_true", help="measure already-seeded data instead of seeding again")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--data-root", default=str(ROOT / "var" / "bench-dashboard"))
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/jiedao_scale")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--cases", type=int, help="cases of history to seed (default: the scale's own)")
    args = parser.parse_args()
    data_root = Path(args.data_root)
    data_root.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], dict] = {}
    seed_seconds: dict[tuple[str, str], float | None] = {}
    for scale in args.scales.split(","):
        for label in ("sqlite", "postgres"):
            if args.only and args.only != label:
                continue
            env = dict(os.environ, JIEDAO_DATA_DIR=str(data_root / f"{scale}-{'sqlite' if label == 'sqlite' else 'pg'}"),
                       JIEDAO_SCHEDULER="off", DJANGO_SETTINGS_MODULE="jiedao.settings")
            env.pop("JIEDAO_DATABASE_URL", None)
            if label == "postgres":
                url = f"{args.postgres}_{scale}"
                ensure_pg_database(url)
                env["JIEDAO_DATABASE_URL"] = url
            seed_seconds[(scale, label)] = prepare(label, scale, env, args.reuse, args.cases)
            print(f"[{label} {scale}] measuring…", flush=True)
            results[(scale, label)] = measure(env, args.repeat, data_root / f"explain-{scale}-{label}.txt")
    report(results, seed_seconds, args)


def report(results: dict, seed_seconds: dict, args) -> None:
    labels = [x for x in ("sqlite", "postgres") if not args.only or args.only == x]
    print()
    print(f"Dashboard latency, ms (leader, Django test client in-process, {args.repeat} requests after 2 warm-up;"
          " wall median / p95, and the server CPU median: time.process_time around the request, the database"
          " server's own CPU not included on PostgreSQL; +db: the CPU of this connection's PostgreSQL backend from"
          " /proc, mean per request over the series, 10 ms ticks). first: nothing cached (figures, overdue list);"
          " moved: right after a case's delta committed under the node (figures and overdue list rendered again);"
          " repeat: all cached")
    header = f"{'scale':9} {'scope':12} {'months':>6} {'view':>6} | " + " | ".join(f"{x:>34}" for x in labels)
    print(header)
    print("-" * len(header))
    for scale in args.scales.split(","):
        rows = [results.get((scale, label)) for label in labels]
        if not all(rows):
            continue
        for i, page in enumerate(rows[0]["pages"]):
            cells = [f"{r['pages'][i]['median']:7.1f} / {r['pages'][i]['p95']:7.1f} cpu {r['pages'][i]['cpu']:5.1f}"
                     + (f" +db {r['pages'][i]['db']:4.1f}" if r["vendor"] == "postgresql" else "") for r in rows]
            print(f"{scale:9} {page['scope']:12} {page['months']:>6} {page['view']:>6} | "
                  + " | ".join(f"{c:>34}" for c in cells))
    print()
    print("本月热点 fragment (GET /cases/dashboard/hotspots/, loaded by the page after it is shown): first = nothing"
          " cached, repeat = cached per node by an earlier view")
    for scale in args.scales.split(","):
        rows = [results.get((scale, label)) for label in labels]
        if not all(rows):
            continue
        for i, frag in enumerate(rows[0]["fragments"]):
            cells = [f"{r['fragments'][i]['median']:7.1f} / {r['fragments'][i]['p95']:7.1f} cpu "
                     f"{r['fragments'][i]['cpu']:5.1f}"
                     + (f" +db {r['fragments'][i]['db']:4.1f}" if r["vendor"] == "postgresql" else "") for r in rows]
            print(f"{scale:9} {frag['scope']:12} {'':>6} {frag['view']:>6} | " + " | ".join(f"{c:>34}" for c in cells))
    print()
    for scale in args.scales.split(","):
        for label in labels:
            r = results.get((scale, label))
            if not r:
                continue
            root_page = r["pages"][0]["median"]
            seeded = seed_seconds.get((scale, label))
            print(f"{scale} / {label}: {r['cases']:,} cases"
                  + (f", seeded in {seeded:.0f} s" if seeded else " (reused)"))
            print(f"  stats functions alone (root: totals+trend+categories+ranking): median {r['functions']['median']:.1f} ms,"
                  f" p95 {r['functions']['p95']:.1f} ms, cpu {r['functions']['cpu']:.1f} ms")
            print(f"  root page with 5,000 pending deltas: median {r['pending_page']['median']:.1f} ms;"
                  f" folding them: {r['fold']['ms']:.0f} ms")
            root_cpu = r["pages"][0]["cpu"]  # the first (uncached) view of the root
            print(f"  plain aggregate over the case table, last month ({r['plain']['rows']:,} cases):"
                  f" {r['plain']['median']:.0f} ms wall = {r['plain']['median'] / root_page:.1f} x the whole root page"
                  f" ({root_page:.1f} ms wall); {r['queries']} queries per page")
            if label == "postgres":
                print(f"  server-side (EXPLAIN ANALYZE, planning + execution): all {r['queries']} queries of the root"
                      f" page {r['server_ms']:.1f} ms; the plain aggregate {r['plain']['server']:.0f} ms"
                      f" = {r['plain']['server'] / max(r['server_ms'], 0.001):.0f} x")
            else:
                print(f"  CPU (SQLite runs in-process): root page {root_cpu:.1f} ms, plain aggregate"
                      f" {r['plain']['cpu']:.0f} ms = {r['plain']['cpu'] / max(root_cpu, 0.001):.0f} x")


if __name__ == "__main__":
    main()
