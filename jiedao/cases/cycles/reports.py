"""The quarterly report (季报告) as xlsx and as a docx in the official-document layout (GB/T 9704).

The docx names the official fonts (方正小标宋简体 title, 仿宋_GB2312 body, 黑体 and 楷体_GB2312
headings) which users' Word has; A4 with the standard margins, 16 pt body on a fixed 28.95 pt
line (22 lines a page), first lines indented two characters. Every number comes from
`QuarterlyReview.figures` (computed from the data by jiedao.cases.cycles.services.quarterly_figures).
"""

from __future__ import annotations

import io
from typing import Any

from django.utils import timezone
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from openpyxl import Workbook
from openpyxl.styles import Font

from jiedao.cases import reading
from jiedao.cases.cycles.services import quarterly_figures
from jiedao.cases.models import QuarterlyReview, ReviewItem, State, Tier

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
_CN_NUMBERS = "一二三四五六七八九十"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _figures(review: QuarterlyReview) -> dict[str, Any]:
    # Figures frozen before the rollups counted by the book (no 有效回访) are counted again.
    if review.figures and "followed_up" in review.figures.get("counts", {}):
        return review.figures
    return quarterly_figures(review)


def report_title(review: QuarterlyReview) -> str:
    return f"{review.community.name}{review.year}年第{_CN_NUMBERS[review.quarter - 1]}季度群众诉求办理情况报告"


def report_paragraphs(review: QuarterlyReview) -> list[tuple[str, str]]:
    """(style, text) pairs: "h1", "h2" or "body". Shared by the docx and the page preview."""
    f = _figures(review)
    counts = f["counts"]
    rates = f["rates"]
    levels = f["levels"]
    total = f["total"]
    struck = f["struck_off"]
    out: list[tuple[str, str]] = [
        ("h1", "一、总体情况"),
        ("body", f"本季度纳入逐项评估的群众诉求共{total}件，其中本季度新登记{counts['reported']}件。"
                 f"经逐项评估，已办结销号{struck}件，结转下季度继续办理{f['carried_over']}件，"
                 f"销号率{_percent(struck / total if total else None)}。"),
        ("h1", "二、诉求分类情况"),
    ]
    if f["by_category"]:
        parts = "，".join(f"{name}{count}件" for name, count in f["by_category"][:8])
        out.append(("body", f"按事项类别分：{parts}。"))
    if f["by_tier"]:
        parts = "，".join(f"{name}{count}件" for name, count in f["by_tier"].items())
        out.append(("body", f"按“三事分流”分：{parts}。"))
    out += [
        ("h1", "三、办理成效"),
        ("h2", "（一）办理质效"),
        ("body", f"本季度受理{counts['accepted']}件，办结{counts['resolved']}件；到期应办结{counts['due']}件，"
                 f"其中已办结{counts['due_resolved']}件，办结率{_percent(rates['due_resolved_rate'])}，"
                 f"按期办结率{_percent(rates['on_time_rate'])}；有效回访{counts['followed_up']}件，"
                 f"响应率{_percent(rates['response_rate'])}，解决率{_percent(rates['resolution_rate'])}，"
                 f"满意率{_percent(rates['satisfaction_rate'])}。"),
        ("h2", "（二）三级调处"),
        ("body", f"村社直接化解{levels['level1']}件，街道科室条线化解{levels['level2']}件，"
                 f"联席会议协调化解{levels['level3']}件，上报区级{levels['level4']}件。"),
        ("h1", "四、结转事项"),
    ]
    carried = review.items.filter(verdict=ReviewItem.Verdict.CARRIED_OVER).select_related("case")
    if not carried:
        out.append(("body", "本季度无结转事项。"))
    for index, item in enumerate(carried, start=1):
        out.append(("body", f"{index}. {item.case.title}（{item.case.ticket}）：{item.reason}"))
    out.append(("h1", "五、本季热点"))
    spots = quarter_hotspots(review)
    if not spots:
        out.append(("body", "本季度没有同一网格、同一类别集中反映两件以上的诉求。"))
    for index, spot in enumerate(spots, start=1):
        titles = "；".join(f"{c['title']}（{c['ticket']}）" for c in spot["cases"][:2])
        out.append(("body", f"{index}. {spot['area']}“{spot['category']}”{spot['size']}件，较上季度{spot['growth']}，"
                            f"反映人{spot['reporters']}人，重复反映{spot['reposts']}件，催办{spot['chases']}次。"
                            f"典型诉求：{titles}。"))
    return out


