"""Similar-case detection: which messages report the same problem.

Re-posts, follow-up chases and neighbours reporting the same site share the *place* and some of
the *problem* words; look-alikes share the words and name another river, another estate. So a
pair is judged on separate pieces of evidence:

* topic similarity — TF-IDF cosine over words and character bigrams of title and body, with the
  place names masked out (two complaints about one estate's lampblack and its cracked floors must
  not look alike merely because both name the estate);
* places (:mod:`.places`) — a shared *specific* place (few messages name it) is evidence for the
  pair; two different places of one kind (two estates, two schools, two rivers), above all in the
  titles, rule the pair out;
* anchors — rare title words both share (a platform, a project, a firm that is not written like a
  place: ``58车贷``) count like a shared place;
* copied text — the share of the shorter body's character 6-grams found in the other body. A
  re-post or a chase copies whole sentences whatever its new title says, so a pair with much copied
  text and no place disagreement is the same problem;
* template blanks — where two bodies run alike, do they write different names before the same
  generic word (…小区内的大风车幼儿园… / …小区内的三之三幼儿园…)? Then they are one template filled in
  for two places, a look-alike, even when neither name was recognised as a place.

Place names the set itself marks as sites (``愿景山水印象小区``, named so by two messages or more) are
also found where residents leave the suffix off (``愿景山水印象的房屋质量``), on word boundaries only.

With a shared place or anchor a little topical overlap is enough; without one the texts must be
near re-posts. Candidates come from sparse nearest neighbours (row blocks of ``X @ X.T``, top-k per
message) and from blocking on shared places and anchors — never a loop over all pairs, so the work
grows with the number of messages times k.

Finer places (:func:`.places.fine_places`: a stretch, junction, landmark, building, unit, door) that
differ at a level both messages state make a pair *related* — shown, never merged — even when the
words say the same problem; a pair sharing only a road, river or area needs more topical overlap
than one sharing an estate or a school.

Groups (:func:`group_around_main`): the message with the most same-problem links still free is a
main case; its linked messages join it, each only if it names no other place or finer place than
the members already in. Every member matches its main directly — no chain through intermediate
members (stretch A ~ a vague message ~ stretch B) makes one group.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .features import STOPWORDS, char_ngrams, get_tokenizer
from .lexicon import SEED_KEYWORDS
from .normalize import normalize
from .places import (
    GROUPS,
    SUFFIXES,
    Locator,
    Place,
    core_similarity,
    could_be_name,
    fine_places,
    locator_conflict,
    looks_like_name,
    place_spans,
    tokenize_for_places,
)

__all__ = [
    "Doc",
    "PairFeatures",
    "Result",
    "SimilarConfig",
    "analyse",
    "find_groups",
    "find_pairs",
    "group_around_main",
    "place_similarity",
    "run",
    "score_pairs",
]


@dataclass
class SimilarConfig:
    body_chars: int = 600  # body characters read
    neighbours: int = 25  # nearest neighbours per message
    min_candidate: float = 0.2  # cosine floor for a neighbour
    max_block: int = 200  # a place/anchor shared by more messages than this makes no block
    title_weight: float = 0.4  # share of the title in the topic similarity
    match_threshold: float = 0.06  # topic similarity needed with a shared specific place
    anchor_threshold: float = 0.10  # … with shared title names
    rare_threshold: float = 0.20  # … with shared rare title words
    free_threshold: float = 0.55  # … with neither
    strong_threshold: float = 0.6  # a link this strong joins groups without the average check
    group_threshold: float = 0.05  # mean topic similarity two groups need to be joined by a weak link
    hard_conflict: float = 0.75  # a place disagreement this strong rules a pair out
    min_specificity: float = 0.35  # a place named by too many messages is not specific
    anchor_share: float = 0.015  # a title word in at most this share of messages is rare …
    anchor_min_df: int = 30  # … or in at most this many
    max_group: int = 500  # larger groups return only their direct pairs
    shingle: int = 6  # characters per shingle of the copied-text check
    copy_threshold: float = 0.45  # share of the shorter body copied in the other: a re-post
    copy_conflict_penalty: float = 0.3  # … raised by this much per unit of (soft) place conflict
    slot_check: float = 0.25  # bodies sharing this much are checked for a template with two places
    line_threshold: float = 0.15  # topic similarity needed when only a road, river or area is shared
    fine_check: bool = True  # finer places (stretch, junction, building, door) that differ: related
    learn_names: bool = True  # find the set's own site names where no suffix marks them
    learned_min_len: int = 3  # shortest name learned …
    learned_min_marks: int = 2  # … and how many messages must mark it as a site
    problem_check: bool = True  # same site or name + the same problem words: little wording needed
    problem_threshold: float = 0.3  # cosine of the problem words (idf-weighted) that counts as agreement
    problem_topic: float = 0.03  # topic similarity needed then
    problem_max_share: float = 0.05  # a problem word in more messages than this share (and than 5) says nothing
    body_anchors: bool = True  # a rare title name written in the other message's body counts as an anchor
    # the problem words (see `problem_vocabulary`): the platform passes its own catalogue's names and
    # keywords; None stands for lexicon.py's cold-start words (the offline benches)
    problem_words: frozenset[str] | None = None


@dataclass
class Doc:
    id: str
    title: str
    body: str
    places: list[Place] = field(default_factory=list)
    title_places: list[Place] = field(default_factory=list)
    primary: list[Place] = field(default_factory=list)  # the title's places, else the body's first
    title_tokens: list[str] = field(default_factory=list)
    body_tokens: list[str] = field(default_factory=list)
    names: frozenset[str] = frozenset()  # name-like title words (see _name_like)
    rare: frozenset[str] = frozenset()  # rare dictionary words of the title
    fine: list[Locator] = field(default_factory=list)  # stretches, junctions, landmarks, numbers
    body_names: frozenset[str] = frozenset()  # name-like words of the body (see _name_like)
    problems: frozenset[str] = frozenset()  # problem words (lexicon keywords) of title and body


@dataclass
class PairFeatures:
    topic: float
    title: float
    body: float
    match: float = 0.0  # best specificity of a shared place (0 if none)
    conflict: float = 0.0  # strength of a place disagreement (0 if none)
    anchors: int = 0  # shared title names (see _name_like)
    rare: int = 0  # shared rare title words
    copy: float = 0.0  # share of the shorter body's character shingles found in the other body
    strong: int = 0  # rare names of one title written anywhere in the other message
    problem: float = 0.0  # cosine of the two messages' specific problem words
    slot: str = ""  # alike bodies naming different places in one slot (see _Index.slot_conflict)
    matched: str = ""
    conflicting: str = ""
    fine: str = ""  # two finer places that differ (榔梨≠黄泥圹): same road or river, another stretch
    related: bool = False  # the same problem by the text, at another finer place: shown, never merged
    line_only: bool = False  # the places shared are only roads, rivers or areas (no site)


# how strongly two different places of one kind say "another problem"
_KIND_CONFLICT = {
    "estate": 1.0,
    "school": 1.0,
    "hospital": 1.0,
    "water": 1.0,
    "firm": 0.6,
    "road": 0.7,
    "facility": 0.6,
    "area": 0.5,
    "line": 1.0,
}
_SITE_KINDS = frozenset({"estate", "school", "hospital", "firm", "facility"})


def _topic_tokens(tokens: Sequence[str], spans) -> tuple[list[str], list[str]]:
    """(words, words + character bigrams) of ``tokens`` with the place mentions left out."""
    masked = [False] * len(tokens)
    for x, y, _p in spans:
        for k in range(x, y + 1):
            masked[k] = True
    words = []
    pieces = []
    for tok, m in zip(tokens, masked, strict=True):
        if m:
            pieces.append("｜")
            continue
        pieces.append(tok)
        if len(tok) >= 2 and tok not in STOPWORDS and not tok.isdigit():
            words.append(tok)
    grams = ["#" + g for g in char_ngrams("".join(pieces), 2, 2)]
    return words, words + grams


def _name_like(tokens: Sequence[str], spans) -> tuple[set[str], set[str]]:
    """(names, rare words) of a title. Names are unknown to the dictionary — jieba leaves them as
    runs of single characters (58车贷案 → 车 贷 案) or as words it has no entry for; rare words are in
    the dictionary but seldom used (搅拌站, 违建): they often name the problem rather than the site."""
    freq = get_tokenizer().FREQ
    masked = set()
    for x, y, _p in spans:
        masked.update(range(x, y + 1))
    names: set[str] = set()
    rare: set[str] = set()
    run: list[str] = []
    for k, tok in enumerate([*tokens, "｜"]):
        single = k not in masked and len(tok) == 1 and "\u4e00" <= tok <= "\u9fff" and tok not in STOPWORDS
        if single:
            run.append(tok)
            continue
        if len(run) >= 2:
            name = "".join(run)
            names.add(name)
            if len(name) >= 3:  # 车贷案 meets 车贷
                names.update(name[x : x + 2] for x in range(len(name) - 1))
        run = []
        if k < len(tokens) and k not in masked and len(tok) >= 2 and tok not in STOPWORDS and not tok.isdigit():
            f = freq.get(tok)
            if not f:
                names.add(tok)
            elif f <= 20:
                rare.add(tok)
    return names, rare


def _fields(m) -> tuple[str, str, str]:
    if isinstance(m, Mapping):
        return str(m.get("id", "")), m.get("title") or "", m.get("text") or ""
    if hasattr(m, "id"):
        return str(m.id), getattr(m, "title", "") or "", getattr(m, "text", "") or ""
    mid, title, text = m
    return str(mid), title or "", text or ""


def analyse(messages: Iterable, config: SimilarConfig | None = None, *,
            known_places: Mapping[str, str] | None = None) -> list[Doc]:
    """Normalise each message, find its places and its (place-masked) topic tokens.

    ``known_places``: name → kind (estate, area, road …) of places the deployment knows — the
    names of its own org tree (communities, villages, grids) — found in the texts whether or not a
    generic suffix marks them."""
    cfg = config or SimilarConfig()
    vocabulary = _PROBLEM_WORDS if cfg.problem_words is None else cfg.problem_words
    docs = []
    segmented: list[tuple[list[str], list[str]]] = []
    for m in messages:
        mid, title, text = _fields(m)
        title = normalize(title)
        raw = text or ""
        body = normalize(raw[: cfg.body_chars + 60])[: cfg.body_chars]
        tt = tokenize_for_places(title)
        bt = tokenize_for_places(body)
        if cfg.learn_names:
            segmented.append((tt, bt))
        ts = place_spans(tt)
        bs = place_spans(bt)
        tp = list({(p.kind, p.core): p for _x, _y, p in ts}.values())
        places = list({(p.kind, p.core): p for _x, _y, p in ts + bs}.values())
        _tw, title_tokens = _topic_tokens(tt, ts)
        nm, rw = _name_like(tt, ts)
        bn = _name_like(bt, bs)[0] if cfg.body_anchors else set()
        _bw, body_tokens = _topic_tokens(bt, bs)
        fine = fine_places(title, tt) + [x for x in fine_places(body, bt) if x not in fine_places(title, tt)]
        docs.append(
            Doc(
                id=mid,
                fine=fine,
                title=title,
                body=body,
                places=places,
                title_places=tp,
                primary=tp or places[:3],
                title_tokens=title_tokens,
                body_tokens=title_tokens + body_tokens,
                names=frozenset(nm),
                rare=frozenset(rw),
                body_names=frozenset(bn),
                problems=_problem_words(tt + bt, vocabulary) if cfg.problem_check else frozenset(),
            )
        )
    if cfg.learn_names and len(docs) > 1:
        _add_learned_places(docs, segmented, cfg)
    if known_places:
        _add_known_places(docs, known_places)
    return docs


def _add_known_places(docs: Sequence[Doc], known: Mapping[str, str]) -> None:
    """The org tree's own names (三个字以上: a name that short is a word) wherever a text writes them."""
    names = sorted(((normalize(n), k) for n, k in known.items() if len(n) >= 3), key=lambda x: -len(x[0]))
    for d in docs:
        have = [p.text for p in d.places]
        for name, kind in names:
            if kind not in GROUPS or any(name in h or h in name for h in have):
                continue
            if name in d.title or name in d.body:
                place = Place(kind, name, name)
                have.append(name)
                d.places = [*d.places, place]
                if name in d.title:
                    d.title_places = [*d.title_places, place]
                d.primary = d.title_places or d.places[:3]


