"""REST endpoints of the three cycles: 周集 digests, 月议 deliberations, 季度评估 reviews and the
quarterly report files (mounted under /api/v1/cases)."""

from datetime import date, datetime, timedelta
from typing import Any, Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from jiedao.cases import selectors as case_selectors
from jiedao.cases.api_common import (
    DOCX,
    FILE_ERRORS,
    T_CYCLES,
    XLSX,
    Month,
    aware,
    case_node,
    file_response,
    month_start,
)
from jiedao.cases.cycles import reports, selectors
from jiedao.cases.cycles import services as cycles
from jiedao.cases.models import (
    Deliberation,
)
from jiedao.core.api import MAX_ID, READ_ERRORS, WRITE_ERRORS, InSchema, ObjId, id_path, paginated, ref_or_404
from jiedao.core.errors import DomainError

router = Router()


# --- schemas: cycles ------------------------------------------------------------------------------


class DigestOut(Schema):
    id: int = Field(description="周集编号")
    node_id: int = Field(description="网格或社区（村）编号")
    node_name: str = Field(description="网格或社区（村）名称")
    week_start: date = Field(description="周一")
    week_end: date = Field(description="周日")
    data: dict[str, Any] = Field(description="内容：new 新增、carried_over 结转、by_category、by_tier、by_state、cases")
    generated_at: datetime = Field(description="生成时间")

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name

    @staticmethod
    def resolve_week_end(obj) -> date:
        return obj.week_start + timedelta(days=6)


class DigestIn(InSchema):
    node: ObjId = Field(description="网格或社区（村）节点编号")
    week: date | None = Field(None, description="该周内任意一天（默认本周）")


class _CaseItemOut(Schema):
    """An agenda or review item: the case it is about, by ticket, title and state."""

    id: int = Field(description="编号")  # first in the body; each item type names it
    case_id: int = Field(description="事项编号")
    ticket: str = Field(description="查询编号")
    title: str = Field(description="事项标题")
    state_label: str = Field(description="事项状态")

    @staticmethod
    def resolve_ticket(obj) -> str:
        return obj.case.ticket

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.case.title

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.case.get_state_display())


class DeliberationItemOut(_CaseItemOut):
    id: int = Field(description="议程事项编号")
    why: str = Field(description="列入原因")
    decision: str = Field(description="议定意见")
    owner: str = Field(description="跟进责任人")
    owner_user_id: int | None = Field(None, description="责任人账号编号")
    due_date: date | None = Field(None, description="完成时限")
    completed_at: datetime | None = Field(None, description="责任人标记落实的时间")


class DeliberationSummaryOut(Schema):
    id: int = Field(description="月议编号")
    community_id: int = Field(description="社区（村）编号")
    community_name: str = Field(description="社区（村）名称")
    month: str = Field(description="月份（YYYY-MM）")
    status: str = Field(description="状态代码：draft/held")
    status_label: str = Field(description="状态")
    held_at: datetime | None = Field(None, description="召开时间")
    item_count: int = Field(description="议程事项数")

    @staticmethod
    def resolve_community_name(obj) -> str:
        return obj.community.name

    @staticmethod
    def resolve_month(obj) -> str:
        return f"{obj.month:%Y-%m}"

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_item_count(obj) -> int:
        count = getattr(obj, "item_count", None)
        return count if isinstance(count, int) else obj.items.count()


class AttendeeOut(Schema):
    name: str = Field(description="姓名")
    role: str = Field("", description="身份，如“居民代表”")


class DeliberationOut(DeliberationSummaryOut):
    location: str = Field(description="地点")
    host: str = Field(description="主持人")
    attendees: list[AttendeeOut] = Field(description="参会人员")
    summary: str = Field(description="会议纪要")
    items: list[DeliberationItemOut] = Field(description="议程")

    @staticmethod
    def resolve_items(obj) -> list[Any]:
        return list(obj.items.select_related("case"))


class DeliberationIn(InSchema):
    community: ObjId = Field(description="社区（村）节点编号")
    month: Month = Field(description="月份（YYYY-MM）")


