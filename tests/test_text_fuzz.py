"""Every endpoint against the characters the text rule is about (jiedao.core.text): NUL, ESC, a
lone surrogate and a right-to-left override in every string query parameter, path parameter and
body field, as a sub-district admin and anonymously. Nothing may answer 5xx; the API answers its
errors in JSON. The API's operations come from its OpenAPI schema, the pages from the URL
patterns without arguments, Open311 from its parameter list.

Runs on whichever database the suite runs on (PostgreSQL when JIEDAO_DATABASE_URL is a postgres
URL: that is where a NUL used to be a 500). One request per operation, value and user keeps it to
a few seconds; the schemathesis run over the OpenAPI schema explores the rest."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from jiedao.api import api
from jiedao.cases import services as case_services
from jiedao.cases.models import Category, Source
from jiedao.core.services import token_create
from jiedao.people import services as people
from tests.api_client import bearer

# NUL, ESC, a lone surrogate, RLO. In JSON the surrogate is sent as the escape "\ud800"; in a
# URL as its (ill-formed) UTF-8 bytes.
VALUES = ["a\x00b", "a\x1bb", "a\ud800b", "\u202e甲乙"]


def url_quote(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def _deref(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _deref(schema["allOf"][0], spec)
    return schema


def sample(schema: dict[str, Any], spec: dict[str, Any], value: str, depth: int = 0) -> Any:
    """A value of `schema` with `value` in every string."""
    schema = _deref(schema, spec)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if _deref(s, spec).get("type") != "null"]
            return sample(options[0], spec, value, depth) if options else None
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "string":
        return {"date": "2026-01-05", "date-time": "2026-01-05T08:00:00+08:00"}.get(schema.get("format"), value)
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "array":
        return [sample(schema.get("items", {}), spec, value, depth + 1)] if depth < 3 else []
    if kind == "object" or "properties" in schema:
        if depth >= 3:
            return {}
        props = schema.get("properties", {})
        if not props:
            return {"k": value}  # free-form data: a key and a value
        return {name: sample(prop, spec, value, depth + 1) for name, prop in props.items()}
    return value


@pytest.fixture
def objects(world):
    """One of each object the path parameters name, so requests reach past the lookups."""
    category = Category.objects.get(code="exposed_garbage")
    case = case_services.case_create(actor=world.worker, source=Source.PATROL, node=world.grid,
                                     description="垃圾堆放", category=category)
    resident = people.resident_create(actor=world.admin, node=world.building, name="张三")
    household = people.household_create(actor=world.admin, node=world.building, number="101", address="1幢101")
    business = people.business_create(actor=world.admin, node=world.grid, name="东门小店")
    spare_token = token_create(actor=world.admin, name="备用")[0]
    return {
        "subdistrict_id": world.subdistrict.pk, "case_id": case.pk, "node_id": world.grid.pk,
        "user_id": world.other_worker.pk, "resident_id": resident.pk, "household_id": household.pk,
        "business_id": business.pk, "token_id": spare_token.pk,
    }


def _api_requests(spec: dict[str, Any], ids: dict[str, int], value: str):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            url = path
            query = []
            for param in op.get("parameters", []):
                schema = _deref(param.get("schema", {}), spec)
                if param["in"] == "path":
                    sent = ids.get(param["name"], 1) if schema.get("type") == "integer" else value
                    url = url.replace("{" + param["name"] + "}", url_quote(str(sent)))
                elif param["in"] == "query":
                    sent = sample(schema, spec, value)
                    if isinstance(sent, str) or param.get("required"):
                        for one in sent if isinstance(sent, list) else [sent]:
                            query.append(f"{quote(param['name'])}={url_quote(str(one))}")
            if query:
                url += "?" + "&".join(query)
            content = op.get("requestBody", {}).get("content", {})
            body = None
            if "application/json" in content:
                body = ("json", sample(content["application/json"]["schema"], spec, value))
            elif "multipart/form-data" in content:
                fields = sample(content["multipart/form-data"]["schema"], spec, value)
                body = ("form", {k: v for k, v in fields.items() if isinstance(v, str)})
            yield method, url, body


def _send(client, method: str, url: str, body, headers: dict[str, str]):
    if body is None:
        return getattr(client, method)(url, **headers)
    kind, data = body
    if kind == "json":
        return getattr(client, method)(url, json.dumps(data), content_type="application/json", **headers)
    return client.generic(method.upper(), url, _multipart(data), content_type="multipart/form-data; boundary=BoUnDaRy",
                          **headers)


def _multipart(fields: dict[str, str]) -> bytes:
    parts = [
        f'--BoUnDaRy\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode("utf-8", "surrogatepass") + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + b"--BoUnDaRy--\r\n"


def test_every_api_operation(world, objects, client):
    client.raise_request_exception = False  # a 500 is collected, not raised: the report lists all
    spec = api.get_openapi_schema()
    admin = bearer(world.admin)
    failures = []
    sent = 0
    for value in VALUES:
        batch = list(_api_requests(spec, objects, value))
        batch.sort(key=lambda request: request[0] == "delete")  # deletions last: the others find their objects
        for method, url, body in batch:
            users = [("admin", admin), ("anonymous", {})] if value == VALUES[0] else [("admin", admin)]
            for who, headers in users:
                response = _send(client, method, url, body, headers)
                sent += 1
                if response.status_code >= 500 or (
                    response.status_code >= 400 and not response["Content-Type"].startswith("application/json")
                ):
                    failures.append((who, method.upper(), url, repr(value), response.status_code, response.content[:200]))
    assert sent > 300
    assert not failures, "\n".join(map(str, failures))


def _page_urls() -> list[str]:
    """The pages without URL arguments (API and Open311 have their own tests above and below)."""
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and "<" not in route and "(" not in route and "^" not in route:
                found.append("/" + route.lstrip("^").rstrip("$"))
    walk(get_resolver().url_patterns)
    return [url for url in dict.fromkeys(found) if not url.startswith(("/api/", "/open311/", "/static/", "/logout"))]


# Heavy work a POST starts (retraining the classifier, generating every digest): not text handling.
SLOW_POSTS = ("/insight/classifier/retrain/", "/cycles/weekly/generate/", "/cycles/reviews/prepare/",
              "/cycles/meetings/prepare/")


def test_every_page(world, client):
    client.raise_request_exception = False  # a 500 is collected, not raised: the report lists all
    urls = _page_urls()
    assert len(urls) > 20
    failures = []
    # NUL and ESC are refused before any view, the same way on every path (a few pages show it);
    # the override and the surrogate (which Django decodes to U+FFFD in a URL) reach the views.
    rounds = [("admin", VALUES[0], urls[:8]), ("anonymous", VALUES[3], urls), ("admin", VALUES[3], urls)]
    for who, value, some in rounds:
        if who == "admin":
            client.force_login(world.admin)
        else:
            client.logout()
        query = "&".join(f"{name}={url_quote(value)}" for name in ("q", "page", "node", "state", "category", "next"))
        for url in some:
            response = client.get(f"{url}?{query}")
            if response.status_code >= 500:
                failures.append((who, "GET", url, repr(value), response.status_code))
            if who == "admin" and url not in SLOW_POSTS:
                form = {name: value for name in ("title", "description", "name", "notes", "address", "q")}
                response = client.post(url, form)
                if response.status_code >= 500:
                    failures.append((who, "POST", url, repr(value), response.status_code))
    assert not failures, "\n".join(map(str, failures))


OPEN311 = "/open311/v2"
OPEN311_PARAMS = ("service_request_id", "service_code", "start_date", "end_date", "status", "jurisdiction_id")
OPEN311_FIELDS = ("service_code", "lat", "long", "address_string", "description", "jurisdiction_id", "first_name",
                  "last_name", "phone", "email", "device_id", "account_id", "address_id", "media_url")


def test_every_open311_endpoint(world, client):
    client.raise_request_exception = False  # a 500 is collected, not raised: the report lists all
    key = token_create(actor=world.worker, name="热线")[1]
    failures = []
    for value in VALUES:
        quoted = url_quote(value)
        for fmt in ("json", "xml"):
            gets = [f"{OPEN311}/services.{fmt}", f"{OPEN311}/services/{quoted}.{fmt}",
                    f"{OPEN311}/requests/{quoted}.{fmt}", f"{OPEN311}/tokens/{quoted}.{fmt}"]
            gets += [f"{OPEN311}/requests.{fmt}?{name}={quoted}" for name in OPEN311_PARAMS]
            for url in gets:
                response = client.get(url)
                if response.status_code >= 500:
                    failures.append(("GET", url, repr(value), response.status_code))
            for name in OPEN311_FIELDS:
                fields = {"api_key": key, "service_code": "exposed_garbage", "jurisdiction_id": world.grid.code,
                          "address_string": "东门路", "description": "垃圾堆放", name: value}
                body = "&".join(f"{quote(k)}={url_quote(v)}" for k, v in fields.items())
                response = client.post(f"{OPEN311}/requests.{fmt}", body,
                                       content_type="application/x-www-form-urlencoded")
                if response.status_code >= 500:
                    failures.append(("POST", name, fmt, repr(value), response.status_code))
    assert not failures, "\n".join(map(str, failures))
