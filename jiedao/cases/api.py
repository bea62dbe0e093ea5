"""REST endpoints of cases (mounted under /api/v1/cases): intake, the workflow, the three cycles
(周集 weekly digest, 月议 deliberation, 季报告 quarterly review) and the rates.

Reads go through jiedao.cases.selectors (cases scoped by the VIEW_CASES permission; a department
handler also sees the cases dispatched to the department). Every change of a case's state goes
through jiedao.cases.services.case_act, the one guarded transition function, so the API can do
exactly what the transition table (GET /cases/workflow) allows and nothing more:

* a case, node, meeting or review outside the caller's scope answers 404 exactly like a missing
  one (a referenced id names the field: `{"field": "node"}`);
* a visible case on which the caller may not take the action answers 403;
* an action the case's current state does not allow answers 400 with `"field": "action"`;
* someone else changing the case at the same moment answers 409 (nothing is changed).

Statistics and cycles take a `node` in the caller's VIEW_CASES scope (404 otherwise).
"""


import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone
from ninja import Field, File, Form, Path, Query, Router, Schema, UploadedFile
from ninja.responses import Status
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from jiedao.cases import cycles, reports, selectors, services, stats, workflow
from jiedao.cases.models import (
    CaseTransition,
    Category,
    Deliberation,
    Level,
    Rating,
    Source,
    State,
    Tier,
    Urgency,
)
from jiedao.cases.workflow import Action
from jiedao.core import scope
from jiedao.core.api import MAX_ID, READ_ERRORS, WRITE_ERRORS, ErrorOut, InSchema, NotFound, paginated
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.fastpath import respond
from jiedao.core.permissions import Perm
from jiedao.core.validators import choice_values
from jiedao.org import selectors as org_selectors
from jiedao.org.models import OrgNode

ObjId = Annotated[int, Field(ge=1, le=MAX_ID)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILE_ERRORS: dict[int, Any] = {**READ_ERRORS, 403: ErrorOut}
STATS_ERRORS: dict[int, Any] = {**READ_ERRORS, 400: ErrorOut, 403: ErrorOut}
MAX_STATS_MONTHS = 120

T_CASES = ["诉求事件"]
T_REFERENCE = ["事项目录与流程"]
T_CYCLES = ["周集、月议与季度评估"]
T_STATS = ["统计"]

# Which optional parameters each action takes (see jiedao.cases.services.EFFECTS); anything else
# sent with an action is refused rather than silently ignored.
ACTION_PARAMS: dict[str, frozenset[str]] = {
    Action.ACCEPT: frozenset({"tier", "category"}),
    Action.TIER: frozenset({"tier", "category"}),
    Action.DISPATCH: frozenset({"department"}),
    Action.FOLLOW_UP: frozenset({"rating", "comment"}),
    Action.MERGE: frozenset({"into"}),
}
OPTIONAL_PARAMS = ("tier", "category", "department", "rating", "comment", "into")


# --- helpers ----------------------------------------------------------------------------------


def _ref(getter: Any, actor: Any, key: Any, field: str) -> Any:
    """Resolve an id (or code) sent by the client; a missing or out-of-scope one is a 404 naming
    the field."""
    if key is None or key == "":
        return None
    try:
        return getter(actor, key)
    except Http404:
        raise NotFound(field) from None


def _node(request: Any, pk: int | None, field: str = "node") -> OrgNode | None:
    """A node the caller can see (org scope): filters and intake places (from the per-process
    node cache; the scope check is the same)."""
    return _ref(org_selectors.node_get_cached, request.auth, pk, field)


def _case_node(request: Any, pk: int | None, field: str = "node") -> OrgNode | None:
    """A node inside the caller's case scope (VIEW_CASES): statistics and cycles."""
    return _ref(lambda user, key: org_selectors.node_get(user, key, Perm.VIEW_CASES), request.auth, pk, field)


def _category(code: str | None, field: str = "category") -> Category | None:
    return _ref(lambda _user, key: selectors.category_by_code(key), None, code, field)


def _dispatch_department(case: Any, pk: int) -> Any:
    department = selectors.dispatch_departments(case).filter(pk=pk).first()
    if department is None:
        raise Http404("未找到该部门。")
    return department


def _id_path(description: str) -> Any:
    return Path(..., ge=1, le=MAX_ID, description=description)


def _aware(moment: datetime) -> datetime:
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _check_month(value: str) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
    if not match or not (1 <= int(match[2]) <= 12) or not (2000 <= int(match[1]) <= 2100):
        raise PydanticCustomError("month", "应为年月，如 2026-03")
    return value.strip()


Month = Annotated[str, AfterValidator(_check_month)]


def _month_start(value: str) -> date:
    year, month = value.split("-")
    return date(int(year), int(month), 1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), 1 if day.month == 12 else day.month + 1, 1)


