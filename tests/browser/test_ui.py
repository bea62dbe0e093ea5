"""The staff UI in a real browser, at phone and desktop widths.

Screenshots go to /tmp/jiedao-shots/ (phone-*.png, desktop-*.png) for a human to look at.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from jiedao.core import sealed, totp
from jiedao.core.permissions import Role
from jiedao.org import forms as org_forms
from jiedao.org.models import RoleAssignment, SecondFactor, User
from tests.conftest import PASSWORD, build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def login(browser, username: str) -> None:
    browser.get("/")
    browser.wait_for(ec.presence_of_element_located((By.ID, "id_username")))
    assert "工作人员登录" in browser.text()
    browser.driver.find_element(By.ID, "id_username").send_keys(username)
    browser.driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.driver.find_element(By.CSS_SELECTOR, ".login-card button[type=submit]").click()
    browser.wait_for(ec.any_of(ec.presence_of_element_located((By.CSS_SELECTOR, ".who-name")),
                               ec.presence_of_element_located((By.ID, "id_code"))))
    if browser.driver.find_elements(By.ID, "id_code"):
        second_factor(browser, username)
    browser.wait_for(ec.presence_of_element_located((By.CSS_SELECTOR, ".who-name")))


def second_factor(browser, username: str) -> None:
    """The sign-in's second step, as the person with the authenticator app would take it: the
    first time, the key shown on the page goes into the app and the recovery codes are noted."""
    shown = browser.driver.find_elements(By.ID, "sf-secret")
    if shown:
        secret = shown[0].text.replace(" ", "")
        step = totp.current_step()
    else:
        factor = SecondFactor.objects.get(user__username=username)
        secret, step = sealed.reveal(factor, "secret"), max(totp.current_step(), factor.last_step + 1)
    browser.driver.find_element(By.ID, "id_code").send_keys(totp.code_at(secret, step))
    browser.driver.find_element(By.CSS_SELECTOR, ".login-card button[type=submit]").click()
    if shown:
        browser.wait_for(ec.presence_of_element_located((By.ID, "recovery-codes")))
        browser.driver.find_element(By.ID, "sf-continue").click()


def test_phone_grid_worker_sees_only_own_grid(open_browser, transactional_db):
    world = build_world()
    browser = open_browser(390, 844, "phone", mobile=True)
    browser.get("/login/")
    browser.wait_for(ec.presence_of_element_located((By.ID, "id_username")))
    assert browser.no_horizontal_overflow()
    browser.shot("login")

    login(browser, "worker")
    browser.wait_text("我的网格")
    assert "东门第一网格" in browser.text()
    nav = browser.driver.find_element(By.ID, "site-nav")
    assert not nav.is_displayed()  # collapsed behind the menu button on phones
    assert browser.no_horizontal_overflow()
    browser.shot("home")

    toggle = browser.driver.find_element(By.CSS_SELECTOR, ".nav-toggle")
    toggle.click()
    browser.wait_for(lambda d: nav.is_displayed())
    assert toggle.get_attribute("aria-expanded") == "true"
    assert toggle.size["height"] >= 44  # a thumb-sized tap target
    browser.shot("menu")
    nav.find_element(By.LINK_TEXT, "组织架构").click()

    browser.wait_text("我的负责范围")
    text = browser.text()
    assert "东门第一网格" in text
    assert "东门第二网格" not in text and "横塘" not in text and "东门社区" not in text
    browser.driver.find_element(By.CSS_SELECTOR, ".cards a.card-link").click()

    browser.wait_text("下级节点")
    assert "张网格" in browser.text() and "一号微网格" in browser.text()
    expand = browser.driver.find_element(By.CSS_SELECTOR, f"button[aria-controls='children-{world.microgrid.pk}']")
    expand.click()
    browser.wait_for(ec.visibility_of_element_located((By.LINK_TEXT, "1幢")))
    assert expand.get_attribute("aria-expanded") == "true"
    assert browser.no_horizontal_overflow()
    browser.shot("grid")

    browser.get(f"/org/{world.other_grid.pk}/")
    browser.wait_text("未找到该页面或对象")
    assert "东门第二网格" not in browser.text()
    browser.shot("404")


def test_desktop_admin_creates_user_and_binds_grid_worker_role(open_browser, transactional_db, monkeypatch):
    world = build_world()
    # Make every node picker use the htmx search, as it does for a full-size sub-district.
    monkeypatch.setattr(org_forms, "PICKER_SELECT_LIMIT", 0)
    browser = open_browser(1366, 900, "desktop")
    login(browser, "admin")
    browser.wait_text("丹西街道概况")
    assert browser.driver.find_element(By.ID, "site-nav").is_displayed()
    browser.shot("home")

    browser.driver.find_element(By.LINK_TEXT, "用户管理").click()
    browser.wait_text("新建用户")
    browser.shot("users")
    browser.driver.find_element(By.LINK_TEXT, "新建用户").click()
    browser.wait_for(ec.presence_of_element_located((By.ID, "id_username")))

    d = browser.driver
    d.find_element(By.ID, "id_username").send_keys("zhou")
    d.find_element(By.ID, "id_full_name").send_keys("周网格")
    d.find_element(By.ID, "id_phone").send_keys("13800138000")
    d.find_element(By.ID, "id_home_node").send_keys("东门第二")
    browser.click_when_settled((By.XPATH, "//label[contains(., '东门第二网格')]"))
    d.find_element(By.ID, "id_password").send_keys("Gr1d-worker-pw")
    d.find_element(By.ID, "id_password_confirm").send_keys("Gr1d-worker-pw")
    browser.shot("user-new")
    d.find_element(By.XPATH, "//button[normalize-space()='创建用户']").click()

    browser.wait_text("已创建用户")
    created = User.objects.get(username="zhou")
    assert created.home_node_id == world.other_grid.pk
    role = Select(d.find_element(By.ID, "id_role"))
    role.select_by_value(Role.DEPARTMENT_HANDLER)
    assert d.find_element(By.ID, "field-department").is_displayed()
    role.select_by_value(Role.GRID_WORKER)
    assert not d.find_element(By.ID, "field-department").is_displayed()
    d.find_element(By.ID, "id_node").send_keys("东门第二")
    browser.click_when_settled((By.XPATH, "//label[contains(., '东门第二网格')]"))
    d.find_element(By.XPATH, "//button[normalize-space()='绑定角色']").click()

    browser.wait_text("已绑定角色")
    roles = d.find_element(By.CSS_SELECTOR, ".assignments").text
    assert "网格员" in roles and "东门第二网格" in roles
    assert RoleAssignment.objects.filter(user=created, role=Role.GRID_WORKER, node=world.other_grid).exists()
    assert browser.no_horizontal_overflow()
    browser.shot("user-detail")

    browser.get(f"/org/{world.subdistrict.pk}/")
    browser.wait_text("科室与站所")
    browser.shot("subdistrict")
