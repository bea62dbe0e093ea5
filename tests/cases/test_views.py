"""The case pages: intake (grid worker, hotline, residents' public form), list and export, detail
with the action panel, attachments, the public lookup and rating, catalogue administration and
the home widgets. Objects out of scope answer 404 exactly like missing ones; pages a role lacks
answer 403; refused actions show the service's Chinese message and change nothing."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import date

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jiedao.cases import selectors, services
from jiedao.cases.catalogue import selectors as catalogue_selectors
from jiedao.cases.models import Case, CaseAttachment, CaseTransition, Category, RoutingRule, Source, State, Tier
from jiedao.cases.workflow import Action
from jiedao.core import caching, limits, workdays
from jiedao.core.models import AuditEvent, WorkdayOverride
from jiedao.org.models import Department
from tests.export_helpers import page_download, sheet


def html(response) -> str:
    return response.content.decode()


def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    """A real PNG, written by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_upload(name: str = "现场.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, tiny_png(), content_type="image/png")


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()  # throttle counters and workday overrides
    yield
    cache.clear()


def file_case(world, catalogue, **over) -> Case:
    fields = dict(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
                  title="楼下垃圾三天没人清运", description="1幢楼下垃圾堆放三天，臭气熏天。",
                  category=catalogue["garbage"], reporter_name="陈阿姨", reporter_phone="13812345678")
    fields.update(over)
    return services.case_create(**fields)


def act(client, case, action, **data):
    case.refresh_from_db()
    return client.post(reverse("cases:act", args=[case.pk]), {"action": action, "version": case.version, **data})


def to_state(world, case, state):
    """Walk a case along the happy path until it reaches `state` (through the service)."""
    steps = [
        (State.ACCEPTED, world.secretary, Action.ACCEPT, {}),
        (State.DISPATCHED, world.secretary, Action.DISPATCH, {}),
        (State.ACKNOWLEDGED, world.handler, Action.ACKNOWLEDGE, {}),
        (State.RESOLVED, world.handler, Action.RESOLVE, {"reason": "已清运"}),
        (State.VERIFIED, world.worker, Action.VERIFY_PASS, {}),
    ]
    for target, actor, action, kw in steps:
        if case.state == state:
            break
        case = services.case_act(actor=actor, case=case, action=action, **kw)
        assert case.state == target
    return case


# --- pages per role -----------------------------------------------------------------------------


def test_every_page_renders_for_the_right_roles(client, world, catalogue):
    case = file_case(world, catalogue)
    pages = {
        world.worker: ["cases:list", "cases:new"],
        world.secretary: ["cases:list", "cases:new", "cases:hotline"],
        world.leader: ["cases:list", "cases:new", "cases:hotline"],
        world.handler: ["cases:list"],
        world.admin: ["cases:list", "cases:hotline", "cases:catalogue", "cases:holidays"],
    }
    for user, names in pages.items():
        client.force_login(user)
        for name in names:
            response = client.get(reverse(name))
            assert response.status_code == 200, (user.username, name)
        assert "诉求事件" in html(client.get(reverse("home")))  # the nav entry
    for user in (world.worker, world.secretary, world.leader, world.admin):
        client.force_login(user)
        assert client.get(reverse("cases:detail", args=[case.pk])).status_code == 200
    client.force_login(world.admin)
    assert client.get(reverse("cases:category", args=[catalogue["garbage"].pk])).status_code == 200
    assert "事项目录" in html(client.get(reverse("home")))
    client.logout()
    for name in ("cases:public_report", "cases:public_track"):
        assert client.get(reverse(name)).status_code == 200
    assert client.get(reverse("cases:list")).status_code == 302  # staff pages need a login


def test_roles_without_the_page_get_403(client, world):
    client.force_login(world.handler)
    assert client.get(reverse("cases:new")).status_code == 403  # handlers receive cases, they do not file them
    assert client.get(reverse("cases:hotline")).status_code == 403
    client.force_login(world.worker)
    assert client.get(reverse("cases:hotline")).status_code == 403  # grid workers file at the door step
    assert "事项目录" not in html(client.get(reverse("home")))


def test_grid_worker_intake_form_offers_only_own_grid(client, world, catalogue):
    client.force_login(world.worker)
    response = client.get(reverse("cases:new"))
    page = html(response)
    assert 'accept="image/*"' in page and 'capture="environment"' in page
    assert "1幢" in page and "东门第一网格" in page and "东门第二网格" not in page and "横塘" not in page
    assert 'data-tier="public"' in page  # category options carry their default tier
    assert response.context["form"].initial["node"] == world.grid.pk


# --- scope: 404 like missing ----------------------------------------------------------------------


def test_other_grid_worker_gets_404_on_detail_action_and_attachment(client, world, catalogue):
    case = file_case(world, catalogue)
    attachment = services.case_attach(actor=world.worker, case=case, upload=png_upload())
    client.force_login(world.other_worker)
    urls = [reverse("cases:detail", args=[case.pk]),
            reverse("cases:attachment", args=[case.pk, attachment.pk])]
    for url in urls:
        assert client.get(url).status_code == 404
    assert act(client, case, Action.ACCEPT).status_code == 404
    assert client.post(reverse("cases:attach", args=[case.pk]), {"upload": png_upload()}).status_code == 404
    missing = client.get(reverse("cases:detail", args=[987654]))
    assert missing.status_code == 404 and "楼下垃圾" not in html(missing)
    case.refresh_from_db()
    assert case.state == State.REPORTED and case.attachments.count() == 1
    client.force_login(world.worker)
    own = client.get(urls[1])
    assert own.status_code == 200 and own["Content-Type"] == "image/png" and own["X-Content-Type-Options"] == "nosniff"
    assert b"".join(own.streaming_content) == tiny_png()
    # An attachment id of another case does not open through this case.
    other = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None)
    assert client.get(reverse("cases:attachment", args=[other.pk, attachment.pk])).status_code == 404


