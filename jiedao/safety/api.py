"""REST endpoints of safety inspections (mounted under /api/v1/safety): campaigns and their
coverage, checklists, tenancies, inspections, hazards and their actions, the 三色 rule and the
figures.

Reads go through jiedao.safety.selectors (scoped by jiedao.core.scope), writes through
jiedao.safety.services; an object outside the caller's scope answers 404 exactly like a missing
one, and a referenced id that is missing or out of scope answers 404 naming the field.
"""

from datetime import date, datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, UploadedFile
from ninja.responses import Status

from jiedao.cases.api_common import DOCX, FILE_ERRORS, XLSX, file_response
from jiedao.core import scope
from jiedao.core.api import READ_ERRORS, WRITE_ERRORS, ErrorOut, InSchema, ObjId, id_path, paginated, ref_or_404
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.org import selectors as org_selectors
from jiedao.org.api import PatchSchema
from jiedao.org.models import NodeKind
from jiedao.people.models import RiskColour
from jiedao.safety import review as reviews
from jiedao.safety import selectors, services, workflow
from jiedao.safety.models import CampaignKind, HazardState, SafetyField, Severity, TenancyKind
from jiedao.safety.workflow import HazardAction

router = Router(tags=["安全生产"])
ACTION_PARAMS = {HazardAction.START: ("measures", "responsible_person"), HazardAction.EXTEND: ("deadline_days",)}


def _node(request: Any, pk: int | None, field: str = "node") -> Any:
    return ref_or_404(org_selectors.node_get, request.auth, pk, field)


def _label(choices: Any, value: str) -> str:
    return str(choices(value).label) if value else ""


# --- schemas ------------------------------------------------------------------------------------


class CampaignOut(Schema):
    id: int = Field(description="行动编号")
    title: str = Field(description="名称")
    kind: str = Field(description="类型代码：special 专项整治 / sweep 安全大排查 / hundred_days 百日大整治")
    kind_label: str
    field: str = Field(description="领域代码（fire 消防、marine 涉海涉渔、mining 工矿、tourism 旅游、urban 城市运行、"
                                   "welding 电气焊、hazchem 危化品、gas 燃气、construction 建筑施工、other 其他）")
    field_label: str
    node_id: int = Field(description="所属节点编号")
    node_name: str
    starts_on: date
    ends_on: date
    notes: str

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return _label(CampaignKind, obj.kind)

    @staticmethod
    def resolve_field_label(obj) -> str:
        return _label(SafetyField, obj.field)

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name


class CoverageRowOut(Schema):
    label: str = Field(description="网格或检查人")
    target: int = Field(description="排摸对象数")
    visited: int = Field(description="已排摸数（在本行动中检查过至少一次）")
    behind: int = Field(description="未排摸数")
    hazards: int = Field(description="本行动发现隐患数（不含撤销）")


class CampaignDetailOut(CampaignOut):
    target_rule: dict = Field(description="对象筛选条件")
    owners: list[str] = Field(description="负责人")
    coverage: CoverageRowOut = Field(description="排摸进度（您管辖范围内）")
    by_grid: list[CoverageRowOut] = Field(description="按网格，未完成多的在前")
    by_inspector: list[CoverageRowOut] = Field(description="按责任检查人，未完成多的在前")

    @staticmethod
    def resolve_owners(obj) -> list[str]:
        return [u.get_full_name() for u in obj.owners.all()]


class RuleIn(InSchema):
    nodes: list[ObjId] = Field(default_factory=list, description="网格（或社区）编号")
    industries: list[str] = Field(default_factory=list, description="行业（完全一致）")
    colours: list[RiskColour] = Field(default_factory=list, description="风险等级")
    site: ObjId | None = Field(None, description="园区/厂区主体编号：该园区及其承租主体")
    businesses: list[ObjId] = Field(default_factory=list, description="逐个选定的主体编号")


class CampaignIn(InSchema):
    node: ObjId = Field(description="行动所属节点（街道、社区/村或网格）")
    title: str
    kind: CampaignKind
    field: SafetyField
    starts_on: date
    ends_on: date
    owners: list[ObjId] = Field(default_factory=list, description="负责人用户编号")
    rule: RuleIn = Field(default_factory=RuleIn, description="排摸对象：各条件同时满足；都不填为节点下全部在营主体")
    notes: str = ""


