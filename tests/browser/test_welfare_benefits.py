"""The benefit pages in a real browser: a community secretary on a phone registers a grant, records
a payment, suspends it; the totals and the overview panel read as the work reports do. Screenshots
go to /tmp/jiedao-shots/benefits-*.png for a human to look at."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from jiedao.welfare.models.benefits import Grant, GrantState, Payment
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.welfare.benefits.conftest import make_benefits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_pay_suspend_on_a_phone(open_browser, transactional_db):
    world = build_world()
    ben = make_benefits(world)
    phone = open_browser(390, 844, "benefits-phone", mobile=True)
    login(phone, "secretary")
    phone.get("/welfare/benefits/grants/new/?q=张")
    phone.wait_text("张桂英")
    assert ben.zhang.id_number_masked in phone.text()
    d = phone.driver
    d.execute_script("arguments[0].click()", d.find_element(By.CSS_SELECTOR, f"input[name=resident][value='{ben.zhang.pk}']"))
    d.find_element(By.CSS_SELECTOR, f"#id_programme option[value='{ben.urban.pk}']").click()
    d.execute_script("document.getElementById('id_starts_on').value='2026-01-01'")
    d.find_element(By.ID, "id_amount").send_keys("400")
    d.find_element(By.ID, "id_persons").clear()
    d.find_element(By.ID, "id_persons").send_keys("2")
    assert phone.no_horizontal_overflow()
    phone.shot("grant-form")
    d.find_element(By.ID, "id_amount").submit()
    phone.wait_text("资格信息")
    grant = Grant.objects.get()
    assert grant.household_id == ben.h1.pk and grant.amount == 400
    d.execute_script("document.querySelectorAll('details').forEach(e => e.open = true)")
    d.execute_script("document.getElementById('id_month').value='2026-02'")
    d.find_element(By.ID, "id_month").submit()
    phone.wait_text("2026-02")
    assert Payment.objects.get().persons == 2
    d.execute_script("document.querySelectorAll('details').forEach(e => e.open = true)")
    form = d.find_element(By.CSS_SELECTOR, "form input[name=action][value=suspend]").find_element(By.XPATH, "..")
    form.find_element(By.NAME, "reason").send_keys("外出务工，未参加年度复核")
    form.submit()
    phone.wait_text("外出务工，未参加年度复核")
    assert Grant.objects.get().state == GrantState.SUSPENDED
    assert phone.no_horizontal_overflow()
    phone.shot("grant")
    phone.get("/welfare/benefits/totals/?start=2026-01-01&end=2026-12-31")
    phone.wait_text("人均补差")
    assert "2人次，人均补差200元" in phone.text()
    assert phone.no_horizontal_overflow()
    phone.shot("totals")
    phone.get("/welfare/")
    phone.wait_text("城市低保")
    phone.shot("overview")
