"""Open311 GeoReport v2 at /open311/v2/: JSON and XML with the same content, the spec's error
format, filing with a personal API token as api_key, the ticket as the one public id, public reads
of triaged non-private cases only with personal data masked, limits, and real clients (the
`georeport` library from PyPI for reads, the stdlib client script for filing) against a live
server."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import Case, Category, Open311Extra, Source, Tier
from jiedao.cases.open311 import views as open311_views
from jiedao.cases.open311.views import boundary_contains
from jiedao.cases.workflow import Action
from jiedao.core import caching, sealed
from jiedao.core.models import AuditEvent
from jiedao.core.services import token_create, token_revoke
from jiedao.org.models import OrgNode

BASE = "/open311/v2"
ROOT = Path(__file__).resolve().parents[2]
PHONE = "13812345678"


def square(west, south, east, north):
    return {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north],
                                                [west, south]]]}


@pytest.fixture
def mapped(world):
    """东门第一网格 and 东门第二网格 side by side; 一号微网格 in the first one's south-west corner."""
    OrgNode.objects.filter(pk=world.grid.pk).update(boundary=square(121.60, 29.40, 121.61, 29.41))
    OrgNode.objects.filter(pk=world.other_grid.pk).update(boundary=square(121.61, 29.40, 121.62, 29.41))
    OrgNode.objects.filter(pk=world.microgrid.pk).update(boundary=square(121.600, 29.400, 121.603, 29.403))
    return world


@pytest.fixture
def key(world):
    return token_create(actor=world.worker, name="热线系统")[1]


def post(client, fmt="json", **fields):
    return client.post(f"{BASE}/requests.{fmt}", urlencode(fields), content_type="application/x-www-form-urlencoded")


def filing(key, **over):
    return {"api_key": key, "service_code": "exposed_garbage", "lat": "29.405", "long": "121.607",
            "description": "东门路口垃圾堆放三天，臭气熏天。", "last_name": "陈", "first_name": "阿姨",
            "phone": PHONE, **over}


def errors(response):
    body = response.json()
    assert isinstance(body, list) and set(body[0]) == {"code", "description"}, body
    assert body[0]["code"] == response.status_code
    return body[0]["description"]


def xml_errors(response):
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    error = root.find("error")
    assert int(error.findtext("code")) == response.status_code
    return error.findtext("description")


def counts():
    return Case.objects.count(), AuditEvent.objects.filter(action="cases.case.create").count()


def accept(world, ticket, **extra):
    """Triage: the secretary accepts the case (tier kept or set), which makes it public."""
    case = Case.objects.get(ticket=ticket)
    return services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT, **extra)


def filed(client, world, key, **over):
    """File through Open311 and triage: the ticket of a public case."""
    response = post(client, **filing(key, **over))
    assert response.status_code == 201, response.content
    ticket = response.json()[0]["service_request_id"]
    accept(world, ticket)
    return ticket


def xml_rows(response):
    root = ET.fromstring(response.content)
    assert root.tag == "service_requests"
    return [{child.tag: child.text or "" for child in item} for item in root.findall("request")]


def as_text(rows):
    """JSON rows as XML carries them: null and "" are both an empty element, booleans and numbers text."""
    def text(value):
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return [{key: text(value) for key, value in row.items()} for row in rows]


# --- services ---------------------------------------------------------------------------------------


