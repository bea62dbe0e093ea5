"""Every write to the registers: residents, households, special-group tags and businesses.

Each function runs in one transaction, checks scope through jiedao.core.scope, validates with
Chinese messages naming the field, encrypts personal identifiers and appends an audit event.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.core import audit, crypto, scope, sealed
from jiedao.core import limits as shared_limits
from jiedao.core import text as boundary
from jiedao.core.errors import ConflictError, DomainError, PermissionError_, ThrottledError
from jiedao.core.permissions import Perm
from jiedao.core.validators import validate_id_number, validate_phone, validate_uscc
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import (
    Business,
    BusinessSize,
    Household,
    Resident,
    ResidentTag,
    SpecialGroup,
)

RESIDENT_NODE_KINDS = frozenset({NodeKind.GRID, NodeKind.MICROGRID, NodeKind.BUILDING})
RESIDENT_EDITABLE = (
    "name", "id_number", "phone", "household", "relation", "registered_address", "actual_address",
    "is_floating", "notes", "node", "is_active",
)


def _place(node: OrgNode, *, field: str = "node") -> None:
    if node.kind not in RESIDENT_NODE_KINDS:
        raise DomainError(_("居民、住户和主体只能登记在网格、微网格或楼栋上。"), field=field)


def _text(value: Any, *, field: str, label: Any, max_length: int, required: bool = False) -> str:
    text = " ".join(boundary.clean(str(value or ""), field=field, label=label).split())
    if required and not text:
        raise DomainError(_("%(label)s不能为空。") % {"label": label}, field=field)
    if len(text) > max_length:
        raise DomainError(_("%(label)s不能超过 %(limit)s 个字。") % {"label": label, "limit": max_length}, field=field)
    return text


# A refused duplicate tells that a typed ID number is registered (a form's 409, an import's refused
# row): per user at most this many (refusals, seconds) in shared counters (jiedao.core.limits),
# after which every ID-number write of that user is refused whatever the number (429), so neither
# the forms nor the importer can test the candidates a mask leaves. settings.JIEDAO_PEOPLE_ID_CLASH_LIMIT.
ID_CLASH_LIMIT = (10, 86400)


def _id_clash_limit() -> tuple[int, int]:
    from django.conf import settings

    return tuple(getattr(settings, "JIEDAO_PEOPLE_ID_CLASH_LIMIT", ID_CLASH_LIMIT))  # type: ignore[return-value]


def _id_clash_key(actor: Any) -> str:
    return f"jiedao:people-id-clash:{actor.pk}"


def id_clash_allowance(actor: Any) -> int:
    """How many more ID-number clashes `actor` may meet today before ID writes are refused."""
    uses, _window = _id_clash_limit()
    return max(0, uses - shared_limits.peek(_id_clash_key(actor)))


def id_clashes_count(*, actor: Any, clashes: list[tuple[int, str]], source: str) -> None:
    """Count and audit clashes `actor` met. Call it outside the transaction the refusal rolls back
    (before it, or after it ended), so the count and the event survive the refusal."""
    if not clashes:
        return
    shared_limits.hit(_id_clash_key(actor), _id_clash_limit()[1], uses=len(clashes))
    with transaction.atomic():
        audit.record(actor=actor, action="people.resident.id_clash", object_type="people.resident", object_id="",
                     after={"source": source, "count": len(clashes),
                            "rows": [{"row": row, "id_number": masked} for row, masked in clashes[:100]]})


def id_clash_refusal() -> ThrottledError:
    return ThrottledError(_("身份证号重复的次数过多，今天暂停登记或修改身份证号，请明天再试或联系社区书记。"),
                          field="id_number")


def _refuse_registered_id(*, actor: Any, id_number: str, exclude_pk: int | None = None) -> None:
    """Before the write's transaction: refuse an ID number registered to another resident (409),
    counted and audited first, and any ID number once the day's clashes are used up (429)."""
    id_number = crypto.normalise(id_number or "", "id_number")
    if not id_number:
        return
    validate_id_number(id_number)
    if id_clash_allowance(actor) <= 0:
        raise id_clash_refusal()
    clash = Resident.objects.filter(id_number_bidx__in=sealed.lookup_keys("id_number", id_number))
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        id_clashes_count(actor=actor, clashes=[(0, crypto.mask(id_number, "id_number"))], source="form")
        raise ConflictError(_("该身份证号已登记在其他居民名下。"), field="id_number")


