"""Rates, rankings and dashboard figures, read from the CaseStat rollups (never by scanning cases).

Formulas (the weights are settings, defaults from 12345 practice):

    响应率 response_rate     = 及时签收 acknowledged_in_time / 派遣 dispatched
    解决率 resolution_rate   = 办结 resolved / 受理 accepted
    满意率 satisfaction_rate = (满意 satisfied + w_basic × 基本满意 basic) / 参评 rated      (w_basic = 0.9)
    办结率 completion_rate   = 结案 closed / 受理 accepted
    按时办结率 on_time_rate   = 按时办结 resolved_on_time / 办结 resolved
    综合得分 composite        = w_r × 响应率 + w_s × 解决率 + w_m × 满意率            (0.1 / 0.5 / 0.4)

A rate whose denominator is zero is None ("—"), not 0 or 100%.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import F, Sum

from jiedao.cases.models import CaseStat
from jiedao.core.scope import subtree_range

COUNTERS = (
    "reported", "accepted", "rejected", "dispatched", "acknowledged_in_time", "returned", "resolved",
    "resolved_on_time", "closed", "reworked", "reopened", "rated", "satisfied", "basic", "unsatisfied",
    "resolved_level1", "resolved_level2", "resolved_level3", "resolved_level4",
)


def weights() -> dict[str, float]:
    configured = getattr(settings, "JIEDAO_RATE_WEIGHTS", None) or {}
    return {"basic": 0.9, "response": 0.1, "resolution": 0.5, "satisfaction": 0.4, **configured}


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Rates:
    counts: dict[str, int]
    response_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None
    completion_rate: float | None
    on_time_rate: float | None
    composite: float | None


def rates_from(counts: dict[str, Any]) -> Rates:
    c = {name: int(counts.get(name) or 0) for name in COUNTERS}
    w = weights()
    response = _ratio(c["acknowledged_in_time"], c["dispatched"])
    resolution = _ratio(c["resolved"], c["accepted"])
    satisfaction = _ratio(c["satisfied"] + w["basic"] * c["basic"], c["rated"])
    parts = [(w["response"], response), (w["resolution"], resolution), (w["satisfaction"], satisfaction)]
    present = [(weight, value) for weight, value in parts if value is not None]
    composite = (
        round(sum(weight * value for weight, value in present) / sum(weight for weight, _ in present), 4)
        if present else None
    )
    return Rates(
        counts=c,
        response_rate=response,
        resolution_rate=resolution,
        satisfaction_rate=satisfaction,
        completion_rate=_ratio(c["closed"], c["accepted"]),
        on_time_rate=_ratio(c["resolved_on_time"], c["resolved"]),
        composite=composite,
    )


def _stats(path: str | None, start: date, end: date):
    qs = CaseStat.objects.filter(month__gte=start, month__lt=end)
    if path:
        qs = qs.filter(org_path__range=subtree_range(path))
    return qs


def totals(path: str | None, start: date, end: date) -> Rates:
    """Rates for everything under `path` (None = everywhere) for months in [start, end)."""
    sums = _stats(path, start, end).aggregate(**{name: Sum(name) for name in COUNTERS})
    return rates_from(sums)


def ranking(path: str | None, start: date, end: date, *, by: str = "grid") -> list[dict[str, Any]]:
    """Grids (or communities) under `path` ranked by composite score, best first (月评议/季评比)."""
    qs = _stats(path, start, end)
    if by == "community":
        qs = qs.values(unit_id=F("community_id"), unit_name=F("community__name"))
    else:
        qs = qs.values(unit_id=F("node_id"), unit_name=F("node__name"))
    rows = []
    for row in qs.annotate(**{name: Sum(name) for name in COUNTERS}).order_by():
        rates = rates_from(row)
        rows.append({"unit_id": row["unit_id"], "unit_name": row["unit_name"], "rates": rates})
    rows.sort(key=lambda r: (r["rates"].composite is None, -(r["rates"].composite or 0), -r["rates"].counts["reported"]))
    for position, row in enumerate(rows, start=1):
        row["position"] = position
    return rows


def trend(path: str | None, start: date, end: date) -> list[dict[str, Any]]:
    """Monthly counts and rates (for the dashboard's trend chart)."""
    qs = _stats(path, start, end).values("month").annotate(**{name: Sum(name) for name in COUNTERS}).order_by("month")
    return [{"month": row["month"], "rates": rates_from(row)} for row in qs]


def by_category(path: str | None, start: date, end: date, limit: int = 10) -> list[dict[str, Any]]:
    qs = (
        _stats(path, start, end)
        .values("category_id", "category__name")
        .annotate(reported=Sum("reported"), resolved=Sum("resolved"))
        .order_by("-reported")[:limit]
    )
    return [{"category_id": r["category_id"], "name": r["category__name"] or "未分类", "reported": r["reported"],
             "resolved": r["resolved"]} for r in qs]


def resolution_levels(path: str | None, start: date, end: date) -> dict[str, int]:
    """Where disputes were finally resolved (seed 004: 村级化解 91, 街道化解 12 …)."""
    sums = _stats(path, start, end).aggregate(**{f"level{n}": Sum(f"resolved_level{n}") for n in range(1, 5)})
    return {key: int(value or 0) for key, value in sums.items()}
