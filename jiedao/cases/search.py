"""Full-text search over case titles and descriptions, for Chinese without a word segmenter.

**Terms.** `terms(title, description)` cuts each text, width-folded, lower-cased and without
punctuation or spaces (`plain_text`), into its distinct characters (unigrams, so that a one-
character query finds something) and character bigrams. A query of two or more characters
matches a case holding all of its bigrams; of one character, the cases holding that character.
Bigrams need no dictionary, never miss a word a segmenter would cut differently, and are what
most Chinese full-text systems without a segmenter index.

**Storage.** One `CaseText` row per case (`case_id`, the space-separated terms), written by the
code that writes the case, in the same transaction — `services.case_create` (a child row of
the intake insert), the demo seeder (`demo.py`) and the bulk history (`bulk.py`) through
`index_cases` / `index_rows`; titles and descriptions are never edited afterwards. On top of it
(migration `cases/0011_case_text_index`):

- SQLite: an FTS5 table `cases_casetext_fts` with `content='cases_casetext'` (external content,
  the terms are stored once), `tokenize='ascii'` (splits at ASCII spaces only, so our terms are
  its tokens exactly) and `detail='none'` (no positions: we never ask for phrases). Three
  triggers on `cases_casetext` keep it in step with the rows (an FTS5 external-content table must
  be told about every insert, update and delete).
- PostgreSQL: a GIN index on `array_to_tsvector(string_to_array(terms, ' '))`, matched with a
  `tsquery` built here (the terms as lexemes, no text-search parser or configuration involved).

**Queries.** `matching_ids(text)` is a subquery of the matching case ids, for
`Case.objects.filter(pk__in=…)` after `scope.restrict`: the index answers "which cases hold
these words", scope and every other filter stay in the ORM. `similar_ids(text, within)` picks
the candidates for the similar-case check: among the ids of `within` (a scoped queryset), the
cases holding any of up to `SIMILAR_GROUPS` runs of six characters of the text, ranked by the
bigrams they share with it, at most `limit`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

FTS_TABLE = "cases_casetext_fts"
PG_VECTOR = "array_to_tsvector(string_to_array(terms, ' '))"
MAX_QUERY_TERMS = 64  # bigrams of a search query used (evenly spread over a longer query)
SIMILAR_GROUPS = 24  # runs of RUN characters of a text used to find its likely duplicates …
RUN = 6  # (a run is its five bigrams ANDed: selective, and cheap even when some bigrams are common)
SIMILAR_MATCHES = 1000  # … of the cases holding any run, the newest this many are ranked
INDEX_BATCH = 2000

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def plain(text: str) -> str:
    """Width-folded, lower-cased text with punctuation, spaces and control characters removed."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text or "").lower())


def _grams(text: str) -> list[str]:
    """Distinct unigrams and bigrams of one plain text, in order of first appearance."""
    seen: dict[str, None] = {}
    for i, char in enumerate(text):
        seen[char] = None
        if i + 1 < len(text):
            seen[text[i : i + 2]] = None
    return list(seen)


def terms(title: str, description: str) -> str:
    """The index terms of a case: distinct characters and character bigrams of the title and of
    the description (cut separately, so no bigram spans the two), space-separated."""
    seen = dict.fromkeys(_grams(plain(title)))
    seen.update(dict.fromkeys(_grams(plain(description))))
    return " ".join(seen)


def _spread(items: list[str], most: int) -> list[str]:
    """At most `most` of `items`, evenly spread (first and last kept)."""
    if len(items) <= most:
        return items
    step = (len(items) - 1) / (most - 1)
    return [items[round(k * step)] for k in range(most)]


def query_terms(text: str) -> list[str]:
    """The terms a search for `text` must all find: its bigrams (at most MAX_QUERY_TERMS, evenly
    spread over a long query), or its one character; [] when nothing searchable is left."""
    flat = plain(text)
    if len(flat) == 1:
        return [flat]
    bigrams = list(dict.fromkeys(flat[i : i + 2] for i in range(len(flat) - 1)))
    return _spread(bigrams, MAX_QUERY_TERMS)


def _groups(text: str) -> list[list[str]]:
    """Runs of RUN characters of `text` (every RUN-th position and the end, at most
    SIMILAR_GROUPS spread over the text), each as its bigrams; a shorter text is one group."""
    flat = plain(text)
    if len(flat) < 2:
        return [[flat]] if flat else []
    if len(flat) <= RUN:
        return [list(dict.fromkeys(flat[i : i + 2] for i in range(len(flat) - 1)))]
    starts = [*range(0, len(flat) - RUN + 1, RUN), len(flat) - RUN]
    runs = list(dict.fromkeys(flat[i : i + RUN] for i in starts))
    return [list(dict.fromkeys(run[i : i + 2] for i in range(RUN - 1))) for run in _spread(runs, SIMILAR_GROUPS)]


