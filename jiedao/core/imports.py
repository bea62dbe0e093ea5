"""Spreadsheet imports: the generic pipeline every register uses.

    upload ──> validate (preview: every bad row and field listed, nothing written)
           ──> commit   (one transaction: all rows or none, or the good rows only)

A register plugs in with a `RegisterSpec`: its columns (Chinese headers, aliases, examples),
`parse_row` (one row -> a value object or a list of errors) and `apply_batch` (write a batch of
parsed rows, returning how many were created and updated). Re-importing a file updates rows
by their natural key instead of duplicating them; that is the spec's business.

Nothing personal is kept in clear on disk. The uploaded file, the staged batches (JSON lines)
and the rejected rows live in `$JIEDAO_DATA_DIR/imports/` as vault files (`core.filevault`:
SM4-GCM under a per-file key wrapped by the keyring), mode 0600, and are read back into memory
only. Inside the vault the staged rows may hold clear identifiers, as the upload beside them does:
a register seals them at commit, once their rows' ids are known (docs/architecture.md, "Imports
at rest"). The upload and the staged batches are deleted when the job is committed, fails or is
cancelled; the rejected rows (for the "download bad rows" file) and the row errors stay until the
retention job (`import_retention`, every hour) removes every file of a job older than
`JIEDAO_IMPORT_RETENTION_HOURS` and any file no job owns. Row errors name the row, the column and
what is wrong; long digit runs in a message (an ID number, a phone, a birth date) are masked.

Progress goes to a small file, not the database: the commit's transaction is open while it runs,
and a reader in another process must still see it move.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import audit, crypto, filevault, scope
from jiedao.core import text as boundary
from jiedao.core.errors import DomainError
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.core.tabular import Cell, Table, TabularError, check_upload, open_table

log = logging.getLogger(__name__)

BATCH = 1000
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
STALE_AFTER_SECONDS = 120
ORPHAN_GRACE_SECONDS = 3600  # a file no job owns yet may be an upload whose transaction is still open
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
    personal: str = ""  # "id_number" / "phone": masked in the bad-rows file for those without reveal


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
    # Rows refused because their key belongs to a record outside the importer's scope, (row, masked
    # key): each tells that the key exists, so the register counts them (RegisterSpec.settle).
    clashes: list[tuple[int, str]] = field(default_factory=list)


class ImportRefused(DomainError):
    """Raised by a register (guard or apply_batch) to refuse the whole import with a message; an
    apply_batch refusal rolls the commit back. `throttled` answers 429 instead of 400."""

    def __init__(self, message: str, *, throttled: bool = False, clashes: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message, field="file", code="throttled" if throttled else "invalid")
        self.status_code = 429 if throttled else 400
        self.clashes = clashes or []  # the clashes met before the refusal, still to be accounted for


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
    row_type: type | None = None  # the dataclass parse_row returns: staged as JSON, rebuilt with row_type(**d)

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

    def guard(self, actor: Any) -> None:
        """Refuse (ImportRefused) an upload or commit this actor may not make now."""

    def settle(self, actor: Any, job: ImportJob, clashes: list[tuple[int, str]], *, written: bool) -> None:
        """After the commit's transaction ended (`written`: committed), outside it: account for the
        rows refused as clashes, so what they told survives a rollback."""


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
    """The uploaded file, encrypted (a vault file)."""
    return import_dir() / job.stored_name


def _label(job: ImportJob, what: str) -> str:
    return f"import-{what}:{job.stored_name}"


def open_upload(job: ImportJob) -> Any:
    """The uploaded file decrypted into memory (raises OSError / VaultError if it is gone or spoilt)."""
    return filevault.open_memory(job_file(job), _label(job, "upload"))


def stage_file(job: ImportJob) -> Path:
    return import_dir() / f"{job.pk}.stage"


def bad_rows_file(job: ImportJob) -> Path:
    return import_dir() / f"{job.pk}.bad"


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
    spec.guard(actor)
    name = boundary.file_name(os.path.basename(getattr(uploaded, "name", "") or "")) or "upload"
    if not name.lower().endswith(ACCEPTED_SUFFIXES):
        raise DomainError(_("只支持 .xlsx 或 .csv 文件。"), field="file")
    if mode not in ImportJob.Mode.values:
        raise DomainError(_("请选择导入方式。"), field="mode")
    size = getattr(uploaded, "size", 0) or 0
    if size == 0:
        raise DomainError(_("上传的文件是空的。"), field="file")
    if size > MAX_UPLOAD_BYTES:
        raise DomainError(_("文件太大：单个文件不能超过 200 MB。"), field="file")
    if hasattr(uploaded, "seek"):
        try:
            check_upload(uploaded, name)  # a broken or bomb-shaped xlsx is refused here, in the request
        except TabularError as exc:
            raise DomainError(str(exc), field="file") from None
    stored = f"{uuid.uuid4().hex}.upload"
    digest = hashlib.sha256()
    with filevault.VaultWriter(import_dir() / stored, f"import-upload:{stored}") as handle:
        for chunk in uploaded.chunks() if hasattr(uploaded, "chunks") else [uploaded.read()]:
            digest.update(chunk)
            handle.write(chunk)
    # If the transaction rolls back, the file belongs to no job: the retention job removes it.
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
    refused: set[int] = field(default_factory=set)  # row numbers the commit refused
    clashes: list[tuple[int, str]] = field(default_factory=list)  # BatchResult.clashes of every batch


def _parsed_rows(
    spec: RegisterSpec, ctx: Any, table: Table, positions: dict[str, int], errors_out: Any, result: PassResult,
    bad_out: Any,
) -> Iterator[tuple[int, Any]]:
    """Parse and check every row; write errors as JSON lines and bad rows to `bad_out`; yield the good ones."""
    headers = {c.field: c.header for c in spec.columns}
    seen: dict[Any, int] = {}
    merged = table.merged_rows if table.merged_rows else None
    wanted = list(positions.items())
    last = max(positions.values(), default=-1)
    for number, cells in table.rows():
        result.total += 1
        problems: list[tuple[str, str]] = []
        if merged is not None and number in merged:
            problems.append(
                ("", _("该行处于合并单元格 %(range)s 中，请取消合并后逐行填写") % {"range": merged[number]})
            )
        width = len(cells)
        if width > last:  # always, for a table's rows: they are padded to its headers
            values = {name: cells[pos] for name, pos in wanted}
        else:
            values = {name: cells[pos] if pos < width else Cell(None) for name, pos in wanted}
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
            bad_out.write(_bad_line(number, cells))
            continue
        result.good += 1
        yield number, parsed


def _estimate_total(job: ImportJob) -> int:
    return job.total_rows or max(1, job.size // 120)


_DIGIT_RUN = re.compile(r"\d{6,}[\dXx]?")


def scrub(message: str) -> str:
    """A message fit to keep and show to anyone: runs of 6+ digits (an ID number, a phone, the
    birth date inside an ID) are masked. Row numbers and limits are shorter and stay."""
    return _DIGIT_RUN.sub(lambda m: "*" * len(m.group()), message)


def _write_error(errors_out: Any, number: int, column: str, message: str) -> None:
    line = {"row": number, "column": column, "message": scrub(str(message))}
    errors_out.write(json.dumps(line, ensure_ascii=False) + "\n")


# --- staged rows: JSON lines in a vault file, never pickle --------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"cannot stage {type(value).__name__}")


def _json_hook(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
    return value


def stage_encode(rows: list[tuple[int, Any]]) -> bytes:
    """One batch as one JSON line: [[row number, [value, ...]], ...], the values in the order of
    the row type's fields (no field names repeated on every row)."""
    # The row objects hold only plain values (text, numbers, dates, lists of ids): their own
    # attribute dicts serialise as they are, without asdict()'s deep copy of every row. A
    # dataclass's instance dict keeps the order its __init__ assigned the fields in.
    payload = [[number, list(vars(parsed).values())] for number, parsed in rows]
    return json.dumps(payload, ensure_ascii=False, default=_json_default).encode() + b"\n"


