"""Imports through the real pipeline: xlsx/csv files built in the test, validated, committed."""

import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jiedao.core import audit, imports
from jiedao.core.errors import DomainError
from jiedao.core.models import AuditEvent, ImportJob
from jiedao.core.validators import id_number_check_char, uscc_check_char
from jiedao.people import (
    importers,  # noqa: F401  (registers the specs)
    services,
)
from jiedao.people.models import Business, Household, Resident, ResidentTag

HEADERS = ["姓名", "身份证号", "联系电话", "所在网格/楼栋", "户号", "与户主关系", "现住地址", "流动人口", "特殊人群"]


def ident(n: int, year: int = 1980) -> str:
    first = f"330225{year}0101{n:03d}"
    return first + id_number_check_char(first)


def xlsx(rows, headers=HEADERS, extra_sheet=False, merge=None) -> SimpleUploadedFile:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "居民"
    ws.append(headers)
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    if extra_sheet:
        wb.create_sheet("统计").append(["无关"])
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile("居民.xlsx", buf.getvalue())


def good_row(n, node="东门社区/东门第一网格/一号微网格/1幢", **over):
    row = {"姓名": f"居民{n}", "身份证号": ident(n), "联系电话": f"1381234{n:04d}", "所在网格/楼栋": node,
           "户号": f"H{n // 3:04d}", "与户主关系": "户主", "现住地址": "1幢", "流动人口": "否", "特殊人群": ""}
    row.update(over)
    return [row[h] for h in HEADERS]


def run(world, upload, mode=ImportJob.Mode.ALL_OR_NOTHING, actor=None):
    job = imports.import_upload(actor=actor or world.secretary, register_key="residents", uploaded=upload, mode=mode)
    return imports.import_validate(job)


def test_template_has_headers_examples_and_text_format(world):
    wb = openpyxl.load_workbook(io.BytesIO(imports.template_xlsx(imports.get_spec("residents"))))
    ws = wb["居民"]
    assert ws["A1"].value == "姓名*" and ws["B1"].value == "身份证号"
    assert ws["B2"].number_format == "@" and "填写说明" in wb.sheetnames


def test_clean_file_imports_and_reimport_updates(world):
    rows = [good_row(n) for n in range(1, 31)]
    rows[0][-1] = "独居老人、残疾人"
    job = run(world, xlsx(rows))
    assert (job.status, job.total_rows, job.bad_rows) == (ImportJob.Status.VALIDATED, 30, 0)
    assert Resident.objects.count() == 0  # validation writes nothing
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.COMMITTED and job.created_rows == 30
    assert Resident.objects.count() == 30 and Household.objects.count() == 11
    assert ResidentTag.objects.count() == 2
    assert AuditEvent.objects.filter(action="people.resident.import").count() == 30
    assert audit.verify_chain().ok
    # The same people again, one renamed: updates, no duplicates.
    rows[5][0] = "改名了"
    job = imports.import_commit(actor=world.secretary, job=run(world, xlsx(rows)))
    assert (job.created_rows, job.updated_rows) == (0, 30)
    assert Resident.objects.count() == 30 and Resident.objects.filter(name="改名了").count() == 1
    renamed = Resident.objects.get(name="改名了")
    event = AuditEvent.objects.filter(action="people.resident.import", object_id=str(renamed.pk)).latest("id")
    assert (event.before, event.after) == ({"name": good_row(6)[0]}, {"name": "改名了"})  # only what changed
    assert audit.verify_chain().ok


