"""Backup and restore of the configured database (`jiedao backup`, `jiedao restore`).

SQLite: an online, consistent copy through SQLite's backup API, safe while the platform runs
(the live database is in WAL mode; the copy is a single self-contained file). PostgreSQL:
`pg_dump --format=custom` and `pg_restore --clean --if-exists --no-owner` in one transaction.
Connection parameters, the password included, reach pg_dump/pg_restore through the PG*
environment variables, never on the command line (where `ps` would show them).

Keep the data directory's `secret_key` and `keys/` with the backups: encrypted personal data
cannot be read without the keyring (docs/operator-guide.md). Each backup is written with a
manifest beside it (`<backup>.keys.json`: the key ids its encrypted data needs and their check
values, never the keys), and a restore is refused when the present keyring lacks one of them
or holds a different key under its id — restored rows would be unreadable, and a keyring
generated afresh would make every later write unreadable once the real one comes back.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
SQLITE_SUFFIX = ".sqlite3"
PGDUMP_SUFFIX = ".dump"
# Tables compared after a restore and counted in its report.
KEY_TABLES = ("org_orgnode", "org_user", "core_auditevent")


class BackupError(Exception):
    """A backup or restore could not be done; `returncode` 2 means refused, 1 means failed."""

    def __init__(self, message: str, *, returncode: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.returncode = returncode


@dataclass(frozen=True)
class RestoreResult:
    source: Path
    target: str
    rows: dict[str, int]


def database_settings(alias: str = "default") -> dict[str, Any]:
    return settings.DATABASES[alias]


def is_sqlite(db: dict[str, Any]) -> bool:
    return db["ENGINE"] == "django.db.backends.sqlite3"


def is_postgres(db: dict[str, Any]) -> bool:
    return db["ENGINE"] in {"django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"}


def describe(db: dict[str, Any]) -> str:
    """Where the database is, without the password (for messages)."""
    if is_sqlite(db):
        return str(db["NAME"])
    return f"postgresql://{db.get('USER') or ''}@{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


# --- file names ------------------------------------------------------------------------------


def default_backup_path(db: dict[str, Any], directory: Path | None = None) -> Path:
    """A new timestamped file in BACKUP_DIR (or `directory`): jiedao-YYYYmmdd-HHMMSS.sqlite3/.dump."""
    directory = Path(directory or settings.BACKUP_DIR)
    suffix = SQLITE_SUFFIX if is_sqlite(db) else PGDUMP_SUFFIX
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    path = directory / f"jiedao-{stamp}{suffix}"
    number = 1
    while path.exists():
        number += 1
        path = directory / f"jiedao-{stamp}-{number}{suffix}"
    return path


def _output_path(db: dict[str, Any], output: Path | str | None) -> Path:
    if output is None:
        path = default_backup_path(db)
    else:
        path = Path(output).expanduser()
        if path.is_dir():
            path = default_backup_path(db, path)
        elif path.exists():
            raise BackupError(f"文件 {path} 已存在，不会覆盖 / {path} exists, not overwriting", returncode=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent == Path(settings.BACKUP_DIR):
        path.parent.chmod(0o700)
    return path.resolve()


# --- backup ----------------------------------------------------------------------------------


def backup(output: Path | str | None = None, *, db: dict[str, Any] | None = None, keyring=None) -> Path:
    """Write a consistent backup of the database and return its path (readable by us only),
    with its key manifest beside it (`manifest_path`). `keyring` defaults to the configured one."""
    db = db or database_settings()
    path = _output_path(db, output)
    partial = path.with_name(path.name + ".part")
    try:
        if is_sqlite(db):
            _backup_sqlite(Path(db["NAME"]), partial)
        elif is_postgres(db):
            _backup_postgres(db, partial)
        else:
            raise BackupError(f"不支持备份此类数据库：{db['ENGINE']} / unsupported database engine")
        partial.chmod(0o600)
        _write_manifest(manifest_path(path), partial if is_sqlite(db) else None, db, keyring)
        os.replace(partial, path)  # a half-written file never carries the final name
    finally:
        partial.unlink(missing_ok=True)
    return path


def manifest_path(backup_path: Path) -> Path:
    return backup_path.with_name(backup_path.name + ".keys.json")


def _write_manifest(path: Path, sqlite_copy: Path | None, db: dict[str, Any], keyring) -> None:
    """The key ids the backed-up data needs (read from the SQLite copy itself, or from the
    PostgreSQL database just dumped) with the present keyring's check values."""
    from jiedao.core import crypto, keys

    ring = keyring or crypto.existing_keyring()
    if sqlite_copy is not None:
        conn = sqlite3.connect(sqlite_copy)
        try:
            usage = keys.key_usage(lambda sql, params: conn.execute(sql.replace("%s", "?"), params).fetchall())
        finally:
            conn.close()
    else:
        with _pg_connect(db) as conn:
            conn.autocommit = True  # a missing table must not abort the other queries
            usage = keys.key_usage(lambda sql, params: conn.execute(sql, params).fetchall(), collate_c=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys.manifest(usage, ring), handle, indent=2)


