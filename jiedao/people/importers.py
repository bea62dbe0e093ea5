"""Register specs for spreadsheet import: residents, households and businesses.

Each spec lists its columns (Chinese headers, aliases, an example), parses and checks one row
with the same validators the forms use, and writes a batch with bulk statements: a 100,000-row
file is one transaction of a hundred batches, not 100,000 saves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from jiedao.core import audit, crypto, scope, sealed
from jiedao.core.bulk import db_value, insert_rows, reserve_ids, update_rows
from jiedao.core.errors import DomainError
from jiedao.core.imports import BatchResult, Column, ImportRefused, RegisterSpec, RowInvalid, register
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT
from jiedao.core.tabular import Cell, as_bool, as_text
from jiedao.core.validators import validate_id_number, validate_phone, validate_uscc
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people import services
from jiedao.people.models import (
    Business,
    BusinessSize,
    Household,
    Resident,
    ResidentTag,
    SpecialGroup,
)
from jiedao.people.services import RESIDENT_NODE_KINDS

_SPLIT = re.compile(r"[、,，;；/\s]+")


class NodeResolver:
    """Finds the org node a row names: by code, by full path name ("东门社区/东门第一网格/1幢")
    or by a name that is unique in the user's scope. Loaded once per pass (a sub-district has a
    few thousand nodes)."""

    def __init__(self, actor: Any, perm: str) -> None:
        nodes = scope.restrict(OrgNode.objects.filter(is_active=True), actor, perm).values_list(
            "id", "parent_id", "name", "code", "kind", "path", "subdistrict_id"
        )
        self.by_id: dict[int, tuple] = {row[0]: row for row in nodes}
        # Ancestors above the user's scope still name the path ("东门社区/东门第二网格").
        self.names: dict[int, tuple] = {row[0]: row for row in self._ancestors(actor, perm)} | self.by_id
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.by_full: dict[str, int] = {}
        # What each spelling met so far resolved to: a file names the same few hundred places on
        # every row. Bounded, so a file of distinct spellings cannot grow it without end.
        self._resolved: dict[str, int] = {}
        for node_id, _parent, name, code, kind, _path, _sub in self.by_id.values():
            if kind not in RESIDENT_NODE_KINDS:
                continue
            if code:
                self.by_code[code] = node_id
            self.by_name.setdefault(name, []).append(node_id)
            self.by_full[self._full_name(node_id)] = node_id

    @staticmethod
    def _ancestors(actor: Any, perm: str) -> Any:
        roots = scope.granted_paths(actor, perm) or []
        prefixes = {root[:i] for root in roots for i in range(PATH_SEGMENT, len(root), PATH_SEGMENT)}
        return OrgNode.objects.filter(path__in=prefixes).values_list(
            "id", "parent_id", "name", "code", "kind", "path", "subdistrict_id"
        )

    def _full_name(self, node_id: int) -> str:
        parts = []
        current: int | None = node_id
        while current in self.names:
            row = self.names[current]
            if row[4] in (NodeKind.SUBDISTRICT, NodeKind.DISTRICT, NodeKind.CITY):
                break
            parts.append(row[2])
            current = row[1]
        return "/".join(reversed(parts))

    def resolve(self, text: str) -> int:
        """The node id, or ValueError with a message a person can act on."""
        known = self._resolved.get(text)
        if known is not None:
            return known
        node_id = self._resolve(text)
        if len(self._resolved) < 10_000:
            self._resolved[text] = node_id
        return node_id

    def _resolve(self, text: str) -> int:
        text = "/".join(p.strip() for p in re.split(r"[/＞>]", text) if p.strip())
        if not text:
            raise ValueError(gettext("不能为空"))
        if text in self.by_code:
            return self.by_code[text]
        if text in self.by_full:
            return self.by_full[text]
        tail = text.rsplit("/", 1)[-1]
        candidates = self.by_name.get(tail, [])
        if "/" in text:
            candidates = [c for c in candidates if self._full_name(c).endswith(text)]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            raise ValueError(gettext("“%(name)s”对应多个节点，请填写编码或完整路径（如 社区/网格/楼栋）") % {"name": text})
        raise ValueError(gettext("找不到“%(name)s”：不存在、已停用或不在您的管辖范围内") % {"name": text})

    def subdistrict_of(self, node_id: int) -> int | None:
        return self.by_id[node_id][6]


def _cell_text(values: dict[str, Cell], name: str) -> str:
    cell = values.get(name)
    if cell is None:
        return ""
    value = cell.value
    return value.strip() if type(value) is str else as_text(value)  # as_text's answer for text, sooner


def _text(cell: Cell | None) -> str:
    """_cell_text of a cell already looked up."""
    if cell is None:
        return ""
    value = cell.value
    if type(value) is str:
        return value.strip()
    return "" if value is None else as_text(value)


# The resident columns checked only for their length: (field, header, most characters).
_RESIDENT_TEXTS = (
    ("household_number", "户号", 32), ("relation", "与户主关系", 16), ("registered_address", "户籍地址", 200),
    ("actual_address", "现住地址", 200), ("notes", "备注", 500),
)


def _checked_id_number(values: dict[str, Cell], header: str, errors: list) -> str:
    cell = values.get("id_number")
    if cell is None or cell.value in (None, ""):
        return ""
    if isinstance(cell.value, int | float):
        errors.append((header, gettext("身份证号被 Excel 存成了数字，末几位可能已丢失；请把该列设为“文本”后重新填写")))
        return ""
    number = "".join(str(cell.value).split()).upper()
    try:
        validate_id_number(number)
    except DomainError as exc:
        errors.append((header, exc.message))
        return ""
    return number


def _checked_phone(values: dict[str, Cell], header: str, errors: list) -> str:
    text = _cell_text(values, "phone")
    try:
        validate_phone(text)
    except DomainError as exc:
        errors.append((header, exc.message))
        return ""
    return text


def _limited(values: dict[str, Cell], name: str, header: str, size: int, errors: list, required: bool = False) -> str:
    text = " ".join(_cell_text(values, name).split())
    if required and not text:
        errors.append((header, gettext("必填，不能为空")))
    elif len(text) > size:
        errors.append((header, gettext("不能超过 %(limit)s 个字") % {"limit": size}))
    return text


# --- residents --------------------------------------------------------------------------------


@dataclass
class ResidentRow:
    node_id: int
    subdistrict_id: int | None
    name: str
    # The clear identifiers (normalised) are staged only inside the encrypted staging file (a
    # vault file, like the upload that holds them too) and sealed once, at commit, bound to their
    # row: sealing at validation, before the row's id is known, cost a decryption and a second
    # encryption of each value at commit (docs/architecture.md, "Imports at rest").
    id_number: str
    phone: str
    household_number: str
    relation: str
    registered_address: str
    actual_address: str
    is_floating: bool
    groups: list[int] = field(default_factory=list)
    notes: str = ""
    # Filled at validation (parse_row / prepare_batch): the blind indexes, masks and facts. The
    # lookup keys are the blind index alone unless older index keys exist (then all of them); the
    # birth date is kept as ISO text ("" when unknown), which stages and inserts as it is.
    id_bidx: str = ""
    id_lookup: tuple[str, ...] = ()
    id_masked: str = ""
    gender: str = ""
    birth_date: str = ""
    phone_bidx: str = ""
    phone_masked: str = ""

    def __post_init__(self) -> None:
        self.id_lookup = tuple(self.id_lookup)  # a list when read back from the staged JSON

    def audit_view(self, household_id: int | None) -> dict[str, Any]:
        """What the audit log keeps of an imported resident: masked identifiers only."""
        return {
            "node_id": self.node_id, "name": self.name, "household_id": household_id, "relation": self.relation,
            "id_number_masked": self.id_masked, "gender": self.gender,
            "birth_date": self.birth_date or None,
            "phone_masked": self.phone_masked, "registered_address": self.registered_address,
            "actual_address": self.actual_address, "is_floating": self.is_floating, "notes": self.notes,
        }


@dataclass
class ResidentContext:
    nodes: NodeResolver
    groups: dict[str, int]
    ring: crypto.Keyring
    # ID numbers met registered outside the importer's scope, and how many more the day allows.
    clash_allowance: int = 0
    clashes: list[tuple[int, str]] = field(default_factory=list)
    # Blind indexes keyed once per pass (crypto.blind_indexer): the active index key's, and the
    # older index keys' for the lookup of ID numbers while the index key is being rotated.
    id_index: Any = None
    phone_index: Any = None
    old_id_indexes: tuple = ()
    today: date | None = None  # a birth date after it is refused (read once per pass)


class ResidentRegister(RegisterSpec):
    key = "residents"
    label = gettext_lazy("居民")
    sheet_name = "居民"
    permission = Perm.MANAGE_PEOPLE
    duplicate_column = "身份证号"
    row_type = ResidentRow
    columns = (
        Column("name", "姓名", required=True, aliases=("居民姓名",), example="张建国"),
        Column("id_number", "身份证号", aliases=("身份证号码", "公民身份号码", "证件号码"), example="330225198506120013", text=True,
               personal="id_number", help="18 位，最后一位可为 X；作为识别同一居民的依据，重复导入时按它更新"),
        Column("phone", "联系电话", aliases=("电话", "手机号", "手机号码"), example="13812345678", text=True,
               personal="phone"),
        Column("node", "所在网格/楼栋", required=True, aliases=("所在网格", "楼栋", "网格", "所属网格", "所在节点", "网格编码"),
               example="东门社区/东门第一网格/一号微网格/1幢", help="编码、完整路径，或在您管辖范围内唯一的名称"),
        Column("household_number", "户号", aliases=("户编号",), example="DX-0001-0101", text=True),
        Column("relation", "与户主关系", aliases=("关系",), example="户主"),
        Column("registered_address", "户籍地址", aliases=("户籍地",), example="浙江省象山县丹西街道东门路 12 号"),
        Column("actual_address", "现住地址", aliases=("居住地址", "住址"), example="东门社区 1 幢 1 单元 101 室"),
        Column("is_floating", "流动人口", aliases=("是否流动人口",), example="否", help="是 / 否"),
        Column("groups", "特殊人群", aliases=("人群类别", "标签"), example="独居老人、残疾人", help="多个用顿号分隔"),
        Column("notes", "备注", example=""),
    )

    def begin(self, actor: Any) -> ResidentContext:
        groups = {g.name: g.pk for g in SpecialGroup.objects.filter(is_active=True)}
        groups.update({g.code: g.pk for g in SpecialGroup.objects.filter(is_active=True)})
        ring = crypto.get_keyring()
        return ResidentContext(
            NodeResolver(actor, Perm.MANAGE_PEOPLE), groups, ring, clash_allowance=services.id_clash_allowance(actor),
            id_index=crypto.blind_indexer("id_number", keyring=ring, normalised=True),
            phone_index=crypto.blind_indexer("phone", keyring=ring, normalised=True),
            old_id_indexes=tuple(crypto.blind_indexer("id_number", keyring=ring, index_key_id=key_id, normalised=True)
                                 for key_id in ring.index_keys if key_id != ring.index),
            today=date.today(),
        )

    def guard(self, actor: Any) -> None:
        if services.id_clash_allowance(actor) <= 0:
            raise ImportRefused(services.id_clash_refusal().message, throttled=True)

    def settle(self, actor: Any, job: Any, clashes: list[tuple[int, str]], *, written: bool) -> None:
        services.id_clashes_count(actor=actor, clashes=clashes, source=f"import:{job.pk}")

    def parse_row(self, ctx: ResidentContext, row: int, values: dict[str, Cell]) -> ResidentRow:
        # The checks of _limited / _checked_id_number / _checked_phone, written out for this
        # register's columns (this runs for every row of a file of 100,000): the same messages,
        # in the same order (the columns' order).
        errors: list[tuple[str, str]] = []
        get = values.get
        name = " ".join(_text(get("name")).split())
        if not name:
            errors.append(("姓名", gettext("必填，不能为空")))
        elif len(name) > 64:
            errors.append(("姓名", gettext("不能超过 %(limit)s 个字") % {"limit": 64}))
        id_number = ""
        cell = get("id_number")
        value = None if cell is None else cell.value
        if value is not None and value != "":
            if isinstance(value, int | float):
                errors.append(("身份证号", gettext("身份证号被 Excel 存成了数字，末几位可能已丢失；请把该列设为“文本”后重新填写")))
            else:
                number = "".join(str(value).split()).upper()
                try:
                    validate_id_number(number, today=ctx.today)
                    id_number = number
                except DomainError as exc:
                    errors.append(("身份证号", exc.message))
        phone = _text(get("phone"))
        if phone:
            try:
                validate_phone(phone)
            except DomainError as exc:
                errors.append(("联系电话", exc.message))
                phone = ""
        node_id = 0
        try:
            node_id = ctx.nodes.resolve(_text(get("node")))
        except ValueError as exc:
            errors.append(("所在网格/楼栋", str(exc)))
        cell = get("is_floating")
        floating = False
        if cell is not None:
            value = cell.value
            if value is None or value == "否":
                floating = False
            elif value == "是":
                floating = True
            else:
                try:
                    floating = as_bool(value)
                except ValueError as exc:
                    errors.append(("流动人口", str(exc)))
        group_ids = []
        labels = _text(get("groups"))
        for label in _SPLIT.split(labels) if labels else ():
            if label:
                if label not in ctx.groups:
                    errors.append(("特殊人群", gettext("没有名为“%(name)s”的特殊人群类别") % {"name": label}))
                else:
                    group_ids.append(ctx.groups[label])
        texts = []
        for field_name, header, size in _RESIDENT_TEXTS:
            text = " ".join(_text(get(field_name)).split())
            if len(text) > size:
                errors.append((header, gettext("不能超过 %(limit)s 个字") % {"limit": size}))
            texts.append(text)
        if errors:
            raise RowInvalid(errors)
        household_number, relation, registered_address, actual_address, notes = texts
        return ResidentRow(
            node_id, ctx.nodes.by_id[node_id][6], name, id_number, phone, household_number, relation,
            registered_address, actual_address, floating, group_ids, notes,
            # the duplicate key inside the file, and the lookup's (an ID number is normalised here)
            id_bidx=ctx.id_index(id_number) if id_number else "",
        )

    def row_key(self, parsed: ResidentRow) -> str | None:
        return parsed.id_bidx or None

    def prepare_batch(self, ctx: ResidentContext, rows: list[tuple[int, ResidentRow]]) -> list[tuple[int, ResidentRow]]:
        """At validation: blind indexes, masks and what an ID number tells. Nothing is encrypted
        yet: the values are sealed once, at commit, when their row's id is known."""
        old_indexes = ctx.old_id_indexes
        # The ID numbers come normalised from parse_row, the phones once normalised here: the
        # masks and indexes take them as they are (crypto.mask_normalised, blind_indexer(normalised=True)).
        mask, facts, phone_index = crypto.mask_normalised, sealed.facts, ctx.phone_index
        for _, row in rows:
            if row.id_number:
                number = row.id_number
                if old_indexes:
                    row.id_lookup = (row.id_bidx, *(index(number) for index in old_indexes))
                row.id_masked = mask(number, "id_number")
                row.gender, born = facts("id_number", number)
                row.birth_date = born.isoformat() if born else ""
            if row.phone:
                row.phone = phone = crypto.normalise(row.phone, "phone")
                row.phone_bidx, row.phone_masked = phone_index(phone), mask(phone, "phone")
        return rows

    def apply_batch(self, ctx: ResidentContext, actor: Any, job: Any, rows: list[tuple[int, ResidentRow]]) -> BatchResult:
        lookup = {key: number for number, row in rows for key in (row.id_lookup or (row.id_bidx,)) if key}
        existing: dict[int, tuple] = {}
        if lookup:
            # `<> ''` repeats the unique index's predicate: only then may SQLite (and PostgreSQL,
            # for a list this long) use that partial index for the IN instead of scanning the table.
            # One statement written here, not compiled by the ORM from a list of 1,000 parameters.
            for values in _registered(list(lookup)):
                existing[lookup[values[_BIDX]]] = values
        households = self._households(rows)
        now = timezone.now()
        ring = ctx.ring
        id_context, phone_context = _contexts()
        creates: list[tuple[int, ResidentRow]] = []
        updates: list[tuple] = []  # every stored column written
        plain: list[tuple] = []  # the ID number and phone as stored: only the other columns written
        events: list[tuple] = []
        tags: list[tuple[int, int]] = []
        refused: list[tuple[int, str, str]] = []
        clashes: list[tuple[int, str]] = []
        sealing: list[tuple[str, bytes]] = []  # (clear value, associated data) for one encrypt_many
        for number, row in rows:
            if row.node_id not in ctx.nodes.by_id:
                refused.append((number, "所在网格/楼栋", gettext("该节点已停用或已不在您的管辖范围内")))
                continue
            stored = existing.get(number)
            if stored is None:
                creates.append((number, row))
                continue
            pk, old = stored[0], dict(zip(_STORED, stored[1:], strict=True))
            if old["node_id"] not in ctx.nodes.by_id:
                # The ID number belongs to someone registered outside the importer's scope:
                # moving them here would take over another grid's record. Refuse the row; the
                # refusal tells that the number exists, so it counts against the day's clashes.
                ctx.clashes.append((number, row.id_masked))
                if len(ctx.clashes) > ctx.clash_allowance:
                    raise ImportRefused(services.id_clash_refusal().message, throttled=True, clashes=ctx.clashes)
                clashes.append((number, row.id_masked))
                refused.append(
                    (number, "身份证号", gettext("该身份证号已登记在您管辖范围以外的居民名下，请联系其所在社区"))
                )
                continue
            household_id = households.get(row.household_number) if row.household_number else None
            new = {
                "node_id": row.node_id, "subdistrict_id": row.subdistrict_id, "name": row.name,
                "household_id": household_id, "relation": row.relation,
                "registered_address": row.registered_address, "actual_address": row.actual_address,
                "is_floating": row.is_floating, "notes": row.notes, "id_number_enc": old["id_number_enc"],
                "id_number_bidx": row.id_bidx, "id_number_masked": row.id_masked, "gender": row.gender,
                "birth_date": row.birth_date or None, "phone_enc": old["phone_enc"], "phone_bidx": old["phone_bidx"],
                "phone_masked": old["phone_masked"],
            }
            # The same number (found by its blind index) keeps its ciphertext when it is already
            # bound to this row under the active key; anything else is sealed afresh, bound to the row.
            if not _current(old["id_number_enc"], ring):
                new["id_number_enc"] = len(sealing)
                sealing.append((row.id_number, id_context + str(pk).encode()))
            if row.phone:
                new["phone_bidx"], new["phone_masked"] = row.phone_bidx, row.phone_masked
                if row.phone_bidx != old["phone_bidx"] or not _current(old["phone_enc"], ring):
                    new["phone_enc"] = len(sealing)
                    sealing.append((row.phone, phone_context + str(pk).encode()))
            # The audit event keeps what changed, as audit.changed(snapshot, snapshot) would, on
            # the audited fields (all plain text, numbers and booleans: JSON-native as they are).
            before, after = {}, {}
            for name in _AUDITED:
                if old[name] != new[name]:
                    before[name], after[name] = old[name], new[name]
            # The identifiers' columns are indexed: rewritten only when something in them changes.
            sealed_same = all(new[name] == old[name] for name in _SEALED_COLUMNS) and (
                (old["birth_date"].isoformat() if old["birth_date"] else "") == row.birth_date)
            (plain if sealed_same else updates).append((pk, new))
            tags.extend((pk, g) for g in row.groups)
            events.append(("people.resident.import", "people.resident", pk, row.name, before, after))
        ids = reserve_ids(Resident, len(creates))
        base = len(sealing)
        for pk, (_, row) in zip(ids, creates, strict=True):
            sealing.append((row.id_number, id_context + str(pk).encode()))
            sealing.append((row.phone, phone_context + str(pk).encode()))
        sealed_values = crypto.encrypt_many(sealing, ring)
        insert = []
        # The rows go to the driver as they are (insert_rows(prepared=True)): the batch's `now`
        # and each distinct birth date converted once.
        stamp = db_value(Resident, "created_at", now)
        born: dict[str, Any] = {"": None}
        for index, (pk, (_, row)) in enumerate(zip(ids, creates, strict=True)):
            household_id = households.get(row.household_number) if row.household_number else None
            birth = born.get(row.birth_date, born)
            if birth is born:
                birth = born[row.birth_date] = db_value(Resident, "birth_date", row.birth_date)
            insert.append((
                pk, stamp, stamp, row.node_id, row.subdistrict_id, household_id, row.relation, row.name,
                sealed_values[base + 2 * index], row.id_bidx, row.id_masked, row.gender, birth,
                sealed_values[base + 2 * index + 1], row.phone_bidx, row.phone_masked, row.registered_address,
                row.actual_address, row.is_floating, row.notes, True,
            ))
            tags.extend((pk, g) for g in row.groups)
            events.append(("people.resident.import", "people.resident", pk, row.name, None, row.audit_view(household_id)))
        insert_rows(Resident, INSERT_FIELDS, insert, prepared=True)
        if updates:
            for _, new in updates:
                for name in ("id_number_enc", "phone_enc"):
                    if type(new[name]) is int:
                        new[name] = sealed_values[new[name]]
            update_rows(Resident, UPDATE_FIELDS, [(pk, *(new[a] for a in _UPDATE_ATTNAMES), now) for pk, new in updates])
        if plain:
            update_rows(Resident, PLAIN_UPDATE_FIELDS,
                        [(pk, *(new[a] for a in _PLAIN_ATTNAMES), now) for pk, new in plain])
        if tags:
            ResidentTag.objects.bulk_create(
                [ResidentTag(resident_id=r, group_id=g, created_at=now, updated_at=now) for r, g in tags],
                ignore_conflicts=True, batch_size=500,
            )
        audit.record_many(actor=actor, events=events, reason=f"导入作业 #{job.pk}")
        return BatchResult(len(creates), len(updates) + len(plain), refused, clashes)

    def _households(self, rows: list[tuple[int, ResidentRow]]) -> dict[str, int]:
        """Household ids by number for the batch, creating the ones not registered yet."""
        wanted: dict[tuple[int | None, str], ResidentRow] = {}
        for _, row in rows:
            if row.household_number:
                wanted.setdefault((row.subdistrict_id, row.household_number), row)
        if not wanted:
            return {}
        numbers, subdistricts = list({n for _, n in wanted}), list({s for s, _ in wanted})
        found: dict[str, int] = {}
        if None in subdistricts:  # IN (NULL) matches nothing, as the ORM's filter did
            subdistricts.remove(None)
        if subdistricts:
            table, quote = Household._meta.db_table, connection.ops.quote_name
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT number, id FROM {quote(table)} WHERE number IN ({', '.join(['%s'] * len(numbers))})"
                    f" AND subdistrict_id IN ({', '.join(['%s'] * len(subdistricts))})", [*numbers, *subdistricts])
                found.update(cursor.fetchall())
        missing = [(key, row) for key, row in wanted.items() if key[1] not in found]
        if missing:
            # Plain rows through core.bulk (one executemany), as the residents themselves.
            now = timezone.now()
            ids = reserve_ids(Household, len(missing))
            insert_rows(Household, _HOUSEHOLD_FIELDS, [
                (pk, now, now, row.node_id, sub, number, row.actual_address or row.registered_address or number,
                 "", None, "", None, "")
                for pk, ((sub, number), row) in zip(ids, missing, strict=True)
            ])
            found.update((number, pk) for pk, ((_, number), _) in zip(ids, missing, strict=True))
        return found


