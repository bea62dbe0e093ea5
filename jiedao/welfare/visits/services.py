"""Every write of visits and the veterans' service: recording a visit (and turning its need into a
case through the cases intake), the veterans' records and their information checks, service
requests and 优待证 applications with the one guarded transition function of each workflow.

Each function is keyword-only, runs in a transaction, checks the actor's scope with
jiedao.core.scope (out of scope = 404, in scope without the right = 403) and writes the audit
event. Bad input raises DomainError with a Chinese message naming the field; nothing changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases import services as case_services
from jiedao.cases.models import Source, Tier
from jiedao.core import audit, scope
from jiedao.core.errors import ConflictError, DomainError
from jiedao.core.permissions import Perm
from jiedao.core.validators import clean_text
from jiedao.core.workflow import Effect, Machine, Step
from jiedao.org.models import NodeKind
from jiedao.people.models import Resident, ResidentTag
from jiedao.welfare.models.visits import (
    CardApplication,
    CardState,
    CardStatus,
    CardTransition,
    RequestKind,
    RequestState,
    RequestTransition,
    ServiceRequest,
    Veteran,
    VeteranCategory,
    VeteranCheck,
    Visit,
    VisitMode,
)
from jiedao.welfare.visits.workflow import CARD_TABLE, REQUEST_TABLE, CardAction, RequestAction, WelfareActor

_SUBMISSION = re.compile(r"[0-9A-Za-z-]{8,40}")
BACKDATE_DAYS = 366  # a visit or check recorded late (from a paper form) may be this old
YEAR_MIN = 1930


def _choice(value: Any, choices: Any, *, field: str, label: str) -> str:
    if value not in choices.values:
        raise DomainError(_("%(label)s的取值无效。") % {"label": label}, field=field)
    return value


def _day(value: Any, *, field: str, label: str, today: date | None = None) -> date:
    today = today or timezone.localdate()
    if not isinstance(value, date):
        raise DomainError(_("请填写%(label)s。") % {"label": label}, field=field)
    if value > today:
        raise DomainError(_("%(label)s不能晚于今天。") % {"label": label}, field=field)
    if value < today - timedelta(days=BACKDATE_DAYS):
        raise DomainError(_("%(label)s不能早于一年前。") % {"label": label}, field=field)
    return value


def _year(value: Any, *, field: str, label: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        year = int(value)
    except (TypeError, ValueError):
        raise DomainError(_("%(label)s须为四位年份。") % {"label": label}, field=field) from None
    if not YEAR_MIN <= year <= timezone.localdate().year:
        raise DomainError(_("%(label)s须为四位年份。") % {"label": label}, field=field)
    return year


def visible_resident(actor: Any, pk: Any, *, field: str = "resident") -> Resident:
    """A resident the actor sees with VIEW_WELFARE; else a DomainError on the field (404)."""
    try:
        return scope.get_scoped(Resident.objects.select_related("node", "household"), actor, Perm.VIEW_WELFARE,
                                pk=pk, is_active=True)
    except Http404:
        raise DomainError(_("所选居民不存在或不在您的管辖范围内。"), field=field, code="not_found") from None


def _snapshot_visit(visit: Visit) -> dict[str, Any]:
    return {**audit.snapshot(visit), "groups": sorted(visit.groups.values_list("pk", flat=True))}


# --- visits -------------------------------------------------------------------------------------


def scheduled_group_ids(resident: Resident, on: date) -> list[int]:
    """The resident's groups with a visit interval whose tag is active on `on`."""
    return list(ResidentTag.objects.filter(resident=resident, group__is_active=True,
                                           group__visit_interval_days__isnull=False)
                .exclude(end_date__lte=on).order_by("group__sort_order", "group_id")
                .values_list("group_id", flat=True))


