"""Where the current request came from, for the audit trail (set by RequestContextMiddleware)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestInfo:
    request_id: str = ""
    ip_address: str = ""
    user_agent: str = ""


_NO_REQUEST = RequestInfo()
_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("jiedao_request", default=None)


def current_request() -> RequestInfo:
    return _current.get() or _NO_REQUEST


def set_request(info: RequestInfo) -> contextvars.Token:
    return _current.set(info)


def reset_request(token: contextvars.Token) -> None:
    _current.reset(token)
