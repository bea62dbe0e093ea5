"""Demo and benchmark data, contributed by each app.

`jiedao seed` and `jiedao demo` (org's commands) migrate and build the org tree, departments and
accounts (jiedao.org.demo), then run the steps the apps above org registered here. An app
registers from its AppConfig.ready(); Django calls ready() in INSTALLED_APPS order, which lists
the apps in layer order (tests/test_architecture.py checks it), so residents exist before the
cases that name them.

A step is named by the dotted path of a function in the registering app, imported only when
seeding runs: a web process never loads demo code (nor numpy, which the bulk history needs).

- demo step, for the one demo sub-district: ``step(subdistrict, *, seed) -> str``, the app's part
  of the summary line (e.g. "事项 / cases: 3000 件"; the parts are joined with "；").
- scale step, after the org tree of any other scale (district, city, and the tests' tiny one):
  ``step(*, scale, seed, progress, cases) -> str | None``, a line for the console or None when
  the step has nothing to do at that scale. `cases` is `jiedao seed --cases` (None: the scale's
  default); a step that has no use for it takes ``**options``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SeedSteps:
    app: str  # the app's module, e.g. "jiedao.cases"
    demo: str | None
    scale: str | None


# app module → its steps, in registration (= layer) order; registering again replaces in place.
_registered: dict[str, SeedSteps] = {}


def register(app: str, *, demo: str | None = None, scale: str | None = None) -> None:
    """Register `app`'s seeding steps (dotted paths of functions inside `app`)."""
    for path in (demo, scale):
        if path is not None and not path.startswith(f"{app}."):
            # A step outside its app would let one app seed another's tables (or import upwards).
            raise ImproperlyConfigured(f"seed step {path} must be a function of {app}")
    _registered[app] = SeedSteps(app=app, demo=demo, scale=scale)


def registered() -> list[SeedSteps]:
    return list(_registered.values())


def demo_steps() -> list[Callable[..., str]]:
    return [import_string(steps.demo) for steps in _registered.values() if steps.demo]


def scale_steps() -> list[Callable[..., Any]]:
    return [import_string(steps.scale) for steps in _registered.values() if steps.scale]
