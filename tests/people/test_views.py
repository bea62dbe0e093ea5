"""The register pages: residents, households, special groups, businesses, imports and exports.

Scope: a record outside the viewer's scope answers 404 exactly like a missing one. Personal
identifiers: masked in lists, detail pages and exports; a clear value only through the reveal
action (permission + reason + audit event, never cached) or a revealed export.
"""

from __future__ import annotations

import io
import json
import re
import time

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jiedao.core import imports
from jiedao.core.models import AuditEvent, ImportJob
from jiedao.core.validators import id_number_check_char, uscc_check_char
from jiedao.people import services
from jiedao.people.models import Business, Household, Resident, ResidentTag, SpecialGroup
from tests.export_helpers import page_download, page_export, sheet
from tests.people.test_import import good_row, xlsx


def html(response) -> str:
    return response.content.decode()


def normalized(response, pk) -> str:
    text = re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1…", html(response))
    return text.replace(f"/{pk}/", "/…/")


def make_id(n: int, year: int = 1985) -> str:
    first = f"330225{year}0612{n:03d}"
    return first + id_number_check_char(first)


def uscc(n: int) -> str:
    first = f"91330225MA2AB{n:04d}"
    return first + uscc_check_char(first)


@pytest.fixture(autouse=True)
def _private_data_dir(settings, tmp_path):
    # Import files are named by job id: each test (and each xdist worker) gets its own directory.
    settings.DATA_DIR = tmp_path


@pytest.fixture
def people(world):
    """Three residents (two grids and the village), a household, a business in the first grid."""
    admin = world.admin
    household = services.household_create(actor=admin, node=world.building, number="DX-0001", address="1幢101室")
    mine = services.resident_create(actor=admin, node=world.building, name="陈阿姨", id_number=make_id(2),
                                    phone="13812345678", household=household, relation="户主")
    other = services.resident_create(actor=admin, node=world.other_grid, name="钱大伯", id_number=make_id(3),
                                     phone="13900001111")
    village = services.resident_create(actor=admin, node=world.village_grid, name="孙奶奶", id_number=make_id(5))
    business = services.business_create(actor=admin, node=world.grid, name="东门水产店", uscc=uscc(1),
                                        phone="13700002222", industry="零售")
    return {"household": household, "mine": mine, "other": other, "village": village, "business": business}


# --- every page for the roles allowed to see it -------------------------------------------------


def test_every_page_renders_for_allowed_roles(client, world, people):
    r, h, b = people["mine"], people["household"], people["business"]
    pages = [
        reverse("people:residents"), reverse("people:resident", args=[r.pk]),
        reverse("people:resident_history", args=[r.pk]), reverse("people:households"),
        reverse("people:household", args=[h.pk]), reverse("people:household_history", args=[h.pk]),
        reverse("people:groups"), reverse("people:businesses"), reverse("people:business", args=[b.pk]),
        reverse("people:business_history", args=[b.pk]),
    ]
    editing = [
        reverse("people:resident_new"), reverse("people:resident_edit", args=[r.pk]), reverse("people:household_new"),
        reverse("people:household_edit", args=[h.pk]), reverse("people:business_new"),
        reverse("people:business_edit", args=[b.pk]),
    ]
    for user in (world.admin, world.secretary, world.worker):
        client.force_login(user)
        for url in [*pages, *editing, reverse("people:imports")]:
            response = client.get(url)
            assert response.status_code == 200, (user.username, url)
            assert "<html" in html(response)
    client.force_login(world.leader)  # reads every register of the sub-district, changes nothing
    for url in pages:
        assert client.get(url).status_code == 200, url
    for url in [*editing, reverse("people:imports")]:
        assert client.get(url).status_code == 403, url
    client.force_login(world.handler)  # businesses only
    assert client.get(reverse("people:businesses")).status_code == 200
    assert client.get(reverse("people:residents")).status_code == 403
    assert client.get(reverse("people:resident", args=[r.pk])).status_code == 404


def test_nav_entries_follow_permissions(client, world):
    client.force_login(world.secretary)
    page = html(client.get(reverse("home")))
    assert all(f'href="{reverse(name)}"' in page for name in ("people:residents", "people:businesses", "people:imports"))
    client.force_login(world.leader)
    page = html(client.get(reverse("home")))
    assert f'href="{reverse("people:residents")}"' in page and f'href="{reverse("people:imports")}"' not in page
    client.force_login(world.handler)
    page = html(client.get(reverse("people:businesses")))
    assert f'href="{reverse("people:residents")}"' not in page
    assert f'href="{reverse("people:businesses")}" aria-current="page"' in page


