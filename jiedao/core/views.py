"""The small helpers every app's views share: pagination, turning a service's DomainError into a
form error with its HTTP status, page-level permission checks, and showing audit events.

Views stay thin: parse input with a form, call one selector or service, render. The pages that
used to live here (home, my account, the audit log) read org's data and are in
jiedao/org/site_views.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.core import scope, sealed
from jiedao.core.errors import DomainError

# --- shared helpers -----------------------------------------------------------------------------


def paginate(request: HttpRequest, queryset: Any, per_page: int | None = None) -> Page:
    """One page of `queryset` (settings.JIEDAO_PAGE_SIZE rows); bad page numbers clamp."""
    paginator = Paginator(queryset, per_page or settings.JIEDAO_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def form_error(form: forms.Form, exc: DomainError, aliases: dict[str, str | None] | None = None) -> int:
    """Show a service's refusal on the form field it names; return the HTTP status to answer."""
    field = (aliases or {}).get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, exc.message)
    return exc.status_code


def require_perm_anywhere(perm: str) -> Callable:
    """Whole pages a role lacks answer 403 (objects out of scope answer 404, see core.scope)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not scope.has_perm_anywhere(request.user, perm):
                raise PermissionDenied(_("您没有访问此页面的权限。"))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def render_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """A refused action that has no form to show it on (e.g. a revoke button)."""
    template = "403.html" if exc.status_code == 403 else "core/error.html"
    return render(request, template, {"message": exc.message}, status=exc.status_code)


def htmx_aware(response: HttpResponse) -> HttpResponse:
    """Pages that answer a full page or an htmx partial from one URL must not share a cache entry."""
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- audit log ----------------------------------------------------------------------------------

ACTION_LABELS = {
    "org.node.create": gettext_lazy("新建组织节点"),
    "org.node.update": gettext_lazy("修改组织节点"),
    "org.department.create": gettext_lazy("新建部门"),
    "org.user.create": gettext_lazy("新建用户"),
    "org.user.update": gettext_lazy("修改用户"),
    "org.user.set_password": gettext_lazy("设置密码"),
    "org.role.assign": gettext_lazy("绑定角色"),
    "org.role.revoke": gettext_lazy("撤销角色"),
    "core.token.create": gettext_lazy("创建 API 令牌"),
    "core.token.revoke": gettext_lazy("吊销 API 令牌"),
}


def audited_object_types() -> list[tuple[str, str]]:
    """(object_type, Chinese name) for every model of our apps, for the audit filter."""
    skip = {"core.auditevent", "core.auditchainhead"}
    return [
        (model._meta.label_lower, str(model._meta.verbose_name))
        for config in apps.get_app_configs()
        if config.name.startswith("jiedao.")
        for model in config.get_models()
        if model._meta.label_lower not in skip
    ]


def describe_events(events: Any) -> list[Any]:
    """Attach a readable action name and the changed fields to each event for display."""
    type_names = dict(audited_object_types())
    rows = list(events)
    for event in rows:
        event.action_label = ACTION_LABELS.get(event.action, "")
        event.type_label = type_names.get(event.object_type, event.object_type)
        # Masks narrowed and birth dates cut to the year, also in events written before (sealed).
        before, after = sealed.scrub_snapshot(event.before) or {}, sealed.scrub_snapshot(event.after) or {}
        event.changes = [(key, before.get(key), after.get(key)) for key in dict.fromkeys([*before, *after])]
    return rows


def _database_busy(exc: BaseException | None) -> bool:
    """Whether an uncaught error is the database refusing to wait any longer for a lock (SQLite's
    busy timeout, PostgreSQL's lock timeout): nothing was written, and trying again will do."""
    from django.db import OperationalError

    text = str(exc).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in text or "lock timeout" in text)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a database too busy to take the request's write answers 503 (retry in a few
    seconds; the request's transaction was rolled back) in the page's or the API's form; any
    other uncaught error is Django's plain 500 page."""
    import sys

    from django.http import JsonResponse
    from django.template import loader
    from django.views import defaults

    if not _database_busy(sys.exc_info()[1]):
        return defaults.server_error(request)
    message = _("系统正忙：数据库正被其他操作占用，您这次的操作没有保存。请过几秒再试。")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message, "field": None, "code": "busy"}, status=503)
    else:
        response = HttpResponse(loader.get_template("503.html").render({"message": message}), status=503)
    response["Retry-After"] = "5"
    return response
