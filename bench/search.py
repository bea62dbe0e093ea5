"""Speed of the case list's full-text search (`q`) and of the similar-case check at a realistic
size: `jiedao seed --scale district --cases N` (default 100,000 cases over the district's 20
sub-districts, bulk-loaded with their index rows), then

* q search as the page and the API run it (`selectors.case_list(user, text=q)`: the count and the
  first page of 25), for a common word, a rarer one, one character, a long query (a whole
  description), a ticket, as a sub-district leader and as a grid worker;
* similar at intake (`similar_for_text`, what the intake form's htmx partial costs) for the texts
  of 20 open cases, as their grid worker and as the sub-district's leader (the leader's scope is
  the whole sub-district: the index, not the grid, finds the candidates);
* the candidate pick alone (`search.similar_ids`) for the same texts in the leader's scope.

    .venv/bin/python bench/search.py [--cases 100000] [--postgres postgres://…/jiedao_bench_search] [--reuse DATA_DIR]

Without --postgres it uses a fresh SQLite file in a temporary directory. Each figure is the
median (and p95) of the repeats on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import line, timed  # noqa: E402  (after the path insert)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", help="a PostgreSQL URL (its database is wiped and seeded)")
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--reuse", metavar="DATA_DIR", help="an earlier run's data directory: measure again, no seeding")
    args = ap.parse_args()
    data = args.reuse or tempfile.mkdtemp(prefix="jiedao-bench-search-")
    os.environ["JIEDAO_DATA_DIR"] = data
    if args.postgres:
        os.environ["JIEDAO_DATABASE_URL"] = args.postgres
    else:
        os.environ.pop("JIEDAO_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "jiedao.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    started = time.perf_counter()
    if not args.reuse:
        call_command("seed", scale="district", cases=args.cases, force=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
    seeded = time.perf_counter() - started
    from jiedao.cases import search, selectors
    from jiedao.cases.models import Case, CaseText
    from jiedao.core.permissions import Role
    from jiedao.insight import selectors as insight
    from jiedao.insight.selectors.similar import FINISHED_STATES
    from jiedao.insight.text.features import get_tokenizer
    from jiedao.org.models import RoleAssignment

    get_tokenizer()
    total = Case.objects.count()
    open_cases = Case.objects.exclude(state__in=FINISHED_STATES)
    print(f"# search benchmark — database: {connection.vendor}; cases: {total:,} (index rows "
          f"{CaseText.objects.count():,}), open: {open_cases.count():,}; seeded in {seeded:.0f} s; data {data}",
          flush=True)
    workers = {a.node_id: a.user for a in RoleAssignment.objects.filter(role=Role.GRID_WORKER).select_related("user")}
    leaders = {a.node.subdistrict_id: a.user for a in RoleAssignment.objects.filter(role=Role.LEADER)
               .select_related("user", "node")}
    sample = [c for c in open_cases.filter(building__isnull=False).select_related("building").order_by("-id")[:2000]
              if c.grid_id in workers and c.subdistrict_id in leaders][::100][:20]
    if not sample:
        sample = [c for c in open_cases.select_related("grid").order_by("-id")[:2000]
                  if c.grid_id in workers and c.subdistrict_id in leaders][::100][:20]
    busiest = max(leaders, key=lambda s: Case.objects.filter(subdistrict_id=s).count())
    leader = leaders[busiest]
    grid_id = Case.objects.filter(subdistrict_id=busiest, grid_id__in=list(workers)).values_list("grid_id", flat=True)[0]
    worker = workers[grid_id]
    some = Case.objects.filter(subdistrict_id=busiest).order_by("id")[total // 40]
    queries = [("none (the unfiltered list, reference)", ""), ("common word", "垃圾"), ("rarer word", "井盖"), ("one character", "水"),
               ("long query (a description)", some.description[:100]), ("ticket", some.ticket),
               ("no match", "量子计算机")]
    for who, user in (("leader", leader), ("grid worker", worker)):
        for label, q in queries:
            shown: list[int] = []

            def run(q=q, user=user, shown=shown) -> None:
                qs = selectors.case_list(user, text=q)
                shown.append(qs.count())
                list(qs[:25])

            values = timed(run, repeat=5)
            line(f"q: {label} ({who})", values, f"{shown[-1]:,} found")
    warm = sample[0]  # the text engine's first run loads its lexicons (a server does it at start)
    insight.similar_for_text(workers[warm.grid_id], node=warm.building or warm.grid, title=warm.title,
                             text=warm.description)
    for who in ("grid worker", "leader"):
        values, found = [], []
        for case in sample:
            user = workers[case.grid_id] if who == "grid worker" else leaders[case.subdistrict_id]
            node = case.building or case.grid
            values += timed(lambda c=case, u=user, n=node, out=found: out.append(len(insight.similar_for_text(
                u, node=n, title=c.title, text=c.description))))
        line(f"similar at intake ({who})", values, f"shown: mean {statistics.mean(found):.1f}")
    picks = []
    for case in sample:
        within = selectors.cases_visible(leaders[case.subdistrict_id]).exclude(state__in=FINISHED_STATES).order_by()
        picks += timed(lambda c=case, w=within: search.similar_ids(f"{c.title} {c.description}", w, limit=100))
    line("similar: index candidate pick alone (leader)", picks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
