"""季度风险研判: the docx's numbers equal an independent count from raw rows on random histories
(property-test style, as test_figures_property), the page, the downloads and the API, and 404 for
a place outside the reader's scope."""

from __future__ import annotations

import io
import os
import re
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from docx import Document
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from jiedao.core import caching, scope
from jiedao.core.permissions import Perm
from jiedao.people.models import Business
from jiedao.safety import review as reviews
from jiedao.safety import services
from jiedao.safety.models import Hazard, HazardTransition, Inspection, SafetyField, Tenancy
from tests.safety.test_figures_property import replay, run_program

EXAMPLES = int(os.environ.get("JIEDAO_SAFETY_REVIEW_EXAMPLES", "4"))
READERS = ("worker", "village_worker", "secretary", "leader")
BASE = "/api/v1/safety"


def _under(path: str, user, node) -> bool:
    paths = scope.granted_paths(user, Perm.VIEW_SAFETY)
    return path.startswith(node.path) and (paths is None or any(path.startswith(p) for p in paths))


def recount(user, node, start, end, now) -> dict:
    """The review's numbers from raw rows only: Business and Inspection rows, and for hazards the
    HazardTransition history replayed (state, deadline, rectification time), never the Hazard
    row's state or dates."""
    tz = timezone.get_current_timezone()
    low = datetime.combine(start, datetime.min.time(), tzinfo=tz)
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    in_base = {b.pk for b in Business.objects.select_related("node") if b.is_active and _under(b.node.path, user, node)}
    base = len(in_base)
    inspections = [i for i in Inspection.objects.select_related("node")
                   if start <= i.inspected_on <= end and _under(i.node.path, user, node)]
    history: dict[int, list[HazardTransition]] = {}
    for step in HazardTransition.objects.order_by("hazard_id", "seq"):
        history.setdefault(step.hazard_id, []).append(step)
    total = {"hazards": 0, "major": 0, "rectified": 0, "on_time": 0, "overdue_open": 0}
    fields: dict[str, dict[str, int]] = {}
    per_business: dict[int, dict[str, int]] = {}
    overdue = set()
    for hazard in Hazard.objects.select_related("node"):
        if not (low <= hazard.found_at < high) or not _under(hazard.node.path, user, node):
            continue
        state, deadline, rectified = replay(history[hazard.pk])
        if state == "cancelled":
            continue
        row = fields.setdefault(hazard.field, dict.fromkeys(total, 0))
        for counts in (total, row, per_business.setdefault(hazard.business_id, dict.fromkeys(total, 0))):
            counts["hazards"] += 1
            counts["major"] += hazard.severity == "major"
            if state == "closed":
                counts["rectified"] += 1
                counts["on_time"] += rectified is not None and rectified <= deadline
            elif state in ("open", "rectifying") and deadline < now:
                counts["overdue_open"] += 1
        if state in ("open", "rectifying") and deadline < now:
            overdue.add(hazard.code)
    tenants = [t.tenant for t in Tenancy.objects.select_related("tenant__node")
               if t.tenant.is_active and _under(t.tenant.node.path, user, node)]
    inspected = {i.business_id for i in inspections}
    zero = dict.fromkeys(total, 0)
    tenancy = {"tenants": len(tenants), "inspected": sum(t.pk in inspected for t in tenants),
               **{k: sum(per_business.get(t.pk, zero)[k] for t in tenants) for k in ("hazards", "major", "rectified")}}
    # 排摸: the businesses of the 底数 inspected in the period (one closed since is in neither)
    return {"base": base, "visited": len(inspected & in_base), "inspections": len(inspections),
            **total, "fields": fields, "overdue": overdue, "tenancy": tenancy}


def _number(pattern: str, text: str) -> tuple[int, ...]:
    match = re.search(pattern, text)
    assert match, pattern
    return tuple(int(g) for g in match.groups())


