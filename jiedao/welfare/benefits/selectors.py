"""Reads of benefits and subsidies, every one scoped by jiedao.core.scope with VIEW_WELFARE: the
catalogue, grant lists and the due-review list, payments, and the totals in the work reports'
terms (docs/figures.md, "救助补贴"):

- 人次 (person-times) = the sum over the period's payments of the persons each covered;
- 人均补差 = amount ÷ 人次;
- 人数 = distinct residents paid; 户数 = distinct households paid (a resident without a household
  counts as one);
- 金额 = the sum of the amounts, exact in 元 (Decimal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncQuarter, TruncYear
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import Resident
from jiedao.welfare.models.benefits import Grant, GrantState, GrantTransition, Headline, Payment, Programme

GRANULARITIES = ("month", "quarter", "year")
_TRUNC = {"month": TruncMonth, "quarter": TruncQuarter, "year": TruncYear}
CENT = Decimal("0.01")


# --- catalogue ----------------------------------------------------------------------------------


def programmes(active_only: bool = False) -> QuerySet[Programme]:
    qs = Programme.objects.all()
    return qs.filter(is_active=True) if active_only else qs


def programme_get(pk: Any) -> Programme:
    try:
        return Programme.objects.get(pk=int(pk))
    except (Programme.DoesNotExist, ValueError, TypeError):
        raise Http404(_("未找到该对象。")) from None


# --- grants -------------------------------------------------------------------------------------


def grants_visible(user: Any) -> QuerySet[Grant]:
    return scope.restrict(Grant.objects.select_related("programme", "resident", "household", "community", "node"),
                          user, Perm.VIEW_WELFARE)


def grant_list(user: Any, *, programme: int | None = None, state: str = "", community: int | None = None,
               q: str = "", due_within: int | None = None, today: date | None = None) -> QuerySet[Grant]:
    qs = grants_visible(user)
    if programme:
        qs = qs.filter(programme_id=programme)
    if state:
        qs = qs.filter(state=state)
    if community:
        qs = qs.filter(community_id=community)
    if q:
        qs = qs.filter(Q(resident__name__contains=q) | Q(household__number__contains=q))
    if due_within is not None:
        today = today or date.today()
        qs = qs.filter(state__in=(GrantState.ACTIVE, GrantState.SUSPENDED), next_review_on__isnull=False,
                       next_review_on__lte=today + timedelta(days=due_within)).order_by("next_review_on", "pk")
    return qs


def grant_get(user: Any, pk: Any) -> Grant:
    return scope.get_scoped(grants_visible(user), user, Perm.VIEW_WELFARE, pk=pk)


def grant_steps(grant: Grant) -> QuerySet[GrantTransition]:
    return grant.transitions.select_related("actor").order_by("seq")


def due_review_count(user: Any, today: date, within: int = 30) -> int:
    return grant_list(user, due_within=within, today=today).count()


def residents_for_grant(user: Any, q: str, limit: int = 20) -> list[Resident]:
    """Residents in the user's MANAGE_WELFARE scope whose name contains `q` (for the grant form)."""
    q = (q or "").strip()
    if not q:
        return []
    qs = scope.restrict(Resident.objects.filter(is_active=True, name__contains=q), user, Perm.MANAGE_WELFARE)
    return list(qs.select_related("node", "household").order_by("name", "pk")[:limit])


def resident_visible(user: Any, pk: Any) -> Resident:
    """A resident the user sees welfare records of (a grant's page shows them; registering one
    then needs MANAGE_WELFARE there, which the service checks: 403, not 404)."""
    return scope.get_scoped(Resident.objects.select_related("node", "household"), user, Perm.VIEW_WELFARE, pk=pk)


def resident_for_grant(user: Any, pk: Any) -> Resident:
    return scope.get_scoped(Resident.objects.select_related("node", "household"), user, Perm.MANAGE_WELFARE, pk=pk)


# --- payments -----------------------------------------------------------------------------------


def payments_visible(user: Any) -> QuerySet[Payment]:
    return scope.restrict(Payment.objects.select_related("programme", "resident", "community", "grant"),
                          user, Perm.VIEW_WELFARE)


