"""Text at the boundary (jiedao.core.text): control characters and lone surrogates refused with a
400 naming the field, in pages, the API and Open311; bidirectional controls removed and NFC in
stored text; the public Open311 XML well-formed whatever rows hold. Runs on SQLite and, with
JIEDAO_DATABASE_URL set to a postgres URL, on PostgreSQL (where a NUL used to be a 500)."""

import json
import unicodedata
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import Case, Category, Source, Tier
from jiedao.core import exports, text
from jiedao.core.errors import DomainError
from jiedao.core.services import token_create
from jiedao.core.validators import clean_text
from tests.api_client import ApiClient

CONTROLS = ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85"]


def test_the_rule():
    for char in [*CONTROLS, "\ud800", "\udfff"]:
        with pytest.raises(text.TextRefused) as refused:
            text.clean(f"a{char}b", field="description", label="描述")
        assert refused.value.field == "description" and text.codepoint(char) in refused.value.message
        assert refused.value.message.startswith("描述含有")
    assert text.clean("一\t二\r\n三", field="x") == "一\t二\r\n三"
    assert text.clean("\u202e反转\u202c\u2067隔离\u2069\u200f", field="x") == "反转隔离"
    decomposed = "Cafe\u0301"
    assert text.clean(decomposed, field="x") == unicodedata.normalize("NFC", decomposed) == "Caf\u00e9"
    assert text.xml_text("a\x00b\x1bc\ud800d\ufffee\x85f") == "abcdef"
    with pytest.raises(DomainError) as refused:
        clean_text("路灯\x00坏了", field="description", label="描述", max_length=100)
    assert refused.value.message == "描述含有不允许的控制字符（U+0000），请删除后重试。"


# --- the API -------------------------------------------------------------------------------------


def intake(world, **over):
    return {"node": world.grid.pk, "description": "路灯坏了，晚上很黑。", "source": "patrol", **over}


@pytest.mark.parametrize("char", CONTROLS)
def test_api_refuses_control_characters_naming_the_field(world, as_, char):
    response = as_(world.worker).post("/cases", intake(world, title=f"路灯{char}坏了"))
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["field"], body["code"]) == ("title", "invalid_character")
    assert text.codepoint(char) in body["detail"] and not Case.objects.exists()


def test_api_lone_surrogate_in_json_is_a_json_400(world, as_):
    response = as_(world.worker).post("/cases", '{"node": NODE, "description": "\\ud800路灯"}'.replace("NODE", str(world.grid.pk)))
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["field"] == "description" and "U+D800" in body["detail"]
    # in a key as well, and nested
    response = as_(world.worker).post("/cases", '{"node": NODE, "description": "x", "\\udc00": 1}'.replace("NODE", str(world.grid.pk)))
    assert response.status_code == 400 and response.json()["code"] == "invalid_character"
    assert not Case.objects.exists()


