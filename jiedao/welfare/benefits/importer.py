"""The civil-affairs payment list (民政发放表, xlsx or csv) as an import register on the core
pipeline (jiedao.core.imports: upload → validate with every bad row listed → commit all rows or
only the good ones, in batches, in one transaction; the file read by jiedao.core.tabular).

A row is one payment: 序号, 姓名, 身份证号, 救助类别, 发放月份, 保障人数, 发放金额(元), 所属社区, 备注.
The person is found by the ID number's blind index (as the resident import matches), among the
residents the importer keeps welfare for; the name and, when given, the community must agree
with the register. The payment goes to the person's grant in that programme (the open one, or
the one whose period covers the month); a person paid without a grant gets one, starting that
month, with the row's amount and persons. A second import of the same month corrects the
payment instead of adding another. Nothing of the ID number is staged but its blind index and
mask; errors and results show masks only.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from jiedao.core import audit, crypto, scope
from jiedao.core.errors import DomainError
from jiedao.core.imports import BatchResult, Column, ImportRefused, RegisterSpec, RowInvalid, register
from jiedao.core.permissions import Perm
from jiedao.core.tabular import Cell, as_text
from jiedao.core.validators import validate_id_number
from jiedao.org.models import OrgNode
from jiedao.people.models import Resident
from jiedao.welfare.benefits import services
from jiedao.welfare.models.benefits import Grant, GrantState, GrantUnit, Payment, PaymentSource, Programme

KEY = "welfare_payments"
_MONTH_TEXT = re.compile(r"^(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))(?:\s*[-/.]?\s*(\d{1,2})\s*日?)?$")


def parse_month(value: Any) -> date:
    """发放月份 as the lists write it: 2026-03, 2026年3月, 202603, 2026/3/1 or a date cell. A
    number cell is refused: Excel keeps 2026.10 as 2026.1, which would read as January."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        if not 2000 <= value.year <= 2100:
            raise ValueError(gettext("月份不存在"))
        return value.replace(day=1)
    if isinstance(value, bool | int | float | Decimal):
        raise ValueError(gettext("请把发放月份设为文本，如 2026-10"))
    text = as_text(value).replace(" ", "")
    match = _MONTH_TEXT.match(text)
    if not match:
        raise ValueError(gettext("应为年月，如 2026-03 或 2026年3月"))
    year, month = int(match[1]), int(match[2] or match[3])
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise ValueError(gettext("月份不存在"))
    if match[4] is not None and not 1 <= int(match[4]) <= calendar.monthrange(year, month)[1]:
        raise ValueError(gettext("日期不存在"))
    return date(year, month, 1)


@dataclass
class PaymentRow:
    resident_id: int
    programme_id: int
    month: date
    persons: int
    amount: str  # Decimal as text (staged as JSON)
    id_masked: str
    name: str
    # who the payment is for in the programme's unit: "h<household id>" for a per-household
    # programme (two members of one household are one payment a month), else "r<resident id>"
    payee: str = ""


@dataclass
class PaymentContext:
    actor: Any
    programmes: dict[str, Programme]
    id_indexes: tuple
    communities: dict[int, str]  # community id -> name, filled as met
    today: date
    # grants the commit will make, as validation meets their rows: (programme id, payee) ->
    # the earliest month so far (the grant starts there, whatever the rows' order)
    planned: dict[tuple[int, str], date] = field(default_factory=dict)


def _text(cell: Cell | None) -> str:
    if cell is None or cell.value is None:
        return ""
    value = cell.value
    return " ".join(value.split()) if isinstance(value, str) else as_text(value)


