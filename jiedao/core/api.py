"""API plumbing shared by every router: authentication, Chinese JSON errors, pagination,
plus the caller's own account (/me) and personal API tokens (/tokens).

Every error the API answers has the same shape::

    {"detail": "中文说明", "field": "name" | null, "code": "invalid"}

401 unauthenticated, 403 visible but not allowed, 404 missing *or out of scope* (the same body),
400 a business rule refused the input, 409 conflict, 422 the input does not match the schema
(with one entry per field in "errors"), 413 request body too large.
"""


import re
import typing
from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Field, NinjaAPI, Path, Router, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.parser import Parser
from ninja.responses import Status
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth
from ninja.utils import check_csrf
from pydantic import ConfigDict
from pydantic_core import core_schema

from jiedao.core import export_views, exports, services, text
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.core.scope import has_perm_anywhere, user_assignments

NOT_FOUND = gettext_lazy("未找到该对象。")
UNAUTHENTICATED = gettext_lazy("请先登录或提供有效的 API 令牌。")
MAX_ID = 2**63 - 1  # ids beyond a bigint are "not a valid id" (422), never a database overflow
ObjId = Annotated[int, Field(ge=1, le=MAX_ID)]  # an id in a request body or query
PAGE_SIZE = 50
PAGE_SIZE_MAX = 500


# --- errors -----------------------------------------------------------------------------------


class NotFound(Http404):
    """A 404 that names the input that referenced the missing (or out-of-scope) object."""

    def __init__(self, field: str | None = None) -> None:
        super().__init__(NOT_FOUND)
        self.field = field


def id_path(description: str) -> Any:
    """An id in the URL path, refused with 422 outside 1 … MAX_ID."""
    return Path(..., ge=1, le=MAX_ID, description=description)


def ref_or_404(getter: Any, actor: Any, key: Any, field: str) -> Any:
    """Resolve an id (or code) the client sent through a scoped selector `getter(actor, key)`;
    nothing sent is None, a missing or out-of-scope one is a 404 naming the field."""
    if key is None or key == "":
        return None
    try:
        return getter(actor, key)
    except Http404:
        raise NotFound(field) from None