def payment_list(user: Any, *, programme: int | None = None, community: int | None = None,
                 start: date | None = None, end: date | None = None, grant: int | None = None,
                 q: str = "") -> QuerySet[Payment]:
    qs = payments_visible(user)
    if programme:
        qs = qs.filter(programme_id=programme)
    if community:
        qs = qs.filter(community_id=community)
    if start:
        qs = qs.filter(month__gte=start.replace(day=1))
    if end:
        qs = qs.filter(month__lte=end)
    if grant:
        qs = qs.filter(grant_id=grant)
    if q:
        qs = qs.filter(resident__name__contains=q)
    return qs


def communities(user: Any) -> list[OrgNode]:
    """The communities and villages the user sees welfare records of (for the filters)."""
    qs = OrgNode.objects.filter(kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE), is_active=True)
    paths = scope.granted_paths(user, Perm.VIEW_WELFARE)
    if paths is None:
        return list(qs.order_by("path"))
    if not paths:
        return []
    cond = Q()
    for path in paths:  # the communities under a grant, and the community above a grid's grant
        cond |= Q(path__range=scope.subtree_range(path)) | Q(path__in=[path[:n] for n in range(4, len(path), 4)])
    return list(qs.filter(cond).order_by("path"))


# --- totals -------------------------------------------------------------------------------------


def per_capita(amount: Decimal, person_times: int) -> Decimal | None:
    """人均补差 = amount ÷ 人次, to the fen (half up); None when nothing was paid."""
    if not person_times:
        return None
    return (Decimal(amount) / person_times).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class TotalRow:
    programme: Programme
    period: date
    period_label: str
    community: str  # "" for the row over all communities
    community_id: int | None
    person_times: int = 0
    persons: int = 0
    households: int = 0
    amount: Decimal = Decimal("0.00")
    payments: int = 0
    subtotal: bool = False
    details: list[TotalRow] = field(default_factory=list)

    @property
    def per_capita(self) -> Decimal | None:
        return per_capita(self.amount, self.person_times)

    @property
    def headline(self) -> str:
        return headline_text(self.programme, self.person_times, self.persons, self.households, self.amount)


