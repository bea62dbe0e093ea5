"""Every write to cases: intake, the one guarded transition function, routing and deadlines,
and the rollup counters that keep statistics current."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from jiedao.cases.models import (
    Case,
    CaseStat,
    CaseTransition,
    Category,
    Level,
    LimitUnit,
    Rating,
    RoutingRule,
    Source,
    State,
    Tier,
    Urgency,
)
from jiedao.cases.workflow import Action, Actor, find
from jiedao.core import audit, crypto, scope, workdays
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.permissions import Perm, Role
from jiedao.core.validators import validate_phone
from jiedao.org.models import Department, NodeKind, OrgNode

CASE_NODE_KINDS = frozenset({NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID, NodeKind.MICROGRID, NodeKind.BUILDING})
_TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
ACK_IN_TIME = timedelta(hours=2)


def new_ticket(now: datetime) -> str:
    return f"{timezone.localtime(now):%Y%m%d}-" + "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(8))


def _text(value: Any, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise DomainError(f"请填写{label}。", field=field)
    if len(text) > max_length:
        raise DomainError(f"{label}不能超过 {max_length} 个字。", field=field)
    return text


# --- routing and deadlines --------------------------------------------------------------------


def route(category: Category | None, node: OrgNode) -> Department | None:
    """The department that handles `category` at `node`: the rule on the deepest ancestor wins.
    None means the community (or village) handles it itself."""
    if category is None:
        return None
    prefixes = [node.path[:i] for i in range(4, len(node.path) + 1, 4)]
    rule = (
        RoutingRule.objects.filter(category=category, node__path__in=prefixes)
        .select_related("department", "node")
        .order_by("-node__depth")
        .first()
    )
    return rule.department if rule else None


def deadline_for(category: Category | None, start: datetime, urgency: str = Urgency.NORMAL) -> datetime:
    """Start + the category's time limit in Chinese working days/hours (urgent cases: half)."""
    amount = Decimal(category.time_limit) if category else Decimal(5)
    unit = category.time_limit_unit if category else LimitUnit.WORKING_DAYS
    if urgency == Urgency.URGENT:
        amount = max(amount / 2, Decimal("0.5"))
    if unit == LimitUnit.HOURS:
        return start + timedelta(hours=float(amount))
    if unit == LimitUnit.WORKING_HOURS:
        return workdays.add_working_hours(start, float(amount), strict=False)
    whole = int(amount)
    moment = workdays.add_working_days(start, whole, strict=False)
    if amount != whole:
        moment = workdays.add_working_hours(moment, float(amount - whole) * 7, strict=False)
    return moment


# --- rollups ----------------------------------------------------------------------------------


def bump(case: Case, **counters: int) -> None:
    """Add to the case's rollup row (its creation month, grid — or community for cases filed on
    the community itself — and category), creating the row if needed."""
    month = timezone.localtime(case.created_at).date().replace(day=1)
    node_id = case.grid_id or case.community_id
    changes = {name: F(name) + amount for name, amount in counters.items()}
    updated = CaseStat.objects.filter(month=month, node_id=node_id, category_id=case.category_id).update(**changes)
    if updated:
        return
    try:
        with transaction.atomic():
            key_path = OrgNode.objects.values_list("path", flat=True).get(pk=node_id)
            CaseStat.objects.create(month=month, node_id=node_id, org_path=key_path, subdistrict_id=case.subdistrict_id,
                                    community_id=case.community_id,
                                    category_id=case.category_id, **counters)
    except IntegrityError:  # created by a concurrent transaction meanwhile
        CaseStat.objects.filter(month=month, node_id=node_id, category_id=case.category_id).update(**changes)


# --- intake -----------------------------------------------------------------------------------


