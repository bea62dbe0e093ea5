"""Writes to the catalogue: categories, routing rules, the holiday table (and declaring a year's
table complete, which recomputes the estimated deadlines), and the 办件规则 (CasePolicy)."""

from __future__ import annotations

import copy
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.cases.catalogue import sla
from jiedao.cases.models import (
    Case,
    CasePolicy,
    Category,
    LimitUnit,
    RoutingRule,
    Tier,
)
from jiedao.cases.policy import policy_for
from jiedao.cases.statistics import rollups
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
    caching.bump()  # every process reloads the working-day table once this commits


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


# --- declaring a year's holiday table complete -----------------------------------------------------


@transaction.atomic
def workday_year_declare(*, actor: Any, year: Any) -> dict[str, int]:
    """Declare that the holiday table (WorkdayOverride rows) of a year the chinese-calendar package
    does not know is complete; then recompute the estimated deadlines of running cases that reach
    into that year. Refused for a year the package knows, a year already declared, and a year
    without a single holiday entered (元旦 and 春节 are always holidays)."""
    from jiedao.core.models import WorkdayOverride, WorkdayYear

    _require_catalogue(actor)
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise DomainError(_("年度应为数字，如 2027。"), field="year") from None
    if not 2000 <= year <= 2100:
        raise DomainError(_("年度应在 2000 到 2100 之间。"), field="year")
    if workdays.package_knows(year):
        raise DomainError(_("节假日组件已包含 %(year)s 年的安排，无需确认。") % {"year": year}, field="year")
    if WorkdayYear.objects.select_for_update().filter(year=year).exists():
        raise DomainError(_("%(year)s 年的节假日已确认录入完整。") % {"year": year}, field="year")
    rows = list(WorkdayOverride.objects.filter(date__year=year).values_list("is_workday", flat=True))
    holidays = rows.count(False)
    if not holidays:
        raise DomainError(_("%(year)s 年还没有录入任何放假日期：请先录入元旦、春节等法定节假日和调休上班日，再确认录入完整。")
                          % {"year": year}, field="year")
    declared = WorkdayYear.objects.create(year=year, declared_by=actor if getattr(actor, "pk", None) else None)
    caching.bump()  # the recomputation below, and every process after the commit, sees the year as known
    audit.record(actor=actor, action="core.workdayyear.declare", obj=declared,
                 after={"year": year, "holidays": holidays, "workdays": len(rows) - holidays})
    result = _recompute_estimated(actor=actor, year=year, declared=declared)
    return {"year": year, "holidays": holidays, "workdays": len(rows) - holidays, **result}


def _recompute_estimated(*, actor: Any, year: int, declared: Any) -> dict[str, int]:
    """New deadlines for the running cases whose estimated deadline reaches into `year`: from the
    dispatch time with the category's limit, as at dispatch; a deferred case keeps the approved
    date. One audit event per case changed (before/after), one for the batch; then the deadline
    watch runs so that sla_status follows the new deadlines."""
    tz = timezone.get_current_timezone()
    start, end = datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    cases = (Case.objects.select_for_update(of=("self",)).select_related("category")
             .filter(state__in=sla.RUNNING, deadline_estimated=True, deadline_at__gte=start, dispatched_at__lt=end)
             .order_by("id"))
    now = timezone.now()
    events, moved = [], 0
    for case in cases:
        if case.deferred_at is not None:  # 缓办: the date a leader approved stands
            deadline = workdays.Deadline(case.deadline_at, workdays.estimated_between(
                timezone.localdate(case.deferred_at), timezone.localdate(case.deadline_at)))
        else:
            deadline = sla.deadline_for(case.category, case.dispatched_at, case.urgency,
                                        subdistrict_id=case.subdistrict_id)
        before = {"deadline_at": timezone.localtime(case.deadline_at).isoformat(), "deadline_estimated": True}
        after = {"deadline_at": timezone.localtime(deadline.at).isoformat(), "deadline_estimated": deadline.estimated}
        # A deadline moves a case's 到期 month: the figures change like a transition's, and the
        # version moves so a concurrent case_act (compare-and-set) cannot act on the old row.
        Case.objects.filter(pk=case.pk).update(deadline_at=deadline.at, deadline_estimated=deadline.estimated,
                                               updated_at=now, version=F("version") + 1)
        changed = copy.copy(case)
        changed.deadline_at, changed.deadline_estimated = deadline.at, deadline.estimated
        rollups.record_change(case, changed)
        moved += deadline.at != case.deadline_at
        events.append(("cases.case.deadline_recompute", "cases.case", case.pk, str(case), before, after))
    reason = _("%(year)s 年节假日已确认录入完整，重算期限") % {"year": year}
    audit.record_many(actor=actor, events=events, reason=reason)
    audit.record(actor=actor, action="cases.deadline.recompute", obj=declared, reason=reason,
                 after={"year": year, "cases": len(events), "moved": moved})
    sla.sla_scan(now)
    return {"recomputed": len(events), "moved": moved}