# --- the match expressions (terms are word characters only: nothing to escape) ---------------


def _fts_all(words: list[str]) -> str:
    return " AND ".join(f'"{w}"' for w in words)


def fts_match(words: list[str]) -> str:
    """The FTS5 MATCH expression finding every one of `words` (see `query_terms`)."""
    return _fts_all(words)


def pg_all(words: list[str]) -> str:
    """The tsquery (as text) finding every one of `words` (see `query_terms`)."""
    return " & ".join(f"'{w}'" for w in words)


def matching_ids(text: str) -> RawSQL | None:
    """A subquery of the ids of cases whose title or description holds every term of `text`
    (see `query_terms`), or None when `text` has nothing searchable. Unscoped: use it only as
    `scope.restrict(...).filter(pk__in=matching_ids(text))`."""
    words = query_terms(text)
    if not words:
        return None
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT case_id FROM cases_casetext WHERE {PG_VECTOR} @@ %s::tsquery", (pg_all(words),))
    return RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", (_fts_all(words),))


def similar_ids(text: str, within: QuerySet, *, limit: int) -> list[int]:
    """Ids of the cases among `within` (a scoped queryset of cases) that share the most bigrams
    with `text` among those holding at least one of its runs of RUN characters, best first, at
    most `limit`: the candidates of the similar-case check, found through the index whatever the
    age of the case or the size of the table. The index finds the cases holding a run (the
    newest SIMILAR_MATCHES of them); they are ranked here by the bigrams they share with the text,
    from their stored terms (cheaper than the databases' own ranking over every match)."""
    groups = _groups(text)
    if not groups:
        return []
    inner, inner_params = within.values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT case_id, terms FROM cases_casetext WHERE {PG_VECTOR} @@ %s::tsquery "
                f"AND case_id IN ({inner}) ORDER BY case_id DESC LIMIT %s",
                (" | ".join(f"({pg_all(g)})" for g in groups), *inner_params, SIMILAR_MATCHES))
        else:
            # `+rowid`: filter the matches by the scoped ids, rather than probe the index per id
            cursor.execute(
                f"SELECT t.case_id, t.terms FROM cases_casetext t WHERE t.case_id IN (SELECT rowid FROM {FTS_TABLE} "
                f"WHERE {FTS_TABLE} MATCH %s AND +rowid IN ({inner}) ORDER BY rowid DESC LIMIT %s)",
                (" OR ".join(f"({_fts_all(g)})" for g in groups), *inner_params, SIMILAR_MATCHES))
        rows = cursor.fetchall()
    flat = plain(text)
    wanted = {flat[i : i + 2] for i in range(len(flat) - 1)} or {flat}
    shared = [(len(wanted.intersection(terms.split())), pk) for pk, terms in rows]
    shared.sort(reverse=True)
    return [pk for _n, pk in shared[:limit]]


# --- writing the index ----------------------------------------------------------------------


def index_rows(rows: Iterable[tuple[int, str, str]], *, model: Any = None) -> int:
    """Write (or replace) the index row of each (case id, title, description); returns how many.
    For code that writes cases in bulk (seeders, migrations: pass the historical `CaseText`)."""
    if model is None:
        from jiedao.cases.models import CaseText as model
    cache: dict[tuple[str, str], str] = {}  # seeded histories repeat their texts
    count = 0
    batch: list[Any] = []

    def flush() -> None:
        model.objects.filter(case_id__in=[row.case_id for row in batch]).delete()
        model.objects.bulk_create(batch)
        batch.clear()

    for pk, title, description in rows:
        key = (title, description)
        found = cache.get(key)
        if found is None:
            if len(cache) > 50_000:
                cache.clear()
            found = cache[key] = terms(title, description)
        batch.append(model(case_id=pk, terms=found))
        count += 1
        if len(batch) >= INDEX_BATCH:
            flush()
    if batch:
        flush()
    return count


def index_cases(cases: Iterable[Any]) -> int:
    """`index_rows` for case instances already saved."""
    return index_rows((c.pk, c.title, c.description) for c in cases)


def index_all(*, model: Any = None, case_model: Any = None) -> int:
    """Index every case (the migration that creates the index, a repair after a manual fix)."""
    if case_model is None:
        from jiedao.cases.models import Case as case_model
    rows = case_model.objects.order_by("id").values_list("id", "title", "description").iterator(chunk_size=INDEX_BATCH)
    return index_rows(rows, model=model)