class ItemOut(Schema):
    id: int
    seq: int
    text: str
    legal_basis: str
    severity: str
    deadline_days: int


class TemplateOut(Schema):
    id: int
    name: str
    field: str
    field_label: str
    is_active: bool
    items: list[ItemOut]

    @staticmethod
    def resolve_field_label(obj) -> str:
        return _label(SafetyField, obj.field)

    @staticmethod
    def resolve_items(obj) -> list[Any]:
        return list(obj.items.all())


class ItemIn(InSchema):
    text: str
    legal_basis: str = ""
    severity: Severity = Severity.ORDINARY
    deadline_days: int = Field(5, description="不合格时的整改期限（工作日，1–60）")


class TemplateIn(InSchema):
    node: ObjId = Field(description="所属街道编号")
    field: SafetyField
    name: str
    items: list[ItemIn]


class ItemPatchIn(ItemIn):
    id: int | None = Field(None, ge=1, description="现有检查项编号：修改该项；不填则按检查内容匹配现有项，没有则新增")


class TemplatePatch(PatchSchema):
    name: str | None = None
    is_active: bool | None = None
    items: list[ItemPatchIn] | None = Field(
        None, description="检查项的新清单（按顺序）。原地修改：现有项保留编号；未列出的项停用（已有检查或隐患引用）或删除")


class TenancyIn(InSchema):
    site: ObjId = Field(description="园区/厂区主体编号")
    tenant: ObjId = Field(description="承租主体编号")
    kind: TenancyKind


class TenancyOut(Schema):
    id: int
    site_id: int
    tenant_id: int
    kind: str


class InspectionOut(Schema):
    id: int
    business_id: int
    business_name: str
    campaign_id: int | None
    template_id: int | None
    site_inspection_id: int | None
    inspector: str
    inspected_on: date
    answers: list[dict]
    contact_name: str
    contact_confirmed: bool
    notes: str
    hazard_count: int

    @staticmethod
    def resolve_business_name(obj) -> str:
        return obj.business.name

    @staticmethod
    def resolve_inspector(obj) -> str:
        return obj.inspector.get_full_name() if obj.inspector else ""


class FindingIn(InSchema):
    description: str
    severity: Severity = Severity.ORDINARY
    deadline_days: int = 5
    legal_basis: str = ""


class InspectionIn(InSchema):
    business: ObjId
    inspected_on: date
    template: ObjId | None = None
    campaign: ObjId | None = None
    site_inspection: ObjId | None = Field(None, description="同检的园区/厂区检查编号（承租主体随园区一起检查时）")
    answers: dict[str, str] = Field(default_factory=dict, description="检查项编号 → ok 合格 / fail 不合格 / na 不适用")
    findings: list[FindingIn] = Field(default_factory=list, description="检查表以外发现的隐患")
    contact_name: str = ""
    contact_confirmed: bool = False
    notes: str = ""


class InspectionFilters(Schema):
    business: int | None = Field(None, ge=1)
    campaign: int | None = Field(None, ge=1)


class HazardOut(Schema):
    id: int
    code: str
    business_id: int
    business_name: str
    node_name: str
    field: str
    description: str
    severity: str
    severity_label: str
    state: str
    state_label: str
    found_at: datetime
    deadline_at: datetime
    overdue: bool
    case_ticket: str | None

    @staticmethod
    def resolve_business_name(obj) -> str:
        return obj.business.name

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name

    @staticmethod
    def resolve_severity_label(obj) -> str:
        return _label(Severity, obj.severity)

    @staticmethod
    def resolve_state_label(obj) -> str:
        return _label(HazardState, obj.state)

    @staticmethod
    def resolve_overdue(obj) -> bool:
        return obj.is_overdue

    @staticmethod
    def resolve_case_ticket(obj) -> str | None:
        return obj.case.ticket if obj.case_id else None


class StepOut(Schema):
    seq: int
    action: str
    from_state: str
    to_state: str
    actor_repr: str
    reason: str
    created_at: datetime


class AllowedOut(Schema):
    action: str
    label: str
    to_state: str | None
    needs_reason: bool
    params: list[str]


