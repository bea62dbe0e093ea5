"""The active category classifier (loaded once per process and reloaded when the active version
or the catalogue changes), suggestions at intake with tier and handling unit, the training data
drawn from the platform's own cases, and the figures of the evaluation page (scores, confusion,
override rates — the latter scoped to the viewer)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, Category, State, Tier
from jiedao.core import caching, scope
from jiedao.core.permissions import Perm
from jiedao.insight.models import CaseSuggestion, ClassifierVersion
from jiedao.org.models import NodeKind, OrgNode

LABELLED_STATES = tuple(s for s in State.values if s not in (State.REPORTED, State.REJECTED))
HOLDOUT_SHARE = 0.2  # the most recent fifth of the labelled history is held back …
HOLDOUT_MAX = 2000  # … but no more than this many cases (beyond that they serve better in training)
MIN_HISTORY = 50  # fewer labelled cases than this: cold start from the catalogue
RECHECK_SECONDS = 1.0  # how often a process looks whether the active version or catalogue changed
TITLE_FROM_BODY = 30  # with no title, the body's first sentence (at most this long) stands for one
_SPLIT = re.compile(r"[\s,，、;；]+")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


# --- the catalogue as training material ----------------------------------------------------------


def catalogue_leaves() -> list[Category]:
    """Active categories a case can be filed under (not groups), in catalogue order."""
    from jiedao.cases.catalogue.selectors import leaf_categories

    return leaf_categories(active_only=True)


def category_keywords(category: Category) -> list[str]:
    return [w for w in _SPLIT.split(category.keywords or "") if w]


def catalogue_material(leaves: list[Category]) -> tuple[list[tuple[str, str, str]], dict[str, list[str]], list]:
    """(tree rows, seed keywords, one pseudo-message per category) from the catalogue.

    The tree rows are (category code, its name, one keyword) — the code plays the first level,
    so the engine learns each name and keyword as a short message of that category; the seeds
    give the name and the keywords the weight of a hand-made keyword list."""
    from jiedao.insight.text.classifier import Example

    rows: list[tuple[str, str, str]] = []
    seeds: dict[str, list[str]] = {}
    examples = []
    for category in leaves:
        words = category_keywords(category)
        rows.extend((category.code, category.name, w) for w in words or [""])
        seeds[category.code] = [category.name, *words]
        examples.append(Example(title=category.name, text=" ".join(words) or category.name, label=category.code,
                                id=f"catalogue:{category.code}"))
    return rows, seeds, examples


def catalogue_fingerprint(leaves: list[Category]) -> str:
    """Changes whenever a category a model knows of is added, renamed, re-keyworded or disabled."""
    digest = hashlib.sha256()
    for c in leaves:
        digest.update(f"{c.pk}|{c.code}|{c.name}|{c.keywords}|{c.default_tier}\n".encode())
    return digest.hexdigest()[:16]


# --- history -------------------------------------------------------------------------------------


@dataclass
class LabelledCase:
    id: int
    title: str
    text: str
    label: str  # category code


def labelled_history(leaves: list[Category] | None = None) -> list[LabelledCase]:
    """Every case whose category staff accepted or corrected, oldest first (by id), restricted
    to the active categories (a disabled category is not suggested, so not learned either)."""
    leaves = catalogue_leaves() if leaves is None else leaves
    codes = {c.pk: c.code for c in leaves}
    rows = (
        Case.objects.filter(state__in=LABELLED_STATES, category_id__in=list(codes))
        .order_by("id").values_list("id", "title", "description", "category_id")
    )
    return [LabelledCase(pk, title, text, codes[cat]) for pk, title, text, cat in rows.iterator(chunk_size=2000)]


@dataclass
class HistorySplit:
    train: list[LabelledCase]
    holdout: list[LabelledCase]
    note: str = ""

    @property
    def boundary(self) -> int | None:
        return self.holdout[0].id if self.holdout else None


def split_history(history: list[LabelledCase], active: ClassifierVersion | None = None) -> HistorySplit:
    """Hold back the most recent cases (20 %, at most 2,000) and train on the rest.

    The most recent cases are what the model will meet next (new wording, new kinds of problems);
    a random slice would put re-posts of the same problem on both sides and flatter the model.
    Because every version learns only from cases before its slice, and the slice only moves
    forward as history grows, the active version has never seen the new slice either, so both
    are compared fairly. (Should an older case be labelled late and the natural slice start
    before the active version's last training case, the slice starts after that case instead.)"""
    n = len(history)
    if n < MIN_HISTORY:
        note = _("已确认类别的事项只有 %(count)s 件（少于 %(minimum)s 件）") % {"count": n, "minimum": MIN_HISTORY}
        return HistorySplit(train=list(history), holdout=[], note=note)
    size = max(1, min(round(n * HOLDOUT_SHARE), HOLDOUT_MAX))
    start = n - size
    note = ""
    if active is not None and active.trained_through_case and history[start].id <= active.trained_through_case:
        later = [i for i, case in enumerate(history) if case.id > active.trained_through_case]
        start = later[0] if later else n
        note = _("留出集从当前版本 v%(number)s 训练数据之后开始") % {"number": active.number}
    return HistorySplit(train=history[:start], holdout=history[start:], note=note)


def as_examples(cases: list[LabelledCase]) -> list:
    from jiedao.insight.text.classifier import Example

    return [Example(title=c.title, text=c.text, label=c.label, id=str(c.id)) for c in cases]


_NOT_WORDING = re.compile(r"[\W\d_]+")


def wording_signature(title: str, places: re.Pattern[str] | None) -> str:
    """A title without the place names the org tree knows, numbers and punctuation: what is left
    is its wording (东门社区25号楼楼道堆放杂物 → 号楼楼道堆放杂物)."""
    if places is not None:
        title = places.sub("", title)
    return _NOT_WORDING.sub("", title)


def place_name_pattern() -> re.Pattern[str] | None:
    """The org tree's sub-district, community and village names, longest first, as one pattern."""
    names = OrgNode.objects.filter(kind__in=[NodeKind.SUBDISTRICT, NodeKind.COMMUNITY, NodeKind.VILLAGE]).values_list(
        "name", flat=True)
    names = sorted({n for n in names if len(n) >= 2}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names))) if names else None