def stage_decode(spec: RegisterSpec, line: bytes) -> list[tuple[int, Any]]:
    if spec.row_type is None:
        raise TypeError(f"register {spec.key} has no row_type")
    out = []
    for number, values in json.loads(line, object_hook=_json_hook):
        if not isinstance(values, list):  # staged by an older version: the job is validated again
            raise ValueError("staged rows in an older format")
        out.append((number, spec.row_type(*values)))
    return out


# --- rejected rows, kept for the "download bad rows" file ----------------------------------------


def _cell_json(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _bad_line(number: int, cells: list[Cell]) -> bytes:
    return json.dumps({"row": number, "cells": [_cell_json(c.value) for c in cells]}, ensure_ascii=False).encode() + b"\n"


def _read_bad_rows(job: ImportJob) -> tuple[list[str], dict[int, list[Any]]]:
    headers: list[str] = []
    rows: dict[int, list[Any]] = {}
    for line in filevault.lines(bad_rows_file(job), _label(job, "bad")):
        item = json.loads(line)
        if "headers" in item:
            headers = item["headers"]
        else:
            rows[item["row"]] = item["cells"]
    return headers, rows


def _add_bad_rows(job: ImportJob, numbers: set[int]) -> None:
    """Add rows refused at commit to the kept bad rows, read from the upload before it goes."""
    spec = get_spec(job.register)
    try:
        headers, rows = _read_bad_rows(job)
    except (OSError, filevault.VaultError):
        headers, rows = [], {}
    table = open_table(open_upload(job), original_name=job.original_name, sheet_hint=spec.sheet_name)
    try:
        headers = headers or list(table.headers)
        for number, cells in table.rows():
            if number in numbers:
                rows[number] = [_cell_json(c.value) for c in cells]
    finally:
        table.close()
    with filevault.VaultWriter(bad_rows_file(job), _label(job, "bad")) as out:
        out.write(json.dumps({"headers": headers}, ensure_ascii=False).encode() + b"\n")
        for number in sorted(rows):
            out.write(json.dumps({"row": number, "cells": rows[number]}, ensure_ascii=False).encode() + b"\n")


# --- removal --------------------------------------------------------------------------------------


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)