@transaction.atomic
def visit_record(*, actor: Any, resident: Resident, visited_on: date, mode: str = VisitMode.HOME,
                 groups: Iterable[Any] = (), findings: str = "", needs: str = "", submission: str = "") -> Visit:
    """Record a visit of `resident` (in the actor's grid: RECORD_WELFARE there). It counts for the
    given groups (ids), which must be groups the resident is tagged with and that have a visit
    interval; none given: all of them. The due list reads it at once.

    `submission`: the form's one-time id. The same visitor sending the same id again (a phone that
    never got the answer) gets the visit already recorded, and nothing is recorded twice."""
    scope.require(actor, Perm.RECORD_WELFARE, resident.node.path, view_perm=Perm.VIEW_WELFARE)
    if not Resident.objects.filter(pk=resident.pk, is_active=True).exists():
        raise DomainError(_("该居民已不在册（已注销或迁出），不能登记走访。"), field="resident")
    submission = str(submission or "")
    if submission:
        if not _SUBMISSION.fullmatch(submission):
            raise DomainError(_("提交标识无效，请刷新页面后重新提交。"), field="submission")
        earlier = Visit.objects.filter(visitor=actor, submission=submission).first()
        if earlier is not None:
            if earlier.resident_id != resident.pk:
                raise DomainError(_("提交标识无效，请刷新页面后重新提交。"), field="submission")
            return earlier
    visited_on = _day(visited_on, field="visited_on", label=_("走访日期"))
    _choice(mode, VisitMode, field="mode", label=_("走访方式"))
    findings = clean_text(findings, field="findings", label=_("走访情况"), max_length=1000, required=True)
    needs = clean_text(needs, field="needs", label=_("反映的需求"), max_length=1000)
    tagged = scheduled_group_ids(resident, visited_on)
    try:
        wanted = sorted({int(getattr(g, "pk", g)) for g in groups})
    except (TypeError, ValueError):
        raise DomainError(_("所选类别无效。"), field="groups") from None
    if not tagged:
        raise DomainError(_("该居民不在需要走访的特殊人群中。"), field="resident")
    if set(wanted) - set(tagged):
        raise DomainError(_("该居民不属于所选类别，或该类别没有走访周期。"), field="groups")
    try:
        with transaction.atomic():
            visit = Visit.objects.create(resident=resident, visited_on=visited_on, mode=mode, findings=findings,
                                         needs=needs, visitor=actor if getattr(actor, "pk", None) else None,
                                         submission=submission)
    except IntegrityError:  # the same submission, sent twice at once: the other one records it
        raise ConflictError(_("这次走访正在登记中，请稍后刷新页面查看。"), field="submission") from None
    visit.groups.set(wanted or tagged)
    audit.record(actor=actor, action="welfare.visit.record", obj=visit, after=_snapshot_visit(visit))
    return visit


@transaction.atomic
def visit_raise_case(*, actor: Any, visit: Visit) -> Visit:
    """Turn the need a visit raised into a case through the cases intake (source 入户走访, internal:
    it names a resident in a special group), and link it back on the visit."""
    visit = (Visit.objects.select_for_update(of=("self",)).select_related("resident__node", "resident__household")
             .get(pk=visit.pk))
    resident = visit.resident
    scope.require(actor, Perm.RECORD_WELFARE, resident.node.path, view_perm=Perm.VIEW_WELFARE)
    if visit.case_id:
        raise DomainError(_("该走访反映的需求已转为事项，不能重复转办。"), field="case")
    if not visit.needs:
        raise DomainError(_("该走访没有记录需求，无需转办。"), field="needs")
    node, building, household = resident.node, None, None
    if node.kind == NodeKind.BUILDING:
        node, building = None, resident.node
        if resident.household_id and resident.household.node_id == building.pk:
            household = resident.household
    case = case_services.case_create(
        actor=actor, source=Source.DOOR_VISIT, node=node, building=building, household=household, resident=resident,
        tier=Tier.PUBLIC, suggest=False, internal=True,
        title=(_("走访反映：%(needs)s") % {"needs": visit.needs})[:100],
        description=(_("%(day)s走访%(name)s时反映：%(needs)s") % {
            "day": f"{visit.visited_on:%Y-%m-%d}", "name": resident.name, "needs": visit.needs})[:2000],
    )
    Visit.objects.filter(pk=visit.pk).update(case=case, updated_at=timezone.now())
    visit.case = case
    audit.record(actor=actor, action="welfare.visit.raise_case", obj=visit, after={"case": case.ticket})
    return visit


# --- veterans -----------------------------------------------------------------------------------


