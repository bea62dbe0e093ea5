"""The import graph, read from the code: apps depend one way.

    core ← org ← people ← cases ← insight ← the project package (jiedao/*.py: urls, api, cli,
    settings, wsgi, …)

A module may import its own app and the apps below it, never one above, not even inside a
function; there is no circle between apps; and core's own modules import each other without a
circle. When a lower app needs something from a higher one, it owns a small registry that the
higher app fills in its AppConfig.ready() (e.g. jiedao.core.seeding, core.scope's role source).

Every import statement counts: module level, inside functions and classes, `import x` and
`from x import y`, relative imports resolved. Migrations are left out (they name models by
label); strings are not imports (INSTALLED_APPS, the dotted paths of tasks, jobs and seed steps).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings

PACKAGE = Path(__file__).resolve().parents[1] / "jiedao"
PROJECT = "project"  # the modules directly in jiedao/

# Lowest first. A new app takes its place in this list (the test fails until it does) and in
# INSTALLED_APPS in the same order, which is the order their AppConfig.ready() run in.
LAYERS = ["core", "org", "people", "cases", "insight", "safety", "welfare", "petitions", PROJECT]

@dataclass(frozen=True)
class Import:
    file: str  # relative to the repository, e.g. "jiedao/core/scope.py"
    line: int
    source: str  # the importing module, e.g. "jiedao.core.scope"
    target: str  # the imported module (or package), e.g. "jiedao.org.models"

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.target}"


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name, migrations left out."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.relative_to(PACKAGE).parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name `from … import` reads from (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports() -> tuple[Import, ...]:
    """Every import of a jiedao module by a jiedao module."""
    modules = module_files()
    found = []
    for module, path in modules.items():
        file = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=file)):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node, module, path.name == "__init__.py")
                # `from jiedao.core import scope` imports the module jiedao.core.scope.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in dict.fromkeys(targets):
                if target == "jiedao" or target.startswith("jiedao."):
                    found.append(Import(file, node.lineno, module, target))
    return tuple(found)


def app_of(module: str) -> str:
    """The app a dotted name belongs to: its first level under jiedao/ if that is a package."""
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1] / "__init__.py").exists():
        return parts[1]
    return PROJECT


def rank(app: str) -> int:
    return LAYERS.index(app)


def app_edges() -> list[tuple[Import, str, str]]:
    """(import, from app, to app) for every import across apps."""
    edges = []
    for imp in imports():
        source, target = app_of(imp.source), app_of(imp.target)
        if source != target:
            edges.append((imp, source, target))
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# --- the tests ------------------------------------------------------------------------------------


def test_the_walk_sees_every_kind_of_import():
    """A guard on the walker itself: function-level, `from` and relative imports are all read."""
    seen = {(imp.file, imp.target) for imp in imports()}
    assert ("jiedao/org/apps.py", "jiedao.core.scope") in seen  # inside ready()
    assert ("jiedao/urls.py", "jiedao.api") in seen  # from jiedao.api import api
    assert ("jiedao/insight/text/cli.py", "jiedao.insight.text.classifier") in seen  # from .classifier import …
    assert ("jiedao/insight/text/cli.py", "jiedao.insight.text.io") in seen  # from . import io
    assert len(module_files()) > 100


def test_every_app_has_its_place_in_the_layers():
    packages = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py"))
    missing = [name for name in packages if name not in LAYERS]
    assert not missing, (
        f"jiedao/{missing[0]}/ is not in LAYERS (tests/test_architecture.py): add it at its place in the "
        f"order, lowest first — it may then import only the apps before it. Not placed: {', '.join(missing)}"
    )
    installed = [name.split(".")[1] for name in settings.INSTALLED_APPS if name.startswith("jiedao.")]
    assert installed == [app for app in LAYERS if app in installed], (
        f"INSTALLED_APPS lists our apps as {installed}; list them in LAYERS order {LAYERS}: their "
        "AppConfig.ready() run in that order and the registries they fill (seed steps) rely on it"
    )


def test_no_app_imports_a_higher_one():
    upward = [f"{imp} ({source} → {target})" for imp, source, target in app_edges() if rank(target) > rank(source)]
    assert not upward, (
        "a lower app imports a higher one (order: " + " ← ".join(LAYERS) + "); let the lower app own a "
        "registry the higher one fills in AppConfig.ready(), or move the code up:\n  " + "\n  ".join(upward)
    )


def test_no_circle_between_apps():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], Import] = {}
    for imp, source, target in app_edges():
        graph[source].add(target)
        where.setdefault((source, target), imp)
    circles = cycles(graph)
    report = [
        " ↔ ".join(circle) + ": " + "; ".join(str(where[(a, b)]) for a in circle for b in circle if (a, b) in where)
        for circle in circles
    ]
    assert not circles, "apps import each other in a circle:\n  " + "\n  ".join(report)


def test_core_modules_import_each_other_without_a_circle():
    """E.g. queue (sends) ← tasks, scheduler ← queue_worker (runs what they send); xlsx ← tabular."""
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], Import] = {}
    modules = module_files()
    for imp in imports():
        if app_of(imp.source) == app_of(imp.target) == "core" and imp.target in modules and imp.target != imp.source:
            graph[imp.source].add(imp.target)
            where.setdefault((imp.source, imp.target), imp)
    circles = cycles(graph)
    report = [
        " ↔ ".join(circle) + ": " + "; ".join(str(where[(a, b)]) for a in circle for b in circle if (a, b) in where)
        for circle in circles
    ]
    assert not circles, "core's modules import each other in a circle:\n  " + "\n  ".join(report)


DOTTED_PATH = re.compile(r"jiedao(\.\w+)+")


def test_no_app_names_a_higher_ones_code_in_a_string():
    """A dotted path in a string (a job, a seeding step, an include()) is a dependency too: a
    lower app never names a higher app's module. Higher apps register theirs in ready()."""
    modules = module_files()
    upward = []
    for module, path in modules.items():
        source = app_of(module)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and DOTTED_PATH.fullmatch(node.value)):
                continue
            # Names of code: a module, or a function of one (not the settings module every
            # process is started with, nor names such as Celery task names "jiedao.run_job").
            named = node.value if node.value in modules else node.value.rpartition(".")[0]
            if named in modules and named not in ("jiedao", "jiedao.settings"):
                target = app_of(named)
                if rank(target) > rank(source):
                    upward.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} names {node.value}")
    assert not upward, "lower apps name higher apps' code:\n  " + "\n  ".join(upward)


def test_api_schema_names_are_unique():
    """django-ninja names each schema's OpenAPI component after its class: two schema classes of
    one name (a welfare `TransitionOut` and the cases' one) overwrite each other in /api/v1's
    document, which then describes one endpoint's answers with another's fields."""
    from ninja import Schema

    import jiedao.api  # noqa: F401  (every router imported)

    seen: dict[str, set[str]] = {}
    stack = [Schema]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("jiedao."):
            seen.setdefault(cls.__name__, set()).add(cls.__module__)
    clashes = {name: sorted(modules) for name, modules in seen.items() if len(modules) > 1}
    assert not clashes, f"schema class names defined twice (rename one): {clashes}"