# --- scope --------------------------------------------------------------------------------------


def test_grid_worker_sees_own_grid_only(client, world, people):
    client.force_login(world.worker)
    response = client.get(reverse("people:residents"))
    assert [r.name for r in response.context["page"].object_list] == ["陈阿姨"]
    assert "钱大伯" not in html(response) and "孙奶奶" not in html(response)
    # Searching by another grid's exact ID number finds nothing either.
    response = client.get(reverse("people:residents"), {"q": make_id(3)})
    assert list(response.context["page"].object_list) == []
    client.force_login(world.secretary)
    names = {r.name for r in client.get(reverse("people:residents")).context["page"].object_list}
    assert names == {"陈阿姨", "钱大伯"}
    response = client.get(reverse("people:residents"), {"q": make_id(3)})  # no match on an ID number
    assert [r.name for r in response.context["page"].object_list] == []
    response = client.get(reverse("people:residents"), {"node": world.other_grid.pk})
    assert [r.name for r in response.context["page"].object_list] == ["钱大伯"]


def test_other_grid_worker_gets_404_exactly_like_missing(client, world, people):
    r = people["mine"]
    client.force_login(world.other_worker)
    for name in ("people:resident", "people:resident_edit", "people:resident_history"):
        out_of_scope = client.get(reverse(name, args=[r.pk]))
        missing = client.get(reverse(name, args=[987654]))
        assert out_of_scope.status_code == missing.status_code == 404, name
        assert "陈阿姨" not in html(out_of_scope)
        assert normalized(out_of_scope, r.pk) == normalized(missing, 987654)
    for name in ("people:resident_reveal", "people:resident_tag"):
        assert client.post(reverse(name, args=[r.pk]), {"field": "phone", "reason": "核实"}).status_code == 404
    assert client.get(reverse("people:household", args=[people["household"].pk])).status_code == 404
    assert client.get(reverse("people:business", args=[people["business"].pk])).status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="people.resident.reveal").exists()


def test_node_picker_offers_only_managed_places(client, world):
    client.force_login(world.worker)
    url = reverse("people:node_picker", args=["residents"])
    response = client.get(url, {"field": "node", "node_q": "网格"})
    assert {n.name for n in response.context["results"]} == {"东门第一网格", "一号微网格"}
    response = client.get(url, {"field": "node", "node_q": ""})
    assert {n.kind for n in response.context["results"]} == {"grid", "microgrid", "building"}
    response = client.get(url, {"field": "node", "node_q": "东门第二", "node": str(world.other_grid.pk)})
    assert response.context["results"] == [] and "没有与“东门第二”匹配" in html(response)
    client.force_login(world.secretary)  # the community itself is not a place for a resident
    response = client.get(url, {"field": "node", "node_q": "东门"})
    assert "东门社区" not in {n.name for n in response.context["results"]}
    assert client.get(reverse("people:node_picker", args=["everything"]), {"field": "node"}).status_code == 404


# --- masked by default --------------------------------------------------------------------------


def test_identifiers_masked_in_list_and_detail(client, world, people):
    r = people["mine"]
    client.force_login(world.secretary)  # may reveal, but nothing is revealed without asking
    for url in (reverse("people:residents"), reverse("people:resident", args=[r.pk]),
                reverse("people:resident_edit", args=[r.pk]), reverse("people:household", args=[people["household"].pk]),
                reverse("people:resident_history", args=[r.pk])):
        page = html(client.get(url))
        assert make_id(2) not in page and "13812345678" not in page, url
    detail = html(client.get(reverse("people:resident", args=[r.pk])))
    assert r.id_number_masked in detail and "138******78" in detail
    assert "查看明文" in detail
    client.force_login(world.worker)
    assert "查看明文" not in html(client.get(reverse("people:resident", args=[r.pk])))
    business = html(client.get(reverse("people:business", args=[people["business"].pk])))
    assert "137******22" in business and "13700002222" not in business


def _sheet(response) -> list[tuple]:
    return sheet(response)


