"""The fence around jiedao.core.fastpath: only the callers listed here use it (each with the tests
its rule asks for), its responses are rendered as the API renders, and SQLite writers queue.

The rows-read-back and nothing-left-behind tests of intake are in tests/cases/test_intake_writes.py,
the body-equals-schema test in tests/cases/test_api.py."""

from __future__ import annotations

import ast
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction
from ninja import Schema

from jiedao.core.fastpath import dump_out, respond, write_lock

PACKAGE = Path(__file__).resolve().parents[2] / "jiedao"

# Module -> the names it takes from the fast path. A new caller is added here together with the
# tests the module's docstring asks for.
CALLERS = {
    "jiedao.api": {"UnicodeJSONRenderer"},  # the API renders with the class `respond` uses
    "jiedao.core.audit": {"insert_one"},  # the audit event every write records
    "jiedao.cases.services": {"insert_with_children", "write_lock"},  # intake
    "jiedao.cases.statistics.rollups": {"insert_one"},  # bump: the rollup delta of every case change
    "jiedao.cases.api": {"respond"},  # intake's 201 body
}


def imports_the_module(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name == "jiedao.core.fastpath" for alias in node.names)
    return isinstance(node, ast.ImportFrom) and node.module == "jiedao.core" and any(
        alias.name == "fastpath" for alias in node.names)


def fastpath_imports() -> dict[str, set[str]]:
    """Module -> names it imports from jiedao.core.fastpath ("*": the module itself), at module
    level or inside functions."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        if module == "jiedao.core.fastpath":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "jiedao.core.fastpath":
                found.setdefault(module, set()).update(alias.name for alias in node.names)
            elif imports_the_module(node):
                found.setdefault(module, set()).add("*")
    return found


def test_only_the_listed_callers_use_the_fast_path():
    assert fastpath_imports() == CALLERS, (
        "a new caller of jiedao.core.fastpath: read the rule in its docstring, write the tests it asks for, "
        "then list the module in CALLERS")


class _Out(Schema):
    id: int
    name: str
    score: float | None = None
    tags: list[str] = []


def test_respond_answers_as_the_api_would(rf):
    from jiedao.api import api

    request = rf.get("/")
    row = {"id": 7, "name": "东门社区“网格”", "score": Decimal("0.25"), "tags": ["路灯", "垃圾"]}
    context = {"request": request, "response_status": 201}
    validated = _Out.model_validate(row, context=context).model_dump(by_alias=True)
    assert dump_out(_Out, row, context) == validated
    ours, ninjas = respond(request, _Out, row, status=201), api.create_response(request, validated, status=201)
    assert (ours.status_code, ours["Content-Type"], ours.content) == (
        ninjas.status_code, ninjas["Content-Type"], ninjas.content)
    assert "东门社区".encode() in ours.content  # UTF-8, not \\u escapes


def test_sqlite_writers_queue_on_the_write_lock():
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock: write_lock does nothing there")
    order: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def first():
        with write_lock():
            holding.set()
            release.wait(10)
            order.append("first leaves")

    def second():
        with write_lock():
            order.append("second enters")

    one, two = threading.Thread(target=first), threading.Thread(target=second)
    one.start()
    assert holding.wait(10)
    two.start()
    two.join(0.2)
    assert two.is_alive()  # waiting for the first writer
    release.set()
    one.join(10)
    two.join(10)
    assert order == ["first leaves", "second enters"]


@pytest.mark.django_db
def test_inside_a_transaction_the_write_lock_does_not_wait():
    """Within an open transaction the database's write lock may be held already: waiting on our
    lock there could deadlock with another process, so write_lock lets it through."""
    holding = threading.Event()

    def holder():
        with write_lock():
            holding.set()
            time.sleep(3)  # were it to wait, the test would take this long, not hang

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    with transaction.atomic(), write_lock():
        waited = time.monotonic() - started
    thread.join(10)
    assert waited < 1