class DeliberationCaseIn(InSchema):
    case: ObjId = Field(description="事项编号（须属于本社区）")
    why: str = Field("社区提议", max_length=100, description="列入原因")


class AttendeeIn(InSchema):
    name: str = Field(max_length=64, description="姓名")
    role: str = Field("", max_length=32, description="身份，如“居民代表”")


class DecisionIn(InSchema):
    item: ObjId = Field(description="议程事项编号")
    decision: str = Field("", max_length=2000, description="议定意见")
    owner_user: ObjId | None = Field(None, description="责任人账号（本社区工作人员或事项所在网格的网格员；"
                                                         "填写后 owner 取其姓名，事项进入其“我的月议事项”）")
    owner: str = Field("", max_length=64, description="跟进责任人姓名（有议定意见而未填责任人账号时必填）")
    due_date: date | None = Field(None, description="完成时限（有议定意见时必填）")


class DeliberationRecordIn(InSchema):
    held_at: datetime = Field(description="召开时间")
    location: str = Field("", max_length=100, description="地点")
    host: str = Field("", max_length=64, description="主持人")
    attendees: list[AttendeeIn] = Field(description="参会人员（至少一人）")
    summary: str = Field("", max_length=10000, description="会议纪要")
    decisions: list[DecisionIn] = Field([], description="逐项议定意见")


class ReviewSummaryOut(Schema):
    id: int = Field(description="季度评估编号")
    community_id: int = Field(description="社区（村）编号")
    community_name: str = Field(description="社区（村）名称")
    year: int = Field(description="年度")
    quarter: int = Field(description="季度")
    title: str = Field(description="季报告标题")
    status: str = Field(description="状态代码：open/finalized")
    status_label: str = Field(description="状态")
    finalized_at: datetime | None = Field(None, description="定稿时间")
    counts: dict[str, int] = Field(description="事项数：total、pending 待评估、struck_off 销号、carried_over 结转")

    @staticmethod
    def resolve_community_name(obj) -> str:
        return obj.community.name

    @staticmethod
    def resolve_title(obj) -> str:
        return reports.report_title(obj)

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_counts(obj) -> dict[str, int]:
        return selectors.review_counts(obj)


class ReviewOut(ReviewSummaryOut):
    figures: dict[str, Any] = Field(description="季报告的数字（定稿时冻结；评估中为当前计算值）")

    @staticmethod
    def resolve_figures(obj) -> dict[str, Any]:
        return obj.figures or cycles.quarterly_figures(obj)


class ReviewItemOut(_CaseItemOut):
    id: int = Field(description="评估事项编号")
    state: str = Field(description="事项状态代码")
    category_name: str | None = Field(None, description="类别")
    verdict: str = Field(description="结论代码：空为待评估，struck_off 销号，carried_over 结转下季")
    verdict_label: str = Field(description="结论")
    reason: str = Field(description="说明")

    @staticmethod
    def resolve_state(obj) -> str:
        return obj.case.state

    @staticmethod
    def resolve_category_name(obj) -> str | None:
        return obj.case.category.name if obj.case.category_id else None

    @staticmethod
    def resolve_verdict_label(obj) -> str:
        return str(obj.get_verdict_display())


class ReviewIn(InSchema):
    community: ObjId = Field(description="社区（村）节点编号")
    year: int = Field(ge=2000, le=2100, description="年度")
    quarter: int = Field(ge=1, le=4, description="季度（1–4）")


class ReviewItemIn(InSchema):
    verdict: Literal["struck_off", "carried_over"] = Field(description="销号（须已核查办结）或结转下季")
    reason: str = Field("", max_length=500, description="说明（结转下季时必填）")


# --- endpoints: 周集 --------------------------------------------------------------------------------


@router.get("/digests", response={200: list[DigestOut], **READ_ERRORS}, summary="周集列表", tags=T_CYCLES)
@paginated
def digest_list(
    request,
    node: int | None = Query(None, ge=1, le=MAX_ID, description="网格或社区（村）节点编号"),
    week: date | None = Query(None, description="该周内任意一天"),
):
    """每周一自动生成上周的周集，也可随时生成（POST）。"""
    return selectors.digest_list(request.auth, node=case_node(request, node),
                                 week_start=cycles.week_start_of(week) if week else None)