def test_api_stores_text_without_bidi_controls_and_in_nfc(world, as_):
    response = as_(world.worker).post(
        "/cases", intake(world, title="\u202e路灯坏了\u202c", description="Cafe\u0301门口\u2066路灯\u2069坏了")
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert (case.title, case.description) == ("路灯坏了", "Caf\u00e9门口路灯坏了")


def test_query_parameters_refused_everywhere(world, as_, client):
    api = as_(world.worker)
    for url in ("/cases", "/people/residents"):
        response = api.get(url, q="路\x00灯")
        assert response.status_code == 400, (url, response.content)
        assert response.json()["field"] == "q" and "U+0000" in response.json()["detail"]
    client.force_login(world.worker)
    page = client.get("/cases/", {"q": "a\x00b"})
    assert page.status_code == 400 and "参数 q 含有不允许的控制字符（U+0000）" in page.content.decode()
    anonymous = ApiClient(client, None)
    assert anonymous.get("/cases", q="\x00").status_code == 400
    # the path as well
    assert client.get("/cases/%00/").status_code == 400


def test_page_form_bodies_refused_and_normalised(world, client):
    client.force_login(world.worker)
    response = client.post("/cases/new/", {"description": "路灯\x1b坏了", "node": world.grid.pk})
    assert response.status_code == 400 and "字段 description 含有不允许的控制字符（U+001B）" in response.content.decode()
    assert not Case.objects.exists()
    # an htmx request gets the message as a fragment, not a whole page
    response = client.post("/cases/new/", {"description": "路灯\x00坏了"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 400 and "<html" not in body and "U+0000" in body and 'role="alert"' in body


# --- Open311 -------------------------------------------------------------------------------------

O311 = "/open311/v2"


def test_open311_refuses_in_its_own_format(world, client):
    for fmt in ("json", "xml"):
        response = client.get(f"{O311}/requests.{fmt}", {"service_code": "a\x00b"})
        assert response.status_code == 400
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == 400 and "service_code" in error["description"]
        else:
            root = ET.fromstring(response.content)
            assert root.tag == "errors" and "service_code" in root.find("error").findtext("description")
    key = token_create(actor=world.worker, name="热线")[1]
    body = {"api_key": key, "service_code": "exposed_garbage", "jurisdiction_id": world.grid.code,
            "address_string": "东门路", "description": "垃圾\x00堆放"}
    response = client.post(f"{O311}/requests.json", urlencode(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "description" in response.json()[0]["description"]
    assert not Case.objects.exists()
    assert client.get(f"{O311}/requests/a%00b.json").status_code == 400


NASTY = ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ufffe", "\u202e"]


def test_public_xml_is_well_formed_whatever_rows_hold(world, client):
    """Rows written before the rule (or by hand) may hold anything PostgreSQL or SQLite accept:
    the writer drops what XML forbids."""
    category = Category.objects.get(code="exposed_garbage")
    stored = [c for c in NASTY if c != "\x00"]
    if _sqlite():
        stored.append("\x00")  # PostgreSQL cannot store a NUL at all
    for char in stored:
        case = services.case_create(actor=world.worker, source=Source.PATROL, node=world.grid,
                                    description="垃圾堆放", category=category)
        # Triaged as a public 大事: only such cases are in the public reads.
        Case.objects.filter(pk=case.pk).update(title=f"标题{char}", description=f"描述{char}尾", tier=Tier.PUBLIC,
                                               accepted_at=timezone.now())
    response = client.get(f"{O311}/requests.xml")
    assert response.status_code == 200
    root = ET.fromstring(response.content)  # raises on an ill-formed document
    descriptions = [r.findtext("description") for r in root.findall("request")]
    assert len(descriptions) == len(stored) and all(d.startswith("描述") and d.endswith("尾") for d in descriptions)
    rows = client.get(f"{O311}/requests.json").json()
    assert len(rows) == len(stored)
    json.dumps(rows)


def test_exports_open_whatever_rows_hold(world):
    """The case export (xlsx is XML inside) drops what XML forbids instead of failing."""
    import io

    from openpyxl import load_workbook

    category = Category.objects.get(code="exposed_garbage")
    case = services.case_create(actor=world.worker, source=Source.PATROL, node=world.grid,
                                description="垃圾堆放", category=category)
    Case.objects.filter(pk=case.pk).update(title="标题\x1b\x0b尾", address="东门\x07路")
    job = exports.export_request(actor=world.admin, register="cases", filters={})
    sheet = load_workbook(io.BytesIO(b"".join(exports.export_download(actor=world.admin, job=job)))).active
    values = {cell.value for row in sheet.iter_rows() for cell in row}
    assert "标题尾" in values


def _sqlite() -> bool:
    from django.db import connection

    return connection.vendor == "sqlite"


# --- people: choices that used to be 500s ----------------------------------------------------------


def test_tag_with_an_empty_group_is_a_400_naming_it(world, as_):
    from jiedao.people import services as people

    resident = people.resident_create(actor=world.worker, node=world.building, name="张三",
                                      id_number="330225198001010018")
    api = ApiClient(as_(world.worker).client, world.worker, "/api/v1/people")
    response = api.post(f"/residents/{resident.pk}/tags", {"group": ""})
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "group"
    response = api.post(f"/residents/{resident.pk}/tags", {"group": "nope"})
    assert response.status_code == 404 and response.json()["field"] == "group"


def test_uploaded_file_names_are_stripped_not_refused(world, as_, settings, tmp_path):
    """A file's name is metadata the client's system made: refused characters and overrides are
    removed from it (an override can disguise "x\u202egpj.exe" as "xexe.jpg"), the file is kept."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.cases.test_views import tiny_png

    settings.MEDIA_ROOT = tmp_path / "media"
    category = Category.objects.get(code="exposed_garbage")
    case = services.case_create(actor=world.worker, source=Source.PATROL, node=world.grid,
                                description="垃圾堆放", category=category)
    upload = SimpleUploadedFile("现\x1b场\u202e\x07.png", tiny_png(), content_type="image/png")
    response = as_(world.worker).post(f"/cases/{case.pk}/attachments", {"file": upload})
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "现场.png"
