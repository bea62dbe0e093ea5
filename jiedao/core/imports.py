"""Spreadsheet imports: the generic pipeline every register uses.

    upload ──> validate (preview: every bad row and field listed, nothing written)
           ──> commit   (one transaction: all rows or none, or the good rows only)

A register plugs in with a `RegisterSpec`: its columns (Chinese headers, aliases, examples),
`parse_row` (one row -> a value object or a list of errors) and `apply_batch` (write a batch of
parsed rows, returning how many were created and updated). Re-importing a file updates rows
by their natural key instead of duplicating them; that is the spec's business.

Files live in `$JIEDAO_DATA_DIR/imports/` (mode 0600) until the job finishes. Progress goes to
a small file, not the database: the commit's transaction is open while it runs, and a reader in
another process must still see it move.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import audit
from jiedao.core.errors import DomainError
from jiedao.core.models import ImportJob
from jiedao.core.tabular import Cell, Table, TabularError, open_table

log = logging.getLogger(__name__)

BATCH = 1000
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
STALE_AFTER_SECONDS = 120
ACCEPTED_SUFFIXES = (".xlsx", ".csv")


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    example: str = ""
    help: str = ""
    text: bool = False  # written as text in the template (ID numbers must not become numbers)


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, message)


class RowInvalid(Exception):
    """Raised by parse_row with every problem found in the row."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors  # (column header, message)


class RegisterSpec:
    """What a register tells the pipeline. Subclasses set the class attributes and methods."""

    key: str = ""
    label: str = ""
    sheet_name: str = ""
    columns: tuple[Column, ...] = ()
    permission: str = ""
    duplicate_column: str = ""  # the header named when a natural key repeats inside one file

    def begin(self, actor: Any) -> Any:
        """Per-run context (lookup tables, caches). Called once per pass."""
        return None

    def parse_row(self, ctx: Any, row: int, values: dict[str, Cell]) -> Any:
        raise NotImplementedError

    def row_key(self, parsed: Any) -> Any:
        """Natural key used to refuse duplicates inside one file (None = no check)."""
        return None

    def prepare_batch(self, ctx: Any, rows: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        """Work done once, at validation, on good rows (e.g. encryption), kept for the commit."""
        return rows

    def apply_batch(self, ctx: Any, actor: Any, job: ImportJob, rows: list[tuple[int, Any]]) -> BatchResult:
        """Write a batch; rows the database refuses (e.g. owned outside scope) come back in `refused`."""
        raise NotImplementedError


REGISTERS: dict[str, RegisterSpec] = {}


def register(spec: RegisterSpec) -> RegisterSpec:
    REGISTERS[spec.key] = spec
    return spec


def get_spec(key: str) -> RegisterSpec:
    try:
        return REGISTERS[key]
    except KeyError:
        raise DomainError(_("未知的登记簿“%(register)s”。") % {"register": key}, field="register") from None


# --- files ------------------------------------------------------------------------------------


def import_dir() -> Path:
    path = Path(settings.DATA_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def job_file(job: ImportJob) -> Path:
    return import_dir() / job.stored_name


def errors_file(job: ImportJob) -> Path:
    return import_dir() / f"{job.pk}.errors.jsonl"


def progress_file(job: ImportJob) -> Path:
    return import_dir() / f"{job.pk}.progress.json"


def write_progress(job: ImportJob, phase: str, done: int, total: int) -> None:
    path = progress_file(job)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"phase": phase, "done": done, "total": total, "at": time.time()}))
    os.replace(tmp, path)


def read_progress(job: ImportJob) -> dict[str, Any]:
    try:
        return json.loads(progress_file(job).read_text())
    except (OSError, ValueError):
        return {"phase": "", "done": 0, "total": job.total_rows, "at": 0}


def is_stale(job: ImportJob) -> bool:
    """A running job whose worker stopped reporting (the process died mid-way)."""
    if job.status not in (ImportJob.Status.VALIDATING, ImportJob.Status.COMMITTING):
        return False
    return time.time() - read_progress(job).get("at", 0) > STALE_AFTER_SECONDS


