"""The registers' REST API (/api/v1/people) through HTTP, as the named users of the world.

Every scoped endpoint has a negative test: a resident, household or business outside the
caller's subtree answers 404 with exactly the body of a missing id. 身份证号 and phone numbers
only ever appear masked — in lists, details, history and exports — unless a user with the
reveal permission asks with a reason, which is audited. Refused writes change nothing.
"""

import io
import json
import re
import zipfile
from types import SimpleNamespace

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jiedao.core import imports
from jiedao.core.models import AuditEvent, ImportJob
from jiedao.core.permissions import Role
from jiedao.core.validators import id_number_check_char, uscc_check_char
from jiedao.org import services as org_services
from jiedao.people import services
from jiedao.people.models import Business, Household, Resident, ResidentTag, SpecialGroup

BASE = "/api/v1/people"
MISSING = 987654
NOT_FOUND = {"detail": "未找到该对象。", "field": None, "code": "not_found"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def make_id(prefix17: str) -> str:
    return prefix17 + id_number_check_char(prefix17)


def make_uscc(prefix17: str) -> str:
    return prefix17 + uscc_check_char(prefix17)


ID_A = make_id("33022519520612002")  # female, born 1952
ID_B = make_id("33022519800101001")  # male
ID_C = make_id("33022519900315004")  # female
ID_NEW = make_id("33022520010808003")  # male
PHONE_A, PHONE_B, PHONE_C = "13812345678", "13987654321", "13700001111"
USCC_A, USCC_B = make_uscc("91330225MA2AB1234"), make_uscc("91330225MA2CD5678")
BIZ_PHONE = "0574-65712345"
CLEAR_VALUES = (ID_A, ID_B, ID_C, PHONE_A, PHONE_B, PHONE_C, "057465712345", BIZ_PHONE)


@pytest.fixture
def reg(world):
    """A few registered residents, a household and businesses, one set per grid."""
    household = services.household_create(actor=world.worker, node=world.building, number="DX-0001", address="1幢101")
    a = services.resident_create(
        actor=world.worker, node=world.building, name="陈阿姨", id_number=ID_A, phone=PHONE_A, household=household,
        relation="户主", actual_address="1幢101",
    )
    b = services.resident_create(actor=world.other_worker, node=world.other_grid, name="赵大伯", id_number=ID_B,
                                 phone=PHONE_B, is_floating=True)
    c = services.resident_create(actor=world.village_worker, node=world.village_grid, name="钱奶奶", id_number=ID_C,
                                 phone=PHONE_C)
    biz = services.business_create(actor=world.worker, node=world.grid, name="丹西水产", uscc=USCC_A, phone=BIZ_PHONE,
                                   industry="水产加工")
    other_biz = services.business_create(actor=world.other_worker, node=world.other_grid, name="东门超市",
                                         uscc=USCC_B)
    Business.objects.filter(pk=other_biz.pk).update(risk_colour="red")  # as the safety rule would colour it
    return SimpleNamespace(a=a, b=b, c=c, household=household, biz=biz, other_biz=other_biz)


def names(response):
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["items"])


def is_chinese(text):
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def no_clear_values(content: bytes | str):
    text = content.decode() if isinstance(content, bytes) else content
    return not any(value in text for value in CLEAR_VALUES)


def sheet_rows(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == XLSX
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return [list(row) for row in workbook.active.values]


def xlsx_text(rows):
    return "\n".join("|".join("" if v is None else str(v) for v in row) for row in rows)


class Counts:
    """Row counts of everything a people write could touch, to prove a refusal changed nothing."""

    def __init__(self):
        self.before = self.snapshot()

    @staticmethod
    def snapshot():
        return {
            "residents": Resident.objects.count(),
            "households": Household.objects.count(),
            "tags": ResidentTag.objects.count(),
            "groups": SpecialGroup.objects.count(),
            "businesses": Business.objects.count(),
            "jobs": ImportJob.objects.count(),
            # A refused duplicate ID number is itself audited (people.resident.id_clash): what it told.
            "audit": AuditEvent.objects.exclude(action__in=("core.token.create", "people.resident.id_clash")).count(),
        }

    def unchanged(self):
        return self.snapshot() == self.before


# --- residents: reading -------------------------------------------------------------------------


def test_each_user_lists_only_residents_in_scope(world, reg, as_):
    assert names(as_(world.worker).get("/residents")) == ["陈阿姨"]
    assert names(as_(world.other_worker).get("/residents")) == ["赵大伯"]
    assert names(as_(world.village_worker).get("/residents")) == ["钱奶奶"]
    assert names(as_(world.secretary).get("/residents")) == sorted(["陈阿姨", "赵大伯"])
    assert names(as_(world.leader).get("/residents")) == sorted(["陈阿姨", "赵大伯", "钱奶奶"])
    assert names(as_(world.handler).get("/residents")) == []  # departments do not keep the registers


def test_list_shows_only_masked_identifiers(world, reg, as_):
    response = as_(world.secretary).get("/residents")
    item = {i["name"]: i for i in response.json()["items"]}["陈阿姨"]
    assert item["id_number_masked"] == ID_A[:2] + "*" * 15 + ID_A[-1:]
    assert item["phone_masked"] == "138******78"
    assert (item["gender"], item["gender_label"], item["birth_date"]) == ("female", "女", "1952-06-12")
    assert item["household_number"] == "DX-0001" and item["node_name"] == "1幢"
    assert no_clear_values(response.content)
    assert "_enc" not in response.content.decode() and "bidx" not in response.content.decode()


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"name": "改名"}),
        ("post", "/reveal", {"field": "id_number", "reason": "核实身份"}),
        ("get", "/history", None),
        ("post", "/tags", {"group": "alone_elderly"}),
        ("delete", "/tags/1", None),
    ],
)
def test_out_of_scope_resident_is_404_like_missing(world, reg, as_, method, suffix, body):
    counts = Counts()
    for user in (world.other_worker, world.village_worker):
        api = as_(user)
        args = () if body is None else (body,)
        other = getattr(api, method)(f"/residents/{reg.a.pk}{suffix}", *args)
        missing = getattr(api, method)(f"/residents/{MISSING}{suffix}", *args)
        assert other.status_code == missing.status_code == 404, other.content
        assert other.json() == missing.json() == NOT_FOUND
    assert counts.unchanged()
    assert Resident.objects.get(pk=reg.a.pk).name == "陈阿姨"


