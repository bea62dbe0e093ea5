"""Every write to cases: intake, the one guarded transition function, routing and deadlines,
and the rollup counters that keep statistics current."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from jiedao.cases.models import (
    Case,
    CaseStatDelta,
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
from jiedao.core import audit, caching, scope, sealed, workdays
from jiedao.core.bulk import insert_one, insert_with_children
from jiedao.core.dblock import write_lock
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.permissions import Perm, Role
from jiedao.core.validators import choice_values, validate_phone
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

    def load() -> tuple:
        rules = RoutingRule.objects.filter(category_id=category.pk).select_related("department", "node")
        return tuple(sorted(((rule.node.path, caching.row(rule.department) if rule.department_id else None)
                             for rule in rules), key=lambda pair: -len(pair[0])))

    # The category's rules are cached per process (editing them bumps the cache generation).
    for path, department in caching.get(("routes", category.pk), load):
        if node.path.startswith(path):
            return caching.instance(Department, department) if department else None
    return None


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
    """Count a change of the case in the rollups of its creation month, grid (or community, for
    cases filed on the community itself) and category.

    Appends one CaseStatDelta row — no shared row is updated, so concurrent intakes never queue
    on a counter; the fold job moves the deltas into the rollups (jiedao.cases.rollups)."""
    insert_one(stat_delta(case, **counters))


def stat_delta(case: Case, **counters: int) -> CaseStatDelta:
    """The (unsaved) rollup delta row `bump` appends."""
    return CaseStatDelta(
        month=timezone.localtime(case.created_at).date().replace(day=1),
        node_id=case.grid_id or case.community_id, org_path=case.org_path, community_id=case.community_id,
        subdistrict_id=case.subdistrict_id, category_id=case.category_id, **counters,
    )


# --- intake -----------------------------------------------------------------------------------


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
    suggest: bool = True,
) -> Case:
    """Register a case (state: reported). `actor` None means a resident's public submission.

    Intake also does the two things the catalogue decides at once: with no category given (and
    `suggest`), the category suggestion (jiedao.insight's active model) files it under
    the best match if that is confident enough, and the tier follows the category's default; and
    the routing rules name the department a dispatch will default to, recorded on the first
    transition ("route"). The deadline is not set here: the clock starts at dispatch.

    The returned case carries its related objects (node, category, community, grid, building,
    reporter) and `intake_transition`, so a response can be built without reading it back."""
    from jiedao.cases.selectors import LOW_CONFIDENCE
    from jiedao.insight import services as insight
    from jiedao.org.selectors import ancestor_ids, node_cached

    if actor is not None:
        scope.require(actor, Perm.REPORT_CASES, node.path, view_perm=Perm.VIEW_ORG)
    if node.kind not in CASE_NODE_KINDS:
        raise DomainError("事项应登记在社区、村、网格、微网格或楼栋上。", field="node")
    if source not in choice_values(Source):
        raise DomainError("请选择事项来源。", field="source")
    if tier and tier not in choice_values(Tier):
        raise DomainError("分流应为大事、小事或私事。", field="tier")
    if urgency not in choice_values(Urgency):
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
    title = _text(title, field="title", label="标题", max_length=100, required=True)
    description = _text(description, field="description", label="描述", max_length=4000, required=True)
    data: dict[str, Any] = {}
    # With no category given, the classifier (jiedao.insight) files the case under its suggestion
    # when it is confident, and what it suggested is kept to measure how often staff override it.
    # A case filed with a category does not wait for the classifier: what it would have suggested
    # is recorded by the suggestion_backfill job, in batches.
    suggestion = None
    if category is None and suggest:
        suggestion = insight.suggestion_for_case(title=title, description=description)
        if suggestion is not None and suggestion.items and not suggestion.low_confidence \
                and suggestion.confidence >= LOW_CONFIDENCE:
            category = suggestion.top
            data["suggested"] = {"category": category.code, "confidence": round(suggestion.confidence, 2)}
    now = timezone.now()
    place = building or node
    department = route(category, place)
    if department is not None:
        data["route"] = department.name
    ancestors = ancestor_ids(place.path)  # derived from the path's prefixes, cached per process
    community_id = ancestors.get(NodeKind.COMMUNITY) or ancestors.get(NodeKind.VILLAGE)
    grid_id = ancestors.get(NodeKind.GRID)
    case = Case(
        ticket=new_ticket(now),
        community_id=community_id,
        grid_id=grid_id,
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
        title=title,
        description=description,
        anonymous=bool(anonymous),
        reporter_name="" if anonymous else _text(reporter_name, field="reporter_name", label="反映人", max_length=64),
        **sealed.seal("phone", "" if anonymous else reporter_phone, indexed=False).fields("reporter_phone"),
        reported_by=actor,
        level=Level.COMMUNITY,
    )
    transition = CaseTransition(seq=0, action="report", from_state=State.REPORTED, to_state=State.REPORTED,
                                actor=actor, actor_repr=_actor_name(actor), data=data, created_at=now)
    # Everything above only reads (mostly from per-process caches); the write transaction
    # (SQLite's write lock, PostgreSQL's row lock on an audit chain head) lasts only for these
    # statements. On SQLite, writers queue on a lock instead of SQLite's busy handler.
    case.created_at = case.updated_at = now
    children: list[tuple[Any, str | None]] = [(transition, "case_id"), (stat_delta(case, reported=1), None)]
    suggestion_row = insight.suggestion_row(case=case, suggestion=suggestion, auto_filled="suggested" in data)
    if suggestion_row is not None:
        children.append((suggestion_row, "case_id"))
    with write_lock(), transaction.atomic():
        insert_with_children(case, children)  # one round trip on PostgreSQL
        audit.record(actor=actor, action="cases.case.create", obj=case, after=audit.snapshot(case))
    case.community = node_cached(community_id)
    case.grid = node_cached(grid_id)
    case.intake_transition = transition
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
    for role, path, _active, department_id in scope.role_rows(user):
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
        if action not in choice_values(Action):
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
    if tier not in choice_values(Tier):
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
    if rating not in choice_values(Rating):
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


# --- attachments (photos and files on a case) -------------------------------------------------

from jiedao.cases.models import CaseAttachment  # noqa: E402  (appended section)

ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_PER_CASE = 9
_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".heic", ".bmp")
# kind -> (content type, stored extension, is a photo)
ATTACHMENT_KINDS = {
    "jpeg": ("image/jpeg", ".jpg", True),
    "png": ("image/png", ".png", True),
    "webp": ("image/webp", ".webp", True),
    "pdf": ("application/pdf", ".pdf", False),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", False),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", False),
}


def _upload_name(upload: Any) -> str:
    import os.path

    name = os.path.basename(str(getattr(upload, "name", "") or "").replace("\\", "/")).strip()
    return name[:200] or "附件"


def sniff_upload(upload: Any) -> str:
    """The kind of an uploaded file (a key of ATTACHMENT_KINDS), judged by its content (magic
    bytes; a docx or xlsx is a zip holding word/document.xml or xl/workbook.xml), never by its
    name. Too large, empty or any other content raises DomainError naming the file."""
    import zipfile

    name = _upload_name(upload)
    size = getattr(upload, "size", None) or 0
    if size > ATTACHMENT_MAX_BYTES:
        raise DomainError(f"“{name}”超过 10 MB，请压缩后再上传。", field="upload")
    if size == 0:
        raise DomainError(f"“{name}”是空文件。", field="upload")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    kind = ""
    if head.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind = "webp"
    elif head.startswith(b"%PDF-"):
        kind = "pdf"
    elif head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(upload) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            names = set()
        upload.seek(0)
        kind = "docx" if "word/document.xml" in names else "xlsx" if "xl/workbook.xml" in names else ""
    if not kind:
        if name.lower().endswith(_IMAGE_EXTENSIONS):
            raise DomainError(f"“{name}”的扩展名是图片，但内容不是 JPG、PNG 或 WEBP 图片，已拒绝上传。", field="upload")
        raise DomainError(
            f"“{name}”的文件类型不受支持：只能上传 JPG、PNG、WEBP 图片，或 PDF、Word（.docx）、Excel（.xlsx）文件。",
            field="upload",
        )
    return kind


@transaction.atomic
def case_attach(*, actor: Any, case: Case, upload: Any, ticket: str | None = None) -> CaseAttachment:
    """Attach a photo or file to a case (at most 9 per case, 10 MB each, type judged by content).

    Staff must see the case and relate to it (jiedao.cases.services.actor_kinds); a resident
    (`actor` None) attaches only with the case's ticket while it still awaits acceptance."""
    from django.core.files import File

    current = Case.objects.select_for_update().get(pk=case.pk)
    if actor is None:
        if not ticket or not secrets.compare_digest(ticket, current.ticket):
            raise Http404("未找到该事项。")
        if current.state != State.REPORTED:
            raise PermissionError_("事项受理后，请联系社区补充材料。")
    else:
        if not scope.restrict(Case.objects.filter(pk=current.pk), actor, Perm.VIEW_CASES).exists():
            raise Http404("未找到该事项。")
        if not actor_kinds(actor, current):
            raise PermissionError_("您不能为该事项添加附件。")
    if current.state in (State.CLOSED, State.REJECTED):
        raise DomainError("已结案或不予受理的事项不能再添加附件。", field="upload")
    kind = sniff_upload(upload)
    if current.attachments.count() >= ATTACHMENTS_PER_CASE:
        raise DomainError(f"每件事项最多 {ATTACHMENTS_PER_CASE} 个附件，已达上限。", field="upload")
    content_type, extension, is_photo = ATTACHMENT_KINDS[kind]
    attachment = CaseAttachment(
        case=current, original_name=_upload_name(upload), content_type=content_type, size=upload.size,
        is_photo=is_photo, uploaded_by=actor,
    )
    # Stored under a random name with the extension of what the content really is.
    attachment.file.save(f"{secrets.token_hex(12)}{extension}", File(upload), save=False)
    attachment.save()
    audit.record(
        actor=actor, action="cases.case.attach", obj=current,
        after={"attachment": attachment.pk, "name": attachment.original_name, "content_type": content_type,
               "size": attachment.size},
    )
    return attachment


# --- catalogue administration -------------------------------------------------------------------

RULE_NODE_KINDS = frozenset({NodeKind.SUBDISTRICT, NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID,
                             NodeKind.MICROGRID})
_CATEGORY_FIELDS = ("name", "default_tier", "time_limit", "time_limit_unit", "accept_conditions",
                    "close_conditions", "keywords", "sort_order", "is_active")


def _require_catalogue(actor: Any) -> None:
    if not scope.has_perm_anywhere(actor, Perm.MANAGE_CATALOGUE):
        raise PermissionError_("您没有维护事项目录的权限。")


@transaction.atomic
def category_update(*, actor: Any, category: Category, **fields: Any) -> Category:
    """Change a category's name, default tier, time limit, conditions, keywords or status."""
    import re

    _require_catalogue(actor)
    unknown = set(fields) - set(_CATEGORY_FIELDS)
    if unknown:
        raise DomainError(f"不能修改字段：{'、'.join(sorted(unknown))}。")
    current = Category.objects.select_for_update().get(pk=category.pk)
    before = audit.snapshot(current, list(_CATEGORY_FIELDS))
    if "name" in fields:
        current.name = _text(fields["name"], field="name", label="名称", max_length=64, required=True)
    if "default_tier" in fields:
        if fields["default_tier"] not in choice_values(Tier):
            raise DomainError("默认分流应为大事、小事或私事。", field="default_tier")
        current.default_tier = fields["default_tier"]
    if "time_limit_unit" in fields:
        if fields["time_limit_unit"] not in choice_values(LimitUnit):
            raise DomainError("时限单位应为工作日、工作小时或自然小时。", field="time_limit_unit")
        current.time_limit_unit = fields["time_limit_unit"]
    if "time_limit" in fields:
        try:
            limit = Decimal(str(fields["time_limit"])).quantize(Decimal("0.1"))
        except ArithmeticError:
            raise DomainError("办理时限应为数字。", field="time_limit") from None
        if not Decimal("0.5") <= limit <= Decimal("365"):
            raise DomainError("办理时限应在 0.5 到 365 之间。", field="time_limit")
        current.time_limit = limit
    for name, label in (("accept_conditions", "受理条件"), ("close_conditions", "结案条件")):
        if name in fields:
            setattr(current, name, _text(fields[name], field=name, label=label, max_length=300))
    if "keywords" in fields:
        words = [w for w in re.split(r"[\s,，、;；]+", str(fields["keywords"] or "")) if w]
        keywords = " ".join(dict.fromkeys(words))
        current.keywords = _text(keywords, field="keywords", label="关键词", max_length=300)
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
        raise DomainError("派遣规则应设在街道、社区、村、网格或微网格上。", field="node")
    if department is not None:
        subdistrict_id = node.pk if node.kind == NodeKind.SUBDISTRICT else node.subdistrict_id
        if department.subdistrict_id != subdistrict_id or not department.is_active:
            raise DomainError("承办部门须是该节点所属街道的在用部门。", field="department")
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
        raise DomainError("请选择日期。", field="date")
    name = _text(name, field="name", label="名称", max_length=32)
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