def read_errors(job: ImportJob, *, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    path = errors_file(job)
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index < offset:
                continue
            if limit is not None and len(out) >= limit:
                break
            out.append(json.loads(line))
    return out


# --- the pipeline -----------------------------------------------------------------------------


@transaction.atomic
def import_upload(*, actor: Any, register_key: str, uploaded: Any, mode: str) -> ImportJob:
    """Store an uploaded file and create its job (validation runs next, maybe in the background)."""
    spec = get_spec(register_key)
    name = os.path.basename(getattr(uploaded, "name", "") or "upload")
    if not name.lower().endswith(ACCEPTED_SUFFIXES):
        raise DomainError(_("只支持 .xlsx 或 .csv 文件。"), field="file")
    if mode not in ImportJob.Mode.values:
        raise DomainError(_("请选择导入方式。"), field="mode")
    size = getattr(uploaded, "size", 0) or 0
    if size == 0:
        raise DomainError(_("上传的文件是空的。"), field="file")
    if size > MAX_UPLOAD_BYTES:
        raise DomainError(_("文件太大：单个文件不能超过 200 MB。"), field="file")
    stored = f"{uuid.uuid4().hex}{Path(name).suffix.lower()}"
    target = import_dir() / stored
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        for chunk in uploaded.chunks() if hasattr(uploaded, "chunks") else [uploaded.read()]:
            digest.update(chunk)
            handle.write(chunk)
    job = ImportJob.objects.create(
        register=spec.key, original_name=name[:200], stored_name=stored, size=size,
        sha256=digest.hexdigest(), mode=mode, created_by=actor,
    )
    audit.record(actor=actor, action="core.import.upload", obj=job,
                 after={"register": spec.key, "file": job.original_name, "sha256": job.sha256, "mode": mode})
    return job


def _map_headers(spec: RegisterSpec, table: Table) -> dict[str, int]:
    positions: dict[str, int] = {}
    lookup: dict[str, str] = {}
    for column in spec.columns:
        for name in (column.header, *column.aliases):
            lookup[name] = column.field
    for index, header in enumerate(table.headers):
        field_name = lookup.get(header)
        if field_name and field_name not in positions:
            positions[field_name] = index
    missing = [c.header for c in spec.columns if c.required and c.field not in positions]
    if missing:
        known = _("、").join(h for h in table.headers if h) or _("（无）")
        raise TabularError(
            _("缺少必填列：%(missing)s。文件中的表头为：%(headers)s。请使用下载的模板，或检查文件编码是否正确。")
            % {"missing": _("、").join(missing), "headers": known}
        )
    ignored = [h for h in table.headers if h and h not in lookup]
    if ignored:
        table.notices.append(_("已忽略无法识别的列：%(columns)s。") % {"columns": _("、").join(ignored)})
    return positions


@dataclass
class PassResult:
    total: int = 0
    good: int = 0
    bad: int = 0
    created: int = 0
    updated: int = 0
    notices: list[str] = field(default_factory=list)


def _parsed_rows(
    spec: RegisterSpec, ctx: Any, table: Table, positions: dict[str, int], errors_out: Any, result: PassResult
) -> Iterator[tuple[int, Any]]:
    """Parse and check every row; write errors as JSON lines; yield the good ones."""
    headers = {c.field: c.header for c in spec.columns}
    seen: dict[Any, int] = {}
    for number, cells in table.rows():
        result.total += 1
        problems: list[tuple[str, str]] = []
        if number in table.merged_rows:
            problems.append(
                ("", _("该行处于合并单元格 %(range)s 中，请取消合并后逐行填写") % {"range": table.merged_rows[number]})
            )
        values = {name: cells[pos] if pos < len(cells) else Cell(None) for name, pos in positions.items()}
        for name, cell in values.items():
            if cell.is_formula:
                problems.append((headers[name], _("单元格是公式，请复制后“粘贴为数值”")))
        parsed = None
        if not problems:
            try:
                parsed = spec.parse_row(ctx, number, values)
            except RowInvalid as exc:
                problems.extend(exc.errors)
        if parsed is not None and not problems:
            key = spec.row_key(parsed)
            if key is not None:
                first = seen.get(key)
                if first is not None:
                    problems.append((spec.duplicate_column, _("与第 %(row)s 行重复") % {"row": first}))
                else:
                    seen[key] = number
        if problems:
            result.bad += 1
            for column, message in problems:
                _write_error(errors_out, number, column, message)
            continue
        result.good += 1
        yield number, parsed


def _estimate_total(job: ImportJob, path: Path) -> int:
    return job.total_rows or max(1, path.stat().st_size // 120)


def stage_file(job: ImportJob) -> Path:
    return import_dir() / f"{job.pk}.stage"


def _write_error(errors_out: Any, number: int, column: str, message: str) -> None:
    errors_out.write(json.dumps({"row": number, "column": column, "message": message}, ensure_ascii=False) + "\n")


def validate_pass(job: ImportJob) -> PassResult:
    """Read the file once: list every bad row, and stage the good rows, prepared, for the commit.

    The staged batches (pickles in the private data directory) spare the commit a second parse
    of the spreadsheet and a second round of encryption."""
    spec = get_spec(job.register)
    path = job_file(job)
    result = PassResult()
    table = open_table(path, original_name=job.original_name, sheet_hint=spec.sheet_name)
    try:
        positions = _map_headers(spec, table)
    except TabularError:
        table.close()
        raise
    result.notices = list(table.notices)
    ctx = spec.begin(job.created_by)
    total = _estimate_total(job, path)
    tmp_errors = errors_file(job).with_suffix(".tmp")
    tmp_stage = stage_file(job).with_suffix(".tmp")
    fd = os.open(tmp_stage, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with tmp_errors.open("w", encoding="utf-8") as errors_out, os.fdopen(fd, "wb") as stage:
        batch: list[tuple[int, Any]] = []
        for item in _parsed_rows(spec, ctx, table, positions, errors_out, result):
            batch.append(item)
            if len(batch) >= BATCH:
                pickle.dump(spec.prepare_batch(ctx, batch), stage, protocol=pickle.HIGHEST_PROTOCOL)
                batch = []
                write_progress(job, "validate", result.total, total)
        if batch:
            pickle.dump(spec.prepare_batch(ctx, batch), stage, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp_errors, errors_file(job))
    os.replace(tmp_stage, stage_file(job))
    write_progress(job, "validate", result.total, result.total)
    return result


def _staged_batches(job: ImportJob) -> Iterator[list[tuple[int, Any]]]:
    with stage_file(job).open("rb") as stage:
        while True:
            try:
                yield pickle.load(stage)
            except EOFError:
                return


def commit_pass(job: ImportJob) -> PassResult:
    """Write the staged good rows, batch by batch, inside the caller's transaction."""
    spec = get_spec(job.register)
    actor = job.created_by
    ctx = spec.begin(actor)
    result = PassResult(total=job.total_rows, good=job.good_rows, bad=job.bad_rows, notices=list(job.notices))
    done = 0
    with errors_file(job).open("a", encoding="utf-8") as errors_out:
        for batch in _staged_batches(job):
            outcome = spec.apply_batch(ctx, actor, job, batch)
            result.created += outcome.created
            result.updated += outcome.updated
            for number, column, message in outcome.refused:
                result.good -= 1
                result.bad += 1
                _write_error(errors_out, number, column, message)
            done += len(batch)
            write_progress(job, "commit", done, job.good_rows)
    return result


class _AbortAll(Exception):
    """Rolls back an all-or-nothing commit that met a bad row."""


def import_validate(job: ImportJob) -> ImportJob:
    """The preview pass: count rows, list every bad row and field, write nothing."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATING, started_at=timezone.now())
    write_progress(job, "validate", 0, _estimate_total(job, job_file(job)))
    try:
        result = validate_pass(job)
    except TabularError as exc:
        return _finish(job, ImportJob.Status.FAILED, message=str(exc))
    return _finish(
        job, ImportJob.Status.VALIDATED, result=result,
        message=_("共 %(total)s 行：正确 %(good)s 行，错误 %(bad)s 行。")
        % {"total": result.total, "good": result.good, "bad": result.bad},
    )


def import_commit(*, actor: Any, job: ImportJob) -> ImportJob:
    """Apply the file in ONE transaction: every row or none (all_or_nothing), or the good rows."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATED).update(
        status=ImportJob.Status.COMMITTING, started_at=timezone.now()
    )
    if not claimed:
        raise DomainError(_("该导入作业当前不能提交（可能已提交或正在处理）。"), field="status")
    job.refresh_from_db()
    if job.mode == ImportJob.Mode.ALL_OR_NOTHING and job.bad_rows:
        _finish(job, ImportJob.Status.VALIDATED, message=_("文件中有错误行：“全部成功才导入”方式下不能提交，请改正后重新上传。"))
        raise DomainError(_("文件中有错误行，不能按“全部成功才导入”方式提交。"), field="mode")
    write_progress(job, "commit", 0, job.total_rows)
    try:
        with transaction.atomic():
            result = commit_pass(job)
            if job.mode == ImportJob.Mode.ALL_OR_NOTHING and result.bad:
                raise _AbortAll
            audit.record(
                actor=actor, action="core.import.commit", obj=job,
                after={"register": job.register, "file": job.original_name, "sha256": job.sha256,
                       "created": result.created, "updated": result.updated, "skipped": result.bad},
            )
    except _AbortAll:
        return _finish(job, ImportJob.Status.VALIDATED, result=result,
                       message=_("提交时发现错误行（数据可能已变化），已全部撤销，未写入任何数据。"))
    except (OSError, pickle.UnpicklingError):
        return _finish(job, ImportJob.Status.UPLOADED, message=_("校验结果已失效，请重新校验后再提交。"))
    counts = {"created": result.created, "updated": result.updated, "bad": result.bad}
    if result.bad:
        message = _("已导入：新增 %(created)s 行，更新 %(updated)s 行，跳过错误行 %(bad)s 行。") % counts
    else:
        message = _("已导入：新增 %(created)s 行，更新 %(updated)s 行。") % counts
    return _finish(job, ImportJob.Status.COMMITTED, result=result, message=message)


def _finish(job: ImportJob, status: str, *, result: PassResult | None = None, message: str = "") -> ImportJob:
    changes: dict[str, Any] = {"status": status, "message": message[:500], "finished_at": timezone.now()}
    if result is not None:
        changes.update(total_rows=result.total, good_rows=result.good, bad_rows=result.bad,
                       created_rows=result.created, updated_rows=result.updated, notices=result.notices)
    ImportJob.objects.filter(pk=job.pk).update(**changes)
    job.refresh_from_db()
    return job


def import_mark_interrupted(job: ImportJob) -> ImportJob:
    """A job whose process died: its transaction was rolled back, so it can be validated again."""
    if not is_stale(job):
        return job
    return _finish(job, ImportJob.Status.UPLOADED, message=_("上次处理中断（服务重启或进程退出），未写入任何数据，可重新校验。"))


# --- spreadsheets handed back to the user ------------------------------------------------------


def template_xlsx(spec: RegisterSpec) -> bytes:
    """A template with Chinese headers (required ones marked *), one example row and a notes
    sheet. Identifier columns are formatted as text so Excel does not round ID numbers."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = spec.sheet_name
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FDE9D9")
    for index, column in enumerate(spec.columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.header + ("*" if column.required else ""))
        cell.font = bold
        if column.required:
            cell.fill = required_fill
        example = sheet.cell(row=2, column=index, value=column.example or None)
        if column.text:
            example.number_format = "@"
            for row in range(3, 1003):
                sheet.cell(row=row, column=index).number_format = "@"
        sheet.column_dimensions[cell.column_letter].width = max(12, min(40, len(column.example or column.header) * 2 + 4))
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "必填", "说明", "示例"])
    for cell in notes[1]:
        cell.font = bold
    for column in spec.columns:
        notes.append([column.header, "是" if column.required else "", column.help, column.example])
    notes.append([])
    notes.append(["第 2 行是示例，导入前请删除或覆盖。只导入“" + spec.sheet_name + "”工作表；不要合并单元格，不要使用公式。"])
    notes.column_dimensions["C"].width = 60
    notes.column_dimensions["D"].width = 36
    for row in notes.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def bad_rows_xlsx(job: ImportJob) -> bytes:
    """The rows that were not imported, as they were in the file, with the reason per row."""
    import io

    from openpyxl import Workbook

    reasons: dict[int, list[str]] = {}
    for item in read_errors(job):
        label = f"{item['column']}：{item['message']}" if item["column"] else item["message"]
        reasons.setdefault(item["row"], []).append(label)
    spec = get_spec(job.register)
    table = open_table(job_file(job), original_name=job.original_name, sheet_hint=spec.sheet_name)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(spec.sheet_name)
    sheet.append(["原行号", *table.headers, "错误原因"])
    for number, cells in table.rows():
        if number in reasons:
            sheet.append([number, *[c.value for c in cells], "；".join(reasons[number])])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- task entry points (jiedao.core.tasks.submit takes dotted paths and plain ids) -------------


def import_validate_by_id(job_id: int) -> ImportJob:
    """Validate the job with this id (the API submits this as a background task)."""
    return import_validate(ImportJob.objects.select_related("created_by").get(pk=job_id))


def import_commit_by_id(job_id: int, actor_id: int) -> ImportJob:
    """Commit the job with this id on behalf of the user with `actor_id` (a background task)."""
    from django.contrib.auth import get_user_model

    actor = get_user_model().objects.get(pk=actor_id)
    return import_commit(actor=actor, job=ImportJob.objects.select_related("created_by").get(pk=job_id))


def import_set_mode(*, actor: Any, job: ImportJob, mode: str) -> ImportJob:
    """Change how a validated job will be committed (the preview often decides it): only the
    uploader, only while the job waits for its commit (compare-and-set on the status)."""
    if mode not in ImportJob.Mode.values:
        raise DomainError(_("请选择导入方式。"), field="mode")
    if mode == job.mode:
        return job
    changed = ImportJob.objects.filter(pk=job.pk, created_by=actor, status=ImportJob.Status.VALIDATED).update(
        mode=mode, updated_at=timezone.now()
    )
    if not changed:
        raise DomainError(_("该导入作业当前不能更改导入方式（可能已提交或正在处理）。"), field="mode")
    audit.record(actor=actor, action="core.import.mode", obj=job, before={"mode": job.mode}, after={"mode": mode})
    job.refresh_from_db()
    return job
