"""Web hardening: a strict Content-Security-Policy on every page, no inline script or style in any
template (the policy would refuse them), and `Cache-Control: no-store` on every answer that can
carry personal data (signed-in pages, fragments and exports, API answers, answers to a POST)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

import jiedao
from jiedao.core.middleware import CONTENT_SECURITY_POLICY

ROOT = Path(jiedao.__file__).parent
TEMPLATES = sorted(p for p in ROOT.rglob("*.html") if ".venv" not in p.parts)
SCRIPTS = sorted(p for p in ROOT.rglob("static/jiedao/*.js"))

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER_ATTR = re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.IGNORECASE)
STYLE_ATTR = re.compile(r"""\sstyle\s*=\s*["'{]""", re.IGNORECASE)
JS_URL = re.compile(r"""=\s*["']\s*javascript:""", re.IGNORECASE)
HTMX_INLINE = re.compile(r"""\s(data-)?hx-(on\b|on:|on-|vars\s*=)""", re.IGNORECASE)


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_strict(header: str | None) -> None:
    assert header, "no Content-Security-Policy"
    csp = directives(header)
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    for kind in ("script-src", "style-src"):
        sources = csp.get(kind, csp["default-src"])
        assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, (kind, sources)
        assert all(s == "'self'" or s.startswith("'nonce-") for s in sources), (kind, sources)
    for kind in ("script-src-attr", "style-src-attr", "script-src-elem", "style-src-elem"):
        assert kind not in csp, kind


def assert_no_store(response) -> None:
    assert "no-store" in response.get("Cache-Control", ""), (response.status_code, response.get("Cache-Control"))


# --- the templates -------------------------------------------------------------------------------


def test_the_scan_sees_the_templates_and_scripts():
    assert len(TEMPLATES) > 50 and any(p.name == "base.html" for p in TEMPLATES)
    assert {p.name for p in SCRIPTS} >= {"jiedao.js", "cases.js", "dashboard.js", "cycles.js"}


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_inline_script_or_style_in_templates(path):
    text = path.read_text(encoding="utf-8")
    for match in SCRIPT_TAG.finditer(text):
        attrs = match.group(1)
        assert "src=" in attrs or 'type="application/json"' in attrs, f"inline <script> in {path}: {match.group(0)}"
    for pattern, what in ((HANDLER_ATTR, "on…= handler"), (STYLE_ATTR, "style attribute"),
                          (JS_URL, "javascript: URL"), (HTMX_INLINE, "htmx inline script (hx-on/hx-vars)")):
        found = pattern.search(text)
        assert not found, f"{what} in {path}: {text[max(found.start() - 40, 0):found.end() + 40]!r}"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_our_scripts_need_no_eval(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"\beval\(|new Function\(|setTimeout\(\s*[\"']", text), path


def test_htmx_is_configured_for_the_policy():
    base = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    assert '"includeIndicatorStyles": false' in base and '"allowEval": false' in base


# --- the headers ---------------------------------------------------------------------------------


def test_policy_itself_is_strict():
    assert_strict(CONTENT_SECURITY_POLICY)


@pytest.mark.parametrize("name", ["login", "cases:public_report", "cases:public_track"])
def test_public_pages_carry_the_policy(client, world, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert_strict(response.get("Content-Security-Policy"))


@pytest.mark.parametrize("name", ["home", "people:residents", "cases:list", "exports:list"])
def test_signed_in_pages_carry_the_policy_and_are_never_stored(client, world, name):
    client.force_login(world.secretary)
    response = client.get(reverse(name))
    assert response.status_code == 200, name
    assert_strict(response.get("Content-Security-Policy"))
    assert_no_store(response)


def test_htmx_fragments_of_signed_in_users_are_never_stored(client, world):
    client.force_login(world.secretary)
    response = client.get(reverse("people:residents"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert_no_store(response)


@pytest.mark.parametrize("path", ["/people/residents", "/cases", "/org/nodes"])
def test_api_answers_are_never_stored(as_, world, path):
    response = as_(world.secretary).get(path)
    assert response.status_code in (200, 404), path
    assert_no_store(response)


def test_api_refusals_are_never_stored_either(client, world):
    response = client.get("/api/v1/people/residents")
    assert response.status_code == 401
    assert_no_store(response)


def test_answers_to_posts_are_never_stored(client, world):
    response = client.post(reverse("cases:public_report"), {"title": "路灯不亮", "reporter_phone": "13812345678"})
    assert response.status_code in (400, 429)
    assert_no_store(response)