def same_wording(train: list[LabelledCase], scored: list[LabelledCase]) -> int:
    """How many scored cases have a title whose wording (`wording_signature`) some training case's
    title also has: the share of a held-back slice that is the same sentence at another place.
    Where it is high (texts written from templates, as in the demo), the scores measure recall of
    known sentences, not how the model reads new wording; the evaluation page says so."""
    places = place_name_pattern()
    seen = {wording_signature(c.title, places) for c in train}
    seen.discard("")
    return sum(1 for c in scored if wording_signature(c.title, places) in seen)


# --- versions ------------------------------------------------------------------------------------


def active_version() -> ClassifierVersion | None:
    return ClassifierVersion.objects.filter(is_active=True).select_related("requested_by").first()


def version_list() -> QuerySet[ClassifierVersion]:
    return ClassifierVersion.objects.select_related("requested_by", "compared_with").defer("model_data").order_by(
        "-number")


def version_get(pk: Any) -> ClassifierVersion:
    from django.http import Http404

    version = ClassifierVersion.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if version is None:
        raise Http404(_("未找到该模型版本。"))
    return version


def pending_version() -> ClassifierVersion | None:
    """A version queued or being trained (the page shows it and polls until it is done)."""
    return (ClassifierVersion.objects.filter(status__in=(ClassifierVersion.Status.QUEUED,
                                                         ClassifierVersion.Status.TRAINING))
            .defer("model_data").order_by("-number").first())


def load_model(version: ClassifierVersion):
    from jiedao.insight.text.classifier import CategoryModel

    return CategoryModel.from_bytes(bytes(version.model_data))


# --- the model of this process ---------------------------------------------------------------------


@dataclass
class _Loaded:
    version_id: int | None
    version_number: int | None
    fingerprint: str
    model: Any
    categories: dict[str, Category]
    checked_at: float = 0.0
    generation: int | None = None  # jiedao.core.caching generation it was checked at


_lock = threading.Lock()
_loaded: _Loaded | None = None
_cold: OrderedDict[str, Any] = OrderedDict()  # catalogue fingerprint → cold-start model (a few)


def forget_model() -> None:
    """Make the next suggestion look again at once (called after activation in this process)."""
    global _loaded
    _loaded = None


caching.on_clear(forget_model)


def cold_start_config():
    """Cold start: a handful of pseudo-messages per category and no history to calibrate on; the
    regularisation (C=5, the engine's default too) keeps the probabilities from being overconfident."""
    from jiedao.insight.text.classifier import TrainConfig

    return TrainConfig(calibrate=False, C=5.0)


