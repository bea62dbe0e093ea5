"""Every write of 防止返贫动态监测: the year's monitoring line, a lead (a household entering the
steps), the one guarded transition function (`monitored_act`), the dynamic adjustment with its
history (`monitored_adjust`), the plan's measures and the monthly visits.

Keyword-only functions in a transaction; each checks the actor's scope with jiedao.core.scope
(out of scope = 404, in scope without the right = 403) and writes the audit event. Bad input
raises DomainError with a Chinese message naming the field; nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import audit, scope
from jiedao.core.errors import ConflictError, DomainError
from jiedao.core.permissions import Perm, Role
from jiedao.core.validators import clean_text
from jiedao.core.workflow import Effect, Machine, username
from jiedao.org.models import OrgNode, RoleAssignment, User
from jiedao.people.models import Household, Resident
from jiedao.welfare.models.monitoring import (
    CLOSED_STATES,
    NOTICE_DAYS_MIN,
    UNDER_MONITORING,
    ChangeField,
    LeadSource,
    Measure,
    MeasureCategory,
    MeasureStatus,
    MonitoredHousehold,
    MonitoringChange,
    MonitoringKind,
    MonitoringLine,
    MonitoringTransition,
    MonitoringVisit,
    RiskType,
)
from jiedao.welfare.monitoring.workflow import TABLE, MonitoringAction, MonitoringActor

BACKDATE_DAYS = 366  # a lead or visit recorded late (from a paper form) may be this old
INCOME_MAX = Decimal("9999999")
MEASURE_EARLIEST = date(2000, 1, 1)  # a measure's due date: not before this …
MEASURE_AHEAD_DAYS = 5 * 365 + 1  # … nor more than five years ahead
CADRE_ROLES = (Role.GRID_WORKER, Role.GRID_LEADER, Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF)


# --- small cleaners ---------------------------------------------------------------------------


def _choice(value: Any, choices: Any, *, field: str, label: str) -> str:
    if value not in choices.values:
        raise DomainError(_("%(label)s的取值无效。") % {"label": label}, field=field)
    return value


def _risks(values: Iterable[Any] | None, *, field: str = "risk_types", required: bool = False) -> list[str]:
    chosen = []
    for value in values or ():
        _choice(value, RiskType, field=field, label=_("风险类型"))
        if value not in chosen:
            chosen.append(value)
    if required and not chosen:
        raise DomainError(_("请至少选择一种风险类型。"), field=field)
    return [r for r in RiskType.values if r in chosen]  # in the catalogue's order


def _day(value: Any, *, field: str, label: str, required: bool = True, today: date | None = None) -> date | None:
    if value in (None, ""):
        if required:
            raise DomainError(_("请填写%(label)s。") % {"label": label}, field=field)
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise DomainError(_("%(label)s不是有效的日期。") % {"label": label}, field=field) from None
    today = today or timezone.localdate()
    if value > today:
        raise DomainError(_("%(label)s不能晚于今天。") % {"label": label}, field=field)
    if value < today - timedelta(days=BACKDATE_DAYS):
        raise DomainError(_("%(label)s不能早于一年前。") % {"label": label}, field=field)
    return value


def _money(value: Any, *, field: str, label: str, required: bool = False) -> Decimal | None:
    if value in (None, ""):
        if required:
            raise DomainError(_("请填写%(label)s。") % {"label": label}, field=field)
        return None
    try:
        amount = Decimal(str(value).strip()).quantize(Decimal(1))
    except (InvalidOperation, ValueError):
        raise DomainError(_("%(label)s须为金额（元）。") % {"label": label}, field=field) from None
    if not Decimal(0) <= amount <= INCOME_MAX:
        raise DomainError(_("%(label)s须在 0–%(max)s 元之间。") % {"label": label, "max": INCOME_MAX}, field=field)
    return amount


def _members(value: Any, *, field: str = "members") -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise DomainError(_("家庭人口须为 1–30 的整数。"), field=field) from None
    if not 1 <= n <= 30:
        raise DomainError(_("家庭人口须为 1–30 的整数。"), field=field)
    return n


def _visible(actor: Any, monitored: MonitoredHousehold) -> MonitoredHousehold:
    """The row as it is now, locked for the step, or 404 when the actor does not see it."""
    current = (MonitoredHousehold.objects.select_for_update(of=("self",)).select_related("household", "household__node")
               .filter(pk=monitored.pk).first())
    if current is None or not scope.restrict(MonitoredHousehold.objects.filter(pk=current.pk), actor,
                                             Perm.VIEW_WELFARE).exists():
        raise Http404(_("未找到该监测户。"))
    return current


def cadre_allowed(user: Any, path: str) -> bool:
    """Whether `user` may be the responsible cadre (一干部) of a household at `path`: an active
    user holding a visiting role (grid worker or leader, community secretary or staff) over it."""
    if user is None or not getattr(user, "is_active", False):
        return False
    return any(active and role in CADRE_ROLES and path.startswith(node_path)
               for role, node_path, active, _department in scope.role_rows(user))


def _cadre(value: Any, path: str, *, field: str = "cadre") -> User | None:
    if value in (None, ""):
        return None
    user = value if isinstance(value, User) else User.objects.filter(pk=value).first()
    if user is None or not cadre_allowed(user, path):
        raise DomainError(_("所选帮扶干部不存在或不负责该户所在的网格（社区）。"), field=field)
    return user


def _audit_value(field: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, User):
        return value.pk
    return value


# --- the monitoring line ----------------------------------------------------------------------


def line_for(subdistrict_id: int, year: int) -> MonitoringLine | None:
    return MonitoringLine.objects.filter(subdistrict_id=subdistrict_id, year=year).first()


@transaction.atomic
def line_set(*, actor: Any, subdistrict: OrgNode, year: Any, amount: Any, notes: str = "") -> MonitoringLine:
    """Set (or change) the sub-district's monitoring line of one year (元/人/年)."""
    scope.require(actor, Perm.MANAGE_WELFARE, subdistrict.path, view_perm=Perm.VIEW_WELFARE)
    if subdistrict.kind != "subdistrict":
        raise DomainError(_("监测标准按街道设置，请选择街道。"), field="subdistrict")
    try:
        year = int(year)
    except (TypeError, ValueError):
        year = 0
    if not 2020 <= year <= 2100:
        raise DomainError(_("年度须在 2020–2100 之间。"), field="year")
    amount = _money(amount, field="amount", label=_("监测标准"), required=True)
    if amount <= 0:
        raise DomainError(_("监测标准须大于 0 元。"), field="amount")
    notes = clean_text(notes, field="notes", label=_("依据"), max_length=200)
    line = MonitoringLine.objects.select_for_update().filter(subdistrict=subdistrict, year=year).first()
    before = audit.snapshot(line) if line else None
    if line is None:
        line = MonitoringLine.objects.create(subdistrict=subdistrict, year=year, amount=amount, notes=notes)
    else:
        line.amount, line.notes = amount, notes
        line.save(update_fields=["amount", "notes", "updated_at"])
    audit.record(actor=actor, action="welfare.monitoring_line.set", obj=line, before=before, after=audit.snapshot(line))
    return line


