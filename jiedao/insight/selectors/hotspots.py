"""Hotspots: clusters of same-category cases by place and period, scoped to the viewer."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.cases.models import Case, Category, State
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.insight.models import CaseRepeat
from jiedao.org.models import NodeKind, OrgNode

# --- hotspots -----------------------------------------------------------------------------------------

PERIODS = ("week", "month", "quarter")
LEVELS = ("building", "grid", "community", "subdistrict")
ORDERS = ("heat", "size", "growth", "support")
HOTSPOT_MIN_SIZE = 2
REPRESENTATIVES = 3
_LEVEL_FIELD = {"building": "building_id", "grid": "grid_id", "community": "community_id",
                "subdistrict": "subdistrict_id"}
PERIOD_LABELS = {"week": gettext_lazy("本周"), "month": gettext_lazy("本月"), "quarter": gettext_lazy("本季")}
LEVEL_LABELS = {"building": gettext_lazy("楼栋"), "grid": gettext_lazy("网格"), "community": gettext_lazy("社区（村）"),
                "subdistrict": gettext_lazy("街道")}


def period_bounds(period: str, day: date | None = None) -> tuple[date, date, date]:
    """(previous start, start, end) of the week / month / quarter containing `day`."""
    day = day or timezone.localdate()
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start - timedelta(days=7), start, start + timedelta(days=7)
    months = 3 if period == "quarter" else 1
    first = (day.month - 1) // months * months + 1
    start = day.replace(month=first, day=1)

    def shift(d: date, n: int) -> date:
        index = d.year * 12 + d.month - 1 + n
        return date(index // 12, index % 12 + 1, 1)

    return shift(start, -months), start, shift(start, months)


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@dataclass
class Hotspot:
    """A cluster of related requests: one category in one area over the period."""

    area_id: int
    area_name: str
    category_id: int | None
    category_name: str
    size: int  # requests in the period
    previous: int  # requests in the previous period of the same length
    reporters: int  # distinct reporters (resident, household, or name)
    reposts: int  # 重复反映: requests merged into another one or marked a repeat (CaseRepeat)
    chases: int  # 催办: 督办 count, plus a reporter already counted writing again (not marked a repeat)
    open: int  # still not closed
    representatives: list[Case] = field(default_factory=list)

    @property
    def growth(self) -> float | None:
        """Growth against the previous period (None when the previous period had none)."""
        return None if not self.previous else (self.size - self.previous) / self.previous

    @property
    def support(self) -> int:
        return self.reporters + self.reposts + self.chases

    @property
    def heat(self) -> float:
        """The default ranking: size, residents' support, and growth (capped at +200%)."""
        growth = self.growth if self.growth is not None else (1.0 if self.size else 0.0)
        return round(self.size + 0.5 * self.support + 2 * max(-1.0, min(growth, 2.0)), 2)

    @property
    def growth_text(self) -> str:
        return _("新出现") if self.growth is None else f"{self.growth * 100:+.0f}%"


def _reporter_key(row: dict[str, Any]) -> str:
    if row["resident_id"]:
        return f"r{row['resident_id']}"
    if row["household_id"]:
        return f"h{row['household_id']}"
    if row["reporter_name"] and not row["anonymous"] and row["reporter_name"] != "居民":
        return f"n{row['reporter_name']}|{row['reporter_phone_masked']}"
    return f"c{row['id']}"  # anonymous or unnamed: each request its own reporter


def _cell_counts(period_cases: QuerySet[Case], area: str) -> dict[tuple, int]:
    """{(area, category): requests} of a period's cases. On SQLite counted here from the period's
    rows: asked to GROUP BY, SQLite (no statistics) walks a (sub-district, category) index of all
    time for the grouping order instead of the (sub-district, created) range — 3.6 s against 0.1 s
    for a district's month at 1.4 M cases."""
    if connection.vendor == "sqlite":
        return dict(Counter(period_cases.order_by().values_list(area, "category_id")))
    rows = period_cases.order_by().values(area, "category_id").annotate(n=Count("id"))
    return {(r[area], r["category_id"]): r["n"] for r in rows}