# --- intake -------------------------------------------------------------------------------------------


def test_grid_worker_files_with_building_photo_and_default_title(client, world, catalogue):
    client.force_login(world.worker)
    response = client.post(reverse("cases:new"), {
        "node": world.grid.pk, "building": world.building.pk, "photo": png_upload(),
        "description": "1幢楼下垃圾堆放三天无人清运，臭气熏天，影响居民出行，请尽快安排清运并加设垃圾桶。",
        "category": catalogue["garbage"].pk,
        "urgency": "normal", "source": Source.DOOR_VISIT, "latitude": "29.123456", "longitude": "121.654321",
    })
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cases:detail", args=[case.pk])
    assert case.title == "1幢楼下垃圾堆放三天无人清运，臭气熏天，影响居民出行，请尽快…"  # 30 characters and …
    assert case.building == world.building and case.grid == world.grid and case.tier == Tier.PUBLIC
    assert str(case.latitude) == "29.123456" and case.reported_by == world.worker
    attachment = case.attachments.get()
    assert attachment.is_photo and attachment.content_type == "image/png" and attachment.file.name.endswith(".png")
    assert "现场" not in attachment.file.name  # stored under a random name, never the uploaded one
    detail = html(client.get(response["Location"]))
    assert case.ticket in detail and reverse("cases:attachment", args=[case.pk, attachment.pk]) in detail


def test_intake_refuses_a_fake_photo_and_creates_nothing(client, world, catalogue):
    client.force_login(world.worker)
    response = client.post(reverse("cases:new"), {
        "building": world.building.pk, "description": "路灯不亮", "urgency": "normal", "source": Source.DOOR_VISIT,
        "photo": SimpleUploadedFile("photo.jpg", b"just some text, not a picture", content_type="image/jpeg"),
    })
    assert response.status_code == 400
    assert "扩展名是图片，但内容不是" in html(response)
    assert not Case.objects.exists() and not CaseAttachment.objects.exists()


def test_hotline_operator_files_for_any_grid_in_scope(client, world, catalogue):
    client.force_login(world.secretary)
    response = client.post(reverse("cases:hotline"), {
        "node": world.other_grid.pk, "reporter_name": "李先生", "reporter_phone": "13900001111",
        "description": "小区东门路灯不亮已经一周", "urgency": "normal",
    })
    case = Case.objects.get()
    assert response.status_code == 302
    assert case.source == Source.HOTLINE and case.node == world.other_grid and case.reporter_phone_masked == "139******11"
    # A grid outside the operator's scope is not a choice.
    response = client.post(reverse("cases:hotline"), {"node": world.village_grid.pk, "description": "x", "urgency": "normal"})
    assert response.status_code == 400 and Case.objects.count() == 1


