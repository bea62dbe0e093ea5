"""Writes to the catalogue: categories, routing rules and the holiday table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.cases.models import (
    Category,
    LimitUnit,
    RoutingRule,
    Tier,
)
from jiedao.core import audit, caching, scope, workdays
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.core.validators import choice_values, clean_text
from jiedao.org.models import Department, NodeKind, OrgNode

_CATEGORY_FIELDS = ("name", "default_tier", "time_limit", "time_limit_unit", "accept_conditions",
                    "close_conditions", "keywords", "sort_order", "is_active")


def _require_catalogue(actor: Any) -> None:
    if not scope.has_perm_anywhere(actor, Perm.MANAGE_CATALOGUE):
        raise PermissionError_(_("您没有维护事项目录的权限。"))


@transaction.atomic
def category_update(*, actor: Any, category: Category, **fields: Any) -> Category:
    """Change a category's name, default tier, time limit, conditions, keywords or status."""
    import re

    _require_catalogue(actor)
    unknown = set(fields) - set(_CATEGORY_FIELDS)
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))})
    current = Category.objects.select_for_update().get(pk=category.pk)
    before = audit.snapshot(current, list(_CATEGORY_FIELDS))
    if "name" in fields:
        current.name = clean_text(fields["name"], field="name", label=gettext_lazy("名称"), max_length=64, required=True)
    if "default_tier" in fields:
        if fields["default_tier"] not in choice_values(Tier):
            raise DomainError(_("默认分流应为大事、小事或私事。"), field="default_tier")
        current.default_tier = fields["default_tier"]
    if "time_limit_unit" in fields:
        if fields["time_limit_unit"] not in choice_values(LimitUnit):
            raise DomainError(_("时限单位应为工作日、工作小时或自然小时。"), field="time_limit_unit")
        current.time_limit_unit = fields["time_limit_unit"]
    if "time_limit" in fields:
        try:
            limit = Decimal(str(fields["time_limit"])).quantize(Decimal("0.1"))
        except ArithmeticError:
            raise DomainError(_("办理时限应为数字。"), field="time_limit") from None
        if not Decimal("0.5") <= limit <= Decimal("365"):
            raise DomainError(_("办理时限应在 0.5 到 365 之间。"), field="time_limit")
        current.time_limit = limit
    for name, label in (("accept_conditions", gettext_lazy("受理条件")), ("close_conditions", gettext_lazy("结案条件"))):
        if name in fields:
            setattr(current, name, clean_text(fields[name], field=name, label=label, max_length=300))
    if "keywords" in fields:
        words = [w for w in re.split(r"[\s,，、;；]+", str(fields["keywords"] or "")) if w]
        keywords = " ".join(dict.fromkeys(words))
        current.keywords = clean_text(keywords, field="keywords", label=gettext_lazy("关键词"), max_length=300)
    if "sort_order" in fields and fields["sort_order"] is not None:
        current.sort_order = max(int(fields["sort_order"]), 0)
    if "is_active" in fields:
        current.is_active = bool(fields["is_active"])
    current.save()
    caching.bump()
    old, new = audit.changed(before, audit.snapshot(current, list(_CATEGORY_FIELDS)))
    if new:
        audit.record(actor=actor, action="cases.category.update", obj=current, before=old, after=new)
    return current


@transaction.atomic
def routing_rule_set(*, actor: Any, category: Category, node: OrgNode, department: Department | None = None) -> RoutingRule:
    """Who handles `category` under `node` (None: the community itself); replaces the rule the
    category already has on that node. The deepest matching node wins when routing."""
    _require_catalogue(actor)
    scope.require(actor, Perm.MANAGE_CATALOGUE, node.path)
    if node.kind not in RULE_NODE_KINDS:
        raise DomainError(_("派遣规则应设在街道、社区、村、网格或微网格上。"), field="node")
    if department is not None:
        subdistrict_id = node.pk if node.kind == NodeKind.SUBDISTRICT else node.subdistrict_id
        if department.subdistrict_id != subdistrict_id or not department.is_active:
            raise DomainError(_("承办部门须是该节点所属街道的在用部门。"), field="department")
    existing = RoutingRule.objects.select_for_update().filter(category=category, node=node).first()
    before = audit.snapshot(existing, ["department"]) if existing else None
    if existing:
        existing.department = department
        existing.save()
        rule = existing
    else:
        rule = RoutingRule.objects.create(category=category, node=node, department=department)
    caching.bump()
    audit.record(actor=actor, action="cases.routingrule.set", obj=rule, before=before,
                 after={"category_id": category.pk, "node_id": node.pk, "department_id": department.pk if department else None})
    return rule


@transaction.atomic
def routing_rule_delete(*, actor: Any, rule: RoutingRule) -> None:
    _require_catalogue(actor)
    scope.require(actor, Perm.MANAGE_CATALOGUE, rule.node.path)
    before = audit.snapshot(rule)
    audit.record(actor=actor, action="cases.routingrule.delete", obj=rule, before=before)
    rule.delete()
    caching.bump()


def _forget_workdays() -> None:
    workdays.forget_overrides()
    transaction.on_commit(workdays.forget_overrides)  # and again once visible to other requests


@transaction.atomic
def holiday_set(*, actor: Any, day: Any, is_workday: bool, name: str = "") -> Any:
    """Declare a date a holiday or a make-up workday (调休), overriding the chinese-calendar package."""
    from jiedao.core.models import WorkdayOverride

    _require_catalogue(actor)
    if day is None:
        raise DomainError(_("请选择日期。"), field="date")
    name = clean_text(name, field="name", label=gettext_lazy("名称"), max_length=32)
    existing = WorkdayOverride.objects.select_for_update().filter(date=day).first()
    before = audit.snapshot(existing, ["is_workday", "name"]) if existing else None
    if existing:
        existing.is_workday, existing.name = bool(is_workday), name
        existing.save()
        override = existing
    else:
        override = WorkdayOverride.objects.create(date=day, is_workday=bool(is_workday), name=name)
    audit.record(actor=actor, action="core.workdayoverride.set", obj=override, before=before,
                 after=audit.snapshot(override, ["date", "is_workday", "name"]))
    _forget_workdays()
    return override


@transaction.atomic
def holiday_delete(*, actor: Any, override: Any) -> None:
    _require_catalogue(actor)
    audit.record(actor=actor, action="core.workdayoverride.delete", obj=override,
                 before=audit.snapshot(override, ["date", "is_workday", "name"]))
    override.delete()
    _forget_workdays()


RULE_NODE_KINDS = frozenset({NodeKind.SUBDISTRICT, NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID,
                             NodeKind.MICROGRID})
