"""Reading spreadsheets safely: xlsx (through calamine) and csv (UTF-8 or GBK), row by row.

Problems a person can fix are reported in Chinese with the row number: formula cells, merged
cells, numbers that Excel has already rounded, an undecodable csv, missing headers.

An xlsx is a zip of XML parts, and what it claims is not what it costs: a 1 KB file can name a
cell in column 12,000,000 (the reader would hold a whole grid up to it), a 2 MB file can unpack
to a gigabyte of shared strings, one long shared string can be copied into a million cells.
calamine (Rust) reads fast and safely, but holds the sheet's used range as one dense grid and
aborts the whole process — not a Python exception — when it cannot allocate it. So before it
opens a file, `_inspect_xlsx` checks everything that sizes that work against `LIMITS`, cheaply:
the zip's directory (entries, unpacked sizes, compression ratio), then one streamed pass of
regular expressions over the shared strings and the chosen sheet (cell references, dimension,
merged ranges, formulas, which shared strings the cells copy), with DTDs refused. Each refusal
is a `TabularError` naming the limit and the figure. Reading then runs against a deadline.
"""

from __future__ import annotations

import codecs
import csv
import io
import posixpath
import re
import time
import zipfile
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

from django.utils.translation import gettext as _

MAX_COLUMNS = 60  # headers read from a sheet; an import's columns are far fewer
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a spreadsheet may hold. Checked before the expensive work (see the module docstring)."""

    columns: int = 16_384  # Excel's own last column, XFD
    rows: int = 200_000  # last row of the sheet (header included); csv: data rows
    cells: int = 4_000_000  # rows x columns of the used range, held whole (about 32 bytes a cell)
    unpacked_bytes: int = 200 * MB  # every zip entry together, uncompressed
    zip_entries: int = 1_000
    ratio: int = 200  # an entry above 1 MB unpacked may be at most this many times its packed size
    part_bytes: int = 16 * MB  # workbook, relationships and styles parts, each
    shared_strings: int = 1_000_000  # entries of the shared-string table
    shared_string_bytes: int = 64 * MB  # the shared-string table, unpacked
    cell_text_bytes: int = 128 * MB  # text of the cells once shared strings are copied into them
    merged_ranges: int = 10_000
    formulas: int = 10_000
    csv_record_chars: int = 1_000_000  # one csv record (all its fields)
    seconds: float = 300.0  # reading the file, checks and the caller's work per row included


LIMITS = Limits()
_EXCEL_GRID = Limits(rows=1_048_576)


class TabularError(Exception):
    """The file as a whole cannot be read; the message says why in Chinese."""


class Cell:
    """One cell's value and whether Excel computes it from a formula."""

    __slots__ = ("is_formula", "value")

    def __init__(self, value: Any, is_formula: bool = False) -> None:
        self.value = value
        self.is_formula = is_formula


class MergedRows:
    """Rows that lie in a merged range, looked up in O(log ranges) (never expanded row by row)."""

    def __init__(self, ranges: list[tuple[int, int, str]] = ()) -> None:  # (first row, last row, ref)
        starts: list[int] = []
        ends: list[int] = []
        refs: list[str] = []
        for first, last, ref in sorted(ranges):
            if ends and first <= ends[-1]:
                ends[-1] = max(ends[-1], last)  # overlapping ranges: the first one names the row
            else:
                starts.append(first)
                ends.append(last)
                refs.append(ref)
        self._starts, self._ends, self._refs = starts, ends, refs

    def get(self, row: int) -> str | None:
        index = bisect_right(self._starts, row) - 1
        if index >= 0 and row <= self._ends[index]:
            return self._refs[index]
        return None

    def __contains__(self, row: int) -> bool:
        return self.get(row) is not None

    def __getitem__(self, row: int) -> str:
        ref = self.get(row)
        if ref is None:
            raise KeyError(row)
        return ref

    def __bool__(self) -> bool:
        return bool(self._starts)


@dataclass
class Table:
    headers: list[str]
    header_row: int
    sheet: str
    notices: list[str] = field(default_factory=list)
    merged_rows: MergedRows = field(default_factory=MergedRows)
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