def test_services_in_json_and_xml(world, client):
    response = client.get(f"{BASE}/services.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    services_ = {s["service_code"]: s for s in response.json()}
    garbage = services_["exposed_garbage"]
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境"
    assert garbage["metadata"] is False and garbage["type"] == "realtime"
    assert "垃圾" in garbage["keywords"].split(",") and "1 工作日" in garbage["description"]
    assert "city_appearance" not in services_  # groups are not services

    xml = client.get(f"{BASE}/services.xml")
    assert xml.status_code == 200 and "xml" in xml["Content-Type"]
    root = ET.fromstring(xml.content)
    assert root.tag == "services"
    rows = {s.findtext("service_code"): s for s in root.findall("service")}
    assert set(rows) == set(services_)
    assert rows["exposed_garbage"].findtext("service_name") == "暴露垃圾"
    assert rows["exposed_garbage"].findtext("metadata") == "false"
    assert rows["exposed_garbage"].findtext("group") == "市容环境"

    Category.objects.filter(code="exposed_garbage").update(is_active=False)
    caching.clear()  # a bare ORM update, not category_update: the catalogue cache is not told
    assert "exposed_garbage" not in {s["service_code"] for s in client.get(f"{BASE}/services.json").json()}


def test_service_definition_and_unknown_service(world, client):
    definition = client.get(f"{BASE}/services/exposed_garbage.json")
    assert definition.status_code == 200 and definition.json() == {"service_code": "exposed_garbage", "attributes": []}
    root = ET.fromstring(client.get(f"{BASE}/services/exposed_garbage.xml").content)
    assert root.tag == "service_definition" and root.findtext("service_code") == "exposed_garbage"
    missing = client.get(f"{BASE}/services/no_such_thing.json")
    assert missing.status_code == 404 and "no_such_thing" in errors(missing)
    missing_xml = client.get(f"{BASE}/services/no_such_thing.xml")
    assert missing_xml.status_code == 404 and "no_such_thing" in xml_errors(missing_xml)


# --- filing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("api_key", ["", "jd_not-a-real-token", "revoked", "someone's password"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_with_a_bad_api_key_is_403_in_spec_format(mapped, client, api_key, fmt):
    if api_key == "revoked":
        token, api_key = token_create(actor=mapped.worker, name="已吊销")
        token_revoke(actor=mapped.worker, token=token)
    before = counts()
    response = post(client, fmt, **filing(api_key))
    assert response.status_code == 403
    description = errors(response) if fmt == "json" else xml_errors(response)
    assert "api_key" in description and "令牌" in description
    assert counts() == before


def test_api_key_in_the_query_string_is_accepted(mapped, client, key):
    fields = filing(key)
    fields.pop("api_key")
    response = client.post(f"{BASE}/requests.json?{urlencode({'api_key': key})}", urlencode(fields),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 201, response.content
    assert Case.objects.get().reported_by_id == mapped.worker.pk
    wrong = client.post(f"{BASE}/requests.json?api_key=jd_wrong", urlencode(fields),
                        content_type="application/x-www-form-urlencoded")
    assert wrong.status_code == 403 and Case.objects.count() == 1


def test_post_then_get_shows_the_status(mapped, client, key):
    response = post(client, **filing(key))
    assert response.status_code == 201, response.content
    [created] = response.json()
    ticket = created["service_request_id"]
    case = Case.objects.get(ticket=ticket)
    assert (case.source, case.reported_by_id, case.node_id) == (Source.HOTLINE, mapped.worker.pk, mapped.grid.pk)
    assert (case.reporter_name, case.reporter_phone_masked) == ("陈阿姨", "138******78")
    assert PHONE not in case.reporter_phone_enc and case.category.code == "exposed_garbage"
    assert (float(case.latitude), float(case.longitude)) == (29.405, 121.607)
    assert ticket in created["service_notice"]

    def status(fmt="json"):
        answer = client.get(f"{BASE}/requests/{ticket}.{fmt}")
        assert answer.status_code == 200, answer.content
        if fmt == "xml":
            root = ET.fromstring(answer.content)
            assert root.tag == "service_requests"
            return {child.tag: child.text for child in root.find("request")}
        [row] = answer.json()
        return row

    row = status()
    assert (row["service_request_id"], row["status"], row["status_notes"]) == (ticket, "open", "待受理")
    assert (row["service_code"], row["service_name"], row["agency_responsible"]) == ("exposed_garbage", "暴露垃圾", "")
    assert row["expected_datetime"] is None and row["requested_datetime"].endswith("+08:00")
    # Not triaged yet: the ticket's holder sees the status, nothing typed or located.
    assert (row["description"], row["address"], row["lat"], row["long"]) == ("", "", None, None)
    assert "reporter" not in json.dumps(row) and PHONE not in json.dumps(row) and "陈阿姨" not in json.dumps(row)
    assert ticket not in client.get(f"{BASE}/requests.json").content.decode()

    case = services.case_act(actor=mapped.secretary, case=case, action=Action.ACCEPT)
    row = status()
    assert (row["lat"], row["long"]) == (29.405, 121.607) and row["description"] == case.description
    assert ticket in client.get(f"{BASE}/requests.json").content.decode()
    case = services.case_act(actor=mapped.secretary, case=case, action=Action.DISPATCH, department=mapped.department)
    row = status()
    assert (row["status"], row["status_notes"], row["agency_responsible"]) == ("open", "已派遣", "城建办")
    assert row["expected_datetime"] == timezone.localtime(case.deadline_at).isoformat(timespec="seconds")
    for actor, action, extra in [(mapped.handler, Action.ACKNOWLEDGE, {}),
                                 (mapped.handler, Action.RESOLVE, {"reason": "已清运"}),
                                 (mapped.worker, Action.VERIFY_PASS, {}), (mapped.secretary, Action.CLOSE, {})]:
        case = services.case_act(actor=actor, case=case, action=action, **extra)
    row = status("xml")
    assert (row["service_request_id"], row["status"], row["status_notes"]) == (ticket, "closed", "已结案：已清运")
    assert row["agency_responsible"] == "城建办"


def test_the_deepest_boundary_containing_the_point_wins(mapped, client, key):
    response = post(client, **filing(key, lat="29.401", long="121.601"))
    assert response.status_code == 201, response.content
    case = Case.objects.get(ticket=response.json()[0]["service_request_id"])
    assert case.node_id == mapped.microgrid.pk and case.grid_id == mapped.grid.pk


def test_location_outside_every_boundary_needs_a_jurisdiction(mapped, client, key):
    before = counts()
    outside = post(client, **filing(key, lat="30.0", long="120.0"))
    assert outside.status_code == 400 and "jurisdiction_id" in errors(outside)
    # inside 东门第二网格, which the worker may not file on: not chosen, and no fallback given
    neighbour = post(client, **filing(key, lat="29.405", long="121.615"))
    assert neighbour.status_code == 400
    foreign = post(client, **filing(key, lat="30.0", long="120.0", jurisdiction_id=mapped.other_grid.code))
    assert foreign.status_code == 404 and "jurisdiction_id" in errors(foreign)
    unknown = post(client, **filing(key, jurisdiction_id="999999999999999"))
    assert unknown.status_code == 404
    address_only = post(client, **filing(key, lat="", long="", address_string="东门路 12 号"))
    assert address_only.status_code == 400 and "jurisdiction_id" in errors(address_only)
    assert counts() == before

    ok = post(client, **filing(key, lat="", long="", address_string="东门路 12 号",
                               jurisdiction_id=mapped.grid.code))
    assert ok.status_code == 201, ok.content
    case = Case.objects.get(ticket=ok.json()[0]["service_request_id"])
    assert (case.node_id, case.address, case.latitude) == (mapped.grid.pk, "东门路 12 号", None)
    fallback = post(client, **filing(key, lat="30.0", long="120.0", jurisdiction_id=mapped.grid.code))
    assert fallback.status_code == 201


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"lat": "north"}, 400, "lat"),
        ({"lat": "95"}, 400, "lat"),
        ({"long": "-200"}, 400, "long"),
        ({"long": ""}, 400, "long"),
        ({"lat": "", "long": ""}, 400, "address_string"),
        ({"description": "  "}, 400, "description"),
        ({"service_code": ""}, 400, "service_code"),
        ({"service_code": "no_such_thing"}, 404, "no_such_thing"),
        ({"phone": "12345"}, 400, "phone"),
        ({"jurisdiction_id": "330225002000"}, 400, "jurisdiction_id"),  # the sub-district: not a case place
    ],
)
def test_post_bad_input_is_refused_in_spec_format(mapped, client, key, change, status, needle):
    before = counts()
    fields = filing(key, **change)
    if "jurisdiction_id" in change:  # the leader may file anywhere in the sub-district
        fields.update(api_key=token_create(actor=mapped.leader, name="热线")[1], lat="30.0", long="120.0")
    response = post(client, **fields)
    assert response.status_code == status, response.content
    assert needle in errors(response)
    assert counts() == before