# --- 办件规则 (CasePolicy) ---------------------------------------------------------------------------

_POLICY_WEIGHTS = {
    "weight_response": gettext_lazy("响应率权重"),
    "weight_resolution": gettext_lazy("解决率权重"),
    "weight_satisfaction": gettext_lazy("满意率权重"),
    "weight_basic": gettext_lazy("基本满意折算"),
}
_POLICY_TIMES = {
    "morning_start": gettext_lazy("上午上班时间"),
    "morning_end": gettext_lazy("上午下班时间"),
    "afternoon_start": gettext_lazy("下午上班时间"),
    "afternoon_end": gettext_lazy("下午下班时间"),
}
POLICY_FIELDS = (*_POLICY_WEIGHTS, *_POLICY_TIMES, "separate_verifier")
WEIGHT_TOLERANCE = Decimal("0.001")


def _weight(value: Any, name: str) -> Decimal:
    label = _POLICY_WEIGHTS[name]
    try:
        number = Decimal(str(value).strip()).quantize(Decimal("0.001"))
    except (InvalidOperation, ArithmeticError):
        raise DomainError(_("%(label)s应为 0 到 1 之间的数字。") % {"label": label}, field=name) from None
    if not Decimal(0) <= number <= Decimal(1):
        raise DomainError(_("%(label)s应在 0 到 1 之间。") % {"label": label}, field=name)
    return number


def _clock(value: Any, name: str) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    try:
        return time.fromisoformat(str(value).strip()).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        raise DomainError(_("%(label)s应为时间，如 08:30。") % {"label": _POLICY_TIMES[name]}, field=name) from None


def _check_policy(policy: CasePolicy) -> None:
    total = policy.weight_response + policy.weight_resolution + policy.weight_satisfaction
    if abs(total - 1) > WEIGHT_TOLERANCE:
        raise DomainError(_("响应率、解决率、满意率三项权重之和应为 1，现为 %(total)s。") % {"total": f"{total.normalize():f}"},
                          field="weight_satisfaction")
    if not policy.morning_start < policy.morning_end:
        raise DomainError(_("上午下班时间应晚于上午上班时间。"), field="morning_end")
    if not policy.morning_end <= policy.afternoon_start:
        raise DomainError(_("下午上班时间不能早于上午下班时间。"), field="afternoon_start")
    if not policy.afternoon_start < policy.afternoon_end:
        raise DomainError(_("下午下班时间应晚于下午上班时间。"), field="afternoon_end")


def _require_policy(actor: Any, subdistrict: OrgNode | None) -> None:
    if subdistrict is None:
        if not getattr(actor, "is_superuser", False):
            raise PermissionError_(_("只有超级管理员可以修改默认办件规则。"))
        return
    if subdistrict.kind != NodeKind.SUBDISTRICT:
        raise DomainError(_("办件规则按街道设置。"), field="subdistrict")
    scope.require(actor, Perm.MANAGE_CATALOGUE, subdistrict.path)


@transaction.atomic
def case_policy_update(*, actor: Any, subdistrict: OrgNode | None, **fields: Any) -> CasePolicy:
    """Change a sub-district's 办件规则 (None: the default row, superusers only). A sub-district
    without a row of its own gets one, starting from the rules it followed until now (the
    default). Weights: the three rates' weights sum to 1 (± 0.001), 基本满意折算 in [0, 1];
    office hours: morning_start < morning_end <= afternoon_start < afternoon_end."""
    _require_catalogue(actor)
    _require_policy(actor, subdistrict)
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))})
    rows = CasePolicy.objects.select_for_update()
    current = (rows.filter(subdistrict=subdistrict) if subdistrict else rows.filter(subdistrict__isnull=True)).first()
    if current is None:
        inherited = policy_for(None)
        current = CasePolicy(subdistrict=subdistrict, **{name: getattr(inherited, name) for name in POLICY_FIELDS})
    before = audit.snapshot(current, list(POLICY_FIELDS)) if current.pk else None
    for name, value in fields.items():
        if name in _POLICY_WEIGHTS:
            setattr(current, name, _weight(value, name))
        elif name in _POLICY_TIMES:
            setattr(current, name, _clock(value, name))
        else:
            current.separate_verifier = bool(value)
    _check_policy(current)
    current.save()
    caching.bump()
    after = audit.snapshot(current, list(POLICY_FIELDS))
    old, new = audit.changed(before, after) if before is not None else (None, after)
    if new:
        audit.record(actor=actor, action="cases.casepolicy.update", obj=current, before=old,
                     after={"subdistrict_id": subdistrict.pk if subdistrict else None, **new})
    return current

