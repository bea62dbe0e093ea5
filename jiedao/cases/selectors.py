"""Reads of cases, always through the scoping function (jiedao.core.scope.restrict with
Perm.VIEW_CASES, which also lets department handlers see the cases dispatched to them); the
catalogue reads of the administration pages; and the two intake helpers: category suggestion
and likely duplicates."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet, FullResultSet
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
        qs = qs.filter(category_id__in=category_ids(category))
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


_PLACE_INDEX = {"subdistrict_id": "case_subdistrict_id_idx", "community_id": "case_community_id_idx",
                "grid_id": "case_grid_id_idx"}
_EMPTY: dict[str, Any] = {"category": None, "overdue": False, "mine": False, "state": "", "tier": ""}
COUNT_BUDGET = COUNT_CAP + 1  # index entries a count may read (per list): beyond, the total is not given
COUNT_STREAM_MIN = 1_000  # index entries each stream's count may read at least
TEXT_COUNT_BUDGET = 2_500  # matches a text search's count may read: beyond, only a lower bound is given
# PostgreSQL: a search for words this many cases hold (the planner's estimate from the statistics
# of the full-text index) walks the list newest first and checks each case's terms as text (about
# 2 µs a case, against 50 µs to rebuild its tsvector); rarer words are found through the index.
PG_TEXT_WALK_MIN = 10_000
PG_TEXT_COUNT_BUDGET = 1_000  # cases of the list a walked search's count reads: beyond, a lower bound
PG_TEXT_WALK = 4_000  # cases of the list a walked search reads for a page; fewer matches: the index instead


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


def _grant_chain(user: Any) -> dict[str, int] | None:
    """{kind: node id} of the user's one granted place and its ancestors; None for several
    grants, everything (superusers) or a department (whose dispatched cases lie outside the range)."""
    paths = scope.granted_paths(user, Perm.VIEW_CASES)
    if not paths or len(paths) != 1 or handler_departments(user):
        return None
    from jiedao.org.selectors import ancestor_ids

    return ancestor_ids(paths[0])


def _wide_scope(user: Any) -> bool:
    """Whether the user's one grant is a district or wider (or everything): there nearly every
    case is in scope, so the newest are found fastest by walking the ids backwards."""
    if scope.granted_paths(user, Perm.VIEW_CASES) is None:
        return True
    chain = _grant_chain(user)
    return bool(chain) and list(chain)[-1] in (NodeKind.CITY, NodeKind.DISTRICT)


def _place(user: Any, node: OrgNode | None) -> tuple[str, int, int | None] | None:
    """The narrowest denormalised place column (sub-district, community, grid) equal to the list's
    place — the area filter's node, else the user's one grant — as (column, node id, sub-district
    id), or None (a district or wider, several grants, a department). Every case of the place has
    that column equal to the node, so the equality can be added to the query without changing
    its answer (the path range stays in it), and lets both databases walk a (place, id) index."""
    from jiedao.org.selectors import ancestor_ids

    chain = ancestor_ids(node.path) if node is not None else _grant_chain(user)
    if not chain:
        return None
    for kind in reversed(list(chain)):
        column = _KIND_COLUMN.get(kind)
        if column:
            return column, chain[kind], chain.get(NodeKind.SUBDISTRICT)
    return None


def _index_hint(user: Any) -> Q | None:
    """The place equality of `_place` for the user's own scope (see there), or None."""
    place = _place(user, None)
    return Q(**{place[0]: place[1]}) if place else None


