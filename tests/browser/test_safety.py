"""The safety pages in a real browser: a community secretary plans a campaign at a desk, a grid
worker inspects on a phone (a failed major item, a tenant with its park), rectifies; coverage and
colours change. Screenshots go to /tmp/jiedao-shots/safety-*.png for a human to look at.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from jiedao.people.models import Business
from jiedao.safety.models import Hazard, Inspection
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.safety.conftest import make_safety

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
