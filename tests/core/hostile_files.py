"""A corpus of hostile spreadsheets, generated (nothing binary is committed).

Each case is (name, file name, bytes, limits or None, what is expected): "refused" (a
TabularError whose message is Chinese and contains the given words) or "read" (the file reads).
xlsx parts are written as raw XML straight into a zip stream, so a sheet of 200,001 rows or a
30 MB bomb costs a fraction of a second to make.

Run as a module (`python -m tests.core.hostile_files`), it reads every case in one process and
prints one JSON line per case with the time and the peak memory it took (the peak is reset
between cases through /proc/self/clear_refs), which tests/core/test_tabular_hostile.py checks.
"""

from __future__ import annotations

import io
import json
import random
import struct
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="居民" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# cellXfs 0: general; 1: a date format (14), for "numbers as dates".
STYLES = (
    f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN}"><fonts count="1"><font/></fonts>'
    '<fills count="1"><fill/></fills><borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" xfId="0"/><xf numFmtId="14" xfId="0" applyNumberFormat="1"/></cellXfs>'
    "</styleSheet>"
)
HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c><c r="B1" t="inlineStr"><is><t>出生日期</t></is></c></row>'


def xlsx(
    rows: Iterable[str | bytes] = (HEADER,),
    *,
    shared: Iterable[str | bytes] | None = None,
    head: str = "",
    tail: str = "",
    workbook: str = WORKBOOK,
    shared_head: str = "",
    dimension: str = "",
    sst_attributes: str = "",
) -> bytes:
    """A minimal xlsx; `rows` are raw <row> elements, streamed into the sheet part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CT)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as out:
            out.write(f'<?xml version="1.0" encoding="UTF-8"?>{head}<worksheet xmlns="{MAIN}">'.encode())
            out.write((f'<dimension ref="{dimension}"/>' if dimension else "").encode() + b"<sheetData>")
            for row in rows:
                out.write(row if isinstance(row, bytes) else row.encode())
            out.write(f"</sheetData>{tail}</worksheet>".encode())
        if shared is not None:
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as out:
                out.write(f'<?xml version="1.0" encoding="UTF-8"?>{shared_head}<sst {sst_attributes}xmlns="{MAIN}">'.encode())
                for item in shared:
                    out.write(item if isinstance(item, bytes) else f"<si><t>{item}</t></si>".encode())
                out.write(b"</sst>")
    return buffer.getvalue()


def _many_rows(count: int) -> Iterator[bytes]:
    yield HEADER.encode()
    for start in range(2, count + 2, 10_000):
        yield b"".join(
            b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>x</t></is></c></row>' % (n, n)
            for n in range(start, min(start + 10_000, count + 2))
        )


def _lying_sizes(data: bytes, size: int) -> bytes:
    """The same zip with the sheet's central-directory entry claiming `size` unpacked bytes."""
    marker = b"PK\x01\x02"
    out = bytearray(data)
    at = out.find(marker)
    while at >= 0:
        name_length = struct.unpack_from("<H", out, at + 28)[0]
        name = bytes(out[at + 46: at + 46 + name_length])
        if name == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", out, at + 24, size)
        at = out.find(marker, at + 4)
    return bytes(out)


LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


