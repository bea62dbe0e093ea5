"""Reads of visits and the veterans' service, always through the scoping function; residents only
by the register's masks.

The due list is computed, not stored: one query reads every active ResidentTag of a group with a
visit interval in the reader's scope together with the date of the last visit counted for that
group (a correlated subquery on the visit's groups, answered from the (resident, visited_on)
index), and the due date is worked out in Python — `interval` days after the last visit, or after
the tag's start date (its creation date when none) when never visited. Editing an interval or
recording a visit therefore shows at once. A second query reads the grids and their grid workers.
Measured on the demo (a few thousand tags): tens of milliseconds on SQLite.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm, Role
from jiedao.org.models import NodeKind, OrgNode, RoleAssignment
from jiedao.people.models import Resident, ResidentTag
from jiedao.welfare.models.visits import (
    CardApplication,
    RequestState,
    ServiceRequest,
    Veteran,
    VeteranCheck,
    Visit,
)

OVERDUE, WEEK, LATER = "overdue", "week", "later"
DATE_MIN, DATE_MAX = date(2000, 1, 1), date(2100, 12, 31)  # the dates a period or a filter may name
BUCKETS = ("due", OVERDUE, WEEK, "never", "all")


@dataclass
class DueRow:
    """One resident × group on the visit schedule."""

    tag_id: int
    resident_id: int
    name: str
    phone_masked: str
    id_number_masked: str
    address: str
    node_path: str
    node_name: str
    group_id: int
    group_name: str
    interval: int
    last_visit: date | None
    due: date
    status: str  # overdue / week / later
    grid_name: str = ""
    grid_path: str = ""
    community_name: str = ""
    visitors: list[str] = field(default_factory=list)

    @property
    def never(self) -> bool:
        return self.last_visit is None

    @property
    def days_overdue(self) -> int:
        return max(0, (timezone.localdate() - self.due).days)


def period_day(value: date | None, *, field: str, label: str) -> date | None:
    """A date a reader names (a period's start or end, a list filter): None, or within 2000–2100."""
    if value is not None and not DATE_MIN <= value <= DATE_MAX:
        raise DomainError(_("%(label)s须在 2000 年至 2100 年之间。") % {"label": label}, field=field)
    return value


def week_end(today: date) -> date:
    """The Sunday closing today's week."""
    return today + timedelta(days=6 - today.weekday())


def status_of(due: date, today: date) -> str:
    if due < today:
        return OVERDUE
    if due <= week_end(today):
        return WEEK
    return LATER


def due_date(last_visit: date | None, start: date | None, created: date, interval: int) -> date:
    """When the next visit is due: `interval` days after the last visit, or after the tag's start
    (its creation date when no start date is recorded) when never visited."""
    return (last_visit or start or created) + timedelta(days=interval)


def scheduled_tags(user: Any, today: date, node: OrgNode | None = None) -> QuerySet:
    """The active tags of groups with a visit interval the user sees (VIEW_WELFARE), under `node`."""
    qs = ResidentTag.objects.filter(resident__is_active=True, group__is_active=True,
                                    group__visit_interval_days__isnull=False).exclude(end_date__lte=today)
    if node is not None:
        qs = qs.filter(resident__node__path__range=scope.subtree_range(node.path))
    return scope.restrict(qs, user, Perm.VIEW_WELFARE)


def _places(paths: set[str]) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, list[str]]]:
    """grid path → (id, name), community path → name, grid path → its grid workers' names."""
    prefixes = {p[:n] for p in paths for n in range(scope.PATH_SEGMENT, len(p) + 1, scope.PATH_SEGMENT)}
    nodes = OrgNode.objects.filter(path__in=prefixes, kind__in=(NodeKind.GRID, NodeKind.COMMUNITY, NodeKind.VILLAGE))
    grids, communities = {}, {}
    for pk, path, kind, name in nodes.values_list("pk", "path", "kind", "name"):
        if kind == NodeKind.GRID:
            grids[path] = (str(pk), name)
        else:
            communities[path] = name
    workers: dict[str, list[str]] = defaultdict(list)
    rows = (RoleAssignment.objects.filter(node__path__in=list(grids), role__in=(Role.GRID_WORKER, Role.GRID_LEADER))
            .order_by("node__path", "-role", "pk").values_list("node__path", "user__full_name", "user__username"))
    for path, full_name, username in rows:
        workers[path].append(full_name or username)
    return grids, communities, workers


