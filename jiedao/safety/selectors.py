"""Reads of safety inspections, every one narrowed by the one scoping function
(jiedao.core.scope): lists, single objects (404 when out of scope), campaign coverage (排摸) and
the figures in the seed's own terms (底数, 排摸, 隐患, 重大隐患, 整改率, 按期整改率; defined in
docs/figures.md)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Max, Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import Business
from jiedao.safety import rollups
from jiedao.safety.models import (
    OPEN_STATES,
    UNRECTIFIED_STATES,
    Campaign,
    CampaignTarget,
    ChecklistTemplate,
    Hazard,
    HazardMonth,
    HazardState,
    Inspection,
    RiskChange,
    Severity,
    Tenancy,
    VisitMonth,
)


def campaigns_visible(user: Any) -> QuerySet[Campaign]:
    return scope.restrict(Campaign.objects.select_related("node"), user, Perm.VIEW_SAFETY)


def campaign_get(user: Any, pk: Any) -> Campaign:
    return scope.get_scoped(Campaign.objects.select_related("node", "subdistrict"), user, Perm.VIEW_SAFETY, pk=pk)


def active_items() -> Prefetch:
    """A checklist's items as new inspections ask them (retired items left out)."""
    from jiedao.safety.models import ChecklistItem

    return Prefetch("items", queryset=ChecklistItem.objects.filter(is_active=True).order_by("seq"))


def templates_visible(user: Any) -> QuerySet[ChecklistTemplate]:
    return scope.restrict(ChecklistTemplate.objects.select_related("node"), user, Perm.VIEW_SAFETY)


def template_get(user: Any, pk: Any) -> ChecklistTemplate:
    return scope.get_scoped(ChecklistTemplate.objects.prefetch_related(active_items()), user, Perm.VIEW_SAFETY, pk=pk)


def templates_usable(user: Any) -> QuerySet[ChecklistTemplate]:
    """The checklists a user inspects with: those of the sub-districts above or under the places
    the user may see (a grid worker uses the sub-district's checklists although the checklist row
    hangs above the worker's grid)."""
    paths = scope.granted_paths(user, Perm.VIEW_SAFETY)
    qs = ChecklistTemplate.objects.prefetch_related(active_items()).order_by("field", "name")
    if paths is None:
        return qs
    condition = Q(pk__in=[])
    for path in paths:
        prefixes = [path[:n] for n in range(scope.PATH_SEGMENT, len(path) + 1, scope.PATH_SEGMENT)]
        condition |= Q(node__path__in=prefixes) | Q(node__path__range=scope.subtree_range(path))
    return qs.filter(condition)


def templates_for(user: Any, business: Business) -> QuerySet[ChecklistTemplate]:
    """The active checklists usable for this business (its sub-district's)."""
    return templates_usable(user).filter(node_id=business.subdistrict_id, is_active=True)


def template_usable(user: Any, pk: Any) -> ChecklistTemplate:
    try:
        return templates_usable(user).get(pk=pk)
    except (ChecklistTemplate.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def subdistricts_of(user: Any) -> QuerySet[OrgNode]:
    """The sub-districts the user works in: at, above or under the places the user may see."""
    paths = scope.granted_paths(user, Perm.VIEW_SAFETY)
    qs = OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT).order_by("path")
    if paths is None:
        return qs
    condition = Q(pk__in=[])
    for path in paths:
        prefixes = [path[:n] for n in range(scope.PATH_SEGMENT, len(path) + 1, scope.PATH_SEGMENT)]
        condition |= Q(path__in=prefixes) | Q(path__range=scope.subtree_range(path))
    return qs.filter(condition)


def businesses_visible(user: Any) -> QuerySet[Business]:
    return scope.restrict(Business.objects.select_related("node"), user, Perm.VIEW_SAFETY)


def business_get(user: Any, pk: Any) -> Business:
    return scope.get_scoped(Business.objects.select_related("node"), user, Perm.VIEW_SAFETY, pk=pk)


def inspections_visible(user: Any) -> QuerySet[Inspection]:
    return scope.restrict(Inspection.objects.select_related("business", "node", "inspector", "campaign"),
                          user, Perm.VIEW_SAFETY)


def inspection_get(user: Any, pk: Any) -> Inspection:
    return scope.get_scoped(Inspection.objects.select_related("business", "node", "inspector", "campaign", "template"),
                            user, Perm.VIEW_SAFETY, pk=pk)


def hazards_visible(user: Any) -> QuerySet[Hazard]:
    return scope.restrict(Hazard.objects.select_related("business", "node", "inspector", "case"),
                          user, Perm.VIEW_SAFETY)


