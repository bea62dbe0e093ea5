"""REST endpoints of 防止返贫动态监测 (mounted under /api/v1/welfare/monitoring): monitored
households and their steps, adjustments, plan measures and visits, 我的走访, the monthly overdue
list, the monitoring lines and the figures.

Reads go through selectors (scoped by jiedao.core.scope), writes through services; an object
outside the caller's scope answers 404 exactly like a missing one, a referenced id that is
missing or out of scope answers 404 naming the field.
"""


from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from jiedao.core.api import READ_ERRORS, WRITE_ERRORS, InSchema, ObjId, id_path, paginated, ref_or_404
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.org import selectors as org_selectors
from jiedao.welfare.models.monitoring import (
    LeadSource,
    MeasureCategory,
    MeasureStatus,
    MonitoringKind,
    MonitoringState,
    RiskType,
)
from jiedao.welfare.monitoring import selectors, services, workflow
from jiedao.welfare.monitoring.workflow import MonitoringAction

router = Router(tags=["防止返贫动态监测"])


def _node(request: Any, pk: int | None, field: str = "node") -> Any:
    return ref_or_404(org_selectors.node_get, request.auth, pk, field)


def _month(value: str, field: str = "month") -> date:
    if not value:
        return selectors.previous_month(selectors.month_start(timezone.localdate()))
    try:
        year, month = (int(x) for x in value.split("-"))
        first = date(year, month, 1)
    except ValueError:
        raise DomainError(_("月份应为年月，如 2026-03。"), field=field) from None
    return selectors.check_year(first, field=field, label=_("月份"))


# --- schemas ------------------------------------------------------------------------------------


class MonitoredOut(Schema):
    id: int
    household_id: int
    household_number: str = Field(description="户号")
    head_name: str = Field(description="户主姓名（登记簿）")
    node_id: int = Field(description="户当前所在节点编号")
    node_name: str
    kind: str = Field(description="unstable 脱贫不稳定户 / marginal 边缘易致贫户 / sudden 突发严重困难户")
    risk_types: list[str] = Field(description="风险类型代码（illness 因病、disability 因残、schooling 因学、disaster 因灾、"
                                              "accident 因意外、employment 务工就业不稳、labour 缺劳动力、other 其他）")
    lead_source: str
    lead_on: date
    decision_due: date = Field(description="认定时限：线索日期起 15 天")
    decision_late: bool = Field(description="超过 15 天仍未认定，或认定晚于时限")
    cadre_id: int | None = Field(description="帮扶干部用户编号")
    cadre_name: str
    members: int
    income_per_head: Decimal | None
    state: str
    state_label: str
    included_on: date | None
    removed_on: date | None
    last_visit_on: date | None

    @staticmethod
    def resolve_household_number(obj) -> str:
        return obj.household.number

    @staticmethod
    def resolve_head_name(obj) -> str:
        return getattr(obj, "head_name", None) or ""

    @staticmethod
    def resolve_node_id(obj) -> int:
        return obj.household.node_id

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name

    @staticmethod
    def resolve_cadre_name(obj) -> str:
        return obj.cadre.get_full_name() if obj.cadre_id else ""

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(MonitoringState(obj.state).label)


class MeasureOut(Schema):
    id: int
    category: str
    content: str
    owner: str
    due_on: date
    status: str
    done_on: date | None
    progress: str


class MonitoringVisitOut(Schema):
    id: int
    visited_on: date
    cadre_id: int | None
    income_per_head: Decimal | None
    risks_added: list[str]
    risks_removed: list[str]
    measures_touched: list[dict]
    note: str


class ChangeOut(Schema):
    id: int
    field: str
    old: Any = None
    new: Any = None
    reason: str
    visit_id: int | None
    actor_id: int | None
    created_at: Any


class MonitoringTransitionOut(Schema):
    seq: int
    action: str
    from_state: str
    to_state: str
    actor_repr: str
    reason: str
    data: dict
    created_at: Any