def test_suggestions_and_duplicates_partials(client, world, catalogue):
    Category.objects.filter(pk=catalogue["garbage"].pk).update(keywords="垃圾 清运 堆放")
    existing = file_case(world, catalogue)
    client.force_login(world.worker)
    response = client.post(reverse("cases:suggest"), {"description": "楼下垃圾没人清运"}, HTTP_HX_REQUEST="true")
    assert "<html" not in html(response) and "暴露垃圾" in html(response) and "data-pick-category" in html(response)
    response = client.post(reverse("cases:similar"), {
        "building": world.building.pk, "category": catalogue["garbage"].pk,
        "title": "1幢楼下垃圾没人清运", "description": "垃圾堆放好几天了"}, HTTP_HX_REQUEST="true")
    assert existing.ticket in html(response) and "相似度" in html(response)
    client.force_login(world.other_worker)  # the same words from another grid find nothing of this grid
    response = client.post(reverse("cases:similar"), {"node": world.other_grid.pk, "title": "1幢楼下垃圾没人清运"})
    assert existing.ticket not in html(response)


# --- public form, lookup, rating, protection ----------------------------------------------------------


def public_post(client, address: str = "127.0.0.1", **over):
    data = {"community": over.pop("community", None), "title": "小区门口路灯不亮", "description": "东门口路灯坏了一周，晚上很黑。",
            "reporter_name": "周女士", "reporter_phone": "13700002222"}
    data.update(over)
    return client.post(reverse("cases:public_report"), {k: v for k, v in data.items() if v is not None},
                       REMOTE_ADDR=address)


def test_public_form_creates_a_case_and_returns_a_ticket(client, world):
    response = public_post(client, community=world.community.pk, grid=world.grid.pk, photo=png_upload())
    assert response.status_code == 302
    case = Case.objects.get()
    assert case.source == Source.SELF_REPORT and case.reported_by is None and case.node == world.grid
    assert case.attachments.count() == 1
    done = client.get(response["Location"])
    assert case.ticket in html(done)
    # A grid of another community is refused; with no grid the case lands on the community itself.
    mismatch = public_post(client, community=world.village.pk, grid=world.grid.pk)
    assert mismatch.status_code == 400 and "所选网格不属于该社区或村" in html(mismatch)
    assert public_post(client, community=world.village.pk, anonymous="on").status_code == 302
    second = Case.objects.latest("id")
    assert second.node == world.village and second.anonymous and second.reporter_name == ""


def test_public_form_honeypot_and_throttle(client, world, settings):
    response = public_post(client, community=world.community.pk, homepage_url="http://spam.example")
    assert response.status_code == 400 and not Case.objects.exists()
    settings.JIEDAO_PUBLIC_LIMITS = {"report": (2, 600)}
    limits.reset()  # the honeypot post above was counted
    assert public_post(client, community=world.community.pk).status_code == 302
    assert public_post(client, community=world.community.pk).status_code == 302
    blocked = public_post(client, community=world.community.pk)
    assert blocked.status_code == 429 and "操作过于频繁" in html(blocked) and "10 分钟" in html(blocked)
    assert Case.objects.count() == 2
    # Another address is not affected.
    assert public_post(client, address="10.0.0.9", community=world.community.pk).status_code == 302


def test_lookup_by_ticket_shows_state_and_timeline_without_personal_data(client, world, catalogue):
    case = to_state(world, file_case(world, catalogue), State.DISPATCHED)
    wrong = client.post(reverse("cases:public_track"), {"ticket": "20260101-AAAAAAAA"})
    assert wrong.status_code == 404 and "未找到" in html(wrong) and case.title not in html(wrong)
    found = client.post(reverse("cases:public_track"), {"ticket": f" {case.ticket.lower()} "})
    page = html(found)
    assert found.status_code == 200 and "已派遣" in page and "派遣至城建办" in page and "登记" in page
    for private in ("陈阿姨", "138******78", "13812345678", "张网格", "王书记", "worker", "1幢"):
        assert private not in page
    assert "评价办理结果" not in page  # not resolved yet


