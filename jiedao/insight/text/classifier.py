"""Category suggestion for residents' messages.

Model: multinomial logistic regression over four TF-IDF blocks (title words, title word pairs,
body words, character 1–3-grams; each block L2-normalised and weighted) plus one keyword-hit
feature per category, with the weights of a complement naive Bayes fitted on the same rows added
at a small weight (``nb_blend``: both are linear in the features, so the blend is one set of
weights and scoring does not change). The naive Bayes half learns from rare words the
regularised regression keeps near zero, which helps most where the history is small and the tree
carries the category (see docs/benchmarks.md). The category tree (一级/二级/三级分类) and the seed keywords of
:mod:`.lexicon` give weak supervision twice over:

* every second/third-level name (and its words) becomes a short pseudo-message labelled with its
  first-level category, so the tree teaches the model words that the history never showed;
* a message's hits on those names count towards their categories (the keyword features), so a
  single decisive word (社保, 油烟, 出租车) carries weight even in a long text.

Only the categories that the labelled history uses are predicted when there is history; with no
history at all (cold start) the tree's first-level categories are the label set.

Probabilities are temperature-calibrated on a held-out fifth of the history, so ``0.5`` means
roughly "right half of the time". A suggestion is flagged ``low_confidence`` when the top
probability is under the model's threshold or when the message has too few words the model knows
(gibberish, a bare greeting).

Inference runs without scikit-learn: the fitted weights are kept as plain numpy arrays, and one
message is scored by a gather over its known feature rows. A model serialises to bytes (numpy
``.npz`` plus JSON metadata, no pickle) with a format version.
"""

# ruff: noqa: SIM905  (word lists read best as one string per list)

from __future__ import annotations

import io
import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .features import (
    DEFAULT_TOKENS,
    MessageTokens,
    TokenConfig,
    char_gram_keys,
    char_ngrams,
    content_words,
    gram_key,
    grams_to_keys,
    keys_to_grams,
    message_tokens,
    prepare,
)
from .lexicon import SEED_KEYWORDS
from .normalize import normalize

__all__ = [
    "MODEL_FORMAT",
    "MODEL_VERSION",
    "CategoryModel",
    "EvalReport",
    "Example",
    "Suggestions",
    "TrainConfig",
    "evaluate",
    "train",
]

MODEL_FORMAT = "jiedao.insight.category"
MODEL_VERSION = 1
BLOCKS = ("t", "p", "w", "c")  # title words, title word pairs, body words, character n-grams

# Tree names that say nothing about a category.
_GENERIC = frozenset(
    "其他 其它 管理 建设 问题 政策 服务 人员 工作 事务 发展 改革 规划 监管 其他补贴 待遇 保护 事业 市场 行业 "
    "制度 体制 政府 机构 部门 相关".split()
)


@dataclass
class Example:
    """One message; ``label`` is its first-level category when known."""

    text: str
    label: str | None = None
    title: str = ""
    id: str = ""


# The share of a uniform distribution mixed into an uncalibrated model's probabilities (see
# CategoryModel._calibrated): its top probability stays under 1 - UNCALIBRATED_DOUBT * (1 - 1/K).
UNCALIBRATED_DOUBT = 0.1


@dataclass
class TrainConfig:
    tokens: TokenConfig = DEFAULT_TOKENS
    block_weights: dict[str, float] = field(default_factory=lambda: {"t": 2.0, "p": 0.5, "w": 1.0, "c": 1.0})
    C: float = 5.0  # inverse L2 strength of the logistic regression
    tree_weight: float = 1.0  # sample weight of one tree/seed pseudo-message
    tree_only_weight: float = 0.5  # … times this when the name comes from the tree alone
    keyword_scale: float = 1.0  # scale of the keyword-hit features
    max_keyword_classes: int = 3  # a name found under more categories than this is no keyword
    use_seeds: bool = True
    calibrate: bool = True
    low_confidence_below: float = 0.5  # calibrated top probability under this → low confidence
    min_known_features: int = 2  # fewer known words / char bigrams+ than this → low confidence
    max_iter: int = 1000
    solver: str = "newton-cg"
    tol: float = 1e-3
    min_df_chars: int = 1  # character n-grams seen in fewer real messages are dropped (tree names are kept)
    balanced: bool = False  # weigh real messages inversely to their category's frequency
    nb_blend: float = 0.1  # weight of a complement naive Bayes added to the regression's weights
    nb_alpha: float = 0.1
    char_tf: str = "log"  # character n-gram term frequency: "binary" or "log" (1 + log count)
    definition_docs: float = 0.0  # weight of one pseudo-message per second-level tree node (its names together)


class Suggestions(list):
    """``[(label, probability), ...]`` best first, with ``low_confidence`` and ``reason``."""

    def __init__(self, items: Iterable[tuple[str, float]] = (), low_confidence: bool = False, reason: str = ""):
        super().__init__(items)
        self.low_confidence = low_confidence
        self.reason = reason

    @property
    def label(self) -> str | None:
        return self[0][0] if self else None

    def __repr__(self) -> str:
        flag = ", low_confidence" if self.low_confidence else ""
        return f"Suggestions({list.__repr__(self)}{flag})"


# ---------------------------------------------------------------------------------------------
# weak supervision from the tree and the seeds


