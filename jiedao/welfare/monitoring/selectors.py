"""Reads of 防止返贫动态监测: the scoped lists and details, the due and overdue visit lists, and
the figures (docs/figures.md § 防止返贫动态监测), every one through jiedao.core.scope with
Perm.VIEW_WELFARE.

The monthly rule: a household is *due* a visit in a calendar month when it is under monitoring
on the month's first day (纳入 on or before it, not 风险消除 before it); it is *visited* that
month when a visit is dated in the month; *overdue* for the month when due and not visited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from jiedao.core import scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.org.models import NodeKind, OrgNode, User
from jiedao.people.models import Household, Resident
from jiedao.welfare.models.monitoring import (
    DECISION_DAYS,
    ENTRY_STATES,
    UNDER_MONITORING,
    Measure,
    MonitoredHousehold,
    MonitoringChange,
    MonitoringLine,
    MonitoringState,
    MonitoringTransition,
    MonitoringVisit,
)


def with_head(qs: QuerySet[MonitoredHousehold]) -> QuerySet[MonitoredHousehold]:
    """Annotate `head_name`: the register's name of the household's head (户主), else its first
    member — names as the register shows them; identifiers stay masked there."""
    first = Resident.objects.filter(household=OuterRef("household"), is_active=True).order_by(
        Case(When(relation="户主", then=0), default=1), "pk")
    return qs.annotate(head_name=Subquery(first.values("name")[:1]))


def monitored_visible(user: Any) -> QuerySet[MonitoredHousehold]:
    return scope.restrict(MonitoredHousehold.objects.select_related("household", "household__node", "household__head", "cadre"),
                          user, Perm.VIEW_WELFARE)


def monitored_get(user: Any, pk: Any) -> MonitoredHousehold:
    return scope.get_scoped(with_head(MonitoredHousehold.objects.select_related("household", "household__node", "cadre")),
                            user, Perm.VIEW_WELFARE, pk=pk)


def measure_get(user: Any, pk: Any) -> Measure:
    return scope.get_scoped(Measure.objects.select_related("monitored", "monitored__household__node"), user, Perm.VIEW_WELFARE,
                            pk=pk)


def household_for_lead(user: Any, number: str) -> Household | None:
    """The household with this number (户号) where the user may record leads, or None."""
    number = (number or "").strip()
    if not number:
        return None
    qs = scope.restrict(Household.objects.select_related("node"), user, Perm.RECORD_WELFARE)
    return qs.filter(number=number).first()


def household_get(user: Any, pk: Any) -> Household:
    return scope.get_scoped(Household.objects.select_related("node"), user, Perm.RECORD_WELFARE, pk=pk)


def in_subtree(qs: QuerySet, node: OrgNode | None, field: str = "household__node__path") -> QuerySet:
    if node is None:
        return qs
    return qs.filter(**{f"{field}__range": scope.subtree_range(node.path)})


def monitored_list(user: Any, *, node: OrgNode | None = None, kind: str = "", risk: str = "", state: str = "",
                   cadre: Any = None, q: str = "", late: bool = False) -> QuerySet[MonitoredHousehold]:
    """Filtered monitored households: `state` is a state code, or "monitored_all" (under
    monitoring, exit steps included), or "entry" (still in the entry steps)."""
    qs = in_subtree(monitored_visible(user), node)
    if kind:
        qs = qs.filter(kind=kind)
    if state == "monitored_all":
        qs = qs.filter(state__in=UNDER_MONITORING)
    elif state == "entry":
        qs = qs.filter(state__in=ENTRY_STATES)
    elif state:
        qs = qs.filter(state=state)
    if cadre:
        qs = qs.filter(cadre_id=getattr(cadre, "pk", cadre))
    if q:
        qs = qs.filter(Q(household__number__icontains=q) | Q(household__address__icontains=q))
    rows = with_head(qs).order_by("-lead_on", "-pk")
    if late:
        limit = timezone.localdate() - timedelta(days=DECISION_DAYS)
        rows = rows.filter(state__in=ENTRY_STATES, lead_on__lt=limit)
    if risk:
        # risk types are a JSON list: filtered on the ids (portable across SQLite and PostgreSQL)
        ids = [pk for pk, risks in rows.values_list("pk", "risk_types") if risk in (risks or [])]
        rows = rows.filter(pk__in=ids)
    return rows


def cadres_in_scope(user: Any) -> QuerySet[User]:
    """The distinct cadres of the monitored households the user sees (the list's cadre filter)."""
    ids = monitored_visible(user).exclude(cadre=None).values("cadre_id")
    return User.objects.filter(pk__in=ids).order_by("username")


def transitions(monitored: MonitoredHousehold) -> QuerySet[MonitoringTransition]:
    return monitored.transitions.select_related("actor").order_by("seq")


def measures(monitored: MonitoredHousehold) -> QuerySet[Measure]:
    return monitored.measures.order_by("due_on", "pk")


def visits(monitored: MonitoredHousehold) -> QuerySet[MonitoringVisit]:
    return monitored.visits.select_related("cadre").order_by("-visited_on", "-pk")


def changes(monitored: MonitoredHousehold) -> QuerySet[MonitoringChange]:
    return monitored.changes.select_related("actor", "visit").order_by("-created_at", "-pk")


def lines(user: Any) -> QuerySet[MonitoringLine]:
    return scope.restrict(MonitoringLine.objects.select_related("subdistrict"), user, Perm.VIEW_WELFARE)


def communities(user: Any) -> QuerySet[OrgNode]:
    """The communities and villages the user sees in welfare (the filters' and overdue list's places)."""
    qs = OrgNode.objects.filter(kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE), is_active=True)
    condition = scope.scope_q(user, Perm.VIEW_WELFARE, "path")
    paths = scope.granted_paths(user, Perm.VIEW_WELFARE)
    if paths is not None:
        # a grid worker's community (above the grant) is offered too: the list is still scoped by rows
        above = Q(path__in=[p[:n] for p in paths for n in range(scope.PATH_SEGMENT, len(p), scope.PATH_SEGMENT)])
        qs = qs.filter(condition | above) if condition is not None else qs.filter(above)
    return qs.order_by("path")


