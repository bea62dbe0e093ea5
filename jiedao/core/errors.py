"""Errors that services raise and views/API turn into clear Chinese answers (HTTP 4xx)."""

from __future__ import annotations


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

    def __init__(self, message: str = "您没有执行此操作的权限。", *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="forbidden")


class ConflictError(DomainError):
    """Someone else changed the object first (compare-and-set lost) or it already exists."""

    status_code = 409

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field, code="conflict")
