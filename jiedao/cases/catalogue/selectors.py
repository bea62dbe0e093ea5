"""Reads of the catalogue: categories (cached per process), routing, holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases.models import (
    CasePolicy,
    Category,
    RoutingRule,
)
from jiedao.cases.policy import policy_for
from jiedao.core import caching, scope, workdays
from jiedao.core.permissions import Perm
from jiedao.org.models import Department, NodeKind, OrgNode


def route(category: Category | None, node: OrgNode) -> Department | None:
    """The department that handles `category` at `node`: the rule on the deepest ancestor wins.
    None means the community (or village) handles it itself."""
    if category is None:
        return None

    def load() -> tuple:
        rules = RoutingRule.objects.filter(category_id=category.pk).select_related("department", "node")
        return tuple(sorted(((rule.node.path, caching.row(rule.department) if rule.department_id else None)
                             for rule in rules), key=lambda pair: -len(pair[0])))

    # The category's rules are cached per process (editing them bumps the cache generation).
    for path, department in caching.get(("routes", category.pk), load):
        if node.path.startswith(path):
            return caching.instance(Department, department) if department else None
    return None


def categories_active() -> QuerySet[Category]:
    return Category.objects.filter(is_active=True).select_related("parent").order_by("sort_order", "id")


def leaf_categories(*, active_only: bool = True) -> list[Category]:
    """Categories a case can be filed under: those that are not the group of another category."""
    def load() -> tuple:
        rows = list(Category.objects.select_related("parent").order_by("sort_order", "id"))
        parents = {c.parent_id for c in rows if c.parent_id}
        return tuple(_category_rows(c) for c in rows if c.pk not in parents)

    leaves = [_category_instance(rows) for rows in caching.get(("leaf_categories",), load)]
    return [c for c in leaves if c.is_active or not active_only]


def category_choices(*, active_only: bool = True) -> list[tuple[str, list[tuple[int, str]]]]:
    """[(group name, [(pk, name), ...]), ...] for grouped <select> options."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for category in leaf_categories(active_only=active_only):
        group = category.parent.name if category.parent else "其他"
        groups.setdefault(group, []).append((category.pk, category.name))
    return list(groups.items())


def catalogue_rows() -> list[Category]:
    """Every category in catalogue order, each with `rule_count`, groups before their members."""
    rows = list(Category.objects.select_related("parent").annotate(rule_count=Count("rules")).order_by("sort_order", "id"))
    by_parent: dict[int | None, list[Category]] = {}
    for row in rows:
        by_parent.setdefault(row.parent_id, []).append(row)
    ordered: list[Category] = []
    for top in by_parent.get(None, []):
        ordered.append(top)
        ordered.extend(by_parent.get(top.pk, []))
    seen = {c.pk for c in ordered}
    ordered.extend(c for c in rows if c.pk not in seen)
    return ordered


def routing_rules(user: Any, category: Category) -> QuerySet[RoutingRule]:
    """The category's routing rules on nodes the user administers the catalogue of."""
    qs = RoutingRule.objects.filter(category=category).select_related("node", "department")
    return scope.restrict(qs, user, Perm.MANAGE_CATALOGUE).order_by("node__path")


def routing_rule_get(user: Any, pk: Any) -> RoutingRule:
    return scope.get_scoped(RoutingRule.objects.select_related("node", "category"), user, Perm.MANAGE_CATALOGUE, pk=pk)


def holidays(year: int | None = None) -> QuerySet:
    from jiedao.core.models import WorkdayOverride

    qs = WorkdayOverride.objects.order_by("-date")
    return qs.filter(date__year=year) if year else qs


@dataclass(frozen=True)
class CalendarYear:
    """How far the working days of a year are settled, for the holiday page and its notices."""

    year: int
    in_package: bool  # the chinese-calendar package has the official schedule
    declared: Any  # the WorkdayYear row (an administrator declared the table complete), or None
    holidays: int  # override rows entered: holidays
    workdays: int  # and make-up workdays (调休上班)
    estimated_cases: int  # running cases whose deadline in this year is an estimate

    @property
    def known(self) -> bool:
        return self.in_package or self.declared is not None


