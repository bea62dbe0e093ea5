"""Reads of the insight app: similar cases (at intake and on a case page), duplicate groups and
hotspots, every read scoped through jiedao.core.scope (cases with Perm.VIEW_CASES); and the
active category classifier (loaded once per process and
reloaded when the active version or the catalogue changes), suggestions at intake with tier
and handling unit, the training data drawn from the platform's own cases, and the figures of
the evaluation page (scores, confusion, override rates — the latter scoped to the viewer)."""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.cases.models import Case, Category, State, Tier
from jiedao.core import caching, scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT, subtree_range
from jiedao.insight.models import CaseSuggestion, ClassifierVersion, DuplicateGroup, DuplicateGroupMember
from jiedao.org.models import NodeKind, OrgNode

FINISHED_STATES = (State.CLOSED, State.REJECTED)

# --- similar cases ---------------------------------------------------------------------------------

SIMILAR_DAYS = 30  # how far back an earlier case still counts as "recent"
SIMILAR_CANDIDATES = 300  # newest candidates read per query …
SIMILAR_SCORED = 40  # … of which the best by a cheap pre-score go to the text engine
NEARBY_METRES = 300  # lat/long distance that counts as "nearby" when the org path does not say so
SIMILAR_MIN_TEXT = 0.15  # text score needed without the engine's "same problem" verdict (see below) …
SIMILAR_MIN_PLACE = 0.5  # … and then also at least this place agreement (same grid or closer)
HARD_CONFLICT = 0.75  # the texts name two different sites of one kind: never the same problem
# weights of the final score (they sum to 1)
W_TEXT, W_PLACE, W_RECENT, W_CATEGORY = 0.6, 0.25, 0.1, 0.05


@dataclass
class SimilarCase:
    """An earlier case likely reporting the same problem, with the evidence behind its score."""

    case: Case
    score: float
    text: float
    place: float
    recent: float
    same_problem: bool  # the text engine's own verdict
    evidence: list[str] = field(default_factory=list)

    def __iter__(self):
        """Unpacks as (case, score), the shape of jiedao.cases.selectors.similar_cases."""
        return iter((self.case, self.score))


def _ancestors(path: str) -> dict[str, str]:
    """kind → path of the node at `path` and its ancestors (one query)."""
    prefixes = [path[:i] for i in range(PATH_SEGMENT, len(path) + 1, PATH_SEGMENT)]
    return dict(OrgNode.objects.filter(path__in=prefixes).values_list("kind", "path"))


