"""Run by test_import_kill in a separate process: prepare a database and a large file, validate,
then commit — the test kills this process in the middle of the commit."""

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import import_residents as bench  # noqa: E402


def main(rows: int, database_url: str | None) -> None:
    import os

    bench._setup(os.environ["JIEDAO_DATA_DIR"], database_url)
    bench._fresh_database()
    actor, paths = bench._world()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jiedao.core import imports
    from jiedao.people import importers  # noqa: F401

    path = Path(tempfile.mkdtemp()) / "big.xlsx"
    bench.make_file(path, rows, paths)
    job = imports.import_upload(actor=actor, register_key="residents", mode="all_or_nothing",
                                uploaded=SimpleUploadedFile("big.xlsx", path.read_bytes()))
    job = imports.import_validate(job)
    print(f"JOB {job.pk} {path}", flush=True)
    imports.import_commit(actor=actor, job=job)
    print("DONE", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