# --- leads ------------------------------------------------------------------------------------


def household_members(household: Household) -> int:
    return Resident.objects.filter(household=household, is_active=True).count()


@transaction.atomic
def monitored_create(*, actor: Any, household: Household, kind: str, risk_types: Iterable[str], lead_source: str,
                     lead_on: Any = None, lead_note: str = "", cadre: Any = None,
                     income_per_head: Any = None) -> MonitoredHousehold:
    """Register a lead (线索): a household that may need monitoring, its kind, risks and source.
    The responsible cadre defaults to the one who records it when that user visits there."""
    path = household.node.path
    scope.require(actor, Perm.RECORD_WELFARE, path, view_perm=Perm.VIEW_WELFARE)
    _choice(kind, MonitoringKind, field="kind", label=_("监测对象类型"))
    risks = _risks(risk_types, required=True)
    _choice(lead_source, LeadSource, field="lead_source", label=_("线索来源"))
    lead_on = _day(lead_on or timezone.localdate(), field="lead_on", label=_("线索日期"))
    lead_note = clean_text(lead_note, field="lead_note", label=_("线索情况"), max_length=500)
    income = _money(income_per_head, field="income_per_head", label=_("人均纯收入"))
    chosen = _cadre(cadre, path)
    if chosen is None and cadre_allowed(actor, path):
        chosen = actor
    if MonitoredHousehold.objects.filter(household=household).exclude(state__in=CLOSED_STATES).exists():
        raise ConflictError(_("该户已在监测或认定流程中，不能重复登记。"), field="household")
    try:
        with transaction.atomic():
            monitored = MonitoredHousehold.objects.create(
                household=household, subdistrict_id=household.subdistrict_id or household.node.subdistrict_id,
                kind=kind, risk_types=risks, lead_source=lead_source, lead_on=lead_on, lead_note=lead_note,
                cadre=chosen, members=household_members(household), income_per_head=income)
    except IntegrityError:
        raise ConflictError(_("该户已在监测或认定流程中，不能重复登记。"), field="household") from None
    now = timezone.now()
    MonitoringTransition.objects.create(monitored=monitored, seq=0, action="lead", from_state=monitored.state,
                                        to_state=monitored.state, actor=actor, actor_repr=username(actor),
                                        reason=lead_note, data={"source": lead_source}, created_at=now)
    audit.record(actor=actor, action="welfare.monitored.create", obj=monitored, after=audit.snapshot(monitored))
    return monitored


