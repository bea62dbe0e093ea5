"""我的导出: the signed-in user's export jobs (core.exports) with their progress, the download of a
finished file and its early deletion. A user sees only their own jobs; another's answers 404.

The list polls itself with htmx (every 2 s, only while a job is queued or running): no script of
our own, nothing inline.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import exports
from jiedao.core.errors import DomainError
from jiedao.core.models import ExportJob
from jiedao.core.views import htmx_aware, paginate, render_error

PENDING = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)


def attachment_response(job: ExportJob, chunks: object) -> StreamingHttpResponse:
    """The decrypted file streamed as an xlsx attachment, never cached (pages and API)."""
    response = StreamingHttpResponse(chunks, content_type=exports.XLSX)
    response["Content-Length"] = str(job.size)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(job.file_name)}"
    add_never_cache_headers(response)
    return response


@login_required
def export_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, exports.export_jobs_of(request.user), per_page=20)
    jobs = [exports.export_mark_interrupted(job) if exports.is_stale(job) else job for job in page.object_list]
    context = {"page": page, "jobs": jobs, "pending": any(job.status in PENDING for job in jobs),
               "retention_hours": exports.retention_hours()}
    template = "core/_export_jobs.html" if request.htmx else "core/exports.html"
    response = htmx_aware(render(request, template, context))
    add_never_cache_headers(response)
    return response


@login_required
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = exports.export_job_get(request.user, pk)
    try:
        chunks = exports.export_download(actor=request.user, job=job)
    except DomainError as exc:
        return render_error(request, exc)
    return attachment_response(job, chunks)


@login_required
@require_POST
def export_delete(request: HttpRequest, pk: int) -> HttpResponse:
    job = exports.export_job_get(request.user, pk)
    try:
        exports.export_delete(actor=request.user, job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("导出文件已删除。"))
    return redirect("exports:list")
