"""Similar cases (at intake and on a case page) and the nightly duplicate groups, every read
scoped through jiedao.core.scope (cases with Perm.VIEW_CASES)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases import search
from jiedao.cases.models import Case, Category, State
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT, subtree_range
from jiedao.insight.models import DuplicateGroup, DuplicateGroupMember
from jiedao.org.models import NodeKind, OrgNode

FINISHED_STATES = (State.CLOSED, State.REJECTED)

# --- similar cases ---------------------------------------------------------------------------------

SIMILAR_DAYS = 30  # how far back an earlier case still counts as "recent"
SIMILAR_CANDIDATES = 300  # newest candidates nearby read per query …
SIMILAR_INDEX_DAYS = 365  # … plus, anywhere in the user's scope this far back, …
SIMILAR_INDEXED = 100  # … this many found through the full-text index (jiedao.cases.search) …
NEAR_DUPLICATE = 0.6  # … kept when their character bigrams overlap the text's this much (Jaccard)
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
    related: bool = False  # the same problem by the words, at another finer place: shown, never merged

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
    from jiedao.insight.text.similar import SimilarConfig, run, score_pairs

    candidates = prefilter(query, candidates, kinds=kinds, category_id=category_id)

    messages = [("q", query.get("title", ""), query.get("text", ""))]
    messages += [(str(c.pk), c.title, c.description) for c in candidates]
    # a few prefiltered candidates: too few to tell a rare name or a telling problem word by its
    # frequency, so the problem-word evidence is left to the nightly grouping over the whole period
    index = run(messages, SimilarConfig(problem_check=False)).index
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
        if features.fine:  # another stretch, junction, building or door: related, not a duplicate
            evidence.append(_("位置不同：%(places)s") % {"places": features.fine})
        out.append(SimilarCase(case, round(min(score, 1.0), 2), round(text_score, 2), place, round(recent, 2),
                               bool(same), evidence, related=bool(features.fine)))
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
                       exclude_pk: int | None = None, text: str = "") -> list[Case]:
    """Open, unmerged cases the user can see that may report the same problem: the newest
    SIMILAR_CANDIDATES of the last SIMILAR_DAYS in the same grid (or the community for a case
    filed on the community itself) or within NEARBY_METRES; plus, when `text` is given, the
    SIMILAR_INDEXED sharing the most runs of characters with it anywhere in the user's scope in
    the last SIMILAR_INDEX_DAYS, found through the full-text index rather than by a scan, and kept
    only if they are exact or near duplicates of it (bigram overlap at least NEAR_DUPLICATE)."""
    area = kinds.get(NodeKind.GRID) or kinds.get(NodeKind.COMMUNITY) or kinds.get(NodeKind.VILLAGE) or path
    where = Q(org_path__range=subtree_range(area))
    if latitude not in (None, "") and longitude not in (None, ""):
        dlat = NEARBY_METRES / 111_000
        dlon = dlat / max(0.2, math.cos(math.radians(float(latitude))))
        where |= Q(latitude__range=(float(latitude) - dlat, float(latitude) + dlat),
                   longitude__range=(float(longitude) - dlon, float(longitude) + dlon))
    moment = before or timezone.now()
    # (merged cases are closed, so the state already leaves them out; `merged_into` is checked
    # below on the rows read — as a condition SQLite would take its index, which holds every row)
    base = scope.restrict(Case.objects.all(), user, Perm.VIEW_CASES).exclude(state__in=FINISHED_STATES)
    if before is not None:
        base = base.filter(created_at__lte=before)
    if exclude_pk is not None:
        base = base.exclude(pk=exclude_pk)
    related = ("category", "building")
    found = list(base.filter(where, created_at__gte=moment - timedelta(days=SIMILAR_DAYS))
                 .select_related(*related).order_by("-id")[:SIMILAR_CANDIDATES])
    if text:
        within = base.filter(created_at__gte=moment - timedelta(days=SIMILAR_INDEX_DAYS)).order_by()
        have = {case.pk for case in found}
        more = [pk for pk in search.similar_ids(text, within, limit=SIMILAR_INDEXED) if pk not in have]
        if more:
            from jiedao.cases.selectors import bigrams, jaccard

            wanted = bigrams(text)
            found += [case for case in Case.objects.filter(pk__in=more).select_related(*related).order_by("-id")
                      if jaccard(wanted, bigrams(f"{case.title} {case.description}")) >= NEAR_DUPLICATE]
    return [case for case in found if case.merged_into_id is None]


def similar_for_text(user: Any, *, node: OrgNode, text: str, title: str = "", category: Category | None = None,
                     latitude: Any = None, longitude: Any = None, limit: int = 5) -> list[SimilarCase]:
    """Intake: earlier cases likely the same problem as what is being typed at `node` (a grid,
    microgrid, building or community)."""
    kinds = _ancestors(node.path)
    candidates = similar_candidates(user, path=node.path, kinds=kinds, latitude=latitude, longitude=longitude,
                                    text=f"{title} {text}")
    query = {"title": title, "text": text, "path": node.path, "latitude": latitude, "longitude": longitude}
    found = score_similar(query, candidates, kinds=kinds, category_id=category.pk if category else None,
                          now=timezone.now())
    return found[:limit]


def similar_for_case(user: Any, case: Case, *, limit: int = 5) -> list[SimilarCase]:
    """A case page: open cases filed before this one likely the same problem (nearby within
    SIMILAR_DAYS, or a near duplicate anywhere in the user's scope within SIMILAR_INDEX_DAYS)."""
    kinds = _ancestors(case.org_path)
    candidates = similar_candidates(user, path=case.org_path, kinds=kinds, latitude=case.latitude,
                                    longitude=case.longitude, before=case.created_at, exclude_pk=case.pk,
                                    text=f"{case.title} {case.description}")
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