def test_every_bad_row_reported_and_nothing_written(world):
    rows = [good_row(n) for n in range(1, 13)]
    bad_checksum = ident(1)[:-1] + ("0" if ident(1)[-1] != "0" else "1")
    rows[0] = good_row(1, 身份证号=bad_checksum)
    rows[1] = good_row(2, 身份证号="330225" + "19800230" + "0021")  # 18 chars, February 30th
    rows[2] = good_row(3, node="不存在的网格")
    rows[3] = good_row(4, 身份证号=ident(5))  # its ID number comes again in row 7
    rows[4] = good_row(5, 姓名="")
    rows[5] = good_row(5)
    rows[6] = good_row(7, 流动人口="也许")
    rows[7] = good_row(8, 身份证号=330225198001010081)  # a number, not text
    rows[8] = good_row(9, 特殊人群="外星人")
    rows[9] = good_row(10, node="东门社区/东门第二网格")  # another grid: fine for the secretary
    rows[10] = good_row(11, 联系电话="12345")
    rows[11] = good_row(12, node="=A1")
    job = run(world, xlsx(rows, extra_sheet=True))
    errors = imports.read_errors(job)
    by_row = {}
    for e in errors:
        by_row.setdefault(e["row"], []).append((e["column"], e["message"]))
    assert job.bad_rows == 10 and job.good_rows == 2  # rows 5 and 11 are good
    assert any("校验位" in m for _, m in by_row[2])
    assert by_row[4] == [("所在网格/楼栋", "找不到“不存在的网格”：不存在、已停用或不在您的管辖范围内")]
    assert by_row[7] == [("身份证号", "与第 5 行重复")]
    assert by_row[6][0][0] == "姓名"
    assert by_row[8][0][0] == "流动人口"
    assert "数字" in by_row[9][0][1]
    assert by_row[10][0][0] == "特殊人群"
    assert by_row[12][0][0] == "联系电话"
    assert "公式" in by_row[13][0][1]
    assert any("工作表" in n for n in job.notices)
    with pytest.raises(DomainError):
        imports.import_commit(actor=world.secretary, job=job)
    assert Resident.objects.count() == 0


def test_a_row_lists_every_problem_in_column_order_and_a_bad_place_is_reported_every_time(world):
    rows = [
        good_row(1, 姓名="长" * 65, 联系电话="12345", 户号="H" * 33, 流动人口="也许", 特殊人群="外星人"),
        good_row(2, node="不存在的网格"),
        good_row(3, node="不存在的网格"),  # a spelling that failed is checked again, not remembered as good
        good_row(4, node=" 东门社区 / 东门第一网格/一号微网格/1幢 "),  # spelled twice, resolved alike
        good_row(5, node=" 东门社区 / 东门第一网格/一号微网格/1幢 "),
    ]
    job = run(world, xlsx(rows), mode=ImportJob.Mode.GOOD_ONLY)
    by_row = {}
    for e in imports.read_errors(job):
        by_row.setdefault(e["row"], []).append((e["column"], e["message"]))
    assert [column for column, _ in by_row[2]] == ["姓名", "联系电话", "流动人口", "特殊人群", "户号"]
    assert by_row[2][0][1] == "不能超过 64 个字" and by_row[2][4][1] == "不能超过 32 个字"
    assert by_row[3] == by_row[4] == [("所在网格/楼栋", "找不到“不存在的网格”：不存在、已停用或不在您的管辖范围内")]
    assert job.good_rows == 2
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.created_rows == 2 and {r.node_id for r in Resident.objects.all()} == {world.building.pk}


def test_good_rows_only_mode_and_bad_rows_file(world):
    rows = [good_row(1), good_row(2, 姓名=""), good_row(3)]
    job = run(world, xlsx(rows), mode=ImportJob.Mode.GOOD_ONLY)
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.created_rows == 2 and job.bad_rows == 1
    wb = openpyxl.load_workbook(io.BytesIO(imports.bad_rows_xlsx(job, actor=world.secretary)))
    values = list(wb.active.values)
    assert values[0][0] == "原行号" and values[0][-1] == "错误原因"
    assert len(values) == 2 and values[1][0] == 3 and "姓名" in values[1][-1]


