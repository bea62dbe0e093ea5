"""The case loop in a real browser, the way a new user would try it: a grid worker files a
request on a phone (390×844) in well under a minute; the community secretary accepts, tiers and
dispatches it at a desk; the department handler acknowledges and resolves; the grid worker
verifies on site; the resident follows it by ticket and rates it; the secretary closes it.

Screenshots go to /tmp/jiedao-shots/cases-*.png for a human to look at.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from jiedao.cases import services
from jiedao.cases.catalogue.defaults import install_default_catalogue
from jiedao.cases.models import Case, Category, RoutingRule, Source, State
from tests.browser.test_ui import login
from tests.cases.test_views import tiny_png
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def loop_world(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    world = build_world()
    install_default_catalogue(Category)  # a flushed test database has lost the migration's rows
    garbage = Category.objects.get(code="exposed_garbage")
    RoutingRule.objects.create(category=garbage, node=world.subdistrict, department=world.department)
    photo = tmp_path / "楼下垃圾.png"
    photo.write_bytes(tiny_png(96, 64))
    return world, photo


def sign_out(browser) -> None:
    browser.driver.delete_all_cookies()


def tap(browser, locator) -> None:
    """Click like a thumb: scroll the element to the middle first (the phone form's submit bar
    sticks to the bottom of the screen), once htmx has settled."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(5):
        browser.wait_for(lambda d: not d.find_elements(By.CSS_SELECTOR, ".htmx-request"))
        try:
            element = browser.wait_for(ec.presence_of_element_located(locator))
            browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
            browser.wait_for(ec.element_to_be_clickable(locator)).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"could not tap {locator}")


