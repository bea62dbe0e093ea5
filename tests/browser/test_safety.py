"""The safety pages in a real browser: a community secretary plans a campaign at a desk, a grid
worker inspects on a phone (a failed major item, a tenant with its park), rectifies; coverage and
colours change; the overview's rates, an overdue hazard escalated into a case that links back, and
the quarterly review's docx downloaded in the browser equal a recount from raw rows. Screenshots go to /tmp/jiedao-shots/safety-*.png for a human to look at.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from jiedao.people.models import Business
from jiedao.safety import review as reviews
from jiedao.safety import services
from jiedao.safety.models import Hazard, Inspection
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.safety.conftest import make_safety
from tests.safety.test_review import read_docx, recount

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_plan_inspect_on_a_phone_rectify(open_browser, transactional_db):
    world = build_world()
    safety = make_safety(world)
    desk = open_browser(1366, 900, "safety-desk")
    login(desk, "secretary")
    desk.get("/safety/campaigns/new/")
    desk.wait_for(ec.presence_of_element_located((By.ID, "id_title")))
    desk.driver.find_element(By.ID, "id_title").send_keys("消防安全专项整治")
    today = timezone.localdate().isoformat()
    for field in ("id_starts_on", "id_ends_on"):
        desk.driver.execute_script(f"document.getElementById('{field}').value='{today}'")
    desk.driver.find_element(By.CSS_SELECTOR, f"input[name=grids][value='{world.grid.pk}']").click()
    desk.driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    desk.wait_text("排摸进度")
    assert "0 / 3" in desk.text() and desk.no_horizontal_overflow()
    desk.shot("campaign")

    phone = open_browser(390, 844, "safety-phone", mobile=True)
    login(phone, "worker")
    phone.get(f"/safety/businesses/{safety.diner.pk}/inspect/")
    phone.wait_text("检查表")
    phone.driver.find_element(By.LINK_TEXT, "消防安全检查表").click()
    phone.wait_text("疏散通道")
    major = safety.item("major")
    phone.driver.execute_script("arguments[0].click()", phone.driver.find_element(
        By.CSS_SELECTOR, f"input[name=item_{major.pk}][value=fail]"))
    phone.driver.find_element(By.ID, "id_contact_name").send_keys("陈老板")
    phone.driver.execute_script("arguments[0].click()", phone.driver.find_element(By.ID, "id_contact_confirmed"))
    assert phone.no_horizontal_overflow()
    phone.shot("inspect")
    phone.driver.execute_script("arguments[0].click()", phone.driver.find_element(By.CSS_SELECTOR, "button.btn-block"))
    phone.wait_text("发现的隐患")
    assert "不符合：疏散通道" in phone.text()
    assert Business.objects.get(pk=safety.diner.pk).risk_colour == "red"

    # the park, then its tenant together with it
    for business in (safety.park, safety.tenant):
        phone.get(f"/safety/businesses/{business.pk}/inspect/?template=")
        phone.wait_text("提交检查")
        if business == safety.tenant:
            box = phone.driver.find_element(By.CSS_SELECTOR, "input[name=with_site]")
            assert box.is_selected()
        phone.driver.execute_script("arguments[0].click()",
                                    phone.driver.find_element(By.CSS_SELECTOR, "button.btn-block"))
        phone.wait_text("未发现隐患")
    assert Inspection.objects.get(business=safety.tenant).site_inspection.business == safety.park

    hazard = Hazard.objects.get()
    phone.get(f"/safety/hazards/{hazard.pk}/")
    phone.wait_text("提交整改")
    phone.driver.find_element(By.XPATH, "//summary[text()='提交整改']").click()
    form = phone.driver.find_element(By.XPATH, "//summary[text()='提交整改']/..")
    form.find_element(By.NAME, "reason").send_keys("已清理疏散通道")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    phone.wait_text("待复查")
    assert "复查通过" not in phone.text()  # a major hazard's pass is the community's
    phone.shot("hazard")

    desk.get(f"/safety/hazards/{hazard.pk}/")
    desk.wait_text("复查通过")
    desk.driver.find_element(By.XPATH, "//summary[text()='复查通过']").click()
    desk.driver.find_element(By.XPATH, "//summary[text()='复查通过']/..").find_element(
        By.CSS_SELECTOR, "button[type=submit]").click()
    desk.wait_text("已销号")
    assert Business.objects.get(pk=safety.diner.pk).risk_colour == "green"
    desk.get("/safety/campaigns/")
    desk.driver.find_element(By.LINK_TEXT, "消防安全专项整治").click()
    desk.wait_text("排摸进度")
    assert "3 / 3" in desk.text()
    desk.shot("coverage")

    # the overview's rates equal an independent count from the raw rows
    today = timezone.localdate()
    desk.get("/safety/")
    desk.wait_text("排摸覆盖率")
    expected = recount(world.secretary, world.community, today.replace(month=1, day=1), today, timezone.now())
    assert expected["hazards"] == 1 and expected["rectified"] == 1
    stats = desk.text()
    assert "整改率\n100.0%" in stats or "整改率\n100%" in stats, stats
    desk.shot("overview")

    # an overdue major hazard (an inspection recorded three weeks ago) escalated into a case
    services.inspection_record(actor=world.other_worker, business=safety.shop, inspected_on=today - timedelta(days=21),
                               template=safety.fire, answers={major.pk: "fail"})
    overdue = Hazard.objects.get(business=safety.shop)
    assert overdue.is_overdue
    desk.get(f"/safety/hazards/{overdue.pk}/")
    desk.wait_text("移交执法")
    desk.driver.find_element(By.XPATH, "//summary[text()='移交执法']").click()
    box = desk.driver.find_element(By.XPATH, "//summary[text()='移交执法']/..")
    box.find_element(By.NAME, "reason").send_keys("逾期未整改，移交联合执法")
    box.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    desk.wait_text("移交事项")
    case = Hazard.objects.get(pk=overdue.pk).case
    assert case is not None and case.internal
    desk.driver.find_element(By.PARTIAL_LINK_TEXT, case.ticket).click()
    desk.wait_text(overdue.code)  # the case page links back to its hazard
    desk.shot("escalated-case")

    # the quarterly review, downloaded in the browser: its numbers equal the recount
    desk.get(f"/safety/review/?node={world.community.pk}")
    desk.wait_text("下载研判报告")
    href = desk.driver.find_element(By.PARTIAL_LINK_TEXT, "docx").get_attribute("href")
    encoded = desk.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => { let s = ''; const u = new Uint8Array(b);"
        "for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); done(btoa(s)); });", href)
    got = read_docx(base64.b64decode(encoded))
    start, end = reviews.quarter_dates(*reviews.quarter_of(today))
    expected = recount(world.secretary, world.community, start, end, timezone.now())
    for key in ("base", "visited", "inspections", "hazards", "major", "rectified", "on_time", "overdue_open"):
        assert got[key] == expected[key], key
    desk.shot("review")
