"""The safety pages with the named users: they render, keep input on errors, refuse out of scope."""

import pytest
from django.utils import timezone

from jiedao.safety import services
from jiedao.safety.models import Hazard, Inspection


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


def test_every_page_renders_for_a_grid_worker(world, safety, login):
    c = login(world.worker)
    item = safety.item("ordinary")
    inspection = services.inspection_record(actor=world.worker, business=safety.diner,
                                            inspected_on=timezone.localdate(), template=safety.fire,
                                            answers={item.pk: "fail"})
    hazard = inspection.hazards.get()
    for url in ["/safety/", "/safety/campaigns/", "/safety/businesses/", f"/safety/businesses/{safety.diner.pk}/",
                f"/safety/businesses/{safety.diner.pk}/inspect/", f"/safety/inspections/{inspection.pk}/",
                "/safety/hazards/?state=open", f"/safety/hazards/{hazard.pk}/", "/safety/risk-rule/",
                f"/safety/businesses/{safety.park.pk}/inspect/?template={safety.fire.pk}"]:
        r = c.get(url)
        assert r.status_code == 200, url
    assert "安全生产" in c.get("/").content.decode()
    assert c.get("/safety/campaigns/new/").status_code == 403


def test_out_of_scope_pages_are_404(world, safety, login):
    c = login(world.other_worker)
    inspection = services.inspection_record(actor=world.worker, business=safety.diner,
                                            inspected_on=timezone.localdate(), findings=[{"description": "电线老化"}])
    hazard = inspection.hazards.get()
    for url in [f"/safety/businesses/{safety.diner.pk}/", f"/safety/businesses/{safety.diner.pk}/inspect/",
                f"/safety/inspections/{inspection.pk}/", f"/safety/hazards/{hazard.pk}/"]:
        assert c.get(url).status_code == 404, url
    assert c.post(f"/safety/hazards/{hazard.pk}/act/", {"action": "start"}).status_code == 404
    assert Hazard.objects.get().state == "open"


def test_inspection_form_records_and_keeps_values_on_error(world, safety, login):
    c = login(world.worker)
    ordinary, major = safety.item("ordinary"), safety.item("major")
    url = f"/safety/businesses/{safety.diner.pk}/inspect/"
    data = {"template": safety.fire.pk, "inspected_on": "2099-01-01", f"item_{ordinary.pk}": "ok",
            f"item_{major.pk}": "fail", "finding_1": "厨房燃气软管老化", "severity_1": "ordinary", "days_1": "2",
            "severity_2": "ordinary", "days_2": "5", "severity_3": "ordinary", "days_3": "5",
            "contact_name": "陈老板", "contact_confirmed": "on"}
    r = c.post(url, data)
    assert r.status_code == 400
    page = r.content.decode()
    assert "检查日期不能晚于今天" in page and "厨房燃气软管老化" in page and "陈老板" in page
    assert not Inspection.objects.exists()
    data["inspected_on"] = timezone.localdate().isoformat()
    r = c.post(url, data)
    assert r.status_code == 302
    inspection = Inspection.objects.get()
    assert inspection.hazard_count == 2 and inspection.contact_confirmed


def test_an_inspection_sent_again_is_recorded_once(world, safety, login):
    """A phone that lost the answer sends the same form (its one-time id) again: one inspection,
    one set of hazards; the id cannot be reused for another business; a malformed one is refused."""
    c = login(world.worker)
    url = f"/safety/businesses/{safety.diner.pk}/inspect/"
    page = c.get(url).content.decode()
    assert 'name="submission"' in page
    data = {"inspected_on": timezone.localdate().isoformat(), "finding_1": "灭火器过期", "severity_1": "ordinary",
            "days_1": "3", "severity_2": "ordinary", "days_2": "5", "severity_3": "ordinary", "days_3": "5",
            "submission": "a1b2c3d4e5f60718"}
    first = c.post(url, data)
    again = c.post(url, data)
    assert first.status_code == again.status_code == 302 and first["Location"] == again["Location"]
    assert Inspection.objects.count() == 1 and Hazard.objects.count() == 1
    assert c.post(f"/safety/businesses/{safety.park.pk}/inspect/", data).status_code == 400
    assert c.post(url, {**data, "submission": "x'; --"}).status_code == 400
    assert Inspection.objects.count() == 1