def cold_start_model(leaves: list[Category]):
    """The model of the catalogue alone (names, keywords, the group → category tree), cached per
    catalogue content: used until a version has been trained, and as the cold-start version."""
    from jiedao.insight.text.classifier import train

    key = catalogue_fingerprint(leaves)
    with _lock:
        if key in _cold:
            _cold.move_to_end(key)
            return _cold[key]
    if len(leaves) < 2:
        return None
    rows, seeds, examples = catalogue_material(leaves)
    model = train(examples, rows, seeds=seeds, config=cold_start_config())
    with _lock:
        _cold[key] = model
        while len(_cold) > 4:
            _cold.popitem(last=False)
    return model


def warm() -> None:
    """Load the word segmenter's dictionary and the current model now (the server's master
    process does, before it forks its workers), rather than on the first suggestion."""
    suggest("路灯不亮", "小区门口的路灯坏了")


def current_model() -> _Loaded | None:
    """The active version's model (or the catalogue's cold-start model when no version is active),
    with the active categories by code.

    In a request it looks again only when the cache generation moved (an activation, roll-back or
    catalogue edit bumps it; the request reads it anyway), so a warm intake pays no query for it;
    outside requests (jobs, benchmarks) at most every RECHECK_SECONDS."""
    global _loaded
    loaded = _loaded
    now = time.monotonic()
    generation = caching.generation() if caching.in_request() else None
    if loaded is not None:
        if generation is not None:
            fresh = loaded.generation == generation and now - loaded.checked_at < caching.MAX_AGE
        else:
            fresh = now - loaded.checked_at < getattr(settings, "JIEDAO_INSIGHT_RECHECK_SECONDS", RECHECK_SECONDS)
        if fresh:
            return loaded
    active = ClassifierVersion.objects.filter(is_active=True).values_list("pk", "number").first()
    version_id, number = active if active else (None, None)
    # One light query (tuples, no model objects) tells whether the catalogue changed.
    stamp = hashlib.sha256(repr(list(Category.objects.order_by("pk").values_list(
        "pk", "code", "name", "keywords", "default_tier", "is_active", "parent_id", "sort_order"))).encode()).hexdigest()
    if loaded is not None and loaded.version_id == version_id and loaded.fingerprint == stamp:
        loaded.checked_at, loaded.generation = now, generation
        return loaded
    leaves = catalogue_leaves()
    categories = {c.code: c for c in leaves}
    fingerprint = stamp
    model = None
    if version_id is not None:
        try:
            model = load_model(ClassifierVersion.objects.only("model_data").get(pk=version_id))
        except (ClassifierVersion.DoesNotExist, ValueError, OSError):
            version_id = number = None  # unreadable: fall back to the catalogue
    if model is None:
        model = cold_start_model(leaves)
    if model is None:
        return None
    loaded = _Loaded(version_id, number, fingerprint, model, categories, now, generation)
    _loaded = loaded
    return loaded


@dataclass
class Suggestion:
    """Categories for a text, best first, with the top one's tier and handling unit."""

    items: list[tuple[Category, float]] = field(default_factory=list)
    low_confidence: bool = True
    reason: str = ""
    version_id: int | None = None
    version_number: int | None = None
    unit: dict[str, Any] | None = None  # {"kind": "department"|"community", "id", "name"}

    @property
    def top(self) -> Category | None:
        return self.items[0][0] if self.items else None

    @property
    def confidence(self) -> float:
        return self.items[0][1] if self.items else 0.0

    @property
    def tier(self) -> str:
        return self.top.default_tier if self.top else ""

    @property
    def tier_label(self) -> str:
        return str(Tier(self.tier).label) if self.tier in Tier.values else ""


def title_and_body(title: str, text: str) -> tuple[str, str]:
    """With no title, the body's first sentence stands for one (titles weigh more in the model)."""
    title, text = (title or "").strip()[:100], (text or "").strip()[:2000]
    if not title and text:
        title = _SENTENCE_END.split(text, 1)[0][:TITLE_FROM_BODY]
    return title, text