_LEARN_KINDS = ("estate", "school", "hospital", "facility", "firm")

# what a message complains about, in the words of the category definitions (lexicon.py), without
# the generic words that name a kind of place (小区, 学校: the place is judged on its own)
def problem_vocabulary(words: Iterable[str]) -> frozenset[str]:
    """The words of a category catalogue that say what a message complains about: two characters
    or more, without the generic words that name a kind of place (小区, 学校)."""
    return frozenset(w for w in words if len(w) >= 2 and w not in SUFFIXES)


_PROBLEM_WORDS = problem_vocabulary(w for words in SEED_KEYWORDS.values() for w in words)


def _problem_words(tokens: Iterable[str], vocabulary: frozenset[str]) -> frozenset[str]:
    """Problem words among the words (and inside longer words: 油烟味 has 油烟)."""
    if not vocabulary:
        return frozenset()
    longest = max(map(len, vocabulary))
    out = set()
    for tok in tokens:
        n = len(tok)
        if n < 2:
            continue
        if n == 2:
            if tok in vocabulary:
                out.add(tok)
            continue
        for x in range(n - 1):
            for y in range(x + 2, min(n, x + longest) + 1):
                if tok[x:y] in vocabulary:
                    out.add(tok[x:y])
    return frozenset(out)


def _add_learned_places(
    docs: Sequence[Doc], segmented: Sequence[tuple[list[str], list[str]]], cfg: SimilarConfig
) -> None:
    """Names the set itself marks as sites (愿景山水印象 in ``愿景山水印象小区``) are sites wherever
    they are written, with or without the suffix (``愿景山水印象的房屋质量``): residents drop the
    小区, the 学校. Each name found in a message that does not already name it is added to its
    places (and to the title's when in the title)."""
    kinds: dict[str, Counter] = defaultdict(Counter)
    for d in docs:
        for p in d.places:
            if p.kind in _LEARN_KINDS and len(p.core) >= cfg.learned_min_len:
                kinds[p.core][p.kind] += 1
    if not kinds:
        return
    freq = get_tokenizer().FREQ
    # a common word in front of a suffix (大部分小区, 小孩子学校) is no name
    learned = {
        core: c.most_common(1)[0][0]
        for core, c in kinds.items()
        if sum(c.values()) >= cfg.learned_min_marks and freq.get(core, 0) <= 20 and looks_like_name(core)
    }
    by_head: dict[str, list[str]] = defaultdict(list)
    for core in learned:
        by_head[core[:2]].append(core)
    for names in by_head.values():
        names.sort(key=len, reverse=True)

    def scan(tokens: list[str]) -> list[str]:
        """Names that start and end on word boundaries (中央政 is not in 中央政府)."""
        text = "".join(tokens)
        cuts, x = {0}, 0
        for t in tokens:
            x += len(t)
            cuts.add(x)
        found, i, n = [], 0, len(text)
        while i < n - 1:
            if i in cuts:
                for name in by_head.get(text[i : i + 2], ()):
                    if i + len(name) in cuts and text.startswith(name, i):
                        found.append(name)
                        i += len(name) - 1
                        break
            i += 1
        return found

    found = [(scan(tt), scan(bt)) for tt, bt in segmented]
    # a name written far more often than it is marked as a site is a phrase, not a name
    written: Counter = Counter()
    for ft, fb in found:
        written.update(set(ft) | set(fb))
    marked = {core: sum(c.values()) for core, c in kinds.items()}
    keep = {core for core in learned if written[core] <= 3 * marked[core] + 2}
    for d, (ft, fb) in zip(docs, found, strict=True):
        have = [p.text for p in d.places]
        new_title: list[Place] = []
        new_body: list[Place] = []
        for where, names in ((new_title, ft), (new_body, fb)):
            for core in names:
                if core not in keep:
                    continue
                if any(core in h or h in core for h in have):
                    continue
                have.append(core)
                where.append(Place(learned[core], core, core))
        if new_title or new_body:
            d.title_places = d.title_places + new_title
            d.places = d.places + new_title + new_body
            d.primary = d.title_places or d.places[:3]


