"""REST endpoints of the catalogue and the workflow table (mounted under /api/v1/cases)."""

from decimal import Decimal

from ninja import Field, Router, Schema

from jiedao.cases import workflow
from jiedao.cases.api_common import T_REFERENCE
from jiedao.cases.catalogue import selectors as catalogue_selectors
from jiedao.core.api import READ_ERRORS, ErrorOut, paginated

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