class CsrfFailed(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__(_("CSRF 校验失败：请刷新页面后重试（使用 API 令牌的请求不需要 CSRF）。"), code="csrf_failed")


def error_body(detail: str, field: str | None = None, code: str = "invalid", **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "field": field, "code": code, **extra}


# pydantic error type → message (Chinese source, translated); {name} placeholders are filled from the error's ctx.
_TYPE_MESSAGES: dict[str, Any] = {
    "missing": gettext_lazy("不能为空"),
    "int_type": gettext_lazy("应为整数"),
    "int_parsing": gettext_lazy("应为整数"),
    "int_from_float": gettext_lazy("应为整数"),
    "int_parsing_size": gettext_lazy("数值超出范围"),
    "float_type": gettext_lazy("应为数字"),
    "float_parsing": gettext_lazy("应为数字"),
    "finite_number": gettext_lazy("应为有限的数字"),
    "bool_type": gettext_lazy("应为布尔值（true 或 false）"),
    "bool_parsing": gettext_lazy("应为布尔值（true 或 false）"),
    "string_type": gettext_lazy("应为字符串"),
    "string_unicode": gettext_lazy("应为字符串"),
    "string_too_short": gettext_lazy("至少需要 {min_length} 个字符"),
    "string_too_long": gettext_lazy("不能超过 {max_length} 个字符"),
    "string_pattern_mismatch": gettext_lazy("格式不正确"),
    "too_short": gettext_lazy("至少需要 {min_length} 项"),
    "too_long": gettext_lazy("最多 {max_length} 项"),
    "greater_than": gettext_lazy("应大于 {gt}"),
    "greater_than_equal": gettext_lazy("应不小于 {ge}"),
    "less_than": gettext_lazy("应小于 {lt}"),
    "less_than_equal": gettext_lazy("应不大于 {le}"),
    "enum": gettext_lazy("应为以下之一：{expected}"),
    "literal_error": gettext_lazy("应为以下之一：{expected}"),
    "dict_type": gettext_lazy("应为 JSON 对象"),
    "model_type": gettext_lazy("应为 JSON 对象"),
    "model_attributes_type": gettext_lazy("应为 JSON 对象"),
    "list_type": gettext_lazy("应为数组"),
    "date_type": gettext_lazy("应为日期（YYYY-MM-DD）"),
    "date_parsing": gettext_lazy("应为日期（YYYY-MM-DD）"),
    "date_from_datetime_parsing": gettext_lazy("应为日期（YYYY-MM-DD）"),
    "datetime_type": gettext_lazy("应为日期时间（ISO 8601）"),
    "datetime_parsing": gettext_lazy("应为日期时间（ISO 8601）"),
    "datetime_from_date_parsing": gettext_lazy("应为日期时间（ISO 8601）"),
    "extra_forbidden": gettext_lazy("不是可接受的字段"),
    "json_invalid": gettext_lazy("不是有效的 JSON"),
    "json_type": gettext_lazy("不是有效的 JSON"),
}
_BODY_SOURCES = {"body", "form", "file"}
# Any other type is one of our own PydanticCustomError, whose message is already translated.
_PYDANTIC_TYPES = frozenset(typing.get_args(core_schema.ErrorType))
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _expected(value: str) -> str:
    """pydantic's "'a', 'b' or 'c'" → "a、b、c"."""
    separator = _("、")
    return value.replace("'", "").replace(" or ", separator).replace(", ", separator)


def _field_error(error: dict[str, Any], body_params: set[str]) -> dict[str, Any]:
    loc = [str(part) for part in error.get("loc", ())]
    source, rest = (loc[0], loc[1:]) if loc else ("", [])
    if source in _BODY_SOURCES and rest and rest[0] in body_params:
        rest = rest[1:]  # the view's parameter name ("payload") is not something the client sent
    kind = error.get("type", "")
    ctx = {k: (_expected(str(v)) if k == "expected" else v) for k, v in (error.get("ctx") or {}).items()}
    if kind in _TYPE_MESSAGES:
        try:
            message = str(_TYPE_MESSAGES[kind]).format(**ctx)
        except (KeyError, IndexError):
            message = str(_TYPE_MESSAGES[kind]).split("{")[0].rstrip("：") or _("格式不正确")
    elif kind not in _PYDANTIC_TYPES or _CJK.search(error.get("msg", "")):
        message = error["msg"].removeprefix("Value error, ")  # our own validators speak the user's language
    else:
        message = _("格式不正确")
    if not rest:
        detail = _("请求体缺失，应为 JSON 对象") if kind == "missing" else _("请求体%(problem)s") % {"problem": message}
        return {"field": None, "detail": detail, "type": kind}
    detail = _("字段 %(field)s：%(problem)s") % {"field": ".".join(rest), "problem": message}
    return {"field": rest[0], "detail": detail, "type": kind}


def translate_validation_errors(errors: list[dict[str, Any]], body_params: set[str]) -> dict[str, Any]:
    items = [_field_error(e, body_params) for e in errors]
    detail = _("%(problems)s。") % {"problems": _("；").join(dict.fromkeys(item["detail"] for item in items))}
    first = items[0] if items else {"field": None}
    return error_body(detail, first["field"], "validation_error", errors=items)


def install_error_handlers(api: Any) -> None:
    """Every API error answers JSON in Chinese. No catch-all 500 handler: bugs must surface."""

    def respond(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
        return api.create_response(request, body, status=status)

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        return respond(request, exc.status_code, error_body(exc.message, exc.field, exc.code))

    @api.exception_handler(Http404)
    def not_found(request, exc: Http404):
        # One fixed body whatever the cause, so out of scope looks exactly like missing.
        return respond(request, 404, error_body(str(NOT_FOUND), getattr(exc, "field", None), "not_found"))

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc: AuthenticationError):
        response = respond(request, 401, error_body(str(UNAUTHENTICATED), None, "unauthenticated"))
        response["WWW-Authenticate"] = 'Bearer realm="jiedao"'
        return response

    @api.exception_handler(ValidationError)
    def invalid(request, exc: ValidationError):
        # By convention every endpoint names its JSON body parameter `payload`.
        return respond(request, 422, translate_validation_errors(exc.errors, {"payload"}))

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if isinstance(exc.__cause__, DomainError):
            # the body parser refused a character (TextParser): the refusal names the field
            cause = exc.__cause__
            return respond(request, cause.status_code, error_body(cause.message, cause.field, cause.code))
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
            # ninja wraps the json.loads failure of a malformed body
            return respond(request, 400, error_body(_("请求体不是有效的 JSON，请检查格式。"), None, "malformed_json"))
        messages = {
            400: (_("请求格式不正确。"), "bad_request"),
            403: (_("您没有执行此操作的权限。"), "forbidden"),
            429: (_("请求过于频繁，请稍后再试。"), "throttled"),
        }
        detail, code = messages.get(exc.status_code, (_("请求无法处理。"), f"http_{exc.status_code}"))
        return respond(request, exc.status_code, error_body(detail, None, code))

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc: RequestDataTooBig):
        return respond(request, 413, error_body(_("请求体过大。"), None, "too_large"))