def _tree_rows(tree) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for r in tree or ():
        if isinstance(r, Mapping):
            vals = (
                r.get("一级分类") or r.get("level1") or "",
                r.get("二级分类") or r.get("level2") or "",
                r.get("三级分类") or r.get("level3") or "",
            )
        else:
            vals = (*list(r), "", "", "")[:3]
        l1, l2, l3 = (str(v or "").strip() for v in vals)
        if l1:
            rows.append((l1, l2, l3))
    return rows


def build_keywords(
    tree_rows: Sequence[tuple[str, str, str]],
    seeds: Mapping[str, Iterable[str]] | None,
    classes: Sequence[str],
) -> dict[str, dict[str, float]]:
    """keyword → {category: evidence}, for the given categories only."""
    wanted = set(classes)
    evidence: dict[str, Counter] = defaultdict(Counter)
    for l1, l2, l3 in tree_rows:
        if l1 not in wanted:
            continue
        for name in (l2, l3):
            if not name or name in _GENERIC:
                continue
            n = normalize(name, boilerplate=False)
            for tok in {n, *content_words(n)}:
                if len(tok) >= 2 and tok not in _GENERIC:
                    evidence[tok][l1] += 1.0
    for label, kws in (seeds or {}).items():
        if label not in wanted:
            continue
        for kw in kws:
            n = normalize(kw, boilerplate=False)
            if len(n) >= 2:
                evidence[n][label] += 2.0
    return {k: dict(v) for k, v in evidence.items()}


def _pseudo_docs(
    keywords: Mapping[str, Mapping[str, float]], cfg: TokenConfig
) -> list[tuple[MessageTokens, str, float]]:
    """One short pseudo-message per (keyword, category), with its evidence (tree name 1, seed 2)."""
    docs = []
    for kw, per_class in keywords.items():
        toks = MessageTokens([kw], [], [kw], char_ngrams(kw, cfg.char_min, cfg.char_max), kw)
        for label, evidence in per_class.items():
            docs.append((toks, label, evidence))
    return docs


def _definition_docs(
    tree_rows: Sequence[tuple[str, str, str]], classes: Sequence[str], cfg: TokenConfig, weight: float
) -> list[tuple[MessageTokens, str, float]]:
    """One pseudo-message per second-level node of the tree: its name and the names of its
    third-level nodes together — the node's definition, read as one message's title."""
    wanted = set(classes)
    nodes: dict[tuple[str, str], list[str]] = defaultdict(list)
    for l1, l2, l3 in tree_rows:
        if l1 in wanted and l2:
            if l3 and l3 not in nodes[(l1, l2)]:
                nodes[(l1, l2)].append(l3)
            else:
                nodes.setdefault((l1, l2), [])
    docs = []
    for (l1, l2), names in nodes.items():
        title = normalize("，".join([l2, *names]), boilerplate=False)
        toks = message_tokens(title, "", cfg, normalized=True)
        # evidence < 0 marks a definition: its weight is given as is (see train)
        docs.append((toks, l1, -weight))
    return docs


# ---------------------------------------------------------------------------------------------
# the model


