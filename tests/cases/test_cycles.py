"""周集, 月议, 季报告 and the rates they report, on cases moved through the real workflow."""

import io
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.utils import timezone
from docx import Document

from jiedao.cases.cycles import reports
from jiedao.cases.cycles import services as cycles
from jiedao.cases.models import Case, CasePolicy, Rating, ReviewItem, State
from jiedao.cases.services import case_act
from jiedao.cases.statistics import stats
from jiedao.cases.workflow import Action
from jiedao.core import caching
from jiedao.core.errors import DomainError
from jiedao.core.models import AuditEvent
from tests.cases.test_workflow import file_case


def run_to_verified(world, case, rating=Rating.SATISFIED, contacted=True):
    for actor, action, kw in [(world.secretary, Action.ACCEPT, {}), (world.secretary, Action.DISPATCH, {}),
                              (world.handler, Action.ACKNOWLEDGE, {}), (world.handler, Action.RESOLVE, {"reason": "已处理"}),
                              (world.worker, Action.VERIFY_PASS, {})]:
        case = case_act(actor=actor, case=case, action=action, **kw)
    return case_act(actor=None, ticket=case.ticket, case=case, action=Action.FOLLOW_UP, contacted=contacted,
                    solved=True, rating=rating)


def this_quarter():
    today = timezone.localdate()
    return today.year, (today.month - 1) // 3 + 1


def test_weekly_digest_counts_new_and_carried(world, catalogue):
    file_case(world, catalogue)
    file_case(world, catalogue, category=catalogue["dispute"], title="噪音", description="楼上噪音")
    digest = cycles.weekly_digest_generate(node=world.grid, week_start=timezone.localdate(), actor=world.worker)
    assert digest.data["new"] == 2 and digest.data["carried_over"] == 0
    assert dict(digest.data["by_category"]) == {"暴露垃圾": 1, "邻里纠纷": 1}
    assert digest.data["by_state"] == {"待受理": 2}
    other = cycles.weekly_digest_generate(node=world.other_grid, week_start=timezone.localdate())
    assert other.data["new"] == 0


def test_deliberation_agenda_and_decisions_flow_back(world, catalogue):
    hard = file_case(world, catalogue, title="多部门推诿的违建")
    Case.objects.filter(pk=hard.pk).update(difficult=True)
    file_case(world, catalogue, title="普通事项", category=catalogue["dispute"])
    meeting = cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=timezone.localdate())
    items = list(meeting.items.select_related("case"))
    assert [i.case.title for i in items] == ["多部门推诿的违建"] and items[0].why == "疑难"
    with pytest.raises(DomainError) as exc:
        cycles.deliberation_record(actor=world.secretary, meeting=meeting, held_at=timezone.now(), location="议事厅",
                                   host="王书记", attendees=[], summary="", decisions={})
    assert exc.value.field == "attendees"
    cycles.deliberation_record(
        actor=world.secretary, meeting=meeting, held_at=timezone.now(), location="社区议事厅", host="王书记",
        attendees=[{"name": "李大爷", "role": "居民代表"}, {"name": "张网格", "role": "网格员"}],
        summary="议定联合执法", decisions={items[0].pk: {"decision": "联合城建办现场拆除", "owner": "孙科员",
                                                        "due_date": date(2026, 12, 31)}},
    )

    event = AuditEvent.objects.get(action="cases.case.deliberated", object_id=str(hard.pk))
    assert event.reason == "联合城建办现场拆除"
    with pytest.raises(DomainError):
        cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=timezone.localdate())


