"""Masks that do not add up to the value (issue 12, DESIGN.md §5).

Tried as an insider would: each demo role without the reveal right reads everything it can of a
resident — the API list, detail, history and masked export, the household, the pages — and the
test counts the 身份证号 and phone candidates that what it saw leaves, by enumerating them with
the GB 11643 check character. The worst case is assumed for what a page does not print: the
6-digit region code (an address tells it), the gender, and the birth year are taken as known.
Then: the list search gives nothing for a full ID or phone, and the exact lookup is its own
permission, needs a reason, is audited and throttled.
"""

import calendar
import io
import re
from datetime import date

import openpyxl
import pytest

from jiedao.core.models import AuditEvent, ExportJob
from jiedao.core.permissions import Role
from jiedao.core.validators import id_number_check_char
from jiedao.org import services as org_services
from jiedao.people import services
from jiedao.people.models import Resident
from tests.conftest import PASSWORD

BASE = "/api/v1/people"
ID = "33022519520612002" + id_number_check_char("33022519520612002")
PHONE = "13812345678"
BORN = date(1952, 6, 12)
MIN_CANDIDATES = 10_000


@pytest.fixture(autouse=True)
def _lookup_counters():
    from django.core.cache import cache

    cache.clear()  # lookup counters
    yield
    cache.clear()


@pytest.fixture
def person(world):
    household = services.household_create(actor=world.worker, node=world.building, number="DX-0101", address="1幢101")
    return services.resident_create(
        actor=world.worker, node=world.building, name="陈阿姨", id_number=ID, phone=PHONE, household=household,
        relation="户主", actual_address="1幢101", registered_address="浙江省宁波市象山县丹西街道1幢101",
    )


def _role_user(world, username: str, role: str, node) -> object:
    user = org_services.user_create(actor=world.admin, username=username, full_name=username, home_node=node,
                                    password=PASSWORD)
    org_services.role_assign(actor=world.admin, user=user, role=role, node=node,
                             department=world.department if role == Role.DEPARTMENT_HANDLER else None)
    return user


@pytest.fixture
def roles(world):
    """Every demo role that does not hold the reveal right, as a named user."""
    return {
        "grid_worker": world.worker,
        "grid_leader": _role_user(world, "gridleader", Role.GRID_LEADER, world.grid),
        "community_staff": _role_user(world, "staff", Role.COMMUNITY_STAFF, world.community),
        "department_handler": world.handler,
        "leader": world.leader,
    }