def test_resident_detail(world, reg, as_):
    services.resident_tag(actor=world.worker, resident=reg.a, group=SpecialGroup.objects.get(code="disabled"),
                          data={"level": "二级"})
    body = as_(world.worker).get(f"/residents/{reg.a.pk}").json()
    assert body["name"] == "陈阿姨" and body["id_number_masked"].startswith("33*") and "*" in body["id_number_masked"]
    assert body["household"] == {"id": reg.household.pk, "number": "DX-0001", "address": "1幢101", "head_id": None}
    assert [(t["group_code"], t["group_name"], t["data"]) for t in body["tags"]] == [("disabled", "残疾人", {"level": "二级"})]
    assert body["can_reveal"] is False
    secretary = as_(world.secretary).get(f"/residents/{reg.a.pk}")
    assert secretary.json()["can_reveal"] is True
    assert no_clear_values(secretary.content)


def test_list_filters(world, reg, as_):
    services.resident_tag(actor=world.worker, resident=reg.a, group=SpecialGroup.objects.get(code="alone_elderly"))
    services.resident_update(actor=world.village_worker, resident=reg.c, is_active=False)
    api = as_(world.leader)
    assert names(api.get("/residents", q="阿姨")) == ["陈阿姨"]
    # No matching of identifiers, whole or in part: the list is no oracle (POST /residents/lookup is).
    assert names(api.get("/residents", q=ID_B)) == []
    assert names(api.get("/residents", q=PHONE_A)) == []
    assert names(api.get("/residents", q=PHONE_A[:7])) == []
    assert names(api.get("/residents", node=world.grid.pk)) == ["陈阿姨"]
    assert names(api.get("/residents", node=world.community.pk)) == sorted(["陈阿姨", "赵大伯"])
    assert names(api.get("/residents", group="alone_elderly")) == ["陈阿姨"]
    assert names(api.get("/residents", floating=True)) == ["赵大伯"]
    assert names(api.get("/residents", gender="male")) == ["赵大伯"]
    assert names(api.get("/residents", active="false")) == ["钱奶奶"]
    assert names(api.get("/residents", active="all")) == sorted(["陈阿姨", "赵大伯", "钱奶奶"])
    assert names(api.get("/residents")) == sorted(["陈阿姨", "赵大伯"])  # 在册 only by default


def test_list_filter_errors(world, reg, as_):
    api = as_(world.worker)
    for node in (world.other_grid.pk, MISSING):
        response = api.get("/residents", node=node)
        assert response.status_code == 404 and response.json() == {**NOT_FOUND, "field": "node"}
    unknown = api.get("/residents", group="martians")
    assert unknown.status_code == 404 and unknown.json()["field"] == "group"
    for bad in ({"gender": "x"}, {"floating": "maybe"}, {"node": "东门"}, {"active": "yes"}, {"limit": 0}):
        response = api.get("/residents", **bad)
        assert response.status_code == 422, bad
        assert response.json()["field"] == next(iter(bad)) and is_chinese(response.json()["detail"])


def test_pagination(world, reg, as_):
    for n in range(5):
        services.resident_create(actor=world.worker, node=world.grid, name=f"居民{n}")
    api = as_(world.worker)
    everything = [r["name"] for r in api.get("/residents", limit=500).json()["items"]]
    page = api.get("/residents", limit=2, offset=2).json()
    assert page["count"] == len(everything) == 6
    assert [r["name"] for r in page["items"]] == everything[2:4]


# --- residents: writing -------------------------------------------------------------------------


