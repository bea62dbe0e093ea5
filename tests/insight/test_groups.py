"""Similar cases, nightly duplicate groups and hotspots, through the services, the pages and the
API with the named users of tests/conftest.py. Every scoped endpoint has its negative test."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from jiedao.cases import services
from jiedao.cases.cycles import reports
from jiedao.cases.cycles import services as cycles
from jiedao.cases.models import Case, CaseTransition, Category, RoutingRule, Source, State, Tier
from jiedao.cases.workflow import Action
from jiedao.core import scheduler
from jiedao.core.errors import DomainError
from jiedao.core.models import AuditEvent
from jiedao.insight import selectors, views
from jiedao.insight import services as insight
from jiedao.insight.models import DuplicateGroup
from jiedao.org import services as org_services
from jiedao.org.models import NodeKind

pytestmark = pytest.mark.django_db

REPORT = ("丽发新城3栋楼下垃圾三天没人清运", "丽发新城小区3栋楼下的垃圾堆了三天了，臭气熏天，请尽快清运。")
REPOST = ("丽发新城垃圾又没人清运", "3栋楼下垃圾还是没人清运，这是第二次反映了，天热很臭。")
LOOKALIKE = ("魅力之城3栋楼下垃圾三天没人清运", "魅力之城小区3栋楼下的垃圾堆了三天了，臭气熏天，请尽快清运。")
OTHER = ("电梯经常故障", "2单元电梯这个月已经停了三次，老人上下楼很困难。")


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def garbage(world):
    category = Category.objects.create(code="garbage", name="暴露垃圾", default_tier=Tier.PUBLIC, time_limit=1)
    RoutingRule.objects.create(category=category, node=world.subdistrict, department=world.department)
    return category


@pytest.fixture
def second_building(world):
    return org_services.node_create(actor=world.root, parent=world.microgrid, kind=NodeKind.BUILDING, name="2幢")


def file(world, texts, *, actor=None, node=None, building="default", category=None, days_ago=0, **extra) -> Case:
    title, description = texts
    case = services.case_create(
        actor=actor or world.worker, source=Source.DOOR_VISIT, node=node or world.grid,
        building=world.building if building == "default" else building, title=title, description=description,
        category=category, **extra,
    )
    if days_ago:
        Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
        case.refresh_from_db()
    return case


def html(response) -> str:
    return response.content.decode()


# --- similar cases ---------------------------------------------------------------------------------


def test_similar_finds_the_repost_at_the_same_building_not_the_same_wording_at_another_estate(
        world, garbage, second_building):
    earlier = file(world, REPORT, category=garbage, days_ago=3)
    lookalike = file(world, LOOKALIKE, building=second_building, category=garbage, days_ago=2)
    unrelated = file(world, OTHER, days_ago=1)
    found = selectors.similar_for_text(world.worker, node=world.building, title=REPOST[0], text=REPOST[1],
                                       category=garbage)
    assert [s.case.pk for s in found] == [earlier.pk]
    best = found[0]
    assert best.same_problem and best.place == 1.0 and 0.5 < best.score <= 1
    assert "同一楼栋" in best.evidence and any("丽发新城" in e for e in best.evidence)
    assert lookalike.pk not in [s.case.pk for s in found] and unrelated.pk not in [s.case.pk for s in found]
    # the same wording as the look-alike finds the look-alike, not the first estate's case
    found = selectors.similar_for_text(world.worker, node=second_building, title=LOOKALIKE[0], text=LOOKALIKE[1])
    assert [s.case.pk for s in found] == [lookalike.pk]


def test_similar_needs_recent_open_earlier_cases(world, garbage):
    earlier = file(world, REPORT, category=garbage, days_ago=40)  # older than 30 days
    assert selectors.similar_for_text(world.worker, node=world.building, title=REPOST[0], text=REPOST[1]) == []
    Case.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - timedelta(days=2), state=State.CLOSED)
    assert selectors.similar_for_text(world.worker, node=world.building, title=REPOST[0], text=REPOST[1]) == []


def test_similar_by_coordinates_when_the_org_path_differs(world, garbage):
    here = dict(latitude="29.870100", longitude="121.550100")
    earlier = file(world, REPORT, actor=world.secretary, node=world.other_grid, building=None, days_ago=1, **here)
    found = selectors.similar_for_text(world.secretary, node=world.building, title=REPOST[0], text=REPOST[1],
                                       latitude=29.8702, longitude=121.5502)
    assert [s.case.pk for s in found] == [earlier.pk]
    assert any("相距约" in e for e in found[0].evidence)


def test_a_grid_worker_never_sees_another_grids_cases_as_duplicates(client, world, garbage):
    earlier = file(world, REPORT, category=garbage, days_ago=1)
    assert selectors.similar_for_text(world.other_worker, node=world.other_grid, title=REPORT[0],
                                      text=REPORT[1]) == []
    assert selectors.similar_for_text(world.village_worker, node=world.village_grid, title=REPORT[0],
                                      text=REPORT[1]) == []
    client.force_login(world.other_worker)
    response = client.post(reverse("cases:similar"), {"node": world.other_grid.pk, "title": REPORT[0],
                                                     "description": REPORT[1]})
    assert response.status_code == 200 and earlier.ticket not in html(response)
    # a place outside the worker's grid is not even a place to search
    response = client.post(reverse("cases:similar"), {"building": world.building.pk, "title": REPORT[0],
                                                     "description": REPORT[1]})
    assert earlier.ticket not in html(response)


def test_case_page_shows_similar_cases_and_the_merge_only_to_who_may_merge(client, world, garbage):
    earlier = file(world, REPORT, category=garbage, days_ago=2)
    later = file(world, REPOST, category=garbage)
    client.force_login(world.worker)
    page = client.get(reverse("cases:detail", args=[later.pk]))
    assert earlier.ticket in html(page) and "并入此件" in html(page)
    # the earlier case does not list the later one (only earlier cases are offered)
    page = client.get(reverse("cases:detail", args=[earlier.pk]))
    assert later.ticket not in [s.case.ticket for s in page.context["similar"]]
    # a leader sees the similar case but may not merge (the transition table says so)
    client.force_login(world.leader)
    page = client.get(reverse("cases:detail", args=[later.pk]))
    assert earlier.ticket in html(page) and "并入此件" not in html(page)
    # once the case is dispatched, merging is no longer offered to anyone
    services.case_act(actor=world.secretary, case=later, action=Action.ACCEPT)
    services.case_act(actor=world.secretary, case=later, action=Action.DISPATCH)
    client.force_login(world.secretary)
    page = client.get(reverse("cases:detail", args=[later.pk]))
    assert earlier.ticket in html(page) and "并入此件" not in html(page)


def test_similar_api_and_its_scope(client, world, garbage):
    earlier = file(world, REPORT, category=garbage, days_ago=2)
    later = file(world, REPOST, category=garbage)
    client.force_login(world.worker)
    response = client.get(f"/api/v1/insight/similar/{later.pk}")
    assert response.status_code == 200
    rows = response.json()
    assert [r["case"]["ticket"] for r in rows] == [earlier.ticket] and rows[0]["same_problem"] is True
    response = client.get("/api/v1/insight/similar", {"node": world.building.pk, "title": REPOST[0],
                                                      "text": REPOST[1]})
    assert response.status_code == 200 and earlier.ticket in [r["case"]["ticket"] for r in response.json()]
    client.force_login(world.other_worker)
    assert client.get(f"/api/v1/insight/similar/{later.pk}").status_code == 404
    assert client.get("/api/v1/insight/similar/999999").status_code == 404
    response = client.get("/api/v1/insight/similar", {"node": world.building.pk, "title": REPOST[0]})
    assert response.status_code == 404 and response.json()["field"] == "node"
    response = client.get("/api/v1/insight/similar", {"node": world.other_grid.pk, "title": REPOST[0],
                                                      "text": REPOST[1]})
    assert response.status_code == 200 and response.json() == []


# --- duplicate groups ------------------------------------------------------------------------------


def three_reports(world, garbage):
    first = file(world, REPORT, category=garbage, days_ago=4)
    second = file(world, REPOST, category=garbage, days_ago=2)
    third = file(world, ("丽发新城3栋垃圾堆放没人管", "丽发新城3栋楼下垃圾好几天没人清运，请处理。"), category=garbage,
                 days_ago=1)
    other = file(world, OTHER)
    lookalike = file(world, LOOKALIKE, actor=world.other_worker, node=world.other_grid, building=None)
    return first, second, third, other, lookalike


def test_grouping_proposes_one_group_and_is_idempotent(world, garbage):
    first, second, third, other, lookalike = three_reports(world, garbage)
    counts = insight.duplicate_groups_build(subdistrict=world.subdistrict)
    assert counts == {"proposed": 1, "updated": 0, "unchanged": 0, "stale": 0}
    group = DuplicateGroup.objects.get()
    assert sorted(m.case_id for m in group.members.all()) == sorted([first.pk, second.pk, third.pk])
    assert group.org_path == world.building.path and group.status == DuplicateGroup.Status.PENDING
    assert not DuplicateGroup.objects.filter(members__case__in=[other, lookalike]).exists()
    assert insight.duplicate_groups_build(subdistrict=world.subdistrict) == {
        "proposed": 0, "updated": 0, "unchanged": 1, "stale": 0}
    assert DuplicateGroup.objects.count() == 1
    assert AuditEvent.objects.filter(action="insight.duplicategroup.propose").count() == 1
    # a new re-post joins the pending group rather than making another
    fourth = file(world, ("丽发新城3栋楼下垃圾还在", "丽发新城3栋楼下垃圾一直没人清运，第三次反映。"), category=garbage)
    assert insight.duplicate_groups_build(subdistrict=world.subdistrict)["updated"] == 1
    group.refresh_from_db()
    assert fourth.pk in [m.case_id for m in group.members.all()] and DuplicateGroup.objects.count() == 1
    # a member merged by hand: the group is re-formed without it
    services.case_act(actor=world.worker, case=fourth, action=Action.MERGE, into=first)
    assert insight.duplicate_groups_build(subdistrict=world.subdistrict)["updated"] == 1


def test_dismissal_is_remembered(client, world, garbage):
    three_reports(world, garbage)
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    group = DuplicateGroup.objects.get()
    client.force_login(world.worker)
    response = client.post(reverse("insight:decide", args=[group.pk]), {"decision": "dismiss", "reason": "三个不同垃圾点"})
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.status == DuplicateGroup.Status.DISMISSED and group.decided_by == world.worker
    assert AuditEvent.objects.filter(action="insight.duplicategroup.dismiss", object_id=str(group.pk)).exists()
    assert insight.duplicate_groups_build(subdistrict=world.subdistrict)["proposed"] == 0
    assert insight.duplicate_groups_build_all()["proposed"] == 0
    assert DuplicateGroup.objects.filter(status=DuplicateGroup.Status.PENDING).count() == 0
    # a decided group cannot be decided again
    response = client.post(reverse("insight:decide", args=[group.pk]), {"decision": "dismiss"})
    assert response.status_code == 400 and "不能再处理" in html(response)


def test_confirm_merges_through_the_workflow(client, world, garbage):
    first, second, third, _other, _lookalike = three_reports(world, garbage)
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    group = DuplicateGroup.objects.get()
    client.force_login(world.worker)
    page = client.get(reverse("insight:groups"))
    assert page.status_code == 200 and first.ticket in html(page) and "确认合并" in html(page)
    response = client.post(reverse("insight:decide", args=[group.pk]), {
        "decision": "confirm", "main_case": first.pk, "cases": [first.pk, second.pk, third.pk], "reason": "同一垃圾点"})
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.status == DuplicateGroup.Status.CONFIRMED and group.main_case == first
    for case in (second, third):
        case.refresh_from_db()
        assert case.state == State.CLOSED and case.merged_into == first
        step = CaseTransition.objects.get(case=case, action=Action.MERGE)
        assert step.actor == world.worker and step.data == {"into": first.ticket} and f"#{group.pk}" in step.reason
        assert AuditEvent.objects.filter(action="cases.case.merge", object_id=str(case.pk)).exists()
    first.refresh_from_db()
    assert first.state == State.REPORTED and first.merged_into is None
    event = AuditEvent.objects.get(action="insight.duplicategroup.confirm")
    assert event.after["main_case"] == first.ticket and sorted(event.after["merged"]) == sorted([second.ticket, third.ticket])
    # merged cases are no longer open: the next run proposes nothing and marks nothing stale twice
    assert insight.duplicate_groups_build(subdistrict=world.subdistrict)["proposed"] == 0


def test_confirm_is_all_or_nothing(world, garbage):
    first, second, third, _o, _l = three_reports(world, garbage)
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    group = DuplicateGroup.objects.get()
    services.case_act(actor=world.secretary, case=third, action=Action.ACCEPT)
    services.case_act(actor=world.secretary, case=third, action=Action.DISPATCH)
    with pytest.raises(DomainError) as refused:
        insight.duplicate_group_confirm(actor=world.secretary, group=group, main_case=first)
    assert third.ticket in refused.value.message and refused.value.field == "cases"
    second.refresh_from_db()
    assert second.state == State.REPORTED and not CaseTransition.objects.filter(action=Action.MERGE).exists()
    # choosing the dispatched case as the main case works
    insight.duplicate_group_confirm(actor=world.secretary, group=group, main_case=third)
    assert set(Case.objects.filter(merged_into=third).values_list("pk", flat=True)) == {first.pk, second.pk}


def test_leaders_may_see_but_not_merge(client, world, garbage):
    three_reports(world, garbage)
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    group = DuplicateGroup.objects.get()
    first = group.members.order_by("case_id").first().case
    client.force_login(world.leader)
    response = client.post(reverse("insight:decide", args=[group.pk]), {"decision": "confirm", "main_case": first.pk,
                                                                          "cases": [m.case_id for m in group.members.all()]})
    assert response.status_code == 403
    group.refresh_from_db()
    assert group.status == DuplicateGroup.Status.PENDING and not Case.objects.filter(merged_into__isnull=False).exists()


def test_groups_are_scoped(client, world, garbage):
    three_reports(world, garbage)
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    group = DuplicateGroup.objects.get()
    first = group.members.order_by("case_id").first().case
    for user in (world.other_worker, world.village_worker):
        client.force_login(user)
        page = client.get(reverse("insight:groups"))
        assert page.status_code == 200 and first.ticket not in html(page)
        response = client.post(reverse("insight:decide", args=[group.pk]), {"decision": "dismiss"})
        assert response.status_code == 404
        assert client.get(f"/api/v1/insight/duplicate-groups/{group.pk}").status_code == 404
        assert client.get("/api/v1/insight/duplicate-groups").json()["count"] == 0
        response = client.post(f"/api/v1/insight/duplicate-groups/{group.pk}/dismiss", {},
                               content_type="application/json")
        assert response.status_code == 404
        response = client.post(f"/api/v1/insight/duplicate-groups/{group.pk}/confirm", {"main_case": first.pk},
                               content_type="application/json")
        assert response.status_code == 404
    group.refresh_from_db()
    assert group.status == DuplicateGroup.Status.PENDING
    # department handlers see no groups page at all
    client.force_login(world.handler)
    assert client.get(reverse("insight:groups")).status_code == 403


def test_group_api_confirm(client, world, garbage):
    first, second, third, _o, _l = three_reports(world, garbage)
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    group = DuplicateGroup.objects.get()
    client.force_login(world.secretary)
    listed = client.get("/api/v1/insight/duplicate-groups").json()
    assert listed["count"] == 1 and len(listed["items"][0]["members"]) == 3
    response = client.post(f"/api/v1/insight/duplicate-groups/{group.pk}/confirm",
                           {"main_case": other_pk(world)}, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "main_case"
    response = client.post(f"/api/v1/insight/duplicate-groups/{group.pk}/confirm",
                           {"main_case": first.pk, "cases": [second.pk]}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == "confirmed"
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.merged_into == first and third.merged_into is None and third.state == State.REPORTED


def other_pk(world) -> int:
    return Case.objects.get(title=OTHER[0]).pk


def test_the_nightly_job_and_the_command(world, garbage, capsys):
    three_reports(world, garbage)
    assert any(job.name == "duplicate_groups" and job.path == "jiedao.insight.services.duplicate_groups_build_all"
               for job in scheduler.JOBS)
    from jiedao.cli import main

    assert main(["insight", "group"]) == 0
    assert "proposed=1" in capsys.readouterr().out
    assert main(["insight", "group", "--subdistrict", world.subdistrict.code]) == 0
    assert "unchanged=1" in capsys.readouterr().out
    assert main(["insight", "group", "--subdistrict", "999999999999"]) == 2
    assert DuplicateGroup.objects.count() == 1
    ran = scheduler.run_due()
    assert "duplicate_groups" in ran and DuplicateGroup.objects.count() == 1


# --- hotspots ----------------------------------------------------------------------------------------


@pytest.fixture
def hot(world, garbage, second_building):
    """On the first of this month: 1幢 garbage ×4 (3 reporters, one of them twice), 2幢 garbage ×2,
    1幢 dispute ×2; ten days before: 1幢 garbage ×1, 2幢 garbage ×4."""
    dispute = Category.objects.create(code="dispute", name="邻里纠纷", default_tier=Tier.COMMUNITY)
    today = timezone.localdate()
    start = today.replace(day=1)
    made = []

    def at(day, texts, building, category, name):
        case = file(world, texts, building=building, category=category, reporter_name=name)
        moment = timezone.make_aware(timezone.datetime.combine(day, timezone.datetime.min.time())) + timedelta(hours=9)
        Case.objects.filter(pk=case.pk).update(created_at=moment)
        made.append(case)
        return case

    last_month = start - timedelta(days=10)  # never in the week of the first
    for name in ("陈", "李", "王", "陈"):
        at(start, REPORT, world.building, garbage, name)
    at(start, REPORT, second_building, garbage, "周")
    at(start, REPORT, second_building, garbage, "吴")
    at(start, OTHER, world.building, dispute, "郑")
    at(start, OTHER, world.building, dispute, "冯")
    at(last_month, REPORT, world.building, garbage, "陈")
    for name in ("甲", "乙", "丙", "丁"):
        at(last_month, REPORT, second_building, garbage, name)
    return {"garbage": garbage, "dispute": dispute, "cases": made, "day": today}


def test_hotspots_ranked_by_size_growth_and_support(world, hot, second_building):
    spots = selectors.hotspots_for_path(world.subdistrict.path, period="month", level="building", day=hot["day"],
                                        order="size")
    assert [(s.area_name, s.category_name, s.size) for s in spots] == [
        ("1幢", "暴露垃圾", 4), ("1幢", "邻里纠纷", 2), ("2幢", "暴露垃圾", 2)]
    top = spots[0]
    assert (top.previous, top.reporters, top.chases, top.growth) == (1, 3, 1, 3.0)
    assert top.growth_text == "+300%" and len(top.representatives) == 3
    by_growth = selectors.hotspots_for_path(world.subdistrict.path, period="month", level="building",
                                            day=hot["day"], order="growth")
    assert by_growth[0].area_name == "1幢" and by_growth[0].category_name == "暴露垃圾"
    assert by_growth[-1].area_name == "2幢" and by_growth[-1].growth == -0.5
    by_support = selectors.hotspots_for_path(world.subdistrict.path, period="month", level="building",
                                             day=hot["day"], order="support")
    assert by_support[0].support == 4
    # a merged re-post counts as support
    first, second = hot["cases"][6], hot["cases"][7]
    services.case_act(actor=world.worker, case=second, action=Action.MERGE, into=first)
    spots = selectors.hotspots_for_path(world.subdistrict.path, period="month", level="building", day=hot["day"])
    dispute = next(s for s in spots if s.category_name == "邻里纠纷")
    assert dispute.reposts == 1 and second.pk not in [c.pk for c in dispute.representatives]
    # at grid level the two buildings' garbage is one cluster
    grid = selectors.hotspots_for_path(world.subdistrict.path, period="month", level="grid", day=hot["day"])
    assert (grid[0].area_name, grid[0].category_name, grid[0].size, grid[0].previous) == ("东门第一网格", "暴露垃圾", 6, 5)


def test_hotspots_are_scoped(client, world, hot):
    client.force_login(world.worker)
    rows = client.get("/api/v1/insight/hotspots", {"level": "building", "day": hot["day"].isoformat()}).json()
    assert rows and rows[0]["size"] == 4
    client.force_login(world.other_worker)
    rows = client.get("/api/v1/insight/hotspots", {"level": "building", "day": hot["day"].isoformat()}).json()
    assert rows == []
    assert client.get("/api/v1/insight/hotspots", {"node": world.grid.pk}).status_code == 404
    assert client.get(reverse("insight:hotspots"), {"node": world.grid.pk}).status_code == 404
    page = client.get(reverse("insight:hotspots"), {"level": "building"})
    assert page.status_code == 200 and "1幢" not in html(page)
    client.force_login(world.secretary)
    page = client.get(reverse("insight:hotspots"), {"level": "building", "node": world.grid.pk})
    assert page.status_code == 200 and "暴露垃圾" in html(page)


def test_dashboard_digest_and_report_show_hotspots(client, world, hot):
    client.force_login(world.leader)
    page = client.get(reverse("cases:dashboard"), {"node": world.community.pk})
    assert page.status_code == 200 and "本月热点" in html(page)
    # the page loads its 本月热点 as a fragment once it is shown
    fragment = client.get(reverse("cases:dashboard_hotspots"), {"node": world.community.pk})
    assert fragment.status_code == 200 and "本月热点" in html(fragment)
    assert [(s.area_name, s.size) for s in fragment.context["spots"]][:1] == [("东门第一网格", 6)]
    # weekly digest (the week of the first of the month)
    digest = cycles.weekly_digest_generate(node=world.grid, week_start=hot["day"].replace(day=1))
    spots = digest.data["hotspots"]
    assert spots and spots[0]["area"] == "1幢" and spots[0]["category"] == "暴露垃圾" and spots[0]["size"] == 4
    assert spots[0]["cases"][0]["ticket"]
    # quarterly report: docx and xlsx carry the 本季热点 section
    quarter = (hot["day"].month - 1) // 3 + 1
    review = cycles.quarterly_review_prepare(actor=world.secretary, community=world.community,
                                             year=hot["day"].year, quarter=quarter)
    paragraphs = [text for _style, text in reports.report_paragraphs(review)]
    assert "五、本季热点" in paragraphs
    assert any("东门第一网格“暴露垃圾”" in p for p in paragraphs)
    with zipfile.ZipFile(io.BytesIO(reports.quarterly_report_docx(review))) as docx:
        body = docx.read("word/document.xml").decode()
    assert "本季热点" in body and "暴露垃圾" in body
    workbook = load_workbook(io.BytesIO(reports.quarterly_report_xlsx(review)))
    sheet = workbook["本季热点"]
    assert sheet["A1"].value == "地区" and sheet["A2"].value == "东门第一网格" and sheet["B2"].value == "暴露垃圾"


def test_the_groups_page_is_paginated_and_keeps_the_status(client, world, garbage):
    cases = [file(world, REPORT, category=garbage, days_ago=1) for _ in range(views.GROUPS_PER_PAGE + 2)]
    for n, case in enumerate(cases):
        group = DuplicateGroup.objects.create(subdistrict=world.subdistrict, org_path=world.building.path,
                                              key=f"{case.pk}", score=0.9 - n / 100)
        group.members.create(case=case, score=0.9)
    client.force_login(world.worker)
    first = html(client.get(reverse("insight:groups")))
    second = html(client.get(reverse("insight:groups"), {"status": "pending", "page": 2}))
    assert cases[0].ticket in first and cases[-1].ticket not in first
    assert cases[-1].ticket in second and cases[0].ticket not in second
    assert "第 2 / 2 页" in second and "status=pending" in second
