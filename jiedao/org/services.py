"""Every write to the org tree, departments, users and roles. Each runs in a transaction,
checks scope through jiedao.core.scope and appends an audit event."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.core import audit, caching, scope
from jiedao.core import text as boundary
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.permissions import ROLE_NODE_KINDS, ROLES_NEEDING_DEPARTMENT, Perm, Role
from jiedao.core.scope import PATH_MAX, PATH_SEGMENT
from jiedao.core.validators import validate_geojson_boundary, validate_node_code, validate_phone
from jiedao.org.models import (
    ALLOWED_CHILDREN,
    ROOT_KINDS,
    Department,
    DepartmentKind,
    NodeKind,
    OrgNode,
    RoleAssignment,
    User,
)

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,150}$")
NODE_EDITABLE = ("name", "code", "boundary", "address", "floors", "units", "sort_order", "is_active")


NAME_LABEL = gettext_lazy("名称")


def _clean_name(name: str, *, field: str = "name", label: Any = NAME_LABEL, max_length: int = 64) -> str:
    cleaned = " ".join(boundary.clean(name or "", field=field, label=label).split())
    if not cleaned:
        raise DomainError(_("%(label)s不能为空。") % {"label": label}, field=field)
    if len(cleaned) > max_length:
        raise DomainError(_("%(label)s不能超过 %(limit)s 个字。") % {"label": label, "limit": max_length}, field=field)
    return cleaned


def _next_child_path(parent: OrgNode | None) -> str:
    siblings = OrgNode.objects.filter(parent=parent) if parent else OrgNode.objects.filter(parent__isnull=True)
    last = siblings.aggregate(last=Max("path"))["last"]
    number = int(last[-PATH_SEGMENT:]) + 1 if last else 1
    if number >= 10**PATH_SEGMENT:
        raise DomainError(_("该节点下的下级节点已达上限（9999 个）。"), field="parent")
    path = (parent.path if parent else "") + str(number).zfill(PATH_SEGMENT)
    if len(path) > PATH_MAX:
        raise DomainError(_("组织层级过深。"), field="parent")
    return path


def _check_node_fields(kind: str, parent: OrgNode | None, fields: dict[str, Any], *, instance: OrgNode | None) -> None:
    if "code" in fields:
        fields["code"] = (fields["code"] or "").strip()
        validate_node_code(fields["code"], kind, parent.code if parent else "")
        if fields["code"]:
            clash = OrgNode.objects.filter(code=fields["code"])
            if instance is not None:
                clash = clash.exclude(pk=instance.pk)
            if clash.exists():
                raise ConflictError(_("编码“%(code)s”已被其他节点使用。") % {"code": fields["code"]}, field="code")
    if "name" in fields:
        fields["name"] = _clean_name(fields["name"])
        clash = OrgNode.objects.filter(parent=parent, name=fields["name"])
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise ConflictError(_("同一上级下已有名为“%(name)s”的节点。") % {"name": fields["name"]}, field="name")
    if "boundary" in fields:
        validate_geojson_boundary(fields["boundary"])
        fields["boundary"] = fields["boundary"] or None
    if "address" in fields:
        fields["address"] = boundary.clean(fields["address"] or "", field="address").strip()[:200]
    for number_field, label in (("floors", gettext_lazy("层数")), ("units", gettext_lazy("单元数"))):
        value = fields.get(number_field)
        if value is not None and not (0 < int(value) <= 300):
            raise DomainError(_("%(label)s应在 1 到 300 之间。") % {"label": label}, field=number_field)
    if kind != NodeKind.BUILDING and (fields.get("floors") or fields.get("units")):
        raise DomainError(_("只有楼栋可以填写层数和单元数。"), field="floors")


@transaction.atomic
def node_create(
    *,
    actor: User,
    parent: OrgNode | None,
    kind: str,
    name: str,
    code: str = "",
    boundary: dict | None = None,
    address: str = "",
    floors: int | None = None,
    units: int | None = None,
    sort_order: int | None = None,
) -> OrgNode:
    """Add a node under `parent` (a root when None, superusers only)."""
    if kind not in NodeKind.values:
        raise DomainError(_("未知的节点类型“%(kind)s”。") % {"kind": kind}, field="kind")
    if parent is None:
        if not actor.is_superuser:
            raise PermissionError_(_("只有超级管理员可以创建顶级节点。"))
        if kind not in ROOT_KINDS:
            raise DomainError(_("顶级节点只能是市、区（县）或街道。"), field="kind")
    else:
        parent = OrgNode.objects.select_for_update().get(pk=parent.pk)
        scope.require(actor, Perm.MANAGE_ORG, parent.path)
        if kind not in ALLOWED_CHILDREN[parent.kind]:
            raise DomainError(
                _("%(parent)s下不能添加%(kind)s。") % {"parent": parent.get_kind_display(), "kind": NodeKind(kind).label},
                field="kind",
            )
        if not parent.is_active:
            raise DomainError(_("上级节点已停用，不能添加下级。"), field="parent")
    fields: dict[str, Any] = {
        "name": name, "code": code, "boundary": boundary, "address": address, "floors": floors, "units": units,
    }
    _check_node_fields(kind, parent, fields, instance=None)
    path = _next_child_path(parent)
    node = OrgNode(
        parent=parent,
        kind=kind,
        path=path,
        depth=len(path) // PATH_SEGMENT,
        subdistrict=parent.subdistrict if parent and parent.kind != NodeKind.SUBDISTRICT else parent,
        sort_order=sort_order if sort_order is not None else int(path[-PATH_SEGMENT:]),
        **fields,
    )
    if parent is not None and parent.kind == NodeKind.SUBDISTRICT:
        node.subdistrict = parent
    try:
        with transaction.atomic():
            node.save()
    except IntegrityError:
        raise ConflictError(_("节点与已有节点冲突（名称或编码重复），请刷新后重试。"), field="name") from None
    if kind == NodeKind.SUBDISTRICT:
        node.subdistrict = node
        node.save(update_fields=["subdistrict"])
    caching.bump()
    audit.record(actor=actor, action="org.node.create", obj=node, after=audit.snapshot(node))
    return node


@transaction.atomic
def node_update(*, actor: User, node: OrgNode, **changes: Any) -> OrgNode:
    """Change a node's editable fields (name, code, boundary, address, floors, units, order, active)."""
    unknown = set(changes) - set(NODE_EDITABLE)
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))}, field=sorted(unknown)[0])
    node = OrgNode.objects.select_for_update().get(pk=node.pk)
    scope.require(actor, Perm.MANAGE_ORG, node.path)
    before = audit.snapshot(node)
    fields = dict(changes)
    _check_node_fields(node.kind, node.parent, fields, instance=node)
    if fields.get("is_active") is False and node.children.filter(is_active=True).exists():
        raise DomainError(_("该节点下还有启用的下级节点，请先停用或移走下级。"), field="is_active")
    for key, value in fields.items():
        setattr(node, key, value)
    node.save()
    caching.bump()
    old, new = audit.changed(before, audit.snapshot(node))
    if new:
        audit.record(actor=actor, action="org.node.update", obj=node, before=old, after=new)
    return node


