"""REST endpoints of the org tree, departments, users and roles (mounted under /api/v1).

Reads go through jiedao.org.selectors (scoped by jiedao.core.scope), writes through
jiedao.org.services. A referenced object that is missing or out of scope answers 404 naming
the field that referenced it; a visible object the caller may not change answers 403.
"""


from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema
from ninja.responses import Status
from pydantic import field_validator
from pydantic_core import PydanticCustomError

from jiedao.core.api import (
    MAX_ID,
    READ_ERRORS,
    WRITE_ERRORS,
    AssignmentOut,
    InSchema,
    NotFound,
    paginated,
)
from jiedao.core.permissions import Role
from jiedao.org import selectors, services
from jiedao.org.models import DepartmentKind, NodeKind

ObjId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _ref(getter, actor: Any, pk: int | None, field: str) -> Any:
    """Resolve an id sent by the client through a scoped selector; 404 names the field."""
    if pk is None:
        return None
    try:
        return getter(actor, pk)
    except Http404:
        raise NotFound(field) from None


def _id_path(description: str) -> Any:
    return Path(..., ge=1, le=MAX_ID, description=description)


class PatchSchema(InSchema):
    """Partial update: only the fields sent are changed.

    Fields default to None without being validated, so "not sent" is told apart from a value;
    a field typed `str`/`bool`/`int` still refuses an explicit null (422), while fields typed
    `X | None` accept null to clear the value.
    """

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


# --- schemas: nodes ---------------------------------------------------------------------------


class NodeOut(Schema):
    id: int = Field(description="节点编号")
    parent_id: int | None = Field(None, description="上级节点编号；顶级节点为 null")
    kind: str = Field(description="类型代码：city/district/subdistrict/community/village/grid/microgrid/building")
    kind_label: str = Field(description="类型名称，如“网格”")
    name: str = Field(description="名称")
    code: str = Field(description="编码（区划代码 / 网格编码，可为空）")
    path: str = Field(description="物化路径（每级 4 位数字）")
    depth: int = Field(description="层级（顶级为 1）")
    address: str = Field(description="地址")
    floors: int | None = Field(None, description="层数（仅楼栋）")
    units: int | None = Field(None, description="单元数（仅楼栋）")
    is_active: bool = Field(description="是否启用")
    has_boundary: bool = Field(description="是否已绘制边界（边界本身只在详情中返回）")

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_has_boundary(obj) -> bool:
        flagged = getattr(obj, "has_boundary", None)  # annotated by selectors.node_list
        return bool(flagged) if flagged is not None else obj.boundary is not None


class ChildNodeOut(NodeOut):
    child_count: int = Field(description="直接下级节点数")


class NodeDetailOut(NodeOut):
    subdistrict_id: int | None = Field(None, description="所属街道编号")
    sort_order: int = Field(description="排序")
    boundary: dict | None = Field(None, description="边界（GeoJSON Polygon / MultiPolygon，WGS-84）")
    counts: dict[str, int] = Field(description="下级各类型节点数（启用的）")
    created_at: datetime = Field(description="创建时间")
    updated_at: datetime = Field(description="更新时间")

    @staticmethod
    def resolve_counts(obj) -> dict[str, int]:
        return selectors.subtree_counts(obj)


class NodeCreateIn(InSchema):
    parent: ObjId | None = Field(None, description="上级节点编号；为空表示顶级节点（仅超级管理员）")
    kind: NodeKind = Field(description="节点类型")
    name: str = Field(description="名称，同一上级下不能重名")
    code: str = Field("", description="编码：街道 9/12 位、社区/村 12 位、网格 15 位、微网格 18 位数字")
    boundary: dict | None = Field(None, description="边界（GeoJSON Polygon / MultiPolygon）")
    address: str = Field("", description="地址")
    floors: int | None = Field(None, description="层数（仅楼栋，1–300）")
    units: int | None = Field(None, description="单元数（仅楼栋，1–300）")
    sort_order: int | None = Field(None, ge=0, le=2**31 - 1, description="排序；默认按创建顺序")


class NodeUpdateIn(PatchSchema):
    name: str = Field(None, description="名称")
    code: str | None = Field(None, description="编码；空字符串或 null 表示清除")
    boundary: dict | None = Field(None, description="边界（GeoJSON）；null 表示清除")
    address: str = Field(None, description="地址")
    floors: int | None = Field(None, description="层数（仅楼栋）")
    units: int | None = Field(None, description="单元数（仅楼栋）")
    sort_order: int = Field(None, ge=0, le=2**31 - 1, description="排序")
    is_active: bool = Field(None, description="是否启用")