# Never in an audit event: ciphertexts, blind indexes, the birth date (Resident.audit_exclude) and
# the timestamp every update moves (audit.changed leaves it out too).
_UNAUDITED = frozenset(Resident.audit_exclude) | {"updated_at"}
# What a re-import reads of a registered resident (attnames), writes back, and audits.
_STORED = (
    "node_id", "subdistrict_id", "name", "household_id", "relation", "registered_address", "actual_address",
    "is_floating", "notes", "id_number_enc", "id_number_bidx", "id_number_masked", "gender", "birth_date",
    "phone_enc", "phone_bidx", "phone_masked",
)
_AUDITED = tuple(name for name in _STORED if name not in _UNAUDITED)
_BIDX = 1 + _STORED.index("id_number_bidx")  # its place in a row read as ("id", *_STORED)
_HOUSEHOLD_FIELDS = (
    "id", "created_at", "updated_at", "node", "subdistrict", "number", "address", "unit", "floor", "room", "head",
    "notes",
)


def _registered(keys: list[str]) -> list[tuple]:
    """("id", *_STORED) of the residents whose ID number's blind index is one of `keys`, the values
    as the ORM's values_list gives them (a date, a bool). `NOT (... = '')` repeats the unique
    index's predicate word for word: only then may SQLite (and PostgreSQL, for a list this long)
    use that partial index for the IN instead of scanning the table (SQLite does not take `<> ''`
    for it; tests/people/test_import_sealing.py checks the plan)."""
    with connection.cursor() as cursor:
        cursor.execute(_registered_sql(len(keys)), keys)
        rows = cursor.fetchall()
    born, floating = 1 + _STORED.index("birth_date"), 1 + _STORED.index("is_floating")
    out = []
    for row in rows:
        row = list(row)
        if isinstance(row[born], str):  # SQLite keeps dates as text
            row[born] = date.fromisoformat(row[born]) if row[born] else None
        row[floating] = bool(row[floating])  # and booleans as 0 / 1
        out.append(tuple(row))
    return out