def submit(browser, text: str) -> None:
    """Press a submit button and wait until the browser has left the page (a full POST)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    page = browser.driver.find_element(By.TAG_NAME, "html")
    tap(browser, (By.XPATH, f"//button[normalize-space()='{text}']"))

    def arrived(driver) -> bool:
        try:
            page.is_enabled()
            return False  # still the old page
        except StaleElementReferenceException:
            return driver.execute_script("return document.readyState") == "complete"
        except WebDriverException:  # chromedriver, mid-navigation: "Node ... does not belong to the document"
            return False

    browser.wait_for(arrived)


def test_case_loop_from_door_step_to_close(open_browser, loop_world):
    world, photo = loop_world
    earlier = services.case_create(
        actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
        title="1幢垃圾桶满溢", description="1幢楼下垃圾桶满了，垃圾堆放在地上没人清运",
        category=Category.objects.get(code="exposed_garbage"),
    )
    phone = open_browser(390, 844, "cases-phone", mobile=True)
    d = phone.driver

    # 1. The grid worker files it on the phone (and is told of a likely duplicate as they type).
    login(phone, "worker")
    phone.wait_text("我的网格待办")
    assert phone.no_horizontal_overflow()
    phone.shot("home")
    started = time.monotonic()
    d.find_element(By.CSS_SELECTOR, "a.report-button").click()
    phone.wait_for(ec.presence_of_element_located((By.ID, "id_building")))
    Select(d.find_element(By.ID, "id_building")).select_by_visible_text("一号微网格 · 1幢")
    d.find_element(By.ID, "id_photo").send_keys(str(photo))
    phone.wait_for(ec.visibility_of_element_located((By.CSS_SELECTOR, "[data-photo-preview] img")))
    d.find_element(By.ID, "id_description").send_keys("1幢楼下垃圾堆放三天无人清运，臭气熏天")
    phone.wait_text("可能重复")
    assert earlier.ticket in d.find_element(By.ID, "similar").text
    tap(phone, (By.XPATH, "//button[@data-pick-category][contains(., '暴露垃圾')]"))
    assert Select(d.find_element(By.ID, "id_category")).first_selected_option.text == "暴露垃圾"
    assert d.find_element(By.CSS_SELECTOR, "input[name=tier][value=public]").is_selected()  # from the category
    assert phone.no_horizontal_overflow()
    phone.shot("intake")
    submit(phone, "提交登记")
    phone.wait_text("已登记，编号")
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"filing took {elapsed:.1f}s"
    case = Case.objects.exclude(pk=earlier.pk).get()
    assert (case.building_id, case.category.code, case.attachments.count()) == (world.building.pk, "exposed_garbage", 1)
    phone.wait_for(lambda drv: drv.execute_script(
        "var i = document.querySelector('.thumbs img'); return i && i.complete && i.naturalWidth === 96;"))
    assert phone.no_horizontal_overflow()
    phone.shot("filed")

    # 2. The secretary accepts, tiers and dispatches it at a desk.
    desk = open_browser(1366, 900, "cases-desktop")
    dd = desk.driver
    login(desk, "secretary")
    desk.wait_text("社区待办")
    desk.shot("home-secretary")
    dd.find_element(By.LINK_TEXT, case.title).click()
    desk.wait_text("事项信息")
    assert "并入此件" in desk.text() and earlier.ticket in desk.text()  # the duplicate, offered for merging
    desk.shot("reported")
    tap(desk, (By.XPATH, "//form[@data-action='accept']//label[normalize-space()='大事']"))
    submit(desk, "确认受理")
    desk.wait_text("已受理：")
    department = Select(dd.find_element(By.ID, "act-dispatch-department"))
    assert department.first_selected_option.text == "城建办"  # preselected by the routing rule
    desk.shot("accepted")
    submit(desk, "确认派遣")
    desk.wait_text("已派遣：")
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.handling_department_id == world.department.pk
    assert case.deadline_at is not None

    # 3. The handler acknowledges and resolves.
    sign_out(desk)
    login(desk, "handler")
    desk.wait_text("科室待办")
    desk.shot("home-handler")
    dd.find_element(By.LINK_TEXT, case.title).click()
    submit(desk, "签收")
    desk.wait_text("已签收：")
    dd.find_element(By.ID, "act-resolve-reason").send_keys("已清运垃圾，并在1幢楼下加设两个垃圾桶。")
    desk.shot("acknowledged")
    submit(desk, "确认办结")
    desk.wait_text("已办结：")
    desk.shot("resolved")

    # 4. The grid worker verifies on site.
    sign_out(phone)
    login(phone, "worker")
    phone.wait_text("等待您现场核查")
    d.find_element(By.LINK_TEXT, case.title).click()
    phone.wait_text("现场核查通过")
    assert phone.no_horizontal_overflow()
    phone.shot("to-verify")
    submit(phone, "核查通过")
    phone.wait_text("已核查通过：")
    phone.get("/cases/")
    phone.wait_text("导出 Excel")
    assert phone.no_horizontal_overflow()
    phone.shot("list")

    # 5. The resident follows it by ticket and rates it (no login).
    sign_out(phone)
    phone.get("/public/track/")
    phone.wait_for(ec.presence_of_element_located((By.ID, "id_ticket")))
    d.find_element(By.ID, "id_ticket").send_keys(case.ticket)
    submit(phone, "查询")
    phone.wait_text("评价办理结果")
    page = phone.text()
    assert "已核查" in page and "派遣至城建办" in page and "张网格" not in page
    tap(phone, (By.CSS_SELECTOR, "label[for='id_contacted_0']"))  # 及时联系了：是
    tap(phone, (By.CSS_SELECTOR, "label[for='id_solved_0']"))  # 问题已解决：是
    tap(phone, (By.XPATH, "//label[normalize-space()='满意']"))
    d.find_element(By.ID, "id_comment").send_keys("处理得很快")
    assert phone.no_horizontal_overflow()
    phone.shot("track")
    submit(phone, "提交评价")
    phone.wait_text("感谢您的评价")
    phone.shot("rated")

    # 6. The secretary closes it.
    sign_out(desk)
    login(desk, "secretary")
    desk.get(f"/cases/{case.pk}/")
    desk.wait_text("回访评价")
    submit(desk, "结案销号")
    desk.wait_text("已结案销号：")
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.rating == "satisfied" and (case.contacted_in_time, case.solved) == (True, True)
    assert [t.action for t in case.transitions.order_by("seq")] == [
        "report", "accept", "dispatch", "acknowledge", "resolve", "verify_pass", "follow_up", "close"]
    assert desk.no_horizontal_overflow()
    desk.shot("closed")
    desk.get("/cases/")
    desk.wait_text("导出 Excel")
    desk.shot("list")


def test_public_report_and_catalogue_pages(open_browser, loop_world):
    world, photo = loop_world
    phone = open_browser(390, 844, "cases-phone", mobile=True)
    d = phone.driver
    phone.get("/public/report/")
    phone.wait_for(ec.presence_of_element_located((By.ID, "id_community")))
    Select(d.find_element(By.ID, "id_community")).select_by_visible_text("东门社区")
    # The grid list narrows to the chosen community (htmx).
    phone.wait_for(lambda drv: "横塘第一网格" not in drv.find_element(By.ID, "id_grid").text)
    Select(d.find_element(By.ID, "id_grid")).select_by_visible_text("东门第二网格")
    d.find_element(By.ID, "id_title").send_keys("小区东门路灯不亮")
    d.find_element(By.ID, "id_description").send_keys("东门口两盏路灯坏了一周，晚上很黑。")
    d.find_element(By.ID, "id_photo").send_keys(str(photo))
    d.find_element(By.ID, "id_reporter_phone").send_keys("13700002222")
    assert phone.no_horizontal_overflow()
    phone.shot("public-report")
    submit(phone, "提交")
    phone.wait_text("已收到您的反映")
    case = Case.objects.get()
    assert case.ticket in d.find_element(By.ID, "ticket-number").text and case.node_id == world.other_grid.pk
    phone.shot("public-done")

    desk = open_browser(1366, 900, "cases-desktop")
    login(desk, "admin")
    desk.driver.find_element(By.LINK_TEXT, "事项目录").click()
    desk.wait_text("暴露垃圾")
    desk.shot("catalogue")
    desk.driver.find_element(By.LINK_TEXT, "暴露垃圾").click()
    desk.wait_text("派遣规则")
    desk.shot("category")
    desk.get("/catalogue/holidays/")
    desk.wait_text("添加或修改日期")
    desk.shot("holidays")
    desk.get("/cases/hotline/")
    desk.wait_text("热线登记")
    desk.shot("hotline")
