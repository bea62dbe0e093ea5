"""REST endpoints of visits (/api/v1/welfare/visits/...) and the veterans' service
(/api/v1/welfare/veterans/...): the due list and its tallies, visits (a need turned into a case),
veterans with their checks, service requests and 优待证 applications with their workflows, and
the figures.

Reads go through jiedao.welfare.visits.selectors (scoped), writes through its services; an object
outside the caller's scope answers 404 like a missing one, a referenced id that is missing or out
of scope answers 404 naming the field. Residents appear only by the register's masks.
"""

from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from jiedao.core.api import READ_ERRORS, WRITE_ERRORS, InSchema, ObjId, id_path, paginated, ref_or_404
from jiedao.core.errors import DomainError
from jiedao.org import selectors as org_selectors
from jiedao.org.api import PatchSchema
from jiedao.welfare.models.visits import (
    CardState,
    RequestKind,
    RequestState,
    VeteranCategory,
    VisitMode,
)
from jiedao.welfare.visits import selectors, services
from jiedao.welfare.visits.workflow import CARD_TABLE, REQUEST_TABLE, CardAction, RequestAction

router = Router(tags=["走访与优抚"])


def _node(request: Any, pk: int | None, field: str = "node") -> Any:
    return ref_or_404(org_selectors.node_get, request.auth, pk, field)


# --- schemas ------------------------------------------------------------------------------------


class ResidentRef(Schema):
    id: int = Field(description="居民编号")
    name: str = Field(description="姓名")
    id_number_masked: str = Field(description="身份证号（脱敏）")
    phone_masked: str = Field(description="联系电话（脱敏）")
    node_name: str = Field(description="所在节点")

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name


class DueOut(Schema):
    id: int = Field(description="特殊人群标签编号（居民 × 类别）")
    resident_id: int
    name: str = Field(description="姓名")
    phone_masked: str = Field(description="联系电话（脱敏）")
    address: str = Field(description="现住地址")
    group_id: int = Field(description="特殊人群类别编号")
    group_name: str
    interval: int = Field(description="走访周期（天）")
    last_visit: date | None = Field(description="上次计入该类别的走访日期；从未走访为 null")
    due: date = Field(description="应走访日期")
    status: str = Field(description="overdue 逾期 / week 本周到期 / later 未到期")
    never: bool = Field(description="从未走访")
    grid_name: str
    community_name: str
    visitors: list[str] = Field(description="该网格的网格员（网格长）")

    @staticmethod
    def resolve_id(obj) -> int:
        return obj.tag_id


class DueFilters(Schema):
    bucket: str = Field("all", description="due 逾期和本周到期 / overdue / week / never 从未走访 / all")
    group: int | None = Field(None, ge=1, description="特殊人群类别编号")
    node: int | None = Field(None, ge=1, description="社区、村或网格编号")
    mine: bool = Field(False, description="只看我任网格员（网格长）的网格")
    q: str = Field("", max_length=20, description="姓名包含")


class TallyOut(Schema):
    label: str
    total: int
    overdue: int
    week: int
    never: int


class DueSummaryOut(Schema):
    total: TallyOut
    by_grid: list[TallyOut]
    by_visitor: list[TallyOut]


class VisitOut(Schema):
    id: int
    resident: ResidentRef
    groups: list[int] = Field(description="计入的特殊人群类别编号")
    visited_on: date
    mode: str = Field(description="home 入户 / phone 电话 / video 视频")
    visitor: str = Field(description="走访人")
    findings: str
    needs: str
    case_ticket: str | None = Field(description="转办事项编号")
    created_at: datetime

    @staticmethod
    def resolve_groups(obj) -> list[int]:
        return sorted(g.pk for g in obj.groups.all())

    @staticmethod
    def resolve_visitor(obj) -> str:
        return obj.visitor.get_full_name() if obj.visitor else ""

    @staticmethod
    def resolve_case_ticket(obj) -> str | None:
        return obj.case.ticket if obj.case_id else None


class VisitIn(InSchema):
    resident: ObjId = Field(description="居民编号")
    visited_on: date = Field(description="走访日期（不晚于今天，不早于一年前）")
    mode: VisitMode = VisitMode.HOME
    groups: list[ObjId] = Field(default_factory=list, description="计入的类别编号；不填为该居民的全部走访类别")
    findings: str = Field(description="走访情况")
    needs: str = Field("", description="反映的需求")
    submission: str = Field("", max_length=40, description="一次性提交标识（8–40 位字母数字）：同一走访人重发同一标识时返回已登记的走访，不重复登记")


class VisitFilters(Schema):
    resident: int | None = Field(None, ge=1)
    start: date | None = None
    end: date | None = None
    node: int | None = Field(None, ge=1)


