"""Every write of benefits and subsidies: the programme catalogue, grants (create, edit, and the
one guarded state change `grant_act`), and payments recorded on a page. The civil-affairs xlsx
import writes through jiedao.welfare.benefits.importer with the same rules.

Each function is keyword-only, runs in a transaction, checks the actor's scope with
jiedao.core.scope (out of scope = 404, in scope without MANAGE_WELFARE = 403) and writes the
audit event. Bad input raises DomainError with a Chinese message naming the field; nothing changes.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import audit, scope
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT
from jiedao.core.validators import clean_text
from jiedao.core.workflow import Effect, Machine, username
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import Resident
from jiedao.welfare.benefits.workflow import TABLE, GrantAction, GrantActor
from jiedao.welfare.models.benefits import (
    Grant,
    GrantState,
    GrantTransition,
    GrantUnit,
    Headline,
    Payment,
    PaymentSource,
    PayPeriod,
    Programme,
)

AMOUNT_MAX = Decimal("10000000")  # 1000 万元: more than any one payment or grant period
PERSONS_MAX = 30
OPEN_STATES = (GrantState.ACTIVE, GrantState.SUSPENDED)

# The seeded catalogue (editable): code, name, unit, period, review months, default amount, the
# amount rule in words, the figure the reports use.
DEFAULT_PROGRAMMES: tuple[tuple[str, str, str, str, int | None, str | None, str, str], ...] = (
    ("dibao_urban", "城市低保", GrantUnit.HOUSEHOLD, PayPeriod.MONTHLY, 12, None,
     "按户计发补差：（当地城市低保标准 − 家庭月人均收入）× 保障人数；每年复核一次", Headline.PERSON_TIMES),
    ("dibao_rural", "农村低保", GrantUnit.HOUSEHOLD, PayPeriod.MONTHLY, 12, None,
     "按户计发补差：（当地农村低保标准 − 家庭月人均收入）× 保障人数；每年复核一次", Headline.PERSON_TIMES),
    ("tekun", "特困供养", GrantUnit.PERSON, PayPeriod.MONTHLY, 12, "1300.00",
     "基本生活标准不低于当地低保标准的 1.3 倍，另计照料护理补贴", Headline.PERSONS),
    ("linshi", "临时救助", GrantUnit.HOUSEHOLD, PayPeriod.ONE_OFF, None, None,
     "一事一议，一般不超过当地低保标准的 6 倍", Headline.HOUSEHOLDS),
    ("changshou", "长寿补贴", GrantUnit.PERSON, PayPeriod.YEARLY, 12, "1200.00",
     "90 周岁以上老人每人每年 1200 元（各地标准不同），每年核对生存情况", Headline.PERSONS),
    ("lianzu", "廉租住房补贴", GrantUnit.HOUSEHOLD, PayPeriod.YEARLY, 12, "1800.00",
     "低保、低收入家庭按保障面积和租金补贴标准计发，按年度申请", Headline.HOUSEHOLDS),
    ("xiaoedaikuan", "扶贫小额信贷", GrantUnit.HOUSEHOLD, PayPeriod.ONE_OFF, 12, "50000.00",
     "脱贫户和监测对象 5 万元以下、3 年以内、免担保免抵押、财政贴息", Headline.HOUSEHOLDS),
)


# --- small helpers ------------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has no such day)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def clean_amount(value: Any, *, field: str = "amount", label: str | None = None, required: bool = True,
                 positive: bool = False) -> Decimal | None:
    """An amount in 元: at most two decimals, not negative (above 0 when `positive`, as a
    payment must be), below 1000 万元. Thousands may be grouped with commas, but only as
    thousands are written (1,234.50): "1,2,3" is a typing slip, not 123."""
    label = label or _("金额")
    if value is None or value == "":
        if required:
            raise DomainError(_("请填写%(label)s。") % {"label": label}, field=field)
        return None
    wrong = DomainError(_("%(label)s应为数字（元），如 600 或 600.50。") % {"label": label}, field=field)
    text = str(value).replace("，", ",").strip()
    if "," in text:
        if not _GROUPED.match(text):
            raise wrong
        text = text.replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise wrong from None
    if not amount.is_finite():
        raise wrong
    if positive and amount <= 0:
        raise DomainError(_("%(label)s应大于 0。") % {"label": label}, field=field)
    if amount < 0:
        raise DomainError(_("%(label)s不能为负数。") % {"label": label}, field=field)
    if amount >= AMOUNT_MAX:
        raise DomainError(_("%(label)s太大：应小于 1000 万元。") % {"label": label}, field=field)
    if amount != amount.quantize(Decimal("0.01")):
        raise DomainError(_("%(label)s最多保留两位小数（分）。") % {"label": label}, field=field)
    return amount.quantize(Decimal("0.01"))


def clean_persons(value: Any, *, field: str = "persons") -> int:
    """Persons covered: a whole number from 1 to PERSONS_MAX."""
    wrong = DomainError(_("保障人数应为整数。"), field=field)
    if isinstance(value, bool):
        raise wrong
    if isinstance(value, float):
        if not value.is_integer():
            raise wrong
        value = int(value)
    elif isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit():
            raise wrong
        value = int(value)
    elif not isinstance(value, int):
        raise wrong
    if not 1 <= value <= PERSONS_MAX:
        raise DomainError(_("保障人数应在 1 到 %(max)s 之间。") % {"max": PERSONS_MAX}, field=field)
    return value


def community_of(node: OrgNode) -> OrgNode | None:
    """The community or village above (or at) a node, or None for a node above them."""
    if node.kind in (NodeKind.COMMUNITY, NodeKind.VILLAGE):
        return node
    if node.subdistrict_id is None:
        return None
    sub_path = OrgNode.objects.filter(pk=node.subdistrict_id).values_list("path", flat=True).first()
    if not sub_path or len(node.path) <= len(sub_path):
        return None
    return OrgNode.objects.filter(path=node.path[:len(sub_path) + PATH_SEGMENT]).first()


def _require_manage(actor: Any, path: str) -> None:
    scope.require(actor, Perm.MANAGE_WELFARE, path, view_perm=Perm.VIEW_WELFARE)


CATALOGUE_KINDS = (NodeKind.CITY, NodeKind.DISTRICT, NodeKind.SUBDISTRICT)


def may_edit_catalogue(actor: Any) -> bool:
    """The programme catalogue is the whole sub-district's: only who holds MANAGE_WELFARE at a
    sub-district (or higher) node — leaders, admins — may change it; a community's secretary
    or staff may read it."""
    paths = scope.granted_paths(actor, Perm.MANAGE_WELFARE)
    if paths is None:
        return True
    return bool(paths) and OrgNode.objects.filter(path__in=paths, kind__in=CATALOGUE_KINDS).exists()


def _require_catalogue(actor: Any) -> None:
    if not may_edit_catalogue(actor):
        raise PermissionError_(_("救助补贴项目目录由街道统一维护，您没有维护的权限。"))


def next_review(programme: Programme, after: date) -> date | None:
    return add_months(after, programme.review_months) if programme.review_months else None


# --- programmes ---------------------------------------------------------------------------------


def _clean_programme(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in values:
        out["name"] = clean_text(values["name"], field="name", label=_("名称"), max_length=32, required=True)
    if "code" in values:
        code = clean_text(values["code"], field="code", label=_("代码"), max_length=32, required=True)
        if not code.replace("_", "").replace("-", "").isascii() or not code.replace("_", "").replace("-", "").isalnum():
            raise DomainError(_("代码只能用英文字母、数字、下划线和连字符。"), field="code")
        out["code"] = code
    for name, choices, label in (("unit", GrantUnit, _("计发单位")), ("period", PayPeriod, _("发放周期")),
                                 ("headline", Headline, _("统计口径"))):
        if name in values:
            if values[name] not in choices.values:
                raise DomainError(_("请选择%(label)s。") % {"label": label}, field=name)
            out[name] = values[name]
    if "review_months" in values:
        months = values["review_months"]
        if months in (None, "", 0):
            out["review_months"] = None
        else:
            try:
                months = int(months)
            except (TypeError, ValueError):
                raise DomainError(_("复核周期应为月数（整数）。"), field="review_months") from None
            if not 1 <= months <= 60:
                raise DomainError(_("复核周期应在 1 到 60 个月之间。"), field="review_months")
            out["review_months"] = months
    if "default_amount" in values:
        out["default_amount"] = clean_amount(values["default_amount"], field="default_amount",
                                             label=_("标准金额"), required=False)
    if "amount_rule" in values:
        out["amount_rule"] = clean_text(values["amount_rule"], field="amount_rule", label=_("金额标准说明"),
                                        max_length=500)
    if "sort_order" in values and values["sort_order"] is not None:
        out["sort_order"] = max(0, int(values["sort_order"]))
    if "is_active" in values:
        out["is_active"] = bool(values["is_active"])
    return out


def _unique_programme(values: dict[str, Any], exclude: int | None = None) -> None:
    for name, label in (("code", _("代码")), ("name", _("名称"))):
        if name in values and Programme.objects.filter(**{name: values[name]}).exclude(pk=exclude).exists():
            raise DomainError(_("已有%(label)s为“%(value)s”的项目。") % {"label": label, "value": values[name]},
                              field=name)


@transaction.atomic
def programme_create(*, actor: Any, **values: Any) -> Programme:
    _require_catalogue(actor)
    for required in ("code", "name"):
        values.setdefault(required, "")
    cleaned = _clean_programme(values)
    _unique_programme(cleaned)
    programme = Programme.objects.create(**cleaned)
    audit.record(actor=actor, action="welfare.programme.create", obj=programme, after=audit.snapshot(programme))
    return programme


@transaction.atomic
def programme_update(*, actor: Any, programme: Programme, **changes: Any) -> Programme:
    _require_catalogue(actor)
    cleaned = _clean_programme(changes)
    _unique_programme(cleaned, exclude=programme.pk)
    before = audit.snapshot(programme)
    for name, value in cleaned.items():
        setattr(programme, name, value)
    programme.save()
    old, new = audit.changed(before, audit.snapshot(programme))
    if new:
        audit.record(actor=actor, action="welfare.programme.update", obj=programme, before=old, after=new)
    return programme


@transaction.atomic
def programme_seed_defaults(*, actor: Any) -> int:
    """Add the catalogue's default programmes that are missing (by code); returns how many."""
    if actor is not None:
        _require_catalogue(actor)
    created = 0
    for order, (code, name, unit, period, months, amount, rule, headline) in enumerate(DEFAULT_PROGRAMMES):
        if Programme.objects.filter(code=code).exists() or Programme.objects.filter(name=name).exists():
            continue
        programme = Programme.objects.create(
            code=code, name=name, unit=unit, period=period, review_months=months,
            default_amount=Decimal(amount) if amount else None, amount_rule=rule, headline=headline,
            sort_order=(order + 1) * 10)
        audit.record(actor=actor, action="welfare.programme.create", obj=programme, after=audit.snapshot(programme))
        created += 1
    return created