class PaymentRegister(RegisterSpec):
    key = KEY
    label = gettext_lazy("救助补贴发放")
    sheet_name = "发放明细"
    permission = Perm.MANAGE_WELFARE
    duplicate_column = "身份证号"
    row_type = PaymentRow
    columns = (
        Column("seq", "序号", example="1"),
        Column("name", "姓名", required=True, aliases=("救助对象", "户主姓名", "申请人"), example="张桂英"),
        Column("id_number", "身份证号", required=True, aliases=("身份证号码", "公民身份号码", "证件号码"),
               example="330225195001010029", text=True, personal="id_number",
               help="18 位；按它在居民登记中找到对象（须已登记，且在您管辖范围内）"),
        Column("programme", "救助类别", required=True, aliases=("救助类型", "补贴类别", "项目", "救助项目"),
               example="城市低保", help="救助补贴项目的名称或代码，如 城市低保、农村低保、特困供养、长寿补贴、廉租住房补贴"),
        Column("month", "发放月份", required=True, aliases=("月份", "发放年月", "所属月份"), example="2026-03",
               text=True, help="如 2026-03、2026年3月、202603"),
        Column("persons", "保障人数", aliases=("享受人数", "人数", "保障人口"), example="2", help="不填为 1"),
        Column("amount", "发放金额(元)", required=True, aliases=("发放金额（元）", "发放金额", "金额(元)", "金额（元）", "金额"),
               example="600.00", help="元，最多两位小数"),
        Column("community", "所属社区", aliases=("社区", "所属社区（村）", "所属社区(村)", "社区（村）", "村（社区）"),
               example="东门社区", help="填了就核对：须与居民登记的社区（村）一致"),
        Column("notes", "备注", example=""),
    )

    def begin(self, actor: Any) -> PaymentContext:
        catalogue = {}
        for programme in Programme.objects.filter(is_active=True):
            catalogue[programme.name] = programme
            catalogue[programme.code] = programme
        ring = crypto.get_keyring()
        indexes = tuple(crypto.blind_indexer("id_number", keyring=ring, index_key_id=key_id, normalised=True)
                        for key_id in ring.index_keys)
        return PaymentContext(actor, catalogue, indexes, {}, timezone.localdate())

    def guard(self, actor: Any) -> None:
        if not scope.has_perm_anywhere(actor, Perm.MANAGE_WELFARE):
            raise ImportRefused(gettext("您没有导入救助补贴发放的权限。"))

    def _community_name(self, ctx: PaymentContext, community_id: int | None) -> str:
        if community_id is None:
            return ""
        if community_id not in ctx.communities:
            ctx.communities[community_id] = OrgNode.objects.filter(pk=community_id).values_list(
                "name", flat=True).first() or ""
        return ctx.communities[community_id]

    def parse_row(self, ctx: PaymentContext, row: int, values: dict[str, Cell]) -> PaymentRow:
        errors: list[tuple[str, str]] = []
        get = values.get
        name = _text(get("name"))
        if not name:
            errors.append(("姓名", gettext("必填，不能为空")))
        number = ""
        cell = get("id_number")
        value = None if cell is None else cell.value
        if value in (None, ""):
            errors.append(("身份证号", gettext("必填，不能为空")))
        elif isinstance(value, int | float):
            errors.append(("身份证号", gettext("身份证号被 Excel 存成了数字，末几位可能已丢失；请把该列设为“文本”后重新填写")))
        else:
            number = "".join(str(value).split()).upper()
            try:
                validate_id_number(number, today=ctx.today)
            except DomainError as exc:
                errors.append(("身份证号", exc.message))
                number = ""
        label = _text(get("programme"))
        programme = ctx.programmes.get(label)
        if not label:
            errors.append(("救助类别", gettext("必填，不能为空")))
        elif programme is None:
            errors.append(("救助类别", gettext("没有名为“%(name)s”的救助补贴项目（或已停用）") % {"name": label}))
        month = None
        cell = get("month")
        if cell is None or cell.value in (None, ""):
            errors.append(("发放月份", gettext("必填，不能为空")))
        else:
            try:
                month = parse_month(cell.value)
            except ValueError as exc:
                errors.append(("发放月份", str(exc)))
            else:
                if month > _next_month(ctx.today):
                    errors.append(("发放月份", gettext("不能晚于下个月")))
        persons = 1
        cell = get("persons")
        if cell is not None and cell.value not in (None, ""):
            try:
                persons = services.clean_persons(cell.value)
            except DomainError as exc:
                errors.append(("保障人数", exc.message))
        amount = None
        cell = get("amount")
        try:
            amount = services.clean_amount(None if cell is None else cell.value, label=gettext("发放金额"), positive=True)
        except DomainError as exc:
            errors.append(("发放金额(元)", exc.message))
        resident = None
        if number:
            keys = [index(number) for index in ctx.id_indexes]
            resident = scope.restrict(Resident.objects.filter(id_number_bidx__in=keys, is_active=True), ctx.actor,
                                      Perm.MANAGE_WELFARE).select_related("node").first()
            if resident is None:
                errors.append(("身份证号", gettext("在您管辖范围内的在册居民中找不到该身份证号，请先在居民登记中登记")))
            elif name and resident.name != name:
                errors.append(("姓名", gettext("与居民登记的姓名“%(name)s”不一致") % {"name": resident.name}))
        if resident is not None:
            community = _text(get("community"))
            if community:
                registered = self._community_name(ctx, _community_id(resident.node))
                if registered and community != registered:
                    errors.append(("所属社区", gettext("该居民登记在“%(name)s”，与所填不一致") % {"name": registered}))
        if resident is not None and programme is not None and month is not None:
            grant = _grant_for(programme, resident, month)
            if grant is not None and not _in_scope(grant, ctx.actor):
                errors.append(("救助类别", _elsewhere(grant)))
            elif grant is not None:
                refusal = services.payment_refusal(grant, month, may_extend=True)
                if refusal:
                    errors.append(("发放月份" if refusal[0] == "month" else "救助类别", refusal[1]))
            else:  # the commit makes a grant from the earliest month the file pays this payee
                key = (programme.pk, _payee(programme, resident))
                start = min(month, ctx.planned.get(key, month))
                problem = _overlap(programme, resident, start)
                if problem:
                    errors.append(("发放月份", problem))
                else:
                    ctx.planned[key] = start
        if errors:
            raise RowInvalid(errors)
        return PaymentRow(resident.pk, programme.pk, month, persons, str(amount),
                          crypto.mask_normalised(number, "id_number"), name, _payee(programme, resident))

    def row_key(self, parsed: PaymentRow) -> tuple:
        """One payment per payee, programme and month in a file (a household once, for a
        per-household programme, whichever member the row names)."""
        return (parsed.programme_id, parsed.payee or f"r{parsed.resident_id}", parsed.month)

    def apply_batch(self, ctx: PaymentContext, actor: Any, job: Any, rows: list[tuple[int, PaymentRow]]) -> BatchResult:
        """Write a batch with a fixed number of queries: the batch's residents, their grants, which
        of those the importer may manage, and the payments of the batch's months are read once;
        new grants, new payments and corrections are written in bulk; then the audit events."""
        result = BatchResult()
        catalogue = {p.pk: p for p in ctx.programmes.values()}
        residents = {r.pk: r for r in scope.restrict(
            Resident.objects.filter(pk__in=[row.resident_id for _, row in rows], is_active=True), actor,
            Perm.MANAGE_WELFARE).select_related("node")}
        book = _Book(actor, residents.values(), {row.programme_id for _, row in rows}, {row.month for _, row in rows})
        communities: dict[int, int | None] = {}
        new_grants: list[Grant] = []
        moved: dict[int, tuple[Grant, str]] = {}  # existing grants whose start moves back: before
        new_payments: list[tuple[Payment, PaymentRow]] = []
        corrected: list[tuple[Payment, dict]] = []
        for number, row in rows:
            resident = residents.get(row.resident_id)
            programme = catalogue.get(row.programme_id)
            if resident is None:
                result.refused.append((number, "身份证号", gettext("该居民已不在您管辖范围内或已不在册")))
                continue
            if programme is None:
                result.refused.append((number, "救助类别", gettext("该项目已停用")))
                continue
            amount = Decimal(row.amount)
            grants = book.grants(programme, resident)
            grant = _pick(grants, row.month)
            if grant is not None and grant.pk is not None and grant.pk not in book.in_scope:
                result.refused.append((number, "救助类别", _elsewhere(grant)))
                continue
            if grant is None:
                other = next((g for g in grants if services.periods_overlap(g, row.month, None)), None)
                if other is not None:
                    result.refused.append((number, "发放月份", services.overlap_message(programme, other)))
                    continue
                if resident.node_id not in communities:
                    communities[resident.node_id] = _community_id(resident.node)
                grant = Grant(
                    programme=programme, resident=resident, household_id=resident.household_id, node=resident.node,
                    community_id=communities[resident.node_id],
                    subdistrict_id=resident.subdistrict_id or resident.node.subdistrict_id, starts_on=row.month,
                    amount=amount, persons=row.persons, next_review_on=services.next_review(programme, row.month),
                    notes=gettext("由民政发放表导入建立"), created_by=actor, from_import=True)
                new_grants.append(grant)
                book.add_grant(programme, resident, grant)
                grants = book.grants(programme, resident)
            refusal = services.payment_refusal(grant, row.month, may_extend=True, others=grants,
                                               paid_elsewhere=book.paid_elsewhere(programme, resident, grant, row.month))
            if refusal:
                result.refused.append((number, "发放月份" if refusal[0] == "month" else "救助类别", refusal[1]))
                continue
            if row.month < grant.starts_on:  # an import-made grant: its start moves back to the month
                if grant.pk is not None and grant.pk not in moved:
                    moved[grant.pk] = (grant, grant.starts_on.isoformat())
                    grant.version += 1
                grant.starts_on = row.month
            existing = book.payment(grant, row.month)
            if existing is not None:
                before = {"amount": str(existing.amount), "persons": existing.persons}
                existing.amount, existing.persons = amount, row.persons
                existing.source, existing.import_job, existing.recorded_by = PaymentSource.IMPORT, job, actor
                corrected.append((existing, before))
                result.updated += 1
                continue
            payment = Payment(
                grant=grant, programme=programme, resident_id=grant.resident_id, household_id=grant.household_id,
                node_id=grant.node_id, community_id=grant.community_id, subdistrict_id=grant.subdistrict_id,
                month=row.month, amount=amount, persons=row.persons, source=PaymentSource.IMPORT, import_job=job,
                recorded_by=actor)
            book.add_payment(programme, resident, payment)
            new_payments.append((payment, row))
            result.created += 1
        now = timezone.now()
        Grant.objects.bulk_create(new_grants)
        for grant, _before in moved.values():
            grant.updated_at = now
        Grant.objects.bulk_update([g for g, _ in moved.values()], ["starts_on", "version", "updated_at"])
        for payment, _row in new_payments:
            payment.grant = payment.grant  # the grant's id, now that a new grant has one
        Payment.objects.bulk_create([p for p, _ in new_payments])
        for payment, _before in corrected:
            payment.updated_at = now
        Payment.objects.bulk_update([p for p, _ in corrected],
                                    ["amount", "persons", "source", "import_job", "recorded_by", "updated_at"])
        events: list[tuple] = []
        for grant in new_grants:
            events.append(("welfare.grant.import", "welfare.grant", grant.pk, str(grant), None,
                           {"programme_id": grant.programme_id, "resident_id": grant.resident_id,
                            "starts_on": grant.starts_on.isoformat(), "amount": str(grant.amount),
                            "persons": grant.persons}))
        for grant, before in moved.values():
            events.append(("welfare.grant.import", "welfare.grant", grant.pk, str(grant), {"starts_on": before},
                           {"starts_on": grant.starts_on.isoformat()}))
        for payment, before in corrected:
            events.append(("welfare.payment.import", "welfare.payment", payment.pk, str(payment), before,
                           {"amount": str(payment.amount), "persons": payment.persons}))
        for payment, row in new_payments:
            events.append(("welfare.payment.import", "welfare.payment", payment.pk, str(payment), None,
                           {"grant_id": payment.grant_id, "month": row.month.isoformat(), "amount": row.amount,
                            "persons": row.persons, "id_number_masked": row.id_masked}))
        if events:
            audit.record_many(actor=actor, events=events)
        return result