def calendar_years(today: date | None = None) -> list[CalendarYear]:
    """This year, next year and any later year with dates entered, oldest first."""
    from jiedao.cases.catalogue.sla import RUNNING
    from jiedao.cases.models import Case
    from jiedao.core.models import WorkdayOverride, WorkdayYear

    today = today or timezone.localdate()
    entered: dict[int, list[int]] = {}
    for day, is_workday in WorkdayOverride.objects.filter(date__year__gte=today.year).values_list("date", "is_workday"):
        entered.setdefault(day.year, [0, 0])[is_workday] += 1
    declared = {row.year: row for row in WorkdayYear.objects.filter(year__gte=today.year).select_related("declared_by")}
    years = sorted({today.year, today.year + 1, *entered, *declared})
    estimated = dict(Case.objects.filter(state__in=RUNNING, deadline_estimated=True, deadline_at__year__in=years)
                     .values_list("deadline_at__year").annotate(n=Count("id")).values_list("deadline_at__year", "n"))
    return [CalendarYear(year, workdays.package_knows(year), declared.get(year), entered.get(year, [0, 0])[0],
                         entered.get(year, [0, 0])[1], estimated.get(year, 0)) for year in years]


def calendar_unknown_years(today: date | None = None) -> list[CalendarYear]:
    """This year and next (and later years with dates entered) when neither the chinese-calendar
    package knows them nor an administrator declared their holiday table complete: deadlines
    there are estimates (weekends only, plus the dates already entered)."""
    return [year for year in calendar_years(today) if not year.known]


def _category_rows(category: Category) -> tuple:
    return caching.row(category), caching.row(category.parent) if category.parent_id else None


def _category_instance(rows: tuple) -> Category:
    own, parent = rows
    category = caching.instance(Category, own)
    category.parent = caching.instance(Category, parent) if parent else None
    return category


def category_by_code(code: str) -> Category:
    """A category (active or not) by its code; Http404 if there is none. The catalogue is cached
    per process (jiedao.core.caching; editing it bumps the generation); each call returns fresh
    instances."""
    code = str(code).strip()

    def load() -> tuple | None:
        category = Category.objects.select_related("parent").filter(code=code).first()
        return _category_rows(category) if category is not None else None

    rows = caching.get(("category", code), load)
    if rows is None:
        raise Http404(_("未找到该类别。"))
    return _category_instance(rows)


# --- 办件规则 (CasePolicy) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRow:
    """A sub-district's 办件规则 as it stands (None: the default row), and whether it is its own."""

    subdistrict: OrgNode | None
    policy: CasePolicy
    own: bool


def policy_subdistrict_get(user: Any, pk: Any) -> OrgNode:
    """A sub-district whose 办件规则 the user may edit: 404 if they do not see it (or it is not a
    sub-district), 403 if they see it but do not administer its catalogue."""
    node = scope.get_scoped(OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT), user, Perm.VIEW_ORG, pk=pk)
    scope.require(user, Perm.MANAGE_CATALOGUE, node.path)
    return node


def policy_row(subdistrict: OrgNode | None) -> PolicyRow:
    own = CasePolicy.objects.filter(subdistrict=subdistrict).first() if subdistrict else (
        CasePolicy.objects.filter(subdistrict__isnull=True).order_by("id").first())
    return PolicyRow(subdistrict, own or policy_for(None), own is not None)


def policy_rows(user: Any) -> list[PolicyRow]:
    """The default rules (superusers, who may edit them) and the rules of every sub-district whose
    catalogue the user administers, those without rules of their own showing the default."""
    subdistricts = list(scope.restrict(OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT), user, Perm.MANAGE_CATALOGUE)
                        .order_by("path"))
    own = {p.subdistrict_id: p for p in CasePolicy.objects.filter(subdistrict__in=[s.pk for s in subdistricts])}
    default = policy_row(None)
    rows = [default] if getattr(user, "is_superuser", False) else []
    rows += [PolicyRow(s, own.get(s.pk) or default.policy, s.pk in own) for s in subdistricts]
    return rows

