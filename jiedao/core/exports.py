"""Exports of filtered lists to xlsx, streamed to a temporary file (flat memory), audited.

Personal identifiers are exported masked; a user with the reveal permission may ask for clear
values, stating a reason, and the export is then recorded in the audit log with that reason
and the number of rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from jiedao.core import audit
from jiedao.core.text import xml_text


@dataclass(frozen=True)
class ExportColumn:
    header: str
    value: Callable[[Any], Any]
    width: int = 14
    text: bool = False


def write_xlsx(*, title: str, columns: list[ExportColumn], rows: Iterable[Any]) -> tuple[Any, int]:
    """Write rows to a temporary xlsx; returns (open file positioned at 0, row count)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column.header)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        # Values stored before the text rule may hold control characters, which xlsx (XML) cannot.
        sheet.append([_cell(column.value(row)) for column in columns])
        count += 1
    # Returned open: the caller streams it (FileResponse closes it when done).
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    workbook.save(handle)
    handle.seek(0)
    return handle, count


def _cell(value: Any) -> Any:
    return xml_text(value) if isinstance(value, str) else value


def export_file_name(stem: str) -> str:
    return f"{stem}-{timezone.localtime():%Y%m%d-%H%M}.xlsx"


@transaction.atomic
def record_export(*, actor: Any, register: str, filters: dict[str, Any], count: int, revealed: bool, reason: str = "") -> None:
    audit.record(
        actor=actor, action=f"{register}.export" + ("_revealed" if revealed else ""), object_type=register,
        after={"filters": filters, "rows": count, "revealed": revealed}, reason=reason,
    )
