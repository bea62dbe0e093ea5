"""Speed of similar cases, the nightly duplicate grouping and hotspots on the demo sub-district
(`jiedao seed`: 3,000 cases over four months, about 460 of them open).

* similar at intake: ``similar_for_text`` for the text of 40 recent cases, as their grid worker
  (scope, candidate read, the text engine over the candidates, scoring) — what the htmx partial
  of the intake form costs per keystroke pause;
* similar on a case page: ``similar_for_case`` for the same 40 cases;
* the scoring alone against 300 candidates (the cap; a busy grid: 40 go to the text engine), for 10
  of those texts;
* grouping: ``duplicate_groups_build`` for the sub-district, first run and a second (idempotent) run;
* hotspots of the current month under the sub-district, per community, grid and building, next to
  a plain count of the month's cases.

    .venv/bin/python bench/insight_groups.py [--postgres postgres://postgres@127.0.0.1:5432/jiedao_bench_insight]

Without --postgres it uses a fresh SQLite file in a temporary directory. Timings on a shared
2-core machine are noisy; each figure is the median (and p95) of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import line, timed  # noqa: E402  (after the path insert)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--postgres", help="a PostgreSQL URL (its database is wiped and seeded)")
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="jiedao-bench-insight-")
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
    from django.utils import timezone

    call_command("seed", force=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
    from jiedao.cases.models import Case
    from jiedao.core.permissions import Role
    from jiedao.insight import selectors, services
    from jiedao.insight.text.features import get_tokenizer
    from jiedao.org.models import NodeKind, OrgNode, RoleAssignment

    get_tokenizer()  # jieba's dictionary: loaded once per process, not per request
    sub = OrgNode.objects.get(kind=NodeKind.SUBDISTRICT)
    workers = {a.node_id: a.user for a in RoleAssignment.objects.filter(role=Role.GRID_WORKER).select_related("user")}
    sample = [c for c in Case.objects.filter(subdistrict=sub, building__isnull=False).select_related("building")
              .order_by("-created_at")[:200] if c.grid_id in workers][:40]
    print(f"# insight benchmark — database: {connection.vendor}; cases: {Case.objects.count()}, open: "
          f"{Case.objects.exclude(state__in=('closed', 'rejected')).count()}; sample {len(sample)} cases")
    intake, page, found = [], [], []
    for case in sample:
        user = workers[case.grid_id]
        intake += timed(lambda c=case, u=user: found.append(len(selectors.similar_for_text(
            u, node=c.building, title=c.title, text=c.description))))
        page += timed(lambda c=case, u=user: selectors.similar_for_case(u, c))
    candidates = [len(selectors.similar_candidates(workers[c.grid_id], path=c.org_path,
                                                   kinds=selectors._ancestors(c.org_path))) for c in sample]
    line("similar at intake (per request)", intake,
         f"candidates read: mean {statistics.mean(candidates):.0f}, max {max(candidates)}; shown: mean "
         f"{statistics.mean(found):.1f}")
    line("similar on a case page (per request)", page)
    # a busy grid: the scoring at its cap of SIMILAR_CANDIDATES candidates (the newest of the sub-district)
    crowd = list(Case.objects.filter(subdistrict=sub).order_by("-id")[:selectors.SIMILAR_CANDIDATES])
    busy = []
    for case in sample[:10]:
        query = {"title": case.title, "text": case.description, "path": case.org_path}
        busy += timed(lambda q=query, c=case: selectors.score_similar(
            q, crowd, kinds=selectors._ancestors(c.org_path), category_id=c.category_id, now=timezone.now()))
    line(f"similar scoring against {len(crowd)} candidates", busy)
    counts = {}
    first = timed(lambda: counts.update(services.duplicate_groups_build(subdistrict=sub)))
    line("duplicate grouping, first run (sub-district)", first, str(counts))
    again = timed(lambda: counts.update(services.duplicate_groups_build(subdistrict=sub)), repeat=3)
    line("duplicate grouping, again (idempotent)", again, str(counts))
    day = timezone.localdate()
    for level in ("community", "grid", "building"):
        shown: list[int] = []
        values = timed(lambda lv=level, out=shown: out.append(len(selectors.hotspots_for_path(
            sub.path, period="month", level=lv, day=day))), repeat=5)
        line(f"hotspots this month per {level}", values, f"{shown[-1]} shown")
    for period in ("week", "quarter"):
        values = timed(lambda p=period: selectors.hotspots_for_path(sub.path, period=p, level="grid", day=day),
                       repeat=5)
        line(f"hotspots this {period} per grid", values)
    start = day.replace(day=1)
    values = timed(lambda: Case.objects.filter(subdistrict=sub, created_at__date__gte=start).count(), repeat=5)
    line("plain count of the month's cases (reference)", values)
    return 0


if __name__ == "__main__":
    sys.exit(main())
