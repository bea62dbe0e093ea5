"""Nothing personal in clear on disk: an import's files are encrypted, deleted when the job ends
(and by the retention job), staged as JSON lines (never pickle), its bad-rows file masked for
those without the reveal right, and the data directory private (0600 files, 0700 directories)."""

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jiedao.core import filevault, imports
from jiedao.core.models import ImportJob
from jiedao.core.validators import id_number_check_char
from jiedao.env import private_data_dir
from jiedao.people import importers  # (also registers the specs)
from tests.people.test_import import HEADERS

ROOT = Path(__file__).resolve().parents[2]
NODE = "东门社区/东门第一网格/一号微网格/1幢"


def ident(n: int) -> str:
    first = f"110101{1960 + n % 30}0315{n % 1000:03d}"
    return first + id_number_check_char(first)


def wrong_id(n: int) -> str:
    """ident(n) with a wrong check digit."""
    good = ident(n)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def phone(n: int) -> str:
    return f"1597{n:07d}"


def csv_upload(rows) -> SimpleUploadedFile:
    lines = [",".join(HEADERS)] + [",".join(str(v) for v in row) for row in rows]
    return SimpleUploadedFile("居民.csv", ("\n".join(lines) + "\n").encode())


def xlsx_upload(rows) -> SimpleUploadedFile:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "居民"
    ws.append(HEADERS)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return SimpleUploadedFile("居民.xlsx", buf.getvalue())


def row(n, **over):
    values = {"姓名": f"在册{n}", "身份证号": ident(n), "联系电话": phone(n), "所在网格/楼栋": NODE, "户号": f"R{n:05d}",
              "与户主关系": "户主", "现住地址": "1幢", "流动人口": "否", "特殊人群": ""}
    values.update(over)
    return [values[h] for h in HEADERS]


def contents(root: Path):
    """Every file under root, and every member of every zip (an xlsx) among them."""
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        yield path, data
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    yield path / name, archive.read(name)


_DIGITS = re.compile(rb"[0-9Xx]{11,}")


def clear_values_on_disk(root: Path, values) -> list[str]:
    """Which of these ID numbers / phones appear in clear in any file (or zip member) under root."""
    wanted = {v.encode() for v in values}
    sizes = {len(v) for v in wanted}
    found = []
    for path, data in contents(root):
        for match in _DIGITS.finditer(data):
            run = match.group()
            for size in sizes:
                for start in range(len(run) - size + 1):
                    if run[start:start + size] in wanted:
                        found.append(f"{path}: {run[start:start + size].decode()}")
    return found


def _values(numbers):
    return [ident(n) for n in numbers] + [phone(n) for n in numbers]


def _job_files(job):
    return [imports.job_file(job), imports.stage_file(job), imports.bad_rows_file(job)]


def _upload(world, upload, mode="good_only", actor=None):
    return imports.import_upload(actor=actor or world.secretary, register_key="residents", uploaded=upload, mode=mode)


@pytest.mark.parametrize("make", [csv_upload, xlsx_upload])
def test_files_of_a_waiting_job_are_encrypted(world, make):
    numbers = range(100, 110)
    rows = [row(n) for n in numbers] + [row(110, **{"所在网格/楼栋": "无此网格"})]
    job = imports.import_validate(_upload(world, make(rows)))
    assert job.status == ImportJob.Status.VALIDATED and job.bad_rows == 1
    for path in _job_files(job):
        assert path.read_bytes().startswith(filevault.MAGIC), path  # a vault file, not the spreadsheet or a pickle
    assert clear_values_on_disk(Path(settings.DATA_DIR), _values(range(100, 111))) == []
    imports.import_cancel(actor=world.secretary, job=job)


def test_commit_deletes_the_upload_and_stage_and_leaves_nothing_in_clear(world):
    numbers = range(200, 220)
    job = imports.import_validate(_upload(world, csv_upload([row(n) for n in numbers] + [row(220, 姓名="")])))
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.COMMITTED and job.created_rows == 20
    assert not imports.job_file(job).exists() and not imports.stage_file(job).exists()
    assert imports.bad_rows_file(job).exists()  # kept (encrypted) for the bad-rows download until retention
    assert clear_values_on_disk(Path(settings.DATA_DIR), _values(range(200, 221))) == []


def test_failed_file_leaves_no_file(world):
    bad_headers = SimpleUploadedFile("居民.csv", f"名字,证件\n张三,{ident(300)}\n".encode())
    job = imports.import_validate(_upload(world, bad_headers))
    assert job.status == ImportJob.Status.FAILED
    assert [p for p in [*_job_files(job), imports.errors_file(job)] if p.exists()] == []
    assert clear_values_on_disk(Path(settings.DATA_DIR), [ident(300)]) == []