@dataclass(frozen=True)
class _Stream:
    """One keyset query of a page: `q` narrows the filtered list to one value of the driving
    column (all streams together are the whole list), `index` is the index that walks it in id
    order (named for SQLite, which has no statistics to choose it: INDEXED BY); None leaves the
    choice to the database."""

    q: Q
    index: str | None
    replaces: str = ""  # the filter whose condition the streams together stand for
    # The index's columns: ordering by them (descending) is ordering by id within the stream's
    # equalities, and tells PostgreSQL's planner which index gives that order (ordered by id
    # alone, it may walk the primary key and filter, expecting the place's cases everywhere).
    order: tuple[str, ...] = ("id",)
    # `q` with plain equalities (PostgreSQL, inside `_pg_stream_ids`' fence: there the planner
    # costs the index walk by them; with `_lead`'s ranges it would cost the whole first column)
    exact: Q | None = None

    def order_by(self) -> list[str]:
        return [f"-{column}" for column in self.order]


def category_ids(category: Category) -> list[int]:
    """The category, or the categories of a group (from the cached catalogue)."""
    def load() -> tuple[int, ...]:
        children = Category.objects.filter(parent_id=category.pk).values_list("pk", flat=True)
        return (category.pk, *children)

    return list(caching.get(("category-ids", category.pk), load))


def _lead(column: str, value: Any) -> Q:
    """The equality on a stream index's first column. On PostgreSQL written as a one-value range:
    an equality makes the column a constant to the planner, which then sees the primary key as
    giving the same order (id) and may walk it, filtering, expecting the place's cases spread
    evenly over the ids — they are not when a place's history was loaded at once (the seeded
    districts); a range keeps (column, id) the order asked for, which only the stream's index gives."""
    if connection.vendor == "postgresql":
        return Q(**{f"{column}__gte": value, f"{column}__lte": value})
    return Q(**{column: value})


def _streams(user: Any, filters: dict[str, Any]) -> tuple[list[_Stream], Q | None]:
    """How a page's ids are found on an index: one stream per value of the most selective filter
    (category, then overdue's running states, then state, then tier; "mine" one per way a case is
    mine), each walking a (column, id) index — or (sub-district, column, id) when the list lies in
    one sub-district — newest first, merged. Returns the streams (none: the place index alone, or
    the id walk) and the place equality the other ways of reading the list add (see `_place`)."""
    place = _place(user, filters.get("node"))
    sub = place[2] if place else None
    narrow = _lead("subdistrict_id", sub) if sub else None

    def by(column: str, values: list[Any], replaces: str, extra: Q | None = None) -> list[_Stream]:
        name = f"case_sub_{column}_id_idx" if sub else f"case_{column}_id_idx"
        attname = Case._meta.get_field(column).attname  # category_id: ordering by "category" would join
        order = ("subdistrict_id", attname, "id") if sub else (attname, "id")
        streams = []
        for value in values:
            q = _lead(attname, value) & narrow if narrow else _lead(attname, value)
            exact = Q(**{attname: value, **({"subdistrict_id": sub} if sub else {})})
            streams.append(_Stream(q & extra if extra else q, name, replaces, order,
                                   exact & extra if extra else exact))
        return streams

    if filters.get("mine"):  # mine_q's ways of being mine, one stream each
        streams = [_Stream(_lead("reported_by_id", user.pk), "case_reporter_id_idx", "mine", ("reported_by_id", "id"),
                           Q(reported_by_id=user.pk))]
        streams += [_Stream(_lead("handling_department_id", d), "case_department_id_idx", "mine",
                            ("handling_department_id", "id"), Q(handling_department_id=d))
                    for d in handler_departments(user)]
        communities = list(user.assignments.filter(role__in=(Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF))
                           .values_list("node_id", flat=True))
        streams += [_Stream(_lead("handling_node_id", c), "case_handling_node_id_idx", "mine", ("handling_node_id", "id"),
                            Q(handling_node_id=c)) for c in communities]
        orphan = Q(handling_department__isnull=True, handling_node__isnull=True)
        streams += [_Stream(_lead("community_id", c) & orphan, "case_community_id_idx", "mine", ("community_id", "id"),
                            Q(community_id=c) & orphan) for c in communities]
    elif filters.get("category") is not None:
        streams = by("category", category_ids(filters["category"]), "category")
    elif filters.get("overdue"):  # overdue_q, one running state at a time
        streams = by("state", list(RUNNING), "overdue", Q(deadline_at__lt=timezone.now()))
    elif filters.get("state"):
        streams = by("state", [filters["state"]], "state")
    elif filters.get("tier"):
        streams = by("tier", [filters["tier"]], "tier")
    elif place:
        streams = [_Stream(_lead(place[0], place[1]), _PLACE_INDEX[place[0]], "", (place[0], "id"),
                           Q(**{place[0]: place[1]}))]
    else:
        streams = [_Stream(Q(), None)]
    return streams, Q(**{place[0]: place[1]}) if place else None


