"""Request uploads spooled to disk encrypted, under a key that never leaves the process.

Django keeps an upload under 2.5 MB in memory and writes a larger one to a temporary file while
the request runs. A spreadsheet of residents is personal data, so that temporary file must not
hold it in clear either — not while the request runs, and not after a killed process left it
behind. `SealedUploadHandler` spools every large upload to `FILE_UPLOAD_TEMP_DIR` through
`SpoolFile`: SM4 in counter mode with a random key and nonce made for that one file and kept
only in memory. Counter mode lets the file be read, re-read and seeked like a plain file (an
upload is read once to check it and again to store it); integrity is not needed here, as the
file lives only for its request and its content is checked (and stored in a filevault, which is
authenticated) by the code that reads it. When the process dies the key dies with it: what is
left on disk is noise, which the hourly import sweep then deletes.
"""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

_BLOCK = 16


class SpoolFile(io.RawIOBase):
    """A temporary file whose bytes on disk are SM4-CTR ciphertext under an in-memory key.
    Readable, writable and seekable; deleted when closed."""

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        super().__init__()
        self._key = secrets.token_bytes(16)
        self._nonce = int.from_bytes(secrets.token_bytes(16), "big")
        self._raw = tempfile.TemporaryFile(dir=directory, buffering=0)  # noqa: SIM115 (closed by close(); no name on disk)
        self._pos = 0

    def _cipher_at(self, offset: int) -> Any:
        counter = (self._nonce + offset // _BLOCK) % (1 << 128)
        return Cipher(algorithms.SM4(self._key), modes.CTR(counter.to_bytes(16, "big"))).encryptor()

    def _xor(self, data: bytes, offset: int) -> bytes:
        skip = offset % _BLOCK
        stream = self._cipher_at(offset)
        return stream.update(b"\x00" * skip + bytes(data))[skip:]

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._raw.seek(self._pos)
        self._raw.write(self._xor(data, self._pos))
        self._pos += len(data)
        return len(data)

    def readinto(self, buffer: Any) -> int:
        self._raw.seek(self._pos)
        chunk = self._raw.read(len(buffer))
        plain = self._xor(chunk, self._pos)
        buffer[: len(plain)] = plain
        self._pos += len(plain)
        return len(plain)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = self._raw.seek(0, io.SEEK_END) + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        if not self._raw.closed:
            self._raw.flush()

    def close(self) -> None:
        if not self.closed:
            super().close()  # flushes first
            self._raw.close()
            self._key = b""


class SealedUploadedFile(UploadedFile):
    """An upload spooled to a SpoolFile (what TemporaryUploadedFile is for a plain temp file)."""

    def __init__(self, name: str, content_type: str, size: int, charset: str | None,
                 content_type_extra: dict | None = None) -> None:
        spool = SpoolFile(getattr(settings, "FILE_UPLOAD_TEMP_DIR", None))
        super().__init__(io.BufferedRandom(spool), name, content_type, size, charset, content_type_extra)

    def close(self) -> None:
        self.file.close()


class SealedUploadHandler(FileUploadHandler):
    """Replaces Django's TemporaryFileUploadHandler: large uploads spool encrypted (see above)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = SealedUploadedFile(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile:
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self) -> None:
        if hasattr(self, "file"):
            self.file.close()