def test_bad_rows_file_holds_text_not_live_formulas(world):
    """A text cell of the upload that starts like a formula goes back as text: opening the
    bad-rows file must not run it (a csv upload, where nothing marks a cell as text)."""
    import csv

    rows = [good_row(1, 姓名="", 现住地址='=HYPERLINK("http://example.invalid","点我")'),
            good_row(2, 姓名="", 现住地址="=1+1")]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    job = run(world, SimpleUploadedFile("居民.csv", buf.getvalue().encode("utf-8")), mode=ImportJob.Mode.GOOD_ONLY)
    assert job.bad_rows == 2
    wb = openpyxl.load_workbook(io.BytesIO(imports.bad_rows_xlsx(job, actor=world.secretary)))
    texts = [cell for row in wb.active.iter_rows(min_row=2) for cell in row
             if isinstance(cell.value, str) and cell.value.startswith("=")]
    assert len(texts) == 2
    assert all(cell.data_type == "s" for cell in texts), [(c.value, c.data_type) for c in texts]


def test_merged_cells_reported(world):
    rows = [good_row(1), good_row(2), good_row(3)]
    job = run(world, xlsx(rows, merge="H3:H4"))
    rows_with_errors = {e["row"] for e in imports.read_errors(job)}
    assert rows_with_errors == {3, 4}


def test_scope_grid_worker_cannot_import_into_other_grid(world):
    rows = [good_row(1, node="东门社区/东门第二网格"), good_row(2, node="东门第一网格")]
    job = run(world, xlsx(rows), actor=world.worker)
    errors = imports.read_errors(job)
    assert [e["row"] for e in errors] == [2]


def test_reimport_does_not_take_over_out_of_scope_resident(world):
    job = run(world, xlsx([good_row(1, node="东门社区/东门第二网格")]), actor=world.other_worker)
    imports.import_commit(actor=world.other_worker, job=job)
    job = run(world, xlsx([good_row(1, node="东门第一网格")]), mode=ImportJob.Mode.GOOD_ONLY, actor=world.worker)
    job = imports.import_commit(actor=world.worker, job=job)
    assert job.updated_rows == 0 and job.bad_rows == 1
    assert Resident.objects.get().node == world.other_grid


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_csv_in_utf8_and_gbk(world, encoding):
    text = ",".join(HEADERS) + "\n" + ",".join(str(v) for v in good_row(1)) + "\n"
    upload = SimpleUploadedFile("居民.csv", text.encode(encoding))
    job = imports.import_commit(actor=world.secretary, job=run(world, upload))
    assert job.created_rows == 1 and Resident.objects.get().name == "居民1"


def test_csv_in_wrong_encoding_fails_clearly(world):
    text = ",".join(HEADERS) + "\n" + ",".join(str(v) for v in good_row(1)) + "\n"
    job = run(world, SimpleUploadedFile("居民.csv", text.encode("utf-16")))
    assert job.status == ImportJob.Status.FAILED and "UTF" in job.message
    job = run(world, SimpleUploadedFile("居民.csv", text.encode("big5", errors="replace")))
    assert job.status == ImportJob.Status.FAILED and ("表头" in job.message or "编码" in job.message)


def test_upload_rejects_other_types(world):
    with pytest.raises(DomainError) as exc:
        imports.import_upload(actor=world.secretary, register_key="residents",
                              uploaded=SimpleUploadedFile("a.pdf", b"%PDF"), mode="all_or_nothing")
    assert exc.value.field == "file"


