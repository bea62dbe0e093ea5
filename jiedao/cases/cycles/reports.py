"""The documents of the 红色网格 cycle: the 季报告 (quarterly report) of a community or of a whole
sub-district, as a docx in the official-document layout (GB/T 9704) and as xlsx, and the 月议
纪要 (minutes of a monthly deliberation) as a docx in the same layout.

Layout (GB/T 9704-2012): A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm (版心
156 × 225 mm); title 2号 (22 pt) 小标宋 centred; body 3号 (16 pt) 仿宋 on a fixed 28.95 pt line —
22 lines a page, 28 characters a line (the body's characters condensed by 0.2 pt to fit); first-level headings
黑体 "一、", second-level 楷体 "（一）"; page numbers "— 1 —" in 4号 (14 pt) at the foot, odd
pages on the right and even pages on the left, one character in. The docx names the fonts
Chinese offices have (方正小标宋简体, 仿宋_GB2312, 黑体, 楷体_GB2312) and records a fallback for
each in its font table; on Linux, deploy/fontconfig/65-jiedao-gbt9704.conf maps them to the faces
dev.sh installs, so LibreOffice renders them (docs/operator-guide.md).

Figures: every count and rate is read through jiedao.cases.statistics.stats — the functions the
dashboard (驾驶舱) reads — and mapped in ONE function, `figures_of`, with the dashboard's own
labels, so a report and the dashboard agree for the same scope and quarter.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone, translation
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from jiedao.cases import reading
from jiedao.cases.cycles.services import quarter_bounds
from jiedao.cases.models import Deliberation, Level, QuarterlyReview, ReviewItem, State, Tier
from jiedao.cases.statistics import stats
from jiedao.core.text import xml_text
from jiedao.org.models import NodeKind, OrgNode

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"
# What Word substitutes when a machine lacks the official face (recorded in the font table).
FONT_FALLBACKS = {TITLE_FONT: "宋体", BODY_FONT: "仿宋", HEADING1_FONT: "SimHei", HEADING2_FONT: "楷体",
                  PAGE_NUMBER_FONT: "SimSun"}
TITLE_SIZE = 22  # 2号
BODY_SIZE = 16  # 3号
PAGE_NUMBER_SIZE = 14  # 4号
LINE_PITCH = 28.95  # pt: 22 lines on the 225 mm 版心
# 28 characters of 16 pt on the 156 mm line: each character 15.79 pt wide, so the body's runs are
# condensed by 0.2 pt (w:spacing, in twentieths of a point). A character grid ("linesAndChars")
# would say the same to Word but makes LibreOffice put every larger or fallback glyph on two cells.
CHAR_CONDENSE = -4
_CN_NUMBERS = "一二三四五六七八九十"


def cn_number(n: int) -> str:
    """1 → 一 … 10 → 十, 11 → 十一 … 99 (heading numbers)."""
    if n <= 10:
        return _CN_NUMBERS[n - 1]
    tens, ones = divmod(n, 10)
    return f"{'' if tens == 1 else _CN_NUMBERS[tens - 1]}十{_CN_NUMBERS[ones - 1] if ones else ''}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


# --- figures: the one mapping from the statistics to the reports ---------------------------------------

LEVEL_NAMES = {f"level{level.value}": str(level.label) for level in Level}


REPORTED_BASES = ("due", "due_resolved", "followed_up")


def figures_of(rates: stats.Rates) -> dict[str, list[list[Any]]]:
    """THE mapping of the rollup figures into the reports — the only place naming counters and rates.

    Counts and rates are the dashboard's own tiles (jiedao.cases.statistics.views COUNT_FIELDS
    and RATE_FIELDS: the same keys read from the same `stats.Rates`, under the same Chinese
    labels), the composite score of the rankings, and the resolution levels
    (`stats.levels_from`). Each list holds [key, label, value] rows, JSON-ready (a finalized
    review stores them). When the counters or rates are renamed, this function is the one to adapt."""
    from jiedao.cases.models import COUNTER_LABELS
    from jiedao.cases.statistics.views import COUNT_FIELDS, RATE_FIELDS

    labels = dict(COUNTER_LABELS)
    with translation.override("zh-hans"):
        counts = [[key, str(label), int(rates.counts[key])] for key, label, *_note in COUNT_FIELDS]
        # The denominators the rates divide by, so a reader can check every rate.
        counts += [[key, str(labels[key]), int(rates.counts[key])] for key in REPORTED_BASES]
        rate_rows = [[key, str(label), getattr(rates, key)] for key, label, *_parts in RATE_FIELDS]
    levels = stats.levels_from(rates)
    return {"counts": counts, "rates": rate_rows,
            "levels": [[key, name, int(levels.get(key, 0))] for key, name in LEVEL_NAMES.items()]}


def scope_figures(path: str, start: date, end: date) -> dict[str, list[list[Any]]]:
    """The figures of everything under `path` for the months in [start, end): stats.totals, the
    dashboard's reader."""
    return figures_of(stats.totals(path, start, end))


