"""Reads of cases, always through the scoping function (jiedao.core.scope.restrict with
Perm.VIEW_CASES, which also lets department handlers see the cases dispatched to them); the
catalogue reads of the administration pages; and the two intake helpers: category suggestion
and likely duplicates."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases import reading, search
from jiedao.cases.catalogue.sla import RUNNING, sla_status_for
from jiedao.cases.models import (
    Case,
    CaseAttachment,
    CaseTransition,
    Category,
    State,
    Tier,
)
from jiedao.core import caching, scope, sealed
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm, Role
from jiedao.core.scope import PATH_SEGMENT, subtree_range
from jiedao.org.models import Department, NodeKind, OrgNode

OPEN_STATES = (State.REPORTED, State.ACCEPTED, *RUNNING, State.RESOLVED, State.VERIFIED, State.WITH_DISTRICT)
FINISHED_STATES = (State.CLOSED, State.REJECTED)
DESK_ROLES = frozenset({Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF, Role.LEADER, Role.ADMIN})


# --- who may use the case pages -------------------------------------------------------------


def handler_departments(user: Any) -> list[int]:
    """Ids of the departments the user handles cases for (department handler roles)."""
    if not getattr(user, "is_authenticated", False):
        return []
    from jiedao.cases.models import user_assignments

    return [d for role, d in user_assignments(user) if role == Role.DEPARTMENT_HANDLER and d is not None]


def can_view_cases(user: Any) -> bool:
    """Whether the case pages make sense for the user: a place they see cases of, or a department."""
    if not getattr(user, "is_authenticated", False):
        return False
    return scope.has_perm_anywhere(user, Perm.VIEW_CASES) or bool(handler_departments(user))


def is_desk_staff(user: Any) -> bool:
    """Community and sub-district staff (who take hotline calls), as opposed to grid workers."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    from jiedao.cases.models import user_assignments

    return any(role in DESK_ROLES for role, _d in user_assignments(user)) and scope.has_perm_anywhere(
        user, Perm.REPORT_CASES
    )


# --- cases ----------------------------------------------------------------------------------

_LIST_RELATED = ("category", "community", "grid", "building", "handling_department", "handling_node")


def cases_visible(user: Any) -> QuerySet[Case]:
    return scope.restrict(Case.objects.all(), user, Perm.VIEW_CASES)


def case_get(user: Any, pk: Any) -> Case:
    """One case the user may see (Http404 exactly like a missing one otherwise)."""
    related = (*_LIST_RELATED, "node", "subdistrict", "household", "reported_by", "merged_into")
    return scope.get_scoped(Case.objects.select_related(*related), user, Perm.VIEW_CASES, pk=pk)


def case_by_ticket(user: Any, ticket: str) -> Case | None:
    """The visible case with this ticket number (for merging), or None."""
    ticket = normalise_ticket(ticket)
    if not ticket:
        return None
    return cases_visible(user).filter(ticket=ticket).first()


def normalise_ticket(ticket: str) -> str:
    """Tickets as people type them: full-width characters, spaces and lower case are forgiven."""
    text = unicodedata.normalize("NFKC", str(ticket or "")).strip().upper()
    return re.sub(r"\s+", "", text)[:24]


def overdue_q(now: datetime | None = None) -> Q:
    return Q(state__in=RUNNING, deadline_at__lt=now or timezone.now())


def mine_q(user: Any) -> Q:
    """Cases "mine": handled by my department, handled by (or waiting at) my community, or filed by me."""
    departments = handler_departments(user)
    communities = list(
        user.assignments.filter(role__in=(Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF)).values_list(
            "node_id", flat=True
        )
    )
    condition = Q(reported_by=user)
    if departments:
        condition |= Q(handling_department__in=departments)
    if communities:
        condition |= Q(handling_node__in=communities)
        condition |= Q(community__in=communities, handling_department__isnull=True, handling_node__isnull=True)
    return condition