def suggest(title: str = "", text: str = "", *, k: int = 3) -> Suggestion:
    """The k likeliest active categories for a message, with a calibrated confidence; flagged low
    confidence when the top probability is under the model's threshold or too few known words."""
    title, text = title_and_body(title, text)
    if len(re.sub(r"\W", "", title + text)) < 2:
        return Suggestion(reason="too short")
    loaded = current_model()
    if loaded is None:
        return Suggestion(reason="no categories")
    return _suggestion(loaded, loaded.model.suggest(text, k=len(loaded.model.labels), title=title), k)


def _suggestion(loaded: _Loaded, ranked: Any, k: int) -> Suggestion:
    """The model's ranking as a Suggestion of active categories (the best k)."""
    items = [(loaded.categories[code], p) for code, p in ranked if code in loaded.categories][:k]
    if not items:
        return Suggestion(reason="no active category", version_id=loaded.version_id)
    return Suggestion(items=items, low_confidence=bool(ranked.low_confidence), reason=ranked.reason,
                      version_id=loaded.version_id, version_number=loaded.version_number)


def suggest_many(messages: list[tuple[str, str]]) -> list[Suggestion]:
    """`suggest` (top category only) for many (title, text) pairs, in one batch product."""
    loaded = current_model()
    if loaded is None:
        return [Suggestion(reason="no categories") for _ in messages]
    pairs = [title_and_body(title, text) for title, text in messages]
    ranked_all = loaded.model.suggest_many(pairs, k=len(loaded.model.labels))
    return [Suggestion(reason="too short") if len(re.sub(r"\W", "", title + text)) < 2 else _suggestion(loaded, ranked, 1)
            for (title, text), ranked in zip(pairs, ranked_all, strict=True)]


def handling_unit(category: Category | None, node: OrgNode | None) -> dict[str, Any] | None:
    """Who would handle `category` at `node`: the routing rule's department on the deepest
    ancestor, or else the community (village) of the place (三事分流's 小事 and 私事 stay there)."""
    if category is None or node is None:
        return None
    from jiedao.cases.catalogue.selectors import route

    department = route(category, node)
    if department is not None:
        return {"kind": "department", "id": department.pk, "name": department.name}
    prefixes = [node.path[:i] for i in range(scope.PATH_SEGMENT, len(node.path) + 1, scope.PATH_SEGMENT)]
    community = (OrgNode.objects.filter(path__in=prefixes, kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE))
                 .only("pk", "name").first())
    if community is None:
        return None
    return {"kind": "community", "id": community.pk, "name": community.name}


def suggest_for_intake(title: str, text: str, *, node: OrgNode | None = None) -> Suggestion:
    """`suggest` plus the handling unit of the top category at the place being reported."""
    result = suggest(title, text)
    if result.items and not result.low_confidence:
        result.unit = handling_unit(result.top, node)
    return result


# --- evaluation page and report ---------------------------------------------------------------------


def name_of(code: str, version: ClassifierVersion | None = None, categories: dict[str, str] | None = None) -> str:
    if categories and code in categories:
        return categories[code]
    if version is not None and code in (version.label_names or {}):
        return version.label_names[code]
    return code


def current_names() -> dict[str, str]:
    return dict(Category.objects.values_list("code", "name"))