def test_export_is_masked_and_audited(client, world, people):
    client.force_login(world.secretary)
    rows = _sheet(page_download(client, "people:resident_export"))
    assert rows[0][:4] == ("姓名", "身份证号", "联系电话", "所在网格/楼栋")
    assert {row[0] for row in rows[1:]} == {"陈阿姨", "钱大伯"}
    dump = repr(rows)
    for clear in (make_id(2), make_id(3), "13812345678", "13900001111"):
        assert clear not in dump
    assert people["mine"].id_number_masked in dump and "138******78" in dump
    event = AuditEvent.objects.get(action="people.resident.export")
    assert event.after["rows"] == 2 and event.after["revealed"] is False and event.actor == world.secretary
    # The list's filters apply to the export; the audit log keeps a searched ID number masked.
    rows = _sheet(page_download(client, "people:resident_export", {"q": make_id(3)}))
    assert [row[0] for row in rows[1:]] == []
    assert make_id(3) not in json.dumps(AuditEvent.objects.filter(action="people.resident.export").first().after)
    rows = _sheet(page_download(client, "people:business_export"))
    assert rows[1][0] == "东门水产店" and "13700002222" not in repr(rows) and "137******22" in repr(rows)


def test_revealed_export_needs_permission_and_reason(client, world, people):
    client.force_login(world.worker)
    page = html(client.get(reverse("people:residents")))
    assert 'name="reveal"' not in page  # not offered
    response = page_export(client, "people:resident_export", data={"reveal": "on", "reason": "核对"})
    assert response.status_code == 403
    client.force_login(world.secretary)
    assert 'name="reveal"' in html(client.get(reverse("people:residents")))
    response = page_export(client, "people:resident_export", data={"reveal": "on", "reason": " "})
    assert response.status_code == 400
    assert response.context["export_form"].errors["reason"] == ["请填写导出明文的事由。"]
    assert not AuditEvent.objects.filter(action__startswith="people.resident.export").exists()
    rows = _sheet(page_download(client, "people:resident_export", data={"reveal": "on", "reason": "民政核对低保名单"}))
    assert {(row[0], row[1], row[2]) for row in rows[1:]} == {
        ("陈阿姨", make_id(2), "13812345678"), ("钱大伯", make_id(3), "13900001111")}
    event = AuditEvent.objects.get(action="people.resident.export_revealed")
    assert event.reason == "民政核对低保名单" and event.after["rows"] == 2


def test_revealed_export_holds_only_rows_the_reveal_permission_covers(client, world, people):
    # The secretary also works as a grid worker in the village: she sees its residents there, masked,
    # but may reveal identifiers in 东门社区 only.
    from jiedao.core.permissions import Role
    from jiedao.org import services as org_services

    org_services.role_assign(actor=world.admin, user=world.secretary, role=Role.GRID_WORKER, node=world.village_grid)
    client.force_login(world.secretary)
    rows = _sheet(page_download(client, "people:resident_export"))
    assert {row[0] for row in rows[1:]} == {"陈阿姨", "钱大伯", "孙奶奶"}
    rows = _sheet(page_download(client, "people:resident_export", data={"reveal": "on", "reason": "核对"}))
    assert {row[0] for row in rows[1:]} == {"陈阿姨", "钱大伯"}
    assert make_id(5) not in repr(rows)
    client.force_login(world.admin)
    rows = _sheet(page_download(client, "people:resident_export", data={"reveal": "on", "reason": "全街道核对"}))
    assert {row[1] for row in rows[1:]} == {make_id(2), make_id(3), make_id(5)}


# --- reveal -------------------------------------------------------------------------------------