class _Book:
    """A batch's grants and payments, read once (three queries) and kept up to date as the batch
    adds to them: the payee's grants in a programme, which grants the importer may manage, the
    payment of a grant and month, and whether another grant of the payee paid a month."""

    def __init__(self, actor: Any, residents: Any, programme_ids: set[int], months: set[date]) -> None:
        residents = list(residents)
        people = {r.pk for r in residents}
        households = {r.household_id for r in residents if r.household_id}
        whose = Q(resident_id__in=people) | Q(household_id__in=households)
        found = list(Grant.objects.filter(whose, programme_id__in=programme_ids).select_related("programme"))
        self.by_resident: dict[tuple[int, int], list[Grant]] = {}
        self.by_household: dict[tuple[int, int], list[Grant]] = {}
        for grant in found:
            self._index(grant)
        self.in_scope = set(scope.restrict(Grant.objects.filter(pk__in=[g.pk for g in found]), actor,
                                           Perm.MANAGE_WELFARE).values_list("pk", flat=True)) if found else set()
        self.payments: dict[tuple[int, date], Payment] = {}
        self.paid: list[Payment] = []
        self.paid_by: dict[tuple[int, str, date], list[Payment]] = {}
        if found:
            for payment in Payment.objects.filter(whose, programme_id__in=programme_ids, month__in=months):
                self.add_payment(None, None, payment)

    def _index(self, grant: Grant) -> None:
        self.by_resident.setdefault((grant.programme_id, grant.resident_id), []).append(grant)
        if grant.household_id:
            self.by_household.setdefault((grant.programme_id, grant.household_id), []).append(grant)

    def grants(self, programme: Programme, resident: Resident) -> list[Grant]:
        """The payee's grants in the programme, as services.payee_grants selects them."""
        mine = self.by_resident.get((programme.pk, resident.pk), [])
        if programme.unit == GrantUnit.HOUSEHOLD and resident.household_id:
            seen = {id(g) for g in mine}
            return mine + [g for g in self.by_household.get((programme.pk, resident.household_id), [])
                           if id(g) not in seen]
        return list(mine)

    def add_grant(self, programme: Programme, resident: Resident, grant: Grant) -> None:
        self._index(grant)

    def add_payment(self, programme: Any, resident: Any, payment: Payment) -> None:
        if payment.grant_id is not None:
            self.payments[(payment.grant_id, payment.month)] = payment
        self.paid_by.setdefault((payment.programme_id, f"r{payment.resident_id}", payment.month), []).append(payment)
        if payment.household_id:
            self.paid_by.setdefault((payment.programme_id, f"h{payment.household_id}", payment.month),
                                    []).append(payment)

    def payment(self, grant: Grant, month: date) -> Payment | None:
        return self.payments.get((grant.pk, month)) if grant.pk is not None else None

    def paid_elsewhere(self, programme: Programme, resident: Resident, grant: Grant, month: date) -> bool:
        keys = [(programme.pk, f"r{resident.pk}", month)]
        if programme.unit == GrantUnit.HOUSEHOLD and resident.household_id:
            keys.append((programme.pk, f"h{resident.household_id}", month))
        return any(p.grant is not grant if p.grant_id is None else p.grant_id != grant.pk
                   for key in keys for p in self.paid_by.get(key, ()))


