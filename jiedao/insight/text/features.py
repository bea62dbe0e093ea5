"""Tokens for Chinese messages: jieba words together with character n-grams.

jieba is initialised once per process, quietly (its logger is lowered to WARNING), on a tokenizer
of our own whose dictionary cache lives in a directory under the system temp dir. Nothing is
written anywhere else.

Words come from the title and the head of the body (segmentation is the slow part, and the
problem is nearly always stated at the start); character n-grams, which are cheap, cover a longer
stretch of the body. :func:`message_tokens` returns the four bags the classifier weighs
separately: title words, title word bigrams, body words, character n-grams.
"""

# ruff: noqa: SIM905  (word lists read best as one string per list)

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from itertools import pairwise

from .normalize import normalize

__all__ = [
    "STOPWORDS",
    "MessageTokens",
    "TokenConfig",
    "char_gram_keys",
    "char_ngrams",
    "content_words",
    "get_tokenizer",
    "gram_key",
    "grams_to_keys",
    "keys_to_grams",
    "message_tokens",
    "prepare",
    "words",
]

_lock = threading.Lock()
_tokenizer = None


def get_tokenizer():
    """The process-wide jieba tokenizer (loaded on first use, about a second; then cached)."""
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba

            logging.getLogger("jieba").setLevel(logging.WARNING)
            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            cache_dir = os.path.join(tempfile.gettempdir(), "jiedao-jieba")
            os.makedirs(cache_dir, exist_ok=True)
            tok.tmp_dir = cache_dir
            tok.initialize()
            _tokenizer = tok
    return _tokenizer