def _shingles(docs: Sequence[Doc], n: int):
    """Binary matrix of the bodies' character n-grams (punctuation and spaces dropped) and each
    row's count: copied sentences — a re-post, a chase quoting the first message — share many."""
    from scipy import sparse

    vocab: dict[str, int] = {}
    indptr, cols = [0], []
    for d in docs:
        text = _NON_TEXT.sub("", d.body)
        row = {vocab.setdefault(text[x : x + n], len(vocab)) for x in range(len(text) - n + 1)}
        cols.extend(sorted(row))
        indptr.append(len(cols))
    data = np.ones(len(cols), dtype=np.float32)
    C = sparse.csr_matrix(
        (data, np.asarray(cols, dtype=np.int64), np.asarray(indptr)), shape=(len(docs), max(1, len(vocab)))
    )
    return C, np.diff(np.asarray(indptr)).astype(np.float32)


_NON_TEXT = re.compile(r"[^\u4e00-\u9fffa-z0-9]")
# generic words after a name: where a template's blank is filled in (…小区内的____幼儿园)
_SLOT_WORDS = tuple(
    sorted(
        {
            w
            for w in SUFFIXES
            if (len(w) >= 2 and SUFFIXES[w] in ("estate", "school", "hospital", "water", "road", "area"))
            or w in ("河", "江", "湖", "溪", "渠", "路", "街", "村", "镇")  # another river, road, village
        },
        key=len,
        reverse=True,
    )
)
_SLOT_RE = re.compile("|".join(map(re.escape, _SLOT_WORDS)))


