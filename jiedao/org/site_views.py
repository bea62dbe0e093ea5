"""Pages of the signed-in staff member: home (the places they work at), my account (roles,
password, API tokens) and the audit log.

They live in org, not core, because each one reads org's data: the user's places and role
assignments, the account (`User` is org's model) and the audit log's read rule
(`selectors.audit_events_visible`). `object_history` is the per-object history every detail page
includes. URLs: jiedao/org/site_urls.py (un-namespaced names: home, account, audit_list, …).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import scope, totp
from jiedao.core import services as core_services
from jiedao.core.errors import DomainError
from jiedao.core.forms import AuditFilterForm, PasswordChangeForm, TokenCreateForm
from jiedao.core.permissions import Perm, Role
from jiedao.core.views import (
    ACTION_LABELS,
    audited_object_types,
    describe_events,
    form_error,
    htmx_aware,
    paginate,
    render_error,
    require_perm_anywhere,
)
from jiedao.org import selectors
from jiedao.org import services as org_services
from jiedao.org.models import NodeKind, User


def kind_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """subtree_counts as (Chinese kind label, count) pairs in tree order."""
    return [(NodeKind(kind).label, n) for kind, n in counts.items()]


# --- home ---------------------------------------------------------------------------------------

GRID_KINDS = {NodeKind.GRID, NodeKind.MICROGRID, NodeKind.BUILDING}
COMMUNITY_KINDS = {NodeKind.COMMUNITY, NodeKind.VILLAGE}
TOP_KINDS = {NodeKind.SUBDISTRICT, NodeKind.DISTRICT, NodeKind.CITY}
GRID_ROLES = {Role.GRID_WORKER, Role.GRID_LEADER}


def _home_sections(user: Any) -> list[dict[str, Any]]:
    """One panel per distinct place the user works at, shaped by the kind of place."""
    sections: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    assignments = list(selectors.user_assignments(user))
    places = [(a.role, a.node, a.department) for a in assignments if a.node.is_active]
    if user.is_superuser and not places:
        places = [(Role.ADMIN, node, None) for node in selectors.scope_roots(user)]
    for role, node, department in places:
        if role == Role.DEPARTMENT_HANDLER:
            key = ("department", node.pk, department.pk if department else None)
            section = {"type": "department", "node": node, "department": department}
        elif node.kind in GRID_KINDS:
            key = ("grid", node.pk)
            section = {"type": "grid", "node": node, "counts": kind_counts(selectors.subtree_counts(node))}
        elif node.kind in COMMUNITY_KINDS:
            key = ("community", node.pk)
            grids = list(selectors.node_children(user, node)[: settings.JIEDAO_PAGE_SIZE])
            for grid in grids:
                grid.workers = [a for a in selectors.node_people(grid) if a.role in GRID_ROLES]
            section = {
                "type": "community",
                "node": node,
                "grids": grids,
                "counts": kind_counts(selectors.subtree_counts(node)),
            }
        else:
            key = ("overview", node.pk)
            section = {
                "type": "overview",
                "node": node,
                "counts": kind_counts(selectors.subtree_counts(node)),
                "departments": selectors.departments_visible(user).filter(subdistrict=node).count()
                if node.kind == NodeKind.SUBDISTRICT
                else None,
                "users": selectors.user_list(user, node=node, active=True).count()
                if scope.path_allows(user, Perm.VIEW_USERS, node.path)
                else None,
            }
        if key not in seen:
            seen.add(key)
            sections.append(section)
    return sections


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "assignments": selectors.user_assignments(user),
        "sections": _home_sections(user),
    }
    return render(request, "core/home.html", context)


# --- sign-in with a second factor -------------------------------------------------------------

# The password step passed, the second not yet: who, with which backend, since when, going where.
PENDING_KEY = "jiedao_second_factor_pending"
PENDING_SECONDS = 300


class StaffLoginView(auth_views.LoginView):
    """Django's sign-in, with a second step for accounts that have or must have a second factor:
    the password alone does not sign such an account in."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.get_user()
        factor = org_services.second_factor_of(user)
        if not org_services.second_factor_required(user) and not (factor and factor.confirmed_at):
            return super().form_valid(form)
        self.request.session.cycle_key()
        self.request.session[PENDING_KEY] = {
            "user": user.pk, "backend": user.backend, "at": time.time(), "next": self.get_redirect_url(),
        }
        return redirect("login_second_factor")


