from __future__ import annotations

import re
import time
import uuid

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html

from jiedao.core import caching, text
from jiedao.core.context import RequestInfo, reset_request, set_request

# The idle timeout: a session ends SESSION_COOKIE_AGE seconds after it was last saved, and a
# request saves it only when its expiry would move by at least this many seconds (or a tenth of
# the idle time, when that is shorter).
IDLE_TOUCH_SECONDS = 60
IDLE_TOUCHED = "_jiedao_touched"  # the session key holding when the expiry was last pushed forward


class IdleSessionMiddleware:
    """The idle timeout without a session write on every request. Placed right after Django's
    SessionMiddleware: a signed-in session whose expiry was last pushed forward at least
    IDLE_TOUCH_SECONDS ago (a tenth of the idle time if shorter) is marked modified, so
    SessionMiddleware saves it with a fresh expiry (now + SESSION_COOKIE_AGE); any other request
    saves nothing unless the view changed the session. The stored expiry is never later than
    "last request + idle minutes" and at most that step earlier: a session idle for the
    configured minutes is always over, one used within the last (idle minutes − 1 minute) never
    is."""

    def __init__(self, get_response):
        self.get_response = get_response
        # A tenth of the idle time when that is shorter (an idle timeout of one minute: 6 s).
        self.every = min(IDLE_TOUCH_SECONDS, settings.SESSION_COOKIE_AGE // 10)

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response
        now = int(time.time())
        # A session saved anyway (a sign-in, a message) is fresh from now on.
        if session.modified or (session.accessed and session.keys()
                                and now - session.get(IDLE_TOUCHED, 0) >= self.every):
            session[IDLE_TOUCHED] = now
        return response


_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives every request an id and remembers its origin for audit events; each request reads
    the cache generation afresh (jiedao.core.caching)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.trust_proxy = getattr(settings, "JIEDAO_TRUST_PROXY", False)

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        ip = request.META.get("REMOTE_ADDR", "")
        if self.trust_proxy and request.headers.get("X-Forwarded-For"):
            ip = request.headers["X-Forwarded-For"].split(",")[0].strip()
        token = set_request(
            RequestInfo(request_id=request_id, ip_address=ip[:64], user_agent=request.headers.get("User-Agent", "")[:200])
        )
        generation = caching.start_request()
        try:
            response = self.get_response(request)
        finally:
            caching.end_request(generation)
            reset_request(token)
        response["X-Request-ID"] = request_id
        return response


# The one policy of every page: scripts and styles only from our own static files (no inline
# <script>, no on…= handlers, no style attributes: tests/core/test_web_hardening.py scans the
# templates), nothing embedded from elsewhere, never framed, forms post only here.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
))
# Answers under these paths are API answers (token or session): personal data, never stored.
NO_STORE_PREFIXES = ("/api/", "/open311/")
API_PREFIX = "/api/"


class SecurityHeadersMiddleware:
    """The Content-Security-Policy on every answer (a view may set its own), and
    `Cache-Control: no-store` on every answer that can carry personal data: all answers to a
    signed-in user (pages, fragments, exports), every API answer and every answer to a POST.
    Static files (WhiteNoise, earlier in the chain) keep their long caching."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "JIEDAO_CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        user = getattr(request, "user", None)
        if "no-store" in response.get("Cache-Control", ""):
            pass  # the view said so already
        elif (
            (user is not None and user.is_authenticated)
            or request.path.startswith(NO_STORE_PREFIXES)
            or request.method == "POST"
        ):
            add_never_cache_headers(response)
        return response


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class TextBoundaryMiddleware:
    """Text at the boundary (jiedao.core.text) for what every request carries: the path and the
    query parameters of every request, and the form body of every page and Open311 POST (the
    API's bodies go through its parser, `core.api.TextParser`). A refused character is a 400
    naming the parameter — JSON under /api/, an app's own format where it registered one
    (Open311), the 400 page elsewhere — before any view or query sees it. Form values are
    normalised (NFC, no bidirectional controls) in place."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            self._check(request)
        except text.TextRefused as exc:
            return self._refuse(request, exc)
        return self.get_response(request)

    def _check(self, request) -> None:
        text.check(request.path, field=None, where="path")
        for key, values in request.GET.lists():
            for value in (key, *values):
                text.check(value, field=key, where="param")
        if request.method != "POST" or request.path.startswith(API_PREFIX) or request.content_type not in _FORM_TYPES:
            return
        post = request.POST
        cleaned = post.copy()
        changed = False
        for key, values in post.lists():
            for value in (key, *values):
                text.check(value, field=key)
            new = values if text.keeps_exact(key) else [text.normalize(value) for value in values]
            if new != values:
                cleaned.setlist(key, new)
                changed = True
        if changed:
            cleaned._mutable = False
            request.POST = cleaned

    def _refuse(self, request, exc: text.TextRefused):
        responder = text.responder_for(request.path)
        if responder is not None:
            return responder(request, exc)
        if request.path.startswith(API_PREFIX):
            body = {"detail": exc.message, "field": exc.field, "code": exc.code}
            return JsonResponse(body, status=400, json_dumps_params={"ensure_ascii": False})
        if request.headers.get("HX-Request"):
            # an htmx fragment request: a message that fits where the fragment goes, not a page
            return HttpResponse(
                format_html('<div class="form-alert" role="alert" tabindex="-1" data-autofocus><p>{}</p></div>', exc.message),
                status=400,
            )
        return render(request, "400.html", {"message": exc.message}, status=400)
