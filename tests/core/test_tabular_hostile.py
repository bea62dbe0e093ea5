"""Hostile spreadsheets: each is refused with a Chinese message naming the limit, in bounded time
and memory, and an import of one fails with that message (4xx when it can be told at upload).

The corpus (tests/core/hostile_files.py) is generated, and read in a child process so its peak
memory is measured apart from the test run's."""

import io
import json
import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jiedao.core import imports
from jiedao.core.models import ImportJob
from jiedao.core.tabular import LIMITS, MergedRows, TabularError, as_date, as_text, check_upload, open_table
from jiedao.people import importers  # noqa: F401  (registers the specs)
from jiedao.people.models import Resident
from tests.core.hostile_files import HEADER, xlsx

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_every_hostile_file_is_refused_in_bounded_time_and_memory():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run([sys.executable, "-m", "tests.core.hostile_files"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) >= 30
    for result in results:
        assert result["outcome"] == result["expect"], result
        if result["expect"] == "refused":
            assert result["words"] in result["message"] and CHINESE.search(result["message"]), result
        assert result["seconds"] < 5, result
        assert result["peak_mb"] < 100, result


def test_limits_are_those_documented():
    assert (LIMITS.columns, LIMITS.rows, LIMITS.cells, LIMITS.merged_ranges) == (16_384, 200_000, 4_000_000, 10_000)
    guide = (ROOT / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    for figure in ("16,384", "200,000", "4,000,000", "10,000", "200 MB"):
        assert figure in guide


def test_formulas_give_their_cached_value_marked_and_types_are_kept():
    rows = [
        HEADER,
        '<row r="2"><c r="A2"><f>1+1</f><v>2</v></c><c r="B2" s="1"><v>45352</v></c></row>',  # a number shown as a date
        '<row r="3"><c r="A3" t="inlineStr"><is><t>=HYPERLINK("x")</t></is></c>'
        '<c r="B3" t="inlineStr"><is><t>2024-03-01</t></is></c></row>',  # a date typed as text
        '<row r="4"><c r="A4" t="str"><f>"a"&amp;"b"</f><v>ab</v></c><c r="B4"><v>12.5</v></c></row>',
    ]
    table = open_table(io.BytesIO(xlsx(rows)), original_name="a.xlsx")
    got = [(n, [(c.value, c.is_formula) for c in cells]) for n, cells in table.rows()]
    assert got[0][0] == 2 and got[0][1][0] == (2, True)
    assert isinstance(got[0][1][1][0], date) and as_date(got[0][1][1][0]) == date(2024, 3, 1)
    assert got[1][1] == [('=HYPERLINK("x")', True), ("2024-03-01", False)] and as_date("2024-03-01") == date(2024, 3, 1)
    assert got[2][1] == [("ab", True), (12.5, False)]
    assert as_text(datetime(2024, 3, 1)) == "2024-03-01"


def test_a_sheet_starting_away_from_a1_keeps_its_columns_and_row_numbers():
    rows = ['<row r="3"><c r="B3" t="inlineStr"><is><t>姓名</t></is></c></row>',
            '<row r="5"><c r="B5" t="inlineStr"><is><t>张三</t></is></c></row>']
    table = open_table(io.BytesIO(xlsx(rows)), original_name="a.xlsx")
    assert (table.headers, table.header_row) == (["", "姓名"], 3)
    assert [(n, [c.value for c in cells]) for n, cells in table.rows()] == [(5, [None, "张三"])]


def _text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def test_rows_are_trimmed_typed_and_blank_rows_skipped():
    rows = [
        '<row r="2">' + _text_cell("A2", "  ") + "</row>",  # blank before the headers: not a header
        '<row r="3">' + _text_cell("A3", " 姓名 ") + _text_cell("B3", "身份证号") + _text_cell("C3", "备注") + "</row>",
        '<row r="4">' + _text_cell("A4", " 张三 ") + '<c r="B4"><v>3.0</v></c><c r="D4"><v>9</v></c></row>',
        '<row r="5">' + _text_cell("A5", "   ") + _text_cell("C5", "") + "</row>",  # spaces only: skipped
        '<row r="6">' + _text_cell("A6", "  ") + '<c r="B6"><v>2.5</v></c>' + _text_cell("C6", " =1+1 ") + "</row>",
        '<row r="7">' + _text_cell("A7", "李四") + "</row>",  # short: padded to the headers
    ]
    table = open_table(io.BytesIO(xlsx(rows)), original_name="a.xlsx")
    assert (table.headers, table.header_row) == (["姓名", "身份证号", "备注", ""], 3)  # the used range's width
    got = [(n, [(c.value, c.is_formula) for c in cells]) for n, cells in table.rows()]
    assert got == [
        (4, [("张三", False), (3, False), (None, False), (9, False)]),  # a whole number as an int
        (6, [("", False), (2.5, False), ("=1+1", True), (None, False)]),  # spaces read "", text "=" is a formula
        (7, [("李四", False), (None, False), (None, False), (None, False)]),
    ]
    assert type(got[0][1][1][0]) is int


def test_merged_rows_are_intervals_not_expanded():
    merged = MergedRows([(2, 1_048_576, "A2:A1048576"), (5, 6, "B5:C6"), (2_000_000, 2_000_001, "Z")])
    assert merged[1_000_000] == "A2:A1048576" and 1 not in merged and merged.get(1_048_577) is None
    assert merged[5] == "A2:A1048576" and merged[2_000_001] == "Z"  # overlapping: the first range names the row
    assert not MergedRows()


def test_check_upload_passes_a_good_file_and_leaves_it_at_its_start():
    handle = io.BytesIO(xlsx())
    check_upload(handle, "a.xlsx")
    assert handle.tell() == 0
    with pytest.raises(TabularError, match="倍"):
        check_upload(io.BytesIO(xlsx([HEADER, b" " * (3 << 20)])), "a.xlsx")


def test_a_bomb_is_refused_at_upload_with_400_and_nothing_stored(world, client):
    client.force_login(world.secretary)
    bomb = SimpleUploadedFile("居民.xlsx", xlsx([HEADER, b" " * (3 << 20)]))
    response = client.post("/api/v1/people/imports", {"register": "residents", "mode": "all_or_nothing", "file": bomb})
    assert response.status_code == 400, response.content
    assert "压缩炸弹" in response.json()["detail"] and response.json()["field"] == "file"
    assert not ImportJob.objects.exists()


def test_the_import_page_answers_a_bomb_with_400_and_the_reason(world, client):
    client.force_login(world.secretary)
    bomb = SimpleUploadedFile("居民.xlsx", xlsx([HEADER, b" " * (3 << 20)]))
    response = client.post(reverse("people:import_upload"), {"register": "residents", "mode": "all_or_nothing",
                                                             "file": bomb})
    assert response.status_code == 400 and "压缩炸弹" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_far_away_cell_fails_the_import_job_with_the_limit(world):
    upload = SimpleUploadedFile(
        "居民.xlsx", xlsx([HEADER, '<row r="2"><c r="AAAAAAA2"><v>1</v></c></row>']))
    job = imports.import_upload(actor=world.secretary, register_key="residents", uploaded=upload,
                                mode=ImportJob.Mode.ALL_OR_NOTHING)
    job = imports.import_validate(job)
    assert job.status == ImportJob.Status.FAILED and "超过上限 16384 列" in job.message
    assert not Resident.objects.exists()
