"""A year of case history for the district and city demo scales (`jiedao seed --scale city`:
about 24 million cases, Beijing's yearly 12345 volume), loaded in bulk.

Cases are generated one sub-district at a time (deterministic for a seed), spread over the last
twelve months with seasonal, weekly and daily rhythms, over sub-districts and grids of uneven
load, categories, sources, states, ratings and resolution levels; each case's lifecycle times
follow the workflow (accept, dispatch, acknowledge, resolve, verify, rate, close) up to now.

Loading: the cases are generated as numpy columns per sub-district, staged (PostgreSQL: COPY; SQLite:
executemany) as integers and converted by one INSERT … SELECT per sub-district, with the case
table's secondary indexes dropped during the load and rebuilt after it (foreign-key triggers
are skipped with session_replication_role = replica when the role may set it); SQLite gets
executemany() in large transactions with its secondary indexes rebuilt after. The rollups are
then built by aggregate SQL (jiedao.cases.statistics.rollups.rebuild), not per case. The bulk history has
no CaseTransition rows and no audit event per case: the seed run records one audit event.
Deadlines are approximate (working days counted as 7/5 calendar days), not from the calendar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from jiedao.cases import search
from jiedao.cases.demo import DEPARTMENT_FOR, SOURCES, TITLES, WEIGHTS
from jiedao.cases.models import Case, Category, LimitUnit, Tier
from jiedao.cases.statistics import rollups
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
    rng = np.random.default_rng(abs(hash_seed(f"{seed}/history")))
    now = timezone.now().replace(second=0, microsecond=0)
    now_min = int(now.timestamp() // 60)
    local_offset = int(timezone.localtime(now).utcoffset().total_seconds() // 60)
    day0 = (now_min + local_offset) // 1440 - DAYS  # local day number of the first day

    categories = list(Category.objects.filter(parent__isnull=False, is_active=True).order_by("id"))
    if not categories:
        categories = list(Category.objects.filter(is_active=True).order_by("id"))
    if not categories and total:
        raise ValueError("事项类别目录为空，无法生成历史事项。/ The category catalogue is empty.")
    cat_p = np.array([WEIGHTS.get(c.code, 2) for c in categories], dtype=float)
    cat_p /= cat_p.sum()
    cat_ids = np.array([c.pk for c in categories])
    cat_private = np.array([c.default_tier == Tier.PRIVATE for c in categories])
    cat_public = np.array([c.default_tier == Tier.PUBLIC for c in categories])
    cat_limit = np.array([_deadline_minutes(c, False) for c in categories])
    cat_limit_urgent = np.array([_deadline_minutes(c, True) for c in categories])
    texts = []
    for c in categories:
        title, body = TITLES.get(c.code, ("{place}" + c.name, "{place}反映" + c.name + "问题，请尽快处理。"))
        texts.append((title, body))
    dept_key = [DEPARTMENT_FOR.get(c.code, "") for c in categories]

    subdistricts = list(OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT).order_by("path").values_list("id", flat=True))
    unit_names = dict(OrgNode.objects.filter(kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE)).values_list("id", "name"))
    grids_by_sub: dict[int, list[tuple[int, int, str]]] = {}
    for grid_id, parent_id, sub_id, name in OrgNode.objects.filter(kind=NodeKind.GRID).values_list(
            "id", "parent_id", "subdistrict_id", "name").order_by("path"):
        grids_by_sub.setdefault(sub_id, []).append((grid_id, parent_id, unit_names[parent_id] + name))
    units_by_sub: dict[int, list[int]] = {}
    for unit_id, sub_id in OrgNode.objects.filter(kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE)).values_list(
            "id", "subdistrict_id").order_by("path"):
        units_by_sub.setdefault(sub_id, []).append(unit_id)
    departments: dict[int, dict[str, int]] = {}
    for dept_id, sub_id, name in Department.objects.values_list("id", "subdistrict_id", "name").order_by("id"):
        entry = departments.setdefault(sub_id, {})
        entry.setdefault("", dept_id)
        for key in set(DEPARTMENT_FOR.values()):
            if key in name:
                entry.setdefault(key, dept_id)

    # Uneven load: sub-districts and grids drawn from log-normal weights.
    weights = rng.lognormal(0, 0.45, len(subdistricts))
    counts = np.floor(weights / weights.sum() * total).astype(int) if len(subdistricts) else np.array([], dtype=int)
    counts[: total - int(counts.sum())] += 1
    day_p = np.array([MONTH_WEIGHT[(now - timedelta(days=DAYS - d)).month] *
                      (0.7 if (now - timedelta(days=DAYS - d)).weekday() >= 5 else 1.0) for d in range(DAYS)])
    day_p /= day_p.sum()
    hour_p = np.array(HOUR_WEIGHT, dtype=float) / sum(HOUR_WEIGHT)
    source_p = np.array([w for _, w in SOURCES], dtype=float)
    source_p /= source_p.sum()
    day_text = {}
    for d in range(day0 - 2, day0 + DAYS + 3):
        day_text[d] = (datetime(1970, 1, 1) + timedelta(days=d)).strftime("%Y%m%d") + "-"
    b31 = [_b31(n, 3) for n in range(31 ** 3)]
    tail = [a + b for a in _ALPHABET for b in _ALPHABET]

    say(f"正在生成并载入 {total} 件历史事项 / loading {total:,} cases into {connection.vendor}…")
    loader = _Loader(now_min)
    loaded = 0
    states = np.zeros(len(STATES), dtype=np.int64)
    loader.begin()
    try:
        for number, (sub_id, count) in enumerate(zip(subdistricts, counts.tolist(), strict=True), start=1):
            grids = grids_by_sub.get(sub_id) or []
            if not grids or count <= 0:
                continue
            srng = np.random.default_rng(abs(hash_seed(f"{seed}/history/{sub_id}")))
            depts = departments.get(sub_id, {})
            cols = _generate(srng, count, now_min, day0, local_offset, day_p, hour_p, source_p, cat_p, cat_private,
                             cat_public, cat_limit, cat_limit_urgent, grids, units_by_sub.get(sub_id) or [grids[0][1]],
                             np.array([depts.get(k) or depts.get("") or -1 for k in dept_key]))
            places = {g: p for g, _u, p in grids}
            places.update({u: unit_names[u] for u in units_by_sub.get(sub_id, [])})
            prefix = _b31(number, 3)
            serial: dict[int, int] = {}
            tickets = []
            local_days = ((cols["created"] + local_offset) // 1440).tolist()
            for day, r in zip(local_days, srng.integers(0, len(tail), count).tolist(), strict=True):
                n = serial.get(day, 0)
                serial[day] = n + 1
                tickets.append(day_text[day] + prefix + b31[n] + tail[r])
            cache: dict[tuple[int, int], tuple[str, str, str]] = {}
            titles, bodies, words = [], [], []
            for node, cat in zip(cols["node"].tolist(), cols["cat"].tolist(), strict=True):
                text = cache.get((node, cat))
                if text is None:
                    title, body = texts[cat]
                    title, body = title.format(place=places[node])[:100], body.format(place=places[node])
                    text = cache[(node, cat)] = (title, body, search.terms(title, body))
                titles.append(text[0])
                bodies.append(text[1])
                words.append(text[2])
            cols["category_id"] = cat_ids[cols["cat"]]
            states += np.bincount(cols["state"], minlength=len(STATES))
            loader.write(sub_id, cols, tickets, titles, bodies, words)
            loaded += count
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
    counts_out = rollups.rebuild(subdistrict_ids=subdistricts, progress=say)
    seconds = time.monotonic() - started
    result = {"cases": loaded, "states": {name: int(n) for name, n in zip(STATES, states.tolist(), strict=True) if n},
              "load_seconds": round(load_seconds, 1), "index_seconds": round(index_seconds, 1),
              "rollup_seconds": round(seconds - load_seconds - index_seconds, 1),
              "seconds": round(seconds, 1), "rollup_rows": counts_out}
    root = OrgNode.objects.filter(parent__isnull=True).order_by("path").first()
    audit.record(actor="jiedao seed", action="cases.history.seed", obj=root, after=result,
                 reason="批量生成历史事项（无逐件流转记录与审计事件）")
    say(f"历史事项完成 / history done: {loaded:,} 件 cases in {seconds:.0f} s "
        f"(载入 load {load_seconds:.0f} s, 索引 indexes {index_seconds:.0f} s, 汇总 rollups "
        f"{result['rollup_seconds']:.0f} s)")
    return result


def scale_step(*, scale: str, seed: int, progress: Callable[[str], None] | None = None, cases: int | None = None,
               **options: Any) -> str | None:
    """cases' part of `jiedao seed` at the other scales (registered in CasesConfig.ready(), see
    core.seeding): the bulk history, by default for district and city, or `cases` of them."""
    if cases == 0 or (cases is None and scale not in CASES_PER_SCALE):
        return None
    from jiedao.cases.demo import seed_routing_rules

    rules = sum(seed_routing_rules(node) for node in OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT))
    history = seed_history(scale=scale, seed=seed, total=cases, progress=progress)
    return (f"派遣规则 / routing rules: {rules} 条；"
            f"历史事项 / case history: {history['cases']} 件 cases "
            f"（用时 {history['seconds']:.0f} 秒 / in {history['seconds']:.0f} s）")


def hash_seed(text: str) -> int:
    """A stable integer seed from text (Python's hash() of str varies per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


STATES = ("reported", "accepted", "rejected", "dispatched", "acknowledged", "in_progress", "resolved", "verified",
          "closed")
SOURCE_CODES = tuple(s for s, _ in SOURCES)
RATINGS = ("", "satisfied", "basic", "unsatisfied")
RESULTS = ("", "不属于受理范围，已告知反映人", "已现场处置完毕。", "已向居民说明办理渠道和所需材料。")


def _generate(rng, n: int, now: int, day0: int, local_offset: int, day_p, hour_p, source_p, cat_p, cat_private,
              cat_public, cat_limit, cat_limit_urgent, grids, units, dept_for_cat) -> dict[str, np.ndarray]:
    """One sub-district's cases as column arrays: times in minutes since the epoch (-1: none)."""
    H = 60.0

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo * H, hi * H, n).astype(np.int64) + 1

    days = rng.choice(DAYS, n, p=day_p) + day0
    created = np.sort(days * 1440 + rng.choice(24, n, p=hour_p) * 60 + rng.integers(0, 60, n) - local_offset)
    created = np.minimum(created, now - 1)
    grid_w = rng.lognormal(0, 0.6, len(grids))
    gi = rng.choice(len(grids), n, p=grid_w / grid_w.sum())
    grid_ids = np.array([g for g, _u, _p in grids])[gi]
    unit_of_grid = np.array([u_ for _g, u_, _p in grids])[gi]
    on_unit = rng.random(n) < 0.1
    unit_pick = np.array(units)[rng.integers(0, len(units), n)]
    community = np.where(on_unit, unit_pick, unit_of_grid)
    node = np.where(on_unit, unit_pick, grid_ids)
    grid = np.where(on_unit, -1, grid_ids)
    cat = rng.choice(len(cat_p), n, p=cat_p)
    source = rng.choice(len(source_p), n, p=source_p)
    urgent = rng.random(n) < 0.08
    private = cat_private[cat]
    dept = dept_for_cat[cat]
    public = cat_public[cat] & (dept >= 0)
    limit = np.where(urgent, cat_limit_urgent[cat], cat_limit[cat])
    normal_limit = cat_limit[cat]

    t_accept = created + u(0.2, 6)
    rejected = rng.random(n) < 0.03
    t_dispatch = t_accept + u(0.1, 3)
    deadline1 = t_dispatch + limit
    ack_hi = np.where(rng.random(n) < 0.85, 2.4 * H, 12 * H)
    t_ack = t_dispatch + (rng.random(n) * (ack_hi - 0.1 * H) + 0.1 * H).astype(np.int64) + 1
    late = rng.random(n) < 0.08
    work = (limit * (0.2 + rng.random(n) * np.where(late, 1.4, 0.7))).astype(np.int64) + 1
    t_resolve = np.where(private, t_accept + u(2, 48), t_ack + work)
    t_verify1 = t_resolve + u(1, 30)
    rework = rng.random(n) < 0.05
    t_reresolve = t_verify1 + u(4, 48)
    t_verify = np.where(rework, t_reresolve + u(1, 24), t_verify1)
    t_rate = t_verify + u(2, 72)
    # 回访: contacted in time? solved? how satisfied? A bad answer (not solved, or 不满意) sends the
    # case back (重办); it is resolved again and followed up again, and that latest answer counts.
    bad = rng.random(n) < 0.045
    rating = np.where(bad, np.where(rng.random(n) < 0.65, 3, 2), np.where(rng.random(n) < 0.91, 1, 2))
    solved = ~bad | ((rating == 3) & (rng.random(n) < 0.2))
    contacted = rng.random(n) < 0.95
    t_reopen_done = t_rate + (normal_limit * (0.3 + rng.random(n) * 0.8)).astype(np.int64) + 1
    t_rate2 = t_reopen_done + u(2, 48)
    rating2 = np.where(rng.random(n) < 0.8, 1, 2)
    contacted2 = rng.random(n) < 0.97
    t_close = np.where(bad, t_rate2, t_rate) + u(2, 96)

    S = {name: i for i, name in enumerate(STATES)}
    dispatched_ok = ~private & (t_dispatch < now)
    conditions = [
        t_accept >= now,
        rejected,
        private & (t_resolve >= now),
        ~private & (t_dispatch >= now),
        ~private & (t_ack >= now),
        ~private & (t_resolve >= now),
        t_verify1 >= now,
        rework & (t_reresolve >= now),
        rework & (t_verify >= now),
        t_rate >= now,
        bad & (t_reopen_done >= now),
        bad & (t_rate2 >= now),
        t_close >= now,
    ]
    choices = [S["reported"], S["rejected"], S["accepted"], S["accepted"], S["dispatched"], S["in_progress"],
               S["resolved"], S["in_progress"], S["resolved"], S["verified"], S["in_progress"], S["resolved"],
               S["verified"]]
    state = np.select(conditions, choices, default=S["closed"])
    accepted = (t_accept < now) & ~rejected
    stage_resolved = (state >= S["resolved"]) | ((state == S["in_progress"]) & (t_resolve < now))
    stage_resolved &= accepted
    # The standing resolution: the latest, and only while the case is resolved, verified or closed
    # (a failed verification or a bad follow-up clears it until the case is resolved again).
    latest = np.where(bad & (t_reopen_done < now), t_reopen_done,
                      np.where(rework & (t_reresolve < now), t_reresolve, t_resolve))
    resolved_at = np.where(accepted & (state >= S["resolved"]), latest, -1)
    rated = accepted & (t_rate < now)
    rated2 = rated & bad & (t_rate2 < now)
    level = np.where(public, np.where(rng.random(n) < 0.01, 4, 2),
                     np.where(~private & (rng.random(n) < 0.04), 3, 1))
    has_dispatch = accepted & dispatched_ok
    # 缓办: about a third of the late cases get a leader's approval and a new date before the old one.
    t_defer = t_ack + ((deadline1 - t_ack) * (0.3 + rng.random(n) * 0.6)).astype(np.int64)
    deferred = has_dispatch & late & (rng.random(n) < 0.35) & (t_ack < now) & (t_defer < now) & (t_defer < deadline1)
    deadline = np.where(has_dispatch, np.where(deferred, deadline1 + limit, deadline1), -1)
    open_ = (state == S["dispatched"]) | (state == S["acknowledged"]) | (state == S["in_progress"])
    sla = np.where(open_ & (deadline >= 0), np.where(deadline < now, 2, np.where(deadline - now < 1440, 1, 0)), 0)
    closed_at = np.where(rejected & (t_accept < now), t_accept, np.where(state == S["closed"], t_close, -1))
    times = np.stack([created, np.where(t_accept < now, t_accept, -1), np.where(has_dispatch, t_dispatch, -1),
                      np.where(has_dispatch & (t_ack < now), t_ack, -1), resolved_at,
                      np.where(rated2, t_rate2, np.where(rated, t_rate, -1)), closed_at])
    result = np.where(rejected & (t_accept < now), 1, np.where(stage_resolved, np.where(private, 3, 2), 0))
    return {
        "created": created, "updated": times.max(axis=0), "node": node, "grid": grid, "community": community,
        "cat": cat, "source": source, "urgent": urgent.astype(np.int64), "state": state,
        "version": (times >= 0).sum(axis=0) - 1,
        "level": np.where(accepted, level, 1), "resolved_level": np.where(stage_resolved, level, -1),
        "dept": np.where(has_dispatch & public, dept, -1),
        "hnode": np.where(accepted & ~public & (private & stage_resolved | has_dispatch), community, -1),
        "accepted": np.where(accepted, t_accept, -1),
        "dispatched": times[2], "acknowledged": times[3], "deadline": deadline, "resolved": resolved_at,
        "deferred": np.where(deferred, t_defer, -1), "closed": closed_at, "rated": times[5],
        "rating": np.where(rated2, rating2, np.where(rated, rating, 0)),
        "contacted": np.where(rated2, contacted2, np.where(rated, contacted, -1)).astype(np.int64),
        "solved": np.where(rated2, 1, np.where(rated, solved, -1)).astype(np.int64),
        "rework": (rework & accepted & (t_verify1 < now)).astype(np.int64),
        "reopen": (rated & bad).astype(np.int64), "difficult": (accepted & (level == 3)).astype(np.int64),
        "sla": sla, "result": result,
    }


