"""REST endpoints of the catalogue, the workflow table, the working-day years and the 办件规则
(mounted under /api/v1/cases)."""

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from ninja import Field, Router, Schema
from ninja.responses import Status

from jiedao.cases import workflow
from jiedao.cases.api_common import T_REFERENCE
from jiedao.cases.catalogue import selectors as catalogue_selectors
from jiedao.cases.catalogue import services as catalogue_services
from jiedao.core import scope
from jiedao.core.api import READ_ERRORS, WRITE_ERRORS, ErrorOut, InSchema, id_path, paginated
from jiedao.core.errors import PermissionError_
from jiedao.core.permissions import Perm

router = Router()


# --- schemas: reference ---------------------------------------------------------------------------


class WorkflowRowOut(Schema):
    action: str = Field(description="动作代码")
    action_label: str = Field(description="动作名称")
    from_: list[str] = Field(alias="from", description="可以执行该动作的状态")
    to: str | None = Field(None, description="执行后的状态；null 表示状态不变")
    actors: list[str] = Field(description="可以执行的人：grid/community/handler/leader/admin/resident")
    needs_reason: bool = Field(description="是否必须填写说明")
    note: str = Field(description="说明")
    guard: str = Field(description="状态之外的条件（如“私事”“调处层级为联席会议（第三级）”）；空为无条件")


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


# --- endpoints: reference -------------------------------------------------------------------------



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
    return catalogue_selectors.categories_active()


# --- working-day years -----------------------------------------------------------------------------


class WorkdayYearOut(Schema):
    year: int = Field(description="年度")
    in_package: bool = Field(description="节假日组件（chinese-calendar）是否已包含该年安排")
    declared: bool = Field(description="管理员是否已确认该年节假日录入完整")
    declared_at: datetime | None = Field(None, description="确认时间")
    declared_by: str | None = Field(None, description="确认人")
    known: bool = Field(description="该年工作日是否确定（组件已包含或已确认）；否则涉及该年的期限为估算")
    holidays: int = Field(description="已录入的放假日数")
    workdays: int = Field(description="已录入的调休上班日数")
    estimated_cases: int = Field(description="期限在该年且为估算的办理中事项数")


class WorkdayYearIn(InSchema):
    year: int = Field(..., ge=2000, le=2100, description="要确认录入完整的年度")


class WorkdayYearDeclaredOut(Schema):
    year: int = Field(description="年度")
    holidays: int = Field(description="该年已录入的放假日数")
    workdays: int = Field(description="该年已录入的调休上班日数")
    recomputed: int = Field(description="重算期限的办理中事项数")
    moved: int = Field(description="期限因此改变的事项数")


def _year_out(y: Any) -> dict[str, Any]:
    declared = y.declared
    return {"year": y.year, "in_package": y.in_package, "declared": declared is not None,
            "declared_at": declared.created_at if declared else None,
            "declared_by": str(declared.declared_by) if declared and declared.declared_by else None,
            "known": y.known, "holidays": y.holidays, "workdays": y.workdays, "estimated_cases": y.estimated_cases}


@router.get("/workday-years", response={200: list[WorkdayYearOut], 401: ErrorOut}, summary="各年度节假日安排是否确定",
            tags=T_REFERENCE)
def workday_years(request):
    """今年、明年和已录入日期的以后年度：节假日组件是否包含、管理员是否确认录入完整、已录入的日期数，
    以及期限为估算的办理中事项数。未确定的年度，涉及它的办理期限标为估算（事项的 `deadline_estimated`）。"""
    return [_year_out(y) for y in catalogue_selectors.calendar_years()]


@router.post("/workday-years", response={201: WorkdayYearDeclaredOut, **WRITE_ERRORS},
             summary="确认某年节假日已录入完整", tags=T_REFERENCE)
def workday_year_declare(request, payload: WorkdayYearIn):
    """系统管理员（维护事项目录的权限）确认节假日组件未包含的某年度，其放假和调休上班日期已全部录入。
    之后该年的工作日按录入的日期确定；期限为估算且涉及该年的办理中事项按派遣时间重算期限（缓办事项保留批准的日期），
    逐件记入审计日志。该年没有录入任何放假日期、组件已包含该年或已确认过的，答 400。"""
    return Status(201, catalogue_services.workday_year_declare(actor=request.auth, year=payload.year))


# --- 办件规则 (CasePolicy) ---------------------------------------------------------------------------