def _run(ids_qs: QuerySet, index: str | None) -> list[int]:
    """The ids of `ids_qs`; on SQLite through the named index (INDEXED BY), or walking the table
    in id order (`index` "" : NOT INDEXED) — SQLite has no statistics of path ranges and would
    otherwise read a whole district through the path index and sort it."""
    if index is None or connection.vendor != "sqlite":
        return list(ids_qs)
    try:
        sql, params = ids_qs.query.sql_with_params()
    except EmptyResultSet:  # nothing can match (a user with no case scope)
        return []
    table = connection.ops.quote_name(Case._meta.db_table)
    using = f"INDEXED BY {connection.ops.quote_name(index)}" if index else "NOT INDEXED"
    sql = sql.replace(f"FROM {table}", f"FROM {table} {using}", 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _text_sql(qs: QuerySet, text: str, before: int | None, *, budget: int | None = None,
              bounds: tuple[int, int] | None = None) -> tuple[str, list[Any]] | None:
    """The ids of `qs` (the filtered list without its text condition) matching `text`, newest
    first, walking the full-text index (FTS5 answers MATCH in rowid order) joined to the cases by
    primary key, as SQL ending in a LIMIT parameter: SQLite only. With `budget`, instead the
    (matches read, of them in `qs`) among the newest `budget` matches. None when the text has no
    searchable words. `bounds`: the lowest and highest id of the list's place, so that the walk
    skips the matches outside them (FTS5 seeks a rowid range)."""
    words = search.query_terms(text)
    if not words:
        return None
    table, fts = connection.ops.quote_name(Case._meta.db_table), search.FTS_TABLE
    cond, cond_params = _where(qs)
    rng, rng_params = (f" AND {fts}.rowid BETWEEN %s AND %s", list(bounds)) if bounds else ("", [])
    if budget is not None:
        return (f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) FROM "
                f"(SELECT rowid AS id FROM {fts} WHERE {fts} MATCH %s{rng} LIMIT %s) AS m "
                f"CROSS JOIN {table} ON {table}.id = m.id",
                [*cond_params, search.fts_match(words), *rng_params, budget])
    sql = (f"SELECT {fts}.rowid FROM {fts} CROSS JOIN {table} ON {table}.id = {fts}.rowid "
           f"WHERE {fts} MATCH %s{rng}" + (f" AND {fts}.rowid < %s" if before else "")
           + f" AND {cond} ORDER BY {fts}.rowid DESC LIMIT %s")
    return sql, [search.fts_match(words), *rng_params, *([before] if before else []), *cond_params]


def _fts_count(qs: QuerySet, text: str, bounds: tuple[int, int] | None) -> tuple[int | None, bool]:
    """`_budget_count` of a text search on SQLite: the newest TEXT_COUNT_BUDGET matches of the
    full-text index (within `bounds`), each checked against `qs` (a match costs more to read than
    an index entry: the budget is smaller)."""
    sql, params = _text_sql(qs, text, None, budget=TEXT_COUNT_BUDGET, bounds=bounds)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        n, m = cursor.fetchone()
    return _at_least(int(m), n >= TEXT_COUNT_BUDGET)


