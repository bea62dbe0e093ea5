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

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, UploadedFile
from ninja.responses import Status

from jiedao.cases import selectors, services, stuck, workflow
from jiedao.cases.api_common import FILE_ERRORS, T_CASES, category_ref, scoped_node
from jiedao.cases.catalogue.api import router as catalogue_router
from jiedao.cases.cycles.api import router as cycles_router
from jiedao.cases.mediation.api import router as mediation_router
from jiedao.cases.models import (
    CaseTransition,
    Level,
    Rating,
    Source,
    State,
    Tier,
    Urgency,
)
from jiedao.cases.statistics.api import router as statistics_router
from jiedao.cases.workflow import Action
from jiedao.core import exports
from jiedao.core.api import (
    MAX_ID,
    PAGE_SIZE_MAX,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    ExportJobOut,
    InSchema,
    ObjId,
    id_path,
    paginated,
    ref_or_404,
)
from jiedao.core.errors import DomainError
from jiedao.core.fastpath import respond
from jiedao.core.validators import choice_values

# Which optional parameters each action takes (see jiedao.cases.services.EFFECTS); anything else
# sent with an action is refused rather than silently ignored.
ACTION_PARAMS: dict[str, frozenset[str]] = {
    Action.ACCEPT: frozenset({"tier", "category"}),
    Action.TIER: frozenset({"tier", "category"}),
    Action.DISPATCH: frozenset({"department"}),
    Action.FOLLOW_UP: frozenset({"contacted", "solved", "rating", "comment"}),
    Action.MERGE: frozenset({"into"}),
    Action.DEFER: frozenset({"new_deadline"}),
    Action.HAND_OVER: frozenset({"district_ref", "sent_on"}),
    Action.DISTRICT_REPLY: frozenset({"outcome", "reply"}),
}
OPTIONAL_PARAMS = ("tier", "category", "department", "contacted", "solved", "rating", "comment", "into", "new_deadline",
                   "district_ref", "sent_on", "outcome", "reply")


def _dispatch_department(case: Any, pk: int) -> Any:
    department = selectors.dispatch_departments(case).filter(pk=pk).first()
    if department is None:
        raise Http404(_("未找到该部门。"))
    return department


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
    deadline_at: datetime | None = Field(None, description="办理期限（派遣时按类别时限和所属街道的办公时间计算）")
    deadline_estimated: bool = Field(description="期限是否为估算：涉及的年度节假日安排尚未确认录入完整（确认后重算）")
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


class NextStepOut(Schema):
    unit: str = Field(description="当前责任单位，如“城市管理办”“东门社区”“丹西街道联席会议”“区级（受理编号 …）”")
    unit_kind: str = Field(description="责任单位类型：department/community/joint_meeting/subdistrict/district")
    actor_kinds: list[str] = Field(description="可以推进的人：grid/community/handler/leader/admin")
    actions: list[str] = Field(description="下一步动作代码")
    action_labels: list[str] = Field(description="下一步动作名称")


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
    rated_at: datetime | None = Field(None, description="评价时间（最近一次回访）")
    contacted_in_time: bool | None = Field(None, description="回访：居民认为是否及时联系；未回访为 null")
    solved: bool | None = Field(None, description="回访：居民认为问题是否已解决；未回访为 null")
    return_count: int = Field(description="退回次数")
    rework_count: int = Field(description="返工次数")
    reopen_count: int = Field(description="重办次数")
    supervise_count: int = Field(description="督办次数")
    escalation_count: int = Field(description="上报次数")
    merged_into_id: int | None = Field(None, description="并入的事项编号")
    merged_into_ticket: str | None = Field(None, description="并入的事项查询编号")
    deferred_at: datetime | None = Field(None, description="缓办批准时间（缓办后 deadline_at 为批准的新期限）")
    district_ref: str = Field(description="区级受理编号（移交区级后）")
    district_sent_at: datetime | None = Field(None, description="移交区级时间")
    district_reply: str = Field(description="区级答复")
    district_replied_at: datetime | None = Field(None, description="区级答复登记时间")
    next_step: NextStepOut | None = Field(None, description="当前责任单位和下一步；已结案、不予受理的为 null")
    version: int = Field(description="版本（每次流转加一）")
    allowed_actions: list[AllowedActionOut] = Field(description="当前用户可以执行的动作（已按条件排除不能成功的）")
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
    def resolve_next_step(obj) -> dict[str, Any] | None:
        step = stuck.next_step(obj)
        if step is None:
            return None
        return {"unit": step.unit, "unit_kind": step.unit_kind,
                "actor_kinds": [k for k in workflow.Actor.values if k in step.kinds],
                "actions": list(step.actions), "action_labels": step.action_labels}

    @staticmethod
    def resolve_allowed_actions(obj, context) -> list[dict[str, Any]]:
        user = context["request"].auth
        rows = []
        for action in workflow.allowed_actions(obj.state, services.actor_kinds(user, obj), current=obj, actor=user):
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
    q: str = Field("", max_length=100, description="查询编号（完整或连续 6 位以上），或标题、描述中的字词（全部字词都出现的事项）")