def delete_working_files(job: ImportJob) -> None:
    """The upload and the staged batches: gone once the job is committed, failed or cancelled."""
    if job.stored_name:
        _unlink(job_file(job))
    _unlink(stage_file(job))


def delete_all_files(job: ImportJob) -> None:
    delete_working_files(job)
    for path in (bad_rows_file(job), errors_file(job), progress_file(job)):
        _unlink(path)
    errors_file(job).with_suffix(".tmp").unlink(missing_ok=True)
    progress_file(job).with_suffix(".tmp").unlink(missing_ok=True)


def validate_pass(job: ImportJob) -> PassResult:
    """Read the file once: list every bad row, and stage the good rows, prepared, for the commit.

    The staged batches (JSON lines in an encrypted vault file) spare the commit a second parse
    of the spreadsheet and a second round of encryption; the bad rows are kept the same way for
    the "download bad rows" file, which must still work once the upload is deleted."""
    spec = get_spec(job.register)
    result = PassResult()
    table = open_table(open_upload(job), original_name=job.original_name, sheet_hint=spec.sheet_name)
    try:
        positions = _map_headers(spec, table)
    except TabularError:
        table.close()
        raise
    result.notices = list(table.notices)
    ctx = spec.begin(job.created_by)
    total = _estimate_total(job)
    tmp_errors = errors_file(job).with_suffix(".tmp")
    stage = filevault.VaultWriter(stage_file(job), _label(job, "stage"))
    bad = filevault.VaultWriter(bad_rows_file(job), _label(job, "bad"))
    try:
        bad.write(json.dumps({"headers": list(table.headers)}, ensure_ascii=False).encode() + b"\n")
        with tmp_errors.open("w", encoding="utf-8") as errors_out:
            batch: list[tuple[int, Any]] = []
            for item in _parsed_rows(spec, ctx, table, positions, errors_out, result, bad):
                batch.append(item)
                if len(batch) >= BATCH:
                    stage.write(stage_encode(spec.prepare_batch(ctx, batch)))
                    batch = []
                    write_progress(job, "validate", result.total, total)
            if batch:
                stage.write(stage_encode(spec.prepare_batch(ctx, batch)))
    except BaseException:
        stage.discard()
        bad.discard()
        tmp_errors.unlink(missing_ok=True)
        raise
    finally:
        table.close()
    stage.close()
    bad.close()
    os.replace(tmp_errors, errors_file(job))
    write_progress(job, "validate", result.total, result.total)
    return result