def hazard_get(user: Any, pk: Any) -> Hazard:
    return scope.get_scoped(Hazard.objects.select_related("business", "node", "inspector", "case", "inspection"),
                            user, Perm.VIEW_SAFETY, pk=pk)


def hazard_list(user: Any, *, state: str = "", severity: str = "", overdue: bool = False, field: str = "",
                business: int | None = None, q: str = "") -> QuerySet[Hazard]:
    qs = hazards_visible(user)
    if state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif state:
        qs = qs.filter(state=state)
    if severity:
        qs = qs.filter(severity=severity)
    if field:
        qs = qs.filter(field=field)
    if overdue:
        qs = qs.filter(state__in=UNRECTIFIED_STATES, deadline_at__lt=timezone.now())
    if business:
        qs = qs.filter(business_id=business)
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(business__name__icontains=q) | Q(description__icontains=q))
    return qs


def risk_changes(user: Any, business: Business | None = None) -> QuerySet[RiskChange]:
    qs = scope.restrict(RiskChange.objects.select_related("business", "actor"), user, Perm.VIEW_SAFETY)
    return qs.filter(business=business) if business is not None else qs


def tenants_of(user: Any, site: Business) -> QuerySet[Business]:
    return businesses_visible(user).filter(tenancy__site=site)


def site_of(business: Business) -> Tenancy | None:
    return Tenancy.objects.select_related("site").filter(tenant=business).first()


# --- campaign coverage (排摸) -----------------------------------------------------------------


@dataclass
class CoverageRow:
    key: Any
    label: str
    target: int = 0
    visited: int = 0
    hazards: int = 0

    @property
    def rate(self) -> float | None:
        return self.visited / self.target if self.target else None

    @property
    def behind(self) -> int:
        return self.target - self.visited


@dataclass
class Coverage:
    total: CoverageRow
    by_grid: list[CoverageRow] = field(default_factory=list)
    by_inspector: list[CoverageRow] = field(default_factory=list)


def campaign_coverage(user: Any, campaign: Campaign) -> Coverage:
    """排摸 coverage of a campaign within the user's scope: a target counts as visited when it has
    at least one inspection in the campaign; per grid (the grid the business hangs under) and per
    responsible inspector (the target's assigned inspector; unassigned targets under "未分配")."""
    targets = scope.restrict(CampaignTarget.objects.filter(campaign=campaign), user, Perm.VIEW_SAFETY)
    rows = list(targets.values_list("business_id", "business__node__path", "inspector_id",
                                    "inspector__full_name", "inspector__username"))
    visited = set(Inspection.objects.filter(campaign=campaign).values_list("business_id", flat=True).distinct())
    hazards = dict(Hazard.objects.filter(campaign=campaign).exclude(state=HazardState.CANCELLED)
                   .values("business_id").annotate(n=Count("pk")).values_list("business_id", "n"))
    grids = dict(OrgNode.objects.filter(subdistrict_id=campaign.subdistrict_id, kind=NodeKind.GRID)
                 .values_list("path", "name"))
    grid_paths = sorted(grids, key=len, reverse=True)
    total = CoverageRow(None, "")
    by_grid: dict[str, CoverageRow] = {}
    by_inspector: dict[Any, CoverageRow] = {}
    for business_id, path, inspector_id, full_name, username in rows:
        grid = next((g for g in grid_paths if path.startswith(g)), "")
        g_row = by_grid.setdefault(grid, CoverageRow(grid, grids.get(grid, "—")))
        i_row = by_inspector.setdefault(inspector_id, CoverageRow(inspector_id, full_name or username or "未分配"))
        seen = business_id in visited
        for row in (total, g_row, i_row):
            row.target += 1
            row.visited += seen
            row.hazards += hazards.get(business_id, 0)
    order = lambda r: (-(r.behind), r.label)  # noqa: E731  who is behind first
    return Coverage(total, sorted(by_grid.values(), key=order), sorted(by_inspector.values(), key=order))


# --- figures in the seed's terms --------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    base: int  # 底数: active businesses in scope
    visited: int  # 排摸: of the 底数, the businesses inspected at least once in the period (≤ base)
    hazards: int  # 隐患: hazards found in the period (cancelled left out)
    major: int  # 重大隐患: of them, major
    rectified: int  # of them, closed (已销号)
    on_time: int  # of them, closed with the rectification (standing submit) within the deadline
    overdue_open: int  # of them, not rectified yet (待整改/整改中) and past the deadline now

    @staticmethod
    def _rate(n: int, d: int) -> float | None:
        return n / d if d else None

    @property
    def coverage_rate(self) -> float | None:
        return self._rate(self.visited, self.base)

    @property
    def rectification_rate(self) -> float | None:
        return self._rate(self.rectified, self.hazards)

    @property
    def on_time_rate(self) -> float | None:
        return self._rate(self.on_time, self.hazards)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz))