def case_list(
    user: Any,
    *,
    state: str = "",
    tier: str = "",
    category: Category | None = None,
    node: OrgNode | None = None,
    overdue: bool = False,
    mine: bool = False,
    text: str = "",
) -> QuerySet[Case]:
    """Filtered visible cases, newest first. `category` may be a group (its categories match)."""
    qs = cases_visible(user).select_related(*_LIST_RELATED)
    if state:
        qs = qs.filter(state=state)
    if tier:
        qs = qs.filter(tier=tier)
    if category is not None:
        qs = qs.filter(Q(category=category) | Q(category__parent=category))
    if node is not None:
        qs = qs.filter(org_path__range=subtree_range(node.path))
    if overdue:
        qs = qs.filter(overdue_q())
    if mine:
        qs = qs.filter(mine_q(user))
    text = (text or "").strip()
    if text:
        qs = qs.filter(text_q(text))
    return qs.order_by("-id")


# --- the case list, one page at a time (keyset) ----------------------------------------------------

PAGE_LIMIT = 50
COUNT_CAP = 10_000  # counting a district's 1.4 M cases is itself a full scan: stop at this many
# The denormalised place columns an org node of each kind is equal to (see _index_hint).
_KIND_COLUMN = {NodeKind.SUBDISTRICT: "subdistrict_id", NodeKind.COMMUNITY: "community_id",
                NodeKind.VILLAGE: "community_id", NodeKind.GRID: "grid_id"}


def encode_cursor(last_id: int) -> str:
    """The opaque cursor after a case: base64 of "v1:<id>" (the list's sort key is the id)."""
    return base64.urlsafe_b64encode(f"v1:{int(last_id)}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor stands after; DomainError naming `cursor` for anything else."""
    try:
        text = base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)).decode("ascii")
        version, _sep, value = text.partition(":")
        if version == "v1" and value.isdigit() and 0 < int(value) <= 2**63 - 1:
            return int(value)
    except (ValueError, UnicodeError, binascii.Error):
        pass
    raise DomainError(_("分页游标 cursor 无效，请从第一页重新开始（使用上一页答复中的 next_cursor）。"), field="cursor")


@dataclass
class CasePage:
    """One page of the list: the cases (related objects attached from the caches), the cursor
    of the next page (None on the last), the total (None when not asked; at most COUNT_CAP)."""

    cases: list[Case]
    next_cursor: str | None
    count: int | None = None
    count_capped: bool = False


def _wide_scope(user: Any) -> bool:
    """Whether the user's one grant is a district or wider (or everything): there nearly every
    case is in scope, so the newest are found fastest by walking the ids backwards."""
    paths = scope.granted_paths(user, Perm.VIEW_CASES)
    if paths is None:
        return True
    if len(paths) != 1 or handler_departments(user):
        return False
    from jiedao.org.selectors import ancestor_ids

    chain = list(ancestor_ids(paths[0]).items())
    return bool(chain) and chain[-1][0] in (NodeKind.CITY, NodeKind.DISTRICT)


