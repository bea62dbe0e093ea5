"""Exports as background jobs (jiedao.core.exports): the request only queues the job, the file is
written by the task with its progress, encrypted at rest, handed to its requester alone (audited),
and deleted by the retention job. The registers' own export content is tested with their pages
and API (tests/people/test_api.py, test_views.py, tests/cases/test_views.py)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from jiedao.core import exports, tasks
from jiedao.core.errors import PermissionError_, ThrottledError
from jiedao.core.models import AuditEvent, ExportJob
from jiedao.core.validators import id_number_check_char
from jiedao.people import services as people_services
from tests.export_helpers import page_download, sheet


def make_id(n: int) -> str:
    first = f"3302251985061{n:04d}"[:17]
    return first + id_number_check_char(first)


MINE_ID, MINE_PHONE = make_id(21), "13855501234"
OTHER_ID, OTHER_PHONE = make_id(37), "13955507777"


@pytest.fixture
def residents(world):
    """One resident in 张网格's grid, one in the other grid of the community."""
    mine = people_services.resident_create(actor=world.admin, node=world.building, name="林秀英", id_number=MINE_ID,
                                           phone=MINE_PHONE)
    other = people_services.resident_create(actor=world.admin, node=world.other_grid, name="周德明",
                                            id_number=OTHER_ID, phone=OTHER_PHONE)
    return mine, other


def _xlsx(job: ExportJob, user) -> list[tuple]:
    data = b"".join(exports.export_download(actor=user, job=job))
    return list(openpyxl.load_workbook(io.BytesIO(data)).active.values)


def _queued(monkeypatch) -> list[tuple]:
    """Tasks recorded instead of run: what the request hands to the background."""
    sent: list[tuple] = []
    monkeypatch.setattr(tasks, "submit", lambda path, *args, **kwargs: sent.append((path, args)))
    return sent


def test_the_request_only_queues_and_the_task_writes_with_progress(world, residents, monkeypatch, as_):
    sent = _queued(monkeypatch)
    response = as_(world.secretary).post("/people/residents/exports", {})
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["done_rows"], body["download_url"]) == ("queued", 0, None)
    assert sent == [("jiedao.core.exports.export_run_by_id", (body["id"],))]
    job = ExportJob.objects.get(pk=body["id"])
    assert not AuditEvent.objects.filter(action="people.resident.export").exists()  # nothing written yet

    seen = []
    original = exports._progress

    def progress(job_, done):
        original(job_, done)
        row = ExportJob.objects.get(pk=job_.pk)
        seen.append((row.status, row.done_rows, row.total_rows))

    monkeypatch.setattr(exports, "_progress", progress)
    monkeypatch.setattr(exports, "PROGRESS_EVERY_ROWS", 1)
    job = exports.export_run_by_id(job.pk)
    assert seen == [("running", 1, 2), ("running", 2, 2)]
    assert (job.status, job.done_rows, job.total_rows, job.percent) == ("done", 2, 2, 100)
    assert job.file_name.startswith("居民-") and job.size > 0
    # A message delivered twice writes once.
    assert exports.export_run_by_id(job.pk).finished_at == job.finished_at
    assert AuditEvent.objects.filter(action="people.resident.export").count() == 1
    status = as_(world.secretary).get(f"/exports/{job.pk}").json()
    assert status["status"] == "done" and status["download_url"] == f"/api/v1/exports/{job.pk}/download"


def test_out_of_scope_rows_are_never_in_the_file_and_others_get_404(client, world, residents):
    job = exports.export_request(actor=world.worker, register="people.resident", filters={})
    rows = _xlsx(job, world.worker)
    text = repr(rows)
    assert [r[0] for r in rows[1:]] == ["林秀英"]
    assert "周德明" not in text and OTHER_ID[:6] + OTHER_ID[-1] not in text
    assert MINE_ID not in text and MINE_PHONE not in text  # masked for a grid worker
    for user in (world.other_worker, world.admin):
        client.force_login(user)
        assert client.get(reverse("exports:download", args=[job.pk])).status_code == 404
        assert client.post(reverse("exports:delete", args=[job.pk])).status_code == 404
        assert f"/exports/{job.pk}/download/" not in client.get(reverse("exports:list")).content.decode()
    assert AuditEvent.objects.filter(action="core.export.download").count() == 1  # the owner's only