@router.post("/digests", response={200: DigestOut, **WRITE_ERRORS}, summary="生成（或重新生成）周集",
             tags=T_CYCLES)
def digest_generate(request, payload: DigestIn):
    node = case_node(request, payload.node)
    digest = cycles.weekly_digest_generate(node=node, week_start=payload.week or timezone.localdate(),
                                           actor=request.auth)
    return selectors.digest_get(request.auth, digest.pk)


@router.get("/digests/{digest_id}", response={200: DigestOut, **READ_ERRORS}, summary="周集详情", tags=T_CYCLES)
def digest_detail(request, digest_id: int = id_path("周集编号")):
    return selectors.digest_get(request.auth, digest_id)


# --- endpoints: 月议 --------------------------------------------------------------------------------


@router.get("/deliberations", response={200: list[DeliberationSummaryOut], **READ_ERRORS}, summary="月议列表",
            tags=T_CYCLES)
@paginated
def deliberation_list(
    request,
    community: int | None = Query(None, ge=1, le=MAX_ID, description="社区（村）节点编号"),
    month: Month | None = Query(None, description="月份 YYYY-MM"),
):
    return selectors.deliberation_list(request.auth, community=case_node(request, community, "community"),
                                       month=month_start(month) if month else None)


@router.post("/deliberations", response={201: DeliberationOut, **WRITE_ERRORS}, summary="筹备月议（生成议程）",
             tags=T_CYCLES)
def deliberation_prepare(request, payload: DeliberationIn):
    """打开本月的居民代表协商议事会，把本社区的疑难和超期事项列入议程；再次调用会补入新出现的事项。
    需要社区（村）书记、工作人员或街道领导。"""
    community = case_node(request, payload.community, "community")
    meeting = cycles.deliberation_prepare(actor=request.auth, community=community,
                                          month=month_start(payload.month))
    return Status(201, selectors.deliberation_get(request.auth, meeting.pk))


@router.get("/deliberations/{meeting_id}", response={200: DeliberationOut, **READ_ERRORS}, summary="月议详情",
            tags=T_CYCLES)
def deliberation_detail(request, meeting_id: int = id_path("月议编号")):
    return selectors.deliberation_get(request.auth, meeting_id)


@router.post("/deliberations/{meeting_id}/items", response={201: DeliberationItemOut, **WRITE_ERRORS},
             summary="把事项列入月议议程", tags=T_CYCLES)
def deliberation_add_case(request, payload: DeliberationCaseIn, meeting_id: int = id_path("月议编号")):
    meeting = selectors.deliberation_get(request.auth, meeting_id)
    if meeting.status == Deliberation.Status.HELD:
        raise DomainError(_("本月月议已召开，议程不能再变更。"), field="case")
    case = ref_or_404(case_selectors.case_get, request.auth, payload.case, "case")
    item = cycles.deliberation_add_case(actor=request.auth, meeting=meeting, case=case, why=payload.why)
    return Status(201, item)


@router.post("/deliberations/{meeting_id}/record", response={200: DeliberationOut, **WRITE_ERRORS},
             summary="记录月议（参会人员、纪要、逐项议定意见）", tags=T_CYCLES)
def deliberation_record(request, payload: DeliberationRecordIn, meeting_id: int = id_path("月议编号")):
    """每项议定意见写回对应事项的审计记录（在事项页面上可见）。记录后月议状态为“已召开”。"""
    meeting = selectors.deliberation_get(request.auth, meeting_id)
    decisions = {d.item: {"decision": d.decision, "owner": d.owner, "owner_user": d.owner_user, "due_date": d.due_date}
                 for d in payload.decisions}
    cycles.deliberation_record(
        actor=request.auth, meeting=meeting, held_at=aware(payload.held_at), location=payload.location,
        host=payload.host, attendees=[a.model_dump() for a in payload.attendees], summary=payload.summary,
        decisions=decisions,
    )
    return selectors.deliberation_get(request.auth, meeting.pk)


# --- endpoints: 季度评估 ------------------------------------------------------------------------------