def test_token_leads_to_the_ticket(mapped, client, key):
    created = post(client, **filing(key)).json()[0]
    answer = client.get(f"{BASE}/tokens/{created['token']}.json")
    assert answer.status_code == 200
    assert answer.json() == [{"service_request_id": created["service_request_id"], "token": created["token"]}]
    root = ET.fromstring(client.get(f"{BASE}/tokens/{created['token']}.xml").content)
    assert root.find("request").findtext("service_request_id") == created["service_request_id"]
    case = Case.objects.get(ticket=created["service_request_id"])
    assert created["token"].split(":")[0] == case.ticket  # the token signs the ticket, not the row id
    forged = created["token"].split(":")[0] + ":forged"
    assert client.get(f"{BASE}/tokens/{forged}.json").status_code == 404


# --- public reads -----------------------------------------------------------------------------------


def test_public_reads_show_triaged_non_private_cases_by_ticket_with_personal_data_masked(mapped, client, key):
    typed = "垃圾堆放，我叫刘晓明，联系电话 139 8765 4321，座机 0574-87654321，身份证 110101199003074477，陈阿姨也知道"
    public = filed(client, mapped, key, description=typed)
    untriaged = post(client, **filing(key, description="还没人看过的事项")).json()[0]["service_request_id"]
    private = filed(client, mapped, key, description="自家水管漏水")
    services.case_act(actor=mapped.secretary, case=Case.objects.get(ticket=private), action=Action.TIER,
                      tier=Tier.PRIVATE)
    # tiered 私事 at intake but never triaged, and the same accepted as 私事
    at_intake = services.case_create(actor=mapped.worker, source=Source.DOOR_VISIT, node=mapped.grid, title="家中水管",
                                     description="周大妈家水管漏水", tier=Tier.PRIVATE, reporter_name="周大妈",
                                     reporter_phone="13700001111")

    listing = client.get(f"{BASE}/requests.json")
    assert listing.status_code == 200
    rows = listing.json()
    assert [r["service_request_id"] for r in rows] == [public]  # the ticket is the public id
    text = listing.content.decode() + client.get(f"{BASE}/requests.xml").content.decode()
    for secret in ("陈阿姨", "刘晓明", "晓明", PHONE, "13987654321", "87654321", "110101199003074477", "周大妈",
                   "13700001111", untriaged, private, at_intake.ticket, "reporter", "还没人看过", "水管"):
        assert secret not in text, secret
    description = rows[0]["description"]
    assert "我叫刘**" in description and "139******21" in description and "11***************7" in description
    assert "陈**也知道" in description

    case = Case.objects.get(ticket=public)
    assert client.get(f"{BASE}/requests/{public}.json").json()[0]["description"] == description
    for numeric in (case.pk, at_intake.pk, "0", "1" * 30):  # row ids are never accepted: nothing to enumerate
        response = client.get(f"{BASE}/requests/{numeric}.json")
        assert response.status_code == 404 and errors(response)
    assert client.get(f"{BASE}/requests.json", {"service_request_id": str(case.pk)}).json() == []
    # A ticket not triaged yet shows its holder the status only; a 私事 is not found at all.
    [row] = client.get(f"{BASE}/requests/{untriaged}.json").json()
    assert row["service_request_id"] == untriaged and row["description"] == "" and row["lat"] is None
    for ticket in (private, at_intake.ticket):
        for fmt in ("json", "xml"):
            response = client.get(f"{BASE}/requests/{ticket}.{fmt}")
            assert response.status_code == 404 and "水管" not in response.content.decode()
    assert client.get(f"{BASE}/requests.json", {"service_request_id": f"{private},{at_intake.ticket}"}).json() == []
    missing = client.get(f"{BASE}/requests/20260101-AAAAAAAA.json")
    assert missing.status_code == 404 and errors(missing)


