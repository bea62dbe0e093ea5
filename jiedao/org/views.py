"""Staff pages of the org tree, departments, users and roles.

Thin by design: a form parses the input, one selector (reads, scoped by jiedao.core.scope) or
service (writes, which check scope again and write the audit event) does the work, a template
renders the result. A node or user outside the viewer's scope answers 404 exactly like a missing
one; a whole page the viewer's roles lack answers 403; a refused action shows the service's
Chinese message on the form field it names, with the error's HTTP status (400/403/409).
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import ROLE_NODE_KINDS, Perm, Role
from jiedao.core.views import form_error, htmx_aware, paginate, render_error, require_perm_anywhere
from jiedao.org import selectors, services
from jiedao.org.forms import (
    DepartmentForm,
    NodeCreateForm,
    NodeSearchForm,
    NodeUpdateForm,
    PasswordResetForm,
    RoleAssignForm,
    UserCreateForm,
    UserEditForm,
    UserFilterForm,
)
from jiedao.org.models import ALLOWED_CHILDREN, NodeKind, OrgNode, User
from jiedao.org.site_views import kind_counts, object_history

SEARCH_LIMIT = 50
PICKER_LIMIT = 20

# --- org tree -----------------------------------------------------------------------------------


def _require_manage_org(user: Any, node: OrgNode) -> None:
    if not scope.path_allows(user, Perm.MANAGE_ORG, node.path):
        raise PermissionDenied(_("您没有管理此组织节点的权限。"))


def _children_page(request: HttpRequest, node: OrgNode):
    """One page of the node's visible children; `expandable` says whether any has children."""
    page = paginate(request, selectors.node_children(request.user, node))
    page.expandable = any(child.child_count for child in page.object_list)
    return page


@login_required
def org_index(request: HttpRequest) -> HttpResponse:
    roots = list(selectors.scope_roots(request.user))
    for root in roots:
        root.counts = kind_counts(selectors.subtree_counts(root))
    return render(request, "org/index.html", {"roots": roots, "search_form": NodeSearchForm()})


@login_required
def node_search(request: HttpRequest) -> HttpResponse:
    form = NodeSearchForm(request.GET)
    text = form.cleaned_data["q"].strip() if form.is_valid() else ""
    results = selectors.with_trails(request.user, list(selectors.node_search(request.user, text, limit=SEARCH_LIMIT)))
    context = {"search_form": form, "q": text, "results": results if text else [], "limit": SEARCH_LIMIT}
    template = "org/_search_results.html" if request.htmx else "org/search.html"
    return htmx_aware(render(request, template, context))


def _node_page(request: HttpRequest, node: OrgNode, *, department_form: DepartmentForm | None = None,
               status: int = 200) -> HttpResponse:
    user = request.user
    can_manage = scope.path_allows(user, Perm.MANAGE_ORG, node.path)
    is_subdistrict = node.kind == NodeKind.SUBDISTRICT
    context = {
        "node": node,
        "ancestors": selectors.node_ancestors(user, node),
        "counts": kind_counts(selectors.subtree_counts(node)),
        "people": selectors.node_people(node),
        "page": _children_page(request, node),
        "can_manage": can_manage,
        "can_add_child": can_manage and node.is_active and bool(ALLOWED_CHILDREN[node.kind]),
        "departments": selectors.departments_visible(user).filter(subdistrict=node) if is_subdistrict else None,
        "department_form": (department_form or DepartmentForm()) if is_subdistrict and can_manage else None,
        "search_form": NodeSearchForm(),
        **object_history(user, "org.orgnode", node.pk),
    }
    return render(request, "org/node_detail.html", context, status=status)


@login_required
def node_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _node_page(request, selectors.node_get(request.user, pk))


@login_required
def node_children(request: HttpRequest, pk: int) -> HttpResponse:
    """The partial listing a node's children (htmx expand-in-place and paging)."""
    node = selectors.node_get(request.user, pk)
    return render(request, "org/_children.html", {"node": node, "page": _children_page(request, node)})