@transaction.atomic
def case_create(
    *,
    actor: Any,
    source: str,
    node: OrgNode,
    title: str,
    description: str,
    category: Category | None = None,
    tier: str = "",
    urgency: str = Urgency.NORMAL,
    building: OrgNode | None = None,
    household: Any = None,
    resident: Any = None,
    latitude: Any = None,
    longitude: Any = None,
    address: str = "",
    anonymous: bool = False,
    reporter_name: str = "",
    reporter_phone: str = "",
) -> Case:
    """Register a case (state: reported). `actor` None means a resident's public submission."""
    if actor is not None:
        scope.require(actor, Perm.REPORT_CASES, node.path, view_perm=Perm.VIEW_ORG)
    if node.kind not in CASE_NODE_KINDS:
        raise DomainError("事项应登记在社区、村、网格、微网格或楼栋上。", field="node")
    if source not in Source.values:
        raise DomainError("请选择事项来源。", field="source")
    if tier and tier not in Tier.values:
        raise DomainError("分流应为大事、小事或私事。", field="tier")
    if urgency not in Urgency.values:
        raise DomainError("紧急程度应为一般或紧急。", field="urgency")
    if building is not None and (building.kind != NodeKind.BUILDING or not building.path.startswith(node.path)):
        raise DomainError("所选楼栋不在该网格内。", field="building")
    if category is not None and not category.is_active:
        raise DomainError("该类别已停用。", field="category")
    validate_phone(reporter_phone, field="reporter_phone")
    if latitude not in (None, "") and not (-90 <= float(latitude) <= 90):
        raise DomainError("纬度应在 -90 到 90 之间。", field="latitude")
    if longitude not in (None, "") and not (-180 <= float(longitude) <= 180):
        raise DomainError("经度应在 -180 到 180 之间。", field="longitude")
    now = timezone.now()
    place = building or node
    prefixes = [place.path[:i] for i in range(4, len(place.path) + 1, 4)]
    ancestors = dict(OrgNode.objects.filter(path__in=prefixes).values_list("kind", "id"))
    case = Case(
        ticket=new_ticket(now),
        community_id=ancestors.get(NodeKind.COMMUNITY) or ancestors.get(NodeKind.VILLAGE),
        grid_id=ancestors.get(NodeKind.GRID),
        source=source,
        category=category,
        tier=tier or (category.default_tier if category else ""),
        urgency=urgency,
        node=node,
        org_path=place.path,
        subdistrict_id=node.subdistrict_id,
        building=building,
        household=household,
        resident=resident,
        latitude=latitude or None,
        longitude=longitude or None,
        address=_text(address, field="address", label="地点", max_length=200),
        title=_text(title, field="title", label="标题", max_length=100, required=True),
        description=_text(description, field="description", label="描述", max_length=4000, required=True),
        anonymous=bool(anonymous),
        reporter_name="" if anonymous else _text(reporter_name, field="reporter_name", label="反映人", max_length=64),
        reporter_phone_enc="" if anonymous or not reporter_phone else crypto.encrypt(crypto.normalise(reporter_phone, "phone")),
        reporter_phone_masked="" if anonymous else crypto.mask(reporter_phone, "phone"),
        reported_by=actor,
        level=Level.COMMUNITY,
    )
    case.save()
    CaseTransition.objects.create(case=case, seq=0, action="report", from_state=State.REPORTED, to_state=State.REPORTED,
                                  actor=actor, actor_repr=_actor_name(actor), created_at=now)
    bump(case, reported=1)
    audit.record(actor=actor, action="cases.case.create", obj=case, after=audit.snapshot(case))
    return case


def _actor_name(actor: Any) -> str:
    if actor is None:
        return "居民"
    return actor.get_username()


# --- who is acting ----------------------------------------------------------------------------