def test_the_progress_page_masks_like_open311(mapped, client, key):
    ticket = filed(client, mapped, key, description="我叫刘晓明，电话13987654321")
    case = Case.objects.get(ticket=ticket)
    Case.objects.filter(pk=case.pk).update(title="刘晓明 13987654321 反映垃圾", result="已联系陈阿姨 13812345678")
    page = client.post("/public/track/", {"ticket": ticket}).content.decode()
    assert "刘**" in page and "139******21" in page
    for secret in ("刘晓明", "13987654321", "陈阿姨", PHONE):
        assert secret not in page, secret


def test_request_list_filters(mapped, client, key):
    first = filed(client, mapped, key)
    second = filed(client, mapped, key, service_code="street_lamp", description="路灯不亮")
    Case.objects.filter(ticket=second).update(state="closed")

    def ids(**params):
        response = client.get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content
        return sorted(r["service_request_id"] for r in response.json())

    both = sorted([first, second])
    assert ids() == both
    assert ids(status="open") == [first] and ids(status="closed") == [second] and ids(status="open,closed") == both
    assert ids(service_code="street_lamp") == [second]
    assert ids(service_code="street_lamp,exposed_garbage") == both
    now = timezone.localtime()
    assert ids(start_date=(now + timedelta(hours=1)).isoformat()) == []
    assert ids(start_date=(now - timedelta(hours=1)).isoformat(), end_date=(now + timedelta(hours=1)).isoformat()) == both
    assert ids(end_date=(now - timedelta(days=1)).isoformat()) == []
    assert ids(start_date=(now - timedelta(days=89)).isoformat()) == both  # 90 days on from the start
    assert ids(jurisdiction_id=mapped.other_grid.code) == [] and ids(jurisdiction_id=mapped.community.code) == both
    assert ids(service_request_id=f"{second},{first},nonsense") == both
    Case.objects.update(created_at=timezone.now() - timedelta(days=100))
    assert ids() == []  # the specification's default window: the last 90 days
    assert ids(start_date=(now - timedelta(days=101)).isoformat()) == both

    for params, needle in [({"status": "pending"}, "status"), ({"start_date": "yesterday"}, "start_date"),
                           ({"start_date": "2026-03-02", "end_date": "2026-03-01"}, "start_date"),
                           # a range over 90 days is refused, not cut
                           ({"start_date": "2026-01-01", "end_date": "2026-12-31"}, "90"),
                           ({"page": "0"}, "page"), ({"page": "x"}, "page"), ({"page": "²"}, "page"),
                           ({"service_request_id": ",".join(["20260101-AAAAAAAA"] * 101)}, "100")]:
        response = client.get(f"{BASE}/requests.json", params)
        assert response.status_code == 400 and needle in errors(response), params
    assert client.get(f"{BASE}/requests.json", {"jurisdiction_id": "nowhere"}).status_code == 404