class _Deadline:
    def __init__(self, limits: Limits) -> None:
        self.seconds = limits.seconds
        self.at = time.monotonic() + limits.seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise TabularError(
                _("读取表格超过时间上限 %(limit)s 秒，已停止：请把文件拆成几份再上传。") % {"limit": int(self.seconds)}
            )


def _clean_header(value: Any) -> str:
    text = "" if value is None else str(value)
    return re.sub(r"[\s*＊]+", "", text).strip()


def open_table(
    path: Path | str | BinaryIO, *, original_name: str = "", sheet_hint: str = "", limits: Limits = LIMITS
) -> Table:
    """`path` may also be a seekable binary file (an import decrypted in memory)."""
    name = (original_name or str(path)).lower()
    source = path if hasattr(path, "read") else Path(path)  # type: ignore[arg-type]
    if name.endswith(".xlsx") or name.endswith(".xlsm"):
        return _open_xlsx(source, sheet_hint, limits)
    if name.endswith(".csv") or name.endswith(".txt"):
        return _open_csv(source, limits)
    if name.endswith(".xls"):
        raise TabularError(_("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后再上传。"))
    raise TabularError(_("只支持 .xlsx 或 .csv 文件。"))


def check_upload(handle: BinaryIO, name: str, limits: Limits = LIMITS) -> None:
    """The checks that cost nothing (the zip's directory), for an upload before it is stored:
    a broken or bomb-shaped xlsx is refused in the request. The file is left at its start."""
    if not name.lower().endswith((".xlsx", ".xlsm")):
        return
    try:
        with _open_zip(handle) as archive:
            _check_directory(archive, limits)
    finally:
        handle.seek(0)


# --- xlsx: the checks before the work -------------------------------------------------------------

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_P = rb"<(?:[A-Za-z_][\w.-]{0,15}:)?"  # an element's optional namespace prefix
_CELL_OPEN = re.compile(_P + rb"c[\s/>]")
# The fast path: cells written as Excel, WPS, LibreOffice and openpyxl write them, `<c r="A1"`. Every
# match is also a cell tag, so equal counts mean every cell was read; any other
# spelling (a prefix, r not first, a tab) makes them differ and the slow path walks the tags.
_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
_ROW_OR_CELL = re.compile(_P + rb"(row|c)(?=[\s/>])([^>]*)>")
_ATTR_R = re.compile(rb'\br="([^"]*)"')
# Starts at a literal, so the engine jumps between matches; "xt=" counted too only over-estimates.
_SHARED_REF = re.compile(rb't="s"[^>]*>\s*' + _P + rb"v>\s*([0-9]{1,10})\s*<")
_FORMULA = re.compile(_P + rb'c\s[^>]*?\br="([A-Z]{1,3}[0-9]{1,7})"[^>]*>\s*' + _P + rb"f[\s/>]")
_MERGE = re.compile(_P + rb'mergeCell\s[^>]*?\bref="([^"]{0,64})"')
_DIMENSION = re.compile(_P + rb'dimension\s[^>]*?\bref="([^"]{0,64})"')
_SI = re.compile(_P + rb"si[\s/>]")
_UNIQUE = re.compile(_P + rb'sst\s[^>]*?\buniqueCount="([0-9]{1,12})"')
_REF = re.compile(r"^\$?([A-Z]{1,16})\$?([0-9]{1,12})$")
_CHUNK = 1 << 20


def _broken(detail: str = "") -> TabularError:
    return TabularError(
        _("无法读取该 xlsx 文件（文件可能已损坏或不是 Excel 文件）：%(error)s") % {"error": detail or _("格式错误")}
    )


def _open_zip(source: Path | BinaryIO) -> zipfile.ZipFile:
    handle = source if hasattr(source, "read") else open(source, "rb")  # noqa: SIM115 (closed with the zip)
    head = handle.read(8)
    handle.seek(0)
    if head == _OLE_MAGIC:
        if handle is not source:
            handle.close()
        raise TabularError(_("这是旧版 .xls 文件（只是扩展名改成了 .xlsx）：请在 Excel 中另存为 .xlsx 后再上传。"))
    if not head:
        if handle is not source:
            handle.close()
        raise TabularError(_("上传的文件是空的。"))
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        if handle is not source:
            handle.close()
        raise _broken(_("不是有效的 zip 压缩包，或文件不完整")) from None
    if handle is not source:
        archive._jiedao_own = handle  # type: ignore[attr-defined]
    return archive