def cases() -> Iterator[tuple[str, str, bytes, dict | None, str, str]]:
    """(name, file name, content, limits to override or None, "refused"/"read", words expected)."""
    from jiedao.core.tabular import MB

    yield "column AAAAAAA", "a.xlsx", xlsx([HEADER, '<row r="2"><c r="AAAAAAA2"><v>1</v></c></row>']), None, "refused", "16384 列"
    yield "column XFD1", "a.xlsx", xlsx(['<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c><c r="XFD1"><v>1</v></c></row>']), None, "read", ""
    yield "column XFE1", "a.xlsx", xlsx(['<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c><c r="XFE1"><v>1</v></c></row>']), None, "refused", "16385 列"
    yield "cells without references", "a.xlsx", xlsx([HEADER, "<row>" + "<c><v>1</v></c>" * 16_385 + "</row>"]), None, "refused", "16384 列"
    yield "cell spelled oddly, a decoy in a comment", "a.xlsx", xlsx([HEADER, '<!-- <c r="A9"/> --><row r="2"><c\tr="AAAAAAA2"><v>1</v></c></row>']), None, "refused", "16384 列"
    yield "far corner", "a.xlsx", xlsx([HEADER, '<row r="199999"><c r="ZZ199999"><v>1</v></c></row>']), None, "refused", "4000000 个"
    yield "dimension of 1,048,576 rows", "a.xlsx", xlsx([HEADER], dimension="A1:XFD1048576"), None, "refused", "1048576 行"
    yield "200,001 rows", "a.xlsx", xlsx(_many_rows(200_000)), None, "refused", "200000 行"
    yield "zip bomb", "a.xlsx", xlsx([HEADER, b" " * (40 * MB)]), None, "refused", "压缩炸弹"
    yield "overstated size", "a.xlsx", _lying_sizes(xlsx([HEADER]), 300 * MB), None, "refused", "倍"
    yield "understated size", "a.xlsx", _lying_sizes(xlsx([HEADER, "<!-- " + "x" * 5000 + " -->"]), 100), None, "refused", "损坏"
    noise = "<!-- " + random.Random(13).randbytes(MB).hex() + " -->"
    yield "unpacked total", "a.xlsx", xlsx([HEADER, noise]), {"unpacked_bytes": MB}, "refused", "超过上限 1 MB"
    yield "shared-string copies", "a.xlsx", xlsx(
        [HEADER] + [f'<row r="{n}"><c r="A{n}" t="s"><v>0</v></c></row>' for n in range(2, 14_002)],
        shared=["长" * 3_500]), None, "refused", "128 MB"
    yield "shared-string index out of range", "a.xlsx", xlsx([HEADER, '<row r="2"><c r="A2" t="s"><v>7</v></c></row>'], shared=["x"]), None, "refused", "共享字符串"
    yield "shared-string count", "a.xlsx", xlsx([HEADER], shared=("x" for _ in range(101))), {"shared_strings": 100}, "refused", "100 个"
    yield "shared-string uniqueCount", "a.xlsx", xlsx([HEADER], shared=[], sst_attributes='uniqueCount="99000000" '), None, "refused", "1000000 个"
    yield "billion laughs (shared strings)", "a.xlsx", xlsx([HEADER], shared=["&lol9;"], shared_head=LAUGHS), None, "refused", "DOCTYPE"
    yield "billion laughs (sheet)", "a.xlsx", xlsx([HEADER], head=LAUGHS), None, "refused", "DOCTYPE"
    yield "billion laughs (workbook)", "a.xlsx", xlsx([HEADER], workbook=WORKBOOK.replace("?>", "?>" + LAUGHS, 1)), None, "refused", "DOCTYPE"
    merged = "".join(f'<mergeCell ref="A{n}:XFD{n + 100_000}"/>' for n in range(2, 402))
    yield "400 merged ranges", "a.xlsx", xlsx([HEADER], tail=f'<mergeCells count="400">{merged}</mergeCells>'), None, "read", ""
    yield "merged whole column", "a.xlsx", xlsx([HEADER], tail='<mergeCells><mergeCell ref="C1:C1048576"/></mergeCells>'), None, "read", ""
    many = "".join(f'<mergeCell ref="A{n}:B{n}"/>' for n in range(2, 10_003))
    yield "10,001 merged ranges", "a.xlsx", xlsx([HEADER], tail=f"<mergeCells>{many}</mergeCells>"), None, "refused", "10000 个"
    formulas = "".join(f'<row r="{n}"><c r="A{n}"><f>1+1</f><v>2</v></c></row>' for n in range(2, 10_003))
    yield "10,001 formulas", "a.xlsx", xlsx([HEADER, formulas]), None, "refused", "10000 个"
    yield "not a number", "a.xlsx", xlsx([HEADER, '<row r="2"><c r="A2" t="n"><v>abc</v></c></row>']), None, "refused", "格式错误"
    valid = xlsx([HEADER, '<row r="2"><c r="A2" t="inlineStr"><is><t>张三</t></is></c></row>'])
    yield "broken zip", "a.xlsx", b"PK\x03\x04" + b"\x00garbage" * 50, None, "refused", "zip"
    yield "truncated zip", "a.xlsx", valid[: len(valid) // 2], None, "refused", "zip"
    yield "empty file", "a.xlsx", b"", None, "refused", "空"
    yield "empty zip", "a.xlsx", _empty_zip(), None, "refused", "workbook"
    yield "empty sheet", "a.xlsx", xlsx([]), None, "refused", "空"
    yield ".xls renamed", "a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1000, None, "refused", ".xls"
    yield "csv in UTF-16", "a.csv", "姓名,身份证号\n张三,1\n".encode("utf-16"), None, "refused", "UTF-16"
    yield "csv in no known encoding", "a.csv", bytes([0x81, 0x20, 0xfe, 0x7f]) * 10, None, "refused", "编码"
    yield "csv record of a million commas", "a.csv", b"a,b\n" + b"," * 2_000_000 + b"\n", None, "refused", "1000000 个字符"
    yield "csv field over the csv module's limit", "a.csv", b'a,b\n"' + b"x" * 200_000 + b'",1\n', None, "refused", "CSV"
    yield "csv in GBK", "a.csv", "姓名,身份证号\n张三,1\n".encode("gbk"), None, "read", ""


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    import dataclasses
    import gc

    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_I18N=False)
        django.setup()
    from jiedao.core.tabular import LIMITS, TabularError, open_table

    only = set(sys.argv[1:])
    for name, filename, content, overrides, expect, words in cases():
        if only and name not in only:
            continue
        limits = dataclasses.replace(LIMITS, **overrides) if overrides else LIMITS
        gc.collect()
        base = _status_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current resident size
        started = time.perf_counter()
        outcome, message = "read", ""
        try:
            table = open_table(io.BytesIO(content), original_name=filename, sheet_hint="居民", limits=limits)
            for _row in table.rows():
                pass
        except TabularError as exc:
            outcome, message = "refused", str(exc)
        seconds = time.perf_counter() - started
        print(json.dumps({"name": name, "expect": expect, "words": words, "outcome": outcome, "message": message,
                          "seconds": round(seconds, 3), "peak_mb": round(_status_mb("VmHWM") - base, 1),
                          "size": len(content)}, ensure_ascii=False), flush=True)
        del content


if __name__ == "__main__":
    main()
