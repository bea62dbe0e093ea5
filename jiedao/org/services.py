"""Every write to the org tree, departments, users and roles. Each runs in a transaction,
checks scope through jiedao.core.scope and appends an audit event."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.core import audit, caching, scope, sealed, totp
from jiedao.core import limits as shared_limits
from jiedao.core import text as boundary
from jiedao.core.errors import ConflictError, DomainError, PermissionError_, ThrottledError
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
    SecondFactor,
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


# --- the second sign-in factor -----------------------------------------------------------------

# Wrong codes a user may type in a window (uses, seconds) before codes are refused for the rest of
# it: a six-digit code guessed at this pace takes years. settings.JIEDAO_SECOND_FACTOR_LIMIT.
SECOND_FACTOR_LIMIT = (5, 900)


def _second_factor_limit() -> tuple[int, int]:
    from django.conf import settings

    return tuple(getattr(settings, "JIEDAO_SECOND_FACTOR_LIMIT", SECOND_FACTOR_LIMIT))  # type: ignore[return-value]


def second_factor_required(user: Any) -> bool:
    """Administrators (superusers and anyone holding the 系统管理员 role) sign in with a second factor."""
    if getattr(user, "is_superuser", False):
        return True
    return any(row[0] == Role.ADMIN for row in scope.role_rows(user))


def second_factor_of(user: Any) -> SecondFactor | None:
    return SecondFactor.objects.filter(user=user).first()


def second_factor_secret(factor: SecondFactor) -> str:
    return sealed.reveal(factor, "secret")


@transaction.atomic
def second_factor_begin(*, actor: User, secret: str = "") -> tuple[SecondFactor, str]:
    """Start (or restart) adding a second factor to one's own account: a new key, not yet in force
    until a code from it is confirmed. Returns the factor and the key to show once."""
    factor = SecondFactor.objects.select_for_update().filter(user=actor).first()
    if factor is not None and factor.confirmed_at:
        raise ConflictError(_("两步验证已经启用；如需更换手机，请先停用再重新设置。"), field="second_factor")
    secret = secret or totp.new_secret()
    if factor is None:
        factor = SecondFactor(user=actor)
    factor.secret_enc = sealed.seal("secret", secret, indexed=False).ciphertext
    factor.last_step, factor.recovery_digests = 0, []
    factor.save()
    audit.record(actor=actor, action="org.second_factor.begin", obj=actor)
    return factor, secret


def _refuse_when_throttled(user: User) -> None:
    uses, _window = _second_factor_limit()
    if shared_limits.peek(f"jiedao:second-factor:{user.pk}") >= uses:
        raise ThrottledError(_("验证码输错次数过多，请 15 分钟后再试。"), field="code")


def _count_failure(user: User) -> None:
    """Outside any transaction the refusal rolls back: the count must survive it."""
    shared_limits.hit(f"jiedao:second-factor:{user.pk}", _second_factor_limit()[1])
    with transaction.atomic():
        audit.record(actor=user, action="org.second_factor.failed", obj=user)


def second_factor_confirm(*, actor: User, code: str) -> list[str]:
    """Put the key begun by second_factor_begin in force with a code from the app; returns the ten
    recovery codes (shown once, kept only as digests)."""
    _refuse_when_throttled(actor)
    factor = SecondFactor.objects.filter(user=actor, confirmed_at__isnull=True).first()
    if factor is None:
        raise DomainError(_("请先开始设置两步验证。"), field="code")
    step = totp.matching_step(second_factor_secret(factor), code, after=0)
    if step is None:
        _count_failure(actor)
        raise DomainError(_("验证码不正确：请输入身份验证器 App 中当前显示的 6 位数字。"), field="code")
    codes = totp.new_recovery_codes()
    with transaction.atomic():
        done = SecondFactor.objects.filter(pk=factor.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now(), last_step=step, recovery_digests=[totp.recovery_digest(c) for c in codes])
        if not done:
            raise ConflictError(_("两步验证已经启用。"), field="code")
        audit.record(actor=actor, action="org.second_factor.confirm", obj=actor)
    return codes


def second_factor_check(*, user: User, code: str) -> str:
    """The sign-in's second step: a current code from the app (never one accepted before) or an
    unused recovery code (used up by this). Returns "totp" or "recovery"; wrong codes are
    counted per user and refused (429) past the limit."""
    _refuse_when_throttled(user)
    factor = SecondFactor.objects.filter(user=user, confirmed_at__isnull=False).first()
    if factor is None:
        raise DomainError(_("该账号尚未设置两步验证。"), field="code")
    step = totp.matching_step(second_factor_secret(factor), code, after=factor.last_step)
    # Compare-and-set on the last step: two requests with the same code cannot both pass.
    if step is not None and SecondFactor.objects.filter(pk=factor.pk, last_step__lt=step).update(last_step=step):
        return "totp"
    digest = totp.recovery_digest(code)
    if digest in factor.recovery_digests:
        with transaction.atomic():
            locked = SecondFactor.objects.select_for_update().get(pk=factor.pk)
            if digest in locked.recovery_digests:
                locked.recovery_digests = [d for d in locked.recovery_digests if d != digest]
                locked.save(update_fields=["recovery_digests", "updated_at"])
                audit.record(actor=user, action="org.second_factor.recovery_used", obj=user,
                             after={"recovery_codes_left": len(locked.recovery_digests)})
                return "recovery"
    _count_failure(user)
    raise DomainError(_("验证码不正确或已使用过，请输入身份验证器 App 中当前的 6 位数字，或一个未用过的恢复码。"), field="code")


@transaction.atomic
def second_factor_remove(*, actor: User | None, user: User, reason: str = "") -> None:
    """Take a user's second factor away: the user for themselves (not an administrator, who must
    keep one), an administrator of the user's place for a lost phone (with a reason), or the
    operator's command line (`actor` None). Audited."""
    if actor is not None and actor.pk == user.pk:
        if second_factor_required(user):
            raise PermissionError_(_("管理员必须使用两步验证，不能停用；更换手机请联系其他管理员重置。"), field="second_factor")
    elif actor is not None:
        scope.require(actor, Perm.MANAGE_USERS, user.home_node.path if user.home_node else None,
                      view_perm=Perm.VIEW_USERS)
        reason = " ".join((reason or "").split())
        if len(reason) < 2:
            raise DomainError(_("请填写重置两步验证的事由。"), field="reason")
    deleted, _rows = SecondFactor.objects.filter(user=user).delete()
    if not deleted:
        raise DomainError(_("该账号没有设置两步验证。"), field="second_factor")
    audit.record(actor=actor, action="org.second_factor.remove", obj=user, reason=reason)


@transaction.atomic
def second_factor_enrol_demo(*, user: User, secret: str) -> SecondFactor:
    """The demo seeder's shortcut: a confirmed factor with a known key, marked as a demo's."""
    factor, _created = SecondFactor.objects.update_or_create(
        user=user, defaults={"secret_enc": sealed.seal("secret", secret, indexed=False).ciphertext,
                             "confirmed_at": timezone.now(), "last_step": 0, "recovery_digests": [],
                             "is_demo": True})
    audit.record(actor=None, action="org.second_factor.demo", obj=user)
    return factor


def second_factor_demo_code(*, username: str) -> str:
    """The current code of a demo account's factor (`jiedao twofactor code`); refused for any other."""
    factor = SecondFactor.objects.filter(user__username=username, is_demo=True).first()
    if factor is None:
        raise DomainError(_("只有演示账号可以这样取得验证码。"), field="username")
    return totp.code_at(second_factor_secret(factor), totp.current_step())