def _backup_sqlite(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"数据库文件不存在：{source} / database file not found")
    live = sqlite3.connect(source, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # One step copies every page under a single read transaction: a consistent snapshot,
        # while WAL lets the platform keep writing.
        live.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite 备份失败 / SQLite backup failed: {exc}") from None
    finally:
        copy.close()
        live.close()


def pg_environment(db: dict[str, Any]) -> dict[str, str]:
    """The libpq environment for pg_dump/pg_restore/psql: the password never goes on argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    options = db.get("OPTIONS") or {}
    values = {
        "PGHOST": db.get("HOST") or "",
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": db.get("USER") or "",
        "PGPASSWORD": db.get("PASSWORD") or "",
        "PGDATABASE": db.get("NAME") or "",
        "PGSSLMODE": options.get("sslmode", ""),
        "PGSSLROOTCERT": options.get("sslrootcert", ""),
        "PGSSLCERT": options.get("sslcert", ""),
        "PGSSLKEY": options.get("sslkey", ""),
        "PGAPPNAME": "jiedao-backup",
    }
    env.update({k: v for k, v in values.items() if v})
    return env


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(
            f"找不到 {name}：请安装与数据库服务器同一主版本的 PostgreSQL 客户端（如 postgresql-client）"
            f" / {name} not found: install the PostgreSQL client tools of the server's major version"
        )
    return tool


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip()
        raise BackupError(f"{what}失败 / {argv[0].rsplit('/', 1)[-1]} failed:\n{detail}")


def _backup_postgres(db: dict[str, Any], target: Path) -> None:
    _run([_pg_tool("pg_dump"), "--format=custom", f"--file={target}"], pg_environment(db), "pg_dump 备份")


# --- restore ---------------------------------------------------------------------------------


def backup_kind(path: Path) -> str:
    """'sqlite' or 'postgres', from the file's first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"备份文件不存在：{path} / backup file not found", returncode=2) from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgres"
    raise BackupError(f"{path} 不是 Jiedao 的备份文件 / not a Jiedao backup (SQLite file or pg_dump custom archive)",
                      returncode=2)


def org_node_count(db: dict[str, Any] | None = None) -> int:
    """Rows in org_orgnode of the target database (0 when the file or table does not exist)."""
    db = db or database_settings()
    if is_sqlite(db):
        path = Path(db["NAME"])
        if not path.exists():
            return 0
        return _sqlite_count(path, "org_orgnode")
    with _pg_connect(db) as conn:
        exists = conn.execute("SELECT to_regclass('org_orgnode') IS NOT NULL").fetchone()[0]
        return conn.execute("SELECT count(*) FROM org_orgnode").fetchone()[0] if exists else 0


def _sqlite_count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path, timeout=30)
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", [table]).fetchone()
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] if exists else 0
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} 不是可用的 SQLite 数据库 / not a usable SQLite database: {exc}") from None
    finally:
        conn.close()


def _pg_connect(db: dict[str, Any]):
    import psycopg

    options = db.get("OPTIONS") or {}
    params = {
        "dbname": db["NAME"], "user": db.get("USER") or None, "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None, "port": db.get("PORT") or None,
        **{k: v for k, v in options.items() if k in {"sslmode", "sslrootcert", "sslcert", "sslkey"}},
    }
    try:
        return psycopg.connect(**{k: v for k, v in params.items() if v is not None}, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise BackupError(f"无法连接数据库 {describe(db)} / cannot connect: {exc}") from None


def check_keys(source: Path, kind: str) -> None:
    """Refuse (BackupError, returncode 2) when the present keyring cannot open the backup's
    encrypted data: the manifest beside the backup names the keys (ids and check values); without
    one, a SQLite backup is read for the key ids its ciphertexts name and one sample of each is
    decrypted; a PostgreSQL dump without its manifest cannot be checked and is refused."""
    from jiedao.core import crypto, keys

    ring = crypto.existing_keyring()
    manifest = manifest_path(source)
    if manifest.exists():
        try:
            recorded = json.loads(manifest.read_text())
        except ValueError as exc:
            raise BackupError(f"密钥清单 {manifest} 无法读取 / unreadable key manifest: {exc}", returncode=2) from None
        problems = keys.manifest_problems(recorded, ring)
        problems += [f"  {k}: 备份时已无此密钥 / already missing at backup time" for k in recorded.get("unknown_keys", [])]
    elif kind == "sqlite":
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            usage = keys.key_usage(lambda sql, params: conn.execute(sql.replace("%s", "?"), params).fetchall())
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} 不是可用的 SQLite 数据库 / not a usable SQLite database: {exc}",
                              returncode=2) from None
        finally:
            conn.close()
        problems = keys.describe_problems(keys.unreadable(usage, ring)).splitlines()
    else:
        raise BackupError(
            f"找不到备份的密钥清单 {manifest}，无法确认当前密钥环能解开备份中的加密数据，已拒绝恢复。"
            "请把清单放回备份文件旁；确认密钥环无误时可加 --skip-key-check。"
            f" / The backup's key manifest {manifest} is missing, so the keyring cannot be checked; refusing."
            " Put the manifest beside the backup, or add --skip-key-check if you are sure of the keyring.",
            returncode=2,
        )
    if problems:
        raise BackupError(
            f"当前密钥环（{crypto.keyring_path()}）打不开这份备份中的加密个人信息，已拒绝恢复。"
            "请先把备份时数据目录中的 keys/keyring.json 放回原处，再执行恢复。"
            " / The present keyring cannot open this backup's encrypted personal data; refusing to restore."
            " Put back the keyring of the data directory at backup time (keys/keyring.json) first.\n"
            + "\n".join(problems),
            returncode=2,
        )