class CaseCreateIn(InSchema):
    source: Source = Field(description="来源")
    node: ObjId | None = Field(None, description="所在社区、村、网格或微网格的节点编号；给了楼栋时可不填（取楼栋所在网格）")
    building: ObjId | None = Field(None, description="楼栋节点编号（同时给了 node 时须在 node 之下）")
    title: str = Field("", description="标题（100 字以内；不填则取描述的前 30 个字）")
    description: str = Field(description="描述（10000 字以内）")
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
    reason: str = Field("", description="说明：退回、上报、督办、缓办、办结（办理结果）、移交区级、核查不通过、重办、"
                                       "不予受理时必填")
    tier: Tier | None = Field(None, description="分流（受理、分流时）")
    category: str | None = Field(None, max_length=40, description="改定类别代码（受理、分流时）")
    department: ObjId | None = Field(None, description="承办部门编号（派遣大事时；默认按派遣规则）")
    contacted: bool | None = Field(None, description="回访时必填：居民认为是否及时联系了他（是 true / 否 false）")
    solved: bool | None = Field(None, description="回访时必填：居民认为问题是否已解决；false 时事项退回重办")
    rating: Rating | None = Field(None, description="回访时必填：满意程度；不满意时事项退回重办")
    comment: str | None = Field(None, description="评价意见（回访时）")
    into: ObjId | None = Field(None, description="并入的事项编号（合并时必填）")
    new_deadline: date | None = Field(None, description="缓办批准的新办理期限（日期，须晚于当前期限；期限为当日下班时间）")
    district_ref: str | None = Field(None, max_length=64, description="区级受理编号（移交区级时必填）")
    sent_on: date | None = Field(None, description="移交区级的日期（默认今天，不能晚于今天）")
    outcome: Literal["resolved", "returned"] | None = Field(
        None, description="区级反馈结果（区级反馈时必填）：resolved 区级已办结，returned 退回街道办理")
    reply: str | None = Field(None, description="区级答复内容（区级反馈时必填）")


case_router = Router()


# --- endpoints: cases -----------------------------------------------------------------------------
# Registered after the fixed paths above: "/{case_id}" would otherwise swallow "/workflow".


class CaseExportIn(CaseFilters, InSchema):
    """The case list's filters, in the body of an export request."""


@case_router.post("/exports", response={202: ExportJobOut, **WRITE_ERRORS, 429: ErrorOut},
                  summary="导出事项（后台作业）", tags=T_CASES)
def case_export(request, payload: CaseExportIn):
    """请求体中的筛选条件与事项列表的查询参数相同；反映人电话脱敏。导出在后台进行：返回 202 和导出作业，
    用 GET /api/v1/exports/{id} 查询进度，完成后从 download_url 下载（只有本人可以下载）。每次导出和下载都记入审计日志。"""
    filters = {
        "state": payload.state or "", "tier": payload.tier or "", "category": category_ref(payload.category),
        "node": scoped_node(request, payload.node), "overdue": payload.overdue, "mine": payload.mine,
        "text": payload.q,
    }
    return Status(202, exports.export_request(actor=request.auth, register="cases", filters=filters))