def _apply_id_number(resident: Resident, id_number: str) -> None:
    """Seal the ID number onto the resident; gender and birth date follow it (and stay when it is cleared).
    The clash was checked (and counted) by _refuse_registered_id; this check only closes the race."""
    id_number = crypto.normalise(id_number or "", "id_number")
    if not id_number:
        resident.id_number_enc = resident.id_number_bidx = resident.id_number_masked = ""
        return
    validate_id_number(id_number)
    sealed_id = sealed.seal("id_number", id_number)
    clash = Resident.objects.filter(id_number_bidx__in=sealed_id.lookup_keys)
    if resident.pk:
        clash = clash.exclude(pk=resident.pk)
    if clash.exists():
        raise ConflictError(_("该身份证号已登记在其他居民名下。"), field="id_number")
    _assign(resident, sealed_id.fields("id_number"))
    resident.gender, resident.birth_date = sealed_id.gender, sealed_id.birth_date


def _apply_phone(obj: Resident | Business, phone: str) -> None:
    phone = (phone or "").strip()
    validate_phone(phone)
    _assign(obj, sealed.seal("phone", phone).fields("phone"))


def _assign(obj: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(obj, name, value)


def _check_household(household: Household | None, node: OrgNode) -> None:
    """A member lives where the household is: one node must contain the other."""
    if household is None:
        return
    here, there = node.path, household.node.path
    if not (here.startswith(there) or there.startswith(here)):
        raise DomainError(_("所选住户不在该居民所在的网格内。"), field="household")


def resident_create(
    *,
    actor: Any,
    node: OrgNode,
    name: str,
    id_number: str = "",
    phone: str = "",
    household: Household | None = None,
    relation: str = "",
    registered_address: str = "",
    actual_address: str = "",
    is_floating: bool = False,
    notes: str = "",
) -> Resident:
    """Register a resident on a grid, micro-grid or building."""
    scope.require(actor, Perm.MANAGE_PEOPLE, node.path, view_perm=Perm.VIEW_PEOPLE)
    _refuse_registered_id(actor=actor, id_number=id_number)
    with transaction.atomic():
        return _resident_insert(
            actor=actor, node=node, name=name, id_number=id_number, phone=phone, household=household,
            relation=relation, registered_address=registered_address, actual_address=actual_address,
            is_floating=is_floating, notes=notes,
        )


def _resident_insert(*, actor: Any, node: OrgNode, name: str, id_number: str, phone: str,
                     household: Household | None, relation: str, registered_address: str, actual_address: str,
                     is_floating: bool, notes: str) -> Resident:
    scope.require(actor, Perm.MANAGE_PEOPLE, node.path, view_perm=Perm.VIEW_PEOPLE)
    _place(node)
    resident = Resident(
        node=node,
        subdistrict_id=node.subdistrict_id,
        name=_text(name, field="name", label=gettext_lazy("姓名"), max_length=64, required=True),
        household=household,
        relation=_text(relation, field="relation", label=gettext_lazy("与户主关系"), max_length=16),
        registered_address=_text(
            registered_address, field="registered_address", label=gettext_lazy("户籍地址"), max_length=200
        ),
        actual_address=_text(actual_address, field="actual_address", label=gettext_lazy("现住地址"), max_length=200),
        is_floating=bool(is_floating),
        notes=_text(notes, field="notes", label=gettext_lazy("备注"), max_length=500),
    )
    _check_household(household, node)
    _apply_id_number(resident, id_number)
    _apply_phone(resident, phone)
    resident.save()
    audit.record(actor=actor, action="people.resident.create", obj=resident, after=audit.snapshot(resident))
    return resident


def resident_update(*, actor: Any, resident: Resident, **changes: Any) -> Resident:
    """Change a resident's editable fields; ID number and phone are re-encrypted."""
    unknown = set(changes) - set(RESIDENT_EDITABLE)
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))}, field=sorted(unknown)[0])
    if "id_number" in changes:
        current = Resident.objects.select_related("node").get(pk=resident.pk)
        scope.require(actor, Perm.MANAGE_PEOPLE, current.node.path, view_perm=Perm.VIEW_PEOPLE)
        _refuse_registered_id(actor=actor, id_number=changes["id_number"], exclude_pk=resident.pk)
    with transaction.atomic():
        return _resident_change(actor=actor, resident=resident, changes=changes)