class VeteranOut(Schema):
    id: int
    resident: ResidentRef
    category: str = Field(description="veteran 退役军人 / martyr_family 烈属 / military_family 军属 / "
                                      "disabled_soldier 伤残军人 / other 其他优抚对象")
    enlisted_year: int | None
    discharged_year: int | None
    card_status: str = Field(description="none 未申领 / applying 申领中 / issued 已发放")
    card_number: str = Field(description="优待证号（仅工作人员可见）")
    filed: bool = Field(description="已建档立卡")
    checked_on: date | None = Field(description="最近信息核对日期")
    notes: str


class VeteranIn(InSchema):
    resident: ObjId
    category: VeteranCategory = VeteranCategory.VETERAN
    enlisted_year: int | None = None
    discharged_year: int | None = None
    filed: bool = False
    notes: str = ""


class VeteranPatch(PatchSchema):
    category: VeteranCategory = None
    enlisted_year: int | None = None
    discharged_year: int | None = None
    filed: bool = None
    notes: str = None


class VeteranFilters(Schema):
    q: str = Field("", max_length=20)
    category: VeteranCategory | None = None
    card_status: str = Field("", description="none / applying / issued")
    node: int | None = Field(None, ge=1)


class CheckIn(InSchema):
    checked_on: date
    notes: str = ""
    filed: bool | None = Field(None, description="同时设置建档立卡")


class CheckOut(Schema):
    id: int
    veteran_id: int
    checked_on: date
    checker: str
    notes: str

    @staticmethod
    def resolve_checker(obj) -> str:
        return obj.checker.get_full_name() if obj.checker else ""


class VisitsStepOut(Schema):
    seq: int
    action: str
    from_state: str
    to_state: str
    actor: str
    reason: str
    created_at: datetime

    @staticmethod
    def resolve_actor(obj) -> str:
        return obj.actor_repr


class ActionOut(Schema):
    action: str
    label: str
    to_state: str | None
    needs_reason: bool


def _allowed(table: Any, user: Any, obj: Any) -> list[dict[str, Any]]:
    kinds = services.actor_kinds(user, obj.veteran.resident.node.path)
    return [{"action": a, "label": str(table.actions(a).label), "to_state": table.find(a, obj.state).target,
             "needs_reason": table.find(a, obj.state).needs_reason}
            for a in table.allowed_actions(obj.state, kinds, current=obj, actor=user)]


class RequestOut(Schema):
    id: int
    veteran_id: int
    name: str
    kind: str = Field(description="help 求助 / claim 诉求")
    content: str
    received_on: date
    state: str = Field(description="registered 已登记 / in_progress 办理中 / done 已办结")
    result: str
    done_at: datetime | None

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.veteran.resident.name


class RequestDetailOut(RequestOut):
    history: list[VisitsStepOut]
    actions: list[ActionOut] = Field(description="您现在可以执行的动作")

    @staticmethod
    def resolve_history(obj) -> list[Any]:
        return list(obj.transitions.order_by("seq"))

    @staticmethod
    def resolve_actions(obj, context) -> list[dict[str, Any]]:
        return _allowed(REQUEST_TABLE, context["request"].auth, obj)


class RequestIn(InSchema):
    veteran: ObjId
    kind: RequestKind
    content: str
    received_on: date | None = None


class RequestActionIn(InSchema):
    action: RequestAction
    reason: str = Field("", description="办结（办理结果）、重新办理时必填")


class CardOut(Schema):
    id: int
    veteran_id: int
    name: str
    applied_on: date
    state: str = Field(description="applied 已申请 / reviewed 已审核 / made 已制证 / issued 已发放 / rejected 未通过")
    card_number: str
    issued_on: date | None

    @staticmethod
    def resolve_name(obj) -> str:
        return obj.veteran.resident.name


class CardDetailOut(CardOut):
    history: list[VisitsStepOut]
    actions: list[ActionOut]

    @staticmethod
    def resolve_history(obj) -> list[Any]:
        return list(obj.transitions.order_by("seq"))

    @staticmethod
    def resolve_actions(obj, context) -> list[dict[str, Any]]:
        return _allowed(CARD_TABLE, context["request"].auth, obj)


class CardIn(InSchema):
    veteran: ObjId
    applied_on: date | None = None


class CardActionIn(InSchema):
    action: CardAction
    reason: str = Field("", description="审核不通过时必填")
    card_number: str = Field("", description="制证时必填：优待证号")


class StateFilter(Schema):
    state: str = ""
    veteran: int | None = Field(None, ge=1)


class FigureOut(Schema):
    label: str
    value: str
    url: str | None