def _ancestor(path: str, table: dict[str, Any]) -> str:
    for n in range(len(path), 0, -scope.PATH_SEGMENT):
        if path[:n] in table:
            return path[:n]
    return ""


def due_rows(user: Any, *, today: date | None = None, node: OrgNode | None = None, group: Any = None,
             bucket: str = "all", mine: bool = False, q: str = "", resident: Any = None) -> list[DueRow]:
    """The visit schedule the user sees, most overdue first. `bucket`: due (overdue or due this
    week), overdue, week, never (never visited), all. `mine`: only the grids the user is a grid
    worker or grid leader of (the 我的走访 page; everyone else keeps their whole scope)."""
    today = today or timezone.localdate()
    last = (Visit.objects.filter(resident=OuterRef("resident_id"), groups=OuterRef("group_id"))
            .order_by("-visited_on").values("visited_on")[:1])
    qs = scheduled_tags(user, today, node)
    if group:
        qs = qs.filter(group_id=getattr(group, "pk", group))
    if q:
        qs = qs.filter(resident__name__contains=q)
    if resident is not None:
        qs = qs.filter(resident_id=getattr(resident, "pk", resident))
    if mine:
        own = [path for role, path, active, _d in scope.role_rows(user)
               if active and role in (Role.GRID_WORKER, Role.GRID_LEADER)] if not user.is_superuser else []
        if own:
            condition = Q()
            for path in own:
                condition |= Q(resident__node__path__range=scope.subtree_range(path))
            qs = qs.filter(condition)
    values = qs.annotate(last_visit=Subquery(last)).values_list(
        "pk", "resident_id", "resident__name", "resident__phone_masked", "resident__id_number_masked",
        "resident__actual_address", "resident__node__path", "resident__node__name", "group_id", "group__name",
        "group__visit_interval_days", "last_visit", "start_date", "created_at")
    rows = []
    for (pk, resident_id, name, phone, id_masked, address, path, node_name, group_id, group_name, interval, last_visit,
         start, created) in values:
        due = due_date(last_visit, start, timezone.localdate(created), interval)
        status = status_of(due, today)
        if (bucket == "due" and status == LATER) or (bucket in (OVERDUE, WEEK) and status != bucket) \
                or (bucket == "never" and last_visit is not None):
            continue
        rows.append(DueRow(pk, resident_id, name, phone, id_masked, address, path, node_name, group_id, group_name,
                           interval, last_visit, due, status))
    grids, communities, workers = _places({r.node_path for r in rows})
    for row in rows:
        grid = _ancestor(row.node_path, grids)
        row.grid_path, row.grid_name = grid, grids[grid][1] if grid else ""
        row.community_name = communities.get(_ancestor(row.node_path, communities), "")
        row.visitors = workers.get(grid, [])
    rows.sort(key=lambda r: (r.due, r.node_path, r.name))
    return rows


@dataclass
class Tally:
    label: str
    total: int = 0
    overdue: int = 0
    week: int = 0
    never: int = 0


def tallies(rows: list[DueRow]) -> tuple[Tally, list[Tally], list[Tally]]:
    """The totals, per grid and per grid worker (a grid with several counts for each), of a due list."""
    total = Tally(_("合计"))
    by_grid: dict[str, Tally] = {}
    by_visitor: dict[str, Tally] = {}
    for row in rows:
        targets = [total, by_grid.setdefault(row.grid_name, Tally(row.grid_name or _("（未划网格）")))]
        for name in row.visitors or [_("（未配网格员）")]:
            targets.append(by_visitor.setdefault(name, Tally(name)))
        for tally in targets:
            tally.total += 1
            tally.overdue += row.status == OVERDUE
            tally.week += row.status == WEEK
            tally.never += row.never
    order = lambda t: (-t.overdue, -t.week, t.label)  # noqa: E731
    return total, sorted(by_grid.values(), key=order), sorted(by_visitor.values(), key=order)


# --- visits -------------------------------------------------------------------------------------


