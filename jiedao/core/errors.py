"""Errors that services raise and views/API turn into clear answers (HTTP 4xx).

Messages are Chinese source strings passed through gettext when raised (`_("…") % {...}`), so
they come out in the request's language; tests/core/test_service_messages.py keeps it so.
"""

from __future__ import annotations

from django.utils.translation import gettext


class DomainError(Exception):
    """A business rule refused the request; `field` names the input at fault, if any."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class PermissionError_(DomainError):
    """The object is visible to the user, but the action is not allowed for their role."""

    status_code = 403

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message or gettext("您没有执行此操作的权限。"), field=field, code="forbidden")


class ConflictError(DomainError):
    """Someone else changed the object first (compare-and-set lost) or it already exists."""

    status_code = 409

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="conflict")


class ThrottledError(DomainError):
    """Too many requests of one kind from one user in a while (HTTP 429); try again later."""

    status_code = 429

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="throttled")