def _ids(ids_qs: QuerySet, *, walk_ids: bool) -> list[int]:
    """The page's ids. SQLite has no statistics of path ranges and would read a whole district
    through the path index, then sort it; told to walk the table in id order (NOT INDEXED) it
    stops after a page. PostgreSQL's planner makes that choice itself."""
    if not (walk_ids and connection.vendor == "sqlite"):
        return list(ids_qs)
    sql, params = ids_qs.query.sql_with_params()
    table = connection.ops.quote_name(Case._meta.db_table)
    sql = sql.replace(f"FROM {table}", f"FROM {table} NOT INDEXED", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _index_hint(user: Any) -> Q | None:
    """An equality on a denormalised place column (sub-district, community, grid) equivalent to
    the user's one granted path range, so both databases can walk an (place, id) index in id
    order and stop after a page, instead of sorting the whole scope. Only for a single grant and
    no department (whose dispatched cases lie outside the range). The range itself stays in the
    query: the hint can never widen what the scope allows."""
    paths = scope.granted_paths(user, Perm.VIEW_CASES)
    if not paths or len(paths) != 1 or handler_departments(user):
        return None
    from jiedao.org.selectors import ancestor_ids

    chain = list(ancestor_ids(paths[0]).items())
    if not chain:
        return None
    kind, node_id = chain[-1]
    column = _KIND_COLUMN.get(kind)
    return Q(**{column: node_id}) if column else None


def _cached_row(key: str, model: Any, pk: int | None) -> Any:
    if pk is None:
        return None

    def load() -> Any:
        obj = model.objects.filter(pk=pk).first()
        return caching.row(obj) if obj is not None else None

    cached = caching.get((key, pk), load)
    return caching.instance(model, cached) if cached is not None else None


def attach_related(cases: list[Case]) -> list[Case]:
    """Attach the names the list shows (category, places, handling department) from the
    per-process caches (jiedao.core.caching): no query per case, none at all once warm."""
    from jiedao.org.selectors import node_cached

    nodes: dict[int, Any] = {}

    def node(pk: int | None) -> Any:
        if pk is None:
            return None
        if pk not in nodes:
            nodes[pk] = node_cached(pk)
        return nodes[pk]

    categories: dict[int, Any] = {}
    departments: dict[int, Any] = {}
    for case in cases:
        for field in ("node", "subdistrict", "community", "grid", "building", "handling_node"):
            setattr(case, field, node(getattr(case, f"{field}_id")))
        if case.category_id is not None:
            if case.category_id not in categories:
                categories[case.category_id] = _cached_row("case-category", Category, case.category_id)
            case.category = categories[case.category_id]
        else:
            case.category = None
        if case.handling_department_id is not None:
            if case.handling_department_id not in departments:
                departments[case.handling_department_id] = _cached_row(
                    "department", Department, case.handling_department_id)
            case.handling_department = departments[case.handling_department_id]
        else:
            case.handling_department = None
    return cases


def case_page(
    user: Any,
    *,
    cursor: str | None = None,
    offset: int = 0,
    limit: int = PAGE_LIMIT,
    count: bool = False,
    **filters: Any,
) -> CasePage:
    """A page of case_list, newest first, at the same cost at any scope: the page's ids are
    chosen first on an index (id order within the scope's place, `_index_hint`) with no join,
    after the cursor's id (keyset; `offset` is kept for old clients and costs what it skips);
    then those rows alone are read and their names attached from the caches. `count` adds the
    total, counted up to COUNT_CAP."""
    qs = case_list(user, **filters).select_related(None)
    hint = _index_hint(user)
    if hint is not None:
        qs = qs.filter(hint)
    ids_qs = qs.order_by("-id").values_list("id", flat=True)
    if cursor:
        ids_qs = ids_qs.filter(id__lt=decode_cursor(cursor))
    # Only the unfiltered list walks the ids: a filter may match few cases of a district.
    walk = not any(filters.values()) and _wide_scope(user)
    ids = _ids(ids_qs[offset:offset + limit + 1], walk_ids=walk)
    more = len(ids) > limit
    ids = ids[:limit]
    cases = attach_related(list(Case.objects.filter(pk__in=ids).order_by("-id"))) if ids else []
    page = CasePage(cases=cases, next_cursor=encode_cursor(ids[-1]) if more else None)
    if count:
        total = qs.order_by()[:COUNT_CAP + 1].count()
        page.count, page.count_capped = min(total, COUNT_CAP), total > COUNT_CAP
    return page


_TICKET = re.compile(r"^[0-9]{8}-[0-9A-Z]{1,16}$")
_TICKET_PART = re.compile(r"^[0-9A-Z-]{6,24}$")


def text_q(text: str) -> Q:
    """The list's search: the ticket (whole, or a part of six characters or more, as people read
    out its last digits), or every word (character bigrams, see jiedao.cases.search) of the title
    or the description, through the full-text index. Apply it to a scoped queryset only: the
    index itself knows nothing of scope."""
    condition = Q(pk__in=[])
    ticket = normalise_ticket(text)
    if _TICKET.match(ticket):
        condition |= Q(ticket=ticket)
    elif _TICKET_PART.match(ticket):
        condition |= Q(ticket__contains=ticket)
    ids = search.matching_ids(text)
    if ids is not None:
        condition |= Q(pk__in=ids)
    return condition


def case_timeline(case: Case) -> QuerySet[CaseTransition]:
    return case.transitions.select_related("actor").order_by("seq")


def case_attachments(case: Case) -> QuerySet[CaseAttachment]:
    return case.attachments.order_by("id")


def attachment_get(user: Any, case_pk: Any, pk: Any) -> CaseAttachment:
    """An attachment of a case the user may see; Http404 otherwise (scope first, then the row)."""

    case = case_get(user, case_pk)
    attachment = case.attachments.filter(pk=pk).first() if str(pk).isdigit() else None
    if attachment is None:
        raise Http404(_("未找到该附件。"))
    return attachment


@dataclass(frozen=True)
class DeadlineMark:
    """How a case stands against its deadline, for badges: "overdue", "near" or ""."""

    kind: str
    label: str


def deadline_mark(case: Case, now: datetime | None = None) -> DeadlineMark:
    """As the deadline watch sees it (jiedao.cases.catalogue.sla): past the deadline, or within
    the next 4 office hours of the case's sub-district."""
    status = sla_status_for(case, now)
    if status == "overdue":
        return DeadlineMark("overdue", _("已超期"))
    if status == "near":
        return DeadlineMark("near", _("即将到期"))
    return DeadlineMark("", "")


def dispatch_departments(case: Case) -> QuerySet[Department]:
    """The departments a case may be dispatched to: the active ones of its sub-district."""
    return Department.objects.filter(subdistrict_id=case.subdistrict_id, is_active=True).order_by("sort_order", "id")


def node_trail(node: OrgNode | None, top_kinds: tuple[str, ...] = (NodeKind.COMMUNITY, NodeKind.VILLAGE)) -> str:
    """"东门社区 › 东门第一网格 › 1幢": the node's ancestors from its community down (one query)."""
    if node is None:
        return ""
    prefixes = [node.path[:i] for i in range(PATH_SEGMENT, len(node.path) + 1, PATH_SEGMENT)]
    rows = list(OrgNode.objects.filter(path__in=prefixes).order_by("path").values_list("kind", "name"))
    start = next((i for i, (kind, _n) in enumerate(rows) if kind in top_kinds), 0)
    return " › ".join(name for _k, name in rows[start:])


# --- home-page widgets (few queries each) ------------------------------------------------------


def _state_counts(qs: QuerySet[Case]) -> dict[str, int]:
    return dict(qs.order_by().values_list("state").annotate(n=Count("id")))


def home_widgets(user: Any, limit: int = 8) -> list[dict[str, Any]]:
    """One widget per kind of case work the user does (grid, community, department, overview)."""
    if not can_view_cases(user):
        return []
    from jiedao.cases.models import user_assignments

    widgets: list[dict[str, Any]] = []
    roles = {role for role, _d in user_assignments(user)}
    visible = cases_visible(user).select_related("category", "building", "grid")
    if roles & {Role.GRID_WORKER, Role.GRID_LEADER}:
        grid_nodes = list(
            user.assignments.filter(role__in=(Role.GRID_WORKER, Role.GRID_LEADER), node__is_active=True)
            .select_related("node").values_list("node__path", "node__name")
        )
        condition = Q()
        for path, _name in grid_nodes:
            condition |= Q(org_path__range=subtree_range(path))
        open_cases = visible.filter(condition, state__in=OPEN_STATES) if grid_nodes else visible.none()
        rows = list(open_cases.order_by("-id")[: limit + 1])
        widgets.append({
            "type": "grid", "names": "、".join(name for _p, name in grid_nodes),
            "cases": rows[:limit], "more": len(rows) > limit,
            "to_verify": sum(1 for c in rows if c.state == State.RESOLVED),
        })
    if roles & {Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF}:
        community_ids = list(
            user.assignments.filter(role__in=(Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF))
            .values_list("node_id", flat=True)
        )
        mine = visible.filter(community__in=community_ids)
        counts = _state_counts(mine.filter(state__in=(State.REPORTED, State.ACCEPTED, State.VERIFIED)))
        widgets.append({
            "type": "community",
            "reported": counts.get(State.REPORTED, 0), "accepted": counts.get(State.ACCEPTED, 0),
            "verified": counts.get(State.VERIFIED, 0),
            "cases": list(mine.filter(state=State.REPORTED).order_by("id")[:limit]),
        })
    departments = handler_departments(user)
    if departments:
        queue = Case.objects.filter(handling_department__in=departments, state__in=RUNNING).select_related(
            "category", "community"
        )
        rows = list(queue.order_by("deadline_at", "id")[:limit])
        counts = _state_counts(queue)
        widgets.append({
            "type": "department",
            "dispatched": counts.get(State.DISPATCHED, 0),
            "working": counts.get(State.ACKNOWLEDGED, 0) + counts.get(State.IN_PROGRESS, 0),
            "cases": rows,
        })
    if user.is_superuser or roles & {Role.LEADER, Role.ADMIN}:
        counts = _state_counts(cases_visible(user))
        # What waits for the sub-district's leadership: the joint meeting's cases and the district's replies.
        waiting = cases_visible(user).filter(Q(state=State.ACCEPTED, level__gte=3) | Q(state=State.WITH_DISTRICT))
        widgets.append({
            "type": "overview",
            "counts": [(State(s).label, s, counts.get(s, 0)) for s in State.values],
            "total": sum(counts.values()),
            "overdue": cases_visible(user).filter(overdue_q()).count(),
            "for_leaders": list(waiting.select_related("community").order_by("updated_at")[:limit]),
        })
    return widgets


# --- catalogue ---------------------------------------------------------------------------------


# --- category suggestion -----------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def plain_text(text: str) -> str:
    """Width-folded, lower-cased text with punctuation and spaces removed."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text or "").lower())


class CategorySuggestions(list):
    """[(Category, confidence), ...] best first, plus what the classifier says about them:
    `low_confidence` (say so rather than guess), `reason`, and the model `version_id`
    (None: the catalogue's cold-start model, before any version was trained)."""

    low_confidence: bool = True
    reason: str = ""
    version_id: int | None = None


def suggest_category(text: str, *, title: str = "") -> CategorySuggestions:
    """The three active categories likeliest for `text`, each with a calibrated confidence in
    [0, 1], from the active classifier version (the installed reader, jiedao.cases.reading: trained on the platform's own
    handled cases; before that, a cold-start model of the catalogue's names and keywords)."""
    found = reading.reader().suggest(title, text, k=3)
    result = CategorySuggestions(found.items)
    result.low_confidence, result.reason, result.version_id = found.low_confidence, found.reason, found.version_id
    return result


# --- likely duplicates ---------------------------------------------------------------------------

SIMILAR_DAYS = 30


def bigrams(text: str) -> set[str]:
    """Character bigrams of the text without punctuation (a single character stands for itself)."""
    plain = plain_text(text)
    if len(plain) < 2:
        return {plain} if plain else set()
    return {plain[i : i + 2] for i in range(len(plain) - 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def similar_cases(user: Any, *, node: OrgNode, category: Category | None, text: str, limit: int = 5,
                  latitude: Any = None, longitude: Any = None) -> list[tuple[Case, float]]:
    """Recent open cases the user can see that likely report the same problem as `text` typed at
    `node` (a grid, microgrid, building or community), best first, at most `limit`, with scores
    in [0, 1]. Scored by the installed reader (jiedao.cases.reading): the text
    engine's pair scoring (words, and the places the texts name), same building or nearby by
    org path or lat/long, recency and category."""
    found = reading.reader().similar_for_text(user, node=node, text=text, category=category, latitude=latitude,
                             longitude=longitude, limit=limit)
    return [(s.case, s.score) for s in found]


# --- a repeat caller's earlier cases --------------------------------------------------------------

REPORTER_CASES_SHOWN = 5


@dataclass(frozen=True)
class ReporterCases:
    count: int  # every case of the number the user can see
    cases: list[Case]  # the newest of them, at most REPORTER_CASES_SHOWN


def reporter_cases(user: Any, phone: str, *, limit: int = REPORTER_CASES_SHOWN) -> ReporterCases:
    """The cases the user can see whose reporter gave this (validated) phone number: how many, and
    the newest `limit`, newest first. Found by the number's blind index under every index key
    (core.sealed.lookup_keys), never by decrypting; a case outside the user's VIEW_CASES scope is
    neither counted nor shown. Callers go through services.case_reporter_lookup (throttled, audited)."""
    keys = sealed.lookup_keys("phone", phone)
    if not keys:
        return ReporterCases(0, [])
    found = cases_visible(user).filter(reporter_phone_index__in=keys)
    count = found.count()
    newest = list(found.select_related("category").order_by("-created_at", "-id")[:limit]) if count else []
    return ReporterCases(count, newest)


# --- reads of the REST API and Open311 ----------------------------------------------------------


def case_get_unscoped(pk: Any) -> Case:
    """A case by id, not scoped: only to answer a caller who has just filed or acted on it (an
    action such as "return" can take the case out of the caller's scope)."""
    related = (*_LIST_RELATED, "node", "reported_by", "merged_into")
    return Case.objects.select_related(*related).get(pk=pk)


# The tiers a public read may show: a private matter (私事) concerns one household.
PUBLIC_TIERS = (Tier.PUBLIC, Tier.COMMUNITY)


def public_case_q() -> Q:
    """Cases shown publicly (Open311 reads, the residents' progress page for a ticket published
    there): triaged — accepted by staff, who confirm or set the tier then (a category's default
    tier at intake is only a guess, and a 私事 must not be public until someone has looked) — and
    tiered 大事 or 小事."""
    return Q(accepted_at__isnull=False, tier__in=PUBLIC_TIERS)


def open311_public_cases() -> QuerySet[Case]:
    """Cases the public Open311 reads show (`public_case_q`). Callers publish only public fields
    (never the reporter) and mask free text (jiedao.cases.masking)."""
    return Case.objects.filter(public_case_q()).select_related(
        "category", "handling_department", "handling_node", "resident", "building", "open311_extra")


def needs_phone_proof(case: Case) -> bool:
    """Whether the resident's rating must name the last four digits of the phone left with the
    case (a case filed with one): the ticket alone may be public."""
    return bool(case.reporter_phone_enc) and not case.anonymous


def phone_tail_matches(case: Case, tail: str) -> bool:
    """Whether `tail` is the last four digits of the case's reporter phone (compared in constant
    time; the phone is opened only for the comparison, never shown)."""
    phone = sealed.reveal(case, "reporter_phone") if case.reporter_phone_enc else ""
    return len(phone) >= 4 and hmac.compare_digest(phone[-4:].encode(), (tail or "").strip().encode())


def case_by_ticket_unscoped(ticket: str) -> Case | None:
    """The case with this ticket, whoever asks: the ticket itself is the reporter's proof."""
    ticket = normalise_ticket(ticket)
    if not ticket:
        return None
    return (Case.objects.select_related("category", "handling_department", "handling_node", "resident", "building")
            .filter(ticket=ticket).first())