def visits(user: Any, *, resident: Any = None, start: date | None = None, end: date | None = None,
           node: OrgNode | None = None) -> QuerySet:
    qs = scope.restrict(Visit.objects.select_related("resident__node", "visitor", "case"), user, Perm.VIEW_WELFARE)
    if resident is not None:
        qs = qs.filter(resident=resident)
    if start:
        qs = qs.filter(visited_on__gte=start)
    if end:
        qs = qs.filter(visited_on__lte=end)
    if node is not None:
        qs = qs.filter(resident__node__path__range=scope.subtree_range(node.path))
    return qs.prefetch_related("groups").order_by("-visited_on", "-pk")


def visit_get(user: Any, pk: Any) -> Visit:
    return scope.get_scoped(Visit.objects.select_related("resident__node", "visitor", "case"), user,
                            Perm.VIEW_WELFARE, pk=pk)


def resident_get(user: Any, pk: Any) -> Any:
    """A resident the user sees (a resident no longer in the register too: their visits stay
    readable; recording one is refused by services.visit_record)."""
    from jiedao.people.models import Resident

    return scope.get_scoped(Resident.objects.select_related("node"), user, Perm.VIEW_WELFARE, pk=pk)


def resident_schedule(user: Any, resident: Any, today: date | None = None) -> list[DueRow]:
    return due_rows(user, today=today, resident=resident)


# --- veterans -----------------------------------------------------------------------------------


def veterans(user: Any, *, q: str = "", category: str = "", card_status: str = "", node: OrgNode | None = None,
             filed: bool | None = None) -> QuerySet:
    qs = scope.restrict(Veteran.objects.select_related("resident__node"), user, Perm.VIEW_WELFARE)
    if q:
        qs = qs.filter(resident__name__contains=q)
    if category:
        qs = qs.filter(category=category)
    if card_status:
        qs = qs.filter(card_status=card_status)
    if filed is not None:
        qs = qs.filter(filed=filed)
    if node is not None:
        qs = qs.filter(resident__node__path__range=scope.subtree_range(node.path))
    return qs.order_by("resident__node__path", "resident__name", "pk")


def unfiled_residents(user: Any, q: str, limit: int = 20) -> list[Any]:
    """Residents in the register whose name contains `q`, where the user may file an 优抚对象
    (RECORD_WELFARE), without a record yet — for the 建立档案 page's search."""
    q = (q or "").strip()
    if not q:
        return []
    qs = scope.restrict(Resident.objects.filter(is_active=True, name__contains=q), user, Perm.RECORD_WELFARE)
    qs = qs.exclude(pk__in=Veteran.objects.values("resident_id"))
    return list(qs.select_related("node").order_by("name", "node__path", "pk")[:limit])


def unfiled_veterans(user: Any, limit: int = 500) -> list[tuple[int, str, str, str]]:
    """Residents tagged 退役军人 where the user may file them (RECORD_WELFARE), without a record
    yet: (resident id, name, place, masked ID number) — the 建立档案 page's default list."""
    tags = scope.restrict(ResidentTag.objects.filter(group__code="veteran", resident__is_active=True), user,
                          Perm.RECORD_WELFARE).exclude(resident_id__in=Veteran.objects.values("resident_id"))
    return list(tags.order_by("resident__node__path", "resident__name").values_list(
        "resident_id", "resident__name", "resident__node__name", "resident__id_number_masked")[:limit])


def veteran_get(user: Any, pk: Any) -> Veteran:
    return scope.get_scoped(Veteran.objects.select_related("resident__node"), user, Perm.VIEW_WELFARE, pk=pk)


def requests(user: Any, *, state: str = "", veteran: Any = None) -> QuerySet:
    qs = scope.restrict(ServiceRequest.objects.select_related("veteran__resident__node"), user, Perm.VIEW_WELFARE)
    if state == "open":
        qs = qs.filter(state__in=(RequestState.REGISTERED, RequestState.IN_PROGRESS))
    elif state:
        qs = qs.filter(state=state)
    if veteran is not None:
        qs = qs.filter(veteran=veteran)
    return qs.order_by("-received_on", "-pk")


def request_get(user: Any, pk: Any) -> ServiceRequest:
    return scope.get_scoped(ServiceRequest.objects.select_related("veteran__resident__node"), user,
                            Perm.VIEW_WELFARE, pk=pk)