def test_rating_works_only_when_the_state_allows(client, world, catalogue):
    answers = {"contacted": "1", "solved": "1", "rating": "basic", "comment": "还行", "phone_tail": "5678"}
    case = file_case(world, catalogue)
    refused = client.post(reverse("cases:public_rate"), {"ticket": case.ticket, **answers})
    assert refused.status_code == 400 and "办结后才能评价" in html(refused)
    case.refresh_from_db()
    assert case.rating == "" and case.transitions.count() == 1
    case = to_state(world, case, State.RESOLVED)
    page = html(client.post(reverse("cases:public_track"), {"ticket": case.ticket}))
    assert "评价办理结果" in page and "工作人员是否及时联系了您" in page and "您反映的问题是否已经解决" in page
    missing = client.post(reverse("cases:public_rate"), {"ticket": case.ticket, "rating": "basic"})
    assert missing.status_code == 400 and "请选择“是”或“否”" in html(missing)
    done = client.post(reverse("cases:public_rate"), {"ticket": case.ticket, **answers})
    case.refresh_from_db()
    assert done.status_code == 200 and "感谢您的评价" in html(done)
    assert case.rating == "basic" and case.rating_comment == "还行" and case.state == State.RESOLVED
    assert (case.contacted_in_time, case.solved) == (True, True)
    assert CaseTransition.objects.filter(case=case, action="follow_up", actor=None).exists()
    assert "评价办理结果" not in html(done)  # rated: once per resolution
    assert client.post(reverse("cases:public_rate"), {"ticket": "20260101-AAAAAAAA", **answers}).status_code == 404


def test_a_resident_who_says_not_solved_sends_the_case_back_and_rates_again(client, world, catalogue):
    case = to_state(world, file_case(world, catalogue), State.RESOLVED)
    bad = client.post(reverse("cases:public_rate"), {"ticket": case.ticket, "contacted": "0", "solved": "0",
                                                     "rating": "satisfied", "phone_tail": "5678"})
    case.refresh_from_db()
    assert bad.status_code == 200 and "事项已退回重新办理" in html(bad)
    assert (case.state, case.solved, case.contacted_in_time, case.resolved_at) == (State.IN_PROGRESS, False, False, None)
    case = services.case_act(actor=world.handler, case=case, action=Action.RESOLVE, reason="重新清运")
    page = html(client.post(reverse("cases:public_track"), {"ticket": case.ticket}))
    assert "评价办理结果" in page  # resolved anew: the resident may answer again


def test_rating_asks_for_the_phone_tail_when_the_case_has_a_phone(client, world, catalogue):
    """Tickets of public cases are published (Open311): a ticket alone does not rate a case filed
    with a phone."""
    answers = {"contacted": "0", "solved": "0", "rating": "unsatisfied"}
    case = to_state(world, file_case(world, catalogue), State.RESOLVED)
    assert "反映时所留电话的后四位" in html(client.post(reverse("cases:public_track"), {"ticket": case.ticket}))
    for tail, needle in [(None, "请填写反映时所留电话的后四位"), ("1234", "不符"), ("56", "4 位")]:
        data = {"ticket": case.ticket, **answers, **({"phone_tail": tail} if tail else {})}
        refused = client.post(reverse("cases:public_rate"), data)
        assert refused.status_code == 400 and needle in html(refused), tail
    case.refresh_from_db()
    assert (case.state, case.rating) == (State.RESOLVED, "")
    # A case filed without a phone (anonymous) has nothing to ask: the ticket suffices.
    bare = to_state(world, file_case(world, catalogue, reporter_phone="", anonymous=True, reporter_name=""),
                    State.RESOLVED)
    assert "反映时所留电话的后四位" not in html(client.post(reverse("cases:public_track"), {"ticket": bare.ticket}))
    assert client.post(reverse("cases:public_rate"), {"ticket": bare.ticket, **answers}).status_code == 200
    bare.refresh_from_db()
    assert bare.rating == "unsatisfied"


