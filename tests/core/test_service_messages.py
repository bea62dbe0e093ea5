"""Service error messages go through gettext, like the rest of the UI.

Services, selectors, validators, importers and API modules raise their refusals with Chinese
source strings wrapped in gettext at raise time: `_("请填写%(label)s。") % {"label": label}`
(named placeholders, never an f-string inside `_()`, which xgettext cannot extract). The Chinese
text is unchanged; a request in English gets the English of jiedao/locale/en.

The checks read the code (ast), so an app added later keeps the rule without anyone listing
its modules here.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation

from jiedao.core.services import token_create
from tests.core.test_i18n import compiled_en, parse_po  # noqa: F401  (compiled_en: a fixture used below)

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "jiedao"
PO = PACKAGE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

# Modules (besides every management/commands/) whose raised messages are for the operator at a
# terminal, written in both languages in one string (a command has no request language), or read
# before translations can be activated.
OPERATOR_MODULES = {
    "env.py": "read while the settings load, before gettext can work",
    "core/backup.py": "backup and restore commands",
    "core/crypto.py": "key file problems found when the process starts",
    "cases/bulk.py": "the bulk history generator behind `jiedao seed`",
    "insight/text/io.py": "training-corpus reader of the insight command line",
}


def _python_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "migrations" not in p.parts)


def _for_the_operator(relative: str) -> bool:
    return relative in OPERATOR_MODULES or "/management/commands/" in f"/{relative}"


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _chinese_literal(node: ast.expr) -> bool:
    """A str literal, an f-string or a `+`/`%` expression built from them that holds Chinese
    text outside any gettext call."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(CJK.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_chinese_literal(part) for part in node.values)
    if isinstance(node, ast.BinOp):
        return _chinese_literal(node.left) or _chinese_literal(node.right)
    return False


def _is_error(call: ast.Call) -> bool:
    name = _name(call.func)
    return name == "Http404" or name.endswith(("Error", "Error_", "Exception"))


def untranslated_messages() -> list[str]:
    found = []
    for path in _python_files():
        relative = path.relative_to(PACKAGE_DIR).as_posix()
        if _for_the_operator(relative):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            calls = []
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                calls.append(node.exc)  # whatever is raised, e.g. type(exc)(...)
            elif isinstance(node, ast.Call) and _is_error(node):
                calls.append(node)  # an error built first and raised later
            for call in calls:
                for argument in [*call.args, *(k.value for k in call.keywords)]:
                    if _chinese_literal(argument):
                        found.append(f"jiedao/{relative}:{argument.lineno}: {ast.unparse(argument)[:80]}")
    return sorted(set(found))


def test_every_raised_message_goes_through_gettext():
    found = untranslated_messages()
    assert not found, (
        "Wrap these messages in gettext with named placeholders, e.g. "
        '_("请填写%(label)s。") % {"label": label}, and add their English to ' + str(PO.relative_to(PACKAGE_DIR.parent)) + ":\n" + "\n".join(found)
    )


def test_the_check_sees_what_it_must():
    source = (
        "def f(label, exc):\n"
        '    raise DomainError(f"请填写{label}。", field="x")\n'
        '    raise Http404("未找到该对象。")\n'
        '    raise Open311Error(400, "缺少 description。")\n'
        '    raise DomainError("密码不符合要求：" + "；".join(exc.messages))\n'
        '    error = ConflictError("已存在。")\n'
        '    raise DomainError(_("请填写%(label)s。") % {"label": label})\n'
        '    raise ValueError("plain English is fine")\n'
    )
    flagged = []
    for node in ast.walk(ast.parse(source)):
        calls = [node.exc] if isinstance(node, ast.Raise) else [node] if isinstance(node, ast.Call) and _is_error(node) else []
        flagged += [c.lineno for c in calls if any(_chinese_literal(a) for a in [*c.args, *(k.value for k in c.keywords)])]
    assert sorted(set(flagged)) == [2, 3, 4, 5, 6]


def test_no_function_hides_gettext_behind_a_local_underscore():
    """`_` is gettext: a function that also binds `_` (`for _ in …`, `obj, _ = …`) would make
    its own `_("…")` an unbound local and crash exactly on the refusal path."""
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
              ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    found = []
    for path in _python_files():
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            binds = calls = False
            pending = list(ast.iter_child_nodes(function))
            while pending:
                node = pending.pop()
                if isinstance(node, scopes):
                    continue
                binds |= isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
                calls |= isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
                pending.extend(ast.iter_child_nodes(node))
            if binds and calls:
                found.append(f"{path.relative_to(PACKAGE_DIR)}:{function.lineno} {function.name}")
    assert not found, found