STAGE_INT = ("created", "updated", "node", "grid", "community", "category_id", "source", "urgent", "state", "version",
             "level", "resolved_level", "dept", "hnode", "accepted", "dispatched", "acknowledged", "deadline",
             "resolved", "deferred", "closed", "rated", "rating", "contacted", "solved", "rework", "reopen",
             "difficult", "sla", "result")


def _case_insert_sql(subdistrict_id: int) -> str:
    """INSERT … SELECT from the staging table into cases_case, converting codes and minutes."""
    pg = connection.vendor == "postgresql"

    def ts(col: str) -> str:
        conv = f"to_timestamp(s.{col} * 60)" if pg else f"datetime(s.{col} * 60, 'unixepoch')"
        return f"CASE WHEN s.{col} < 0 THEN NULL ELSE {conv} END"

    def code(col: str, values: tuple[str, ...]) -> str:
        whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
        return f"CASE s.{col} {whens} END"

    def ref(col: str) -> str:
        return f"NULLIF(s.{col}, -1)"

    columns = {
        "created_at": ts("created"), "updated_at": ts("updated"), "ticket": "s.ticket",
        "source": code("source", SOURCE_CODES), "category_id": "s.category_id", "filed_category_id": "s.category_id",
        "tier": "k.default_tier",
        "urgency": "CASE WHEN s.urgent = 1 THEN 'urgent' ELSE 'normal' END", "state": code("state", STATES),
        "version": "s.version", "node_id": "s.node", "org_path": "o.path", "subdistrict_id": str(int(subdistrict_id)),
        "community_id": "s.community", "grid_id": ref("grid"), "address": "''", "title": "s.title",
        "description": "s.description", "anonymous": "false",
        "reporter_name": f"CASE WHEN s.source = {SOURCE_CODES.index('patrol')} THEN '' ELSE '居民' END",
        "reporter_phone_enc": "''", "reporter_phone_masked": "''", "level": "s.level",
        "resolved_level": ref("resolved_level"), "handling_department_id": ref("dept"),
        "handling_node_id": ref("hnode"), "dispatched_at": ts("dispatched"), "acknowledged_at": ts("acknowledged"),
        "deadline_at": ts("deadline"), "resolved_at": ts("resolved"), "closed_at": ts("closed"),
        "result": code("result", RESULTS), "guidance": f"CASE WHEN s.result = 3 THEN '{RESULTS[3]}' ELSE '' END",
        "rating": code("rating", RATINGS), "rating_comment": "''", "rated_at": ts("rated"), "return_count": "0",
        "rework_count": "s.rework", "reopen_count": "s.reopen", "supervise_count": "0", "escalation_count": "0",
        "difficult": "(s.difficult = 1)", "sla_status": code("sla", ("", "near", "overdue")),
        "accepted_at": ts("accepted"), "deferred_at": ts("deferred"),
        "contacted_in_time": "CASE WHEN s.contacted < 0 THEN NULL ELSE (s.contacted = 1) END",
        "solved": "CASE WHEN s.solved < 0 THEN NULL ELSE (s.solved = 1) END",
        "deadline_estimated": "false", "district_ref": "''", "district_reply": "''", "reporter_phone_index": "''",
    }
    return (f"INSERT INTO cases_case ({', '.join(columns)}) SELECT {', '.join(columns.values())} "
            f"FROM {STAGE} s JOIN org_orgnode o ON o.id = s.node JOIN cases_category k ON k.id = s.category_id "
            f"ORDER BY s.created")