def _file(content: bytes, filename: str, content_type: str) -> FileResponse:
    response = FileResponse(io.BytesIO(content), as_attachment=True, filename=filename, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


# --- schemas: cases -----------------------------------------------------------------------------


class CaseOut(Schema):
    id: int = Field(description="事项编号（内部）")
    ticket: str = Field(description="查询编号（居民凭此查询进度，不可猜测）")
    title: str = Field(description="标题")
    source: str = Field(description="来源代码")
    source_label: str = Field(description="来源，如“入户走访”")
    state: str = Field(description="状态代码")
    state_label: str = Field(description="状态，如“待受理”")
    tier: str = Field(description="分流代码：public/community/private；未分流为空")
    tier_label: str = Field(description="分流：大事/小事/私事")
    urgency: str = Field(description="紧急程度代码：normal/urgent")
    category_id: int | None = Field(None, description="类别编号")
    category_code: str | None = Field(None, description="类别代码")
    category_name: str | None = Field(None, description="类别名称")
    node_id: int = Field(description="登记所在节点编号")
    node_name: str = Field(description="登记所在节点名称")
    community_id: int | None = Field(None, description="所属社区（村）编号")
    community_name: str | None = Field(None, description="所属社区（村）名称")
    grid_id: int | None = Field(None, description="所属网格编号")
    grid_name: str | None = Field(None, description="所属网格名称")
    level: int = Field(description="调处层级：1 村社，2 街道科室，3 联席会议，4 区级")
    level_label: str = Field(description="调处层级名称")
    handling_department_id: int | None = Field(None, description="承办部门编号")
    handling_department_name: str | None = Field(None, description="承办部门名称")
    handling_node_id: int | None = Field(None, description="承办社区（小事）编号")
    handling_node_name: str | None = Field(None, description="承办社区名称")
    deadline_at: datetime | None = Field(None, description="办理期限（派遣时按类别时限计算，工作日）")
    overdue: bool = Field(description="是否已超期（办理中且已过期限）")
    difficult: bool = Field(description="是否疑难（列入月议）")
    created_at: datetime = Field(description="登记时间")
    updated_at: datetime = Field(description="最近更新时间")

    @staticmethod
    def resolve_source_label(obj) -> str:
        return str(Source(obj.source).label) if obj.source in choice_values(Source) else obj.source

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(State(obj.state).label) if obj.state in choice_values(State) else obj.state

    @staticmethod
    def resolve_tier_label(obj) -> str:
        return str(Tier(obj.tier).label) if obj.tier else ""

    @staticmethod
    def resolve_category_code(obj) -> str | None:
        return obj.category.code if obj.category_id else None

    @staticmethod
    def resolve_category_name(obj) -> str | None:
        return obj.category.name if obj.category_id else None

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name

    @staticmethod
    def resolve_community_name(obj) -> str | None:
        return obj.community.name if obj.community_id else None

    @staticmethod
    def resolve_grid_name(obj) -> str | None:
        return obj.grid.name if obj.grid_id else None

    @staticmethod
    def resolve_level_label(obj) -> str:
        return str(Level(obj.level).label)

    @staticmethod
    def resolve_handling_department_name(obj) -> str | None:
        return obj.handling_department.name if obj.handling_department_id else None

    @staticmethod
    def resolve_handling_node_name(obj) -> str | None:
        return obj.handling_node.name if obj.handling_node_id else None

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return selectors.deadline_mark(obj).kind == "overdue"


class TransitionOut(Schema):
    seq: int = Field(description="序号（0 为登记）")
    action: str = Field(description="动作代码（report 为登记）")
    action_label: str = Field(description="动作名称")
    from_state: str = Field(description="原状态代码")
    from_state_label: str = Field(description="原状态")
    to_state: str = Field(description="新状态代码")
    to_state_label: str = Field(description="新状态")
    actor_id: int | None = Field(None, description="操作人编号；居民为 null")
    actor_name: str = Field(validation_alias="actor_repr", description="操作人")
    reason: str = Field(description="说明（办理结果、退回理由等）")
    data: dict[str, Any] = Field(description="附加信息（承办部门、期限、评价等）")
    created_at: datetime = Field(description="时间")

    @staticmethod
    def resolve_action_label(obj) -> str:
        return str(Action(obj.action).label) if obj.action in choice_values(Action) else "登记"

    @staticmethod
    def resolve_from_state_label(obj) -> str:
        return str(State(obj.from_state).label)

    @staticmethod
    def resolve_to_state_label(obj) -> str:
        return str(State(obj.to_state).label)


class AllowedActionOut(Schema):
    action: str = Field(description="动作代码，用于 POST /cases/{id}/actions")
    label: str = Field(description="动作名称")
    to_state: str | None = Field(None, description="执行后的状态；null 表示状态不变")
    needs_reason: bool = Field(description="是否必须填写说明（reason）")
    params: list[str] = Field(description="该动作可带的其他字段")
    note: str = Field(description="说明")


class CaseDetailOut(CaseOut):
    description: str = Field(description="描述")
    address: str = Field(description="地点")
    latitude: float | None = Field(None, description="纬度（WGS-84）")
    longitude: float | None = Field(None, description="经度（WGS-84）")
    building_id: int | None = Field(None, description="楼栋编号")
    building_name: str | None = Field(None, description="楼栋名称")
    anonymous: bool = Field(description="是否匿名反映")
    reporter_name: str = Field(description="反映人姓名（匿名时为空）")
    reporter_phone: str = Field(validation_alias="reporter_phone_masked", description="反映人电话（脱敏）")
    reported_by_id: int | None = Field(None, description="登记人编号；居民自报为 null")
    reported_by_name: str | None = Field(None, description="登记人")
    dispatched_at: datetime | None = Field(None, description="派遣时间")
    acknowledged_at: datetime | None = Field(None, description="签收时间")
    resolved_at: datetime | None = Field(None, description="办结时间")
    closed_at: datetime | None = Field(None, description="结案时间")
    resolved_level: int | None = Field(None, description="化解层级")
    result: str = Field(description="办理结果")
    guidance: str = Field(description="引导意见（私事）")
    rating: str = Field(description="评价代码：satisfied/basic/unsatisfied；未评价为空")
    rating_label: str = Field(description="评价")
    rating_comment: str = Field(description="评价意见")
    rated_at: datetime | None = Field(None, description="评价时间")
    return_count: int = Field(description="退回次数")
    rework_count: int = Field(description="返工次数")
    reopen_count: int = Field(description="重办次数")
    supervise_count: int = Field(description="督办次数")
    escalation_count: int = Field(description="上报次数")
    merged_into_id: int | None = Field(None, description="并入的事项编号")
    merged_into_ticket: str | None = Field(None, description="并入的事项查询编号")
    version: int = Field(description="版本（每次流转加一）")
    allowed_actions: list[AllowedActionOut] = Field(description="当前用户可以执行的动作")
    transitions: list[TransitionOut] = Field(description="流转记录")

    @staticmethod
    def resolve_building_name(obj) -> str | None:
        return obj.building.name if obj.building_id else None

    @staticmethod
    def resolve_reported_by_name(obj) -> str | None:
        if not obj.reported_by_id:
            return None
        return obj.reported_by.full_name or obj.reported_by.get_username()

    @staticmethod
    def resolve_rating_label(obj) -> str:
        return str(Rating(obj.rating).label) if obj.rating else ""

    @staticmethod
    def resolve_merged_into_ticket(obj) -> str | None:
        return obj.merged_into.ticket if obj.merged_into_id else None

    @staticmethod
    def resolve_allowed_actions(obj, context) -> list[dict[str, Any]]:
        user = context["request"].auth
        rows = []
        for action in workflow.allowed_actions(obj.state, services.actor_kinds(user, obj)):
            transition = workflow.find(action, obj.state)
            rows.append({
                "action": action, "label": str(Action(action).label), "to_state": transition.target,
                "needs_reason": transition.needs_reason, "params": sorted(ACTION_PARAMS.get(action, ())),
                "note": transition.note,
            })
        return rows

    @staticmethod
    def resolve_transitions(obj) -> list[CaseTransition]:
        intake = getattr(obj, "intake_transition", None)  # a case just filed: its one transition
        return [intake] if intake is not None else list(selectors.case_timeline(obj))


class CaseFilters(Schema):
    state: State | None = Field(None, description="状态")
    tier: Tier | None = Field(None, description="分流")
    category: str | None = Field(None, max_length=40, description="类别代码（大类代码包含其下全部类别）")
    node: int | None = Field(None, ge=1, le=MAX_ID, description="只列出该节点及其下级的事项")
    overdue: bool = Field(False, description="true 只列出已超期的（办理中且已过办理期限）")
    mine: bool = Field(False, description="只列出与我有关的：我登记的、派给我所在部门的、由我所在社区承办或待受理的")
    q: str = Field("", max_length=100, description="查询编号或标题包含")


class CaseCreateIn(InSchema):
    source: Source = Field(description="来源")
    node: ObjId = Field(description="所在社区、村、网格或微网格的节点编号")
    building: ObjId | None = Field(None, description="楼栋节点编号（须在 node 之下）")
    title: str = Field(description="标题（100 字以内）")
    description: str = Field(description="描述（4000 字以内）")
    category: str | None = Field(None, max_length=40, description="类别代码（见 GET /cases/categories）")
    tier: Tier | None = Field(None, description="分流；默认取类别的默认分流")
    urgency: Urgency = Field(Urgency.NORMAL, description="紧急程度")
    latitude: float | None = Field(None, ge=-90, le=90, description="纬度（WGS-84）")
    longitude: float | None = Field(None, ge=-180, le=180, description="经度（WGS-84）")
    address: str = Field("", description="地点（200 字以内）")
    anonymous: bool = Field(False, description="匿名反映：不记录反映人姓名和电话")
    reporter_name: str = Field("", description="反映人姓名")
    reporter_phone: str = Field("", description="反映人电话（手机号或带区号的固定电话；加密保存，只显示脱敏值）")


class AttachmentOut(Schema):
    id: int = Field(description="附件编号")
    case_id: int = Field(description="事项编号（内部）")
    name: str = Field(validation_alias="original_name", description="上传时的文件名")
    content_type: str = Field(description="类型（按文件内容判定）：image/jpeg、image/png、image/webp、application/pdf、docx、xlsx")
    size: int = Field(description="大小（字节）")
    is_photo: bool = Field(description="是否照片")
    uploaded_by_id: int | None = Field(None, description="上传人编号；居民上传为 null")
    uploaded_by_name: str | None = Field(None, description="上传人")
    created_at: datetime = Field(description="上传时间")
    download_url: str = Field(description="下载地址（同样需要能查看该事项）")

    @staticmethod
    def resolve_uploaded_by_name(obj) -> str | None:
        user = obj.uploaded_by
        return (user.full_name or user.username) if user else None

    @staticmethod
    def resolve_download_url(obj) -> str:
        return reverse("api:case_attachment_download", args=[obj.case_id, obj.pk])


class ActionIn(InSchema):
    action: Action = Field(description="动作（见 GET /cases/workflow）")
    reason: str = Field("", description="说明：退回、上报、督办、办结（办理结果）、核查不通过、重办、不予受理时必填")
    tier: Tier | None = Field(None, description="分流（受理、分流时）")
    category: str | None = Field(None, max_length=40, description="改定类别代码（受理、分流时）")
    department: ObjId | None = Field(None, description="承办部门编号（派遣大事时；默认按派遣规则）")
    rating: Rating | None = Field(None, description="评价（回访时必填）")
    comment: str | None = Field(None, description="评价意见（回访时）")
    into: ObjId | None = Field(None, description="并入的事项编号（合并时必填）")


# --- schemas: reference ---------------------------------------------------------------------------


class WorkflowRowOut(Schema):
    action: str = Field(description="动作代码")
    action_label: str = Field(description="动作名称")
    from_: list[str] = Field(alias="from", description="可以执行该动作的状态")
    to: str | None = Field(None, description="执行后的状态；null 表示状态不变")
    actors: list[str] = Field(description="可以执行的人：grid/community/handler/leader/admin/resident")
    needs_reason: bool = Field(description="是否必须填写说明")
    note: str = Field(description="说明")


class CategoryOut(Schema):
    id: int = Field(description="类别编号")
    code: str = Field(description="类别代码")
    name: str = Field(description="名称")
    is_group: bool = Field(description="是否大类")
    parent_code: str | None = Field(None, description="所属大类代码")
    parent_name: str | None = Field(None, description="所属大类名称")
    default_tier: str = Field(description="默认分流")
    time_limit: float = Field(description="办理时限")
    time_limit_unit: str = Field(description="时限单位：working_days/working_hours/hours")
    time_limit_label: str = Field(description="办理时限，如“1 工作日”")
    accept_conditions: str = Field(description="受理条件")
    close_conditions: str = Field(description="结案条件")
    keywords: str = Field(description="关键词（空格分隔）")

    @staticmethod
    def resolve_is_group(obj) -> bool:
        return obj.parent_id is None

    @staticmethod
    def resolve_parent_code(obj) -> str | None:
        return obj.parent.code if obj.parent_id else None

    @staticmethod
    def resolve_parent_name(obj) -> str | None:
        return obj.parent.name if obj.parent_id else None

    @staticmethod
    def resolve_time_limit_label(obj) -> str:
        return f"{Decimal(obj.time_limit).normalize():f} {obj.get_time_limit_unit_display()}"


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


class DeliberationItemOut(Schema):
    id: int = Field(description="议程事项编号")
    case_id: int = Field(description="事项编号")
    ticket: str = Field(description="查询编号")
    title: str = Field(description="事项标题")
    state_label: str = Field(description="事项状态")
    why: str = Field(description="列入原因")
    decision: str = Field(description="议定意见")
    owner: str = Field(description="跟进责任人")
    due_date: date | None = Field(None, description="完成时限")

    @staticmethod
    def resolve_ticket(obj) -> str:
        return obj.case.ticket

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.case.title

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.case.get_state_display())


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
    owner: str = Field("", max_length=64, description="跟进责任人（有议定意见时必填）")
    due_date: date | None = Field(None, description="完成时限")


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


