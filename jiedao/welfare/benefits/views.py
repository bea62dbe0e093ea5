"""Staff pages of benefits and subsidies: the programme catalogue, grants (list with filters and
the due-review list, detail with history and actions, forms), payments, the civil-affairs xlsx
import and the totals per programme × period × community with their xlsx.

Thin: a form parses, a selector (scoped by jiedao.core.scope) reads, a service (which checks
scope again and writes the audit event) writes. A record outside the viewer's scope answers 404.
Residents show by name and masked ID number only.
"""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import filevault, imports, scope, tasks
from jiedao.core.errors import DomainError
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.core.tabular import TabularError
from jiedao.core.views import form_error, htmx_aware, paginate, render_error, require_perm_anywhere
from jiedao.people import selectors as people_selectors
from jiedao.people.exporting import ImportErrorLines
from jiedao.welfare.benefits import importer, selectors, services, workflow
from jiedao.welfare.benefits.forms import (
    GrantActionForm,
    GrantEditForm,
    GrantFilterForm,
    GrantForm,
    ImportCommitForm,
    PaymentFilterForm,
    PaymentForm,
    PaymentImportForm,
    ProgrammeForm,
    TotalsForm,
)
from jiedao.welfare.benefits.workflow import GrantAction
from jiedao.welfare.models.benefits import GrantState

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERRORS_PER_PAGE = 50
INLINE_COMMIT_ROWS = 2000
QUEUED_COMMIT_SECONDS = 30


def _can_manage(user: Any) -> bool:
    return scope.has_perm_anywhere(user, Perm.MANAGE_WELFARE)


# --- the overview's panel ---------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_WELFARE)
def panel(request: HttpRequest) -> HttpResponse:
    """The benefits panel of the welfare overview (loaded into welfare/index.html): this year's
    figures as the work reports say them, and the grants due for review within 30 days."""
    today = timezone.localdate()
    start = today.replace(month=1, day=1)
    rows = selectors.totals(request.user, start=start, end=today, granularity="year")
    return render(request, "welfare/benefits/_panel.html", {
        "rows": rows, "start": start, "end": today,
        "due": selectors.due_review_count(request.user, today),
    })


# --- programmes ---------------------------------------------------------------------------------


def _require_catalogue_page(user: Any) -> None:
    if not services.may_edit_catalogue(user):
        raise PermissionDenied(_("救助补贴项目目录由街道统一维护，您没有维护的权限。"))


@require_perm_anywhere(Perm.VIEW_WELFARE)
def programme_list(request: HttpRequest) -> HttpResponse:
    return render(request, "welfare/benefits/programme_list.html", {
        "programmes": selectors.programmes(), "can_manage": services.may_edit_catalogue(request.user)})


@require_perm_anywhere(Perm.MANAGE_WELFARE)
@require_POST
def programme_seed(request: HttpRequest) -> HttpResponse:
    _require_catalogue_page(request.user)
    n = services.programme_seed_defaults(actor=request.user)
    messages.success(request, _("已载入默认项目 %(n)s 个。") % {"n": n})
    return redirect("welfare:benefits_programmes")


