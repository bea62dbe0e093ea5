"""Rates, rankings and dashboard figures, read from the rollups (never by scanning cases).

Each reader picks the smallest rollup that answers its scope (see jiedao.cases.statistics.rollups):
a grid (or anything below it) reads the fine CaseStat rows; a community, sub-district,
district or city reads its own rows of CaseStatAreaTotal (or CaseStatArea for categories);
rankings read one row per unit and month. Every query adds the pending CaseStatDelta rows in
the same statement, so the figures are exact whether or not the fold job has run.

Formulas (docs/figures.md). Each rate's numerator is a part of its denominator's cases, in the
same month and key, so no rate leaves [0, 1]; a rate whose denominator is zero is None ("—"),
not 0 or 100%. The weights are the sub-district's 办件规则 (jiedao.cases.policy.policy_for: the
scope's sub-district, the default row for wider scopes):

    响应率 response_rate       = 及时联系 contacted / 有效回访 followed_up
    解决率 resolution_rate     = 已解决 solved / 有效回访 followed_up
    满意率 satisfaction_rate   = (满意 satisfied + w_basic × 基本满意 basic) / 有效回访 followed_up
    综合得分 composite          = w_r × 响应率 + w_s × 解决率 + w_m × 满意率 (over the rates present)
    办结率 due_resolved_rate    = 到期已办结 due_resolved / 到期应办结 due
    按期办结率 on_time_rate      = 按期办结 on_time / 到期应办结 due      (缓办 deferred is not due)
    结案率 due_closed_rate      = 到期已结案 due_closed / 到期应办结 due
    及时签收率 ack_rate          = 及时签收 acknowledged_in_time / 派遣 dispatched
    回退率 return_rate          = 退回 returned / 派遣 dispatched
    重办率 reopen_rate          = 重办 reopened / 受理 accepted
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from django.db import connection

from jiedao.cases.models import Category
from jiedao.cases.policy import policy_for
from jiedao.cases.statistics.rollups import COUNTERS, T_AREA, T_DELTA, T_FINE, T_NODE, T_TOTAL
from jiedao.core import caching
from jiedao.core.scope import subtree_range
from jiedao.org.models import NodeKind, OrgNode

FINE_KINDS = frozenset({NodeKind.GRID, NodeKind.MICROGRID, NodeKind.BUILDING})
# Ranking units: the kinds each `by` groups, read from CaseStatAreaTotal (grid: CaseStat).
UNIT_KINDS: dict[str, tuple[str, ...]] = {
    "community": (NodeKind.COMMUNITY, NodeKind.VILLAGE),
    "subdistrict": (NodeKind.SUBDISTRICT,),
    "district": (NodeKind.DISTRICT,),
}
CHILD_UNIT = {NodeKind.CITY: "district", NodeKind.DISTRICT: "subdistrict", NodeKind.SUBDISTRICT: "community"}

# rate -> (numerator counter, denominator counter); 满意率 and 综合得分 are weighted (rates_from).
RATES: dict[str, tuple[str, str]] = {
    "response_rate": ("contacted", "followed_up"),
    "resolution_rate": ("solved", "followed_up"),
    "satisfaction_rate": ("satisfied", "followed_up"),
    "due_resolved_rate": ("due_resolved", "due"),
    "on_time_rate": ("on_time", "due"),
    "due_closed_rate": ("due_closed", "due"),
    "ack_rate": ("acknowledged_in_time", "dispatched"),
    "return_rate": ("returned", "dispatched"),
    "reopen_rate": ("reopened", "accepted"),
}
RATE_NAMES = (*RATES, "composite")


@dataclass(frozen=True)
class Weights:
    basic: float = 0.9
    response: float = 0.1
    resolution: float = 0.5
    satisfaction: float = 0.4


def weights(subdistrict_id: int | None = None) -> Weights:
    """The composite score's weights in force for a sub-district (None: the default row)."""
    policy = policy_for(subdistrict_id)
    return Weights(basic=float(policy.weight_basic), response=float(policy.weight_response),
                   resolution=float(policy.weight_resolution), satisfaction=float(policy.weight_satisfaction))


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Rates:
    counts: dict[str, int]
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    composite: float | None
    due_resolved_rate: float | None
    on_time_rate: float | None
    due_closed_rate: float | None
    ack_rate: float | None
    return_rate: float | None
    reopen_rate: float | None

    def rates(self) -> dict[str, float | None]:
        """Every rate by name (RATE_NAMES), without the counts."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "counts"}


def rates_from(counts: dict[str, Any], w: Weights | None = None) -> Rates:
    c = {name: int(counts.get(name) or 0) for name in COUNTERS}
    w = w or weights()
    values = {name: _ratio(c[top], c[bottom]) for name, (top, bottom) in RATES.items()}
    values["satisfaction_rate"] = _ratio(c["satisfied"] + w.basic * c["basic"], c["followed_up"])
    parts = [(w.response, values["response_rate"]), (w.resolution, values["resolution_rate"]),
             (w.satisfaction, values["satisfaction_rate"])]
    present = [(weight, value) for weight, value in parts if value is not None]
    total = sum(weight for weight, _ in present)
    values["composite"] = round(sum(weight * value for weight, value in present) / total, 4) \
        if present and total else None
    return Rates(counts=c, **values)


@dataclass(frozen=True)
class _Scope:
    """Where a reader looks: `node_ids` (area rows of these nodes) or `fine_node` (the fine rows
    of one grid); `path_range` filters the pending deltas (None: everywhere); `kind` and `depth`
    of the scope node (None for everywhere); `subdistrict_id` whose 办件规则 weights the scores
    (None above a sub-district: the default row)."""

    node_ids: tuple[int, ...] = ()
    fine_node: int | None = None
    path_range: tuple[str, str] | None = None
    empty: bool = False
    kind: str | None = None
    depth: int = 0
    subdistrict_id: int | None = None

    def weights(self) -> Weights:
        return weights(self.subdistrict_id)


def _scope(path: str | None) -> _Scope:
    """The scope of `path`, kept per process and cache generation (node paths, kinds and
    sub-districts change only through the org services, which bump it)."""
    return caching.get(("stats-scope", path), lambda: _read_scope(path))


def _read_scope(path: str | None) -> _Scope:
    if path is None:
        roots = list(OrgNode.objects.filter(parent__isnull=True).values_list("id", "kind"))
        return _Scope(node_ids=tuple(r[0] for r in roots), kind=roots[0][1] if roots else None, depth=1)
    found = OrgNode.objects.filter(path=path).values_list("id", "kind", "depth", "subdistrict_id").first()
    if found is None:
        return _Scope(empty=True)
    node_id, kind, depth, subdistrict_id = found
    if kind == NodeKind.GRID:
        return _Scope(fine_node=node_id, path_range=subtree_range(path), kind=kind, depth=depth,
                      subdistrict_id=subdistrict_id)
    if kind in FINE_KINDS:  # below a grid: the rollups do not go that deep
        return _Scope(empty=True, subdistrict_id=subdistrict_id)
    return _Scope(node_ids=(node_id,), path_range=subtree_range(path), kind=kind, depth=depth,
                  subdistrict_id=subdistrict_id)


# The levels of the tree, top down (communities and villages share a level).
LEVEL = {NodeKind.CITY: 0, NodeKind.DISTRICT: 1, NodeKind.SUBDISTRICT: 2, NodeKind.COMMUNITY: 3,
         NodeKind.VILLAGE: 3, NodeKind.GRID: 4}


def _in(ids: tuple[int, ...]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def _sum_rows(scope: _Scope, start: date, end: date, key: str, *, unit: tuple[tuple[str, ...], int] | None = None,
              ) -> list[dict[str, Any]]:
    """Folded rows plus pending deltas, summed per `key` in one statement.

    key: "" (one total row), "month", "category" (category id, 0 = uncategorised), "node"
    (fine node: grid or community) or "unit" (the ancestor of the given kinds at the given
    path length, from CaseStatAreaTotal)."""
    if scope.empty:
        return []
    params: list[Any] = []
    sums = ", ".join(f"SUM({c}) AS {c}" for c in COUNTERS)
    cols = ", ".join(COUNTERS)
    if key == "unit":
        kinds = unit[0]
        kind_list = ", ".join(f"'{k}'" for k in kinds)
        folded = f"SELECT path AS k, {cols} FROM {T_TOTAL} WHERE kind IN ({kind_list}) AND month >= %s AND month < %s"
        params += [start, end]
        if scope.path_range:
            folded += " AND path BETWEEN %s AND %s"
            params += list(scope.path_range)
    elif scope.fine_node is not None or key == "node":
        expr = {"": "0", "month": "month", "category": "COALESCE(category_id, 0)", "node": "node_id"}[key]
        folded = f"SELECT {expr} AS k, {cols} FROM {T_FINE} WHERE month >= %s AND month < %s"
        params += [start, end]
        if scope.fine_node is not None:
            folded += f" AND node_id = {int(scope.fine_node)}"
        elif scope.path_range:  # the fine nodes under the scope, then their rows by (node, month)
            folded += (f" AND node_id IN (SELECT id FROM {T_NODE} WHERE path BETWEEN %s AND %s"
                       f" AND kind IN ('grid', 'community', 'village'))")
            params += list(scope.path_range)
    else:
        table, expr = (T_AREA, "category_key") if key == "category" else (T_TOTAL, {"": "0", "month": "month"}[key])
        folded = (f"SELECT {expr} AS k, {cols} FROM {table} WHERE node_id IN ({_in(scope.node_ids)})"
                  f" AND month >= %s AND month < %s")
        params += [start, end]
    # Pending deltas: a scan of the (small) delta table, filtered and keyed by the case's path,
    # never joined to the org tree.
    dcols = ", ".join(f"d.{c}" for c in COUNTERS)
    expr = {"": "0", "month": "d.month", "category": "COALESCE(d.category_id, 0)", "node": "d.node_id",
            "unit": f"substr(d.org_path, 1, {int(unit[1]) if unit else 0})"}[key]
    pending = f"SELECT {expr} AS k, {dcols} FROM {T_DELTA} d WHERE d.month >= %s AND d.month < %s"
    params += [start, end]
    if key == "unit":
        pending += f" AND length(d.org_path) >= {int(unit[1])}"
    if scope.path_range:
        pending += " AND d.org_path BETWEEN %s AND %s"
        params += list(scope.path_range)
    sql = f"SELECT k, {sums} FROM ({folded} UNION ALL {pending}) t GROUP BY k"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = ["k", *COUNTERS]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if key == "month" and connection.vendor != "postgresql":
        for row in rows:
            row["k"] = date.fromisoformat(str(row["k"])[:10])
    return rows


def totals(path: str | None, start: date, end: date) -> Rates:
    """Rates for everything under `path` (None = everywhere) for months in [start, end)."""
    scope = _scope(path)
    rows = _sum_rows(scope, start, end, "")
    return rates_from(rows[0] if rows else {}, scope.weights())


def ranking(path: str | None, start: date, end: date, *, by: str = "grid") -> list[dict[str, Any]]:
    """Units under `path` ranked by composite score, best first (月评议/季评比).

    by: "grid" (the fine rows: grids, and communities for the cases filed on them),
    "community", "subdistrict" or "district" (one CaseStatAreaTotal row per unit and month),
    or "child" (the scope's own children: districts of a city, sub-districts of a district,
    communities of a sub-district, grids of a community)."""
    scope = _scope(path)
    if by == "child":
        by = CHILD_UNIT.get(scope.kind, "grid")
    if by == "grid":
        rows = _sum_rows(scope, start, end, "node")
    else:
        kinds = UNIT_KINDS[by]
        # Units sit a fixed number of levels below the scope node (no query needed).
        levels_down = LEVEL[kinds[0]] - LEVEL.get(scope.kind, 99)
        depth = scope.depth + levels_down if path is not None else 1 + levels_down
        rows = _sum_rows(scope, start, end, "unit", unit=(kinds, depth * 4)) if levels_down >= 0 and not \
            scope.empty else []
    w = scope.weights()
    if by == "grid":
        names = {pk: (pk, name) for pk, name in
                 OrgNode.objects.filter(pk__in=[row["k"] for row in rows]).values_list("id", "name")}
    else:  # unit rows are keyed by path
        names = {path: (pk, name) for path, pk, name in
                 OrgNode.objects.filter(path__in=[row["k"] for row in rows]).values_list("path", "id", "name")}
    ranked = [{"unit_id": names.get(row["k"], (None, ""))[0], "unit_name": names.get(row["k"], (None, ""))[1],
               "rates": rates_from(row, w)} for row in rows]
    ranked.sort(key=lambda r: (r["rates"].composite is None, -(r["rates"].composite or 0),
                               -r["rates"].counts["reported"], r["unit_id"] or 0))
    for position, row in enumerate(ranked, start=1):
        row["position"] = position
    return ranked


def trend(path: str | None, start: date, end: date) -> list[dict[str, Any]]:
    """Monthly counts and rates (for the dashboard's trend chart)."""
    scope = _scope(path)
    rows = sorted(_sum_rows(scope, start, end, "month"), key=lambda row: row["k"])
    w = scope.weights()
    return [{"month": row["k"], "rates": rates_from(row, w)} for row in rows]


def by_category(path: str | None, start: date, end: date, limit: int = 10) -> list[dict[str, Any]]:
    rows = _sum_rows(_scope(path), start, end, "category")
    rows.sort(key=lambda row: (-(row["reported"] or 0), row["k"]))
    rows = rows[:limit]
    names = dict(Category.objects.filter(pk__in=[row["k"] for row in rows if row["k"]]).values_list("id", "name"))
    return [{"category_id": row["k"] or None, "name": names.get(row["k"]) or "未分类",
             "reported": int(row["reported"] or 0), "resolved": int(row["resolved"] or 0)} for row in rows]


def resolution_levels(path: str | None, start: date, end: date) -> dict[str, int]:
    """Where disputes were finally resolved (seed 004: 村级化解 91, 街道化解 12 …)."""
    return levels_from(totals(path, start, end))


def levels_from(rates: Rates) -> dict[str, int]:
    return {f"level{n}": rates.counts[f"resolved_level{n}"] for n in range(1, 5)}