def _pending_user(request: HttpRequest) -> tuple[User | None, dict]:
    pending = request.session.get(PENDING_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, {}
    return User.objects.filter(pk=pending["user"], is_active=True).first(), pending


def _finish_sign_in(request: HttpRequest, user: User, pending: dict) -> None:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend=pending["backend"])


def _setup_context(user: User, factor: Any) -> dict[str, Any]:
    secret = org_services.second_factor_secret(factor)
    uri = totp.provisioning_uri(secret, account=user.username, issuer=settings.JIEDAO_SITE_NAME)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    # segno writes the SVG itself from the address; nothing typed by a user is in it.
    return {"secret": grouped, "qr": mark_safe(totp.qr_svg(uri)), "uri": uri}



def login_second_factor(request: HttpRequest) -> HttpResponse:
    """The sign-in's second step: a code from the authenticator app (or a recovery code); an
    administrator without a factor yet sets one up here first."""
    user, pending = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, _("登录已超时，请重新输入用户名和密码。"))
        return redirect("login")
    factor = org_services.second_factor_of(user)
    enrolling = factor is None or factor.confirmed_at is None
    error, status = "", 200
    if request.method == "POST":
        code = request.POST.get("code", "")
        try:
            if enrolling:
                codes = org_services.second_factor_confirm(actor=user, code=code)
                _finish_sign_in(request, user, pending)
                return _recovery_codes_page(request, codes, next_url=pending.get("next") or "")
            org_services.second_factor_check(user=user, code=code)
        except DomainError as exc:
            error, status = exc.message, exc.status_code
        else:
            _finish_sign_in(request, user, pending)
            return redirect(pending.get("next") or settings.LOGIN_REDIRECT_URL)
    context: dict[str, Any] = {"enrolling": enrolling, "error": error, "who": user}
    if enrolling:
        if factor is None:
            factor, _secret = org_services.second_factor_begin(actor=user)
        context.update(_setup_context(user, factor))
    response = render(request, "registration/second_factor.html", context, status=status)
    add_never_cache_headers(response)
    return response


def _recovery_codes_page(request: HttpRequest, codes: list[str], *, next_url: str) -> HttpResponse:
    response = render(request, "registration/second_factor_codes.html",
                      {"codes": codes, "next_url": next_url or settings.LOGIN_REDIRECT_URL}, status=201)
    add_never_cache_headers(response)  # shown once, never cached
    return response