class TextParser(Parser):
    """Request bodies (JSON and form fields) through the text normaliser (jiedao.core.text):
    every string — and every key — with a refused character is a 400 naming the field (a lone
    surrogate "\\ud800" included), the others are normalised before any schema sees them."""

    def parse_body(self, request: HttpRequest) -> Any:
        return text.clean_value(super().parse_body(request), field="")

    def parse_querydict(self, data: Any, list_fields: list[str], request: HttpRequest) -> dict[str, Any]:
        parsed = super().parse_querydict(data, list_fields, request)
        return {key: text.clean_value(value, field=key) for key, value in parsed.items()}


class ErrorOut(Schema):
    detail: str = Field(description="中文错误说明")
    field: str | None = Field(None, description="出错的输入字段；与字段无关时为 null")
    code: str = Field(description="机器可读的错误代码，如 invalid、forbidden、not_found、conflict")


class FieldErrorOut(Schema):
    field: str | None = Field(None, description="出错的字段")
    detail: str = Field(description="中文说明")
    type: str = Field(description="校验错误类型")


class ValidationErrorOut(ErrorOut):
    errors: list[FieldErrorOut] = Field(description="逐个字段的校验错误")


READ_ERRORS: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


class BoundaryAPI(NinjaAPI):
    """The /api/v1 root: every operation can answer 400 from the text boundary (a control
    character or lone surrogate in the path or any query parameter is refused before the
    endpoint runs, jiedao.core.middleware.TextBoundaryMiddleware), so the schema says so for each."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        refused = {"description": "文本含有不允许的字符（code 为 invalid_character，field 指出参数）",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                if 400 not in responses and "400" not in responses:
                    responses[400] = refused
        return schema
# 403 covers the CSRF check of a session on any unsafe method; 413 a body over Django's limit
# (the `too_big` handler), which any request with a body can meet.
WRITE_ERRORS: dict[int, Any] = {
    400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 413: ErrorOut, 422: ValidationErrorOut,
}


class InSchema(Schema):
    """Base for request bodies: unknown fields are refused (a typo must not be silently ignored);
    enum fields arrive in services as their plain string values."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)


# --- authentication ---------------------------------------------------------------------------


class TokenAuth(HttpBearer):
    """`Authorization: Bearer jd_…` — a personal API token (see jiedao.core.services)."""

    def __call__(self, request: HttpRequest) -> Any:
        # Parsed here rather than by ninja, which logs unexpected header values (secrets) in DEBUG.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = services.token_authenticate(token.strip())
        if user is None:
            # A bearer token was offered and is wrong: refuse rather than fall back to the session.
            raise AuthenticationError()
        request.user = user
        request.jiedao_auth_method = "token"
        return user


class SessionAuth(NinjaSessionAuth):
    """The Django session (browsable docs, the staff UI's own scripts).

    CSRF is enforced on unsafe methods, but only when a session actually authenticates the
    request: a request without a session is simply unauthenticated (401), not a CSRF failure.
    """

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed()
        request.jiedao_auth_method = "session"
        return user