def test_a_long_list_is_paged_not_cut(mapped, client, key, monkeypatch):
    tickets = [filed(client, mapped, key, description=f"第{n}处垃圾") for n in range(3)]
    monkeypatch.setattr(open311_views, "PAGE_SIZE", 2)
    first = client.get(f"{BASE}/requests.json", {"status": "open"})
    assert len(first.json()) == 2 and 'rel="next"' in first["Link"] and "page=2" in first["Link"]
    assert "status=open" in first["Link"]
    second = client.get(first["Link"].split(">")[0].lstrip("<"))
    assert len(second.json()) == 1 and "Link" not in second
    assert sorted(r["service_request_id"] for r in first.json() + second.json()) == sorted(tickets)
    assert client.get(f"{BASE}/requests.json", {"page": "3"}).json() == []


def test_xml_and_json_carry_the_same_content(mapped, client, key):
    full = filed(client, mapped, key, media_url="https://example.org/p/1.jpg", address_string="东门路 12 号")
    bare = filed(client, mapped, key, lat="", long="", address_string="", address_id=str(mapped.building.pk))
    services.case_act(actor=mapped.secretary, case=Case.objects.get(ticket=full), action=Action.DISPATCH,
                      department=mapped.department)
    for path, params in [("requests", {}), ("requests", {"service_request_id": f"{full},{bare}"}),
                         (f"requests/{full}", {}), (f"requests/{bare}", {}), ("requests", {"status": "closed"})]:
        as_json = client.get(f"{BASE}/{path}.json", params)
        as_xml = client.get(f"{BASE}/{path}.xml", params)
        assert as_json.status_code == as_xml.status_code == 200
        assert as_text(as_json.json()) == xml_rows(as_xml), path
    rows = {r["service_request_id"]: r for r in client.get(f"{BASE}/requests.json").json()}
    assert set(rows) == {full, bare}
    assert set(rows[full]) == set(rows[bare])  # optional fields are present, empty, in every row
    assert rows[full]["media_url"] == "https://example.org/p/1.jpg" and rows[bare]["media_url"] == ""
    assert rows[bare]["lat"] is None and rows[full]["expected_datetime"] and rows[bare]["expected_datetime"] is None
    services_json = client.get(f"{BASE}/services.json").json()
    services_xml = [{c.tag: c.text or "" for c in s} for s in ET.fromstring(client.get(f"{BASE}/services.xml").content)]
    assert as_text(services_json) == services_xml