def test_businesses_import(world):
    code17 = "91330225MA2AB1234"
    good = code17 + uscc_check_char(code17)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "工商业主体"
    ws.append(["名称", "统一社会信用代码", "所在网格/楼栋", "规模", "风险等级"])
    ws.append(["丹西水产", good, "东门第一网格", "小型", "黄"])
    ws.append(["坏代码", code17 + "Z", "东门第一网格", "巨型", "紫"])
    buf = io.BytesIO()
    wb.save(buf)
    job = imports.import_upload(actor=world.secretary, register_key="businesses",
                                uploaded=SimpleUploadedFile("b.xlsx", buf.getvalue()), mode="good_only")
    job = imports.import_commit(actor=world.secretary, job=imports.import_validate(job))
    # the 风险等级 column is ignored: the colour is the safety rule's (水产 is not a high-risk industry)
    assert job.created_rows == 1 and Business.objects.get().risk_colour == "green"
    assert {e["column"] for e in imports.read_errors(job)} == {"统一社会信用代码", "规模"}


def test_files_kept_private(world):
    job = run(world, xlsx([good_row(1)]))
    assert (Path(imports.job_file(job)).stat().st_mode & 0o077) == 0


def _others_resident(world, n=1):
    job = run(world, xlsx([good_row(n, node="东门社区/东门第二网格")]), actor=world.other_worker)
    imports.import_commit(actor=world.other_worker, job=job)


def test_all_or_nothing_import_does_not_name_a_clashing_row(world):
    """A file of candidate ID numbers, all or nothing: the clash with another grid's resident must
    not be answered row by row for free (nothing written), but counted and audited."""
    _others_resident(world)
    candidates = [good_row(n, node="东门第一网格") for n in range(2, 6)] + [good_row(1, node="东门第一网格")]
    job = run(world, xlsx(candidates), actor=world.worker)
    assert job.bad_rows == 0
    job = imports.import_commit(actor=world.worker, job=job)
    assert job.status == ImportJob.Status.VALIDATED and "1 行" in job.message and "跳过错误行" in job.message
    assert imports.read_errors(job) == [] and Resident.objects.count() == 1
    event = AuditEvent.objects.get(action="people.resident.id_clash")
    assert event.actor == world.worker and event.after["count"] == 1 and event.after["rows"][0]["row"] == 6
    assert ident(1) not in str(event.after)
    assert services.id_clash_allowance(world.worker) == services.ID_CLASH_LIMIT[0] - 1


def test_import_clashes_share_the_days_limit_with_the_forms(world, settings):
    settings.JIEDAO_PEOPLE_ID_CLASH_LIMIT = (2, 86400)
    for n in (1, 2, 3):
        _others_resident(world, n)
    rows = [good_row(n, node="东门第一网格") for n in (1, 2, 3, 4)]
    job = run(world, xlsx(rows), mode=ImportJob.Mode.GOOD_ONLY, actor=world.worker)
    job = imports.import_commit(actor=world.worker, job=job)
    # Three clashes against an allowance of two: the whole import is refused, nothing is named.
    assert job.status == ImportJob.Status.VALIDATED and "过多" in job.message
    assert imports.read_errors(job) == [] and Resident.objects.count() == 3
    assert services.id_clash_allowance(world.worker) == 0
    # From now on any ID write of this user is refused, whatever the number: upload, commit, form.
    with pytest.raises(DomainError) as refused:
        run(world, xlsx([good_row(9, node="东门第一网格")]), actor=world.worker)
    assert refused.value.status_code == 429
    with pytest.raises(DomainError) as refused:
        services.resident_create(actor=world.worker, node=world.grid, name="新居民", id_number=ident(9))
    assert refused.value.status_code == 429
    # Another user is not held by this count.
    assert services.id_clash_allowance(world.secretary) == 2


def test_form_clash_count_survives_the_refusal(world, settings):
    """The 409 rolls back the write's transaction; the count and the audit event stay."""
    _others_resident(world)
    with pytest.raises(DomainError) as refused:
        services.resident_create(actor=world.worker, node=world.grid, name="试探", id_number=ident(1))
    assert refused.value.status_code == 409
    assert services.id_clash_allowance(world.worker) == services.ID_CLASH_LIMIT[0] - 1
    assert AuditEvent.objects.filter(action="people.resident.id_clash", actor=world.worker).count() == 1
