"""Large request uploads are spooled to disk encrypted under an in-memory key (jiedao.core.uploads)."""

from __future__ import annotations

import io
import os

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

from jiedao.core.uploads import SealedUploadedFile, SpoolFile

MARKER = b"330225198506120013"


def _raw_bytes(spool: SpoolFile) -> bytes:
    fd = spool._raw.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0)


def test_spool_file_reads_back_what_was_written_at_any_offset(tmp_path):
    data = os.urandom(5000) + MARKER * 300 + os.urandom(777)
    spool = SpoolFile(tmp_path)
    for start in range(0, len(data), 1000):  # unaligned writes
        spool.write(data[start:start + 1000])
    assert MARKER not in _raw_bytes(spool) and len(_raw_bytes(spool)) == len(data)
    handle = io.BufferedRandom(spool)
    handle.seek(0)
    assert handle.read() == data
    for offset in (0, 1, 15, 16, 17, 4095, 5003):
        handle.seek(offset)
        assert handle.read(33) == data[offset:offset + 33]
    assert os.listdir(tmp_path) == []  # no name on disk to find
    handle.close()


def test_a_large_upload_never_reaches_the_disk_in_clear(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    body = MARKER * (3 * 1024 * 1024 // len(MARKER))  # over the 2.5 MB kept in memory
    request = RequestFactory().post("/", {"file": SimpleUploadedFile("居民.csv", body)})
    uploaded = request.FILES["file"]
    assert isinstance(uploaded, SealedUploadedFile) and uploaded.size == len(body)
    assert MARKER not in _raw_bytes(uploaded.file.raw)
    assert b"".join(uploaded.chunks()) == body and b"".join(uploaded.chunks()) == body
    uploaded.close()