# --- detail and actions -----------------------------------------------------------------------------


def test_action_panel_shows_exactly_the_allowed_actions(client, world, catalogue):
    case = file_case(world, catalogue)
    client.force_login(world.secretary)
    forms = client.get(reverse("cases:detail", args=[case.pk])).context["action_forms"]
    assert [f.action for f in forms] == ["accept", "reject", "tier", "merge"]  # the table's, primary first
    client.force_login(world.worker)
    response = client.get(reverse("cases:detail", args=[case.pk]))
    assert [f.action for f in response.context["action_forms"]] == ["accept", "merge"]
    page = html(response)
    assert "138******78" in page and "13812345678" not in page
    for label in ("退回", "返工", "重办", "督办"):
        assert f"<dt>{label}</dt>" in page


def test_the_loop_through_the_action_forms(client, world, catalogue):
    case = file_case(world, catalogue)
    client.force_login(world.secretary)
    assert act(client, case, Action.ACCEPT, tier=Tier.PUBLIC).status_code == 302
    page = client.get(reverse("cases:detail", args=[case.pk]))
    dispatch = next(f for f in page.context["action_forms"] if f.action == Action.DISPATCH)
    assert dispatch.initial["department"] == world.department.pk  # the routing rule's choice
    assert act(client, case, Action.DISPATCH, department=world.department.pk).status_code == 302
    client.force_login(world.handler)
    assert act(client, case, Action.ACKNOWLEDGE).status_code == 302
    missing_reason = act(client, case, Action.RESOLVE)
    assert missing_reason.status_code == 400 and "请填写" in html(missing_reason)
    assert act(client, case, Action.RESOLVE, reason="已清运，加设垃圾桶").status_code == 302
    client.force_login(world.worker)
    assert act(client, case, Action.VERIFY_PASS).status_code == 302
    client.force_login(world.secretary)
    response = act(client, case, Action.CLOSE)
    case.refresh_from_db()
    assert response.status_code == 302 and case.state == State.CLOSED
    timeline = client.get(reverse("cases:detail", args=[case.pk])).context["timeline"]
    assert [s.label for s in timeline] == ["登记", "受理", "派遣", "签收", "办结", "核查通过", "结案销号"]


def test_forbidden_and_stale_actions_show_a_message_and_change_nothing(client, world, catalogue):
    case = to_state(world, file_case(world, catalogue), State.ACCEPTED)
    before = (case.state, case.version, case.transitions.count())
    client.force_login(world.worker)
    response = act(client, case, Action.DISPATCH, department=world.department.pk)
    assert response.status_code == 403 and "您不能对该事项执行“派遣”" in html(response)
    client.force_login(world.secretary)
    stale = client.post(reverse("cases:act", args=[case.pk]), {"action": "dispatch", "version": case.version - 1})
    assert stale.status_code == 409 and "该事项刚被他人处理，请刷新" in html(stale)
    wrong_state = act(client, case, Action.CLOSE)
    assert wrong_state.status_code == 400 and "不能执行" in html(wrong_state)
    case.refresh_from_db()
    assert (case.state, case.version, case.transitions.count()) == before


def test_merge_a_duplicate_by_ticket(client, world, catalogue):
    first = file_case(world, catalogue)
    second = file_case(world, catalogue, title="1幢楼下垃圾没人清运", reporter_phone="")
    client.force_login(world.secretary)
    page = client.get(reverse("cases:detail", args=[second.pk]))
    assert [c.pk for c, _s in page.context["similar"]] == [first.pk] and "并入此件" in html(page)
    bad = act(client, second, Action.MERGE, into="20260101-NOTHERE2")
    assert bad.status_code == 400 and "未找到编号" in html(bad)
    assert act(client, second, Action.MERGE, into=first.ticket.lower()).status_code == 302
    second.refresh_from_db()
    assert second.state == State.CLOSED and second.merged_into == first


def test_handler_returning_a_case_lands_on_the_list(client, world, catalogue):
    case = to_state(world, file_case(world, catalogue), State.DISPATCHED)
    client.force_login(world.handler)
    response = act(client, case, Action.RETURN, reason="非本科室职责")
    assert response.status_code == 302 and response["Location"] == reverse("cases:list")


