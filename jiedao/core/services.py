"""Writes owned by core: personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import audit, caching
from jiedao.core.errors import DomainError
from jiedao.core.models import ApiToken

TOKEN_PREFIX = "jd_"


def token_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


@transaction.atomic
def token_create(*, actor: Any, name: str, expires_days: int | None = 180) -> tuple[ApiToken, str]:
    """Issue a token for the actor; returns the row and the plaintext, which is never stored."""
    name = " ".join((name or "").split())
    if not name:
        raise DomainError(_("请填写令牌用途。"), field="name")
    if expires_days is not None and not (1 <= expires_days <= 3650):
        raise DomainError(_("有效天数应在 1 到 3650 之间。"), field="expires_days")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        name=name[:100],
        prefix=plaintext[:10],
        key_hash=token_digest(plaintext),
        expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
    )
    audit.record(actor=actor, action="core.token.create", obj=token, after={"name": token.name, "prefix": token.prefix})
    return token, plaintext


@transaction.atomic
def token_revoke(*, actor: Any, token: ApiToken) -> None:
    if token.user_id != actor.pk:
        raise DomainError(_("只能吊销自己的令牌。"), field="token")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        caching.bump()  # every process stops accepting it from its next request
        audit.record(actor=actor, action="core.token.revoke", obj=token)


def token_authenticate(plaintext: str) -> Any | None:
    """The active user owning an unexpired, unrevoked token, or None.

    The token's row and its user are cached per process (jiedao.core.caching): revoking the
    token, or changing or deactivating the user, bumps the cache generation, so it takes effect
    from the next request on, in every process."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX):
        return None
    key = ("token", token_digest(plaintext))
    entry = caching.get(key, lambda: _token_entry(key[1]))
    if entry is None:
        return None
    token_pk, expires_at, last_used_at, user_row = entry
    now = timezone.now()
    if expires_at and expires_at <= now:
        return None
    if last_used_at is None or now - last_used_at > timedelta(minutes=5):
        # Touch at most every few minutes so API reads do not turn into writes.
        ApiToken.objects.filter(pk=token_pk).update(last_used_at=now)
        caching.put(key, (token_pk, expires_at, now, user_row))
    return caching.instance(get_user_model(), user_row)


def _token_entry(digest: str) -> tuple | None:
    token = ApiToken.objects.select_related("user").filter(key_hash=digest, revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    return token.pk, token.expires_at, token.last_used_at, caching.row(token.user)