def _resident_change(*, actor: Any, resident: Resident, changes: dict[str, Any]) -> Resident:
    resident = Resident.objects.select_for_update().select_related("node").get(pk=resident.pk)
    scope.require(actor, Perm.MANAGE_PEOPLE, resident.node.path, view_perm=Perm.VIEW_PEOPLE)
    before = audit.snapshot(resident)
    if "node" in changes:
        scope.require(actor, Perm.MANAGE_PEOPLE, changes["node"].path, view_perm=Perm.VIEW_PEOPLE)
        _place(changes["node"])
        resident.node = changes.pop("node")
        resident.subdistrict_id = resident.node.subdistrict_id
    if "id_number" in changes:
        _apply_id_number(resident, changes.pop("id_number"))
    if "phone" in changes:
        _apply_phone(resident, changes.pop("phone"))
    limits = {
        "name": (gettext_lazy("姓名"), 64), "relation": (gettext_lazy("与户主关系"), 16),
        "registered_address": (gettext_lazy("户籍地址"), 200), "actual_address": (gettext_lazy("现住地址"), 200),
        "notes": (gettext_lazy("备注"), 500),
    }
    for key, value in changes.items():
        if key in limits:
            label, size = limits[key]
            value = _text(value, field=key, label=label, max_length=size, required=key == "name")
        setattr(resident, key, value)
    _check_household(resident.household, resident.node)
    resident.save()
    old, new = audit.changed(before, audit.snapshot(resident))
    if new:
        audit.record(actor=actor, action="people.resident.update", obj=resident, before=old, after=new)
    return resident


@transaction.atomic
def resident_reveal(*, actor: Any, resident: Resident, field: str, reason: str) -> str:
    """Show one personal identifier in clear: needs the reveal permission and a reason; audited."""
    if field not in {"id_number", "phone"}:
        raise DomainError(_("只能查看身份证号或联系电话的明文。"), field="field")
    scope.require(actor, Perm.REVEAL_PII, resident.node.path, view_perm=Perm.VIEW_PEOPLE)
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError(_("请填写查看明文的事由。"), field="reason")
    value = sealed.reveal(resident, field)
    audit.record(
        actor=actor, action=f"people.resident.reveal_{field}", obj=resident, reason=reason[:500],
    )
    return value


@transaction.atomic
def household_create(
    *, actor: Any, node: OrgNode, number: str, address: str, unit: str = "", floor: int | None = None,
    room: str = "", notes: str = "",
) -> Household:
    scope.require(actor, Perm.MANAGE_PEOPLE, node.path, view_perm=Perm.VIEW_PEOPLE)
    _place(node)
    number = _text(number, field="number", label=gettext_lazy("户号"), max_length=32, required=True)
    if Household.objects.filter(subdistrict_id=node.subdistrict_id, number=number).exists():
        raise ConflictError(_("户号“%(number)s”已存在。") % {"number": number}, field="number")
    household = Household.objects.create(
        node=node, subdistrict_id=node.subdistrict_id, number=number,
        address=_text(address, field="address", label=gettext_lazy("住址"), max_length=200, required=True),
        unit=_text(unit, field="unit", label=gettext_lazy("单元"), max_length=16), floor=floor,
        room=_text(room, field="room", label=gettext_lazy("室号"), max_length=16),
        notes=_text(notes, field="notes", label=gettext_lazy("备注"), max_length=500),
    )
    audit.record(actor=actor, action="people.household.create", obj=household, after=audit.snapshot(household))
    return household


