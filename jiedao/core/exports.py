"""Exports of filtered lists to xlsx, as background jobs (`ExportJob`), audited.

    export_request (the page or API request: permission, reveal right and reason checked, 202)
        ──> export_run   (a background task: the rows streamed into an encrypted file, progress kept)
        ──> export_download (the requester only, decrypted as it is sent, audited)
        ──> export_retention (the file deleted JIEDAO_EXPORT_RETENTION_HOURS after it was written)

A register plugs in with an `ExportKind` (registered in its app's `ready()`, since core imports no
higher app): who may export, and `rows(actor, filters, reveal)` returning the scoped queryset and
the columns. The filters are stored as the list's selector arguments (objects by their id) and the
rows are chosen with the requester's scope when the job runs — seconds after the request, the
same as if the request itself had written the file.

Personal identifiers are exported masked; a user with the reveal permission may ask for clear
values, stating a reason: the export then holds only the rows the reveal permission covers and
its audit event (`<register>.export_revealed`, written when the file is complete, with the
number of rows) keeps the reason.

Nothing is written in clear on disk: the xlsx is built by a small streaming writer (`XlsxStream`,
inline strings, no temporary files, memory flat in the number of rows) straight into a vault file
(`core.filevault`: SM4-GCM, 0600) in `$JIEDAO_DATA_DIR/exports/`. Strings are always strings in
the file (a value starting with "=" is never a formula) and characters XML cannot carry are
dropped.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import audit, filevault, tasks
from jiedao.core.errors import DomainError, PermissionError_, ThrottledError
from jiedao.core.models import ExportJob

log = logging.getLogger(__name__)

# A user's jobs not yet finished: more are refused (429), so one person cannot fill the workers.
MAX_PENDING_PER_USER = 3
# A running job writes its progress at least this often; silent for longer, its process died.
PROGRESS_EVERY_ROWS = 1000
STALE_AFTER_SECONDS = 300
# A job nobody picked up in this long (its process restarted before the thread ran) is failed.
QUEUED_LIMIT = timedelta(hours=1)
ORPHAN_GRACE_SECONDS = 3600
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportColumn:
    header: str
    value: Callable[[Any], Any]
    width: int = 14
    text: bool = False  # kept as text in Excel (ID numbers, phones, codes): the cell is formatted "@"


# --- the xlsx writer ------------------------------------------------------------------------------

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PNS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# XML 1.0 cannot carry these (nor can Excel show them): dropped from every string.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = datetime(1899, 12, 30)
# Cell styles (index into cellXfs below).
_BOLD, _DATE, _DATETIME, _TEXT = 1, 2, 3, 4
_STYLES = (
    f'{_HEAD}<styleSheet xmlns="{_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


def _letters(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref: str, value: Any, text: bool) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, datetime):
        moment = timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
        serial = (moment - _EPOCH) / timedelta(days=1)
        return f'<c r="{ref}" s="{_DATETIME}"><v>{serial!r}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}" s="{_DATE}"><v>{(value - _EPOCH.date()).days}</v></c>'
    style = f' s="{_TEXT}"' if text else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{escape(_ILLEGAL.sub("", str(value)))}</t></is></c>'


class XlsxStream:
    """One sheet of rows written as an xlsx into `out` (anything with `write(bytes)`, e.g. a vault
    writer): a zip written forwards only, each row encoded as it comes, nothing kept but a buffer."""

    def __init__(self, out: Any, *, title: str, columns: list[ExportColumn]) -> None:
        self.columns = columns
        self._letters = [_letters(i) for i in range(len(columns))]
        self._zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=5)
        sheet_name = escape(_ILLEGAL.sub("", re.sub(r"[\[\]:*?/\\]", " ", title))[:31] or "Sheet1", {'"': "&quot;"})
        self._zip.writestr("[Content_Types].xml", (
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '</Types>'))
        self._zip.writestr("_rels/.rels", (
            f'{_HEAD}<Relationships xmlns="{_PNS}"><Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'))
        self._zip.writestr("xl/workbook.xml", (
            f'{_HEAD}<workbook xmlns="{_NS}" xmlns:r="{_RNS}"><sheets>'
            f'<sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        self._zip.writestr("xl/_rels/workbook.xml.rels", (
            f'{_HEAD}<Relationships xmlns="{_PNS}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
            '</Relationships>'))
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._sheet = self._zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        cols = "".join(f'<col min="{i}" max="{i}" width="{c.width}" customWidth="1"/>'
                       for i, c in enumerate(columns, start=1))
        header = "".join(
            f'<c r="{self._letters[i]}1" s="{_BOLD}" t="inlineStr"><is><t>{escape(c.header)}</t></is></c>'
            for i, c in enumerate(columns)
        )
        self._buffer: list[str] = [
            f'{_HEAD}<worksheet xmlns="{_NS}"><sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData><row r="1">{header}</row>'
        ]
        self.rows = 0

    def append(self, obj: Any) -> None:
        number = self.rows + 2
        cells = "".join(_cell(f"{self._letters[i]}{number}", column.value(obj), column.text)
                        for i, column in enumerate(self.columns))
        self._buffer.append(f'<row r="{number}">{cells}</row>')
        self.rows += 1
        if len(self._buffer) >= 500:
            self._flush()

    def _flush(self) -> None:
        self._sheet.write("".join(self._buffer).encode())
        self._buffer = []

    def close(self) -> None:
        self._buffer.append("</sheetData></worksheet>")
        self._flush()
        self._sheet.close()
        self._zip.close()


def write_xlsx_bytes(*, title: str, columns: list[ExportColumn], rows: Iterable[Any]) -> bytes:
    """A small sheet in memory (tests, small documents)."""
    import io

    buffer = io.BytesIO()
    stream = XlsxStream(buffer, title=title, columns=columns)
    for row in rows:
        stream.append(row)
    stream.close()
    return buffer.getvalue()


def export_file_name(stem: str) -> str:
    return f"{stem}-{timezone.localtime():%Y%m%d-%H%M}.xlsx"


def record_export(*, actor: Any, register: str, filters: dict[str, Any], count: int, revealed: bool, reason: str = "",
                  job: ExportJob | None = None) -> None:
    after = {"filters": filters, "rows": count, "revealed": revealed}
    if job is not None:
        after["job"] = job.pk
    audit.record(actor=actor, action=f"{register}.export" + ("_revealed" if revealed else ""), object_type=register,
                 object_id=str(job.pk) if job is not None else "", after=after, reason=reason)


# --- the registers that can be exported ------------------------------------------------------------


@dataclass(frozen=True)
class ExportKind:
    """One exportable list. `rows(actor, filters, reveal)` answers (queryset, columns): the
    queryset already scoped to the actor (and, with reveal, narrowed to the rows the reveal
    permission covers); `filters` are the list selector's arguments as stored on the job."""

    key: str  # the audit register, e.g. "people.resident"
    title: str  # the sheet's title and the file name's stem
    allowed: Callable[[Any], bool]  # may this user export the list at all (page and download)
    rows: Callable[[Any, dict[str, Any], bool], tuple[Any, list[ExportColumn]]]
    # (actor, reason) -> the cleaned reason, raising DomainError/PermissionError_; None: no clear export.
    reveal_check: Callable[..., str] | None = None
    reveal_allowed: Callable[[Any], bool] | None = None  # still holds the reveal right (download)