def test_worker_registers_a_resident(world, reg, as_):
    response = as_(world.worker).post("/residents", {
        "node": world.building.pk, "name": "林小明", "id_number": ID_NEW, "phone": "13600002222",
        "household": reg.household.pk, "relation": "子", "is_floating": False,
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id_number_masked"] == ID_NEW[:2] + "*" * 15 + ID_NEW[-1:] and body["phone_masked"] == "136******22"
    # The birth date only for those who may reveal the ID number; the year for the grid worker.
    assert (body["gender"], body["birth_date"], body["birth_year"], body["household"]["id"]) == (
        "male", None, 2001, reg.household.pk)
    assert ID_NEW not in response.content.decode() and "13600002222" not in response.content.decode()
    resident = Resident.objects.get(pk=body["id"])
    assert ID_NEW not in resident.id_number_enc and resident.id_number_enc
    event = AuditEvent.objects.get(action="people.resident.create", object_id=str(resident.pk))
    assert event.actor_id == world.worker.pk
    assert ID_NEW not in json.dumps(event.after) and "13600002222" not in json.dumps(event.after)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"id_number": ID_NEW[:-1] + ("0" if ID_NEW[-1] != "0" else "1")}, 400, "id_number"),  # bad check digit
        ({"id_number": "33022519850231001X"}, 400, "id_number"),  # February 31st
        ({"id_number": "1234"}, 400, "id_number"),
        ({"id_number": ID_B}, 409, "id_number"),  # already registered (found by blind index, out of scope)
        ({"phone": "12345"}, 400, "phone"),
        ({"name": "  "}, 400, "name"),
        ({"name": "名" * 65}, 400, "name"),
        ({"node": MISSING}, 404, "node"),
        ({"node": "OTHER_GRID"}, 404, "node"),  # another grid: out of the worker's scope
        ({"node": "COMMUNITY"}, 404, "node"),  # invisible to the worker as well
        ({"household": MISSING}, 404, "household"),
        ({"node": "x"}, 422, "node"),
        ({"is_floating": "perhaps"}, 422, "is_floating"),
        ({"name": 42}, 422, "name"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
def test_create_resident_bad_input(world, reg, as_, change, status, field):
    named = {"OTHER_GRID": world.other_grid.pk, "COMMUNITY": world.community.pk}
    payload = {"node": world.grid.pk, "name": "某人", "id_number": ID_NEW}
    payload.update({k: named.get(v, v) if isinstance(v, str) else v for k, v in change.items()})
    counts = Counts()
    response = as_(world.worker).post("/residents", payload)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field and is_chinese(body["detail"])
    assert counts.unchanged()


def test_resident_on_a_community_is_refused(world, as_):
    response = as_(world.secretary).post("/residents", {"node": world.community.pk, "name": "某人"})
    assert response.status_code == 400 and response.json()["field"] == "node"
    assert Resident.objects.count() == 0


def test_update_resident(world, reg, as_):
    api = as_(world.worker)
    response = api.patch(f"/residents/{reg.a.pk}", {"phone": "13600003333", "actual_address": "1幢102",
                                                     "household": None})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["phone_masked"] == "136******33" and body["household"] is None and body["actual_address"] == "1幢102"
    event = AuditEvent.objects.get(action="people.resident.update", object_id=str(reg.a.pk))
    assert event.after["phone_masked"] == "136******33" and event.before["phone_masked"] == "138******78"
    assert "13600003333" not in json.dumps(event.after) and PHONE_A not in json.dumps(event.before)
    assert api.patch(f"/residents/{reg.a.pk}", {"id_number": "123"}).json()["field"] == "id_number"
    assert api.patch(f"/residents/{reg.a.pk}", {"node": world.other_grid.pk}).json() == {**NOT_FOUND, "field": "node"}
    assert api.patch(f"/residents/{reg.a.pk}", {"name": None}).status_code == 422
    assert api.patch(f"/residents/{reg.a.pk}", {"id_number_enc": "x"}).status_code == 422
    reg.a.refresh_from_db()
    assert reg.a.node == world.building and reg.a.id_number_masked.startswith("33*")


def test_view_only_users_may_not_write(world, reg, as_):
    counts = Counts()
    leader = as_(world.leader)
    assert leader.patch(f"/residents/{reg.a.pk}", {"name": "改名"}).status_code == 403
    assert leader.post("/residents", {"node": world.grid.pk, "name": "某人"}).status_code == 403
    assert leader.post(f"/residents/{reg.a.pk}/tags", {"group": "alone_elderly"}).status_code == 403
    assert counts.unchanged()


# --- revealing ----------------------------------------------------------------------------------


def test_reveal_is_refused_for_grid_workers(world, reg, as_):
    counts = Counts()
    response = as_(world.worker).post(f"/residents/{reg.a.pk}/reveal", {"field": "id_number", "reason": "核实身份"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert no_clear_values(response.content)
    assert counts.unchanged()


def test_secretary_reveals_with_a_reason_and_it_is_audited(world, reg, as_):
    api = as_(world.secretary)
    response = api.post(f"/residents/{reg.a.pk}/reveal", {"field": "id_number", "reason": "核实低保申请"})
    assert response.status_code == 200, response.content
    assert response.json() == {"field": "id_number", "value": ID_A}
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(action="people.resident.reveal_id_number")
    assert (event.reason, event.actor_id, event.object_id) == ("核实低保申请", world.secretary.pk, str(reg.a.pk))
    assert ID_A not in json.dumps([event.before, event.after])
    phone = api.post(f"/residents/{reg.a.pk}/reveal", {"field": "phone", "reason": "电话回访"})
    assert phone.json()["value"] == PHONE_A


def test_reveal_bad_input(world, reg, as_):
    api = as_(world.secretary)
    counts = Counts()
    no_reason = api.post(f"/residents/{reg.a.pk}/reveal", {"field": "phone", "reason": " "})
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason" and is_chinese(no_reason.json()["detail"])
    missing = api.post(f"/residents/{reg.a.pk}/reveal", {"field": "phone"})
    assert missing.status_code == 422 and missing.json()["field"] == "reason"
    wrong = api.post(f"/residents/{reg.a.pk}/reveal", {"field": "name", "reason": "核实"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "field"
    village = api.post(f"/residents/{reg.c.pk}/reveal", {"field": "phone", "reason": "核实"})
    assert village.status_code == 404 and village.json() == NOT_FOUND
    assert counts.unchanged()


# --- history ------------------------------------------------------------------------------------


def test_history_lists_events_with_masked_values_only(world, reg, as_):
    api = as_(world.worker)
    api.patch(f"/residents/{reg.a.pk}", {"phone": "13600004444", "id_number": ID_NEW})
    as_(world.secretary).post(f"/residents/{reg.a.pk}/reveal", {"field": "phone", "reason": "电话回访"})
    api.post(f"/residents/{reg.a.pk}/tags", {"group": "alone_elderly"})
    services.resident_update(actor=world.other_worker, resident=reg.b, name="别人")  # not in a's history
    response = api.get(f"/residents/{reg.a.pk}/history")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["action"] for i in items] == [
        "people.resident.tag", "people.resident.reveal_phone", "people.resident.update", "people.resident.create",
    ]
    assert items[1]["reason"] == "电话回访" and items[1]["actor"] == "secretary"
    assert items[0]["action_label"] == "加入特殊人群" and items[3]["action_label"] == "登记"
    assert items[2]["after"]["phone_masked"] == "136******44"
    text = response.content.decode()
    assert no_clear_values(text) and ID_NEW not in text and "13600004444" not in text
    assert "_bidx" not in text and "_enc" not in text and not re.search(r"k\d+\$", text)
    # The audit rows themselves hold no clear identifier and no ciphertext.
    stored = json.dumps([[e.before, e.after] for e in AuditEvent.objects.filter(object_type="people.resident")])
    assert no_clear_values(stored) and ID_NEW not in stored and "13600004444" not in stored
    assert not re.search(r"k\d+\$", stored)


# --- tags ---------------------------------------------------------------------------------------


def test_tag_and_untag(world, reg, as_):
    api = as_(world.worker)
    response = api.post(f"/residents/{reg.a.pk}/tags", {"group": "disabled", "start_date": "2024-03-01",
                                                         "data": {"level": "一级"}})
    assert response.status_code == 201, response.content
    tag = response.json()
    assert (tag["group_code"], tag["start_date"], tag["data"]) == ("disabled", "2024-03-01", {"level": "一级"})
    assert names(api.get("/residents", group="disabled")) == ["陈阿姨"]
    counts = Counts()
    for payload, status, field in [
        ({"group": "disabled", "data": {"level": "五级"}}, 400, "data.level"),
        ({"group": "disabled", "data": {"colour": "红"}}, 400, "data.colour"),
        ({"group": "disabled", "start_date": "2024-03-01", "end_date": "2023-01-01"}, 400, "end_date"),
        ({"group": "martians"}, 404, "group"),
        ({"group": "disabled", "start_date": "昨天"}, 422, "start_date"),
    ]:
        refused = api.post(f"/residents/{reg.a.pk}/tags", payload)
        assert refused.status_code == status, (payload, refused.content)
        assert refused.json()["field"] == field and is_chinese(refused.json()["detail"])
    assert counts.unchanged()
    # A tag id that belongs to another resident is not this resident's tag.
    other_tag = services.resident_tag(actor=world.other_worker, resident=reg.b,
                                      group=SpecialGroup.objects.get(code="veteran"))
    assert api.delete(f"/residents/{reg.a.pk}/tags/{other_tag.pk}").json() == NOT_FOUND
    assert as_(world.secretary).delete(f"/residents/{reg.a.pk}/tags/{other_tag.pk}").status_code == 404
    assert api.delete(f"/residents/{reg.a.pk}/tags/{tag['id']}").status_code == 204
    assert not ResidentTag.objects.filter(pk=tag["id"]).exists()
    assert ResidentTag.objects.filter(pk=other_tag.pk).exists()
    assert AuditEvent.objects.filter(action="people.resident.untag", object_id=str(tag["id"])).exists()


# --- households ---------------------------------------------------------------------------------


def test_households(world, reg, as_):
    worker = as_(world.worker)
    other = services.household_create(actor=world.other_worker, node=world.other_grid, number="DX-0002",
                                      address="东门路 9 号")
    assert [h["number"] for h in worker.get("/households").json()["items"]] == ["DX-0001"]
    assert [h["number"] for h in as_(world.secretary).get("/households", q="东门路").json()["items"]] == ["DX-0002"]
    for user in (world.other_worker, world.village_worker):
        response = as_(user).get(f"/households/{reg.household.pk}")
        assert response.status_code == 404 and response.json() == NOT_FOUND
    assert worker.get("/households", node=world.other_grid.pk).json() == {**NOT_FOUND, "field": "node"}
    detail = worker.get(f"/households/{reg.household.pk}")
    assert [m["name"] for m in detail.json()["members"]] == ["陈阿姨"]
    assert detail.json()["members"][0]["id_number_masked"].endswith("*" + ID_A[-1:]) and no_clear_values(detail.content)
    created = worker.post("/households", {"node": world.building.pk, "number": "DX-0003", "address": "1幢201",
                                          "floor": 2, "room": "201"})
    assert created.status_code == 201, created.content
    assert (created.json()["floor"], created.json()["members"]) == (2, [])
    duplicate = worker.post("/households", {"node": world.building.pk, "number": "DX-0002", "address": "x"})
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "number"
    assert worker.post("/households", {"node": world.other_grid.pk, "number": "X", "address": "x"}).json() == {
        **NOT_FOUND, "field": "node"}
    assert worker.post("/households", {"node": world.grid.pk, "number": "X", "address": "x", "floor": "二"}
                       ).status_code == 422
    assert as_(world.other_worker).post(f"/households/{other.pk}/head", {"head": reg.b.pk}).json()["field"] == "head"


def test_set_household_head(world, reg, as_):
    worker = as_(world.worker)
    response = worker.post(f"/households/{reg.household.pk}/head", {"head": reg.a.pk})
    assert response.status_code == 200, response.content
    assert (response.json()["head_id"], response.json()["head_name"]) == (reg.a.pk, "陈阿姨")
    reg.household.refresh_from_db()
    assert reg.household.head_id == reg.a.pk
    stranger = services.resident_create(actor=world.worker, node=world.grid, name="外人")
    counts = Counts()
    refused = worker.post(f"/households/{reg.household.pk}/head", {"head": stranger.pk})
    assert refused.status_code == 400 and refused.json()["field"] == "head" and is_chinese(refused.json()["detail"])
    out_of_scope = worker.post(f"/households/{reg.household.pk}/head", {"head": reg.b.pk})
    assert out_of_scope.json() == {**NOT_FOUND, "field": "head"}
    assert as_(world.other_worker).post(f"/households/{reg.household.pk}/head", {"head": None}).json() == NOT_FOUND
    assert counts.unchanged()
    cleared = worker.post(f"/households/{reg.household.pk}/head", {"head": None})
    assert cleared.status_code == 200 and cleared.json()["head_id"] is None


# --- special groups -----------------------------------------------------------------------------


def test_special_groups(world, as_):
    groups = as_(world.worker).get("/special-groups")
    assert groups.status_code == 200
    assert [g["code"] for g in groups.json()["items"]][:2] == ["dibao", "low_income"]
    assert {g["name"] for g in groups.json()["items"]} >= {"低保", "独居老人", "残疾人"}
    handler = as_(world.handler).get("/special-groups")
    assert handler.status_code == 403 and handler.json()["code"] == "forbidden"
    counts = Counts()
    assert as_(world.secretary).post("/special-groups", {"code": "orphan", "name": "孤儿"}).status_code == 403
    assert as_(world.admin).post("/special-groups", {"code": "低保", "name": "x"}).json()["field"] == "code"
    bad_field = as_(world.admin).post("/special-groups", {"code": "orphan", "name": "孤儿",
                                                          "fields": [{"name": "x", "label": "X", "type": "colour"}]})
    assert bad_field.status_code == 422 and bad_field.json()["field"] == "fields"
    assert as_(world.admin).post("/special-groups", {"code": "dibao", "name": "新低保"}).status_code == 409
    assert counts.unchanged()
    created = as_(world.admin).post("/special-groups", {
        "code": "orphan", "name": "孤儿", "visit_interval_days": 30,
        "fields": [{"name": "guardian", "label": "监护人"}],
    })
    assert created.status_code == 201, created.content
    assert created.json()["fields"] == [{"name": "guardian", "label": "监护人", "type": "text", "choices": []}]
    assert SpecialGroup.objects.filter(code="orphan", visit_interval_days=30).exists()


# --- businesses ---------------------------------------------------------------------------------


def test_businesses_are_scoped_and_masked(world, reg, as_):
    assert names(as_(world.worker).get("/businesses")) == ["丹西水产"]
    assert names(as_(world.handler).get("/businesses")) == sorted(["丹西水产", "东门超市"])
    assert names(as_(world.leader).get("/businesses", risk_colour="red")) == ["东门超市"]
    assert names(as_(world.leader).get("/businesses", q=USCC_A)) == ["丹西水产"]
    assert names(as_(world.leader).get("/businesses", industry="水产加工")) == ["丹西水产"]
    assert names(as_(world.leader).get("/businesses", node=world.other_grid.pk)) == ["东门超市"]
    detail = as_(world.worker).get(f"/businesses/{reg.biz.pk}")
    assert detail.json()["phone_masked"] == "057*******45" and no_clear_values(detail.content)
    assert detail.json()["risk_colour_label"] == "黄"  # 水产加工: a high-risk industry by the default 三色 rule
    for user in (world.other_worker, world.village_worker):
        api = as_(user)
        for response in (api.get(f"/businesses/{reg.biz.pk}"), api.patch(f"/businesses/{reg.biz.pk}", {"name": "x"})):
            assert response.status_code == 404 and response.json() == NOT_FOUND
    assert Business.objects.get(pk=reg.biz.pk).name == "丹西水产"


def test_business_create_and_update(world, reg, as_):
    api = as_(world.worker)
    response = api.post("/businesses", {"node": world.building.pk, "name": "东门小吃", "size": "individual",
                                        "phone": "13500001234", "uscc": make_uscc("92330225MA2EF9012")})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["size_label"], body["risk_colour"], body["phone_masked"]) == ("个体", "green", "135******34")
    counts = Counts()
    for payload, status, field in [
        ({"uscc": USCC_A[:-1] + ("0" if USCC_A[-1] != "0" else "1")}, 400, "uscc"),
        ({"uscc": USCC_B}, 409, "uscc"),
        ({"node": world.other_grid.pk}, 404, "node"),
        ({"size": "huge"}, 422, "size"),
        ({"risk_colour": "purple"}, 422, "risk_colour"),
        ({"phone": "123"}, 400, "phone"),
    ]:
        refused = api.post("/businesses", {"node": world.grid.pk, "name": "某公司", **payload})
        assert refused.status_code == status, (payload, refused.content)
        assert refused.json()["field"] == field and is_chinese(refused.json()["detail"])
    assert counts.unchanged()
    # the colour is the safety rule's alone (jiedao.safety.services.risk_recompute): not an input
    refused = api.patch(f"/businesses/{body['id']}", {"risk_colour": "red"})
    assert refused.status_code == 422 and refused.json()["field"] == "risk_colour"
    updated = api.patch(f"/businesses/{body['id']}", {"size": None})
    assert updated.status_code == 200 and (updated.json()["risk_colour"], updated.json()["size"]) == ("green", "")
    assert as_(world.handler).patch(f"/businesses/{body['id']}", {"name": "x"}).status_code == 403


# --- exports ------------------------------------------------------------------------------------


def start_export(api, register, body=None, **filters):
    """POST …/exports with the list's filters; the job (tasks run eagerly in tests: already done)."""
    return api.post(f"/{register}/exports", {**(body or {}), **filters})


def download(api, job):
    return api.client.get(job["download_url"], **api.headers)


def export_rows(api, register, body=None, **filters):
    response = start_export(api, register, body, **filters)
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["status"] == "done" and job["percent"] == 100, job
    return sheet_rows(download(api, job))


def test_worker_export_is_masked_and_scoped(world, reg, as_):
    api = as_(world.worker)
    job = start_export(api, "residents").json()
    assert job["kind"] == "people.resident" and job["done_rows"] == job["total_rows"] == 1
    response = download(api, job)
    assert "attachment" in response["Content-Disposition"]
    assert "filename*=UTF-8''%E5%B1%85%E6%B0%91-" in response["Content-Disposition"]  # 居民-…
    assert "no-store" in response["Cache-Control"]
    rows = sheet_rows(response)
    assert rows[0][:4] == ["姓名", "身份证号", "联系电话", "所在网格/楼栋"]
    assert [r[0] for r in rows[1:]] == ["陈阿姨"]
    assert rows[1][1] == ID_A[:2] + "*" * 15 + ID_A[-1:] and rows[1][2] == "138******78"
    assert rows[1][3] == "东门社区/东门第一网格/一号微网格/1幢"
    assert no_clear_values(xlsx_text(rows))
    event = AuditEvent.objects.get(action="people.resident.export")
    assert event.actor_id == world.worker.pk and event.after["rows"] == 1 and event.after["revealed"] is False
    assert event.after["job"] == job["id"]
    assert AuditEvent.objects.filter(action="core.export.download", object_id=str(job["id"])).count() == 1


def test_export_takes_the_list_filters(world, reg, as_):
    rows = export_rows(as_(world.secretary), "residents", floating=True)
    assert [r[0] for r in rows[1:]] == ["赵大伯"]
    rows = export_rows(as_(world.secretary), "residents", q=ID_A)
    assert [r[0] for r in rows[1:]] == []  # the search matches no identifier, in an export neither
    event = AuditEvent.objects.filter(action="people.resident.export").order_by("-id").first()
    assert event.after["filters"]["q"] == ID_A[:2] + "*" * 15 + ID_A[-1:]  # the search is not logged in clear
    assert start_export(as_(world.worker), "residents", node=world.other_grid.pk).json() == {
        **NOT_FOUND, "field": "node"}


def test_reveal_export_refused_for_worker(world, reg, as_):
    counts = Counts()
    response = start_export(as_(world.worker), "residents", {"reveal": True, "reason": "年度核查"})
    assert response.status_code == 403 and is_chinese(response.json()["detail"])
    assert no_clear_values(response.content)
    assert counts.unchanged()


def test_reveal_export_needs_a_reason(world, reg, as_):
    counts = Counts()
    response = start_export(as_(world.secretary), "residents", {"reveal": True})
    assert response.status_code == 400 and response.json()["field"] == "reason"
    assert counts.unchanged()


def test_secretary_exports_clear_values_with_a_reason(world, reg, as_):
    rows = export_rows(as_(world.secretary), "residents", {"reveal": True, "reason": "民政年度核查"})
    clear = {r[0]: (r[1], r[2]) for r in rows[1:]}
    assert clear == {"陈阿姨": (ID_A, PHONE_A), "赵大伯": (ID_B, PHONE_B)}
    event = AuditEvent.objects.get(action="people.resident.export_revealed")
    assert event.reason == "民政年度核查" and event.after["rows"] == 2 and event.actor_id == world.secretary.pk


def test_reveal_export_keeps_rows_outside_the_reveal_scope_out(world, reg, as_):
    # A secretary of 东门社区 who is also a grid worker in 横塘村: sees 钱奶奶, may not reveal her.
    org_services.role_assign(actor=world.admin, user=world.secretary, role=Role.GRID_WORKER, node=world.village_grid)
    api = as_(world.secretary)
    masked = export_rows(api, "residents")
    assert sorted(r[0] for r in masked[1:]) == sorted(["陈阿姨", "赵大伯", "钱奶奶"])
    clear = export_rows(api, "residents", {"reveal": True, "reason": "核查"})
    assert sorted(r[0] for r in clear[1:]) == sorted(["陈阿姨", "赵大伯"])
    assert ID_C not in xlsx_text(clear) and PHONE_C not in xlsx_text(clear)


def test_business_export(world, reg, as_):
    rows = export_rows(as_(world.worker), "businesses")
    assert rows[0][:2] == ["名称", "统一社会信用代码"]
    assert [(r[0], r[4]) for r in rows[1:]] == [("丹西水产", "057*******45")]
    assert no_clear_values(xlsx_text(rows))
    assert start_export(as_(world.worker), "businesses", {"reveal": True, "reason": "核查"}).status_code == 403
    clear = export_rows(as_(world.secretary), "businesses", {"reveal": True, "reason": "核查"})
    assert [(r[0], r[4]) for r in clear[1:]] == [("丹西水产", "057465712345"), ("东门超市", None)]
    assert AuditEvent.objects.filter(action="people.business.export_revealed", reason="核查").count() == 1


def test_export_jobs_are_the_requesters_own(world, reg, as_):
    job = start_export(as_(world.secretary), "residents", {"reveal": True, "reason": "核查"}).json()
    other = as_(world.worker)
    for url in (f"/api/v1/exports/{job['id']}", job["download_url"]):
        response = other.client.get(url, **other.headers)
        assert response.status_code == 404, url
        assert ID_A not in response.content.decode()
    assert other.client.get("/api/v1/exports", **other.headers).json()["count"] == 0
    mine = as_(world.secretary)
    listed = mine.client.get("/api/v1/exports", **mine.headers).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]
    assert mine.client.get(f"/api/v1/exports/{job['id']}", **mine.headers).json()["status"] == "done"


# --- imports ------------------------------------------------------------------------------------

HEADERS = ["姓名", "身份证号", "联系电话", "所在网格/楼栋", "户号", "特殊人群"]


def import_file(rows, headers=HEADERS, name="居民.xlsx", sheet="居民"):
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    worksheet.append(headers)
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def person(n, over=None):
    row = {"姓名": f"导入{n}", "身份证号": make_id(f"3302251985010100{n}"), "联系电话": f"1381111000{n}",
           "所在网格/楼栋": "东门社区/东门第一网格", "户号": "H-01", "特殊人群": ""}
    row.update(over or {})
    return [row[h] for h in HEADERS]


def test_template_download_has_chinese_headers(world, as_):
    response = as_(world.worker).get("/imports/templates/residents")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    rows = sheet_rows(response)
    assert rows[0][:4] == ["姓名*", "身份证号", "联系电话", "所在网格/楼栋*"]
    business = sheet_rows(as_(world.worker).get("/imports/templates/businesses"))
    assert business[0][:2] == ["名称*", "统一社会信用代码"]
    unknown = as_(world.worker).get("/imports/templates/cats")
    assert unknown.status_code == 422 and unknown.json()["field"] == "register"


def test_import_all_or_nothing_refuses_a_file_with_a_bad_row(world, as_):
    api = as_(world.secretary)
    good = make_id("33022519850101002")
    bad_id = good[:-1] + ("0" if good[-1] != "0" else "1")
    upload = import_file([
        person(1), person(2, {"身份证号": bad_id, "所在网格/楼栋": "不存在的网格"}), person(3, {"联系电话": "123"}),
    ])
    response = api.post("/imports", {"register": "residents", "mode": "all_or_nothing", "file": upload})
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["status"], job["register"], job["total_rows"], job["good_rows"], job["bad_rows"]) == (
        "validated", "residents", 3, 1, 2)
    assert job["can_commit"] is False and job["progress"]["done"] == 3
    assert Resident.objects.count() == 0  # validation writes nothing
    errors = api.get(f"/imports/{job['id']}/errors").json()
    assert errors["count"] == 3
    found = {(e["row"], e["column"]) for e in errors["items"]}
    assert found == {(3, "身份证号"), (3, "所在网格/楼栋"), (4, "联系电话")}
    assert all(is_chinese(e["message"]) for e in errors["items"])
    page = api.get(f"/imports/{job['id']}/errors", limit=1, offset=2).json()
    assert page["count"] == 3 and page["items"] == [errors["items"][2]]
    counts = Counts()
    refused = api.post(f"/imports/{job['id']}/commit")
    assert refused.status_code == 400 and refused.json()["field"] == "mode" and is_chinese(refused.json()["detail"])
    assert counts.unchanged() and Resident.objects.count() == 0
    assert ImportJob.objects.get(pk=job["id"]).status == ImportJob.Status.VALIDATED
    bad_rows = sheet_rows(api.get(f"/imports/{job['id']}/bad-rows"))
    assert [r[0] for r in bad_rows[1:]] == [3, 4] and bad_rows[0][-1] == "错误原因"


def test_import_good_rows_only_then_reimport_updates(world, as_):
    api = as_(world.secretary)
    upload = import_file([person(1, {"特殊人群": "独居老人"}), person(2, {"姓名": ""}), person(3)])
    job = api.post("/imports", {"register": "residents", "mode": "good_only", "file": upload}).json()
    assert (job["status"], job["good_rows"], job["bad_rows"], job["can_commit"]) == ("validated", 2, 1, True)
    committed = api.post(f"/imports/{job['id']}/commit")
    assert committed.status_code == 202, committed.content
    assert (committed.json()["status"], committed.json()["created_rows"]) == ("committed", 2)
    assert sorted(Resident.objects.values_list("name", flat=True)) == ["导入1", "导入3"]
    assert names(api.get("/residents", group="alone_elderly")) == ["导入1"]
    again = api.post(f"/imports/{job['id']}/commit")
    assert again.status_code == 409 and again.json()["field"] == "status"
    # The same file again with a new name: updated by ID number, not duplicated.
    second = api.post("/imports", {"register": "residents", "mode": "all_or_nothing",
                                   "file": import_file([person(1, {"姓名": "改名了"}), person(3)])}).json()
    result = api.post(f"/imports/{second['id']}/commit").json()
    assert (result["created_rows"], result["updated_rows"]) == (0, 2)
    assert Resident.objects.count() == 2 and Resident.objects.filter(name="改名了").count() == 1
    listed = api.get("/imports").json()
    assert [j["id"] for j in listed["items"]] == [second["id"], job["id"]]


def test_import_jobs_are_private_to_their_uploader(world, as_):
    job = as_(world.secretary).post("/imports", {"register": "residents", "mode": "good_only",
                                                 "file": import_file([person(1)])}).json()
    counts = Counts()
    for user in (world.admin, world.worker, world.leader):
        api = as_(user)
        for response in (api.get(f"/imports/{job['id']}"), api.get(f"/imports/{job['id']}/errors"),
                         api.get(f"/imports/{job['id']}/bad-rows"), api.post(f"/imports/{job['id']}/commit")):
            assert response.status_code == 404 and response.json() == NOT_FOUND
        assert api.get("/imports").json()["count"] == 0
    assert counts.unchanged() and Resident.objects.count() == 0
    assert as_(world.root).get(f"/imports/{job['id']}").status_code == 200  # superusers see every job


def test_import_upload_refusals(world, as_):
    counts = Counts()
    worker = as_(world.worker)  # keeps the register but may not import residents
    refused = worker.post("/imports", {"register": "residents", "mode": "good_only", "file": import_file([person(1)])})
    assert refused.status_code == 403
    assert as_(world.handler).post("/imports", {"register": "businesses", "file": import_file([])}).status_code == 403
    secretary = as_(world.secretary)
    for data, status, field in [
        ({"register": "pets", "file": import_file([person(1)])}, 422, "register"),
        ({"register": "residents", "mode": "sometimes", "file": import_file([person(1)])}, 422, "mode"),
        ({"register": "residents"}, 422, "file"),
        ({"register": "residents", "file": SimpleUploadedFile("a.pdf", b"%PDF-1.4")}, 400, "file"),
    ]:
        response = secretary.post("/imports", data, multipart=True)  # some forms lack the file
        assert response.status_code == status, (data, response.content)
        assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()


def test_import_scope_is_enforced_per_row(world, as_):
    # A grid worker may import businesses, but only into the own grid.
    headers = ["名称", "统一社会信用代码", "所在网格/楼栋"]
    upload = import_file([["丹西水产", USCC_A, "东门第一网格"], ["东门超市", USCC_B, "东门社区/东门第二网格"]],
                         headers=headers, name="主体.xlsx", sheet="工商业主体")
    api = as_(world.worker)
    job = api.post("/imports", {"register": "businesses", "mode": "good_only", "file": upload}).json()
    assert (job["good_rows"], job["bad_rows"]) == (1, 1)
    errors = api.get(f"/imports/{job['id']}/errors").json()["items"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "所在网格/楼栋")]
    assert api.post(f"/imports/{job['id']}/commit").json()["created_rows"] == 1
    assert list(Business.objects.values_list("name", "node")) == [("丹西水产", world.grid.pk)]