# --- months, due and overdue ------------------------------------------------------------------


YEAR_MIN, YEAR_MAX = 2000, 2100  # the dates the lists and figures read (beyond: a 400, never an overflow)


def check_year(day: date, *, field: str, label: str) -> date:
    """Refuse a date outside 2000–2100 with a Chinese message naming the field."""
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        raise DomainError(_("%(label)s须在 %(min)s–%(max)s 年之间。") % {"label": label, "min": YEAR_MIN, "max": YEAR_MAX},
                          field=field)
    return day


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def under_monitoring_on(qs: QuerySet[MonitoredHousehold], day: date) -> QuerySet[MonitoredHousehold]:
    """The households under monitoring on `day`: included on or before it, not removed by then."""
    return qs.filter(included_on__lte=day).filter(Q(removed_on__isnull=True) | Q(removed_on__gt=day))


def _visited_in(first: date) -> Exists:
    return Exists(MonitoringVisit.objects.filter(monitored=OuterRef("pk"), visited_on__gte=first,
                                                 visited_on__lt=next_month(first)))


def due_in_month(qs: QuerySet[MonitoredHousehold], first: date) -> QuerySet[MonitoredHousehold]:
    """Due a visit in the month starting `first` (under monitoring on its first day)."""
    return under_monitoring_on(qs, first)


def overdue_in_month(user: Any, first: date, *, node: OrgNode | None = None) -> QuerySet[MonitoredHousehold]:
    """The month's overdue list: due in the month, no visit dated in it (for the current month:
    not visited yet)."""
    check_year(first, field="month", label=_("月份"))
    qs = due_in_month(in_subtree(monitored_visible(user), node), first)
    return with_head(qs).annotate(visited=_visited_in(first)).filter(visited=False).order_by(
        "household__node__path", "household__number")


@dataclass
class MyVisits:
    this_week: list[MonitoredHousehold]
    later: list[MonitoredHousehold]
    done: list[MonitoredHousehold]
    week_end: date
    month_end: date