def _registered_sql(count: int) -> str:
    columns = {f.attname: f.column for f in Resident._meta.concrete_fields}
    quote = connection.ops.quote_name
    return (f"SELECT {quote('id')}, {', '.join(quote(columns[name]) for name in _STORED)} "
            f"FROM {quote(Resident._meta.db_table)} WHERE NOT ({quote('id_number_bidx')} = '') "
            f"AND {quote('id_number_bidx')} IN ({', '.join(['%s'] * count)})")


def _contexts() -> tuple[bytes, bytes]:
    """The associated data of a resident's ID number and phone, less the row id appended to each
    (jiedao.core.sealed: `column.context(pk)` is this prefix followed by the pk)."""
    return sealed.column_of(Resident, "id_number").context(""), sealed.column_of(Resident, "phone").context("")


def _current(token: str, ring: crypto.Keyring) -> bool:
    """A stored ciphertext bound to its row under the active key (a re-import keeps it)."""
    return bool(token) and crypto.is_bound(token) and crypto.key_id_of(token) == ring.active

INSERT_FIELDS = (
    "id", "created_at", "updated_at", "node", "subdistrict", "household", "relation", "name", "id_number_enc",
    "id_number_bidx", "id_number_masked", "gender", "birth_date", "phone_enc", "phone_bidx", "phone_masked",
    "registered_address", "actual_address", "is_floating", "notes", "is_active",
)
UPDATE_FIELDS = [
    "node", "subdistrict", "name", "household", "relation", "registered_address", "actual_address", "is_floating",
    "notes", "id_number_enc", "id_number_bidx", "id_number_masked", "gender", "birth_date", "phone_enc", "phone_bidx",
    "phone_masked", "updated_at",
]
_UPDATE_ATTNAMES = _STORED  # UPDATE_FIELDS but updated_at, as attnames, in the same order
assert [Resident._meta.get_field(name).attname for name in UPDATE_FIELDS[:-1]] == list(_UPDATE_ATTNAMES)
# The columns of the sealed identifiers and what the ID number tells (birth date compared apart).
_SEALED_COLUMNS = ("id_number_enc", "id_number_bidx", "id_number_masked", "gender", "phone_enc", "phone_bidx",
                   "phone_masked")
