"""The rollup tables behind every count and rate, kept exact and cheap at city scale.

What is counted, per case and month, is jiedao.cases.statistics.figures (docs/figures.md): each
figure of a case sits in the month of the timestamp that defines it (登记 the month filed, 受理
the month accepted, 办结 the month of the standing resolution …). Three levels of rollup:

- CaseStat (fine): month × grid (or the community, for cases filed on a community) × category;
- CaseStatArea: month × area node × category, for every community/village, sub-district,
  district and city above the fine node (a community's row includes its own cases);
- CaseStatAreaTotal: month × area node, all categories together.

Writers never touch them directly. The workflow's after-hook (jiedao.cases.services) calls
`record_change(before, after)`, which appends one CaseStatDelta row per month and key whose
figures changed (negative where a figure left), so concurrent intakes in one sub-district share
no row and no lock. A fold adds per key the sum of the deltas it takes; the deltas of one case
are appended in the order of its steps (each step starts from the committed one before), so any
batch a fold takes, in id order, holds a prefix of each case's deltas and no counter goes below
zero. The counters are plain integers: PostgreSQL and SQLite check a CHECK (>= 0) on the
proposed row of an upsert before it is added to the existing one. `fold()`
(a scheduled job, every few seconds) moves the pending deltas into the three tables and deletes
them in one transaction: on PostgreSQL in a single statement (`WITH d AS (DELETE … RETURNING …)`
feeding four `INSERT … ON CONFLICT DO UPDATE`), so a delta committed while a fold runs is either
folded by it or left for the next one — never lost, never counted twice. Readers (stats.py) add
the pending deltas to the folded rows in the same SQL statement, so figures are exact before a
fold, after it and while it commits.

Cached views of the figures (the dashboard's fragments) are keyed by `generation(node, range)`:
the pending deltas under the scope (how many, the highest id), the number of the last fold that
took a delta under the node, and a rebuild counter. Every fold has a number (a counter that each
fold and rebuild adds one to in its own transaction) and, in the same transaction, writes it
into a row of each node above the deltas it took (their fine nodes and every ancestor). Between
two folds that touch a scope its folded figures do not change and its pending deltas only grow,
so (count, highest id) names exactly the set pending; a fold elsewhere leaves the scope's key —
and its cached figures — alone. Read in one statement (one snapshot) before the figures, the
key is never newer than what is cached under it.

`rebuild()` recomputes all three tables from the case table by aggregate SQL that counts exactly
what `figures.case_figures` counts (the bulk seed uses it; to repair the rollups, call it from
`jiedao manage shell`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.db import connection, transaction

from jiedao.cases.models import Case, CaseStatDelta
from jiedao.cases.statistics.figures import ACK_IN_TIME, COUNTERS, Key, changes, key_of
from jiedao.core.fastpath import insert_one

PATH_STEP = 4
MAX_DEPTH = 10  # OrgNode.path holds at most 40 characters
GRID = "grid"

T_DELTA = "cases_casestatdelta"
T_FINE = "cases_casestat"
T_AREA = "cases_casestatarea"
T_TOTAL = "cases_casestatareatotal"
T_NODE = "org_orgnode"
_FOLD_LOCK = 7_304_201  # pg_advisory_xact_lock key: one fold at a time
T_GENERATION = "core_cachegeneration"
FOLDS = "rollup-folds"  # its row in T_GENERATION: how many folds and rebuilds so far
REBUILDS = "rollup-rebuilds"  # its row in T_GENERATION: how many rebuilds so far
NODE_FOLDS = "rollup-folds:{}"  # per node id: the number of the last fold under the node


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
            statements = [*_upsert_statements("g"),
                          _node_folds_statement("(SELECT DISTINCT g.path AS path FROM g)",
                                                f"(SELECT COALESCE(MAX(value), 0) + 1 FROM {T_GENERATION} "
                                                f"WHERE name = '{FOLDS}')")]
            ctes = ", ".join(f"s{i} AS ({sql} RETURNING 1)" for i, sql in enumerate(statements))
            cursor.execute(
                f"WITH d AS (DELETE FROM {T_DELTA}{limit_sql} RETURNING *), g AS ({_grouped('d')}), {ctes} "
                f"SELECT (SELECT COUNT(*) FROM d)"
            )
            folded = int(cursor.fetchone()[0])
            if folded:
                _count_fold(cursor)
            return folded
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
        cursor.execute(f"SELECT value FROM {T_GENERATION} WHERE name = %s", [FOLDS])
        number = (cursor.fetchone() or (0,))[0] + 1
        cursor.execute(_node_folds_statement(
            f"(SELECT DISTINCT o.path AS path FROM {T_DELTA} d JOIN {T_NODE} o ON o.id = d.node_id "
            f"WHERE d.id <= {int(top)})", str(int(number))))
        cursor.execute(f"DELETE FROM {T_DELTA} WHERE id <= %s", [top])
        _count_fold(cursor)
        return int(count)


def _node_folds_statement(paths: str, number: str) -> str:
    """Write the fold's `number` (SQL) into the row of every node on the paths (`paths`: a
    subquery of distinct fine-node paths `path`) and every ancestor of them."""
    prefix = NODE_FOLDS.format("")
    return (
        f"INSERT INTO {T_GENERATION} (name, value) SELECT DISTINCT '{prefix}' || u.id, {number} "
        f"FROM {paths} p CROSS JOIN ({_lengths()}) l JOIN {T_NODE} u ON u.path = substr(p.path, 1, l.n) "
        f"WHERE l.n <= length(p.path) ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    )


def _count_fold(cursor, name: str = FOLDS) -> None:
    """Add one to the fold counter (or another), in the fold's (or rebuild's) transaction."""
    cursor.execute(f"UPDATE {T_GENERATION} SET value = value + 1 WHERE name = %s", [name])
    if not cursor.rowcount:
        cursor.execute(f"INSERT INTO {T_GENERATION} (name, value) VALUES (%s, 1)", [name])


def generation(node_id: int | None, path_range: tuple[str, str] | None) -> tuple[int, int, int, int]:
    """Where the figures of the node `node_id` (its subtree `path_range`; both None: everywhere)
    stand: (rebuilds so far, the number of the last fold that took a delta under the node —
    everywhere: of the last fold —, pending deltas under it, their highest id). It changes the
    moment a case's figures move there (its delta commits), at every fold that takes one of its
    deltas and at every rebuild; equal values mean equal figures. A fold of other scopes' deltas
    leaves it as it is."""
    where, params = ("WHERE org_path BETWEEN %s AND %s", list(path_range)) if path_range else ("", [])
    folds = FOLDS if node_id is None else NODE_FOLDS.format(int(node_id))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT value FROM {T_GENERATION} WHERE name = %s), "
                       f"(SELECT value FROM {T_GENERATION} WHERE name = %s), COUNT(*), MAX(id) "
                       f"FROM {T_DELTA} {where}", [REBUILDS, folds, *params])
        rebuilds, folded, count, top = cursor.fetchone()
    return int(rebuilds or 0), int(folded or 0), int(count or 0), int(top or 0)


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
        return f"(date_trunc('month', ({column}) AT TIME ZONE '{settings.TIME_ZONE}'))::date"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # SQLite stores UTC text; the site zone's offset is fixed for China (no daylight saving).
    offset = datetime(2026, 1, 1, tzinfo=ZoneInfo(settings.TIME_ZONE)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return f"date({column}, '{minutes:+d} minutes', 'start of month')"


def _ack_in_time_sql() -> str:
    """The standing dispatch was signed within ACK_IN_TIME (to the microsecond, like Python)."""
    seconds = int(ACK_IN_TIME.total_seconds())
    if connection.vendor == "postgresql":
        return f"c.acknowledged_at - c.dispatched_at <= interval '{seconds} seconds'"
    # SQLite: whole seconds by unixepoch(), microseconds from the text's fraction (absent = 0).
    micro = "CAST(substr({c}, 21) AS INTEGER)"
    return (f"(unixepoch(c.acknowledged_at) - unixepoch(c.dispatched_at)) * 1000000 + "
            f"{micro.format(c='c.acknowledged_at')} - {micro.format(c='c.dispatched_at')} <= {seconds * 1000000}")


def case_parts_sql() -> list[tuple[str, str, dict[str, str]]]:
    """The figures of one case row `c`, as (timestamp expression, condition, counter -> SQL 0/1)
    per month-defining timestamp: exactly jiedao.cases.statistics.figures.case_figures."""
    def flag(condition: str) -> str:
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"

    merged = "c.merged_into_id IS NOT NULL"
    live = "c.merged_into_id IS NULL"
    standing = f"(c.resolved_at IS NOT NULL AND c.state IN ('resolved', 'verified', 'closed') AND {live})"
    resolved_at = f"CASE WHEN {standing} THEN c.resolved_at END"
    if connection.vendor == "postgresql":
        due_at = f"LEAST(c.deadline_at, {resolved_at})"
    else:
        due_at = (f"CASE WHEN c.deadline_at IS NULL THEN {resolved_at} WHEN NOT {standing} THEN c.deadline_at "
                  f"WHEN c.resolved_at < c.deadline_at THEN c.resolved_at ELSE c.deadline_at END")
    level = "COALESCE(c.resolved_level, c.level)"
    not_deferred = "c.deferred_at IS NULL"
    return [
        ("c.created_at", "1 = 1", {"reported": "1"}),
        ("c.closed_at", "c.closed_at IS NOT NULL", {
            "merged": flag(merged),
            "rejected": flag(f"{live} AND c.state = 'rejected'"),
            "closed": flag(f"{live} AND c.state = 'closed'"),
        }),
        ("c.accepted_at", f"c.accepted_at IS NOT NULL AND {live}", {
            "accepted": "1",
            "dispatched": flag("c.dispatched_at IS NOT NULL"),
            "acknowledged_in_time": flag(f"c.acknowledged_at IS NOT NULL AND c.dispatched_at IS NOT NULL AND "
                                         f"{_ack_in_time_sql()}"),
            "returned": flag("c.return_count > 0"),
            "reworked": flag("c.rework_count > 0"),
            "reopened": flag("c.reopen_count > 0"),
        }),
        ("c.resolved_at", standing, {
            "resolved": "1", **{f"resolved_level{n}": flag(f"{level} = {n}") for n in range(1, 5)},
        }),
        (due_at, f"{live} AND c.state <> 'rejected' AND (c.deadline_at IS NOT NULL OR {standing})", {
            "due": flag(not_deferred),
            "due_resolved": flag(f"{not_deferred} AND {standing}"),
            "on_time": flag(f"{not_deferred} AND {standing} AND (c.deadline_at IS NULL OR "
                            f"c.resolved_at <= c.deadline_at)"),
            "due_closed": flag(f"{not_deferred} AND c.state = 'closed'"),
            "deferred": flag("c.deferred_at IS NOT NULL"),
        }),
        ("c.rated_at", f"c.rated_at IS NOT NULL AND {live}", {
            "followed_up": "1",
            "contacted": flag("c.contacted_in_time"),
            "solved": flag("c.solved"),
            "satisfied": flag("c.rating = 'satisfied'"),
            "basic": flag("c.rating = 'basic'"),
            "unsatisfied": flag("c.rating = 'unsatisfied'"),
        }),
    ]


def case_figures_sql() -> str:
    """One row per case and month-defining timestamp of the sub-district `%s`: (month, node_id,
    subdistrict_id, community_id, category_id, every counter)."""
    selects = []
    for moment, condition, counters in case_parts_sql():
        values = ", ".join(f"{counters.get(c, '0')} AS {c}" for c in COUNTERS)
        selects.append(
            f"SELECT {month_sql(moment)} AS month, COALESCE(c.grid_id, c.community_id) AS node_id, "
            f"c.subdistrict_id AS subdistrict_id, c.community_id AS community_id, c.category_id AS category_id, "
            f"{values} FROM cases_case c WHERE c.subdistrict_id = %s AND {condition}"
        )
    return " UNION ALL ".join(selects)


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
        _count_fold(cursor)
        _count_fold(cursor, REBUILDS)
    if subdistrict_ids is None:
        subdistrict_ids = list(OrgNode.objects.filter(kind="subdistrict").order_by("path").values_list("id", flat=True))
    fine_cols = f"month, node_id, org_path, subdistrict_id, community_id, category_id, {_csv('{c}')}"
    parts = case_figures_sql()
    fine_sql = (
        f"INSERT INTO {T_FINE} ({fine_cols}) "
        f"SELECT x.month, x.node_id, o.path, x.subdistrict_id, x.community_id, x.category_id, {_csv('x.{c}')} FROM ("
        f"SELECT f.month AS month, f.node_id AS node_id, MAX(f.subdistrict_id) AS subdistrict_id,"
        f" MAX(f.community_id) AS community_id, f.category_id AS category_id, {_csv('SUM(f.{c}) AS {c}')}"
        f" FROM ({parts}) f GROUP BY f.month, f.node_id, f.category_id) x JOIN {T_NODE} o ON o.id = x.node_id"
    )
    statements = parts.count("%s")
    with connection.cursor() as cursor:
        for number, subdistrict_id in enumerate(subdistrict_ids, start=1):
            with transaction.atomic():
                cursor.execute(fine_sql, [subdistrict_id] * statements)
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


def record_change(before: Case | None, after: Case | None) -> int:
    """Append the change of a case's figures (jiedao.cases.statistics.figures.changes) as
    CaseStatDelta rows, one per month and key; returns how many. No shared row is updated, so
    concurrent steps never queue on a counter; the fold job moves the deltas into the rollups."""
    rows = stat_deltas(before, after)
    for row in rows:
        insert_one(row)
    return len(rows)


def stat_deltas(before: Case | None, after: Case | None) -> list[CaseStatDelta]:
    """The (unsaved) delta rows of a change from `before` to `after` (None: no case yet)."""
    return [_delta(key, month, counters) for key, month, counters in changes(before, after)]


def bump(case: Case, month: date, **counters: int) -> None:
    """Append one delta of the case's key for `month` (for repairs and tests; the workflow
    appends the change of the figures with `record_change`)."""
    insert_one(_delta(key_of(case), month, counters))


def _delta(key: Key, month: date, counters: dict[str, int]) -> CaseStatDelta:
    return CaseStatDelta(month=month, node_id=key.node_id, org_path=key.org_path, community_id=key.community_id,
                         subdistrict_id=key.subdistrict_id, category_id=key.category_id, **counters)