def figures(user: Any, start: date, end: date, *, node: OrgNode | None = None, now: datetime | None = None) -> Figures:
    """The safety figures of the user's scope (optionally narrowed to `node`) for the period
    [start, end] (local dates, inclusive). Definitions: docs/figures.md § 安全生产.

    A period of whole months (from a month's first day to a month's last day, or to today or
    later) is read from the rollups (jiedao.safety.rollups); any other period, and every period
    in `figures_direct`, by counting the rows themselves — the property test holds the two equal."""
    now = now or timezone.now()
    if not _whole_months(start, end, timezone.localtime(now).date()):
        return figures_direct(user, start, end, node=node, now=now)
    businesses, hazards, bounds = _base_and_hazards(user, start, end, node)
    months = (start, end.replace(day=1))
    rollup = scope.restrict(HazardMonth.objects.filter(month__range=months), user, Perm.VIEW_SAFETY)
    visits = scope.restrict(VisitMonth.objects.filter(month__range=months), user, Perm.VIEW_SAFETY)
    if bounds is not None:
        rollup = rollup.filter(node__path__range=bounds)
        visits = visits.filter(node__path__range=bounds)
    sums = rollup.aggregate(**{c: Sum(c) for c in rollups.COUNTERS})
    return Figures(
        base=businesses.count(), visited=businesses.filter(pk__in=visits.values("business_id")).count(),
        hazards=sums["found"] or 0, major=sums["major"] or 0, rectified=sums["closed"] or 0,
        on_time=sums["on_time"] or 0, overdue_open=_overdue_open(hazards, now),
    )


def _whole_months(start: date, end: date, today: date) -> bool:
    if start.day != 1 or end < start:
        return False
    return end >= today or (end + timedelta(days=1)).day == 1


def _base_and_hazards(user: Any, start: date, end: date, node: OrgNode | None) -> tuple[Any, Any, Any]:
    businesses = businesses_visible(user).filter(is_active=True)
    low, high = period_bounds(start, end)
    hazards = hazards_visible(user).filter(found_at__gte=low, found_at__lt=high).exclude(state=HazardState.CANCELLED)
    bounds = None
    if node is not None:
        bounds = scope.subtree_range(node.path)
        businesses = businesses.filter(node__path__range=bounds)
        hazards = hazards.filter(node__path__range=bounds)
    return businesses, hazards, bounds


def _overdue_open(hazards: Any, now: datetime) -> int:
    # 逾期未整改 moves with the clock, not with a write: counted from the open hazards (index on
    # state and deadline), never rolled up.
    return hazards.filter(state__in=UNRECTIFIED_STATES, deadline_at__lt=now).count()


def figures_direct(user: Any, start: date, end: date, *, node: OrgNode | None = None,
                   now: datetime | None = None) -> Figures:
    """`figures` counted from the rows themselves (any period; the rollups' reference)."""
    now = now or timezone.now()
    businesses, hazards, bounds = _base_and_hazards(user, start, end, node)
    inspections = inspections_visible(user).filter(inspected_on__range=(start, end))
    if bounds is not None:
        inspections = inspections.filter(node__path__range=bounds)
    counts = hazards.aggregate(
        n=Count("pk"), major=Count("pk", filter=Q(severity=Severity.MAJOR)),
        closed=Count("pk", filter=Q(state=HazardState.CLOSED)),
        on_time=Count("pk", filter=Q(state=HazardState.CLOSED, rectified_at__lte=F("deadline_at"))),
    )
    # 排摸 counts businesses of the 底数 (so coverage never exceeds 100%): a business inspected
    # and closed since, or moved out of the scope, is not in the base and not counted here either.
    return Figures(
        base=businesses.count(), visited=businesses.filter(pk__in=inspections.values("business_id")).count(),
        hazards=counts["n"], major=counts["major"], rectified=counts["closed"], on_time=counts["on_time"],
        overdue_open=_overdue_open(hazards, now),
    )