def read_docx(content: bytes) -> dict:
    """The numbers of the docx, read back with python-docx from its sentences."""
    text = "\n".join(p.text for p in Document(io.BytesIO(content)).paragraphs)
    got = {}
    got["base"], = _number(r"底数(\d+)家", text)
    got["visited"], = _number(r"本季度排摸(\d+)家", text)
    got["inspections"], = _number(r"共开展安全检查(\d+)次", text)
    got["hazards"], got["major"], ordinary = _number(r"本季度发现隐患(\d+)个，其中重大隐患(\d+)个、一般隐患(\d+)个", text)
    assert ordinary == got["hazards"] - got["major"]
    got["rectified"], = _number(r"已整改销号(\d+)个，整改率", text)
    got["on_time"], = _number(r"按期整改(\d+)个，按期整改率", text)
    got["overdue_open"], = _number(r"按期整改率[^；]*；逾期未整改(\d+)个", text)
    got["fields"] = {}
    for value, label in SafetyField.choices:
        match = re.search(rf"^{label}：隐患(\d+)个，其中重大隐患(\d+)个，已整改销号(\d+)个，按期整改(\d+)个，逾期未整改(\d+)个",
                          text, re.M)
        if match:
            got["fields"][value] = dict(zip(("hazards", "major", "rectified", "on_time", "overdue_open"),
                                            map(int, match.groups()), strict=True))
    match = re.search(r"辖区有承租主体(\d+)家，本季度检查(\d+)家，发现隐患(\d+)个、重大隐患(\d+)个，已整改销号(\d+)个", text)
    got["tenancy"] = (dict(zip(("tenants", "inspected", "hazards", "major", "rectified"), map(int, match.groups()),
                               strict=True)) if match else None)
    got["overdue"] = set(re.findall(r"^\d+\. (YH[\w-]+)，", text, re.M))
    got["text"] = text
    return got


def check(world, data, now) -> None:
    today = timezone.localdate()
    year, quarter = reviews.quarter_of(today)
    if data.draw(st.booleans(), label="previous quarter?"):
        year, quarter = reviews.previous_quarter(year, quarter)
    start, end = reviews.quarter_dates(year, quarter)
    for name in READERS:
        user = getattr(world, name)
        node = data.draw(st.sampled_from(reviews.places(user)), label=f"{name}'s place")
        review = reviews.build(user, node, year, quarter, now=now)
        got = read_docx(reviews.review_docx(review))
        expected = recount(user, node, start, end, now)
        for key in ("base", "visited", "inspections", "hazards", "major", "rectified", "on_time", "overdue_open"):
            assert got[key] == expected[key], (name, node.name, key)
        assert got["fields"] == expected["fields"], (name, node.name)
        assert got["tenancy"] == (expected["tenancy"] if expected["tenancy"]["tenants"] else None), (name, node.name)
        if len(expected["overdue"]) <= reviews.OVERDUE_IN_DOCUMENT:
            assert got["overdue"] == expected["overdue"], (name, node.name)
        previous = recount(user, node, *reviews.quarter_dates(*reviews.previous_quarter(year, quarter)), now)
        assert f"（上季度{previous['visited']}家" in got["text"] and f"（上季度{previous['hazards']}个" in got["text"]


def test_the_docx_numbers_equal_a_recount_from_raw_rows(world, safety):
    now = timezone.now()

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        with transaction.atomic():
            run_program(world, safety, data)
            check(world, data, now + timedelta(seconds=1))
            transaction.set_rollback(True)

    run()


def _history(world, safety):
    """A scripted quarter: a major hazard in the park's tenant (overdue), an ordinary one at the
    diner rectified and closed, one found in the village."""
    today = timezone.localdate()
    start, _end = reviews.quarter_dates(*reviews.quarter_of(today))
    day = max(start, today - timedelta(days=20))
    major, ordinary = safety.item("major"), safety.item("ordinary")
    services.inspection_record(actor=world.worker, business=safety.tenant, inspected_on=day, template=safety.fire,
                               answers={major.pk: "fail"})
    diner = services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=today,
                                       template=safety.fire, answers={ordinary.pk: "fail"})
    hazard = diner.hazards.get()
    services.hazard_act(actor=world.worker, hazard=hazard, action="submit", reason="已更换灭火器")
    services.hazard_act(actor=world.worker, hazard=hazard, action="reinspect_pass")
    services.inspection_record(actor=world.village_worker, business=safety.cold_store, inspected_on=today,
                               findings=[{"description": "冷库氨管道锈蚀", "severity": "ordinary", "deadline_days": 5}])


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