@transaction.atomic
def household_set_head(*, actor: Any, household: Household, head: Resident | None) -> Household:
    scope.require(actor, Perm.MANAGE_PEOPLE, household.node.path, view_perm=Perm.VIEW_PEOPLE)
    if head is not None and head.household_id != household.pk:
        raise DomainError(_("户主必须是该户的成员。"), field="head")
    before = {"head_id": household.head_id}
    household.head = head
    household.save(update_fields=["head", "updated_at"])
    audit.record(actor=actor, action="people.household.set_head", obj=household, before=before,
                 after={"head_id": household.head_id})
    return household


@transaction.atomic
def special_group_create(
    *, actor: Any, code: str, name: str, fields: list[dict] | None = None, visit_interval_days: int | None = None
) -> SpecialGroup:
    """Add a special-group category (administrators)."""
    if not scope.has_perm_anywhere(actor, Perm.MANAGE_ORG):
        from jiedao.core.errors import PermissionError_

        raise PermissionError_()
    code = _text(code, field="code", label=gettext_lazy("代码"), max_length=32, required=True)
    name = _text(name, field="name", label=gettext_lazy("名称"), max_length=32, required=True)
    if SpecialGroup.objects.filter(code=code).exists() or SpecialGroup.objects.filter(name=name).exists():
        raise ConflictError(_("类别代码或名称已存在。"), field="code")
    _check_group_fields(fields or [])
    group = SpecialGroup.objects.create(code=code, name=name, fields=fields or [],
                                        visit_interval_days=visit_interval_days)
    audit.record(actor=actor, action="people.group.create", obj=group, after=audit.snapshot(group))
    return group


@transaction.atomic
def special_group_set_interval(*, actor: Any, group: SpecialGroup, visit_interval_days: int | None) -> SpecialGroup:
    """Change a group's visit interval (administrators); empty: the group needs no visits. The
    visit schedules (jiedao.welfare) are computed from it on every read, so they follow at once."""
    if not scope.has_perm_anywhere(actor, Perm.MANAGE_ORG):
        raise PermissionError_()
    if visit_interval_days is not None and not (isinstance(visit_interval_days, int)
                                                and 1 <= visit_interval_days <= 3650):
        raise DomainError(_("走访周期须为 1–3650 天。"), field="visit_interval_days")
    group = SpecialGroup.objects.select_for_update().get(pk=group.pk)
    before = audit.snapshot(group, ["visit_interval_days"])
    group.visit_interval_days = visit_interval_days
    group.save(update_fields=["visit_interval_days", "updated_at"])
    audit.record(actor=actor, action="people.group.interval", obj=group, before=before,
                 after=audit.snapshot(group, ["visit_interval_days"]))
    return group


def _check_group_fields(fields: list[dict]) -> None:
    for index, item in enumerate(fields, start=1):
        if not isinstance(item, dict) or not item.get("name") or not item.get("label"):
            raise DomainError(_("第 %(index)s 个附加字段需要 name 和 label。") % {"index": index}, field="fields")
        if item.get("type", "text") not in {"text", "number", "date", "choice"}:
            raise DomainError(
                _("第 %(index)s 个附加字段的类型应为 text、number、date 或 choice。") % {"index": index}, field="fields"
            )


def _clean_tag_data(group: SpecialGroup, data: dict[str, Any]) -> dict[str, Any]:
    known = {f["name"]: f for f in group.fields}
    cleaned: dict[str, Any] = {}
    for key, value in (data or {}).items():
        spec = known.get(key)
        if spec is None:
            raise DomainError(_("“%(group)s”没有字段“%(field)s”。") % {"group": group.name, "field": key}, field=f"data.{key}")
        if value in (None, ""):
            continue
        kind = spec.get("type", "text")
        if kind == "number":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise DomainError(_("%(label)s应为数字。") % {"label": spec["label"]}, field=f"data.{key}") from None
        elif kind == "date":
            try:
                value = date.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise DomainError(
                    _("%(label)s应为日期（YYYY-MM-DD）。") % {"label": spec["label"]}, field=f"data.{key}"
                ) from None
        elif kind == "choice" and value not in spec.get("choices", []):
            raise DomainError(
                _("%(label)s应为：%(choices)s。") % {"label": spec["label"], "choices": _("、").join(spec.get("choices", []))},
                field=f"data.{key}",
            )
        cleaned[key] = value
    return cleaned