def _close_zip(archive: zipfile.ZipFile) -> None:
    archive.close()
    own = getattr(archive, "_jiedao_own", None)
    if own is not None:
        own.close()


def _column_number(letters: str) -> int:
    """1-based column number of "A".."XFD"...; letters are upper-case ASCII."""
    number = 0
    for char in letters:
        number = number * 26 + ord(char) - 64
    return number


def _parse_ref(ref: str, limits: Limits) -> tuple[int, int]:
    """(row, column), both 1-based, of a cell reference; refused beyond the limits."""
    match = _REF.match(ref)
    if not match:
        raise _broken(_("单元格地址“%(ref)s”无效") % {"ref": ref[:32]})
    column = _column_number(match[1])
    if column > limits.columns:
        raise TabularError(
            _("表格用到了第 %(count)s 列（单元格 %(ref)s），超过上限 %(limit)s 列。")
            % {"count": column, "ref": ref[:32], "limit": limits.columns}
        )
    row = int(match[2])
    if row > limits.rows:
        raise TabularError(
            _("表格有 %(count)s 行，超过上限 %(limit)s 行：请把文件拆成几份再上传。") % {"count": row, "limit": limits.rows}
        )
    if row < 1 or column < 1:
        raise _broken(_("单元格地址“%(ref)s”无效") % {"ref": ref[:32]})
    return row, column


def _check_directory(archive: zipfile.ZipFile, limits: Limits) -> None:
    entries = archive.infolist()
    if len(entries) > limits.zip_entries:
        raise TabularError(
            _("xlsx 文件内含 %(count)s 个部件，超过上限 %(limit)s 个。") % {"count": len(entries), "limit": limits.zip_entries}
        )
    total = 0
    for info in entries:
        total += info.file_size
        if info.file_size > MB and info.file_size > limits.ratio * max(info.compress_size, 1):
            raise TabularError(
                _("xlsx 文件的部件 %(part)s 解压后是压缩时的 %(ratio)s 倍，超过上限 %(limit)s 倍（疑似“压缩炸弹”）。")
                % {"part": info.filename[:80], "ratio": info.file_size // max(info.compress_size, 1),
                   "limit": limits.ratio}
            )
    if total > limits.unpacked_bytes:
        raise TabularError(
            _("xlsx 文件解压后有 %(size)s MB，超过上限 %(limit)s MB。")
            % {"size": total // MB, "limit": limits.unpacked_bytes // MB}
        )
    if "xl/workbook.xml" not in archive.NameToInfo:
        raise _broken(_("缺少 xl/workbook.xml"))


def _chunks(archive: zipfile.ZipFile, name: str, deadline: _Deadline) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of one part, streamed, each piece cut before its last "<" so no tag is split;
    a DTD (entity declarations: "billion laughs") is refused wherever it appears.

    zipfile stops at the size the directory declares and checks the CRC, so a part cannot unpack
    to more than was checked in `_check_directory`."""
    tail = b""
    offset = 0
    try:
        with archive.open(name) as stream:
            while True:
                deadline.check()
                chunk = stream.read(_CHUNK)
                buffer = tail + chunk if tail else chunk
                if not chunk:
                    head, tail = buffer, b""
                else:
                    cut = buffer.rfind(b"<")
                    if cut < 0 or (cut == 0 and len(buffer) > 4 * _CHUNK):
                        cut = len(buffer)  # a long text without tags: nothing to keep back
                    head, tail = buffer[:cut], buffer[cut:]
                if _DTD.search(head):
                    raise _broken(_("文件含有 XML 实体声明（DOCTYPE/ENTITY），出于安全原因拒绝读取"))
                if head:
                    yield offset, head
                offset += len(head)
                if not chunk:
                    return
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ValueError):
        raise _broken(_("压缩数据损坏或不完整")) from None


def _read_part(archive: zipfile.ZipFile, name: str, limits: Limits, deadline: _Deadline) -> bytes:
    info = archive.NameToInfo.get(name)
    if info is None:
        raise KeyError(name)
    if info.file_size > limits.part_bytes:
        raise TabularError(
            _("xlsx 文件的部件 %(part)s 有 %(size)s MB，超过上限 %(limit)s MB。")
            % {"part": name[:80], "size": info.file_size // MB, "limit": limits.part_bytes // MB}
        )
    return b"".join(piece for _offset, piece in _chunks(archive, name, deadline))


def _parse(data: bytes, start: Any) -> None:
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        raise _broken(_("XML 格式错误")) from None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _sheets(archive: zipfile.ZipFile, limits: Limits, deadline: _Deadline) -> list[tuple[str, str]]:
    """(name, part) of every worksheet, in the workbook's order."""
    rels: dict[str, str] = {}

    def rel_start(name, attrs):
        if _local(name) == "Relationship":
            target = attrs.get("Target", "")
            rels[attrs.get("Id", "")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target)
            )

    sheets: list[tuple[str, str]] = []

    def wb_start(name, attrs):
        if _local(name) == "sheet":
            rid = attrs.get(f"{_NS_REL}}}id") or attrs.get("r:id", "")
            if rid in rels:
                sheets.append((attrs.get("name", ""), rels[rid]))

    try:
        _parse(_read_part(archive, "xl/_rels/workbook.xml.rels", limits, deadline), rel_start)
        _parse(_read_part(archive, "xl/workbook.xml", limits, deadline), wb_start)
    except KeyError:
        raise _broken(_("缺少工作簿结构")) from None
    if "xl/styles.xml" in archive.NameToInfo:  # calamine reads it too: same checks (size, DTD)
        _read_part(archive, "xl/styles.xml", limits, deadline)
    return [(name, part) for name, part in sheets if part in archive.NameToInfo]


