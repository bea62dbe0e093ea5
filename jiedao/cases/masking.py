"""Masking personal data typed into free text before a case is shown publicly (Open311 reads, the
residents' progress page).

What is masked:
- 18-digit ID numbers (the last character may be X), as the sealed ID mask shows them;
- mobile numbers (11 digits starting 13–19, with or without +86, spaces or dashes between the
  groups of 3-4-4) and landlines (0 + 2–3-digit area code + 7–8 digits, with or without a dash),
  as the sealed phone mask shows them;
- names: the case's own known names (its reporter, its linked resident) wherever they occur, and
  the 1–3 Chinese characters following a cue such as 我叫, 姓名, 联系人, 反映人 — and those again
  wherever they recur in the case's texts (the surname is kept: "张三" → "张*").

The limits, honestly: a name typed without a cue and not known to the case ("楼下王建国家漏水")
is not recognised; a cue followed by a non-name ("联系人不在家") is masked needlessly; a number
typed with other separators or in Chinese numerals (一三八…) is not recognised. Masking is for
publication only: the stored text is never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from jiedao.core import crypto

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# 3-4-4 with optional single spaces or dashes between the groups; +86 / 86 prefix optional.
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3})[ -]?\d{7,8}(?!\d)")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
# A cue, optional punctuation, then a name of 1–3 Chinese characters (a middle dot allowed for
# names like 阿依·买买提 is not handled: the first part is masked).
_NAME_CUE = re.compile(
    rf"(?P<cue>我叫|我的名字是|名字叫|名叫|本人叫|本人是|姓名|联系人|反映人|报告人|来电人)"
    rf"(?P<sep>\s*[:：是为叫]?\s*)(?P<name>[{_HAN}]{{1,3}})(?!\*)"  # not a name masked already
)


def _masked_number(match: re.Match, kind: str) -> str:
    return crypto.mask(match.group(), kind)


def _mask_name(name: str) -> str:
    """The surname stays, the rest is starred: 张三 → 张*, 欧阳娜娜 → 欧***."""
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_text(text: str | None, *, names: Iterable[str] = ()) -> str:
    """`text` with ID numbers, phone numbers and names masked (see the module's docstring)."""
    text = _ID_NUMBER.sub(lambda m: _masked_number(m, "id_number"), text or "")
    text = _MOBILE.sub(lambda m: _masked_number(m, "phone"), text)
    text = _LANDLINE.sub(lambda m: _masked_number(m, "phone"), text)
    # Known names first, longest first (so 陈阿姨 is masked before 陈 would be).
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, _mask_name(name))
    return _NAME_CUE.sub(lambda m: m.group("cue") + m.group("sep") + _mask_name(m.group("name")), text)


def cue_names(text: str | None) -> list[str]:
    """The names typed after a cue in `text` (我叫刘晓明 → 刘晓明)."""
    return [m.group("name") for m in _NAME_CUE.finditer(text or "")]


def case_names(case) -> list[str]:
    """The names a case knows of: its reporter's, its linked resident's (select the resident with
    the case: `select_related("resident")`) and those typed after a cue in its title or
    description — so a name introduced once is masked wherever else it is repeated."""
    return [case.reporter_name or "", case.resident.name if case.resident_id else "",
            *cue_names(case.title), *cue_names(case.description)]


def mask_case_text(case, text: str | None) -> str:
    """Free text of `case` masked for publication, with the case's own names."""
    return mask_text(text, names=case_names(case))