class HazardDetailOut(HazardOut):
    legal_basis: str
    responsible_person: str
    measures: str
    evidence: str
    rectified_at: datetime | None
    closed_at: datetime | None
    rework_count: int
    inspection_id: int | None
    transitions: list[StepOut]
    allowed_actions: list[AllowedOut]

    @staticmethod
    def resolve_transitions(obj) -> list[Any]:
        return list(obj.transitions.all())

    @staticmethod
    def resolve_allowed_actions(obj, context) -> list[dict[str, Any]]:
        user = context["request"].auth
        return allowed(user, obj)


def allowed(user: Any, hazard: Any) -> list[dict[str, Any]]:
    rows = []
    kinds = services.hazard_actor_kinds(user, hazard)
    for action in workflow.allowed_actions(hazard.state, kinds, current=hazard, actor=user):
        row = workflow.find(action, hazard.state)
        rows.append({"action": action, "label": str(HazardAction(action).label), "to_state": row.target,
                     "needs_reason": row.needs_reason, "params": list(ACTION_PARAMS.get(action, ()))})
    return rows


class HazardFilters(Schema):
    state: str = Field("", description="状态代码，或 open 表示全部未销号")
    severity: Severity | None = None
    field: SafetyField | None = None
    overdue: bool = False
    business: int | None = Field(None, ge=1)
    q: str = Field("", max_length=50)


class HazardActionIn(InSchema):
    action: HazardAction = Field(description="动作（见 GET /safety/workflow）")
    reason: str = Field("", description="说明：提交整改（整改情况）、复查不通过、延期、移交执法、撤销时必填")
    deadline_days: int | None = Field(None, description="延期：新的整改期限（从今天起的工作日数）")
    measures: str | None = Field(None, description="开始整改：整改措施")
    responsible_person: str | None = Field(None, description="开始整改：企业整改责任人")


class BusinessSafetyOut(Schema):
    id: int
    name: str
    risk_colour: str
    site_id: int | None = Field(description="所在园区/厂区主体编号")
    tenants: list[int] = Field(description="承租主体编号")
    open_hazards: list[HazardOut]
    risk_changes: list[dict]


class RiskRuleOut(Schema):
    subdistrict_id: int
    red_open_major: int
    red_open_overdue: int
    yellow_open: int
    yellow_recent: int
    recent_days: int
    high_risk_industries: list[str]


class RiskRulePatch(PatchSchema):
    red_open_major: int | None = None
    red_open_overdue: int | None = None
    yellow_open: int | None = None
    yellow_recent: int | None = None
    recent_days: int | None = None
    high_risk_industries: list[str] | None = None


class RiskRuleUpdated(RiskRuleOut):
    recomputing: bool = Field(description="是否正在后台按新规则重新评定本街道主体（完成后等级变化记入风险变更）")


class FiguresOut(Schema):
    start: date
    end: date
    base: int = Field(description="底数：在营主体数")
    visited: int = Field(description="排摸：期间内检查过的主体数")
    hazards: int = Field(description="隐患：期间内发现的隐患数（不含撤销）")
    major: int = Field(description="重大隐患")
    rectified: int = Field(description="已销号")
    on_time: int = Field(description="按期整改（整改完成不晚于期限且已销号）")
    overdue_open: int = Field(description="逾期未整改（现在仍为待整改或整改中且已过期限）")
    coverage_rate: float | None
    rectification_rate: float | None = Field(description="整改率 = 已销号 / 隐患")
    on_time_rate: float | None = Field(description="按期整改率 = 按期整改 / 隐患")
    colours: dict[str, int] = Field(description="在营主体按风险等级计数")


class FiguresQuery(Schema):
    start: date | None = Field(None, description="默认今年 1 月 1 日")
    end: date | None = Field(None, description="默认今天")
    node: int | None = Field(None, ge=1)


class HazardWorkflowRowOut(Schema):
    action: str
    action_label: str
    to: str | None
    actors: list[str]
    needs_reason: bool
    note: str
    guard: str
    from_states: list[str] = Field(description="可从哪些状态执行")


# --- campaigns -----------------------------------------------------------------------------------


def _campaign_detail(request: Any, campaign: Any) -> Any:
    """The campaign with its coverage in the caller's scope attached (for CampaignDetailOut)."""
    coverage = selectors.campaign_coverage(request.auth, campaign)

    def row(r):
        return {"label": r.label, "target": r.target, "visited": r.visited, "behind": r.behind, "hazards": r.hazards}

    campaign.coverage = row(coverage.total)
    campaign.by_grid = [row(r) for r in coverage.by_grid]
    campaign.by_inspector = [row(r) for r in coverage.by_inspector]
    return campaign