# --- pagination -------------------------------------------------------------------------------


class Pagination(LimitOffsetPagination):
    """limit/offset paging; answers {"count": total, "items": [...]}."""

    class Input(Schema):
        limit: int = Field(PAGE_SIZE, ge=1, le=PAGE_SIZE_MAX, description="每页条数，默认 50，最多 500")
        offset: int = Field(0, ge=0, le=10**9, description="跳过前面多少条")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=PAGE_SIZE_MAX, **kwargs)


def paginated(func):
    return paginate(Pagination)(func)


# --- schemas ----------------------------------------------------------------------------------


class AssignmentOut(Schema):
    """A role bound to an org node (and, for department handlers, to a department)."""

    id: int = Field(description="角色分配编号")
    role: str = Field(description="角色代码")
    role_label: str = Field(description="角色名称")
    node_id: int = Field(description="绑定的组织节点编号")
    node_name: str = Field(description="组织节点名称")
    node_kind: str = Field(description="组织节点类型")
    node_path: str = Field(description="组织节点路径")
    department_id: int | None = Field(None, description="部门编号（仅科室办理人员）")
    department_name: str | None = Field(None, description="部门名称")
    created_at: datetime = Field(description="分配时间")

    @staticmethod
    def resolve_role_label(obj) -> str:
        return str(obj.get_role_display())

    @staticmethod
    def resolve_node_name(obj) -> str:
        return obj.node.name

    @staticmethod
    def resolve_node_kind(obj) -> str:
        return obj.node.kind

    @staticmethod
    def resolve_node_path(obj) -> str:
        return obj.node.path

    @staticmethod
    def resolve_department_name(obj) -> str | None:
        return obj.department.name if obj.department_id else None


class MeOut(Schema):
    id: int = Field(description="用户编号")
    username: str = Field(description="用户名")
    full_name: str = Field(description="姓名")
    email: str = Field(description="电子邮箱")
    phone: str = Field(description="联系电话")
    home_node_id: int | None = Field(None, description="所属组织节点编号")
    is_superuser: bool = Field(description="是否超级管理员")
    auth_method: str = Field(description="本次请求的认证方式：token 或 session")
    permissions: list[str] = Field(description="在某个范围内拥有的权限")
    assignments: list[AssignmentOut] = Field(description="角色分配")

    @staticmethod
    def resolve_auth_method(obj, context) -> str:
        return getattr(context["request"], "jiedao_auth_method", "session")

    @staticmethod
    def resolve_permissions(obj) -> list[str]:
        perms = [v for k, v in vars(Perm).items() if k.isupper() and isinstance(v, str)]
        return sorted(p for p in perms if has_perm_anywhere(obj, p))

    @staticmethod
    def resolve_assignments(obj) -> list[Any]:
        return list(user_assignments(obj))


class TokenOut(Schema):
    id: int = Field(description="令牌编号")
    name: str = Field(description="用途")
    prefix: str = Field(description="令牌前缀（用于辨认，不能用来认证）")
    created_at: datetime = Field(description="创建时间")
    expires_at: datetime | None = Field(None, description="过期时间；null 表示永不过期")
    last_used_at: datetime | None = Field(None, description="最近使用时间")
    revoked_at: datetime | None = Field(None, description="吊销时间")
    is_usable: bool = Field(description="当前是否可用（未吊销且未过期）")

    @staticmethod
    def resolve_is_usable(obj) -> bool:
        return obj.revoked_at is None and (obj.expires_at is None or obj.expires_at > timezone.now())


class TokenCreatedOut(TokenOut):
    token: str = Field(description="令牌明文：只在创建时返回这一次，请立即妥善保存")


class TokenIn(InSchema):
    name: str = Field(description="用途，如“数据对接”")
    expires_days: int | None = Field(180, description="有效天数（1–3650），null 表示永不过期")


# --- endpoints --------------------------------------------------------------------------------

router = Router(tags=["账号与令牌"])


