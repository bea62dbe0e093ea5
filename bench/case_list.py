"""Benchmark: one page of the case list (50 cases) by scope and filter — the API
(GET /api/v1/cases) and the staff list page (/cases/) — on whatever database the environment
names (JIEDAO_DATA_DIR for SQLite, JIEDAO_DATABASE_URL for PostgreSQL), seeded beforehand with
`python -m jiedao.cli seed --scale district`.

Server CPU per request, measured in process:

- app: `time.process_time` of this process (the Django side) around one request — for the API,
  exactly the endpoint's work (selectors.case_page, its queries, the answer's serialisation)
  with the per-process caches warm and the cache generation read once per request, as in the
  server; for the page, a whole request through Django's test client (middleware, session, view,
  template, base layout);
- db (PostgreSQL only): the CPU of the database backend serving this connection, read from
  /proc/<pg_backend_pid()>/stat before and after the timed requests (clock ticks of 10 ms:
  a mean over the repeats, not a median). On SQLite the database works inside the process, so
  its CPU is in the app figure.

Rows: the first page (p1: with the count, capped at 10,000 or given up after reading 10,001
index entries) and a later page by cursor (p2: no count), unfiltered; then the staff page's first
page with one filter each: a state (in_progress), a tier (private), a category (the commonest),
its category group, overdue, mine, a text search (a common word), and an area (a grid).
`base` is the part of the unfiltered first page that is the base layout (base.html with its
context processors, rendered around an empty content block).

Scopes: the district (the `leader` account at the root), the sub-district and the grid that hold
the most cases (a leader and a grid worker made for the bench, kept for reruns).

Usage: JIEDAO_DATA_DIR=… .venv/bin/python bench/case_list.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")

TICK = os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.http import HttpResponse
    from django.template import engines
    from django.test import Client

    from jiedao.cases import selectors, views
    from jiedao.cases.api import CasePageOut
    from jiedao.cases.models import Case, Category
    from jiedao.core import caching
    from jiedao.core.fastpath import dump_out
    from jiedao.core.permissions import Role
    from jiedao.org.models import OrgNode, RoleAssignment, User

    settings.ALLOWED_HOSTS = ["*"]
    root_leader = User.objects.get(username="leader")

    def bench_user(username: str, role: str, node: OrgNode) -> User:
        user, _ = User.objects.get_or_create(username=username, defaults={"full_name": username, "home_node": node})
        RoleAssignment.objects.get_or_create(user=user, role=role, node=node)
        return user

    top_sub = Case.objects.values("subdistrict").annotate(n=Count("id")).order_by("-n")[0]
    top_grid = Case.objects.filter(grid__isnull=False).values("grid").annotate(n=Count("id")).order_by("-n")[0]
    grid = OrgNode.objects.get(pk=top_grid["grid"])
    users = [
        ("district", root_leader, Case.objects.count()),
        ("sub-district", bench_user("bench_sub_leader", Role.LEADER, OrgNode.objects.get(pk=top_sub["subdistrict"])),
         top_sub["n"]),
        ("grid", bench_user("bench_grid_worker", Role.GRID_WORKER, grid), top_grid["n"]),
    ]
    category = Category.objects.get(pk=Case.objects.values("category").annotate(n=Count("id")).order_by("-n")[0][
        "category"])
    filters = [("state", {"state": "in_progress"}), ("tier", {"tier": "private"}),
               ("category", {"category": category.pk})]
    if category.parent_id:
        filters.append(("category group", {"category": category.parent_id}))
    filters += [("overdue", {"overdue": "on"}), ("mine", {"mine": "on"}), ("text", {"q": "垃圾"}),
                ("area (a grid)", {"area": grid.pk})]

    backend_pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]

    def db_ticks() -> int:
        if backend_pid is None:
            return 0
        fields = Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime

    def measure(fn, per_request_setup=None) -> tuple[float, float | None]:
        """(median app CPU ms, mean db CPU ms or None) of `args.repeat` calls after 2 warm-ups."""
        for _ in range(2):
            fn()
        samples = []
        ticks = db_ticks()
        for _ in range(args.repeat):
            start = time.process_time()
            fn()
            samples.append((time.process_time() - start) * 1000)
        db = (db_ticks() - ticks) * 1000 / TICK / args.repeat if backend_pid is not None else None
        return statistics.median(samples), db

    def api(user, cursor=None):
        def run():
            user.__dict__.pop("_jiedao_scope_cache", None)
            tokens = caching.start_request()
            try:
                page = selectors.case_page(user, limit=50, count=cursor is None, cursor=cursor)
                dump_out(CasePageOut, {"count": page.count, "count_capped": page.count_capped,
                                       "next_cursor": page.next_cursor, "items": page.cases}, {})
            finally:
                caching.end_request(tokens)
        return run

    def page(client, query):
        def run():
            response = client.get("/cases/", query)
            assert response.status_code == 200, response.status_code
        return run

    db = connection.vendor
    print(f"Case list, one page of 50: server CPU per request, ms — app: median of {args.repeat} (this process)"
          + ("; db: mean (the PostgreSQL backend, /proc)" if backend_pid else "") + f"; {db}, "
          f"{Case.objects.count():,} cases")
    head = f"{'scope':<13}{'cases':>10}  {'request':<28}{'app':>8}" + (f"{'db':>8}{'sum':>8}" if backend_pid else "")
    print(head)
    empty = engines["django"].from_string('{% extends "base.html" %}')
    bare = engines["django"].from_string("")
    for label, user, n in users:
        cursor = selectors.case_page(user, limit=50).next_cursor
        client = Client()
        client.force_login(user)
        rows = [("API p1", measure(api(user))), ("API p2 (cursor)", measure(api(user, cursor))),
                ("page p1", measure(page(client, {}))), ("page p2 (cursor)", measure(page(client, {"cursor": cursor})))]
        real = views.render
        try:
            views.render = lambda request, name, ctx=None, status=None: HttpResponse(empty.render(ctx, request))
            with_base = measure(page(client, {}))
            views.render = lambda request, name, ctx=None, status=None: HttpResponse(bare.render(ctx, request))
            without = measure(page(client, {}))
        finally:
            views.render = real
        rows.append(("  of which base layout", (with_base[0] - without[0], None)))
        for name, query in filters:
            rows.append((f"page p1 {name}", measure(page(client, query))))
        for i, (name, (app, dbcpu)) in enumerate(rows):
            line = f"{label if i == 0 else '':<13}{f'{n:,}' if i == 0 else '':>10}  {name:<28}{app:8.1f}"
            if backend_pid:
                line += f"{dbcpu:8.1f}{app + dbcpu:8.1f}" if dbcpu is not None else ""
            print(line, flush=True)


if __name__ == "__main__":
    main()