def _msgids(path: Path) -> set[str]:
    return {entry["msgid"] for entry in parse_po(path)[1:]}


def test_every_marked_string_has_an_english_entry(tmp_path):
    """makemessages over a copy of the package: nothing marked for translation is missing from
    the catalogue (a missing entry would show Chinese to an English reader)."""
    if shutil.which("xgettext") is None:
        pytest.skip("GNU gettext's xgettext is not installed (apt-get install gettext)")
    copy = tmp_path / "jiedao"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static"))
    # -P: the copy's own modules (api.py, env.py, …) must not shadow anything; no settings, so
    # makemessages writes into the copy's locale/ and never into LOCALE_PATHS.
    command = [sys.executable, "-P", "-m", "django", "makemessages", "-l", "en", "--no-obsolete", "-v", "0"]
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(command, cwd=copy, check=True, env=environment, capture_output=True)
    missing = _msgids(copy / "locale" / "en" / "LC_MESSAGES" / "django.po") - _msgids(PO)
    assert not missing, f"add these to {PO.relative_to(PACKAGE_DIR.parent)}: {sorted(missing)}"


# --- through the API, in English ------------------------------------------------------------------


@pytest.fixture
def in_english_and_back():
    """LocaleMiddleware leaves the request's language active in the thread: later tests in this
    worker must not run in English."""
    yield
    translation.deactivate()


def _post(client, user, url, data, **headers):
    token = token_create(actor=user, name="测试")[1]
    return client.post("/api/v1" + url, json.dumps(data), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


def _get(client, user, url, params, **headers):
    token = token_create(actor=user, name="测试")[1]
    return client.get("/api/v1" + url, params, HTTP_AUTHORIZATION=f"Bearer {token}", **headers)


@pytest.mark.usefixtures("compiled_en", "in_english_and_back")
def test_a_service_refusal_answers_in_the_request_language(client, world):
    existing = {"parent": world.subdistrict.pk, "kind": "community", "name": world.community.name}
    english = _post(client, world.admin, "/org/nodes", existing, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 409
    assert english.json() == {
        "detail": f"The parent already has a node named “{world.community.name}”.", "field": "name", "code": "conflict",
    }
    chinese = _post(client, world.admin, "/org/nodes", existing)
    assert chinese.status_code == 409
    assert chinese.json()["detail"] == f"同一上级下已有名为“{world.community.name}”的节点。"

    # A label passed into a validator is translated too, so the sentence is English throughout.
    too_long = {"parent": world.subdistrict.pk, "kind": "community", "name": "长" * 65}
    english = _post(client, world.admin, "/org/nodes", too_long, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert english.json()["detail"] == "Name cannot be longer than 64 characters."
    assert _post(client, world.admin, "/org/nodes", too_long).json()["detail"] == "名称不能超过 64 个字。"


@pytest.mark.usefixtures("compiled_en", "in_english_and_back")
def test_schema_and_not_found_errors_answer_in_english(client, world):
    missing = _post(client, world.admin, "/org/nodes", {"parent": world.community.pk, "kind": "grid"},
                    HTTP_ACCEPT_LANGUAGE="en")
    assert missing.status_code == 422 and missing.json()["detail"] == "Field name is required."
    # Our own pydantic error keeps its (translated) message instead of a generic one.
    month = _get(client, world.leader, "/cases/stats/trend", {"from": "2026-13"}, HTTP_ACCEPT_LANGUAGE="en")
    assert month.status_code == 422
    assert month.json()["detail"] == "Field from must be a year and month, e.g. 2026-03."
    assert _get(client, world.leader, "/cases/stats/trend", {"from": "2026-13"}).json()["detail"] == (
        "字段 from：应为年月，如 2026-03。"
    )
    gone = _get(client, world.admin, "/org/nodes/987654", {}, HTTP_ACCEPT_LANGUAGE="en")
    assert gone.status_code == 404 and gone.json() == {"detail": "Not found.", "field": None, "code": "not_found"}
    assert not CJK.search(json.dumps([missing.json(), month.json(), gone.json()], ensure_ascii=False))