# --- the workflow -----------------------------------------------------------------------------


def monitored_actor_kinds(user: Any, monitored: MonitoredHousehold) -> set[str]:
    """How the user relates to this household (see workflow.MonitoringActor)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return {MonitoringActor.ADMIN, MonitoringActor.LEADER, MonitoringActor.COMMUNITY}
    kinds: set[str] = set()
    for role, path, active, _department in scope.role_rows(user):
        if not active or not monitored.node.path.startswith(path):
            continue
        if role in (Role.GRID_WORKER, Role.GRID_LEADER):
            kinds.add(MonitoringActor.CADRE)
        elif role in (Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF):
            kinds.add(MonitoringActor.COMMUNITY)
        elif role == Role.LEADER:
            kinds.add(MonitoringActor.LEADER)
        elif role == Role.ADMIN:
            kinds.add(MonitoringActor.ADMIN)
    return kinds


def monitored_act(*, actor: Any, monitored: MonitoredHousehold, action: str, reason: str = "",
                  **params: Any) -> MonitoredHousehold:
    """Apply `action` if the transition table (workflow.TABLE) allows it for this actor:
    compare-and-set on (state, version), a history row and the audit event — all or nothing."""
    with transaction.atomic():
        current = _visible(actor, monitored)
        kinds = monitored_actor_kinds(actor, current)
        return MACHINE.act(current, actor=actor, kinds=kinds, action=action, reason=reason, params=params)


NOTICE_AHEAD_DAYS = 30  # a notice may be announced to start this many days ahead


def _notice(params: Mapping[str, Any], today: date, deliberated_on: date | None) -> tuple[date, date]:
    """The notice's days: it starts on or after the deliberation (never backdated before it, so
    the 5 days cannot be over before the notice was even decided) and at most 30 days ahead."""
    start = params.get("notice_from") or today
    label = _("公示开始日期")
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise DomainError(_("%(label)s不是有效的日期。") % {"label": label}, field="notice_from") from None
    earliest = deliberated_on or today
    if start < earliest:
        raise DomainError(_("公示开始日期不能早于民主评议日期（%(day)s）。") % {"day": earliest.isoformat()},
                          field="notice_from")
    if start > today + timedelta(days=NOTICE_AHEAD_DAYS):
        raise DomainError(_("公示开始日期不能晚于今天起 %(n)s 天。") % {"n": NOTICE_AHEAD_DAYS}, field="notice_from")
    end = params.get("notice_to") or start + timedelta(days=NOTICE_DAYS_MIN - 1)
    if isinstance(end, str):
        try:
            end = date.fromisoformat(end)
        except ValueError:
            raise DomainError(_("%(label)s不是有效的日期。") % {"label": _("公示结束日期")}, field="notice_to") from None
    if (end - start).days + 1 < NOTICE_DAYS_MIN:
        raise DomainError(_("公示不少于 %(n)s 天。") % {"n": NOTICE_DAYS_MIN}, field="notice_to")
    if (end - start).days > 60:
        raise DomainError(_("公示期不能超过 60 天。"), field="notice_to")
    return start, end


def _verify(row, now, reason, params):
    today = timezone.localdate()
    consent = _day(params.get("consent_on"), field="consent_on", label=_("书面授权日期"))
    changes: dict[str, Any] = {"consent_on": consent, "verified_on": today}
    data: dict[str, Any] = {"consent_on": consent.isoformat()}
    income = _money(params.get("income_per_head"), field="income_per_head", label=_("人均纯收入"))
    if income is not None:
        changes["income_per_head"] = income
        data["income_per_head"] = str(income)
    if params.get("members") not in (None, ""):
        changes["members"] = data["members"] = _members(params["members"])
    return Effect(changes, data=data)


def _deliberate(row, now, reason, params):
    return Effect({"deliberated_on": timezone.localdate()})


def _publish(row, now, reason, params):
    start, end = _notice(params, timezone.localdate(), row.deliberated_on)
    return Effect({"notice_from": start, "notice_to": end}, data={"from": start.isoformat(), "to": end.isoformat()})


def _approve(row, now, reason, params):
    today = timezone.localdate()
    return Effect({"decided_on": today, "included_on": today},
                  data={"within_limit": today <= row.decision_due})


def _reject(row, now, reason, params):
    return Effect({"decided_on": timezone.localdate()})


def _exit_verify(row, now, reason, params):
    today = timezone.localdate()
    income = _money(params.get("exit_income"), field="exit_income", label=_("人均纯收入"), required=True)
    line = line_for(row.subdistrict_id, today.year)
    if line is None:
        raise DomainError(_("尚未设置 %(year)s 年度监测标准，请先设置。") % {"year": today.year}, field="exit_income")
    if income <= line.amount:
        raise DomainError(_("人均纯收入 %(income)s 元未高于 %(year)s 年度监测标准 %(line)s 元，不能标注风险消除。")
                          % {"income": income, "year": today.year, "line": line.amount}, field="exit_income")
    checks = {"secure_education": _("义务教育有保障"), "secure_medical": _("基本医疗有保障"),
              "secure_housing": _("住房安全有保障"), "secure_water": _("饮水安全有保障")}
    for name, label in checks.items():
        if params.get(name) is not True:
            raise DomainError(_("%(label)s尚未确认，不能标注风险消除。") % {"label": label}, field=name)
    changes = {"exit_income": income, "exit_verified_on": today, **dict.fromkeys(checks, True)}
    return Effect(changes, data={"exit_income": str(income), "line": str(line.amount)})


def _exit_deliberate(row, now, reason, params):
    return Effect({"exit_deliberated_on": timezone.localdate()})


def _exit_publish(row, now, reason, params):
    start, end = _notice(params, timezone.localdate(), row.exit_deliberated_on)
    return Effect({"exit_notice_from": start, "exit_notice_to": end},
                  data={"from": start.isoformat(), "to": end.isoformat()})


def _exit_approve(row, now, reason, params):
    return Effect({"removed_on": timezone.localdate()})


def _exit_refuse(row, now, reason, params):
    return Effect({"exit_income": None, "exit_verified_on": None, "exit_deliberated_on": None,
                   "exit_notice_from": None, "exit_notice_to": None, "secure_education": False,
                   "secure_medical": False, "secure_housing": False, "secure_water": False})


A = MonitoringAction
MACHINE = Machine(
    table=TABLE, model=MonitoredHousehold, history_model=MonitoringTransition, history_fk="monitored",
    effects={
        A.VERIFY: _verify, A.DELIBERATE: _deliberate, A.PUBLISH: _publish, A.APPROVE: _approve, A.REJECT: _reject,
        A.EXIT_VERIFY: _exit_verify, A.EXIT_DELIBERATE: _exit_deliberate, A.EXIT_PUBLISH: _exit_publish,
        A.EXIT_APPROVE: _exit_approve, A.EXIT_REFUSE: _exit_refuse,
    },
    actor_repr=username,
)


# --- dynamic adjustment -----------------------------------------------------------------------


def _shown(field: str, value: Any) -> Any:
    """A change row's value as stored: JSON-native and readable."""
    if value is None:
        return None
    if field == ChangeField.CADRE:
        return {"id": value.pk, "name": value.get_full_name() or value.get_username()}
    if isinstance(value, Decimal):
        return str(value)
    return value


