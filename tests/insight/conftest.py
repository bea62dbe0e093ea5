"""Shared helpers for the text-engine tests (plain pytest; no database)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

# repo_root/../shared/data/messages: present on CI, maybe not elsewhere (JIEDAO_SHARED_MESSAGES: another place)
DATA = Path(os.environ.get("JIEDAO_SHARED_MESSAGES")
            or Path(__file__).resolve().parents[2].parent / "shared" / "data" / "messages")
HERE = Path(__file__).resolve().parent / "data"


def need(*names: str) -> Path:
    for name in names:
        if not (DATA / name).exists():
            pytest.skip(f"shared data {name} not present")
    return DATA


@pytest.fixture(scope="session")
def labelled():
    from jiedao.insight.text import io as tio
    from jiedao.insight.text.classifier import Example

    need("messages_labeled.csv")
    msgs = tio.read_messages(DATA / "messages_labeled.csv", require_label=True)
    return [Example(text=m.text, label=m.category, title=m.title, id=m.id) for m in msgs]


@pytest.fixture(scope="session")
def tree():
    from jiedao.insight.text import io as tio

    need("taxonomy.csv")
    return tio.read_tree(DATA / "taxonomy.csv")


@pytest.fixture(scope="session")
def hotspot():
    from jiedao.insight.text import io as tio

    need("messages_hotspot.csv")
    return tio.read_messages(DATA / "messages_hotspot.csv")


def read_dev(name: str) -> list[dict]:
    with open(HERE / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
