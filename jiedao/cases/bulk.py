"""A year of case history for the district and city demo scales (`jiedao seed --scale city`:
about 24 million cases, Beijing's yearly 12345 volume), loaded in bulk.

Cases are generated one sub-district at a time (deterministic for a seed), spread over the last
twelve months with seasonal, weekly and daily rhythms, over sub-districts and grids of uneven
load, categories, sources, states, ratings and resolution levels; each case's lifecycle times
follow the workflow (accept, dispatch, acknowledge, resolve, verify, rate, close) up to now.

Loading: PostgreSQL gets one COPY per sub-district inside one transaction, with the case
table's secondary indexes dropped during the load and rebuilt after it (foreign-key triggers
are skipped with session_replication_role = replica when the role may set it); SQLite gets
executemany() in large transactions with its secondary indexes rebuilt after. The rollups are
then built by aggregate SQL (jiedao.cases.rollups.rebuild), not per case. The bulk history has
no CaseTransition rows and no audit event per case: the seed run records one audit event.
Deadlines are approximate (working days counted as 7/5 calendar days), not from the calendar.
"""

from __future__ import annotations

import bisect
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jiedao.cases import rollups
from jiedao.cases.demo import DEPARTMENT_FOR, SOURCES, TITLES, WEIGHTS
from jiedao.cases.models import Case, Category, LimitUnit, Tier
from jiedao.core import audit
from jiedao.org.models import Department, NodeKind, OrgNode

CASES_PER_SCALE = {"city": 24_000_000, "district": 1_400_000}
DAYS = 365
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# Relative volume by month of the year (summer storms and heat, the Spring Festival lull).
MONTH_WEIGHT = {1: 0.85, 2: 0.75, 3: 0.95, 4: 1.0, 5: 1.05, 6: 1.15, 7: 1.25, 8: 1.2, 9: 1.05, 10: 0.9,
                11: 0.95, 12: 0.9}
HOUR_WEIGHT = [1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 9, 10, 13, 13, 12, 11, 9, 8, 7, 5, 3, 2]


