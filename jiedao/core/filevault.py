"""Files at rest, encrypted: what the platform keeps on disk for a while (uploaded spreadsheets,
staged import batches, the rejected rows of an import) is never written in clear.

A vault file is

    b"JDV1" | u16 length | wrapped file key | records…

The file key is 16 random bytes made for this one file, wrapped with the keyring's active SM4
key (`crypto.encrypt`, so the wrapped key names the key id that opens it). Each record is

    u32 length | 12-byte nonce | SM4-GCM ciphertext and tag

with associated data binding it to the file's label, its position and whether it is the last
record: records cannot be reordered, moved to another file or cut off at the end unnoticed
(a reader that meets no final record raises `VaultError`).

Writes go to `<name>.tmp` and are renamed into place when closed, so a reader never sees half a
file; the files are created 0600.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jiedao.core import crypto

MAGIC = b"JDV1"
CHUNK = 1 << 20
_NONCE = 12
_TAG = 16


class VaultError(Exception):
    """A vault file is unreadable: missing key, tampered, truncated or not a vault file."""


def _aad(label: str, index: int, last: bool) -> bytes:
    return label.encode() + b"\x00" + struct.pack(">Q?", index, last)


class VaultWriter:
    """Buffered writer: `write(bytes)` as often as needed, then `close()` (or use `with`)."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = Path(path)
        self.label = label
        self._key = secrets.token_bytes(16)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._out = os.fdopen(fd, "wb")
        wrapped = crypto.encrypt(base64.b64encode(self._key).decode()).encode()
        self._out.write(MAGIC + struct.pack(">H", len(wrapped)) + wrapped)
        self._buffer = bytearray()
        self._index = 0
        self._closed = False

    def _record(self, data: bytes, last: bool) -> None:
        nonce = secrets.token_bytes(_NONCE)
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_aad(self.label, self._index, last))
        body = encryptor.update(bytes(data)) + encryptor.finalize() + encryptor.tag
        self._out.write(struct.pack(">I", len(body) + _NONCE) + nonce + body)
        self._index += 1

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= CHUNK:
            self._record(self._buffer[:CHUNK], last=False)
            del self._buffer[:CHUNK]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._record(self._buffer, last=True)
        self._buffer = bytearray()
        self._out.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        self._closed = True
        self._out.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VaultWriter:
        return self

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()


def chunks(path: Path, label: str) -> Iterator[bytes]:
    """The plaintext of a vault file, one record at a time."""
    with Path(path).open("rb") as handle:
        head = handle.read(len(MAGIC) + 2)
        if len(head) != len(MAGIC) + 2 or head[: len(MAGIC)] != MAGIC:
            raise VaultError("not a vault file")
        (size,) = struct.unpack(">H", head[len(MAGIC):])
        try:
            key = base64.b64decode(crypto.decrypt(handle.read(size).decode()))
        except (crypto.DecryptionError, ValueError) as exc:
            raise VaultError(f"file key cannot be opened: {exc}") from None
        index = 0
        while True:
            prefix = handle.read(4)
            if len(prefix) < 4:
                raise VaultError("truncated vault file")
            (length,) = struct.unpack(">I", prefix)
            record = handle.read(length)
            if len(record) != length or length < _NONCE + _TAG:
                raise VaultError("truncated vault file")
            nonce, body, tag = record[:_NONCE], record[_NONCE:-_TAG], record[-_TAG:]
            for last in (False, True):
                decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
                decryptor.authenticate_additional_data(_aad(label, index, last))
                try:
                    plain = decryptor.update(body) + decryptor.finalize()
                except InvalidTag:
                    continue
                break
            else:
                raise VaultError("vault record does not authenticate")
            yield plain
            if last:
                return
            index += 1


def read_bytes(path: Path, label: str) -> bytes:
    return b"".join(chunks(path, label))


def open_memory(path: Path, label: str) -> io.BytesIO:
    """The decrypted file as a seekable in-memory file (never as a clear file on disk)."""
    return io.BytesIO(read_bytes(path, label))


def lines(path: Path, label: str) -> Iterator[bytes]:
    """The records' plaintext split on newlines (for JSON-lines files)."""
    tail = b""
    for chunk in chunks(path, label):
        data = tail + chunk
        *complete, tail = data.split(b"\n")
        yield from complete
    if tail:
        yield tail
