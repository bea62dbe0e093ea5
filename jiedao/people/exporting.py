"""What the register pages and the API share for spreadsheets: export columns (the import
template's columns first, so a revealed export can be edited and imported again), the export
kinds handed to core's export jobs (rows from the stored list filters), who may import what, and an import job's errors as a pageable sequence."""

from __future__ import annotations

from datetime import date
from typing import Any

from jiedao.core import exports, imports, scope, sealed
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.org.models import OrgNode
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


def _node(filters: dict[str, Any]) -> Any:
    """The stored node filter back as a node: a node deleted since fails the job rather than
    silently widening the export to the whole scope."""
    pk = filters.get("node")
    return OrgNode.objects.get(pk=pk) if pk else None


def _finish(actor: Any, queryset: Any, columns: Any, reveal: bool, prefetch: tuple[str, ...] = ()) -> tuple[Any, Any]:
    # A revealed export holds only the rows the reveal permission covers.
    if reveal:
        queryset = selectors.revealable(actor, queryset)
    places = selectors.node_full_names(queryset)
    return queryset.prefetch_related(*prefetch), columns(places, reveal)


def resident_rows(actor: Any, filters: dict[str, Any], reveal: bool) -> tuple[Any, Any]:
    """The residents list's rows for an export job (core.exports.ExportKind.rows)."""
    queryset = selectors.resident_list(
        actor, text=filters.get("text", ""), node=_node(filters), group=filters.get("group", ""),
        is_floating=filters.get("is_floating"), gender=filters.get("gender", ""), active=filters.get("active"),
    )
    return _finish(actor, queryset, resident_columns, reveal, ("tags__group",))


def business_rows(actor: Any, filters: dict[str, Any], reveal: bool) -> tuple[Any, Any]:
    queryset = selectors.business_list(
        actor, text=filters.get("text", ""), node=_node(filters), risk_colour=filters.get("risk_colour", ""),
        industry=filters.get("industry", ""),
    )
    return _finish(actor, queryset, business_columns, reveal)


def household_columns(places: dict[str, str], reveal: bool = False) -> list[exports.ExportColumn]:
    col = exports.ExportColumn
    return [
        col("户号", lambda h: h.number, text=True),
        col("住址", lambda h: h.address, width=30),
        col("单元", lambda h: h.unit, width=8),
        col("楼层", lambda h: h.floor, width=8),
        col("室号", lambda h: h.room, width=8),
        col("所在网格/楼栋", lambda h: places.get(h.node.path, h.node.name), width=36),
        col("户主", lambda h: h.head.name if h.head_id else ""),
        col("备注", lambda h: h.notes, width=20),
    ]


def household_rows(actor: Any, filters: dict[str, Any], reveal: bool) -> tuple[Any, Any]:
    """Households hold no personal identifiers: always a plain export."""
    queryset = selectors.household_list(actor, text=filters.get("text", ""), node=_node(filters))
    return _finish(actor, queryset, household_columns, False)


def register_exports() -> None:
    """The registers' export kinds (PeopleConfig.ready)."""
    from jiedao.people import services

    def may(perm: str) -> Any:
        return lambda user: scope.has_perm_anywhere(user, perm)

    reveal = {"reveal_check": services.export_reveal_check, "reveal_allowed": may(Perm.REVEAL_PII)}
    exports.register(exports.ExportKind("people.resident", "居民", may(Perm.VIEW_PEOPLE), resident_rows, **reveal))
    exports.register(exports.ExportKind("people.business", "工商业主体", may(Perm.VIEW_BUSINESSES), business_rows,
                                        **reveal))
    exports.register(exports.ExportKind("people.household", "住户", may(Perm.VIEW_PEOPLE), household_rows))


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