def _staged_batches(job: ImportJob) -> Iterator[list[tuple[int, Any]]]:
    spec = get_spec(job.register)
    for line in filevault.lines(stage_file(job), _label(job, "stage")):
        yield stage_decode(spec, line)


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
            result.clashes.extend(outcome.clashes)
            for number, column, message in outcome.refused:
                result.good -= 1
                result.bad += 1
                result.refused.add(number)
                _write_error(errors_out, number, column, message)
            done += len(batch)
            write_progress(job, "commit", done, job.good_rows)
    return result


class _AbortAll(Exception):
    """Rolls back an all-or-nothing commit that met a bad row."""


def import_validate(job: ImportJob) -> ImportJob:
    """The preview pass: count rows, list every bad row and field, write nothing."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.UPLOADED).update(
        status=ImportJob.Status.VALIDATING, started_at=timezone.now()
    )
    if not claimed:  # cancelled (or already taken) before the background validation started
        job.refresh_from_db()
        return job
    write_progress(job, "validate", 0, _estimate_total(job))
    try:
        result = validate_pass(job)
    except TabularError as exc:
        delete_all_files(job)
        return _finish(job, ImportJob.Status.FAILED, message=str(exc))
    except (OSError, filevault.VaultError):
        log.warning("import %s: the uploaded file cannot be read", job.pk, exc_info=True)
        delete_all_files(job)
        return _finish(job, ImportJob.Status.FAILED, message=_("上传的文件已无法读取，请重新上传。"))
    return _finish(
        job, ImportJob.Status.VALIDATED, result=result,
        message=_("共 %(total)s 行：正确 %(good)s 行，错误 %(bad)s 行。")
        % {"total": result.total, "good": result.good, "bad": result.bad},
    )


def import_commit(*, actor: Any, job: ImportJob) -> ImportJob:
    """Apply the file in ONE transaction: every row or none (all_or_nothing), or the good rows."""
    spec = get_spec(job.register)
    try:
        spec.guard(actor)
    except ImportRefused as exc:  # callers check first (import_check); this is the background's answer
        return _finish(job, job.status, message=exc.message)
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
    errors_path = errors_file(job)
    errors_size = errors_path.stat().st_size if errors_path.exists() else 0
    result: PassResult | None = None
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
        assert result is not None
        spec.settle(actor, job, result.clashes, written=False)
        if result.clashes:
            # Nothing was written, so the rows are not named: a file of candidate numbers would
            # otherwise learn, for free, which one is registered elsewhere. The row-by-row answer
            # comes with the "skip bad rows" way, where every other row is really imported.
            _truncate(errors_path, errors_size)
            return _finish(job, ImportJob.Status.VALIDATED, result=result, message=_(
                "有 %(count)s 行的身份证号已登记在您管辖范围以外的居民名下，整批未导入。请改用“跳过错误行”方式导入，"
                "被拒绝的行会逐行列出；或联系这些居民所在的社区。") % {"count": len(result.clashes)})
        return _finish(job, ImportJob.Status.VALIDATED, result=result,
                       message=_("提交时发现错误行（数据可能已变化），已全部撤销，未写入任何数据。"))
    except ImportRefused as exc:
        _truncate(errors_path, errors_size)
        spec.settle(actor, job, exc.clashes, written=False)
        return _finish(job, ImportJob.Status.VALIDATED, message=exc.message)
    except (OSError, filevault.VaultError, ValueError, TypeError):
        log.warning("import %s: the staged rows cannot be read", job.pk, exc_info=True)
        _unlink(stage_file(job))
        return _finish(job, ImportJob.Status.UPLOADED, message=_("校验结果已失效，请重新校验后再提交。"))
    spec.settle(actor, job, result.clashes, written=True)
    if result.refused:
        try:
            _add_bad_rows(job, result.refused)
        except (OSError, filevault.VaultError, TabularError):
            log.warning("import %s: refused rows not kept for download", job.pk, exc_info=True)
    delete_working_files(job)
    counts = {"created": result.created, "updated": result.updated, "bad": result.bad}
    if result.bad:
        message = _("已导入：新增 %(created)s 行，更新 %(updated)s 行，跳过错误行 %(bad)s 行。") % counts
    else:
        message = _("已导入：新增 %(created)s 行，更新 %(updated)s 行。") % counts
    return _finish(job, ImportJob.Status.COMMITTED, result=result, message=message)


def import_check(*, actor: Any, register_key: str) -> None:
    """Refuse now (ImportRefused, 400/429) an upload or commit the register would refuse later."""
    get_spec(register_key).guard(actor)


def _truncate(path: Path, size: int) -> None:
    """Cut the errors file back to what it held before the commit pass appended to it."""
    if path.exists():
        with path.open("r+b") as handle:
            handle.truncate(size)


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
    _unlink(stage_file(job))
    return _finish(job, ImportJob.Status.UPLOADED, message=_("上次处理中断（服务重启或进程退出），未写入任何数据，可重新校验。"))


CANCELLABLE = (ImportJob.Status.UPLOADED, ImportJob.Status.VALIDATED)


def import_cancel(*, actor: Any, job: ImportJob) -> ImportJob:
    """Give up a job that waits (uploaded or validated): its files are deleted at once. Only the
    uploader (compare-and-set on the status, so a running validation or commit is not cut)."""
    cancelled = ImportJob.objects.filter(pk=job.pk, created_by=actor, status__in=CANCELLABLE).update(
        status=ImportJob.Status.CANCELLED, finished_at=timezone.now(), message=_("已取消，上传的文件已删除。")
    )
    if not cancelled:
        raise DomainError(_("该导入作业当前不能取消（可能已提交或正在处理）。"), field="status")
    delete_all_files(job)
    audit.record(actor=actor, action="core.import.cancel", obj=job, before={"status": job.status},
                 after={"status": ImportJob.Status.CANCELLED})
    job.refresh_from_db()
    return job


def retention_hours() -> int:
    return int(getattr(settings, "JIEDAO_IMPORT_RETENTION_HOURS", 24))


def import_retention(now: datetime | None = None) -> str:
    """The scheduled sweep (hourly): every file of a job created more than the retention period
    ago is deleted (a job still waiting is cancelled; one still running is left to finish), the
    upload and staged rows of finished jobs are deleted, and any file that no job owns."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=retention_hours())
    removed = expired = 0
    running = (ImportJob.Status.VALIDATING, ImportJob.Status.COMMITTING)
    finished = (ImportJob.Status.COMMITTED, ImportJob.Status.FAILED, ImportJob.Status.CANCELLED)
    for job in ImportJob.objects.filter(created_at__lt=cutoff).iterator():
        if job.status in running and not is_stale(job):
            continue
        if job.status not in finished and ImportJob.objects.filter(pk=job.pk, status=job.status).update(
            status=ImportJob.Status.CANCELLED, finished_at=now,
            message=_("超过保留期限（%(hours)s 小时）未提交，已取消，上传的文件已删除。") % {"hours": retention_hours()},
        ):
            expired += 1
        removed += _remove_present(job, everything=True)
    pks: set[str] = set()
    uploads: set[str] = set()
    for pk, stored_name, status in ImportJob.objects.values_list("pk", "stored_name", "status").iterator():
        pks.add(str(pk))
        if status in finished:  # a finished job keeps its errors and bad rows, never its upload or stage
            removed += _remove_present(ImportJob(pk=pk, stored_name=stored_name), everything=False)
        else:
            uploads.add(stored_name)
    grace = time.time() - ORPHAN_GRACE_SECONDS
    spool = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
    for path in Path(spool).iterdir() if spool and Path(spool).is_dir() else ():
        try:  # request uploads a killed process did not get to delete
            if path.is_file() and path.stat().st_mtime < grace:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    for path in import_dir().iterdir():
        head = path.name.split(".")[0]
        owned = head in pks if head.isdigit() else path.name.removesuffix(".tmp") in uploads
        if owned or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < grace:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return f"removed {removed} files, expired {expired} jobs"


