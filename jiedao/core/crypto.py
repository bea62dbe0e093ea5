"""Personal-data protection: SM4-GCM field encryption, keyed SM3 blind indexes, masking.

Keys live in a keyring (JSON, `JIEDAO_KEYRING`, default `$JIEDAO_DATA_DIR/keys/keyring.json`,
generated on first use with mode 0600):

    {"active": "k3f9a01c2", "index": "i7b22d410",
     "keys":  {"k1": "<base64 16 bytes>", "k3f9a01c2": "<base64 16 bytes>"},
     "index_keys": {"i7b22d410": "<base64 32 bytes>"}}

Key ids are random per keyring (`k`/`i` and 8 hex digits), so a keyring generated afresh after
a restore never answers to the ids of the lost one; the `k1`/`i1` of keyrings made before stay
valid. Ciphertexts carry the id of the key that made them, so a rotation can re-encrypt rows one
batch at a time while every value stays readable: old keys are kept until `keys rotate` has
re-encrypted everything. Two formats are read:

    k1$<base64 nonce|ciphertext|tag>          version 1: no associated data (older rows)
    k3f9a01c2$2$<base64 nonce|ciphertext|tag> version 2: SM4-GCM with associated data

Version 2 binds the ciphertext to where it is stored (`context(table, column, row)`): moved to
another row or column it no longer authenticates. Base64 never contains `$`, so the marker
cannot be confused with a version-1 payload. Blind indexes are HMAC-SM3 under the
index key of the normalised value; they allow exact lookups and de-duplication without
decrypting.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_NONCE = 12
_TAG = 16


class DecryptionError(Exception):
    """A stored value could not be decrypted (unknown key id or tampered ciphertext)."""


@dataclass
class Keyring:
    active: str
    keys: dict[str, bytes]
    index: str
    index_keys: dict[str, bytes]
    path: Path | None = field(default=None, compare=False)
    # The HMAC-SM3 key of the audit chain and, per chain, the last unkeyed (legacy) seq: kept by
    # jiedao.core.audit (added on first use; see docs/operator-guide.md). Retired audit keys stay,
    # oldest first, each with the last seq per chain it signed (`jiedao audit rotate-key`).
    audit_key: bytes = b""
    audit_legacy: dict[str, int] = field(default_factory=dict)
    audit_retired: list[tuple[bytes, dict[str, int]]] = field(default_factory=list)
    # The file's modification time when read: audit appends reload a keyring changed since.
    mtime_ns: int = field(default=0, compare=False)

    @classmethod
    def generate(cls, path: Path | None = None) -> Keyring:
        key_id, index_id = new_key_id("k"), new_key_id("i")
        return cls(
            active=key_id, keys={key_id: secrets.token_bytes(16)},
            index=index_id, index_keys={index_id: secrets.token_bytes(32)}, path=path,
        )

    @classmethod
    def from_json(cls, text: str, path: Path | None = None) -> Keyring:
        try:
            raw = json.loads(text)
            keyring = cls(
                active=raw["active"],
                keys={k: base64.b64decode(v) for k, v in raw["keys"].items()},
                index=raw["index"],
                index_keys={k: base64.b64decode(v) for k, v in raw["index_keys"].items()},
                path=path,
                audit_key=base64.b64decode(raw.get("audit_key", "")),
                audit_legacy={str(k): int(v) for k, v in raw.get("audit_legacy", {}).items()},
                audit_retired=[
                    (base64.b64decode(item["key"]), {str(k): int(v) for k, v in item["until"].items()})
                    for item in raw.get("audit_retired", [])
                ],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ImproperlyConfigured(f"密钥文件 {path} 格式不正确 / keyring is malformed: {exc}") from None
        if keyring.active not in keyring.keys or keyring.index not in keyring.index_keys:
            raise ImproperlyConfigured(f"密钥文件 {path} 缺少当前密钥 / keyring lacks its active key")
        if any(len(k) != 16 for k in keyring.keys.values()) or any(len(k) < 32 for k in keyring.index_keys.values()):
            raise ImproperlyConfigured(f"密钥文件 {path} 中的密钥长度不正确 / wrong key length in keyring")
        return keyring

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active,
                "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
                "index": self.index,
                "index_keys": {k: base64.b64encode(v).decode() for k, v in self.index_keys.items()},
                **({"audit_key": base64.b64encode(self.audit_key).decode(), "audit_legacy": self.audit_legacy}
                   if self.audit_key else {}),
                **({"audit_retired": [{"key": base64.b64encode(key).decode(), "until": until}
                                      for key, until in self.audit_retired]} if self.audit_retired else {}),
            },
            indent=2,
        )

    def save(self) -> None:
        if self.path is None:
            raise ValueError("keyring has no path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.to_json())
        os.replace(tmp, self.path)

    def add_key(self) -> str:
        """A new data key becomes active; the old ones stay for reading."""
        key_id = new_key_id("k", taken=self.keys)
        self.keys[key_id] = secrets.token_bytes(16)
        self.active = key_id
        return key_id

    def add_index_key(self) -> str:
        """A new blind-index key becomes active; lookups keep trying the old ones."""
        key_id = new_key_id("i", taken=self.index_keys)
        self.index_keys[key_id] = secrets.token_bytes(32)
        self.index = key_id
        return key_id


def new_key_id(kind: str, taken=()) -> str:
    """A random key id: the kind letter and 8 hex digits, unique in the keyring."""
    while True:
        key_id = f"{kind}{secrets.token_hex(4)}"
        if key_id not in taken:
            return key_id


def key_check(key: bytes) -> str:
    """A short public fingerprint of a key (HMAC-SM3 of a fixed text under it): a backup's
    manifest records it, so a restore can tell the right key from another one of the same id."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(b"jiedao key check value")
    return mac.finalize().hex()[:16]