class CasePageIn(Schema):
    limit: int = Field(selectors.PAGE_LIMIT, ge=1, le=PAGE_SIZE_MAX, description="每页条数，默认 50，最多 500")
    cursor: str | None = Field(None, max_length=40,
                               description="翻页游标：上一页答复中的 next_cursor（推荐的翻页方式，任何范围下每页代价相同）")
    offset: int = Field(0, ge=0, le=10_000, description="跳过前面多少条（兼容旧客户端，最多 10000；更多请用 cursor）")
    count: bool | None = Field(None, description="是否计算总数（最多数到 10000）；默认第一页计算、带 cursor 的请求不计算")


class CasePageOut(Schema):
    count: int | None = Field(None, description="符合条件的事项总数：count_capped 为 false 时是确切总数；为 true 时是下限（总数至少为 count）。未计算时为 null（带 cursor 且未要求 count；或数的范围内一条也没找到而未数完）")
    count_capped: bool = Field(False, description="是否只数了一部分：true 表示总数至少为 count、可能更多——总数超过 10000 时 count 为 10000；筛选或文字检索时为了保持速度只读有限的索引项（筛选 10001 条；文字检索 SQLite 为最新的 2500 条匹配，PostgreSQL 为列表最新的 1000 件或最新的 1000 条匹配），count 为其中符合条件的条数（有下一页时至少为 limit + 1）")
    next_cursor: str | None = Field(None, description="下一页的游标（作为 cursor 参数传回）；已是最后一页时为 null")
    items: list[CaseOut]


@case_router.get("", response={200: CasePageOut, **READ_ERRORS}, summary="事项列表", tags=T_CASES)
def case_list(request, filters: Query[CaseFilters], paging: Query[CasePageIn]):
    """只列出本人管辖范围内的事项（科室办理人员：派给本部门的事项），最新的在前。
    翻页：用答复中的 next_cursor 作为下一次请求的 cursor（新登记的事项不会造成重复或遗漏）；
    offset 仍可用，但不建议。游标无效时答 400（field 为 cursor）。"""
    page = selectors.case_page(
        request.auth,
        cursor=paging.cursor,
        offset=paging.offset,
        limit=paging.limit,
        count=paging.count if paging.count is not None else not paging.cursor,
        state=filters.state or "",
        tier=filters.tier or "",
        category=category_ref(filters.category),
        node=scoped_node(request, filters.node),
        overdue=filters.overdue,
        mine=filters.mine,
        text=filters.q,
    )
    # Built without ninja's per-field validation (as intake's answer): half the page's CPU otherwise.
    return respond(request, CasePageOut, {"count": page.count, "count_capped": page.count_capped,
                                          "next_cursor": page.next_cursor, "items": page.cases})


def _create_args(request, payload: CaseCreateIn) -> dict[str, Any]:
    """The intake fields as services.case_create takes them (JSON and multipart alike): both
    coordinates or neither, rounded to 6 places; places and category resolved in the caller's scope."""
    data = payload.model_dump()
    if (data["latitude"] is None) != (data["longitude"] is None):
        missing = "longitude" if data["longitude"] is None else "latitude"
        raise DomainError(_("经度和纬度需同时填写。"), field=missing)
    for key in ("latitude", "longitude"):
        if data[key] is not None:
            data[key] = Decimal(str(round(data[key], 6)))
    data["node"] = scoped_node(request, data["node"])
    data["building"] = scoped_node(request, data["building"], "building")
    data["category"] = category_ref(data["category"])
    data["tier"] = data["tier"] or ""
    return data


@case_router.post("", response={201: CaseDetailOut, **WRITE_ERRORS}, summary="登记事项", tags=T_CASES)
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