# --- what a client sends beyond the case's own fields ---------------------------------------------------


def test_personal_fields_media_and_address_id_are_kept(mapped, client, key):
    OrgNode.objects.filter(pk=mapped.building.pk).update(code="B-0001")
    response = post(client, **filing(key, lat="", long="", address_id="B-0001", email="Chen.AY@Example.org",
                                     device_id="dev-42", account_id="acct 7", media_url="https://example.org/a.jpg"))
    assert response.status_code == 201, response.content
    case = Case.objects.get(ticket=response.json()[0]["service_request_id"])
    assert (case.building_id, case.node_id) == (mapped.building.pk, mapped.microgrid.pk)
    extra = Open311Extra.objects.get(case=case)
    assert extra.media_url == "https://example.org/a.jpg"
    for stem, clear in (("email", "chen.ay@example.org"), ("device_id", "dev-42"), ("account_id", "acct 7")):
        assert clear not in getattr(extra, f"{stem}_enc") and sealed.reveal(extra, stem) == clear
        assert getattr(extra, f"{stem}_masked") not in ("", clear)
    event = AuditEvent.objects.get(action="cases.open311_extra.create")
    assert "dev-42" not in json.dumps(event.after) and "example.org/a.jpg" in json.dumps(event.after)
    accept(mapped, case.ticket)
    [row] = client.get(f"{BASE}/requests/{case.ticket}.json").json()
    assert (row["address_id"], row["media_url"]) == ("B-0001", "https://example.org/a.jpg")
    assert "chen" not in json.dumps(row).lower() and "dev-42" not in json.dumps(row)
    # by the building's number too; nothing extra sent, nothing extra stored
    plain = post(client, **filing(key, address_id=str(mapped.building.pk)))
    assert plain.status_code == 201
    assert not Open311Extra.objects.filter(case__ticket=plain.json()[0]["service_request_id"]).exists()


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"attribute[WHISPER]": "yes"}, "attribute[WHISPER]"),
        ({"attribute": "x"}, "attribute"),
        ({"email": "not-an-address"}, "email"),
        ({"media_url": "ftp://example.org/a.jpg"}, "media_url"),
        ({"media_url": "https://example.org/" + "a" * 1000}, "media_url"),
        ({"device_id": "d" * 201}, "device_id"),
        ({"account_id": "a" * 201}, "account_id"),
        ({"device_id": "\x1bdev"}, "device_id"),
        ({"address_id": "no-such-building"}, "address_id"),
        ({"address_id": "999999"}, "address_id"),
        ({"address_id": "²"}, "address_id"),
    ],
)
def test_extra_fields_are_refused_with_an_open311_error_not_dropped(mapped, client, key, change, needle):
    before = counts()
    response = post(client, **filing(key, **change))
    assert response.status_code == 400, response.content
    assert needle in errors(response)
    assert counts() == before and not Open311Extra.objects.exists()


