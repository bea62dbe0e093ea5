"""Related objects shown on a case page, filled by apps above cases.

cases may not import the apps built on it (tests/test_architecture.py), yet a case can come from
one of their records — a safety hazard escalated into joint enforcement, for instance — and the
case page should link back to it. Such an app registers a provider in its AppConfig.ready():

    related.register("safety.hazard", provider)

`provider(user, case)` returns the `RelatedLink`s for that case which `user` may open (the
provider applies the scoping function itself: a user who sees the case but not the record gets
nothing). The case page renders them in its 关联记录 panel (cases/_related.html through the
`related_links` tag), in registration order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RelatedLink:
    """One link on the case page: what it is (kind label), its code or title, where it opens,
    and an optional short note (a state, a date)."""

    kind: str
    label: str
    url: str
    note: str = ""


Provider = Callable[[Any, Any], Iterable[RelatedLink]]
_providers: dict[str, Provider] = {}


def register(key: str, provider: Provider) -> None:
    """Register (or replace, on a repeated ready()) the provider under `key`."""
    _providers[key] = provider


def links_for(user: Any, case: Any) -> list[RelatedLink]:
    """The related links every registered provider gives for `case` as seen by `user`."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    links: list[RelatedLink] = []
    for provider in _providers.values():
        links.extend(provider(user, case))
    return links
