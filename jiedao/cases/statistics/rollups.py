"""The rollup tables behind every count and rate, kept exact and cheap at city scale.

Three levels of rollup, all keyed by the month a case was filed in:

- CaseStat (fine): month × grid (or the community, for cases filed on a community) × category;
- CaseStatArea: month × area node × category, for every community/village, sub-district,
  district and city above the fine node (a community's row includes its own cases);
- CaseStatAreaTotal: month × area node, all categories together.

Writers never touch them directly. `bump()` (jiedao.cases.services) appends one row to
CaseStatDelta, so concurrent intakes in one sub-district share no row and no lock. `fold()`
(a scheduled job, every few seconds) moves the pending deltas into the three tables and deletes
them in one transaction: on PostgreSQL in a single statement (`WITH d AS (DELETE … RETURNING …)`
feeding four `INSERT … ON CONFLICT DO UPDATE`), so a delta committed while a fold runs is either
folded by it or left for the next one — never lost, never counted twice. Readers (stats.py) add
the pending deltas to the folded rows in the same SQL statement, so figures are exact before a
fold, after it and while it commits.

`rebuild()` recomputes all three tables from the case table by aggregate SQL (the bulk seed
uses it; to repair the rollups, call it from `jiedao manage shell`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jiedao.cases.models import COUNTER_LABELS, Case, CaseStatDelta
from jiedao.core.fastpath import insert_one

COUNTERS = tuple(name for name, _ in COUNTER_LABELS)
PATH_STEP = 4
MAX_DEPTH = 10  # OrgNode.path holds at most 40 characters
GRID = "grid"

T_DELTA = "cases_casestatdelta"
T_FINE = "cases_casestat"
T_AREA = "cases_casestatarea"
T_TOTAL = "cases_casestatareatotal"
T_NODE = "org_orgnode"
_FOLD_LOCK = 7_304_201  # pg_advisory_xact_lock key: one fold at a time


def _csv(template: str, sep: str = ", ") -> str:
    return sep.join(template.format(c=c) for c in COUNTERS)


def _lengths() -> str:
    """A derived table of the path prefix lengths (4, 8, … 40), portable to SQLite."""
    return " UNION ALL ".join(f"SELECT {n * PATH_STEP} AS n" for n in range(1, MAX_DEPTH + 1))


def _grouped(source: str) -> str:
    """Deltas (from `source`, a table or a CTE) summed per fine key, with the fine node's path."""
    return (
        f"SELECT d.month AS month, d.node_id AS node_id, o.path AS path, o.kind AS kind, "
        f"MAX(d.community_id) AS community_id, MAX(d.subdistrict_id) AS subdistrict_id, d.category_id AS category_id, "
        f"{_csv('SUM(d.{c}) AS {c}')} FROM {source} d JOIN {T_NODE} o ON o.id = d.node_id "
        f"GROUP BY d.month, d.node_id, o.path, o.kind, d.category_id"
    )


def _upsert_statements(g: str) -> list[str]:
    """The four upserts that add the grouped deltas `g` (a CTE name or a parenthesised
    subquery with an alias) to the fine, area and total rollups. `WHERE true` keeps SQLite's
    parser from reading ON CONFLICT as a join constraint."""
    fine_cols = f"month, node_id, org_path, subdistrict_id, community_id, category_id, {_csv('{c}')}"
    fine_sel = f"g.month, g.node_id, g.path, g.subdistrict_id, g.community_id, g.category_id, {_csv('g.{c}')}"
    add = lambda table: _csv(f"{{c}} = {table}.{{c}} + excluded.{{c}}")  # noqa: E731
    ancestors = (
        f"FROM {g} CROSS JOIN ({_lengths()}) l JOIN {T_NODE} u ON u.path = substr(g.path, 1, l.n) "
        f"WHERE l.n <= length(g.path) AND u.kind <> '{GRID}'"
    )
    return [
        f"INSERT INTO {T_FINE} ({fine_cols}) SELECT {fine_sel} FROM {g} WHERE g.category_id IS NOT NULL "
        f"ON CONFLICT (month, node_id, category_id) DO UPDATE SET {add(T_FINE)}",
        f"INSERT INTO {T_FINE} ({fine_cols}) SELECT {fine_sel} FROM {g} WHERE g.category_id IS NULL "
        f"ON CONFLICT (month, node_id) WHERE category_id IS NULL DO UPDATE SET {add(T_FINE)}",
        f"INSERT INTO {T_AREA} (month, node_id, path, kind, category_key, {_csv('{c}')}) "
        f"SELECT g.month, u.id, u.path, u.kind, COALESCE(g.category_id, 0), {_csv('SUM(g.{c})')} {ancestors} "
        f"GROUP BY g.month, u.id, u.path, u.kind, COALESCE(g.category_id, 0) "
        f"ON CONFLICT (node_id, month, category_key) DO UPDATE SET {add(T_AREA)}",
        f"INSERT INTO {T_TOTAL} (month, node_id, path, kind, {_csv('{c}')}) "
        f"SELECT g.month, u.id, u.path, u.kind, {_csv('SUM(g.{c})')} {ancestors} "
        f"GROUP BY g.month, u.id, u.path, u.kind "
        f"ON CONFLICT (node_id, month) DO UPDATE SET {add(T_TOTAL)}",
    ]