def metres(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> float | None:
    """Great-circle distance in metres, None if either point is missing."""
    if None in (lat1, lon1, lat2, lon2):
        return None
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371000 * 2 * math.asin(min(1.0, math.sqrt(a)))


def place_agreement(path_a: str, path_b: str, distance: float | None, kinds: dict[str, str]) -> tuple[float, str]:
    """How surely two cases are at one site, from the org tree and the coordinates (0..1)."""
    best, why = 0.0, ""
    building = kinds.get(NodeKind.BUILDING)
    micro = kinds.get(NodeKind.MICROGRID)
    grid = kinds.get(NodeKind.GRID)
    community = kinds.get(NodeKind.COMMUNITY) or kinds.get(NodeKind.VILLAGE)
    if building and path_b.startswith(building):
        best, why = 1.0, _("同一楼栋")
    elif micro and path_b.startswith(micro):
        best, why = 0.7, _("同一微网格")
    elif grid and path_b.startswith(grid):
        best, why = 0.5, _("同一网格")
    elif community and path_b.startswith(community):
        best, why = 0.2, _("同一社区")
    if distance is not None:
        near = 1.0 if distance <= 100 else 0.6 if distance <= NEARBY_METRES else 0.2 if distance <= 1000 else 0.0
        if near > best:
            best, why = near, _("相距约 %(m)s 米") % {"m": int(distance)}
    return best, why


def score_similar(
    query: dict[str, Any], candidates: list[Case], *, kinds: dict[str, str], category_id: int | None,
    now: datetime,
) -> list[SimilarCase]:
    """Score earlier cases against the query text with the text engine's pair scoring, and the
    place (org tree, coordinates), recency and category evidence; pairs whose texts name two
    different sites are left out."""
    if not candidates:
        return []
    from jiedao.insight.text.similar import run, score_pairs

    candidates = prefilter(query, candidates, kinds=kinds, category_id=category_id)

    messages = [("q", query.get("title", ""), query.get("text", ""))]
    messages += [(str(c.pk), c.title, c.description) for c in candidates]
    index = run(messages).index
    judged = score_pairs([(0, k) for k in range(1, len(messages))], index)
    out: list[SimilarCase] = []
    for _i, k, same, text_score, features in judged:
        case = candidates[k - 1]
        if features.conflict >= HARD_CONFLICT:
            continue
        distance = metres(query.get("latitude"), query.get("longitude"), case.latitude, case.longitude)
        place, place_why = place_agreement(query.get("path", ""), case.org_path, distance, kinds)
        same_category = category_id is not None and case.category_id == category_id
        # without the engine's verdict: at one place, and words in common (fewer when the place is
        # closer and the category agrees: 0.20 in the same grid, 0.10 in the same building and category)
        need = SIMILAR_MIN_TEXT + 0.1 * (1 - place) - 0.05 * same_category
        if not same and (place < SIMILAR_MIN_PLACE or text_score < need):
            continue
        age = abs((now - case.created_at).total_seconds()) / 86400
        recent = max(0.0, 1 - age / SIMILAR_DAYS)
        score = W_TEXT * text_score + W_PLACE * place + W_RECENT * recent + W_CATEGORY * same_category
        evidence = [_("文字相似 %(p)s%%") % {"p": round(text_score * 100)}]
        if features.matched:
            evidence.append(_("同一地点：%(place)s") % {"place": features.matched.split("~")[0]})
        if place_why:
            evidence.append(place_why)
        if same_category:
            evidence.append(_("同一类别"))
        out.append(SimilarCase(case, round(min(score, 1.0), 2), round(text_score, 2), place, round(recent, 2),
                               bool(same), evidence))
    out.sort(key=lambda s: (-s.score, -s.case.pk))
    return out


def prefilter(query: dict[str, Any], candidates: list[Case], *, kinds: dict[str, str], category_id: int | None,
              keep: int = SIMILAR_SCORED) -> list[Case]:
    """The `keep` candidates most worth the text engine's time (tokenising is its main cost): by
    character-bigram overlap, lifted for the same building and the same category."""
    if len(candidates) <= keep:
        return candidates
    from jiedao.cases.selectors import bigrams, jaccard

    wanted = bigrams(f"{query.get('title', '')}{query.get('text', '')}")
    building = kinds.get(NodeKind.BUILDING)

    def cheap(case: Case) -> float:
        score = jaccard(wanted, bigrams(f"{case.title}{case.description}"))
        if building and case.org_path.startswith(building):
            score += 0.2
        if category_id is not None and case.category_id == category_id:
            score += 0.1
        return score

    return sorted(candidates, key=lambda c: (-cheap(c), -c.pk))[:keep]


def similar_candidates(user: Any, *, path: str, kinds: dict[str, str], latitude: Any = None,
                       longitude: Any = None, before: datetime | None = None,
                       exclude_pk: int | None = None) -> list[Case]:
    """Recent open cases the user can see in the same grid (or the community for a case filed on
    the community itself) or within NEARBY_METRES, newest first, at most SIMILAR_CANDIDATES."""
    area = kinds.get(NodeKind.GRID) or kinds.get(NodeKind.COMMUNITY) or kinds.get(NodeKind.VILLAGE) or path
    where = Q(org_path__range=subtree_range(area))
    if latitude not in (None, "") and longitude not in (None, ""):
        dlat = NEARBY_METRES / 111_000
        dlon = dlat / max(0.2, math.cos(math.radians(float(latitude))))
        where |= Q(latitude__range=(float(latitude) - dlat, float(latitude) + dlat),
                   longitude__range=(float(longitude) - dlon, float(longitude) + dlon))
    since = (before or timezone.now()) - timedelta(days=SIMILAR_DAYS)
    qs = (scope.restrict(Case.objects.all(), user, Perm.VIEW_CASES)
          .filter(where, created_at__gte=since, merged_into__isnull=True)
          .exclude(state__in=FINISHED_STATES)
          .select_related("category", "building"))
    if before is not None:
        qs = qs.filter(created_at__lte=before)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return list(qs.order_by("-id")[:SIMILAR_CANDIDATES])


def similar_for_text(user: Any, *, node: OrgNode, text: str, title: str = "", category: Category | None = None,
                     latitude: Any = None, longitude: Any = None, limit: int = 5) -> list[SimilarCase]:
    """Intake: earlier cases likely the same problem as what is being typed at `node` (a grid,
    microgrid, building or community)."""
    kinds = _ancestors(node.path)
    candidates = similar_candidates(user, path=node.path, kinds=kinds, latitude=latitude, longitude=longitude)
    query = {"title": title, "text": text, "path": node.path, "latitude": latitude, "longitude": longitude}
    found = score_similar(query, candidates, kinds=kinds, category_id=category.pk if category else None,
                          now=timezone.now())
    return found[:limit]


def similar_for_case(user: Any, case: Case, *, limit: int = 5) -> list[SimilarCase]:
    """A case page: open cases filed before this one (within SIMILAR_DAYS) likely the same problem."""
    kinds = _ancestors(case.org_path)
    candidates = similar_candidates(user, path=case.org_path, kinds=kinds, latitude=case.latitude,
                                    longitude=case.longitude, before=case.created_at, exclude_pk=case.pk)
    query = {"title": case.title, "text": case.description, "path": case.org_path,
             "latitude": case.latitude, "longitude": case.longitude}
    return score_similar(query, candidates, kinds=kinds, category_id=case.category_id, now=case.created_at)[:limit]


# --- duplicate groups ---------------------------------------------------------------------------------


def groups_visible(user: Any) -> QuerySet[DuplicateGroup]:
    return scope.restrict(DuplicateGroup.objects.all(), user, Perm.VIEW_CASES)


def group_list(user: Any, *, status: str = DuplicateGroup.Status.PENDING,
               node: OrgNode | None = None) -> QuerySet[DuplicateGroup]:
    """Groups in the user's scope (all members visible to them), best score first."""
    qs = groups_visible(user).select_related("subdistrict", "main_case")
    if status:
        qs = qs.filter(status=status)
    if node is not None:
        qs = qs.filter(org_path__range=subtree_range(node.path))
    return qs.order_by("-score", "-id")


def group_get(user: Any, pk: Any) -> DuplicateGroup:
    return scope.get_scoped(DuplicateGroup.objects.select_related("subdistrict", "main_case"), user,
                            Perm.VIEW_CASES, pk=pk)


def group_members(group: DuplicateGroup) -> list[DuplicateGroupMember]:
    return list(group.members.select_related("case__category", "case__building", "case__grid")
                .order_by("case__created_at", "case_id"))


MERGEABLE = (State.REPORTED, State.ACCEPTED)  # the merge transition's source states


def groups_for_review(user: Any, groups: list[DuplicateGroup]) -> list[DuplicateGroup]:
    """The groups as the review page shows them: members (`rows`, oldest first, read in one
    query for all groups), whether `user` may decide the group, the suggested main case (the member
    furthest along, which the others can be merged into, else the first) and, per member, whether
    it can take part (`mergeable`)."""
    members: dict[int, list[DuplicateGroupMember]] = {group.pk: [] for group in groups}
    for member in (DuplicateGroupMember.objects.filter(group__in=groups)
                   .select_related("case__category", "case__building", "case__grid")
                   .order_by("case__created_at", "case_id")):
        members[member.group_id].append(member)
    for group in groups:
        group.rows = members[group.pk]
        group.can_decide = scope.path_allows(user, Perm.REPORT_CASES, group.org_path)
        waiting = [m for m in group.rows if m.case.state in MERGEABLE]
        ahead = [m for m in group.rows if m.case.state not in MERGEABLE]
        group.suggested = (ahead or waiting or group.rows)[0].case_id if group.rows else None
        for m in group.rows:
            m.mergeable = m.case.state in MERGEABLE or m.case_id == group.suggested
    return groups


def pending_group_count(user: Any) -> int:
    return groups_visible(user).filter(status=DuplicateGroup.Status.PENDING).count()


# --- hotspots -----------------------------------------------------------------------------------------

PERIODS = ("week", "month", "quarter")
LEVELS = ("building", "grid", "community", "subdistrict")
ORDERS = ("heat", "size", "growth", "support")
HOTSPOT_MIN_SIZE = 2
REPRESENTATIVES = 3
_LEVEL_FIELD = {"building": "building_id", "grid": "grid_id", "community": "community_id",
                "subdistrict": "subdistrict_id"}
PERIOD_LABELS = {"week": gettext_lazy("本周"), "month": gettext_lazy("本月"), "quarter": gettext_lazy("本季")}
LEVEL_LABELS = {"building": gettext_lazy("楼栋"), "grid": gettext_lazy("网格"), "community": gettext_lazy("社区（村）"),
                "subdistrict": gettext_lazy("街道")}


def period_bounds(period: str, day: date | None = None) -> tuple[date, date, date]:
    """(previous start, start, end) of the week / month / quarter containing `day`."""
    day = day or timezone.localdate()
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start - timedelta(days=7), start, start + timedelta(days=7)
    months = 3 if period == "quarter" else 1
    first = (day.month - 1) // months * months + 1
    start = day.replace(month=first, day=1)

    def shift(d: date, n: int) -> date:
        index = d.year * 12 + d.month - 1 + n
        return date(index // 12, index % 12 + 1, 1)

    return shift(start, -months), start, shift(start, months)


def _aware(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@dataclass
class Hotspot:
    """A cluster of related requests: one category in one area over the period."""

    area_id: int
    area_name: str
    category_id: int | None
    category_name: str
    size: int  # requests in the period
    previous: int  # requests in the previous period of the same length
    reporters: int  # distinct reporters (resident, household, or name)
    reposts: int  # requests merged into another one (confirmed re-posts)
    chases: int  # repeated requests from a reporter already counted, and 督办
    open: int  # still not closed
    representatives: list[Case] = field(default_factory=list)

    @property
    def growth(self) -> float | None:
        """Growth against the previous period (None when the previous period had none)."""
        return None if not self.previous else (self.size - self.previous) / self.previous

    @property
    def support(self) -> int:
        return self.reporters + self.reposts + self.chases

    @property
    def heat(self) -> float:
        """The default ranking: size, residents' support, and growth (capped at +200%)."""
        growth = self.growth if self.growth is not None else (1.0 if self.size else 0.0)
        return round(self.size + 0.5 * self.support + 2 * max(-1.0, min(growth, 2.0)), 2)

    @property
    def growth_text(self) -> str:
        return _("新出现") if self.growth is None else f"{self.growth * 100:+.0f}%"


def _reporter_key(row: dict[str, Any]) -> str:
    if row["resident_id"]:
        return f"r{row['resident_id']}"
    if row["household_id"]:
        return f"h{row['household_id']}"
    if row["reporter_name"] and not row["anonymous"] and row["reporter_name"] != "居民":
        return f"n{row['reporter_name']}|{row['reporter_phone_masked']}"
    return f"c{row['id']}"  # anonymous or unnamed: each request its own reporter


def hotspots_for_path(path: str, *, period: str = "month", level: str = "community", day: date | None = None,
                      limit: int = 10, order: str = "heat", min_size: int = HOTSPOT_MIN_SIZE,
                      base: QuerySet[Case] | None = None) -> list[Hotspot]:
    """Hotspots under the org `path` (not scoped: callers pass a path they already checked, or a
    scoped `base` queryset). Two grouped counts (this and the previous period), then one read of
    the top clusters' requests for support and representatives."""
    if period not in PERIODS or level not in LEVELS or order not in ORDERS:
        raise ValueError("period/level/order")
    previous_start, start, end = period_bounds(period, day)
    area = _LEVEL_FIELD[level]
    cases = (base if base is not None else Case.objects.all()).filter(org_path__range=subtree_range(path))
    place = OrgNode.objects.filter(path=path).values_list("kind", "pk", "subdistrict_id").first()
    if place is not None and (place[0] == NodeKind.SUBDISTRICT or place[2]):
        # the (subdistrict, created_at) index then drives the period's range scan
        cases = cases.filter(subdistrict_id=place[1] if place[0] == NodeKind.SUBDISTRICT else place[2])
    current = (cases.filter(created_at__gte=_aware(start), created_at__lt=_aware(end), **{f"{area}__isnull": False})
               .exclude(state=State.REJECTED).order_by()
               .values(area, "category_id").annotate(n=Count("id")).filter(n__gte=min_size))
    cells = {(r[area], r["category_id"]): r["n"] for r in current}
    if not cells:
        return []
    before = (cases.filter(created_at__gte=_aware(previous_start), created_at__lt=_aware(start),
                           **{f"{area}__in": {a for a, _c in cells}})
              .exclude(state=State.REJECTED).order_by().values(area, "category_id").annotate(n=Count("id")))
    previous = {(r[area], r["category_id"]): r["n"] for r in before}
    spots = [Hotspot(a, "", c, "", n, previous.get((a, c), 0), 0, 0, 0, 0) for (a, c), n in cells.items()]
    # pick the clusters worth reading in full: the largest (or, ranking by growth, the fastest growing)
    if order == "growth":
        spots.sort(key=lambda h: (-(h.growth if h.growth is not None else float(h.size)), -h.size, h.area_id))
    else:
        spots.sort(key=lambda h: (-h.size, -h.previous, h.area_id, h.category_id or 0))
    spots = spots[: limit * 3]
    wanted_cells = {(h.area_id, h.category_id) for h in spots}
    rows = [
        row for row in
        cases.filter(created_at__gte=_aware(start), created_at__lt=_aware(end), **{f"{area}__in": {a for a, _c in wanted_cells}})
        .exclude(state=State.REJECTED)
        .order_by("created_at", "id")
        .values("id", area, "category_id", "resident_id", "household_id", "reporter_name", "reporter_phone_masked",
                "anonymous", "merged_into_id", "supervise_count", "state")
        if (row[area], row["category_id"]) in wanted_cells
    ]
    by_cell: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault((row[area], row["category_id"]), []).append(row)
    names = dict(OrgNode.objects.filter(pk__in={h.area_id for h in spots}).values_list("pk", "name"))
    categories = dict(Category.objects.filter(pk__in={h.category_id for h in spots if h.category_id})
                      .values_list("pk", "name"))
    picks: dict[int, list[int]] = {}
    for h in spots:
        members = by_cell.get((h.area_id, h.category_id), [])
        seen: set[str] = set()
        for row in members:
            key = _reporter_key(row)
            if key in seen:
                h.chases += 1
            seen.add(key)
            h.chases += row["supervise_count"]
            h.reposts += bool(row["merged_into_id"])
            h.open += row["state"] != State.CLOSED
        h.reporters = len(seen)
        h.area_name = names.get(h.area_id, "")
        h.category_name = categories.get(h.category_id) or _("未分类")
        # representatives: the first report, and the latest ones still open (not the re-posts)
        firsts = [r["id"] for r in members if not r["merged_into_id"]]
        latest_open = [r["id"] for r in reversed(members) if not r["merged_into_id"] and r["state"] != State.CLOSED]
        picks[id(h)] = list(dict.fromkeys(firsts[:1] + latest_open + firsts))[:REPRESENTATIVES]
    wanted = {pk for ids in picks.values() for pk in ids}
    by_pk = Case.objects.only("id", "ticket", "title", "state", "created_at").in_bulk(wanted)
    for h in spots:
        h.representatives = [by_pk[pk] for pk in picks[id(h)] if pk in by_pk]
    keys = {
        "heat": lambda h: (-h.heat, -h.size),
        "size": lambda h: (-h.size, -h.support),
        "growth": lambda h: (-(h.growth if h.growth is not None else float(h.size)), -h.size),
        "support": lambda h: (-h.support, -h.size),
    }
    spots.sort(key=lambda h: (*keys[order](h), h.area_id, h.category_id or 0))
    return spots[:limit]


def hotspots(user: Any, *, node: OrgNode | None = None, period: str = "month", level: str = "community",
             day: date | None = None, limit: int = 10, order: str = "heat") -> list[Hotspot]:
    """Hotspots the user may see: under `node` (already fetched in the user's case scope) or
    under each of the user's scope roots; the cases counted are those the user can see."""
    base = scope.restrict(Case.objects.all(), user, Perm.VIEW_CASES)
    if node is not None:
        return hotspots_for_path(node.path, period=period, level=level, day=day, limit=limit, order=order, base=base)
    from jiedao.org import selectors as org_selectors

    found: list[Hotspot] = []
    for root in org_selectors.scope_roots(user, Perm.VIEW_CASES).order_by("path"):
        found += hotspots_for_path(root.path, period=period, level=level, day=day, limit=limit, order=order,
                                   base=base)
    return found[:limit]


def hotspot_dicts(spots: list[Hotspot]) -> list[dict[str, Any]]:
    """Plain data (for the weekly digest's JSON and the reports)."""
    return [
        {"area": h.area_name, "area_id": h.area_id, "category": h.category_name, "category_id": h.category_id,
         "size": h.size, "previous": h.previous, "growth": h.growth_text, "reporters": h.reporters,
         "reposts": h.reposts, "chases": h.chases, "open": h.open, "heat": h.heat,
         "cases": [{"id": c.pk, "ticket": c.ticket, "title": c.title} for c in h.representatives]}
        for h in spots
    ]


# A case's category is a training label once staff have looked at it: accepted (confirming or
# correcting what the reporter chose) and every state after that. Rejected cases are not.
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
    """Cold start: a handful of pseudo-messages per category and no history to calibrate on, so a
    stronger regularisation (C=5 instead of 30) keeps the probabilities from being overconfident."""
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