@case_router.post("/with-attachments", response={201: CaseDetailOut, 413: ErrorOut, **WRITE_ERRORS},
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


# --- endpoints: the reporter's phone (回访, repeat callers) ---------------------------------------


class RevealPhoneIn(InSchema):
    reason: str = Field("", description="查看事由（必填，200 字以内），如“电话回访办理结果”")


class RevealPhoneOut(Schema):
    phone: str = Field(description="反映人电话（明文；响应不缓存）")


class ReporterLookupIn(InSchema):
    phone: str = Field(max_length=32, description="来电号码（手机号或带区号的固定电话）")


class ReporterCaseOut(Schema):
    id: int = Field(description="事项编号（内部）")
    ticket: str = Field(description="查询编号")
    title: str = Field(description="标题")
    state: str = Field(description="状态代码")
    state_label: str = Field(description="状态")
    category_name: str | None = Field(None, description="类别名称")
    created_at: datetime = Field(description="登记时间")

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(State(obj.state).label) if obj.state in choice_values(State) else obj.state

    @staticmethod
    def resolve_category_name(obj) -> str | None:
        return obj.category.name if obj.category_id else None


class ReporterLookupOut(Schema):
    count: int = Field(description="在调用者有权查看的事项中，该号码反映过的件数")
    cases: list[ReporterCaseOut] = Field(description="其中最近的至多 5 件，最新的在前（不含电话）")


@case_router.post("/reporter-lookup", response={200: ReporterLookupOut, 429: ErrorOut, **WRITE_ERRORS},
                  summary="重复来电：该号码此前反映过的事项", tags=T_CASES)
def case_reporter_lookup(request, response: HttpResponse, payload: ReporterLookupIn):
    """登记时查询来电号码此前反映过的事项：按号码的盲索引查找，不解密；只计调用者有权查看的事项，
    不返回任何电话。需要登记事项的权限（403）；号码格式不对 400（field 为 phone）；每人每小时限 60 次，
    同一脱敏形式（如 138****5678）的不同号码每天限 5 个，超出 429。每次查询记入审计日志（只记脱敏号码）。
    用 POST 是为了让号码不出现在网址和访问日志中。"""
    found = services.case_reporter_lookup(actor=request.auth, phone=payload.phone)
    response["Cache-Control"] = "no-store"
    return {"count": found.count, "cases": found.cases}


@case_router.post("/{case_id}/reveal-phone", response={200: RevealPhoneOut, **WRITE_ERRORS},
                  summary="查看反映人电话（回访用）", tags=T_CASES)
def case_reveal_phone(request, response: HttpResponse, payload: RevealPhoneIn, case_id: int = id_path("事项编号")):
    """回访时查看反映人电话明文：需要查看反映人电话的权限（社区书记、社区工作人员、系统管理员；403）和事由
    （400，field 为 reason）；匿名或未留电话的事项 400（field 为 reporter_phone）；事项不在管辖范围内 404。
    每次查看都记入审计日志（含事由）；响应带 Cache-Control: no-store。"""
    case = selectors.case_get(request.auth, case_id)
    phone = services.case_reveal_phone(actor=request.auth, case=case, reason=payload.reason)
    response["Cache-Control"] = "no-store"
    return {"phone": phone}


@case_router.get("/{case_id}", response={200: CaseDetailOut, **READ_ERRORS}, summary="事项详情", tags=T_CASES)
def case_detail(request, case_id: int = id_path("事项编号")):
    """含流转记录和当前用户可以执行的动作（allowed_actions）。反映人电话只返回脱敏值。"""
    return selectors.case_get(request.auth, case_id)


@case_router.post("/{case_id}/actions", response={200: CaseDetailOut, **WRITE_ERRORS}, summary="对事项执行动作",
             tags=T_CASES)
def case_action(request, payload: ActionIn, case_id: int = id_path("事项编号")):
    """按事项流转表（GET /cases/workflow）执行一个动作：受理、不予受理、分流、派遣、签收、退回、办理、
    上报、督办、缓办、办结、移交区级、区级反馈、核查通过/不通过、回访评价、结案销号、重办、合并。

    400：当前状态不能执行该动作，或事项不满足该动作的条件（如只有私事可以受理后直接办结、办结人不能核查
    自己办结的事项；field 为 action），或缺少必填项；403：您不能执行该动作；
    409：事项刚被他人处理（什么也没有改变，请刷新后重试）。"""
    case = selectors.case_get(request.auth, case_id)
    sent = {name for name in OPTIONAL_PARAMS if getattr(payload, name) is not None}
    extra = sorted(sent - ACTION_PARAMS.get(payload.action, frozenset()))
    if extra:
        raise DomainError(
            _("“%(action)s”不需要字段 %(field)s。") % {"action": Action(payload.action).label, "field": extra[0]},
            field=extra[0],
        )
    params: dict[str, Any] = {name: getattr(payload, name) for name in sent}
    if "category" in params:
        params["category"] = category_ref(params["category"])
    if "department" in params:
        # The departments the case may go to (its sub-district's active ones), as the UI offers them.
        params["department"] = ref_or_404(lambda _user, pk: _dispatch_department(case, pk), None, params["department"],
                                    "department")
    if "into" in params:
        params["into"] = ref_or_404(selectors.case_get, request.auth, params["into"], "into")
    fresh = services.case_act(actor=request.auth, case=case, action=payload.action, reason=payload.reason, **params)
    # Shown even if the action took the case out of the caller's scope (a handler returning it).
    return selectors.case_get_unscoped(fresh.pk)


@case_router.get("/{case_id}/transitions", response={200: list[TransitionOut], **READ_ERRORS}, summary="流转记录",
            tags=T_CASES)
@paginated
def case_transitions(request, case_id: int = id_path("事项编号")):
    return selectors.case_timeline(selectors.case_get(request.auth, case_id))



@case_router.get("/{case_id}/attachments", response={200: list[AttachmentOut], **READ_ERRORS}, summary="事项的照片和文件",
            tags=T_CASES)
def case_attachment_list(request, case_id: int = id_path("事项编号")):
    """能查看该事项的人都可以查看其附件（与事项详情相同的范围）。"""
    return selectors.case_attachments(selectors.case_get(request.auth, case_id)).select_related("uploaded_by")


@case_router.post("/{case_id}/attachments", response={201: AttachmentOut, 413: ErrorOut, **WRITE_ERRORS},
             summary="上传照片或文件（multipart）", tags=T_CASES)
def case_attachment_upload(request, case_id: int = id_path("事项编号"),
                           file: UploadedFile = File(..., description=ATTACH_RULES)):
    """multipart/form-data，字段 file。需要与该事项相关（网格员、社区、承办人员、领导、管理员，与页面相同）；
    已结案或不予受理的事项不能再添加。400：类型不支持、文件为空、超过 10 MB 或已达数量上限（field 为 file）；
    403：能看到事项但不能添加附件；404：事项不存在或不在管辖范围内。"""
    case = selectors.case_get(request.auth, case_id)
    attachment = _attach(request.auth, case, file, "file")
    return Status(201, attachment)


@case_router.get("/{case_id}/attachments/{attachment_id}", response=FILE_ERRORS, url_name="case_attachment_download",
            summary="下载照片或文件", tags=T_CASES,
            openapi_extra={"responses": {200: {"description": "文件内容（类型见附件的 content_type）",
                                               "content": {kind: {} for kind, _ext, _photo in services.ATTACHMENT_KINDS.values()}}}})
def case_attachment_download(request, case_id: int = id_path("事项编号"),
                             attachment_id: int = id_path("附件编号")):
    """与事项相同的范围：事项或附件不存在、不在管辖范围内都答 404。"""
    attachment = selectors.attachment_get(request.auth, case_id, attachment_id)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("附件文件已丢失，请联系系统管理员。")) from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.original_name,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# Mounted under /api/v1/cases in this order: the fixed paths of the catalogue, statistics and
# cycles go before the case endpoints, whose "/{case_id}" would otherwise answer "/workflow" with
# a 422. (Nesting them in one router would give the list endpoint a trailing slash.)
routers = (catalogue_router, statistics_router, cycles_router, mediation_router, case_router)
