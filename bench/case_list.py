"""Benchmark: one page of the case list (GET /api/v1/cases, 50 cases) by scope, before and after
issue 14's keyset pages, on whatever database the environment names (JIEDAO_DATA_DIR for SQLite,
JIEDAO_DATABASE_URL for PostgreSQL), seeded beforehand with `python -m jiedao.cli seed --scale
district [--cases N]`.

Measured in process, on the server's own CPU clock (time.process_time) around exactly what the
endpoint does — the selector, the queries and the serialisation of the page with CaseOut — with
the per-process caches warm and the generation read once per "request", as in the server; the
HTTP stack (about 1 ms) is not included. Both variants run in the same process on the same data:

- before: the old endpoint's work (the scoped queryset with its six joins, `count()`, a
  limit/offset slice, then CaseOut per row, whose node name loaded one row per case);
- after: selectors.case_page (ids first on an index, rows by id, names from the caches), the
  first page (with the count capped at 10,000) and a later page by cursor (no count);
- page: the staff list page (/cases/) after, through Django's test client (template included).

The CPU is this process's (time.process_time): on PostgreSQL the database server's own CPU is
not in it, so the wall time is printed beside it (on SQLite the two are nearly the same).

Scopes: the district (the `leader` account at the root), the sub-district and the grid that hold
the most cases (a leader and a grid worker made for the bench, kept for reruns).

Usage: JIEDAO_DATA_DIR=… .venv/bin/python bench/case_list.py [--repeat 20]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from jiedao.cases import selectors
    from jiedao.cases.api import CaseOut, CasePageOut
    from jiedao.cases.models import Case
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
    users = [
        ("district", root_leader, Case.objects.count()),
        ("sub-district", bench_user("bench_sub_leader", Role.LEADER, OrgNode.objects.get(pk=top_sub["subdistrict"])),
         top_sub["n"]),
        ("grid", bench_user("bench_grid_worker", Role.GRID_WORKER, OrgNode.objects.get(pk=top_grid["grid"])),
         top_grid["n"]),
    ]

    def serialise(cases):  # before: ninja validated every item of the answer
        return [CaseOut.from_orm(c).model_dump() for c in cases]

    def dump(page):  # after: the endpoint answers through jiedao.core.fastpath.respond
        return dump_out(CasePageOut, {"count": page.count, "count_capped": page.count_capped,
                                      "next_cursor": page.next_cursor, "items": page.cases}, {})

    def before(user):
        qs = selectors.case_list(user)
        total = qs.count()
        return total, serialise(list(qs[0:50]))

    def after_first(user):
        page = selectors.case_page(user, limit=50, count=True)
        return page.count, dump(page)["items"], page.next_cursor

    def after_next(user, cursor):
        return dump(selectors.case_page(user, limit=50, cursor=cursor))

    def timed(fn, *a):
        samples = []
        for i in range(args.repeat + 2):
            for user in [a[0]] if a else []:
                user.__dict__.pop("_jiedao_scope_cache", None)
            tokens = caching.start_request()
            try:
                start, wall = time.process_time(), time.perf_counter()
                fn(*a)
                spent, wall = time.process_time() - start, time.perf_counter() - wall
            finally:
                caching.end_request(tokens)
            if i >= 2:
                samples.append((spent * 1000, wall * 1000))
        return statistics.median(c for c, _w in samples), statistics.median(w for _c, w in samples)

    db = connection.vendor
    print(f"Case list, one page of 50, ms per request: CPU of this process / wall, medians of {args.repeat}, {db}, "
          f"{Case.objects.count():,} cases")
    print(f"{'scope':<13}{'cases':>9}  {'before':>15}  {'after p1':>15}  {'after p2':>15}  {'page p1':>15}")
    for label, user, n in users:
        _count, _items, cursor = after_first(user)
        _old_count, old_items = before(user)
        assert [i["id"] for i in old_items] == [i["id"] for i in _items], "before and after differ"
        b = timed(before, user)
        a1 = timed(after_first, user)
        a2 = timed(after_next, user, cursor)
        client = Client()
        client.force_login(user)
        client.get("/cases/")
        samples = []
        for _ in range(args.repeat):
            start, wall = time.process_time(), time.perf_counter()
            assert client.get("/cases/").status_code == 200
            samples.append(((time.process_time() - start) * 1000, (time.perf_counter() - wall) * 1000))
        page = (statistics.median(c for c, _w in samples), statistics.median(w for _c, w in samples))
        print(f"{label:<13}{n:>9,}  " + "  ".join(f"{m:7.1f} / {x:6.1f}" for m, x in (b, a1, a2, page)))


if __name__ == "__main__":
    main()