KINDS: dict[str, ExportKind] = {}


def register(kind: ExportKind) -> ExportKind:
    if kind.key in KINDS:
        raise ValueError(f"export {kind.key!r} is registered twice")
    KINDS[kind.key] = kind
    return kind


def get_kind(key: str) -> ExportKind:
    try:
        return KINDS[key]
    except KeyError:
        raise DomainError(_("没有这种导出。"), field="register") from None


def encode_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """A selector's arguments as JSON: objects by their id, empty values dropped."""
    return {k: (v.pk if hasattr(v, "pk") else v) for k, v in filters.items() if v not in ("", None, False)}


# --- files ----------------------------------------------------------------------------------------


def export_dir() -> Path:
    path = Path(settings.DATA_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def job_file(job: ExportJob) -> Path:
    return export_dir() / job.stored_name


def _label(job: ExportJob) -> str:
    return f"export:{job.pk}:{job.stored_name}"


def _unlink(job: ExportJob) -> int:
    if not job.stored_name:
        return 0
    path = job_file(job)
    existed = path.exists()
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)
    return int(existed)


def retention_hours() -> int:
    return int(getattr(settings, "JIEDAO_EXPORT_RETENTION_HOURS", 24))


# --- services -------------------------------------------------------------------------------------


def export_request(*, actor: Any, register: str, filters: dict[str, Any], reveal: bool = False, reason: str = "",
                   audit_filters: dict[str, Any] | None = None) -> ExportJob:
    """Queue an export of the list `register` with the list's `filters` (selector arguments).

    Checked now, as the synchronous export did: the list permission (403), and for clear values
    the reveal permission and a reason (the register's own check). The job runs in the background
    (`tasks.submit`: a worker thread or the queue, never the request's thread); `audit_filters`
    (the filters with searched numbers masked) go into the audit event when the file is written."""
    kind = get_kind(register)
    if not kind.allowed(actor):
        raise PermissionError_(_("您没有导出该列表的权限。"))
    reason = (reason or "").strip()
    if reveal:
        if kind.reveal_check is None:
            raise DomainError(_("该列表没有可导出的明文信息。"), field="reveal")
        reason = kind.reveal_check(actor=actor, reason=reason)
    else:
        reason = ""
    pending = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
    with transaction.atomic():
        if ExportJob.objects.filter(created_by=actor, status__in=pending).count() >= MAX_PENDING_PER_USER:
            raise ThrottledError(
                _("您已有 %(n)s 个导出正在进行，请等它们完成后再导出。") % {"n": MAX_PENDING_PER_USER})
        stored = encode_filters(filters)
        job = ExportJob.objects.create(
            register=kind.key, title=kind.title, filters=stored,
            audit_filters=audit_filters if audit_filters is not None else stored,
            reveal=bool(reveal), reason=reason, created_by=actor,
        )
    tasks.submit("jiedao.core.exports.export_run_by_id", job.pk)
    job.refresh_from_db()  # eager tasks (tests, JIEDAO_TASKS=eager) have finished it already
    return job