class MonitoredDetailOut(MonitoredOut):
    lead_note: str
    consent_on: date | None
    verified_on: date | None
    deliberated_on: date | None
    notice_from: date | None
    notice_to: date | None
    decided_on: date | None
    exit_income: Decimal | None
    secure_education: bool
    secure_medical: bool
    secure_housing: bool
    secure_water: bool
    exit_verified_on: date | None
    exit_deliberated_on: date | None
    exit_notice_from: date | None
    exit_notice_to: date | None
    measures: list[MeasureOut]
    transitions: list[MonitoringTransitionOut]
    allowed_actions: list[dict] = Field(description="您现在可以执行的动作")

    @staticmethod
    def resolve_measures(obj) -> list[Any]:
        return list(selectors.measures(obj))

    @staticmethod
    def resolve_transitions(obj) -> list[Any]:
        return list(selectors.transitions(obj))

    @staticmethod
    def resolve_allowed_actions(obj, context) -> list[dict[str, Any]]:
        user = context["request"].auth
        rows = []
        for action in workflow.allowed_actions(obj.state, services.monitored_actor_kinds(user, obj), current=obj,
                                               actor=user):
            row = workflow.find(action, obj.state)
            rows.append({"action": action, "label": str(MonitoringAction(action).label), "to_state": row.target,
                         "needs_reason": row.needs_reason})
        return rows


class Filters(Schema):
    node: int | None = Field(None, ge=1, description="社区（村）或网格节点编号")
    kind: MonitoringKind | None = None
    risk: RiskType | None = None
    state: str = Field("", description="状态代码，或 monitored_all（监测中，含退出流程）、entry（认定流程中）")
    cadre: int | None = Field(None, ge=1, description="帮扶干部用户编号")
    q: str = Field("", max_length=50)
    late: bool = Field(False, description="只看超过 15 天未认定的")


class LeadIn(InSchema):
    household: ObjId = Field(description="户编号（登记簿）")
    kind: MonitoringKind
    risk_types: list[RiskType] = Field(min_length=1)
    lead_source: LeadSource
    lead_on: date | None = Field(None, description="线索日期，默认今天")
    lead_note: str = ""
    cadre: ObjId | None = Field(None, description="帮扶干部用户编号，默认登记人")
    income_per_head: Decimal | None = Field(None, ge=0)


class MonitoringActionIn(InSchema):
    action: MonitoringAction = Field(description="动作（见 GET /welfare/monitoring/workflow）")
    reason: str = Field("", description="说明：民主评议、不予纳入、风险消除评议、不予消除时必填")
    consent_on: date | None = Field(None, description="入户核实：农户书面授权日期")
    income_per_head: Decimal | None = Field(None, ge=0, description="入户核实：人均纯收入")
    members: int | None = Field(None, description="入户核实：家庭人口")
    notice_from: date | None = Field(None, description="公示：开始日期")
    notice_to: date | None = Field(None, description="公示：结束日期（不少于 5 天）")
    exit_income: Decimal | None = Field(None, ge=0, description="风险消除核实：人均纯收入")
    secure_education: bool | None = None
    secure_medical: bool | None = None
    secure_housing: bool | None = None
    secure_water: bool | None = None


class AdjustIn(InSchema):
    reason: str
    kind: MonitoringKind | None = None
    risk_types: list[RiskType] | None = None
    cadre: ObjId | None = None
    income_per_head: Decimal | None = Field(None, ge=0)
    members: int | None = None


class MeasureIn(InSchema):
    category: MeasureCategory
    content: str
    owner: str
    due_on: date


class MeasurePatchIn(InSchema):
    status: MeasureStatus | None = None
    progress: str | None = None
    done_on: date | None = None
    due_on: date | None = None


class MeasureProgressIn(InSchema):
    id: ObjId
    status: MeasureStatus | None = None
    progress: str | None = None