def figure(figures: dict[str, list[list[Any]]], group: str, key: str) -> Any:
    """One value of a figures dict by its key (None if that figure is not reported)."""
    return next((row[2] for row in figures.get(group, []) if row[0] == key), None)


def _counts_sentence(figures: dict[str, list[list[Any]]]) -> str:
    return "，".join(f"{label}{value}件" for _key, label, value in figures["counts"])


def _rates_sentence(figures: dict[str, list[list[Any]]]) -> str:
    return "，".join(f"{label}{percent(value)}" for _key, label, value in figures["rates"])


def _levels_sentence(figures: dict[str, list[list[Any]]]) -> str:
    return "，".join(f"{label}{value}件" for _key, label, value in figures["levels"])


# --- the reports --------------------------------------------------------------------------------------


@dataclass
class Sheet:
    name: str
    header: list[str]
    rows: list[list[Any]]
    widths: list[int] = field(default_factory=list)


@dataclass
class Report:
    """A document ready to render: title, (style, text) paragraphs — style "h1", "h2" or
    "body" —, the issuing unit and date, the figures, and the xlsx sheets."""

    title: str
    paragraphs: list[tuple[str, str]]
    issuer: str
    day: date
    figures: dict[str, Any] = field(default_factory=dict)
    sheets: list[Sheet] = field(default_factory=list)
    filename: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # what the page shows besides the text


def quarter_name(year: int, quarter: int) -> str:
    return f"{year}年第{_CN_NUMBERS[quarter - 1]}季度"


def _quarter_title(node: OrgNode, year: int, quarter: int) -> str:
    return f"{node.name}{quarter_name(year, quarter)}群众诉求办理情况报告"


def report_title(review: QuarterlyReview) -> str:
    return _quarter_title(review.community, review.year, review.quarter)


def _hotspot_paragraphs(spots: list[dict[str, Any]], empty: str, *, cases: bool = True) -> list[tuple[str, str]]:
    """One line per hotspot; with `cases`, its two typical requests (a sub-district's report,
    circulated to its communities, names none)."""
    if not spots:
        return [("body", empty)]
    out = []
    for index, spot in enumerate(spots, start=1):
        titles = "；".join(f"{c['title']}（{c['ticket']}）" for c in spot["cases"][:2]) if cases else ""
        out.append(("body", f"{index}. {spot['area']}“{spot['category']}”{spot['size']}件，较上季度{spot['growth']}，"
                            f"反映人{spot['reporters']}人，重复反映{spot['reposts']}件，催办{spot['chases']}次。"
                            + (f"典型诉求：{titles}。" if titles else "")))
    return out


def _hotspot_sheet(spots: list[dict[str, Any]], *, cases: bool = True) -> Sheet:
    header = ["地区", "类别", "件数", "上季度", "增长", "反映人", "重复反映", "催办", "未结"]
    rows = [[s["area"], s["category"], s["size"], s["previous"], s["growth"], s["reporters"], s["reposts"],
             s["chases"], s["open"]] for s in spots]
    if cases:
        header.append("典型诉求")
        for row, spot in zip(rows, spots, strict=True):
            row.append("；".join(f"{c['ticket']} {c['title']}" for c in spot["cases"]))
    return Sheet("本季热点", header, rows, [16, 14, 8, 8, 8, 8, 10, 8, 8, 60][: len(header)])


