"""Insight's implementation of the reader cases owns (jiedao.cases.reading), installed in
InsightConfig.ready()."""

from __future__ import annotations

from datetime import date
from typing import Any

from jiedao.cases.reading import CaseReader
from jiedao.insight import selectors, services


class InsightReader(CaseReader):
    def suggestion_for_case(self, *, title: str, description: str) -> Any | None:
        return services.suggestion_for_case(title=title, description=description)

    def suggestion_row(self, *, case: Any, suggestion: Any | None, auto_filled: bool = False) -> Any | None:
        return services.suggestion_row(case=case, suggestion=suggestion, auto_filled=auto_filled)

    def suggest(self, title: str = "", text: str = "", *, k: int = 3) -> Any:
        return selectors.suggest(title, text, k=k)

    def suggest_for_intake(self, title: str, text: str, *, node: Any = None) -> Any:
        return selectors.suggest_for_intake(title, text, node=node)

    def similar_for_text(self, user: Any, *, node: Any, text: str, title: str = "", category: Any = None,
                         latitude: Any = None, longitude: Any = None, limit: int = 5) -> list:
        return selectors.similar_for_text(user, node=node, text=text, title=title, category=category,
                                          latitude=latitude, longitude=longitude, limit=limit)

    def similar_for_case(self, user: Any, case: Any, *, limit: int = 5) -> list:
        return selectors.similar_for_case(user, case, limit=limit)

    def hotspots(self, user: Any, *, node: Any = None, period: str = "month", level: str = "community",
                 day: date | None = None, limit: int = 10) -> list:
        return selectors.hotspots(user, node=node, period=period, level=level, day=day, limit=limit)

    def hotspot_rows(self, path: str, *, period: str, level: str, day: date, limit: int) -> list[dict[str, Any]]:
        return selectors.hotspot_dicts(selectors.hotspots_for_path(path, period=period, level=level, day=day,
                                                                   limit=limit))

    def repeats(self, case_ids: list[int]) -> dict[int, int]:
        return selectors.repeat_counts(case_ids)

    def repeat_links(self, user: Any, case: Any) -> dict[str, Any] | None:
        return selectors.repeat_links(user, case)
