"""Every write to cases: intake, the one guarded transition function, routing and deadlines,
and the rollup counters that keep statistics current."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.cases import reading
from jiedao.cases.catalogue.selectors import route
from jiedao.cases.catalogue.sla import deadline_for
from jiedao.cases.models import (
    Case,
    CaseTransition,
    Category,
    Level,
    Rating,
    Source,
    State,
    Tier,
    Urgency,
)
from jiedao.cases.statistics.rollups import record_change, stat_deltas
from jiedao.cases.workflow import TABLE, Action, Actor
from jiedao.core import audit, scope, sealed
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.fastpath import insert_with_children, write_lock
from jiedao.core.permissions import Perm, Role
from jiedao.core.validators import choice_values, clean_text, validate_phone
from jiedao.core.workflow import Effect, Machine, Step
from jiedao.org.models import NodeKind, OrgNode

CASE_NODE_KINDS = frozenset({NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID, NodeKind.MICROGRID, NodeKind.BUILDING})
_TICKET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_ticket(now: datetime) -> str:
    return f"{timezone.localtime(now):%Y%m%d}-" + "".join(secrets.choice(_TICKET_ALPHABET) for _ in range(8))




# --- routing and deadlines --------------------------------------------------------------------


# --- rollups ----------------------------------------------------------------------------------


# --- intake -----------------------------------------------------------------------------------


TITLE_FROM_DESCRIPTION = 30  # characters of the description a missing title is made of


def default_title(description: str) -> str:
    """The title of a case filed without one: the description's first 30 characters."""
    words = " ".join((description or "").split())
    return words[:TITLE_FROM_DESCRIPTION] + ("…" if len(words) > TITLE_FROM_DESCRIPTION else "")