@router.get("/campaigns", response={200: list[CampaignOut], **READ_ERRORS}, summary="排查整治行动列表")
@paginated
def campaign_list(request, node: int | None = Query(None, ge=1)):
    qs = selectors.campaigns_visible(request.auth)
    if node:
        qs = qs.filter(node__path__range=scope.subtree_range(_node(request, node).path))
    return qs


@router.post("/campaigns", response={201: CampaignDetailOut, **WRITE_ERRORS}, summary="制定排查整治行动")
def campaign_create(request, payload: CampaignIn):
    """按条件（网格、行业、风险等级、园区/厂区）或逐个选定排摸对象；对象逐一分配给所在网格的网格员。"""
    data = payload.model_dump()
    node = _node(request, data.pop("node"))
    owners = [ref_or_404(org_selectors.user_get, request.auth, pk, "owners") for pk in data.pop("owners")]
    rule = data.pop("rule")
    for pk in rule.get("nodes") or []:
        _node(request, pk, "rule.nodes")
    campaign = services.campaign_create(actor=request.auth, node=node, owners=owners, rule=rule, **data)
    return Status(201, _campaign_detail(request, selectors.campaign_get(request.auth, campaign.pk)))


@router.get("/campaigns/{campaign_id}", response={200: CampaignDetailOut, **READ_ERRORS}, summary="行动详情与排摸进度")
def campaign_detail(request, campaign_id: int = id_path("行动编号")):
    return _campaign_detail(request, selectors.campaign_get(request.auth, campaign_id))


# --- checklists ----------------------------------------------------------------------------------


@router.get("/templates", response={200: list[TemplateOut], **READ_ERRORS}, summary="检查表")
@paginated
def template_list(request):
    """您工作所在街道的检查表（网格员检查时使用街道统一的检查表）。"""
    return selectors.templates_usable(request.auth)


@router.post("/templates", response={201: TemplateOut, **WRITE_ERRORS}, summary="新建检查表")
def template_create(request, payload: TemplateIn):
    data = payload.model_dump()
    node = _node(request, data.pop("node"))
    template = services.template_create(actor=request.auth, node=node, **data)
    return Status(201, selectors.template_get(request.auth, template.pk))


@router.patch("/templates/{template_id}", response={200: TemplateOut, **WRITE_ERRORS}, summary="修改检查表")
def template_update(request, payload: TemplatePatch, template_id: int = id_path("检查表编号")):
    template = selectors.template_get(request.auth, template_id)
    services.template_update(actor=request.auth, template=template, **payload.changes())
    return selectors.template_get(request.auth, template_id)


# --- businesses and tenancies --------------------------------------------------------------------


@router.get("/businesses/{business_id}", response={200: BusinessSafetyOut, **READ_ERRORS},
            summary="主体的安全档案：风险等级、变更记录、未销号隐患、园区关系")
def business_safety(request, business_id: int = id_path("主体编号")):
    business = selectors.business_get(request.auth, business_id)
    tenancy = selectors.site_of(business)
    return {"id": business.pk, "name": business.name, "risk_colour": business.risk_colour,
            "site_id": tenancy.site_id if tenancy else None,
            "tenants": list(selectors.tenants_of(request.auth, business).values_list("pk", flat=True)),
            "open_hazards": list(selectors.hazard_list(request.auth, business=business.pk, state="open")[:100]),
            "risk_changes": [{"from": c.from_colour, "to": c.to_colour, "reason": c.reason, "at": c.created_at}
                             for c in selectors.risk_changes(request.auth, business)[:50]]}


@router.post("/tenancies", response={201: TenancyOut, **WRITE_ERRORS}, summary="登记园中园/厂中厂租赁关系")
def tenancy_set(request, payload: TenancyIn):
    tenant = ref_or_404(selectors.business_get, request.auth, payload.tenant, "tenant")
    site = ref_or_404(selectors.business_get, request.auth, payload.site, "site")
    return Status(201, services.tenancy_set(actor=request.auth, site=site, tenant=tenant, kind=payload.kind))


# --- photos (schemas; the endpoints are at the end) ---------------------------------------------

PHOTO_RULES = "JPG、PNG、WEBP 照片（按文件内容判定），每张不超过 10 MB，每次检查或每个隐患的整改最多 9 张。"