class ReviewItemOut(Schema):
    id: int = Field(description="评估事项编号")
    case_id: int = Field(description="事项编号")
    ticket: str = Field(description="查询编号")
    title: str = Field(description="事项标题")
    state: str = Field(description="事项状态代码")
    state_label: str = Field(description="事项状态")
    category_name: str | None = Field(None, description="类别")
    verdict: str = Field(description="结论代码：空为待评估，struck_off 销号，carried_over 结转下季")
    verdict_label: str = Field(description="结论")
    reason: str = Field(description="说明")

    @staticmethod
    def resolve_ticket(obj) -> str:
        return obj.case.ticket

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.case.title

    @staticmethod
    def resolve_state(obj) -> str:
        return obj.case.state

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.case.get_state_display())

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


# --- schemas: statistics --------------------------------------------------------------------------


class RatesOut(Schema):
    counts: dict[str, int] = Field(description="计数：reported 登记、accepted 受理、dispatched 派遣、resolved 办结……")
    response_rate: float | None = Field(None, description="响应率 = 及时签收 / 派遣")
    resolution_rate: float | None = Field(None, description="解决率 = 办结 / 受理")
    satisfaction_rate: float | None = Field(None, description="满意率 = (满意 + 0.9×基本满意) / 参评")
    completion_rate: float | None = Field(None, description="办结率（结案率）= 结案 / 受理")
    on_time_rate: float | None = Field(None, description="按时办结率 = 按时办结 / 办结")
    composite: float | None = Field(None, description="综合得分 = 0.1×响应 + 0.5×解决 + 0.4×满意")


