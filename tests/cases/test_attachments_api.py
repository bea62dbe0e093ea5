"""Photos and files through /api/v1: upload (multipart), list, download — scoped like the case."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q

from jiedao.cases import services
from jiedao.cases.models import Case, CaseAttachment, State
from jiedao.core.models import AuditEvent
from tests.cases.test_views import file_case, tiny_png, to_state

BASE = "/api/v1/cases"
NOT_FOUND = {"detail": "未找到该对象。", "field": None, "code": "not_found"}
MISSING = 987654


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def png(name="现场.png"):
    return SimpleUploadedFile(name, tiny_png(), content_type="image/png")


def stored_files(settings):
    root = settings.MEDIA_ROOT / "cases"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_upload_list_and_download(world, catalogue, as_):
    case = file_case(world, catalogue)
    api = as_(world.worker)
    response = api.post(f"/{case.pk}/attachments", {"file": png()})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "现场.png" and body["content_type"] == "image/png" and body["is_photo"] is True
    assert body["size"] == len(tiny_png()) and body["uploaded_by_name"] == "张网格"
    assert body["download_url"] == f"{BASE}/{case.pk}/attachments/{body['id']}"
    event = AuditEvent.objects.get(action="cases.case.attach", object_id=str(case.pk))
    assert event.actor_id == world.worker.pk and event.after["attachment"] == body["id"]

    listed = api.get(f"/{case.pk}/attachments")
    assert listed.status_code == 200 and [a["id"] for a in listed.json()] == [body["id"]]
    download = api.get(f"/{case.pk}/attachments/{body['id']}")
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == tiny_png()
    assert "attachment" in download["Content-Disposition"] and download["X-Content-Type-Options"] == "nosniff"
    # Anyone who sees the case sees its attachments: the community secretary, the leader.
    for user in (world.secretary, world.leader):
        assert as_(user).get(f"/{case.pk}/attachments").json()[0]["id"] == body["id"]


def test_out_of_scope_is_404_like_missing_and_changes_nothing(world, catalogue, as_):
    case = file_case(world, catalogue)
    attachment = services.case_attach(actor=world.worker, case=case, upload=png())
    other_case = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None)
    mine_too = file_case(world, catalogue)
    events = AuditEvent.objects.exclude(action="core.token.create").count()
    # Another grid's worker, a village's worker, and the department before the case is dispatched to it.
    for user in (world.other_worker, world.village_worker, world.handler):
        api = as_(user)
        for response in (
            api.get(f"/{case.pk}/attachments"),
            api.get(f"/{case.pk}/attachments/{attachment.pk}"),
            api.post(f"/{case.pk}/attachments", {"file": png()}),
        ):
            assert response.status_code == 404 and response.json() == NOT_FOUND, (user, response.content)
    api = as_(world.worker)
    assert api.get(f"/{MISSING}/attachments").json() == NOT_FOUND
    assert api.post(f"/{MISSING}/attachments", {"file": png()}).json() == NOT_FOUND
    # An attachment id that exists, asked for under another case (one the caller cannot see, or can).
    assert api.get(f"/{other_case.pk}/attachments/{attachment.pk}").status_code == 404
    assert api.get(f"/{mine_too.pk}/attachments/{attachment.pk}").status_code == 404
    assert api.get(f"/{case.pk}/attachments/{MISSING}").status_code == 404
    assert CaseAttachment.objects.count() == 1
    assert AuditEvent.objects.exclude(action="core.token.create").count() == events


def test_the_handling_department_may_attach_once_dispatched(world, catalogue, as_):
    case = to_state(world, file_case(world, catalogue), State.ACKNOWLEDGED)
    response = as_(world.handler).post(f"/{case.pk}/attachments", {"file": png("处理后.png")})
    assert response.status_code == 201, response.content
    assert response.json()["uploaded_by_id"] == world.handler.pk


def test_unauthenticated_is_401(world, catalogue, client):
    case = file_case(world, catalogue)
    assert client.get(f"{BASE}/{case.pk}/attachments").status_code == 401
    assert client.post(f"{BASE}/{case.pk}/attachments", {"file": png()}).status_code == 401


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("说明.txt", b"just some text", "文件类型不受支持"),
        ("现场.jpg", b"hello, I am text", "扩展名是图片，但内容不是 JPG、PNG 或 WEBP 图片"),
        ("空.png", b"", "是空文件"),
        ("big.jpg", b"\xff\xd8\xff\xe0" + b"\0" * services.ATTACHMENT_MAX_BYTES, "超过 10 MB"),
    ],
)
def test_bad_files_are_400_in_chinese_naming_the_field(world, catalogue, as_, settings, name, content, message):
    case = file_case(world, catalogue)
    response = as_(world.worker).post(f"/{case.pk}/attachments", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == "file" and message in body["detail"] and name in body["detail"]
    assert not case.attachments.exists() and stored_files(settings) == []


def test_missing_file_and_closed_case(world, catalogue, as_):
    case = file_case(world, catalogue)
    api = as_(world.worker)
    missing = api.post(f"/{case.pk}/attachments", {}, multipart=True)
    assert missing.status_code == 422 and missing.json()["field"] == "file"
    rejected = services.case_act(actor=world.secretary, case=case, action="reject", reason="不属于受理范围")
    refused = api.post(f"/{rejected.pk}/attachments", {"file": png()})
    assert refused.status_code == 400 and refused.json()["field"] == "file" and "不能再添加附件" in refused.json()["detail"]


def test_at_most_nine_per_case(world, catalogue, as_):
    case = file_case(world, catalogue)
    api = as_(world.worker)
    for i in range(services.ATTACHMENTS_PER_CASE):
        assert api.post(f"/{case.pk}/attachments", {"file": png(f"{i}.png")}).status_code == 201
    full = api.post(f"/{case.pk}/attachments", {"file": png()})
    assert full.status_code == 400 and full.json()["field"] == "file" and "最多 9 个附件" in full.json()["detail"]


# --- filing a case with its photos in one request --------------------------------------------------


def intake_form(world, **over):
    return {"source": "door_visit", "node": world.grid.pk, "building": world.building.pk,
            "title": "楼下垃圾三天没人清运", "description": "1幢楼下垃圾堆放三天，臭气熏天。", "category": "garbage",
            "reporter_name": "陈阿姨", "reporter_phone": "13812345678", **over}


def test_filing_with_attachments(world, catalogue, as_):
    api = as_(world.worker)
    pdf = SimpleUploadedFile("情况说明.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    response = api.post("/with-attachments", {**intake_form(world), "files": [png(), pdf]})
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert case.state == State.REPORTED and case.reported_by == world.worker
    assert sorted(case.attachments.values_list("original_name", "is_photo")) == [("情况说明.pdf", False), ("现场.png", True)]
    assert AuditEvent.objects.filter(action="cases.case.attach", object_id=str(case.pk)).count() == 2
    # And without files it is the ordinary intake.
    plain = api.post("/with-attachments", intake_form(world, title="路灯不亮"), multipart=True)
    assert plain.status_code == 201 and not Case.objects.get(pk=plain.json()["id"]).attachments.exists()


def test_filing_with_a_bad_file_files_nothing(world, catalogue, as_, settings):
    api = as_(world.worker)
    cases, events = Case.objects.count(), AuditEvent.objects.exclude(action="core.token.create").count()
    bad = SimpleUploadedFile("病毒.exe", b"MZ\x90\x00 not allowed")
    response = api.post("/with-attachments", {**intake_form(world), "files": [png(), bad]})
    assert response.status_code == 400 and response.json()["field"] == "files"
    assert "病毒.exe" in response.json()["detail"]
    assert Case.objects.count() == cases and not CaseAttachment.objects.exists()
    assert AuditEvent.objects.exclude(action="core.token.create").count() == events
    assert stored_files(settings) == []  # the photo saved before the refusal is removed again


def test_filing_with_attachments_is_scoped(world, catalogue, as_):
    api = as_(world.worker)
    form = intake_form(world, node=world.village_grid.pk)
    del form["building"]
    response = api.post("/with-attachments", {**form, "files": [png()]})
    assert response.status_code == 404 and response.json()["field"] == "node"
    assert not Case.objects.filter(Q(node=world.village_grid)).exists() and not CaseAttachment.objects.exists()
    field = api.post("/with-attachments", {**intake_form(world, reporter_phone="12"), "files": [png()]})
    assert field.status_code == 400 and field.json()["field"] == "reporter_phone"


def test_openapi_documents_the_attachment_endpoints(db, client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    upload = paths[f"{BASE}/{{case_id}}/attachments"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"] and "10 MB" in upload["description"]
    assert "get" in paths[f"{BASE}/{{case_id}}/attachments"]
    assert "get" in paths[f"{BASE}/{{case_id}}/attachments/{{attachment_id}}"]
    assert "multipart/form-data" in paths[f"{BASE}/with-attachments"]["post"]["requestBody"]["content"]