def _adjust(*, actor: Any, monitored: MonitoredHousehold, reason: str, changes: Mapping[str, Any],
            visit: MonitoringVisit | None = None) -> list[MonitoringChange]:
    """Apply cleaned field changes to a locked row, one MonitoringChange per changed field."""
    now = timezone.now()
    rows, update, before, after = [], {}, {}, {}
    for field, new in changes.items():
        attr = "cadre" if field == ChangeField.CADRE else field
        old = getattr(monitored, attr)
        if old == new:
            continue
        rows.append(MonitoringChange(monitored=monitored, field=field, old=_shown(field, old), new=_shown(field, new),
                                     reason=reason, visit=visit, actor=actor if getattr(actor, "pk", None) else None,
                                     created_at=now))
        update[attr] = new
        before[field], after[field] = _audit_value(field, old), _audit_value(field, new)
    if not rows:
        return []
    for attr, value in update.items():
        setattr(monitored, attr, value)
    monitored.save(update_fields=[*update, "updated_at"])
    MonitoringChange.objects.bulk_create(rows)
    audit.record(actor=actor, action="welfare.monitored.adjust", obj=monitored, before=before, after=after,
                 reason=reason)
    return rows


@transaction.atomic
def monitored_adjust(*, actor: Any, monitored: MonitoredHousehold, reason: str, kind: Any = None,
                     risk_types: Iterable[str] | None = None, cadre: Any = None, income_per_head: Any = None,
                     members: Any = None) -> list[MonitoringChange]:
    """动态调整: change the kind, risk types, cadre, income per head or members of a household in
    the steps or under monitoring, with the reason; every changed field is kept as a history
    row. Risks, income and members are the visiting staff's; kind and cadre the community's."""
    current = _visible(actor, monitored)
    path = current.node.path
    scope.require(actor, Perm.RECORD_WELFARE, path, view_perm=Perm.VIEW_WELFARE)
    if current.state in CLOSED_STATES:
        raise DomainError(_("该户已结束监测（不予纳入或风险已消除），不能再调整。"), field="state")
    reason = clean_text(reason, field="reason", label=_("调整原因"), max_length=500, required=True)
    changes: dict[str, Any] = {}
    if kind not in (None, "") and kind != current.kind:
        scope.require(actor, Perm.MANAGE_WELFARE, path, view_perm=Perm.VIEW_WELFARE)
        changes[ChangeField.KIND] = _choice(kind, MonitoringKind, field="kind", label=_("监测对象类型"))
    if risk_types is not None:
        changes[ChangeField.RISK_TYPES] = _risks(risk_types, required=True)
    if cadre not in (None, "") and getattr(cadre, "pk", cadre) != current.cadre_id:
        scope.require(actor, Perm.MANAGE_WELFARE, path, view_perm=Perm.VIEW_WELFARE)
        changes[ChangeField.CADRE] = _cadre(cadre, path)
    if income_per_head not in (None, ""):
        changes[ChangeField.INCOME] = _money(income_per_head, field="income_per_head", label=_("人均纯收入"))
    if members not in (None, ""):
        changes[ChangeField.MEMBERS] = _members(members)
    rows = _adjust(actor=actor, monitored=current, reason=reason, changes=changes)
    if not rows:
        raise DomainError(_("没有要调整的内容。"), field="reason")
    return rows