def _fetch(sql: str, params: list[Any]) -> list[Any]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _cached_row(key: str, model: Any, pk: int | None) -> Any:
    if pk is None:
        return None

    def load() -> Any:
        obj = model.objects.filter(pk=pk).first()
        return caching.row(obj) if obj is not None else None

    cached = caching.get((key, pk), load)
    return caching.instance(model, cached) if cached is not None else None


def category_cached(pk: int) -> Category | None:
    """A category (active or not) by id from the per-process cache, or None."""
    return _cached_row("case-category", Category, pk)


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


def _where(qs: QuerySet) -> tuple[str, list[Any]]:
    """The WHERE condition of a queryset of cases with no joins, as SQL on the bare table."""
    try:
        sql, params = qs.query.get_compiler(connection.alias).compile(qs.query.where)
    except FullResultSet:  # no condition at all (a superuser's unfiltered list)
        return "1 = 1", []
    except EmptyResultSet:  # nothing can match (a user with no case scope)
        return "1 = 0", []
    return sql or "1 = 1", list(params)


def _at_least(found: int, exhausted: bool) -> tuple[int | None, bool]:
    """(count, capped) of a count that found `found` cases: beyond COUNT_CAP the cap, and when it
    stopped before the end of the list (`exhausted`) a lower bound — capped means "at least
    count" — or nothing when it found none (see docs/figures.md, 事项列表的总数)."""
    if found > COUNT_CAP:
        return COUNT_CAP, True
    if exhausted:
        return (found, True) if found else (None, False)
    return found, False


def _order_sql(stream: _Stream) -> str:
    table = connection.ops.quote_name(Case._meta.db_table)
    return ", ".join(f"{table}.{connection.ops.quote_name(c)} DESC" for c in stream.order)