def colour_counts(user: Any, *, node: OrgNode | None = None) -> dict[str, int]:
    """The 底数 by risk colour: active businesses in the user's scope (under `node` if given) per
    colour (the three sum to Figures.base for the same scope). Definition: docs/figures.md § 安全生产."""
    businesses = businesses_visible(user).filter(is_active=True)
    if node is not None:
        businesses = businesses.filter(node__path__range=scope.subtree_range(node.path))
    rows = businesses.values("risk_colour").annotate(n=Count("pk")).order_by()
    counts = defaultdict(int, {row["risk_colour"]: row["n"] for row in rows})
    return {colour: counts[colour] for colour in ("red", "yellow", "green")}


# --- the grid map by colour (jiedao.safety.views_map) ---------------------------------------------


def map_areas(user: Any, subdistrict: OrgNode, node_pk: Any, *, kinds: list[str]) -> tuple[OrgNode, list[OrgNode]]:
    """The map's root (the sub-district, or one of its units or grids the user sees: 404 otherwise)
    and the active nodes of `kinds` under it that the user sees, in path order."""
    root = subdistrict
    if node_pk is not None:
        root = scope.get_scoped(OrgNode.objects.filter(subdistrict=subdistrict, kind__in=kinds), user,
                                Perm.VIEW_SAFETY, pk=node_pk)
    nodes = scope.restrict(OrgNode.objects.filter(path__range=scope.subtree_range(root.path), kind__in=kinds,
                                                  is_active=True), user, Perm.VIEW_SAFETY).order_by("path")
    return root, list(nodes)


def colour_counts_by_area(user: Any, root: OrgNode, areas: list[OrgNode]) -> dict[int, dict[str, int]]:
    """Active businesses in the user's scope under each of `areas` (nodes under `root`), by risk
    colour: {node id: {"red": n, "yellow": n, "green": n}}. A business counts under an area when
    its node is the area or lies under it (path prefix), so a unit's figure includes its grids
    and the businesses hung on the unit itself. One grouped query per path length."""
    from django.db.models.functions import Substr

    counts: dict[int, dict[str, int]] = {a.pk: {"red": 0, "yellow": 0, "green": 0} for a in areas}
    by_path = {a.path: a.pk for a in areas}
    base = businesses_visible(user).filter(is_active=True, node__path__range=scope.subtree_range(root.path))
    for length in sorted({len(p) for p in by_path}):
        rows = (base.annotate(prefix=Substr("node__path", 1, length)).values("prefix", "risk_colour")
                .annotate(n=Count("pk")).order_by())
        for row in rows:
            pk = by_path.get(row["prefix"])
            if pk is not None and row["risk_colour"] in counts[pk]:
                counts[pk][row["risk_colour"]] += row["n"]
    return counts
# --- what the pages read (views stay thin) ---------------------------------------------------


def campaigns_running(user: Any, today: date) -> QuerySet[Campaign]:
    """The campaigns not ended yet (the overview's list)."""
    return campaigns_visible(user).filter(ends_on__gte=today)


def photo_get(user: Any, pk: Any) -> Any:
    """A photo, for a user who sees its inspection (404 otherwise)."""
    from jiedao.safety.models import SafetyPhoto

    return scope.get_scoped(SafetyPhoto.objects.select_related("inspection"), user, Perm.VIEW_SAFETY, pk=pk)


def campaign_target_counts(user: Any, campaign_ids: list[int]) -> dict[int, int]:
    """Campaign id → the number of its targets the user may see (排摸对象 within the viewer's
    scope: a grid worker sees a sub-district campaign's count of their own grid's targets)."""
    rows = (scope.restrict(CampaignTarget.objects.filter(campaign_id__in=campaign_ids), user, Perm.VIEW_SAFETY)
            .values("campaign_id").annotate(n=Count("pk")).values_list("campaign_id", "n"))
    return dict(rows)


def campaign_pending(user: Any, campaign: Campaign) -> QuerySet[CampaignTarget]:
    """The campaign's targets in the user's scope with no inspection in the campaign yet."""
    inspected = Inspection.objects.filter(campaign=campaign).values("business_id")
    return (scope.restrict(CampaignTarget.objects.filter(campaign=campaign), user, Perm.VIEW_SAFETY)
            .exclude(business_id__in=inspected).select_related("business", "business__node", "inspector")
            .order_by("business__node__path", "business__name"))


def area_get(user: Any, pk: Any) -> OrgNode:
    """A place (grid, community, sub-district) the user sees safety in; 404 otherwise."""
    return scope.get_scoped(OrgNode.objects.all(), user, Perm.VIEW_SAFETY, pk=pk)


def business_search(user: Any, *, q: str = "", colour: str = "", place: OrgNode | None = None) -> QuerySet[Business]:
    """The active businesses the user sees, by name, colour and place (the place's subtree)."""
    qs = businesses_visible(user).filter(is_active=True)
    if place is not None:
        qs = qs.filter(node__path__range=scope.subtree_range(place.path))
    if q:
        qs = qs.filter(name__icontains=q)
    if colour:
        qs = qs.filter(risk_colour=colour)
    return qs.order_by("node__path", "name")