# --- the plan (一户一策) ---------------------------------------------------------------------


def _measure_fields(*, category: Any, content: Any, owner: Any, due_on: Any) -> dict[str, Any]:
    _choice(category, MeasureCategory, field="category", label=_("帮扶类别"))
    content = clean_text(content, field="content", label=_("帮扶措施"), max_length=300, required=True)
    owner = clean_text(owner, field="owner", label=_("责任人（单位）"), max_length=64, required=True)
    if due_on in (None, ""):
        raise DomainError(_("请填写%(label)s。") % {"label": _("完成时限")}, field="due_on")
    if isinstance(due_on, str):
        try:
            due_on = date.fromisoformat(due_on)
        except ValueError:
            raise DomainError(_("%(label)s不是有效的日期。") % {"label": _("完成时限")}, field="due_on") from None
    latest = timezone.localdate() + timedelta(days=MEASURE_AHEAD_DAYS)
    if not MEASURE_EARLIEST <= due_on <= latest:
        raise DomainError(_("%(label)s须在 %(min)s 至 %(max)s 之间（至多今后 5 年）。")
                          % {"label": _("完成时限"), "min": MEASURE_EARLIEST.isoformat(), "max": latest.isoformat()},
                          field="due_on")
    return {"category": category, "content": content, "owner": owner, "due_on": due_on}