class StatsScopeOut(Schema):
    node_id: int | None = Field(None, description="统计范围节点编号；null 表示全部")
    node_name: str = Field(description="统计范围名称")
    start_month: str = Field(description="起始月份（YYYY-MM，含）")
    end_month: str = Field(description="截止月份（YYYY-MM，含）")


class RatesReportOut(StatsScopeOut):
    rates: RatesOut = Field(description="各项比率")
    levels: dict[str, int] = Field(description="化解层级：level1 村社、level2 街道科室、level3 联席会议、level4 区级")


class RankingRowOut(Schema):
    position: int = Field(description="名次")
    unit_id: int | None = Field(None, description="网格或社区（村）编号")
    unit_name: str | None = Field(None, description="网格或社区（村）名称")
    rates: RatesOut = Field(description="各项比率")


class RankingOut(StatsScopeOut):
    by: str = Field(description="排名单位：grid 或 community")
    items: list[RankingRowOut] = Field(description="按综合得分从高到低")


class TrendRowOut(Schema):
    month: str = Field(description="月份（YYYY-MM）")
    rates: RatesOut = Field(description="该月的计数和比率")


class TrendOut(StatsScopeOut):
    months: list[TrendRowOut] = Field(description="逐月（没有数据的月份计数为 0）")


class CategoryCountOut(Schema):
    category_id: int | None = Field(None, description="类别编号；null 为未分类")
    name: str = Field(description="类别名称")
    reported: int = Field(description="登记数")
    resolved: int = Field(description="办结数")