@transaction.atomic
def department_create(
    *, actor: User, subdistrict: OrgNode, name: str, kind: str = DepartmentKind.OFFICE, duties: str = ""
) -> Department:
    """Add a department (科室), station or joint-enforcement team to a sub-district."""
    if subdistrict.kind != NodeKind.SUBDISTRICT:
        raise DomainError(_("部门只能设在街道下。"), field="subdistrict")
    scope.require(actor, Perm.MANAGE_ORG, subdistrict.path)
    if kind not in DepartmentKind.values:
        raise DomainError(_("未知的部门类型“%(kind)s”。") % {"kind": kind}, field="kind")
    name = _clean_name(name)
    if Department.objects.filter(subdistrict=subdistrict, name=name).exists():
        raise ConflictError(_("该街道已有名为“%(name)s”的部门。") % {"name": name}, field="name")
    department = Department.objects.create(
        subdistrict=subdistrict, name=name, kind=kind, duties=boundary.clean(duties or "", field="duties").strip()[:300]
    )
    caching.bump()
    audit.record(actor=actor, action="org.department.create", obj=department, after=audit.snapshot(department))
    return department


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise DomainError(
            _("密码不符合要求：%(problems)s") % {"problems": _("；").join(exc.messages)}, field="password"
        ) from None