def test_page_and_downloads_for_the_leader(world, safety, login):
    _history(world, safety)
    c = login(world.leader)
    r = c.get("/safety/review/")
    assert r.status_code == 200
    page = r.content.decode()
    assert "园中园、厂中厂" in page and "东门工业园" in page and "园内电焊铺" in page
    r = c.get(f"/safety/review/download/docx/?node={world.subdistrict.pk}")
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment")
    got = read_docx(b"".join(r.streaming_content))
    assert (got["base"], got["visited"], got["hazards"], got["major"], got["rectified"]) == (5, 3, 3, 1, 1)
    assert got["fields"]["fire"]["hazards"] == 2 and got["fields"]["other"]["hazards"] == 1
    assert "丹西街道" in got["text"] and "安全生产风险研判报告" in got["text"]
    r = c.get(f"/safety/review/download/xlsx/?node={world.community.pk}")
    workbook = load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    overview = {row[0]: row[1] for row in workbook["概况"].iter_rows(min_row=2, values_only=True)}
    assert (overview["底数（在营主体，家）"], overview["隐患（个）"], overview["重大隐患（个）"]) == (4, 2, 1)
    sites = list(workbook["园中园厂中厂"].iter_rows(min_row=2, values_only=True))
    assert sites == [("东门工业园", "园中园", 1, 1, 1, 1, 1)]
    # The documents are Chinese whatever the page's language; the page follows the reader's.
    r = c.get("/safety/review/download/xlsx/", HTTP_ACCEPT_LANGUAGE="en")
    compared = load_workbook(io.BytesIO(b"".join(r.streaming_content)))["与上季度比较"]
    assert [row[0] for row in compared.iter_rows(min_row=2, max_row=3, values_only=True)] == ["排摸（家）", "检查（次）"]
    english = c.get("/safety/review/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Quarterly risk review" in english and "Inspections" in english


def test_a_grid_worker_reviews_the_grid_and_nothing_above(world, safety, login):
    _history(world, safety)
    c = login(world.worker)
    r = c.get("/safety/review/")
    assert r.status_code == 200 and "东门第一网格" in r.content.decode()
    for node in (world.community, world.subdistrict, world.other_grid, world.village_grid):
        for url in ("/safety/review/", "/safety/review/download/docx/", "/safety/review/download/xlsx/"):
            assert c.get(url, {"node": node.pk}).status_code == 404, (url, node.name)
    assert c.get("/safety/review/", {"node": world.building.pk}).status_code == 404  # not a place reviews are made for
    assert c.get("/safety/review/", {"quarter": "2026-Q5"}).status_code == 404
    assert c.get("/safety/review/download/pdf/").status_code == 404


def test_the_api_review_and_files(world, safety, as_):
    _history(world, safety)
    year, quarter = reviews.quarter_of(timezone.localdate())
    leader, worker = as_(world.leader), as_(world.worker)
    r = leader.get("/review", node=world.subdistrict.pk, year=year, quarter=quarter)
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["figures"]["base"], body["figures"]["hazards"], body["figures"]["major"]) == (5, 3, 1)
    assert [row["key"] for row in body["by_field"]] == ["fire", "other"]
    assert body["sites"][0]["name"] == "东门工业园" and body["tenants"]["major"] == 1
    assert body["businesses"][0]["name"] == "园内电焊铺"  # the open major hazard ranks first
    r = leader.get("/review.docx", node=world.village.pk)
    assert r.status_code == 200 and r["Content-Type"].endswith("wordprocessingml.document")
    assert read_docx(b"".join(r.streaming_content))["hazards"] == 1
    assert worker.get("/review.xlsx").status_code == 200
    for path in ("/review", "/review.docx", "/review.xlsx"):
        r = worker.get(path, node=world.community.pk)
        assert r.status_code == 404 and r.json()["field"] == "node", path
    r = worker.get("/review", year=2026)
    assert r.status_code == 400 and r.json()["field"] == "quarter"
    assert worker.get("/review", year=2026, quarter=5).status_code == 422