def my_visits(user: Any, today: date | None = None) -> MyVisits:
    """我的走访: the user's households under monitoring (as their cadre) and their visit this
    month. Not visited this month: *this week* when it missed last month's visit, or its last
    visit is 30 days old by this Sunday, or the month ends this week; *later* otherwise."""
    today = today or timezone.localdate()
    first = month_start(today)
    month_end = next_month(first) - timedelta(days=1)
    week_end = today + timedelta(days=6 - today.weekday())
    qs = with_head(monitored_visible(user)).filter(cadre=user, state__in=UNDER_MONITORING).annotate(
        visited=_visited_in(first), visited_last=_visited_in(previous_month(first))).order_by(
        "last_visit_on", "household__number")
    this_week, later, done = [], [], []
    for row in qs:
        if row.visited:
            done.append(row)
            continue
        missed = not row.visited_last and row.included_on is not None and row.included_on <= previous_month(first)
        row.missed_last_month = missed
        row.suggested_on = min(month_end, (row.last_visit_on + timedelta(days=30)) if row.last_visit_on else today)
        if missed or row.suggested_on <= week_end or month_end <= week_end:
            this_week.append(row)
        else:
            later.append(row)
    return MyVisits(this_week, later, done, week_end, month_end)


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    households: int  # 监测户数: under monitoring on `end`
    people: int  # 监测人数: their members
    due: int  # 本月应走访 (the month of `end`)
    visited: int  # 本月已走访
    overdue: int  # 逾期: due last month and not visited last month
    included: int  # 新纳入: included in [start, end]
    removed: int  # 风险消除: removed in [start, end]
    late_decisions: int  # 超 15 天未认定: lead more than 15 days before `end`, not decided by `end`


def figures(user: Any, start: date, end: date, *, node: OrgNode | None = None) -> Figures:
    """The figures of the user's welfare scope (optionally under `node`) for [start, end].
    Definitions: docs/figures.md § 防止返贫动态监测."""
    check_year(start, field="start", label=_("开始日期"))
    check_year(end, field="end", label=_("结束日期"))
    base = in_subtree(monitored_visible(user), node)
    current = under_monitoring_on(base, end)
    first = month_start(end)
    last = previous_month(first)
    due = due_in_month(base, first)
    due_last = due_in_month(base, last)
    return Figures(
        households=current.count(),
        people=current.aggregate(n=Sum("members"))["n"] or 0,
        due=due.count(),
        visited=due.filter(_visited_in(first)).count(),
        overdue=due_last.exclude(_visited_in(last)).count(),
        included=base.filter(included_on__range=(start, end)).count(),
        removed=base.filter(removed_on__range=(start, end)).count(),
        late_decisions=base.filter(lead_on__lt=end - timedelta(days=DECISION_DAYS)).filter(
            Q(decided_on__isnull=True, state__in=ENTRY_STATES) | Q(decided_on__gt=end)).count(),
    )


def panel_figures(user: Any, node: OrgNode | None, start: date, end: date) -> list[tuple[str, str, str | None]]:
    """The dashboard's welfare-monitoring figures: (label, value, link) in the seeds' terms —
    监测户数/人数, 本月应走访/已走访/逾期, 新纳入, 风险消除 (docs/figures.md § 防止返贫动态监测)."""
    if not scope.has_perm_anywhere(user, Perm.VIEW_WELFARE):
        return []
    f = figures(user, start, end, node=node)
    where = {"node": node.pk} if node is not None else {}
    index = reverse("welfare:monitoring_list")
    overdue = reverse("welfare:monitoring_overdue")
    last = previous_month(month_start(end))
    return [
        (_("监测户数/人数"), _("%(h)s户、%(p)s人") % {"h": f.households, "p": f.people},
         f"{index}?{urlencode({**where, 'state': 'monitored_all'})}"),
        (_("本月应走访/已走访"), f"{f.due}/{f.visited}",
         f"{overdue}?{urlencode({**where, 'month': month_start(end).strftime('%Y-%m')})}"),
        (_("上月逾期未走访"), str(f.overdue), f"{overdue}?{urlencode({**where, 'month': last.strftime('%Y-%m')})}"),
        (_("新纳入"), _("%(n)s户") % {"n": f.included}, None),
        (_("风险消除"), _("%(n)s户") % {"n": f.removed}, None),
    ]


def state_counts(user: Any) -> dict[str, int]:
    rows = monitored_visible(user).values_list("state", flat=True)
    counts = dict.fromkeys(MonitoringState.values, 0)
    for state in rows:
        counts[state] += 1
    return counts