def _summary_sheet(title: str, figures: dict[str, list[list[Any]]], extra: list[tuple[str, Any]]) -> Sheet:
    rows: list[list[Any]] = [[label, value] for label, value in extra]
    rows += [[label, value] for _key, label, value in figures["counts"]]
    rows += [[label, percent(value)] for _key, label, value in figures["rates"]]
    rows += [[label, value] for _key, label, value in figures["levels"]]
    return Sheet("汇总", [title, ""], rows, [24, 14])


def _category_sheet(categories: list[dict[str, Any]]) -> Sheet:
    return Sheet("事项类别", ["类别", "登记", "办结"], [[c["name"], c["reported"], c["resolved"]] for c in categories],
                 [24, 10, 10])


def _quarter_meetings(community_path_range: tuple[str, str], start: date, end: date):
    return Deliberation.objects.filter(community__path__range=community_path_range, month__gte=start, month__lt=end)


def _meeting_sentence(meetings) -> str:
    held = [m for m in meetings if m.status == Deliberation.Status.HELD]
    items = [i for m in held for i in m.items.all() if i.decision]
    done = sum(1 for i in items if i.completed_at)
    if not held:
        return "本季度未召开居民代表协商议事会（月议）。"
    return (f"本季度召开居民代表协商议事会（月议）{len(held)}次，形成议定事项{len(items)}项，"
            f"已落实{done}项，正在落实{len(items) - done}项。")


def community_report(community: OrgNode, year: int, quarter: int, review: QuarterlyReview | None = None) -> Report:
    """The 季报告 of one community (村) for a quarter: the figures (as the dashboard reads them),
    the quarter-end review's outcome item by item, 月议, carried-over items and hotspots."""
    from jiedao.core.scope import subtree_range

    start, end = quarter_bounds(year, quarter)
    if review is None:
        review = QuarterlyReview.objects.filter(community=community, year=year, quarter=quarter).first()
    figures = scope_figures(community.path, start, end)
    categories = stats.by_category(community.path, start, end, limit=8)
    items = list(review.items.select_related("case__category")) if review else []
    verdicts = Counter(i.verdict for i in items)
    struck, carried = verdicts.get(ReviewItem.Verdict.STRUCK_OFF, 0), verdicts.get(ReviewItem.Verdict.CARRIED_OVER, 0)
    pending = verdicts.get(ReviewItem.Verdict.PENDING, 0)
    last_day = date.fromordinal(end.toordinal() - 1)
    out: list[tuple[str, str]] = [
        ("h1", "一、总体情况"),
        ("body", f"本季度（{cn_date(start)}至{cn_date(last_day)}），{community.name}{_counts_sentence(figures)}；"
                 f"{_rates_sentence(figures)}。"),
    ]
    if review is None:
        out.append(("body", "本季度尚未开展季末逐项评估销号。"))
    else:
        state = "已定稿" if review.status == QuarterlyReview.Status.FINALIZED else "评估中"
        out.append(("body", f"季末逐项评估（{state}）纳入群众诉求共{len(items)}件，经逐项评估，办结销号{struck}件，"
                            f"结转下季度继续办理{carried}件" + (f"，待评估{pending}件" if pending else "")
                            + f"，销号率{percent(struck / len(items) if items else None)}。"))
    out.append(("h1", "二、诉求分类情况"))
    if categories:
        out.append(("body", "按事项类别分（本季度登记）：" + "，".join(f"{c['name']}{c['reported']}件" for c in categories)
                            + "。"))
    else:
        out.append(("body", "本季度没有登记群众诉求。"))
    tiers = Counter(str(Tier(i.case.tier).label) if i.case.tier else "未分流" for i in items)
    if tiers:
        out.append(("body", "纳入评估的事项按“三事分流”分：" + "，".join(f"{k}{v}件" for k, v in tiers.items()) + "。"))
    meetings = list(_quarter_meetings(subtree_range(community.path), start, end).prefetch_related("items"))
    out += [
        ("h1", "三、办理成效"),
        ("h2", "（一）三级调处"),
        ("body", f"按化解层级分：{_levels_sentence(figures)}。"),
        ("h2", "（二）月议协商"),
        ("body", _meeting_sentence(meetings)),
        ("h1", "四、结转事项"),
    ]
    carried_items = [i for i in items if i.verdict == ReviewItem.Verdict.CARRIED_OVER]
    if not carried_items:
        out.append(("body", "本季度无结转事项。" if review else "尚未评估，暂无结转事项。"))
    for index, item in enumerate(carried_items, start=1):
        out.append(("body", f"{index}. {item.case.title}（{item.case.ticket}）：{item.reason}"))
    out.append(("h1", "五、本季热点"))
    spots = reading.reader().hotspot_rows(community.path, period="quarter", level="grid", day=start, limit=5)
    out += _hotspot_paragraphs(spots, "本季度没有同一网格、同一类别集中反映两件以上的诉求。")

    title = _quarter_title(community, year, quarter)
    day = timezone.localdate(review.finalized_at) if review and review.finalized_at else timezone.localdate()
    sheets = [
        _summary_sheet(title, figures, [("评估事项", len(items)), ("销号", struck), ("结转下季", carried),
                                        ("待评估", pending)]),
        Sheet("逐项评估", ["编号", "标题", "类别", "分流", "状态", "结论", "说明"],
              [[i.case.ticket, i.case.title, i.case.category.name if i.case.category else "",
                str(Tier(i.case.tier).label) if i.case.tier else "", str(State(i.case.state).label),
                str(ReviewItem.Verdict(i.verdict).label), i.reason] for i in items],
              [20, 30, 14, 8, 10, 10, 40]),
        _category_sheet(categories),
        _hotspot_sheet(spots),
    ]
    return Report(title=title, paragraphs=out, issuer=community.name, day=day, figures=figures, sheets=sheets,
                  filename=title)