def hotspots_for_path(path: str, *, period: str = "month", level: str = "community", day: date | None = None,
                      limit: int = 10, order: str = "heat", min_size: int = HOTSPOT_MIN_SIZE,
                      base: QuerySet[Case] | None = None) -> list[Hotspot]:
    """Hotspots under the org `path` (not scoped: callers pass a path they already checked, or a
    scoped `base` queryset). Two grouped counts (this and the previous period), then one read of
    the top clusters' requests for support and representatives."""
    if period not in PERIODS or level not in LEVELS or order not in ORDERS:
        raise ValueError("period/level/order")
    previous_start, start, end = period_bounds(period, day)
    area = _LEVEL_FIELD[level]
    cases = (base if base is not None else Case.objects.all()).filter(org_path__range=subtree_range(path))
    place = OrgNode.objects.filter(path=path).values_list("kind", "pk", "subdistrict_id").first()
    if place is not None and (place[0] == NodeKind.SUBDISTRICT or place[2]):
        # the (subdistrict, created_at) index then drives the period's range scan
        cases = cases.filter(subdistrict_id=place[1] if place[0] == NodeKind.SUBDISTRICT else place[2])
    elif place is not None:
        # A district or wider: the same index, one range scan per sub-district (every area a
        # hotspot is counted in lies inside one, so no counted case is left out). Without it a
        # district's month was read through the path index: 1.7 s on SQLite at 1.4 M cases, 0.02 s with it.
        subdistricts = OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT, path__range=subtree_range(path))
        cases = cases.filter(subdistrict_id__in=list(subdistricts.values_list("pk", flat=True)))
    current = _cell_counts(cases.filter(created_at__gte=_aware(start), created_at__lt=_aware(end),
                                        **{f"{area}__isnull": False}).exclude(state=State.REJECTED), area)
    cells = {cell: n for cell, n in current.items() if n >= min_size}
    if not cells:
        return []
    previous = _cell_counts(cases.filter(created_at__gte=_aware(previous_start), created_at__lt=_aware(start),
                                         **{f"{area}__in": {a for a, _c in cells}}).exclude(state=State.REJECTED), area)
    spots = [Hotspot(a, "", c, "", n, previous.get((a, c), 0), 0, 0, 0, 0) for (a, c), n in cells.items()]
    # pick the clusters worth reading in full: the largest (or, ranking by growth, the fastest growing)
    if order == "growth":
        spots.sort(key=lambda h: (-(h.growth if h.growth is not None else float(h.size)), -h.size, h.area_id))
    else:
        spots.sort(key=lambda h: (-h.size, -h.previous, h.area_id, h.category_id or 0))
    spots = spots[: limit * 3]
    wanted_cells = {(h.area_id, h.category_id) for h in spots}
    period_rows = (cases.filter(created_at__gte=_aware(start), created_at__lt=_aware(end),
                                **{f"{area}__in": {a for a, _c in wanted_cells}})
                   .exclude(state=State.REJECTED))
    rows = [
        row for row in
        period_rows.order_by("created_at", "id")
        .values("id", area, "category_id", "resident_id", "household_id", "reporter_name", "reporter_phone_masked",
                "anonymous", "merged_into_id", "supervise_count", "state")
        if (row[area], row["category_id"]) in wanted_cells
    ]
    # requests the repeat_scan job marked as repeats (same reporter, re-post, chase words)
    # (the repeats among the ids of the rows read, by a range of the repeat table's own case index:
    # a subquery or a join of the period's cases cost SQLite 0.3–1.7 s at a district)
    member_ids = [row["id"] for row in rows]
    repeated = set(CaseRepeat.objects.filter(case_id__gte=min(member_ids), case_id__lte=max(member_ids))
                   .values_list("case_id", flat=True)) if member_ids else set()
    by_cell: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault((row[area], row["category_id"]), []).append(row)
    names = dict(OrgNode.objects.filter(pk__in={h.area_id for h in spots}).values_list("pk", "name"))
    categories = dict(Category.objects.filter(pk__in={h.category_id for h in spots if h.category_id})
                      .values_list("pk", "name"))
    picks: dict[int, list[int]] = {}
    for h in spots:
        members = by_cell.get((h.area_id, h.category_id), [])
        seen: set[str] = set()
        for row in members:
            key = _reporter_key(row)
            repeat = bool(row["merged_into_id"]) or row["id"] in repeated
            if key in seen and not repeat:
                h.chases += 1  # the reporter again, not (yet) marked a repeat
            seen.add(key)
            h.chases += row["supervise_count"]
            h.reposts += repeat
            h.open += row["state"] != State.CLOSED
        h.reporters = len(seen)
        h.area_name = names.get(h.area_id, "")
        h.category_name = categories.get(h.category_id) or _("未分类")
        # representatives: the first report, and the latest ones still open (not the re-posts)
        firsts = [r["id"] for r in members if not r["merged_into_id"]]
        latest_open = [r["id"] for r in reversed(members) if not r["merged_into_id"] and r["state"] != State.CLOSED]
        picks[id(h)] = list(dict.fromkeys(firsts[:1] + latest_open + firsts))[:REPRESENTATIVES]
    wanted = {pk for ids in picks.values() for pk in ids}
    by_pk = Case.objects.only("id", "ticket", "title", "state", "created_at").in_bulk(wanted)
    for h in spots:
        h.representatives = [by_pk[pk] for pk in picks[id(h)] if pk in by_pk]
    keys = {
        "heat": lambda h: (-h.heat, -h.size),
        "size": lambda h: (-h.size, -h.support),
        "growth": lambda h: (-(h.growth if h.growth is not None else float(h.size)), -h.size),
        "support": lambda h: (-h.support, -h.size),
    }
    spots.sort(key=lambda h: (*keys[order](h), h.area_id, h.category_id or 0))
    return spots[:limit]