def _progress(job: ExportJob, done: int) -> None:
    ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(done_rows=done,
                                                                                updated_at=timezone.now())


def _fail(job: ExportJob, message: str) -> None:
    ExportJob.objects.filter(pk=job.pk, status__in=(ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)).update(
        status=ExportJob.Status.FAILED, message=message[:500], finished_at=timezone.now(), updated_at=timezone.now())


def export_run(job: ExportJob) -> ExportJob:
    """Write the job's file (the background task). Claims the job (queued → running, compare-and-
    set, so a message delivered twice writes once), streams the rows into a vault file with
    progress every PROGRESS_EVERY_ROWS rows, then marks it done and writes the audit event."""
    now = timezone.now()
    if not ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.QUEUED).update(
            status=ExportJob.Status.RUNNING, started_at=now, updated_at=now,
            stored_name=f"{job.pk}-{uuid.uuid4().hex}.xlsx.vault"):
        job.refresh_from_db()
        return job
    job.refresh_from_db()
    actor = job.created_by
    try:
        kind = get_kind(job.register)
        if not actor.is_active or not kind.allowed(actor):
            raise PermissionError_(_("您已没有导出该列表的权限。"))
        queryset, columns = kind.rows(actor, job.filters, job.reveal)
        total = queryset.count()
        ExportJob.objects.filter(pk=job.pk).update(total_rows=total, updated_at=timezone.now())
        with filevault.VaultWriter(job_file(job), _label(job)) as out:
            counting = _Counting(out)
            stream = XlsxStream(counting, title=job.title, columns=columns)
            last = time.monotonic()
            for obj in queryset.iterator(chunk_size=2000):
                stream.append(obj)
                if stream.rows % PROGRESS_EVERY_ROWS == 0 or time.monotonic() - last > 2:
                    _progress(job, stream.rows)
                    last = time.monotonic()
            stream.close()
        with transaction.atomic():
            finished = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING).update(
                status=ExportJob.Status.DONE, done_rows=stream.rows, total_rows=max(total, stream.rows),
                size=counting.size, file_name=export_file_name(job.title), finished_at=timezone.now(),
                updated_at=timezone.now(),
            )
            if finished:
                record_export(actor=actor, register=job.register, filters=job.audit_filters, count=stream.rows,
                              revealed=job.reveal, reason=job.reason, job=job)
        if not finished:  # marked interrupted or expired meanwhile: its file goes
            _unlink(job)
    except DomainError as exc:
        _unlink(job)
        _fail(job, exc.message)
    except ObjectDoesNotExist:  # a node or category of the filters was deleted meanwhile
        _unlink(job)
        _fail(job, _("筛选条件中的组织或类别已不存在，请重新筛选后导出。"))
    except Exception:
        log.exception("export job %s failed", job.pk)
        _unlink(job)
        _fail(job, _("导出失败。请重新导出；如果再次失败，请联系系统管理员。"))
    job.refresh_from_db()
    return job


class _Counting:
    """Counts the bytes of the plain xlsx on their way into the vault (the download's length)."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def export_run_by_id(job_id: int) -> ExportJob:
    """Task entry point (jiedao.core.tasks.submit takes dotted paths and plain ids)."""
    return export_run(ExportJob.objects.select_related("created_by").get(pk=job_id))


def is_stale(job: ExportJob, now: datetime | None = None) -> bool:
    """A running job whose worker stopped reporting (its process died mid-way)."""
    now = now or timezone.now()
    return job.status == ExportJob.Status.RUNNING and (now - job.updated_at).total_seconds() > STALE_AFTER_SECONDS


def export_mark_interrupted(job: ExportJob) -> ExportJob:
    _fail(job, _("导出没有完成（服务重启或进程退出），请重新导出。"))
    _unlink(job)
    job.refresh_from_db()
    return job


def export_job_get(actor: Any, pk: int) -> ExportJob:
    """The actor's own job; another user's answers 404 like a missing one (a stalled one is marked)."""
    job = ExportJob.objects.filter(pk=pk, created_by=actor).first() if getattr(actor, "pk", None) else None
    if job is None:
        raise Http404(_("没有找到该导出。"))
    if is_stale(job):
        job = export_mark_interrupted(job)
    return job


def export_jobs_of(actor: Any) -> Any:
    """The actor's export jobs, newest first (a user sees only their own)."""
    return ExportJob.objects.filter(created_by=actor).order_by("-id")


