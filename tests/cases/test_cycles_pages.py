"""The 红色网格 cycle on the staff pages, as named users: 周集, 月议 (agenda, attendance, one decision per
item with an owner and a deadline, shown on the case page and in the owner's task list), 季末逐项评估销号
and the 季报告 of a community and of the sub-district (docx in the GB/T 9704 layout, xlsx, every figure the
dashboard's). A place or object outside the user's scope answers 404; a write the role lacks, 403."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone
from docx import Document
from docx.oxml.ns import qn

from jiedao.cases.cycles import reports
from jiedao.cases.cycles import services as cycles
from jiedao.cases.models import Case, Deliberation, DeliberationItem, QuarterlyReview, ReviewItem, State
from jiedao.cases.statistics import stats
from jiedao.core.models import AuditEvent
from jiedao.core.permissions import Role
from tests.cases.test_cycles import run_to_verified, this_quarter
from tests.cases.test_workflow import file_case


def html(response) -> str:
    return response.content.decode()


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def staff(world):
    """A community staff member of 东门社区 (another possible decision owner)."""
    from tests.conftest import _user

    return _user(world.admin, "staff", "刘干事", world.community, Role.COMMUNITY_STAFF, world.community)


# --- menu -----------------------------------------------------------------------------------------


def test_menu_shows_the_cycle_to_the_roles_that_hold_it(client, world):
    client.force_login(world.secretary)
    page = html(client.get(reverse("home")))
    assert "红色网格" in page
    for name in ("cases:cycles_weekly", "cases:cycles_meetings", "cases:cycles_reviews", "cases:cycles_report"):
        assert f'href="{reverse(name)}"' in page
    client.force_login(world.worker)
    page = html(client.get(reverse("home")))
    assert f'href="{reverse("cases:cycles_weekly")}"' in page
    assert f'href="{reverse("cases:cycles_meetings")}"' not in page  # meetings are a community's
    assert f'href="{reverse("cases:cycles_decisions")}"' not in page  # until the worker owns a decision
    client.force_login(world.handler)
    assert "红色网格" not in html(client.get(reverse("home")))
    assert client.get(reverse("cases:cycles_weekly")).status_code == 403


# --- 周集 -----------------------------------------------------------------------------------------


def test_weekly_digest_page_per_place_and_regenerate(client, world, catalogue):
    file_case(world, catalogue)
    file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None, title="路灯不亮", category=catalogue["dispute"])
    client.force_login(world.secretary)
    week = timezone.localdate()
    url = reverse("cases:cycles_weekly")
    page = html(client.get(url, {"node": world.community.pk, "week": week.isoformat()}))
    assert "这一周还没有周集" in page or "尚未生成" in page
    response = client.post(reverse("cases:cycles_weekly_generate"), {"node": world.community.pk, "week": week.isoformat()})
    assert response.status_code == 302
    page = html(client.get(response["Location"]))
    assert "东门第一网格" in page and "东门第二网格" in page  # by grid
    assert "暴露垃圾" in page and "邻里纠纷" in page  # by category
    assert "楼下垃圾三天没人清运" in page and "重新生成" in page
    event = AuditEvent.objects.get(action="cases.digest.generate")
    assert event.actor_id == world.secretary.pk and event.after["new"] == 2
    # places outside the scope answer 404; the worker's own grid is the default
    assert client.get(url, {"node": world.village.pk}).status_code == 404
    client.force_login(world.worker)
    response = client.get(url)
    assert response.status_code == 200 and response.context["node"] == world.grid
    assert client.get(url, {"node": world.community.pk}).status_code == 404
    assert client.post(reverse("cases:cycles_weekly_generate"), {"node": world.other_grid.pk}).status_code == 404


def test_weekly_digest_lists_what_is_still_open(world, catalogue):
    old = file_case(world, catalogue, title="上周的事")
    Case.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    digest = cycles.weekly_digest_generate(node=world.grid, week_start=timezone.localdate())
    assert digest.data["carried_over"] == 1 and [c["title"] for c in digest.data["open_cases"]] == ["上周的事"]
    assert digest.data["area_level"] == "building" and digest.data["by_area"] == []
    from jiedao.core.scheduler import JOBS

    assert any(job.name == "weekly_digests" and job.path.endswith("weekly_digests_generate_all") for job in JOBS)


# --- 月议 -----------------------------------------------------------------------------------------


def _prepare(client, world):
    response = client.post(reverse("cases:cycles_meeting_prepare"),
                           {"community": world.community.pk, "month": f"{timezone.localdate():%Y-%m}"})
    assert response.status_code == 302, html(response)
    return Deliberation.objects.get(community=world.community, month=timezone.localdate().replace(day=1))


def _record(meeting, **decisions):
    data = {"held_at": f"{timezone.localdate():%Y-%m-%d}T19:00", "location": "社区议事厅", "host": "王书记",
            "attendee_name": ["李大爷", "", "张网格"], "attendee_role": ["居民代表", "", "网格员"], "summary": "议定两项"}
    for item in meeting.items.all():
        data.update({f"decision_{item.pk}": "", f"owner_{item.pk}": "", f"due_{item.pk}": ""})
    for pk, (text, owner, due) in decisions.items():
        data.update({f"decision_{pk}": text, f"owner_{pk}": owner.pk if owner else "", f"due_{pk}": due})
    return data


def test_meeting_agenda_attendance_decisions_and_minutes(client, world, catalogue, staff):
    hard = file_case(world, catalogue, title="多部门推诿的违建", category=catalogue["dispute"])
    Case.objects.filter(pk=hard.pk).update(difficult=True)
    first = file_case(world, catalogue, title="垃圾又堆了")
    second = file_case(world, catalogue, title="垃圾还是没人清")  # same category, same building: repeated
    lone = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None, title="单独一件")
    client.force_login(world.secretary)
    meeting = _prepare(client, world)
    agenda = {i.case_id: i.why for i in meeting.items.all()}
    assert agenda == {hard.pk: "疑难", first.pk: "重复反映（同楼栋同类2件）", second.pk: "重复反映（同楼栋同类2件）"}
    url = reverse("cases:cycles_meeting", args=[meeting.pk])
    page = html(client.get(url))
    assert "多部门推诿的违建" in page and 'name="attendee_name"' in page and "张网格（网格员 · 东门第一网格）" in page

    # add by ticket, remove by hand
    response = client.post(reverse("cases:cycles_meeting_add", args=[meeting.pk]), {"ticket": lone.ticket, "why": "居民联名"})
    assert response.status_code == 302 and meeting.items.filter(case=lone, why="居民联名").exists()
    # each item's owner picker offers who can open its case: the community's staff, its grid's workers
    pickers = {i.case_id: {label.split("（")[0] for _pk, label in i.owners}
               for i in client.get(url).context["items"]}
    assert pickers[lone.pk] == {"王书记", "刘干事", "赵网格"} and pickers[hard.pk] == {"王书记", "刘干事", "张网格"}
    missing = client.post(reverse("cases:cycles_meeting_add", args=[meeting.pk]), {"ticket": "NOPE-1"})
    assert missing.status_code == 400 and "没有找到编号为" in html(missing)
    item = meeting.items.get(case=second)
    assert client.post(reverse("cases:cycles_meeting_remove", args=[meeting.pk, item.pk])).status_code == 302
    assert not meeting.items.filter(case=second).exists()
    assert AuditEvent.objects.filter(action="cases.deliberation.item_remove").count() == 1

    items = {i.case_id: i for i in meeting.items.all()}
    due = (timezone.localdate() + timedelta(days=20)).isoformat()
    # a decision needs an owner from the community and a deadline
    no_owner = client.post(reverse("cases:cycles_meeting_save", args=[meeting.pk]),
                           _record(meeting, **{str(items[hard.pk].pk): ("联合执法", None, due)}))
    assert no_owner.status_code == 400 and "需要跟进责任人" in html(no_owner) and "联合执法" in html(no_owner)
    no_due = client.post(reverse("cases:cycles_meeting_save", args=[meeting.pk]),
                         _record(meeting, **{str(items[hard.pk].pk): ("联合执法", world.worker, "")}))
    assert no_due.status_code == 400 and "需要完成时限" in html(no_due)
    outsider = client.post(reverse("cases:cycles_meeting_save", args=[meeting.pk]),
                           _record(meeting, **{str(items[hard.pk].pk): ("联合执法", world.village_worker, due)}))
    assert outsider.status_code == 400 and "责任人须是本社区" in html(outsider)
    other_grid = client.post(reverse("cases:cycles_meeting_save", args=[meeting.pk]),
                             _record(meeting, **{str(items[hard.pk].pk): ("联合执法", world.other_worker, due)}))
    assert other_grid.status_code == 400 and "赵网格 看不到事项" in html(other_grid)  # not the case's grid
    nameless = _record(meeting)
    nameless["attendee_name"], nameless["attendee_role"] = ["", "李大爷"], ["居民代表", ""]
    response = client.post(reverse("cases:cycles_meeting_save", args=[meeting.pk]), nameless)
    assert response.status_code == 400 and "第 1 位参会人员缺少姓名" in html(response)

    data = _record(meeting, **{str(items[hard.pk].pk): ("联合城建办现场拆除", world.worker, due),
                               str(items[first.pk].pk): ("物业每日清运两次", staff, due)})
    response = client.post(reverse("cases:cycles_meeting_save", args=[meeting.pk]), {**data, "hold": "1"})
    assert response.status_code == 302, html(response)
    meeting.refresh_from_db()
    assert meeting.status == Deliberation.Status.HELD
    assert meeting.attendees == [{"name": "李大爷", "role": "居民代表"}, {"name": "张网格", "role": "网格员"}]
    decided = {i.case_id: i for i in meeting.items.exclude(decision="")}
    assert decided[hard.pk].owner_user == world.worker and decided[hard.pk].owner == "张网格"
    assert decided[first.pk].owner_user == staff and str(decided[first.pk].due_date) == due
    assert AuditEvent.objects.filter(action="cases.case.deliberated").count() == 2
    # held: nothing changes any more
    late = client.post(reverse("cases:cycles_meeting_add", args=[meeting.pk]), {"ticket": second.ticket})
    assert late.status_code == 400 and "已召开" in html(late)
    page = html(client.get(url))
    assert "联合城建办现场拆除" in page and "张网格" in page and 'name="decision_' not in page

    minutes = client.get(reverse("cases:cycles_meeting_minutes", args=[meeting.pk]))
    document = Document(io.BytesIO(body(minutes)))
    text = "\n".join(p.text for p in document.paragraphs)
    assert document.paragraphs[0].text.endswith("居民代表协商议事会纪要")
    assert "李大爷（居民代表）" in text and "联合城建办现场拆除" in text and "责任人：张网格" in text
    assert f"完成时限：{reports.cn_date(date.fromisoformat(due))}" in text
    assert_gbt9704(document)


def test_meeting_pages_are_scoped(client, world, catalogue):
    client.force_login(world.secretary)
    meeting = _prepare(client, world)
    url = reverse("cases:cycles_meeting", args=[meeting.pk])
    client.force_login(world.worker)  # sees its grid, not the community's meetings
    assert client.get(url).status_code == 404
    assert client.post(reverse("cases:cycles_meeting_save", args=[meeting.pk]), _record(meeting)).status_code == 404
    assert client.get(reverse("cases:cycles_meetings")).status_code == 403
    assert client.get(reverse("cases:cycles_meetings"), {"community": world.community.pk}).status_code == 404
    client.force_login(world.village_worker)
    assert client.get(url).status_code == 404
    client.force_login(world.leader)  # the sub-district sees every community's meetings
    assert client.get(url).status_code == 200
    assert client.get(reverse("cases:cycles_meetings"), {"community": world.village.pk}).status_code == 200


def test_decision_owner_sees_it_on_home_and_case_page_and_marks_it_done(client, world, catalogue,
                                                                         django_capture_on_commit_callbacks):
    case = file_case(world, catalogue, title="楼道堆物", category=catalogue["dispute"])
    Case.objects.filter(pk=case.pk).update(difficult=True)
    meeting = cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=timezone.localdate())
    item = meeting.items.get()
    yesterday = timezone.localdate() - timedelta(days=1)
    menu_entry = f'<li><a href="{reverse("cases:cycles_decisions")}"'
    client.force_login(world.worker)  # no decision yet: no menu entry (and the answer is cached)
    assert menu_entry not in html(client.get(reverse("home")))
    with django_capture_on_commit_callbacks(execute=True):  # holding the meeting forgets the cached answer
        cycles.deliberation_record(actor=world.secretary, meeting=meeting, held_at=timezone.now(), location="",
                                   host="", attendees=[{"name": "李大爷", "role": "居民代表"}], summary="",
                                   decisions={item.pk: {"decision": "三天内清理楼道", "owner_user": world.worker.pk,
                                                        "due_date": yesterday}})
    home = html(client.get(reverse("home")))
    assert "我的月议事项" in home and "楼道堆物" in home and "三天内清理楼道" in home
    assert yesterday.isoformat() in home and "已超期" in home
    assert menu_entry in home  # the menu entry, now that the worker owns one
    detail = html(client.get(reverse("cases:detail", args=[case.pk])))
    assert "月议议定" in detail and "三天内清理楼道" in detail and "张网格" in detail and yesterday.isoformat() in detail
    assert "已超期" in detail
    client.force_login(world.other_worker)  # neither the owner nor in the community's scope
    assert client.post(reverse("cases:cycles_decision_done", args=[item.pk])).status_code == 404
    client.force_login(world.worker)
    response = client.post(reverse("cases:cycles_decision_done", args=[item.pk]), {"next": reverse("home")})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    item.refresh_from_db()
    assert item.completed_at is not None
    event = AuditEvent.objects.get(action="cases.deliberation.item_done")
    assert event.actor_id == world.worker.pk and event.object_id == str(case.pk)
    assert "cw-decisions" not in html(client.get(reverse("home")))  # the widget: nothing open any more
    assert "已落实" in html(client.get(reverse("cases:cycles_decisions")))
    assert "已落实" in html(client.get(reverse("cases:detail", args=[case.pk])))


# --- 季末逐项评估销号 ---------------------------------------------------------------------------------


def test_review_page_strikes_off_and_carries_over_item_by_item(client, world, catalogue):
    done = run_to_verified(world, file_case(world, catalogue, title="已核查的垃圾"))
    Case.objects.filter(pk=done.pk).update(state=State.VERIFIED)  # verified, not yet closed by the follow-up
    open_case = file_case(world, catalogue, title="还在办理", category=catalogue["dispute"])
    year, quarter = this_quarter()
    client.force_login(world.secretary)
    response = client.post(reverse("cases:cycles_review_prepare"),
                           {"community": world.community.pk, "quarter": f"{year}-Q{quarter}"})
    assert response.status_code == 302
    review = QuarterlyReview.objects.get(community=world.community, year=year, quarter=quarter)
    url = reverse("cases:cycles_review", args=[review.pk])
    page = html(client.get(url))
    assert "已核查的垃圾" in page and "还在办理" in page and "待评估" in page
    items = {i.case_id: i for i in review.items.all()}
    item_url = lambda case: reverse("cases:cycles_review_item", args=[review.pk, items[case.pk].pk])  # noqa: E731

    refused = client.post(item_url(open_case), {"verdict": "struck_off"})
    assert refused.status_code == 400 and "尚未核查办结" in html(refused)
    no_reason = client.post(item_url(open_case), {"verdict": "carried_over", "reason": ""}, HTTP_HX_REQUEST="true")
    assert no_reason.status_code == 400 and "结转下季需说明原因" in html(no_reason)
    early = client.post(reverse("cases:cycles_review_finalize", args=[review.pk]))
    assert early.status_code == 400 and "未评估" in html(early)
    struck = client.post(item_url(done), {"verdict": "struck_off", "reason": "居民确认已清运"}, HTTP_HX_REQUEST="true")
    assert struck.status_code == 200
    assert "verdict-struck_off" in html(struck) and 'id="review-counts" hx-swap-oob="true"' in html(struck)
    carried = client.post(item_url(open_case), {"verdict": "carried_over", "reason": "需协调产权单位", "next": url})
    assert carried.status_code == 302 and carried["Location"] == url
    assert AuditEvent.objects.filter(action="cases.review.item").count() == 2

    client.force_login(world.worker)  # a grid worker does not see the community's review
    assert client.get(url).status_code == 404
    client.force_login(world.leader)  # the leader reads it but may not close cases
    assert client.get(url).status_code == 200
    assert client.post(reverse("cases:cycles_review_finalize", args=[review.pk])).status_code == 403
    client.force_login(world.secretary)
    response = client.post(reverse("cases:cycles_review_finalize", args=[review.pk]))
    assert response.status_code == 302 and reverse("cases:cycles_report") in response["Location"]
    review.refresh_from_db()
    assert review.status == QuarterlyReview.Status.FINALIZED
    assert Case.objects.get(pk=done.pk).state == State.CLOSED
    assert set(review.items.values_list("verdict", flat=True)) == {ReviewItem.Verdict.STRUCK_OFF,
                                                                   ReviewItem.Verdict.CARRIED_OVER}
    again = client.post(item_url(done), {"verdict": "carried_over", "reason": "x"})
    assert again.status_code == 400 and "该季度评估已定稿" in html(again)


# --- 季报告 -------------------------------------------------------------------------------------------


def assert_gbt9704(document) -> None:
    """A4, margins 37/35/28/26 mm, 仿宋 3号 body on a fixed 28.95 pt line, 小标宋 2号 centred title,
    the document grid of 22 lines × 28 characters, and "— N —" page numbers at the foot."""
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin, section.left_margin,
                                  section.right_margin)] == [37, 35, 28, 26]
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:linePitch")) == "579"
    title = document.paragraphs[0]
    assert title.alignment == 1 and title.runs[0].font.size.pt == 22
    assert title.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == reports.TITLE_FONT
    fonts = {r._element.rPr.rFonts.get(qn("w:eastAsia")) for p in document.paragraphs[2:] for r in p.runs}
    assert reports.BODY_FONT in fonts
    body_paragraph = next(p for p in document.paragraphs[2:] if p.runs and p.runs[0]._element.rPr.rFonts.get(
        qn("w:eastAsia")) == reports.BODY_FONT)
    assert body_paragraph.runs[0].font.size.pt == 16
    assert body_paragraph.paragraph_format.line_spacing.pt == pytest.approx(28.95, abs=0.05)
    for paragraph in document.paragraphs:
        if paragraph.text.startswith(("一、", "二、")):
            assert paragraph.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == reports.HEADING1_FONT
        if re.match(r"（[一二三四五六七八九十]+）", paragraph.text):
            assert paragraph.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == reports.HEADING2_FONT
    footer = section.footer.paragraphs[0]
    assert footer.text.startswith("— ") and footer.text.endswith(" —")
    assert "PAGE" in footer._p.xml and footer.runs[0].font.size.pt == 14
    assert section.even_page_footer.paragraphs[0].alignment == 0 and footer.alignment == 2


def _quarter_cases(world, catalogue):
    """Three cases this quarter: one closed through the follow-up, one accepted, one just reported."""
    closed = run_to_verified(world, file_case(world, catalogue, title="已结案"))
    accepted = file_case(world, catalogue, title="已受理", category=catalogue["dispute"])
    from jiedao.cases.services import case_act
    from jiedao.cases.workflow import Action

    case_act(actor=world.secretary, case=accepted, action=Action.ACCEPT)
    file_case(world, catalogue, actor=world.village_worker, node=world.village_grid, building=None, title="村里的事")
    return closed


def _docx_text(response) -> str:
    document = Document(io.BytesIO(body(response)))
    assert_gbt9704(document)
    return "\n".join(p.text for p in document.paragraphs)


def test_reports_equal_the_dashboard_and_an_independent_count(client, world, catalogue):
    _quarter_cases(world, catalogue)
    year, quarter = this_quarter()
    start, end = cycles.quarter_bounds(year, quarter)
    client.force_login(world.leader)
    for node in (world.subdistrict, world.community):
        params = {"node": node.pk, "quarter": f"{year}-Q{quarter}"}
        figures = reports.figures_of(stats.totals(node.path, start, end))
        page = client.get(reverse("cases:cycles_report"), params)
        assert page.status_code == 200 and page.context["figures"] == figures
        # the dashboard's own tiles for the same scope (all of this test's cases are in this month,
        # so the dashboard's last three months and the quarter hold the same cases)
        dashboard = client.get(reverse("cases:dashboard"), {"node": node.pk, "months": 3}).context
        tiles = {t["label"]: t["value"] for t in dashboard["counts"]}
        tiles.update({t["label"]: t["text"] for t in dashboard["rate_tiles"]})
        shown = {label: value for _k, label, value in figures["counts"]}
        shown.update({label: reports.percent(value) for _k, label, value in figures["rates"]})
        assert tiles and all(shown[label] == value for label, value in tiles.items()), (tiles, shown)

        text = _docx_text(client.get(reverse("cases:cycles_report_download", args=["docx"]), params))
        for _key, label, value in figures["counts"]:
            assert f"{label}{value}件" in text
        for _key, label, value in figures["rates"]:
            assert f"{label}{reports.percent(value)}" in text
        workbook = openpyxl.load_workbook(io.BytesIO(body(
            client.get(reverse("cases:cycles_report_download", args=["xlsx"]), params))))
        summary = {row[0]: row[1] for row in workbook["汇总"].iter_rows(min_row=2, values_only=True)}
        for _key, label, value in figures["counts"]:
            assert summary[label] == value
        for _key, label, value in figures["rates"]:
            assert summary[label] == reports.percent(value)

        # An independent count from the case table (LEAD: adjust these labels if the counters are
        # renamed; 登记 = filed in the quarter, 受理 = accepted in it, 结案 = closed in it). The cases
        # here are all filed, accepted and closed this month and none is rejected or merged, so
        # the rollups before issue 11's recount agree too; on the demo they do not (受理 has no
        # accepted_at in the seed; 结案 counted by creation month) — what helper "figures" fixes.
        cases = Case.objects.filter(org_path__startswith=node.path)
        begin, stop = cycles._local_midnight(start), cycles._local_midnight(end)
        independent = {
            "登记": cases.filter(created_at__gte=begin, created_at__lt=stop).count(),
            "受理": cases.filter(accepted_at__gte=begin, accepted_at__lt=stop).count(),
            "结案": cases.filter(closed_at__gte=begin, closed_at__lt=stop).count(),
        }
        for label, count in independent.items():
            if label in shown:
                assert shown[label] == count, (node.name, label)
                assert f"{label}{count}件" in text


def test_subdistrict_report_for_the_leader_and_circulated_to_its_communities(client, world, catalogue):
    _quarter_cases(world, catalogue)
    year, quarter = this_quarter()
    review = cycles.quarterly_review_prepare(actor=world.secretary, community=world.community, year=year,
                                             quarter=quarter)
    params = {"node": world.subdistrict.pk, "quarter": f"{year}-Q{quarter}"}
    client.force_login(world.worker)  # a grid worker has no report
    assert client.get(reverse("cases:cycles_report")).status_code == 403
    assert client.get(reverse("cases:cycles_report"), params).status_code == 404
    client.force_login(world.secretary)  # the community's own report, and the sub-district's (circulated)
    response = client.get(reverse("cases:cycles_report"))
    assert response.status_code == 200 and response.context["node"] == world.community
    assert client.get(reverse("cases:cycles_report"), {"node": world.village.pk}).status_code == 404
    page = html(client.get(reverse("cases:cycles_report"), params))
    assert f'?node={world.community.pk}&' in page and f'?node={world.village.pk}&' not in page  # links only in scope
    text = _docx_text(client.get(reverse("cases:cycles_report_download", args=["docx"]), params))
    assert "村里的事" not in text and "已受理" not in text  # no case of any community in the circulated report
    assert client.get(reverse("cases:cycles_report"), {"node": world.community.pk}).status_code == 200
    client.force_login(world.leader)
    response = client.get(reverse("cases:cycles_report"))
    assert response.context["node"] == world.subdistrict  # the leader's default: the whole sub-district
    page = html(response)
    assert "东门社区" in page and "横塘村" in page and "评估中" in page and "未开展" in page
    text = _docx_text(client.get(reverse("cases:cycles_report_download", args=["docx"]), params))
    assert text.startswith(f"丹西街道{reports.quarter_name(year, quarter)}群众诉求办理情况报告")
    assert "四、各社区（村）情况" in text and "（一）" in text and "横塘村" in text
    assert f"季末评估{review.items.count()}件" in text
    workbook = openpyxl.load_workbook(io.BytesIO(body(
        client.get(reverse("cases:cycles_report_download", args=["xlsx"]), params))))
    rows = list(workbook["各社区（村）"].values)
    assert {r[1] for r in rows[1:]} == {"东门社区", "横塘村"}
    assert client.get(reverse("cases:cycles_report_download", args=["pdf"]), params).status_code == 404


def test_a_decision_owner_must_belong_to_the_community(world, catalogue):
    case = file_case(world, catalogue)
    meeting = cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=timezone.localdate())
    item = cycles.deliberation_add_case(actor=world.secretary, meeting=meeting, case=case)
    from jiedao.core.errors import DomainError

    with pytest.raises(DomainError) as exc:
        cycles.deliberation_update(actor=world.secretary, meeting=meeting, decisions={
            item.pk: {"decision": "x", "owner_user": world.handler.pk, "due_date": timezone.localdate()}})
    assert exc.value.field == "decisions"
    assert DeliberationItem.objects.get(pk=item.pk).owner_user is None


def test_api_decision_with_an_owner_account(world, catalogue, as_):
    case = file_case(world, catalogue, category=catalogue["dispute"])
    Case.objects.filter(pk=case.pk).update(difficult=True)
    meeting = cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=timezone.localdate())
    item = meeting.items.get()
    record = {"held_at": f"{timezone.localdate()}T19:00:00", "attendees": [{"name": "李大爷", "role": "居民代表"}],
              "decisions": [{"item": item.pk, "decision": "楼道清理", "owner_user": world.worker.pk,
                             "due_date": str(timezone.localdate())}]}
    response = as_(world.secretary).post(f"/cases/deliberations/{meeting.pk}/record", record)
    assert response.status_code == 200, response.content
    decided = response.json()["items"][0]
    assert (decided["owner"], decided["owner_user_id"], decided["completed_at"]) == ("张网格", world.worker.pk, None)