def test_reveal_refused_for_worker(client, world, people):
    client.force_login(world.worker)
    url = reverse("people:resident_reveal", args=[people["mine"].pk])
    response = client.post(url, {"field": "id_number", "reason": "上门核实"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert make_id(2) not in html(response) and "您没有执行此操作的权限" in html(response)
    response = client.post(url, {"field": "id_number", "reason": "上门核实"})
    assert response.status_code == 403 and make_id(2) not in html(response)
    assert not AuditEvent.objects.filter(action__startswith="people.resident.reveal").exists()


def test_reveal_with_reason_for_secretary(client, world, people):
    r = people["mine"]
    client.force_login(world.secretary)
    url = reverse("people:resident_reveal", args=[r.pk])
    response = client.post(url, {"field": "id_number", "reason": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "请填写查看明文的事由。" in html(response) and make_id(2) not in html(response)
    assert "<html" not in html(response)
    assert not AuditEvent.objects.filter(action__startswith="people.resident.reveal").exists()
    response = client.post(url, {"field": "id_number", "reason": "核实低保申请材料"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert make_id(2) in html(response) and "<html" not in html(response)
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="people.resident.reveal_id_number")
    assert event.reason == "核实低保申请材料" and event.actor == world.secretary and event.object_id == str(r.pk)
    response = client.post(url, {"field": "phone", "reason": "电话回访"})  # without htmx: the whole page
    assert response.status_code == 200 and "13812345678" in html(response) and "<html" in html(response)
    assert "no-store" in response["Cache-Control"]
    # The history shows who looked, and why.
    history = html(client.get(reverse("people:resident_history", args=[r.pk])))
    assert "查看身份证号明文" in history and "核实低保申请材料" in history and "电话回访" in history
    assert "_bidx" not in history


def test_business_phone_reveal(client, world, people):
    b = people["business"]
    url = reverse("people:business_reveal", args=[b.pk])
    client.force_login(world.worker)
    assert client.post(url, {"field": "phone", "reason": "联系业主"}, HTTP_HX_REQUEST="true").status_code == 403
    client.force_login(world.secretary)
    response = client.post(url, {"field": "phone", "reason": "联系业主"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "13700002222" in html(response)
    assert AuditEvent.objects.get(action="people.business.reveal_phone").reason == "联系业主"


# --- forms: create, edit, errors ----------------------------------------------------------------


def test_worker_registers_a_resident(client, world):
    client.force_login(world.worker)
    response = client.post(reverse("people:resident_new"), {
        "name": "周小明", "id_number": make_id(7), "phone": "13600003333", "node": world.microgrid.pk,
        "relation": "", "is_floating": "on",
    })
    created = Resident.objects.get(name="周小明")
    assert response.status_code == 302 and response["Location"] == reverse("people:resident", args=[created.pk])
    assert created.node == world.microgrid and created.is_floating and created.gender == "male"
    assert AuditEvent.objects.filter(action="people.resident.create", object_id=str(created.pk)).exists()


def test_bad_input_rerenders_with_message_on_field_and_changes_nothing(client, world, people):
    client.force_login(world.worker)
    url = reverse("people:resident_new")
    before = Resident.objects.count()
    bad_check = make_id(8)[:-1] + ("0" if make_id(8)[-1] != "0" else "1")
    response = client.post(url, {"name": "周小明", "id_number": bad_check})  # every bad field at once
    assert response.status_code == 400
    assert response.context["form"].errors["id_number"] == ["身份证号校验位不正确，请核对。"]
    assert response.context["form"].errors["node"] == ["请选择组织节点。"]
    assert 'value="周小明"' in html(response) and "no-store" in response["Cache-Control"]
    response = client.post(url, {"name": "周小明", "id_number": make_id(2), "node": world.building.pk})
    assert response.status_code == 409
    assert response.context["form"].errors["id_number"] == ["该身份证号已登记在其他居民名下。"]
    response = client.post(url, {"name": "周小明", "phone": "12345", "node": world.building.pk})
    assert response.status_code == 400 and "格式不正确" in response.context["form"].errors["phone"][0]
    response = client.post(url, {"name": "周小明", "node": world.other_grid.pk})  # not the worker's grid
    assert response.status_code == 400
    assert response.context["form"].errors["node"] == ["请选择您管理范围内的网格、微网格或楼栋。"]
    response = client.post(url, {"name": "周小明", "node": world.building.pk, "household_number": "NO-SUCH"})
    assert response.status_code == 400 and "未找到户号“NO-SUCH”" in response.context["form"].errors["household_number"][0]
    response = client.post(url, {"name": "", "node": world.building.pk})
    assert response.status_code == 400 and response.context["form"].errors["name"]
    assert Resident.objects.count() == before
    # The same on edit: the refusal is shown on the field and the record is unchanged.
    r = people["mine"]
    response = client.post(reverse("people:resident_edit", args=[r.pk]),
                           {"name": "陈阿姨", "node": world.building.pk, "phone": "888"})
    assert response.status_code == 400 and response.context["form"].errors["phone"]
    r.refresh_from_db()
    assert r.phone_masked == "138******78"


def test_edit_keeps_identifiers_left_empty(client, world, people):
    r = people["mine"]
    client.force_login(world.worker)
    page = html(client.get(reverse("people:resident_edit", args=[r.pk])))
    assert "已登记：138******78" in page and 'value="陈阿姨"' in page and make_id(2) not in page
    response = client.post(reverse("people:resident_edit", args=[r.pk]), {
        "name": "陈阿姨", "node": world.building.pk, "household_number": "DX-0001", "relation": "户主",
        "actual_address": "1幢101室", "is_active": "on", "id_number": "", "phone": "",
    })
    assert response.status_code == 302
    r.refresh_from_db()
    assert r.id_number_masked and r.phone_masked == "138******78" and r.actual_address == "1幢101室"
    event = AuditEvent.objects.get(action="people.resident.update", object_id=str(r.pk))
    assert set(event.after) == {"actual_address"}
    client.force_login(world.leader)  # sees the resident, may not change it
    assert client.post(reverse("people:resident_edit", args=[r.pk]), {"name": "X"}).status_code == 403


def test_tags_added_and_removed_with_extra_fields(client, world, people):
    r = people["mine"]
    disabled = SpecialGroup.objects.get(code="disabled")
    client.force_login(world.worker)
    url = reverse("people:resident_tag", args=[r.pk])
    response = client.post(url, {"group": disabled.pk, "data_disabled_level": "五级"})
    assert response.status_code == 400 and response.context["tag_form"].errors["data_disabled_level"]
    response = client.post(url, {"group": disabled.pk, "data_disabled_level": "二级", "start_date": "2025-03-01",
                                 "end_date": "2025-01-01"})
    assert response.status_code == 400
    assert response.context["tag_form"].errors["end_date"] == ["退出日期不能早于认定日期。"]
    assert not ResidentTag.objects.exists()
    response = client.post(url, {"group": disabled.pk, "data_disabled_level": "二级", "data_dibao_card_no": "X"})
    assert response.status_code == 302
    tag = ResidentTag.objects.get(resident=r)
    assert tag.data == {"level": "二级"}  # only the chosen group's fields
    page = html(client.get(reverse("people:resident", args=[r.pk])))
    assert "残疾等级：二级" in page
    names = [x.name for x in client.get(reverse("people:residents"), {"group": "disabled"}).context["page"].object_list]
    assert names == ["陈阿姨"]
    client.force_login(world.other_worker)
    assert client.post(reverse("people:resident_untag", args=[r.pk, tag.pk])).status_code == 404
    client.force_login(world.worker)
    assert client.post(reverse("people:resident_untag", args=[r.pk, tag.pk])).status_code == 302
    assert not ResidentTag.objects.exists()


def test_households_create_edit_and_head(client, world, people):
    client.force_login(world.worker)
    response = client.post(reverse("people:household_new"),
                           {"number": "DX-0001", "address": "1幢102室", "node": world.building.pk})
    assert response.status_code == 409 and response.context["form"].errors["number"] == ["户号“DX-0001”已存在。"]
    response = client.post(reverse("people:household_new"),
                           {"number": "DX-0002", "address": "1幢102室", "node": world.building.pk, "floor": "1"})
    h = Household.objects.get(number="DX-0002")
    assert response.status_code == 302 and h.floor == 1
    response = client.post(reverse("people:household_edit", args=[h.pk]),
                           {"number": "DX-0001", "address": "1幢102室", "node": world.building.pk})
    assert response.status_code == 409
    response = client.post(reverse("people:household_edit", args=[h.pk]),
                           {"number": "DX-0002", "address": "1幢103室", "node": world.building.pk})
    h.refresh_from_db()
    assert response.status_code == 302 and h.address == "1幢103室"
    assert AuditEvent.objects.filter(action="people.household.update", object_id=str(h.pk)).exists()
    first = people["household"]
    response = client.post(reverse("people:household_head", args=[first.pk]), {"head": people["mine"].pk})
    first.refresh_from_db()
    assert response.status_code == 302 and first.head == people["mine"]
    page = html(client.get(reverse("people:household", args=[first.pk])))
    assert "陈阿姨" in page and "设置户主" in page
    names = [x.number for x in client.get(reverse("people:households"), {"q": "103"}).context["page"].object_list]
    assert names == ["DX-0002"]


def test_businesses_create_and_errors(client, world, people):
    client.force_login(world.worker)
    url = reverse("people:business_new")
    response = client.post(url, {"name": "新店", "uscc": "91330225MA2AB00010", "node": world.grid.pk,
                                 "risk_colour": "green"})
    assert response.status_code == 400 and "校验位" in response.context["form"].errors["uscc"][0]
    response = client.post(url, {"name": "新店", "uscc": uscc(1), "node": world.grid.pk, "risk_colour": "green"})
    assert response.status_code == 409 and response.context["form"].errors["uscc"]
    response = client.post(url, {"name": "新店", "uscc": uscc(2), "node": world.grid.pk, "risk_colour": "red",
                                 "size": "micro", "phone": "0574-65712345", "industry": "燃气"})
    assert response.status_code == 302
    created = Business.objects.get(name="新店")
    # a typed colour is not taken: the safety rule colours the business (燃气: a high-risk industry)
    assert created.risk_colour == "yellow" and created.phone_masked.startswith("057")
    assert "risk_colour" not in client.get(url).context["form"].fields
    listed = client.get(reverse("people:businesses"), {"risk_colour": "yellow"}).context["page"].object_list
    assert [b.name for b in listed] == ["新店"]
    response = client.post(reverse("people:business_edit", args=[created.pk]),
                           {"name": "新店", "uscc": uscc(2), "node": world.grid.pk, "risk_colour": "red",
                            "industry": "燃气"})
    created.refresh_from_db()
    assert response.status_code == 302 and created.risk_colour == "yellow" and created.phone_masked  # phone kept
    assert not created.is_active  # the edit form's checkbox was left unticked


def test_special_groups_admin_creates_others_read(client, world):
    client.force_login(world.worker)
    page = html(client.get(reverse("people:groups")))
    assert "低保" in page and "新建类别" not in page
    assert client.post(reverse("people:groups"), {"name": "孤儿", "code": "orphan"}).status_code == 403
    client.force_login(world.admin)
    response = client.post(reverse("people:groups"), {"name": "低保", "code": "dibao2"})
    assert response.status_code == 409 and response.context["form"].errors["code"]
    response = client.post(reverse("people:groups"),
                           {"name": "孤儿", "code": "orphan", "visit_interval_days": "30",
                            "fields_text": "guardian|监护人|text\nlevel|等级|choice|甲,乙"})
    assert response.status_code == 302
    group = SpecialGroup.objects.get(code="orphan")
    assert group.fields[1] == {"name": "level", "label": "等级", "type": "choice", "choices": ["甲", "乙"]}
    response = client.post(reverse("people:groups"), {"name": "X", "code": "x", "fields_text": "a|b|colour"})
    assert response.status_code == 400 and "类型" in response.context["form"].errors["fields_text"][0]


# --- imports through the pages ------------------------------------------------------------------


def _upload(client, rows, mode="all_or_nothing", register="residents"):
    return client.post(reverse("people:import_upload"), {"register": register, "mode": mode, "file": xlsx(rows)})


def test_import_through_the_pages(client, world):
    client.force_login(world.secretary)
    index = html(client.get(reverse("people:imports")))
    assert reverse("people:import_template", args=["residents"]) in index
    template = client.get(reverse("people:import_template", args=["residents"]))
    headers = [c.value for c in openpyxl.load_workbook(io.BytesIO(b"".join(template.streaming_content)))["居民"][1]]
    assert headers[:2] == ["姓名*", "身份证号"]

    rows = [good_row(1), good_row(2, 联系电话="12345"), good_row(3)]  # the bad one is row 3 of the sheet
    response = _upload(client, rows)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("people:import_job", args=[job.pk])
    assert (job.status, job.good_rows, job.bad_rows) == ("validated", 2, 1)
    page = html(client.get(response["Location"]))
    assert "第 3 行" in page and "联系电话" in page and "格式不正确" in page
    assert "只导入正确的 2 行" in page and "全部成功才导入" in page
    assert Resident.objects.count() == 0  # the preview writes nothing

    # All-or-nothing refuses a file with a bad row; nothing is written.
    response = client.post(reverse("people:import_commit", args=[job.pk]), {"mode": "all_or_nothing"})
    assert response.status_code == 400
    assert "不能提交" in response.context["commit_form"].errors["mode"][0]
    assert Resident.objects.count() == 0
    # Good rows only: the two good rows are imported, the bad one comes back with its reason.
    response = client.post(reverse("people:import_commit", args=[job.pk]), {"mode": "good_only"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.mode, job.created_rows) == ("committed", "good_only", 2)
    assert set(Resident.objects.values_list("name", flat=True)) == {"居民1", "居民3"}
    page = html(client.get(reverse("people:import_job", args=[job.pk])))
    assert "已导入：新增 2 行" in page and "确认导入" not in page and "只导入正确的 2 行" not in page
    bad = client.get(reverse("people:import_bad_rows", args=[job.pk]))
    values = list(openpyxl.load_workbook(io.BytesIO(b"".join(bad.streaming_content))).active.values)
    assert values[1][0] == 3 and "联系电话" in values[1][-1]
    assert client.post(reverse("people:import_commit", args=[job.pk]), {"mode": "good_only"}).status_code == 400

    # Importing the same people again updates them instead of duplicating them.
    rows = [good_row(1, 姓名="居民一"), good_row(3)]
    _upload(client, rows)
    second = ImportJob.objects.latest("id")
    assert "确认导入 2 行" in html(client.get(reverse("people:import_job", args=[second.pk])))
    client.post(reverse("people:import_commit", args=[second.pk]), {"mode": "all_or_nothing"})
    second.refresh_from_db()
    assert (second.created_rows, second.updated_rows) == (0, 2)
    assert Resident.objects.count() == 2 and Resident.objects.filter(name="居民一").exists()
    jobs = client.get(reverse("people:imports")).context["jobs"]
    assert [j.pk for j in jobs] == [second.pk, job.pk]


def test_upload_errors_on_the_field(client, world):
    client.force_login(world.secretary)
    response = client.post(reverse("people:import_upload"), {
        "register": "residents", "mode": "all_or_nothing", "file": SimpleUploadedFile("居民.txt", b"abc")})
    assert response.status_code == 400 and response.context["form"].errors["file"] == ["只支持 .xlsx 或 .csv 文件。"]
    response = client.post(reverse("people:import_upload"), {"register": "residents", "mode": "all_or_nothing"})
    assert response.status_code == 400 and response.context["form"].errors["file"]
    response = _upload(client, [["张三"]], register="nothing")
    assert response.status_code == 400 and response.context["form"].errors["register"]
    # A file without the required columns fails with the reason shown on its job page.
    upload = SimpleUploadedFile("x.csv", "名字,电话\n张三,1\n".encode())
    client.post(reverse("people:import_upload"), {"register": "residents", "mode": "good_only", "file": upload})
    job = ImportJob.objects.latest("id")
    assert job.status == "failed"
    assert "缺少必填列" in html(client.get(reverse("people:import_job", args=[job.pk])))
    assert ImportJob.objects.count() == 1


def test_import_permissions(client, world):
    client.force_login(world.worker)  # registers businesses, does not import residents
    form = client.get(reverse("people:imports")).context["form"]
    assert [k for k, _ in form.fields["register"].choices] == ["businesses"]
    assert client.get(reverse("people:import_template", args=["residents"])).status_code == 404
    response = _upload(client, [good_row(1)])
    assert response.status_code == 400 and not ImportJob.objects.exists()
    client.force_login(world.leader)
    assert client.get(reverse("people:imports")).status_code == 403
    assert _upload(client, [good_row(1)]).status_code == 403


def test_another_users_job_is_404(client, world):
    client.force_login(world.secretary)
    _upload(client, [good_row(1), good_row(2, 姓名="")])
    job = ImportJob.objects.get()
    client.force_login(world.admin)
    for response in (client.get(reverse("people:import_job", args=[job.pk])),
                     client.get(reverse("people:import_bad_rows", args=[job.pk])),
                     client.post(reverse("people:import_commit", args=[job.pk]), {"mode": "good_only"}),
                     client.post(reverse("people:import_validate", args=[job.pk]))):
        assert response.status_code == 404
    assert job.pk not in [j.pk for j in client.get(reverse("people:imports")).context["jobs"]]
    job.refresh_from_db()
    assert job.status == "validated" and not Resident.objects.exists()


def test_running_job_polls_and_interrupted_job_says_so(client, world):
    client.force_login(world.secretary)
    job = imports.import_upload(actor=world.secretary, register_key="residents",
                                uploaded=xlsx([good_row(1), good_row(2)]), mode="all_or_nothing")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATING)
    imports.write_progress(job, "validate", 30, 120)
    url = reverse("people:import_job", args=[job.pk])
    page = html(client.get(url))
    assert 'hx-trigger="every 1s"' in page and 'value="25"' in page and "正在逐行校验" in page
    partial = client.get(url, HTTP_HX_REQUEST="true")
    assert "<html" not in html(partial) and 'id="job-body"' in html(partial) and "HX-Request" in partial["Vary"]
    assert "重新校验" not in page
    # The worker died: its progress stopped moving long ago.
    path = imports.progress_file(job)
    stale = json.loads(path.read_text()) | {"at": time.time() - imports.STALE_AFTER_SECONDS - 5}
    path.write_text(json.dumps(stale))
    page = html(client.get(url))
    assert "处理中断" in page and "没有写入任何数据" in page and "every 1s" not in page
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED
    response = client.post(reverse("people:import_validate", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED and job.good_rows == 2
    assert client.post(reverse("people:import_validate", args=[job.pk])).status_code == 400


def test_every_upload_is_validated_by_an_isolated_background_task(client, world, monkeypatch):
    from jiedao.people import views

    submitted = []
    monkeypatch.setattr(views.tasks, "submit_isolated",
                        lambda path, *args, on_crash: submitted.append((path, args, on_crash)))
    client.force_login(world.secretary)
    response = _upload(client, [good_row(1)])  # a small file too: never validated in the request
    job = ImportJob.objects.get()
    assert submitted == [("jiedao.core.imports.import_validate_by_id", (job.pk,),
                          "jiedao.core.imports.import_validate_crashed")]
    page = html(client.get(response["Location"]))
    assert "等待开始校验" in page and 'hx-trigger="every 1s"' in page  # queued: the page follows it


def test_large_commit_runs_as_background_task_and_the_page_follows_it(client, world, monkeypatch):
    from jiedao.people import views

    client.force_login(world.secretary)
    _upload(client, [good_row(1), good_row(2)])
    job = ImportJob.objects.get()
    submitted = []
    monkeypatch.setattr(views, "INLINE_COMMIT_ROWS", 1)
    monkeypatch.setattr(views.tasks, "submit", lambda path, *args: submitted.append((path, args)))
    response = client.post(reverse("people:import_commit", args=[job.pk]), {"mode": "all_or_nothing"})
    assert submitted == [("jiedao.core.imports.import_commit_by_id", (job.pk, world.secretary.pk))]
    assert response.status_code == 302 and "?queued=" in response["Location"]
    page = html(client.get(response["Location"]))
    assert "正在导入" in page and 'hx-trigger="every 1s"' in page and "确认导入" not in page
    assert not Resident.objects.exists()
    imports.import_commit_by_id(job.pk, world.secretary.pk)  # what the worker does
    partial = html(client.get(response["Location"], HTTP_HX_REQUEST="true"))
    assert "已导入：新增 2 行" in partial and "every 1s" not in partial


def test_household_export(client, world, people):
    client.force_login(world.worker)
    rows = _sheet(page_download(client, "people:household_export", {"q": "DX"}))
    assert rows[0][0] == "户号" and rows[1][0] == "DX-0001" and rows[1][5] == "东门社区/东门第一网格/一号微网格/1幢"
    assert AuditEvent.objects.get(action="people.household.export").after["filters"] == {"q": "DX"}


def test_an_upload_over_the_in_memory_size_goes_through_the_encrypted_spool(client, world, settings, tmp_path,
                                                                          monkeypatch):
    """Above 2.5 MB Django spools an upload to disk: through jiedao.core.uploads, encrypted, and
    the import reads it as any other (the zip check seeks in it, the vault copy streams it)."""
    import base64
    import os

    from jiedao.core.uploads import SealedUploadedFile

    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    seen = []
    original = SealedUploadedFile.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self)

    wb = openpyxl.load_workbook(io.BytesIO(xlsx([good_row(n) for n in range(1, 4)]).read()))
    width = wb.active.max_column
    wb.active.cell(row=1, column=width + 1, value="附加")
    for row in range(2, 110):  # incompressible filler in a column the import does not read
        wb.active.cell(row=row, column=width + 1, value=base64.b64encode(os.urandom(30000)).decode())
    buffer = io.BytesIO()
    wb.save(buffer)
    assert buffer.tell() > 2_600_000
    client.force_login(world.secretary)
    monkeypatch.setattr(SealedUploadedFile, "__init__", spy)
    response = client.post(reverse("people:import_upload"), {
        "register": "residents", "mode": "good_only", "file": SimpleUploadedFile("居民.xlsx", buffer.getvalue())})
    assert len(seen) == 1 and response.status_code == 302
    assert ImportJob.objects.get().size == buffer.tell()