class CasePolicyOut(Schema):
    id: int | None = Field(None, description="街道节点编号；默认规则为 null")
    subdistrict_name: str | None = Field(None, description="街道名称；默认规则为 null")
    own: bool = Field(description="是否本街道自己的规则（否：沿用默认规则）")
    weight_response: float = Field(description="响应率权重")
    weight_resolution: float = Field(description="解决率权重")
    weight_satisfaction: float = Field(description="满意率权重（三项之和为 1）")
    weight_basic: float = Field(description="基本满意折算（0 到 1）")
    morning_start: str = Field(description="上午上班，如 08:30")
    morning_end: str = Field(description="上午下班")
    afternoon_start: str = Field(description="下午上班")
    afternoon_end: str = Field(description="下午下班（按工作日计的时限在此刻截止）")
    separate_verifier: bool = Field(description="办结人不得核查同一事项")


class CasePolicyIn(InSchema):
    """只修改所给的字段。"""

    weight_response: Decimal = Field(None, description="响应率权重（0 到 1）")
    weight_resolution: Decimal = Field(None, description="解决率权重（0 到 1）")
    weight_satisfaction: Decimal = Field(None, description="满意率权重（0 到 1；三项之和应为 1 ± 0.001）")
    weight_basic: Decimal = Field(None, description="基本满意折算（0 到 1）")
    morning_start: time = Field(None, description="上午上班，如 08:30")
    morning_end: time = Field(None, description="上午下班")
    afternoon_start: time = Field(None, description="下午上班（不早于上午下班）")
    afternoon_end: time = Field(None, description="下午下班")
    separate_verifier: bool = Field(None, description="办结人不得核查同一事项")


def _policy_out(row: Any) -> dict[str, Any]:
    p = row.policy
    return {
        "id": row.subdistrict.pk if row.subdistrict else None,
        "subdistrict_name": row.subdistrict.name if row.subdistrict else None, "own": row.own,
        **{name: float(getattr(p, name)) for name in ("weight_response", "weight_resolution", "weight_satisfaction",
                                                      "weight_basic")},
        **{name: f"{getattr(p, name):%H:%M}" for name in ("morning_start", "morning_end", "afternoon_start",
                                                         "afternoon_end")},
        "separate_verifier": p.separate_verifier,
    }


@router.get("/policies", response={200: list[CasePolicyOut], **READ_ERRORS}, summary="办件规则列表", tags=T_REFERENCE)
@paginated
def policy_list(request):
    """您维护事项目录的各街道的办件规则（办公时间、综合评分权重、办结人能否核查）；超级管理员还看到默认规则
    （`id` 为 null）。没有自己规则的街道显示默认规则，`own` 为 false。"""
    return [_policy_out(row) for row in catalogue_selectors.policy_rows(request.auth)]


@router.get("/policies/default", response={200: CasePolicyOut, 403: ErrorOut, **READ_ERRORS}, summary="默认办件规则",
            tags=T_REFERENCE)
def policy_default(request):
    """没有自己规则的街道和跨街道统计所用的规则。需要维护事项目录的权限。"""
    if not scope.has_perm_anywhere(request.auth, Perm.MANAGE_CATALOGUE):
        raise PermissionError_()
    return _policy_out(catalogue_selectors.policy_row(None))


@router.put("/policies/default", response={200: CasePolicyOut, **WRITE_ERRORS}, summary="修改默认办件规则",
            tags=T_REFERENCE)
def policy_default_update(request, payload: CasePolicyIn):
    """仅超级管理员。只修改所给的字段；规则同街道办件规则。"""
    catalogue_services.case_policy_update(actor=request.auth, subdistrict=None, **payload.model_dump(exclude_unset=True))
    return _policy_out(catalogue_selectors.policy_row(None))


@router.get("/policies/{subdistrict_id}", response={200: CasePolicyOut, 403: ErrorOut, **READ_ERRORS},
            summary="街道办件规则", tags=T_REFERENCE)
def policy_detail(request, subdistrict_id: int = id_path("街道节点编号")):
    """看不到该街道答 404；看得到但不维护其事项目录答 403。"""
    subdistrict = catalogue_selectors.policy_subdistrict_get(request.auth, subdistrict_id)
    return _policy_out(catalogue_selectors.policy_row(subdistrict))


@router.put("/policies/{subdistrict_id}", response={200: CasePolicyOut, **WRITE_ERRORS}, summary="修改街道办件规则",
            tags=T_REFERENCE)
def policy_update(request, payload: CasePolicyIn, subdistrict_id: int = id_path("街道节点编号")):
    """只修改所给的字段。响应率、解决率、满意率三项权重之和应为 1（± 0.001），基本满意折算在 0 到 1 之间；
    上午上班 < 上午下班 ≤ 下午上班 < 下午下班。修改办公时间只影响之后派遣的事项。逐项记入审计日志。"""
    subdistrict = catalogue_selectors.policy_subdistrict_get(request.auth, subdistrict_id)
    catalogue_services.case_policy_update(actor=request.auth, subdistrict=subdistrict,
                                          **payload.model_dump(exclude_unset=True))
    return _policy_out(catalogue_selectors.policy_row(subdistrict))

