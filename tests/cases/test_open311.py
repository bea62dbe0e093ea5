"""Open311 GeoReport v2 at /open311/v2/: JSON and XML, the spec's error format, filing with a
personal API token as api_key, public reads without personal data, and the stdlib client script
against a live server."""

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
from jiedao.cases.models import Case, Category, Source, Tier
from jiedao.cases.open311.views import boundary_contains
from jiedao.cases.workflow import Action
from jiedao.core import caching
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


def test_api_key_in_the_query_string_is_not_accepted(mapped, client, key):
    fields = filing(key)
    fields.pop("api_key")
    response = client.post(f"{BASE}/requests.json?{urlencode({'api_key': key})}", urlencode(fields),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403 and not Case.objects.exists()


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
    assert (row["lat"], row["long"]) == (29.405, 121.607)
    assert "reporter" not in json.dumps(row) and PHONE not in json.dumps(row) and "陈阿姨" not in json.dumps(row)

    case = services.case_act(actor=mapped.secretary, case=case, action=Action.ACCEPT)
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
    forged = created["token"].split(":")[0] + ":forged"
    assert client.get(f"{BASE}/tokens/{forged}.json").status_code == 404


# --- public reads -----------------------------------------------------------------------------------


def test_public_list_exposes_no_personal_data_and_no_tickets(mapped, client, key):
    public = post(client, **filing(key, description="垃圾堆放，联系人电话 13987654321，身份证 110101199003074477")).json()[0]
    private = services.case_create(actor=mapped.worker, source=Source.DOOR_VISIT, node=mapped.grid, title="家中水管",
                                   description="自家水管漏水", tier=Tier.PRIVATE, reporter_name="周大妈",
                                   reporter_phone="13700001111")
    listing = client.get(f"{BASE}/requests.json")
    assert listing.status_code == 200
    rows = listing.json()
    text = listing.content.decode()
    case = Case.objects.get(ticket=public["service_request_id"])
    assert [r["service_request_id"] for r in rows] == [str(case.pk)]  # private matters are not published
    for secret in ("陈阿姨", "阿姨", PHONE, "13987654321", "110101199003074477", "周大妈", "13700001111",
                   public["service_request_id"], private.ticket, "reporter"):
        assert secret not in text, secret
    assert "139******21" in rows[0]["description"] and "11***************7" in rows[0]["description"]
    xml = client.get(f"{BASE}/requests.xml")
    assert xml.status_code == 200 and ET.fromstring(xml.content).tag == "service_requests"
    assert PHONE not in xml.content.decode() and "陈阿姨" not in xml.content.decode()

    by_public_id = client.get(f"{BASE}/requests/{case.pk}.json")
    assert by_public_id.status_code == 200 and by_public_id.json()[0]["service_request_id"] == str(case.pk)
    assert client.get(f"{BASE}/requests/{private.pk}.json").status_code == 404
    by_ticket = client.get(f"{BASE}/requests/{private.ticket}.json")  # the reporter's own ticket still works
    assert by_ticket.status_code == 200 and "周大妈" not in by_ticket.content.decode()
    missing = client.get(f"{BASE}/requests/20260101-AAAAAAAA.json")
    assert missing.status_code == 404 and is_error_list(missing)


def is_error_list(response):
    return bool(errors(response))


def test_request_list_filters(mapped, client, key):
    first = post(client, **filing(key)).json()[0]["service_request_id"]
    second = post(client, **filing(key, service_code="street_lamp", description="路灯不亮")).json()[0][
        "service_request_id"]
    one, two = (str(Case.objects.get(ticket=t).pk) for t in (first, second))
    Case.objects.filter(ticket=second).update(state="closed")

    def ids(**params):
        response = client.get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content
        return sorted(r["service_request_id"] for r in response.json())

    assert ids() == sorted([one, two])
    assert ids(status="open") == [one] and ids(status="closed") == [two] and ids(status="open,closed") == sorted([one, two])
    assert ids(service_code="street_lamp") == [two]
    assert ids(service_code="street_lamp,exposed_garbage") == sorted([one, two])
    now = timezone.localtime()
    assert ids(start_date=(now + timedelta(hours=1)).isoformat()) == []
    assert ids(start_date=(now - timedelta(hours=1)).isoformat(), end_date=(now + timedelta(hours=1)).isoformat()) == sorted([one, two])
    assert ids(end_date=(now - timedelta(days=1)).isoformat()) == []
    assert ids(jurisdiction_id=mapped.other_grid.code) == [] and ids(jurisdiction_id=mapped.community.code) == sorted([one, two])
    assert ids(service_request_id=f"{two},{first},nonsense") == sorted([first, two])  # a ticket answers as itself
    Case.objects.update(created_at=timezone.now() - timedelta(days=100))
    assert ids() == []  # the specification's default window: the last 90 days

    for params, needle in [({"status": "pending"}, "status"), ({"start_date": "yesterday"}, "start_date"),
                           ({"start_date": "2026-03-02", "end_date": "2026-03-01"}, "start_date")]:
        response = client.get(f"{BASE}/requests.json", params)
        assert response.status_code == 400 and needle in errors(response)
    assert client.get(f"{BASE}/requests.json", {"jurisdiction_id": "nowhere"}).status_code == 404


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