def subdistrict_quarter(subdistrict: OrgNode, year: int, quarter: int) -> dict[str, Any]:
    """The sub-district's quarter: its figures, and per community (村) its figures (the
    dashboard's community ranking), its quarter-end review's outcome and its 月议."""
    from jiedao.cases.cycles.selectors import review_counts
    from jiedao.core.scope import subtree_range

    start, end = quarter_bounds(year, quarter)
    communities = list(OrgNode.objects.filter(path__range=subtree_range(subdistrict.path), is_active=True,
                                              kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE)).order_by("path"))
    ranked = {row["unit_id"]: row for row in stats.ranking(subdistrict.path, start, end, by="community")}
    reviews = {r.community_id: r for r in QuarterlyReview.objects.filter(
        community__in=communities, year=year, quarter=quarter)}
    meetings: dict[int, list[Deliberation]] = {}
    for meeting in _quarter_meetings(subtree_range(subdistrict.path), start, end).prefetch_related("items"):
        meetings.setdefault(meeting.community_id, []).append(meeting)
    rows = []
    for community in communities:
        row = ranked.get(community.pk)
        review = reviews.get(community.pk)
        held = [m for m in meetings.get(community.pk, []) if m.status == Deliberation.Status.HELD]
        decided = [i for m in held for i in m.items.all() if i.decision]
        rows.append({
            "community": community,
            "position": row["position"] if row else None,
            "figures": figures_of(row["rates"] if row else stats.rates_from({})),
            "review": review,
            "review_counts": review_counts(review) if review else None,
            "meetings": len(held),
            "decisions": len(decided),
            "decisions_done": sum(1 for i in decided if i.completed_at),
        })
    rows.sort(key=lambda r: (r["position"] is None, r["position"] or 0, r["community"].path))
    return {"start": start, "end": end, "figures": scope_figures(subdistrict.path, start, end),
            "categories": stats.by_category(subdistrict.path, start, end, limit=10), "communities": rows}


