"""我的导出 in a real browser, on a phone: the export button makes a job, the page follows its
progress by polling (htmx, no script of ours, under the CSP) until the download link appears.

Screenshots go to /tmp/jiedao-shots/exports-*.png.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from jiedao.core import exports, tasks
from jiedao.core.models import ExportJob
from jiedao.core.validators import id_number_check_char
from jiedao.people import services
from tests.browser.test_ui import login
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_id(n: int) -> str:
    first = f"33022519850612{n:03d}"
    return first + id_number_check_char(first)


def test_phone_worker_exports_and_follows_the_job(open_browser, transactional_db, settings, monkeypatch, tmp_path):
    world = build_world()
    settings.DATA_DIR = tmp_path
    services.resident_create(actor=world.admin, node=world.building, name="陈阿姨", id_number=make_id(2))
    services.resident_create(actor=world.admin, node=world.microgrid, name="周小明", id_number=make_id(7))
    # The job is left to "the background": this test's thread plays the worker (the in-memory test
    # database cannot be shared with a real worker thread).
    monkeypatch.setattr(tasks, "submit", lambda *args, **kwargs: None)

    browser = open_browser(390, 844, "exports-phone", mobile=True)
    login(browser, "worker")
    browser.get("/residents/")
    browser.wait_text("只显示您负责范围内的居民")
    d = browser.driver
    d.find_element(By.CSS_SELECTOR, ".export-box summary").click()
    browser.click_when_settled((By.XPATH, "//button[normalize-space()='开始导出']"))
    browser.wait_text("等待开始")
    assert d.current_url.endswith("/exports/") and "已开始导出" in browser.text()
    assert browser.no_horizontal_overflow()
    browser.shot("queued")

    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, total_rows=2, done_rows=1)
    browser.wait_text("已写入 1 / 2 行")
    assert d.find_element(By.TAG_NAME, "progress").get_attribute("value") == "50"
    browser.shot("running")

    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.QUEUED, done_rows=0)
    exports.export_run_by_id(job.pk)
    browser.wait_text("下载 居民-")  # the polled list swapped in the finished job
    link = d.find_element(By.PARTIAL_LINK_TEXT, "下载 居民-")
    assert link.get_attribute("href").endswith(f"/exports/{job.pk}/download/")
    assert "共 2 行" in browser.text()
    assert not d.find_elements(By.CSS_SELECTOR, "[hx-trigger]")  # nothing left to poll
    assert browser.no_horizontal_overflow()
    browser.shot("done")