@router.get("/me", response={200: MeOut, 401: ErrorOut}, summary="当前用户及其角色")
def me(request):
    return request.auth


@router.get("/tokens", response={200: list[TokenOut], **READ_ERRORS}, summary="我的 API 令牌")
@paginated
def token_list(request):
    return request.auth.api_tokens.order_by("-created_at", "-id")


@router.post("/tokens", response={201: TokenCreatedOut, **WRITE_ERRORS}, summary="创建 API 令牌")
def token_create(request, payload: TokenIn):
    """令牌明文只在本次响应中返回。出于安全考虑，只能在登录会话中创建令牌，不能用令牌再创建令牌。"""
    if getattr(request, "jiedao_auth_method", "") == "token":
        raise PermissionError_(_("只能在登录会话中创建 API 令牌，不能用令牌创建令牌。"))
    token, plaintext = services.token_create(actor=request.auth, name=payload.name, expires_days=payload.expires_days)
    token.token = plaintext
    return Status(201, token)


@router.delete("/tokens/{token_id}", response={204: None, **WRITE_ERRORS}, summary="吊销 API 令牌")
def token_revoke(request, token_id: int = Path(..., ge=1, le=MAX_ID, description="令牌编号")):
    token = request.auth.api_tokens.filter(pk=token_id).first()
    if token is None:
        raise NotFound()
    services.token_revoke(actor=request.auth, token=token)
    return Status(204, None)


# --- export jobs (core.exports): created by each list's POST …/exports, read and downloaded here ----

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportJobOut(Schema):
    id: int
    kind: str = Field(description="导出的列表：people.resident、people.business、people.household、cases")
    title: str = Field(description="列表名称（文件名的开头）")
    status: str = Field(description="queued 排队中、running 导出中、done 已完成、failed 失败、expired 已过期（文件已删除）")
    status_label: str
    reveal: bool = Field(description="是否导出明文")
    total_rows: int = Field(description="要写入的行数（开始导出后才知道）")
    done_rows: int = Field(description="已写入的行数")
    percent: int = Field(description="进度百分比")
    message: str = Field(description="失败或过期的说明")
    created_at: datetime
    finished_at: datetime | None
    download_url: str | None = Field(description="完成后下载文件的地址（只有申请人可以下载）")

    @staticmethod
    def resolve_kind(obj) -> str:
        return obj.register

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_download_url(obj) -> str | None:
        return f"/api/v1/exports/{obj.pk}/download" if obj.status == "done" else None


EXPORT_ACCEPTED_DOC = "已受理：导出在后台进行，用 GET /api/v1/exports/{id} 查询进度，完成后下载。"

export_router = Router(tags=["导出"])


def _export_job(request: HttpRequest, job_id: int) -> Any:
    return exports.export_job_get(request.auth, job_id)


@export_router.get("/exports", response={200: list[ExportJobOut], **READ_ERRORS}, summary="我的导出")
@paginated
def export_list(request):
    """只列出本人申请的导出，最新的在前。"""
    return exports.export_jobs_of(request.auth)


@export_router.get("/exports/{job_id}", response={200: ExportJobOut, **READ_ERRORS}, summary="导出进度")
def export_get(request, job_id: int = Path(..., ge=1, le=MAX_ID, description="导出编号")):
    """别人的导出与不存在的一样返回 404。"""
    return _export_job(request, job_id)


@export_router.get(
    "/exports/{job_id}/download", response={**READ_ERRORS, 400: ErrorOut, 403: ErrorOut}, summary="下载导出文件",
    openapi_extra={"responses": {200: {"description": "xlsx 文件（附件）",
                                       "content": {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}},
)
def export_download(request, job_id: int = Path(..., ge=1, le=MAX_ID, description="导出编号")):
    """只有申请人可以下载，且须仍有导出该列表的权限（明文导出还须仍有查看明文的权限）；每次下载都记入审计日志。
    未完成或文件已删除（过期）时返回 400。"""
    job = _export_job(request, job_id)
    return export_views.attachment_response(job, exports.export_download(actor=request.auth, job=job))