def test_hazard_actions_from_the_page(world, safety, login):
    inspection = services.inspection_record(actor=world.worker, business=safety.diner,
                                            inspected_on=timezone.localdate(), findings=[{"description": "电线老化"}])
    hazard = inspection.hazards.get()
    c = login(world.worker)
    r = c.post(f"/safety/hazards/{hazard.pk}/act/", {"action": "submit", "reason": ""})
    assert r.status_code == 400 and "请填写提交整改的说明" in r.content.decode()
    r = c.post(f"/safety/hazards/{hazard.pk}/act/", {"action": "submit", "reason": "已更换电线"})
    assert r.status_code == 302
    r = c.post(f"/safety/hazards/{hazard.pk}/act/", {"action": "cancel", "reason": "误报"})
    assert r.status_code == 403  # 撤销 is a leader's or an administrator's
    r = c.post(f"/safety/hazards/{hazard.pk}/act/", {"action": "reinspect_pass"})
    assert r.status_code == 302 and Hazard.objects.get().state == "closed"


def test_campaign_page_flow_for_the_secretary(world, safety, login):
    c = login(world.secretary)
    today = timezone.localdate().isoformat()
    r = c.post("/safety/campaigns/new/", {"title": "", "kind": "special", "field": "fire",
                                          "node": world.community.pk, "starts_on": today, "ends_on": today})
    assert r.status_code == 400
    r = c.post("/safety/campaigns/new/", {"title": "消防专项整治", "kind": "special", "field": "fire",
                                          "node": world.community.pk, "starts_on": today, "ends_on": today,
                                          "grids": [world.grid.pk]})
    assert r.status_code == 302
    page = c.get(r["Location"]).content.decode()
    assert "0 / 3" in page and "张网格" in page


def test_checklists_are_edited_on_a_page_by_the_sub_district(world, safety, login):
    c = login(world.worker)
    page = c.get("/safety/checklists/").content.decode()
    assert "消防安全检查表" in page and "疏散通道" in page and "新建检查表" not in page
    assert c.get("/safety/checklists/new/").status_code == 403
    c = login(world.admin)
    r = c.post("/safety/checklists/new/", {"field": "gas", "name": "燃气检查表", "is_active": "on",
                                           "items": "报警器有效 | 《城镇燃气管理条例》 | 一般 | 3\n地下室用气 | | 特别 | 1"})
    assert r.status_code == 400 and "第 2 行" in r.content.decode()
    r = c.post("/safety/checklists/new/", {"field": "gas", "name": "燃气检查表", "is_active": "on",
                                           "items": "报警器有效 | 《城镇燃气管理条例》 | 一般 | 3\n地下室用气 | | 重大 | 1"})
    assert r.status_code == 302
    from jiedao.safety.models import ChecklistTemplate

    gas = ChecklistTemplate.objects.get(name="燃气检查表")
    assert list(gas.items.values_list("text", "severity", "deadline_days")) == [
        ("报警器有效", "ordinary", 3), ("地下室用气", "major", 1)]
    edit = c.get(f"/safety/checklists/{gas.pk}/edit/").content.decode()
    assert "地下室用气 |  | 重大 | 1" in edit
    r = c.post(f"/safety/checklists/{gas.pk}/edit/", {"name": "燃气安全检查表", "items": "报警器有效"})
    assert r.status_code == 302
    gas.refresh_from_db()
    assert gas.name == "燃气安全检查表" and not gas.is_active and gas.items.count() == 1
