"""Text at the boundary: the one normaliser for every piece of text a person or a client sends.

The rule (docs/architecture.md, "Text at the boundary"):

- **Refused** (400 naming the field or parameter), never stored and never stripped silently:
  C0 control characters except TAB, LF and CR (so NUL, BEL, VT, FF, ESC …), DEL and the C1
  controls U+0080–U+009F, and lone surrogates (U+D800–U+DFFF, which JSON's "\\ud800" can carry).
  A NUL cannot be stored by PostgreSQL at all, the others make XML ill-formed or hide text.
  TAB, LF and CR are ordinary whitespace and allowed everywhere.
- **Removed** from stored text: bidirectional formatting characters — embeddings and overrides
  U+202A–U+202E, isolates U+2066–U+2069, and the marks U+200E, U+200F, U+061C. They are invisible,
  carry no meaning in Chinese text and can make a title read differently from what it says.
- **Stripped** instead of refused: the names of uploaded files (`file_name`).
- **NFC**: stored text is in Unicode Normalization Form C, so the same words are the same bytes
  (search and duplicate checks compare bytes). NFC also maps the CJK compatibility ideographs
  (U+F900–U+FAFF) to their unified forms.

Where it is applied: query parameters and the request path of every request, and form bodies of
pages and Open311 (`TextBoundaryMiddleware`); JSON and form bodies of the API (`TextParser`,
installed on the NinjaAPI); and again in the services (`clean_text`), for callers that are not
requests (commands, imports). Outputs: `xml_text` drops whatever XML 1.0 forbids, for values
stored before the rule existed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from jiedao.core.errors import DomainError

# Refused: C0 but TAB/LF/CR, DEL, C1, and surrogates (only lone ones can exist in a str).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Removed: bidirectional embeddings/overrides, isolates and marks.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# What XML 1.0 does not allow in a document at all (its Char production), plus the C1 controls
# and DEL, which it discourages and some parsers refuse.
_NOT_XML = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class TextRefused(DomainError):
    """A character that is refused at the boundary (see the module docstring)."""

    def __init__(self, message: str, *, field: str | None, char: str) -> None:
        super().__init__(message, field=field, code="invalid_character")
        self.char = char


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def printable(text: str) -> str:
    """`text` with each refused character written as its code point (for naming a field)."""
    return _FORBIDDEN.sub(lambda found: codepoint(found.group()), text)


def forbidden_char(text: str) -> str | None:
    """The first refused character in `text`, or None."""
    found = _FORBIDDEN.search(text)
    return found.group() if found else None


def refusal(char: str, *, field: str | None, label: Any = None, where: str = "field") -> TextRefused:
    """The 400 for a refused character, in Chinese, naming the input: by its label where the
    caller knows it (services: "描述含有…"), else by its name as a body field, a query parameter
    (`where="param"`) or the request path (`where="path"`)."""
    if field:
        field = printable(field)  # the refusal names it: it must itself be sendable
    surrogate = "\ud800" <= char <= "\udfff"
    if label:
        message = (_("%(name)s含有无效的 Unicode 字符（孤立的代理项 %(code)s），请检查编码。") if surrogate
                   else _("%(name)s含有不允许的控制字符（%(code)s），请删除后重试。"))
    elif where == "path":
        message = (_("请求路径含有无效的 Unicode 字符（孤立的代理项 %(code)s）。") if surrogate
                   else _("请求路径含有不允许的控制字符（%(code)s）。"))
    elif where == "param":
        message = (_("参数 %(name)s 含有无效的 Unicode 字符（孤立的代理项 %(code)s），请检查编码。") if surrogate
                   else _("参数 %(name)s 含有不允许的控制字符（%(code)s），请删除后重试。"))
    elif field:
        message = (_("字段 %(name)s 含有无效的 Unicode 字符（孤立的代理项 %(code)s），请检查编码。") if surrogate
                   else _("字段 %(name)s 含有不允许的控制字符（%(code)s），请删除后重试。"))
    else:
        message = (_("请求含有无效的 Unicode 字符（孤立的代理项 %(code)s），请检查编码。") if surrogate
                   else _("请求含有不允许的控制字符（%(code)s），请删除后重试。"))
    name = printable(str(label)) if label else field
    return TextRefused(message % {"name": name, "code": codepoint(char)}, field=field, char=char)


def check(text: str, *, field: str | None, label: Any = None, where: str = "field") -> None:
    """Raise the 400 if `text` holds a refused character."""
    char = forbidden_char(text)
    if char is not None:
        raise refusal(char, field=field, label=label, where=where)


def normalize(text: str) -> str:
    """NFC without bidirectional formatting characters (the text was checked first)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _BIDI.sub("", text))


def clean(text: str, *, field: str | None, label: Any = None) -> str:
    """The normaliser: refuse, then normalise."""
    check(text, field=field, label=label)
    return normalize(text)


def keeps_exact(name: str) -> bool:
    """Fields passed on exactly as typed (checked, never rewritten): secrets are compared
    byte for byte, so NFC or a removed mark would change them."""
    lowered = name.lower()
    return "password" in lowered or "token" in lowered or lowered == "api_key"


def clean_value(value: Any, *, field: str) -> Any:
    """A decoded JSON value with every string (keys too) checked and normalised; `field` is the
    dotted path reported in a refusal."""
    if isinstance(value, str):
        check(value, field=field or None)
        return value if keeps_exact(field.rsplit(".", 1)[-1]) else normalize(value)
    if isinstance(value, list):
        return [clean_value(item, field=f"{field}.{index}") for index, item in enumerate(value)]
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            path = f"{field}.{key}" if field else str(key)
            if isinstance(key, str):
                check(key, field=path)
            cleaned[key] = clean_value(item, field=path)
        return cleaned
    return value


def file_name(name: str) -> str:
    """An uploaded file's name, stripped rather than refused (it is metadata the client's system
    made, and refusing the file for it would help nobody): refused characters and bidirectional
    controls removed — an override can make "报告\u202excod.exe" read as "报告exe.docx" — then NFC."""
    return unicodedata.normalize("NFC", _BIDI.sub("", _FORBIDDEN.sub("", name)))


def xml_text(value: str) -> str:
    """`value` with every character XML 1.0 cannot carry removed: outputs use it for values that
    were stored before the boundary refused them."""
    return _NOT_XML.sub("", value)


# --- requests: refusal responses ------------------------------------------------------------------

# path prefix → how a refusal is answered there (an app registers its own format, e.g. Open311).
_RESPONDERS: list[tuple[str, Callable[[Any, TextRefused], Any]]] = []


def register_responder(prefix: str, responder: Callable[[Any, TextRefused], Any]) -> None:
    """Answer refusals under `prefix` with `responder(request, error)` (an app's error format)."""
    _RESPONDERS[:] = [(p, r) for p, r in _RESPONDERS if p != prefix]
    _RESPONDERS.append((prefix, responder))
    _RESPONDERS.sort(key=lambda item: -len(item[0]))


def responder_for(path: str) -> Callable[[Any, TextRefused], Any] | None:
    for prefix, responder in _RESPONDERS:
        if path.startswith(prefix):
            return responder
    return None