@require_perm_anywhere(Perm.MANAGE_WELFARE)
def programme_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require_catalogue_page(request.user)
    programme = selectors.programme_get(pk) if pk else None
    initial = {}
    if programme is not None:
        initial = {name: getattr(programme, name) for name in ProgrammeForm.base_fields}
    form = ProgrammeForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                if programme is None:
                    programme = services.programme_create(actor=request.user, **form.cleaned_data)
                else:
                    services.programme_update(actor=request.user, programme=programme, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存项目“%(name)s”。") % {"name": programme.name})
                return redirect("welfare:benefits_programmes")
    return render(request, "welfare/benefits/programme_form.html", {"form": form, "programme": programme},
                  status=status)


# --- grants -------------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_WELFARE)
def grant_list(request: HttpRequest) -> HttpResponse:
    form = GrantFilterForm(request.GET or None, user=request.user)
    filters = form.filters()
    qs = selectors.grant_list(request.user, today=timezone.localdate(), **filters)
    return render(request, "welfare/benefits/grant_list.html", {
        "form": form, "page": paginate(request, qs), "can_manage": _can_manage(request.user),
        "today": timezone.localdate(), "due": bool(filters.get("due_within") is not None),
    })


@require_perm_anywhere(Perm.MANAGE_WELFARE)
def grant_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    q = (request.GET.get("q") or "").strip()[:40]
    residents = selectors.residents_for_grant(user, q)
    chosen = request.POST.get("resident") or request.GET.get("resident")
    if chosen and chosen.isdigit() and all(str(r.pk) != chosen for r in residents):
        residents.insert(0, selectors.resident_for_grant(user, chosen))  # 404 when out of scope
    form = GrantForm(request.POST or None, residents=residents, initial={"resident": chosen} if chosen else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                resident = selectors.resident_for_grant(user, d["resident"])
                grant = services.grant_create(
                    actor=user, programme=selectors.programme_get(d["programme"]), resident=resident,
                    starts_on=d["starts_on"], ends_on=d["ends_on"], amount=d["amount"], persons=d["persons"],
                    next_review_on=d["next_review_on"], notes=d["notes"])
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已登记救助补贴资格。"))
                return redirect("welfare:benefits_grant", pk=grant.pk)
    return render(request, "welfare/benefits/grant_form.html", {"form": form, "q": q, "residents": residents},
                  status=status)


def _grant_page(request: HttpRequest, grant: Any, *, failed: GrantActionForm | None = None,
                payment_form: PaymentForm | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    kinds = services.grant_actor_kinds(user, grant)
    actions = []
    for action in workflow.allowed_actions(grant.state, kinds, current=grant, actor=user):
        form = failed if failed is not None and failed.data.get("action") == action else \
            GrantActionForm(initial={"action": action})
        actions.append({"action": action, "label": GrantAction(action).label, "row": workflow.find(action, grant.state),
                        "form": form})
    steps = list(selectors.grant_steps(grant))
    for step in steps:
        step.label = GrantAction(step.action).label
    payments = selectors.payment_list(user, grant=grant.pk)
    can_pay = bool(kinds) and grant.state != "suspended"
    return render(request, "welfare/benefits/grant_detail.html", {
        "grant": grant, "actions": actions, "steps": steps, "payments": payments[:60],
        "payment_count": payments.count(), "can_manage": bool(kinds), "can_pay": can_pay,
        "payment_form": payment_form or PaymentForm(initial={"month": timezone.localdate().replace(day=1),
                                                             "amount": grant.amount, "persons": grant.persons}),
        "today": timezone.localdate(),
    }, status=status)


@login_required
def grant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _grant_page(request, selectors.grant_get(request.user, pk))


@login_required
def grant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    grant = selectors.grant_get(request.user, pk)
    if not services.grant_actor_kinds(request.user, grant):
        raise PermissionDenied(_("您没有修改该资格的权限。"))
    form = GrantEditForm(request.POST or None, initial={name: getattr(grant, name) for name in services.GRANT_EDITABLE})
    if grant.state == GrantState.ENDED:  # an ended grant keeps its end date
        form.fields["ends_on"].disabled = True
        form.fields["ends_on"].help_text = _("该资格已停发退出，结束日期不能修改")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            changes = dict(form.cleaned_data)
            if not changes.get("starts_on"):
                changes.pop("starts_on", None)
            try:
                services.grant_update(actor=request.user, grant=grant, **changes)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("welfare:benefits_grant", pk=grant.pk)
    return render(request, "welfare/benefits/grant_edit.html", {"form": form, "grant": grant}, status=status)


@login_required
@require_POST
def grant_act(request: HttpRequest, pk: int) -> HttpResponse:
    grant = selectors.grant_get(request.user, pk)
    form = GrantActionForm(request.POST)
    if not form.is_valid():
        return _grant_page(request, grant, failed=form, status=400)
    d = form.cleaned_data
    try:
        services.grant_act(actor=request.user, grant=grant, action=d["action"], reason=d["reason"],
                           next_review_on=d["next_review_on"])
    except DomainError as exc:
        return _grant_page(request, selectors.grant_get(request.user, pk), failed=form,
                           status=form_error(form, exc, {"action": None}))
    messages.success(request, _("已%(action)s。") % {"action": GrantAction(d["action"]).label})
    return redirect("welfare:benefits_grant", pk=grant.pk)


@login_required
@require_POST
def payment_new(request: HttpRequest, pk: int) -> HttpResponse:
    grant = selectors.grant_get(request.user, pk)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return _grant_page(request, grant, payment_form=form, status=400)
    try:
        services.payment_record(actor=request.user, grant=grant, **form.cleaned_data)
    except DomainError as exc:
        return _grant_page(request, grant, payment_form=form, status=form_error(form, exc, {"grant": None}))
    messages.success(request, _("已登记发放。"))
    return redirect("welfare:benefits_grant", pk=grant.pk)


# --- payments -----------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_WELFARE)
def payment_list(request: HttpRequest) -> HttpResponse:
    form = PaymentFilterForm(request.GET or None, user=request.user)
    qs = selectors.payment_list(request.user, **form.filters())
    return render(request, "welfare/benefits/payment_list.html", {
        "form": form, "page": paginate(request, qs), "can_manage": _can_manage(request.user)})


# --- totals -------------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_WELFARE)
def totals(request: HttpRequest) -> HttpResponse:
    form = TotalsForm(request.GET or None, user=request.user)
    values = form.values()
    rows = selectors.totals(request.user, **values)
    if request.GET.get("format") == "xlsx":
        return FileResponse(io.BytesIO(_totals_xlsx(rows, values)), as_attachment=True,
                            filename=_("救助补贴发放统计.xlsx"), content_type=XLSX)
    query = request.GET.copy()
    query["format"] = "xlsx"
    return render(request, "welfare/benefits/totals.html", {
        "form": form, "rows": rows, "values": values, "xlsx_url": "?" + query.urlencode()})


def _totals_xlsx(rows: list[selectors.TotalRow], values: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("发放统计")
    sheet.append([_("救助补贴发放统计（%(start)s 至 %(end)s）") % {"start": values["start"], "end": values["end"]}])
    headers = [_("项目"), _("期间"), _("社区（村）"), _("人次"), _("人数"), _("户数"), _("发放金额（元）"), _("人均补差（元）"),
               _("发放笔数"), _("报告口径")]
    sheet.append(headers)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        for item in [row, *row.details]:
            sheet.append([row.programme.name, row.period_label, item.community or _("合计"), item.person_times,
                          item.persons, item.households, item.amount, item.per_capita, item.payments,
                          item.headline if item.subtotal else ""])
            sheet.cell(row=sheet.max_row, column=7).number_format = "#,##0.00"
            sheet.cell(row=sheet.max_row, column=8).number_format = "#,##0.00"
    for letter, width in zip("ABCDEFGHIJ", (14, 16, 16, 10, 10, 10, 16, 14, 10, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- import -------------------------------------------------------------------------------------


def _jobs(user: Any) -> Any:
    return people_selectors.import_jobs(user, (importer.KEY,))  # private to the uploader


def _job(request: HttpRequest, pk: int) -> ImportJob:
    job = people_selectors.import_job_get(request.user, pk, (importer.KEY,))
    if imports.is_stale(job):
        job = imports.import_mark_interrupted(job)
    return job


def _import_page(request: HttpRequest, form: PaymentImportForm | None = None, status: int = 200) -> HttpResponse:
    return render(request, "welfare/benefits/import.html", {
        "form": form or PaymentImportForm(), "jobs": _jobs(request.user)[:20],
        "spec": imports.get_spec(importer.KEY)}, status=status)


@require_perm_anywhere(Perm.MANAGE_WELFARE)
def import_index(request: HttpRequest) -> HttpResponse:
    return _import_page(request)


@require_perm_anywhere(Perm.MANAGE_WELFARE)
def import_template(request: HttpRequest) -> HttpResponse:
    data = imports.template_xlsx(imports.get_spec(importer.KEY))
    return FileResponse(io.BytesIO(data), as_attachment=True, filename=_("民政发放表导入模板.xlsx"), content_type=XLSX)


def _validate(job: ImportJob) -> None:
    tasks.submit_isolated("jiedao.core.imports.import_validate_by_id", job.pk,
                          on_crash="jiedao.core.imports.import_validate_crashed")


@require_perm_anywhere(Perm.MANAGE_WELFARE)
@require_POST
def import_upload(request: HttpRequest) -> HttpResponse:
    form = PaymentImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, form, status=400)
    try:
        job = imports.import_upload(actor=request.user, register_key=importer.KEY, uploaded=form.cleaned_data["file"],
                                    mode=form.cleaned_data["mode"])
    except DomainError as exc:
        return _import_page(request, form, status=form_error(form, exc))
    _validate(job)
    return redirect("welfare:benefits_import_job", pk=job.pk)


def _queued(job: ImportJob) -> bool:
    age = (timezone.now() - job.created_at).total_seconds()
    return job.status == ImportJob.Status.UPLOADED and not job.message and age < imports.STALE_AFTER_SECONDS


def _job_page(request: HttpRequest, job: ImportJob, *, commit_form: ImportCommitForm | None = None,
              status: int = 200) -> HttpResponse:
    since = request.GET.get("queued", "")
    commit_queued = (job.status == ImportJob.Status.VALIDATED and since.isdigit()
                     and 0 <= time.time() - int(since) < QUEUED_COMMIT_SECONDS)
    running = job.status in (ImportJob.Status.VALIDATING, ImportJob.Status.COMMITTING) or _queued(job) or commit_queued
    progress = imports.read_progress(job)
    total = max(int(progress.get("total") or 0), 1)
    done = min(int(progress.get("done") or 0), total)
    errors = Paginator(ImportErrorLines(job), ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "job": job, "running": running, "errors": errors,
        "progress": {"done": done, "total": total, "percent": done * 100 // total},
        "can_commit": job.status == ImportJob.Status.VALIDATED and job.good_rows > 0 and not commit_queued,
        "can_cancel": job.status in imports.CANCELLABLE and not running and job.created_by_id == request.user.pk,
        "poll_url": reverse("welfare:benefits_import_job", args=[job.pk]) + (f"?{urlencode({'queued': since})}"
                                                                             if commit_queued else ""),
        "commit_form": commit_form or ImportCommitForm(initial={"mode": job.mode}),
        "interrupted": job.status == ImportJob.Status.UPLOADED and not _queued(job),
        "has_bad_rows": job.bad_rows > 0 and job.status in (ImportJob.Status.VALIDATED, ImportJob.Status.COMMITTED),
        "links": {
            "validate": reverse("welfare:benefits_import_validate", args=[job.pk]),
            "commit": reverse("welfare:benefits_import_commit", args=[job.pk]),
            "bad_rows": reverse("welfare:benefits_import_bad_rows", args=[job.pk]),
            "cancel": reverse("welfare:benefits_import_cancel", args=[job.pk]),
            "home": reverse("welfare:benefits_import"), "home_label": _("返回导入页"),
            "restart_label": _("返回导入页，下载模板后重新上传"), "resume_place": _("导入发放表"),
            "done": [(reverse("welfare:benefits_payments"), _("查看发放记录")),
                     (reverse("welfare:benefits_totals"), _("查看发放统计"))],
        },
    }
    template = "includes/import_job_body.html" if request.htmx else "welfare/benefits/import_job.html"
    return htmx_aware(render(request, template, context, status=status))


@require_perm_anywhere(Perm.MANAGE_WELFARE)
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    return _job_page(request, _job(request, pk))


@require_perm_anywhere(Perm.MANAGE_WELFARE)
@require_POST
def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    form = ImportCommitForm(request.POST)
    if not form.is_valid():
        return _job_page(request, job, commit_form=form, status=400)
    try:
        job = imports.import_set_mode(actor=request.user, job=job, mode=form.cleaned_data["mode"])
        if not (job.status == ImportJob.Status.VALIDATED and job.good_rows > 0):
            raise DomainError(_("该导入作业当前不能提交（状态：%(status)s）。") % {"status": job.get_status_display()},
                              field="mode")
        if job.mode == ImportJob.Mode.ALL_OR_NOTHING and job.bad_rows:
            raise DomainError(
                _("文件中有 %(n)s 行错误，“全部成功才导入”方式下不能提交：请改正后重新上传，或改为“只导入正确的行”。")
                % {"n": job.bad_rows}, field="mode")
        imports.import_check(actor=request.user, register_key=job.register)
        if job.good_rows > INLINE_COMMIT_ROWS:
            tasks.submit("jiedao.core.imports.import_commit_by_id", job.pk, request.user.pk)
            return redirect(reverse("welfare:benefits_import_job", args=[job.pk]) + f"?queued={int(time.time())}")
        job = imports.import_commit(actor=request.user, job=job)
    except DomainError as exc:
        job.refresh_from_db()
        return _job_page(request, job, commit_form=form, status=form_error(form, exc, {"status": "mode"}))
    return redirect("welfare:benefits_import_job", pk=job.pk)


@require_perm_anywhere(Perm.MANAGE_WELFARE)
@require_POST
def import_validate(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job.status != ImportJob.Status.UPLOADED or _queued(job):
        return render_error(request, DomainError(_("该导入作业当前不需要重新校验。")))
    _validate(job)
    return redirect("welfare:benefits_import_job", pk=job.pk)


@require_perm_anywhere(Perm.MANAGE_WELFARE)
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    try:
        imports.import_cancel(actor=request.user, job=job)
    except DomainError as exc:
        return render_error(request, exc)
    return redirect("welfare:benefits_import_job", pk=job.pk)


@require_perm_anywhere(Perm.MANAGE_WELFARE)
def import_bad_rows(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job.status not in (ImportJob.Status.VALIDATED, ImportJob.Status.COMMITTED) or not job.bad_rows:
        raise Http404(_("该导入作业没有错误行。"))
    try:
        data = imports.bad_rows_xlsx(job, actor=request.user)
    except (OSError, TabularError, filevault.VaultError):
        return render_error(request, DomainError(_("原上传文件已无法读取，请重新上传。")))
    return FileResponse(io.BytesIO(data), as_attachment=True, filename=f"{job.pk}-错误行.xlsx", content_type=XLSX)