def subdistrict_report(subdistrict: OrgNode, year: int, quarter: int) -> Report:
    """The 季报告 of a whole sub-district: its figures, each community's figures and review
    outcome, 月议 and hotspots — and no single case, as it is circulated to the communities."""
    data = subdistrict_quarter(subdistrict, year, quarter)
    figures, rows = data["figures"], data["communities"]
    start, end = data["start"], data["end"]
    last_day = date.fromordinal(end.toordinal() - 1)
    finalized = sum(1 for r in rows if r["review"] and r["review"].status == QuarterlyReview.Status.FINALIZED)
    started = sum(1 for r in rows if r["review"])
    out: list[tuple[str, str]] = [
        ("h1", "一、总体情况"),
        ("body", f"本季度（{cn_date(start)}至{cn_date(last_day)}），全街道{_counts_sentence(figures)}；"
                 f"{_rates_sentence(figures)}。"),
        ("body", f"全街道{len(rows)}个社区（村）中，{finalized}个已完成季末逐项评估销号并定稿，"
                 f"{started - finalized}个正在评估，{len(rows) - started}个尚未开展。"),
        ("h1", "二、诉求分类情况"),
    ]
    if data["categories"]:
        out.append(("body", "按事项类别分（本季度登记）：" + "，".join(
            f"{c['name']}{c['reported']}件" for c in data["categories"]) + "。"))
    else:
        out.append(("body", "本季度没有登记群众诉求。"))
    out += [("h1", "三、三级调处"), ("body", f"按化解层级分：{_levels_sentence(figures)}。"),
            ("h1", "四、各社区（村）情况")]
    for index, row in enumerate(rows, start=1):
        f = row["figures"]
        counts = row["review_counts"]
        review_text = ("尚未开展季末评估" if counts is None else
                       f"季末评估{counts['total']}件，销号{counts['struck_off']}件，结转{counts['carried_over']}件"
                       + (f"，待评估{counts['pending']}件" if counts["pending"] else "")
                       + ("（已定稿）" if row["review"].status == QuarterlyReview.Status.FINALIZED else "（评估中）"))
        meeting_text = (f"召开月议{row['meetings']}次，议定事项{row['decisions']}项、已落实{row['decisions_done']}项"
                        if row["meetings"] else "未召开月议")
        out.append(("h2", f"（{cn_number(index)}）{row['community'].name}"))
        out.append(("body", f"{_counts_sentence(f)}；{_rates_sentence(f)}。{review_text}；{meeting_text}。"))
    out.append(("h1", "五、本季热点"))
    spots = reading.reader().hotspot_rows(subdistrict.path, period="quarter", level="community", day=start, limit=5)
    out += _hotspot_paragraphs(spots, "本季度没有同一社区（村）、同一类别集中反映两件以上的诉求。", cases=False)

    title = _quarter_title(subdistrict, year, quarter)
    count_labels = [label for _k, label, _v in figures["counts"]]
    rate_labels = [label for _k, label, _v in figures["rates"]]
    sheets = [
        _summary_sheet(title, figures, [("社区（村）", len(rows)), ("已定稿评估", finalized)]),
        Sheet("各社区（村）", ["名次", "社区（村）", *count_labels, *rate_labels, "评估事项", "销号", "结转", "待评估",
                                "评估状态", "月议次数", "议定事项", "已落实"],
              [[r["position"] or "", r["community"].name, *[v for _k, _l, v in r["figures"]["counts"]],
                *[percent(v) for _k, _l, v in r["figures"]["rates"]],
                *((r["review_counts"]["total"], r["review_counts"]["struck_off"], r["review_counts"]["carried_over"],
                   r["review_counts"]["pending"], str(r["review"].get_status_display()))
                  if r["review_counts"] else ("", "", "", "", "未开展")),
                r["meetings"], r["decisions"], r["decisions_done"]] for r in rows],
              [6, 16, *[8] * len(count_labels), *[10] * len(rate_labels), 8, 8, 8, 8, 10, 8, 8, 8]),
        _category_sheet(data["categories"]),
        _hotspot_sheet(spots, cases=False),
    ]
    return Report(title=title, paragraphs=out, issuer=subdistrict.name, day=timezone.localdate(), figures=figures,
                  sheets=sheets, filename=title, data=data)


def quarter_report(node: OrgNode, year: int, quarter: int) -> Report:
    """The 季报告 of a community (村) or a sub-district (the caller checked the scope)."""
    if node.kind == NodeKind.SUBDISTRICT:
        return subdistrict_report(node, year, quarter)
    return community_report(node, year, quarter)


# Kept for the API: the report of a review.
def report_paragraphs(review: QuarterlyReview) -> list[tuple[str, str]]:
    return community_report(review.community, review.year, review.quarter, review).paragraphs


