"""`jiedao backup` and `jiedao restore`: a round trip into an empty database gives the same rows.

SQLite always (a tiny seeded data directory, restored through the command line into an empty
one); PostgreSQL when the suite itself runs on PostgreSQL, entirely through the command line,
with two scratch databases created and dropped here.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from jiedao.core import backup, crypto
from tests.core.test_cli import copy_of_seeded, run_jiedao
from tests.core.test_keys import SEALED_ROW

COMPARED_TABLES = backup.KEY_TABLES  # org_orgnode, org_user, core_auditevent


def sqlite_tables(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def sqlite_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY id').fetchall()


def test_sqlite_backup_restores_identical_rows_into_an_empty_data_dir(tmp_path_factory, tmp_path):
    source_dir = copy_of_seeded(tmp_path_factory, tmp_path / "source")
    sealed_row = run_jiedao("manage", "shell", "-c", SEALED_ROW, data_dir=source_dir)  # so the keyring matters
    assert sealed_row.returncode == 0, sealed_row.stderr
    source = source_dir / "jiedao.sqlite3"
    ring = crypto.Keyring.from_json((source_dir / "keys" / "keyring.json").read_text())
    archive = backup.backup(tmp_path, db={"ENGINE": "django.db.backends.sqlite3", "NAME": str(source)}, keyring=ring)
    assert archive.parent == tmp_path and archive.name.startswith("jiedao-") and archive.suffix == ".sqlite3"
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    assert oct(backup.manifest_path(archive).stat().st_mode & 0o777) == "0o600"

    target_dir = tmp_path / "restored"
    (target_dir / "keys").mkdir(parents=True)
    shutil.copy(source_dir / "keys" / "keyring.json", target_dir / "keys" / "keyring.json")
    restored = run_jiedao("restore", str(archive), data_dir=target_dir)
    assert restored.returncode == 0, restored.stderr
    target = target_dir / "jiedao.sqlite3"
    assert sqlite_tables(target) == sqlite_tables(source)
    for table in COMPARED_TABLES:
        rows = sqlite_rows(target, table)
        assert rows and rows == sqlite_rows(source, table), table

    with pytest.raises(backup.BackupError) as refused:  # the target is no longer empty
        backup.restore(archive, db={"ENGINE": "django.db.backends.sqlite3", "NAME": str(target)}, skip_key_check=True)
    assert refused.value.returncode == 2 and "--force" in refused.value.message


def test_restore_rejects_a_file_that_is_not_a_backup(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    with pytest.raises(backup.BackupError) as refused:
        backup.backup_kind(junk)
    assert refused.value.returncode == 2
    with pytest.raises(backup.BackupError):
        backup.backup_kind(tmp_path / "missing.sqlite3")


def test_backup_never_overwrites_an_existing_file(tmp_path):
    existing = tmp_path / "keep.sqlite3"
    existing.write_text("precious")
    sqlite_db = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}
    with pytest.raises(backup.BackupError) as refused:
        backup.backup(existing, db=sqlite_db)
    assert refused.value.returncode == 2 and existing.read_text() == "precious"


def test_postgres_password_goes_through_the_environment_not_argv(monkeypatch, tmp_path):
    seen: dict = {}

    def fake_run(argv, env, **kwargs):
        seen.update(argv=argv, env=env)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(backup.subprocess, "run", fake_run)
    monkeypatch.setattr(backup.shutil, "which", lambda name: f"/usr/bin/{name}")
    db = {"ENGINE": "django.db.backends.postgresql", "NAME": "jiedao", "USER": "jd", "PASSWORD": "s3cret-pw",
          "HOST": "db.internal", "PORT": 5433, "OPTIONS": {"sslmode": "require"}}
    backup._backup_postgres(db, tmp_path / "x.dump")
    assert seen["argv"][0] == "/usr/bin/pg_dump" and "--format=custom" in seen["argv"]
    assert not any("s3cret-pw" in arg for arg in seen["argv"])
    assert seen["env"]["PGPASSWORD"] == "s3cret-pw"
    assert (seen["env"]["PGHOST"], seen["env"]["PGPORT"], seen["env"]["PGSSLMODE"]) == ("db.internal", "5433", "require")


# --- PostgreSQL ------------------------------------------------------------------------------

ON_POSTGRES = backup.is_postgres(settings.DATABASES["default"])


def pg_url(name: str) -> str:
    db = settings.DATABASES["default"]
    credentials = db.get("USER") or ""
    if db.get("PASSWORD"):
        credentials += f":{db['PASSWORD']}"
    return f"postgres://{credentials}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def pg_admin(statement: str) -> None:
    import psycopg

    db = settings.DATABASES["default"]
    with psycopg.connect(dbname="postgres", user=db.get("USER") or None, password=db.get("PASSWORD") or None,
                         host=db.get("HOST") or None, port=db.get("PORT") or None, autocommit=True) as conn:
        conn.execute(statement)


def pg_snapshot(name: str) -> tuple[dict[str, int], dict[str, list[tuple]]]:
    import psycopg

    db = settings.DATABASES["default"]
    with psycopg.connect(dbname=name, user=db.get("USER") or None, password=db.get("PASSWORD") or None,
                         host=db.get("HOST") or None, port=db.get("PORT") or None) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        rows = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY id').fetchall() for t in COMPARED_TABLES}
    return counts, rows


@pytest.mark.skipif(not ON_POSTGRES, reason="runs when the suite runs on PostgreSQL (JIEDAO_DATABASE_URL)")
def test_postgres_backup_restores_identical_rows_into_an_empty_database(tmp_path):
    source, target = f"jiedao_backup_src_{os.getpid()}", f"jiedao_restore_test_{os.getpid()}"
    for name in (source, target):
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{name}"')
    try:
        seeded = run_jiedao("seed", "--scale", "tiny", data_dir=tmp_path, JIEDAO_DATABASE_URL=pg_url(source))
        assert seeded.returncode == 0, seeded.stderr
        sealed_row = run_jiedao("manage", "shell", "-c", SEALED_ROW, data_dir=tmp_path, JIEDAO_DATABASE_URL=pg_url(source))
        assert sealed_row.returncode == 0, sealed_row.stderr
        archive = tmp_path / "jiedao.dump"
        made = run_jiedao("backup", "--output", str(archive), data_dir=tmp_path, JIEDAO_DATABASE_URL=pg_url(source))
        assert made.returncode == 0, made.stderr
        assert archive.read_bytes().startswith(b"PGDMP")

        # Without the keyring that encrypted it (an empty data directory), the restore is refused.
        keyless = run_jiedao("restore", str(archive), data_dir=tmp_path / "empty", JIEDAO_DATABASE_URL=pg_url(target))
        assert keyless.returncode == 2 and "keyring" in keyless.stderr, keyless.stderr
        restored = run_jiedao("restore", str(archive), data_dir=tmp_path, JIEDAO_DATABASE_URL=pg_url(target))
        assert restored.returncode == 0, restored.stderr
        (source_counts, source_rows), (target_counts, target_rows) = pg_snapshot(source), pg_snapshot(target)
        assert target_counts == source_counts
        for table in COMPARED_TABLES:
            assert target_rows[table] and target_rows[table] == source_rows[table], table

        again = run_jiedao("restore", str(archive), data_dir=tmp_path, JIEDAO_DATABASE_URL=pg_url(target))
        assert again.returncode == 2
        verified = run_jiedao("audit", "verify", data_dir=tmp_path, JIEDAO_DATABASE_URL=pg_url(target))
        assert verified.returncode == 0, verified.stderr
    finally:
        for name in (source, target):
            pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