def _veteran_fields(values: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if "category" in values:
        cleaned["category"] = _choice(values["category"], VeteranCategory, field="category", label=_("类别"))
    if "enlisted_year" in values:
        cleaned["enlisted_year"] = _year(values["enlisted_year"], field="enlisted_year", label=_("入伍年份"))
    if "discharged_year" in values:
        cleaned["discharged_year"] = _year(values["discharged_year"], field="discharged_year", label=_("退役年份"))
    if "filed" in values:
        cleaned["filed"] = bool(values["filed"])
    if "notes" in values:
        cleaned["notes"] = clean_text(values["notes"], field="notes", label=_("备注"), max_length=500)
    return cleaned


def _check_years(veteran: Veteran) -> None:
    if veteran.enlisted_year and veteran.discharged_year and veteran.discharged_year < veteran.enlisted_year:
        raise DomainError(_("退役年份不能早于入伍年份。"), field="discharged_year")


@transaction.atomic
def veteran_create(*, actor: Any, resident: Resident, category: str = VeteranCategory.VETERAN,
                   enlisted_year: Any = None, discharged_year: Any = None, filed: bool = False,
                   notes: str = "") -> Veteran:
    """File a resident as a veteran or other 优抚对象 (RECORD_WELFARE at the resident's place)."""
    scope.require(actor, Perm.RECORD_WELFARE, resident.node.path, view_perm=Perm.VIEW_WELFARE)
    if Veteran.objects.filter(resident=resident).exists():
        raise DomainError(_("该居民已有优抚对象档案。"), field="resident", code="conflict")
    fields = _veteran_fields({"category": category, "enlisted_year": enlisted_year,
                              "discharged_year": discharged_year, "filed": filed, "notes": notes})
    veteran = Veteran(resident=resident, **fields)
    _check_years(veteran)
    veteran.save()
    audit.record(actor=actor, action="welfare.veteran.create", obj=veteran, after=audit.snapshot(veteran))
    return veteran


@transaction.atomic
def veteran_update(*, actor: Any, veteran: Veteran, **changes: Any) -> Veteran:
    """Change a veteran's category, service years, 建档立卡 flag or notes."""
    veteran = Veteran.objects.select_for_update(of=("self",)).select_related("resident__node").get(pk=veteran.pk)
    scope.require(actor, Perm.RECORD_WELFARE, veteran.resident.node.path, view_perm=Perm.VIEW_WELFARE)
    unknown = set(changes) - {"category", "enlisted_year", "discharged_year", "filed", "notes"}
    if unknown:
        raise DomainError(_("不能修改字段“%(field)s”。") % {"field": sorted(unknown)[0]}, field=sorted(unknown)[0])
    before = audit.snapshot(veteran)
    for name, value in _veteran_fields(changes).items():
        setattr(veteran, name, value)
    _check_years(veteran)
    veteran.save()
    audit.record(actor=actor, action="welfare.veteran.update", obj=veteran, before=before,
                 after=audit.snapshot(veteran))
    return veteran


@transaction.atomic
def veteran_check(*, actor: Any, veteran: Veteran, checked_on: date, notes: str = "",
                  filed: bool | None = None) -> VeteranCheck:
    """Record a check of a veteran's information (核对完善, one 人次); optionally mark the file set up
    (建档立卡). The veteran's 信息核对日期 becomes the latest check's date."""
    veteran = Veteran.objects.select_for_update(of=("self",)).select_related("resident__node").get(pk=veteran.pk)
    scope.require(actor, Perm.RECORD_WELFARE, veteran.resident.node.path, view_perm=Perm.VIEW_WELFARE)
    checked_on = _day(checked_on, field="checked_on", label=_("核对日期"))
    notes = clean_text(notes, field="notes", label=_("核对情况"), max_length=500)
    check = VeteranCheck.objects.create(veteran=veteran, checked_on=checked_on, notes=notes,
                                        checker=actor if getattr(actor, "pk", None) else None)
    changes: dict[str, Any] = {}
    if veteran.checked_on is None or checked_on > veteran.checked_on:
        changes["checked_on"] = checked_on
    if filed is not None and bool(filed) != veteran.filed:
        changes["filed"] = bool(filed)
    if changes:
        Veteran.objects.filter(pk=veteran.pk).update(updated_at=timezone.now(), **changes)
    audit.record(actor=actor, action="welfare.veteran.check", obj=veteran,
                 after={"checked_on": checked_on, "notes": notes, **changes})
    return check


# --- the workflows ------------------------------------------------------------------------------


def actor_kinds(user: Any, path: str) -> set[str]:
    """How the user relates to a request or application at this org path (WelfareActor)."""
    kinds: set[str] = set()
    if scope.path_allows(user, Perm.MANAGE_WELFARE, path):
        kinds.add(WelfareActor.MANAGER)
    if scope.path_allows(user, Perm.RECORD_WELFARE, path):
        kinds.add(WelfareActor.VISITOR)
    return kinds


@transaction.atomic
def request_create(*, actor: Any, veteran: Veteran, kind: str, content: str,
                   received_on: date | None = None) -> ServiceRequest:
    """Register a veteran's 求助 / 诉求 (state 已登记) — RECORD_WELFARE at the veteran's place."""
    scope.require(actor, Perm.RECORD_WELFARE, veteran.resident.node.path, view_perm=Perm.VIEW_WELFARE)
    _choice(kind, RequestKind, field="kind", label=_("类型"))
    content = clean_text(content, field="content", label=_("内容"), max_length=1000, required=True)
    received_on = _day(received_on or timezone.localdate(), field="received_on", label=_("登记日期"))
    request = ServiceRequest.objects.create(veteran=veteran, kind=kind, content=content, received_on=received_on,
                                            created_by=actor if getattr(actor, "pk", None) else None)
    audit.record(actor=actor, action="welfare.request.create", obj=request, after=audit.snapshot(request))
    return request


def request_act(*, actor: Any, request: ServiceRequest, action: str, reason: str = "") -> ServiceRequest:
    """Apply `action` to a service request as the table (workflow.REQUEST_TABLE) allows this actor."""
    with transaction.atomic():
        current = ServiceRequest.objects.select_related("veteran__resident__node").get(pk=request.pk)
        if not scope.restrict(ServiceRequest.objects.filter(pk=current.pk), actor, Perm.VIEW_WELFARE).exists():
            raise Http404(_("未找到该诉求。"))
        kinds = actor_kinds(actor, current.veteran.resident.node.path)
        return REQUEST_MACHINE.act(current, actor=actor, kinds=kinds, action=action, reason=reason)


def _finish(request, now, reason, params):
    return Effect({"done_at": now, "result": reason[:1000]})


def _reopen(request, now, reason, params):
    return Effect({"done_at": None}, data={"previous_result": request.result})


REQUEST_MACHINE = Machine(table=REQUEST_TABLE, model=ServiceRequest, history_model=RequestTransition,
                          history_fk="request", effects={RequestAction.FINISH: _finish, RequestAction.REOPEN: _reopen})


@transaction.atomic
def card_apply(*, actor: Any, veteran: Veteran, applied_on: date | None = None) -> CardApplication:
    """Register a 优待证 application (state 已申请) — RECORD_WELFARE at the veteran's place. One open
    application at a time; a veteran whose card was issued needs no other."""
    veteran = Veteran.objects.select_for_update(of=("self",)).select_related("resident__node").get(pk=veteran.pk)
    scope.require(actor, Perm.RECORD_WELFARE, veteran.resident.node.path, view_perm=Perm.VIEW_WELFARE)
    applied_on = _day(applied_on or timezone.localdate(), field="applied_on", label=_("申请日期"))
    if veteran.card_status == CardStatus.ISSUED:
        raise DomainError(_("该对象的优待证已发放，无需再次申请。"), field="veteran", code="conflict")
    if veteran.applications.filter(state__in=(CardState.APPLIED, CardState.REVIEWED, CardState.MADE)).exists():
        raise DomainError(_("该对象已有办理中的优待证申请。"), field="veteran", code="conflict")
    application = CardApplication.objects.create(veteran=veteran, applied_on=applied_on,
                                                 created_by=actor if getattr(actor, "pk", None) else None)
    Veteran.objects.filter(pk=veteran.pk).update(card_status=CardStatus.APPLYING, updated_at=timezone.now())
    audit.record(actor=actor, action="welfare.card.apply", obj=application, after=audit.snapshot(application))
    return application


def card_act(*, actor: Any, application: CardApplication, action: str, reason: str = "",
             card_number: str = "") -> CardApplication:
    """Apply `action` to a 优待证 application as the table (workflow.CARD_TABLE) allows this actor."""
    with transaction.atomic():
        current = CardApplication.objects.select_related("veteran__resident__node").get(pk=application.pk)
        if not scope.restrict(CardApplication.objects.filter(pk=current.pk), actor, Perm.VIEW_WELFARE).exists():
            raise Http404(_("未找到该优待证申请。"))
        kinds = actor_kinds(actor, current.veteran.resident.node.path)
        return CARD_MACHINE.act(current, actor=actor, kinds=kinds, action=action, reason=reason,
                                params={"card_number": card_number})


def _make(application, now, reason, params):
    number = clean_text(params.get("card_number"), field="card_number", label=_("优待证号"), max_length=32,
                        required=True)
    return Effect({"card_number": number})


def _issue(application, now, reason, params):
    return Effect({"issued_on": timezone.localdate(now)})


def _card_after(application: CardApplication, step: Step) -> None:
    if step.action == CardAction.ISSUE:
        Veteran.objects.filter(pk=application.veteran_id).update(
            card_status=CardStatus.ISSUED, card_number=application.card_number, updated_at=step.at)
    elif step.action == CardAction.REJECT:
        Veteran.objects.filter(pk=application.veteran_id, card_status=CardStatus.APPLYING).update(
            card_status=CardStatus.NONE, updated_at=step.at)


CARD_MACHINE = Machine(table=CARD_TABLE, model=CardApplication, history_model=CardTransition,
                       history_fk="application", effects={CardAction.MAKE: _make, CardAction.ISSUE: _issue},
                       after=_card_after)

OPEN_REQUEST_STATES = frozenset({RequestState.REGISTERED, RequestState.IN_PROGRESS})