def _uncovered_names(text: str, other: set[str], n: int) -> dict[str, set[str]]:
    """suffix word → the uncopied characters right before it, when they are a short blank between
    copied text: the names ``text`` writes where ``other`` (the other body's shingles) writes
    something else."""
    covered = [False] * len(text)
    for x in range(len(text) - n + 1):
        if text[x : x + n] in other:
            for k in range(x, x + n):
                covered[k] = True
    out: dict[str, set[str]] = defaultdict(set)
    for m in _SLOT_RE.finditer(text):
        x = m.start()
        if x == 0 or covered[x - 1]:
            continue
        y = x
        while y > 0 and x - y <= 8 and not covered[y - 1]:
            y -= 1
        if x - y <= 8 and (y == 0 or covered[y - 1]):  # a blank in copied words, not a sentence of its own
            out[m.group()].add(text[y:x])
    return out


def _differ(a: str, b: str) -> bool:
    """Two names, not one name and its typo or its longer form: after their common ends both keep
    two characters, neither holds the other, and both could be names (至于学校, 一所学校 are not)."""
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    a, b = a[k:], b[k:]
    k = 0
    while k < min(len(a), len(b)) and a[-1 - k] == b[-1 - k]:
        k += 1
    a, b = a[: len(a) - k], b[: len(b) - k]
    return len(a) >= 2 and len(b) >= 2 and core_similarity(a, b) < 0.5 and could_be_name(a) and could_be_name(b)


def _tfidf(bags: Sequence[Sequence[str]]):
    """Row-normalised TF-IDF matrix (sublinear tf) of token bags."""
    df: Counter = Counter()
    counted = [Counter(b) for b in bags]
    for c in counted:
        df.update(c.keys())
    vocab = {t: i for i, t in enumerate(df)}
    n = len(bags)
    idf = {t: math.log((1 + n) / (1 + k)) + 1.0 for t, k in df.items()}
    return _unit_rows(([(vocab[t], (1.0 + math.log(k)) * idf[t]) for t, k in c.items()] for c in counted),
                      n, len(vocab))