class PhotoOut(Schema):
    id: int = Field(description="照片编号")
    kind: str = Field(description="inspection 检查照片 / rectification 整改照片")
    inspection_id: int = Field(description="所属检查编号")
    hazard_id: int | None = Field(None, description="整改照片所属隐患编号")
    content_type: str = Field(description="类型（按文件内容判定）：image/jpeg、image/png、image/webp")
    size: int = Field(description="大小（字节）")
    created_at: datetime = Field(description="上传时间")
    url: str = Field(description="下载地址（同样需要能查看该检查）")

    @staticmethod
    def resolve_url(obj) -> str:
        from django.urls import reverse

        return reverse("api:safety_photo_download", args=[obj.pk])


def _photos(user: Any, **lookup: Any) -> list[Any]:
    from jiedao.safety.models import SafetyPhoto

    return list(scope.restrict(SafetyPhoto.objects.filter(**lookup), user, Perm.VIEW_SAFETY).order_by("pk"))


def hazard_photos(user: Any, hazard: Any) -> list[Any]:
    """What the hazard page shows: the photos of the inspection that found it (not another
    hazard's rectification) and this hazard's rectification photos."""
    from django.db.models import Q

    if not hazard.inspection_id:
        return []
    from jiedao.safety.models import SafetyPhoto

    qs = SafetyPhoto.objects.filter(inspection_id=hazard.inspection_id).filter(Q(hazard__isnull=True) | Q(hazard=hazard))
    return list(scope.restrict(qs, user, Perm.VIEW_SAFETY).order_by("pk"))


class InspectionDetailOut(InspectionOut):
    photos: list[PhotoOut] = Field(description="检查照片和其隐患的整改照片")

    @staticmethod
    def resolve_photos(obj, context) -> list[Any]:
        return _photos(context["request"].auth, inspection_id=obj.pk)


class HazardPhotosOut(HazardDetailOut):
    photos: list[PhotoOut] = Field(description="发现该隐患的检查照片和该隐患的整改照片")

    @staticmethod
    def resolve_photos(obj, context) -> list[Any]:
        return hazard_photos(context["request"].auth, obj)


# --- inspections ---------------------------------------------------------------------------------


@router.get("/inspections", response={200: list[InspectionOut], **READ_ERRORS}, summary="检查记录")
@paginated
def inspection_list(request, filters: Query[InspectionFilters]):
    qs = selectors.inspections_visible(request.auth)
    if filters.business:
        qs = qs.filter(business=ref_or_404(selectors.business_get, request.auth, filters.business, "business"))
    if filters.campaign:
        qs = qs.filter(campaign=ref_or_404(selectors.campaign_get, request.auth, filters.campaign, "campaign"))
    return qs


@router.post("/inspections", response={201: InspectionDetailOut, **WRITE_ERRORS}, summary="登记一次检查")
def inspection_record(request, payload: InspectionIn):
    """不合格的检查项和另外发现的隐患各生成一条隐患（待整改），整改期限按工作日计算。"""
    data = payload.model_dump()
    user = request.auth
    business = ref_or_404(selectors.business_get, user, data.pop("business"), "business")
    template = ref_or_404(selectors.template_usable, user, data.pop("template"), "template")
    campaign = ref_or_404(selectors.campaign_get, user, data.pop("campaign"), "campaign")
    site_inspection = ref_or_404(selectors.inspection_get, user, data.pop("site_inspection"), "site_inspection")
    inspection = services.inspection_record(actor=user, business=business, template=template, campaign=campaign,
                                            site_inspection=site_inspection, **data)
    return Status(201, selectors.inspection_get(user, inspection.pk))


@router.get("/inspections/{inspection_id}", response={200: InspectionDetailOut, **READ_ERRORS}, summary="检查详情")
def inspection_detail(request, inspection_id: int = id_path("检查编号")):
    return selectors.inspection_get(request.auth, inspection_id)


# --- hazards -------------------------------------------------------------------------------------


@router.get("/workflow", response={200: list[HazardWorkflowRowOut], **READ_ERRORS}, summary="隐患流转表")
def workflow_table(request):
    return [{**row, "action_label": str(row["action_label"]), "from_states": row["from"]}
            for row in workflow.table_rows()]


