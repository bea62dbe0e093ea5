"""The reporter's phone on a case: sealed with a blind index at intake, revealed for 回访 only with
the permission and a reason (audited, never cached), and looked up at intake to show a repeat
caller's earlier cases — only those the user can see, throttled and audited, never decrypting.
Through the API and the pages, with the world's named users (tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from jiedao.cases import services
from jiedao.cases.models import Case, Source
from jiedao.core import crypto, sealed
from jiedao.core.models import AuditEvent
from jiedao.core.permissions import Role
from jiedao.org import services as org_services
from tests.conftest import PASSWORD

PHONE = "13812345678"
OTHER = "13900001111"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()  # lookup counters
    yield
    cache.clear()


def file_case(world, *, actor=None, node=None, phone=PHONE, **over) -> Case:
    fields = dict(actor=actor or world.worker, source=Source.DOOR_VISIT, node=node or world.grid, title="楼道灯坏了",
                  description="3单元楼道灯不亮", reporter_name="陈阿姨", reporter_phone=phone, suggest=False)
    fields.update(over)
    return services.case_create(**fields)


def village_secretary(world):
    user = org_services.user_create(actor=world.admin, username="village_secretary", full_name="钱书记",
                                    home_node=world.village, password=PASSWORD)
    org_services.role_assign(actor=world.admin, user=user, role=Role.COMMUNITY_SECRETARY, node=world.village)
    return user


def events(action: str):
    return AuditEvent.objects.filter(action=action).order_by("id")


# --- intake stores the blind index ------------------------------------------------------------


def test_intake_stores_the_blind_index_and_nothing_for_anonymous_cases(world, as_):
    body = {"source": "hotline", "node": world.grid.pk, "description": "路灯不亮", "reporter_phone": "138 1234 5678"}
    filed = as_(world.secretary).post("/cases", body)
    assert filed.status_code == 201, filed.content
    stored = Case.objects.get(pk=filed.json()["id"])
    assert stored.reporter_phone_index == crypto.blind_index(PHONE, kind="phone")
    assert stored.reporter_phone_masked == "138******78" and sealed.reveal(stored, "reporter_phone") == PHONE
    create = events("cases.case.create").get(object_id=str(stored.pk))
    assert not {"reporter_phone_enc", "reporter_phone_index"} & set(create.after)  # audit_exclude

    anonymous = as_(world.secretary).post("/cases", {**body, "anonymous": True})
    stored = Case.objects.get(pk=anonymous.json()["id"])
    assert (stored.reporter_phone_enc, stored.reporter_phone_index, stored.reporter_phone_masked) == ("", "", "")


# --- reveal for 回访 -------------------------------------------------------------------------------


def test_secretary_reveals_with_a_reason_and_it_is_audited(world, as_):
    case = file_case(world)
    response = as_(world.secretary).post(f"/cases/{case.pk}/reveal-phone", {"reason": " 电话回访  办理结果 "})
    assert response.status_code == 200, response.content
    assert response.json() == {"phone": PHONE}
    assert response["Cache-Control"] == "no-store"
    event = events("cases.case.reveal_phone").get()
    assert (event.actor_id, event.object_id, event.reason) == (world.secretary.pk, str(case.pk), "电话回访 办理结果")
    assert PHONE not in str(event.after) and PHONE not in str(event.before)
    # Administrators reveal too (community staff hold the permission as secretaries do).
    assert as_(world.admin).post(f"/cases/{case.pk}/reveal-phone", {"reason": "回访"}).json() == {"phone": PHONE}


@pytest.mark.parametrize(("body", "field"), [
    ({}, "reason"),
    ({"reason": "  "}, "reason"),
    ({"reason": "回" * 201}, "reason"),
])
def test_reveal_needs_a_reason_of_at_most_200_characters(world, as_, body, field):
    case = file_case(world)
    response = as_(world.secretary).post(f"/cases/{case.pk}/reveal-phone", body)
    assert response.status_code == 400, response.content
    assert response.json()["field"] == field and "事由" in response.json()["detail"]
    assert not events("cases.case.reveal_phone").exists()
    assert as_(world.secretary).post(f"/cases/{case.pk}/reveal-phone", {"reason": "回" * 200}).status_code == 200


def test_reveal_without_the_permission_403_out_of_scope_404(world, as_):
    case = file_case(world)
    # The grid worker and the sub-district leader see the case but do not call back: 403.
    for user in (world.worker, world.leader):
        response = as_(user).post(f"/cases/{case.pk}/reveal-phone", {"reason": "电话回访"})
        assert response.status_code == 403, (user.username, response.content)
        assert response.json()["code"] == "forbidden"
    # Another community's secretary and another grid's worker do not see it: 404 like a missing case.
    for user in (village_secretary(world), world.other_worker):
        response = as_(user).post(f"/cases/{case.pk}/reveal-phone", {"reason": "电话回访"})
        assert response.status_code == 404, (user.username, response.content)
    assert not events("cases.case.reveal_phone").exists()


def test_reveal_is_refused_for_anonymous_cases_and_cases_without_a_phone(world, as_):
    anonymous = file_case(world, anonymous=True)
    no_phone = file_case(world, phone="")
    for case, detail in ((anonymous, "匿名"), (no_phone, "没有留")):
        response = as_(world.secretary).post(f"/cases/{case.pk}/reveal-phone", {"reason": "电话回访"})
        assert response.status_code == 400, response.content
        assert response.json()["field"] == "reporter_phone" and detail in response.json()["detail"]
    assert not events("cases.case.reveal_phone").exists()


def test_case_page_shows_the_masked_phone_and_reveals_it_inline(world, client):
    case = file_case(world)
    url = reverse("cases:reveal_phone", args=[case.pk])
    client.force_login(world.secretary)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "138******78" in page and "查看完整号码（回访用）" in page and PHONE not in page

    refused = client.post(url, {"reason": ""}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "查看事由" in refused.content.decode() and PHONE not in refused.content.decode()

    shown = client.post(url, {"reason": "电话回访"}, HTTP_HX_REQUEST="true")
    body = shown.content.decode()
    assert shown.status_code == 200 and f'href="tel:{PHONE}"' in body and "<html" not in body
    assert "no-store" in shown["Cache-Control"]
    assert events("cases.case.reveal_phone").get().reason == "电话回访"

    # Without JavaScript: a small page of its own, never cached either.
    plain = client.post(url, {"reason": "电话回访"})
    assert plain.status_code == 200 and f'href="tel:{PHONE}"' in plain.content.decode() and "no-store" in plain["Cache-Control"]
    assert client.get(url).status_code == 405


def test_case_page_offers_no_reveal_to_grid_workers_and_they_cannot_post_it(world, client):
    case = file_case(world)
    client.force_login(world.worker)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "138******78" in page and "查看完整号码" not in page
    refused = client.post(reverse("cases:reveal_phone", args=[case.pk]), {"reason": "电话回访"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 403 and PHONE not in refused.content.decode()
    client.force_login(world.village_worker)
    assert client.post(reverse("cases:reveal_phone", args=[case.pk]), {"reason": "电话回访"}).status_code == 404
    anonymous = file_case(world, actor=world.worker, anonymous=True)
    client.force_login(world.secretary)
    page = client.get(reverse("cases:detail", args=[anonymous.pk])).content.decode()
    assert "查看完整号码" not in page and "匿名" in page


# --- a repeat caller's earlier cases -----------------------------------------------------------


@pytest.fixture
def callers(world):
    """Three cases from PHONE in 东门第一网格 (东门社区), one from PHONE in 横塘村, one from another number."""
    own = [file_case(world, title=f"楼道灯坏了（第{n}次）") for n in (1, 2, 3)]
    village = file_case(world, actor=world.village_worker, node=world.village_grid, title="村口路灯不亮")
    other = file_case(world, phone=OTHER, title="垃圾没人收")
    return own, village, other


def test_lookup_counts_only_the_cases_the_user_sees(world, as_, callers):
    own, village, _other = callers
    answer = as_(world.secretary).post("/cases/reporter-lookup", {"phone": "138 1234 5678"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["count"] == 3  # the 横塘村 case with the same number is not counted
    assert [c["id"] for c in body["cases"]] == [c.pk for c in reversed(own)]  # newest first
    assert set(body["cases"][0]) == {"id", "ticket", "title", "state", "state_label", "category_name", "created_at"}
    assert PHONE not in answer.content.decode() and "5678" not in answer.content.decode()
    assert answer["Cache-Control"] == "no-store"
    counts = {user.username: as_(user).post("/cases/reporter-lookup", {"phone": PHONE}).json()["count"]
              for user in (world.admin, world.worker, world.other_worker, world.village_worker, world.leader)}
    assert counts == {"admin": 4, "worker": 3, "other_worker": 0, "village_worker": 1, "leader": 4}
    village_ids = [c["id"] for c in as_(village_secretary(world)).post("/cases/reporter-lookup", {"phone": PHONE})
                   .json()["cases"]]
    assert village_ids == [village.pk]


def test_lookup_shows_at_most_five_and_is_audited_with_the_masked_number(world, as_):
    filed = [file_case(world, title=f"第{n}次反映") for n in range(7)]
    body = as_(world.worker).post("/cases/reporter-lookup", {"phone": PHONE}).json()
    assert body["count"] == 7 and [c["id"] for c in body["cases"]] == [c.pk for c in reversed(filed)][:5]
    event = events("cases.case.reporter_lookup").get()
    assert event.actor_id == world.worker.pk and event.after == {"phone": "138******78", "found": 7}
    assert PHONE not in str(event.after) + event.object_repr + event.reason


def test_lookup_refusals(world, as_, settings):
    assert as_(world.handler).post("/cases/reporter-lookup", {"phone": PHONE}).status_code == 403
    bad = as_(world.worker).post("/cases/reporter-lookup", {"phone": "12345"})
    assert bad.status_code == 400 and bad.json()["field"] == "phone"
    assert as_(world.worker).post("/cases/reporter-lookup", {"phone": ""}).json()["field"] == "phone"
    assert not events("cases.case.reporter_lookup").exists()

    settings.JIEDAO_PHONE_LOOKUP_LIMITS = {"user": (3, 3600)}
    api = as_(world.secretary)
    assert [api.post("/cases/reporter-lookup", {"phone": PHONE}).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.post("/cases/reporter-lookup", {"phone": PHONE}).json()["code"] == "throttled"


def test_lookup_cannot_test_the_candidates_behind_one_mask(world, as_, settings):
    """A case page shows 138******78: trying the 1,000,000 numbers behind that mask one by one is
    stopped after a few different ones (the same number again is free)."""
    settings.JIEDAO_PHONE_LOOKUP_LIMITS = {"mask": (3, 86400)}
    file_case(world)
    api = as_(world.worker)
    tries = [f"138{n:04d}5678" for n in (1, 2, 3, 4)]
    answers = [api.post("/cases/reporter-lookup", {"phone": number}) for number in tries]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "138******78" in answers[3].json()["detail"]
    assert api.post("/cases/reporter-lookup", {"phone": tries[0]}).status_code == 200  # seen before
    assert api.post("/cases/reporter-lookup", {"phone": PHONE}).status_code == 429  # the real one: no oracle
    assert api.post("/cases/reporter-lookup", {"phone": OTHER}).status_code == 200  # another mask


def test_intake_pages_show_the_repeat_caller(world, client, callers):
    own, village, _other = callers
    url = reverse("cases:reporter_cases")
    client.force_login(world.secretary)
    for page in ("cases:hotline", "cases:new"):
        form = client.get(reverse(page)).content.decode()
        assert url in form and 'id="repeat-caller"' in form
    answer = client.post(url, {"reporter_phone": PHONE}, HTTP_HX_REQUEST="true")
    body = answer.content.decode()
    assert answer.status_code == 200 and "该号码此前反映过 3 件" in body
    assert all(c.ticket in body for c in own) and village.ticket not in body
    assert PHONE not in body and "5678" not in body and "no-store" in answer["Cache-Control"]

    nothing = client.post(url, {"reporter_phone": "13700002222"}, HTTP_HX_REQUEST="true").content.decode()
    assert "此前没有反映过" in nothing
    # Still typing, or filing anonymously: no lookup, no answer, no audit event.
    assert client.post(url, {"reporter_phone": "138123"}).content.decode().strip() == ""
    assert client.post(url, {"reporter_phone": PHONE, "anonymous": "on"}).content.decode().strip() == ""
    assert events("cases.case.reporter_lookup").count() == 2
    assert client.get(url).status_code == 405

    client.force_login(world.worker)  # the door-to-door form of a grid worker: their grid's cases
    assert "该号码此前反映过 3 件" in client.post(url, {"reporter_phone": PHONE}).content.decode()
    client.force_login(world.handler)
    assert client.post(url, {"reporter_phone": PHONE}).status_code == 403


def test_intake_page_says_when_lookups_are_throttled(world, client, settings):
    settings.JIEDAO_PHONE_LOOKUP_LIMITS = {"user": (1, 3600)}
    client.force_login(world.secretary)
    url = reverse("cases:reporter_cases")
    assert client.post(url, {"reporter_phone": PHONE}, HTTP_HX_REQUEST="true").status_code == 200
    throttled = client.post(url, {"reporter_phone": PHONE}, HTTP_HX_REQUEST="true")
    assert throttled.status_code == 429 and "过于频繁" in throttled.content.decode()