class MonitoringVisitIn(InSchema):
    visited_on: date | None = Field(None, description="走访日期，默认今天")
    note: str = ""
    income_per_head: Decimal | None = Field(None, ge=0)
    risks_added: list[RiskType] = Field(default_factory=list)
    risks_removed: list[RiskType] = Field(default_factory=list)
    measures: list[MeasureProgressIn] = Field(default_factory=list, description="措施进展")
    new_measure: MeasureIn | None = None
    submission: str = Field("", max_length=40, description="一次性提交标识（重发不重复记录）")


class LineIn(InSchema):
    subdistrict: ObjId
    year: int
    amount: Decimal
    notes: str = ""


class LineOut(Schema):
    subdistrict_id: int
    year: int
    amount: Decimal
    notes: str


class MonitoringFigureOut(Schema):
    households: int = Field(description="监测户数：期末在监测中的户")
    people: int = Field(description="监测人数：这些户的家庭人口之和")
    due: int = Field(description="本月应走访：期末所在月 1 日在监测中的户")
    visited: int = Field(description="本月已走访：其中本月有走访记录的户")
    overdue: int = Field(description="上月逾期：上月应走访而上月没有走访记录的户")
    included: int = Field(description="新纳入：纳入监测日期在期间内")
    removed: int = Field(description="风险消除：风险消除日期在期间内")
    late_decisions: int = Field(description="超 15 天未认定：期末仍在认定流程且线索已超过 15 天")


class MineOut(Schema):
    this_week: list[MonitoredOut]
    later: list[MonitoredOut]
    done: list[MonitoredOut]
    week_end: date
    month_end: date


# --- endpoints ----------------------------------------------------------------------------------


@router.get("/workflow", response={200: list[dict], **READ_ERRORS}, summary="监测户认定和退出流转表")
def workflow_table(request):
    return [{**row, "action_label": str(row["action_label"])} for row in workflow.table_rows()]


@router.get("/households", response={200: list[MonitoredOut], **READ_ERRORS}, summary="监测户列表")
@paginated
def monitored_list(request, filters: Query[Filters]):
    if filters.state and filters.state not in ("monitored_all", "entry", *MonitoringState.values):
        raise DomainError(_("状态代码无效。"), field="state")
    node = _node(request, filters.node)
    return selectors.monitored_list(request.auth, node=node, kind=filters.kind or "", risk=filters.risk or "",
                                    state=filters.state, cadre=filters.cadre, q=filters.q, late=filters.late)


@router.post("/households", response={201: MonitoredDetailOut, **WRITE_ERRORS}, summary="登记线索")
def monitored_create(request, payload: LeadIn):
    household = ref_or_404(selectors.household_get, request.auth, payload.household, "household")
    monitored = services.monitored_create(
        actor=request.auth, household=household, kind=payload.kind, risk_types=payload.risk_types,
        lead_source=payload.lead_source, lead_on=payload.lead_on, lead_note=payload.lead_note, cadre=payload.cadre,
        income_per_head=payload.income_per_head)
    return Status(201, selectors.monitored_get(request.auth, monitored.pk))


@router.get("/households/{monitored_id}", response={200: MonitoredDetailOut, **READ_ERRORS}, summary="监测户详情")
def monitored_detail(request, monitored_id: int = id_path("监测户编号")):
    return selectors.monitored_get(request.auth, monitored_id)


@router.post("/households/{monitored_id}/actions", response={200: MonitoredDetailOut, **WRITE_ERRORS},
             summary="认定和退出流转")
def monitored_action(request, payload: MonitoringActionIn, monitored_id: int = id_path("监测户编号")):
    monitored = selectors.monitored_get(request.auth, monitored_id)
    params = {k: v for k, v in payload.model_dump().items() if v is not None and k not in ("action", "reason")}
    services.monitored_act(actor=request.auth, monitored=monitored, action=payload.action, reason=payload.reason,
                           **params)
    return selectors.monitored_get(request.auth, monitored_id)