@router.get("/reviews", response={200: list[ReviewSummaryOut], **READ_ERRORS}, summary="季度评估列表",
            tags=T_CYCLES)
@paginated
def review_list(
    request,
    community: int | None = Query(None, ge=1, le=MAX_ID, description="社区（村）节点编号"),
    year: int | None = Query(None, ge=2000, le=2100, description="年度"),
    quarter: int | None = Query(None, ge=1, le=4, description="季度"),
):
    return selectors.review_list(request.auth, community=case_node(request, community, "community"),
                                 year=year, quarter=quarter)


@router.post("/reviews", response={201: ReviewOut, **WRITE_ERRORS}, summary="开始季度逐项评估", tags=T_CYCLES)
def review_prepare(request, payload: ReviewIn):
    """列出本季度登记的和以前结转未办完的全部事项，逐项评估销号或结转；再次调用会补入新事项。"""
    community = case_node(request, payload.community, "community")
    review = cycles.quarterly_review_prepare(actor=request.auth, community=community, year=payload.year,
                                             quarter=payload.quarter)
    return Status(201, selectors.review_get(request.auth, review.pk))


@router.get("/reviews/{review_id}", response={200: ReviewOut, **READ_ERRORS}, summary="季度评估详情",
            tags=T_CYCLES)
def review_detail(request, review_id: int = id_path("季度评估编号")):
    return selectors.review_get(request.auth, review_id)


@router.get("/reviews/{review_id}/items", response={200: list[ReviewItemOut], **READ_ERRORS},
            summary="季度评估的事项", tags=T_CYCLES)
@paginated
def review_items(
    request,
    review_id: int = id_path("季度评估编号"),
    verdict: Literal["pending", "struck_off", "carried_over"] | None = Query(None, description="按结论筛选"),
):
    review = selectors.review_get(request.auth, review_id)
    return selectors.review_items(review, verdict="" if verdict == "pending" else verdict)


@router.put("/reviews/{review_id}/items/{item_id}", response={200: ReviewItemOut, **WRITE_ERRORS},
            summary="评估一件事项：销号或结转", tags=T_CYCLES)
def review_item_set(
    request, payload: ReviewItemIn, review_id: int = id_path("季度评估编号"), item_id: int = id_path("评估事项编号")
):
    review = selectors.review_get(request.auth, review_id)
    item = selectors.review_item_get(review, item_id)
    return cycles.review_item_set(actor=request.auth, item=item, verdict=payload.verdict, reason=payload.reason)


@router.post("/reviews/{review_id}/finalize", response={200: ReviewOut, **WRITE_ERRORS},
             summary="定稿：销号并冻结季报告数字", tags=T_CYCLES)
def review_finalize(request, review_id: int = id_path("季度评估编号")):
    """全部事项评估后才能定稿；销号的已核查事项随之结案（需社区（村）书记、工作人员或管理员）。"""
    review = selectors.review_get(request.auth, review_id)
    cycles.quarterly_review_finalize(actor=request.auth, review=review)
    return selectors.review_get(request.auth, review.pk)


def _report_doc(media_type: str) -> dict[str, Any]:
    return {"responses": {200: {"description": "文件（附件）",
                                "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}}


@router.get("/reviews/{review_id}/report.xlsx", response=FILE_ERRORS, openapi_extra=_report_doc(XLSX),
            summary="下载季报告（xlsx）", tags=T_CYCLES)
def review_report_xlsx(request, review_id: int = id_path("季度评估编号")):
    review = selectors.review_get(request.auth, review_id)
    return file_response(reports.quarterly_report_xlsx(review), f"{reports.report_title(review)}.xlsx", XLSX)


@router.get("/reviews/{review_id}/report.docx", response=FILE_ERRORS, openapi_extra=_report_doc(DOCX),
            summary="下载季报告（docx，公文格式）", tags=T_CYCLES)
def review_report_docx(request, review_id: int = id_path("季度评估编号")):
    review = selectors.review_get(request.auth, review_id)
    return file_response(reports.quarterly_report_docx(review), f"{reports.report_title(review)}.docx", DOCX)