def _unit_rows(rows: Iterable[list[tuple[int, float]]], n: int, width: int):
    """A CSR matrix of `n` rows of (column, weight) pairs, each row scaled to unit length."""
    from scipy import sparse

    indptr, cols, vals = [0], [], []
    for row in rows:
        norm = math.sqrt(sum(v * v for _, v in row)) or 1.0
        cols.extend(j for j, _ in row)
        vals.extend(v / norm for _, v in row)
        indptr.append(len(cols))
    return sparse.csr_matrix(
        (np.asarray(vals, dtype=np.float32), np.asarray(cols, dtype=np.int64), np.asarray(indptr)),
        shape=(n, width),
    )


def _problem_matrix(bags: Sequence[frozenset[str]], max_share: float):
    """Row-normalised idf weights of each message's problem words, those in at most ``max_share``
    of the messages only (物业, 小区 are in too many to tell one problem from another)."""
    n = len(bags)
    df: Counter = Counter()
    for b in bags:
        df.update(b)
    keep = {w for w, k in df.items() if k <= max(5, max_share * n)}
    vocab = {w: i for i, w in enumerate(sorted(keep))}
    return _unit_rows(([(vocab[w], math.log((1 + n) / (1 + df[w])) + 1.0) for w in b if w in vocab] for b in bags),
                      n, max(1, len(vocab)))