def actor_kinds(user: Any, case: Case) -> set[str]:
    """How the user relates to this case (see jiedao.cases.workflow.Actor)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return {Actor.ADMIN, Actor.LEADER, Actor.COMMUNITY}
    kinds: set[str] = set()
    rows = user.__dict__.setdefault("_jiedao_scope_cache", {}).get("_roles")
    if rows is None:
        rows = list(user.assignments.values_list("role", "node__path", "department_id"))
        user.__dict__["_jiedao_scope_cache"]["_roles"] = rows
    for role, path, department_id in rows:
        covers = case.org_path.startswith(path)
        if role == Role.DEPARTMENT_HANDLER and department_id and department_id == case.handling_department_id:
            kinds.add(Actor.HANDLER)
        if not covers:
            continue
        if role in (Role.GRID_WORKER, Role.GRID_LEADER):
            kinds.add(Actor.GRID)
        elif role in (Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF):
            kinds.add(Actor.COMMUNITY)
            if case.handling_node_id and case.handling_department_id is None:
                kinds.add(Actor.HANDLER)  # 小事: the community handles it itself
        elif role == Role.LEADER:
            kinds.add(Actor.LEADER)
        elif role == Role.ADMIN:
            kinds.add(Actor.ADMIN)
    return kinds


# --- the one guarded transition function ------------------------------------------------------


def case_act(
    *, actor: Any, case: Case, action: str, reason: str = "", ticket: str | None = None, **params: Any
) -> Case:
    """Apply `action` to `case` if the transition table allows it for this actor.

    `actor` None with the case's `ticket` is the resident (follow-up rating only). The update is
    a compare-and-set on (state, version): a concurrent transition makes this one fail with a
    ConflictError and change nothing."""
    with transaction.atomic():
        current = Case.objects.select_related("category", "node").get(pk=case.pk)
        if actor is None:
            kinds = {Actor.RESIDENT} if ticket and secrets.compare_digest(ticket, current.ticket) else set()
            if not kinds:
                raise Http404("未找到该事项。")
        else:
            if not scope.restrict(Case.objects.filter(pk=current.pk), actor, Perm.VIEW_CASES).exists():
                raise Http404("未找到该事项。")
            kinds = actor_kinds(actor, current)
        if action not in Action.values:
            raise DomainError(f"未知的操作“{action}”。", field="action")
        label = Action(action).label
        transition = find(action, current.state)
        if transition is None:
            raise DomainError(f"“{State(current.state).label}”状态的事项不能{label}。", field="action")
        if not transition.actors & kinds:
            raise PermissionError_(f"您不能对该事项执行“{label}”。")
        reason = _text(reason, field="reason", label="说明", max_length=2000)
        if transition.needs_reason and not reason:
            raise DomainError(f"请填写{label}的说明。", field="reason")
        now = timezone.now()
        effect = EFFECTS.get(action)
        changes, target, counters, data = effect(current, now, reason, params) if effect else ({}, None, {}, {})
        target = target or transition.target or current.state
        updated = Case.objects.filter(pk=current.pk, state=current.state, version=current.version).update(
            state=target, version=F("version") + 1, updated_at=now, **changes
        )
        if not updated:
            raise ConflictError("该事项刚被他人处理，请刷新后重试。", field="action")
        CaseTransition.objects.create(
            case=current, seq=current.version + 1, action=action, from_state=current.state, to_state=target,
            actor=actor, actor_repr=_actor_name(actor), reason=reason, data=data, created_at=now,
        )
        fresh = Case.objects.get(pk=current.pk)
        if counters:
            bump(fresh, **counters)
        fields = [Case._meta.get_field(k).attname for k in changes]
        audit.record(
            actor=actor, action=f"cases.case.{action}", obj=fresh, reason=reason,
            before={"state": current.state, **audit.snapshot(current, fields)},
            after={"state": target, **audit.snapshot(fresh, fields)},
        )
    return fresh


# Effects: (case, now, reason, params) -> (field changes, target override, rollup counters, data)


def _accept(case, now, reason, params):
    changes, data = {}, {}
    if params.get("tier"):
        changes.update(_tier_change(params["tier"]))
    if params.get("category") is not None:
        changes["category"] = params["category"]
    return changes, None, {"accepted": 1}, data


def _tier_change(tier: str) -> dict:
    if tier not in Tier.values:
        raise DomainError("分流应为大事、小事或私事。", field="tier")
    return {"tier": tier}


def _tier(case, now, reason, params):
    tier = params.get("tier") or ""
    changes = _tier_change(tier)
    if params.get("category") is not None:
        changes["category"] = params["category"]
    return changes, None, {}, {"tier": tier}


def _dispatch(case, now, reason, params):
    if not case.tier:
        raise DomainError("请先分流（大事、小事或私事）再派遣。", field="tier")
    if case.tier == Tier.PRIVATE:
        raise DomainError("私事不派遣：请给出引导意见后直接办结。", field="tier")
    department = params.get("department")
    if case.tier == Tier.PUBLIC:
        department = department or route(case.category, case.node)
        if department is None:
            raise DomainError("大事需选择承办部门。", field="department")
        if department.subdistrict_id != case.subdistrict_id or not department.is_active:
            raise DomainError("承办部门不属于该街道或已停用。", field="department")
        handling = {"handling_department": department, "handling_node": None, "level": max(case.level, Level.DEPARTMENT)}
    else:
        handling = {"handling_department": None, "handling_node_id": case.community_id, "level": case.level}
    deadline = deadline_for(case.category, now, case.urgency)
    changes = {**handling, "dispatched_at": now, "deadline_at": deadline, "acknowledged_at": None}
    data = {"department": department.name if department else "", "deadline": deadline.isoformat()}
    return changes, None, {"dispatched": 1}, data


def _acknowledge(case, now, reason, params):
    in_time = case.dispatched_at is not None and now - case.dispatched_at <= ACK_IN_TIME
    return {"acknowledged_at": now}, None, ({"acknowledged_in_time": 1} if in_time else {}), {}


def _clear_handling(case):
    return {"handling_department": None, "handling_node": None, "deadline_at": None, "acknowledged_at": None}


def _return(case, now, reason, params):
    return {**_clear_handling(case), "return_count": F("return_count") + 1}, None, {"returned": 1}, {}


def _escalate(case, now, reason, params):
    if case.level >= Level.DISTRICT:
        raise DomainError("已上报至区级，不能再上报。", field="action")
    level = case.level + 1
    changes = {**_clear_handling(case), "level": level, "escalation_count": F("escalation_count") + 1}
    if level >= Level.JOINT_MEETING:
        changes["difficult"] = True  # goes on the monthly deliberation agenda
    return changes, None, {}, {"level": level}


def _supervise(case, now, reason, params):
    return {"supervise_count": F("supervise_count") + 1}, None, {}, {}


def _resolve(case, now, reason, params):
    counters = {"resolved": 1, f"resolved_level{case.level}": 1}
    if case.deadline_at is None or now <= case.deadline_at:
        counters["resolved_on_time"] = 1
    changes = {"result": reason, "resolved_at": now, "resolved_level": case.level}
    if case.tier == Tier.PRIVATE:
        changes["guidance"] = reason
    return changes, None, counters, {}


def _verify_fail(case, now, reason, params):
    return {"rework_count": F("rework_count") + 1, "resolved_at": None}, None, {"reworked": 1}, {}


def _follow_up(case, now, reason, params):
    rating = params.get("rating") or ""
    if rating not in Rating.values:
        raise DomainError("请选择满意、基本满意或不满意。", field="rating")
    comment = _text(params.get("comment"), field="comment", label="评价意见", max_length=500)
    counters = {"rated": 1, rating: 1} if not case.rating else {}
    changes = {"rating": rating, "rating_comment": comment, "rated_at": now}
    if rating == Rating.UNSATISFIED:
        changes.update({"reopen_count": F("reopen_count") + 1, "resolved_at": None})
        counters["reopened"] = 1
        return changes, State.IN_PROGRESS, counters, {"rating": rating}
    return changes, None, counters, {"rating": rating}


def _close(case, now, reason, params):
    return {"closed_at": now}, None, {"closed": 1}, {}


def _reopen(case, now, reason, params):
    return {**_clear_handling(case), "closed_at": None, "reopen_count": F("reopen_count") + 1}, None, {"reopened": 1}, {}


def _merge(case, now, reason, params):
    into = params.get("into")
    if into is None or into.pk == case.pk:
        raise DomainError("请选择要并入的另一件事项。", field="into")
    if into.state in (State.CLOSED, State.REJECTED) or into.merged_into_id:
        raise DomainError("不能并入已结案或已合并的事项。", field="into")
    return {"merged_into": into, "closed_at": now}, None, {}, {"into": into.ticket}


EFFECTS = {
    Action.ACCEPT: _accept,
    Action.REJECT: lambda c, n, r, p: ({"closed_at": n}, None, {"rejected": 1}, {}),
    Action.TIER: _tier,
    Action.DISPATCH: _dispatch,
    Action.ACKNOWLEDGE: _acknowledge,
    Action.RETURN: _return,
    Action.ESCALATE: _escalate,
    Action.SUPERVISE: _supervise,
    Action.RESOLVE: _resolve,
    Action.VERIFY_FAIL: _verify_fail,
    Action.FOLLOW_UP: _follow_up,
    Action.CLOSE: _close,
    Action.REOPEN: _reopen,
    Action.MERGE: _merge,
}
