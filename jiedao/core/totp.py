"""Time-based one-time passwords (RFC 6238) as every authenticator app makes them: HMAC-SHA1, six
digits, 30-second steps, the key given to the app as base32 in an otpauth:// address.

The arithmetic is cryptography's (`hazmat.primitives.twofactor.totp`); this module adds what a
sign-in needs around it: a fresh key, the address for the app and its QR code, and a check that
accepts the step before and after the current one (a phone's clock drifts) but never a step at or
before the last one accepted (a code seen over someone's shoulder cannot be used again).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import quote

import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor.totp import TOTP

STEP = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10


def new_secret() -> str:
    """A random 160-bit key, base32 without padding (what apps expect to be typed or scanned)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _totp(secret: str) -> TOTP:
    padded = secret + "=" * (-len(secret) % 8)
    return TOTP(base64.b32decode(padded.upper()), DIGITS, hashes.SHA1(), STEP, enforce_key_length=False)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def code_at(secret: str, step: int) -> str:
    return _totp(secret).generate(step * STEP).decode()


def matching_step(secret: str, code: str, *, after: int, now: float | None = None) -> int | None:
    """The time step `code` belongs to (the current one ± DRIFT_STEPS), if it is newer than `after`."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    here = current_step(now)
    for step in range(here - DRIFT_STEPS, here + DRIFT_STEPS + 1):
        if step > after and secrets.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    label = quote(f"{issuer}:{account}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}&digits={DIGITS}&period={STEP}"


def qr_svg(uri: str) -> str:
    """The address as an inline SVG QR code (no image file, no script: allowed by the page's CSP)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#1f2937", light="#ffffff", omitsize=True)


def new_recovery_codes() -> list[str]:
    """Ten one-time codes like `7KQ2-MX4P-ZT9C` (60 bits each)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
            for _ in range(RECOVERY_CODES)]


def recovery_digest(code: str) -> str:
    """What is stored of a recovery code: enough entropy (60 bits) that a plain digest suffices."""
    return hashlib.sha256("".join(code.split()).upper().replace("-", "").encode()).hexdigest()