def business_facts(user: Any, businesses: list[Business]) -> None:
    """Attach `open_hazards` (未销号, in the user's scope) and `last_inspected` to each business
    of a page: two queries whatever the page size."""
    ids = [b.pk for b in businesses]
    open_counts = dict(hazards_visible(user).filter(business_id__in=ids, state__in=OPEN_STATES).order_by()
                       .values("business_id").annotate(n=Count("pk")).values_list("business_id", "n"))
    last = dict(inspections_visible(user).filter(business_id__in=ids).order_by().values("business_id")
                .annotate(d=Max("inspected_on")).values_list("business_id", "d"))
    for b in businesses:
        b.open_hazards, b.last_inspected = open_counts.get(b.pk, 0), last.get(b.pk)


def business_inspections(user: Any, business: Business) -> QuerySet[Inspection]:
    return inspections_visible(user).filter(business=business)


def campaigns_running_for(user: Any, business: Business, today: date) -> list[Campaign]:
    """The campaigns in progress today that target this business (an inspection may count for one)."""
    return list(campaigns_visible(user).filter(targets__business=business, starts_on__lte=today,
                                               ends_on__gte=today).distinct())


def site_inspection_today(user: Any, site: Business, today: date) -> Inspection | None:
    """The site's inspection of today, which a tenant's inspection may join (同检)."""
    return inspections_visible(user).filter(business=site, inspected_on=today).order_by("-pk").first()


@dataclass
class InspectionPage:
    hazards: list[Hazard]
    photos: list[Any]
    tenants_done: list[Inspection]
    pending_tenants: list[Business]


def inspection_page(user: Any, inspection: Inspection) -> InspectionPage:
    """What the inspection page shows, in a fixed number of queries whatever the number of
    hazards, photos or tenants (the hazards with their business, the photos, the tenants)."""
    from jiedao.safety.models import SafetyPhoto

    hazards = list(Hazard.objects.filter(inspection=inspection).select_related("business")
                   .order_by("-found_at", "-pk"))
    photos = list(SafetyPhoto.objects.filter(inspection=inspection))
    tenants_done = list(inspections_visible(user).filter(site_inspection=inspection))
    done = {i.business_id for i in tenants_done}
    pending = [b for b in tenants_of(user, inspection.business).order_by("name") if b.pk not in done]
    return InspectionPage(hazards, photos, tenants_done, pending)


def hazard_steps(hazard: Hazard) -> list[Any]:
    return list(hazard.transitions.select_related("actor"))


def hazard_photos(hazard: Hazard) -> list[Any]:
    """The photos of the inspection that found the hazard, and of this hazard's rectification."""
    from jiedao.safety.models import SafetyPhoto

    if not hazard.inspection_id:
        return []
    return list(SafetyPhoto.objects.filter(inspection_id=hazard.inspection_id)
                .filter(Q(hazard__isnull=True) | Q(hazard=hazard)))


def subdistrict_chosen(user: Any, pk: Any = None, *, perm: str = Perm.VIEW_SAFETY) -> OrgNode | None:
    """The sub-district a page acts on: the one the user chose (`pk`, 404 when not one of theirs),
    else — only when the user works in exactly one — that one. A user of several sub-districts
    must choose (None is returned); nothing is ever done to "the first" of them."""
    choices = subdistricts_of(user)
    if perm != Perm.VIEW_SAFETY:
        choices = [node for node in choices if scope.path_allows(user, perm, node.path)]
    else:
        choices = list(choices)
    if pk not in (None, ""):
        try:
            wanted = int(pk)
        except (TypeError, ValueError):
            raise Http404 from None
        node = next((node for node in choices if node.pk == wanted), None)
        if node is None:
            raise Http404
        return node
    return choices[0] if len(choices) == 1 else None


def subdistricts_managed(user: Any) -> list[OrgNode]:
    """The sub-districts whose checklists and rule the user may edit (MANAGE_SAFETY there)."""
    return [node for node in subdistricts_of(user) if scope.path_allows(user, Perm.MANAGE_SAFETY, node.path)]


def risk_rule_changes(user: Any, subdistrict: OrgNode) -> QuerySet[RiskChange]:
    """Colour changes of the sub-district's businesses in the user's scope, newest first."""
    return risk_changes(user).filter(node__path__range=scope.subtree_range(subdistrict.path))