PLAIN_UPDATE_FIELDS = [
    "node", "subdistrict", "name", "household", "relation", "registered_address", "actual_address", "is_floating",
    "notes", "updated_at",
]
_PLAIN_ATTNAMES = tuple(Resident._meta.get_field(name).attname for name in PLAIN_UPDATE_FIELDS[:-1])


# --- businesses -------------------------------------------------------------------------------

_SIZE_LABELS = {str(label): value for value, label in BusinessSize.choices}


@dataclass
class BusinessRow:
    node_id: int
    subdistrict_id: int | None
    fields: dict[str, Any]
    phone: str
    uscc: str


class BusinessRegister(RegisterSpec):
    key = "businesses"
    label = gettext_lazy("工商业主体")
    sheet_name = "工商业主体"
    permission = Perm.MANAGE_BUSINESSES
    duplicate_column = "统一社会信用代码"
    row_type = BusinessRow
    columns = (
        Column("name", "名称", required=True, aliases=("主体名称", "企业名称"), example="象山丹西水产有限公司"),
        Column("uscc", "统一社会信用代码", aliases=("信用代码", "社会信用代码"), example="91330225MA2AB12340", text=True,
               help="18 位；作为识别同一主体的依据，重复导入时按它更新"),
        Column("kind", "主体类型", aliases=("类型",), example="有限责任公司"),
        Column("legal_rep", "法定代表人", aliases=("负责人", "经营者"), example="李海"),
        Column("phone", "联系电话", aliases=("电话",), example="0574-65712345", text=True, personal="phone"),
        Column("node", "所在网格/楼栋", required=True, aliases=("所在网格", "网格", "所属网格", "楼栋"),
               example="东门社区/东门第一网格"),
        Column("address", "经营地址", aliases=("地址",), example="丹西街道东门路 88 号"),
        Column("industry", "行业", aliases=("所属行业",), example="水产加工"),
        Column("size", "规模", example="小型", help="大型 / 中型 / 小型 / 微型 / 个体"),
    )

    def begin(self, actor: Any) -> NodeResolver:
        return NodeResolver(actor, Perm.MANAGE_BUSINESSES)

    def parse_row(self, ctx: NodeResolver, row: int, values: dict[str, Cell]) -> BusinessRow:
        errors: list[tuple[str, str]] = []
        fields = {
            "name": _limited(values, "name", "名称", 128, errors, required=True),
            "kind": _limited(values, "kind", "主体类型", 32, errors),
            "legal_rep": _limited(values, "legal_rep", "法定代表人", 64, errors),
            "address": _limited(values, "address", "经营地址", 200, errors),
            "industry": _limited(values, "industry", "行业", 64, errors),
        }
        uscc = "".join(_cell_text(values, "uscc").split()).upper()
        if uscc:
            try:
                validate_uscc(uscc)
            except DomainError as exc:
                errors.append(("统一社会信用代码", exc.message))
        size = _cell_text(values, "size")
        if size and size not in _SIZE_LABELS and size not in BusinessSize.values:
            errors.append(("规模", gettext("应为大型、中型、小型、微型或个体")))
        fields["size"] = _SIZE_LABELS.get(size, size)
        phone = _checked_phone(values, "联系电话", errors)
        node_id = 0
        try:
            node_id = ctx.resolve(_cell_text(values, "node"))
        except ValueError as exc:
            errors.append(("所在网格/楼栋", str(exc)))
        if errors:
            raise RowInvalid(errors)
        return BusinessRow(node_id, ctx.subdistrict_of(node_id), fields, phone, uscc)

    def row_key(self, parsed: BusinessRow) -> str | None:
        return parsed.uscc or None

    def apply_batch(self, ctx: NodeResolver, actor: Any, job: Any, rows: list[tuple[int, BusinessRow]]) -> BatchResult:
        codes = [row.uscc for _, row in rows if row.uscc]
        existing = {b.uscc: b for b in Business.objects.filter(uscc__in=codes)} if codes else {}
        creates, updates, befores, refused = [], [], {}, []
        ring = crypto.get_keyring()
        for number, row in rows:
            business = existing.get(row.uscc) if row.uscc else None
            if business is None:
                business = Business(uscc=row.uscc)
                creates.append(business)
            else:
                if business.node_id not in ctx.by_id:
                    refused.append((number, "统一社会信用代码", gettext("该主体已登记在您管辖范围以外，请联系其所在社区")))
                    continue
                befores[id(business)] = audit.snapshot(business)
                updates.append(business)
            business.node_id, business.subdistrict_id = row.node_id, row.subdistrict_id
            for key, value in row.fields.items():
                setattr(business, key, value)
            if row.phone:
                aad = sealed.column_of(Business, "phone").context(business.pk) if business.pk else None
                phone = sealed.seal("phone", row.phone, keyring=ring, aad=aad)
                business.phone_enc, business.phone_bidx, business.phone_masked = phone.ciphertext, phone.blind_index, phone.mask
        Business.objects.bulk_create(creates, batch_size=500)
        sealed.bind_rows(Business, [b.pk for b in creates])  # bulk_create sends no signals
        if updates:
            Business.objects.bulk_update(
                updates, ["node", "subdistrict", "name", "kind", "legal_rep", "address", "industry", "size",
                          "phone_enc", "phone_bidx", "phone_masked", "updated_at"], batch_size=500,
            )
        events = [audit.event_for("people.business.import", b, None, audit.snapshot(b)) for b in creates]
        for business in updates:
            old, new = audit.changed(befores[id(business)], audit.snapshot(business))
            events.append(audit.event_for("people.business.import", business, old, new))
        audit.record_many(actor=actor, events=events, reason=f"导入作业 #{job.pk}")
        services.notify_business_changed(actor, [*creates, *updates], set())
        return BatchResult(len(creates), len(updates), refused)


register(ResidentRegister())
register(BusinessRegister())