def score_rows(version: ClassifierVersion, names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Per-category precision/recall/F1/support of a version on its held-back slice."""
    names = current_names() if names is None else names
    rows = []
    for code, s in sorted((version.per_category or {}).items(), key=lambda kv: (-kv[1].get("support", 0), kv[0])):
        rows.append({"code": code, "name": name_of(code, version, names), **s})
    return rows


def confusion_rows(version: ClassifierVersion, names: dict[str, str] | None = None) -> dict[str, Any]:
    names = current_names() if names is None else names
    labels = (version.confusion or {}).get("labels") or []
    matrix = (version.confusion or {}).get("matrix") or []
    return {
        "labels": [name_of(c, version, names) for c in labels],
        "rows": [{"name": name_of(c, version, names), "cells": row, "diagonal": i}
                 for i, (c, row) in enumerate(zip(labels, matrix, strict=False))],
    }


def suggestions_visible(user: Any) -> QuerySet[CaseSuggestion]:
    """Suggestion records of the cases in the viewer's scope (VIEW_INSIGHT); None user = all."""
    qs = CaseSuggestion.objects.all()
    return qs if user is None else scope.restrict(qs, user, Perm.VIEW_INSIGHT)


def override_table(user: Any, *, version: ClassifierVersion | None = None) -> dict[str, Any]:
    """How often the category a case ended with differs from the one suggested at intake.

    Counted over confident suggestions on cases whose category a person decided: chosen at intake,
    or kept/corrected by staff once the case left 待受理 (a category intake filed from the
    suggestion itself counts only then); low-confidence suggestions are counted apart (they were
    not offered as a guess). Per suggested category, best-used first."""
    qs = (suggestions_visible(user).filter(suggested__isnull=False, case__category__isnull=False)
          .filter(Q(chosen__isnull=False) | ~Q(case__state=State.REPORTED)))
    if version is not None:
        qs = qs.filter(version=version)
    grouped = (
        qs.values("suggested_id", "suggested__name", "low_confidence")
        .annotate(n=Count("id"), kept=Count("id", filter=Q(case__category_id=F("suggested_id"))))
        .order_by()
    )
    per: dict[int, dict[str, Any]] = {}
    low_n = low_kept = 0
    for row in grouped:
        if row["low_confidence"]:
            low_n += row["n"]
            low_kept += row["kept"]
            continue
        entry = per.setdefault(row["suggested_id"], {"name": row["suggested__name"], "n": 0, "overridden": 0})
        entry["n"] += row["n"]
        entry["overridden"] += row["n"] - row["kept"]
    rows = sorted(per.values(), key=lambda r: (-r["n"], r["name"]))
    for r in rows:
        r["rate"] = r["overridden"] / r["n"] if r["n"] else None
    total = sum(r["n"] for r in rows)
    overridden = sum(r["overridden"] for r in rows)
    return {
        "rows": rows,
        "total": total,
        "overridden": overridden,
        "rate": overridden / total if total else None,
        "low_total": low_n,
        "low_kept": low_kept,
        "low_rate": (low_n - low_kept) / low_n if low_n else None,
    }


# plot area of the reliability diagram (SVG user units)
_PLOT = {"left": 44, "right": 308, "top": 24, "bottom": 224}


def calibration_view(version: ClassifierVersion | None) -> dict[str, Any] | None:
    """What the evaluation page shows of a version's calibration: the data it was measured on, the
    low-confidence line with the accuracy above and below it, and an inline-SVG reliability
    diagram (geometry computed here; no chart library). None without a calibration."""
    cal = (version.calibration or {}) if version else {}
    if not cal or not cal.get("bins"):
        return None
    left, right, top, bottom = _PLOT["left"], _PLOT["right"], _PLOT["top"], _PLOT["bottom"]
    width, height = right - left, bottom - top

    def x(v: float) -> float:
        return round(left + width * min(max(v, 0.0), 1.0), 1)

    def y(v: float) -> float:
        return round(bottom - height * min(max(v, 0.0), 1.0), 1)

    most = max((b["n"] for b in cal["bins"]), default=0) or 1
    bars, points = [], []
    for b in cal["bins"]:
        if not b["n"]:
            continue
        bars.append({"x": x(b["lo"]) + 1, "w": round(x(b["hi"]) - x(b["lo"]) - 2, 1), "y": y(b["accuracy"]),
                     "h": round(bottom - y(b["accuracy"]), 1), **b})
        points.append({"cx": x(b["confidence"]), "cy": y(b["accuracy"]), "r": round(2.5 + 5.5 * (b["n"] / most) ** 0.5, 1),
                       **b})
    line = cal.get("threshold")
    ticks = [{"v": t / 10, "x": x(t / 10), "y": y(t / 10), "label": f"{t * 10}%"} for t in range(0, 11, 2)]
    return {
        **cal,
        "line_x": x(line) if line is not None and line <= 1 else None,
        "line_pct": round(line * 100) if line is not None and line <= 1 else None,
        "target_pct": round(cal.get("target", 0) * 100),
        "above_pct": round(cal["above_accuracy"] * 100, 1) if cal.get("above_accuracy") is not None else None,
        "below_pct": round(cal["below_accuracy"] * 100, 1) if cal.get("below_accuracy") is not None else None,
        # at least half of the scored cases repeat a training title's wording elsewhere (`same_wording`)
        "same_wording_high": bool(cal.get("same_wording")) and 2 * cal["same_wording"] >= cal.get("eval_n", 0),
        "bars": bars,
        "points": points,
        "ticks": ticks,
        "plot": {**_PLOT, "diag": f"{x(0)},{y(0)} {x(1)},{y(1)}"},
    }