def _remove_present(job: ImportJob, *, everything: bool) -> int:
    paths = [stage_file(job)] + ([job_file(job)] if job.stored_name else [])
    if everything:
        paths += [bad_rows_file(job), errors_file(job), progress_file(job)]
    count = 0
    for path in paths:
        if path.exists():
            _unlink(path)
            count += 1
    return count


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


_ID_LIKE = re.compile(r"\d{17}[\dXx]|\d{15}")
_PHONE_LIKE = re.compile(r"(?<!\d)1\d{10}(?!\d)")


def mask_cell(value: Any, kind: str) -> Any:
    """A bad row's cell for someone without the reveal right: an ID or phone column is masked
    whatever it holds (a wrong ID is still most of a person's ID), and an ID- or phone-like
    run of digits anywhere else too."""
    if value is None or value == "":
        return value
    text = str(value)
    if kind:
        return crypto.mask(text, kind)
    text = _ID_LIKE.sub(lambda m: crypto.mask(m.group(), "id_number"), text)
    return _PHONE_LIKE.sub(lambda m: crypto.mask(m.group(), "phone"), text)


def bad_rows_xlsx(job: ImportJob, *, actor: Any) -> bytes:
    """The rows that were not imported, as they were in the file, with the reason per row. ID
    numbers and phones are masked unless `actor` holds the reveal right (the values are kept
    encrypted; the upload itself is gone once the job is committed)."""
    import io

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    reveal = scope.has_perm_anywhere(actor, Perm.REVEAL_PII)
    reasons: dict[int, list[str]] = {}
    for item in read_errors(job):
        label = f"{item['column']}：{item['message']}" if item["column"] else item["message"]
        reasons.setdefault(item["row"], []).append(label)
    spec = get_spec(job.register)
    headers, rows = _read_bad_rows(job)
    kinds: dict[str, str] = {}
    for column in spec.columns:
        for name in (column.header, *column.aliases):
            kinds[name] = column.personal
    column_kinds = [kinds.get(header, "") for header in headers]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(spec.sheet_name)

    def text_cells(values: list[Any]) -> list[Any]:
        # openpyxl writes a string starting with "=" as a live formula: every text goes back as
        # text (a csv upload, or a text cell of an xlsx, may hold "=HYPERLINK(...)")
        out: list[Any] = []
        for value in values:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                out.append(cell)
            else:
                out.append(value)
        return out

    sheet.append(text_cells(["原行号", *headers, "错误原因"]))
    for number in sorted(rows):
        if number not in reasons:
            continue
        cells = rows[number]
        if not reveal:
            cells = [mask_cell(value, column_kinds[i] if i < len(column_kinds) else "") for i, value in enumerate(cells)]
        sheet.append(text_cells([number, *cells, "；".join(reasons[number])]))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- task entry points (jiedao.core.tasks.submit takes dotted paths and plain ids) -------------


def import_validate_by_id(job_id: int) -> ImportJob:
    """Validate the job with this id (the API submits this as a background task)."""
    return import_validate(ImportJob.objects.select_related("created_by").get(pk=job_id))


def import_validate_crashed(job_id: int) -> None:
    """The isolated validation of this job died (memory cap, native abort, timeout): fail the job."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.VALIDATING):
        return
    delete_all_files(job)
    _finish(job, ImportJob.Status.FAILED, message=_(
        "读取文件时超出了内存或时间上限，已停止，未写入任何数据：请检查文件（或把它拆成几份）后重新上传。"))


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