def _pick(grants: list[Grant], month: date) -> Grant | None:
    """_grant_for over grants in memory: the one whose period covers the month, else the open one."""
    following = _next_month(month)
    order = sorted(grants, key=lambda g: (g.starts_on, g.pk or 1 << 62), reverse=True)
    covering = [g for g in order if g.starts_on < following and (g.ends_on is None or g.ends_on >= month)]
    if covering:
        return covering[0]
    return next((g for g in order if g.state in (GrantState.ACTIVE, GrantState.SUSPENDED)), None)


def _community_id(node: OrgNode) -> int | None:
    community = services.community_of(node)
    return community.pk if community else None


def _payee(programme: Programme, resident: Resident) -> str:
    return (f"h{resident.household_id}" if programme.unit == GrantUnit.HOUSEHOLD and resident.household_id
            else f"r{resident.pk}")


def _overlap(programme: Programme, resident: Resident, start: date) -> str:
    """Why a grant the import would make from `start` (open-ended) cannot be made, or ""."""
    try:
        services.refuse_overlap(programme, resident.pk, resident.household_id, start, None)
    except DomainError as exc:
        return exc.message
    return ""


def _in_scope(grant: Grant, actor: Any) -> bool:
    return scope.restrict(Grant.objects.filter(pk=grant.pk), actor, Perm.MANAGE_WELFARE).exists()


