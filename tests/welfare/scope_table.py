"""The scope table of /api/v1/welfare: the tables of its parts (tests/welfare/<part>/scope_table.py)
joined, each with its own `build`."""

import contextlib
import importlib

PARTS = []
for _part in ("monitoring", "benefits", "visits"):
    with contextlib.suppress(ModuleNotFoundError):
        PARTS.append(importlib.import_module(f"tests.welfare.{_part}.scope_table"))

ENDPOINTS = [endpoint for part in PARTS for endpoint in part.ENDPOINTS]


def build(world) -> dict:
    ids: dict = {}
    for part in PARTS:
        ids.update(part.build(world))
    return ids
