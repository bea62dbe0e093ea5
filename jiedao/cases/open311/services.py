"""Writes of the Open311 interface: what a client sent beyond the case's own fields."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, Open311Extra
from jiedao.core import audit, sealed
from jiedao.core.errors import DomainError

MEDIA_URL_MAX = 1000
EMAIL_MAX = 254
IDENTIFIER_MAX = 200


def open311_extra_check(*, media_url: str, email: str, device_id: str, account_id: str) -> None:
    """Refuse a value that would not fit, naming the Open311 parameter (DomainError.field)."""
    if media_url:
        scheme = urlsplit(media_url).scheme.lower()
        try:
            if len(media_url) > MEDIA_URL_MAX or scheme not in ("http", "https"):
                raise ValidationError("")
            URLValidator(schemes=("http", "https"))(media_url)
        except ValidationError:
            raise DomainError(_("应为 http(s) 网址，最长 %(max)s 个字符。") % {"max": MEDIA_URL_MAX},
                              field="media_url") from None
    if email:
        try:
            if len(email) > EMAIL_MAX:
                raise ValidationError("")
            EmailValidator()(email)
        except ValidationError:
            raise DomainError(_("电子邮箱格式不正确。"), field="email") from None
    for field, value in (("device_id", device_id), ("account_id", account_id)):
        if len(value) > IDENTIFIER_MAX:
            raise DomainError(_("最长 %(max)s 个字符。") % {"max": IDENTIFIER_MAX}, field=field)
        # Its ends are shown in the mask: a control character there would break XML and PostgreSQL.
        if any(ord(c) < 32 or 127 <= ord(c) < 160 or 0xD800 <= ord(c) < 0xE000 for c in value):
            raise DomainError(_("含有控制字符。"), field=field)


def open311_extra_create(*, actor: Any, case: Case, media_url: str = "", email: str = "", device_id: str = "",
                         account_id: str = "") -> Open311Extra | None:
    """Keep the photo link and the submitter's sealed e-mail, device and account ids of a case
    filed through Open311 (call inside the transaction that filed the case). Nothing is written
    when all are empty."""
    media_url, email, device_id, account_id = (v.strip() for v in (media_url, email, device_id, account_id))
    open311_extra_check(media_url=media_url, email=email, device_id=device_id, account_id=account_id)
    if not any((media_url, email, device_id, account_id)):
        return None
    values: dict[str, str] = {}
    for stem, kind, value in (("email", "email", email), ("device_id", "identifier", device_id),
                              ("account_id", "identifier", account_id)):
        aad = sealed.column_of(Open311Extra, stem).context(case.pk)
        values.update(sealed.seal(kind, value, indexed=False, aad=aad).fields(stem))
    extra = Open311Extra.objects.create(case=case, media_url=media_url, **values)
    audit.record(actor=actor, action="cases.open311_extra.create", obj=extra, after=audit.snapshot(extra))
    return extra