class CategoryStatsOut(StatsScopeOut):
    items: list[CategoryCountOut] = Field(description="按登记数从多到少")


# --- endpoints: reference -------------------------------------------------------------------------

router = Router()


@router.get("/workflow", response={200: list[WorkflowRowOut], 401: ErrorOut}, by_alias=True, summary="事项流转表",
            tags=T_REFERENCE)
def workflow_table(request):
    """状态 × 动作 → 新状态，以及谁可以执行（grid 网格员/网格长，community 社区（村）书记和工作人员，
    handler 承办人，leader 街道领导，admin 系统管理员，resident 反映人凭查询编号）。这是唯一的流转规则。"""
    return [{**row, "action_label": str(row["action_label"])} for row in workflow.table_rows()]


@router.get("/categories", response={200: list[CategoryOut], **READ_ERRORS}, summary="事项类别（启用的）",
            tags=T_REFERENCE)
@paginated
def category_list(request):
    return selectors.categories_active()


# --- endpoints: statistics ------------------------------------------------------------------------


class Period:
    def __init__(self, start: date, last: date) -> None:
        self.start, self.last, self.end = start, last, _next_month(last)

    def months(self) -> list[date]:
        months, day = [], self.start
        while day <= self.last:
            months.append(day)
            day = _next_month(day)
        return months


def _period(start_month: str | None, end_month: str | None) -> Period:
    today = timezone.localdate()
    start = _month_start(start_month) if start_month else date(today.year, 1, 1)
    last = _month_start(end_month) if end_month else today.replace(day=1)
    if start > last:
        raise DomainError("起始月份不能晚于截止月份。", field="from")
    if (last.year - start.year) * 12 + last.month - start.month + 1 > MAX_STATS_MONTHS:
        raise DomainError(f"统计区间不能超过 {MAX_STATS_MONTHS} 个月。", field="from")
    return Period(start, last)


def _stats_node(request: Any, node_id: int | None) -> OrgNode | None:
    """The node to report on: the one asked for (in the caller's case scope, else 404), or the
    caller's own scope when it is a single subtree. None means everywhere (superusers)."""
    if node_id is not None:
        return _case_node(request, node_id)
    paths = scope.granted_paths(request.auth, Perm.VIEW_CASES)
    if paths is None:
        return None
    if not paths:
        raise PermissionError_("您没有查看事项统计的权限。")
    if len(paths) > 1:
        raise DomainError("您管辖多个范围，请用 node 指定统计范围。", field="node")
    return OrgNode.objects.get(path=paths[0])


def _scope_out(node: OrgNode | None, period: Period) -> dict[str, Any]:
    return {"node_id": node.pk if node else None, "node_name": node.name if node else "全部",
            "start_month": f"{period.start:%Y-%m}", "end_month": f"{period.last:%Y-%m}"}


class StatsQuery(Schema):
    node: int | None = Field(None, ge=1, le=MAX_ID, description="统计范围节点编号（默认为本人管辖范围）")
    start_month: Month | None = Field(None, alias="from", description="起始月份 YYYY-MM（含），默认本年 1 月")
    end_month: Month | None = Field(None, alias="to", description="截止月份 YYYY-MM（含），默认本月")


def _stats_args(request: Any, query: StatsQuery) -> tuple[OrgNode | None, Period, str | None]:
    period = _period(query.start_month, query.end_month)
    node = _stats_node(request, query.node)
    return node, period, node.path if node else None


@router.get("/stats/rates", response={200: RatesReportOut, **STATS_ERRORS}, summary="办理比率", tags=T_STATS)
def stats_rates(request, query: Query[StatsQuery]):
    """响应率、解决率、满意率、办结率、按时办结率和综合得分，以及三级调处的化解层级分布。
    比率的分母为 0 时为 null（不是 0 或 100%）。"""
    node, period, path = _stats_args(request, query)
    return {**_scope_out(node, period), "rates": stats.totals(path, period.start, period.end),
            "levels": stats.resolution_levels(path, period.start, period.end)}


@router.get("/stats/ranking", response={200: RankingOut, **STATS_ERRORS}, summary="网格/社区排名", tags=T_STATS)
def stats_ranking(
    request, query: Query[StatsQuery],
    by: Literal["grid", "community", "subdistrict", "district", "child"] = Query(
        "grid", description="排名单位：grid 网格，community 社区（村），subdistrict 街道，district 区（县），"
                            "child 统计范围的下一级"),
):
    """月评议、季评比：按综合得分从高到低排名。"""
    node, period, path = _stats_args(request, query)
    return {**_scope_out(node, period), "by": by, "items": stats.ranking(path, period.start, period.end, by=by)}