def case_create(
    *,
    actor: Any,
    source: str,
    description: str,
    node: OrgNode | None = None,
    title: str = "",
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

    The one intake, for the staff pages, the REST API, Open311 and the public form, in four steps:
    check the fields (`_intake_fields`; a missing title is the description's first 30 characters),
    place the case (`_intake_place`: a building decides where the case hangs), file it under a
    category (`_intake_category`: with none given, a confident suggestion of the installed reader,
    jiedao.cases.reading), then insert the case, its first transition, the rollup delta and the
    suggestion record in one short write (`_intake_insert`). The routing rules name the department
    a dispatch will default to, recorded on the first transition ("route"); the deadline is not set
    here: the clock starts at dispatch.

    The returned case carries its related objects (node, category, community, grid, building,
    reporter) and `intake_transition`, so a response can be built without reading it back."""
    node = _intake_place(actor, node=node, building=building, household=household)
    fields = _intake_fields(source=source, title=title, description=description, tier=tier, urgency=urgency,
                            latitude=latitude, longitude=longitude, address=address, anonymous=anonymous,
                            reporter_name=reporter_name, reporter_phone=reporter_phone)
    if category is not None and not category.is_active:
        raise DomainError(_("该类别已停用。"), field="category")
    data: dict[str, Any] = {}
    category, suggestion = _intake_category(category, fields, data, suggest=suggest)
    return _intake_insert(actor, node=node, building=building, category=category, suggestion=suggestion,
                          data=data, household=household, resident=resident, **fields)


def _intake_fields(*, source: str, title: str, description: str, tier: str, urgency: str, latitude: Any,
                   longitude: Any, address: str, anonymous: bool, reporter_name: str,
                   reporter_phone: str) -> dict[str, Any]:
    """The case's own fields, checked and normalised (refusals name the field)."""
    if source not in choice_values(Source):
        raise DomainError(_("请选择事项来源。"), field="source")
    if tier and tier not in choice_values(Tier):
        raise DomainError(_("分流应为大事、小事或私事。"), field="tier")
    if urgency not in choice_values(Urgency):
        raise DomainError(_("紧急程度应为一般或紧急。"), field="urgency")
    validate_phone(reporter_phone, field="reporter_phone")
    if latitude not in (None, "") and not (-90 <= float(latitude) <= 90):
        raise DomainError(_("纬度应在 -90 到 90 之间。"), field="latitude")
    if longitude not in (None, "") and not (-180 <= float(longitude) <= 180):
        raise DomainError(_("经度应在 -180 到 180 之间。"), field="longitude")
    description = clean_text(description, field="description", label=gettext_lazy("描述"), max_length=4000, required=True)
    title = clean_text(title, field="title", label=gettext_lazy("标题"), max_length=100) or default_title(description)
    anonymous = bool(anonymous)
    return {
        "source": source, "title": title, "description": description, "tier": tier, "urgency": urgency,
        "latitude": latitude or None, "longitude": longitude or None,
        "address": clean_text(address, field="address", label=gettext_lazy("地点"), max_length=200),
        "anonymous": anonymous,
        "reporter_name": "" if anonymous else clean_text(reporter_name, field="reporter_name", label=gettext_lazy("反映人"),
                                                         max_length=64),
        "reporter_phone": "" if anonymous else reporter_phone,
    }


def _intake_place(actor: Any, *, node: OrgNode | None, building: OrgNode | None, household: Any) -> OrgNode:
    """The node the case hangs on. A building decides: with no node given the case hangs on the
    building's parent (its microgrid or grid); a node given with a building must contain it. Then
    the actor must hold REPORT_CASES there (outside their view: 404)."""
    if building is not None:
        if node is None and building.kind == NodeKind.BUILDING:
            node = building.parent
        if building.kind != NodeKind.BUILDING or node is None or not building.path.startswith(node.path):
            raise DomainError(_("所选楼栋不在该网格内。"), field="building")
    if node is None:
        raise DomainError(_("请选择所在网格或楼栋。"), field="node")
    if household is not None and (building is None or household.node_id != building.pk):
        raise DomainError(_("该户不在所选楼栋。"), field="household")
    if actor is not None:
        scope.require(actor, Perm.REPORT_CASES, node.path, view_perm=Perm.VIEW_ORG)
    if node.kind not in CASE_NODE_KINDS:
        raise DomainError(_("事项应登记在社区、村、网格、微网格或楼栋上。"), field="node")
    return node


def _intake_category(category: Category | None, fields: dict[str, Any], data: dict[str, Any], *,
                     suggest: bool) -> tuple[Category | None, Any]:
    """The category the case is filed under, and the reader's suggestion when one was asked for.

    With no category given, the classifier files the case under its suggestion when it is
    confident (noted in `data["suggested"]`), and what it suggested is kept to measure how often
    staff override it. A case filed with a category does not wait for the classifier: what it
    would have suggested is recorded by a batch job (insight's suggestion_backfill)."""
    if category is not None or not suggest:
        return category, None
    suggestion = reading.reader().suggestion_for_case(title=fields["title"], description=fields["description"])
    if suggestion is not None and suggestion.items and not suggestion.low_confidence \
            and suggestion.confidence >= reading.LOW_CONFIDENCE:
        category = suggestion.top
        data["suggested"] = {"category": category.code, "confidence": round(suggestion.confidence, 2)}
    return category, suggestion


def _intake_insert(actor: Any, *, node: OrgNode, building: OrgNode | None, category: Category | None,
                   suggestion: Any, data: dict[str, Any], household: Any, resident: Any, source: str, title: str,
                   description: str, tier: str, urgency: str, latitude: Any, longitude: Any, address: str,
                   anonymous: bool, reporter_name: str, reporter_phone: str) -> Case:
    """Insert the case with its first transition, rollup delta and suggestion record."""
    from jiedao.org.selectors import ancestor_ids, node_cached

    now = timezone.now()
    place = building or node
    department = route(category, place)
    if department is not None:
        data["route"] = department.name
    ancestors = ancestor_ids(place.path)  # derived from the path's prefixes, cached per process
    community_id = ancestors.get(NodeKind.COMMUNITY) or ancestors.get(NodeKind.VILLAGE)
    grid_id = ancestors.get(NodeKind.GRID)
    case = Case(
        ticket=new_ticket(now), community_id=community_id, grid_id=grid_id, source=source,
        category=category, filed_category=category, tier=tier or (category.default_tier if category else ""),
        urgency=urgency, node=node, org_path=place.path, subdistrict_id=node.subdistrict_id, building=building,
        household=household, resident=resident, latitude=latitude, longitude=longitude, address=address,
        title=title, description=description, anonymous=anonymous, reporter_name=reporter_name,
        **sealed.seal("phone", reporter_phone, indexed=False).fields("reporter_phone"),
        reported_by=actor, level=Level.COMMUNITY,
    )
    transition = CaseTransition(seq=0, action="report", from_state=State.REPORTED, to_state=State.REPORTED,
                                actor=actor, actor_repr=_actor_name(actor), data=data, created_at=now)
    # Everything above only reads (mostly from per-process caches); the write transaction
    # (SQLite's write lock, PostgreSQL's row lock on an audit chain head) lasts only for these
    # statements. On SQLite, writers queue on a lock instead of SQLite's busy handler.
    case.created_at = case.updated_at = now
    children: list[tuple[Any, str | None]] = [(transition, "case_id"), *((row, None) for row in stat_deltas(None, case))]
    suggestion_row = reading.reader().suggestion_row(case=case, suggestion=suggestion, auto_filled="suggested" in data)
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
                raise Http404(_("未找到该事项。"))
        else:
            if not scope.restrict(Case.objects.filter(pk=current.pk), actor, Perm.VIEW_CASES).exists():
                raise Http404(_("未找到该事项。"))
            kinds = actor_kinds(actor, current)
        return CASE_MACHINE.act(current, actor=actor, kinds=kinds, action=action, reason=reason, params=params)


# Effects: (case, now, reason, params) -> Effect(field changes, target override, history data).
# The rollups follow from the row before and after the step (_add_to_rollups); the history data
# records what a count from the history alone needs (the deadline set, the category changed to,
# the level resolved at, the follow-up's answers).


def _accept(case, now, reason, params):
    changes = {} if case.accepted_at else {"accepted_at": now}
    if params.get("tier"):
        changes.update(_tier_change(params["tier"]))
    if params.get("category") is not None:
        changes["category"] = params["category"]
    return Effect(changes, data=_category_data(params))


def _category_data(params) -> dict:
    category = params.get("category")
    return {"category": category.pk} if category is not None else {}


def _tier_change(tier: str) -> dict:
    if tier not in choice_values(Tier):
        raise DomainError(_("分流应为大事、小事或私事。"), field="tier")
    return {"tier": tier}


def _tier(case, now, reason, params):
    tier = params.get("tier") or ""
    changes = _tier_change(tier)
    if params.get("category") is not None:
        changes["category"] = params["category"]
    return Effect(changes, data={"tier": tier, **_category_data(params)})


def _dispatch(case, now, reason, params):
    if not case.tier:
        raise DomainError(_("请先分流（大事、小事或私事）再派遣。"), field="tier")
    if case.tier == Tier.PRIVATE:
        raise DomainError(_("私事不派遣：请给出引导意见后直接办结。"), field="tier")
    department = params.get("department")
    if case.tier == Tier.PUBLIC:
        department = department or route(case.category, case.node)
        if department is None:
            raise DomainError(_("大事需选择承办部门。"), field="department")
        if department.subdistrict_id != case.subdistrict_id or not department.is_active:
            raise DomainError(_("承办部门不属于该街道或已停用。"), field="department")
        handling = {"handling_department": department, "handling_node": None, "level": max(case.level, Level.DEPARTMENT)}
    else:
        handling = {"handling_department": None, "handling_node_id": case.community_id, "level": case.level}
    # A joint meeting's decision sets its own date (params["deadline"], a timezone-aware datetime).
    deadline = params.get("deadline") or deadline_for(case.category, now, case.urgency)
    changes = {**handling, "dispatched_at": now, "deadline_at": deadline, "acknowledged_at": None}
    data = {"department": department.name if department else "", "deadline": deadline.isoformat()}
    return Effect(changes, data=data)


def _acknowledge(case, now, reason, params):
    return Effect({"acknowledged_at": now})


def _clear_handling(case):
    return {"handling_department": None, "handling_node": None, "deadline_at": None, "acknowledged_at": None}


def _return(case, now, reason, params):
    return Effect({**_clear_handling(case), "return_count": F("return_count") + 1})


def _escalate(case, now, reason, params):
    if case.level >= Level.DISTRICT:
        raise DomainError(_("已上报至区级，不能再上报。"), field="action")
    level = case.level + 1
    changes = {**_clear_handling(case), "level": level, "escalation_count": F("escalation_count") + 1}
    if level >= Level.JOINT_MEETING:
        changes["difficult"] = True  # goes on the monthly deliberation agenda
    return Effect(changes, data={"level": level})


def _supervise(case, now, reason, params):
    return Effect({"supervise_count": F("supervise_count") + 1})


def _resolve(case, now, reason, params):
    # The resolution stands until a failed verification, a bad follow-up or a reopening clears
    # resolved_at: the case counts once in 办结, at this level, in the month it stands from.
    changes = {"result": reason, "resolved_at": now, "resolved_level": case.level}
    if case.tier == Tier.PRIVATE:
        changes["guidance"] = reason
    return Effect(changes, data={"level": case.level})


def _verify_fail(case, now, reason, params):
    return Effect({"rework_count": F("rework_count") + 1, "resolved_at": None})


def _yes_no(value: Any, *, field: str, question: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("1", "true", "yes", "是", 1):
        return True
    if value in ("0", "false", "no", "否", 0):
        return False
    raise DomainError(_("请回答“%(question)s”（是或否）。") % {"question": question}, field=field)


def _follow_up(case, now, reason, params):
    """回访: the resident's three answers, as 12345 records them — contacted in time? solved?
    how satisfied? The latest follow-up replaces the one before (only the latest counts).
    "Not solved" or "unsatisfied" sends the case back to be handled again (重办): its
    resolution no longer stands."""
    contacted = _yes_no(params.get("contacted"), field="contacted", question=gettext_lazy("是否及时联系了您"))
    solved = _yes_no(params.get("solved"), field="solved", question=gettext_lazy("问题是否已解决"))
    rating = params.get("rating") or ""
    if rating not in choice_values(Rating):
        raise DomainError(_("请选择满意、基本满意或不满意。"), field="rating")
    comment = clean_text(params.get("comment"), field="comment", label=gettext_lazy("评价意见"), max_length=500)
    changes = {"rating": rating, "rating_comment": comment, "rated_at": now, "contacted_in_time": contacted,
               "solved": solved}
    data = {"rating": rating, "contacted": contacted, "solved": solved}
    if rating == Rating.UNSATISFIED or not solved:
        changes.update({"reopen_count": F("reopen_count") + 1, "resolved_at": None})
        # Back to the unit that handled it; a case with none (a 私事 resolved on acceptance)
        # goes back to the accepted state, to be resolved or dispatched again.
        has_unit = case.handling_department_id is not None or case.handling_node_id is not None
        return Effect(changes, target=State.IN_PROGRESS if has_unit else State.ACCEPTED, data=data)
    return Effect(changes, data=data)


def _close(case, now, reason, params):
    return Effect({"closed_at": now})


def _reopen(case, now, reason, params):
    accepted = {} if case.accepted_at else {"accepted_at": now}  # a rejected case is accepted at its reopening
    # Reopened, the case is no longer resolved (its 办结 moves to the next resolution) nor merged.
    return Effect({**_clear_handling(case), **accepted, "closed_at": None, "resolved_at": None, "merged_into": None,
                   "reopen_count": F("reopen_count") + 1})


def _merge(case, now, reason, params):
    into = params.get("into")
    if into is None or into.pk == case.pk:
        raise DomainError(_("请选择要并入的另一件事项。"), field="into")
    if into.state in (State.CLOSED, State.REJECTED) or into.merged_into_id:
        raise DomainError(_("不能并入已结案或已合并的事项。"), field="into")
    return Effect({"merged_into": into, "closed_at": now}, data={"into": into.ticket})


EFFECTS = {
    Action.ACCEPT: _accept,
    Action.REJECT: lambda c, n, r, p: Effect({"closed_at": n}),
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


def _add_to_rollups(case: Case, step: Step) -> None:
    """The rollups move by the change of the case's figures (jiedao.cases.statistics.figures):
    a figure that left a month (or the old category) is taken back, the new one added."""
    record_change(step.before, case)


CASE_MACHINE = Machine(
    table=TABLE, model=Case, history_model=CaseTransition, history_fk="case",
    effects=EFFECTS, after=_add_to_rollups, actor_repr=_actor_name,
)


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
        raise DomainError(_("“%(name)s”超过 10 MB，请压缩后再上传。") % {"name": name}, field="upload")
    if size == 0:
        raise DomainError(_("“%(name)s”是空文件。") % {"name": name}, field="upload")
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
            raise DomainError(
                _("“%(name)s”的扩展名是图片，但内容不是 JPG、PNG 或 WEBP 图片，已拒绝上传。") % {"name": name}, field="upload"
            )
        raise DomainError(
            _("“%(name)s”的文件类型不受支持：只能上传 JPG、PNG、WEBP 图片，或 PDF、Word（.docx）、Excel（.xlsx）文件。")
            % {"name": name},
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
            raise Http404(_("未找到该事项。"))
        if current.state != State.REPORTED:
            raise PermissionError_(_("事项受理后，请联系社区补充材料。"))
    else:
        if not scope.restrict(Case.objects.filter(pk=current.pk), actor, Perm.VIEW_CASES).exists():
            raise Http404(_("未找到该事项。"))
        if not actor_kinds(actor, current):
            raise PermissionError_(_("您不能为该事项添加附件。"))
    if current.state in (State.CLOSED, State.REJECTED):
        raise DomainError(_("已结案或不予受理的事项不能再添加附件。"), field="upload")
    kind = sniff_upload(upload)
    if current.attachments.count() >= ATTACHMENTS_PER_CASE:
        raise DomainError(_("每件事项最多 %(limit)s 个附件，已达上限。") % {"limit": ATTACHMENTS_PER_CASE}, field="upload")
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