# --- grants -------------------------------------------------------------------------------------


def _open_grant(programme: Programme, resident: Resident, exclude: int | None = None) -> Grant | None:
    qs = Grant.objects.filter(programme=programme, state__in=OPEN_STATES).exclude(pk=exclude)
    if programme.unit == GrantUnit.HOUSEHOLD and resident.household_id:
        return qs.filter(household_id=resident.household_id).first() or qs.filter(resident=resident).first()
    return qs.filter(resident=resident).first()


def payee_grants(programme_id: int, resident_id: int, household_id: int | None, unit: str) -> Any:
    """The grants of one payee in a programme: the household's (any member's) for a
    per-household programme, else the person's."""
    qs = Grant.objects.filter(programme_id=programme_id)
    if unit == GrantUnit.HOUSEHOLD and household_id:
        return qs.filter(Q(household_id=household_id) | Q(resident_id=resident_id))
    return qs.filter(resident_id=resident_id)


def overlapping_grant(programme: Programme, resident_id: int, household_id: int | None, starts_on: date,
                      ends_on: date | None, exclude: int | None = None) -> Grant | None:
    """Another grant of the payee in the programme whose period shares a month with
    starts_on..ends_on (an open end runs on): the same person would be paid twice a month."""
    qs = payee_grants(programme.pk, resident_id, household_id, programme.unit).exclude(pk=exclude)
    qs = qs.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=month_start(starts_on)))
    if ends_on:
        qs = qs.filter(starts_on__lt=add_months(month_start(ends_on), 1))
    return qs.order_by("starts_on", "pk").first()


