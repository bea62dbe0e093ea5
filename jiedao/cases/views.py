"""Pages of the case workflow: intake where it happens (a grid worker's phone form, the hotline
operator's form, the residents' public form with no login), the case list and export, the case
detail with the action panel, attachments, and the catalogue administration.

Thin by design, like the org pages: a form parses the input, a selector (reads, scoped by
jiedao.core.scope with Perm.VIEW_CASES) or a service (writes: case_create, case_act — the one
guarded transition function —, case_attach, the catalogue services) does the work. A case out
of the viewer's scope answers 404 exactly like a missing one; a whole page the viewer's roles
lack answers 403; a refused action shows the service's Chinese message with its status
(400 rule, 403 role, 409 someone else was quicker).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from jiedao.cases import forms as case_forms
from jiedao.cases import reading, selectors, services, stuck, workflow
from jiedao.cases.masking import mask_case_text
from jiedao.cases.models import DESCRIPTION_MAX, Case, Category, Source, State
from jiedao.cases.workflow import Action
from jiedao.core import exports, scope
from jiedao.core import limits as limits_
from jiedao.core.errors import ConflictError, DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, htmx_aware
from jiedao.org import selectors as org_selectors
from jiedao.org.site_views import object_history

PICKER_LIMIT = 20
SIMILAR_LIMIT = 5
STEP_LABELS = {"report": gettext_lazy("登记")}
STALE_MESSAGE = gettext_lazy("该事项刚被他人处理，请刷新后重试。")
# The step that moves a case forward, shown first and open; the other allowed actions follow.
PRIMARY_ACTIONS = (Action.ACCEPT, Action.DISPATCH, Action.ACKNOWLEDGE, Action.RESOLVE, Action.DISTRICT_REPLY,
                   Action.VERIFY_PASS, Action.CLOSE, Action.FOLLOW_UP, Action.HAND_OVER)


def require_case_pages(view: Callable) -> Callable:
    """The case pages are for people who see cases somewhere (a place, or a department's)."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.can_view_cases(request.user):
            raise PermissionDenied(_("您没有查看诉求事件的权限。"))
        return view(request, *args, **kwargs)

    return wrapped


def step_label(action: str) -> str:
    if action in STEP_LABELS:
        return str(STEP_LABELS[action])
    return str(Action(action).label) if action in Action.values else action


# --- place picker, suggestions, duplicates (htmx partials of the intake forms) ------------------


@login_required
@require_GET
def place_picker(request: HttpRequest) -> HttpResponse:
    """The place pickers' search: up to 20 active places the field offers the user."""
    field = request.GET.get("field", "")
    if field not in case_forms.PLACE_FIELDS:
        raise Http404(_("缺少字段名。"))
    text = request.GET.get(f"{field}_q", request.GET.get("q", ""))[:64].strip()
    qs = case_forms.places(request.user, field)
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(code__startswith=text))
    results = org_selectors.with_trails(request.user, list(qs.order_by("path")[:PICKER_LIMIT]))
    selected = request.GET.get(field, "")
    if selected.isdigit() and not any(str(n.pk) == selected for n in results):
        chosen = case_forms.places(request.user, field).filter(pk=selected).first()
        if chosen is not None:
            results = [*org_selectors.with_trails(request.user, [chosen]), *results]
    context = {"name": field, "results": results, "selected": selected, "q": text, "limit": PICKER_LIMIT}
    return render(request, "cases/_place_results.html", context)


def _similar_place(request: HttpRequest):
    """The place the intake form currently names (building first), within the user's scope."""
    for field in ("building", "node"):
        raw = request.POST.get(field, "")
        if raw.isdigit():
            node = case_forms.places(request.user, field).filter(pk=raw).first()
            if node is not None:
                return node
    return None