class CategoryModel:
    """A trained category suggester. Build with :func:`train`, or :meth:`from_bytes`."""

    def __init__(
        self,
        labels: Sequence[str],
        vocab: dict[str, int],
        idf: np.ndarray,
        weights: np.ndarray,
        keyword_weights: np.ndarray,
        intercept: np.ndarray,
        keywords: dict[str, dict[str, float]],
        config: TrainConfig,
        temperature: float = 1.0,
        info: dict | None = None,
        calibration: dict | None = None,
    ):
        self.labels = list(labels)
        self.vocab = vocab  # "t:社保" → column
        self.idf = idf.astype(np.float32)
        self.weights = weights.astype(np.float32)  # (n_features, n_labels)
        self.keyword_weights = keyword_weights.astype(np.float32)  # (n_labels, n_labels)
        self.intercept = intercept.astype(np.float32)
        self.keywords = keywords
        self.config = config
        self.temperature = float(temperature)
        self.info = dict(info or {})
        # isotonic map of the top probability to the accuracy measured on held-back data, and the
        # low-confidence line drawn from it (see :func:`calibrate`); None: temperature only
        self.calibration = dict(calibration) if calibration else None
        self._label_index = {lab: i for i, lab in enumerate(self.labels)}
        self._build_tables()

    # -- features ------------------------------------------------------------------------------

    def _build_tables(self) -> None:
        """Per-block lookup tables token → (column, idf, keyword row or -1) for fast scoring."""
        kw_rows: dict[str, int] = {}
        vectors: list[np.ndarray] = []
        limit = self.config.max_keyword_classes
        for kw, per_class in self.keywords.items():
            if len(per_class) > limit:
                continue
            v = np.zeros(len(self.labels), dtype=np.float32)
            total = sum(per_class.values())
            for lab, n in per_class.items():
                j = self._label_index.get(lab)
                if j is not None:
                    v[j] = n / total
            if v.any():
                kw_rows[kw] = len(vectors)
                vectors.append(v)
        self._kw_matrix = np.vstack(vectors) if vectors else np.zeros((0, len(self.labels)), dtype=np.float32)
        self._kw_rows = kw_rows
        # words: token → (column, idf, keyword row or -1, informative); character n-grams, the bulk
        # of a message, as sorted integer keys looked up in numpy (see :func:`char_gram_keys`)
        tables: dict[str, dict[str, tuple[int, float, int, int]]] = {b: {} for b in BLOCKS if b != "c"}
        idf = self.idf.tolist()
        char_toks: list[str] = []
        char_cols: list[int] = []
        for name, col in self.vocab.items():
            if name[0] == "c":
                char_toks.append(name[2:])
                char_cols.append(col)
            else:
                tok = name[2:]
                tables[name[0]][tok] = (col, idf[col], kw_rows.get(tok, -1), 1)
        self._tables = tables
        n = len(self.vocab)
        keys = grams_to_keys(char_toks)
        cols = np.asarray(char_cols, dtype=np.int64)
        order = np.argsort(keys)
        self._char_keys = keys[order]
        self._char_key_cols = cols[order]
        self._col_kw = np.full(n, -1, dtype=np.int64)
        self._col_informative = np.zeros(n, dtype=np.int64)
        self._col_informative[cols[keys >= np.uint64(1 << 21)]] = 1  # grams of two or three characters
        if len(self._char_keys):
            for kw, row in kw_rows.items():
                if 0 < len(kw) <= 3 and all("\u4e00" <= ch <= "\u9fff" for ch in kw):
                    key = np.uint64(gram_key(kw))
                    pos = min(int(np.searchsorted(self._char_keys, key)), len(self._char_keys) - 1)
                    if self._char_keys[pos] == key:
                        self._col_kw[self._char_key_cols[pos]] = row
        self._idf64 = self.idf.astype(np.float64)

    def _row(self, toks: MessageTokens) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """(columns, values, count of known informative features, keyword-hit vector) of one message."""
        bw = self.config.block_weights
        col_parts: list[np.ndarray] = []
        val_parts: list[np.ndarray] = []
        known = 0
        kw_seen: dict[int, float] = {}
        log = math.log
        for block, bag in (("t", toks.title_words), ("p", toks.title_pairs), ("w", toks.body_words)):
            if not bag:
                continue
            table = self._tables[block]
            weight = 2.0 if block == "t" else 1.0
            bc: list[int] = []
            bv: list[float] = []
            ss = 0.0
            for tok, cnt in Counter(bag).items():
                e = table.get(tok)
                if e is None:
                    k = self._kw_rows.get(tok, -1)
                    if k >= 0 and kw_seen.get(k, 0.0) < weight:
                        kw_seen[k] = weight
                    continue
                v = e[1] if cnt == 1 else e[1] * (1.0 + log(cnt))
                bc.append(e[0])
                bv.append(v)
                ss += v * v
                if e[2] >= 0 and kw_seen.get(e[2], 0.0) < weight:
                    kw_seen[e[2]] = weight
                known += 1
            scale = bw.get(block, 1.0)
            if bc and ss > 0 and scale:
                col_parts.append(np.asarray(bc, dtype=np.int64))
                val_parts.append(np.asarray(bv) * (scale / math.sqrt(ss)))
        if toks.char_text and len(self._char_keys):
            # character n-grams (binary tf) as integer keys, looked up by binary search
            cfg = self.config.tokens
            sublinear = self.config.char_tf == "log"
            if sublinear:
                keys, counts = char_gram_keys(toks.char_text, cfg.char_min, cfg.char_max, counts=True)
            else:
                keys = char_gram_keys(toks.char_text, cfg.char_min, cfg.char_max)
            pos = np.minimum(np.searchsorted(self._char_keys, keys), len(self._char_keys) - 1)
            found = self._char_keys[pos] == keys
            idx = self._char_key_cols[pos[found]]
            scale = bw.get("c", 1.0)
            if len(idx) and scale:
                v = self._idf64[idx]
                if sublinear:
                    v = v * (1.0 + np.log(counts[found]))
                col_parts.append(idx)
                val_parts.append(v * (scale / math.sqrt(float(v @ v))))
                known += int(self._col_informative[idx].sum())
                for k in self._col_kw[idx][self._col_kw[idx] >= 0].tolist():
                    if kw_seen.get(k, 0.0) < 1.0:
                        kw_seen[k] = 1.0
        cols = np.concatenate(col_parts) if col_parts else np.zeros(0, dtype=np.int64)
        vals = np.concatenate(val_parts) if val_parts else np.zeros(0)
        hits = np.zeros(len(self.labels), dtype=np.float32)
        if kw_seen:
            rows = list(kw_seen)
            hits = np.asarray(list(kw_seen.values()), dtype=np.float32) @ self._kw_matrix[rows]
        return cols, vals, known, np.log1p(hits) * self.config.keyword_scale

    def _keyword_hits(self, toks: MessageTokens) -> np.ndarray:
        return self._row(toks)[3]

    def _tokens(self, text: str, title: str = "") -> MessageTokens:
        return message_tokens(title, text, self.config.tokens, grams=False)

    # -- scoring -------------------------------------------------------------------------------

    def _logits(self, toks: MessageTokens) -> tuple[np.ndarray, int]:
        cols, vals, known, hits = self._row(toks)
        z = self.intercept.copy()
        if len(cols):
            z += vals.astype(np.float32) @ self.weights[cols]
        if hits.any():
            z += hits @ self.keyword_weights
        return z, known

    def _probs(self, z: np.ndarray) -> np.ndarray:
        z = z / self.temperature
        z = z - z.max()
        e = np.exp(z)
        return e / e.sum()

    def suggest(self, text: str, k: int = 3, *, title: str = "") -> Suggestions:
        """The ``k`` likeliest categories of one message, best first, with probabilities."""
        toks = self._tokens(text, title)
        z, known = self._logits(toks)
        return self._suggestions(self._probs(z), known, k)

    @property
    def low_confidence_line(self) -> float:
        """Calibrated top probability under which a suggestion is flagged low-confidence."""
        if self.calibration and self.calibration.get("threshold") is not None:
            return float(self.calibration["threshold"])
        return self.config.low_confidence_below

    def _calibrated(self, p: np.ndarray) -> np.ndarray:
        """Probabilities with the top one mapped to the accuracy measured at that level on held-back
        data (isotonic), the rest scaled to share what is left; without one, as the temperature left
        them, or — not even a temperature fitted — with UNCALIBRATED_DOUBT mixed in."""
        cal = self.calibration
        if not cal or not cal.get("x"):
            if self.temperature != 1.0:  # temperature-calibrated on held-out cases: as fitted
                return p
            # Nothing measured how often this model is right (a cold start on the catalogue's
            # names): mix in a share of "don't know" so that no suggestion claims certainty it
            # never earned.
            return (1.0 - UNCALIBRATED_DOUBT) * p + UNCALIBRATED_DOUBT / len(p)
        top = int(np.argmax(p))
        raw = float(p[top])
        fitted = float(np.interp(raw, cal["x"], cal["y"]))
        q = p * ((1.0 - fitted) / (1.0 - raw)) if raw < 1.0 else np.zeros_like(p)
        q[top] = fitted
        return q

    def _suggestions(self, p: np.ndarray, known: int, k: int) -> Suggestions:
        p = self._calibrated(p)
        order = np.argsort(-p)[: max(1, k)]
        items = [(self.labels[i], round(float(p[i]), 4)) for i in order]
        low, reason = False, ""
        line = self.low_confidence_line
        if known < self.config.min_known_features:
            low, reason = True, "too few known words"
        elif items[0][1] < line:
            low, reason = True, f"top probability {items[0][1]:.2f} < {line:.2f}"
        return Suggestions(items, low_confidence=low, reason=reason)

    def raw_top(self, messages: Sequence) -> list[tuple[str, float]]:
        """(label, uncalibrated top probability) of each message: what :func:`calibrate` fits."""
        toks = [self._tokens(*_title_text(m)[::-1]) for m in messages]
        if not toks:
            return []
        X, _known, K = self._matrix(toks)
        Z = np.asarray(X @ self.weights) + self.intercept + K @ self.keyword_weights
        out = []
        for z in Z:
            p = self._probs(z)
            i = int(np.argmax(p))
            out.append((self.labels[i], float(p[i])))
        return out

    def suggest_many(self, messages: Iterable[Example | tuple[str, str] | str], k: int = 3) -> list[Suggestions]:
        """Batch form of :meth:`suggest` (one sparse product for all)."""
        toks = [self._tokens(*_title_text(m)[::-1]) for m in messages]
        if not toks:
            return []
        X, known, K = self._matrix(toks)
        Z = np.asarray(X @ self.weights) + self.intercept + K @ self.keyword_weights
        return [self._suggestions(self._probs(z), kn, k) for z, kn in zip(Z, known, strict=True)]

    def _matrix(self, toks: Sequence[MessageTokens]):
        """(sparse feature matrix, known-feature counts, keyword-hit matrix) of many messages."""
        from scipy import sparse

        indptr = [0]
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        known = []
        hits = []
        for t in toks:
            c, v, kn, h = self._row(t)
            cols.append(c)
            vals.append(v)
            indptr.append(indptr[-1] + len(c))
            known.append(kn)
            hits.append(h)
        X = sparse.csr_matrix(
            (
                np.concatenate(vals).astype(np.float32) if vals else np.zeros(0, dtype=np.float32),
                np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64),
                np.asarray(indptr),
            ),
            shape=(len(toks), len(self.vocab)),
        )
        K = np.vstack(hits) if hits else np.zeros((0, len(self.labels)), dtype=np.float32)
        return X, known, K

    def predict(self, messages: Iterable[Example | tuple[str, str] | str]) -> list[str]:
        return [s.label for s in self.suggest_many(messages, k=1)]

    # -- persistence ---------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Serialise: numpy .npz (no pickle) holding arrays and a JSON header."""
        vocab = sorted(self.vocab, key=self.vocab.__getitem__)
        cfg = asdict(self.config)
        meta = {
            "format": MODEL_FORMAT,
            "version": MODEL_VERSION,
            "labels": self.labels,
            "vocab": vocab,
            "keywords": self.keywords,
            "config": cfg,
            "temperature": self.temperature,
            "info": self.info,
            "calibration": self.calibration,
        }
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
            idf=self.idf,
            weights=self.weights,
            keyword_weights=self.keyword_weights,
            intercept=self.intercept,
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> CategoryModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("format") != MODEL_FORMAT:
                raise ValueError("not a jiedao category model")
            if meta.get("version") != MODEL_VERSION:
                raise ValueError(f"category model version {meta.get('version')} is not {MODEL_VERSION}: retrain it")
            cfg = dict(meta["config"])
            # a model saved before the setting existed counted its character n-grams as present or
            # absent: it must be scored as it was trained (and calibrated)
            cfg.setdefault("char_tf", "binary")
            cfg["tokens"] = TokenConfig(**cfg["tokens"])
            return cls(
                labels=meta["labels"],
                vocab={s: i for i, s in enumerate(meta["vocab"])},
                idf=z["idf"],
                weights=z["weights"],
                keyword_weights=z["keyword_weights"],
                intercept=z["intercept"],
                keywords=meta["keywords"],
                config=TrainConfig(**cfg),
                temperature=meta["temperature"],
                info=meta.get("info"),
                calibration=meta.get("calibration"),
            )