@router.get("/hazards", response={200: list[HazardOut], **READ_ERRORS}, summary="隐患列表")
@paginated
def hazard_list(request, filters: Query[HazardFilters]):
    if filters.state and filters.state != "open" and filters.state not in HazardState.values:
        raise DomainError(_("状态代码无效。"), field="state")
    business = ref_or_404(selectors.business_get, request.auth, filters.business, "business")
    return selectors.hazard_list(request.auth, state=filters.state, severity=filters.severity or "",
                                 field=filters.field or "", overdue=filters.overdue,
                                 business=business.pk if business else None, q=filters.q)


@router.get("/hazards/{hazard_id}", response={200: HazardPhotosOut, **READ_ERRORS}, summary="隐患详情")
def hazard_detail(request, hazard_id: int = id_path("隐患编号")):
    return selectors.hazard_get(request.auth, hazard_id)


@router.post("/hazards/{hazard_id}/actions", response={200: HazardPhotosOut, **WRITE_ERRORS}, summary="隐患流转")
def hazard_action(request, payload: HazardActionIn, hazard_id: int = id_path("隐患编号")):
    hazard = selectors.hazard_get(request.auth, hazard_id)
    params = {k: v for k, v in payload.model_dump().items() if v is not None and k not in ("action", "reason")}
    services.hazard_act(actor=request.auth, hazard=hazard, action=payload.action, reason=payload.reason, **params)
    return selectors.hazard_get(request.auth, hazard_id)


# --- the 三色 rule and the figures --------------------------------------------------------------


def _subdistrict(request: Any, pk: int) -> Any:
    node = _node(request, pk, "subdistrict")
    if node.kind != NodeKind.SUBDISTRICT:
        raise DomainError(_("三色规则按街道设置，请选择街道。"), field="subdistrict")
    return node


def _rule_out(rule: Any) -> dict[str, Any]:
    return {f: getattr(rule, f) for f in ("subdistrict_id", *services.RULE_FIELDS, "high_risk_industries")}


@router.get("/risk-rules/{subdistrict_id}", response={200: RiskRuleOut, **READ_ERRORS}, summary="三色风险规则")
def risk_rule(request, subdistrict_id: int = id_path("街道节点编号")):
    node = _subdistrict(request, subdistrict_id)
    scope.require(request.auth, Perm.VIEW_SAFETY, node.path, view_perm=Perm.VIEW_SAFETY)
    return _rule_out(services.rule_for(node.pk))


@router.patch("/risk-rules/{subdistrict_id}", response={200: RiskRuleUpdated, **WRITE_ERRORS},
              summary="修改三色风险规则（随后在后台按新规则重新评定本街道全部主体）")
def risk_rule_update(request, payload: RiskRulePatch, subdistrict_id: int = id_path("街道节点编号")):
    node = _subdistrict(request, subdistrict_id)
    rule = services.risk_rule_update(actor=request.auth, subdistrict=node, **payload.changes())
    return {**_rule_out(rule), "recomputing": rule.recomputing}


@router.get("/figures", response={200: FiguresOut, **READ_ERRORS}, summary="安全生产统计（底数、排摸、隐患、整改率）")
def figures(request, query: Query[FiguresQuery]):
    """口径见 docs/figures.md 的“安全生产”一节；统计您管辖范围内（或所选节点下）的数据。"""
    today = timezone.localdate()
    start = query.start or today.replace(month=1, day=1)
    end = query.end or today
    if end < start:
        raise DomainError(_("结束日期不能早于开始日期。"), field="end")
    if start.year < 2000 or end.year > 2100:
        raise DomainError(_("统计期间须在 2000 年至 2100 年之间。"), field="start")
    node = _node(request, query.node) if query.node else None
    f = selectors.figures(request.auth, start, end, node=node)
    return {"start": start, "end": end, **{k: getattr(f, k) for k in (
        "base", "visited", "hazards", "major", "rectified", "on_time", "overdue_open", "coverage_rate",
        "rectification_rate", "on_time_rate")}, "colours": selectors.colour_counts(request.auth, node=node)}


# --- photos --------------------------------------------------------------------------------------

def _store(user: Any, inspection: Any, files: list[Any], hazard: Any = None) -> list[Any]:
    if not files:
        raise DomainError(_("请选择要上传的照片。"), field="photos")
    return services.photos_add(actor=user, inspection=inspection, hazard=hazard, uploads=files)


