"""The `jiedao` command: bilingual help, exit codes, configuration errors, `audit verify`, `seed`
and `createadmin`.

Subprocess tests run `python -m jiedao.cli` with an explicit environment: a temporary
JIEDAO_DATA_DIR and no other JIEDAO_* variable, so they always use a fresh SQLite database
whatever the suite itself runs on. One tiny seeded data directory is made once per test run
and shared by the workers (`seeded_tiny_data_dir`); tests that change a database use a copy.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jiedao import cli
from jiedao.core.models import AuditEvent
from jiedao.org.models import User

REPO = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


def jiedao_environment(data_dir: Path, **variables: str) -> dict[str, str]:
    """The caller's environment without any JIEDAO_* setting, plus a data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIEDAO_") and k != "DJANGO_SETTINGS_MODULE"}
    env["JIEDAO_DATA_DIR"] = str(data_dir)
    env.update(variables)
    return env


def run_jiedao(*args: str, data_dir: Path, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jiedao.cli", *args],
        cwd=REPO, env=jiedao_environment(data_dir, **variables), capture_output=True, text=True, timeout=300,
    )


def seeded_tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a migrated SQLite database holding the tiny demo, made once per test
    run and shared by the xdist workers (under pytest's own temporary root, which pytest prunes).
    Nothing writes to it afterwards: tests that change a database work on a copy."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by all workers of this run
    directory = root / "jiedao-seeded-tiny"
    with (root / "jiedao-seeded-tiny.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / "seeded").exists():
            shutil.rmtree(directory, ignore_errors=True)
            result = run_jiedao("seed", "--scale", "tiny", data_dir=directory)
            assert result.returncode == 0, result.stderr
            (directory / "seeded").touch()
    return directory


def copy_of_seeded(tmp_path_factory: pytest.TempPathFactory, target: Path) -> Path:
    shutil.copytree(seeded_tiny_data_dir(tmp_path_factory), target)
    return target


# --- help ------------------------------------------------------------------------------------

HELP_PATHS = [path for path in cli.COMMANDS] + [("manage",), ("audit",), ("keys",)]


def help_text(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*args, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_is_bilingual_and_lists_every_command(capsys):
    out = help_text(capsys)
    assert "用法 / usage" in out and "选项 / options" in out
    assert cli.DESCRIPTION in out
    for name in ("demo", "serve", "seed", "createadmin", "audit", "backup", "restore", "manage"):
        assert re.search(rf"^\s+{name}\b", out, re.MULTILINE), name


@pytest.mark.parametrize("path", HELP_PATHS, ids=" ".join)
def test_every_subcommand_help_is_chinese_and_english(capsys, path):
    out = help_text(capsys, *path)
    if path in cli.COMMANDS:
        description = cli.command_class(*cli.COMMANDS[path]).help
    elif path == ("manage",):
        description = cli.MANAGE_HELP
    else:
        description = cli.GROUP_HELP[path[0]]
    chinese, english = cli.two_lines(description).split("\n")
    assert CJK.search(chinese) and not CJK.search(english)
    assert chinese in out and english in out
    assert "显示帮助并退出 / show this help and exit" in out


def test_seed_help_hides_the_test_scale(capsys):
    out = help_text(capsys, "seed")
    assert "subdistrict" in out and "city" in out and "tiny" not in out


def test_bad_option_exits_2_with_a_bilingual_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["seed", "--scale", "galaxy"])
    assert exit_info.value.code == 2
    assert "错误 / error" in capsys.readouterr().err


# --- configuration errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"), [("JIEDAO_DEBUG", "maybe"), ("JIEDAO_DATABASE_URL", "mysql://x"),
                            ("JIEDAO_QUEUE_URL", "amqp://127.0.0.1"), ("JIEDAO_QUEUE_NAME", "a queue")]
)
def test_bad_environment_value_exits_2_naming_the_variable(tmp_path, variable, value):
    result = run_jiedao("audit", "verify", data_dir=tmp_path, **{variable: value})
    assert result.returncode == 2
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_worker_without_a_queue_exits_2_and_says_why(tmp_path):
    result = run_jiedao("worker", data_dir=tmp_path)
    assert result.returncode == 2
    assert "JIEDAO_QUEUE_URL" in result.stderr and "Traceback" not in result.stderr


# --- audit verify ----------------------------------------------------------------------------


def test_audit_verify_passes_then_names_the_altered_row(tmp_path_factory, tmp_path):
    data_dir = copy_of_seeded(tmp_path_factory, tmp_path / "data")
    good = run_jiedao("audit", "verify", data_dir=data_dir)
    assert good.returncode == 0, good.stderr
    assert "审计链完整 / audit chain intact" in good.stdout
    assert re.search(r"checked [1-9]\d* audit events", good.stdout)

    database = sqlite3.connect(data_dir / "jiedao.sqlite3")
    with database:
        event_id, seq = database.execute("SELECT id, seq FROM core_auditevent ORDER BY seq LIMIT 1").fetchone()
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            database.execute("UPDATE core_auditevent SET object_repr = '篡改' WHERE id = ?", [event_id])
    with database:  # an insider with DDL rights drops the trigger first
        database.execute("DROP TRIGGER jiedao_audit_event_no_update")
        database.execute("UPDATE core_auditevent SET object_repr = '篡改' WHERE id = ?", [event_id])
    database.close()
    bad = run_jiedao("audit", "verify", data_dir=data_dir)
    assert bad.returncode == 1
    assert f"id={event_id}" in bad.stderr and f"seq={seq}" in bad.stderr
    assert "审计链已损坏" in bad.stderr and "append-only triggers are missing" in bad.stderr


