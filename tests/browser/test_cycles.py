"""The 红色网格 cycle in a real browser on a phone (390×844), as the community secretary: open 周集,
hold a 月议 with a decision (the owner sees it on the home page), strike off and carry over quarter
items one by one without leaving the page, read the 季报告 — and no page scrolls sideways. The menu
group opens on a desktop (1366×900).

Screenshots go to /tmp/jiedao-shots/cycles-*.png for a human to look at.
"""

from __future__ import annotations

import time

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from jiedao.cases.models import Case, Category, Deliberation, QuarterlyReview, Source, State
from jiedao.cases.services import case_create
from tests.browser.test_cases import sign_out, submit, tap
from tests.browser.test_ui import login
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cycle_world(transactional_db):
    world = build_world()
    garbage = Category.objects.create(code="garbage", name="暴露垃圾", default_tier="public", time_limit=1)
    cases = [case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
                         title=title, description="楼下垃圾堆放", category=garbage)
             for title in ("楼下垃圾三天没人清运", "垃圾又堆起来了")]
    Case.objects.filter(pk=cases[1].pk).update(state=State.VERIFIED)  # ready to strike off
    return world, cases


def test_phone_secretary_runs_the_cycle(open_browser, cycle_world):
    _world, cases = cycle_world
    browser = open_browser(390, 844, "cycles-phone", mobile=True)
    login(browser, "secretary")

    tap(browser, (By.CSS_SELECTOR, ".nav-toggle"))
    tap(browser, (By.CSS_SELECTOR, ".nav-menu > summary"))
    tap(browser, (By.LINK_TEXT, "周集"))
    browser.wait_text("周集 · 东门社区")
    submit(browser, "生成周集")
    browser.wait_text("本周收集")
    assert browser.no_horizontal_overflow()
    browser.shot("weekly")

    browser.get("/cycles/meetings/")
    submit(browser, "生成议程")
    browser.wait_text("调整议程")  # both cases: repeated (same category, same building)
    assert browser.no_horizontal_overflow()
    driver = browser.driver
    driver.find_element(By.ID, "mt-held").send_keys("")
    driver.execute_script("document.getElementById('mt-held').value = arguments[0]",
                          f"{timezone.localdate():%Y-%m-%d}T19:00")
    names, roles = driver.find_elements(By.NAME, "attendee_name"), driver.find_elements(By.NAME, "attendee_role")
    names[0].send_keys("李大爷")
    roles[0].send_keys("居民代表")
    tap(browser, (By.CSS_SELECTOR, "[data-add-attendee]"))  # one more row, by script
    assert len(driver.find_elements(By.NAME, "attendee_name")) == len(names) + 1
    item = driver.find_elements(By.CSS_SELECTOR, ".agenda-item")[0]
    pk = item.get_attribute("id").split("-")[1]
    driver.find_element(By.ID, f"dec-{pk}").send_keys("物业每日清运两次")
    select = Select(driver.find_element(By.ID, f"own-{pk}"))
    select.select_by_visible_text(next(o.text for o in select.options if o.text.startswith("张网格")))
    driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", f"due-{pk}",
                          f"{timezone.localdate() + timezone.timedelta(days=14):%Y-%m-%d}")
    browser.shot("meeting-draft")
    tap(browser, (By.CSS_SELECTOR, "button[name=hold]"))
    browser.wait_for(ec.alert_is_present()).accept()  # one item has no decision: asked first
    browser.wait_text("议定事项")
    assert Deliberation.objects.get().status == Deliberation.Status.HELD
    assert browser.no_horizontal_overflow()
    browser.shot("meeting-held")

    browser.get("/cycles/reviews/")
    submit(browser, "打开评估清单")
    browser.wait_text("逐项处理")
    review = QuarterlyReview.objects.get()
    url = driver.current_url
    done = review.items.get(case=cases[1])
    card = f"#item-{done.pk}"
    tap(browser, (By.CSS_SELECTOR, f"{card} button[value=struck_off]"))
    browser.wait_for(lambda d: "verdict-struck_off" in d.find_element(By.CSS_SELECTOR, card).get_attribute("class"))
    carry = f"#item-{review.items.get(case=cases[0]).pk}"
    tap(browser, (By.CSS_SELECTOR, f"{carry} button[value=carried_over]"))  # no reason: refused in place
    browser.wait_for(lambda d: "结转下季需说明原因" in d.find_element(By.CSS_SELECTOR, carry).text)
    driver.find_element(By.CSS_SELECTOR, f"{carry} input[name=reason]").send_keys("需协调物业")
    tap(browser, (By.CSS_SELECTOR, f"{carry} button[value=carried_over]"))
    browser.wait_for(lambda d: "verdict-carried_over" in d.find_element(By.CSS_SELECTOR, carry).get_attribute("class"))
    assert driver.current_url == url  # item by item, never leaving the page
    assert driver.find_element(By.ID, "review-counts").text.split()[3] == "0"  # 待评估 0, updated in place
    assert browser.no_horizontal_overflow()
    browser.shot("review")
    tap(browser, (By.CSS_SELECTOR, ".finalize-panel button"))
    browser.wait_for(ec.alert_is_present()).accept()
    browser.wait_text("下载报告（docx 公文格式）")
    assert QuarterlyReview.objects.get().status == QuarterlyReview.Status.FINALIZED
    assert browser.no_horizontal_overflow()
    browser.shot("report")

    sign_out(browser)
    login(browser, "worker")  # the owner sees the decision on the home page
    browser.wait_text("我的月议事项")
    assert "物业每日清运两次" in browser.text()
    browser.shot("owner-home")


def test_desktop_menu_group(open_browser, cycle_world):
    browser = open_browser(1366, 900, "cycles-desktop")
    login(browser, "leader")
    tap(browser, (By.CSS_SELECTOR, ".nav-menu > summary"))
    links = [a.text for a in browser.driver.find_elements(By.CSS_SELECTOR, ".nav-menu ul a")]
    assert links == ["周集", "月议", "季度评估", "季报告"]
    browser.driver.find_element(By.TAG_NAME, "h1").click()  # a click elsewhere closes it
    time.sleep(0.2)
    assert browser.driver.find_element(By.CSS_SELECTOR, ".nav-menu").get_attribute("open") is None
    browser.get("/cycles/reports/")
    browser.wait_text("各社区（村）")
    assert browser.no_horizontal_overflow()
    browser.shot("report-subdistrict")