def typed_text(request: HttpRequest) -> tuple[str, str]:
    """The title and description being typed, from the POST body (a description of up to
    DESCRIPTION_MAX characters does not fit in a URL), cut to their limits."""
    return request.POST.get("title", "")[:100], request.POST.get("description", "")[:DESCRIPTION_MAX]


@login_required
@require_POST
def similar(request: HttpRequest) -> HttpResponse:
    """Likely duplicates of what is being typed (same grid, recent, similar words; or the same
    words anywhere in the user's scope within a year). POST: the text can be long."""
    if not scope.has_perm_anywhere(request.user, Perm.REPORT_CASES):
        raise PermissionDenied(_("您没有登记诉求的权限。"))
    node = _similar_place(request)
    title, description = typed_text(request)
    raw_category = request.POST.get("category", "")
    category = Category.objects.filter(pk=raw_category).first() if raw_category.isdigit() else None
    results: list = []
    if node is not None and len(selectors.plain_text(f"{title}{description}")) >= 4:
        def coordinate(name: str) -> float | None:
            try:
                return float(request.POST.get(name, ""))
            except ValueError:
                return None

        results = reading.reader().similar_for_text(request.user, node=node, title=title, text=description,
                                                    category=category, latitude=coordinate("latitude"),
                                                    longitude=coordinate("longitude"), limit=SIMILAR_LIMIT)
    return htmx_aware(render(request, "cases/_similar.html", {"similar": results, "intake": True}))


@login_required
@require_POST
def suggest(request: HttpRequest) -> HttpResponse:
    """Category suggestions for what is being typed: the top 3 with a confidence, and for the
    top one its tier (三事分流) and the unit that would handle it at the chosen place."""
    if not scope.has_perm_anywhere(request.user, Perm.REPORT_CASES):
        raise PermissionDenied(_("您没有登记诉求的权限。"))
    title, description = typed_text(request)
    found = reading.reader().suggest_for_intake(title, description, node=_similar_place(request))
    context = {"found": found, "suggestions": found.items,
               "typed": len(selectors.plain_text(title + description)) >= 2,
               "target": request.POST.get("target", "id_category")[:40]}
    return htmx_aware(render(request, "cases/_suggest.html", context))


@login_required
@require_GET
def households(request: HttpRequest) -> HttpResponse:
    """The household field of the intake form, for the chosen building."""
    form = case_forms.IntakeForm(user=request.user, initial={"building": request.GET.get("building", "")})
    return render(request, "cases/_household_field.html", {"field": form["household"]})


# --- intake -----------------------------------------------------------------------------------


def _intake_context(form: Any, *, mode: str) -> dict[str, Any]:
    return {"form": form, "mode": mode, "suggest_url": reverse("cases:suggest"), "similar_url": reverse("cases:similar")}


def _check_photo(form: Any, field: str = "photo") -> bool:
    """The photo's type and size, before anything is created (the service checks again)."""
    upload = form.cleaned_data.get(field)
    if not upload:
        return True
    try:
        services.sniff_upload(upload)
    except DomainError as exc:
        form.add_error(field, exc.message)
        return False
    return True


