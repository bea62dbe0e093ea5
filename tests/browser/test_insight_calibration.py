"""Issue 15 in a real browser, at phone (390×844) and desktop (1366×900) widths: the intake
suggestion chips show calibrated confidences (never 100 %), and the evaluation page names the
data it scored on and draws its reliability diagram inline (SVG, no chart library).

Screenshots: /tmp/jiedao-shots/issue15-*.png (copied to $JIEDAO_SHOTS_COPY when set)."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from django.core.cache import cache
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from jiedao.cases.catalogue.defaults import install_default_catalogue
from jiedao.cases.models import Category
from jiedao.insight import services
from jiedao.insight.models import ClassifierVersion
from tests.browser.test_ui import login
from tests.conftest import build_world
from tests.insight.history import file_history

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def calibrated_world(transactional_db):
    cache.clear()
    world = build_world()
    install_default_catalogue(Category)
    file_history(world, 300)
    version = services.classifier_train(actor=None, trigger=ClassifierVersion.Trigger.COMMAND)
    assert version.is_active and version.calibration.get("fit_n") == 30
    return world, version


def _keep(path) -> None:
    target = os.environ.get("JIEDAO_SHOTS_COPY")
    if target:
        os.makedirs(target, exist_ok=True)
        shutil.copy(path, target)


@pytest.mark.parametrize(("width", "height", "mobile"), [(390, 844, True), (1366, 900, False)])
def test_chips_and_evaluation_page_are_honest(open_browser, calibrated_world, width, height, mobile):
    _world, version = calibrated_world
    label = f"issue15-{width}"
    b = open_browser(width, height, label, mobile=mobile)
    d = b.driver
    login(b, "worker")
    b.get("/cases/new/")
    b.wait_for(ec.presence_of_element_located((By.ID, "id_description")))
    Select(d.find_element(By.ID, "id_building")).select_by_visible_text("一号微网格 · 1幢")
    d.find_element(By.ID, "id_description").send_keys("小区门口垃圾三天没人清运，臭气熏天")
    chip = (By.XPATH, "//div[@id='suggest']//button[@data-pick-category][1]")
    b.wait_for(ec.presence_of_element_located(chip))
    box = d.find_element(By.ID, "suggest")
    shown = [int(p) for p in re.findall(r"(\d+)%", box.text)]
    assert shown and all(p < 100 for p in shown) and "100%" not in box.text
    assert b.no_horizontal_overflow()
    _keep(b.shot("chips"))

    admin = open_browser(width, height, f"{label}-admin", mobile=mobile)
    login(admin, "admin")
    admin.get("/insight/classifier/")
    admin.wait_text("得分所用的数据")
    page = admin.text()
    _keep(admin.shot("evaluation"))
    section = admin.driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=ins-calibration]")
    _keep(admin.section_shot(section, "reliability"))
    cal = version.calibration
    assert f"较新的 30 件（编号 {cal['eval_cases'][0]}–{cal['eval_cases'][1]}）" in page
    assert f"v{version.number} 用编号" in page and "可靠性图" in page
    assert admin.driver.find_elements(By.CSS_SELECTOR, "td[data-label='建议为此类']")
    assert admin.driver.find_element(By.CSS_SELECTOR, "svg.reliability-svg").is_displayed()
    assert admin.no_horizontal_overflow()
