from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.utils.cache import add_never_cache_headers

from jiedao.core import caching
from jiedao.core.context import RequestInfo, reset_request, set_request

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