def restore(source: Path | str, *, force: bool = False, db: dict[str, Any] | None = None,
            skip_key_check: bool = False) -> RestoreResult:
    """Replace the configured database's contents with a backup.

    Refuses (BackupError, returncode 2) when the target already holds org nodes, unless `force`,
    and when the present keyring cannot open the backup's encrypted data (`check_keys`), unless
    `skip_key_check`.
    """
    db = db or database_settings()
    source = Path(source).expanduser().resolve()
    kind = backup_kind(source)
    if is_sqlite(db) and kind != "sqlite":
        raise BackupError("这是 PostgreSQL 备份，不能恢复到 SQLite 数据库 / a PostgreSQL dump cannot be restored into SQLite",
                          returncode=2)
    if is_postgres(db) and kind != "postgres":
        raise BackupError("这是 SQLite 备份，不能恢复到 PostgreSQL 数据库 / a SQLite backup cannot be restored into PostgreSQL",
                          returncode=2)
    if not skip_key_check:
        check_keys(source, kind)
    existing = org_node_count(db)
    if existing and not force:
        raise BackupError(
            f"目标数据库 {describe(db)} 已有 {existing} 个组织节点，为防止覆盖现有数据已停止；"
            f"确认要用备份替换全部数据时请加 --force。"
            f" / The target database already holds {existing} org nodes; add --force to replace everything.",
            returncode=2,
        )
    connections.close_all()
    if is_sqlite(db):
        _restore_sqlite(source, Path(db["NAME"]))
    else:
        _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--exit-on-error", f"--dbname={db['NAME']}", str(source)], pg_environment(db), "pg_restore 恢复")
    return RestoreResult(source=source, target=describe(db), rows=table_counts(db, KEY_TABLES))


def _restore_sqlite(source: Path, target: Path) -> None:
    try:
        backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"无法打开备份文件 {source} / cannot open the backup: {exc}", returncode=2) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    live = sqlite3.connect(target, timeout=30)
    try:
        if not backup_file.execute("SELECT 1 FROM sqlite_master WHERE name='django_migrations'").fetchone():
            raise BackupError(f"{source} 不是 Jiedao 的数据库备份 / not a Jiedao database backup", returncode=2)
        backup_file.backup(live)  # page by page, under an exclusive lock on the target
        live.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite 恢复失败 / SQLite restore failed: {exc}") from None
    finally:
        live.close()
        backup_file.close()


def table_counts(db: dict[str, Any], tables: tuple[str, ...]) -> dict[str, int]:
    if is_sqlite(db):
        return {table: _sqlite_count(Path(db["NAME"]), table) for table in tables}
    with _pg_connect(db) as conn:
        counts = {}
        for table in tables:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()[0]
            counts[table] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] if exists else 0
        return counts


# --- wiping (seed --force) -------------------------------------------------------------------


def wipe_database(alias: str = "default") -> None:
    """Remove every table of the configured database so that `migrate` starts from scratch.

    SQLite: the database file (and its -wal/-shm companions) is deleted. PostgreSQL: every
    table Django can see on the search path is dropped with CASCADE. Stop the server first.
    """
    db = database_settings(alias)
    connections.close_all()
    if is_sqlite(db):
        path = Path(db["NAME"])
        for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            companion.unlink(missing_ok=True)
        return
    connection = connections[alias]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if tables:
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            cursor.execute(f"DROP TABLE IF EXISTS {quoted} CASCADE")
    connections.close_all()