def _title_text(m) -> tuple[str, str]:
    if isinstance(m, Example):
        return m.title or "", m.text or ""
    if isinstance(m, str):
        return "", m
    if isinstance(m, Mapping):
        return m.get("title") or "", m.get("text") or ""
    title, text = m
    return title or "", text or ""


# ---------------------------------------------------------------------------------------------
# training


def _fit_vocab(
    docs: Sequence[MessageTokens], pseudo: Sequence[MessageTokens], min_df_chars: int = 1,
    tokens: TokenConfig = DEFAULT_TOKENS,
) -> tuple[dict[str, int], np.ndarray]:
    """Vocabulary of real and pseudo documents; IDF counted on the real ones (smoothed).

    Words first, then the character n-grams (each sorted), the grams counted as integer keys in
    numpy (a message's grams are never made into strings)."""
    df: Counter = Counter()
    for t in docs:
        df.update({"t:" + s for s in t.title_words} | {"p:" + s for s in t.title_pairs} | {"w:" + s for s in t.body_words})
    names = set(df)
    for t in pseudo:
        names.update("t:" + s for s in t.title_words)
        names.update("w:" + s for s in t.body_words)
    lo, hi = tokens.char_min, tokens.char_max
    empty = np.zeros(0, dtype=np.uint64)
    real_keys = [char_gram_keys(t.char_text, lo, hi) for t in docs]
    ukeys, udf = np.unique(np.concatenate(real_keys), return_counts=True) if real_keys else (empty, np.zeros(0))
    pseudo_keys = [char_gram_keys(t.char_text, lo, hi) for t in pseudo]
    ckeys = np.union1d(ukeys[udf >= min_df_chars], np.concatenate(pseudo_keys) if pseudo_keys else empty)
    cdf = np.zeros(len(ckeys))
    if len(ukeys) and len(ckeys):
        pos = np.minimum(np.searchsorted(ukeys, ckeys), len(ukeys) - 1)
        found = ukeys[pos] == ckeys
        cdf[found] = udf[pos[found]]
    vocab = {s: i for i, s in enumerate(sorted(names))}
    n = len(docs)
    word_idf = [math.log((1 + n) / (1 + df.get(s, 0))) + 1.0 for s in vocab]
    off = len(vocab)
    # n-grams in string order, so that grams sharing a prefix sit together (the model file compresses better)
    grams = np.array(keys_to_grams(ckeys), dtype="<U3")
    order = np.argsort(grams, kind="stable")
    cdf = cdf[order]
    vocab.update(zip(["c:" + g for g in grams[order].tolist()], range(off, off + len(ckeys)), strict=True))
    idf = np.concatenate([np.asarray(word_idf), np.log((1 + n) / (1 + cdf)) + 1.0]).astype(np.float32)
    return vocab, idf