def hotspots(user: Any, *, node: OrgNode | None = None, period: str = "month", level: str = "community",
             day: date | None = None, limit: int = 10, order: str = "heat") -> list[Hotspot]:
    """Hotspots the user may see: under `node` (already fetched in the user's case scope) or
    under each of the user's scope roots; the cases counted are those the user can see."""
    base = scope.restrict(Case.objects.all(), user, Perm.VIEW_CASES)
    if node is not None:
        return hotspots_for_path(node.path, period=period, level=level, day=day, limit=limit, order=order, base=base)
    from jiedao.org import selectors as org_selectors

    found: list[Hotspot] = []
    for root in org_selectors.scope_roots(user, Perm.VIEW_CASES).order_by("path"):
        found += hotspots_for_path(root.path, period=period, level=level, day=day, limit=limit, order=order,
                                   base=base)
    return found[:limit]


def hotspot_dicts(spots: list[Hotspot]) -> list[dict[str, Any]]:
    """Plain data (for the weekly digest's JSON and the reports)."""
    return [
        {"area": h.area_name, "area_id": h.area_id, "category": h.category_name, "category_id": h.category_id,
         "size": h.size, "previous": h.previous, "growth": h.growth_text, "reporters": h.reporters,
         "reposts": h.reposts, "chases": h.chases, "open": h.open, "heat": h.heat,
         "cases": [{"id": c.pk, "ticket": c.ticket, "title": c.title} for c in h.representatives]}
        for h in spots
    ]


# A case's category is a training label once staff have looked at it: accepted (confirming or
# correcting what the reporter chose) and every state after that. Rejected cases are not.


def repeat_counts(case_ids: list[int]) -> dict[int, int]:
    """case id → how many later requests were marked as repeating it (CaseRepeat.earlier); a case
    marked a repeat whose earlier request is not among `case_ids` (none known, or already closed)
    counts itself once."""
    if not case_ids:
        return {}
    out: dict[int, int] = {}
    # a repeat since merged into its case is counted by the merge (并入), a rejected one not at all
    counted = CaseRepeat.objects.filter(case__merged_into__isnull=True).exclude(case__state=State.REJECTED)
    for pk, n in (counted.filter(earlier_id__in=case_ids).order_by().values("earlier_id")
                  .annotate(n=Count("id")).values_list("earlier_id", "n")):
        out[pk] = n
    wanted = set(case_ids)
    for pk, earlier in counted.filter(case_id__in=case_ids).values_list("case_id", "earlier_id"):
        if earlier not in wanted:
            out[pk] = out.get(pk, 0) + 1
    return out


def repeat_links(user: Any, case: Case) -> dict[str, Any] | None:
    """What the case page shows of repeats, only what `user` may see (scoped by case_list): the
    earlier request `case` repeats with the reasons and evidence, and the later requests repeating
    it. An earlier or later request out of scope is not shown nor counted, and of a repeat whose
    earlier request is out of scope only the case's own chase words are given as a reason (the
    others would say that this reporter or problem appeared where the user cannot see)."""
    from jiedao.cases.selectors import case_list

    mark = CaseRepeat.objects.filter(case=case).first()
    later_ids = list(CaseRepeat.objects.filter(earlier=case).values_list("case_id", flat=True))
    if mark is None and not later_ids:
        return None
    visible = case_list(user).select_related(None).only("id", "ticket", "title").order_by("id")
    earlier = visible.filter(pk=mark.earlier_id).first() if mark is not None and mark.earlier_id else None
    reasons = [r for r in (mark.reasons if mark else [])
               if r in CaseRepeat.Reason.values and (earlier is not None or r == CaseRepeat.Reason.CHASE)]
    later = list(visible.filter(pk__in=later_ids)) if later_ids else []
    if earlier is None and not reasons and not later:
        return None
    return {
        "is_repeat": earlier is not None or bool(reasons),
        "reasons": [str(CaseRepeat.Reason(r).label) for r in reasons],
        "earlier": earlier,
        "evidence": mark.evidence if earlier is not None else "",
        "later": later,
    }