class PeriodIn(Schema):
    start: date | None = Field(None, description="默认本年 1 月 1 日")
    end: date | None = Field(None, description="默认今天")
    node: int | None = Field(None, ge=1)


# --- visits -------------------------------------------------------------------------------------


def _bucket(value: str) -> str:
    if value not in selectors.BUCKETS:
        raise DomainError(_("范围代码无效。"), field="bucket")
    return value


def _due(request: Any, filters: DueFilters) -> list[Any]:
    return selectors.due_rows(request.auth, node=_node(request, filters.node), group=filters.group,
                              bucket=_bucket(filters.bucket), mine=filters.mine, q=filters.q)


@router.get("/visits/due", response={200: list[DueOut], **READ_ERRORS}, summary="走访计划（应走访对象）")
@paginated
def due_list(request, filters: Query[DueFilters]):
    """按类别的走访周期计算：上次走访后满周期到期；从未走访的从认定日期起算。逾期在前。"""
    return _due(request, filters)


@router.get("/visits/due/summary", response={200: DueSummaryOut, **READ_ERRORS}, summary="走访计划：按网格、按网格员")
def due_summary(request, filters: Query[DueFilters]):
    total, by_grid, by_visitor = selectors.tallies(_due(request, filters))
    return {"total": total, "by_grid": by_grid, "by_visitor": by_visitor}


@router.get("/visits", response={200: list[VisitOut], **READ_ERRORS}, summary="走访记录")
@paginated
def visit_list(request, filters: Query[VisitFilters]):
    selectors.period_day(filters.start, field="start", label=_("开始日期"))
    selectors.period_day(filters.end, field="end", label=_("结束日期"))
    resident = ref_or_404(selectors.resident_get, request.auth, filters.resident, "resident")
    return selectors.visits(request.auth, resident=resident, start=filters.start, end=filters.end,
                            node=_node(request, filters.node))


@router.post("/visits", response={201: VisitOut, **WRITE_ERRORS}, summary="登记走访")
def visit_record(request, payload: VisitIn):
    data = payload.model_dump()
    resident = ref_or_404(selectors.resident_get, request.auth, data.pop("resident"), "resident")
    visit = services.visit_record(actor=request.auth, resident=resident, **data)
    return Status(201, selectors.visit_get(request.auth, visit.pk))


@router.get("/visits/figures", response={200: list[FigureOut], **READ_ERRORS}, summary="走访与优抚统计")
def figures(request, period: Query[PeriodIn]):
    today = timezone.localdate()
    selectors.period_day(period.start, field="start", label=_("开始日期"))
    selectors.period_day(period.end, field="end", label=_("结束日期"))
    start, end = period.start or today.replace(month=1, day=1), period.end or today
    if end < start:
        raise DomainError(_("结束日期不能早于开始日期。"), field="end")
    rows = selectors.panel_figures(request.auth, _node(request, period.node), start, end)
    return [{"label": label, "value": value, "url": url} for label, value, url in rows]


@router.get("/visits/{visit_id}", response={200: VisitOut, **READ_ERRORS}, summary="走访详情")
def visit_detail(request, visit_id: int = id_path("走访编号")):
    return selectors.visit_get(request.auth, visit_id)


@router.post("/visits/{visit_id}/case", response={200: VisitOut, **WRITE_ERRORS}, summary="走访需求转为事项")
def visit_case(request, visit_id: int = id_path("走访编号")):
    visit = selectors.visit_get(request.auth, visit_id)
    services.visit_raise_case(actor=request.auth, visit=visit)
    return selectors.visit_get(request.auth, visit_id)


# --- veterans -----------------------------------------------------------------------------------


@router.get("/veterans", response={200: list[VeteranOut], **READ_ERRORS}, summary="退役军人及优抚对象")
@paginated
def veteran_list(request, filters: Query[VeteranFilters]):
    return selectors.veterans(request.auth, q=filters.q, category=filters.category or "",
                              card_status=filters.card_status, node=_node(request, filters.node))


@router.post("/veterans", response={201: VeteranOut, **WRITE_ERRORS}, summary="建立优抚对象档案")
def veteran_create(request, payload: VeteranIn):
    data = payload.model_dump()
    resident = ref_or_404(selectors.resident_get, request.auth, data.pop("resident"), "resident")
    veteran = services.veteran_create(actor=request.auth, resident=resident, **data)
    return Status(201, selectors.veteran_get(request.auth, veteran.pk))


@router.get("/veterans/workflow", summary="诉求和优待证的流转表", response={200: dict, **READ_ERRORS})
def workflow_tables(request):
    return {"requests": REQUEST_TABLE.rows(), "cards": CARD_TABLE.rows()}