def _prototype(real, pseudo, classes, keywords, cfg: TrainConfig) -> CategoryModel:
    """An untrained model holding the vocabulary of ``real`` and ``pseudo`` token bags."""
    vocab, idf = _fit_vocab(real, pseudo, cfg.min_df_chars if len(real) < 2000 else max(cfg.min_df_chars, 2),
                            cfg.tokens)
    return CategoryModel(
        labels=classes,
        vocab=vocab,
        idf=idf,
        weights=np.zeros((len(vocab), len(classes)), dtype=np.float32),
        keyword_weights=np.zeros((len(classes), len(classes)), dtype=np.float32),
        intercept=np.zeros(len(classes), dtype=np.float32),
        keywords=keywords,
        config=cfg,
    )


def _fit_rows(proto: CategoryModel, XK, y: np.ndarray, w: np.ndarray, rows: np.ndarray, init=None):
    """Fit the logistic regression on ``rows`` of the feature matrix; returns (coef, intercept) over
    all of the model's labels (a label absent from ``rows`` gets a very low intercept)."""
    from sklearn.linear_model import LogisticRegression

    cfg = proto.config
    n_labels = len(proto.labels)
    yr = y[rows]
    if len(set(yr.tolist())) < 2:
        raise ValueError("need at least two categories to train")
    clf = LogisticRegression(
        C=cfg.C, max_iter=cfg.max_iter, solver=cfg.solver, tol=cfg.tol, warm_start=init is not None
    )
    if init is not None and set(yr.tolist()) == set(range(n_labels)):
        clf.coef_, clf.intercept_ = init[0].copy(), init[1].copy()
    clf.fit(XK[rows], yr, sample_weight=w[rows])
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # two categories: sklearn keeps one row; make it two-sided
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    full_coef = np.zeros((n_labels, XK.shape[1]))
    full_int = np.full(n_labels, -1e3)
    for row, label_idx in enumerate(clf.classes_):
        full_coef[label_idx] = coef[row]
        full_int[label_idx] = intercept[row]
    return full_coef, full_int


