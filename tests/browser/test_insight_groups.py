"""Similar cases and duplicate groups in a real browser: the case page of a re-post shows the
earlier report at the same building, and merging it from there works (through the workflow); the
duplicate-groups page lets staff confirm a group at phone width.

Screenshots go to /tmp/jiedao-shots/insight-*.png for a human to look at."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from jiedao.cases import services
from jiedao.cases.models import Case, CaseTransition, Source, State
from jiedao.insight import services as insight
from jiedao.insight.models import DuplicateGroup
from tests.browser.test_cases import submit
from tests.browser.test_ui import login
from tests.conftest import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def file(world, title, description):
    return services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
                                title=title, description=description)


def test_case_page_shows_similar_cases_and_merge_works(open_browser, transactional_db):
    cache.clear()
    world = build_world()
    earlier = file(world, "丽发新城3栋楼下垃圾三天没人清运", "丽发新城小区3栋楼下的垃圾堆了三天了，臭气熏天，请尽快清运。")
    later = file(world, "丽发新城垃圾又没人清运", "3栋楼下垃圾还是没人清运，这是第二次反映了，天热很臭。")
    lookalike = file(world, "魅力之城3栋楼下垃圾三天没人清运", "魅力之城小区3栋楼下的垃圾堆了三天了，臭气熏天，请尽快清运。")

    phone = open_browser(390, 844, "insight-phone", mobile=True)
    d = phone.driver
    login(phone, "worker")
    phone.get(f"/cases/{later.pk}/")
    phone.wait_text("可能重复")
    box = d.find_element(By.CSS_SELECTOR, ".similar")
    assert earlier.ticket in box.text and lookalike.ticket not in box.text
    assert "同一楼栋" in box.text
    assert phone.no_horizontal_overflow()
    phone.shot("case-similar")

    button = box.find_element(By.XPATH, ".//button[normalize-space()='并入此件']")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    page = d.find_element(By.TAG_NAME, "html")
    button.click()
    phone.wait_for(ec.alert_is_present())
    d.switch_to.alert.accept()
    phone.wait_for(ec.staleness_of(page))
    phone.wait_text("已合并")
    later.refresh_from_db()
    assert later.state == State.CLOSED and later.merged_into_id == earlier.pk
    step = CaseTransition.objects.get(case=later, action="merge")
    assert step.actor_id == world.worker.pk and step.data == {"into": earlier.ticket}
    phone.shot("case-merged")


def test_staff_confirm_a_duplicate_group(open_browser, transactional_db):
    cache.clear()
    world = build_world()
    first = file(world, "丽发新城3栋楼下垃圾三天没人清运", "丽发新城小区3栋楼下的垃圾堆了三天了，臭气熏天，请尽快清运。")
    second = file(world, "丽发新城垃圾又没人清运", "3栋楼下垃圾还是没人清运，这是第二次反映了，天热很臭。")
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    group = DuplicateGroup.objects.get()

    phone = open_browser(390, 844, "insight-groups", mobile=True)
    login(phone, "secretary")
    phone.get("/insight/duplicates/")
    phone.wait_text("疑似同一问题")
    assert first.ticket in phone.text() and second.ticket in phone.text()
    assert phone.no_horizontal_overflow()
    phone.shot("groups")
    submit(phone, "确认合并")
    phone.wait_text("已确认合并")
    group.refresh_from_db()
    assert group.status == DuplicateGroup.Status.CONFIRMED
    assert Case.objects.filter(merged_into=group.main_case).count() == 1


def test_dashboard_shows_this_months_hotspots_at_phone_width(open_browser, transactional_db):
    from jiedao.cases.catalogue.defaults import install_default_catalogue
    from jiedao.cases.models import Category

    cache.clear()
    world = build_world()
    install_default_catalogue(Category)
    lamp = Category.objects.get(code="street_lamp")
    for title in ("1幢门口路灯不亮", "1幢路灯坏了一周", "1幢楼下路灯还是不亮"):
        services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
                             title=title, description=f"{title}，晚上出行不安全。", category=lamp)
    phone = open_browser(390, 844, "insight-dashboard", mobile=True)
    login(phone, "leader")
    phone.get(f"/cases/dashboard/?node={world.community.pk}")
    phone.wait_text("东门第一网格 · 路灯不亮")  # the page loads its 本月热点 once shown (a fragment)
    panel = phone.driver.find_element(By.ID, "hotspots")
    assert "东门第一网格 · 路灯不亮" in panel.text and "3 件" in panel.text and "1幢门口路灯不亮" in panel.text
    phone.driver.execute_script("arguments[0].scrollIntoView();", panel)
    assert phone.no_horizontal_overflow()
    phone.shot("dashboard-hotspots")