@transaction.atomic
def resident_tag(
    *, actor: Any, resident: Resident, group: SpecialGroup, start_date: date | None = None,
    end_date: date | None = None, data: dict[str, Any] | None = None, notes: str = "",
) -> ResidentTag:
    """Put a resident in a special group (or update the existing membership)."""
    scope.require(actor, Perm.MANAGE_PEOPLE, resident.node.path, view_perm=Perm.VIEW_PEOPLE)
    if start_date and end_date and end_date < start_date:
        raise DomainError(_("退出日期不能早于认定日期。"), field="end_date")
    cleaned = _clean_tag_data(group, data or {})
    tag, created = ResidentTag.objects.get_or_create(resident=resident, group=group)
    before = None if created else audit.snapshot(tag)
    tag.start_date, tag.end_date, tag.data = start_date, end_date, cleaned
    tag.notes = _text(notes, field="notes", label=gettext_lazy("备注"), max_length=500)
    tag.save()
    audit.record(actor=actor, action="people.resident.tag", obj=tag, before=before, after=audit.snapshot(tag))
    return tag


@transaction.atomic
def resident_untag(*, actor: Any, tag: ResidentTag) -> None:
    scope.require(actor, Perm.MANAGE_PEOPLE, tag.resident.node.path, view_perm=Perm.VIEW_PEOPLE)
    audit.record(actor=actor, action="people.resident.untag", obj=tag, before=audit.snapshot(tag))
    tag.delete()


# No risk_colour: the 三色 colour has one writer, the safety rule (jiedao.safety.services.risk_recompute).
BUSINESS_EDITABLE = ("name", "uscc", "kind", "legal_rep", "address", "industry", "size",
                     "phone", "node", "is_active")

# Called as hook(actor, businesses, changed_fields) after businesses are registered (changed: an
# empty set) or changed, inside the same transaction; a higher app (safety: the risk colour
# follows the industry and place) installs its hook in its AppConfig.ready().
BUSINESS_CHANGED_HOOKS: list[Any] = []


def on_business_changed(hook: Any) -> None:
    if hook not in BUSINESS_CHANGED_HOOKS:
        BUSINESS_CHANGED_HOOKS.append(hook)


def notify_business_changed(actor: Any, businesses: list[Business], changed: set[str]) -> None:
    for hook in BUSINESS_CHANGED_HOOKS:
        hook(actor, businesses, changed)


def _apply_business_fields(business: Business, fields: dict[str, Any]) -> None:
    limits = {
        "name": (gettext_lazy("名称"), 128), "kind": (gettext_lazy("主体类型"), 32),
        "legal_rep": (gettext_lazy("法定代表人"), 64), "address": (gettext_lazy("经营地址"), 200),
        "industry": (gettext_lazy("行业"), 64),
    }
    for key, value in fields.items():
        if key in limits:
            label, size = limits[key]
            setattr(business, key, _text(value, field=key, label=label, max_length=size, required=key == "name"))
        elif key == "uscc":
            code = "".join(str(value or "").split()).upper()
            if code:
                validate_uscc(code)
                clash = Business.objects.filter(uscc=code)
                if business.pk:
                    clash = clash.exclude(pk=business.pk)
                if clash.exists():
                    raise ConflictError(_("统一社会信用代码“%(code)s”已登记。") % {"code": code}, field="uscc")
            business.uscc = code
        elif key == "size":
            if value and value not in BusinessSize.values:
                raise DomainError(_("规模应为大型、中型、小型、微型或个体。"), field="size")
            business.size = value or ""
        elif key == "phone":
            _apply_phone(business, value)
        elif key == "is_active":
            business.is_active = bool(value)


