"""Text normalisation for residents' messages.

Three independent steps, combined by :func:`normalize`:

* :func:`fold_width` – Unicode NFKC: full-width Latin letters, digits and punctuation become
  half-width (``ＡＢＣ１２３`` → ``ABC123``), the ideographic space becomes a plain space; Latin
  letters are lower-cased so ``A3区`` and ``ａ３区`` meet.
* :func:`to_simplified` – traditional → simplified Chinese (OpenCC ``t2s`` tables, pure Python,
  offline). Text that holds no traditional-only character skips the converter, which keeps the
  common case fast.
* :func:`strip_boilerplate` – drops what every message carries and that says nothing about its
  problem: redacted placeholders (``[电话]``), salutations (``尊敬的胡书记：您好！``), thanks and
  closing formulas (``此致敬礼``, ``盼复``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

__all__ = ["fold_width", "normalize", "strip_boilerplate", "to_simplified"]

_SPACES = re.compile(r"\s+")
# NFKC leaves a few look-alike punctuation marks of their own; unify those that matter.
_PUNCT_MAP = str.maketrans({"\u200b": "", "\ufeff": "", "\u00a0": " ", "·": "·", "•": "·", "—": "-", "–": "-"})


_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]+")


def _half(m: re.Match) -> str:
    return "".join(" " if c == "\u3000" else chr(ord(c) - 0xFEE0) for c in m.group())


def fold_width(text: str) -> str:
    """Full-width → half-width, then NFKC for whatever else is a compatibility form (①, ㎡);
    zero-width characters removed, Latin lower-cased."""
    if not text:
        return ""
    text = _FULL_WIDTH.sub(_half, text)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.translate(_PUNCT_MAP).lower()


# ---------------------------------------------------------------------------------------------
# traditional → simplified


@lru_cache(maxsize=1)
def _converter():
    """(OpenCC t2s converter or None, set of characters that trigger a conversion)."""
    try:
        import opencc  # opencc-python-reimplemented: pure Python, dictionaries inside the wheel
    except ImportError:  # pragma: no cover - dependency missing: leave text as it is
        return None, frozenset()
    converter = opencc.OpenCC("t2s")
    triggers: set[str] = set()
    table = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    try:
        with table.open(encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 2 and parts[1].split(" ")[0] != parts[0]:
                    triggers.add(parts[0])
    except OSError:  # pragma: no cover - unusual install: convert every text
        triggers = set()
    return converter, frozenset(triggers)


def to_simplified(text: str) -> str:
    """Traditional Chinese → simplified (phrase-aware, e.g. 頭髮→头发, 乾隆 stays)."""
    if not text:
        return ""
    converter, triggers = _converter()
    if converter is None:
        return text
    if triggers and triggers.isdisjoint(text):
        return text
    return converter.convert(text)


# ---------------------------------------------------------------------------------------------
# boilerplate

_TITLE = r"(?:领导|书记|市长|县长|区长|局长|主任|部长|省长|厅长|镇长|乡长|处长|科长|同志|先生|女士|政府|老师|各位|相关部门|工作人员)"
_BOILERPLATE = [
    # placeholders left by redaction, and links
    r"\[(?:电话|手机|姓名|地址|邮箱|身份证号?|qq|微信|网址|车牌号?)\]",
    r"https?://\S+",
    r"\*{3,}",
    # salutations: 尊敬的胡书记：您好！ / 尊敬的各位领导 / 领导您好 / 书记，你好
    r"尊敬的[^，。！？,.!?:：\s]{0,12}?" + _TITLE + r"[们]?[，,：:！!\s]*(?:您们?好|你们?好)?[，,：:！!。.\s]*",
    r"(?:^|(?<=[。！？!?\s]))[^，。！？,.!?:：\s]{0,6}"
    + _TITLE
    + r"[们]?[，,：:\s]*(?:您们?好|你们?好)[，,：:！!。.\s]*",
    r"(?:您们?好|你们?好)[，,：:！!。.\s]+",
    # thanks, requests for a reply, closing formulas
    r"(?:非常|十分|万分|再次|在此)?(?:感谢|谢谢)(?:您|你|各位|领导)?(?:百忙之中)?(?:的)?(?:关注|关心|支持|帮助|回复|查看|阅读|抽空|拨冗)?[^。！？!?]{0,12}?[！!。.]*\s*$",
    r"(?:非常|十分|万分)?(?:感谢|谢谢)(?:您|你|各位领导|领导)?(?:在)?百忙之中[^。！？!?]{0,20}[。！？!?]?",
    r"此致\s*敬礼[！!。.]*",
    r"(?:盼|望|期待|敬请|恳请|请)(?:领导)?(?:尽快|早日|及时)?(?:回复|答复|批复)[！!。.]*",
    r"(?:以上|上述)(?:情况|问题)?属实[！!。.]*",
]
# each pattern runs only when one of its needles is in the text (most messages have few formulas)
_NEEDLES = [
    ("[",),
    ("http",),
    ("***",),
    ("尊敬",),
    ("好",),
    ("好",),
    ("谢",),
    ("百忙",),
    ("此致",),
    ("复",),
    ("属实",),
]
_BOILERPLATE_RE = [(re.compile(p), n) for p, n in zip(_BOILERPLATE, _NEEDLES, strict=True)]
_GREETING_TAIL = re.compile(r"(?:谢谢|感谢)[！!。.\s]*$")


def strip_boilerplate(text: str) -> str:
    """Remove placeholders, salutations and closing formulas; collapse white space."""
    if not text:
        return ""
    for rx, needles in _BOILERPLATE_RE:
        if any(n in text for n in needles):
            text = rx.sub(" ", text)
    if "谢" in text:
        text = _GREETING_TAIL.sub("", text)
    return _SPACES.sub(" ", text).strip()


def normalize(text: str | None, *, boilerplate: bool = True) -> str:
    """Everything at once: fold widths, convert to simplified, strip boilerplate."""
    if not text:
        return ""
    text = to_simplified(fold_width(str(text)))
    if boilerplate:
        text = strip_boilerplate(text)
    return _SPACES.sub(" ", text).strip()
