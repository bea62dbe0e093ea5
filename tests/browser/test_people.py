"""The register pages in a real browser: a grid worker on a phone, a community secretary at a desk.

Screenshots go to /tmp/jiedao-shots/people-*.png for a human to look at.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from jiedao.core import imports
from jiedao.core.models import ImportJob
from jiedao.core.validators import id_number_check_char
from jiedao.people import services
from jiedao.people.models import Resident
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.people.test_import import good_row, xlsx

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_id(n: int) -> str:
    first = f"33022519850612{n:03d}"
    return first + id_number_check_char(first)


def test_phone_grid_worker_sees_own_grid_residents_masked(open_browser, transactional_db):
    world = build_world()
    household = services.household_create(actor=world.admin, node=world.building, number="DX-0101", address="1幢101室")
    services.resident_create(actor=world.admin, node=world.building, name="陈阿姨", id_number=make_id(2),
                             phone="13812345678", household=household, relation="户主")
    services.resident_create(actor=world.admin, node=world.microgrid, name="周小明", id_number=make_id(7))
    services.resident_create(actor=world.admin, node=world.other_grid, name="钱大伯", id_number=make_id(3))
    browser = open_browser(390, 844, "people-phone", mobile=True)
    login(browser, "worker")
    browser.wait_text("我的网格")

    browser.driver.find_element(By.CSS_SELECTOR, ".nav-toggle").click()
    nav = browser.driver.find_element(By.ID, "site-nav")
    browser.wait_for(lambda d: nav.is_displayed())
    nav.find_element(By.LINK_TEXT, "居民").click()

    browser.wait_text("只显示您负责范围内的居民")
    text = browser.text()
    assert "陈阿姨" in text and "周小明" in text and "钱大伯" not in text
    assert make_id(2) not in text and "13812345678" not in text
    assert make_id(2)[:2] + "*" * 15 + make_id(2)[-1:] in text and "138******78" in text
    # Cards on a phone: the table header is hidden and each cell carries its label.
    assert not browser.driver.find_element(By.CSS_SELECTOR, "table.stack thead th").is_displayed()
    assert browser.no_horizontal_overflow()
    browser.shot("list")

    browser.driver.find_element(By.LINK_TEXT, "陈阿姨").click()
    browser.wait_text("所在户")
    assert "DX-0101" in browser.text() and make_id(2) not in browser.text()
    assert "查看明文" not in browser.text()  # a grid worker may not reveal
    assert browser.no_horizontal_overflow()
    browser.shot("detail")

    browser.get(f"/residents/{Resident.objects.get(name='钱大伯').pk}/")
    browser.wait_text("未找到该页面或对象")
    assert "钱大伯" not in browser.text()


def test_desktop_secretary_imports_good_rows_then_reveals_one(open_browser, transactional_db, settings, monkeypatch,
                                                              tmp_path):
    build_world()
    settings.DATA_DIR = tmp_path
    # The upload is left to "the background": the job page must follow it by polling. This test's
    # thread plays the background worker (the in-memory test database cannot be shared with a
    # real worker thread), first reporting progress, then validating.
    from jiedao.people import views

    monkeypatch.setattr(views, "_validate", lambda job: None)
    upload = tmp_path / "居民名单.xlsx"
    upload.write_bytes(xlsx([good_row(1), good_row(2, 联系电话="12345"), good_row(3), good_row(4)]).read())

    browser = open_browser(1366, 900, "people-desktop")
    login(browser, "secretary")
    d = browser.driver
    d.find_element(By.LINK_TEXT, "数据导入").click()
    browser.wait_text("1. 下载模板")
    browser.shot("imports")
    d.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(upload))
    d.find_element(By.XPATH, "//button[normalize-space()='上传并校验']").click()

    browser.wait_text("等待开始校验")
    job = ImportJob.objects.get()
    assert browser.driver.current_url.endswith(f"/imports/{job.pk}/")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATING)
    imports.write_progress(job, "validate", 2, 4)
    browser.wait_text("正在逐行校验")
    assert d.find_element(By.TAG_NAME, "progress").get_attribute("value") == "50"
    browser.shot("progress")
    # import_validate claims the job itself (uploaded → validating, so a cancelled job is never
    # validated): hand it back as uploaded, as it was before the progress written above.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.UPLOADED)
    imports.import_validate(job)
    browser.wait_text("错误明细")  # the polled page swapped in the preview
    errors = d.find_element(By.CSS_SELECTOR, ".errors-table").text
    assert "第 3 行" in errors and "联系电话" in errors and "格式不正确" in errors
    assert "全部成功才导入" in browser.text()
    browser.shot("preview")

    browser.click_when_settled((By.XPATH, "//button[normalize-space()='只导入正确的 3 行']"))
    browser.wait_text("已导入：新增 3 行")
    assert Resident.objects.count() == 3
    browser.shot("committed")
    d.find_element(By.LINK_TEXT, "查看居民").click()
    browser.wait_text("只显示您负责范围内的居民")
    text = browser.text()
    assert "居民1" in text and "居民3" in text and "居民4" in text and "居民2" not in text
    assert browser.no_horizontal_overflow()
    browser.shot("list")

    # Reveal one ID number inline: a reason is required, and the value appears without a reload.
    d.find_element(By.LINK_TEXT, "居民1").click()
    browser.wait_text("基本信息")
    box = d.find_element(By.ID, "reveal-id_number")
    box.find_element(By.TAG_NAME, "summary").click()
    box.find_element(By.XPATH, ".//button[normalize-space()='查看']").click()
    browser.wait_text("请填写查看明文的事由")
    field = d.find_element(By.ID, "reveal-reason-id_number")
    assert d.switch_to.active_element == field  # keyboard focus lands on the field at fault
    field.send_keys("核实低保申请材料")
    browser.click_when_settled((By.XPATH, "//span[@id='reveal-id_number']//button[normalize-space()='查看']"))
    resident = Resident.objects.get(name="居民1")
    browser.wait_for(ec.text_to_be_present_in_element((By.ID, "reveal-id_number"), "已记入审计日志"))
    from tests.people.test_import import ident

    assert ident(1) in d.find_element(By.ID, "reveal-id_number").text
    assert d.current_url.endswith(f"/residents/{resident.pk}/")
    browser.shot("revealed")