@login_required
def node_add(request: HttpRequest, pk: int) -> HttpResponse:
    parent = selectors.node_get(request.user, pk)
    _require_manage_org(request.user, parent)
    if not ALLOWED_CHILDREN[parent.kind]:
        messages.info(request, _("%(kind)s下不能再添加下级。") % {"kind": parent.get_kind_display()})
        return redirect("org:node", pk=parent.pk)
    form = NodeCreateForm(request.POST or None, parent=parent)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                node = services.node_create(
                    actor=request.user,
                    parent=parent,
                    kind=data["kind"],
                    name=data["name"],
                    code=data["code"],
                    boundary=data["boundary"],
                    address=data["address"],
                    floors=data.get("floors"),
                    units=data.get("units"),
                    sort_order=data["sort_order"],
                )
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已添加“%(name)s”。") % {"name": node.name})
                return redirect("org:node", pk=node.pk)
    context = {"node": parent, "ancestors": selectors.node_ancestors(request.user, parent), "form": form,
               "mode": "add"}
    return render(request, "org/node_form.html", context, status=status)


@login_required
def node_edit(request: HttpRequest, pk: int) -> HttpResponse:
    node = selectors.node_get(request.user, pk)
    _require_manage_org(request.user, node)
    form = NodeUpdateForm(request.POST or None, node=node)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.node_update(actor=request.user, node=node, **form.changes())
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("org:node", pk=node.pk)
    context = {"node": node, "ancestors": selectors.node_ancestors(request.user, node), "form": form, "mode": "edit"}
    return render(request, "org/node_form.html", context, status=status)


@login_required
@require_POST
def department_add(request: HttpRequest, pk: int) -> HttpResponse:
    node = selectors.node_get(request.user, pk)
    _require_manage_org(request.user, node)
    form = DepartmentForm(request.POST)
    if not form.is_valid():
        return _node_page(request, node, department_form=form, status=400)
    try:
        department = services.department_create(actor=request.user, subdistrict=node, **form.cleaned_data)
    except DomainError as exc:
        status = form_error(form, exc, aliases={"subdistrict": None})
        return _node_page(request, node, department_form=form, status=status)
    messages.success(request, _("已添加部门“%(name)s”。") % {"name": department.name})
    return redirect("org:node", pk=node.pk)


_FIELD_NAME = re.compile(r"^[a-z_]{1,32}$")


@require_perm_anywhere(Perm.MANAGE_USERS)
def node_picker(request: HttpRequest) -> HttpResponse:
    """The node picker's search: up to 20 active nodes the user may manage users on."""
    field = request.GET.get("field", "")
    if not _FIELD_NAME.match(field):
        raise Http404(_("缺少字段名。"))
    text = request.GET.get(f"{field}_q", request.GET.get("q", ""))[:64]
    results = selectors.node_pick(request.user, text, perm=Perm.MANAGE_USERS, limit=PICKER_LIMIT)
    selected = request.GET.get(field, "")
    chosen = None
    if selected.isdigit():
        chosen = next((n for n in results if str(n.pk) == selected), None)
        if chosen is None:
            try:
                chosen = selectors.node_get(request.user, selected, perm=Perm.MANAGE_USERS)
            except Http404:
                chosen = None
            else:
                selectors.with_trails(request.user, [chosen])
                results = [chosen, *results]
    context = {"name": field, "results": results, "selected": str(chosen.pk) if chosen else "", "q": text,
               "limit": PICKER_LIMIT}
    return render(request, "org/_picker_results.html", context)


# --- users and roles ----------------------------------------------------------------------------


def _manageable_nodes(user: Any):
    return selectors.nodes_visible(user, Perm.MANAGE_USERS).filter(is_active=True)


@require_perm_anywhere(Perm.VIEW_USERS)
def user_list(request: HttpRequest) -> HttpResponse:
    form = UserFilterForm(request.GET or None)
    users = selectors.user_list(request.user, **form.filters()).prefetch_related("assignments__node")
    return render(request, "org/user_list.html", {"form": form, "page": paginate(request, users)})


@require_perm_anywhere(Perm.MANAGE_USERS)
def user_new(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None, nodes=_manageable_nodes(request.user))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = services.user_create(
                    actor=request.user,
                    username=data["username"],
                    full_name=data["full_name"],
                    home_node=data["home_node"],
                    password=data["password"],
                    phone=data["phone"],
                )
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已创建用户“%(name)s”，请为其绑定角色。") % {"name": created})
                return redirect("org:user", pk=created.pk)
    return render(request, "org/user_form.html", {"form": form, "mode": "new"}, status=status)


def _can_manage_user(actor: Any, target: User) -> bool:
    return scope.path_allows(actor, Perm.MANAGE_USERS, target.home_node.path if target.home_node else None)


