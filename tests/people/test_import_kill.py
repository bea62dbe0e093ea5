"""Killing the process in the middle of a large import leaves no partial import behind."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.people.test_import_at_rest import clear_values_on_disk

CHILD = Path(__file__).with_name("import_child.py")


def _personal_values(path: Path) -> set[str]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = workbook.worksheets[0].iter_rows(values_only=True)
    headers = list(next(rows))
    columns = [headers.index(h) for h in ("身份证号", "联系电话") if h in headers]
    return {str(r[i]) for r in rows for i in columns if r[i]}


def _scratch_database_url():
    """SQLite in the child's own data dir, or a scratch PostgreSQL database on PostgreSQL runs."""
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return None, None
    import psycopg

    db = settings.DATABASES["default"]
    name = f"jiedao_kill_{uuid.uuid4().hex[:8]}"
    conninfo = dict(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"] or None,
                    dbname="postgres", autocommit=True)
    with psycopg.connect(**conninfo) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{name}", (conninfo, name)


def _count(data_dir: Path, url: str | None, sql: str) -> int:
    env = {**os.environ, "JIEDAO_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "jiedao.settings"}
    env.pop("JIEDAO_DATABASE_URL", None)
    if url:
        env["JIEDAO_DATABASE_URL"] = url
    code = ("import django; django.setup(); from django.db import connection; c = connection.cursor(); "
            f"c.execute({sql!r}); print(c.fetchone()[0])")
    return int(subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                              text=True).stdout.strip())


def test_killed_commit_leaves_nothing(tmp_path):
    url, cleanup = _scratch_database_url()
    env = {**os.environ, "JIEDAO_DATA_DIR": str(tmp_path)}
    env.pop("JIEDAO_DATABASE_URL", None)
    args = [sys.executable, str(CHILD), "5000"] + ([url] if url else [])
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    try:
        job_line = child.stdout.readline()
        assert job_line.startswith("JOB"), job_line
        progress = tmp_path / "imports" / f"{job_line.split()[1]}.progress.json"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                state = json.loads(progress.read_text())
            except (OSError, ValueError):
                state = {}
            if state.get("phase") == "commit" and 0 < state.get("done", 0) < 5000:
                break
            assert child.poll() is None, "the import finished before it could be interrupted"
            time.sleep(0.01)
        else:
            pytest.fail("the commit never started")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        # Half the batches had been written inside the transaction; none of them may survive.
        assert _count(tmp_path, url, "SELECT COUNT(*) FROM people_resident") == 0
        assert _count(tmp_path, url, "SELECT COUNT(*) FROM core_auditevent WHERE action = 'people.resident.import'") == 0
        assert _count(tmp_path, url, "SELECT COUNT(*) FROM people_household") == 0
        # The interrupted job's files stay until it is validated again or expires, but encrypted:
        # not one ID number or phone of the file is in clear anywhere in the data directory.
        values = _personal_values(Path(job_line.split()[2]))
        assert len(values) > 5000
        assert clear_values_on_disk(Path(job_line.split()[2]).parent, values)  # the scan sees into an xlsx
        assert clear_values_on_disk(tmp_path, values) == []
        assert [p.name for p in (tmp_path / "imports").iterdir() if p.stat().st_mode & 0o077] == []
    finally:
        if child.poll() is None:
            child.kill()
        if cleanup:
            import psycopg

            conninfo, name = cleanup
            with psycopg.connect(**conninfo) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
