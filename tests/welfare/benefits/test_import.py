"""The civil-affairs payment list through the real import pipeline: matched by the ID number's
blind index, every bad row named by row and column, all-or-nothing or good rows only, masks only."""

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jiedao.core import imports
from jiedao.core.errors import DomainError
from jiedao.core.models import ImportJob
from jiedao.welfare.benefits import importer, services
from jiedao.welfare.benefits.workflow import GrantAction
from jiedao.welfare.models.benefits import Grant, Payment

from .conftest import ident

pytestmark = pytest.mark.django_db
HEADERS = ["序号", "姓名", "身份证号", "救助类别", "发放月份", "保障人数", "发放金额(元)", "所属社区"]


def xlsx(rows, headers=HEADERS, name="发放明细.xlsx") -> SimpleUploadedFile:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "发放明细"
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile(name, buf.getvalue())


def run(world, upload, actor=None, mode=ImportJob.Mode.ALL_OR_NOTHING):
    job = imports.import_upload(actor=actor or world.secretary, register_key=importer.KEY, uploaded=upload, mode=mode)
    return imports.import_validate(job)


def errors(job):
    return {(e["row"], e["column"]): e["message"] for e in imports.read_errors(job)}


def good(world, ben):
    return [
        [1, "张桂英", ident(1), "城市低保", "2026-03", 2, 400, "东门社区"],
        [2, "张桂英", ident(1), "城市低保", "2026年4月", 2, "400.00", ""],
        [3, "王大爷", ident(3, 1930), "长寿补贴", "202605", 1, 1200, "东门社区"],
        [4, "赵阿婆", ident(4), "廉租住房补贴", date(2026, 6, 1), 1, 1850.5, ""],
    ]


def test_template_downloads_with_the_headers(world):
    wb = openpyxl.load_workbook(io.BytesIO(imports.template_xlsx(imports.get_spec(importer.KEY))))
    headers = [c.value for c in wb["发放明细"][1]]
    assert headers[:7] == ["序号", "姓名*", "身份证号*", "救助类别*", "发放月份*", "保障人数", "发放金额(元)*"]


def test_clean_file_creates_grants_and_payments_and_reimport_corrects(world, ben):
    job = run(world, xlsx(good(world, ben)))
    assert (job.status, job.total_rows, job.bad_rows) == (ImportJob.Status.VALIDATED, 4, 0)
    assert not Payment.objects.exists()  # validation writes nothing
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.COMMITTED and job.created_rows == 4
    assert Grant.objects.count() == 3  # 张桂英's two months share one grant
    zhang = Grant.objects.get(resident=ben.zhang)
    assert zhang.starts_on == date(2026, 3, 1) and zhang.household_id == ben.h1.pk
    assert sorted(Payment.objects.filter(grant=zhang).values_list("month", flat=True)) == [date(2026, 3, 1), date(2026, 4, 1)]
    assert Payment.objects.get(resident=ben.zhao).amount == Decimal("1850.50")
    rows = good(world, ben)
    rows[0][6] = 420
    job = imports.import_commit(actor=world.secretary, job=run(world, xlsx(rows)))
    assert (job.created_rows, job.updated_rows) == (0, 4)
    assert Payment.objects.count() == 4
    assert Payment.objects.get(grant=zhang, month=date(2026, 3, 1)).amount == Decimal("420.00")


def test_bad_rows_are_named_by_row_and_column_and_nothing_is_written(world, ben):
    rows = [*good(world, ben),
        [5, "", ident(1), "城市低保", "2026-05", 2, 400, ""],  # row 6: no name
        [6, "张桂英", ident(1)[:-1] + ("0" if ident(1)[-1] != "0" else "1"), "城市低保", "2026-05", 2, 400, ""],  # bad check digit
        [7, "张桂英", ident(1), "低保金", "2026-05", 2, 400, ""],  # unknown programme
        [8, "张桂英", ident(1), "城市低保", "2026-13", 2, 400, ""],  # no such month
        [9, "张桂英", ident(1), "城市低保", "2026-06", 0, 400, ""],  # persons 0
        [10, "张桂英", ident(1), "城市低保", "2026-07", 2, "四百", ""],  # amount not a number
        [11, "张三", ident(1), "城市低保", "2026-08", 2, 400, ""],  # name differs from the register
        [12, "钱老汉", ident(5), "农村低保", "2026-05", 1, 300, ""],  # outside the secretary's scope
        [13, "陌生人", ident(99), "城市低保", "2026-05", 1, 300, ""],  # not registered
        [14, "张桂英", ident(1), "城市低保", "2026-03", 2, 400, ""],  # repeats row 2
        [15, "张桂英", ident(1), "城市低保", "2026-09", 2, 400, "横塘村"],  # community differs
            ]
    job = run(world, xlsx(rows))
    assert job.bad_rows == 11 and job.good_rows == 4
    found = errors(job)
    assert "必填" in found[(6, "姓名")]
    assert (7, "身份证号") in found
    assert "低保金" in found[(8, "救助类别")]
    assert "年月" in found[(9, "发放月份")] or "不存在" in found[(9, "发放月份")]
    assert "1 到" in found[(10, "保障人数")]
    assert "数字" in found[(11, "发放金额(元)")]
    assert "张桂英" in found[(12, "姓名")]
    assert found[(13, "身份证号")] == found[(14, "身份证号")]  # out of scope reads as not registered
    assert "重复" in found[(15, "身份证号")]
    assert "东门社区" in found[(16, "所属社区")]
    for message in found.values():  # no full ID number in any message
        assert ident(1) not in message and ident(5) not in message
    with pytest.raises(DomainError):
        imports.import_commit(actor=world.secretary, job=job)
    assert not Payment.objects.exists() and not Grant.objects.exists()
    # the good rows only
    job.refresh_from_db()
    job = imports.import_set_mode(actor=world.secretary, job=job, mode=ImportJob.Mode.GOOD_ONLY)
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.COMMITTED and Payment.objects.count() == 4


def test_id_stored_as_number_and_missing_columns(world, ben):
    job = run(world, xlsx([[1, "张桂英", 330225195001010010, "城市低保", "2026-03", 2, 400, ""]]))
    assert "文本" in errors(job)[(2, "身份证号")]
    job = run(world, xlsx([["张桂英", "2026-03"]], headers=["姓名", "发放月份"]))
    assert job.status == ImportJob.Status.FAILED and "身份证号" in job.message


def test_suspended_or_ended_grant_refuses_the_month(world, ben):
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 1, 1), amount="400", persons=2)
    services.grant_act(actor=world.secretary, grant=grant, action=GrantAction.SUSPEND, reason="失联")
    job = run(world, xlsx([[1, "张桂英", ident(1), "城市低保", "2026-03", 2, 400, ""]]))
    assert "暂停" in errors(job)[(2, "救助类别")]


def test_grid_worker_may_not_import(world, ben):
    with pytest.raises(DomainError):
        imports.import_upload(actor=world.worker, register_key=importer.KEY, uploaded=xlsx(good(world, ben)),
                              mode=ImportJob.Mode.ALL_OR_NOTHING)


def test_two_members_of_one_household_are_one_payment_of_a_household_programme(world, ben):
    rows = [[1, "张桂英", ident(1), "城市低保", "2026-03", 2, 400, ""],
            [2, "李明", ident(2, 1980), "城市低保", "2026-03", 2, 400, ""],  # same household H1
            [3, "李明", ident(2, 1980), "长寿补贴", "2026-03", 1, 100, ""]]  # per person: his own
    job = run(world, xlsx(rows))
    assert "第 2 行" in errors(job)[(3, "身份证号")] and job.good_rows == 2