def applications(user: Any, *, state: str = "", veteran: Any = None) -> QuerySet:
    qs = scope.restrict(CardApplication.objects.select_related("veteran__resident__node"), user, Perm.VIEW_WELFARE)
    if state:
        qs = qs.filter(state=state)
    if veteran is not None:
        qs = qs.filter(veteran=veteran)
    return qs.order_by("-applied_on", "-pk")


def application_get(user: Any, pk: Any) -> CardApplication:
    return scope.get_scoped(CardApplication.objects.select_related("veteran__resident__node"), user,
                            Perm.VIEW_WELFARE, pk=pk)


def checks(user: Any, veteran: Veteran) -> QuerySet:
    return scope.restrict(VeteranCheck.objects.filter(veteran=veteran).select_related("checker"), user,
                          Perm.VIEW_WELFARE)


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """The figures of docs/figures.md § 走访与优抚, for a place and a period."""

    scheduled: int  # 应走访对象（人·类别）: active tags with a visit interval, today
    visited: int  # 已走访（人次）: visits recorded with a date in the period
    overdue: int  # 逾期未走访: scheduled tags whose due date is before today
    never: int  # 从未走访: scheduled tags without any visit for their group
    checks: int  # 退役军人信息核对人次: information checks dated in the period
    applications: int  # 优待证申请人次: applications dated in the period
    issued: int  # 优待证发放: applications issued in the period
    requests: int  # 诉求登记: requests received in the period
    requests_done: int  # 诉求办结: of those, the ones finished (办结) by the period's end and still done


def _under(qs: QuerySet, field_path: str, node: OrgNode | None) -> QuerySet:
    if node is None:
        return qs
    return qs.filter(**{f"{field_path}__range": scope.subtree_range(node.path)})


def figures(user: Any, node: OrgNode | None, start: date, end: date, today: date | None = None) -> Figures:
    today = today or timezone.localdate()
    rows = due_rows(user, today=today, node=node)
    # the end of the period's last day (a reader's dates are checked by period_day; clamped so no
    # caller can overflow the date arithmetic)
    tz_end = timezone.make_aware(datetime.combine(min(end, DATE_MAX) + timedelta(days=1), time.min))
    path = "veteran__resident__node__path"
    req = _under(scope.restrict(ServiceRequest.objects.filter(received_on__range=(start, end)), user,
                                Perm.VIEW_WELFARE), path, node)
    return Figures(
        scheduled=len(rows),
        visited=_under(scope.restrict(Visit.objects.filter(visited_on__range=(start, end)), user, Perm.VIEW_WELFARE),
                       "resident__node__path", node).count(),
        overdue=sum(r.status == OVERDUE for r in rows),
        never=sum(r.never for r in rows),
        checks=_under(scope.restrict(VeteranCheck.objects.filter(checked_on__range=(start, end)), user,
                                     Perm.VIEW_WELFARE), path, node).count(),
        applications=_under(scope.restrict(CardApplication.objects.filter(applied_on__range=(start, end)), user,
                                           Perm.VIEW_WELFARE), path, node).count(),
        issued=_under(scope.restrict(CardApplication.objects.filter(issued_on__range=(start, end)), user,
                                     Perm.VIEW_WELFARE), path, node).count(),
        requests=req.count(),
        requests_done=req.filter(state=RequestState.DONE, done_at__lt=tz_end).count(),
    )


def panel_figures(user: Any, node: OrgNode | None, start: date, end: date) -> list[tuple[str, str, str | None]]:
    """The dashboard's figures (label, value text, link) — docs/figures.md § 走访与优抚."""
    f = figures(user, node, start, end)
    due = reverse("welfare:visits_due")
    return [
        (_("应走访对象（特殊人群）"), str(f.scheduled), due + "?bucket=all"),
        (_("已走访（人次）"), str(f.visited), reverse("welfare:visits_list")),
        (_("逾期未走访"), str(f.overdue), due + "?bucket=overdue"),
        (_("退役军人信息核对人次"), str(f.checks), reverse("welfare:veterans")),
        (_("优待证申请人次"), str(f.applications), reverse("welfare:card_list")),
        (_("诉求办结"), f"{f.requests_done} / {f.requests}", reverse("welfare:request_list")),
    ]
