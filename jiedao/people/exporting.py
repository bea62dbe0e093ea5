"""What the register pages and the API share for spreadsheets: export columns (the import
template's columns first, so a revealed export can be edited and imported again), the one
export routine, who may import what, and an import job's errors as a pageable sequence."""

from __future__ import annotations

from datetime import date
from typing import Any

from jiedao.core import exports, imports, sealed
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.people import selectors

IMPORT_PERMISSIONS = {"residents": Perm.IMPORT_PEOPLE, "businesses": Perm.MANAGE_BUSINESSES}


def _yes(value: bool) -> str:
    return "是" if value else "否"


def _clear(field: str) -> Any:
    return lambda obj: sealed.reveal(obj, field)


def _masked(field: str) -> Any:
    return lambda obj: getattr(obj, f"{field}_masked")


def _current_groups(resident: Any) -> str:
    today = date.today()
    tags = [t for t in resident.tags.all() if t.end_date is None or t.end_date >= today]
    return "、".join(t.group.name for t in sorted(tags, key=lambda t: (t.group.sort_order, t.group_id)))


def resident_columns(places: dict[str, str], reveal: bool) -> list[exports.ExportColumn]:
    value = _clear if reveal else _masked
    col = exports.ExportColumn
    return [
        col("姓名", lambda r: r.name),
        col("身份证号", value("id_number"), width=22, text=True),
        col("联系电话", value("phone"), width=16, text=True),
        col("所在网格/楼栋", lambda r: places.get(r.node.path, r.node.name), width=36),
        col("户号", lambda r: r.household.number if r.household_id else "", text=True),
        col("与户主关系", lambda r: r.relation),
        col("户籍地址", lambda r: r.registered_address, width=30),
        col("现住地址", lambda r: r.actual_address, width=30),
        col("流动人口", lambda r: _yes(r.is_floating), width=10),
        col("特殊人群", _current_groups, width=20),
        col("备注", lambda r: r.notes, width=20),
        col("性别", lambda r: str(r.get_gender_display()) if r.gender else "", width=8),
        # A masked export carries the birth year only: the date would narrow the masked ID number.
        col("出生日期", lambda r: r.birth_date, width=12) if reveal
        else col("出生年份", lambda r: r.birth_date.year if r.birth_date else "", width=10),
        col("在册", lambda r: _yes(r.is_active), width=8),
    ]


def business_columns(places: dict[str, str], reveal: bool) -> list[exports.ExportColumn]:
    col = exports.ExportColumn
    return [
        col("名称", lambda b: b.name, width=30),
        col("统一社会信用代码", lambda b: b.uscc, width=22, text=True),
        col("主体类型", lambda b: b.kind),
        col("法定代表人", lambda b: b.legal_rep),
        col("联系电话", (_clear if reveal else _masked)("phone"), width=16, text=True),
        col("所在网格/楼栋", lambda b: places.get(b.node.path, b.node.name), width=36),
        col("经营地址", lambda b: b.address, width=30),
        col("行业", lambda b: b.industry),
        col("规模", lambda b: str(b.get_size_display()) if b.size else "", width=8),
        col("风险等级", lambda b: str(b.get_risk_colour_display()), width=8),
        col("在营", lambda b: _yes(b.is_active), width=8),
    ]


def export_register(
    *, actor: Any, register: str, stem: str, queryset: Any, columns: Any, filters: dict[str, Any],
    reveal: bool, reason: str, prefetch: tuple[str, ...] = (),
) -> tuple[Any, str]:
    """Write the (already scoped) queryset to xlsx; returns (open file, download name).

    Callers check the reveal permission and reason first (services.export_reveal_check); a
    revealed export then holds only the rows the reveal permission covers. Audited either way."""
    if reveal:
        queryset = selectors.revealable(actor, queryset)
    places = selectors.node_full_names(queryset)
    rows = queryset.prefetch_related(*prefetch).iterator(chunk_size=2000)
    handle, count = exports.write_xlsx(title=stem, columns=columns(places, reveal), rows=rows)
    exports.record_export(actor=actor, register=register, filters=filters, count=count, revealed=reveal,
                          reason=reason if reveal else "")
    return handle, exports.export_file_name(stem)


class ImportErrorLines:
    """A job's row errors as a sequence a paginator slices: only the page is parsed."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job

    def __len__(self) -> int:
        try:
            with imports.errors_file(self.job).open("rb") as handle:
                return sum(1 for _ in handle)
        except FileNotFoundError:
            return 0

    def __getitem__(self, window: slice) -> list[dict[str, Any]]:
        return imports.read_errors(self.job, offset=window.start or 0, limit=window.stop - (window.start or 0))