# --- attachments ---------------------------------------------------------------------------------------


def test_attachment_checks_content_size_and_count(client, world, catalogue):
    case = file_case(world, catalogue)
    client.force_login(world.worker)
    url = reverse("cases:attach", args=[case.pk])
    fake = client.post(url, {"upload": SimpleUploadedFile("现场.jpg", b"hello, I am text", content_type="image/jpeg")})
    assert fake.status_code == 400 and "“现场.jpg”的扩展名是图片，但内容不是 JPG、PNG 或 WEBP 图片" in html(fake)
    big = b"\xff\xd8\xff\xe0" + b"\0" * services.ATTACHMENT_MAX_BYTES
    too_large = client.post(url, {"upload": SimpleUploadedFile("big.jpg", big, content_type="image/jpeg")})
    assert too_large.status_code == 400 and "超过 10 MB" in html(too_large)
    renamed_zip = io.BytesIO()
    with zipfile.ZipFile(renamed_zip, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert client.post(url, {"upload": SimpleUploadedFile("说明.pdf", renamed_zip.getvalue())}).status_code == 302
    assert case.attachments.get().content_type.endswith("wordprocessingml.document")  # judged by content
    for i in range(services.ATTACHMENTS_PER_CASE - 1):
        assert client.post(url, {"upload": png_upload(f"{i}.png")}).status_code == 302
    full = client.post(url, {"upload": png_upload()})
    assert full.status_code == 400 and "最多 9 个附件" in html(full)
    assert case.attachments.count() == services.ATTACHMENTS_PER_CASE
    assert AuditEvent.objects.filter(action="cases.case.attach", object_id=str(case.pk)).count() == 9


# --- list and export ----------------------------------------------------------------------------------


def test_list_filters_and_scope(client, world, catalogue):
    mine = file_case(world, catalogue)
    theirs = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None,
                       title="二网格井盖缺失", category=catalogue["dispute"])
    client.force_login(world.worker)
    assert [c["id"] for c in client.get(reverse("cases:list")).context["rows"]] == [mine.pk]
    client.force_login(world.secretary)
    listed = lambda **q: [c["id"] for c in client.get(reverse("cases:list"), q).context["rows"]]  # noqa: E731
    assert listed() == [theirs.pk, mine.pk]
    assert listed(q="井盖") == [theirs.pk] and listed(q=mine.ticket[-8:].lower()) == [mine.pk]
    assert listed(category=catalogue["dispute"].pk) == [theirs.pk]
    assert listed(area=world.grid.pk) == [mine.pk]
    assert listed(state="accepted") == []
    to_state(world, mine, State.DISPATCHED)
    Case.objects.filter(pk=mine.pk).update(deadline_at="2020-01-01T00:00:00Z")
    assert listed(overdue="on") == [mine.pk]
    page = html(client.get(reverse("cases:list"), {"overdue": "on"}))
    assert "已超期" in page
    client.force_login(world.handler)
    assert [c["id"] for c in client.get(reverse("cases:list"), {"mine": "on"}).context["rows"]] == [mine.pk]


def test_export_masks_phones_and_is_audited(client, world, catalogue):
    file_case(world, catalogue)
    client.force_login(world.secretary)
    rows = sheet(page_download(client, "cases:export", {"q": "垃圾"}))
    assert rows[0][0] == "编号" and len(rows) == 2
    assert "138******78" in rows[1] and "13812345678" not in [str(v) for v in rows[1]]
    event = AuditEvent.objects.get(action="cases.export")
    assert event.after["rows"] == 1 and event.after["filters"] == {"text": "垃圾"}


# --- catalogue administration ---------------------------------------------------------------------------


def test_catalogue_pages_are_403_for_non_admins(client, world, catalogue):
    rule = RoutingRule.objects.get(category=catalogue["garbage"])
    holiday = WorkdayOverride.objects.create(date=date(2027, 1, 1), is_workday=False, name="元旦")
    urls = [reverse("cases:catalogue"), reverse("cases:holidays"), reverse("cases:category", args=[catalogue["garbage"].pk])]
    posts = [reverse("cases:rule_delete", args=[rule.pk]), reverse("cases:holiday_delete", args=[holiday.pk]),
             reverse("cases:rule_set", args=[catalogue["garbage"].pk])]
    for user in (world.worker, world.secretary, world.leader, world.handler):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user.username, url)
        for url in posts:
            assert client.post(url).status_code == 403
    assert RoutingRule.objects.filter(pk=rule.pk).exists() and WorkdayOverride.objects.filter(pk=holiday.pk).exists()


