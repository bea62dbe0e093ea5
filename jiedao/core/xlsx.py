"""A small streaming xlsx reader built on expat.

openpyxl's read-only mode spends most of its time building cell objects; an import only needs
values. This reader parses the sheet XML with expat callbacks and yields plain Python values
(str, int, float, bool, datetime), marking formula cells, at several times openpyxl's speed and
with memory flat in the number of rows (the shared-string table is the only thing held whole,
as in any xlsx reader). Writing spreadsheets stays with openpyxl.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_BUILTIN_DATE_FORMATS = set(range(14, 23)) | {45, 46, 47}
_DATE_TOKENS = re.compile(r"[ymdhs]", re.I)
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_COLUMN = re.compile(r"[A-Z]+")
_EPOCH_1900 = datetime(1899, 12, 30)
_EPOCH_1904 = datetime(1904, 1, 1)
_CHUNK = 1 << 18


class XlsxError(Exception):
    pass


class Cell:
    """One cell's value and whether Excel computes it from a formula."""

    __slots__ = ("is_formula", "value")

    def __init__(self, value: Any, is_formula: bool = False) -> None:
        self.value = value
        self.is_formula = is_formula


def _column_index(ref: str) -> int:
    letters = _COLUMN.match(ref)
    if not letters:
        return -1
    index = 0
    for char in letters.group():
        index = index * 26 + ord(char) - 64
    return index - 1


def _parse_whole(data: bytes, start=None, end=None, chars=None) -> None:
    parser = expat.ParserCreate(namespace_separator="}")
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if chars:
        parser.CharacterDataHandler = chars
    parser.buffer_text = True
    parser.Parse(data, True)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


