"""The classifier in a real browser: a grid worker types into the phone intake form, sees the
trained model's suggestion, taps it and sees the category (and its tier) filled; an
administrator reads the evaluation page at phone width.

Screenshots go to /tmp/jiedao-shots/insight-*.png for a human to look at."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from jiedao.cases.catalogue.defaults import install_default_catalogue
from jiedao.cases.models import Case, Category
from jiedao.insight import services
from jiedao.insight.models import CaseSuggestion, ClassifierVersion
from tests.browser.test_cases import submit, tap
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.insight.history import file_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trained_world(transactional_db):
    cache.clear()
    world = build_world()
    install_default_catalogue(Category)  # a flushed test database has lost the migration's rows
    file_history(world, 60)
    version = services.classifier_train(actor=None, trigger=ClassifierVersion.Trigger.COMMAND)
    assert version.is_active and version.kind == ClassifierVersion.Kind.HISTORY
    return world, version


def test_phone_intake_shows_the_suggestion_and_one_tap_fills_category_and_tier(open_browser, trained_world):
    _world, version = trained_world
    phone = open_browser(390, 844, "insight-phone", mobile=True)
    d = phone.driver
    login(phone, "worker")
    phone.get("/cases/new/")
    phone.wait_for(ec.presence_of_element_located((By.ID, "id_description")))
    Select(d.find_element(By.ID, "id_building")).select_by_visible_text("一号微网格 · 1幢")
    d.find_element(By.ID, "id_description").send_keys("小区门口垃圾三天没人清运，臭气熏天")
    chip = (By.XPATH, "//div[@id='suggest']//button[@data-pick-category][1]")
    phone.wait_for(ec.presence_of_element_located(chip))
    box = d.find_element(By.ID, "suggest")
    assert "暴露垃圾" in box.text and "建议类别" in box.text and "低置信度" not in box.text
    assert box.find_element(By.CSS_SELECTOR, "[data-suggest-version]").get_attribute("data-suggest-version") == str(
        version.number)
    assert Select(d.find_element(By.ID, "id_category")).first_selected_option.get_attribute("value") == ""
    tap(phone, chip)
    assert Select(d.find_element(By.ID, "id_category")).first_selected_option.text == "暴露垃圾"
    assert d.find_element(By.CSS_SELECTOR, "input[name=tier][value=public]").is_selected()
    assert phone.no_horizontal_overflow()
    phone.shot("intake")
    submit(phone, "提交登记")
    phone.wait_text("已登记，编号")
    case = Case.objects.order_by("-id").first()
    assert case.category.code == "exposed_garbage"
    # filed with the tapped category: the suggestion is recorded by the backfill job, not the intake
    services.suggestion_backfill()
    record = CaseSuggestion.objects.get(case=case)
    assert record.suggested.code == "exposed_garbage" and record.version_id == version.pk
    assert record.chosen.code == "exposed_garbage"

    # Words the model cannot place: it says so instead of guessing.
    phone.get("/cases/new/")
    phone.wait_for(ec.presence_of_element_located((By.ID, "id_description")))
    d.find_element(By.ID, "id_description").send_keys("你好你好")
    phone.wait_text("低置信度")

    # The administrator's evaluation page at phone width.
    admin = open_browser(390, 844, "insight-admin", mobile=True)
    login(admin, "admin")
    admin.get("/insight/classifier/")
    admin.wait_text("当前使用的版本")
    page = admin.text()
    assert f"v{version.number}" in page and "宏平均 F1" in page and "立即重新训练" in page
    assert admin.no_horizontal_overflow()
    admin.shot("evaluation")