def test_admin_edits_a_category_and_its_routing_rules(client, world, catalogue):
    garbage = catalogue["garbage"]
    client.force_login(world.admin)
    data = {"name": "暴露垃圾", "default_tier": Tier.COMMUNITY, "time_limit": "2.5", "time_limit_unit": "working_days",
            "accept_conditions": "现场可见", "close_conditions": "清运完毕", "keywords": "垃圾，清运 、 垃圾 臭",
            "sort_order": 3, "is_active": "on"}
    assert client.post(reverse("cases:category", args=[garbage.pk]), data).status_code == 302
    garbage.refresh_from_db()
    assert (garbage.default_tier, str(garbage.time_limit), garbage.keywords) == (Tier.COMMUNITY, "2.5", "垃圾 清运 臭")
    assert AuditEvent.objects.filter(action="cases.category.update", object_id=str(garbage.pk)).exists()
    bad = client.post(reverse("cases:category", args=[garbage.pk]), {**data, "time_limit": "0"})
    assert bad.status_code == 400
    # The grid-level rule is more specific than the sub-district's: it wins when routing.
    other = Department.objects.create(subdistrict=world.subdistrict, name="综合执法队")
    response = client.post(reverse("cases:rule_set", args=[garbage.pk]), {"rule_node": world.grid.pk, "department": other.pk})
    assert response.status_code == 302
    assert catalogue_selectors.route(garbage, world.building) == other and catalogue_selectors.route(garbage, world.other_grid) == world.department
    page = html(client.get(reverse("cases:category", args=[garbage.pk])))
    assert "综合执法队" in page and "东门第一网格" in page
    rule = RoutingRule.objects.get(category=garbage, node=world.grid)
    assert client.post(reverse("cases:rule_delete", args=[rule.pk])).status_code == 302
    assert catalogue_selectors.route(garbage, world.building) == world.department
    assert AuditEvent.objects.filter(action="cases.routingrule.delete").exists()


def test_holiday_add_and_delete_change_working_days(client, world):
    day = date(2027, 2, 8)  # a Monday of a year chinese-calendar 1.11 does not know
    client.force_login(world.admin)
    page = html(client.get(reverse("cases:holidays")))
    assert "2027 年的法定节假日安排尚未确认录入完整" in page and "没有该年的调整记录" in page
    assert workdays.is_workday(day, strict=False) is True
    response = client.post(reverse("cases:holidays"), {"date": "2027-02-08", "is_workday": "0", "name": "春节"})
    assert response.status_code == 302
    assert workdays.is_workday(day, strict=False) is False  # no stale cache
    with pytest.raises(workdays.UnknownYear):
        workdays.is_workday(day)  # one row is not the whole year
    page = html(client.get(reverse("cases:holidays")))
    assert "2027 年的法定节假日安排尚未确认录入完整" in page and "已录入 1 个放假日、0 个调休上班日" in page
    assert "春节" in page
    override = WorkdayOverride.objects.get(date=day)
    assert client.post(reverse("cases:holiday_delete", args=[override.pk])).status_code == 302
    assert workdays.is_workday(day, strict=False) is True
    assert AuditEvent.objects.filter(action__startswith="core.workdayoverride.").count() == 2


# --- home widgets -----------------------------------------------------------------------------------------


