"""The benefit pages with the named users: they render (masked), keep input on errors, refuse out
of scope (404) and without MANAGE_WELFARE (403); the import page runs an upload to the end."""

import io
from datetime import date

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jiedao.core import imports
from jiedao.core.models import ImportJob
from jiedao.welfare.benefits import services
from jiedao.welfare.models.benefits import Grant, GrantState, Payment

from .conftest import ident

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


@pytest.fixture
def grants(world, ben):
    urban = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 1, 1), amount="400", persons=2)
    rural = services.grant_create(actor=world.admin, programme=ben.rural, resident=ben.qian,
                                  starts_on=date(2026, 1, 1), amount="300", persons=1)
    for month in (1, 2, 3):
        services.payment_record(actor=world.secretary, grant=urban, month=date(2026, month, 1))
        services.payment_record(actor=world.admin, grant=rural, month=date(2026, month, 1))
    return urban, rural


def test_pages_render_for_a_grid_worker_masked_and_without_manage_links(world, ben, grants, login):
    urban, _rural = grants
    c = login(world.worker)
    for url in ["/welfare/", "/welfare/benefits/", "/welfare/benefits/?due=on", f"/welfare/benefits/grants/{urban.pk}/",
                "/welfare/benefits/programmes/", "/welfare/benefits/payments/", "/welfare/benefits/totals/",
                "/welfare/benefits/panel/", "/welfare/benefits/totals/?granularity=month&start=2026-01-01&end=2026-12-31"]:
        r = c.get(url)
        assert r.status_code == 200, url
        page = r.content.decode()
        assert ident(1) not in page, url
    page = c.get(f"/welfare/benefits/grants/{urban.pk}/").content.decode()
    assert ben.zhang.id_number_masked in page and "登记发放" not in page
    assert "钱老汉" not in c.get("/welfare/benefits/").content.decode()
    for url in ["/welfare/benefits/grants/new/", "/welfare/benefits/import/", "/welfare/benefits/import/template/",
                "/welfare/benefits/programmes/new/", f"/welfare/benefits/grants/{urban.pk}/edit/"]:
        assert c.get(url).status_code == 403, url
    assert c.post(f"/welfare/benefits/grants/{urban.pk}/act/", {"action": "suspend", "reason": "x"}).status_code == 403
    assert c.post(f"/welfare/benefits/grants/{urban.pk}/payments/", {"month": "2026-04"}).status_code == 403


def test_out_of_scope_pages_are_404(world, ben, grants, login):
    urban, rural = grants
    for user in (world.village_worker, world.other_worker):
        c = login(user)
        for url in [f"/welfare/benefits/grants/{urban.pk}/", f"/welfare/benefits/grants/{urban.pk}/edit/"]:
            assert c.get(url).status_code == 404, url
        assert c.post(f"/welfare/benefits/grants/{urban.pk}/act/", {"action": "suspend", "reason": "x"}).status_code == 404
        assert c.post(f"/welfare/benefits/grants/{urban.pk}/payments/", {"month": "2026-04"}).status_code == 404
    c = login(world.secretary)
    assert c.get(f"/welfare/benefits/grants/{rural.pk}/").status_code == 404
    assert c.post(f"/welfare/benefits/grants/{rural.pk}/act/", {"action": "suspend", "reason": "x"}).status_code == 404
    assert c.get(f"/welfare/benefits/grants/new/?resident={ben.qian.pk}").status_code == 404
    totals = c.get("/welfare/benefits/totals/?start=2026-01-01&end=2026-12-31").content.decode()
    assert "横塘村" not in totals and "900.00" not in totals and "1200.00" in totals
    assert Grant.objects.get(pk=rural.pk).state == GrantState.ACTIVE
    # the handler sees no welfare at all
    c = login(world.handler)
    assert c.get("/welfare/benefits/").status_code == 403
    assert c.get(f"/welfare/benefits/grants/{urban.pk}/").status_code == 404


