"""The inspection form on a phone keeps what was entered on the device: a reload restores it, a
lost connection keeps it (and says so), the recorded inspection clears it. Screenshots go to
/tmp/jiedao-shots/safety-draft-*.png."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from jiedao.safety.models import Hazard, Inspection
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.safety.conftest import make_safety

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_entered_inspection_survives_reload_and_lost_connection(open_browser, transactional_db):
    world = build_world()
    safety = make_safety(world)
    phone = open_browser(390, 844, "safety-draft", mobile=True)
    login(phone, "worker")
    phone.get(f"/safety/businesses/{safety.diner.pk}/inspect/?template={safety.fire.pk}")
    phone.wait_text("疏散通道")
    d = phone.driver
    major = safety.item("major")
    d.execute_script("arguments[0].click()", d.find_element(By.CSS_SELECTOR, f"input[name=item_{major.pk}][value=fail]"))
    d.find_element(By.ID, "id_finding_1").send_keys("配电箱未加锁")
    d.find_element(By.ID, "id_contact_name").send_keys("陈老板")
    d.find_element(By.ID, "id_notes").send_keys("后门堆放杂物")
    key = f"jiedao:inspection-draft:{world.worker.pk}:{safety.diner.pk}"
    assert "配电箱未加锁" in d.execute_script("return localStorage.getItem(arguments[0])", key)

    d.refresh()
    phone.wait_text("恢复了未提交的检查记录")
    assert d.find_element(By.ID, "id_finding_1").get_attribute("value") == "配电箱未加锁"
    assert d.find_element(By.ID, "id_notes").get_attribute("value") == "后门堆放杂物"
    assert d.find_element(By.ID, "id_contact_name").get_attribute("value") == "陈老板"
    assert d.find_element(By.CSS_SELECTOR, f"input[name=item_{major.pk}][value=fail]").is_selected()
    assert phone.no_horizontal_overflow()
    phone.shot("restored")

    d.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    d.execute_script("arguments[0].click()", d.find_element(By.CSS_SELECTOR, "button.btn-block"))
    phone.wait_text("网络中断，记录已保存在本机，恢复网络后再提交")
    assert not Inspection.objects.exists()
    assert d.execute_script("return localStorage.getItem(arguments[0])", key) is not None
    phone.shot("offline")

    d.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
    d.execute_script("arguments[0].click()", d.find_element(By.CSS_SELECTOR, "button.btn-block"))
    phone.wait_text("发现的隐患")
    inspection = Inspection.objects.get()
    assert (inspection.contact_name, inspection.notes) == ("陈老板", "后门堆放杂物")
    assert sorted(Hazard.objects.values_list("severity", flat=True)) == ["major", "ordinary"]
    assert d.execute_script("return localStorage.getItem(arguments[0])", key) is None
    phone.get(f"/safety/businesses/{safety.diner.pk}/inspect/?template={safety.fire.pk}")
    phone.wait_text("疏散通道")
    assert "恢复了未提交的检查记录" not in phone.text()