def period_label(granularity: str, day: date) -> str:
    if granularity == "year":
        return _("%(y)s年") % {"y": day.year}
    if granularity == "quarter":
        return _("%(y)s年第%(q)s季度") % {"y": day.year, "q": (day.month - 1) // 3 + 1}
    return _("%(y)s年%(m)s月") % {"y": day.year, "m": day.month}


def yuan(amount: Decimal | None) -> str:
    """An amount in 元 as the tables show it: 261,340.00."""
    return "—" if amount is None else f"{Decimal(amount):,.2f}"


def yuan_words(amount: Decimal) -> str:
    """An amount as a report sentence says it: 10800元, 26.13万元, 230万元 (万 from 10 万 up)."""
    amount = Decimal(amount)
    if amount >= 100000:
        wan = (amount / 10000).quantize(CENT, rounding=ROUND_HALF_UP).normalize()
        return _("%(n)s万元") % {"n": f"{wan:f}"}
    return _("%(n)s元") % {"n": f"{amount.quantize(CENT).normalize():f}"}


def headline_text(programme: Programme, person_times: int, persons: int, households: int, amount: Decimal) -> str:
    """The programme's total as the work reports say it."""
    if programme.headline == Headline.PERSON_TIMES:
        avg = per_capita(amount, person_times)
        return _("%(n)s人次，人均补差%(avg)s元，共%(amount)s") % {
            "n": person_times, "avg": f"{avg.normalize():f}" if avg is not None else "0", "amount": yuan_words(amount)}
    if programme.headline == Headline.HOUSEHOLDS:
        return _("%(n)s户，共%(amount)s") % {"n": households, "amount": yuan_words(amount)}
    return _("%(n)s人，共%(amount)s") % {"n": persons, "amount": yuan_words(amount)}


_MEASURES = {
    "person_times": Sum("persons"),
    "amount": Sum("amount"),
    "payments": Count("id"),
    "persons_n": Count("resident", distinct=True),
    "households_n": Count("household", distinct=True),
    "lone_n": Count("resident", distinct=True, filter=Q(household__isnull=True)),
}


def _payments_in(user: Any, node: OrgNode | None, start: date, end: date, programme: int | None = None,
                 community: int | None = None) -> QuerySet[Payment]:
    qs = scope.restrict(Payment.objects.all(), user, Perm.VIEW_WELFARE).filter(month__gte=start.replace(day=1),
                                                                               month__lte=end)
    if node is not None:
        qs = qs.filter(node__path__range=scope.subtree_range(node.path))
    if programme:
        qs = qs.filter(programme_id=programme)
    if community:
        qs = qs.filter(community_id=community)
    return qs


def totals(user: Any, *, start: date, end: date, granularity: str = "year", programme: int | None = None,
           community: int | None = None, node: OrgNode | None = None) -> list[TotalRow]:
    """Per programme × period: the row over all the user's communities, with the row of each
    community under it (`details`). Distinct counts are counted in each row's own population, so
    a community row's 人数 never adds up past its subtotal's by counting a person twice."""
    if granularity not in GRANULARITIES:
        granularity = "year"
    trunc = _TRUNC[granularity]("month")
    base = _payments_in(user, node, start, end, programme, community).annotate(period=trunc)
    catalogue = {p.pk: p for p in Programme.objects.all()}
    rows: dict[tuple[int, date], TotalRow] = {}

    def as_date(value: Any) -> date:
        return value.date() if hasattr(value, "date") and callable(value.date) else value

    for item in base.values("programme_id", "period").annotate(**_MEASURES).order_by("programme_id", "period"):
        period = as_date(item["period"])
        row = TotalRow(catalogue[item["programme_id"]], period, period_label(granularity, period), "", None,
                       subtotal=True)
        _fill(row, item)
        rows[(item["programme_id"], period)] = row
    by_community = base.values("programme_id", "period", "community_id").annotate(**_MEASURES)
    community_ids = {item["community_id"] for item in by_community}
    names = dict(OrgNode.objects.filter(pk__in=[c for c in community_ids if c]).values_list("pk", "name"))
    for item in by_community.order_by("programme_id", "period", "community_id"):
        period = as_date(item["period"])
        parent = rows[(item["programme_id"], period)]
        row = TotalRow(parent.programme, period, parent.period_label,
                       names.get(item["community_id"], _("（未归属社区）")), item["community_id"])
        _fill(row, item)
        parent.details.append(row)
    ordered = sorted(rows.values(), key=lambda r: (r.programme.sort_order, r.programme.pk, r.period))
    for row in ordered:
        row.details.sort(key=lambda r: r.community)
    return ordered


def _fill(row: TotalRow, item: dict[str, Any]) -> None:
    row.person_times = int(item["person_times"] or 0)
    row.amount = Decimal(item["amount"] or 0).quantize(CENT)
    row.payments = int(item["payments"])
    row.persons = int(item["persons_n"])
    row.households = int(item["households_n"]) + int(item["lone_n"])


def panel_figures(user: Any, node: OrgNode | None, start: date, end: date) -> list[tuple[str, str, str | None]]:
    """The dashboard's benefit figures for the period: (label, value text, link):
    低保人次 and 人均补差 (over the programmes reported by person-times, 城市低保 and 农村低保 …),
    then each programme's total amount paid and the amount over all programmes."""
    url = reverse("welfare:benefits_totals") + f"?start={start.isoformat()}&end={end.isoformat()}&granularity=year"
    qs = _payments_in(user, node, start, end)
    out: list[tuple[str, str, str | None]] = []
    dibao = qs.filter(programme__headline=Headline.PERSON_TIMES).aggregate(n=Sum("persons"), amount=Sum("amount"))
    times, amount = int(dibao["n"] or 0), Decimal(dibao["amount"] or 0)
    avg = per_capita(amount, times)
    out.append((_("低保人次"), _("%(n)s人次") % {"n": times}, url))
    out.append((_("人均补差"), _("%(n)s元") % {"n": yuan(avg)} if avg is not None else "—", url))
    total = Decimal("0")
    catalogue = {p.pk: p for p in Programme.objects.all()}
    for item in qs.values("programme_id").annotate(amount=Sum("amount")).order_by("programme_id"):
        programme = catalogue[item["programme_id"]]
        value = Decimal(item["amount"] or 0)
        total += value
        out.append((_("%(name)s发放金额") % {"name": programme.name}, _("%(n)s元") % {"n": yuan(value)},
                    url + f"&programme={programme.pk}"))
    out.append((_("各类补贴发放金额"), _("%(n)s元") % {"n": yuan(total)}, url))
    return out