def _xlsx_text(content: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return "\n".join(
        " ".join("" if v is None else str(v) for v in row) for sheet in book for row in sheet.iter_rows(values_only=True)
    )


def seen_by(client, as_, user, resident) -> str:
    """Everything `user` is shown of the resident, API and pages, as one text."""
    api = as_(user)
    parts = []
    for url in ("/residents", f"/residents/{resident.pk}", f"/residents/{resident.pk}/history",
                f"/households/{resident.household_id}", "/households"):
        response = api.get(url)
        parts.append(response.content.decode())
    export = api.post("/residents/exports", {})
    if export.status_code == 202:
        download = api.client.get(export.json()["download_url"], **api.headers)
        parts.append(_xlsx_text(b"".join(download.streaming_content)))
    client.force_login(user)
    for url in ("/residents/", f"/residents/{resident.pk}/", f"/residents/{resident.pk}/history/",
                f"/households/{resident.household_id}/", "/audit/"):
        parts.append(client.get(url).content.decode())
    export = client.post("/residents/export/")
    if export.status_code == 302:
        job = ExportJob.objects.filter(created_by=user).latest("id")
        download = client.get(f"/exports/{job.pk}/download/")
        parts.append(_xlsx_text(b"".join(download.streaming_content)))
    client.logout()
    return "\n".join(parts)


def _known_positions(text: str, value: str, alphabet: str) -> set[int]:
    """Positions of `value` that some mask in `text` shows (a mask: the value's length of digits and *)."""
    known: set[int] = set()
    for match in re.finditer(rf"(?<![0-9X*])[{alphabet}*]{{{len(value)}}}(?![0-9X*])", text):
        shown = match.group()
        if "*" not in shown and shown != value:
            continue
        if all(c == "*" or c == v for c, v in zip(shown, value, strict=True)):
            known |= {i for i, c in enumerate(shown) if c != "*"}
    return known


def _date_shown(text: str, born: date) -> bool:
    forms = {born.isoformat(), born.strftime("%Y/%m/%d"), born.strftime("%Y%m%d"),
             f"{born.year}年{born.month}月{born.day}日", born.strftime("%Y-%m-%dT"), born.strftime("%Y.%m.%d")}
    return any(form in text for form in forms)


def id_candidates(text: str, value: str, born: date) -> int:
    """IDs consistent with what `text` shows: the region (first 6) and the birth year are assumed
    known, the gender too; the rest from the masks in the text and whether the date is shown."""
    known = _known_positions(text, value, "0-9X") | set(range(6))
    if _date_shown(text, born):
        known |= set(range(6, 14))
    days = [date(born.year, m, d) for m in range(1, 13) for d in range(1, calendar.monthrange(born.year, m)[1] + 1)]
    parity = int(value[16]) % 2
    count = 0
    for day in days:
        stamp = day.strftime("%Y%m%d")
        if any(stamp[i - 6] != value[i] for i in range(6, 14) if i in known):
            continue
        for seq in range(1000):
            seq_text = f"{seq:03d}"
            if seq % 2 != parity or any(seq_text[i - 14] != value[i] for i in range(14, 17) if i in known):
                continue
            body = value[:6] + stamp + seq_text
            if 17 in known and id_number_check_char(body) != value[17]:
                continue
            count += 1
    return count


def phone_candidates(text: str, value: str) -> int:
    return 10 ** (len(value) - len(_known_positions(text, value, "0-9")))


def test_the_counting_would_catch_the_old_masks():
    """The control: the old masks and a clear birth date leave a handful of candidates."""
    old = f"{ID[:4]}**********{ID[-4:]} 出生日期 {BORN.isoformat()} {PHONE[:3]}****{PHONE[-4:]}"
    assert id_candidates(old, ID, BORN) < 20
    assert phone_candidates(old, PHONE) == 10_000
    assert phone_candidates(f"{PHONE[:3]}****{PHONE[-4:]} {PHONE[:5]}******", PHONE) < MIN_CANDIDATES


def test_each_role_without_the_reveal_right_leaves_ten_thousand_candidates(world, person, roles, client, as_):
    for name, user in roles.items():
        text = seen_by(client, as_, user, person)
        assert ID not in text and PHONE not in text, name
        assert id_candidates(text, ID, BORN) >= MIN_CANDIDATES, name
        assert phone_candidates(text, PHONE) >= MIN_CANDIDATES, name
    # The control of the control: a grid worker does see the resident (masked, with the birth year).
    text = seen_by(client, as_, world.worker, person)
    assert person.id_number_masked in text and person.phone_masked in text and "1952" in text


def test_the_reveal_right_keeps_the_birth_date(world, person, as_):
    body = as_(world.secretary).get(f"/residents/{person.pk}").json()
    assert body["birth_date"] == BORN.isoformat() and body["birth_year"] == 1952
    body = as_(world.worker).get(f"/residents/{person.pk}").json()
    assert body["birth_date"] is None and body["birth_year"] == 1952


def test_the_masks(person):
    assert person.id_number_masked == ID[:2] + "*" * 15 + ID[-1]
    assert person.phone_masked == PHONE[:3] + "******" + PHONE[-2:]


@pytest.mark.parametrize("query", [ID, PHONE, ID.lower(), f"{PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}", "+86" + PHONE])
def test_the_list_search_is_no_oracle(world, person, as_, client, query):
    for user in (world.worker, world.secretary, world.admin):  # nobody's list matches a full number
        assert as_(user).get("/residents", q=query).json()["items"] == [], user
        client.force_login(user)
        assert "陈阿姨" not in client.get("/residents/", {"q": query}).content.decode()
    assert [r["name"] for r in as_(world.worker).get("/residents", q="陈阿").json()["items"]] == ["陈阿姨"]
    assert [r["name"] for r in as_(world.worker).get("/residents", q="1幢101").json()["items"]] == ["陈阿姨"]


def test_the_lookup_needs_the_permission_a_reason_and_is_audited(world, person, as_, client):
    body = {"kind": "id_number", "value": ID, "reason": "核实来访居民身份"}
    for user in (world.worker, world.leader, world.handler):
        api = as_(user)  # (its token is created, and audited, here)
        before = AuditEvent.objects.count()
        assert api.post("/residents/lookup", body).status_code == 403
        assert AuditEvent.objects.count() == before
    response = as_(world.secretary).post("/residents/lookup", {**body, "reason": ""})
    assert response.status_code == 400 and response.json()["field"] == "reason"
    response = as_(world.secretary).post("/residents/lookup", body)
    assert response.status_code == 200, response.content
    assert response.json()["found"] == 1 and response.json()["residents"][0]["id"] == person.pk
    assert ID not in response.content.decode()
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.filter(action="people.resident.lookup").latest("id")
    assert event.actor_id == world.secretary.pk and event.reason == "核实来访居民身份"
    assert event.after["found"] == 1 and event.after["value"] == Resident.objects.get(pk=person.pk).id_number_masked
    assert ID not in str(event.after) and str(event.object_id) == str(person.pk)
    # By phone; and a number nobody has is answered (and audited) the same way, with 0 found.
    response = as_(world.secretary).post("/residents/lookup", {**body, "kind": "phone", "value": PHONE})
    assert response.json()["found"] == 1
    other = "33022519520612001" + id_number_check_char("33022519520612001")
    assert as_(world.secretary).post("/residents/lookup", {**body, "value": other}).json()["found"] == 0
    assert AuditEvent.objects.filter(action="people.resident.lookup").count() == 3
    # The page: 403 without the permission; the secretary finds the resident.
    client.force_login(world.worker)
    assert client.get("/residents/lookup/").status_code == 403
    client.force_login(world.secretary)
    page = client.post("/residents/lookup/", {"kind": "id_number", "value": ID, "reason": "核实身份"})
    assert page.status_code == 200 and "陈阿姨" in page.content.decode() and ID not in page.content.decode()
    assert "no-store" in page["Cache-Control"]


def test_the_lookup_sees_only_its_scope(world, person, as_):
    """Another community's secretary finds nothing (and the lookup says so, audited)."""
    other = _role_user(world, "village_secretary", Role.COMMUNITY_SECRETARY, world.village)
    response = as_(other).post("/residents/lookup", {"kind": "id_number", "value": ID, "reason": "核实身份"})
    assert response.status_code == 200 and response.json()["found"] == 0


def test_the_lookup_is_throttled(world, person, as_, settings):
    settings.JIEDAO_PEOPLE_LOOKUP_LIMITS = {"hour": (3, 3600), "day": (10, 86400)}
    body = {"kind": "phone", "value": PHONE, "reason": "电话核实"}
    api = as_(world.secretary)
    for _ in range(3):
        assert api.post("/residents/lookup", body).status_code == 200
    before = AuditEvent.objects.count()
    response = api.post("/residents/lookup", body)
    assert response.status_code == 429 and "频繁" in response.json()["detail"]
    assert AuditEvent.objects.count() == before
    # Per user: the administrator is not held by the secretary's count.
    assert as_(world.admin).post("/residents/lookup", body).status_code == 200


def test_a_refused_duplicate_is_no_oracle_for_long(world, person, as_, settings):
    """Typing candidates into a resident's ID number: a 409 tells one is registered, so after a few
    refusals every ID write of that user is refused (429) whatever the number is."""
    settings.JIEDAO_PEOPLE_ID_CLASH_LIMIT = (2, 86400)
    api = as_(world.worker)
    dummy = api.post("/residents", {"node": world.building.pk, "name": "测试"}).json()["id"]
    for _ in range(2):
        assert api.patch(f"/residents/{dummy}", {"id_number": ID}).status_code == 409
    fresh = "33022519800101003" + id_number_check_char("33022519800101003")
    for number in (ID, fresh):
        assert api.patch(f"/residents/{dummy}", {"id_number": number}).status_code == 429
    assert as_(world.secretary).patch(f"/residents/{dummy}", {"id_number": fresh}).status_code == 200