def overlap_message(programme: Programme, other: Grant) -> str:
    end = other.ends_on.isoformat() if other.ends_on else _("至今")
    return (_("保障期与该对象在“%(name)s”的另一条资格（%(start)s 至 %(end)s）重叠，同一月份不能发放两次。")
            % {"name": programme.name, "start": other.starts_on.isoformat(), "end": end})


def refuse_overlap(programme: Programme, resident_id: int, household_id: int | None, starts_on: date,
                    ends_on: date | None, exclude: int | None = None) -> None:
    other = overlapping_grant(programme, resident_id, household_id, starts_on, ends_on, exclude)
    if other is not None:
        raise DomainError(overlap_message(programme, other), field="starts_on")


@transaction.atomic
def grant_create(*, actor: Any, programme: Programme, resident: Resident, starts_on: date,
                 amount: Any = None, persons: Any = 1, ends_on: date | None = None,
                 next_review_on: date | None = None, notes: str = "", _place: tuple | None = None) -> Grant:
    """Put a resident (and the household, for a per-household programme) in a programme. The
    amount defaults to the programme's standard (× persons for a per-person programme); the next
    review date to the start plus the programme's review interval."""
    resident = Resident.objects.select_related("node").get(pk=resident.pk)
    _require_manage(actor, resident.node.path)
    if not resident.is_active:
        raise DomainError(_("该居民已不在册，不能登记救助补贴。"), field="resident")
    if not programme.is_active:
        raise DomainError(_("项目“%(name)s”已停用。") % {"name": programme.name}, field="programme")
    if not starts_on:
        raise DomainError(_("请填写保障开始日期。"), field="starts_on")
    if ends_on and ends_on < starts_on:
        raise DomainError(_("保障结束日期不能早于开始日期。"), field="ends_on")
    persons = clean_persons(persons)
    if amount in (None, ""):
        if programme.default_amount is None:
            raise DomainError(_("项目“%(name)s”没有标准金额，请填写每期金额。") % {"name": programme.name}, field="amount")
        amount = programme.default_amount * (persons if programme.unit == GrantUnit.PERSON else 1)
    amount = clean_amount(amount, label=_("每期金额"))
    if _open_grant(programme, resident) is not None:
        raise DomainError(_("该居民（或其所在户）已在“%(name)s”中（在保或暂停），请在原记录上修改。")
                          % {"name": programme.name}, field="resident")
    refuse_overlap(programme, resident.pk, resident.household_id, starts_on, ends_on)
    notes = clean_text(notes, field="notes", label=_("备注"), max_length=500)
    community = community_of(resident.node)
    grant = Grant.objects.create(
        programme=programme, resident=resident,
        household_id=resident.household_id,
        node=resident.node, community=community, subdistrict_id=resident.subdistrict_id or resident.node.subdistrict_id,
        starts_on=starts_on, ends_on=ends_on, amount=amount, persons=persons,
        next_review_on=next_review_on or next_review(programme, starts_on), notes=notes,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(actor=actor, action="welfare.grant.create", obj=grant, after=audit.snapshot(grant))
    return grant


GRANT_EDITABLE = ("starts_on", "amount", "persons", "ends_on", "next_review_on", "notes")


def _paid_before(grant: Grant, day: date) -> date | None:
    """The first month paid on `grant` before `day`'s month, or None."""
    return (Payment.objects.filter(grant=grant, month__lt=month_start(day)).order_by("month")
            .values_list("month", flat=True).first())


@transaction.atomic
def grant_update(*, actor: Any, grant: Grant, **changes: Any) -> Grant:
    """Edit a grant's start (while no payment precedes the new date), amount, persons, end date
    (not of an ended grant), next review date or notes (not its state). The period may not
    overlap another grant of the same payee in the programme."""
    grant = Grant.objects.select_for_update().select_related("node", "programme").get(pk=grant.pk)
    _require_manage(actor, grant.node.path)
    unknown = set(changes) - set(GRANT_EDITABLE)
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": "、".join(sorted(unknown))}, field=sorted(unknown)[0])
    before = audit.snapshot(grant)
    if "starts_on" in changes and changes["starts_on"] != grant.starts_on:
        if not changes["starts_on"]:
            raise DomainError(_("请填写保障开始日期。"), field="starts_on")
        paid = _paid_before(grant, changes["starts_on"])
        if paid is not None:
            raise DomainError(_("%(month)s 已有发放记录，保障开始日期不能晚于它。") % {"month": paid.strftime("%Y-%m")},
                              field="starts_on")
        grant.starts_on = changes["starts_on"]
    if "ends_on" in changes and grant.state == GrantState.ENDED and (changes["ends_on"] or None) != grant.ends_on:
        raise DomainError(_("该资格已停发退出，不能修改保障结束日期；如需继续保障，请新登记一条资格。"), field="ends_on")
    if "amount" in changes:
        grant.amount = clean_amount(changes["amount"], label=_("每期金额"))
    if "persons" in changes:
        grant.persons = clean_persons(changes["persons"])
    if "ends_on" in changes:
        if changes["ends_on"] and changes["ends_on"] < grant.starts_on:
            raise DomainError(_("保障结束日期不能早于开始日期。"), field="ends_on")
        grant.ends_on = changes["ends_on"] or None
    if grant.ends_on and grant.ends_on < grant.starts_on:
        raise DomainError(_("保障结束日期不能早于开始日期。"), field="starts_on")
    if "starts_on" in changes or "ends_on" in changes:
        refuse_overlap(grant.programme, grant.resident_id, grant.household_id, grant.starts_on, grant.ends_on,
                        exclude=grant.pk)
        if grant.ends_on:
            paid = Payment.objects.filter(grant=grant, month__gt=month_start(grant.ends_on)).order_by(
                "-month").values_list("month", flat=True).first()
            if paid is not None:
                raise DomainError(_("%(month)s 已有发放记录，保障结束日期不能早于它。")
                                  % {"month": paid.strftime("%Y-%m")}, field="ends_on")
    if "next_review_on" in changes:
        grant.next_review_on = changes["next_review_on"] or None
    if "notes" in changes:
        grant.notes = clean_text(changes["notes"], field="notes", label=_("备注"), max_length=500)
    grant.version += 1
    grant.save()
    old, new = audit.changed(before, audit.snapshot(grant))
    new.pop("version", None)
    old.pop("version", None)
    if new:
        audit.record(actor=actor, action="welfare.grant.update", obj=grant, before=old, after=new)
    return grant


def grant_actor_kinds(actor: Any, grant: Grant) -> set[str]:
    return {GrantActor.MANAGER} if scope.path_allows(actor, Perm.MANAGE_WELFARE, grant.node.path) else set()


def _end(grant: Grant, now: Any, reason: str, params: dict[str, Any]) -> Effect:
    today = timezone.localdate()
    ends_on = grant.ends_on if grant.ends_on and grant.ends_on <= today else max(today, grant.starts_on)
    return Effect({"ends_on": ends_on, "next_review_on": None}, data={"ends_on": ends_on.isoformat()})


def _review(grant: Grant, now: Any, reason: str, params: dict[str, Any]) -> Effect:
    today = timezone.localdate()
    following = params.get("next_review_on") or next_review(grant.programme, today)
    if following and following <= today:
        raise DomainError(_("下次复核日期应晚于今天。"), field="next_review_on")
    return Effect({"reviewed_on": today, "next_review_on": following},
                  data={"next_review_on": following.isoformat() if following else None})


GRANT_MACHINE = Machine(table=TABLE, model=Grant, history_model=GrantTransition, history_fk="grant",
                        effects={GrantAction.END: _end, GrantAction.REVIEW: _review}, actor_repr=username)


def grant_act(*, actor: Any, grant: Grant, action: str, reason: str = "", **params: Any) -> Grant:
    """Apply `action` (暂停, 恢复, 停发/退出, 复核) if the transition table allows it for this actor:
    compare-and-set on (state, version), a history row and the audit event — all or nothing."""
    with transaction.atomic():
        current = Grant.objects.select_related("node", "programme").get(pk=grant.pk)
        if not scope.restrict(Grant.objects.filter(pk=current.pk), actor, Perm.VIEW_WELFARE).exists():
            raise Http404(_("未找到该对象。"))
        return GRANT_MACHINE.act(current, actor=actor, kinds=grant_actor_kinds(actor, current), action=action,
                                 reason=reason, params=params)


# --- payments -----------------------------------------------------------------------------------


def periods_overlap(grant: Grant, starts_on: date, ends_on: date | None) -> bool:
    """Whether `grant`'s period shares a month with starts_on..ends_on (None: runs on) — the
    test overlapping_grant asks the database, for grants already in memory."""
    if grant.ends_on is not None and grant.ends_on < month_start(starts_on):
        return False
    return not (ends_on and grant.starts_on >= add_months(month_start(ends_on), 1))


def may_start_earlier(grant: Grant, month: date, others: list[Grant] | None = None) -> bool:
    """Whether the import may move an import-made grant's start back to `month`: the grant was
    made by an import, is not ended, and no other grant of the payee covers the months between.
    `others` (the payee's other grants in the programme) when the caller has read them."""
    if not (grant.from_import and grant.state != GrantState.ENDED and month < month_start(grant.starts_on)):
        return False
    if others is not None:
        return not any(periods_overlap(g, month, grant.ends_on) for g in others if g is not grant)
    return overlapping_grant(grant.programme, grant.resident_id, grant.household_id, month, grant.ends_on,
                             exclude=grant.pk) is None


def payment_refusal(grant: Grant, month: date, *, may_extend: bool = False, others: list[Grant] | None = None,
                    paid_elsewhere: bool | None = None) -> tuple[str, str] | None:
    """Why a payment for `month` cannot be recorded on `grant` (field, message), or None. The
    import asks the same question for every row (with `may_extend`: an import-made grant's
    start may move back to the month, see may_start_earlier), passing what it read per batch:
    the payee's other grants and whether one of them paid the month."""
    if grant.state == GrantState.SUSPENDED:
        return "grant", _("该资格已暂停发放，恢复后才能登记发放")
    if month < month_start(grant.starts_on) and not (may_extend and may_start_earlier(grant, month, others)):
        return "month", _("发放月份早于保障开始日期（%(day)s）") % {"day": grant.starts_on.isoformat()}
    if grant.ends_on and month > month_start(grant.ends_on):
        return "month", _("发放月份晚于保障结束日期（%(day)s）") % {"day": grant.ends_on.isoformat()}
    if grant.state == GrantState.ENDED and not grant.ends_on and month > month_start(timezone.localdate()):
        return "month", _("该资格已停发退出，不能登记之后月份的发放")
    if paid_elsewhere is None:
        other = Payment.objects.filter(programme_id=grant.programme_id, month=month).exclude(grant_id=grant.pk)
        if grant.programme.unit == GrantUnit.HOUSEHOLD and grant.household_id:
            other = other.filter(Q(household_id=grant.household_id) | Q(resident_id=grant.resident_id))
        else:
            other = other.filter(resident_id=grant.resident_id)
        paid_elsewhere = other.exists()
    if paid_elsewhere:
        return "month", _("该对象这个月已在“%(name)s”的另一条资格上发放过，同一月份不能发放两次") % {
            "name": grant.programme.name}
    return None


@transaction.atomic
def payment_record(*, actor: Any, grant: Grant, month: date, amount: Any = None, persons: Any = None) -> Payment:
    """Record (or correct) the payment of a grant for a month: one payment per grant and month.
    The amount and persons default to the grant's."""
    grant = Grant.objects.select_related("node").get(pk=grant.pk)
    _require_manage(actor, grant.node.path)
    if not month:
        raise DomainError(_("请填写发放月份。"), field="month")
    month = month_start(month)
    if month > month_start(timezone.localdate()) + timedelta(days=31):
        raise DomainError(_("发放月份不能晚于下个月。"), field="month")
    refusal = payment_refusal(grant, month)
    if refusal:
        raise DomainError(refusal[1], field=refusal[0])
    amount = clean_amount(grant.amount if amount in (None, "") else amount, label=_("发放金额"), positive=True)
    persons = clean_persons(grant.persons if persons in (None, "") else persons)
    existing = Payment.objects.select_for_update().filter(grant=grant, month=month).first()
    if existing is not None:
        before = audit.snapshot(existing)
        existing.amount, existing.persons, existing.recorded_by = amount, persons, actor
        existing.source = PaymentSource.MANUAL
        existing.save()
        old, new = audit.changed(before, audit.snapshot(existing))
        audit.record(actor=actor, action="welfare.payment.update", obj=existing, before=old, after=new)
        return existing
    payment = Payment.objects.create(
        grant=grant, programme_id=grant.programme_id, resident_id=grant.resident_id, household_id=grant.household_id,
        node_id=grant.node_id, community_id=grant.community_id, subdistrict_id=grant.subdistrict_id, month=month,
        amount=amount, persons=persons, source=PaymentSource.MANUAL, recorded_by=actor,
    )
    audit.record(actor=actor, action="welfare.payment.create", obj=payment, after=audit.snapshot(payment))
    return payment