@transaction.atomic
def business_create(*, actor: Any, node: OrgNode, name: str, **fields: Any) -> Business:
    """Register a business on a grid, micro-grid or building."""
    unknown = set(fields) - set(BUSINESS_EDITABLE)
    if unknown:
        raise DomainError(_("未知字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))}, field=sorted(unknown)[0])
    scope.require(actor, Perm.MANAGE_BUSINESSES, node.path, view_perm=Perm.VIEW_BUSINESSES)
    _place(node)
    business = Business(node=node, subdistrict_id=node.subdistrict_id)
    _apply_business_fields(business, {"name": name, **fields})
    business.save()
    audit.record(actor=actor, action="people.business.create", obj=business, after=audit.snapshot(business))
    notify_business_changed(actor, [business], set())
    return business


@transaction.atomic
def business_update(*, actor: Any, business: Business, **changes: Any) -> Business:
    unknown = set(changes) - set(BUSINESS_EDITABLE)
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))}, field=sorted(unknown)[0])
    business = Business.objects.select_for_update().select_related("node").get(pk=business.pk)
    scope.require(actor, Perm.MANAGE_BUSINESSES, business.node.path, view_perm=Perm.VIEW_BUSINESSES)
    before = audit.snapshot(business)
    if "node" in changes:
        node = changes.pop("node")
        scope.require(actor, Perm.MANAGE_BUSINESSES, node.path, view_perm=Perm.VIEW_BUSINESSES)
        _place(node)
        business.node, business.subdistrict_id = node, node.subdistrict_id
    _apply_business_fields(business, changes)
    business.save()
    old, new = audit.changed(before, audit.snapshot(business))
    if new:
        audit.record(actor=actor, action="people.business.update", obj=business, before=old, after=new)
        notify_business_changed(actor, [business], set(new))
    return business


def export_reveal_check(*, actor: Any, reason: str) -> str:
    """Clear identifiers in an export: the reveal permission somewhere and a stated reason
    (returned cleaned). The exported rows are then narrowed to where the permission holds
    (selectors.revealable), and the export is audited with the reason (core.exports.record_export)."""
    if not scope.has_perm_anywhere(actor, Perm.REVEAL_PII):
        from jiedao.core.errors import PermissionError_

        raise PermissionError_(_("您没有导出明文的权限，只能导出脱敏数据。"), field="reveal")
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError(_("请填写导出明文的事由。"), field="reason")
    return reason[:500]


@transaction.atomic
def household_update(*, actor: Any, household: Household, **changes: Any) -> Household:
    """Change a household's number, address, place or notes (the head: household_set_head)."""
    editable = {"number", "address", "node", "unit", "floor", "room", "notes"}
    unknown = set(changes) - editable
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))}, field=sorted(unknown)[0])
    household = Household.objects.select_for_update().select_related("node").get(pk=household.pk)
    scope.require(actor, Perm.MANAGE_PEOPLE, household.node.path, view_perm=Perm.VIEW_PEOPLE)
    before = audit.snapshot(household)
    if "node" in changes:
        node = changes.pop("node")
        scope.require(actor, Perm.MANAGE_PEOPLE, node.path, view_perm=Perm.VIEW_PEOPLE)
        _place(node)
        if node.subdistrict_id != household.subdistrict_id:
            raise DomainError(_("住户不能迁到其他街道。"), field="node")
        household.node = node
    limits = {
        "number": (gettext_lazy("户号"), 32), "address": (gettext_lazy("住址"), 200), "unit": (gettext_lazy("单元"), 16),
        "room": (gettext_lazy("室号"), 16), "notes": (gettext_lazy("备注"), 500),
    }
    for key, value in changes.items():
        if key in limits:
            label, size = limits[key]
            value = _text(value, field=key, label=label, max_length=size, required=key in ("number", "address"))
        setattr(household, key, value)
    clash = Household.objects.filter(subdistrict_id=household.subdistrict_id, number=household.number)
    if clash.exclude(pk=household.pk).exists():
        raise ConflictError(_("户号“%(number)s”已存在。") % {"number": household.number}, field="number")
    household.save()
    old, new = audit.changed(before, audit.snapshot(household))
    if new:
        audit.record(actor=actor, action="people.household.update", obj=household, before=old, after=new)
    return household