def test_secretary_registers_acts_and_pays_on_the_pages(world, ben, login):
    c = login(world.secretary)
    page = c.get("/welfare/benefits/grants/new/?q=张").content.decode()
    assert "张桂英" in page and ben.zhang.id_number_masked in page and ident(1) not in page
    data = {"programme": ben.urban.pk, "resident": ben.zhang.pk, "starts_on": "2026-01-01", "amount": "-5",
            "persons": "2", "notes": "新申请"}
    r = c.post("/welfare/benefits/grants/new/", data)
    assert r.status_code == 400 and "负数" in r.content.decode() and "新申请" in r.content.decode()
    data["amount"] = "400"
    r = c.post("/welfare/benefits/grants/new/", data)
    assert r.status_code == 302
    grant = Grant.objects.get()
    r = c.post(f"/welfare/benefits/grants/{grant.pk}/payments/", {"month": "2025-12", "amount": "", "persons": ""})
    assert r.status_code == 400 and "早于" in r.content.decode()
    assert c.post(f"/welfare/benefits/grants/{grant.pk}/payments/", {"month": "2026-02"}).status_code == 302
    assert Payment.objects.get().amount == 400
    r = c.post(f"/welfare/benefits/grants/{grant.pk}/act/", {"action": "suspend", "reason": ""})
    assert r.status_code == 400 and "说明" in r.content.decode()
    assert c.post(f"/welfare/benefits/grants/{grant.pk}/act/", {"action": "suspend", "reason": "失联"}).status_code == 302
    page = c.get(f"/welfare/benefits/grants/{grant.pk}/").content.decode()
    assert "暂停" in page and "失联" in page
    r = c.post(f"/welfare/benefits/grants/{grant.pk}/edit/", {"amount": "450", "persons": "3", "notes": "复核后调整"})
    assert r.status_code == 302 and Grant.objects.get().persons == 3
    r = c.post(f"/welfare/benefits/grants/{grant.pk}/edit/", {"starts_on": "2025-12-01", "amount": "450",
                                                                 "persons": "3"})
    assert r.status_code == 302 and Grant.objects.get().starts_on.isoformat() == "2025-12-01"


def test_programme_pages(world, ben, login):
    c = login(world.leader)
    r = c.post("/welfare/benefits/programmes/new/", {"name": "城市低保", "code": "dup", "unit": "person",
                                                     "period": "monthly", "headline": "persons"})
    assert r.status_code == 400 and "已有" in r.content.decode()
    r = c.post("/welfare/benefits/programmes/new/", {"name": "残疾人两项补贴", "code": "canbu", "unit": "person",
                                                     "period": "monthly", "headline": "persons", "is_active": "on"})
    assert r.status_code == 302
    assert "残疾人两项补贴" in c.get("/welfare/benefits/programmes/").content.decode()


def test_a_community_secretary_reads_the_catalogue_but_may_not_change_it(world, ben, login):
    c = login(world.secretary)
    r = c.get("/welfare/benefits/programmes/")
    assert r.status_code == 200 and "城市低保" in r.content.decode()
    assert f"/welfare/benefits/programmes/{ben.urban.pk}/" not in r.content.decode()
    assert c.get(f"/welfare/benefits/programmes/{ben.urban.pk}/").status_code == 403
    assert c.post(f"/welfare/benefits/programmes/{ben.urban.pk}/", {"name": "改名", "code": "x", "unit": "person",
                  "period": "monthly", "headline": "persons"}).status_code == 403
    assert c.get("/welfare/benefits/programmes/new/").status_code == 403
    assert c.post("/welfare/benefits/programmes/defaults/").status_code == 403
    ben.urban.refresh_from_db()
    assert ben.urban.name == "城市低保"


def test_import_page_upload_and_commit(world, ben, login, monkeypatch):
    from jiedao.welfare.benefits import views

    monkeypatch.setattr(views, "_validate", lambda job: imports.import_validate(job))
    c = login(world.secretary)
    assert c.get("/welfare/benefits/import/").status_code == 200
    r = c.get("/welfare/benefits/import/template/")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "姓名", "身份证号", "救助类别", "发放月份", "保障人数", "发放金额(元)", "所属社区"])
    ws.append([1, "张桂英", ident(1), "城市低保", "2026-03", 2, 400, "东门社区"])
    ws.append([2, "钱老汉", ident(5), "农村低保", "2026-03", 1, 300, "横塘村"])
    buf = io.BytesIO()
    wb.save(buf)
    r = c.post("/welfare/benefits/import/upload/", {"file": SimpleUploadedFile("发放.xlsx", buf.getvalue()),
                                                    "mode": "all_or_nothing"})
    assert r.status_code == 302
    job = ImportJob.objects.get()
    page = c.get(r["Location"]).content.decode()
    assert "第 3 行" in page and ident(5) not in page
    r = c.post(f"/welfare/benefits/import/{job.pk}/commit/", {"mode": "all_or_nothing"})
    assert r.status_code == 400 and not Payment.objects.exists()
    r = c.post(f"/welfare/benefits/import/{job.pk}/commit/", {"mode": "good_only"})
    assert r.status_code == 302 and Payment.objects.count() == 1
    assert c.get(f"/welfare/benefits/import/{job.pk}/bad-rows/").status_code == 200
    # another user's job is not found
    assert login(world.leader).get(f"/welfare/benefits/import/{job.pk}/").status_code == 404


def test_totals_xlsx_export(world, ben, grants, login):
    c = login(world.leader)
    r = c.get("/welfare/benefits/totals/?start=2026-01-01&end=2026-12-31&granularity=quarter&format=xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    values = [[c.value for c in row] for row in wb.active.iter_rows(min_row=3)]
    total = next(v for v in values if v[0] == "城市低保" and v[2] == "合计")
    assert total[3] == 6 and float(total[6]) == 1200.0 and float(total[7]) == 200.0
