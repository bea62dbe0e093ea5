"""Every write to cases: intake, the one guarded transition function, routing and deadlines,
and the rollup counters that keep statistics current."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time
from typing import Any

from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.cases import reading, search, selectors
from jiedao.cases.catalogue.selectors import route
from jiedao.cases.catalogue.sla import deadline_for
from jiedao.cases.models import (
    DESCRIPTION_MAX,
    Case,
    CaseText,
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
from jiedao.core import audit, crypto, scope, sealed
from jiedao.core import text as boundary
from jiedao.core.errors import DomainError, PermissionError_, ThrottledError
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
    internal: bool = False,
) -> Case:
    """Register a case (state: reported). `actor` None means a resident's public submission.
    `internal` keeps the case out of every public read (a case another domain files for the
    staff only, such as a safety hazard escalated to joint enforcement).

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
                          data=data, household=household, resident=resident, internal=bool(internal), **fields)


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
    description = clean_text(description, field="description", label=gettext_lazy("描述"), max_length=DESCRIPTION_MAX, required=True)
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
                   anonymous: bool, reporter_name: str, reporter_phone: str, internal: bool = False) -> Case:
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
    ticket = new_ticket(now)
    phone_aad = sealed.column_of(Case, "reporter_phone").context(ticket)
    case = Case(
        ticket=ticket, community_id=community_id, grid_id=grid_id, source=source,
        category=category, filed_category=category, tier=tier or (category.default_tier if category else ""),
        urgency=urgency, node=node, org_path=place.path, subdistrict_id=node.subdistrict_id, building=building,
        household=household, resident=resident, latitude=latitude, longitude=longitude, address=address,
        title=title, description=description, anonymous=anonymous, reporter_name=reporter_name,
        **sealed.seal("phone", reporter_phone, aad=phone_aad).fields("reporter_phone", index_field="reporter_phone_index"),
        reported_by=actor, level=Level.COMMUNITY, internal=internal,
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
    # the full-text index row (jiedao.cases.search), in the same statement on PostgreSQL
    children.append((CaseText(terms=search.terms(title, description)), "case_id"))
    chain = audit.pick_chain()
    with write_lock(), transaction.atomic():
        # One round trip on PostgreSQL: the rows, and the audit chain head locked and read for
        # the event recorded next (audit.record would otherwise lock it with a statement of its own).
        last_seq, last_hash = insert_with_children(case, children,
                                                   also=(*audit.head_lock_sql(chain), ("last_seq", "last_hash")))
        audit.record(actor=actor, action="cases.case.create", obj=case, after=audit.snapshot(case),
                     head=(chain, last_seq, last_hash))
    case.community = node_cached(community_id)
    case.grid = node_cached(grid_id)
    case.intake_transition = transition
    return case


def _actor_name(actor: Any) -> str:
    if actor is None:
        return "居民"
    return actor.get_username()


# --- the reporter's phone: revealed for 回访, a repeat caller's earlier cases ------------------------

REVEAL_REASON_MAX = 200
# Lookups of a typed number (case_reporter_lookup), per user: `user` = (lookups, seconds); `mask` =
# (different numbers, seconds) that share one mask (138******78). A mask leaves 1,000,000 candidates
# (DESIGN.md §5); the second limit keeps the lookup from testing them one by one. Overridden by
# settings.JIEDAO_PHONE_LOOKUP_LIMITS. Counted in the cache (shared with Redis, per process otherwise).
PHONE_LOOKUP_LIMITS = {"user": (60, 3600), "mask": (5, 86400)}


@transaction.atomic
def case_reveal_phone(*, actor: Any, case: Case, reason: str) -> str:
    """The reporter's phone of a case in clear, for 回访 (calling the reporter back): the actor must
    see the case (404 otherwise) and hold REVEAL_REPORTER at its place (403), and give a reason of
    at most 200 characters; audited with the reason. Refused for an anonymous case or one filed
    without a phone."""
    if not scope.restrict(Case.objects.filter(pk=case.pk), actor, Perm.VIEW_CASES).exists():
        raise Http404(_("未找到该对象。"))
    if not scope.path_allows(actor, Perm.REVEAL_REPORTER, case.org_path):
        raise PermissionError_(_("您没有查看反映人电话的权限。"))
    if case.anonymous:
        raise DomainError(_("该事项为匿名反映，没有反映人电话。"), field="reporter_phone")
    if not case.reporter_phone_enc:
        raise DomainError(_("该事项登记时没有留反映人电话。"), field="reporter_phone")
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError(_("请填写查看事由：为什么要查看反映人电话（如“电话回访”）。"), field="reason")
    if len(reason) > REVEAL_REASON_MAX:
        raise DomainError(_("查看事由不能超过 %(n)s 个字。") % {"n": REVEAL_REASON_MAX}, field="reason")
    audit.record(actor=actor, action="cases.case.reveal_phone", obj=case, reason=reason)
    return sealed.reveal(case, "reporter_phone")


def case_reporter_lookup(*, actor: Any, phone: str) -> selectors.ReporterCases:
    """A repeat caller at intake: how many cases the actor can see were reported from this number,
    and the newest five (selectors.reporter_cases: by blind index, never decrypting). For those who
    file cases (403 otherwise); throttled (PHONE_LOOKUP_LIMITS, 429); audited with the masked number
    and the count, so the log shows who looked up which numbers."""
    if not scope.has_perm_anywhere(actor, Perm.REPORT_CASES):
        raise PermissionError_(_("您没有登记诉求的权限。"))
    phone = (phone or "").strip()
    if not phone:
        raise DomainError(_("请填写要查询的电话号码。"), field="phone")
    validate_phone(phone, field="phone")
    number = crypto.normalise(phone, "phone")
    mask = crypto.mask(number, "phone")
    _lookup_throttle(actor, crypto.blind_index(number, kind="phone"), mask)
    found = selectors.reporter_cases(actor, number)
    with transaction.atomic():
        audit.record(actor=actor, action="cases.case.reporter_lookup", object_type="cases.case",
                     object_repr=mask, after={"phone": mask, "found": found.count})
    return found


def _lookup_throttle(actor: Any, index: str, mask: str) -> None:
    """Count one lookup; ThrottledError beyond the user's hourly limit, or when it would be one more
    different number behind the same mask than a day allows (the same number again is free)."""
    from django.conf import settings

    from jiedao.core import limits as limits_

    limits = {**PHONE_LOOKUP_LIMITS, **getattr(settings, "JIEDAO_PHONE_LOOKUP_LIMITS", {})}
    uses, window = limits["user"]
    count = limits_.hit(f"jiedao:phone-lookup:{actor.pk}", window)
    if count > uses:
        raise ThrottledError(_("号码查询过于频繁：每 %(m)s 分钟最多 %(n)s 次，请稍后再试。")
                             % {"m": max(window // 60, 1), "n": uses}, field="phone")
    numbers, period = limits["mask"]
    number_key = f"jiedao:phone-lookup:{actor.pk}:{mask}:{index[:16]}"
    if limits_.peek(number_key):
        return
    if limits_.hit(f"jiedao:phone-lookup:{actor.pk}:{mask}", period) > numbers:
        raise ThrottledError(_("已查询过 %(n)s 个形如 %(mask)s 的不同号码；为防止逐个试出他人号码，暂停此类查询，请明天再试。")
                             % {"n": numbers, "mask": mask}, field="phone")
    limits_.hit(number_key, period)

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
    # The table's guard has checked the tier (大事 or 小事) and, from the joint meeting up, the actor.
    department = params.get("department")
    if case.tier == Tier.PUBLIC:
        department = department or route(case.category, case.node)
        if department is None:
            raise DomainError(_("大事需选择承办部门。"), field="department")
        if department.subdistrict_id != case.subdistrict_id or not department.is_active:
            raise DomainError(_("承办部门不属于该街道或已停用。"), field="department")
        handling = {"handling_department": department, "handling_node": None, "level": max(case.level, Level.DEPARTMENT)}
    else:
        if department is not None:
            raise DomainError(_("小事由社区自行办理，不能派给部门；如需部门办理，请先将分流改为大事。"), field="department")
        handling = {"handling_department": None, "handling_node_id": case.community_id, "level": case.level}
    # A joint meeting's decision sets its own date (params["deadline"], a timezone-aware datetime).
    # A date people set is theirs, not an estimate; a computed one may be (a year not yet known).
    deadline, estimated = ((params["deadline"], False) if params.get("deadline")
                           else deadline_for(case.category, now, case.urgency, subdistrict_id=case.subdistrict_id))
    # A fresh dispatch sets a fresh deadline: an earlier deferral (缓办) no longer applies.
    changes = {**handling, "dispatched_at": now, "deadline_at": deadline, "deadline_estimated": estimated,
               "acknowledged_at": None, "deferred_at": None}
    data = {"department": department.name if department else "", "deadline": deadline.isoformat()}
    if department is None:
        data["community"] = case.community.name if case.community_id else ""
    return Effect(changes, data=data)


def _acknowledge(case, now, reason, params):
    return Effect({"acknowledged_at": now})


def _clear_handling(case):
    return {"handling_department": None, "handling_node": None, "deadline_at": None, "acknowledged_at": None}


def _return(case, now, reason, params):
    return Effect({**_clear_handling(case), "return_count": F("return_count") + 1})


def _escalate(case, now, reason, params):
    # The table's guard keeps escalation below the joint meeting (level 3); from there a leader
    # hands the case over to the district (hand_over).
    level = case.level + 1
    changes = {**_clear_handling(case), "level": level, "escalation_count": F("escalation_count") + 1}
    data: dict[str, Any] = {"level": level}
    if level == Level.DEPARTMENT and case.tier == Tier.COMMUNITY:
        changes["tier"] = data["tier"] = Tier.PUBLIC  # the departments handle it: a 大事 from now on
    if level >= Level.JOINT_MEETING:
        changes["difficult"] = True  # waits for the joint meeting, and goes on the monthly agenda
    return Effect(changes, data=data)


def _as_date(value: Any, *, field: str) -> date | None:
    """A date parameter (a date, or "YYYY-MM-DD" text), or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return timezone.localdate(value)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError(_("日期格式应为 年-月-日，如 2026-03-20。"), field=field) from None


def _at_local(day: date, moment: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, moment))


def _defer(case, now, reason, params):
    """缓办: a leader approves a later deadline — the close of office hours on the new date."""
    from jiedao.cases.policy import policy_for

    new = _as_date(params.get("new_deadline"), field="new_deadline")
    if new is None:
        raise DomainError(_("请选择新的办理期限。"), field="new_deadline")
    today = timezone.localdate(now)
    if case.deadline_at is not None and new <= timezone.localdate(case.deadline_at):
        raise DomainError(_("新的办理期限应晚于当前期限（%(date)s）。")
                          % {"date": f"{timezone.localdate(case.deadline_at):%Y-%m-%d}"}, field="new_deadline")
    if new <= today:
        raise DomainError(_("新的办理期限应晚于今天。"), field="new_deadline")
    deadline = _at_local(new, policy_for(case.subdistrict_id).afternoon_end)
    old = case.deadline_at.isoformat() if case.deadline_at else ""
    # A date a leader approved is not an estimate; the deadline watch marks it afresh.
    changes = {"deadline_at": deadline, "deferred_at": now, "deadline_estimated": False, "sla_status": ""}
    return Effect(changes, data={"old_deadline": old, "new_deadline": deadline.isoformat()})


def _hand_over(case, now, reason, params):
    """移交区级: the joint meeting could not settle it; the district's reference number is recorded."""
    from jiedao.cases.policy import policy_for

    ref = clean_text(params.get("district_ref"), field="district_ref", label=gettext_lazy("区级受理编号"),
                     max_length=64, required=True)
    sent_on = _as_date(params.get("sent_on"), field="sent_on")
    today = timezone.localdate(now)
    if sent_on is None or sent_on == today:
        sent_at = now
    elif sent_on > today:
        raise DomainError(_("移交日期不能晚于今天。"), field="sent_on")
    elif sent_on < timezone.localdate(case.created_at):
        raise DomainError(_("移交日期不能早于事项登记的日期。"), field="sent_on")
    else:
        sent_at = _at_local(sent_on, policy_for(case.subdistrict_id).morning_start)
    changes = {**_clear_handling(case), "level": Level.DISTRICT, "district_ref": ref, "district_sent_at": sent_at,
               "district_reply": "", "district_replied_at": None, "escalation_count": F("escalation_count") + 1,
               "sla_status": ""}
    return Effect(changes, data={"level": int(Level.DISTRICT), "district_ref": ref,
                                 "sent_on": f"{timezone.localdate(sent_at):%Y-%m-%d}"})


DISTRICT_OUTCOMES = ("resolved", "returned")


def _district_reply(case, now, reason, params):
    """区级反馈: the district resolved it (已办结 at level 4, then verified and closed as usual) or
    returned it to the sub-district (已受理, level 4, a leader dispatches it again)."""
    reply = clean_text(params.get("reply"), field="reply", label=gettext_lazy("区级答复"), max_length=DESCRIPTION_MAX,
                       required=True)
    outcome = params.get("outcome") or ""
    if outcome not in DISTRICT_OUTCOMES:
        raise DomainError(_("请选择区级反馈的结果：已办结或退回街道办理。"), field="outcome")
    recorded = {"district_reply": reply, "district_replied_at": now}
    data = {"outcome": outcome, "district_ref": case.district_ref}
    if outcome == "resolved":
        resolution = _resolve(case, now, reply, {})  # counted as a resolution at level 4
        return Effect({**resolution.changes, **recorded}, target=State.RESOLVED, data={**data, **resolution.data})
    return Effect(recorded, target=State.ACCEPTED, data=data)


def _supervise(case, now, reason, params):
    return Effect({"supervise_count": F("supervise_count") + 1})


def _resolve(case, now, reason, params):
    # The resolution stands until a failed verification, a bad follow-up or a reopening clears
    # resolved_at: the case counts once in 办结, at this level, in the month it stands from.
    changes = {"result": reason, "resolved_at": now, "resolved_level": case.level}
    if case.tier == Tier.PRIVATE:
        changes["guidance"] = reason
    return Effect(changes, data={"level": case.level})


def _rework_target(case) -> str:
    """Where a case goes when its resolution does not stand (a failed verification, an unsatisfied
    follow-up): back to its handling unit, 办理中; with none (a 私事 resolved on acceptance, a case
    the district resolved) to 已受理, where it is dispatched again. Never 办理中 without a handler."""
    return State.IN_PROGRESS if (case.handling_department_id or case.handling_node_id) else State.ACCEPTED


def _verify_fail(case, now, reason, params):
    return Effect({"rework_count": F("rework_count") + 1, "resolved_at": None}, target=_rework_target(case))


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
        return Effect(changes, target=_rework_target(case), data=data)
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
    Action.DEFER: _defer,
    Action.HAND_OVER: _hand_over,
    Action.DISTRICT_REPLY: _district_reply,
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

    name = boundary.file_name(os.path.basename(str(getattr(upload, "name", "") or "").replace("\\", "/"))).strip()
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