def export_download(*, actor: Any, job: ExportJob) -> Iterator[bytes]:
    """The job's file, decrypted record by record as it is sent; only the requester (404 for
    anyone else), only while they still may export the list (and, for clear values, still hold
    the reveal right). Each download is audited (`core.export.download`)."""
    if job.created_by_id != getattr(actor, "pk", None):
        raise Http404(_("没有找到该导出。"))
    if job.status != ExportJob.Status.DONE:
        raise DomainError(_("该导出还没有完成，或文件已过期删除。"), field="job")
    kind = get_kind(job.register)
    if not kind.allowed(actor) or (job.reveal and kind.reveal_allowed is not None and not kind.reveal_allowed(actor)):
        raise PermissionError_(_("您已没有导出该列表的权限。"))
    path = job_file(job)
    if not path.exists():
        raise DomainError(_("该导出还没有完成，或文件已过期删除。"), field="job")
    chunks = filevault.chunks(path, _label(job))
    first = next(chunks)  # opens and checks the file before anything is sent or audited
    with transaction.atomic():
        now = timezone.now()
        ExportJob.objects.filter(pk=job.pk, downloaded_at__isnull=True).update(downloaded_at=now, updated_at=now)
        audit.record(actor=actor, action="core.export.download", obj=job,
                     after={"register": job.register, "rows": job.done_rows, "revealed": job.reveal})

    def stream() -> Iterator[bytes]:
        yield first
        yield from chunks

    return stream()


def export_delete(*, actor: Any, job: ExportJob) -> ExportJob:
    """The requester deletes a finished job's file now rather than at the end of the retention."""
    if job.created_by_id != getattr(actor, "pk", None):
        raise Http404(_("没有找到该导出。"))
    if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
        raise DomainError(_("导出正在进行，完成后才能删除。"), field="job")
    with transaction.atomic():
        if ExportJob.objects.filter(pk=job.pk, status=job.status).update(
                status=ExportJob.Status.EXPIRED, filters={}, updated_at=timezone.now(),
                message=_("文件已删除。")):
            audit.record(actor=actor, action="core.export.delete", obj=job, before={"status": job.status},
                         after={"status": ExportJob.Status.EXPIRED})
    _unlink(job)
    job.refresh_from_db()
    return job


def export_retention(now: datetime | None = None) -> str:
    """The scheduled sweep (every 15 minutes): the file of every job finished more than the
    retention period ago is deleted and the job marked expired (its search text forgotten);
    stalled and never-started jobs are failed; files that no live job owns are deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=retention_hours())
    removed = expired = 0
    stale_before = now - timedelta(seconds=STALE_AFTER_SECONDS)
    for job in ExportJob.objects.filter(status=ExportJob.Status.RUNNING, updated_at__lt=stale_before):
        export_mark_interrupted(job)
    ExportJob.objects.filter(status=ExportJob.Status.QUEUED, created_at__lt=now - QUEUED_LIMIT).update(
        status=ExportJob.Status.FAILED, finished_at=now, updated_at=now,
        message=_("导出长时间没有开始（服务重启），请重新导出。"))
    for job in ExportJob.objects.filter(status=ExportJob.Status.DONE, finished_at__lt=cutoff):
        if ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.DONE).update(
                status=ExportJob.Status.EXPIRED, filters={}, updated_at=now,
                message=_("超过保留期限（%(hours)s 小时），文件已删除。") % {"hours": retention_hours()}):
            expired += 1
        removed += _unlink(job)
    # Old failed jobs keep no search text either.
    ExportJob.objects.filter(status=ExportJob.Status.FAILED, finished_at__lt=cutoff).exclude(filters={}).update(
        filters={})
    live = set(ExportJob.objects.filter(status__in=(ExportJob.Status.RUNNING, ExportJob.Status.DONE))
               .values_list("stored_name", flat=True))
    grace = time.time() - ORPHAN_GRACE_SECONDS
    for path in export_dir().iterdir():
        if path.name.removesuffix(".tmp") in live or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < grace:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return f"removed {removed} files, expired {expired} jobs"