def _elsewhere(grant: Grant) -> str:
    """A payment counts where its grant is (the grant's node, community and sub-district): a
    resident who moved keeps the grant of the old community until that community ends it."""
    place = OrgNode.objects.filter(pk=grant.community_id or grant.node_id).values_list("name", flat=True).first()
    return gettext("该对象的这条资格登记在“%(place)s”，不在您的管辖范围内；请由该社区（村）登记发放，"
                   "或先在那里停发、再在本社区新登记") % {"place": place or ""}


def _grant_for(programme: Programme, resident: Resident, month: date) -> Grant | None:
    """The grant a payment of `month` belongs to: the person's (or household's) grant in the
    programme whose period covers the month, else the open one (its checks then say why not)."""
    qs = Grant.objects.filter(programme=programme)
    if programme.unit == GrantUnit.HOUSEHOLD and resident.household_id:
        qs = qs.filter(Q(resident=resident) | Q(household_id=resident.household_id))
    else:
        qs = qs.filter(resident=resident)
    covering = qs.filter(starts_on__lt=_next_month(month)).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=month))
    return (covering.order_by("-starts_on", "-pk").first()
            or qs.filter(state__in=(GrantState.ACTIVE, GrantState.SUSPENDED)).order_by("-starts_on", "-pk").first())


def _next_month(month: date) -> date:
    return services.add_months(month.replace(day=1), 1)


register(PaymentRegister())