def _measure_add(actor: Any, monitored: MonitoredHousehold, fields: Mapping[str, Any]) -> Measure:
    if monitored.state in CLOSED_STATES:
        raise DomainError(_("该户已结束监测，不能再添加帮扶措施。"), field="category")
    measure = Measure.objects.create(monitored=monitored, **fields)
    audit.record(actor=actor, action="welfare.measure.create", obj=measure, after=audit.snapshot(measure))
    return measure


@transaction.atomic
def measure_add(*, actor: Any, monitored: MonitoredHousehold, category: str, content: str, owner: str,
                due_on: Any) -> Measure:
    """Add a measure to the household's plan (一户一策)."""
    current = _visible(actor, monitored)
    scope.require(actor, Perm.RECORD_WELFARE, current.node.path, view_perm=Perm.VIEW_WELFARE)
    return _measure_add(actor, current, _measure_fields(category=category, content=content, owner=owner, due_on=due_on))


def _measure_change(actor: Any, measure: Measure, *, status: Any = None, progress: Any = None, done_on: Any = None,
                    due_on: Any = None) -> Measure:
    before = audit.snapshot(measure)
    if status not in (None, ""):
        _choice(status, MeasureStatus, field="status", label=_("进展"))
        measure.status = status
        if status == MeasureStatus.DONE:
            measure.done_on = _day(done_on or timezone.localdate(), field="done_on", label=_("完成日期"))
        else:
            measure.done_on = None
    if progress is not None:
        measure.progress = clean_text(progress, field="progress", label=_("进展情况"), max_length=300)
    if due_on not in (None, ""):
        measure.due_on = _measure_fields(category=measure.category, content=measure.content, owner=measure.owner,
                                         due_on=due_on)["due_on"]
    measure.save()
    audit.record(actor=actor, action="welfare.measure.update", obj=measure, before=before,
                 after=audit.snapshot(measure))
    return measure


@transaction.atomic
def measure_update(*, actor: Any, measure: Measure, status: Any = None, progress: Any = None, done_on: Any = None,
                   due_on: Any = None) -> Measure:
    """Record a measure's progress: its status (done with the day it was done), a note, a new due date."""
    current = _visible(actor, measure.monitored)
    scope.require(actor, Perm.RECORD_WELFARE, current.node.path, view_perm=Perm.VIEW_WELFARE)
    if current.state in CLOSED_STATES:
        raise DomainError(_("该户已结束监测，不能再修改帮扶措施。"), field="status")
    measure = Measure.objects.select_for_update().get(pk=measure.pk)
    return _measure_change(actor, measure, status=status, progress=progress, done_on=done_on, due_on=due_on)


# --- visits -----------------------------------------------------------------------------------