def quarterly_report_docx(review: QuarterlyReview) -> bytes:
    return report_docx(community_report(review.community, review.year, review.quarter, review))


def quarterly_report_xlsx(review: QuarterlyReview) -> bytes:
    return report_xlsx(community_report(review.community, review.year, review.quarter, review))


# --- 月议纪要 ---------------------------------------------------------------------------------------


def minutes_title(meeting: Deliberation) -> str:
    kind = "纪要" if meeting.status == Deliberation.Status.HELD else "议程（筹备稿）"
    return f"{meeting.community.name}{meeting.month.year}年{meeting.month.month}月居民代表协商议事会{kind}"


def minutes(meeting: Deliberation) -> Report:
    """The minutes of a monthly deliberation: when, where, who attended, and each agenda item
    with its decision, owner and deadline (an agenda while the meeting is in preparation)."""
    held_at = timezone.localtime(meeting.held_at) if meeting.held_at else None
    attendees = "、".join(f"{p['name']}（{p['role']}）" if p.get("role") else p["name"] for p in meeting.attendees)
    out: list[tuple[str, str]] = [
        ("body", f"时间：{cn_date(held_at.date())} {held_at:%H:%M}" if held_at else "时间：待定"),
        ("body", f"地点：{meeting.location or '—'}"),
        ("body", f"主持人：{meeting.host or '—'}"),
        ("body", f"参会人员：{attendees}（共{len(meeting.attendees)}人）" if meeting.attendees else "参会人员：待定"),
        ("h1", "一、会议概况"),
    ]
    summary = [line.strip() for line in meeting.summary.splitlines() if line.strip()]
    out += [("body", line) for line in summary] or [("body", "（无）")]
    out.append(("h1", "二、议定事项"))
    items = list(meeting.items.select_related("case"))
    if not items:
        out.append(("body", "本次会议无议程事项。"))
    for index, item in enumerate(items, start=1):
        out.append(("h2", f"（{cn_number(index)}）{item.case.title}"))
        out.append(("body", f"事项编号：{item.case.ticket}；列入原因：{item.why}。"))
        if item.decision:
            out.append(("body", f"议定意见：{item.decision}"))
            out.append(("body", f"责任人：{item.owner}；完成时限：{cn_date(item.due_date) if item.due_date else '—'}。"
                                + (f"已于{cn_date(timezone.localdate(item.completed_at))}落实。" if item.completed_at
                                   else "")))
        else:
            out.append(("body", "议定意见：未形成决定。" if meeting.status == Deliberation.Status.HELD else "议定意见：待议。"))
    title = minutes_title(meeting)
    return Report(title=title, paragraphs=out, issuer=meeting.community.name,
                  day=held_at.date() if held_at else timezone.localdate(), filename=title)


def minutes_docx(meeting: Deliberation) -> bytes:
    return report_docx(minutes(meeting))


# --- rendering ----------------------------------------------------------------------------------


def _fonts(element, name: str) -> None:
    fonts = element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), name)


def _run(paragraph, text: str, *, font: str, size: float, condense: bool = False):
    run = paragraph.add_run(xml_text(text))  # stored text may predate the rule on control characters
    run.font.size = Pt(size)
    _fonts(run._element, font)
    if condense:
        spacing = OxmlElement("w:spacing")
        spacing.set(qn("w:val"), str(CHAR_CONDENSE))
        run._element.get_or_add_rPr().append(spacing)
    return run


# Numbers, percentages and ticket numbers inside Chinese text: each goes in a run of its own marked
# as Western text, so LibreOffice never breaks a line inside "44.7%" (Word never does).
_WESTERN = re.compile(r"([0-9A-Za-z](?:[0-9A-Za-z.,:%\-]*[0-9A-Za-z%])?)")


def _text_runs(paragraph, text: str, *, font: str, size: float) -> None:
    for part in _WESTERN.split(text):
        if not part:
            continue
        run = _run(paragraph, part, font=font, size=size, condense=True)
        if _WESTERN.fullmatch(part):
            language = OxmlElement("w:lang")
            language.set(qn("w:val"), "en-US")
            run._element.get_or_add_rPr().append(language)


def _format(paragraph, *, align=None, indent: bool = False, size: float = BODY_SIZE) -> None:
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(LINE_PITCH)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if align is not None:
        paragraph.alignment = align