def _user_page(
    request: HttpRequest,
    target: User,
    *,
    role_form: RoleAssignForm | None = None,
    password_form: PasswordResetForm | None = None,
    action_error: str = "",
    status: int = 200,
) -> HttpResponse:
    actor = request.user
    can_manage = _can_manage_user(actor, target)
    context: dict[str, Any] = {
        "target": target,
        "assignments": selectors.user_assignments(target),
        "can_manage": can_manage,
        "action_error": action_error,
        "role_kinds": [
            (Role(role).label, "、".join(str(NodeKind(k).label) for k in NodeKind.values if k in kinds))
            for role, kinds in ROLE_NODE_KINDS.items()
        ],
        **object_history(actor, "org.user", target.pk, about_user=target.pk),
    }
    if can_manage:
        context["role_form"] = role_form or _role_form(actor, target)
        context["password_form"] = password_form or PasswordResetForm()
        context["department_role"] = Role.DEPARTMENT_HANDLER
        context["second_factor"] = services.second_factor_of(target)
    return render(request, "org/user_detail.html", context, status=status)


def _role_form(actor: Any, target: User, data: Any = None) -> RoleAssignForm:
    initial = {"node": target.home_node_id} if target.home_node_id else {}
    return RoleAssignForm(
        data, initial=initial, nodes=_manageable_nodes(actor), departments=selectors.departments_visible(actor)
    )


def _target(request: HttpRequest, pk: int, *, manage: bool = False) -> User:
    """The user `pk` if in the viewer's scope (else 404); with `manage`, 403 unless they administer it."""
    target = selectors.user_get(request.user, pk)
    if manage and not _can_manage_user(request.user, target):
        raise PermissionDenied(_("您没有管理此用户的权限。"))
    return target


@login_required
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _user_page(request, _target(request, pk))


@login_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target(request, pk, manage=True)
    initial = {"full_name": target.full_name, "phone": target.phone, "email": target.email}
    form = UserEditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.user_update(actor=request.user, user=target, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("org:user", pk=target.pk)
    return render(request, "org/user_form.html", {"form": form, "mode": "edit", "target": target}, status=status)


@login_required
@require_POST
def role_assign(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target(request, pk, manage=True)
    form = _role_form(request.user, target, request.POST)
    if not form.is_valid():
        return _user_page(request, target, role_form=form, status=400)
    try:
        assignment = services.role_assign(actor=request.user, user=target, **form.cleaned_data)
    except DomainError as exc:
        return _user_page(request, target, role_form=form, status=form_error(form, exc))
    messages.success(
        request, _("已绑定角色：%(role)s · %(node)s。") % {"role": assignment.get_role_display(), "node": assignment.node}
    )
    return redirect("org:user", pk=target.pk)


@login_required
@require_POST
def role_revoke(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    target = _target(request, pk, manage=True)
    assignment = selectors.assignment_get(request.user, assignment_pk)
    if assignment.user_id != target.pk:
        raise Http404(_("未找到该角色分配。"))
    try:
        services.role_revoke(actor=request.user, assignment=assignment)
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _user_page(request, target, action_error=exc.message, status=exc.status_code)
    messages.success(
        request, _("已撤销角色：%(role)s · %(node)s。") % {"role": assignment.get_role_display(), "node": assignment.node}
    )
    return redirect("org:user", pk=target.pk)


@login_required
@require_POST
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target(request, pk, manage=True)
    active = request.POST.get("active") == "1"
    try:
        services.user_update(actor=request.user, user=target, is_active=active)
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _user_page(request, target, action_error=exc.message, status=exc.status_code)
    messages.success(request, _("账号已启用。") if active else _("账号已停用。"))
    return redirect("org:user", pk=target.pk)


@login_required
@require_POST
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    target = _target(request, pk, manage=True)
    form = PasswordResetForm(request.POST)
    if not form.is_valid():
        return _user_page(request, target, password_form=form, status=400)
    try:
        services.user_set_password(actor=request.user, user=target, password=form.cleaned_data["password"])
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _user_page(request, target, password_form=form, status=form_error(form, exc))
    messages.success(request, _("已为“%(name)s”重置密码。") % {"name": target})
    return redirect("org:user", pk=target.pk)


@login_required
@require_POST
def user_second_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """Take away another user's second factor (a lost phone), with a reason; audited."""
    target = _target(request, pk, manage=True)
    if target.pk == request.user.pk:
        raise PermissionDenied(_("不能重置自己的两步验证，请联系其他管理员。"))
    try:
        services.second_factor_remove(actor=request.user, user=target, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _user_page(request, target, action_error=exc.message, status=exc.status_code)
    messages.success(request, _("已重置“%(name)s”的两步验证，其下次登录时需重新设置。") % {"name": target})
    return redirect("org:user", pk=target.pk)
