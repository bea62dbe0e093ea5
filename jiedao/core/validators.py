"""Validators for Chinese codes and numbers. Each returns nothing or raises DomainError in Chinese."""

from __future__ import annotations

import functools
import re
from datetime import date
from operator import mul
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from jiedao.core import text as boundary
from jiedao.core.errors import DomainError

# re.ASCII: \d would take any Unicode digit (full-width １２３), which int() reads but whose blind
# index differs from the ASCII spelling's — the same person registered twice
_DIGITS = re.compile(r"^\d+$", re.ASCII)
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_MOBILE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$", re.ASCII)

# Expected code lengths per org node kind: 6 区划, +3 街道, +3 社区/村, +3 网格, +3 微网格.
CODE_LENGTHS: dict[str, tuple[int, ...]] = {
    "city": (6,),
    "district": (6,),
    "subdistrict": (9, 12),
    "community": (12,),
    "village": (12,),
    "grid": (15,),
    "microgrid": (18,),
}


def validate_node_code(code: str, kind: str, parent_code: str = "", *, field: str = "code") -> None:
    """Division codes: 12-digit statistical codes for sub-districts, communities and villages;
    grid codes of 15 digits (6 区划 + 3 街道 + 3 社区 + 3 网格), micro-grids one more group of 3.
    A child's code must extend its parent's code; buildings take free-form codes."""
    if not code:
        return
    if kind == "building":
        if len(code) > 24 or not re.match(r"^[0-9A-Za-z-]+$", code):
            raise DomainError(_("楼栋编码只能由数字、字母和连字符组成，最长 24 位。"), field=field)
        return
    lengths = CODE_LENGTHS.get(kind, ())
    if not _DIGITS.match(code) or len(code) not in lengths:
        wanted = _(" 或 ").join(str(n) for n in lengths)
        raise DomainError(_("编码应为 %(lengths)s 位数字，实际为“%(code)s”。") % {"lengths": wanted, "code": code}, field=field)
    if kind == "subdistrict" and len(code) == 12 and not code.endswith("000"):
        raise DomainError(_("街道的 12 位统计用区划代码应以 000 结尾。"), field=field)
    prefix = _code_prefix(parent_code)
    if prefix and kind != "district" and not code.startswith(prefix):
        raise DomainError(
            _("编码“%(code)s”应以上级编码的前 %(length)s 位“%(prefix)s”开头。")
            % {"code": code, "length": len(prefix), "prefix": prefix},
            field=field,
        )


def _code_prefix(parent_code: str) -> str:
    """The part of a parent code that every child code repeats."""
    if not parent_code:
        return ""
    if len(parent_code) == 12 and parent_code.endswith("000"):
        return parent_code[:9]  # a sub-district's 12-digit code: children share the first 9
    return parent_code


def validate_geojson_boundary(value: Any, *, field: str = "boundary") -> None:
    """A boundary is a GeoJSON Polygon or MultiPolygon (or a Feature wrapping one) in WGS-84."""
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise DomainError(_("边界应为 GeoJSON 对象。"), field=field)
    geometry = value.get("geometry") if value.get("type") == "Feature" else value
    if not isinstance(geometry, dict) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        raise DomainError(_("边界应为 GeoJSON 的 Polygon 或 MultiPolygon。"), field=field)
    polygons = geometry.get("coordinates")
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    if not isinstance(polygons, list) or not polygons:
        raise DomainError(_("边界缺少坐标。"), field=field)
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise DomainError(_("边界的多边形格式不正确。"), field=field)
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                raise DomainError(_("边界的每个环至少需要 4 个坐标点。"), field=field)
            if ring[0] != ring[-1]:
                raise DomainError(_("边界的每个环首尾坐标必须相同（闭合）。"), field=field)
            for point in ring:
                if (
                    not isinstance(point, list | tuple)
                    or len(point) < 2
                    or not all(isinstance(c, int | float) for c in point[:2])
                    or not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90)
                ):
                    raise DomainError(_("边界坐标应为 [经度, 纬度]，且在有效范围内。"), field=field)


def validate_phone(value: str, *, field: str = "phone") -> None:
    """Mainland mobile (11 digits starting 13-19) or landline with area code."""
    if not value:
        return
    compact = value.replace(" ", "")
    if not (_MOBILE.match(compact) or _LANDLINE.match(compact)):
        raise DomainError(
            _("电话号码“%(phone)s”格式不正确：应为 11 位手机号或带区号的固定电话。") % {"phone": value}, field=field
        )


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_check_char(first17: str) -> str:
    if len(first17) != 17:
        raise ValueError("an ID number's check character needs its first 17 characters")
    # map() in C rather than a generator: imports check this for every row.
    return _ID_CHECK[sum(map(mul, map(int, first17), _ID_WEIGHTS)) % 11]


def validate_id_number(value: str, *, field: str = "id_number", today: date | None = None) -> date:
    """GB 11643 citizen ID: 18 characters, a real birth date, the check character. Returns the birth date."""
    number = (value or "").strip().upper()
    if not _ID_SHAPE.match(number):
        raise DomainError(_("身份证号应为 18 位，前 17 位为数字，最后一位为数字或 X。"), field=field)
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise DomainError(_("身份证号中的出生日期 %(date)s 不存在。") % {"date": number[6:14]}, field=field) from None
    if born.year < 1890 or born > (today or date.today()):
        raise DomainError(_("身份证号中的出生日期 %(date)s 不合理。") % {"date": born.isoformat()}, field=field)
    if id_number_check_char(number[:17]) != number[17]:
        raise DomainError(_("身份证号校验位不正确，请核对。"), field=field)
    return born


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def validate_uscc(value: str, *, field: str = "uscc") -> None:
    """GB 32100 统一社会信用代码: 18 characters from the allowed set and the check character."""
    code = (value or "").strip().upper()
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        raise DomainError(_("统一社会信用代码应为 18 位数字或大写字母（不含 I、O、Z、S、V）。"), field=field)
    if uscc_check_char(code[:17]) != code[17]:
        raise DomainError(_("统一社会信用代码校验位不正确，请核对。"), field=field)


@functools.cache
def choice_values(choices: type[models.Choices]) -> frozenset:
    """The values of a choices enum as a set, built once: Django's `Choices.values` builds a
    list (and reads every lazy label) on each access, which showed up on the intake path."""
    return frozenset(choices.values)


def clean_text(value: Any, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """A free-text field through the text normaliser (jiedao.core.text: control characters and
    lone surrogates refused, bidirectional controls removed, NFC), stripped and checked: present
    when required, at most `max_length`."""
    text = boundary.clean(str(value or ""), field=field, label=label).strip()
    if required and not text:
        raise DomainError(_("请填写%(label)s。") % {"label": label}, field=field)
    if len(text) > max_length:
        raise DomainError(_("%(label)s不能超过 %(limit)s 个字。") % {"label": label, "limit": max_length}, field=field)
    return text