def fold(limit: int | None = None) -> int:
    """Move every pending delta into the rollups, atomically; returns how many were folded.

    PostgreSQL: one statement deletes the deltas it sees and upserts their sums (concurrent
    folds queue on an advisory lock; deltas committed meanwhile wait for the next fold).
    SQLite: one IMMEDIATE transaction (the database's single writer lock) upserts the deltas up
    to the highest id and deletes exactly those."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FOLD_LOCK])
            limit_sql = f" WHERE id IN (SELECT id FROM {T_DELTA} ORDER BY id LIMIT {int(limit)})" if limit else ""
            statements = _upsert_statements("g")
            ctes = ", ".join(f"s{i} AS ({sql} RETURNING 1)" for i, sql in enumerate(statements))
            cursor.execute(
                f"WITH d AS (DELETE FROM {T_DELTA}{limit_sql} RETURNING *), g AS ({_grouped('d')}), {ctes} "
                f"SELECT (SELECT COUNT(*) FROM d)"
            )
            return int(cursor.fetchone()[0])
        cursor.execute(f"SELECT MAX(id), COUNT(*) FROM {T_DELTA}")
        top, count = cursor.fetchone()
        if not count:
            return 0
        if limit and count > limit:
            cursor.execute(f"SELECT id FROM {T_DELTA} ORDER BY id LIMIT 1 OFFSET {int(limit) - 1}")
            top, count = cursor.fetchone()[0], limit
        source = f"(SELECT * FROM {T_DELTA} WHERE id <= {int(top)})"
        for sql in _upsert_statements(f"({_grouped(source)}) g"):
            cursor.execute(sql)
        cursor.execute(f"DELETE FROM {T_DELTA} WHERE id <= %s", [top])
        return int(count)


def fold_job() -> str:
    """The scheduled job (jiedao.core.scheduler.JOBS): fold until nothing is pending."""
    total = 0
    while True:
        folded = fold(limit=50_000)
        total += folded
        if folded < 50_000:
            return f"汇总 {total} 条统计增量"


# --- rebuilding from the case table ---------------------------------------------------------


def month_sql(column: str) -> str:
    """SQL for the first day of the month, in the site's time zone, of a timestamp column."""
    if connection.vendor == "postgresql":
        return f"(date_trunc('month', {column} AT TIME ZONE '{settings.TIME_ZONE}'))::date"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # SQLite stores UTC text; the site zone's offset is fixed for China (no daylight saving).
    offset = datetime(2026, 1, 1, tzinfo=ZoneInfo(settings.TIME_ZONE)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"date({column}, '{minutes:+d} minutes', 'start of month')"


def case_counters_sql() -> str:
    """Each case's counters derived from its final fields (used for the bulk history, which has
    no transition rows): what the workflow's bump() calls would have added up to."""
    if connection.vendor == "postgresql":
        ack = "c.acknowledged_at - c.dispatched_at <= interval '2 hours'"
    else:
        ack = "unixepoch(c.acknowledged_at) - unixepoch(c.dispatched_at) <= 7200"
    done = "c.resolved_at IS NOT NULL"
    times = "1"  # a reworked case is counted resolved once: rates stay within 100 %
    return ", ".join([
        "1 AS reported",
        "CASE WHEN c.state NOT IN ('reported', 'rejected') THEN 1 ELSE 0 END AS accepted",
        "CASE WHEN c.state = 'rejected' THEN 1 ELSE 0 END AS rejected",
        "CASE WHEN c.dispatched_at IS NOT NULL THEN 1 ELSE 0 END AS dispatched",
        f"CASE WHEN c.acknowledged_at IS NOT NULL AND {ack} THEN 1 ELSE 0 END AS acknowledged_in_time",
        "c.return_count AS returned",
        f"CASE WHEN {done} THEN {times} ELSE 0 END AS resolved",
        f"CASE WHEN {done} AND (c.deadline_at IS NULL OR c.resolved_at <= c.deadline_at) THEN {times} ELSE 0 END"
        " AS resolved_on_time",
        "CASE WHEN c.state = 'closed' THEN 1 ELSE 0 END AS closed",
        "c.rework_count AS reworked",
        "c.reopen_count AS reopened",
        "CASE WHEN c.rating <> '' THEN 1 ELSE 0 END AS rated",
        "CASE WHEN c.rating = 'satisfied' THEN 1 ELSE 0 END AS satisfied",
        "CASE WHEN c.rating = 'basic' THEN 1 ELSE 0 END AS basic",
        "CASE WHEN c.rating = 'unsatisfied' THEN 1 ELSE 0 END AS unsatisfied",
        *(f"CASE WHEN {done} AND c.resolved_level = {n} THEN {times} ELSE 0 END AS resolved_level{n}"
          for n in range(1, 5)),
    ])


def rebuild(*, subdistrict_ids: list[int] | None = None,
            progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Recompute CaseStat, CaseStatArea and CaseStatAreaTotal from the case table by aggregate
    SQL (fine rows one sub-district at a time, so each statement reads one index range and
    groups in memory; the coarse levels from the level below). Pending deltas are discarded:
    the case table already holds what they describe. Run it with writers stopped."""
    from jiedao.org.models import OrgNode

    say = progress or (lambda _message: None)
    started = time.monotonic()
    with connection.cursor() as cursor:
        for table in (T_DELTA, T_FINE, T_AREA, T_TOTAL):
            cursor.execute(f"DELETE FROM {table}")
    if subdistrict_ids is None:
        subdistrict_ids = list(OrgNode.objects.filter(kind="subdistrict").order_by("path").values_list("id", flat=True))
    fine_cols = f"month, node_id, org_path, subdistrict_id, community_id, category_id, {_csv('{c}')}"
    counters = case_counters_sql()
    month = month_sql("c.created_at")
    fine_sql = (
        f"INSERT INTO {T_FINE} ({fine_cols}) "
        f"SELECT x.month, x.node_id, o.path, x.subdistrict_id, x.community_id, x.category_id, {_csv('x.{c}')} FROM ("
        f"SELECT {month} AS month, COALESCE(c.grid_id, c.community_id) AS node_id, MAX(c.subdistrict_id) AS subdistrict_id,"
        f" MAX(c.community_id) AS community_id, c.category_id AS category_id, {_csv('SUM(k.{c}) AS {c}')}"
        f" FROM cases_case c CROSS JOIN LATERAL (SELECT {counters}) k"
        f" WHERE c.subdistrict_id = %s GROUP BY 1, 2, c.category_id) x JOIN {T_NODE} o ON o.id = x.node_id"
    )
    if connection.vendor != "postgresql":  # SQLite has no LATERAL: inline the counters
        fine_sql = (
            f"INSERT INTO {T_FINE} ({fine_cols}) "
            f"SELECT x.month, x.node_id, o.path, x.subdistrict_id, x.community_id, x.category_id, {_csv('x.{c}')} FROM ("
            f"SELECT month, node_id, MAX(subdistrict_id) AS subdistrict_id, MAX(community_id) AS community_id,"
            f" category_id, {_csv('SUM({c}) AS {c}')} FROM ("
            f"SELECT {month} AS month, COALESCE(c.grid_id, c.community_id) AS node_id, c.subdistrict_id,"
            f" c.community_id, c.category_id, {counters} FROM cases_case c WHERE c.subdistrict_id = %s)"
            f" GROUP BY month, node_id, category_id) x JOIN {T_NODE} o ON o.id = x.node_id"
        )
    with connection.cursor() as cursor:
        for number, subdistrict_id in enumerate(subdistrict_ids, start=1):
            with transaction.atomic():
                cursor.execute(fine_sql, [subdistrict_id])
            if number % 25 == 0 or number == len(subdistrict_ids):
                say(f"细粒度汇总 / fine rollups: {number}/{len(subdistrict_ids)} 个街道 sub-districts "
                    f"({time.monotonic() - started:.0f} s)")
        rebuild_coarse()
        counts = {}
        for table in (T_FINE, T_AREA, T_TOTAL):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = int(cursor.fetchone()[0])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit = 1000")
        for table in (T_FINE, T_AREA, T_TOTAL):
            cursor.execute(f"ANALYZE {table}")
    say(f"汇总表 / rollups: {counts[T_FINE]} + {counts[T_AREA]} + {counts[T_TOTAL]} 行 rows "
        f"({time.monotonic() - started:.0f} s)")
    return counts


def rebuild_coarse() -> None:
    """Recompute CaseStatArea and CaseStatAreaTotal from the fine CaseStat rows (communities
    from their grids' rows and their own, each level above from the level below)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {T_AREA}")
        cursor.execute(f"DELETE FROM {T_TOTAL}")
        # Communities (and villages) from the fine rows: their grids' rows and their own.
        cursor.execute(
            f"INSERT INTO {T_AREA} (month, node_id, path, kind, category_key, {_csv('{c}')}) "
            f"SELECT f.month, u.id, u.path, u.kind, COALESCE(f.category_id, 0), {_csv('SUM(f.{c})')} "
            f"FROM {T_FINE} f JOIN {T_NODE} u ON u.id = f.community_id "
            f"GROUP BY f.month, u.id, u.path, u.kind, COALESCE(f.category_id, 0)"
        )
        cursor.execute(f"SELECT DISTINCT length(path) FROM {T_AREA}")
        deepest = max((row[0] for row in cursor.fetchall()), default=0)
        for length in range(deepest - PATH_STEP, 0, -PATH_STEP):
            cursor.execute(
                f"INSERT INTO {T_AREA} (month, node_id, path, kind, category_key, {_csv('{c}')}) "
                f"SELECT a.month, u.id, u.path, u.kind, a.category_key, {_csv('SUM(a.{c})')} "
                f"FROM {T_AREA} a JOIN {T_NODE} u ON u.path = substr(a.path, 1, {length}) "
                f"WHERE length(a.path) = {length + PATH_STEP} "
                f"GROUP BY a.month, u.id, u.path, u.kind, a.category_key"
            )
        cursor.execute(
            f"INSERT INTO {T_TOTAL} (month, node_id, path, kind, {_csv('{c}')}) "
            f"SELECT a.month, a.node_id, a.path, a.kind, {_csv('SUM(a.{c})')} FROM {T_AREA} a "
            f"GROUP BY a.month, a.node_id, a.path, a.kind"
        )


def bump(case: Case, **counters: int) -> None:
    """Count a change of the case in the rollups of its creation month, grid (or community, for
    cases filed on the community itself) and category.

    Appends one CaseStatDelta row — no shared row is updated, so concurrent intakes never queue
    on a counter; the fold job moves the deltas into the rollups (jiedao.cases.statistics.rollups)."""
    insert_one(stat_delta(case, **counters))


def stat_delta(case: Case, **counters: int) -> CaseStatDelta:
    """The (unsaved) rollup delta row `bump` appends."""
    return CaseStatDelta(
        month=timezone.localtime(case.created_at).date().replace(day=1),
        node_id=case.grid_id or case.community_id, org_path=case.org_path, community_id=case.community_id,
        subdistrict_id=case.subdistrict_id, category_id=case.category_id, **counters,
    )