def _page_number(paragraph) -> None:
    """"— N —" with N a PAGE field, 4号 宋体."""
    _run(paragraph, "— ", font=PAGE_NUMBER_FONT, size=PAGE_NUMBER_SIZE)
    run = _run(paragraph, "", font=PAGE_NUMBER_FONT, size=PAGE_NUMBER_SIZE)
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._element.append(char)
        elif text == "1":
            t = OxmlElement("w:t")
            t.text = text
            run._element.append(t)
        else:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._element.append(instr)
    _run(paragraph, " —", font=PAGE_NUMBER_FONT, size=PAGE_NUMBER_SIZE)


def _font_table(document) -> None:
    """Name each official face in the font table with its common fallback (w:altName) and the
    GB2312 character set, so Word substitutes sensibly where the face is missing."""
    part = document.part.part_related_by(RT.FONT_TABLE)
    root = parse_xml(part.blob)
    for name, alternate in FONT_FALLBACKS.items():
        font = parse_xml(
            f'<w:font xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" w:name="{name}">'
            f'<w:altName w:val="{alternate}"/><w:charset w:val="86"/><w:family w:val="modern"/>'
            f'<w:pitch w:val="fixed"/></w:font>'
        )
        root.append(font)
    from lxml import etree

    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def official_document():
    """An empty docx in the GB/T 9704 layout: A4, the margins, the document grid, 仿宋 3号 body,
    page numbers at the foot (odd pages right, even pages left)."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(15), Mm(25)
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    for attribute in ("w:type", "w:charSpace"):  # no snapping: the exact line spacing rules
        grid.attrib.pop(qn(attribute), None)
    grid.set(qn("w:linePitch"), str(round(LINE_PITCH * 20)))

    normal = document.styles["Normal"]
    normal.font.size = Pt(BODY_SIZE)
    _fonts(normal.element, BODY_FONT)
    language = OxmlElement("w:lang")
    language.set(qn("w:val"), "zh-CN")
    language.set(qn("w:eastAsia"), "zh-CN")
    normal.element.get_or_add_rPr().append(language)
    _font_table(document)

    document.settings.odd_and_even_pages_header_footer = True
    for footer, align, side in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT, "right"),
                                (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT, "left")):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        paragraph.alignment = align
        setattr(paragraph.paragraph_format, f"{side}_indent", Pt(PAGE_NUMBER_SIZE))  # 空一字
        _page_number(paragraph)
    return document


def report_docx(report: Report) -> bytes:
    document = official_document()
    document.core_properties.title = report.title
    document.core_properties.author = report.issuer
    title = document.add_paragraph()
    _format(title, align=WD_ALIGN_PARAGRAPH.CENTER, size=TITLE_SIZE)
    _run(title, report.title, font=TITLE_FONT, size=TITLE_SIZE)
    _format(document.add_paragraph(), size=BODY_SIZE)  # one blank line under the title
    fonts = {"h1": HEADING1_FONT, "h2": HEADING2_FONT, "body": BODY_FONT}
    for style, text in report.paragraphs:
        paragraph = document.add_paragraph()
        _format(paragraph, indent=True)
        paragraph.paragraph_format.keep_with_next = style != "body"  # no heading alone at a page's foot
        _text_runs(paragraph, text, font=fonts[style], size=BODY_SIZE)
    _format(document.add_paragraph())
    for text in (report.issuer, cn_date(report.day)):
        paragraph = document.add_paragraph()
        _format(paragraph, align=WD_ALIGN_PARAGRAPH.RIGHT)
        paragraph.paragraph_format.right_indent = Pt(BODY_SIZE * 4)  # 右空四字
        _run(paragraph, text, font=BODY_FONT, size=BODY_SIZE)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def report_xlsx(report: Report) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in report.sheets:
        ws = workbook.create_sheet(sheet.name)
        ws.append(sheet.header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            ws.append([xml_text(value) if isinstance(value, str) else value for value in row])
        for index, width in enumerate(sheet.widths, start=1):
            ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = width
        ws.freeze_panes = "A2"
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                cell.alignment = Alignment(vertical="top", wrap_text=isinstance(cell.value, str) and len(cell.value) > 20)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