def test_unreadable_file_fails_clearly(world, as_):
    api = as_(world.secretary)
    refused = api.post("/imports", {"register": "residents", "file": SimpleUploadedFile("x.xlsx", b"not a spreadsheet")})
    assert refused.status_code == 400 and refused.json()["field"] == "file" and is_chinese(refused.json()["detail"])
    assert not ImportJob.objects.exists()  # not a zip: refused at upload, nothing stored
    # A zip whose workbook is not XML gets past the upload's checks and fails its job.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "not a spreadsheet")
    job = api.post("/imports", {"register": "residents", "file": SimpleUploadedFile("x.xlsx", buffer.getvalue())})
    job = job.json()
    assert job["status"] == "failed" and is_chinese(job["message"])
    assert api.post(f"/imports/{job['id']}/commit").status_code == 409
    assert api.get(f"/imports/{job['id']}/bad-rows").status_code == 409


def test_interrupted_job_is_detected(world, as_):
    api = as_(world.secretary)
    job = api.post("/imports", {"register": "residents", "file": import_file([person(1)])}).json()
    stored = ImportJob.objects.get(pk=job["id"])
    ImportJob.objects.filter(pk=stored.pk).update(status=ImportJob.Status.COMMITTING)
    imports.progress_file(stored).write_text(json.dumps({"phase": "commit", "done": 0, "total": 1, "at": 0}))
    body = api.get(f"/imports/{job['id']}").json()
    assert body["status"] == "uploaded" and "中断" in body["message"]
    assert Resident.objects.count() == 0