@router.get("/stats/trend", response={200: TrendOut, **STATS_ERRORS}, summary="逐月趋势", tags=T_STATS)
def stats_trend(request, query: Query[StatsQuery]):
    node, period, path = _stats_args(request, query)
    rows = {row["month"]: row["rates"] for row in stats.trend(path, period.start, period.end)}
    months = [{"month": f"{m:%Y-%m}", "rates": rows.get(m) or stats.rates_from({})} for m in period.months()]
    return {**_scope_out(node, period), "months": months}


@router.get("/stats/categories", response={200: CategoryStatsOut, **STATS_ERRORS}, summary="类别分布",
            tags=T_STATS)
def stats_categories(
    request, query: Query[StatsQuery],
    limit: int = Query(10, ge=1, le=100, description="最多列出多少个类别"),
):
    node, period, path = _stats_args(request, query)
    return {**_scope_out(node, period), "items": stats.by_category(path, period.start, period.end, limit=limit)}


# --- endpoints: 周集 --------------------------------------------------------------------------------


@router.get("/digests", response={200: list[DigestOut], **READ_ERRORS}, summary="周集列表", tags=T_CYCLES)
@paginated
def digest_list(
    request,
    node: int | None = Query(None, ge=1, le=MAX_ID, description="网格或社区（村）节点编号"),
    week: date | None = Query(None, description="该周内任意一天"),
):
    """每周一自动生成上周的周集，也可随时生成（POST）。"""
    return selectors.digest_list(request.auth, node=_case_node(request, node),
                                 week_start=cycles.week_start_of(week) if week else None)


@router.post("/digests", response={200: DigestOut, **WRITE_ERRORS}, summary="生成（或重新生成）周集",
             tags=T_CYCLES)
def digest_generate(request, payload: DigestIn):
    node = _case_node(request, payload.node)
    digest = cycles.weekly_digest_generate(node=node, week_start=payload.week or timezone.localdate(),
                                           actor=request.auth)
    return selectors.digest_get(request.auth, digest.pk)


@router.get("/digests/{digest_id}", response={200: DigestOut, **READ_ERRORS}, summary="周集详情", tags=T_CYCLES)
def digest_detail(request, digest_id: int = _id_path("周集编号")):
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
    return selectors.deliberation_list(request.auth, community=_case_node(request, community, "community"),
                                       month=_month_start(month) if month else None)


@router.post("/deliberations", response={201: DeliberationOut, **WRITE_ERRORS}, summary="筹备月议（生成议程）",
             tags=T_CYCLES)
def deliberation_prepare(request, payload: DeliberationIn):
    """打开本月的居民代表协商议事会，把本社区的疑难和超期事项列入议程；再次调用会补入新出现的事项。
    需要社区（村）书记、工作人员或街道领导。"""
    community = _case_node(request, payload.community, "community")
    meeting = cycles.deliberation_prepare(actor=request.auth, community=community,
                                          month=_month_start(payload.month))
    return Status(201, selectors.deliberation_get(request.auth, meeting.pk))


@router.get("/deliberations/{meeting_id}", response={200: DeliberationOut, **READ_ERRORS}, summary="月议详情",
            tags=T_CYCLES)
def deliberation_detail(request, meeting_id: int = _id_path("月议编号")):
    return selectors.deliberation_get(request.auth, meeting_id)


@router.post("/deliberations/{meeting_id}/items", response={201: DeliberationItemOut, **WRITE_ERRORS},
             summary="把事项列入月议议程", tags=T_CYCLES)
def deliberation_add_case(request, payload: DeliberationCaseIn, meeting_id: int = _id_path("月议编号")):
    meeting = selectors.deliberation_get(request.auth, meeting_id)
    if meeting.status == Deliberation.Status.HELD:
        raise DomainError("本月月议已召开，议程不能再变更。", field="case")
    case = _ref(selectors.case_get, request.auth, payload.case, "case")
    item = cycles.deliberation_add_case(actor=request.auth, meeting=meeting, case=case, why=payload.why)
    return Status(201, item)


@router.post("/deliberations/{meeting_id}/record", response={200: DeliberationOut, **WRITE_ERRORS},
             summary="记录月议（参会人员、纪要、逐项议定意见）", tags=T_CYCLES)