def _rowdots(X, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
    """Dot products of rows ii[k] and jj[k] of the sparse matrix X, for all k at once."""
    if len(ii) == 0:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(X[ii].multiply(X[jj]).sum(axis=1)).ravel()


class _Index:
    """Everything pair scoring needs, computed once for the whole set."""

    def __init__(self, docs: Sequence[Doc], cfg: SimilarConfig):
        self.docs = docs
        self.cfg = cfg
        self.T = _tfidf([d.title_tokens for d in docs])
        self.B = _tfidf([d.body_tokens for d in docs])
        self.C, self.C_len = _shingles(docs, cfg.shingle)
        self.has_title = np.array([bool(d.title_tokens) for d in docs], dtype=bool)
        n = len(docs)
        df: Counter = Counter()
        for d in docs:
            df.update({p.core for p in d.places})
        self.place_df = df
        # a place named by a few messages is specific; one named by a large share is an area
        self._spec_cut = max(8.0, 0.02 * n)
        self._spec: dict[tuple[str, str], float] = {}
        wdf: Counter = Counter()
        for d in docs:
            wdf.update(d.names)
            wdf.update(d.rare)
        limit = max(cfg.anchor_min_df, cfg.anchor_share * n)
        self.anchors = [frozenset(w for w in d.names if 2 <= wdf[w] <= limit) for d in docs]
        self.rare = [frozenset(w for w in d.rare if 2 <= wdf[w] <= limit) for d in docs]
        # a rare name that titles put first (58车贷), also where another message writes it only in
        # its body; a run of characters written mostly in bodies (更多, 长达) is a phrase, no name
        tdf: Counter = Counter()
        for d in docs:
            tdf.update(d.names)
        mdf: Counter = Counter()
        for d in docs:
            mdf.update(d.names | {w for w in d.body_names if w in tdf})
        strong = {w for w, k in mdf.items() if 2 <= k <= limit and 2 * tdf[w] >= k}
        self.title_names = [d.names & strong for d in docs]
        self.mentions = [(d.names | d.body_names) & strong for d in docs]
        self.P = _problem_matrix([d.problems for d in docs], cfg.problem_max_share)
        # each message's specific main places, for the groups' cannot-link check
        self.main_places = [[p for p in d.primary if self.specificity(p) >= cfg.min_specificity] for d in docs]

    def slot_conflict(self, i: int, j: int) -> str:
        """Where the two bodies run alike, do they put different names before the same generic
        word (…内的大风车幼儿园 / …内的三之三幼儿园)? Returns the two names, or ""."""
        n = 4  # finer than the copy shingles: a template's words between blanks are short
        ta, tb = (_NON_TEXT.sub("", self.docs[k].body) for k in (i, j))
        sa = {ta[x : x + n] for x in range(len(ta) - n + 1)}
        sb = {tb[x : x + n] for x in range(len(tb) - n + 1)}
        na, nb = _uncovered_names(ta, sb, n), _uncovered_names(tb, sa, n)
        for word in na.keys() & nb.keys():
            if all(_differ(a, b) for a in na[word] for b in nb[word]):
                return f"{min(na[word])}{word}≠{min(nb[word])}{word}"
        return ""

    def copies(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Share of the shorter body's shingles that the other body has too."""
        shared = _rowdots(self.C, ii, jj)
        if len(ii) == 0:
            return shared
        return shared / np.maximum(1.0, np.minimum(self.C_len[ii], self.C_len[jj]))

    def specificity(self, place: Place) -> float:
        """How surely a shared mention of ``place`` points at one site.

        A named site (estate, school, hospital, firm, facility, line, river) is specific however
        many messages name it — twenty re-posts about one estate make its name frequent, not vague;
        only a name in a large share of all messages is treated as a word. Roads and areas lose
        specificity as more messages name them (a district road is named for many problems)."""
        key = (place.kind, place.core)
        s = self._spec.get(key)
        if s is None:
            k = self.place_df.get(place.core, 1)
            n = len(self.docs)
            if place.kind not in ("road", "area"):
                s = 1.0 if k <= max(30, 0.1 * n) else 0.3
            elif k <= 2:
                s = 1.0
            else:
                s = 1.0 - math.log(k / 2) / math.log(self._spec_cut / 2) * 0.65
                s = float(max(0.0, min(1.0, s)))
            self._spec[key] = s
        return s

    def topics(self, ii: np.ndarray, jj: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(topic, title, body) similarities of the pairs (ii[k], jj[k])."""
        t = _rowdots(self.T, ii, jj)
        b = _rowdots(self.B, ii, jj)
        w = np.where(self.has_title[ii] & self.has_title[jj], self.cfg.title_weight, 0.0)
        return (1 - w) * b + w * t, t, b


def place_similarity(p: Place, q: Place) -> float:
    """How surely two mentions name the same place (any kinds): 丽发新城小区 ~ 万家丽南路丽发新城."""
    s = core_similarity(p.core, q.core)
    if s < 0.9 and ((len(p.core) >= 2 and p.core in q.text) or (len(q.core) >= 2 and q.core in p.text)):
        s = 0.9
    return s


def _place_relation(i: int, j: int, index: _Index) -> tuple[float, float, str, str]:
    """(match specificity, conflict strength, matched names, conflicting names)."""
    da, db = index.docs[i], index.docs[j]
    if not da.places or not db.places:
        return 0.0, 0.0, "", ""
    min_spec = index.cfg.min_specificity
    best, best_names = 0.0, ""
    matched_a: set[Place] = set()
    matched_b: set[Place] = set()
    for p in da.places:
        for q in db.places:
            s = place_similarity(p, q)
            if s < 0.5:
                continue
            matched_a.add(p)
            matched_b.add(q)
            spec = min(index.specificity(p), index.specificity(q)) * s
            if "area" in (p.kind, q.kind):
                spec *= 0.6
            if spec > best:
                best, best_names = spec, f"{p.text}~{q.text}"
    if best >= min_spec:
        return best, 0.0, best_names, ""

    def specific(places: Sequence[Place], matched: set[Place]) -> list[Place]:
        return [p for p in places if p not in matched and index.specificity(p) >= min_spec]

    conflict, names = 0.0, ""
    # titles naming two different sites (an estate and a school count alike here)
    ta = [p for p in specific(da.title_places, matched_a) if p.kind in _SITE_KINDS]
    tb = [q for q in specific(db.title_places, matched_b) if q.kind in _SITE_KINDS]
    if ta and tb and not any(p in matched_a for p in da.title_places if p.kind in _SITE_KINDS):
        strong = any(p.kind in ("estate", "school", "hospital") for p in ta) and any(
            q.kind in ("estate", "school", "hospital") for q in tb
        )
        conflict, names = (1.0 if strong else 0.6), f"{ta[0].text}≠{tb[0].text}"
    # main places of one kind that differ
    for p in specific(da.primary, matched_a):
        for q in specific(db.primary, matched_b):
            if p.kind == q.kind:
                strength = _KIND_CONFLICT.get(p.kind, 0.5)
                if strength > conflict:
                    conflict, names = strength, f"{p.text}≠{q.text}"
    return best, conflict, best_names, names


def _decide(f: PairFeatures, cfg: SimilarConfig) -> tuple[bool, float]:
    if f.conflict >= cfg.hard_conflict:
        need = float("inf")  # two different estates, schools, rivers …: never the same problem
    elif f.match >= cfg.min_specificity:
        # a road or river is long: sharing only its name says less than sharing an estate or a school
        need = cfg.match_threshold if not f.line_only else max(cfg.match_threshold, cfg.line_threshold)
    elif (f.anchors or f.strong) and f.conflict == 0:
        need = cfg.anchor_threshold
    elif f.rare and f.conflict == 0:
        need = cfg.rare_threshold
    else:
        need = cfg.free_threshold + (1.0 - cfg.free_threshold) * f.conflict
    if (
        cfg.problem_check
        and f.problem >= cfg.problem_threshold
        and f.conflict == 0
        and not f.line_only
        and (f.match >= cfg.min_specificity or f.anchors or f.strong)
    ):
        # one site (an estate, a school) or one rare name, and the same problem words: residents
        # describing one problem each in their own words — never where the only place they share
        # is a road or river (another stretch of it is a look-alike, not the same problem)
        need = min(need, cfg.problem_topic)
    if f.slot:
        need = float("inf")  # one template, two places: a look-alike
    elif f.copy >= cfg.copy_threshold + cfg.copy_conflict_penalty * f.conflict and f.conflict < cfg.hard_conflict:
        need = min(need, 0.0)  # much of one body copied in the other: a re-post or a chase
    # a score that orders pairs: topic similarity, lifted by a shared place, lowered by a conflict
    score = f.topic + 0.5 * max(f.match, 0.6 if f.anchors or f.strong else 0.0) * (1 - f.topic) - 0.5 * f.conflict * f.topic
    return f.topic >= need, float(max(0.0, min(1.0, score)))


def score_pairs(pairs: Sequence[tuple[int, int]], index: _Index) -> list[tuple[int, int, bool, float, PairFeatures]]:
    """Judge the given index pairs: (i, j, same problem?, score, evidence)."""
    cfg = index.cfg
    if not pairs:
        return []
    ii = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
    jj = np.fromiter((p[1] for p in pairs), dtype=np.int64, count=len(pairs))
    topic, t, b = index.topics(ii, jj)
    copy = index.copies(ii, jj)
    problem = _rowdots(index.P, ii, jj) if cfg.problem_check else np.zeros(len(pairs))
    floor = min(cfg.match_threshold, cfg.anchor_threshold, cfg.rare_threshold, cfg.free_threshold)
    out = []
    for k in range(len(pairs)):
        i, j = int(ii[k]), int(jj[k])
        f = PairFeatures(float(topic[k]), float(t[k]), float(b[k]), copy=float(copy[k]), problem=float(problem[k]))
        agree = f.problem >= cfg.problem_threshold and f.topic >= cfg.problem_topic  # only with problem_check
        if f.topic < floor and f.copy < cfg.copy_threshold and not agree:
            out.append((i, j, False, f.topic, f))
            continue
        f.match, f.conflict, f.matched, f.conflicting = _place_relation(i, j, index)
        if f.match >= cfg.min_specificity:
            f.line_only = not _site_shared(i, j, index)
        f.anchors = len(index.anchors[i] & index.anchors[j])
        if cfg.body_anchors:
            f.strong = len((index.title_names[i] & index.mentions[j]) | (index.title_names[j] & index.mentions[i]))
        f.rare = len(index.rare[i] & index.rare[j])
        if f.match < cfg.min_specificity and f.conflict < cfg.hard_conflict and f.copy >= cfg.slot_check:
            f.slot = index.slot_conflict(i, j)
        same, score = _decide(f, cfg)
        if f.conflict < cfg.hard_conflict:
            # finer places that differ: never the same problem; "related" when the words said so
            f.fine = _fine_conflict(i, j, index)
            if f.fine:
                same, f.related = False, same
        out.append((i, j, same, score, f))
    return out


def _site_shared(i: int, j: int, index: _Index) -> bool:
    """True when the two messages share a site (estate, school, firm …), not only a road or area."""
    da, db = index.docs[i], index.docs[j]
    return any(
        place_similarity(p, q) >= 0.5 and p.group not in ("road", "water", "area") and q.group not in ("road", "water", "area")
        for p in da.places
        for q in db.places
    )


def _fine_conflict(i: int, j: int, index: _Index) -> str:
    da, db = index.docs[i], index.docs[j]
    if not index.cfg.fine_check or not da.fine or not db.fine:
        return ""
    return locator_conflict(da.fine, db.fine, da.title + "。" + da.body, db.title + "。" + db.body)


def group_around_main(
    n: int, edges: Iterable[tuple[int, int, float]], compatible
) -> list[tuple[int, list[int]]]:
    """Groups of items ``0..n-1`` from judged-same ``edges`` (i, j, score), each as (main, members
    with the main first): every member is linked *directly* to its group's main — never through
    another member, so no chain of look-alikes (stretch A ~ B ~ C) makes one group — and no two
    members are ``compatible(a, b) is False`` (two places). The main is the item with the most
    links still free, earliest first; members join strongest link first."""
    nbrs: dict[int, dict[int, float]] = defaultdict(dict)
    for i, j, s in edges:
        if i == j:
            continue
        nbrs[i][j] = max(s, nbrs[i].get(j, 0.0))
        nbrs[j][i] = max(s, nbrs[j].get(i, 0.0))
    order = sorted(nbrs, key=lambda x: (-len(nbrs[x]), -sum(nbrs[x].values()), x))
    taken: set[int] = set()
    out: list[tuple[int, list[int]]] = []
    for main in order:
        if main in taken:
            continue
        free = sorted((j for j in nbrs[main] if j not in taken), key=lambda j: (-nbrs[main][j], j))
        members = [main]
        for j in free:
            if all(compatible(j, m) for m in members[1:]):
                members.append(j)
        if len(members) > 1:
            taken.update(members)
            out.append((main, members))
    return out


def _candidates(index: _Index) -> set[tuple[int, int]]:
    cfg = index.cfg
    n = len(index.docs)
    pairs: set[tuple[int, int]] = set()
    if n < 2:
        return pairs
    X = index.B
    XT = X.T.tocsr()
    k = min(cfg.neighbours, n - 1)
    step = max(1, min(2000, 20_000_000 // max(1, n)))
    for start in range(0, n, step):
        S = (X[start : start + step] @ XT).tocsr()
        S.data[S.data < cfg.min_candidate] = 0
        S.eliminate_zeros()
        for r in range(S.shape[0]):
            i = start + r
            lo, hi = S.indptr[r], S.indptr[r + 1]
            cols, vals = S.indices[lo:hi], S.data[lo:hi]
            if len(cols) > k + 1:
                cols = cols[np.argpartition(-vals, k)[: k + 1]]
            for j in cols.tolist():
                if j != i:
                    pairs.add((i, j) if i < j else (j, i))
    # blocking on specific shared places and on shared rare title words
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(index.docs):
        keys = set()
        for p in d.places:
            if index.specificity(p) >= cfg.min_specificity:
                core = p.core
                # by the name's character pairs, so 万科魅力之城 meets 魅力之城 and 丽发 meets 丽发新城
                keys.update([core] if len(core) <= 2 else [core[x : x + 2] for x in range(len(core) - 1)])
        for key in keys:
            blocks["p:" + key].append(i)
        for w in index.anchors[i] | index.rare[i]:
            blocks["a:" + w].append(i)
        if cfg.body_anchors:
            for w in index.mentions[i]:
                blocks["m:" + w].append(i)
    for members in blocks.values():
        if 2 <= len(members) <= cfg.max_block:
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    pairs.add((members[x], members[y]))
    return pairs


@dataclass
class Result:
    docs: list[Doc]
    index: _Index
    pairs: dict[tuple[int, int], float]  # index pairs judged the same problem → score
    groups: list[list[int]]  # index groups of two or more
    judged: list[tuple[int, int, bool, float, PairFeatures]]  # every candidate pair with its evidence
    related: dict[tuple[int, int], str] = field(default_factory=dict)  # same text, other finer place

    def compatible(self, i: int, j: int) -> bool:
        """False when the two messages name different places (of one kind) or different finer
        places (stretch, junction, building, door): they may not sit in one group."""
        return _compatible(i, j, self.index)


def _compatible(i: int, j: int, index: _Index) -> bool:
    _m, conflict, _mn, _cn = _place_relation(i, j, index)
    return conflict < index.cfg.hard_conflict and not _fine_conflict(i, j, index)


def run(messages: Iterable, config: SimilarConfig | None = None, *,
        known_places: Mapping[str, str] | None = None) -> Result:
    """The whole analysis (docs, index, candidates, judgements, groups)."""
    cfg = config or SimilarConfig()
    docs = analyse(messages, cfg, known_places=known_places)
    index = _Index(docs, cfg)
    judged = score_pairs(sorted(_candidates(index)), index)
    accepted = sorted(((s, i, j, f) for i, j, same, s, f in judged if same), key=lambda r: -r[0])
    stars = group_around_main(len(docs), ((i, j, sc) for sc, i, j, _f in accepted), lambda a, b: _compatible(a, b, index))
    # every pair judged the same problem, whichever groups its two messages went to …
    pairs: dict[tuple[int, int], float] = {(i, j) if i < j else (j, i): sc for sc, i, j, _f in accepted}
    final_groups = [sorted(members) for _main, members in stars]
    extra = [
        (g[x], g[y]) for g in final_groups if len(g) <= cfg.max_group
        for x in range(len(g)) for y in range(x + 1, len(g)) if (g[x], g[y]) not in pairs
    ]
    if extra:  # … and the members of one group (each checked against every other when it joined)
        ii = np.array([p[0] for p in extra], dtype=np.int64)
        jj = np.array([p[1] for p in extra], dtype=np.int64)
        topic, _, _ = index.topics(ii, jj)
        for k, (i, j) in enumerate(extra):
            pairs[(i, j)] = float(topic[k])
    related = {(i, j): f.fine for i, j, _same, _s, f in judged if f.related}
    return Result(docs, index, pairs, final_groups, judged, related)


def find_pairs(messages: Iterable, config: SimilarConfig | None = None) -> list[tuple[str, str, float]]:
    """Pairs of message ids judged to report the same problem, with a score; best first.

    ``messages``: objects with ``id``, ``title``, ``text`` (e.g. :class:`io.Message`), mappings with
    those keys, or ``(id, title, text)`` tuples.
    """
    res = run(messages, config)
    out = []
    for (i, j), s in res.pairs.items():
        a, b = res.docs[i].id, res.docs[j].id
        out.append((a, b, s) if a <= b else (b, a, s))
    out.sort(key=lambda r: (-r[2], r[0], r[1]))
    return out


def find_groups(messages: Iterable, config: SimilarConfig | None = None) -> list[list[str]]:
    """Groups (two or more messages) that report one problem, largest first."""
    res = run(messages, config)
    out = [[res.docs[i].id for i in g] for g in res.groups]
    out.sort(key=lambda g: (-len(g), g[0]))
    return out
