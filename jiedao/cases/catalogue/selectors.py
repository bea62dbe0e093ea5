"""Reads of the catalogue: categories (cached per process), routing, holidays."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases.models import (
    Category,
    RoutingRule,
)
from jiedao.core import caching, scope, workdays
from jiedao.core.permissions import Perm
from jiedao.org.models import Department, OrgNode


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


def calendar_unknown_years(today: date | None = None) -> list[int]:
    """This year and next, when the chinese-calendar package does not know them and no
    administrator has entered that year's holidays: deadlines there are weekend-only estimates."""
    import chinese_calendar


    today = today or timezone.localdate()
    listed = workdays.years_with_overrides()
    unknown = []
    for year in (today.year, today.year + 1):
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            if year not in listed:
                unknown.append(year)
    return unknown


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