def deliberation_record(request, payload: DeliberationRecordIn, meeting_id: int = _id_path("月议编号")):
    """每项议定意见写回对应事项的审计记录（在事项页面上可见）。记录后月议状态为“已召开”。"""
    meeting = selectors.deliberation_get(request.auth, meeting_id)
    decisions = {d.item: {"decision": d.decision, "owner": d.owner, "due_date": d.due_date}
                 for d in payload.decisions}
    cycles.deliberation_record(
        actor=request.auth, meeting=meeting, held_at=_aware(payload.held_at), location=payload.location,
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
    return selectors.review_list(request.auth, community=_case_node(request, community, "community"),
                                 year=year, quarter=quarter)


@router.post("/reviews", response={201: ReviewOut, **WRITE_ERRORS}, summary="开始季度逐项评估", tags=T_CYCLES)
def review_prepare(request, payload: ReviewIn):
    """列出本季度登记的和以前结转未办完的全部事项，逐项评估销号或结转；再次调用会补入新事项。"""
    community = _case_node(request, payload.community, "community")
    review = cycles.quarterly_review_prepare(actor=request.auth, community=community, year=payload.year,
                                             quarter=payload.quarter)
    return Status(201, selectors.review_get(request.auth, review.pk))


@router.get("/reviews/{review_id}", response={200: ReviewOut, **READ_ERRORS}, summary="季度评估详情",
            tags=T_CYCLES)
def review_detail(request, review_id: int = _id_path("季度评估编号")):
    return selectors.review_get(request.auth, review_id)


@router.get("/reviews/{review_id}/items", response={200: list[ReviewItemOut], **READ_ERRORS},
            summary="季度评估的事项", tags=T_CYCLES)
@paginated
def review_items(
    request,
    review_id: int = _id_path("季度评估编号"),
    verdict: Literal["pending", "struck_off", "carried_over"] | None = Query(None, description="按结论筛选"),
):
    review = selectors.review_get(request.auth, review_id)
    return selectors.review_items(review, verdict="" if verdict == "pending" else verdict)


@router.put("/reviews/{review_id}/items/{item_id}", response={200: ReviewItemOut, **WRITE_ERRORS},
            summary="评估一件事项：销号或结转", tags=T_CYCLES)
def review_item_set(
    request, payload: ReviewItemIn, review_id: int = _id_path("季度评估编号"), item_id: int = _id_path("评估事项编号")
):
    review = selectors.review_get(request.auth, review_id)
    item = selectors.review_item_get(review, item_id)
    return cycles.review_item_set(actor=request.auth, item=item, verdict=payload.verdict, reason=payload.reason)


@router.post("/reviews/{review_id}/finalize", response={200: ReviewOut, **WRITE_ERRORS},
             summary="定稿：销号并冻结季报告数字", tags=T_CYCLES)
def review_finalize(request, review_id: int = _id_path("季度评估编号")):
    """全部事项评估后才能定稿；销号的已核查事项随之结案（需社区（村）书记、工作人员或管理员）。"""
    review = selectors.review_get(request.auth, review_id)
    cycles.quarterly_review_finalize(actor=request.auth, review=review)
    return selectors.review_get(request.auth, review.pk)


def _report_doc(media_type: str) -> dict[str, Any]:
    return {"responses": {200: {"description": "文件（附件）",
                                "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}}


@router.get("/reviews/{review_id}/report.xlsx", response=FILE_ERRORS, openapi_extra=_report_doc(XLSX),
            summary="下载季报告（xlsx）", tags=T_CYCLES)
def review_report_xlsx(request, review_id: int = _id_path("季度评估编号")):
    review = selectors.review_get(request.auth, review_id)
    return _file(reports.quarterly_report_xlsx(review), f"{reports.report_title(review)}.xlsx", XLSX)


@router.get("/reviews/{review_id}/report.docx", response=FILE_ERRORS, openapi_extra=_report_doc(DOCX),
            summary="下载季报告（docx，公文格式）", tags=T_CYCLES)
def review_report_docx(request, review_id: int = _id_path("季度评估编号")):
    review = selectors.review_get(request.auth, review_id)
    return _file(reports.quarterly_report_docx(review), f"{reports.report_title(review)}.docx", DOCX)


# --- endpoints: cases -----------------------------------------------------------------------------
# Registered after the fixed paths above: "/{case_id}" would otherwise swallow "/workflow".


@router.get("", response={200: list[CaseOut], **READ_ERRORS}, summary="事项列表", tags=T_CASES)
@paginated
def case_list(request, filters: Query[CaseFilters]):
    """只列出本人管辖范围内的事项（科室办理人员：派给本部门的事项），最新的在前。"""
    return selectors.case_list(
        request.auth,
        state=filters.state or "",
        tier=filters.tier or "",
        category=_category(filters.category),
        node=_node(request, filters.node),
        overdue=filters.overdue,
        mine=filters.mine,
        text=filters.q,
    )


def _create_args(request, payload: CaseCreateIn) -> dict[str, Any]:
    """The intake fields as services.case_create takes them (JSON and multipart alike): both
    coordinates or neither, rounded to 6 places; places and category resolved in the caller's scope."""
    data = payload.model_dump()
    if (data["latitude"] is None) != (data["longitude"] is None):
        missing = "longitude" if data["longitude"] is None else "latitude"
        raise DomainError("经度和纬度需同时填写。", field=missing)
    for key in ("latitude", "longitude"):
        if data[key] is not None:
            data[key] = Decimal(str(round(data[key], 6)))
    data["node"] = _node(request, data["node"])
    data["building"] = _node(request, data["building"], "building")
    data["category"] = _category(data["category"])
    data["tier"] = data["tier"] or ""
    return data


@router.post("", response={201: CaseDetailOut, **WRITE_ERRORS}, summary="登记事项", tags=T_CASES)
def case_create(request, payload: CaseCreateIn):
    """需要在该节点登记事项的权限（网格员、社区、街道）。反映人电话加密保存，只返回脱敏值。"""
    data = _create_args(request, payload)
    case = services.case_create(actor=request.auth, **data)
    # The case as filed, with its related objects already attached: nothing is read back; the
    # body is built without ninja's per-field validation (the busiest write of the platform).
    return respond(request, CaseDetailOut, case, status=201)


def _attach(actor: Any, case: Any, upload: Any, field: str) -> Any:
    """services.case_attach (type judged by content, size, count, who may attach), with its errors
    naming the API's multipart field."""
    try:
        return services.case_attach(actor=actor, case=case, upload=upload)
    except DomainError as exc:
        if exc.field == "upload":
            exc.field = field
        raise


ATTACH_RULES = ("JPG、PNG、WEBP 照片或 PDF、Word（.docx）、Excel（.xlsx）文件，每个不超过 10 MB，"
                f"每件事项最多 {services.ATTACHMENTS_PER_CASE} 个；类型按文件内容判定，与扩展名无关。")


@router.post("/with-attachments", response={201: CaseDetailOut, 413: ErrorOut, **WRITE_ERRORS},
             summary="登记事项并上传照片或文件（multipart）", tags=T_CASES,
             description=f"与 POST /cases 相同的字段，以 multipart/form-data 提交，另加任意个 files（{ATTACH_RULES}）。"
                         "登记和附件在一个事务中：任何一个文件不合格（400，field 为 files，说明中写明文件名），"
                         "事项也不登记。")
def case_create_with_attachments(
    request,
    payload: Form[CaseCreateIn],
    files: File[list[UploadedFile]] = None,
):
    data = _create_args(request, payload)
    stored: list[Any] = []
    try:
        with transaction.atomic():
            case = services.case_create(actor=request.auth, **data)
            for upload in files or []:
                stored.append(_attach(request.auth, case, upload, "files"))
    except Exception:
        for attachment in stored:  # the rows are rolled back; remove their files too
            attachment.file.delete(save=False)
        raise
    return Status(201, selectors.case_get_unscoped(case.pk))


@router.get("/{case_id}", response={200: CaseDetailOut, **READ_ERRORS}, summary="事项详情", tags=T_CASES)
def case_detail(request, case_id: int = _id_path("事项编号")):
    """含流转记录和当前用户可以执行的动作（allowed_actions）。反映人电话只返回脱敏值。"""
    return selectors.case_get(request.auth, case_id)


@router.post("/{case_id}/actions", response={200: CaseDetailOut, **WRITE_ERRORS}, summary="对事项执行动作",
             tags=T_CASES)
def case_action(request, payload: ActionIn, case_id: int = _id_path("事项编号")):
    """按事项流转表（GET /cases/workflow）执行一个动作：受理、不予受理、分流、派遣、签收、退回、办理、
    上报、督办、办结、核查通过/不通过、回访评价、结案销号、重办、合并。

    400：当前状态不能执行该动作（field 为 action）或缺少必填项；403：您不能执行该动作；
    409：事项刚被他人处理（什么也没有改变，请刷新后重试）。"""
    case = selectors.case_get(request.auth, case_id)
    sent = {name for name in OPTIONAL_PARAMS if getattr(payload, name) is not None}
    extra = sorted(sent - ACTION_PARAMS.get(payload.action, frozenset()))
    if extra:
        raise DomainError(f"“{Action(payload.action).label}”不需要字段 {extra[0]}。", field=extra[0])
    params: dict[str, Any] = {name: getattr(payload, name) for name in sent}
    if "category" in params:
        params["category"] = _category(params["category"])
    if "department" in params:
        # The departments the case may go to (its sub-district's active ones), as the UI offers them.
        params["department"] = _ref(lambda _user, pk: _dispatch_department(case, pk), None, params["department"],
                                    "department")
    if "into" in params:
        params["into"] = _ref(selectors.case_get, request.auth, params["into"], "into")
    fresh = services.case_act(actor=request.auth, case=case, action=payload.action, reason=payload.reason, **params)
    # Shown even if the action took the case out of the caller's scope (a handler returning it).
    return selectors.case_get_unscoped(fresh.pk)


@router.get("/{case_id}/transitions", response={200: list[TransitionOut], **READ_ERRORS}, summary="流转记录",
            tags=T_CASES)
@paginated
def case_transitions(request, case_id: int = _id_path("事项编号")):
    return selectors.case_timeline(selectors.case_get(request.auth, case_id))



@router.get("/{case_id}/attachments", response={200: list[AttachmentOut], **READ_ERRORS}, summary="事项的照片和文件",
            tags=T_CASES)
def case_attachment_list(request, case_id: int = _id_path("事项编号")):
    """能查看该事项的人都可以查看其附件（与事项详情相同的范围）。"""
    return selectors.case_attachments(selectors.case_get(request.auth, case_id)).select_related("uploaded_by")


@router.post("/{case_id}/attachments", response={201: AttachmentOut, 413: ErrorOut, **WRITE_ERRORS},
             summary="上传照片或文件（multipart）", tags=T_CASES)
def case_attachment_upload(request, case_id: int = _id_path("事项编号"),
                           file: UploadedFile = File(..., description=ATTACH_RULES)):
    """multipart/form-data，字段 file。需要与该事项相关（网格员、社区、承办人员、领导、管理员，与页面相同）；
    已结案或不予受理的事项不能再添加。400：类型不支持、文件为空、超过 10 MB 或已达数量上限（field 为 file）；
    403：能看到事项但不能添加附件；404：事项不存在或不在管辖范围内。"""
    case = selectors.case_get(request.auth, case_id)
    attachment = _attach(request.auth, case, file, "file")
    return Status(201, attachment)


@router.get("/{case_id}/attachments/{attachment_id}", response=FILE_ERRORS, url_name="case_attachment_download",
            summary="下载照片或文件", tags=T_CASES,
            openapi_extra={"responses": {200: {"description": "文件内容（类型见附件的 content_type）",
                                               "content": {"application/octet-stream": {}}}}})
def case_attachment_download(request, case_id: int = _id_path("事项编号"),
                             attachment_id: int = _id_path("附件编号")):
    """与事项相同的范围：事项或附件不存在、不在管辖范围内都答 404。"""
    attachment = selectors.attachment_get(request.auth, case_id, attachment_id)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404("附件文件已丢失，请联系系统管理员。") from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.original_name,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