class PersonOut(Schema):
    """A person responsible for a node: one role assignment bound to it."""

    assignment_id: int = Field(validation_alias="id", description="角色分配编号")
    role: str = Field(description="角色代码")
    role_label: str = Field(description="角色名称")
    user_id: int = Field(description="用户编号")
    username: str = Field(description="用户名")
    full_name: str = Field(description="姓名")
    phone: str = Field(description="联系电话")
    department_id: int | None = Field(None, description="部门编号")
    department_name: str | None = Field(None, description="部门名称")

    @staticmethod
    def resolve_role_label(obj) -> str:
        return str(obj.get_role_display())

    @staticmethod
    def resolve_username(obj) -> str:
        return obj.user.username

    @staticmethod
    def resolve_full_name(obj) -> str:
        return obj.user.full_name

    @staticmethod
    def resolve_phone(obj) -> str:
        return obj.user.phone

    @staticmethod
    def resolve_department_name(obj) -> str | None:
        return obj.department.name if obj.department_id else None


# --- schemas: departments ---------------------------------------------------------------------


class DepartmentOut(Schema):
    id: int = Field(description="部门编号")
    subdistrict_id: int = Field(description="所属街道编号")
    subdistrict_name: str = Field(description="所属街道名称")
    name: str = Field(description="名称")
    kind: str = Field(description="类型代码：office/joint_team/station")
    kind_label: str = Field(description="类型名称")
    duties: str = Field(description="职责")
    is_active: bool = Field(description="是否启用")

    @staticmethod
    def resolve_subdistrict_name(obj) -> str:
        return obj.subdistrict.name

    @staticmethod
    def resolve_kind_label(obj) -> str:
        return str(obj.get_kind_display())


class DepartmentCreateIn(InSchema):
    subdistrict: ObjId = Field(description="所属街道节点编号")
    name: str = Field(description="名称，同一街道内不能重名")
    kind: DepartmentKind = Field(DepartmentKind.OFFICE, description="类型")
    duties: str = Field("", description="职责")


# --- schemas: users ---------------------------------------------------------------------------