def test_quarterly_review_strikes_off_and_reports(world, catalogue):
    done = run_to_verified(world, file_case(world, catalogue, title="已办结的垃圾"))
    open_case = file_case(world, catalogue, title="仍在办理")
    year, quarter = this_quarter()
    review = cycles.quarterly_review_prepare(actor=world.secretary, community=world.community, year=year,
                                             quarter=quarter)
    items = {i.case_id: i for i in review.items.all()}
    assert set(items) == {done.pk, open_case.pk}
    with pytest.raises(DomainError):
        cycles.review_item_set(actor=world.secretary, item=items[open_case.pk], verdict=ReviewItem.Verdict.STRUCK_OFF)
    with pytest.raises(DomainError):
        cycles.quarterly_review_finalize(actor=world.secretary, review=review)
    cycles.review_item_set(actor=world.secretary, item=items[done.pk], verdict=ReviewItem.Verdict.STRUCK_OFF)
    cycles.review_item_set(actor=world.secretary, item=items[open_case.pk], verdict=ReviewItem.Verdict.CARRIED_OVER,
                           reason="需协调产权单位")
    review = cycles.quarterly_review_finalize(actor=world.secretary, review=review)
    assert Case.objects.get(pk=done.pk).state == State.CLOSED
    f = review.figures
    assert (f["total"], f["struck_off"], f["carried_over"]) == (2, 1, 1)
    # The figures are the dashboard's, mapped by reports.figures_of: [key, label, value] rows.
    assert reports.figure(f, "counts", "reported") == 2 and reports.figure(f, "levels", "level2") == 1
    assert reports.figure(f, "rates", "satisfaction_rate") == 1.0 and reports.figure(f, "counts", "followed_up") == 1

    document = Document(io.BytesIO(reports.quarterly_report_docx(review)))
    section = document.sections[0]
    assert round(section.top_margin.mm) == 37 and round(section.left_margin.mm) == 28
    title = document.paragraphs[0]
    assert title.text == reports.report_title(review)
    assert title.runs[0].font.size.pt == 22
    assert title.runs[0]._element.rPr.rFonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "方正小标宋简体"
    text = "\n".join(p.text for p in document.paragraphs)
    assert "季末逐项评估（已定稿）纳入群众诉求共2件" in text and "办结销号1件" in text and "需协调产权单位" in text
    assert "街道科室条线化解1件" in text and "有效回访1件" in text and "办结率" in text

    workbook = openpyxl.load_workbook(io.BytesIO(reports.quarterly_report_xlsx(review)))
    rows = list(workbook["逐项评估"].values)
    assert len(rows) == 3 and {r[5] for r in rows[1:]} == {"销号", "结转下季"}


def test_rates_from_rollups(world, catalogue):
    run_to_verified(world, file_case(world, catalogue), rating=Rating.SATISFIED)
    run_to_verified(world, file_case(world, catalogue), rating=Rating.BASIC, contacted=False)
    month = timezone.localdate().replace(day=1)
    end = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    rates = stats.totals(world.subdistrict.path, month, end)
    assert rates.counts["reported"] == 2 and rates.counts["followed_up"] == 2
    assert rates.resolution_rate == 1.0  # solved / followed up
    assert rates.satisfaction_rate == pytest.approx((1 + 0.9) / 2)
    assert rates.response_rate == 0.5  # contacted in time / followed up
    assert rates.composite == pytest.approx(0.1 * 0.5 + 0.5 * 1.0 + 0.4 * 0.95)  # the default 办件规则
    assert (rates.counts["due"], rates.counts["due_resolved"], rates.due_resolved_rate, rates.on_time_rate) == \
        (2, 2, 1.0, 1.0)
    # The sub-district's own 办件规则 weighs its scores; wider scopes keep the default row.
    CasePolicy.objects.create(subdistrict=world.subdistrict, weight_response=Decimal("0.3"),
                              weight_resolution=Decimal("0.35"), weight_satisfaction=Decimal("0.35"),
                              weight_basic=Decimal("0.8"))
    caching.clear()
    weighted = stats.totals(world.grid.path, month, end)
    assert weighted.satisfaction_rate == pytest.approx((1 + 0.8) / 2)
    assert weighted.composite == pytest.approx(0.3 * 0.5 + 0.35 * 1.0 + 0.35 * 0.9)
    ranking = stats.ranking(world.subdistrict.path, month, end)
    assert [r["unit_name"] for r in ranking] == ["东门第一网格"]
    assert stats.totals(world.village.path, month, end).satisfaction_rate is None  # nothing there: no rate
    by_community = stats.ranking(world.subdistrict.path, month, end, by="community")
    assert by_community[0]["unit_name"] == "东门社区"


def test_agenda_lists_repeated_cases_by_place_and_by_merged_duplicates(world, catalogue):
    survivor = file_case(world, catalogue, title="垃圾堆放")
    duplicate = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None,
                          title="同一堆垃圾", category=catalogue["dispute"])
    case_act(actor=world.secretary, case=duplicate, action=Action.MERGE, into=survivor)
    # two of one category in one grid without a building: repeated too
    in_grid = [file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None,
                         title=f"路面垃圾{n}") for n in (1, 2)]
    old = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None, title="半年前")
    Case.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=200))
    meeting = cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=timezone.localdate())
    agenda = {i.case_id: i.why for i in meeting.items.all()}
    assert agenda == {survivor.pk: "重复反映（并入1件）", in_grid[0].pk: "重复反映（同网格同类2件）",
                      in_grid[1].pk: "重复反映（同网格同类2件）"}
    assert AuditEvent.objects.filter(action="cases.deliberation.create").count() == 1