def test_all_or_nothing_with_bad_rows_then_cancel_deletes_everything(world):
    job = imports.import_validate(_upload(world, csv_upload([row(400), row(401, 身份证号=wrong_id(401))]),
                                          mode="all_or_nothing"))
    assert job.status == ImportJob.Status.VALIDATED and job.bad_rows == 1
    job = imports.import_cancel(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.CANCELLED
    assert [p for p in [*_job_files(job), imports.errors_file(job)] if p.exists()] == []
    assert clear_values_on_disk(Path(settings.DATA_DIR), _values([400, 401])) == []
    with pytest.raises(imports.DomainError):
        imports.import_cancel(actor=world.secretary, job=job)


def test_only_the_uploader_cancels_and_a_cancelled_job_is_not_validated(world):
    job = _upload(world, csv_upload([row(450)]))
    with pytest.raises(imports.DomainError):
        imports.import_cancel(actor=world.worker, job=job)
    imports.import_cancel(actor=world.secretary, job=job)
    assert imports.import_validate(job).status == ImportJob.Status.CANCELLED  # the queued validation does nothing


def test_no_pickle_in_the_import_path():
    for module in ("jiedao/core/imports.py", "jiedao/core/filevault.py", "jiedao/people/importers.py"):
        assert "import pickle" not in (ROOT / module).read_text(), module
    loads = [str(p) for p in (ROOT / "jiedao").rglob("*.py") if "pickle.load" in p.read_text()]
    assert loads == []


def test_staged_rows_are_json_lines(world):
    job = imports.import_validate(_upload(world, csv_upload([row(500), row(501)])))
    lines = list(filevault.lines(imports.stage_file(job), f"import-stage:{job.stored_name}"))
    batch = json.loads(lines[0])
    assert [number for number, _ in batch] == [2, 3]
    names = [f.name for f in dataclasses.fields(importers.ResidentRow)]
    staged = dict(zip(names, batch[0][1], strict=True))  # values in the row type's field order
    # The clear ID number is staged, sealed at commit, but only inside the vault file: the file on
    # disk holds no clear ID number or phone, nor any ciphertext to decrypt and re-encrypt later.
    assert staged["id_number"] == ident(500) and staged["phone"] == phone(500) and staged["id_bidx"]
    assert "id_enc" not in staged and "phone_enc" not in staged
    raw = imports.stage_file(job).read_bytes()
    assert raw.startswith(filevault.MAGIC) and ident(500).encode() not in raw and phone(500).encode() not in raw
    assert clear_values_on_disk(Path(settings.DATA_DIR), _values([500, 501])) == []
    imports.import_cancel(actor=world.secretary, job=job)
    assert not imports.stage_file(job).exists()  # a cancelled job's staged rows are deleted at once


def test_a_stage_file_of_an_older_format_is_validated_again(world):
    """Staged batches written as {field: value} (before the values were staged as lists) are not
    read as rows: the commit asks for a new validation and writes nothing."""
    job = imports.import_validate(_upload(world, csv_upload([row(520)])))
    label = f"import-stage:{job.stored_name}"
    with filevault.VaultWriter(imports.stage_file(job), label) as out:
        out.write(json.dumps([[2, {"name": "旧格式"}]]).encode() + b"\n")
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.UPLOADED and job.created_rows == 0


def test_a_tampered_or_moved_vault_file_is_refused(world):
    job = imports.import_validate(_upload(world, csv_upload([row(510)])))
    data = bytearray(imports.stage_file(job).read_bytes())
    data[-5] ^= 1
    imports.stage_file(job).write_bytes(bytes(data))
    job = imports.import_commit(actor=world.secretary, job=job)
    assert job.status == ImportJob.Status.UPLOADED and job.created_rows == 0  # validate again, nothing written
    other = _upload(world, csv_upload([row(511)]))
    os.replace(imports.job_file(other), imports.job_file(job))  # another job's upload under this job's name
    assert imports.import_validate(job).status == ImportJob.Status.FAILED
    imports.import_cancel(actor=world.secretary, job=other)


def test_bad_rows_file_masked_without_the_reveal_right(world):
    wrong = wrong_id(600)
    rows = [row(601), row(600, 身份证号=wrong, **{"所在网格/楼栋": "无此网格"}),
            row(602, 联系电话="1597000060", 现住地址=f"同住人 {ident(603)} 电话 {phone(603)}", **{"所在网格/楼栋": "无此网格"})]
    job = imports.import_validate(_upload(world, csv_upload(rows), actor=world.worker))
    job = imports.import_commit(actor=world.worker, job=job)
    masked = list(openpyxl.load_workbook(io.BytesIO(imports.bad_rows_xlsx(job, actor=world.worker))).active.values)
    text = json.dumps(masked, ensure_ascii=False, default=str)
    for value in (wrong, "1597000060", ident(603), phone(603), phone(600)):
        assert value not in text
    assert masked[1][0] == 3 and "*" in masked[1][2]
    assert "无此网格" in text and "所在网格/楼栋" in text  # still says which row, column and why
    clear = json.dumps(list(openpyxl.load_workbook(io.BytesIO(imports.bad_rows_xlsx(job, actor=world.secretary)))
                            .active.values), ensure_ascii=False, default=str)
    assert wrong in clear and phone(603) in clear  # the reveal right sees the row as it was


def test_error_messages_carry_no_personal_digits(world):
    bad_date = "11010119801331" + "0012"  # a 13th month: the message names the date
    job = imports.import_validate(_upload(world, csv_upload([row(700, 身份证号=bad_date)])))
    messages = [e["message"] for e in imports.read_errors(job)]
    assert messages and "19801331" not in " ".join(messages) and "****" in " ".join(messages)
    imports.import_cancel(actor=world.secretary, job=job)


def test_retention_removes_old_jobs_and_orphans(world):
    waiting = imports.import_validate(_upload(world, csv_upload([row(800)])))
    fresh = imports.import_validate(_upload(world, csv_upload([row(801)])))
    done = imports.import_commit(actor=world.secretary, job=imports.import_validate(
        _upload(world, csv_upload([row(802), row(803, 姓名="")]))))
    old = timezone.now() - timedelta(hours=imports.retention_hours() + 1)
    ImportJob.objects.filter(pk__in=[waiting.pk, done.pk]).update(created_at=old)
    orphan_old = imports.import_dir() / "deadbeef.upload"
    orphan_old.write_bytes(b"x")
    os.utime(orphan_old, (time.time() - 2 * imports.ORPHAN_GRACE_SECONDS,) * 2)
    orphan_new = imports.import_dir() / "99999999.stage"
    orphan_new.write_bytes(b"x")
    spooled = Path(settings.FILE_UPLOAD_TEMP_DIR) / "tmpabc.upload.csv"  # a request's upload a killed process left
    spooled.write_bytes(b"x")
    os.utime(spooled, (time.time() - 2 * imports.ORPHAN_GRACE_SECONDS,) * 2)
    imports.import_retention()
    waiting.refresh_from_db()
    assert waiting.status == ImportJob.Status.CANCELLED
    assert [p for p in _job_files(waiting) + _job_files(done) + [imports.errors_file(done)] if p.exists()] == []
    assert imports.job_file(fresh).exists() and imports.stage_file(fresh).exists()
    assert not orphan_old.exists() and orphan_new.exists()  # a young orphan may be an upload in flight
    assert not spooled.exists()
    orphan_new.unlink()
    imports.import_cancel(actor=world.secretary, job=fresh)


def test_retention_is_a_scheduled_job():
    from jiedao.core import scheduler

    assert any(job.path == "jiedao.core.imports.import_retention" for job in scheduler.JOBS)


def test_import_files_are_private(world):
    job = imports.import_validate(_upload(world, csv_upload([row(900)])))
    assert imports.import_dir().stat().st_mode & 0o777 == 0o700
    for path in imports.import_dir().iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    imports.import_cancel(actor=world.secretary, job=job)


def test_private_data_dir_tightens_an_old_install(tmp_path):
    (tmp_path / "backups").mkdir(mode=0o755)
    (tmp_path / "backups" / "b.tar").write_bytes(b"x")
    (tmp_path / "jiedao.sqlite3").write_bytes(b"x")
    (tmp_path / "static").mkdir(mode=0o755)
    for path in tmp_path.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    private_data_dir(tmp_path)
    assert tmp_path.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "backups").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "backups" / "b.tar").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "jiedao.sqlite3").stat().st_mode & 0o777 == 0o600


def test_a_fresh_install_creates_private_files(tmp_path):
    """A new process on an empty data dir: the SQLite file (and -wal/-shm), the secret key and the
    keyring come out 0600, their directories 0700."""
    env = {**os.environ, "JIEDAO_DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "jiedao.settings"}
    env.pop("JIEDAO_DATABASE_URL", None)
    env.pop("JIEDAO_KEYRING", None)
    code = ("import django; django.setup(); from django.db import connection; from jiedao.core import crypto; "
            "crypto.get_keyring(); c = connection.cursor(); c.execute('CREATE TABLE t (x)'); "
            "c.execute('INSERT INTO t VALUES (1)'); print('ok')")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    data = tmp_path / "data"
    assert data.stat().st_mode & 0o777 == 0o700
    found = {p.relative_to(data).as_posix(): p.stat().st_mode & 0o777 for p in data.rglob("*")}
    assert "jiedao.sqlite3" in found and "keys/keyring.json" in found
    assert {name: mode for name, mode in found.items() if (data / name).is_file() and mode != 0o600} == {}
    assert {name: mode for name, mode in found.items() if (data / name).is_dir() and mode != 0o700} == {}