@transaction.atomic
def user_create(
    *,
    actor: User,
    username: str,
    full_name: str,
    home_node: OrgNode,
    password: str,
    phone: str = "",
    email: str = "",
) -> User:
    """Create a staff account belonging to `home_node` (the actor must administer that node)."""
    scope.require(actor, Perm.MANAGE_USERS, home_node.path)
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise DomainError(_("用户名应为 3 到 150 位字母、数字、下划线、点或连字符。"), field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise ConflictError(_("用户名“%(username)s”已被使用。") % {"username": username}, field="username")
    full_name = _clean_name(full_name, field="full_name", label=gettext_lazy("姓名"))
    validate_phone(phone)
    user = User(username=username, full_name=full_name, home_node=home_node, phone=phone.strip(), email=email.strip())
    _check_password(password, user)
    user.set_password(password)
    user.save()
    audit.record(actor=actor, action="org.user.create", obj=user, after=audit.snapshot(user))
    return user


USER_EDITABLE = ("full_name", "phone", "email", "home_node", "is_active")


@transaction.atomic
def user_update(*, actor: User, user: User, **changes: Any) -> User:
    """Change a user's name, phone, e-mail, home node or active flag."""
    unknown = set(changes) - set(USER_EDITABLE)
    if unknown:
        raise DomainError(_("不能修改字段：%(fields)s。") % {"fields": _("、").join(sorted(unknown))}, field=sorted(unknown)[0])
    user = User.objects.select_for_update().get(pk=user.pk)
    scope.require(actor, Perm.MANAGE_USERS, user.home_node.path if user.home_node else None, view_perm=Perm.VIEW_USERS)
    if "home_node" in changes:
        scope.require(actor, Perm.MANAGE_USERS, changes["home_node"].path)
    if "full_name" in changes:
        changes["full_name"] = _clean_name(changes["full_name"], field="full_name", label=gettext_lazy("姓名"))
    if "phone" in changes:
        validate_phone(changes["phone"])
    if changes.get("is_active") is False and user.pk == actor.pk:
        raise DomainError(_("不能停用自己的账号。"), field="is_active")
    before = audit.snapshot(user)
    for key, value in changes.items():
        setattr(user, key, value)
    user.save()
    caching.bump()  # API tokens cache their user: a deactivated user stops at once
    old, new = audit.changed(before, audit.snapshot(user))
    if new:
        audit.record(actor=actor, action="org.user.update", obj=user, before=old, after=new)
    return user


@transaction.atomic
def user_set_password(*, actor: User, user: User, password: str) -> None:
    """Set a new password (administrators for their users, or anyone for themselves)."""
    if actor.pk != user.pk:
        scope.require(
            actor, Perm.MANAGE_USERS, user.home_node.path if user.home_node else None, view_perm=Perm.VIEW_USERS
        )
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    caching.bump()
    audit.record(actor=actor, action="org.user.set_password", obj=user)


@transaction.atomic
def role_assign(
    *, actor: User, user: User, role: str, node: OrgNode, department: Department | None = None
) -> RoleAssignment:
    """Bind `user` to `role` at `node`; department handlers also name their department."""
    scope.require(actor, Perm.MANAGE_USERS, user.home_node.path if user.home_node else None, view_perm=Perm.VIEW_USERS)
    scope.require(actor, Perm.MANAGE_USERS, node.path)
    if role not in Role.values:
        raise DomainError(_("未知的角色“%(role)s”。") % {"role": role}, field="role")
    allowed = ROLE_NODE_KINDS[role]
    if node.kind not in allowed:
        kinds = _("、").join(str(NodeKind(k).label) for k in NodeKind.values if k in allowed)
        raise DomainError(_("%(role)s只能绑定到：%(kinds)s。") % {"role": Role(role).label, "kinds": kinds}, field="node")
    if role in ROLES_NEEDING_DEPARTMENT:
        if department is None:
            raise DomainError(_("科室办理人员必须选择所属部门。"), field="department")
        if department.subdistrict_id != node.pk:
            raise DomainError(_("所选部门不属于该街道。"), field="department")
    elif department is not None:
        raise DomainError(_("只有科室办理人员需要选择部门。"), field="department")
    if RoleAssignment.objects.filter(user=user, role=role, node=node).exists():
        raise ConflictError(_("该用户在此节点已有这个角色。"), field="role")
    assignment = RoleAssignment.objects.create(user=user, role=role, node=node, department=department)
    scope.forget(user)
    caching.bump()
    audit.record(actor=actor, action="org.role.assign", obj=assignment, after=audit.snapshot(assignment))
    return assignment


@transaction.atomic
def role_revoke(*, actor: User, assignment: RoleAssignment) -> None:
    """Remove a role binding."""
    scope.require(actor, Perm.MANAGE_USERS, assignment.node.path)
    if assignment.user_id == actor.pk and assignment.role == Role.ADMIN:
        raise DomainError(_("不能撤销自己的系统管理员角色。"), field="role")
    before = audit.snapshot(assignment)
    audit.record(actor=actor, action="org.role.revoke", obj=assignment, before=before)
    assignment.delete()
    scope.forget(assignment.user)
    caching.bump()