@router.get("/veterans/requests", response={200: list[RequestOut], **READ_ERRORS}, summary="优抚诉求")
@paginated
def request_list(request, filters: Query[StateFilter]):
    if filters.state and filters.state != "open" and filters.state not in RequestState.values:
        raise DomainError(_("状态代码无效。"), field="state")
    veteran = ref_or_404(selectors.veteran_get, request.auth, filters.veteran, "veteran")
    return selectors.requests(request.auth, state=filters.state, veteran=veteran)


@router.post("/veterans/requests", response={201: RequestDetailOut, **WRITE_ERRORS}, summary="登记求助/诉求")
def request_create(request, payload: RequestIn):
    data = payload.model_dump()
    veteran = ref_or_404(selectors.veteran_get, request.auth, data.pop("veteran"), "veteran")
    created = services.request_create(actor=request.auth, veteran=veteran, **data)
    return Status(201, selectors.request_get(request.auth, created.pk))


@router.get("/veterans/requests/{request_id}", response={200: RequestDetailOut, **READ_ERRORS}, summary="诉求详情")
def request_detail(request, request_id: int = id_path("诉求编号")):
    return selectors.request_get(request.auth, request_id)


@router.post("/veterans/requests/{request_id}/actions", response={200: RequestDetailOut, **WRITE_ERRORS},
             summary="诉求流转")
def request_action(request, payload: RequestActionIn, request_id: int = id_path("诉求编号")):
    obj = selectors.request_get(request.auth, request_id)
    services.request_act(actor=request.auth, request=obj, action=payload.action, reason=payload.reason)
    return selectors.request_get(request.auth, request_id)


@router.get("/veterans/cards", response={200: list[CardOut], **READ_ERRORS}, summary="优待证申请")
@paginated
def card_list(request, filters: Query[StateFilter]):
    if filters.state and filters.state not in CardState.values:
        raise DomainError(_("状态代码无效。"), field="state")
    veteran = ref_or_404(selectors.veteran_get, request.auth, filters.veteran, "veteran")
    return selectors.applications(request.auth, state=filters.state, veteran=veteran)


@router.post("/veterans/cards", response={201: CardDetailOut, **WRITE_ERRORS}, summary="登记优待证申请")
def card_apply(request, payload: CardIn):
    veteran = ref_or_404(selectors.veteran_get, request.auth, payload.veteran, "veteran")
    created = services.card_apply(actor=request.auth, veteran=veteran, applied_on=payload.applied_on)
    return Status(201, selectors.application_get(request.auth, created.pk))


@router.get("/veterans/cards/{card_id}", response={200: CardDetailOut, **READ_ERRORS}, summary="优待证申请详情")
def card_detail(request, card_id: int = id_path("优待证申请编号")):
    return selectors.application_get(request.auth, card_id)


@router.post("/veterans/cards/{card_id}/actions", response={200: CardDetailOut, **WRITE_ERRORS},
             summary="优待证申请流转")
def card_action(request, payload: CardActionIn, card_id: int = id_path("优待证申请编号")):
    obj = selectors.application_get(request.auth, card_id)
    services.card_act(actor=request.auth, application=obj, action=payload.action, reason=payload.reason,
                      card_number=payload.card_number)
    return selectors.application_get(request.auth, card_id)


@router.get("/veterans/{veteran_id}", response={200: VeteranOut, **READ_ERRORS}, summary="优抚对象详情")
def veteran_detail(request, veteran_id: int = id_path("优抚对象编号")):
    return selectors.veteran_get(request.auth, veteran_id)


@router.patch("/veterans/{veteran_id}", response={200: VeteranOut, **WRITE_ERRORS}, summary="修改优抚对象档案")
def veteran_update(request, payload: VeteranPatch, veteran_id: int = id_path("优抚对象编号")):
    veteran = selectors.veteran_get(request.auth, veteran_id)
    services.veteran_update(actor=request.auth, veteran=veteran, **payload.changes())
    return selectors.veteran_get(request.auth, veteran_id)


@router.get("/veterans/{veteran_id}/checks", response={200: list[CheckOut], **READ_ERRORS}, summary="信息核对记录")
@paginated
def check_list(request, veteran_id: int = id_path("优抚对象编号")):
    return selectors.checks(request.auth, selectors.veteran_get(request.auth, veteran_id))


@router.post("/veterans/{veteran_id}/checks", response={201: CheckOut, **WRITE_ERRORS}, summary="登记信息核对")
def check_create(request, payload: CheckIn, veteran_id: int = id_path("优抚对象编号")):
    veteran = selectors.veteran_get(request.auth, veteran_id)
    check = services.veteran_check(actor=request.auth, veteran=veteran, **payload.model_dump())
    return Status(201, check)
