"""REST endpoints of the base registers (mounted under /api/v1/people): residents, households,
special groups, businesses, spreadsheet imports and exports.

Reads go through jiedao.people.selectors (scoped by jiedao.core.scope), writes through
jiedao.people.services; an object outside the caller's scope answers 404 exactly like a missing
one, and a referenced id that is missing or out of scope answers 404 naming the field.

Personal identifiers (身份证号, phone numbers) leave this module masked, with two exceptions that
both need the reveal permission on the object's place, a stated reason, and write an audit
event: POST /residents/{id}/reveal, and an export with `reveal=true&reason=…`.
"""

import io
from datetime import date, datetime
from typing import Any, Literal

from django.http import FileResponse, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Path, Query, Router, Schema, UploadedFile
from ninja.responses import Status

from jiedao.core import crypto, exports, filevault, imports, scope, sealed, tasks
from jiedao.core.api import (
    MAX_ID,
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
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.core.tabular import TabularError
from jiedao.org import selectors as org_selectors
from jiedao.org.api import PatchSchema
from jiedao.people import (
    exporting,
    importers,  # noqa: F401  (registers the residents and businesses import specs)
    selectors,
    services,
)
from jiedao.people.models import BusinessSize, Gender, RiskColour

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Endpoints answering a file describe it for the OpenAPI document by hand.
XLSX_DOC = {
    "responses": {
        200: {"description": "xlsx 文件（附件）", "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}
    }
}
FILE_ERRORS: dict[int, Any] = {**READ_ERRORS, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut}
ImportRegister = Literal["residents", "businesses"]
ACTIVE_FILTER = {"true": True, "false": False, "all": None}

T_RESIDENTS = ["居民"]
T_HOUSEHOLDS = ["住户"]
T_GROUPS = ["特殊人群类别"]
T_BUSINESSES = ["工商业主体"]
T_IMPORTS = ["导入"]



def _node(request: Any, pk: int | None, field: str = "node") -> Any:
    return ref_or_404(org_selectors.node_get, request.auth, pk, field)


def _group(code: str, field: str = "group", *, required: bool = False) -> Any:
    """A special group by its code: an unknown code is a 404 naming the field; an empty one is
    "no group" for a filter and a 400 where a group is required (it used to reach the service as None)."""
    if required and not (code or "").strip():
        raise DomainError(_("请填写特殊人群类别代码。"), field=field)
    return ref_or_404(lambda _actor, key: selectors.special_group_by_code(key), None, code, field)



def _file(handle: Any, filename: str) -> FileResponse:
    """An xlsx attachment; Django encodes the Chinese file name (RFC 5987 filename*)."""
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX)
    response["Cache-Control"] = "no-store"  # registers hold personal data: never kept by a cache
    return response


def _masked_query(text: str) -> str:
    """The search text as it may be written to the audit log: an ID number or phone masked."""
    compact = "".join((text or "").split())
    if len(compact) == 18:
        return crypto.mask(compact, "id_number")
    if len(compact) >= 7 and compact.replace("-", "").isdigit():
        return crypto.mask(compact, "phone")
    return text


# --- schemas: residents -------------------------------------------------------------------------


class TagOut(Schema):
    id: int = Field(description="标签编号")
    group_id: int = Field(description="特殊人群类别编号")
    group_code: str = Field(description="类别代码")
    group_name: str = Field(description="类别名称")
    start_date: date | None = Field(None, description="认定日期")
    end_date: date | None = Field(None, description="退出日期")
    data: dict[str, Any] = Field(description="附加信息（按类别的附加字段）")
    notes: str = Field(description="备注")

    @staticmethod
    def resolve_group_code(obj) -> str:
        return obj.group.code

    @staticmethod
    def resolve_group_name(obj) -> str:
        return obj.group.name


class HouseholdRef(Schema):
    id: int = Field(description="户编号")
    number: str = Field(description="户号")
    address: str = Field(description="住址")
    head_id: int | None = Field(None, description="户主（居民编号）")


class ResidentOut(Schema):
    id: int = Field(description="居民编号")
    name: str = Field(description="姓名")
    node_id: int = Field(description="所在节点编号")
    node_name: str = Field(description="所在节点名称")
    household_id: int | None = Field(None, description="户编号")
    household_number: str | None = Field(None, description="户号")
    relation: str = Field(description="与户主关系")
    gender: str = Field(description="性别代码：male/female；未知为空")
    gender_label: str = Field(description="性别")
    birth_date: date | None = Field(None, description="出生日期（由身份证号推出）；仅对有权查看该居民明文的调用者返回，其他人为 null")
    birth_year: int | None = Field(None, description="出生年份（由身份证号推出）")
    id_number_masked: str = Field(description="身份证号（脱敏，如 33***************3：只留前 2 位和最后 1 位）")
    phone_masked: str = Field(description="联系电话（脱敏，如 138******78：只留前 3 位和最后 2 位）")
    registered_address: str = Field(description="户籍地址")
    actual_address: str = Field(description="现住地址")
    is_floating: bool = Field(description="是否流动人口")
    is_active: bool = Field(description="是否在册")
    notes: str = Field(description="备注")

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name

    @staticmethod
    def resolve_household_number(obj) -> str | None:
        return obj.household.number if obj.household_id else None

    @staticmethod
    def resolve_gender_label(obj) -> str:
        return str(obj.get_gender_display()) if obj.gender else ""

    @staticmethod
    def resolve_birth_date(obj, context) -> date | None:
        # The date narrows the masked ID number to a few candidates: only for those who may reveal it.
        if obj.birth_date and scope.path_allows(context["request"].auth, Perm.REVEAL_PII, obj.node.path):
            return obj.birth_date
        return None

    @staticmethod
    def resolve_birth_year(obj) -> int | None:
        return obj.birth_date.year if obj.birth_date else None


class ResidentDetailOut(ResidentOut):
    household: HouseholdRef | None = Field(None, description="所在户")
    tags: list[TagOut] = Field(description="特殊人群标签")
    can_reveal: bool = Field(description="调用者能否查看该居民身份证号、电话的明文（需填写事由）")
    created_at: datetime = Field(description="登记时间")
    updated_at: datetime = Field(description="最近修改时间")

    @staticmethod
    def resolve_tags(obj) -> list[Any]:
        return list(selectors.resident_tags(obj))

    @staticmethod
    def resolve_can_reveal(obj, context) -> bool:
        return scope.path_allows(context["request"].auth, Perm.REVEAL_PII, obj.node.path)


class ResidentFilters(Schema):
    q: str = Field("", max_length=100, description="姓名或地址包含（不匹配身份证号、电话；按完整号码查找见 POST /residents/lookup）")
    node: int | None = Field(None, ge=1, le=MAX_ID, description="只列出该节点及其下级的居民")
    group: str = Field("", max_length=32, description="特殊人群类别代码，如 dibao")
    floating: bool | None = Field(None, description="是否流动人口")
    gender: Gender | None = Field(None, description="性别")
    active: Literal["true", "false", "all"] = Field("true", description="true 在册（默认）、false 已注销、all 全部")


class ResidentCreateIn(InSchema):
    node: ObjId = Field(description="所在节点编号（网格、微网格或楼栋）")
    name: str = Field(description="姓名")
    id_number: str = Field("", description="身份证号（18 位，校验位按 GB 11643 校验）")
    phone: str = Field("", description="联系电话（手机号或带区号的固定电话）")
    household: ObjId | None = Field(None, description="户编号")
    relation: str = Field("", description="与户主关系")
    registered_address: str = Field("", description="户籍地址")
    actual_address: str = Field("", description="现住地址")
    is_floating: bool = Field(False, description="是否流动人口")
    notes: str = Field("", description="备注")


class ResidentUpdateIn(PatchSchema):
    name: str = Field(None, description="姓名")
    id_number: str = Field(None, description="身份证号；空字符串表示清除")
    phone: str = Field(None, description="联系电话；空字符串表示清除")
    household: ObjId | None = Field(None, description="户编号；null 表示移出所在户")
    relation: str = Field(None, description="与户主关系")
    registered_address: str = Field(None, description="户籍地址")
    actual_address: str = Field(None, description="现住地址")
    is_floating: bool = Field(None, description="是否流动人口")
    notes: str = Field(None, description="备注")
    node: ObjId = Field(None, description="所在节点编号")
    is_active: bool = Field(None, description="是否在册")


class RevealIn(InSchema):
    field: Literal["id_number", "phone"] = Field(description="要查看明文的字段")
    reason: str = Field(max_length=500, description="查看事由（必填，记入审计日志）")


class RevealOut(Schema):
    field: str = Field(description="字段")
    value: str = Field(description="明文；未登记时为空字符串")


class LookupIn(InSchema):
    kind: Literal["id_number", "phone"] = Field(description="按什么查找：id_number 身份证号，phone 联系电话")
    value: str = Field(max_length=32, description="完整的身份证号或电话号码（精确匹配，不解密）")
    reason: str = Field(max_length=200, description="查找事由（必填，记入审计日志）")


class LookupOut(Schema):
    found: int = Field(description="找到的居民数（限于调用者有查找权限的范围）")
    residents: list[ResidentOut] = Field(description="找到的居民（身份证号、电话仍为脱敏值）")


class TagIn(InSchema):
    group: str = Field(max_length=32, description="特殊人群类别代码，如 disabled")
    start_date: date | None = Field(None, description="认定日期")
    end_date: date | None = Field(None, description="退出日期")
    data: dict[str, Any] = Field(default_factory=dict, description="附加信息（按类别的附加字段）")
    notes: str = Field("", description="备注")


ACTION_LABELS = {
    "people.resident.create": "登记",
    "people.resident.update": "修改",
    "people.resident.import": "导入",
    "people.resident.reveal_id_number": "查看身份证号明文",
    "people.resident.reveal_phone": "查看联系电话明文",
    "people.resident.tag": "加入特殊人群",
    "people.resident.untag": "移出特殊人群",
}
# Never shown, even if a future audit snapshot carried them: ciphertexts and blind indexes.
_SECRET_SUFFIXES = ("_enc", "_bidx")


def _scrub(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return sealed.scrub_snapshot({k: v for k, v in values.items() if not k.endswith(_SECRET_SUFFIXES)})


class HistoryOut(Schema):
    id: int = Field(description="审计事件编号")
    created_at: datetime = Field(description="时间")
    action: str = Field(description="动作代码")
    action_label: str = Field(description="动作")
    actor: str = Field(description="操作人", validation_alias="actor_repr")
    object_type: str = Field(description="对象类型：people.resident 或 people.residenttag")
    object_repr: str = Field(description="对象名称")
    before: dict[str, Any] | None = Field(None, description="修改前（证件号、电话只有脱敏值）")
    after: dict[str, Any] | None = Field(None, description="修改后（证件号、电话只有脱敏值）")
    reason: str = Field(description="事由")

    @staticmethod
    def resolve_action_label(obj) -> str:
        return ACTION_LABELS.get(obj.action, obj.action)

    @staticmethod
    def resolve_before(obj) -> dict[str, Any] | None:
        return _scrub(obj.before)

    @staticmethod
    def resolve_after(obj) -> dict[str, Any] | None:
        return _scrub(obj.after)


# --- schemas: households ------------------------------------------------------------------------


class HouseholdOut(Schema):
    id: int = Field(description="户编号")
    number: str = Field(description="户号")
    address: str = Field(description="住址")
    unit: str = Field(description="单元")
    floor: int | None = Field(None, description="楼层")
    room: str = Field(description="室号")
    notes: str = Field(description="备注")
    node_id: int = Field(description="所在节点编号")
    node_name: str = Field(description="所在节点名称")
    head_id: int | None = Field(None, description="户主（居民编号）")
    head_name: str | None = Field(None, description="户主姓名")

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name

    @staticmethod
    def resolve_head_name(obj) -> str | None:
        return obj.head.name if obj.head_id else None


class HouseholdDetailOut(HouseholdOut):
    members: list[ResidentOut] = Field(description="成员（调用者可见的）")

    @staticmethod
    def resolve_members(obj, context) -> list[Any]:
        return list(selectors.household_members(context["request"].auth, obj))


class HouseholdCreateIn(InSchema):
    node: ObjId = Field(description="所在节点编号（网格、微网格或楼栋）")
    number: str = Field(description="户号（同一街道内唯一）")
    address: str = Field(description="住址")
    unit: str = Field("", description="单元")
    floor: int | None = Field(None, ge=-10, le=300, description="楼层")
    room: str = Field("", description="室号")
    notes: str = Field("", description="备注")


class HouseholdHeadIn(InSchema):
    head: ObjId | None = Field(description="户主的居民编号（必须是该户成员）；null 表示清除")


# --- schemas: special groups --------------------------------------------------------------------


class SpecialGroupOut(Schema):
    id: int = Field(description="类别编号")
    code: str = Field(description="代码")
    name: str = Field(description="名称")
    fields: list[dict[str, Any]] = Field(description="附加字段定义")
    visit_interval_days: int | None = Field(None, description="走访周期（天）")
    sort_order: int = Field(description="排序")


class GroupFieldIn(InSchema):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$", description="字段名（字母、数字、下划线）")
    label: str = Field(min_length=1, max_length=32, description="显示名称")
    type: Literal["text", "number", "date", "choice"] = Field("text", description="类型")
    choices: list[str] = Field(default_factory=list, description="可选值（类型为 choice 时）")


class SpecialGroupIn(InSchema):
    code: str = Field(pattern=r"^[a-z0-9_-]{1,32}$", description="代码：小写字母、数字、下划线或连字符")
    name: str = Field(description="名称")
    fields: list[GroupFieldIn] = Field(default_factory=list, description="附加字段")
    visit_interval_days: int | None = Field(None, ge=1, le=3650, description="走访周期（天）")


# --- schemas: businesses ------------------------------------------------------------------------


class BusinessOut(Schema):
    id: int = Field(description="主体编号")
    name: str = Field(description="名称")
    uscc: str = Field(description="统一社会信用代码")
    kind: str = Field(description="主体类型")
    legal_rep: str = Field(description="法定代表人")
    address: str = Field(description="经营地址")
    industry: str = Field(description="行业")
    size: str = Field(description="规模代码：large/medium/small/micro/individual；未填为空")
    size_label: str = Field(description="规模")
    risk_colour: str = Field(description="风险等级代码：red/yellow/green")
    risk_colour_label: str = Field(description="风险等级")
    phone_masked: str = Field(description="联系电话（脱敏）")
    node_id: int = Field(description="所在节点编号")
    node_name: str = Field(description="所在节点名称")
    is_active: bool = Field(description="是否在营")

    @staticmethod
    def resolve_size_label(obj) -> str:
        return str(obj.get_size_display()) if obj.size else ""

    @staticmethod
    def resolve_risk_colour_label(obj) -> str:
        return str(obj.get_risk_colour_display())

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name


class BusinessDetailOut(BusinessOut):
    created_at: datetime = Field(description="登记时间")
    updated_at: datetime = Field(description="最近修改时间")


class BusinessFilters(Schema):
    q: str = Field("", max_length=100, description="名称包含，或完整的统一社会信用代码")
    node: int | None = Field(None, ge=1, le=MAX_ID, description="只列出该节点及其下级的主体")
    risk_colour: RiskColour | None = Field(None, description="风险等级")
    industry: str = Field("", max_length=64, description="行业（完全一致）")


class BusinessCreateIn(InSchema):
    node: ObjId = Field(description="所在节点编号（网格、微网格或楼栋）")
    name: str = Field(description="名称")
    uscc: str = Field("", description="统一社会信用代码（18 位，按 GB 32100 校验）")
    kind: str = Field("", description="主体类型")
    legal_rep: str = Field("", description="法定代表人")
    address: str = Field("", description="经营地址")
    industry: str = Field("", description="行业")
    size: BusinessSize | None = Field(None, description="规模")
    phone: str = Field("", description="联系电话")


class BusinessUpdateIn(PatchSchema):
    name: str = Field(None, description="名称")
    uscc: str = Field(None, description="统一社会信用代码；空字符串表示清除")
    kind: str = Field(None, description="主体类型")
    legal_rep: str = Field(None, description="法定代表人")
    address: str = Field(None, description="经营地址")
    industry: str = Field(None, description="行业")
    size: BusinessSize | None = Field(None, description="规模；null 表示清除")
    phone: str = Field(None, description="联系电话；空字符串表示清除")
    node: ObjId = Field(None, description="所在节点编号")
    is_active: bool = Field(None, description="是否在营")


# --- schemas: imports ---------------------------------------------------------------------------


class ProgressOut(Schema):
    phase: str = Field(description="阶段：validate 校验、commit 导入；尚未开始为空")
    done: int = Field(description="已处理行数")
    total: int = Field(description="总行数（校验完成前为估计值）")


class ImportJobOut(Schema):
    id: int = Field(description="导入作业编号")
    # Named register_key here: "register" would shadow pydantic's ModelMetaclass.register.
    register_key: str = Field(alias="register", description="登记簿：residents 居民、businesses 工商业主体")
    original_name: str = Field(description="上传的文件名")
    size: int = Field(description="文件大小（字节）")
    sha256: str = Field(description="文件的 SHA-256")
    mode: str = Field(description="导入方式：all_or_nothing 全部成功才导入、good_only 只导入正确的行")
    mode_label: str = Field(description="导入方式")
    status: str = Field(description="状态：uploaded/validating/validated/committing/committed/failed/cancelled")
    status_label: str = Field(description="状态")
    total_rows: int = Field(description="数据行数")
    good_rows: int = Field(description="正确行数")
    bad_rows: int = Field(description="错误行数")
    created_rows: int = Field(description="新增行数")
    updated_rows: int = Field(description="更新行数")
    notices: list[str] = Field(description="提示（如忽略的列、工作表）")
    message: str = Field(description="结果说明")
    progress: ProgressOut = Field(description="进度")
    can_commit: bool = Field(description="现在能否提交")
    created_at: datetime = Field(description="上传时间")
    started_at: datetime | None = Field(None, description="开始处理时间")
    finished_at: datetime | None = Field(None, description="完成时间")

    @staticmethod
    def resolve_mode_label(obj) -> str:
        return str(obj.get_mode_display())

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_progress(obj) -> dict[str, Any]:
        progress = imports.read_progress(obj)
        return {"phase": progress.get("phase", ""), "done": progress.get("done", 0), "total": progress.get("total", 0)}

    @staticmethod
    def resolve_can_commit(obj) -> bool:
        if obj.status != ImportJob.Status.VALIDATED or not obj.good_rows:
            return False
        return obj.mode == ImportJob.Mode.GOOD_ONLY or not obj.bad_rows


class ImportErrorOut(Schema):
    row: int = Field(description="行号（与 Excel 中显示的一致）")
    column: str = Field(description="出错的列（表头）；与某一列无关时为空")
    message: str = Field(description="中文说明")


# --- exports ------------------------------------------------------------------------------------


class ExportIn(InSchema):
    reveal: bool = Field(False, description="导出明文：需要查看明文的权限，且只导出有权查看明文的记录")
    reason: str = Field("", max_length=500, description="导出明文的事由（reveal=true 时必填，记入审计日志）")


def _export(request: Any, *, register: str, filters: dict[str, Any], payload: Any) -> Any:
    """Queue the export job (core.exports): masked unless asked and allowed (the reveal permission
    and a reason, checked now); audited when the file is written. 202 with the job."""
    job = exports.export_request(actor=request.auth, register=register, filters=filters, reveal=payload.reveal,
                                 reason=payload.reason, audit_filters=_filters_for_audit(payload))
    return Status(202, job)


class ResidentExportIn(ResidentFilters, ExportIn):
    """The residents list's filters and the clear-values choice."""


class BusinessExportIn(BusinessFilters, ExportIn):
    """The businesses list's filters and the clear-values choice."""


EXPORT_RESPONSES: dict[int, Any] = {202: ExportJobOut, **WRITE_ERRORS, 429: ErrorOut}


def _filters_for_audit(filters: Schema) -> dict[str, Any]:
    data = {k: v for k, v in filters.model_dump(mode="json", exclude={"reveal", "reason"}).items()
            if v not in (None, "")}
    if "q" in data:
        data["q"] = _masked_query(data["q"])
    return data


# --- endpoints: residents -----------------------------------------------------------------------

router = Router()


def _resident_args(request: Any, filters: ResidentFilters) -> dict[str, Any]:
    """The list's filters as selector arguments (the node and group checked: 404 if not visible)."""
    return {
        "text": filters.q,
        "node": _node(request, filters.node),
        "group": _group(filters.group).code if filters.group else "",
        "is_floating": filters.floating,
        "gender": filters.gender or "",
        "active": ACTIVE_FILTER[filters.active],
    }


def _residents(request: Any, filters: ResidentFilters) -> Any:
    return selectors.resident_list(request.auth, **_resident_args(request, filters))


@router.get("/residents", response={200: list[ResidentOut], **READ_ERRORS}, summary="居民列表", tags=T_RESIDENTS)
@paginated
def resident_list(request, filters: Query[ResidentFilters]):
    """身份证号、电话只返回脱敏值。网格员只看到本网格的居民。"""
    return _residents(request, filters)


@router.post("/residents/exports", response=EXPORT_RESPONSES, summary="导出居民（后台作业）", tags=T_RESIDENTS)
def resident_export(request, payload: ResidentExportIn):
    """请求体中的筛选条件与居民列表的查询参数相同。导出在后台进行：返回 202 和导出作业，
    用 GET /api/v1/exports/{id} 查询进度，完成后从 download_url 下载（只有本人可以下载，文件保留 24 小时）。
    默认导出脱敏值；每次导出和下载都记入审计日志。本人未完成的导出最多 3 个，超出时 429。"""
    return _export(request, register="people.resident", filters=_resident_args(request, payload), payload=payload)


# 429: after too many refused duplicate ID numbers, writing one is paused (services.ID_CLASH_LIMIT).
@router.post("/residents", response={201: ResidentDetailOut, 429: ErrorOut, **WRITE_ERRORS}, summary="登记居民",
             tags=T_RESIDENTS)
def resident_create(request, payload: ResidentCreateIn):
    data = payload.model_dump()
    data["node"] = _node(request, data["node"])
    data["household"] = ref_or_404(selectors.household_get, request.auth, data["household"], "household")
    resident = services.resident_create(actor=request.auth, **data)
    return Status(201, selectors.resident_get(request.auth, resident.pk))


@router.post("/residents/lookup", response={200: LookupOut, 429: ErrorOut, **WRITE_ERRORS},
             summary="按完整身份证号或电话查找居民", tags=T_RESIDENTS)
def resident_lookup(request, response: HttpResponse, payload: LookupIn):
    """需要“按号码查找居民”的权限（社区书记、系统管理员）和事由；每次查找都记入审计日志（查找人、
    脱敏号码、找到几人、事由），并按用户限制频率（超出时 429）。居民列表的 q 不匹配身份证号和电话。"""
    found = services.resident_lookup(actor=request.auth, kind=payload.kind, value=payload.value, reason=payload.reason)
    response["Cache-Control"] = "no-store"
    return {"found": len(found), "residents": found}


@router.get("/residents/{resident_id}", response={200: ResidentDetailOut, **READ_ERRORS}, summary="居民详情",
            tags=T_RESIDENTS)
def resident_detail(request, resident_id: int = id_path("居民编号")):
    return selectors.resident_get(request.auth, resident_id)


@router.patch("/residents/{resident_id}", response={200: ResidentDetailOut, 429: ErrorOut, **WRITE_ERRORS}, summary="修改居民",
              tags=T_RESIDENTS)
def resident_update(request, payload: ResidentUpdateIn, resident_id: int = id_path("居民编号")):
    resident = selectors.resident_get(request.auth, resident_id)
    changes = payload.changes()
    if "node" in changes:
        changes["node"] = _node(request, changes["node"])
    if "household" in changes:
        changes["household"] = ref_or_404(selectors.household_get, request.auth, changes["household"], "household")
    services.resident_update(actor=request.auth, resident=resident, **changes)
    return selectors.resident_get(request.auth, resident_id)


@router.post("/residents/{resident_id}/reveal", response={200: RevealOut, **WRITE_ERRORS},
             summary="查看身份证号或电话明文", tags=T_RESIDENTS)
def resident_reveal(request, response: HttpResponse, payload: RevealIn, resident_id: int = id_path("居民编号")):
    """需要查看明文的权限（社区书记、系统管理员）和事由；每次查看都记入审计日志。"""
    resident = selectors.resident_get(request.auth, resident_id)
    value = services.resident_reveal(actor=request.auth, resident=resident, field=payload.field, reason=payload.reason)
    response["Cache-Control"] = "no-store"
    return {"field": payload.field, "value": value}


@router.get("/residents/{resident_id}/history", response={200: list[HistoryOut], **READ_ERRORS},
            summary="居民的变更与查看记录", tags=T_RESIDENTS)
@paginated
def resident_history(request, resident_id: int = id_path("居民编号")):
    """该居民的审计事件（新建、修改、导入、查看明文、特殊人群标签），最新的在前。只含脱敏值。"""
    return selectors.resident_history(selectors.resident_get(request.auth, resident_id))


@router.post("/residents/{resident_id}/tags", response={201: TagOut, **WRITE_ERRORS}, summary="加入特殊人群",
             tags=T_RESIDENTS)
def resident_tag(request, payload: TagIn, resident_id: int = id_path("居民编号")):
    """已在该类别中时更新认定日期、附加信息等。"""
    resident = selectors.resident_get(request.auth, resident_id)
    data = payload.model_dump()
    data["group"] = _group(data["group"], required=True)
    return Status(201, services.resident_tag(actor=request.auth, resident=resident, **data))


@router.delete("/residents/{resident_id}/tags/{tag_id}", response={204: None, **WRITE_ERRORS}, summary="移出特殊人群",
               tags=T_RESIDENTS)
def resident_untag(request, resident_id: int = id_path("居民编号"), tag_id: int = id_path("标签编号")):
    resident = selectors.resident_get(request.auth, resident_id)
    services.resident_untag(actor=request.auth, tag=selectors.resident_tag_get(request.auth, resident, tag_id))
    return Status(204, None)


# --- endpoints: households ----------------------------------------------------------------------


@router.get("/households", response={200: list[HouseholdOut], **READ_ERRORS}, summary="住户列表", tags=T_HOUSEHOLDS)
@paginated
def household_list(
    request,
    q: str = Query("", max_length=100, description="户号或住址包含"),
    node: int | None = Query(None, ge=1, le=MAX_ID, description="只列出该节点及其下级的住户"),
):
    return selectors.household_list(request.auth, text=q, node=_node(request, node))


@router.post("/households", response={201: HouseholdDetailOut, **WRITE_ERRORS}, summary="新建住户", tags=T_HOUSEHOLDS)
def household_create(request, payload: HouseholdCreateIn):
    data = payload.model_dump()
    data["node"] = _node(request, data["node"])
    household = services.household_create(actor=request.auth, **data)
    return Status(201, selectors.household_get(request.auth, household.pk))


@router.get("/households/{household_id}", response={200: HouseholdDetailOut, **READ_ERRORS}, summary="住户详情",
            tags=T_HOUSEHOLDS)
def household_detail(request, household_id: int = id_path("户编号")):
    return selectors.household_get(request.auth, household_id)


@router.post("/households/{household_id}/head", response={200: HouseholdDetailOut, **WRITE_ERRORS},
             summary="设置户主", tags=T_HOUSEHOLDS)
def household_set_head(request, payload: HouseholdHeadIn, household_id: int = id_path("户编号")):
    household = selectors.household_get(request.auth, household_id)
    head = ref_or_404(selectors.resident_get, request.auth, payload.head, "head")
    services.household_set_head(actor=request.auth, household=household, head=head)
    return selectors.household_get(request.auth, household_id)


# --- endpoints: special groups ------------------------------------------------------------------


@router.get("/special-groups", response={200: list[SpecialGroupOut], 403: ErrorOut, **READ_ERRORS},
            summary="特殊人群类别", tags=T_GROUPS)
@paginated
def special_group_list(request):
    """启用的类别，按排序。能查看居民的用户都可以读取。"""
    if not scope.has_perm_anywhere(request.auth, Perm.VIEW_PEOPLE):
        raise PermissionError_()
    return selectors.special_groups()


@router.post("/special-groups", response={201: SpecialGroupOut, **WRITE_ERRORS}, summary="新建特殊人群类别",
             tags=T_GROUPS)
def special_group_create(request, payload: SpecialGroupIn):
    """系统管理员。"""
    data = payload.model_dump()
    return Status(201, services.special_group_create(actor=request.auth, **data))


class SpecialGroupIntervalIn(InSchema):
    visit_interval_days: int | None = Field(description="走访周期（天，1–3650）；null 表示不需要走访")


@router.put("/special-groups/{code}/visit-interval", response={200: SpecialGroupOut, **WRITE_ERRORS},
            summary="修改特殊人群类别的走访周期", tags=T_GROUPS)
def special_group_interval(request, payload: SpecialGroupIntervalIn, code: str):
    """系统管理员。走访计划（/welfare/visits/due）立即按新周期计算。"""
    group = ref_or_404(lambda _actor, key: selectors.special_group_by_code(key), None, code, "code")
    return services.special_group_set_interval(actor=request.auth, group=group,
                                               visit_interval_days=payload.visit_interval_days)


# --- endpoints: businesses ----------------------------------------------------------------------


def _business_args(request: Any, filters: BusinessFilters) -> dict[str, Any]:
    return {"text": filters.q, "node": _node(request, filters.node), "risk_colour": filters.risk_colour or "",
            "industry": filters.industry}


def _businesses(request: Any, filters: BusinessFilters) -> Any:
    return selectors.business_list(request.auth, **_business_args(request, filters))


@router.get("/businesses", response={200: list[BusinessOut], **READ_ERRORS}, summary="工商业主体列表",
            tags=T_BUSINESSES)
@paginated
def business_list(request, filters: Query[BusinessFilters]):
    return _businesses(request, filters)


@router.post("/businesses/exports", response=EXPORT_RESPONSES, summary="导出工商业主体（后台作业）",
             tags=T_BUSINESSES)
def business_export(request, payload: BusinessExportIn):
    """请求体中的筛选条件与工商业主体列表的查询参数相同；reveal=true 导出电话明文（需要查看明文的权限和事由）。流程同居民导出。"""
    return _export(request, register="people.business", filters=_business_args(request, payload), payload=payload)


@router.post("/businesses", response={201: BusinessDetailOut, **WRITE_ERRORS}, summary="登记工商业主体",
             tags=T_BUSINESSES)
def business_create(request, payload: BusinessCreateIn):
    data = payload.model_dump()
    data["node"] = _node(request, data["node"])
    data["size"] = data["size"] or ""
    business = services.business_create(actor=request.auth, **data)
    return Status(201, selectors.business_get(request.auth, business.pk))


@router.get("/businesses/{business_id}", response={200: BusinessDetailOut, **READ_ERRORS}, summary="工商业主体详情",
            tags=T_BUSINESSES)
def business_detail(request, business_id: int = id_path("主体编号")):
    return selectors.business_get(request.auth, business_id)


@router.patch("/businesses/{business_id}", response={200: BusinessDetailOut, **WRITE_ERRORS},
              summary="修改工商业主体", tags=T_BUSINESSES)
def business_update(request, payload: BusinessUpdateIn, business_id: int = id_path("主体编号")):
    business = selectors.business_get(request.auth, business_id)
    changes = payload.changes()
    if "node" in changes:
        changes["node"] = _node(request, changes["node"])
    if "size" in changes:
        changes["size"] = changes["size"] or ""
    services.business_update(actor=request.auth, business=business, **changes)
    return selectors.business_get(request.auth, business_id)


# --- endpoints: imports -------------------------------------------------------------------------

@router.get("/imports/templates/{register}", response=FILE_ERRORS, openapi_extra=XLSX_DOC, summary="下载导入模板",
            tags=T_IMPORTS)
def import_template(
    request, register_key: ImportRegister = Path(..., alias="register", description="residents 或 businesses")
):
    """中文表头（必填列带 *）、一行示例和填写说明。"""
    spec = imports.get_spec(register_key)
    return _file(io.BytesIO(imports.template_xlsx(spec)), f"{spec.label}导入模板.xlsx")


@router.get("/imports", response={200: list[ImportJobOut], **READ_ERRORS}, summary="我的导入作业", by_alias=True, tags=T_IMPORTS)
@paginated
def import_list(request):
    return selectors.import_jobs(request.auth)


@router.post("/imports", response={201: ImportJobOut, 413: ErrorOut, 429: ErrorOut, **WRITE_ERRORS}, summary="上传并校验导入文件", by_alias=True,
             tags=T_IMPORTS)
def import_upload(
    request,
    register_key: ImportRegister = Form(..., alias="register", description="登记簿：residents 居民、businesses 工商业主体"),
    mode: ImportJob.Mode = Form(ImportJob.Mode.ALL_OR_NOTHING, description="导入方式"),
    file: UploadedFile = File(..., description=".xlsx 或 .csv（UTF-8 或 GBK）文件，单个不超过 200 MB"),
):
    """multipart/form-data 上传。校验在后台进行（不写入任何数据）：轮询 GET /imports/{id} 看进度，
    GET /imports/{id}/errors 看每一个错误行和列，确认后 POST /imports/{id}/commit 提交。
    上传居民需要导入权限，上传工商业主体需要主体管理权限；每一行还要在上传人的管辖范围内。"""
    if not scope.has_perm_anywhere(request.auth, exporting.IMPORT_PERMISSIONS[register_key]):
        raise PermissionError_()
    job = imports.import_upload(actor=request.auth, register_key=register_key, uploaded=file, mode=mode)
    tasks.submit_isolated("jiedao.core.imports.import_validate_by_id", job.pk,
                          on_crash="jiedao.core.imports.import_validate_crashed")
    job.refresh_from_db()
    return Status(201, job)


def _job(request: Any, job_id: int) -> ImportJob:
    """The caller's own import job, with a job whose process died marked as interrupted."""
    job = selectors.import_job_get(request.auth, job_id)
    if imports.is_stale(job):
        job = imports.import_mark_interrupted(job)
    return job


@router.get("/imports/{job_id}", response={200: ImportJobOut, **READ_ERRORS}, summary="导入作业状态与进度", by_alias=True,
            tags=T_IMPORTS)
def import_detail(request, job_id: int = id_path("导入作业编号")):
    """只有上传人（和超级管理员）能看到自己的作业。"""
    return _job(request, job_id)


@router.get("/imports/{job_id}/errors", response={200: list[ImportErrorOut], **READ_ERRORS},
            summary="导入文件的错误行", tags=T_IMPORTS)
@paginated
def import_errors(request, job_id: int = id_path("导入作业编号")):
    return exporting.ImportErrorLines(_job(request, job_id))


@router.get("/imports/{job_id}/bad-rows", response=FILE_ERRORS, openapi_extra=XLSX_DOC, summary="下载错误行（xlsx）",
            tags=T_IMPORTS)
def import_bad_rows(request, job_id: int = id_path("导入作业编号")):
    """未导入的行，保持文件中的原样，每行附错误原因，改正后可以直接重新上传。"""
    job = _job(request, job_id)
    if job.status not in (ImportJob.Status.VALIDATED, ImportJob.Status.COMMITTED):
        raise ConflictError(
            _("该导入作业还没有校验结果（状态：%(status)s）。") % {"status": job.get_status_display()}, field="status"
        )
    try:
        data = imports.bad_rows_xlsx(job, actor=request.auth)
    except (OSError, TabularError, filevault.VaultError):
        raise ConflictError(_("原上传文件已无法读取，请重新上传。"), field="file") from None
    return _file(io.BytesIO(data), f"{job.pk}-错误行.xlsx")


@router.post("/imports/{job_id}/commit", response={202: ImportJobOut, 429: ErrorOut, **WRITE_ERRORS}, summary="提交导入", by_alias=True,
             tags=T_IMPORTS)
def import_commit(request, job_id: int = id_path("导入作业编号")):
    """在一个事务中写入：“全部成功才导入”方式下有错误行就不能提交；“只导入正确的行”方式跳过错误行。
    导入在后台进行，轮询 GET /imports/{id} 看结果。"""
    job = _job(request, job_id)
    if job.status != ImportJob.Status.VALIDATED:
        raise ConflictError(
            _("该导入作业当前不能提交（状态：%(status)s）。") % {"status": job.get_status_display()}, field="status"
        )
    if job.mode == ImportJob.Mode.ALL_OR_NOTHING and job.bad_rows:
        raise DomainError(
            _(
                "文件中有 %(count)s 行错误，“全部成功才导入”方式下不能提交：请改正后重新上传，"
                "或改用“只导入正确的行”方式上传。"
            )
            % {"count": job.bad_rows},
            field="mode",
        )
    imports.import_check(actor=request.auth, register_key=job.register)
    tasks.submit("jiedao.core.imports.import_commit_by_id", job.pk, request.auth.pk)
    job.refresh_from_db()
    return Status(202, job)


@router.post("/imports/{job_id}/cancel", response={200: ImportJobOut, **WRITE_ERRORS}, summary="取消导入",
             by_alias=True, tags=T_IMPORTS)
def import_cancel(request, job_id: int = id_path("导入作业编号")):
    """取消一个等待中（已上传或已校验）的导入作业：上传的文件和校验结果立即删除。正在校验或导入的作业不能取消。"""
    job = _job(request, job_id)
    try:
        return imports.import_cancel(actor=request.auth, job=job)
    except DomainError as exc:
        raise ConflictError(exc.message, field="status") from None