@router.post("/inspections/{inspection_id}/photos", response={201: list[PhotoOut], **WRITE_ERRORS},
             summary="上传检查照片（multipart）")
def inspection_photos_add(request, inspection_id: int = id_path("检查编号"),
                          photos: list[UploadedFile] = File(..., description=PHOTO_RULES)):
    """multipart/form-data，字段 photos（可多个）。需要该主体的检查权限：能看到但不能检查答 403，
    检查不存在或不在管辖范围内答 404；任何一张不合格（400，field 为 photos）则一张也不保存。"""
    inspection = selectors.inspection_get(request.auth, inspection_id)
    return Status(201, _store(request.auth, inspection, photos))


@router.post("/hazards/{hazard_id}/photos", response={201: list[PhotoOut], **WRITE_ERRORS},
             summary="上传隐患整改照片（multipart）")
def hazard_photos_add(request, hazard_id: int = id_path("隐患编号"),
                      photos: list[UploadedFile] = File(..., description=PHOTO_RULES)):
    """multipart/form-data，字段 photos（可多个）：该隐患的整改照片。规则与检查照片相同。"""
    hazard = selectors.hazard_get(request.auth, hazard_id)
    if not hazard.inspection_id:
        raise DomainError(_("该隐患没有所属检查，不能上传整改照片。"), field="hazard")
    return Status(201, _store(request.auth, hazard.inspection, photos, hazard))


@router.get("/photos/{photo_id}", response=READ_ERRORS, url_name="safety_photo_download", summary="下载检查或整改照片",
            openapi_extra={"responses": {200: {"description": "照片内容",
                                               "content": {kind: {} for kind in services.PHOTO_TYPES.values()}}}})