def context(table: str, column: str, row: object) -> bytes:
    """The associated data of a sealed value: the table, the column and the row's primary key."""
    return f"jiedao\x00{table}\x00{column}\x00{row}".encode()


_lock = threading.Lock()
_cached: Keyring | None = None


def keyring_path() -> Path:
    configured = getattr(settings, "JIEDAO_KEYRING", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "keys" / "keyring.json"


def get_keyring() -> Keyring:
    """The configured keyring, created on first use."""
    global _cached
    path = keyring_path()
    with _lock:
        if _cached is not None and _cached.path == path:
            return _cached
        if path.exists():
            _cached = Keyring.from_json(path.read_text(), path)
            _cached.mtime_ns = path.stat().st_mtime_ns
        else:
            _cached = Keyring.generate(path)
            _cached.save()
            _cached.mtime_ns = path.stat().st_mtime_ns
        return _cached


def current_keyring() -> Keyring:
    """The keyring, read again if its file changed since it was cached (one stat): what a write
    that must use the newest audit key calls, as another process may have rotated it."""
    ring = get_keyring()
    try:
        changed = ring.path is not None and ring.path.stat().st_mtime_ns != ring.mtime_ns
    except FileNotFoundError:
        changed = False
    return reload_keyring() if changed else ring


def existing_keyring() -> Keyring | None:
    """The configured keyring when its file exists; None otherwise (nothing is generated)."""
    path = keyring_path()
    if not path.exists():
        return None
    return Keyring.from_json(path.read_text(), path)


def reload_keyring() -> Keyring:
    global _cached
    with _lock:
        _cached = None
    return get_keyring()


def encrypt(plaintext: str, keyring: Keyring | None = None, *, aad: bytes | None = None) -> str:
    """Encrypt under the active key; with `aad` (see `context`) in format version 2, bound to it."""
    if plaintext is None or plaintext == "":
        return ""
    ring = keyring or get_keyring()
    nonce = secrets.token_bytes(_NONCE)
    encryptor = Cipher(algorithms.SM4(ring.keys[ring.active]), modes.GCM(nonce)).encryptor()
    if aad is not None:
        encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext.encode()) + encryptor.finalize()
    marker = f"{AAD_VERSION}$" if aad is not None else ""
    return f"{ring.active}${marker}{base64.b64encode(nonce + body + encryptor.tag).decode()}"


AAD_VERSION = "2"


def is_bound(token: str) -> bool:
    """Whether a ciphertext carries associated data (format version 2)."""
    return token.count("$") == 2


def decrypt(token: str, keyring: Keyring | None = None, *, aad: bytes | None = None) -> str:
    """Decrypt a ciphertext. A version-2 one authenticates only with the `aad` it was made with
    (its table, column and row); a version-1 one (older rows) is read without."""
    if not token:
        return ""
    ring = keyring or get_keyring()
    key_id, _, payload = token.partition("$")
    bound = "$" in payload
    if bound:
        version, _, payload = payload.partition("$")
        if version != AAD_VERSION:
            raise DecryptionError(f"unknown ciphertext version {version!r}")
        if aad is None:
            raise DecryptionError("a bound ciphertext needs its table, column and row to be read")
    key = ring.keys.get(key_id)
    if key is None and keyring is None:
        # Another process may have rotated the keys since we loaded them.
        key = reload_keyring().keys.get(key_id)
    if key is None:
        raise DecryptionError(f"unknown key id {key_id!r}")
    try:
        raw = base64.b64decode(payload)
        nonce, body, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        if bound:
            decryptor.authenticate_additional_data(aad)
        return (decryptor.update(body) + decryptor.finalize()).decode()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("ciphertext does not authenticate") from exc


def encrypt_many(items: list[tuple[str, bytes | None]], keyring: Keyring | None = None) -> list[str]:
    """`encrypt` for a batch of (plaintext, aad) pairs: the same tokens, format and nonce size, with
    the key object built once and the batch's nonces taken from one `os.urandom` call (each an
    independent random 96-bit value, exactly as `secrets.token_bytes` would draw it). For bulk
    writers (imports) where the per-call set-up is a measurable share of the work."""
    ring = keyring or get_keyring()
    algorithm = algorithms.SM4(ring.keys[ring.active])  # checks the key's size, once
    nonces = os.urandom(_NONCE * len(items))
    new_context = _encryption_context
    bound, plain = f"{ring.active}${AAD_VERSION}$", f"{ring.active}$"
    b64 = base64.b64encode
    out: list[str] = []
    for index, (text, aad) in enumerate(items):
        if not text:
            out.append("")
            continue
        nonce = nonces[index * _NONCE:(index + 1) * _NONCE]
        encryptor = new_context(algorithm, modes.GCM(nonce))
        if aad is not None:
            encryptor.authenticate_additional_data(aad)
        body = encryptor.update(text.encode()) + encryptor.finalize()
        out.append((bound if aad is not None else plain) + b64(nonce + body + encryptor.tag).decode())
    return out