STAGE = "jiedao_bulk_stage"


class _Loader:
    """Staging table (ints and three texts) → INSERT … SELECT into cases_case, per sub-district,
    with the case table's secondary indexes dropped for the load and rebuilt from the model
    after it. PostgreSQL: COPY into the stage, all in one transaction, foreign-key triggers
    skipped (session_replication_role = replica) when the role may. SQLite: executemany into
    the stage, foreign keys off, one transaction per sub-district."""

    def __init__(self, now_min: int) -> None:
        self.pg = connection.vendor == "postgresql"
        self.atomic = transaction.atomic() if self.pg else None
        self.constraints: list[tuple[str, str]] = []

    def begin(self) -> None:
        stage_cols = (", ".join(f"{c} bigint" for c in STAGE_INT)
                      + ", ticket text, title text, description text, terms text")
        if self.pg:
            self.atomic.__enter__()
            with connection.cursor() as cursor:
                try:
                    with transaction.atomic():
                        cursor.execute("SET LOCAL session_replication_role = replica")
                except Exception:  # not allowed for this role: foreign keys are checked, just slower
                    pass
                cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
                cursor.execute("SET LOCAL max_parallel_maintenance_workers = 2")
                cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                               "WHERE conrelid = 'cases_case'::regclass AND contype = 'u'")
                self.constraints = cursor.fetchall()
                for name, _definition in self.constraints:
                    cursor.execute(f'ALTER TABLE cases_case DROP CONSTRAINT "{name}"')
                cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'cases_case' AND indexname NOT IN "
                               "(SELECT conname FROM pg_constraint WHERE conrelid = 'cases_case'::regclass)")
                for (name,) in cursor.fetchall():
                    cursor.execute(f'DROP INDEX "{name}"')
                cursor.execute(f"CREATE TEMP TABLE {STAGE} ({stage_cols}) ON COMMIT DROP")
        else:
            connection.ensure_connection()
            raw = connection.connection
            raw.execute("PRAGMA foreign_keys = OFF")
            raw.execute("PRAGMA synchronous = OFF")
            raw.execute("PRAGMA cache_size = -262144")
            for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cases_case'"
                                       " AND sql IS NOT NULL").fetchall():
                raw.execute(f'DROP INDEX "{name}"')
            raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({stage_cols})")
            raw.commit()

    def write(self, subdistrict_id: int, cols: dict[str, np.ndarray], tickets: list[str], titles: list[str],
              bodies: list[str], words: list[str]) -> None:
        """Load one sub-district's cases and their full-text index rows (`words`: search.terms)."""
        ints = np.stack([cols[c] for c in STAGE_INT], axis=1)
        sql = _case_insert_sql(subdistrict_id)
        # the new cases' index rows, matched to their ids by ticket (the ticket index is dropped
        # during the load, so only the ids above the previous highest are looked at)
        index_sql = (f"INSERT INTO cases_casetext (case_id, terms) SELECT c.id, s.terms FROM cases_case c "
                     f"JOIN {STAGE} s ON s.ticket = c.ticket WHERE c.id > %s")
        if self.pg:
            text = ints.astype(str)
            lines = ["\t".join(row) + "\t" + t + "\t" + a + "\t" + b + "\t" + w
                     for row, t, a, b, w in zip(text.tolist(), tickets, titles, bodies, words, strict=True)]
            with connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {STAGE} FROM STDIN") as copy:
                    copy.write(("\n".join(lines) + "\n").encode())
                cursor.execute("SELECT COALESCE(MAX(id), 0) FROM cases_case")
                highest = cursor.fetchone()[0]
                cursor.execute(sql)
                cursor.execute(index_sql, (highest,))
                cursor.execute(f"TRUNCATE {STAGE}")
        else:
            raw = connection.connection
            rows = [(*row, t, a, b, w) for row, t, a, b, w in zip(ints.tolist(), tickets, titles, bodies, words,
                                                                  strict=True)]
            raw.execute("BEGIN")
            raw.executemany(f"INSERT INTO {STAGE} VALUES ({', '.join('?' * (len(STAGE_INT) + 4))})", rows)
            highest = raw.execute("SELECT COALESCE(MAX(id), 0) FROM cases_case").fetchone()[0]
            raw.execute(sql)
            raw.execute(index_sql.replace("%s", "?"), (highest,))
            raw.execute(f"DELETE FROM {STAGE}")
            raw.commit()

    def _create_indexes(self, say: Callable[[str], None] | None) -> None:
        with connection.schema_editor(collect_sql=True) as editor:
            statements = [str(s) for s in editor._model_indexes_sql(Case)]
        with connection.cursor() as cursor:
            for sql in statements:
                started = time.monotonic()
                cursor.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
                if say and time.monotonic() - started >= 1:
                    say(f"  {sql.split(' ON ')[0]} ({time.monotonic() - started:.0f} s)")

    def finish(self, say: Callable[[str], None]) -> None:
        self._create_indexes(say)
        if self.pg:
            with connection.cursor() as cursor:
                for name, definition in self.constraints:
                    started = time.monotonic()
                    cursor.execute(f'ALTER TABLE cases_case ADD CONSTRAINT "{name}" {definition}')
                    say(f"  {name} ({time.monotonic() - started:.0f} s)")
                cursor.execute("ANALYZE cases_case")
            self.atomic.__exit__(None, None, None)
        else:
            raw = connection.connection
            raw.execute(f"DROP TABLE IF EXISTS {STAGE}")
            raw.execute("PRAGMA analysis_limit = 1000")
            raw.execute("ANALYZE")
            raw.execute("PRAGMA synchronous = NORMAL")
            raw.execute("PRAGMA foreign_keys = ON")
            raw.commit()

    def abort(self) -> None:
        import sys

        if self.pg:
            self.atomic.__exit__(*sys.exc_info())
            return
        raw = connection.connection
        if raw.in_transaction:
            raw.rollback()
        self._create_indexes(None)
        raw.execute("PRAGMA foreign_keys = ON")
        raw.commit()