def test_home_widgets_per_role_with_few_queries(client, world, catalogue, django_assert_max_num_queries):
    waiting = file_case(world, catalogue)
    dispatched = to_state(world, file_case(world, catalogue, title="二号垃圾点"), State.DISPATCHED)
    for user in (world.worker, world.secretary, world.handler, world.leader):
        user = type(user).objects.get(pk=user.pk)  # fresh: no per-request caches yet
        with django_assert_max_num_queries(6):
            selectors.home_widgets(user)
    client.force_login(world.worker)
    page = html(client.get(reverse("home")))
    assert "我的网格待办" in page and "登记诉求" in page and waiting.title in page and dispatched.title in page
    client.force_login(world.secretary)
    response = client.get(reverse("home"))
    widget = next(w for w in response.context["widgets"] if w["type"] == "community")
    assert (widget["reported"], [c.pk for c in widget["cases"]]) == (1, [waiting.pk])
    client.force_login(world.handler)
    widget = next(w for w in client.get(reverse("home")).context["widgets"] if w["type"] == "department")
    assert (widget["dispatched"], widget["working"]) == (1, 0)
    client.force_login(world.leader)
    widget = next(w for w in client.get(reverse("home")).context["widgets"] if w["type"] == "overview")
    counts = {state: n for _label, state, n in widget["counts"]}
    assert counts[State.REPORTED] == 1 and counts[State.DISPATCHED] == 1 and widget["total"] == 2


# --- selectors -------------------------------------------------------------------------------------------


def test_suggest_category_uses_the_catalogue_before_any_training_and_says_low_confidence(world, catalogue):
    Category.objects.filter(pk=catalogue["garbage"].pk).update(keywords="垃圾 清运 堆放 臭")
    Category.objects.filter(pk=catalogue["dispute"].pk).update(keywords="邻居 纠纷 噪音 楼上")
    Category.objects.exclude(pk__in=[catalogue["garbage"].pk, catalogue["dispute"].pk]).update(is_active=False)
    caching.clear()  # bare ORM updates, not category_update: the catalogue cache is not told
    top = selectors.suggest_category("楼下的垃圾堆放好几天没人清运，很臭！")
    assert top[0][0] == catalogue["garbage"] and top[0][1] >= 0.5 and not top.low_confidence
    assert top.version_id is None  # no version trained yet: the catalogue's cold-start model
    assert selectors.suggest_category("你好").low_confidence  # no word the model knows: no guess
    assert selectors.suggest_category("？") == []
    Category.objects.filter(pk=catalogue["garbage"].pk).update(is_active=False)
    caching.clear()
    assert catalogue["garbage"] not in [c for c, _s in selectors.suggest_category("垃圾清运")]


def test_similar_cases_scores_words_building_and_category(world, catalogue):
    same = file_case(world, catalogue)
    other_words = file_case(world, catalogue, title="电梯故障", description="2单元电梯困人", building=None,
                            category=catalogue["dispute"])
    far = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None)
    found = selectors.similar_cases(world.secretary, node=world.building, category=catalogue["garbage"],
                                    text="1幢楼下垃圾没人清运，很臭")
    assert [c.pk for c, _s in found] == [same.pk]  # not the unrelated words, not the other grid
    assert 0.35 < found[0][1] <= 1
    assert other_words.pk not in [c.pk for c, _s in found] and far.pk not in [c.pk for c, _s in found]
    Case.objects.filter(pk=same.pk).update(created_at="2020-01-01T00:00:00Z")  # older than 30 days
    assert selectors.similar_cases(world.secretary, node=world.building, category=None, text="1幢楼下垃圾") == []
    assert selectors.jaccard(selectors.bigrams("垃圾，清运！"), selectors.bigrams("垃圾清运")) == 1.0


def test_api_export_is_a_job_with_phones_masked(as_, world, catalogue):
    case = file_case(world, catalogue)
    file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, building=None, title="另一网格的垃圾")
    api = as_(world.worker)
    response = api.post("/cases/exports", {"q": "垃圾"})
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["kind"], job["status"], job["done_rows"]) == ("cases", "done", 1)
    rows = sheet(api.client.get(job["download_url"], **api.headers))
    assert [r[0] for r in rows[1:]] == [case.ticket]
    assert "138******78" in rows[1] and "13812345678" not in repr(rows)
    assert AuditEvent.objects.get(action="cases.export").after["filters"] == {"text": "垃圾"}
    assert api.post("/cases/exports", {"node": world.village_grid.pk}).status_code == 404
    assert as_(world.other_worker).client.get(job["download_url"], **as_(world.other_worker).headers).status_code == 404