def _cipher_encryptor(algorithm, mode):
    return Cipher(algorithm, mode).encryptor()


try:
    # What Cipher(...).encryptor() returns, without re-checking, per value, the key size and the
    # nonce length that encrypt_many fixes (16-byte SM4 key, 12-byte GCM nonce): that checking was
    # a third of an encryption's cost. The public path is the fallback for another version.
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

    _encryption_context = _rust_openssl.ciphers.create_encryption_ctx
    # A private binding may change its arguments or its answers in any release: use it only if
    # it encrypts a probe exactly as the public API does, else the public path.
    _probe_key, _probe_nonce = bytes(range(16)), bytes(range(12))
    _probe = _encryption_context(algorithms.SM4(_probe_key), modes.GCM(_probe_nonce))
    _public = _cipher_encryptor(algorithms.SM4(_probe_key), modes.GCM(_probe_nonce))
    for _context in (_probe, _public):  # with associated data, as every bound value has
        _context.authenticate_additional_data(b"jiedao:probe:1")
    if (_probe.update(b"probe") + _probe.finalize() + _probe.tag
            != _public.update(b"probe") + _public.finalize() + _public.tag):
        raise ValueError("the private encryption context disagrees with the public one")
except Exception:  # pragma: no cover - depends on the installed cryptography
    logging.getLogger(__name__).warning("cryptography's private encryption context is unusable; "
                                        "batch encryption uses the public API")
    _encryption_context = _cipher_encryptor


def key_id_of(token: str) -> str:
    return token.partition("$")[0] if token else ""


def blind_index(value: str, *, kind: str, keyring: Keyring | None = None, index_key_id: str | None = None) -> str:
    """Keyed SM3 HMAC of the normalised value; `kind` separates domains (id numbers vs phones)."""
    if not value:
        return ""
    ring = keyring or get_keyring()
    mac = hmac.HMAC(ring.index_keys[index_key_id or ring.index], hashes.SM3())
    mac.update(kind.encode() + b"\x00" + normalise(value, kind).encode())
    return mac.finalize().hex()


def blind_indexer(kind: str, *, keyring: Keyring | None = None, index_key_id: str | None = None,
                  normalised: bool = False):
    """A function computing `blind_index(value, kind=kind)` for many values: the HMAC is keyed
    once and copied per value (the same digests; the keyed state is set up once, not per call).
    `normalised`: the caller passes values already as `normalise(value, kind)` gives them (an
    importer that normalised them to check them), which are then not normalised again."""
    ring = keyring or get_keyring()
    keyed = hmac.HMAC(ring.index_keys[index_key_id or ring.index], hashes.SM3())
    prefix = kind.encode() + b"\x00"

    def index(value: str) -> str:
        if not value:
            return ""
        mac = keyed.copy()
        mac.update(prefix + normalise(value, kind).encode())
        return mac.finalize().hex()

    def index_normalised(value: str) -> str:
        if not value:
            return ""
        mac = keyed.copy()
        mac.update(prefix + value.encode())
        return mac.finalize().hex()

    return index_normalised if normalised else index


def normalise(value: str, kind: str) -> str:
    if kind == "email":  # case matters to no mail system in practice; upper case would look odd
        return "".join(value.split()).lower()
    if kind == "identifier":  # opaque: kept as sent, only the ends trimmed
        return value.strip()
    compact = "".join(value.split()).upper()
    if kind == "phone":
        compact = compact.replace("-", "")
        if compact.startswith("+86"):
            compact = compact[3:]
    return compact


# (first, last) characters a mask keeps, per kind.
MASK_KEEP = {"id_number": (2, 1), "phone": (3, 2)}


def mask(value: str, kind: str) -> str:
    """Masked display: ID numbers keep the first 2 (the province) and the last 1 (the check
    character), phones the first 3 and the last 2. With the birth year and gender shown beside
    them this leaves more than 10,000 candidates for either (docs/architecture.md, "Sealed
    identifiers"); jiedao.core.sealed.remask turns an older, wider mask into this one."""
    if not value:
        return ""
    return mask_normalised(normalise(value, kind), kind)


def mask_normalised(value: str, kind: str) -> str:
    """`mask` of a value already as `normalise(value, kind)` gives it."""
    if kind == "id_number":
        keep_head, keep_tail = MASK_KEEP["id_number"]
    elif kind == "phone":
        keep_head, keep_tail = MASK_KEEP["phone"]
    else:
        keep_head, keep_tail = 1, 1
    if len(value) <= keep_head + keep_tail:
        return "*" * len(value)
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]