def test_reveal_is_checked_at_the_request_and_audited(world, residents):
    with pytest.raises(PermissionError_):
        exports.export_request(actor=world.worker, register="people.resident", filters={}, reveal=True,
                               reason="核对")
    assert not ExportJob.objects.exists()
    job = exports.export_request(actor=world.secretary, register="people.resident", filters={}, reveal=True,
                                 reason="  民政  核对 ")
    assert job.reason == "民政 核对"
    rows = _xlsx(job, world.secretary)
    assert {(r[1], r[2]) for r in rows[1:]} == {(MINE_ID, MINE_PHONE), (OTHER_ID, OTHER_PHONE)}
    event = AuditEvent.objects.get(action="people.resident.export_revealed")
    assert event.reason == "民政 核对" and event.after == {"filters": {}, "rows": 2, "revealed": True, "job": job.pk}
    download = AuditEvent.objects.get(action="core.export.download")
    assert download.actor_id == world.secretary.pk and download.after["revealed"] is True


def _files_holding(root: Path, needles: list[bytes]) -> list[str]:
    """Files under `root` holding any needle, looking inside zip files (an xlsx deflates its text)."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        texts = [data]
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                texts += [archive.read(name) for name in archive.namelist()]
        if any(needle in text for text in texts for needle in needles):
            found.append(str(path))
    return found


def test_the_file_is_encrypted_at_rest(world, residents):
    job = exports.export_request(actor=world.secretary, register="people.resident", filters={}, reveal=True,
                                 reason="核对")
    path = exports.job_file(job)
    assert path.read_bytes()[:4] == b"JDV1" and path.stat().st_mode & 0o077 == 0
    assert exports.export_dir().stat().st_mode & 0o077 == 0
    needles = [v.encode() for v in (MINE_ID, MINE_PHONE, OTHER_ID, OTHER_PHONE, "林秀英", "周德明")]
    assert _files_holding(Path(settings.DATA_DIR), needles) == []
    assert MINE_ID in repr(_xlsx(job, world.secretary))  # …and the requester does get the clear values


def test_retention_deletes_files_and_fails_stalled_jobs(client, world, residents):
    done = exports.export_request(actor=world.worker, register="people.resident", filters={"text": "林"})
    path = exports.job_file(done)
    assert exports.export_retention() == "removed 0 files, expired 0 jobs"
    ExportJob.objects.filter(pk=done.pk).update(finished_at=timezone.now() - timedelta(hours=25))
    stalled = ExportJob.objects.create(register="people.resident", title="居民", created_by=world.worker,
                                       status=ExportJob.Status.RUNNING, stored_name="9-x.xlsx.vault")
    ExportJob.objects.filter(pk=stalled.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    orphan = exports.export_dir() / "orphan.xlsx.vault"
    orphan.write_bytes(b"JDV1")
    old = (timezone.now() - timedelta(hours=2)).timestamp()
    import os

    os.utime(orphan, (old, old))
    assert exports.export_retention() == "removed 2 files, expired 1 jobs"
    done.refresh_from_db()
    stalled.refresh_from_db()
    assert done.status == "expired" and done.filters == {} and not path.exists() and not orphan.exists()
    assert stalled.status == "failed" and "重新导出" in stalled.message
    client.force_login(world.worker)
    response = client.get(reverse("exports:download", args=[done.pk]))
    assert response.status_code == 400 and "过期" in response.content.decode()


def test_the_requester_deletes_the_file_early(client, world, residents):
    job = exports.export_request(actor=world.worker, register="people.resident", filters={})
    client.force_login(world.worker)
    response = client.post(reverse("exports:delete", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "expired" and not exports.job_file(job).exists()
    assert AuditEvent.objects.filter(action="core.export.delete", object_id=str(job.pk)).exists()


def test_pending_jobs_are_limited_per_user(world, residents, monkeypatch, as_):
    _queued(monkeypatch)
    for _ in range(exports.MAX_PENDING_PER_USER):
        exports.export_request(actor=world.worker, register="cases", filters={})
    with pytest.raises(ThrottledError):
        exports.export_request(actor=world.worker, register="cases", filters={})
    response = as_(world.worker).post("/people/residents/exports", {})
    assert response.status_code == 429 and "导出" in response.json()["detail"]
    # Another user is not held back by her.
    assert exports.export_request(actor=world.secretary, register="cases", filters={}).status == "queued"


def test_a_job_whose_node_is_gone_fails_rather_than_widening(world, residents):
    job = exports.export_request(actor=world.worker, register="people.resident", filters={"node": 987654})
    assert job.status == "failed" and "不存在" in job.message and not exports.job_file(job).exists()


def test_my_exports_page_polls_while_a_job_runs(client, world, residents, monkeypatch):
    client.force_login(world.worker)
    rows = sheet(page_download(client, "people:resident_export"))
    assert [r[0] for r in rows[1:]] == ["林秀英"]
    page = client.get(reverse("exports:list")).content.decode()
    assert "hx-trigger" not in page and "下载 居民-" in page and "<script>" not in page
    _queued(monkeypatch)
    response = client.post(reverse("people:household_export"))
    assert response.status_code == 302
    page = client.get(reverse("exports:list")).content.decode()
    assert 'hx-trigger="every 2s"' in page and "等待开始" in page
    fragment = client.get(reverse("exports:list"), HTTP_HX_REQUEST="true")
    assert fragment.content.decode().startswith('<div id="export-jobs"') and "no-store" in fragment["Cache-Control"]


def test_the_writer_keeps_strings_strings_and_drops_what_xml_cannot_carry():
    columns = [exports.ExportColumn("名称", lambda r: r[0]), exports.ExportColumn("号码", lambda r: r[1], text=True),
               exports.ExportColumn("日期", lambda r: r[2]), exports.ExportColumn("数", lambda r: r[3])]
    moment = timezone.make_aware(datetime(2026, 3, 1, 9, 30))
    data = exports.write_xlsx_bytes(title="测试/表", columns=columns, rows=[
        ("=HYPERLINK(\"http://x\")", "0571\x00\x07123", date(1950, 2, 3), 3),
        ("a<b>&\"c\"", None, moment, 2.5),
    ])
    book = openpyxl.load_workbook(io.BytesIO(data))
    rows = list(book.active.values)
    assert rows[0] == ("名称", "号码", "日期", "数")
    assert rows[1] == ('=HYPERLINK("http://x")', "0571123", datetime(1950, 2, 3), 3)
    assert book.active["A2"].data_type == "s"  # never a formula
    assert rows[2] == ('a<b>&"c"', None, datetime(2026, 3, 1, 9, 30), 2.5)
    assert book.active["B2"].number_format == "@"


@pytest.mark.django_db(transaction=True)
def test_in_thread_mode_the_request_returns_before_the_file_is_written(transactional_db, settings, monkeypatch, as_):
    """The default mode (JIEDAO_TASKS=thread): the file is written by a worker thread of the
    process, after the 202 — the request's thread never waits for it."""
    import threading

    from tests.conftest import build_world

    world = build_world()
    people_services.resident_create(actor=world.admin, node=world.building, name="林秀英", id_number=MINE_ID)
    settings.JIEDAO_TASKS = "thread"
    gate, finished = threading.Event(), threading.Event()
    original = exports.export_run_by_id

    def held(job_id):  # the worker starts only once the request has answered
        # (held from the start, not only while writing: the in-memory test database shares one
        # cache between threads, where a write meeting the request's read fails at once, "table
        # is locked", instead of waiting as it does on the file database a server uses)
        assert gate.wait(30)
        try:
            return original(job_id)
        finally:
            finished.set()

    monkeypatch.setattr(exports, "export_run_by_id", held)
    response = as_(world.worker).post("/people/residents/exports", {})
    gate.set()
    assert response.status_code == 202 and response.json()["status"] in ("queued", "running")
    job_id = response.json()["id"]
    assert finished.wait(30)  # read the job once the worker is done with it (no read meets its writes)
    job = ExportJob.objects.get(pk=job_id)
    assert job.status == "done", job.message
    assert job.done_rows == 1