@transaction.atomic
def visit_record(*, actor: Any, monitored: MonitoredHousehold, visited_on: Any = None, note: str = "",
                 income_per_head: Any = None, risks_added: Iterable[str] = (), risks_removed: Iterable[str] = (),
                 measures: Iterable[Mapping[str, Any]] = (), new_measure: Mapping[str, Any] | None = None,
                 submission: str = "") -> MonitoringVisit:
    """Record a monthly visit (每月走访) to a household under monitoring: what changed (income,
    risks added or removed — each a history row with the visit as its reason — measures'
    progress, a new measure) and a note. A submission sent twice (a phone that lost the answer)
    returns the first visit."""
    current = _visible(actor, monitored)
    scope.require(actor, Perm.RECORD_WELFARE, current.node.path, view_perm=Perm.VIEW_WELFARE)
    submission = str(submission or "")[:40]
    if submission and getattr(actor, "pk", None):
        earlier = MonitoringVisit.objects.filter(cadre=actor, submission=submission).first()
        if earlier is not None:
            if earlier.monitored_id != current.pk:  # the same id for another household: never drop the visit
                raise DomainError(_("提交标识已用于另一户的走访，请刷新页面后重新填写。"), field="submission")
            return earlier
    if current.state not in UNDER_MONITORING:
        raise DomainError(_("只有监测中的户需要每月走访。"), field="visited_on")
    visited_on = _day(visited_on or timezone.localdate(), field="visited_on", label=_("走访日期"))
    if visited_on < current.lead_on:
        raise DomainError(_("走访日期不能早于线索日期。"), field="visited_on")
    note = clean_text(note, field="note", label=_("走访情况"), max_length=1000)
    income = _money(income_per_head, field="income_per_head", label=_("人均纯收入"))
    added, removed = _risks(risks_added, field="risks_added"), _risks(risks_removed, field="risks_removed")
    if set(added) & set(removed):
        raise DomainError(_("同一风险类型不能既新增又消除。"), field="risks_removed")
    new_risks = [r for r in RiskType.values if (r in current.risk_types or r in added) and r not in removed]
    if not new_risks:
        raise DomainError(_("监测中的户至少保留一种风险类型；风险全部消除请走风险消除流程。"), field="risks_removed")
    touched, updates = [], []
    wanted = {int(m["id"]): m for m in measures if m.get("id") not in (None, "")}
    if wanted:
        found = {m.pk: m for m in Measure.objects.select_for_update().filter(monitored=current, pk__in=wanted)}
        if len(found) != len(wanted):
            raise DomainError(_("所选帮扶措施不属于该户。"), field="measures")
        for pk, change in wanted.items():
            measure = found[pk]
            status, progress = change.get("status") or "", change.get("progress")
            if (status and status != measure.status) or (progress not in (None, "") and progress != measure.progress):
                updates.append((measure, status, progress))
    new_fields = None
    if new_measure and any(new_measure.get(k) for k in ("content", "owner")):
        new_fields = _measure_fields(category=new_measure.get("category"), content=new_measure.get("content"),
                                     owner=new_measure.get("owner"), due_on=new_measure.get("due_on"))
    visit = MonitoringVisit.objects.create(
        monitored=current, visited_on=visited_on, cadre=actor if getattr(actor, "pk", None) else None,
        income_per_head=income, risks_added=[r for r in added if r not in current.risk_types],
        risks_removed=[r for r in removed if r in current.risk_types], note=note, submission=submission)
    for measure, status, progress in updates:
        _measure_change(actor, measure, status=status or None, progress=progress, done_on=visited_on)
        touched.append({"id": measure.pk, "status": measure.status, "progress": measure.progress})
    if new_fields is not None:
        measure = _measure_add(actor, current, new_fields)
        touched.append({"id": measure.pk, "status": measure.status, "new": True})
    changes: dict[str, Any] = {}
    if new_risks != current.risk_types:
        changes[ChangeField.RISK_TYPES] = new_risks
    if income is not None:
        changes[ChangeField.INCOME] = income
    reason = (_("%(day)s 走访：%(note)s") % {"day": visited_on.isoformat(), "note": note or _("走访记录")})[:500]
    _adjust(actor=actor, monitored=current, reason=reason, changes=changes, visit=visit)
    MonitoringVisit.objects.filter(pk=visit.pk).update(measures_touched=touched)
    visit.measures_touched = touched
    if current.last_visit_on is None or visited_on > current.last_visit_on:
        MonitoredHousehold.objects.filter(pk=current.pk).update(last_visit_on=visited_on)
    audit.record(actor=actor, action="welfare.monitoring_visit.create", obj=visit, after=audit.snapshot(visit))
    return visit


def cadres_for(path: str) -> list[User]:
    """The users who may be the cadre of a household at `path` (for the forms' choices)."""
    prefixes = [path[:n] for n in range(scope.PATH_SEGMENT, len(path) + 1, scope.PATH_SEGMENT)]
    ids = RoleAssignment.objects.filter(role__in=CADRE_ROLES, node__path__in=prefixes).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("username"))