def quarter_hotspots(review: QuarterlyReview) -> list[dict[str, Any]]:
    """本季热点 of the community, per grid, from the installed reader (jiedao.cases.reading; the review is already
    fetched in the reader's scope)."""
    from datetime import date

    day = date(review.year, review.quarter * 3 - 2, 1)
    return reading.reader().hotspot_rows(review.community.path, period="quarter", level="grid", day=day, limit=5)


def _run_font(run, name: str, size: float, bold: bool = False) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _paragraph(document, text: str, *, font: str, size: float = 16, align=None, indent: bool = False):
    paragraph = document.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(28.95)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if align is not None:
        paragraph.alignment = align
    _run_font(paragraph.add_run(text), font, size)
    return paragraph


def quarterly_report_docx(review: QuarterlyReview) -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = BODY_FONT, Pt(16)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)

    _paragraph(document, report_title(review), font=TITLE_FONT, size=22, align=WD_ALIGN_PARAGRAPH.CENTER)
    _paragraph(document, "", font=BODY_FONT)
    fonts = {"h1": HEADING1_FONT, "h2": HEADING2_FONT, "body": BODY_FONT}
    for style, text in report_paragraphs(review):
        _paragraph(document, text, font=fonts[style], indent=True)
    _paragraph(document, "", font=BODY_FONT)
    _paragraph(document, review.community.name, font=BODY_FONT, align=WD_ALIGN_PARAGRAPH.RIGHT)
    day = timezone.localdate(review.finalized_at) if review.finalized_at else timezone.localdate()
    _paragraph(document, f"{day.year}年{day.month}月{day.day}日", font=BODY_FONT, align=WD_ALIGN_PARAGRAPH.RIGHT)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def quarterly_report_xlsx(review: QuarterlyReview) -> bytes:
    f = _figures(review)
    workbook = Workbook()
    summary = workbook.active
    summary.title = "汇总"
    summary.append([report_title(review)])
    summary["A1"].font = Font(bold=True, size=14)
    rows = [
        ("评估事项", f["total"]), ("销号", f["struck_off"]), ("结转下季", f["carried_over"]),
        ("本季登记", f["counts"]["reported"]), ("受理", f["counts"]["accepted"]), ("办结", f["counts"]["resolved"]),
        ("到期应办结", f["counts"]["due"]), ("到期已办结", f["counts"]["due_resolved"]),
        ("办结率", _percent(f["rates"]["due_resolved_rate"])), ("按期办结率", _percent(f["rates"]["on_time_rate"])),
        ("有效回访", f["counts"]["followed_up"]), ("响应率", _percent(f["rates"]["response_rate"])),
        ("解决率", _percent(f["rates"]["resolution_rate"])), ("满意率", _percent(f["rates"]["satisfaction_rate"])),
        ("村社直接化解", f["levels"]["level1"]), ("街道科室条线化解", f["levels"]["level2"]),
        ("联席会议协调化解", f["levels"]["level3"]), ("上报区级", f["levels"]["level4"]),
    ]
    for label, value in rows:
        summary.append([label, value])
    summary.column_dimensions["A"].width = 22
    items = workbook.create_sheet("逐项评估")
    items.append(["编号", "标题", "类别", "分流", "状态", "结论", "说明"])
    for cell in items[1]:
        cell.font = Font(bold=True)
    for item in review.items.select_related("case__category"):
        case = item.case
        items.append([case.ticket, case.title, case.category.name if case.category else "",
                      str(Tier(case.tier).label) if case.tier else "", str(State(case.state).label),
                      str(ReviewItem.Verdict(item.verdict).label), item.reason])
    for column, width in zip("ABCDEFG", (20, 30, 14, 8, 10, 10, 40), strict=True):
        items.column_dimensions[column].width = width
    spots = workbook.create_sheet("本季热点")
    spots.append(["地区", "类别", "件数", "上季度", "增长", "反映人", "重复反映", "催办", "未结", "典型诉求"])
    for cell in spots[1]:
        cell.font = Font(bold=True)
    for spot in quarter_hotspots(review):
        spots.append([spot["area"], spot["category"], spot["size"], spot["previous"], spot["growth"],
                      spot["reporters"], spot["reposts"], spot["chases"], spot["open"],
                      "；".join(f"{c['ticket']} {c['title']}" for c in spot["cases"])])
    for column, width in zip("ABCDEFGHIJ", (16, 14, 8, 8, 8, 8, 10, 8, 8, 60), strict=True):
        spots.column_dimensions[column].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