@router.post("/households/{monitored_id}/adjust", response={200: list[ChangeOut], **WRITE_ERRORS}, summary="动态调整")
def monitored_adjust(request, payload: AdjustIn, monitored_id: int = id_path("监测户编号")):
    monitored = selectors.monitored_get(request.auth, monitored_id)
    return services.monitored_adjust(actor=request.auth, monitored=monitored, **payload.model_dump())


@router.get("/households/{monitored_id}/changes", response={200: list[ChangeOut], **READ_ERRORS},
            summary="动态调整记录")
@paginated
def monitored_changes(request, monitored_id: int = id_path("监测户编号")):
    return selectors.changes(selectors.monitored_get(request.auth, monitored_id))


@router.post("/households/{monitored_id}/measures", response={201: MeasureOut, **WRITE_ERRORS}, summary="添加帮扶措施")
def measure_add(request, payload: MeasureIn, monitored_id: int = id_path("监测户编号")):
    monitored = selectors.monitored_get(request.auth, monitored_id)
    return Status(201, services.measure_add(actor=request.auth, monitored=monitored, **payload.model_dump()))


@router.patch("/measures/{measure_id}", response={200: MeasureOut, **WRITE_ERRORS}, summary="更新措施进展")
def measure_update(request, payload: MeasurePatchIn, measure_id: int = id_path("措施编号")):
    measure = selectors.measure_get(request.auth, measure_id)
    return services.measure_update(actor=request.auth, measure=measure, **payload.model_dump())


@router.get("/households/{monitored_id}/visits", response={200: list[MonitoringVisitOut], **READ_ERRORS}, summary="走访记录")
@paginated
def visit_list(request, monitored_id: int = id_path("监测户编号")):
    return selectors.visits(selectors.monitored_get(request.auth, monitored_id))


@router.post("/households/{monitored_id}/visits", response={201: MonitoringVisitOut, **WRITE_ERRORS}, summary="记录走访")
def visit_create(request, payload: MonitoringVisitIn, monitored_id: int = id_path("监测户编号")):
    monitored = selectors.monitored_get(request.auth, monitored_id)
    data = payload.model_dump()
    return Status(201, services.visit_record(actor=request.auth, monitored=monitored, **data))


@router.get("/mine", response={200: MineOut, **READ_ERRORS}, summary="我的走访（本周应走访）")
def mine(request):
    m = selectors.my_visits(request.auth)
    return {"this_week": m.this_week, "later": m.later, "done": m.done, "week_end": m.week_end,
            "month_end": m.month_end}


@router.get("/overdue", response={200: list[MonitoredOut], **READ_ERRORS}, summary="月度逾期未走访名单")
@paginated
def overdue(request, month: str = Query("", description="年月，如 2026-03；默认上月"), node: int | None = Query(None, ge=1)):
    return selectors.overdue_in_month(request.auth, _month(month), node=_node(request, node))


@router.get("/lines", response={200: list[LineOut], **READ_ERRORS}, summary="监测标准")
def lines(request):
    return list(selectors.lines(request.auth))


@router.put("/lines", response={200: LineOut, **WRITE_ERRORS}, summary="设置年度监测标准")
def line_set(request, payload: LineIn):
    subdistrict = _node(request, payload.subdistrict, "subdistrict")
    return services.line_set(actor=request.auth, subdistrict=subdistrict, year=payload.year, amount=payload.amount,
                             notes=payload.notes)


@router.get("/figures", response={200: MonitoringFigureOut, **READ_ERRORS}, summary="防止返贫动态监测统计")
def figures(request, start: date = Query(...), end: date = Query(...), node: int | None = Query(None, ge=1)):
    selectors.check_year(start, field="start", label=_("开始日期"))
    selectors.check_year(end, field="end", label=_("结束日期"))
    if end < start:
        raise DomainError(_("结束日期不能早于开始日期。"), field="end")
    if not selectors.scope.has_perm_anywhere(request.auth, Perm.VIEW_WELFARE):
        return selectors.Figures(0, 0, 0, 0, 0, 0, 0, 0)
    return selectors.figures(request.auth, start, end, node=_node(request, node))