@transaction.atomic
def business_reveal(*, actor: Any, business: Business, reason: str) -> str:
    """A business's contact phone in clear: the reveal permission on its place and a reason; audited."""
    scope.require(actor, Perm.REVEAL_PII, business.node.path, view_perm=Perm.VIEW_BUSINESSES)
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError(_("请填写查看明文的事由。"), field="reason")
    value = sealed.reveal(business, "phone")
    audit.record(actor=actor, action="people.business.reveal_phone", obj=business, reason=reason[:500])
    return value


# --- finding a resident by a full ID number or phone --------------------------------------------

# Lookups per user: (lookups, seconds) per hour and per day. A mask leaves more than 10,000
# candidates (docs/architecture.md, "Sealed identifiers"); these limits keep a lookup from testing
# them one by one. Overridden by settings.JIEDAO_PEOPLE_LOOKUP_LIMITS; counted across processes (core.limits).
LOOKUP_LIMITS = {"hour": (20, 3600), "day": (60, 86400)}
LOOKUP_REASON_MAX = 200
LOOKUP_KINDS = {"id_number": gettext_lazy("身份证号"), "phone": gettext_lazy("联系电话")}


def resident_lookup(*, actor: Any, kind: str, value: str, reason: str) -> list[Resident]:
    """The residents (within the actor's LOOKUP_PEOPLE scope) whose ID number or phone is exactly
    `value`. Needs Perm.LOOKUP_PEOPLE (403), a reason (2 to 200 characters), a valid number;
    throttled per user (LOOKUP_LIMITS, 429); audited with the masked number, what was found and the
    reason. Values stay masked in what is returned: revealing one is resident_reveal."""
    from jiedao.people import selectors

    if not scope.has_perm_anywhere(actor, Perm.LOOKUP_PEOPLE):
        raise PermissionError_(_("您没有按身份证号或电话查找居民的权限。"))
    if kind not in LOOKUP_KINDS:
        raise DomainError(_("只能按身份证号或联系电话查找。"), field="kind")
    number = crypto.normalise(value or "", kind)
    if not number:
        raise DomainError(_("请填写要查找的完整号码。"), field="value")
    if kind == "id_number":
        validate_id_number(number, field="value")
    else:
        validate_phone(number, field="value")
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError(_("请填写查找事由：为什么要按号码查找居民。"), field="reason")
    if len(reason) > LOOKUP_REASON_MAX:
        raise DomainError(_("查找事由不能超过 %(n)s 个字。") % {"n": LOOKUP_REASON_MAX}, field="reason")
    _lookup_throttle(actor)
    found = selectors.resident_lookup(actor, kind=kind, value=number)
    mask = crypto.mask(number, kind)
    with transaction.atomic():
        audit.record(
            actor=actor, action="people.resident.lookup", object_type=Resident._meta.label_lower,
            object_id=found[0].pk if len(found) == 1 else "", object_repr=mask, reason=reason,
            after={"kind": kind, "value": mask, "found": len(found), "residents": [r.pk for r in found]},
        )
    return found


def _lookup_throttle(actor: Any) -> None:
    """Count one lookup against each window; ThrottledError (429) once one is used up."""
    from django.conf import settings

    windows = {**LOOKUP_LIMITS, **getattr(settings, "JIEDAO_PEOPLE_LOOKUP_LIMITS", {})}
    for name, (uses, window) in windows.items():
        if shared_limits.hit(f"jiedao:people-lookup:{name}:{actor.pk}", window) > uses:
            raise ThrottledError(_("按号码查找过于频繁：每 %(m)s 分钟最多 %(n)s 次，请稍后再试。")
                                 % {"m": max(window // 60, 1), "n": uses}, field="value")