@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    """A grid worker's intake form: phone width, building of their own grid, a photo, done."""
    user = request.user
    if not scope.has_perm_anywhere(user, Perm.REPORT_CASES):
        raise PermissionDenied(_("您没有登记诉求的权限。"))
    form = case_forms.IntakeForm(request.POST or None, request.FILES or None, user=user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and _check_photo(form):
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    case = services.case_create(
                        actor=user, source=data["source"], node=data["node"], title=data["title"],
                        description=data["description"], category=data["category"], tier=data["tier"],
                        urgency=data["urgency"], building=data["building"], household=data["household"],
                        latitude=data["latitude"], longitude=data["longitude"], address=data["address"],
                        anonymous=data["anonymous"], reporter_name=data["reporter_name"],
                        reporter_phone=data["reporter_phone"],
                    )
                    if data.get("photo"):
                        services.case_attach(actor=user, case=case, upload=data["photo"])
            except DomainError as exc:
                status = form_error(form, exc, aliases={"upload": "photo"})
            else:
                messages.success(request, _("已登记，编号 %(ticket)s。") % {"ticket": case.ticket})
                return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/intake.html", _intake_context(form, mode="door"), status=status)


@login_required
def case_hotline(request: HttpRequest) -> HttpResponse:
    """The hotline (12345) operator's form: any grid in the operator's scope, the caller's details."""
    user = request.user
    if not selectors.is_desk_staff(user):
        raise PermissionDenied(_("热线登记由社区和街道工作人员使用。"))
    form = case_forms.HotlineForm(request.POST or None, user=user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                case = services.case_create(
                    actor=user, source=Source.HOTLINE, node=data["node"], title=data["title"],
                    description=data["description"], category=data["category"], tier=data["tier"],
                    urgency=data["urgency"], address=data["address"], anonymous=data["anonymous"],
                    reporter_name=data["reporter_name"], reporter_phone=data["reporter_phone"],
                )
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已登记热线来电，编号 %(ticket)s，请告知来电人。") % {"ticket": case.ticket})
                return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/intake.html", _intake_context(form, mode="hotline"), status=status)


# --- list and export ----------------------------------------------------------------------------


def _list_rows(rows: list[selectors.ListRow]) -> list[dict[str, Any]]:
    """The page's rows as plain strings (labels translated once a page, links built from one
    prefix, times in local time): the template's loop only prints them."""
    from jiedao.cases.models import Tier

    states, tiers = {k: str(v) for k, v in State.choices}, {k: str(v) for k, v in Tier.choices}
    marks = {"overdue": _("已超期"), "near": _("即将到期"), "": ""}
    prefix = reverse("cases:detail", args=[0])[:-2]
    out = []
    for r in rows:
        created = timezone.localtime(r.created_at)
        deadline = timezone.localtime(r.deadline_at) if r.deadline_at else None
        out.append({
            "id": r.id, "url": f"{prefix}{r.id}/", "ticket": r.ticket, "title": r.title, "urgent": r.urgency == "urgent",
            "state": r.state, "state_label": states.get(r.state, r.state), "mark": r.deadline,
            "mark_label": marks[r.deadline], "category": r.category or "—", "tier": r.tier,
            "tier_label": tiers.get(r.tier, r.tier), "place": r.place, "handler": r.handler,
            "created": f"{created:%Y-%m-%d %H:%M}", "deadline": f"{deadline:%m-%d %H:%M}" if deadline else "—",
            "estimated": bool(deadline and r.deadline_estimated),
        })
    return out


def _rows_html(rows: list[dict[str, Any]]) -> str:
    """The table body of the list: one string built here rather than a template loop (50 rows ×
    19 variables and 5 conditions was 3.5 ms of the page's CPU; this is a tenth of it). Every
    value is escaped; the labels are translated once a page."""
    label = {k: escape(v) for k, v in (
        ("ticket", _("编号")), ("title", _("标题")), ("state", _("状态")), ("category", _("类别")),
        ("place", _("地点")), ("handler", _("承办")), ("created", _("登记时间")), ("deadline", _("期限")))}
    urgent = f' <span class="badge badge-danger">{escape(_("紧急"))}</span>'
    estimate = (f' <abbr class="badge badge-warn estimate-mark" title="'
                f'{escape(_("期限为估算：该年节假日安排尚未确认录入完整"))}">{escape(_("估"))}</abbr>')
    no_handler = '<span class="muted">—</span>'
    out = []
    for r in rows:
        mark = f' <span class="badge deadline-{r["mark"]}">{escape(r["mark_label"])}</span>' if r["mark"] else ""
        tier = (f' · <span class="tier tier-{escape(r["tier"])}">{escape(r["tier_label"])}</span>'
                if r["tier"] else "")
        out.append(
            f'<tr><td data-label="{label["ticket"]}" class="mono nowrap">{escape(r["ticket"])}</td>'
            f'<td data-label="{label["title"]}"><a href="{escape(r["url"])}">{escape(r["title"])}</a>'
            f'{urgent if r["urgent"] else ""}</td>'
            f'<td data-label="{label["state"]}"><span class="badge state-{escape(r["state"])}">'
            f'{escape(r["state_label"])}</span>{mark}</td>'
            f'<td data-label="{label["category"]}">{escape(r["category"])}{tier}</td>'
            f'<td data-label="{label["place"]}">{escape(r["place"])}</td>'
            f'<td data-label="{label["handler"]}">{escape(r["handler"]) if r["handler"] else no_handler}</td>'
            f'<td data-label="{label["created"]}" class="nowrap">{r["created"]}</td>'
            f'<td data-label="{label["deadline"]}" class="nowrap">{r["deadline"]}{estimate if r["estimated"] else ""}'
            f'</td></tr>\n')
    return mark_safe("".join(out))  # every value above is escaped


@require_case_pages
def case_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = case_forms.CaseFilterForm(request.GET or None, user=user)
    filters = form.filters()
    # The same keyset page as the API: "下一页" carries the cursor; the first page counts (capped).
    cursor = request.GET.get("cursor") or None
    try:
        ids, next_cursor, total, capped = selectors.page_ids(
            user, cursor=cursor, limit=settings.JIEDAO_PAGE_SIZE, count=not cursor, **filters)
    except DomainError:
        cursor = None  # a mangled link: show the first page rather than an error
        ids, next_cursor, total, capped = selectors.page_ids(
            user, limit=settings.JIEDAO_PAGE_SIZE, count=True, **filters)
    rows = _list_rows(selectors.list_rows(ids))
    context = {
        "form": form,
        "rows": rows,
        "rows_html": _rows_html(rows),
        "next_cursor": next_cursor,
        "count": total,
        "count_capped": capped,
        "is_first": not cursor,
        "can_report": scope.has_perm_anywhere(user, Perm.REPORT_CASES),
        "can_hotline": selectors.is_desk_staff(user),
        "query": request.GET.urlencode(),
    }
    return render(request, "cases/list.html", context)


@require_case_pages
@require_POST
def case_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as an export job (reporter phones masked); the file is written in the
    background and downloaded from 我的导出 (core.exports), audited when written."""
    user = request.user
    form = case_forms.CaseFilterForm(request.GET or None, user=user)
    filters = form.filters()
    try:
        exports.export_request(actor=user, register="cases", filters=filters)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("cases:list") + (f"?{request.GET.urlencode()}" if request.GET else ""))
    messages.success(request, _("已开始导出，完成后可在“我的导出”中下载。"))
    return redirect("exports:list")


# --- detail, actions, attachments ------------------------------------------------------------------


def _form_extra(case: Case, action: str) -> dict[str, Any]:
    """What an action's form needs besides the case: the dispatch form's departments, and the one
    the routing rules name (None when no rule matches)."""
    if action != Action.DISPATCH:
        return {}
    return {"departments": selectors.dispatch_departments(case),
            "default_department": services.route(case.category, case.node)}


def _action_forms(user: Any, case: Case, kinds: set[str], bound: Any = None) -> list[case_forms.ActionForm]:
    """One small form per action the table allows this user on this case now (guards applied:
    an action that would be refused is not offered)."""
    result = []
    for action in workflow.allowed_actions(case.state, kinds, current=case, actor=user):
        transition = workflow.find(action, case.state)
        if bound is not None and bound.action == action:
            form = bound
        else:
            form = case_forms.ActionForm(case=case, action=action, transition=transition, **_form_extra(case, action))
        form.label = Action(action).label
        form.note = form.dispatch_note or transition.note
        form.primary = False
        result.append(form)
    primary = next((f for a in PRIMARY_ACTIONS for f in result if f.action == a), None)
    if primary is not None:
        primary.primary = True
        result.remove(primary)
        result.insert(0, primary)
    return result


def _detail_page(request: HttpRequest, case: Case, *, bound_action: case_forms.ActionForm | None = None,
                 attach_form: case_forms.AttachForm | None = None, action_error: str = "",
                 status: int = 200) -> HttpResponse:
    user = request.user
    kinds = services.actor_kinds(user, case)
    action_forms = _action_forms(user, case, kinds, bound_action)
    if bound_action is not None and not any(form is bound_action for form in action_forms):
        # Refused for a reason the panel cannot show on a form (e.g. the role may not do this).
        errors = [*bound_action.non_field_errors(), *(e for field in bound_action for e in field.errors)]
        action_error = action_error or "；".join(str(e) for e in errors)
    # Earlier open cases likely the same problem, on every case page; merging this case into one
    # of them is offered only when the transition table lets this user merge it.
    similar = reading.reader().similar_for_case(user, case, limit=SIMILAR_LIMIT) if not case.merged_into_id else []
    can_merge = any(form.action == Action.MERGE for form in action_forms)
    timeline = list(selectors.case_timeline(case))
    for step in timeline:
        step.label = step_label(step.action)
        if (step.data or {}).get("new_deadline"):
            step.new_deadline = datetime.fromisoformat(step.data["new_deadline"])  # a deferral's new date
    attachments = list(selectors.case_attachments(case))
    can_attach = bool(kinds) and case.state not in (State.CLOSED, State.REJECTED)
    context = {
        "case": case,
        "next_step": stuck.next_step(case),
        "trail": selectors.node_trail(case.building or case.node),
        "mark": selectors.deadline_mark(case),
        "timeline": timeline,
        "photos": [a for a in attachments if a.is_photo],
        "files": [a for a in attachments if not a.is_photo],
        "attachment_count": len(attachments),
        "attachment_limit": services.ATTACHMENTS_PER_CASE,
        "attach_form": attach_form or (case_forms.AttachForm(auto_id="attach-%s")
                                       if can_attach and len(attachments) < services.ATTACHMENTS_PER_CASE else None),
        "action_forms": action_forms,
        "danger_actions": (Action.REJECT, Action.RETURN, Action.VERIFY_FAIL),
        "action_error": action_error,
        "similar": similar,
        "repeat": reading.reader().repeat_links(user, case),
        "can_merge": can_merge,
        "merged": list(case.merged.only("pk", "ticket", "title")),
        **object_history(user, "cases.case", case.pk),
    }
    return render(request, "cases/detail.html", context, status=status)


@require_case_pages
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, selectors.case_get(request.user, pk))


@require_case_pages
@require_POST
def case_act(request: HttpRequest, pk: int) -> HttpResponse:
    """POST one action of the action panel → services.case_act."""
    user = request.user
    case = selectors.case_get(user, pk)
    action = request.POST.get("action", "")
    transition = workflow.find(action, case.state) if action in Action.values else None
    if transition is None:
        # Not in the table for this state: most likely the page was stale (someone acted first).
        stale = action in Action.values and request.POST.get("version", "") != str(case.version)
        message = STALE_MESSAGE if stale else _("当前状态不能执行该操作。")
        return _detail_page(request, case, action_error=message, status=409 if stale else 400)
    form = case_forms.ActionForm(request.POST, case=case, action=action, transition=transition,
                                 **_form_extra(case, action))
    valid = form.is_valid()
    if request.POST.get("version", "") != str(case.version):  # stale first: the page showed an older case
        form.add_error(None, STALE_MESSAGE)
        return _detail_page(request, case, bound_action=form, status=409)
    if not valid:
        return _detail_page(request, case, bound_action=form, status=400)
    params = form.params()
    try:
        if action == Action.MERGE:
            into = selectors.case_by_ticket(user, form.cleaned_data["into"])
            if into is None:
                raise DomainError(_("未找到编号为“%(t)s”的事项，或它不在您的负责范围内。")
                                  % {"t": form.cleaned_data["into"]}, field="into")
            params["into"] = into
        fresh = services.case_act(actor=user, case=case, action=action, **params)
    except DomainError as exc:
        if isinstance(exc, ConflictError):
            form.add_error(None, STALE_MESSAGE)
        else:
            form_error(form, exc)
        return _detail_page(request, selectors.case_get(user, pk), bound_action=form, status=exc.status_code)
    messages.success(request, _("已%(action)s：%(ticket)s，当前状态“%(state)s”。") % {
        "action": Action(action).label, "ticket": fresh.ticket, "state": fresh.get_state_display()})
    if not selectors.cases_visible(user).filter(pk=fresh.pk).exists():
        return redirect("cases:list")  # e.g. a handler returned it: no longer theirs to see
    return redirect("cases:detail", pk=fresh.pk)


@require_case_pages
@require_POST
def case_attach(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(request.user, pk)
    form = case_forms.AttachForm(request.POST, request.FILES, auto_id="attach-%s")
    if not form.is_valid():
        return _detail_page(request, case, attach_form=form, status=400)
    try:
        attachment = services.case_attach(actor=request.user, case=case, upload=form.cleaned_data["upload"])
    except DomainError as exc:
        form_error(form, exc)
        return _detail_page(request, case, attach_form=form, status=exc.status_code)
    messages.success(request, _("已添加附件“%(name)s”。") % {"name": attachment.original_name})
    return redirect(reverse("cases:detail", args=[case.pk]) + "#attachments")


@require_case_pages
@never_cache
def attachment_file(request: HttpRequest, pk: int, attachment_pk: int) -> FileResponse:
    """A case's photo or file, only for those who may see the case (never a public media URL)."""
    attachment = selectors.attachment_get(request.user, pk, attachment_pk)
    inline = attachment.is_photo or attachment.content_type == "application/pdf"
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("附件文件已丢失，请联系系统管理员。")) from None
    response = FileResponse(handle, as_attachment=not inline, filename=attachment.original_name,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- the reporter's phone: revealed for 回访, a repeat caller's earlier cases (htmx partials) -----


@require_case_pages
@require_POST
def reporter_phone_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """The reporter's phone of a case in clear (services.case_reveal_phone: permission, reason,
    audit), answered as the phone row of the case page (htmx) or, without JavaScript, as a small
    page of its own; never cached."""
    case = selectors.case_get(request.user, pk)
    form = case_forms.RevealPhoneForm(request.POST)
    form.is_valid()
    try:
        phone = services.case_reveal_phone(actor=request.user, case=case, reason=form.cleaned_data.get("reason", ""))
    except DomainError as exc:
        status, phone = form_error(form, exc), None
    else:
        status = 200
    context = {"case": case, "revealed_phone": phone, "reveal_phone_form": form}
    template = "cases/_reporter_phone.html" if request.htmx else "cases/reporter_phone.html"
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)
    return htmx_aware(response)


@login_required
@require_POST
def reporter_cases(request: HttpRequest) -> HttpResponse:
    """A repeat caller's earlier cases under the phone field of the intake forms: how many of the
    cases this user can see came from the typed number, and the newest five. POST, so the number
    stays out of URLs and access logs; throttled and audited by services.case_reporter_lookup. An
    incomplete or malformed number answers nothing (the form says what is wrong on submit)."""
    if not scope.has_perm_anywhere(request.user, Perm.REPORT_CASES):
        raise PermissionDenied(_("您没有登记诉求的权限。"))
    phone = request.POST.get("reporter_phone", "")[:32].strip()
    context: dict[str, Any] = {"found": None, "message": ""}
    status = 200
    if phone and not request.POST.get("anonymous"):
        try:
            context["found"] = services.case_reporter_lookup(actor=request.user, phone=phone)
        except DomainError as exc:
            if exc.status_code == 429:
                context["message"], status = exc.message, 429
    response = render(request, "cases/_repeat_caller.html", context, status=status)
    add_never_cache_headers(response)
    return htmx_aware(response)


# --- public forms (no login) ------------------------------------------------------------------

PUBLIC_LIMITS = {"report": (10, 3600), "track": (60, 3600), "suggest": (600, 3600)}


def _client_ip(request: HttpRequest) -> str:
    from jiedao.core.context import current_request

    return current_request().ip_address or request.META.get("REMOTE_ADDR", "") or "unknown"


def _throttled(request: HttpRequest, bucket: str) -> bool:
    """Count one use of `bucket` by the client's address; True once it exceeds the limit
    (settings.JIEDAO_PUBLIC_LIMITS overrides {"report": (uses, seconds), "track": ...}). Counted in
    jiedao.core.limits, shared by every worker process and server."""
    limits = {**PUBLIC_LIMITS, **getattr(settings, "JIEDAO_PUBLIC_LIMITS", {})}
    uses, window = limits[bucket]
    return limits_.hit(f"jiedao:public:{bucket}:{_client_ip(request)}", window) > uses


def _too_many(request: HttpRequest, bucket: str) -> HttpResponse:
    uses, window = {**PUBLIC_LIMITS, **getattr(settings, "JIEDAO_PUBLIC_LIMITS", {})}[bucket]
    minutes = max(window // 60, 1)
    message = _("操作过于频繁：同一网络每 %(m)s 分钟最多提交 %(n)s 次，请稍后再试。如情况紧急，请拨打 12345 热线。") % {
        "m": minutes, "n": uses}
    response = render(request, "public/throttled.html", {"message": message}, status=429)
    response["Retry-After"] = str(window)
    return response


def public_grids(request: HttpRequest) -> HttpResponse:
    """The grid field of the public form, narrowed to the chosen community (htmx)."""
    form = case_forms.PublicReportForm(request.GET)
    return render(request, "public/_grid_field.html", {"field": form["grid"]})


@never_cache
def public_report(request: HttpRequest) -> HttpResponse:
    """Residents report a matter without logging in and get a ticket number to follow it."""
    form = case_forms.PublicReportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if _throttled(request, "report"):
            return _too_many(request, "report")
        status = 400
        if form.is_bot():
            form.add_error(None, _("提交未成功，请稍后重试。"))
        elif form.is_valid() and _check_photo(form):
            data = form.cleaned_data
            node = data["grid"] or data["community"]
            try:
                with transaction.atomic():
                    case = services.case_create(
                        actor=None, source=Source.SELF_REPORT, node=node, title=data["title"],
                        description=data["description"], anonymous=data["anonymous"],
                        reporter_name=data["reporter_name"], reporter_phone=data["reporter_phone"],
                    )
                    if data.get("photo"):
                        services.case_attach(actor=None, case=case, upload=data["photo"], ticket=case.ticket)
            except DomainError as exc:
                status = form_error(form, exc, aliases={"upload": "photo", "node": "community"})
            else:
                request.session["public_ticket"] = case.ticket
                return redirect("cases:public_report_done")
    return render(request, "public/report.html", {"form": form}, status=status)


@never_cache
def public_report_done(request: HttpRequest) -> HttpResponse:
    ticket = request.session.get("public_ticket")
    if not ticket:
        return redirect("cases:public_report")
    return render(request, "public/report_done.html", {"ticket": ticket})


def _public_timeline(case: Case) -> list[dict[str, Any]]:
    """The steps a resident may see: when, what, and which unit — never who or internal notes."""
    steps = []
    for step in case.transitions.order_by("seq"):
        text = step_label(step.action)
        if step.action == Action.DISPATCH:
            unit = (step.data or {}).get("department") or _("社区")
            text = _("派遣至%(unit)s") % {"unit": unit}
        if step.action == Action.FOLLOW_UP:
            text = _("回访评价")
        steps.append({"at": step.created_at, "text": text, "state": State(step.to_state).label})
    return steps


def _track_page(request: HttpRequest, *, form: Any = None, case: Case | None = None, rate_form: Any = None,
                not_found: bool = False, thanks: bool = False, rate_error: str = "", status: int = 200) -> HttpResponse:
    context: dict[str, Any] = {"form": form or case_forms.TrackForm(), "not_found": not_found, "thanks": thanks,
                               "rate_error": rate_error}
    if case is not None:
        main = case.merged_into if case.merged_into_id else None
        transition = workflow.find(Action.FOLLOW_UP, case.state)
        # The resident rates each resolution once: again only after the case was resolved anew.
        rated = case.rated_at is not None and (case.resolved_at is None or case.rated_at >= case.resolved_at)
        can_rate = transition is not None and workflow.Actor.RESIDENT in transition.actors and not rated
        context.update({
            "case": case,
            # Tickets of public cases are published (Open311): the page masks as Open311 does.
            "shown": {"title": mask_case_text(case, case.title), "result": mask_case_text(case, case.result),
                      "rating_comment": mask_case_text(case, case.rating_comment)},
            "main_state": main.get_state_display() if main else "",
            "timeline": _public_timeline(case),
            "rate_form": (rate_form or case_forms.RateForm(initial={"ticket": case.ticket},
                                                           phone_proof=selectors.needs_phone_proof(case)))
            if can_rate else None,
        })
    return render(request, "public/track.html", context, status=status)


@never_cache
def public_track(request: HttpRequest) -> HttpResponse:
    """Follow a case by its ticket (POSTed, so tickets stay out of addresses and logs)."""
    if request.method != "POST":
        return _track_page(request)
    if _throttled(request, "track"):
        return _too_many(request, "track")
    form = case_forms.TrackForm(request.POST)
    if not form.is_valid():
        return _track_page(request, form=form, status=400)
    case = selectors.case_by_ticket_unscoped(form.cleaned_data["ticket"])
    if case is None:
        return _track_page(request, form=form, not_found=True, status=404)
    return _track_page(request, form=form, case=case)


@never_cache
@require_POST
def public_rate(request: HttpRequest) -> HttpResponse:
    """The resident rates the result (services.case_act with actor None and the ticket)."""
    if _throttled(request, "track"):
        return _too_many(request, "track")
    ticket = selectors.normalise_ticket(request.POST.get("ticket", ""))
    case = selectors.case_by_ticket_unscoped(ticket) if ticket else None
    track_form = case_forms.TrackForm(initial={"ticket": ticket})
    if case is None:
        return _track_page(request, form=track_form, not_found=True, status=404)
    rate_form = case_forms.RateForm(request.POST, phone_proof=selectors.needs_phone_proof(case))
    if not rate_form.is_valid():
        return _track_page(request, form=track_form, case=case, rate_form=rate_form, status=400)
    if "phone_tail" in rate_form.fields and not selectors.phone_tail_matches(case, rate_form.cleaned_data["phone_tail"]):
        rate_form.add_error("phone_tail", _("与反映时所留电话的后四位不符。"))
        return _track_page(request, form=track_form, case=case, rate_form=rate_form, status=400)
    try:
        answers = rate_form.cleaned_data
        case = services.case_act(actor=None, ticket=case.ticket, case=case, action=Action.FOLLOW_UP,
                                 contacted=answers["contacted"], solved=answers["solved"], rating=answers["rating"],
                                 comment=answers["comment"])
    except DomainError as exc:
        message = exc.message
        if exc.field == "action":
            message = _("该事项当前为“%(state)s”，办结后才能评价。") % {"state": case.get_state_display()}
        return _track_page(request, form=track_form, case=case, rate_form=rate_form, rate_error=message,
                           status=exc.status_code)
    case = selectors.case_by_ticket_unscoped(case.ticket)
    return _track_page(request, form=track_form, case=case, thanks=True)