def _nb_blend(coef, intercept, XK, y, w, rows, n_labels: int, cfg: TrainConfig):
    """The logistic regression's weights plus ``cfg.nb_blend`` times those of a complement naive
    Bayes fitted on the same rows (both are linear in the features, so the blend is one model)."""
    from scipy import sparse

    Xr = XK[rows]
    Y = sparse.csr_matrix((w[rows], (np.arange(len(rows)), y[rows])), shape=(len(rows), n_labels))
    fc = np.asarray((Y.T @ Xr).todense())  # (labels, features): weighted feature mass per class
    comp = fc.sum(axis=0, keepdims=True) - fc  # mass of every other class
    alpha = cfg.nb_alpha
    logc = np.log(comp + alpha) - np.log(comp.sum(axis=1, keepdims=True) + alpha * comp.shape[1])
    nb = -logc
    nb -= nb.mean(axis=0, keepdims=True)  # the same shift for every class changes nothing
    return coef + cfg.nb_blend * nb, intercept


def _install(proto: CategoryModel, coef: np.ndarray, intercept: np.ndarray) -> CategoryModel:
    nv = len(proto.vocab)
    proto.weights = coef[:, :nv].T.astype(np.float32).copy()
    proto.keyword_weights = coef[:, nv:].T.astype(np.float32).copy()
    proto.intercept = intercept.astype(np.float32)
    return proto