class EmailCheck(Schema):
    """Services store the e-mail as given: check its format here (Django's validator)."""

    @field_validator("email", mode="after", check_fields=False)
    @classmethod
    def _check_email(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            try:
                validate_email(value.strip())
            except DjangoValidationError:
                raise PydanticCustomError("email", _("电子邮箱格式不正确")) from None
        return value


class UserOut(Schema):
    id: int = Field(description="用户编号")
    username: str = Field(description="用户名")
    full_name: str = Field(description="姓名")
    phone: str = Field(description="联系电话")
    email: str = Field(description="电子邮箱")
    home_node_id: int | None = Field(None, description="所属组织节点编号")
    home_node_name: str | None = Field(None, description="所属组织节点名称")
    is_active: bool = Field(description="是否启用")
    last_login: datetime | None = Field(None, description="最近登录时间")

    @staticmethod
    def resolve_home_node_name(obj) -> str | None:
        return obj.home_node.name if obj.home_node_id else None


class UserDetailOut(UserOut):
    assignments: list[AssignmentOut] = Field(description="角色分配（只列出调用者可见节点上的）")

    @staticmethod
    def resolve_assignments(obj, context) -> list[Any]:
        return list(selectors.user_assignments_visible(context["request"].auth, obj))


class UserCreateIn(EmailCheck, InSchema):
    username: str = Field(description="用户名：3–150 位字母、数字、下划线、点或连字符")
    full_name: str = Field(description="姓名")
    home_node: ObjId = Field(description="所属组织节点编号")
    password: str = Field(description="初始密码（至少 8 位，不能太简单）")
    phone: str = Field("", description="联系电话")
    email: str = Field("", max_length=254, description="电子邮箱")



class UserUpdateIn(EmailCheck, PatchSchema):
    full_name: str = Field(None, description="姓名")
    phone: str = Field(None, description="联系电话；空字符串表示清除")
    email: str = Field(None, max_length=254, description="电子邮箱；空字符串表示清除")
    home_node: ObjId = Field(None, description="所属组织节点编号")
    is_active: bool = Field(None, description="是否启用")



class RoleAssignIn(InSchema):
    role: Role = Field(description="角色")
    node: ObjId = Field(description="绑定的组织节点编号")
    department: ObjId | None = Field(None, description="部门编号（科室办理人员必填）")


# --- endpoints: org tree and departments --------------------------------------------------------

org_router = Router(tags=["组织架构"])


@org_router.get("/nodes", response={200: list[NodeOut], **READ_ERRORS}, summary="组织节点列表")
@paginated
def node_list(
    request,
    parent: int | None = Query(None, ge=1, le=MAX_ID, description="只列出该节点的直接下级"),
    subtree_of: int | None = Query(None, ge=1, le=MAX_ID, description="只列出该节点及其全部下级"),
    kind: NodeKind | None = Query(None, description="节点类型"),
    q: str = Query("", max_length=100, description="名称包含或编码开头"),
):
    return selectors.node_list(
        request.auth,
        parent=_ref(selectors.node_get, request.auth, parent, "parent"),
        subtree_of=_ref(selectors.node_get, request.auth, subtree_of, "subtree_of"),
        kind=kind or "",
        text=q,
    )


@org_router.post("/nodes", response={201: NodeDetailOut, **WRITE_ERRORS}, summary="新建组织节点")
def node_create(request, payload: NodeCreateIn):
    """需要上级节点的组织管理权限（系统管理员）；顶级节点只有超级管理员可以创建。"""
    data = payload.model_dump()
    data["parent"] = _ref(selectors.node_get, request.auth, data["parent"], "parent")
    node = services.node_create(actor=request.auth, **data)
    return Status(201, node)


@org_router.get("/nodes/{node_id}", response={200: NodeDetailOut, **READ_ERRORS}, summary="组织节点详情")
def node_detail(request, node_id: int = _id_path("节点编号")):
    return selectors.node_get(request.auth, node_id)


@org_router.patch("/nodes/{node_id}", response={200: NodeDetailOut, **WRITE_ERRORS}, summary="修改组织节点")
def node_update(request, payload: NodeUpdateIn, node_id: int = _id_path("节点编号")):
    node = selectors.node_get(request.auth, node_id)
    return services.node_update(actor=request.auth, node=node, **payload.changes())


@org_router.get(
    "/nodes/{node_id}/children", response={200: list[ChildNodeOut], **READ_ERRORS}, summary="直接下级节点"
)
@paginated
def node_children(request, node_id: int = _id_path("节点编号")):
    return selectors.node_children(request.auth, selectors.node_get(request.auth, node_id))


@org_router.get(
    "/nodes/{node_id}/people", response={200: list[PersonOut], **READ_ERRORS}, summary="节点的责任人员"
)
@paginated
def node_people(request, node_id: int = _id_path("节点编号")):
    return selectors.node_people(selectors.node_get(request.auth, node_id))


@org_router.get("/departments", response={200: list[DepartmentOut], **READ_ERRORS}, summary="部门列表")
@paginated
def department_list(request):
    return selectors.departments_visible(request.auth)


@org_router.post("/departments", response={201: DepartmentOut, **WRITE_ERRORS}, summary="新建部门")
def department_create(request, payload: DepartmentCreateIn):
    data = payload.model_dump()
    data["subdistrict"] = _ref(selectors.node_get, request.auth, data["subdistrict"], "subdistrict")
    return Status(201, services.department_create(actor=request.auth, **data))


# --- endpoints: users and roles -----------------------------------------------------------------

users_router = Router(tags=["用户与角色"])


@users_router.get("", response={200: list[UserOut], **READ_ERRORS}, summary="用户列表")
@paginated
def user_list(
    request,
    q: str = Query("", max_length=100, description="用户名或姓名包含"),
    role: Role | None = Query(None, description="持有该角色"),
    node: int | None = Query(None, ge=1, le=MAX_ID, description="所属组织在该节点之下"),
    active: bool | None = Query(None, description="是否启用"),
):
    return selectors.user_list(
        request.auth,
        text=q,
        node=_ref(selectors.node_get, request.auth, node, "node"),
        role=role or "",
        active=active,
    )


@users_router.post("", response={201: UserDetailOut, **WRITE_ERRORS}, summary="新建用户")
def user_create(request, payload: UserCreateIn):
    data = payload.model_dump()
    data["home_node"] = _ref(selectors.node_get, request.auth, data["home_node"], "home_node")
    return Status(201, services.user_create(actor=request.auth, **data))


@users_router.get("/{user_id}", response={200: UserDetailOut, **READ_ERRORS}, summary="用户详情")
def user_detail(request, user_id: int = _id_path("用户编号")):
    return selectors.user_get(request.auth, user_id)


@users_router.patch("/{user_id}", response={200: UserDetailOut, **WRITE_ERRORS}, summary="修改用户")
def user_update(request, payload: UserUpdateIn, user_id: int = _id_path("用户编号")):
    user = selectors.user_get(request.auth, user_id)
    changes = payload.changes()
    if "home_node" in changes:
        changes["home_node"] = _ref(selectors.node_get, request.auth, changes["home_node"], "home_node")
    return services.user_update(actor=request.auth, user=user, **changes)


@users_router.post(
    "/{user_id}/roles", response={201: AssignmentOut, **WRITE_ERRORS}, summary="为用户分配角色"
)
def role_assign(request, payload: RoleAssignIn, user_id: int = _id_path("用户编号")):
    assignment = services.role_assign(
        actor=request.auth,
        user=selectors.user_get(request.auth, user_id),
        role=payload.role,
        node=_ref(selectors.node_get, request.auth, payload.node, "node"),
        department=_ref(selectors.department_get, request.auth, payload.department, "department"),
    )
    return Status(201, assignment)


@users_router.delete(
    "/{user_id}/roles/{assignment_id}", response={204: None, **WRITE_ERRORS}, summary="撤销用户的角色"
)
def role_revoke(request, user_id: int = _id_path("用户编号"), assignment_id: int = _id_path("角色分配编号")):
    user = selectors.user_get(request.auth, user_id)
    assignment = selectors.assignment_get(request.auth, assignment_id)
    if assignment.user_id != user.pk:
        raise NotFound()
    services.role_revoke(actor=request.auth, assignment=assignment)
    return Status(204, None)
