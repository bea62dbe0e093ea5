"""Reading spreadsheets safely: xlsx (streamed) and csv (UTF-8 or GBK), row by row.

Problems a person can fix are reported in Chinese with the row number: formula cells, merged
cells, numbers that Excel has already rounded, an undecodable csv, missing headers. Memory
stays flat: xlsx is read in openpyxl's read-only mode, csv line by line.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.utils.translation import gettext as _
from openpyxl.utils.cell import range_boundaries

from jiedao.core.xlsx import Cell, XlsxError, XlsxReader  # Cell: a csv cell is the same type

MAX_COLUMNS = 60


class TabularError(Exception):
    """The file as a whole cannot be read; the message says why in Chinese."""


@dataclass
class Table:
    headers: list[str]
    header_row: int
    sheet: str
    notices: list[str] = field(default_factory=list)
    merged_rows: dict[int, str] = field(default_factory=dict)
    _rows: Iterator[tuple[int, list[Cell]]] | None = None
    _close: Any = None

    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        """(1-based row number as Excel shows it, cells) for every non-empty data row."""
        assert self._rows is not None
        try:
            yield from self._rows
        finally:
            self.close()

    def close(self) -> None:
        if self._close is not None:
            self._close()
            self._close = None


def _clean_header(value: Any) -> str:
    text = "" if value is None else str(value)
    return re.sub(r"[\s*＊]+", "", text).strip()


def open_table(path: Path | str | BinaryIO, *, original_name: str = "", sheet_hint: str = "") -> Table:
    """`path` may also be a seekable binary file (an import decrypted in memory)."""
    name = (original_name or str(path)).lower()
    source = path if hasattr(path, "read") else Path(path)  # type: ignore[arg-type]
    if name.endswith(".xlsx") or name.endswith(".xlsm"):
        return _open_xlsx(source, sheet_hint)
    if name.endswith(".csv") or name.endswith(".txt"):
        return _open_csv(source)
    if name.endswith(".xls"):
        raise TabularError(_("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后再上传。"))
    raise TabularError(_("只支持 .xlsx 或 .csv 文件。"))


# --- xlsx -------------------------------------------------------------------------------------

_MERGE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+\d+(?::[A-Z]+\d+)?)"')


def _merged_ranges(archive: zipfile.ZipFile, sheet_path: str) -> list[str]:
    """Merged ranges, found by streaming the sheet XML (they sit after the rows)."""
    found: list[str] = []
    tail = b""
    with archive.open(sheet_path) as stream:
        while True:
            chunk = stream.read(1 << 20)
            buffer = tail + chunk
            if not chunk:
                found.extend(m.decode() for m in _MERGE.findall(buffer))
                break
            # Hold back from the last "<" on, so a tag cut at a chunk border is read whole next time.
            cut = buffer.rfind(b"<")
            head, tail = (buffer[:cut], buffer[cut:]) if cut >= 0 else (buffer, b"")
            found.extend(m.decode() for m in _MERGE.findall(head))
    return found


def _open_xlsx(path: Path | BinaryIO, sheet_hint: str) -> Table:
    try:
        reader = XlsxReader(path)
    except XlsxError as exc:
        raise TabularError(
            _("无法读取该 xlsx 文件（文件可能已损坏或不是 Excel 文件）：%(error)s") % {"error": exc}
        ) from None
    if not reader.sheets:
        reader.close()
        raise TabularError(_("该 xlsx 文件中没有工作表。"))
    names = [name for name, _ in reader.sheets]
    chosen, sheet_path = next(
        ((n, p) for n, p in reader.sheets if sheet_hint and n.strip() == sheet_hint), reader.sheets[0]
    )
    notices = []
    if len(names) > 1:
        others = _("、").join(n for n in names if n != chosen)
        notices.append(
            _("文件有 %(count)s 个工作表，只导入“%(chosen)s”，已忽略：%(others)s。")
            % {"count": len(names), "chosen": chosen, "others": others}
        )
    merged_rows: dict[int, str] = {}
    for ref in _merged_ranges(reader.archive, sheet_path):
        _min_col, min_row, _max_col, max_row = range_boundaries(ref)
        for row in range(min_row, (max_row or min_row) + 1):
            merged_rows.setdefault(row, ref)
    raw_rows = reader.rows(sheet_path)
    headers: list[str] = []
    header_row = 0
    for number, cells in raw_rows:
        values = [_clean_header(c.value) for c in cells[:MAX_COLUMNS]]
        if any(values):
            headers, header_row = values, number
            break
        if number > 20:
            break
    if not headers:
        reader.close()
        raise TabularError(_("工作表“%(sheet)s”是空的：没有找到表头。") % {"sheet": chosen})
    width = len(headers)

    def data_rows() -> Iterator[tuple[int, list[Cell]]]:
        for number, cells in raw_rows:
            cells = cells[:width]
            empty = True
            for cell in cells:
                value = cell.value
                if isinstance(value, str):
                    value = cell.value = value.strip()
                    if value.startswith("="):
                        cell.is_formula = True
                if value is not None and value != "":
                    empty = False
            if not empty:
                if len(cells) < width:
                    cells.extend(Cell(None) for _ in range(width - len(cells)))
                yield number, cells

    return Table(headers, header_row, chosen, notices, merged_rows, data_rows(), reader.close)


# --- csv --------------------------------------------------------------------------------------


def _detect_encoding(sample: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            decoder.decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise TabularError(_("无法识别 CSV 文件的编码：请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后再上传。"))


def _open_csv(path: Path | BinaryIO) -> Table:
    handle = path if hasattr(path, "read") else path.open("rb")  # type: ignore[union-attr]
    sample = handle.read(1 << 16)
    handle.seek(0)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample[:1000]:
        handle.close()
        raise TabularError(_("CSV 文件是 UTF-16 编码：请另存为“CSV UTF-8（逗号分隔）”后再上传。"))
    encoding = _detect_encoding(sample)
    text = io.TextIOWrapper(handle, encoding=encoding, errors="strict", newline="")
    try:
        dialect = csv.Sniffer().sniff(sample.decode(encoding, errors="ignore")[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text, dialect)
    try:
        first = next(reader)
    except StopIteration:
        text.close()
        raise TabularError(_("CSV 文件是空的：没有找到表头。")) from None
    except UnicodeDecodeError:
        text.close()
        raise TabularError(_("CSV 文件编码错误：请另存为 UTF-8 编码后再上传。")) from None
    headers = [_clean_header(h) for h in first[:MAX_COLUMNS]]
    notices = [] if encoding.startswith("utf-8") else [_("文件按 GBK（GB18030）编码读取。")]

    def data_rows() -> Iterator[tuple[int, list[Cell]]]:
        number = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise TabularError(
                    _("CSV 文件第 %(row)s 行附近编码错误：请另存为 UTF-8 编码后再上传。") % {"row": number + 1}
                ) from None
            number += 1
            values = [v.strip() for v in row[: len(headers)]]
            if any(values):
                values.extend("" for _ in range(len(headers) - len(values)))
                # A csv has no formulas, but a cell typed as "=..." would become one when reopened in Excel.
                yield number, [Cell(v or None, v.startswith("=")) for v in values]

    return Table(headers, 1, "", notices, {}, data_rows(), text.close)


# --- cell conversions shared by importers ------------------------------------------------------


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_TRUE = {"是", "有", "y", "yes", "true", "1", "√", "✓"}
_FALSE = {"否", "无", "n", "no", "false", "0", ""}


def as_bool(value: Any) -> bool:
    text = as_text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_("应填写“是”或“否”"))


def as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = as_text(value).replace("/", "-").replace(".", "-")
    match = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", text) or re.match(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$", text)
    if not match:
        raise ValueError(_("应为日期，如 2024-03-01"))
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(_("日期不存在")) from None