def test_address_id_outside_the_key_holders_area_is_refused(mapped, client):
    other_key = token_create(actor=mapped.other_worker, name="热线")[1]
    response = post(client, **filing(other_key, address_id=str(mapped.building.pk)))
    assert response.status_code == 400 and "address_id" in errors(response)
    assert not Case.objects.exists()


def test_wrong_method_and_unknown_paths(world, client):
    put = client.put(f"{BASE}/requests.json")
    assert put.status_code == 405 and "PUT" in errors(put) and "POST" in put["Allow"]
    assert client.post(f"{BASE}/services.xml").status_code == 405
    for path in ("/nothing.json", "/services", "/services.csv"):
        response = client.get(BASE + path)
        assert response.status_code == 404 and errors(response)
    assert ET.fromstring(client.get(f"{BASE}/nothing.xml").content).tag == "errors"


def test_boundary_contains_handles_holes_and_multipolygons():
    ring = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]]
    polygon = {"type": "Polygon", "coordinates": [ring, hole]}
    assert boundary_contains(polygon, 1, 1) and not boundary_contains(polygon, 5, 5)
    assert not boundary_contains(polygon, 11, 5)
    multi = {"type": "MultiPolygon", "coordinates": [[ring], [[[20, 20], [30, 20], [30, 30], [20, 20]]]]}
    assert boundary_contains(multi, 25, 21) and not boundary_contains(multi, 15, 15)
    assert boundary_contains({"type": "Feature", "geometry": polygon}, 9, 9)
    assert not boundary_contains({"type": "Point", "coordinates": [1, 1]}, 1, 1)


# --- the client script against a live server ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_client_script_files_and_reads_status(mapped, catalogue, live_server):
    # A transactional test: earlier ones may have flushed the migrated catalogue, so the
    # category comes from the fixture.
    api_key = token_create(actor=mapped.worker, name="脚本")[1]
    command = [sys.executable, str(ROOT / "scripts" / "open311_client.py"), "--base", f"{live_server.url}/open311/v2",
               "--api-key", api_key, "--service", "garbage", "--lat", "29.405", "--long", "121.607",
               "--description", "东门路口垃圾堆放", "--last-name", "陈", "--phone", PHONE]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    case = Case.objects.get(ticket=lines["service_request_id"])
    assert (case.source, case.reporter_name, case.node_id) == ("hotline", "陈", mapped.grid.pk)
    assert (lines["status"], lines["status_notes"], lines["service_name"]) == ("open", "待受理", "暴露垃圾")

    refused = subprocess.run([*command[:5], "jd_wrong", *command[6:]], capture_output=True, text=True, timeout=120,
                             cwd=ROOT)
    assert refused.returncode == 1 and "403" in refused.stderr and "api_key" in refused.stderr
    assert Case.objects.count() == 1

    # A client library from PyPI (georeport: reads only, it has no POST) in both formats.
    georeport = pytest.importorskip("georeport")
    services.case_act(actor=mapped.secretary, case=case, action=Action.ACCEPT)
    for fmt in ("json", "xml"):
        reader = georeport.GeoReport(f"{live_server.url}/open311/v2", output_format=fmt)
        code = case.category.code
        assert code in {s["service_code"] for s in reader.get_service_list()}
        assert reader.get_service_definition(code)["service_code"] == code
        found = reader.get_service_requests(status="open")
        found = found if isinstance(found, list) else [found]  # xmltodict: one element is not a list
        assert [r["service_request_id"] for r in found] == [case.ticket]
        one = reader.get_service_request(case.ticket)
        assert (one["service_request_id"], one["status"], one["service_code"]) == (case.ticket, "open", code)
        assert PHONE not in json.dumps(one)