def photo_download(request, photo_id: int = id_path("照片编号")):
    """与检查相同的范围：照片不存在或其检查不在管辖范围内都答 404。"""
    from django.http import HttpResponse

    from jiedao.safety.models import SafetyPhoto

    item = scope.get_scoped(SafetyPhoto.objects.all(), request.auth, Perm.VIEW_SAFETY, pk=photo_id)
    response = HttpResponse(services.photo_bytes(item), content_type=item.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- 季度风险研判 (jiedao.safety.review) -----------------------------------------------------------



class ReviewQuery(Schema):
    node: int | None = Field(None, ge=1, description="街道、社区（村）或网格编号；默认您管辖的第一个")
    year: int | None = Field(None, ge=2000, le=2100, description="年份；默认本季度")
    quarter: int | None = Field(None, ge=1, le=4, description="季度（1–4）；默认本季度")


class ReviewFiguresOut(Schema):
    base: int = Field(description="底数：在营主体数")
    visited: int = Field(description="排摸：本季度检查过至少一次的主体数")
    inspections: int = Field(description="本季度检查次数")
    hazards: int = Field(description="本季度发现的隐患（不含撤销）")
    major: int = Field(description="重大隐患")
    rectified: int = Field(description="已销号")
    on_time: int = Field(description="按期整改")
    overdue_open: int = Field(description="逾期未整改")
    coverage_rate: float | None = Field(description="排摸覆盖率 = 排摸 / 底数")
    rectification_rate: float | None = Field(description="整改率 = 已销号 / 隐患")
    on_time_rate: float | None = Field(description="按期整改率 = 按期整改 / 隐患")


class ReviewHazardRowOut(Schema):
    key: str = Field(description="领域或等级代码")
    label: str
    hazards: int
    major: int
    rectified: int
    on_time: int
    overdue_open: int


class ReviewOverdueOut(Schema):
    id: int
    code: str
    business: str
    field: str
    severity: str
    description: str
    deadline_at: datetime
    state: str


class ReviewBusinessOut(Schema):
    id: int
    name: str
    grid: str
    risk_colour: str
    hazards: int = Field(description="本季度发现的隐患")
    major: int
    open: int = Field(description="目前未销号的隐患（不论何时发现）")
    open_major: int
    overdue: int


class ReviewSiteOut(Schema):
    id: int
    name: str
    kind: str = Field(description="园中园 / 厂中厂")
    tenants: int
    inspected: int = Field(description="园区/厂区及其承租主体中本季度检查过的")
    hazards: int
    major: int
    open: int


class SafetyReviewOut(Schema):
    node_id: int
    node_name: str
    year: int
    quarter: int
    title: str
    start: date
    end: date
    figures: ReviewFiguresOut
    previous: ReviewFiguresOut = Field(description="上季度，同一口径")
    by_field: list[ReviewHazardRowOut]
    by_severity: list[ReviewHazardRowOut]
    overdue: list[ReviewOverdueOut] = Field(description="本季度发现、至今未整改且已过期限的隐患")
    businesses: list[ReviewBusinessOut] = Field(description="重点风险主体（前 10）")
    sites: list[ReviewSiteOut] = Field(description="园中园、厂中厂（前 10）")
    tenants: dict[str, int] = Field(description="承租主体合计：tenants, inspected, hazards, major, rectified")


def _review(request: Any, query: ReviewQuery) -> Any:
    if (query.year is None) != (query.quarter is None):
        raise DomainError(_("年份和季度须同时填写。"), field="quarter" if query.quarter is None else "year")
    year, quarter = (query.year, query.quarter) if query.year else reviews.recent_quarters()[0][:2]
    if query.node:
        node = ref_or_404(reviews.review_node, request.auth, query.node, "node")
    else:
        places = reviews.places(request.auth)
        if not places:
            raise DomainError(_("季度风险研判按街道、社区（村）或网格进行，您负责的范围内没有。"), field="node")
        node = places[0]
    return reviews.build(request.auth, node, year, quarter)


def _review_figures(f: Any, inspections: int) -> dict[str, Any]:
    return {"inspections": inspections, **{k: getattr(f, k) for k in (
        "base", "visited", "hazards", "major", "rectified", "on_time", "overdue_open", "coverage_rate",
        "rectification_rate", "on_time_rate")}}


def _file_doc(media_type: str) -> dict[str, Any]:
    return {"responses": {200: {"description": "文件（附件）",
                                "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}}


@router.get("/review", response={200: SafetyReviewOut, **READ_ERRORS, 400: ErrorOut}, summary="季度风险研判（数据）")
def review(request, query: Query[ReviewQuery]):
    """口径见 docs/figures.md 的“季度风险研判”一节；统计您管辖范围内、所选节点下的数据。"""
    r = _review(request, query)
    rows = lambda items: [{k: getattr(x, k) for k in ReviewHazardRowOut.model_fields} for x in items]  # noqa: E731
    return {
        "node_id": r.node.pk, "node_name": r.node.name, "year": r.year, "quarter": r.quarter, "title": r.title,
        "start": r.start, "end": r.end, "figures": _review_figures(r.figures, r.inspections),
        "previous": _review_figures(r.previous, r.previous_inspections),
        "by_field": rows(r.by_field), "by_severity": rows(r.by_severity),
        "overdue": [{"id": h.pk, "code": h.code, "business": h.business.name, "field": h.field, "severity": h.severity,
                     "description": h.description, "deadline_at": h.deadline_at, "state": h.state} for h in r.overdue],
        "businesses": [{"id": b.business.pk, "name": b.business.name, "grid": b.grid, "risk_colour": b.business.risk_colour,
                        "hazards": b.hazards, "major": b.major, "open": b.open, "open_major": b.open_major,
                        "overdue": b.overdue} for b in r.businesses],
        "sites": [{"id": s.site.pk, "name": s.site.name, "kind": s.kind_label, "tenants": s.tenants,
                   "inspected": s.inspected, "hazards": s.hazards, "major": s.major, "open": s.open} for s in r.sites],
        "tenants": {k: getattr(r.tenant_summary, k) for k in ("tenants", "inspected", "hazards", "major", "rectified")},
    }


@router.get("/review.docx", response={**FILE_ERRORS, 400: ErrorOut}, openapi_extra=_file_doc(DOCX),
            summary="下载季度风险研判报告（docx，公文格式）")
def review_docx(request, query: Query[ReviewQuery]):
    r = _review(request, query)
    return file_response(reviews.review_docx(r), f"{r.title}.docx", DOCX)


@router.get("/review.xlsx", response={**FILE_ERRORS, 400: ErrorOut}, openapi_extra=_file_doc(XLSX),
            summary="下载季度风险研判数据（xlsx）")
def review_xlsx(request, query: Query[ReviewQuery]):
    r = _review(request, query)
    return file_response(reviews.review_xlsx(r), f"{r.title}.xlsx", XLSX)
