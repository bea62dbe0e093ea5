"""Issue 17 tried as a new user would, in a real browser: a grid worker visits a monitored
household on a phone while the secretary's desk watches the month's overdue list; a petition
registered twice by the same petitioner becomes a repeat matter that is diagnosed, planned and
销号. Screenshots go to /tmp/jiedao-shots/walk-*.png for a human to look at."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from jiedao.welfare.models.monitoring import Measure, MonitoringChange, MonitoringVisit
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.welfare.monitoring.conftest import lead, make_households, put_in_state

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _click(browser, css: str) -> None:
    el = browser.driver.find_element(By.CSS_SELECTOR, css)
    browser.driver.execute_script("arguments[0].click()", el)


def _overdue_counts(text: str) -> tuple[int, int]:
    found = re.search(r"应走访 (\d+) 户，未走访 (\d+) 户", text)
    assert found, text
    return int(found.group(1)), int(found.group(2))


def test_monitoring_visit_on_a_phone(open_browser, transactional_db):
    world = build_world()
    mon = make_households(world)
    m = put_in_state(lead(world, mon.home, cadre=world.worker), "monitored")
    put_in_state(lead(world, mon.other), "monitored")  # a second household of 东门社区, not visited
    month = timezone.localdate().strftime("%Y-%m")

    desk = open_browser(1366, 900, "walk-mon-desk")
    login(desk, "secretary")
    desk.get(f"/welfare/monitoring/overdue/?month={month}")
    desk.wait_text("应走访")
    before = desk.text()
    assert "户主101" in before and "测试路101号" in before
    due, not_visited = _overdue_counts(before)
    assert (due, not_visited) == (2, 2)
    assert desk.no_horizontal_overflow()
    desk.shot("overdue-before")

    phone = open_browser(390, 844, "walk-mon-phone", mobile=True)
    login(phone, "worker")
    phone.get("/welfare/monitoring/mine/")
    phone.wait_text("我的走访")
    assert "户主101" in phone.text() and "户主201" not in phone.text()
    assert phone.no_horizontal_overflow()
    phone.shot("mine-before")
    phone.driver.find_element(By.CSS_SELECTOR, f"a[href='/welfare/monitoring/{m.pk}/visit/']").click()
    phone.wait_text("风险变化")
    d = phone.driver
    _click(phone, "input[name=risks_added][value=employment]")
    d.find_element(By.ID, "id_note").send_keys("户主住院后务工中断，家属在家照料")
    d.find_element(By.CSS_SELECTOR, "#id_new_category option[value=employment]").click()
    d.find_element(By.ID, "id_new_content").send_keys("推荐到社区公益性岗位")
    d.find_element(By.ID, "id_new_owner").send_keys("街道社保所")
    due_on = (timezone.localdate().replace(day=1) + timezone.timedelta(days=62)).replace(day=1).isoformat()
    d.execute_script(f"document.getElementById('id_new_due_on').value='{due_on}'")
    assert phone.no_horizontal_overflow()
    phone.shot("visit-form")
    _click(phone, "button.btn-block[type=submit]")
    phone.wait_text("走访记录")
    phone.wait_for(lambda _: "户主住院后务工中断" in phone.text())
    text = phone.text()
    assert "推荐到社区公益性岗位" in text and "街道社保所" in text
    assert "新增风险 务工就业不稳" in text
    assert "因病" in text and "务工就业不稳" in text  # the risks now, and the change row's new value
    assert phone.no_horizontal_overflow()
    phone.shot("household-after")

    visit = MonitoringVisit.objects.get(monitored=m)
    assert visit.cadre == world.worker and visit.risks_added == ["employment"]
    assert visit.note == "户主住院后务工中断，家属在家照料"
    change = MonitoringChange.objects.get(monitored=m)
    assert "务工就业不稳" in change.new_text and "务工就业不稳" not in change.old_text
    measure = Measure.objects.get(monitored=m)
    assert (measure.category, measure.content, measure.owner) == ("employment", "推荐到社区公益性岗位", "街道社保所")
    assert measure.due_on.isoformat() == due_on

    phone.get("/welfare/monitoring/mine/")
    phone.wait_text("本月已走访")
    done = phone.driver.find_element(By.ID, "done-title").find_element(By.XPATH, "..").text
    assert "户主101" in done
    phone.shot("mine-after")

    desk.driver.refresh()
    desk.wait_text("应走访")
    after = desk.text()
    assert _overdue_counts(after) == (2, 1)
    assert "户主101" not in after and "户主201" in after
    desk.shot("overdue-after")


ID_NUMBER = "330225198001010018"  # a valid GB 11643 number (check digit 8)


def _register_on_the_desk(desk, world, content: str) -> None:
    desk.get("/petitions/new/")
    desk.wait_for(ec.presence_of_element_located((By.ID, "id_content")))
    d = desk.driver
    d.find_element(By.CSS_SELECTOR, "#id_channel option[value=visit]").click()
    d.execute_script(f"document.getElementById('id_received_on').value='{timezone.localdate().isoformat()}'")
    d.find_element(By.CSS_SELECTOR, f"#id_node option[value='{world.grid.pk}']").click()
    d.find_element(By.CSS_SELECTOR, "#id_category option[value=construction]").click()
    d.find_element(By.ID, "id_content").send_keys(content)
    d.find_element(By.ID, "id_demands").send_keys("修复防水层")
    d.find_element(By.ID, "id_name").send_keys("陈阿姨")
    d.find_element(By.ID, "id_id_number").send_keys(ID_NUMBER)
    d.find_element(By.ID, "id_phone").send_keys("13812345678")
    desk.shot("petition-form")
    before = d.current_url
    d.find_element(By.CSS_SELECTOR, "form.form.panel button[type=submit]").click()
    desk.wait_for(lambda drv: drv.current_url != before and "/petitions/new/" not in drv.current_url)
    desk.wait_text("信访人")


def _no_clear_id(browser) -> None:
    text = browser.text()
    source = browser.driver.page_source
    assert ID_NUMBER not in text and ID_NUMBER not in source
    assert "13812345678" not in text and "13812345678" not in source


def test_a_repeat_petition_to_strike_off(open_browser, transactional_db):
    from jiedao.petitions.models import Petition, Petitioner, RepeatedMatter

    world = build_world()
    desk = open_browser(1366, 900, "walk-pet-desk")
    login(desk, "secretary")
    _register_on_the_desk(desk, world, "小区地下车库雨季渗水，要求修复防水层")
    first = Petition.objects.get()
    person = Petitioner.objects.get()
    mask = person.id_number_masked
    assert mask and mask != ID_NUMBER and mask in desk.text()
    _no_clear_id(desk)
    desk.shot("petition-first")

    _register_on_the_desk(desk, world, "地下车库又渗水了，请督促修复防水层")
    second = Petition.objects.exclude(pk=first.pk).get()
    assert Petitioner.objects.count() == 1  # same name + ID number: the same petitioner
    assert desk.driver.current_url.endswith(f"/petitions/{second.pk}/")
    desk.wait_text("疑似重复信访")
    text = desk.text()
    assert first.code in text and mask in text
    _no_clear_id(desk)
    assert desk.no_horizontal_overflow()
    desk.shot("petition-repeat")
    desk.driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=confirm]").click()
    desk.wait_text("重复信访事项")
    matter = RepeatedMatter.objects.get()
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.matter == matter and first.matter == matter and second.is_repeat
    assert second.candidates.get().status == "confirmed"
    desk.driver.find_element(By.CSS_SELECTOR, f"a[href='/petitions/matters/{matter.pk}/']").click()
    desk.wait_text("体检会诊")
    assert "待体检会诊" in desk.text()
    _no_clear_id(desk)
    desk.shot("matter-new")

    d = desk.driver
    d.execute_script("document.querySelectorAll('details').forEach(e => e.open = true)")
    diagnose = d.find_element(By.CSS_SELECTOR, f"form[action='/petitions/matters/{matter.pk}/diagnose/']")
    diagnose.find_element(By.NAME, "causes").send_keys("防水层老化，开发商保修期内未修复")
    diagnose.find_element(By.NAME, "responsible_unit").send_keys("城建办")
    diagnose.find_element(By.NAME, "basis").send_keys("《物业管理条例》")
    diagnose.find_element(By.NAME, "wants").send_keys("修复防水层")
    d.execute_script("arguments[0].click()", diagnose.find_element(By.CSS_SELECTOR, "button"))
    desk.wait_text("防水层老化，开发商保修期内未修复")
    matter.refresh_from_db()
    assert matter.diagnosed_on and matter.stage == "planned"

    d.execute_script("document.querySelectorAll('details').forEach(e => e.open = true)")
    plan = d.find_element(By.CSS_SELECTOR, f"form[action='/petitions/matters/{matter.pk}/measure/']")
    plan.find_element(By.NAME, "text").send_keys("约谈开发商限期修复")
    plan.find_element(By.NAME, "owner").send_keys("王书记")
    d.execute_script("arguments[0].value=arguments[1]", plan.find_element(By.NAME, "due_on"),
                     timezone.localdate().isoformat())
    d.execute_script("arguments[0].click()", plan.find_element(By.CSS_SELECTOR, "button"))
    desk.wait_text("约谈开发商限期修复")
    measure = matter.measures.get()
    desk.shot("matter-planned")
    done = d.find_element(By.CSS_SELECTOR, f"form[action='/petitions/matters/{matter.pk}/done/'] button")
    d.execute_script("arguments[0].click()", done)
    desk.wait_for(lambda drv: not drv.find_elements(By.CSS_SELECTOR,
                                                    f"form[action='/petitions/matters/{matter.pk}/done/']"))
    measure.refresh_from_db()
    assert measure.done_on == timezone.localdate()
    strike_action = f"/petitions/matters/{matter.pk}/strike/"
    assert not d.find_elements(By.CSS_SELECTOR, f"form[action='{strike_action}']")  # a leader approves
    assert "由街道领导审批销号" in desk.text()
    _no_clear_id(desk)
    desk.shot("matter-done")

    boss = open_browser(1366, 900, "walk-pet-leader")
    login(boss, "leader")
    boss.get(f"/petitions/matters/{matter.pk}/")
    boss.wait_text("审批销号")
    _no_clear_id(boss)
    strike = boss.driver.find_element(By.CSS_SELECTOR, f"form[action='{strike_action}']")
    strike.find_element(By.NAME, "evidence").send_keys("已修复，信访人签字确认")
    boss.driver.execute_script("arguments[0].click()", strike.find_element(By.CSS_SELECTOR, "button"))
    boss.wait_text("销号日期")
    matter.refresh_from_db()
    assert matter.stage == "struck_off" and matter.approved_by == world.leader
    assert "已修复，信访人签字确认" in boss.text()
    _no_clear_id(boss)
    boss.shot("matter-struck-off")

    desk.driver.refresh()
    desk.wait_text("销号日期")
    assert matter.get_stage_display() in desk.text()
    for path in (f"/petitions/{first.pk}/", f"/petitions/petitioners/{person.pk}/", "/petitions/list/",
                 "/petitions/campaign/"):
        desk.get(path)
        desk.wait_for(ec.presence_of_element_located((By.CSS_SELECTOR, ".page-head")))
        _no_clear_id(desk)
    desk.shot("campaign")