def _best_temperature(Z: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises the held-out negative log-likelihood."""
    if len(y) == 0:
        return 1.0
    best_t, best_nll = 1.0, float("inf")
    for t in np.exp(np.linspace(math.log(0.25), math.log(8.0), 41)):
        s = Z / t
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        nll = -float(logp[np.arange(len(y)), y].mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def train(
    examples: Iterable[Example],
    tree=None,
    *,
    seeds: Mapping[str, Iterable[str]] | None = None,
    config: TrainConfig | None = None,
    random_state: int = 0,
) -> CategoryModel:
    """Train a category model.

    ``examples``: labelled messages (may be empty for a cold start from the tree alone).
    ``tree``: rows (一级, 二级, 三级) or dicts with those keys, e.g. from :func:`io.read_tree`.
    ``seeds``: keyword lists per category; default :data:`lexicon.SEED_KEYWORDS` (pass ``{}`` for none).
    """
    t0 = time.perf_counter()
    cfg = config or TrainConfig()
    labelled = [e for e in examples if e.label]
    rows = _tree_rows(tree)
    # with history, only its categories are predicted; without, the tree's first level
    classes = sorted({e.label for e in labelled}) if labelled else sorted({r[0] for r in rows})
    if len(classes) < 2:
        raise ValueError("need at least two categories (from examples or the tree)")
    if seeds is None:
        seeds = SEED_KEYWORDS if cfg.use_seeds else {}
    keywords = build_keywords(rows, seeds, classes)
    pseudo = _pseudo_docs(keywords, cfg.tokens)
    if cfg.definition_docs:
        pseudo += _definition_docs(rows, classes, cfg.tokens, cfg.definition_docs)

    body_chars = max(cfg.tokens.word_chars, cfg.tokens.char_chars)
    real_toks = [message_tokens(*prepare(e.title, e.text, body_chars), cfg.tokens, normalized=True, grams=False)
                 for e in labelled]
    real_labels = [e.label for e in labelled]
    pseudo_toks = [t for t, _, _ in pseudo]
    pseudo_labels = [lab for _, lab, _ in pseudo]
    # a name found only in the tree weighs less than a seed keyword (the tree is broader and noisier)
    pseudo_weights = [-ev if ev < 0 else cfg.tree_weight * (1.0 if ev >= 2 else cfg.tree_only_weight)
                      for _, _, ev in pseudo]

    from scipy import sparse

    # one vocabulary and one feature matrix: real messages first, then the pseudo-messages
    proto = _prototype(real_toks, pseudo_toks, classes, keywords, cfg)
    X, _, K = proto._matrix(real_toks + pseudo_toks)
    XK = sparse.hstack([X, sparse.csr_matrix(K)]).tocsr()
    y = np.array([classes.index(lab) for lab in real_labels + pseudo_labels])
    real_w = [1.0] * len(real_toks)
    if cfg.balanced and real_labels:
        counts = Counter(real_labels)
        real_w = [len(real_labels) / (len(counts) * counts[lab]) for lab in real_labels]
    w = np.asarray(real_w + pseudo_weights, dtype=np.float64)
    n_real = len(real_toks)
    pseudo_rows = np.arange(n_real, n_real + len(pseudo_toks))

    temperature, init = 1.0, None
    held_out = _calibration_split(real_labels, random_state) if cfg.calibrate else None
    if held_out is not None:
        fit_idx, cal_idx = held_out
        fit_rows = np.concatenate([np.asarray(fit_idx, dtype=np.int64), pseudo_rows])
        coef, intercept = _fit_rows(proto, XK, y, w, fit_rows)
        init = (coef, intercept)
        if cfg.nb_blend:
            coef, intercept = _nb_blend(coef, intercept, XK, y, w, fit_rows, len(classes), cfg)
        Z = np.asarray(XK[cal_idx] @ coef.T) + intercept
        temperature = _best_temperature(Z, y[cal_idx])
    all_rows = np.arange(XK.shape[0])
    coef, intercept = _fit_rows(proto, XK, y, w, all_rows, init=init)
    if cfg.nb_blend:
        coef, intercept = _nb_blend(coef, intercept, XK, y, w, all_rows, len(classes), cfg)
    model = _install(proto, coef, intercept)
    model.temperature = temperature
    model.info = {
        "trained_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "examples": len(labelled),
        "pseudo_examples": len(pseudo_toks),
        "tree_rows": len(rows),
        "train_seconds": round(time.perf_counter() - t0, 3),
        "label_counts": dict(Counter(real_labels)),
    }
    return model


def _calibration_split(labels: Sequence[str], random_state: int):
    """A stratified 80/20 split of the history, or None when it is too small to spare a fifth."""
    counts = Counter(labels)
    if len(labels) < 40 or min(counts.values(), default=0) < 3:
        return None
    rng = np.random.default_rng(random_state)
    fit_idx, cal_idx = [], []
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_label[lab].append(i)
    for idx in by_label.values():
        idx = list(rng.permutation(idx))
        n_cal = max(1, round(len(idx) * 0.2))
        cal_idx.extend(idx[:n_cal])
        fit_idx.extend(idx[n_cal:])
    return sorted(fit_idx), sorted(cal_idx)


# ---------------------------------------------------------------------------------------------
# calibration on held-back data


def isotonic(x: Sequence[float], y: Sequence[float]) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators fit of ``y`` (0/1) non-decreasing in ``x``: breakpoints for
    ``np.interp``. Each block's rate is smoothed as (hits + 1) / (n + 2), so a handful of right
    answers never becomes a promise of 100 %."""
    order = np.argsort(np.asarray(x, dtype=float), kind="stable")
    xs = np.asarray(x, dtype=float)[order]
    ys = np.asarray(y, dtype=float)[order]
    blocks: list[list[float]] = []  # [hits, n, x_lo, x_hi]
    for xi, yi in zip(xs, ys, strict=True):
        blocks.append([yi, 1.0, xi, xi])
        # pool while the rates do not rise (equal rates pool too, so a run of right answers is one
        # block whose smoothed rate grows with its size)
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            hits, n, _lo, hi = blocks.pop()
            blocks[-1][0] += hits
            blocks[-1][1] += n
            blocks[-1][3] = hi
    bx: list[float] = []
    by: list[float] = []
    for hits, n, lo, hi in blocks:
        rate = (hits + 1) / (n + 2)
        for v in (lo, hi) if hi > lo else (lo,):
            if bx and v <= bx[-1]:
                v = bx[-1] + 1e-9
            bx.append(float(v))
            by.append(float(rate))
    return bx, by


@dataclass
class Calibration:
    """What :func:`calibrate` measured: the map, the line, and how it held on other cases."""

    fit_n: int  # cases the map and the line were fitted on
    eval_n: int  # cases they were checked on (never the same)
    target: float  # accuracy wanted above the line
    threshold: float  # calibrated top probability of the line
    above_n: int = 0  # evaluation cases at or above the line …
    above_accuracy: float | None = None  # … and how many of them were right
    below_n: int = 0
    below_accuracy: float | None = None
    bins: list[dict] = field(default_factory=list)  # reliability diagram on the evaluation cases

    def as_dict(self) -> dict:
        return asdict(self)


def _line(conf: np.ndarray, right: np.ndarray, target: float) -> float:
    """The lowest confidence such that the cases at or above it are right at least ``target`` of
    the time (1.01 when no line reaches it: every suggestion is then low-confidence)."""
    order = np.argsort(-conf, kind="stable")
    c, r = conf[order], right[order]
    hits = np.cumsum(r)
    n = np.arange(1, len(c) + 1)
    ok = hits / n >= target
    best = None
    for k in range(len(c)):
        # cut only between distinct values, and keep cuts with at least 5 cases above
        if ok[k] and n[k] >= 5 and (k == len(c) - 1 or c[k + 1] < c[k]):
            best = float(c[k])
    return round(best, 4) if best is not None else 1.01


def reliability(conf: Sequence[float], right: Sequence[bool], bins: int = 10) -> list[dict]:
    """Reliability diagram rows: per confidence bin, cases, mean confidence, accuracy."""
    out = []
    conf_a = np.asarray(conf, dtype=float)
    right_a = np.asarray(right, dtype=float)
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (conf_a >= lo) & ((conf_a < hi) if b < bins - 1 else (conf_a <= hi))
        n = int(mask.sum())
        out.append({"lo": lo, "hi": hi, "n": n,
                    "confidence": round(float(conf_a[mask].mean()), 4) if n else None,
                    "accuracy": round(float(right_a[mask].mean()), 4) if n else None})
    return out


def calibrate(model: CategoryModel, fit: Sequence[Example], check: Sequence[Example], *, target: float = 0.9,
              min_fit: int = 30) -> Calibration:
    """Calibrate ``model`` in place on held-back cases it never trained on.

    ``fit``: the older part of the held-back slice — the isotonic map of the top probability to
    the accuracy measured there, and the low-confidence line where the cases above it are right at
    least ``target`` of the time. ``check``: the newer part — where the calibrated confidences and
    the line are measured (reliability diagram, accuracy above and below the line). With fewer
    than ``min_fit`` cases to fit on, only the temperature calibration stays."""
    fit = [e for e in fit if e.label]
    check = [e for e in check if e.label]
    model.calibration = None
    if len(fit) >= min_fit:
        raw = model.raw_top(fit)
        x = [p for _lab, p in raw]
        y = [1.0 if lab == e.label else 0.0 for (lab, _p), e in zip(raw, fit, strict=True)]
        bx, by = isotonic(x, y)
        model.calibration = {"x": bx, "y": by}
        fitted = model.suggest_many(fit, k=1)
        conf = np.array([s[0][1] for s in fitted])
        model.calibration["threshold"] = _line(conf, np.array(y), target)
        model.calibration["target"] = target
    line = model.low_confidence_line
    sugg = model.suggest_many(check, k=1)
    conf = [s[0][1] for s in sugg]
    right = [s.label == e.label for s, e in zip(sugg, check, strict=True)]
    above = [r for c, r in zip(conf, right, strict=True) if c >= line]
    below = [r for c, r in zip(conf, right, strict=True) if c < line]
    cal = Calibration(
        fit_n=len(fit), eval_n=len(check), target=target, threshold=line,
        above_n=len(above), above_accuracy=round(sum(above) / len(above), 4) if above else None,
        below_n=len(below), below_accuracy=round(sum(below) / len(below), 4) if below else None,
        bins=reliability(conf, right),
    )
    if model.calibration is not None:
        model.calibration["measured"] = {k: v for k, v in cal.as_dict().items() if k != "bins"}
    return cal


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass
class EvalReport:
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]  # label → precision, recall, f1, support
    labels: list[str]
    confusion: list[list[int]]  # rows: true label, columns: predicted label (order of ``labels``)
    n: int
    low_confidence: int = 0
    low_confidence_accuracy: float | None = None

    def format(self) -> str:
        """A plain-text table (per-category precision/recall/F1, confusion matrix)."""
        lines = [
            f"messages: {self.n}",
            "",
            _pad("category", 16) + f"{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}",
        ]
        for lab in self.labels:
            pc = self.per_class[lab]
            lines.append(
                _pad(lab, 16) + f"{pc['precision']:>10.3f}{pc['recall']:>8.3f}{pc['f1']:>8.3f}{int(pc['support']):>9d}"
            )
        lines += ["", "confusion (rows: true, columns: predicted)"]
        short = [lab[:4] for lab in self.labels]
        lines.append(" " * 10 + "".join(_pad(s, 9, left=True) for s in short))
        for s, row in zip(short, self.confusion, strict=True):
            lines.append(_pad(s, 10) + "".join(f"{v:>9d}" for v in row))
        if self.n:
            lac = "-" if self.low_confidence_accuracy is None else f"{self.low_confidence_accuracy:.3f}"
            lines += ["", f"low confidence: {self.low_confidence}/{self.n} (their accuracy {lac})"]
        return "\n".join(lines)