def _b31(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


class _Clock:
    """Minutes since the epoch <-> the text both databases accept, without strftime per value."""

    def __init__(self, first_day: datetime, days: int, suffix: str) -> None:
        self.base = int(first_day.timestamp() // 60)
        self.days = [(first_day + timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(days + 40)]
        self.hm = [f"{h:02d}:{m:02d}:00{suffix}" for h in range(24) for m in range(60)]

    def text(self, minute: int | None) -> str | None:
        if minute is None:
            return None
        offset = minute - self.base
        return self.days[offset // 1440] + self.hm[offset % 1440]


def _deadline_minutes(category: Category, urgent: bool) -> int:
    amount = float(category.time_limit or 5)
    if urgent:
        amount = max(amount / 2, 0.5)
    if category.time_limit_unit == LimitUnit.HOURS:
        hours = amount
    elif category.time_limit_unit == LimitUnit.WORKING_HOURS:
        hours = amount * 24 / 7 * 7 / 5
    else:
        hours = amount * 24 * 7 / 5
    return int(hours * 60)


def seed_history(*, scale: str, seed: int, total: int | None = None,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Generate and load `total` cases (default for the scale) over every sub-district, then
    build the rollups. Returns figures for the report (counts and seconds per phase)."""
    say = progress or (lambda _message: None)
    total = CASES_PER_SCALE.get(scale, 0) if total is None else total
    started = time.monotonic()
    rng = random.Random(f"{seed}/history")
    now = timezone.now().replace(second=0, microsecond=0)
    now_min = int(now.timestamp() // 60)
    first_day = (now - timedelta(days=DAYS + 1)).astimezone(UTC).replace(hour=0, minute=0)
    postgres = connection.vendor == "postgresql"
    clock = _Clock(first_day, DAYS + 2, "+00" if postgres else "")
    local_offset = int(timezone.localtime(now).utcoffset().total_seconds() // 60)

    categories = [c for c in Category.objects.filter(parent__isnull=False, is_active=True).order_by("id")]
    if not categories:
        categories = list(Category.objects.filter(is_active=True).order_by("id"))
    cat_weights = [WEIGHTS.get(c.code, 2) for c in categories]
    limits = {c.pk: (_deadline_minutes(c, False), _deadline_minutes(c, True)) for c in categories}

    subdistricts = list(OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT).order_by("path").values_list("id", "path"))
    units = {node_id: (path, name) for node_id, path, name in OrgNode.objects.filter(
        kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE)).values_list("id", "path", "name")}
    grids_by_sub: dict[int, list[tuple[int, str, int, str]]] = {}
    for grid_id, path, parent_id, sub_id, name in OrgNode.objects.filter(kind=NodeKind.GRID).values_list(
            "id", "path", "parent_id", "subdistrict_id", "name").order_by("path"):
        grids_by_sub.setdefault(sub_id, []).append((grid_id, path, parent_id, units[parent_id][1] + name))
    communities_by_sub: dict[int, list[int]] = {}
    for unit_id, sub_id in OrgNode.objects.filter(kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE)).values_list(
            "id", "subdistrict_id"):
        communities_by_sub.setdefault(sub_id, []).append(unit_id)
    departments: dict[int, dict[str, int]] = {}
    for dept_id, sub_id, name in Department.objects.values_list("id", "subdistrict_id", "name").order_by("id"):
        entry = departments.setdefault(sub_id, {})
        entry.setdefault("", dept_id)
        for key in set(DEPARTMENT_FOR.values()):
            if key in name:
                entry.setdefault(key, dept_id)

    # Uneven load: sub-districts and grids drawn from log-normal weights.
    sub_weights = [rng.lognormvariate(0, 0.45) for _ in subdistricts]
    scale_by = total / sum(sub_weights) if sub_weights else 0
    counts = [int(w * scale_by) for w in sub_weights]
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    day_weights = []
    for d in range(DAYS):
        day = timezone.localtime(now) - timedelta(days=DAYS - d)
        day_weights.append(MONTH_WEIGHT[day.month] * (0.7 if day.weekday() >= 5 else 1.0))
    day_cum = list(_accumulate(day_weights))
    hour_cum = list(_accumulate(HOUR_WEIGHT))
    cat_cum = list(_accumulate(cat_weights))
    sources = [s for s, _ in SOURCES]
    source_cum = list(_accumulate([w for _, w in SOURCES]))
    day0_local = int(timezone.localtime(now - timedelta(days=DAYS)).replace(hour=0, minute=0).timestamp() // 60)

    fields = [f for f in Case._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    template = [f.get_default() for f in fields]
    template = [v.value if hasattr(v, "value") else v for v in template]
    at = {f.attname: i for i, f in enumerate(fields)}
    say(f"正在生成并载入 {total} 件历史事项 / loading {total:,} cases into {connection.vendor}…")

    loader = _PostgresLoader(columns) if postgres else _SqliteLoader(columns)
    loaded = 0
    states: dict[str, int] = {}
    loader.begin()
    try:
        for number, ((sub_id, _sub_path), count) in enumerate(zip(subdistricts, counts, strict=True), start=1):
            grids = grids_by_sub.get(sub_id) or []
            if not grids or count <= 0:
                continue
            srng = random.Random(f"{seed}/history/{sub_id}")
            grid_cum = list(_accumulate([srng.lognormvariate(0, 0.6) for _ in grids]))
            depts = departments.get(sub_id, {})
            own_units = communities_by_sub.get(sub_id) or [grids[0][2]]
            minutes = sorted(
                day0_local + int(d) * 1440 + 60 * srng.choices(range(24), cum_weights=hour_cum)[0] + srng.randrange(60)
                for d in (_pick(day_cum, srng.random()) for _ in range(count))
            )
            texts: dict[tuple[int, int], tuple[str, str]] = {}
            rows = []
            per_day: dict[int, int] = {}
            prefix = _b31(number, 3)
            for created in minutes:
                if created >= now_min:
                    created = now_min - 1
                row = list(template)
                category = categories[_pick(cat_cum, srng.random())]
                if srng.random() < 0.1:  # filed on the community (or village) itself
                    unit_id = srng.choice(own_units)
                    grid_id, node_id, path, place = None, unit_id, units[unit_id][0], units[unit_id][1]
                else:
                    grid_id, path, unit_id, place = grids[_pick(grid_cum, srng.random())]
                    node_id = grid_id
                key = (node_id, category.pk)
                text = texts.get(key)
                if text is None:
                    title, body = TITLES.get(category.code, ("{place}" + category.name, "{place}反映" + category.name + "问题，请尽快处理。"))
                    text = texts[key] = (title.format(place=place)[:100], body.format(place=place))
                local_day = (created + local_offset) // 1440
                serial = per_day.get(local_day, 0)
                per_day[local_day] = serial + 1
                day_text = clock.days[(created + local_offset - clock.base) // 1440]
                row[at["ticket"]] = (day_text[:4] + day_text[5:7] + day_text[8:10] + "-" + prefix + _b31(serial, 3)
                                     + _ALPHABET[srng.randrange(31)] + _ALPHABET[srng.randrange(31)])
                source = sources[_pick(source_cum, srng.random())]
                urgent = srng.random() < 0.08
                row[at["source"]] = source
                row[at["category_id"]] = category.pk
                row[at["tier"]] = category.default_tier
                row[at["urgency"]] = "urgent" if urgent else "normal"
                row[at["node_id"]] = node_id
                row[at["org_path"]] = path
                row[at["subdistrict_id"]] = sub_id
                row[at["community_id"]] = unit_id
                row[at["grid_id"]] = grid_id
                row[at["title"]], row[at["description"]] = text
                row[at["reporter_name"]] = "" if source == "patrol" else "居民"
                state = _lifecycle(row, at, srng, created, now_min, category, urgent, unit_id,
                                   depts.get(DEPARTMENT_FOR.get(category.code, "")) or depts.get(""), limits, clock)
                states[state] = states.get(state, 0) + 1
                row[at["created_at"]] = clock.text(created)
                rows.append(row)
            loader.write(rows)
            loaded += len(rows)
            if number % 10 == 0 or number == len(subdistricts):
                elapsed = time.monotonic() - started
                say(f"  已载入 {loaded:,} 件（{number}/{len(subdistricts)} 个街道，{elapsed:.0f} 秒，"
                    f"{loaded / max(elapsed, 0.001):,.0f} 件/秒）/ {loaded:,} cases, {number} sub-districts, {elapsed:.0f} s")
        load_seconds = time.monotonic() - started
        say(f"正在重建事项表索引 / rebuilding the case table's indexes… ({load_seconds:.0f} s)")
        loader.finish(say)
    except BaseException:
        loader.abort()
        raise
    index_seconds = time.monotonic() - started - load_seconds
    counts_out = rollups.rebuild(subdistrict_ids=[s for s, _ in subdistricts], progress=say)
    seconds = time.monotonic() - started
    result = {"cases": loaded, "states": states, "load_seconds": round(load_seconds, 1),
              "index_seconds": round(index_seconds, 1), "rollup_seconds": round(seconds - load_seconds - index_seconds, 1),
              "seconds": round(seconds, 1), "rollup_rows": counts_out}
    root = OrgNode.objects.filter(parent__isnull=True).order_by("path").first()
    audit.record(actor="jiedao seed", action="cases.history.seed", obj=root, after=result,
                 reason="批量生成历史事项（无逐件流转记录与审计事件）")
    say(f"历史事项完成 / history done: {loaded:,} 件 cases in {seconds:.0f} s "
        f"(载入 load {load_seconds:.0f} s, 索引 indexes {index_seconds:.0f} s, 汇总 rollups "
        f"{result['rollup_seconds']:.0f} s)")
    return result


def _accumulate(weights: list[float]):
    running = 0.0
    for w in weights:
        running += w
        yield running


def _pick(cum: list[float], u: float) -> int:
    """Index drawn from cumulative weights `cum` with a uniform u in [0, 1)."""
    return min(bisect.bisect_right(cum, u * cum[-1]), len(cum) - 1)


def _lifecycle(row: list, at: dict[str, int], rng: random.Random, t: int, now: int, category: Category,
               urgent: bool, unit_id: int, department: int | None, limits: dict, clock: _Clock) -> str:
    """Walk one case through the workflow up to now; sets the row's state and times."""

    def later(lo_hours: float, hi_hours: float) -> int | None:
        nonlocal t
        t += int(rng.uniform(lo_hours, hi_hours) * 60) + 1
        return t if t < now else None

    row[at["updated_at"]] = None
    state = "reported"
    stamps: dict[str, int] = {}
    try:
        if later(0.2, 6) is None:
            return state
        if rng.random() < 0.03:
            state = "rejected"
            stamps["closed_at"] = t
            row[at["result"]] = "不属于受理范围，已告知反映人"
            return state
        state = "accepted"
        level = 1
        if category.default_tier == Tier.PRIVATE:
            if later(2, 48) is None:
                return state
            row[at["result"]] = row[at["guidance"]] = "已向居民说明办理渠道和所需材料。"
            row[at["handling_node_id"]] = unit_id
            stamps["resolved_at"] = t
            row[at["resolved_level"]] = 1
            state = "resolved"
        else:
            if later(0.1, 3) is None:
                return state
            public = category.default_tier == Tier.PUBLIC and department is not None
            if public:
                row[at["handling_department_id"]] = department
                level = 4 if rng.random() < 0.01 else 2
            else:
                row[at["handling_node_id"]] = unit_id
                if rng.random() < 0.04:
                    level = 3
                    row[at["difficult"]] = True
            row[at["level"]] = level
            stamps["dispatched_at"] = t
            limit = limits[category.pk][1 if urgent else 0]
            deadline = t + limit
            stamps["deadline_at"] = deadline
            state = "dispatched"
            if later(0.1, 2.4 if rng.random() < 0.85 else 12) is None:
                return state
            stamps["acknowledged_at"] = t
            state = "acknowledged"
            hours = limit / 60
            late = rng.random() < 0.08
            if later(hours * 0.2, hours * (1.6 if late else 0.9)) is None:
                state = "in_progress"
                return state
            stamps["resolved_at"] = t
            row[at["resolved_level"]] = level
            row[at["result"]] = "已现场处置完毕。"
            state = "resolved"
        if later(1, 30) is None:
            return state
        if rng.random() < 0.05:
            row[at["rework_count"]] = 1
            if later(4, 48) is None:
                state = "in_progress"
                return state
            stamps["resolved_at"] = t
            if later(1, 24) is None:
                state = "resolved"
                return state
        state = "verified"
        if later(2, 72) is None:
            return state
        rating = ("satisfied", "basic", "unsatisfied")[_pick([88, 97, 100], rng.random())]
        row[at["rating"]] = rating
        stamps["rated_at"] = t
        if rating == "unsatisfied":
            row[at["reopen_count"]] = 1
            state = "in_progress"
            limit = limits[category.pk][0]
            stamps["deadline_at"] = t + limit
            if later(limit / 60 * 0.3, limit / 60 * 1.1) is None:
                return state
            state = "verified"
        if later(2, 96) is None:
            return state
        stamps["closed_at"] = t
        state = "closed"
        return state
    finally:
        row[at["state"]] = state
        row[at["version"]] = len(stamps)
        deadline = stamps.get("deadline_at")
        if state in ("dispatched", "acknowledged", "in_progress") and deadline is not None:
            row[at["sla_status"]] = "overdue" if deadline < now else ("near" if deadline - now < 1440 else "")
        for name, minute in stamps.items():
            row[at[name]] = clock.text(minute)
        row[at["updated_at"]] = clock.text(max([t if t < now else now - 1,
                                                *(v for k, v in stamps.items() if k != "deadline_at")]))


class _PostgresLoader:
    """COPY into cases_case with its secondary indexes dropped, in one transaction."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.indexes: list[str] = []
        self.constraints: list[tuple[str, str]] = []
        self.atomic = transaction.atomic()

    def begin(self) -> None:
        self.atomic.__enter__()
        with connection.cursor() as cursor:
            try:
                with transaction.atomic():
                    cursor.execute("SET LOCAL session_replication_role = replica")
                self.replica = True
            except Exception:  # not allowed for this role: foreign keys are checked, just slower
                self.replica = False
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'cases_case'::regclass AND contype = 'u'"
            )
            self.constraints = cursor.fetchall()
            for name, _definition in self.constraints:
                cursor.execute(f'ALTER TABLE cases_case DROP CONSTRAINT "{name}"')
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'cases_case' "
                "AND i.indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'cases_case'::regclass)"
            )
            found = cursor.fetchall()
            self.indexes = [definition for _name, definition in found]
            for name, _definition in found:
                cursor.execute(f'DROP INDEX "{name}"')

    def write(self, rows: list[list]) -> None:
        lines = []
        for row in rows:
            lines.append("\t".join(r"\N" if v is None else ("t" if v is True else "f" if v is False else str(v))
                                   for v in row))
        data = ("\n".join(lines) + "\n").encode()
        with connection.cursor() as cursor, cursor.cursor.copy(
                f"COPY cases_case ({', '.join(self.columns)}) FROM STDIN") as copy:
            copy.write(data)

    def finish(self, say: Callable[[str], None]) -> None:
        with connection.cursor() as cursor:
            for definition in self.indexes:
                started = time.monotonic()
                cursor.execute(definition)
                if time.monotonic() - started >= 1:
                    say(f"  {definition.split(' ON ')[0]} ({time.monotonic() - started:.0f} s)")
            for name, definition in self.constraints:
                cursor.execute(f'ALTER TABLE cases_case ADD CONSTRAINT "{name}" {definition}')
            cursor.execute("ANALYZE cases_case")
        self.atomic.__exit__(None, None, None)

    def abort(self) -> None:
        import sys

        self.atomic.__exit__(*sys.exc_info())


class _SqliteLoader:
    """executemany() in transactions of a few hundred thousand rows, secondary indexes dropped
    during the load (the UNIQUE ticket index stays: tickets arrive in near date order)."""

    BATCH = 300_000

    def __init__(self, columns: list[str]) -> None:
        self.sql = f"INSERT INTO cases_case ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.pending: list[list] = []
        self.indexes: list[str] = []

    def begin(self) -> None:
        connection.ensure_connection()
        raw = connection.connection
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute("PRAGMA synchronous = OFF")
        raw.execute("PRAGMA cache_size = -262144")
        found = raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cases_case'"
                            " AND sql IS NOT NULL").fetchall()
        self.indexes = [sql for _name, sql in found]
        for name, _sql in found:
            raw.execute(f'DROP INDEX "{name}"')
        raw.commit()

    def _flush(self) -> None:
        raw = connection.connection
        raw.execute("BEGIN")
        raw.executemany(self.sql, [[1 if v is True else 0 if v is False else v for v in row] for row in self.pending])
        raw.commit()
        self.pending = []

    def write(self, rows: list[list]) -> None:
        self.pending.extend(rows)
        if len(self.pending) >= self.BATCH:
            self._flush()

    def finish(self, say: Callable[[str], None]) -> None:
        if self.pending:
            self._flush()
        self._restore(say)

    def _restore(self, say: Callable[[str], None] | None = None) -> None:
        raw = connection.connection
        for sql in self.indexes:
            started = time.monotonic()
            raw.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            if say and time.monotonic() - started >= 1:
                say(f"  {sql.split(' ON ')[0]} ({time.monotonic() - started:.0f} s)")
        raw.commit()
        raw.execute("PRAGMA analysis_limit = 1000")
        raw.execute("ANALYZE")
        raw.execute("PRAGMA synchronous = NORMAL")
        raw.execute("PRAGMA foreign_keys = ON")
        raw.commit()
        self.indexes = []

    def abort(self) -> None:
        raw = connection.connection
        if raw.in_transaction:
            raw.rollback()
        self._restore()