# Words that occur in messages of every kind. Kept short on purpose: TF-IDF handles the rest.
STOPWORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 也 都 就 而 但 又 还 把 被 让 给 对 从 向 到 为 以 于 之 其 这 那 这个 那个 这些 那些
    这样 那样 什么 怎么 怎样 如何 为什么 为何 哪里 哪些 多少 是否 能否 可否 能不能 可不可以 有没有 是不是
    我 我们 你 你们 您 他 他们 她 它 它们 自己 大家 本人 人家 有 没有 没 不 无 很 非常 十分 特别 比较 太
    一 一个 一些 一直 已经 已 曾 正在 将 要 会 能 可以 可能 应该 应当 需要 必须 希望 请 请求 恳请 要求 建议
    问题 情况 事情 现在 目前 当时 今年 去年 明年 年 月 日 号 时 后 前 中 上 下 里 内 外 个 位 次 些 等 啊 吧 呢 吗 呀
    因为 所以 如果 虽然 但是 而且 并且 并 然后 因此 由于 关于 对于 根据 通过 按照 进行 相关 有关 部门 领导 政府
    市 区 县 镇 乡 村 省 请问 咨询 反映 投诉 举报 谢谢 感谢 您好 你好 尊敬 书记 市长 处理 解决 尽快
    """.split()
)

_TOKEN_OK = re.compile(r"[\u4e00-\u9fff]|[a-z]{2,}")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# Place codes of the anonymised data (a市, a3区, k8县) and bare numbers carry no topic.
_CODE = re.compile(r"^[a-z]\d*[市区县]?$|^\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class TokenConfig:
    """How much of a message is read, and how."""

    word_chars: int = 0  # body characters segmented into words (0: title only; the body is read as n-grams)
    char_chars: int = 600  # body characters cut into character n-grams
    char_min: int = 1
    char_max: int = 3


DEFAULT_TOKENS = TokenConfig()


def prepare(title: str | None, text: str | None, body_chars: int | None = None) -> tuple[str, str]:
    """Normalised (title, body); ``body_chars`` cuts the raw body first, to save time."""
    text = text or ""
    if body_chars is not None and len(text) > body_chars + 40:
        text = text[: body_chars + 40]
    return normalize(title or ""), normalize(text)


def words(text: str) -> list[str]:
    """jieba words of already normalised text (no HMM: faster, and steadier on rare names)."""
    if not text:
        return []
    return get_tokenizer().lcut(text, HMM=False)


def content_words(text: str) -> list[str]:
    """Words minus stop words, punctuation, single characters and place codes."""
    out = []
    for w in words(text):
        if len(w) < 2 or w in STOPWORDS or _CODE.match(w) or not _TOKEN_OK.search(w):
            continue
        out.append(w)
    return out


def char_ngrams(text: str, n_min: int = 1, n_max: int = 3) -> list[str]:
    """Character n-grams inside runs of Chinese characters (punctuation and Latin break runs)."""
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        length = len(run)
        for n in range(n_min, n_max + 1):
            if length < n:
                break
            grams.extend([run[i : i + n] for i in range(length - n + 1)])
    return grams


def gram_key(gram: str) -> int:
    """The integer key of a character 1–3-gram (see :func:`char_gram_keys`)."""
    key = 0
    for ch in gram:
        key = (key << 21) | ord(ch)
    return key


def char_gram_keys(text: str, n_min: int = 1, n_max: int = 3, *, counts: bool = False):
    """Distinct integer keys of the character n-grams of :func:`char_ngrams`, computed in numpy.

    A gram of code points (c0, c1, c2) has the key ``c0<<42 | c1<<21 | c2`` (code points fit in
    21 bits), so grams never collide and no substring objects are made. ``counts=True`` returns
    (keys, how often each occurs).
    """
    import numpy as np

    if not text:
        empty = np.zeros(0, dtype=np.uint64)
        return (empty, np.zeros(0, dtype=np.int64)) if counts else empty
    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    cjk = (cp >= 0x4E00) & (cp <= 0x9FFF)
    parts = []
    n = len(cp)
    for k in range(n_min, n_max + 1):
        if n < k:
            break
        ok = cjk[: n - k + 1].copy()
        key = cp[: n - k + 1].copy()
        for d in range(1, k):
            ok &= cjk[d : n - k + 1 + d]
            key = (key << np.uint64(21)) | cp[d : n - k + 1 + d]
        parts.append(key[ok])
    if not parts:
        empty = np.zeros(0, dtype=np.uint64)
        return (empty, np.zeros(0, dtype=np.int64)) if counts else empty
    if counts:
        return np.unique(np.concatenate(parts), return_counts=True)
    keys = np.sort(np.concatenate(parts))
    if len(keys) > 1:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return keys


@dataclass
class MessageTokens:
    title_words: list[str]
    title_pairs: list[str]
    body_words: list[str]
    chars: list[str]  # character n-grams as strings (training); empty when only char_text is kept
    char_text: str = ""  # the text the n-grams are cut from

    def all_strings(self) -> set[str]:
        return set(self.title_words) | set(self.body_words) | set(self.chars)


def message_tokens(
    title: str | None,
    body: str | None,
    cfg: TokenConfig = DEFAULT_TOKENS,
    *,
    normalized: bool = False,
    grams: bool = True,
) -> MessageTokens:
    """The token bags of one message. ``normalized=True`` skips :func:`prepare`;
    ``grams=False`` keeps only the text of the character n-grams (scoring uses their integer keys)."""
    if not normalized:
        title, body = prepare(title, body, max(cfg.word_chars, cfg.char_chars))
    title = title or ""
    body = body or ""
    tw = content_words(title) if title else []
    pairs = [a + b for a, b in pairwise(tw)]
    bw = content_words(body[: cfg.word_chars]) if body and cfg.word_chars > 0 else []
    char_text = title + "。" + body[: cfg.char_chars]
    chars = char_ngrams(char_text, cfg.char_min, cfg.char_max) if grams else []
    return MessageTokens(tw, pairs, bw, chars, char_text)


def keys_to_grams(keys) -> list[str]:
    """The character n-grams (up to three characters) of integer keys: :func:`gram_key` undone,
    in numpy (no per-gram Python arithmetic)."""
    import numpy as np

    keys = np.asarray(keys, dtype=np.uint64)
    if not len(keys):
        return []
    mask = np.uint64((1 << 21) - 1)
    cps = np.stack([(keys >> np.uint64(42)) & mask, (keys >> np.uint64(21)) & mask, keys & mask], axis=1)
    # left-align shorter grams (their leading code points are 0)
    lengths = (cps != 0).sum(axis=1)
    out = np.zeros_like(cps)
    for n in (1, 2, 3):
        rows = lengths == n
        out[rows, :n] = cps[rows, 3 - n :]
    return out.astype(np.uint32).view("<U3").ravel().tolist()


def grams_to_keys(grams: list[str]):
    """:func:`gram_key` of many n-grams of one to three characters, in numpy."""
    import numpy as np

    if not grams:
        return np.zeros(0, dtype=np.uint64)
    cps = np.array(grams, dtype="<U3").view(np.uint32).reshape(-1, 3).astype(np.uint64)
    keys = np.zeros(len(grams), dtype=np.uint64)
    for j in range(3):
        present = cps[:, j] != 0
        keys[present] = (keys[present] << np.uint64(21)) | cps[present, j]
    return keys