def test_audit_verify_reports_a_rehashed_chain_and_a_cut_tail(tmp_path_factory, tmp_path):
    """Re-hashing with plain SM3 (the old, unkeyed algorithm) and rewinding a head after the
    checkpoint are both named by chain and seq, exit code 1."""
    import json

    from cryptography.hazmat.primitives import hashes

    data_dir = copy_of_seeded(tmp_path_factory, tmp_path / "data")
    written = run_jiedao("audit", "checkpoint", data_dir=data_dir)
    assert written.returncode == 0, written.stderr
    assert "checkpoint written" in written.stdout
    assert run_jiedao("audit", "verify", data_dir=data_dir).returncode == 0

    def sm3(data: bytes) -> str:
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize().hex()

    database = sqlite3.connect(data_dir / "jiedao.sqlite3")
    columns = ["chain", "seq", "created_at", "actor_id", "actor_repr", "action", "object_type", "object_id",
               "object_repr", "before", "after", "reason", "request_id", "ip_address", "user_agent"]
    with database:
        for name in ("jiedao_audit_event_no_update", "jiedao_audit_event_no_delete", "jiedao_audit_head_advance_only"):
            database.execute(f"DROP TRIGGER {name}")
        # chain A: the first event altered, every later one re-hashed unkeyed, the head moved
        chain_a = database.execute("SELECT chain FROM core_auditevent GROUP BY chain ORDER BY count(*) DESC").fetchone()[0]
        rows = database.execute(f"SELECT id, {', '.join(columns)} FROM core_auditevent WHERE chain = ? ORDER BY seq",
                                [chain_a]).fetchall()
        prev = "0" * 64
        for n, (event_id, *values) in enumerate(rows):
            fields = dict(zip(columns, values, strict=True))
            if n == 0:
                fields["reason"] = "改过"
            fields["created_at"] = fields["created_at"].replace(" ", "T")[:26].ljust(26, "0") + "Z"
            for name in ("before", "after"):
                fields[name] = json.loads(fields[name]) if fields[name] else None
            content = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
            digest = sm3(prev.encode() + b"|" + content)
            database.execute("UPDATE core_auditevent SET reason = ?, prev_hash = ?, hash = ? WHERE id = ?",
                             [fields["reason"], prev, digest, event_id])
            prev = digest
        database.execute("UPDATE core_auditchainhead SET last_hash = ? WHERE chain = ?", [prev, chain_a])
    database.close()
    bad = run_jiedao("audit", "verify", data_dir=data_dir)
    assert bad.returncode == 1
    assert f"[chain {chain_a}, seq=1, id=" in bad.stderr and "keyed MAC mismatch" in bad.stderr

    # another copy, checkpointed: its last event deleted and its head moved back
    data_dir = copy_of_seeded(tmp_path_factory, tmp_path / "data2")
    assert run_jiedao("audit", "checkpoint", data_dir=data_dir).returncode == 0
    database = sqlite3.connect(data_dir / "jiedao.sqlite3")
    with database:
        for name in ("jiedao_audit_event_no_delete", "jiedao_audit_head_advance_only"):
            database.execute(f"DROP TRIGGER {name}")
        chain_b, last_seq = database.execute(
            "SELECT chain, max(seq) FROM core_auditevent GROUP BY chain ORDER BY max(seq) DESC LIMIT 1").fetchone()
        database.execute("DELETE FROM core_auditevent WHERE chain = ? AND seq = ?", [chain_b, last_seq])
        before = (database.execute("SELECT hash FROM core_auditevent WHERE chain = ? AND seq = ?",
                                   [chain_b, last_seq - 1]).fetchone() or [""])[0]
        database.execute("UPDATE core_auditchainhead SET last_seq = ?, last_hash = ? WHERE chain = ?",
                         [last_seq - 1, before, chain_b])
    database.close()
    cut = run_jiedao("audit", "verify", data_dir=data_dir)
    assert cut.returncode == 1
    assert f"[chain {chain_b}, seq={last_seq}]" in cut.stderr and "tail truncated" in cut.stderr


# --- seed (in-process, on the test database) --------------------------------------------------


def test_seed_refuses_a_database_that_already_has_org_nodes(world):
    with pytest.raises(CommandError) as refused:
        call_command("seed", scale="tiny", stdout=io.StringIO())
    assert refused.value.returncode == 2
    assert "--force" in str(refused.value) and "组织节点" in str(refused.value)
    assert not User.objects.filter(username="wangge01").exists()


# --- createadmin (in-process, on the test database) -------------------------------------------


def test_createadmin_makes_an_audited_superuser(db):
    call_command("createadmin", username="root2", password="Ding-Hai-2026!", stdout=io.StringIO())
    user = User.objects.get(username="root2")
    assert user.is_superuser and user.is_staff and user.check_password("Ding-Hai-2026!")
    event = AuditEvent.objects.get(action="org.user.create_superuser")
    assert event.object_id == str(user.pk) and "password" not in event.after


def test_createadmin_refuses_duplicates_and_weak_passwords(world):
    with pytest.raises(CommandError) as duplicate:
        call_command("createadmin", username="admin", password="Ding-Hai-2026!")
    assert duplicate.value.returncode == 2
    with pytest.raises(CommandError) as weak:
        call_command("createadmin", username="newroot", password="12345678")
    assert weak.value.returncode == 2 and "密码" in str(weak.value)
    assert not User.objects.filter(username="newroot").exists()