class XlsxReader:
    def __init__(self, path: Path | str | BinaryIO) -> None:
        try:
            self.archive = zipfile.ZipFile(path)
            self.sheets = self._sheets()
        except (zipfile.BadZipFile, KeyError, expat.ExpatError, OSError) as exc:
            raise XlsxError(type(exc).__name__) from None
        self.shared = self._shared_strings()
        self.date_styles, self.epoch = self._styles_and_epoch()

    def close(self) -> None:
        self.archive.close()

    # -- workbook structure ----------------------------------------------------------------

    def _sheets(self) -> list[tuple[str, str]]:
        rels: dict[str, str] = {}

        def rel_start(name, attrs):
            if _local(name) == "Relationship":
                target = attrs.get("Target", "")
                rels[attrs.get("Id", "")] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join("xl", target)
                )

        _parse_whole(self.archive.read("xl/_rels/workbook.xml.rels"), start=rel_start)
        sheets: list[tuple[str, str]] = []
        self._date1904 = False

        def wb_start(name, attrs):
            local = _local(name)
            if local == "sheet":
                rid = attrs.get(f"{_NS_REL}}}id") or attrs.get("r:id", "")
                if rid in rels:
                    sheets.append((attrs.get("name", ""), rels[rid]))
            elif local == "workbookPr":
                self._date1904 = attrs.get("date1904") in ("1", "true")

        _parse_whole(self.archive.read("xl/workbook.xml"), start=wb_start)
        return sheets

    def _shared_strings(self) -> list[str]:
        try:
            data = self.archive.open("xl/sharedStrings.xml")
        except KeyError:
            return []
        strings: list[str] = []
        parts: list[str] = []
        state = {"in_si": False, "in_t": False, "in_rph": False}

        def start(name, attrs):
            local = _local(name)
            if local == "si":
                state["in_si"] = True
                parts.clear()
            elif local == "t" and state["in_si"] and not state["in_rph"]:
                state["in_t"] = True
            elif local == "rPh":
                state["in_rph"] = True  # phonetic hints are not part of the text

        def end(name):
            local = _local(name)
            if local == "si":
                strings.append("".join(parts))
                state["in_si"] = False
            elif local == "t":
                state["in_t"] = False
            elif local == "rPh":
                state["in_rph"] = False

        def chars(text):
            if state["in_t"]:
                parts.append(text)

        parser = expat.ParserCreate(namespace_separator="}")
        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
        parser.buffer_text = True
        with data:
            while chunk := data.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        return strings

    def _styles_and_epoch(self) -> tuple[set[int], datetime]:
        epoch = _EPOCH_1904 if self._date1904 else _EPOCH_1900
        try:
            data = self.archive.read("xl/styles.xml")
        except KeyError:
            return set(), epoch
        custom: dict[int, str] = {}
        xfs: list[int] = []
        state = {"in_cellxfs": False}

        def start(name, attrs):
            local = _local(name)
            if local == "numFmt":
                custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
            elif local == "cellXfs":
                state["in_cellxfs"] = True
            elif local == "xf" and state["in_cellxfs"]:
                xfs.append(int(attrs.get("numFmtId", "0")))

        def end(name):
            if _local(name) == "cellXfs":
                state["in_cellxfs"] = False

        _parse_whole(data, start=start, end=end)

        def is_date(fmt_id: int) -> bool:
            if fmt_id in _BUILTIN_DATE_FORMATS:
                return True
            code = custom.get(fmt_id)
            return bool(code and _DATE_TOKENS.search(_QUOTED.sub("", code)))

        return {index for index, fmt in enumerate(xfs) if is_date(fmt)}, epoch

    # -- rows ------------------------------------------------------------------------------

    def rows(self, sheet_path: str) -> Iterator[tuple[int, list[Cell]]]:
        """(row number, cells) for every row element, in file order; empty cells are None."""
        ready: deque[tuple[int, list[Cell]]] = deque()
        shared, date_styles, epoch = self.shared, self.date_styles, self.epoch
        row: list[Cell] = []
        state = {"row": 0, "col": -1, "type": "n", "style": -1, "formula": False, "capture": False,
                 "in_is": False}
        text: list[str] = []

        def start(name, attrs):
            local = name[name.rfind("}") + 1:]
            if local == "c":
                ref = attrs.get("r")
                state["col"] = _column_index(ref) if ref else state["col"] + 1
                state["type"] = attrs.get("t", "n")
                style = attrs.get("s")
                state["style"] = int(style) if style else -1
                state["formula"] = False
                text.clear()
            elif local == "v":
                state["capture"] = True
            elif local == "f":
                state["formula"] = True
            elif local == "is":
                state["in_is"] = True
            elif local == "t" and state["in_is"]:
                state["capture"] = True
            elif local == "row":
                row.clear()
                number = attrs.get("r")
                state["row"] = int(number) if number else state["row"] + 1
                state["col"] = -1

        def end(name):
            local = name[name.rfind("}") + 1:]
            if local in ("v", "t"):
                state["capture"] = False
            elif local == "is":
                state["in_is"] = False
            elif local == "c":
                raw = "".join(text)
                kind = state["type"]
                value: object
                if raw == "" and kind != "str":
                    value = None
                elif kind == "s":
                    value = shared[int(raw)]
                elif kind in ("str", "inlineStr"):
                    value = raw
                elif kind == "b":
                    value = raw == "1"
                elif kind == "e":
                    value = raw  # "#DIV/0!" and friends: reported by the row checks as text
                else:
                    number = float(raw)
                    if state["style"] in date_styles:
                        value = epoch + timedelta(days=number)
                        if epoch is _EPOCH_1900 and number < 60:
                            value += timedelta(days=1)  # Excel's 1900-02-29 that never was
                    elif number.is_integer() and "E" not in raw and "e" not in raw and "." not in raw:
                        value = int(raw)
                    else:
                        value = number
                col = state["col"]
                if col >= 0:
                    while len(row) < col:
                        row.append(Cell(None))
                    row.append(Cell(value, state["formula"]))
            elif local == "row":
                ready.append((state["row"], list(row)))

        def chars(data):
            if state["capture"]:
                text.append(data)

        parser = expat.ParserCreate(namespace_separator="}")
        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
        parser.buffer_text = True
        with self.archive.open(sheet_path) as stream:
            while chunk := stream.read(_CHUNK):
                parser.Parse(chunk, False)
                while ready:
                    yield ready.popleft()
            parser.Parse(b"", True)
        while ready:
            yield ready.popleft()
