"""Every write of safety inspections: campaigns and their target lists, checklists, tenancies,
inspections (with the hazards they find), the one guarded hazard transition function
(`hazard_act`), and the 三色 risk recomputation.

Each function is keyword-only, runs in a transaction, checks the actor's scope with
jiedao.core.scope (out of scope = 404, in scope without the right = 403) and writes the audit
event. Bad input raises DomainError with a Chinese message naming the field; nothing changes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases import services as case_services
from jiedao.cases.models import Source, Tier
from jiedao.core import audit, scope, tasks, workdays
from jiedao.core.errors import ConflictError, DomainError
from jiedao.core.permissions import Perm, Role
from jiedao.core.validators import clean_text
from jiedao.core.workflow import Effect, Machine, Step, username
from jiedao.org.models import NodeKind, OrgNode, RoleAssignment
from jiedao.people.models import Business, RiskColour
from jiedao.safety import risk, rollups
from jiedao.safety.models import (
    OPEN_STATES,
    UNRECTIFIED_STATES,
    Campaign,
    CampaignKind,
    CampaignTarget,
    ChecklistItem,
    ChecklistTemplate,
    Hazard,
    HazardState,
    HazardTransition,
    Inspection,
    RiskChange,
    RiskRule,
    SafetyField,
    Severity,
    Tenancy,
    TenancyKind,
)
from jiedao.safety.workflow import TABLE, HazardAction, HazardActor

CAMPAIGN_NODE_KINDS = frozenset({NodeKind.SUBDISTRICT, NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID})
DEADLINE_DAYS_MAX = 60
ANSWERS = ("ok", "fail", "na")
INSPECTION_BACKDATE_DAYS = 366  # an inspection recorded late (from a paper form) may be this old
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _choice(value: Any, choices: Any, *, field: str, label: str) -> str:
    if value not in choices.values:
        raise DomainError(_("%(label)s的取值无效。") % {"label": label}, field=field)
    return value


def _days(value: Any, *, field: str = "deadline_days") -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise DomainError(_("整改期限须为 1–%(max)s 个工作日。") % {"max": DEADLINE_DAYS_MAX}, field=field) from None
    if not 1 <= days <= DEADLINE_DAYS_MAX:
        raise DomainError(_("整改期限须为 1–%(max)s 个工作日。") % {"max": DEADLINE_DAYS_MAX}, field=field)
    return days


def _or_default(value: Any, default: int = 5) -> Any:
    return default if value is None or value == "" else value


def _visible_business(actor: Any, pk: Any, *, field: str) -> Business:
    try:
        return scope.get_scoped(Business.objects.select_related("node"), actor, Perm.VIEW_SAFETY, pk=pk)
    except Http404:
        raise DomainError(_("所选主体不存在或不在您的管辖范围内。"), field=field) from None


def deadline_from(start: datetime, days: int) -> datetime:
    """The rectification deadline: `days` working days after `start` (close of office)."""
    return workdays.add_working_days(start, days).at


# --- campaigns --------------------------------------------------------------------------------


def _target_queryset(actor: Any, node: OrgNode, rule: Mapping[str, Any]) -> Any:
    """The businesses a campaign's rule picks under `node`, within the actor's scope."""
    qs = scope.restrict(Business.objects.filter(is_active=True), actor, Perm.VIEW_SAFETY)
    low, high = scope.subtree_range(node.path)
    qs = qs.filter(node__path__range=(low, high))
    if rule.get("nodes"):
        paths = list(OrgNode.objects.filter(pk__in=rule["nodes"]).values_list("path", flat=True))
        if len(paths) != len(set(rule["nodes"])):
            raise DomainError(_("所选网格不存在。"), field="nodes")
        condition = Q()
        for path in paths:
            condition |= Q(node__path__range=scope.subtree_range(path))
        qs = qs.filter(condition)
    if rule.get("industries"):
        qs = qs.filter(industry__in=rule["industries"])
    if rule.get("colours"):
        for colour in rule["colours"]:
            _choice(colour, RiskColour, field="colours", label=_("风险等级"))
        qs = qs.filter(risk_colour__in=rule["colours"])
    if rule.get("site"):
        site = _visible_business(actor, rule["site"], field="site")
        qs = qs.filter(Q(pk=site.pk) | Q(tenancy__site=site))
    if rule.get("businesses"):
        wanted = {int(pk) for pk in rule["businesses"]}
        found = set(qs.filter(pk__in=wanted).values_list("pk", flat=True))
        if found != wanted:
            raise DomainError(_("有 %(n)s 个所选主体不存在、已歇业或不在行动范围内。") % {"n": len(wanted - found)},
                              field="businesses")
        qs = qs.filter(pk__in=wanted)
    return qs


def grid_inspectors(subdistrict_id: int) -> dict[str, int]:
    """Grid path → the user id of its first grid worker (or grid leader): the default inspector."""
    rows = (RoleAssignment.objects.filter(node__subdistrict_id=subdistrict_id, node__kind=NodeKind.GRID,
                                          role__in=(Role.GRID_WORKER, Role.GRID_LEADER))
            .order_by("node__path", "-role", "pk").values_list("node__path", "user_id"))
    chosen: dict[str, int] = {}
    for path, user_id in rows:
        chosen.setdefault(path, user_id)
    return chosen


def grid_path_of(path: str, grid_paths: Iterable[str]) -> str | None:
    for grid in grid_paths:
        if path.startswith(grid):
            return grid
    return None


@transaction.atomic
def campaign_create(*, actor: Any, node: OrgNode, title: str, kind: str, field: str, starts_on: date,
                    ends_on: date, owners: Iterable[Any] = (), rule: Mapping[str, Any] | None = None,
                    notes: str = "") -> Campaign:
    """Plan a campaign on `node` (a sub-district, community/village or grid) and fix its target
    list: the active businesses under the node matching the rule (grids, industries, colours, a
    park/factory site and its tenants, or hand-picked ids; the given parts are combined with AND).
    Each target is assigned to the first grid worker of its grid."""
    scope.require(actor, Perm.MANAGE_SAFETY, node.path, view_perm=Perm.VIEW_SAFETY)
    if node.kind not in CAMPAIGN_NODE_KINDS:
        raise DomainError(_("行动只能建在街道、社区（村）或网格上。"), field="node")
    title = clean_text(title, field="title", label=_("名称"), max_length=100, required=True)
    notes = clean_text(notes, field="notes", label=_("工作要求"), max_length=1000)
    _choice(kind, CampaignKind, field="kind", label=_("类型"))
    _choice(field, SafetyField, field="field", label=_("领域"))
    if not starts_on or not ends_on:
        raise DomainError(_("请填写行动的起止日期。"), field="starts_on")
    if ends_on < starts_on:
        raise DomainError(_("结束日期不能早于开始日期。"), field="ends_on")
    rule = {key: value for key, value in dict(rule or {}).items() if value}
    businesses = list(_target_queryset(actor, node, rule).values_list("pk", "node__path"))
    if not businesses:
        raise DomainError(_("按所选条件没有找到在营主体，请调整排摸对象。"), field="rule")
    subdistrict_id = node.subdistrict_id or node.pk
    campaign = Campaign.objects.create(node=node, subdistrict_id=subdistrict_id, title=title, kind=kind, field=field,
                                       starts_on=starts_on, ends_on=ends_on, target_rule=rule, notes=notes,
                                       created_by=actor if getattr(actor, "pk", None) else None)
    owners = list(owners)
    if owners:
        campaign.owners.set(owners)
    inspectors = grid_inspectors(subdistrict_id)
    grids = sorted(inspectors, key=len, reverse=True)
    CampaignTarget.objects.bulk_create([
        CampaignTarget(campaign=campaign, business_id=pk, inspector_id=inspectors.get(grid_path_of(path, grids) or ""))
        for pk, path in businesses
    ], batch_size=500)
    audit.record(actor=actor, action="safety.campaign.create", obj=campaign,
                 after={**audit.snapshot(campaign), "targets": len(businesses),
                        "owners": [u.pk for u in owners]})
    return campaign


# --- checklists -------------------------------------------------------------------------------


def _clean_items(items: Iterable[Mapping[str, Any]]) -> list[ChecklistItem]:
    cleaned = []
    for n, item in enumerate(items, start=1):
        text = clean_text(item.get("text"), field=f"items[{n}].text", label=_("第 %(n)s 项检查内容") % {"n": n},
                          max_length=300, required=True)
        basis = clean_text(item.get("legal_basis"), field=f"items[{n}].legal_basis",
                           label=_("第 %(n)s 项依据") % {"n": n}, max_length=300)
        severity = item.get("severity") or Severity.ORDINARY
        _choice(severity, Severity, field=f"items[{n}].severity", label=_("第 %(n)s 项隐患等级") % {"n": n})
        days = _days(_or_default(item.get("deadline_days")), field=f"items[{n}].deadline_days")
        cleaned.append(ChecklistItem(seq=n, text=text, legal_basis=basis, severity=severity, deadline_days=days))
    if not cleaned:
        raise DomainError(_("检查表至少要有一项。"), field="items")
    return cleaned


@transaction.atomic
def template_create(*, actor: Any, node: OrgNode, field: str, name: str,
                    items: Iterable[Mapping[str, Any]]) -> ChecklistTemplate:
    """A checklist for one field, owned by a sub-district, with its items in order."""
    scope.require(actor, Perm.MANAGE_SAFETY, node.path, view_perm=Perm.VIEW_SAFETY)
    if node.kind != NodeKind.SUBDISTRICT:
        raise DomainError(_("检查表由街道统一维护。"), field="node")
    _choice(field, SafetyField, field="field", label=_("领域"))
    name = clean_text(name, field="name", label=_("名称"), max_length=100, required=True)
    rows = _clean_items(items)
    template = ChecklistTemplate.objects.create(node=node, field=field, name=name)
    for row in rows:
        row.template = template
    ChecklistItem.objects.bulk_create(rows)
    audit.record(actor=actor, action="safety.template.create", obj=template,
                 after={**audit.snapshot(template), "items": [r.text for r in rows]})
    return template


def _item_referenced(template: ChecklistTemplate, item_ids: set[int]) -> set[int]:
    """Which of these items the past refers to: a hazard found by it, or (an item's answers are
    kept in the inspection's JSON) any inspection recorded with the checklist."""
    if not item_ids:
        return set()
    if Inspection.objects.filter(template=template).exists():
        return set(item_ids)
    return set(Hazard.objects.filter(item_id__in=item_ids).values_list("item_id", flat=True))


def _item_row(item: ChecklistItem) -> dict[str, Any]:
    return {"id": item.pk, "seq": item.seq, "text": item.text, "legal_basis": item.legal_basis,
            "severity": item.severity, "deadline_days": item.deadline_days}


@transaction.atomic
def template_update(*, actor: Any, template: ChecklistTemplate, name: str | None = None,
                    is_active: bool | None = None, items: Iterable[Mapping[str, Any]] | None = None
                    ) -> ChecklistTemplate:
    """Rename, switch on/off, or edit the items of a checklist — in place, so the inspections and
    hazards that refer to an item keep referring to the same row.

    `items` is the new list in order. An entry with an `id` of an active item of this checklist
    updates that item; an entry without one updates the active item with the same text, if any
    (the form edits items as lines of text); any other entry adds an item. An active item no entry
    names is removed: retired (停用, kept for the past) if an inspection of the checklist or a
    hazard refers to it, deleted otherwise. The audit event lists the items added, changed,
    retired and deleted."""
    template = ChecklistTemplate.objects.select_for_update().select_related("node").get(pk=template.pk)
    scope.require(actor, Perm.MANAGE_SAFETY, template.node.path, view_perm=Perm.VIEW_SAFETY)
    before = audit.snapshot(template)
    if name is not None:
        template.name = clean_text(name, field="name", label=_("名称"), max_length=100, required=True)
    if is_active is not None:
        template.is_active = bool(is_active)
    template.save()
    old, new = audit.changed(before, audit.snapshot(template))
    if items is not None:
        items = list(items)
        rows = _clean_items(items)
        current = {item.pk: item for item in template.items.filter(is_active=True)}
        by_text: dict[str, list[int]] = {}
        for item in current.values():
            by_text.setdefault(item.text, []).append(item.pk)
        claimed: dict[int, ChecklistItem] = {}  # existing pk -> the cleaned row that keeps it
        plan: list[tuple[ChecklistItem, int | None]] = []
        for n, (entry, row) in enumerate(zip(items, rows, strict=True), start=1):
            pk = entry.get("id")
            if pk not in (None, ""):
                try:
                    pk = int(pk)
                except (TypeError, ValueError):
                    pk = -1
                if pk not in current or pk in claimed:
                    raise DomainError(_("第 %(n)s 项不是该检查表的现有检查项。") % {"n": n}, field=f"items[{n}].id")
            else:
                pk = next((p for p in by_text.get(row.text, []) if p not in claimed), None)
            if pk is not None:
                claimed[pk] = row
            plan.append((row, pk))
        removed = set(current) - set(claimed)
        referenced = _item_referenced(template, removed)
        changes: dict[str, list[Any]] = {"added": [], "changed": [], "retired": [], "deleted": []}
        if removed - referenced:
            ChecklistItem.objects.filter(pk__in=removed - referenced).delete()
            changes["deleted"] = [_item_row(current[pk]) for pk in sorted(removed - referenced)]
        if referenced:
            ChecklistItem.objects.filter(pk__in=referenced).update(is_active=False)
            changes["retired"] = [_item_row(current[pk]) for pk in sorted(referenced)]
        # move the kept items out of the way of the new numbering (seq is unique among active items)
        ChecklistItem.objects.filter(pk__in=list(claimed)).update(seq=F("seq") + 1000)
        fields = ("seq", "text", "legal_basis", "severity", "deadline_days")
        for row, pk in plan:
            if pk is None:
                row.template = template
                row.save()
                changes["added"].append(_item_row(row))
                continue
            item = current[pk]
            was = _item_row(item)
            for f in fields:
                setattr(item, f, getattr(row, f))
            item.save(update_fields=list(fields))
            if {k: v for k, v in was.items() if k != "seq"} != {k: v for k, v in _item_row(item).items() if k != "seq"}:
                changes["changed"].append({"from": was, "to": _item_row(item)})
            elif was["seq"] != item.seq:
                changes["changed"].append({"id": pk, "seq": [was["seq"], item.seq]})
        changes = {k: v for k, v in changes.items() if v}
        if changes:
            new = {**new, "items": changes}
    if new:
        audit.record(actor=actor, action="safety.template.update", obj=template, before=old, after=new)
    return template


# --- tenancies (园中园 / 厂中厂) ---------------------------------------------------------------


@transaction.atomic
def tenancy_set(*, actor: Any, site: Business, tenant: Business, kind: str) -> Tenancy:
    """Record that `tenant` rents inside `site` (a park or a factory); replaces its previous site."""
    _choice(kind, TenancyKind, field="kind", label=_("类型"))
    scope.require(actor, Perm.INSPECT_SAFETY, tenant.node.path, view_perm=Perm.VIEW_SAFETY)
    _visible_business(actor, site.pk, field="site")
    if site.pk == tenant.pk:
        raise DomainError(_("主体不能租赁在自己内部。"), field="site")
    if Tenancy.objects.filter(tenant_id=site.pk).exists():
        raise DomainError(_("所选园区/厂区本身是承租主体，不能再作为园区/厂区。"), field="site")
    if Tenancy.objects.filter(site_id=tenant.pk).exists():
        raise DomainError(_("该主体已有承租主体，不能再登记为承租方。"), field="tenant")
    tenancy, _created = Tenancy.objects.update_or_create(tenant=tenant, defaults={"site": site, "kind": kind})
    audit.record(actor=actor, action="safety.tenancy.set", obj=tenancy,
                 after={"site": site.pk, "tenant": tenant.pk, "kind": kind})
    return tenancy


# --- inspections ------------------------------------------------------------------------------


def failed_text(requirement: str) -> str:
    """A failed checklist item as a hazard's description: the requirement it does not meet."""
    return _("不符合：%(text)s") % {"text": requirement}


def new_code(now: datetime) -> str:
    return f"YH{timezone.localtime(now):%Y%m%d}-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))


def _creation_history(hazards: list[Hazard], actor: Any, now: datetime) -> None:
    name = username(actor)
    HazardTransition.objects.bulk_create([
        HazardTransition(hazard=h, seq=0, action="report", from_state=HazardState.OPEN, to_state=HazardState.OPEN,
                         actor=actor, actor_repr=name, data={"severity": h.severity, "deadline": h.deadline_at.isoformat()},
                         created_at=now)
        for h in hazards
    ])


_SUBMISSION = re.compile(r"[0-9A-Za-z-]{8,40}")


@transaction.atomic
def inspection_record(
    *, actor: Any, business: Business, inspected_on: date, template: ChecklistTemplate | None = None,
    campaign: Campaign | None = None, answers: Mapping[Any, str] | None = None,
    findings: Iterable[Mapping[str, Any]] = (), contact_name: str = "", contact_confirmed: bool = False,
    notes: str = "", site_inspection: Inspection | None = None, submission: str = "",
) -> Inspection:
    """Record one inspection: the checklist answers (item id → ok / fail / na), free findings
    ({description, severity, deadline_days, legal_basis}), the business contact's confirmation.

    Every failed item and every finding becomes a hazard (待整改) whose deadline counts
    `deadline_days` working days from the inspection; the business's risk colour is recomputed.

    `submission`: the form's one-time id. The same inspector sending the same id again (a phone
    that never got the answer) gets the inspection already recorded, marked `replayed`, and
    nothing is recorded twice."""
    business = Business.objects.select_related("node").get(pk=business.pk)
    scope.require(actor, Perm.INSPECT_SAFETY, business.node.path, view_perm=Perm.VIEW_SAFETY)
    if submission:
        if not _SUBMISSION.fullmatch(submission):
            raise DomainError(_("提交标识无效，请刷新页面后重新提交。"), field="submission")
        earlier = Inspection.objects.filter(inspector=actor, submission=submission).first()
        if earlier is not None:
            if earlier.business_id != business.pk:
                raise DomainError(_("提交标识无效，请刷新页面后重新提交。"), field="submission")
            earlier.replayed = True
            return earlier
    if not business.is_active:
        raise DomainError(_("该主体已歇业，不能检查。"), field="business")
    today = timezone.localdate()
    if not inspected_on:
        raise DomainError(_("请填写检查日期。"), field="inspected_on")
    if inspected_on > today:
        raise DomainError(_("检查日期不能晚于今天。"), field="inspected_on")
    if inspected_on < today - timedelta(days=INSPECTION_BACKDATE_DAYS):
        raise DomainError(_("检查日期不能早于 %(days)s 天前。") % {"days": INSPECTION_BACKDATE_DAYS},
                          field="inspected_on")
    if campaign is not None:
        if not CampaignTarget.objects.filter(campaign=campaign, business=business).exists():
            raise DomainError(_("该主体不在所选行动的排摸对象中。"), field="campaign")
        if not campaign.starts_on <= inspected_on <= campaign.ends_on:
            raise DomainError(_("检查日期不在所选行动的期间内。"), field="inspected_on")
    if template is not None and not template.is_active:
        raise DomainError(_("该检查表已停用。"), field="template")
    if site_inspection is not None and not Tenancy.objects.filter(
            tenant=business, site_id=site_inspection.business_id).exists():
        raise DomainError(_("该主体不是所选园区/厂区的承租主体。"), field="site_inspection")
    contact_name = clean_text(contact_name, field="contact_name", label=_("企业陪同人"), max_length=64)
    notes = clean_text(notes, field="notes", label=_("检查情况"), max_length=1000)
    if contact_confirmed and not contact_name:
        raise DomainError(_("企业确认须填写陪同人姓名。"), field="contact_name")
    items = {item.pk: item for item in template.items.filter(is_active=True)} if template is not None else {}
    answers = {str(k): v for k, v in dict(answers or {}).items()}
    stored, failed = [], []
    for pk, item in items.items():
        answer = answers.pop(str(pk), None) or "na"
        if answer not in ANSWERS:
            raise DomainError(_("第 %(n)s 项的检查结果无效。") % {"n": item.seq}, field=f"answers.{pk}")
        stored.append({"item": pk, "seq": item.seq, "text": item.text, "answer": answer})
        if answer == "fail":
            failed.append(item)
    if answers:
        raise DomainError(_("检查结果中有不属于该检查表的项目。"), field="answers")
    now = timezone.now()
    found_at = now if inspected_on == today else timezone.make_aware(datetime.combine(inspected_on, datetime.min.time()
                                                                                      ).replace(hour=10))
    field = template.field if template is not None else (campaign.field if campaign is not None else SafetyField.OTHER)
    hazard_rows: list[Hazard] = []
    for item in failed:
        hazard_rows.append(Hazard(item=item, description=failed_text(item.text), legal_basis=item.legal_basis,
                                  severity=item.severity, deadline_days=item.deadline_days))
    for n, finding in enumerate(findings, start=1):
        text = clean_text(finding.get("description"), field=f"findings[{n}].description",
                          label=_("第 %(n)s 条隐患描述") % {"n": n}, max_length=500, required=True)
        basis = clean_text(finding.get("legal_basis"), field=f"findings[{n}].legal_basis",
                           label=_("第 %(n)s 条依据") % {"n": n}, max_length=300)
        severity = finding.get("severity") or Severity.ORDINARY
        _choice(severity, Severity, field=f"findings[{n}].severity", label=_("第 %(n)s 条隐患等级") % {"n": n})
        days = _days(_or_default(finding.get("deadline_days")), field=f"findings[{n}].deadline_days")
        hazard_rows.append(Hazard(description=text, legal_basis=basis, severity=severity, deadline_days=days))
    try:
        with transaction.atomic():
            inspection = Inspection.objects.create(
                business=business, node=business.node, subdistrict_id=business.subdistrict_id, campaign=campaign,
                template=template, site_inspection=site_inspection, inspector=actor, inspected_on=inspected_on,
                answers=stored, contact_name=contact_name, contact_confirmed=bool(contact_confirmed), notes=notes,
                hazard_count=len(hazard_rows), submission=submission,
            )
    except IntegrityError:  # the same submission, sent twice at once: the other one records it
        raise ConflictError(_("这次检查正在登记中，请稍后刷新页面查看。")) from None
    for hazard in hazard_rows:
        hazard.code = new_code(found_at)
        hazard.business, hazard.node, hazard.subdistrict_id = business, business.node, business.subdistrict_id
        hazard.inspection, hazard.campaign, hazard.field, hazard.inspector = inspection, campaign, field, actor
        hazard.responsible_person = contact_name
        hazard.found_at = found_at
        hazard.deadline_at = deadline_from(found_at, hazard.deadline_days)
    Hazard.objects.bulk_create(hazard_rows)
    _creation_history(hazard_rows, actor, now)
    rollups.inspections_recorded([inspection])
    rollups.hazards_created(hazard_rows)
    audit.record(actor=actor, action="safety.inspection.record", obj=inspection,
                 after={**audit.snapshot(inspection, ["business_id", "inspected_on", "campaign_id", "template_id",
                                                      "contact_confirmed", "hazard_count"]),
                        "hazards": [h.code for h in hazard_rows]})
    if hazard_rows:
        risk_recompute(actor=actor, businesses=[business], cause=_("检查发现隐患"))
    return inspection


# --- the one guarded hazard transition function -----------------------------------------------


def hazard_actor_kinds(user: Any, hazard: Hazard) -> set[str]:
    """How the user relates to this hazard (see jiedao.safety.workflow.HazardActor)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return {HazardActor.ADMIN, HazardActor.LEADER, HazardActor.COMMUNITY}
    kinds: set[str] = set()
    for role, path, active, _department in scope.role_rows(user):
        if not active or not hazard.node.path.startswith(path):
            continue
        if role in (Role.GRID_WORKER, Role.GRID_LEADER):
            kinds.add(HazardActor.INSPECTOR)
        elif role in (Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF):
            kinds.add(HazardActor.COMMUNITY)
        elif role == Role.LEADER:
            kinds.add(HazardActor.LEADER)
        elif role == Role.ADMIN:
            kinds.add(HazardActor.ADMIN)
    return kinds


def hazard_act(*, actor: Any, hazard: Hazard, action: str, reason: str = "", **params: Any) -> Hazard:
    """Apply `action` to `hazard` if the transition table (jiedao.safety.workflow) allows it for
    this actor: compare-and-set on (state, version), a history row, the audit event, and the
    business's risk colour recomputed — all or nothing."""
    with transaction.atomic():
        current = Hazard.objects.select_related("node", "business").get(pk=hazard.pk)
        if not scope.restrict(Hazard.objects.filter(pk=current.pk), actor, Perm.VIEW_SAFETY).exists():
            raise Http404(_("未找到该隐患。"))
        kinds = hazard_actor_kinds(actor, current)
        return HAZARD_MACHINE.act(current, actor=actor, kinds=kinds, action=action, reason=reason,
                                  params={**params, "_actor": actor})


def _start(hazard, now, reason, params):
    changes = {}
    if params.get("measures"):
        changes["measures"] = clean_text(params["measures"], field="measures", label=_("整改措施"), max_length=500)
    if params.get("responsible_person"):
        changes["responsible_person"] = clean_text(params["responsible_person"], field="responsible_person",
                                                   label=_("企业整改责任人"), max_length=64)
    return Effect(changes)


def _submit(hazard, now, reason, params):
    return Effect({"rectified_at": now, "evidence": reason[:1000]}, data={"on_time": now <= hazard.deadline_at})


def _pass(hazard, now, reason, params):
    return Effect({"closed_at": now})


def _fail(hazard, now, reason, params):
    return Effect({"rework_count": F("rework_count") + 1, "rectified_at": None})


def _extend(hazard, now, reason, params):
    days = _days(params.get("deadline_days"))
    deadline = deadline_from(now, days)
    return Effect({"deadline_at": deadline, "deadline_days": days},
                  data={"from": hazard.deadline_at.isoformat(), "to": deadline.isoformat()})


def _escalate(hazard, now, reason, params):
    actor = params.get("_actor")
    business = hazard.business
    description = _("%(business)s（%(address)s）存在%(severity)s：%(text)s。整改期限 %(deadline)s，移交原因：%(reason)s") % {
        "business": business.name, "address": business.address or business.node.name,
        "severity": hazard.get_severity_display(), "text": hazard.description,
        "deadline": f"{timezone.localtime(hazard.deadline_at):%Y-%m-%d}", "reason": reason,
    }
    node, building = hazard.node, None
    if node.kind == NodeKind.BUILDING:
        node, building = None, hazard.node
    case = case_services.case_create(
        actor=actor, source=Source.PATROL, node=node, building=building, tier=Tier.PUBLIC, suggest=False,
        internal=True,  # names the business: for the enforcement staff, never the public Open311 feed
        title=(_("安全隐患移交执法：%(code)s %(business)s") % {"code": hazard.code, "business": business.name})[:100],
        description=description[:2000], address=business.address,
    )
    return Effect({"case": case}, data={"case": case.ticket})


def _after(hazard: Hazard, step: Step) -> None:
    rollups.hazard_changed(step.before, hazard)
    if step.action == HazardAction.CANCEL and hazard.inspection_id:
        # an inspection's 发现隐患数 counts its hazards not cancelled (docs/figures.md § 安全生产)
        Inspection.objects.filter(pk=hazard.inspection_id, hazard_count__gt=0).update(
            hazard_count=F("hazard_count") - 1)
    if step.action in (HazardAction.START, HazardAction.ESCALATE):
        return
    risk_recompute(actor=step.actor, businesses=[hazard.business],
                   cause=_("隐患%(code)s%(action)s") % {"code": hazard.code, "action": TABLE.actions(step.action).label})


HAZARD_MACHINE = Machine(
    table=TABLE, model=Hazard, history_model=HazardTransition, history_fk="hazard",
    effects={
        HazardAction.START: _start, HazardAction.SUBMIT: _submit, HazardAction.REINSPECT_PASS: _pass,
        HazardAction.REINSPECT_FAIL: _fail, HazardAction.EXTEND: _extend, HazardAction.ESCALATE: _escalate,
    },
    after=_after, actor_repr=username,
)


# --- 三色 risk --------------------------------------------------------------------------------


def rule_for(subdistrict_id: int) -> RiskRule:
    rule = RiskRule.objects.filter(subdistrict_id=subdistrict_id).first()
    return rule or RiskRule(subdistrict_id=subdistrict_id)


def risk_counts(business_ids: Iterable[int], rule: RiskRule, now: datetime | None = None) -> dict[int, risk.Counts]:
    """What the rule reads for each business, from the hazard rows."""
    now = now or timezone.now()
    ids = list(business_ids)
    since = now - timedelta(days=rule.recent_days)
    rows = (Hazard.objects.filter(business_id__in=ids).exclude(state=HazardState.CANCELLED)
            .values("business_id").annotate(
                open_total=Count("pk", filter=Q(state__in=OPEN_STATES)),
                open_major=Count("pk", filter=Q(state__in=OPEN_STATES, severity=Severity.MAJOR)),
                open_overdue=Count("pk", filter=Q(state__in=UNRECTIFIED_STATES, deadline_at__lt=now)),
                recent=Count("pk", filter=Q(found_at__gte=since)),
            ))
    by_id = {row.pop("business_id"): row for row in rows}
    industries = dict(Business.objects.filter(pk__in=ids).values_list("pk", "industry"))
    return {pk: risk.Counts(industry=industries.get(pk, ""), **by_id.get(pk, {})) for pk in ids}


def risk_recompute(*, actor: Any, businesses: Iterable[Business], cause: str, now: datetime | None = None) -> int:
    """Recompute the colour of these businesses by their sub-district's rule — the one writer of
    Business.risk_colour (the register's forms, API and import do not set it). Each change writes
    a RiskChange row (with the rule's reason and the cause); the changes are audited in one batch
    (audit.record_many, an event per business). Returns the number of changes. Called by the
    hazard and inspection services, when a business's industry or place changes, by the job after
    the rule is edited, and nightly (time-based terms: a hazard becomes overdue without a write)."""
    businesses = list(businesses)
    if not businesses:
        return 0
    now = now or timezone.now()
    by_sub: dict[int, list[Business]] = {}
    for business in businesses:
        by_sub.setdefault(business.subdistrict_id, []).append(business)
    events: list[tuple[str, str, Any, str, dict | None, dict | None]] = []
    user = actor if getattr(actor, "pk", None) else None
    with transaction.atomic():
        for subdistrict_id, group in by_sub.items():
            rule = rule_for(subdistrict_id)
            # the rows are locked (in id order) before their hazards are counted, so a hazard
            # service recolouring one of them waits for this recompute, or this one for it: neither
            # writes a colour from counts the other has made stale (PostgreSQL; SQLite writes one at a time)
            current = {pk: (colour, node_id, name) for pk, colour, node_id, name in Business.objects.select_for_update()
                       .filter(pk__in=[b.pk for b in group]).order_by("pk")
                       .values_list("pk", "risk_colour", "node_id", "name")}
            counts = risk_counts([b.pk for b in group], rule, now)
            moved: dict[str, list[int]] = {}
            rows = []
            for business in group:
                if business.pk not in current:
                    continue
                old, node_id, name = current[business.pk]
                colour, why = risk.evaluate(rule, counts[business.pk])
                if old == colour:
                    continue
                reason = f"{why}（{cause}）"[:300]
                moved.setdefault(colour, []).append(business.pk)
                business.risk_colour = colour
                rows.append(RiskChange(business_id=business.pk, node_id=node_id, from_colour=old, to_colour=colour,
                                       reason=reason, actor=user, created_at=now))
                events.append(("safety.risk.change", Business._meta.label_lower, business.pk, name,
                               {"risk_colour": old}, {"risk_colour": colour, "reason": reason}))
            for colour, ids in moved.items():
                for chunk in range(0, len(ids), 500):
                    Business.objects.filter(pk__in=ids[chunk:chunk + 500]).update(risk_colour=colour, updated_at=now)
            RiskChange.objects.bulk_create(rows, batch_size=500)
        audit.record_many(actor=actor, events=events, reason=cause)
    return len(events)


def risk_recompute_job(subdistrict_id: int, actor_id: int | None = None, cause: str = "") -> int:
    """Task entry point (jiedao.core.tasks.submit takes plain ids): recompute every active business
    of the sub-district, then mark the rule's recomputation done as of the job's start (a rule
    edited meanwhile stays "正在重新计算" until its own job has run)."""
    from django.contrib.auth import get_user_model

    started = timezone.now()
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    businesses = Business.objects.filter(subdistrict_id=subdistrict_id, is_active=True).only(
        "pk", "subdistrict_id", "node_id", "name")
    changed = risk_recompute(actor=actor, businesses=businesses, cause=cause or _("三色规则调整"), now=started)
    RiskRule.objects.filter(subdistrict_id=subdistrict_id).update(recomputed_at=started)
    return changed


def risk_recompute_all() -> int:
    """The nightly job (registered in SafetyConfig.ready): every sub-district with active
    businesses, so colours follow the rule's time-based terms (a hazard passing its deadline, a
    hazard leaving the recent window) even on days nothing is written."""
    total = 0
    for subdistrict_id in (Business.objects.filter(is_active=True).order_by().values_list("subdistrict_id", flat=True)
                           .distinct()):
        if subdistrict_id:
            total += risk_recompute_job(subdistrict_id, None, _("每日定时重新评定"))
    return total


def business_register_changed(actor: Any, businesses: list[Business], changed: set[str]) -> None:
    """The hook jiedao.people calls when businesses are registered (`changed` empty) or their
    industry, place or status change (installed in SafetyConfig.ready): the colour follows at once."""
    if changed and not changed & {"industry", "node", "node_id", "subdistrict", "subdistrict_id", "is_active"}:
        return
    risk_recompute(actor=actor, businesses=[b for b in businesses if b.is_active], cause=_("主体登记信息变化"))


RULE_FIELDS = ("red_open_major", "red_open_overdue", "yellow_open", "yellow_recent", "recent_days")


@transaction.atomic
def risk_rule_update(*, actor: Any, subdistrict: OrgNode, **changes: Any) -> RiskRule:
    """Edit the sub-district's 三色 rule. Recomputing every business of the sub-district by it is
    queued (risk_recompute_job, run after this transaction commits, never in the request); the
    rule shows `recomputing` until that job has run."""
    scope.require(actor, Perm.MANAGE_SAFETY, subdistrict.path, view_perm=Perm.VIEW_SAFETY)
    if subdistrict.kind != NodeKind.SUBDISTRICT:
        raise DomainError(_("三色规则按街道设置。"), field="subdistrict")
    rule, _created = RiskRule.objects.select_for_update().get_or_create(subdistrict=subdistrict)
    before = audit.snapshot(rule, [*RULE_FIELDS, "high_risk_industries"])
    for name, value in changes.items():
        if name in RULE_FIELDS:
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = -1
            limit = 3660 if name == "recent_days" else 99
            if not 0 <= number <= limit or (name == "recent_days" and number < 1):
                label = RiskRule._meta.get_field(name).verbose_name
                raise DomainError(_("%(label)s须为 0–%(limit)s 的整数。") % {"label": label, "limit": limit}, field=name)
            setattr(rule, name, number)
        elif name == "high_risk_industries":
            values = value.split() if isinstance(value, str) else list(value or [])
            rule.high_risk_industries = [clean_text(v, field=name, label=_("高风险行业"), max_length=64)
                                         for v in values if str(v).strip()]
        else:
            raise DomainError(_("未知的规则字段“%(name)s”。") % {"name": name}, field=name)
    old, new = audit.changed(before, audit.snapshot(rule, [*RULE_FIELDS, "high_risk_industries"]))
    if new:
        rule.recompute_requested_at = timezone.now()
    rule.save()
    if new:
        audit.record(actor=actor, action="safety.risk_rule.update", obj=rule, before=old, after=new)
        actor_id, cause = getattr(actor, "pk", None), _("三色规则调整")
        transaction.on_commit(lambda: tasks.submit("jiedao.safety.services.risk_recompute_job", subdistrict.pk,
                                                   actor_id, cause))
    return rule


# --- photos (encrypted at rest in the file vault) ---------------------------------------------

PHOTOS_PER_OBJECT = 9
PHOTO_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def photo_dir() -> Any:
    from django.conf import settings

    path = settings.DATA_DIR / "safety" / "photos"
    path.mkdir(parents=True, exist_ok=True)
    return path


def photo_label(stored: str) -> str:
    return f"safety-photo:{stored}"


@transaction.atomic
def photos_add(*, actor: Any, inspection: Inspection, uploads: list[Any], hazard: Hazard | None = None) -> list[Any]:
    """Keep photos of an inspection (or, with `hazard`, of its rectification) encrypted in the
    file vault: JPG, PNG or WEBP judged by content, 10 MB at most, 9 per inspection or hazard.
    Every upload is checked before any is written, and the files written are removed again if
    the rows cannot be: a refused batch leaves nothing on disk."""
    from jiedao.core import filevault
    from jiedao.safety.models import PhotoKind, SafetyPhoto

    node = inspection.node if hazard is None else hazard.node
    scope.require(actor, Perm.INSPECT_SAFETY, node.path, view_perm=Perm.VIEW_SAFETY)
    if hazard is not None and hazard.inspection_id != inspection.pk:
        raise DomainError(_("该隐患不是这次检查发现的。"), field="hazard")
    kinds = []
    for upload in uploads:
        kind = case_services.sniff_upload(upload)
        if kind not in PHOTO_TYPES:
            raise DomainError(_("只能上传 JPG、PNG、WEBP 照片。"), field="photos")
        kinds.append(kind)
    existing = SafetyPhoto.objects.filter(inspection=inspection, hazard=hazard).count()
    if existing + len(uploads) > PHOTOS_PER_OBJECT:
        raise DomainError(_("照片最多 %(n)s 张。") % {"n": PHOTOS_PER_OBJECT}, field="photos")
    written: list[Any] = []
    photos = []
    try:
        for upload, kind in zip(uploads, kinds, strict=True):
            stored = secrets.token_hex(16)
            upload.seek(0)
            written.append(photo_dir() / stored)
            with filevault.VaultWriter(written[-1], photo_label(stored)) as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            photo = SafetyPhoto.objects.create(
                inspection=inspection, hazard=hazard, stored=stored, content_type=PHOTO_TYPES[kind], size=upload.size,
                kind=PhotoKind.RECTIFICATION if hazard is not None else PhotoKind.INSPECTION,
                uploaded_by=actor if getattr(actor, "pk", None) else None)
            audit.record(actor=actor, action="safety.photo.add", obj=photo,
                         after={"inspection": inspection.pk, "hazard": hazard.pk if hazard else None,
                                "size": upload.size})
            photos.append(photo)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return photos


def photo_bytes(photo: Any) -> bytes:
    from jiedao.core import filevault

    return filevault.read_bytes(photo_dir() / photo.stored, photo_label(photo.stored))