def _shared_string_sizes(archive: zipfile.ZipFile, limits: Limits, deadline: _Deadline) -> array:
    """Unpacked size in bytes of each shared string (an upper bound of its text)."""
    sizes = array("Q")
    info = archive.NameToInfo.get("xl/sharedStrings.xml")
    if info is None:
        return sizes
    if info.file_size > limits.shared_string_bytes:
        raise TabularError(
            _("表格的共享字符串表解压后有 %(size)s MB，超过上限 %(limit)s MB。")
            % {"size": info.file_size // MB, "limit": limits.shared_string_bytes // MB}
        )
    previous = -1
    end = 0
    for offset, piece in _chunks(archive, info.filename, deadline):
        if offset == 0 and (unique := _UNIQUE.search(piece)) and int(unique[1]) > limits.shared_strings:
            raise _too_many_strings(int(unique[1]), limits)
        for match in _SI.finditer(piece):
            position = offset + match.start()
            if previous >= 0:
                sizes.append(position - previous)
            previous = position
        if len(sizes) > limits.shared_strings:
            raise _too_many_strings(len(sizes), limits)
        end = offset + len(piece)
    if previous >= 0:
        sizes.append(end - previous)
    if len(sizes) > limits.shared_strings:
        raise _too_many_strings(len(sizes), limits)
    return sizes


def _too_many_strings(count: int, limits: Limits) -> TabularError:
    return TabularError(
        _("表格有 %(count)s 个不同的文字值（共享字符串），超过上限 %(limit)s 个。")
        % {"count": count, "limit": limits.shared_strings}
    )


@dataclass
class _SheetFacts:
    first_row: int = 0
    last_row: int = 0
    first_column: int = 0
    last_column: int = 0
    merged: list[tuple[int, int, str]] = field(default_factory=list)
    formulas: set[tuple[int, int]] = field(default_factory=set)


def _inspect_sheet(
    archive: zipfile.ZipFile, part: str, shared: array, limits: Limits, deadline: _Deadline
) -> _SheetFacts:
    """One streamed pass over the sheet's XML: its used range, merged ranges, formula cells and
    the text its cells copy from the shared strings, each checked against the limits."""
    facts = _SheetFacts()
    text_bytes = 0
    row, column = 0, 0  # position of the last cell, for cells without a reference

    def extend(r: int, c: int) -> None:
        if not facts.first_row or r < facts.first_row:
            facts.first_row = r
        facts.last_row = max(facts.last_row, r)
        if not facts.first_column or c < facts.first_column:
            facts.first_column = c
        facts.last_column = max(facts.last_column, c)

    for _offset, piece in _chunks(archive, part, deadline):
        if b"dimension" in piece and (dimension := _DIMENSION.search(piece)):
            for ref in dimension[1].decode("ascii", "replace").split(":"):
                _parse_ref(ref, limits)  # a dimension beyond the limits is refused at once
        references = _CELL_REF.findall(piece)
        # Each reference starts with "<c": when there are as many "<c" as references, every cell was
        # read. Otherwise (<cols>, <x:c>, odd spellings) the cell tags are counted by the pattern.
        opened = piece.count(b"<c")
        if opened != len(references) or b":c" in piece:
            opened = len(_CELL_OPEN.findall(piece))
        if len(references) == opened:
            # Every cell names its place (Excel, WPS, LibreOffice, openpyxl): set operations in C.
            if references:
                numbers = set(map(int, set(map(itemgetter(1), references))))
                letters = sorted(set(map(itemgetter(0), references)), key=lambda s: (len(s), s))
                top, bottom = min(numbers), max(numbers)
                _parse_ref(f"{letters[-1].decode()}{bottom}", limits)
                extend(top, _column_number(letters[0].decode()))
                extend(bottom, _column_number(letters[-1].decode()))
                row, column = int(references[-1][1]), _column_number(references[-1][0].decode())
        else:
            # Some cell has no reference, or one the fast pattern does not take: walk them in order.
            for match in _ROW_OR_CELL.finditer(piece):
                named = _ATTR_R.search(match[2])
                if match[1] == b"row":
                    row = int(named[1]) if named and named[1].isdigit() else row + 1
                    column = 0
                    if row > limits.rows:
                        _parse_ref(f"A{row}", limits)
                    continue
                if named:
                    row, column = _parse_ref(named[1].decode("ascii", "replace"), limits)
                else:
                    column += 1
                    if column > limits.columns:
                        _parse_ref(f"XFE{max(row, 1)}", limits)
                extend(max(row, 1), column)
        if facts.last_row:
            area = (facts.last_row - facts.first_row + 1) * (facts.last_column - facts.first_column + 1)
            if area > limits.cells:
                raise TabularError(
                    _("表格的数据区域有 %(count)s 个单元格（%(rows)s 行 × %(columns)s 列），超过上限 %(limit)s 个。")
                    % {"count": area, "rows": facts.last_row - facts.first_row + 1,
                       "columns": facts.last_column - facts.first_column + 1, "limit": limits.cells}
                )
        if shared:
            indices = list(map(int, _SHARED_REF.findall(piece)))
            if indices and max(indices) >= len(shared):
                raise _broken(_("单元格引用了不存在的共享字符串"))
            text_bytes += sum(map(shared.__getitem__, indices))
            if text_bytes > limits.cell_text_bytes:
                raise TabularError(
                    _("表格单元格中的文字共约 %(size)s MB，超过上限 %(limit)s MB。")
                    % {"size": text_bytes // MB, "limit": limits.cell_text_bytes // MB}
                )
        if b"<f" in piece or b":f" in piece:
            for ref in _FORMULA.findall(piece):
                facts.formulas.add(_parse_ref(ref.decode("ascii"), limits))
        if len(facts.formulas) > limits.formulas:
            raise TabularError(
                _("表格有 %(count)s 个以上的公式单元格，超过上限 %(limit)s 个：请把公式“粘贴为数值”后再上传。")
                % {"count": len(facts.formulas), "limit": limits.formulas}
            )
        for ref in _MERGE.findall(piece) if b"mergeCell" in piece else ():
            if len(facts.merged) >= limits.merged_ranges:
                raise TabularError(
                    _("表格有 %(count)s 个以上的合并单元格区域，超过上限 %(limit)s 个：请取消合并后再上传。")
                    % {"count": limits.merged_ranges + 1, "limit": limits.merged_ranges}
                )
            text = ref.decode("ascii", "replace")
            first, _sep, last = text.partition(":")
            # A merged range allocates nothing (kept as an interval): any range on Excel's grid is taken.
            top = _parse_ref(first, _EXCEL_GRID)[0]
            bottom = _parse_ref(last, _EXCEL_GRID)[0] if last else top
            facts.merged.append((min(top, bottom), max(top, bottom), text))
    return facts


# --- xlsx: reading --------------------------------------------------------------------------------


def _open_xlsx(source: Path | BinaryIO, sheet_hint: str, limits: Limits) -> Table:
    import python_calamine

    deadline = _Deadline(limits)
    archive = _open_zip(source)
    try:
        _check_directory(archive, limits)
        sheets = _sheets(archive, limits, deadline)
        if not sheets:
            raise TabularError(_("该 xlsx 文件中没有工作表。"))
        chosen, part = next(((n, p) for n, p in sheets if sheet_hint and n.strip() == sheet_hint), sheets[0])
        shared = _shared_string_sizes(archive, limits, deadline)
        facts = _inspect_sheet(archive, part, shared, limits, deadline)
    finally:
        _close_zip(archive)
    notices = []
    if len(sheets) > 1:
        others = _("、").join(n for n, _p in sheets if n != chosen)
        notices.append(
            _("文件有 %(count)s 个工作表，只导入“%(chosen)s”，已忽略：%(others)s。")
            % {"count": len(sheets), "chosen": chosen, "others": others}
        )
    if not facts.last_row:
        raise TabularError(_("工作表“%(sheet)s”是空的：没有找到表头。") % {"sheet": chosen})
    # Within the limits now: calamine may hold the used range.
    try:
        if hasattr(source, "read"):
            source.seek(0)  # type: ignore[union-attr]
            workbook = python_calamine.CalamineWorkbook.from_filelike(source)
        else:
            workbook = python_calamine.CalamineWorkbook.from_path(str(source))
        sheet = workbook.get_sheet_by_name(chosen)
        start = sheet.start
    except Exception as exc:  # calamine's errors (zip, XML, a missing part) are all "cannot read"
        raise _broken(_("表格内容格式错误（%(error)s）") % {"error": type(exc).__name__}) from None
    if start is None:
        raise TabularError(_("工作表“%(sheet)s”是空的：没有找到表头。") % {"sheet": chosen})
    raw_rows = sheet.iter_rows()
    # calamine's iter_rows yields rows from the sheet's first row (empty ones before the used
    # range) but columns from the used range's first column (tests/core/test_tabular_hostile.py
    # holds it to that): the cells are padded back to column A, and row n is Excel's row n.
    pad = [None] * start[1]

    headers: list[str] = []
    header_row = 0
    for index, values in enumerate(raw_rows):
        try:
            deadline.check()
        except TabularError:
            workbook.close()
            raise
        cells = _cells(index + 1, pad + values if pad else values, facts.formulas, None)
        values = [_clean_header(c.value) for c in cells[:MAX_COLUMNS]]
        if any(values):
            headers, header_row = values, index + 1
            break
        if index + 1 > 20:
            break
    if not headers:
        workbook.close()
        raise TabularError(_("工作表“%(sheet)s”是空的：没有找到表头。") % {"sheet": chosen})
    width = len(headers)
    formulas = facts.formulas

    def data_rows() -> Iterator[tuple[int, list[Cell]]]:
        # One pass per row from calamine's values to trimmed cells (the row's own loop, not a
        # function call per cell): this runs for every cell of the sheet.
        check = deadline.check
        for index, values in enumerate(raw_rows, start=header_row):
            check()
            number = index + 1
            if pad:
                values = pad + values
            cells = _cells(number, values[:width], formulas, width)
            if cells is not None:
                yield number, cells

    return Table(headers, header_row, chosen, notices, MergedRows(facts.merged), data_rows(), workbook.close)


_EXACT = float(2**53)


def _cells(number: int, values: list[Any], formulas: set[tuple[int, int]], width: int | None) -> list[Cell] | None:
    """The cells of row `number` from calamine's values: "" read as empty, a whole float as an
    int (calamine reads every number as a float), text trimmed, a formula flagged (the sheet's
    formula cells, found by the inspection, and text starting with "="). With `width`: None for a
    row with nothing in it, and short rows padded to `width` cells."""
    cells = []
    append = cells.append
    empty = True
    for value in values:
        kind = type(value)
        if kind is str:
            if value:
                value = value.strip()
                if value:
                    empty = False
                    append(Cell(value, value[0] == "="))
                    continue
                append(Cell(value))  # only spaces: "" once trimmed, as a typed-in blank
                continue
            append(Cell(None))
            continue
        if kind is float and value.is_integer() and -_EXACT < value < _EXACT:
            value = int(value)
        if value is not None:
            empty = False
        append(Cell(value))
    if formulas:
        for column, cell in enumerate(cells, start=1):
            if (number, column) in formulas:
                cell.is_formula = True  # calamine gives the cached result; we refuse formulas
    if width is None:
        return cells
    if empty:
        return None
    if len(cells) < width:
        cells.extend(Cell(None) for _ in range(width - len(cells)))
    return cells


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


def _open_csv(path: Path | BinaryIO, limits: Limits) -> Table:
    deadline = _Deadline(limits)
    handle = path if hasattr(path, "read") else path.open("rb")  # type: ignore[union-attr]
    sample = handle.read(1 << 16)
    handle.seek(0)
    if not sample.strip():
        handle.close()
        raise TabularError(_("CSV 文件是空的：没有找到表头。"))
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample[:1000]:
        handle.close()
        raise TabularError(_("CSV 文件是 UTF-16 编码：请另存为“CSV UTF-8（逗号分隔）”后再上传。"))
    try:
        encoding = _detect_encoding(sample)
    except TabularError:
        handle.close()
        raise
    text = io.TextIOWrapper(handle, encoding=encoding, errors="strict", newline="")
    try:
        dialect = csv.Sniffer().sniff(sample.decode(encoding, errors="ignore")[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    budget = [0]

    def lines() -> Iterator[str]:
        # A record may span lines (quoted newlines): its size is counted until the reader ends it,
        # so a line of a million commas cannot become a list of a million fields.
        while line := text.readline(limits.csv_record_chars + 1):
            budget[0] += len(line)
            if budget[0] > limits.csv_record_chars:
                raise TabularError(
                    _("CSV 文件第 %(row)s 行超过 %(limit)s 个字符的上限。") % {"row": reader.line_num + 1,
                                                                   "limit": limits.csv_record_chars}
                )
            yield line

    reader = csv.reader(lines(), dialect)

    def next_record() -> list[str]:
        budget[0] = 0
        return next(reader)

    try:
        first = next_record()
    except StopIteration:
        text.close()
        raise TabularError(_("CSV 文件是空的：没有找到表头。")) from None
    except UnicodeDecodeError:
        text.close()
        raise TabularError(_("CSV 文件编码错误：请另存为 UTF-8 编码后再上传。")) from None
    except (TabularError, csv.Error) as exc:
        text.close()
        if isinstance(exc, TabularError):
            raise
        raise TabularError(_("CSV 文件格式错误：%(error)s") % {"error": exc}) from None
    headers = [_clean_header(h) for h in first[:MAX_COLUMNS]]
    notices = [] if encoding.startswith("utf-8") else [_("文件按 GBK（GB18030）编码读取。")]

    def data_rows() -> Iterator[tuple[int, list[Cell]]]:
        number = 1
        count = 0
        while True:
            deadline.check()
            try:
                row = next_record()
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise TabularError(
                    _("CSV 文件第 %(row)s 行附近编码错误：请另存为 UTF-8 编码后再上传。") % {"row": number + 1}
                ) from None
            except csv.Error as exc:
                raise TabularError(
                    _("CSV 文件第 %(row)s 行格式错误：%(error)s") % {"row": number + 1, "error": exc}
                ) from None
            number += 1
            values = [v.strip() for v in row[: len(headers)]]
            if any(values):
                count += 1
                if count > limits.rows:
                    raise TabularError(
                        _("表格有 %(count)s 行以上，超过上限 %(limit)s 行：请把文件拆成几份再上传。")
                        % {"count": limits.rows, "limit": limits.rows}
                    )
                values.extend("" for _ in range(len(headers) - len(values)))
                # A csv has no formulas, but a cell typed as "=..." would become one when reopened in Excel.
                yield number, [Cell(v or None, v.startswith("=")) for v in values]

    return Table(headers, 1, "", notices, MergedRows(), data_rows(), text.close)


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