def _pad(text: str, width: int, left: bool = False) -> str:
    """Pad to a display width (a Chinese character takes two columns)."""
    w = sum(2 if ord(c) > 0x2E80 else 1 for c in text)
    fill = " " * max(0, width - w)
    return fill + text if left else text + fill


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> tuple[float, float, dict, list[str], list[list[int]]]:
    """accuracy, macro-F1 (over labels in truth or prediction), per-class table, labels, confusion."""
    labels = sorted(set(y_true) | set(y_pred))
    index = {lab: i for i, lab in enumerate(labels)}
    cm = [[0] * len(labels) for _ in labels]
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t]][index[p]] += 1
    per_class = {}
    f1s = []
    for lab, i in index.items():
        tp = cm[i][i]
        pred = sum(cm[r][i] for r in range(len(labels)))
        sup = sum(cm[i])
        prec = tp / pred if pred else 0.0
        rec = tp / sup if sup else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": sup, "predicted": pred, "correct": tp}
        f1s.append(f1)
    n = len(y_true)
    acc = sum(cm[i][i] for i in range(len(labels))) / n if n else 0.0
    macro = sum(f1s) / len(f1s) if f1s else 0.0
    return acc, macro, per_class, labels, cm


def evaluate(model: CategoryModel, examples: Iterable[Example]) -> EvalReport:
    """Accuracy, macro-F1, per-class F1 and confusion of ``model`` on labelled ``examples``."""
    ex = [e for e in examples if e.label]
    sugg = model.suggest_many(ex, k=1)
    y_true = [e.label for e in ex]
    y_pred = [s.label for s in sugg]
    acc, macro, per_class, labels, cm = scores(y_true, y_pred)
    low = [i for i, s in enumerate(sugg) if s.low_confidence]
    low_acc = sum(y_true[i] == y_pred[i] for i in low) / len(low) if low else None
    return EvalReport(acc, macro, per_class, labels, cm, len(ex), len(low), low_acc)
