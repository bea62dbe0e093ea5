from __future__ import annotations

import re
import uuid

from django.conf import settings

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
