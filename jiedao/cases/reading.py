"""The interface through which cases reads residents' words, owned by cases.

Category suggestion at intake, similar cases and hotspots are computed by a higher app
(`jiedao.insight`), which installs its reader here in its `AppConfig.ready()`; cases never imports
it. Without an installed reader (insight not in INSTALLED_APPS), intake files no suggestion and
similar cases and hotspots come back empty, so cases works on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

# Below this confidence a suggestion is shown as a guess and intake does not file it.
LOW_CONFIDENCE = 0.5


@dataclass
class NoSuggestion:
    """What a reader that cannot suggest answers: nothing, said with low confidence."""

    items: list = field(default_factory=list)
    low_confidence: bool = True
    reason: str = ""
    version_id: int | None = None


class CaseReader:
    """The null reader; an installed reader overrides every method."""

    def suggestion_for_case(self, *, title: str, description: str) -> Any | None:
        """The suggestion intake files and records for a new case, or None."""
        return None

    def suggestion_row(self, *, case: Any, suggestion: Any | None, auto_filled: bool = False) -> Any | None:
        """The unsaved record of what was suggested for `case`, inserted with it; or None."""
        return None

    def suggest(self, title: str = "", text: str = "", *, k: int = 3) -> Any:
        """The `k` likeliest categories for the text (`.items` of (Category, confidence))."""
        return NoSuggestion()

    def suggest_for_intake(self, title: str, text: str, *, node: Any = None) -> Any:
        """`suggest` plus, for the top category, its tier and handling unit at `node`."""
        return NoSuggestion()

    def similar_for_text(self, user: Any, *, node: Any, text: str, title: str = "", category: Any = None,
                         latitude: Any = None, longitude: Any = None, limit: int = 5) -> list:
        """Open cases the user can see that likely report the same problem (`.case`, `.score`)."""
        return []

    def similar_for_case(self, user: Any, case: Any, *, limit: int = 5) -> list:
        """Earlier open cases likely the same problem as `case`."""
        return []

    def hotspots(self, user: Any, *, node: Any = None, period: str = "month", level: str = "community",
                 day: date | None = None, limit: int = 10) -> list:
        """Clusters of same-category cases in the user's scope."""
        return []

    def hotspot_rows(self, path: str, *, period: str, level: str, day: date, limit: int) -> list[dict[str, Any]]:
        """Hotspots under `path` as plain dicts, for digests and reports (not scoped: the caller
        has already fetched the node in the reader's scope)."""
        return []

    def repeats(self, case_ids: list[int]) -> dict[int, int]:
        """case id → how many later requests repeat it (same reporter, re-post, chase), counting
        a case that is itself a repeat of nothing known as repeated once; only cases with any."""
        return {}

    def repeat_links(self, user: Any, case: Any) -> dict[str, Any] | None:
        """For the case page: what `case` repeats and which later requests repeat it, limited to
        the cases `user` may see (the others only counted); None when there is nothing to show."""
        return None


_installed: CaseReader = CaseReader()


def install(reader: CaseReader) -> None:
    """Called once by the app that reads texts, from its AppConfig.ready()."""
    global _installed
    _installed = reader


def reader() -> CaseReader:
    return _installed