def _budget_count(qs: QuerySet, streams: list[_Stream]) -> tuple[int | None, bool]:
    """How many cases `qs` holds, counted up to COUNT_CAP on the streams' indexes, reading at most
    COUNT_BUDGET index entries in all: (count, capped); when the budget ran out first (a narrow
    list inside a wide index) the cases found so far, as a lower bound (`_at_least`), rather
    than the whole total paid for. On PostgreSQL the streams are read in one statement."""
    table = connection.ops.quote_name(Case._meta.db_table)
    cond, cond_params = _where(qs)
    budget = max(COUNT_STREAM_MIN, COUNT_BUDGET // len(streams))
    arms, params = [], []
    for k, stream in enumerate(streams):
        drive, drive_params = _where(Case.objects.filter(stream.q))
        using = (f" INDEXED BY {connection.ops.quote_name(stream.index)}"
                 if stream.index and connection.vendor == "sqlite" else "")
        arms.append(f"SELECT {k} AS s, COUNT(*) AS n, COALESCE(SUM(ok), 0) AS m FROM (SELECT CASE WHEN {cond} "
                    f"THEN 1 ELSE 0 END AS ok FROM {table}{using} WHERE {drive} ORDER BY {_order_sql(stream)} "
                    f"LIMIT %s) AS entries")
        params.append([*cond_params, *drive_params, budget])
    rows = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # one round trip (and one statement to plan) for all streams
            cursor.execute(" UNION ALL ".join(f"({arm})" for arm in arms), [p for ps in params for p in ps])
            rows = cursor.fetchall()
        else:
            for arm, ps in zip(arms, params, strict=True):
                cursor.execute(arm, ps)
                rows.append(cursor.fetchone())
    matched = sum(int(m) for _s, _n, m in rows)
    return _at_least(matched, any(n >= budget for _s, n, _m in rows))


def _pg_stream_ids(base: QuerySet, streams: list[_Stream], want: int) -> list[int]:
    """PostgreSQL: the newest `want` ids of `base` on each stream, in one statement. Each stream
    walks its index in order inside a subquery the planner may not merge with the rest of the
    condition (OFFSET 0): given the place's path range beside the sub-district's equality, it
    multiplies their selectivities as if independent (a grid's cases are all in its sub-district),
    expects a few dozen rows where there are hundreds, and reads the whole range through a bitmap
    and sorts it (a grid's category group: 4 such sorts, 20-60 ms) instead of stopping after a
    page (0.5 ms). The subquery's unused columns are dropped, so the walk reads the index alone."""
    table = connection.ops.quote_name(Case._meta.db_table)
    cond, cond_params = _where(base)
    arms, params = [], []
    for stream in streams:
        drive, drive_params = _where(Case.objects.filter(stream.exact if stream.exact is not None else stream.q))
        arms.append(f"(SELECT {table}.id FROM (SELECT * FROM {table} WHERE {drive} ORDER BY {_order_sql(stream)} "
                    f"OFFSET 0) AS {table} WHERE {cond} ORDER BY {_order_sql(stream)} LIMIT %s)")
        params += [*drive_params, *cond_params, want]
    found = set(_fetch(" UNION ALL ".join(arms), params))  # "mine"'s streams may overlap
    return sorted(found, reverse=True)[:want]


def _pg_text_rows(words: list[str]) -> float:
    """PostgreSQL: how many cases hold every one of `words`, as the planner estimates it from the
    statistics of the full-text index (no index read: a plan only)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT case_id FROM cases_casetext WHERE {search.PG_VECTOR} "
                       f"@@ %s::tsquery", [search.pg_all(words)])
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def _pg_text_walk(qs: QuerySet, words: list[str], *, before: int | None = None, want: int | None = None,
                  budget: int | None = None) -> tuple[str, list[Any]]:
    """PostgreSQL, a search for common words: the ids of `qs` (the list without its text
    condition) holding every word, newest first, among the newest PG_TEXT_WALK cases of the list,
    each case's terms checked as text (a word is a term when it stands between spaces) — SQL
    ending in a LIMIT of `want`. With `budget`, instead (cases read, of them matching) among the
    newest `budget` of the list. The list's ids come first (on its own index), then their terms
    by primary key: a plan PostgreSQL keeps in one process (it would otherwise start parallel
    workers for the count, whose start-up alone costs more than the count)."""
    table = connection.ops.quote_name(Case._meta.db_table)
    cond, cond_params = _where(qs.filter(id__lt=before) if before else qs)
    held = " AND ".join(["strpos(' ' || t.terms || ' ', %s) > 0"] * len(words))
    held_params = [f" {w} " for w in words]
    newest = f"SELECT {table}.id FROM {table} WHERE {cond} ORDER BY {table}.id DESC LIMIT %s"
    if budget is not None:
        return (f"SELECT COUNT(*), COALESCE(SUM(CASE WHEN {held} THEN 1 ELSE 0 END), 0) FROM ({newest}) AS c "
                f"JOIN cases_casetext t ON t.case_id = c.id", [*held_params, *cond_params, budget])
    return (f"SELECT c.id FROM ({newest}) AS c JOIN cases_casetext t ON t.case_id = c.id WHERE {held} "
            f"ORDER BY c.id DESC LIMIT %s", [*cond_params, PG_TEXT_WALK, *held_params, want])


def _pg_walk_stopped(qs: QuerySet, before: int | None) -> bool:
    """Whether the list (after `before`) holds more than the PG_TEXT_WALK cases a walk reads (its
    ids on its own index, no row read): if not, a walk saw the whole list and its page is complete."""
    ids = (qs.filter(id__lt=before) if before else qs).order_by("-id").values_list("id", flat=True)
    try:
        sql, params = ids[PG_TEXT_WALK:PG_TEXT_WALK + 1].query.sql_with_params()
    except EmptyResultSet:  # a user with no case scope: an empty list, walked whole
        return False
    return len(_fetch(sql, list(params))) > 0


def _pg_text_index(qs: QuerySet, words: list[str], *, before: int | None = None, want: int | None = None,
                   budget: int | None = None) -> tuple[str, list[Any]]:
    """PostgreSQL, a search for rarer words: every case holding them, from the full-text index
    (a bitmap of its matches), each looked up by primary key in `qs` (the list without its text
    condition), newest first until `want` are found — SQL. With `budget`, instead (matches read,
    of them in the list) among the newest `budget` matches. The lookups are forced (LATERAL): left to itself the planner walks the text
    table newest first rebuilding each row's tsvector (50 µs a row), expecting the matches spread
    evenly over the ids — a village's name was 62 s for a district's first page — or, the
    lookup flattened into a join, walks the cases newest first to meet the matches (LIMIT 1, a
    primary key's one row, keeps it a lookup)."""
    table = connection.ops.quote_name(Case._meta.db_table)
    cond, cond_params = _where(qs.filter(id__lt=before) if before else qs)
    older = " AND case_id < %s" if before else ""
    matches = (f"SELECT case_id FROM cases_casetext WHERE {search.PG_VECTOR} @@ %s::tsquery{older} "
               f"ORDER BY case_id DESC")
    lookup = f"SELECT {table}.id FROM {table} WHERE {table}.id = m.case_id AND {cond} LIMIT 1"
    params = [search.pg_all(words), *([before] if before else []), *cond_params]
    if budget is not None:  # (matches read, of them in the list) among the newest `budget` matches
        return (f"SELECT COUNT(*), COUNT(c.id) FROM ({matches} LIMIT %s) AS m LEFT JOIN LATERAL ({lookup}) AS c "
                f"ON true", [params[0], budget, *cond_params])
    sql = f"SELECT m.case_id FROM ({matches} OFFSET 0) AS m JOIN LATERAL ({lookup}) AS c ON true"
    # the matches newest first, looked up until a page is found
    return f"{sql} ORDER BY m.case_id DESC LIMIT %s", [*params, want]


def page_ids(user: Any, *, cursor: str | None = None, offset: int = 0, limit: int = PAGE_LIMIT,
             count: bool = False, **filters: Any) -> tuple[list[int], str | None, int | None, bool]:
    """The ids of a page of case_list, newest first, chosen on an index with no join (see
    `_streams`; a text search walks the full-text index on SQLite, and on PostgreSQL either the
    index, for rare words, or the list, for common ones), after the cursor's id (keyset;
    `offset` is kept for old clients and costs what it skips); with the next cursor, and when
    `count` the total (count, capped): exact when not capped; capped, at least `count` — the
    count stopped at COUNT_CAP or at its reading budget (see `_at_least` and docs/figures.md)."""
    qs = case_list(user, **filters).select_related(None).order_by()
    before = decode_cursor(cursor) if cursor else None
    want = offset + limit + 1
    streams, hint = _streams(user, filters)
    text = (filters.get("text") or "").strip()
    text_sql = plain = bounds = pg_words = None
    pg_walk = False
    if text:
        qs = qs.filter(hint) if hint is not None else qs
        ticket = normalise_ticket(text)
        words = [] if _TICKET.match(ticket) or _TICKET_PART.match(ticket) else search.query_terms(text)
        if words:
            plain = case_list(user, **{**filters, "text": ""}).select_related(None)
            plain = plain.filter(hint) if hint is not None else plain
        if words and connection.vendor == "postgresql":
            pg_words = words
            pg_walk = _pg_text_rows(words) >= PG_TEXT_WALK_MIN
        elif words:
            if hint is not None:
                place_ids = Case.objects.filter(hint).values_list("id", flat=True)
                index = _PLACE_INDEX[hint.children[0][0]]
                low, high = _run(place_ids.order_by("id")[:1], index), _run(place_ids.order_by("-id")[:1], index)
                bounds = (low[0], high[0]) if low else (0, 0)
            text_sql = _text_sql(plain, text, before, bounds=bounds)
            text_sql = (text_sql[0], [*text_sql[1], want]) if text_sql else None
    # Only the unfiltered list of a district (or wider) walks the ids: a filter may match few of its cases.
    walk = not any(filters.values()) and _wide_scope(user)
    ids_qs = qs.filter(id__lt=before) if before else qs
    if pg_words is not None:
        ids = _fetch(*_pg_text_walk(plain, pg_words, before=before, want=want)) if pg_walk else []
        if len(ids) < want and (not pg_walk or _pg_walk_stopped(plain, before)):
            # a short page before the end of the list: the walk may have missed older matches, the index has them all
            pg_walk = False
            ids = _fetch(*_pg_text_index(plain, pg_words, before=before, want=want))
    elif text_sql is not None:
        ids = _fetch(*text_sql)
    elif text:
        ids = list(ids_qs.order_by("-id").values_list("id", flat=True)[:want])
    else:
        # the streams' equalities stand for the filter they replace (an IN list or an OR, which
        # would cost SQLite the index's order)
        base = ids_qs
        if streams[0].replaces:
            base = case_list(user, **{**filters, streams[0].replaces: _EMPTY[streams[0].replaces]}).select_related(None)
            base = base.filter(id__lt=before) if before else base
        if connection.vendor == "postgresql" and not walk and all(stream.index for stream in streams):
            ids = _pg_stream_ids(base, streams, want)
        else:
            found: set[int] = set()
            for stream in streams:
                order = ["-id"] if walk else stream.order_by()
                found.update(_run(base.filter(stream.q).order_by(*order).values_list("id", flat=True)[:want],
                                  "" if walk else stream.index))
            ids = sorted(found, reverse=True)[:want]
    ids = ids[offset:]
    more = len(ids) > limit
    ids = ids[:limit]
    total, capped = None, False
    if count and not more and before is None and not offset:
        total = len(ids)  # the whole list is on this first page: nothing to count
    elif count:
        if pg_words is not None:
            with connection.cursor() as c:
                if pg_walk:  # a common word: the matches among the newest PG_TEXT_COUNT_BUDGET cases of the list
                    c.execute(*_pg_text_walk(plain, pg_words, budget=PG_TEXT_COUNT_BUDGET))
                    n, m = c.fetchone()
                    total, capped = _at_least(int(m), n >= PG_TEXT_COUNT_BUDGET)
                else:  # rarer words: the newest PG_TEXT_COUNT_BUDGET matches of the index, looked up in the list
                    c.execute(*_pg_text_index(plain, pg_words, budget=PG_TEXT_COUNT_BUDGET))
                    n, m = c.fetchone()
                    total, capped = _at_least(m, n >= PG_TEXT_COUNT_BUDGET)
        elif text_sql is not None:
            total, capped = _fts_count(plain, text, bounds)
        elif (not any(v for k, v in filters.items() if k != "node") or text or filters.get("mine")
              or (filters.get("overdue") and filters.get("category") is None)):
            # The scope (and area) alone: the path index holds it, covering (no table row read). Overdue: the
            # running states' deadline index holds exactly the overdue cases. Mine: its streams
            # may overlap (a case filed by me and handled by my department), so the database
            # counts the condition itself, on the indexes of its parts.
            counted = qs
            if not any(v for k, v in filters.items() if k != "node") and not handler_departments(user):
                # in path order, so that both databases read the path index alone and stop at the cap
                counted = qs.order_by("org_path").values("org_path")
            if text:
                # rare words on PostgreSQL (through the index), a ticket: at most TEXT_COUNT_BUDGET matches
                n = counted[:TEXT_COUNT_BUDGET].count()
                total, capped = _at_least(n, n >= TEXT_COUNT_BUDGET)
            else:
                n = counted[:COUNT_CAP + 1].count()
                total, capped = min(n, COUNT_CAP), n > COUNT_CAP
        else:
            total, capped = _budget_count(qs, streams)
        if before is None and not offset and more and (total is None or capped) and (total or 0) <= limit:
            total, capped = limit + 1, True  # this page and the next case are in the list: at least that many
    return ids, encode_cursor(ids[-1]) if more else None, total, capped


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
    chosen first on an index (`page_ids`), then those rows alone are read and their names
    attached from the caches. `count` adds the total, counted up to COUNT_CAP."""
    ids, next_cursor, total, capped = page_ids(user, cursor=cursor, offset=offset, limit=limit, count=count,
                                               **filters)
    cases = attach_related(list(Case.objects.filter(pk__in=ids).order_by("-id"))) if ids else []
    return CasePage(cases=cases, next_cursor=next_cursor, count=total, count_capped=capped)


@dataclass
class ListRow:
    """One row of the staff list page, read as plain values (no model instance) with the names
    it shows from the per-process caches; the page formats it."""

    id: int
    ticket: str
    title: str
    urgency: str
    state: str
    tier: str
    category: str
    place: str
    handler: str
    created_at: datetime
    deadline_at: datetime | None
    deadline_estimated: bool
    deadline: str  # "overdue", "near" or "" (deadline_mark's kind)


_ROW_COLUMNS = ("id", "ticket", "title", "urgency", "state", "tier", "category_id", "grid_id", "community_id",
                "building_id", "handling_department_id", "handling_node_id", "created_at", "deadline_at",
                "deadline_estimated", "subdistrict_id")


def _name(key: str, pk: int | None, load: Any) -> str:
    if pk is None:
        return ""
    return caching.get((key, pk), lambda: load(pk) or "")


def _node_name(pk: int) -> str:
    return OrgNode.objects.filter(pk=pk).values_list("name", flat=True).first()


def _category_name(pk: int) -> str:
    return Category.objects.filter(pk=pk).values_list("name", flat=True).first()


def _department_name(pk: int) -> str:
    return Department.objects.filter(pk=pk).values_list("name", flat=True).first()


def list_rows(ids: list[int], now: datetime | None = None) -> list[ListRow]:
    """The staff list's rows of these cases (ids of one page, already chosen in scope), newest
    first: one query by primary key, names from the caches, the deadline mark as the deadline
    watch sees it (jiedao.cases.catalogue.sla)."""
    from jiedao.cases.catalogue.sla import near_threshold

    if not ids:
        return []
    now = now or timezone.now()
    near: dict[int | None, datetime] = {}
    rows = []
    for (pk, ticket, title, urgency, state, tier, category_id, grid_id, community_id, building_id, department_id,
         handling_node_id, created_at, deadline_at, estimated, subdistrict_id) in (
            Case.objects.filter(pk__in=ids).order_by("-id").values_list(*_ROW_COLUMNS)):
        mark = ""
        if state in RUNNING and deadline_at is not None:
            if deadline_at < now:
                mark = "overdue"
            else:
                if subdistrict_id not in near:
                    near[subdistrict_id] = near_threshold(subdistrict_id, now)
                mark = "near" if deadline_at <= near[subdistrict_id] else ""
        place = _name("node-name", grid_id, _node_name) or _name("node-name", community_id, _node_name)
        if building_id is not None:
            place = f"{place} · {_name('node-name', building_id, _node_name)}"
        handler = (_name("department-name", department_id, _department_name)
                   or _name("node-name", handling_node_id, _node_name))
        rows.append(ListRow(pk, ticket, title, urgency, state, tier,
                            _name("category-name", category_id, _category_name), place, handler,
                            created_at, deadline_at, estimated, mark))
    return rows


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
    tiered 大事 or 小事 — and not internal (a case filed for the staff only, e.g. a safety hazard
    escalated to joint enforcement, whose text names the business)."""
    return Q(accepted_at__isnull=False, tier__in=PUBLIC_TIERS, internal=False)


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
