"""The API's plumbing through HTTP: authentication, the error format, /me, tokens, the docs page."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from jiedao.core import caching
from jiedao.core.models import ApiToken, AuditEvent
from jiedao.core.services import token_create, token_revoke
from tests.api_client import bearer

BASE = "/api/v1"
UNAUTHENTICATED = {"detail": "请先登录或提供有效的 API 令牌。", "field": None, "code": "unauthenticated"}


def post_json(client, url, data, **headers):
    body = data if isinstance(data, str) else json.dumps(data)
    return client.post(BASE + url, body, content_type="application/json", **headers)


# --- authentication ---------------------------------------------------------------------------


def test_no_credentials_is_401_in_chinese(world, client):
    response = client.get(f"{BASE}/me")
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert response["Content-Type"].startswith("application/json")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_anonymous_write_is_401_not_a_csrf_failure(world):
    response = post_json(Client(enforce_csrf_checks=True), "/tokens", {"name": "x"})
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_valid_token_authenticates(world, client):
    response = client.get(f"{BASE}/me", **bearer(world.worker))
    assert response.status_code == 200
    assert response.json()["username"] == "worker"
    assert response.json()["auth_method"] == "token"


@pytest.mark.parametrize(
    "header",
    ["Bearer jd_not-a-real-token", "Bearer ", "Bearer something-without-prefix", "Token jd_abc", "jd_abc"],
)
def test_wrong_tokens_are_401(world, client, header):
    response = client.get(f"{BASE}/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_revoked_token_is_401(world, client):
    token, plaintext = token_create(actor=world.worker, name="会撤销")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    assert client.get(f"{BASE}/me", **headers).status_code == 200
    token_revoke(actor=world.worker, token=token)
    response = client.get(f"{BASE}/me", **headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_expired_token_is_401(world, client):
    token, plaintext = token_create(actor=world.worker, name="会过期", expires_days=1)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    assert client.get(f"{BASE}/me", **headers).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    caching.clear()  # a bare ORM update moved the expiry; real expiry is checked on every request
    response = client.get(f"{BASE}/me", **headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED


def test_token_of_deactivated_user_is_401(world, client):
    headers = bearer(world.worker)
    world.worker.is_active = False
    world.worker.save(update_fields=["is_active"])
    assert client.get(f"{BASE}/me", **headers).status_code == 401


def test_session_authenticates_reads(world, client):
    client.force_login(world.secretary)
    response = client.get(f"{BASE}/me")
    assert response.status_code == 200
    assert response.json()["username"] == "secretary"
    assert response.json()["auth_method"] == "session"


def test_session_writes_need_csrf(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.worker)
    before = ApiToken.objects.count()
    refused = post_json(client, "/tokens", {"name": "脚本"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert ApiToken.objects.count() == before

    client.get(f"{BASE}/docs")  # any page that renders a CSRF token sets the cookie
    csrf = client.cookies["csrftoken"].value
    accepted = post_json(client, "/tokens", {"name": "脚本"}, HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201, accepted.content
    assert ApiToken.objects.count() == before + 1


def test_token_requests_need_no_csrf(world):
    client = Client(enforce_csrf_checks=True)
    response = client.delete(
        f"{BASE}/tokens/{token_create(actor=world.worker, name='x')[0].pk}", **bearer(world.worker)
    )
    assert response.status_code == 204


def test_bad_token_does_not_fall_back_to_session(world, client):
    client.force_login(world.admin)
    response = client.get(f"{BASE}/me", HTTP_AUTHORIZATION="Bearer jd_wrong")
    assert response.status_code == 401


# --- /me --------------------------------------------------------------------------------------


def test_me_lists_role_assignments_and_permissions(world, client):
    body = client.get(f"{BASE}/me", **bearer(world.handler)).json()
    assert body["full_name"] == "孙科员"
    assert [(a["role"], a["role_label"], a["node_name"], a["department_name"]) for a in body["assignments"]] == [
        ("department_handler", "科室办理人员", "丹西街道", "城建办")
    ]
    assert "org.view" in body["permissions"] and "users.manage" not in body["permissions"]
    assert "password" not in body
    admin = client.get(f"{BASE}/me", **bearer(world.admin)).json()
    assert "users.manage" in admin["permissions"]


# --- tokens -----------------------------------------------------------------------------------


def test_create_token_returns_plaintext_once_and_it_works(world, client):
    client.force_login(world.worker)
    response = post_json(client, "/tokens", {"name": "数据对接", "expires_days": 30})
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("jd_") and body["name"] == "数据对接" and body["is_usable"]
    assert body["token"].startswith(body["prefix"])
    event = AuditEvent.objects.filter(action="core.token.create").order_by("-id").first()
    assert event.actor_id == world.worker.pk and event.object_id == str(body["id"])

    fresh = Client()
    me = fresh.get(f"{BASE}/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200 and me.json()["username"] == "worker"

    listed = client.get(f"{BASE}/tokens").json()
    assert listed["count"] == 1
    assert "token" not in listed["items"][0] and "key_hash" not in listed["items"][0]
    assert body["token"] not in json.dumps(listed)


def test_token_list_shows_only_own_tokens(world, client):
    token_create(actor=world.admin, name="管理员的")
    headers = bearer(world.worker)
    body = client.get(f"{BASE}/tokens", **headers).json()
    assert body["count"] == 1
    assert [t["name"] for t in body["items"]] == ["测试"]


def test_a_token_cannot_mint_tokens(world, client):
    before = ApiToken.objects.count()
    headers = bearer(world.admin)
    response = post_json(client, "/tokens", {"name": "再来一个"}, **headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert ApiToken.objects.count() == before + 1  # only the one made for the request


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"name": "  "}, 400, "name"),
        ({"name": "x", "expires_days": 0}, 400, "expires_days"),
        ({"name": "x", "expires_days": "很久"}, 422, "expires_days"),
        ({}, 422, "name"),
    ],
)
def test_create_token_bad_input(world, client, payload, status, field):
    client.force_login(world.worker)
    response = post_json(client, "/tokens", payload)
    assert response.status_code == status
    assert response.json()["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", response.json()["detail"])
    assert ApiToken.objects.count() == 0


def test_revoke_own_token(world, client):
    token, plaintext = token_create(actor=world.worker, name="待吊销")
    headers = bearer(world.worker)
    response = client.delete(f"{BASE}/tokens/{token.pk}", **headers)
    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get(f"{BASE}/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}").status_code == 401
    assert AuditEvent.objects.filter(action="core.token.revoke", object_id=str(token.pk)).count() == 1


def test_someone_elses_token_is_404_like_a_missing_one(world, client):
    theirs, _ = token_create(actor=world.admin, name="管理员的")
    headers = bearer(world.worker)
    other = client.delete(f"{BASE}/tokens/{theirs.pk}", **headers)
    missing = client.delete(f"{BASE}/tokens/987654", **headers)
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json() == {"detail": "未找到该对象。", "field": None, "code": "not_found"}
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


# --- the error format -------------------------------------------------------------------------


def test_malformed_json_is_400_in_chinese(world, client):
    client.force_login(world.worker)
    response = post_json(client, "/tokens", '{"name": "x",')
    assert response.status_code == 400
    assert response.json() == {"detail": "请求体不是有效的 JSON，请检查格式。", "field": None, "code": "malformed_json"}
    assert ApiToken.objects.count() == 0


def test_body_that_is_not_utf8_is_400(world, client):
    client.force_login(world.worker)
    response = client.post(f"{BASE}/tokens", b'{"name": "\xff"}', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_body_of_the_wrong_shape_is_422(world, client):
    client.force_login(world.worker)
    response = post_json(client, "/tokens", "[1, 2]")
    assert response.status_code == 422
    assert response.json()["field"] is None
    assert response.json()["detail"] == "请求体应为 JSON 对象。"


def test_unknown_field_is_refused(world, client):
    client.force_login(world.worker)
    response = post_json(client, "/tokens", {"name": "x", "expire_days": 3})
    assert response.status_code == 422
    assert response.json()["field"] == "expire_days"
    assert response.json()["detail"] == "字段 expire_days：不是可接受的字段。"


def test_unknown_api_path_is_json_404(world, client):
    headers = bearer(world.admin)
    for url in (f"{BASE}/no/such/thing", f"{BASE}/"):
        response = client.get(url, **headers)
        assert response.status_code == 404, url
        assert response.json()["detail"] == "未找到该对象。"


def test_non_numeric_and_oversized_ids_are_422_not_500(world, client):
    headers = bearer(world.worker)
    for raw in ("abc", "99999999999999999999999", "0"):
        response = client.delete(f"{BASE}/tokens/{raw}", **headers)
        assert response.status_code == 422, raw
        assert response.json()["field"] == "token_id"


def test_responses_are_utf8_not_escaped(world, client):
    response = client.get(f"{BASE}/me")
    assert "请先登录".encode() in response.content


# --- OpenAPI and the docs page ----------------------------------------------------------------


def test_openapi_document(db, client):
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/me", "/api/v1/tokens", "/api/v1/org/nodes", "/api/v1/users"} <= set(schema["paths"])
    assert schema["paths"]["/api/v1/org/nodes"]["get"]["summary"] == "组织节点列表"
    node_out = schema["components"]["schemas"]["NodeOut"]["properties"]
    assert node_out["kind_label"]["description"] == "类型名称，如“网格”"
    assert "boundary" not in node_out
    assert {"TokenAuth", "SessionAuth"} <= set(schema["components"]["securitySchemes"])
    user_fields = schema["components"]["schemas"]["UserDetailOut"]["properties"]
    assert "password" not in user_fields


_ASSET = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def test_docs_page_uses_only_local_assets(db, client):
    response = client.get(f"{BASE}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = _ASSET.findall(html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    external = [a for a in assets if re.match(r"^(https?:)?//", a, re.IGNORECASE)]
    assert external == [], f"the docs page loads assets from outside: {external}"
    assert not re.search(r"https?://", html), "no absolute URL at all in the docs page"
    # Swagger UI's online validator badge would fetch validator.swagger.io: it must be off.
    settings_json = re.search(r'id="swagger-settings">(.*?)</script>', html, re.DOTALL).group(1)
    assert json.loads(settings_json)["validatorUrl"] is None
    # and each asset is really served by the application itself
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content if served.streaming else [served.content])