@login_required
def account_second_factor(request: HttpRequest) -> HttpResponse:
    """Add a second factor to one's own account (anyone; administrators already have one)."""
    factor = org_services.second_factor_of(request.user)
    if factor is not None and factor.confirmed_at:
        return redirect("account")
    error, status = "", 200
    if request.method == "POST":
        try:
            codes = org_services.second_factor_confirm(actor=request.user, code=request.POST.get("code", ""))
        except DomainError as exc:
            error, status = exc.message, exc.status_code
        else:
            return _recovery_codes_page(request, codes, next_url="/account/")
    if factor is None:
        factor, _secret = org_services.second_factor_begin(actor=request.user)
    context = {"enrolling": True, "error": error, "who": request.user, "from_account": True,
               **_setup_context(request.user, factor)}
    response = render(request, "registration/second_factor.html", context, status=status)
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def account_second_factor_remove(request: HttpRequest) -> HttpResponse:
    """Turn one's own second factor off, proving it with a current code first."""
    try:
        org_services.second_factor_check(user=request.user, code=request.POST.get("code", ""))
        org_services.second_factor_remove(actor=request.user, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("account")
    messages.success(request, _("两步验证已停用。"))
    return redirect("account")


# --- my account ---------------------------------------------------------------------------------


def _account_page(
    request: HttpRequest,
    *,
    password_form: PasswordChangeForm | None = None,
    token_form: TokenCreateForm | None = None,
    new_token: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "assignments": selectors.user_assignments(request.user),
        "password_form": password_form or PasswordChangeForm(user=request.user),
        "token_form": token_form or TokenCreateForm(),
        # A user's own tokens: no scope question, the filter on request.user is the whole rule.
        "tokens": request.user.api_tokens.order_by("-created_at"),
        "new_token": new_token,
        "second_factor": org_services.second_factor_of(request.user),
        "second_factor_required": org_services.second_factor_required(request.user),
    }
    response = render(request, "core/account.html", context, status=status)
    if new_token:
        add_never_cache_headers(response)  # the plaintext is shown once and never cached
    return response


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@login_required
@require_POST
def account_password(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST, user=request.user)
    if not form.is_valid():
        return _account_page(request, password_form=form, status=400)
    try:
        org_services.user_set_password(actor=request.user, user=request.user, password=form.cleaned_data["password"])
    except DomainError as exc:
        return _account_page(request, password_form=form, status=form_error(form, exc))
    update_session_auth_hash(request, request.user)
    messages.success(request, _("密码已修改。"))
    return redirect("account")


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _account_page(request, token_form=form, status=400)
    try:
        _token, plaintext = core_services.token_create(
            actor=request.user, name=form.cleaned_data["name"], expires_days=form.cleaned_data["expires_days"]
        )
    except DomainError as exc:
        return _account_page(request, token_form=form, status=form_error(form, exc))
    # Rendered, not redirected: the plaintext must never be stored, not even in the session.
    return _account_page(request, new_token=plaintext, status=201)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = request.user.api_tokens.filter(pk=pk).first()
    if token is None:
        raise Http404(_("未找到该令牌。"))
    try:
        core_services.token_revoke(actor=request.user, token=token)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("令牌“%(name)s”已吊销。") % {"name": token.name})
    return redirect("account")


# --- audit log ---------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_AUDIT)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, object_types=audited_object_types())
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.audit_events_visible(
        request.user,
        action_prefix=filters.get("action", ""),
        object_type=filters.get("object_type", ""),
        object_id=filters.get("object_id", ""),
        actor_id=filters.get("actor", ""),
    )
    page = paginate(request, events)
    page.object_list = describe_events(page.object_list)
    return render(request, "core/audit_list.html", {"form": form, "page": page, "action_hints": ACTION_LABELS})


@require_perm_anywhere(Perm.VIEW_AUDIT)
def audit_history(request: HttpRequest) -> HttpResponse:
    """The per-object history partial (also included server-side by detail pages)."""
    object_type = request.GET.get("object_type", "")[:64]
    object_id = request.GET.get("object_id", "")[:64]
    if not object_type or not object_id:
        raise Http404(_("缺少对象。"))
    return htmx_aware(render(request, "core/_audit_history.html", object_history(request.user, object_type, object_id)))


def object_history(
    user: Any, object_type: str, object_id: str | int, *, limit: int = 10, about_user: int | None = None
) -> dict[str, Any]:
    """Context for core/_audit_history.html: the newest events on one object the user may read
    (for a user account, `about_user` adds the events on its role assignments)."""
    if not scope.has_perm_anywhere(user, Perm.VIEW_AUDIT):
        return {"history_allowed": False}
    if about_user is not None:
        events = selectors.audit_events_visible(user, about_user=about_user)
    else:
        events = selectors.audit_events_visible(user, object_type=object_type, object_id=object_id)
    return {
        "history_allowed": True,
        "history": describe_events(events[:limit]),
        "history_type": object_type,
        "history_id": str(object_id),
    }
