"""Reading messages and category trees from csv (UTF-8 with/without BOM, UTF-16, GBK/GB18030) or xlsx.

Headers are matched through aliases, so the board's Chinese exports (留言编号, 留言主题, 留言详情,
一级分类) and plain English ones (id, title, text, category) read alike.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "HEADER_ALIASES",
    "Message",
    "decode_bytes",
    "read_messages",
    "read_table",
    "read_tree",
    "write_pairs",
]

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "留言编号", "编号", "工单号", "工单编号", "案件编号", "序号", "message_id"),
    "title": ("title", "留言主题", "主题", "标题", "subject"),
    "text": ("text", "留言详情", "详情", "内容", "留言内容", "诉求内容", "body", "content"),
    "category": ("category", "label", "一级分类", "分类", "类别", "category1"),
    "user": ("user", "留言用户", "用户"),
    "time": ("time", "留言时间", "时间", "created_at"),
    "votes_up": ("votes_up", "点赞数", "likes"),
    "votes_down": ("votes_down", "反对数", "dislikes"),
    "level1": ("level1", "一级分类"),
    "level2": ("level2", "二级分类"),
    "level3": ("level3", "三级分类"),
}


@dataclass
class Message:
    id: str
    title: str = ""
    text: str = ""
    category: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def decode_bytes(data: bytes) -> str:
    """Decode csv bytes: BOMs first, then strict UTF-8, then GB18030 (a superset of GBK/GB2312)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def _clean_header(h) -> str:
    return str(h if h is not None else "").replace("\ufeff", "").strip().strip('"').strip()


def read_table(path: str | Path) -> list[dict[str, str]]:
    """Rows of a csv or xlsx file as dicts keyed by the (cleaned) header."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    text = decode_bytes(path.read_bytes())
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = list(reader)
    if not rows:
        return []
    header = [_clean_header(h) for h in rows[0]]
    out = []
    for r in rows[1:]:
        if not any(c.strip() for c in r):
            continue
        out.append({h: (r[i] if i < len(r) else "") for i, h in enumerate(header) if h})
    return out


def _read_xlsx(path: Path) -> list[dict[str, str]]:
    """The first sheet, through the platform's one spreadsheet reader (jiedao.core.tabular: its
    limits on columns, rows, cells, unpacked size and time hold here too)."""
    from jiedao.core.tabular import TabularError, as_text, open_table

    try:
        table = open_table(path)
        header = table.headers
        out = []
        for _number, cells in table.rows():
            out.append({h: as_text(c.value) for h, c in zip(header, cells, strict=False) if h})
    except TabularError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return out


def _resolve(header: Iterable[str], key: str, exclude: Sequence[str] = ()) -> str | None:
    cols = {h.lower(): h for h in header}
    for alias in HEADER_ALIASES[key]:
        if alias.lower() in cols and cols[alias.lower()] not in exclude:
            return cols[alias.lower()]
    return None


def read_messages(path: str | Path, *, require_label: bool = False) -> list[Message]:
    """Messages with id, title, text and (if the file has one) category."""
    rows = read_table(path)
    if not rows:
        return []
    header = list(rows[0].keys())
    id_col = _resolve(header, "id")
    title_col = _resolve(header, "title")
    text_col = _resolve(header, "text")
    cat_col = _resolve(header, "category")
    if title_col is None and text_col is None:
        raise ValueError(f"{path}: no title/text column (have: {', '.join(header)})")
    if require_label and cat_col is None:
        raise ValueError(f"{path}: no category column (have: {', '.join(header)})")
    used = {c for c in (id_col, title_col, text_col, cat_col) if c}
    out = []
    for n, r in enumerate(rows, start=1):
        mid = (r.get(id_col) or "").strip() if id_col else ""
        cat = (r.get(cat_col) or "").strip() if cat_col else ""
        out.append(
            Message(
                id=mid or str(n),
                title=(r.get(title_col) or "").strip() if title_col else "",
                text=(r.get(text_col) or "").strip() if text_col else "",
                category=cat or None,
                extra={k: v for k, v in r.items() if k not in used},
            )
        )
    if require_label:
        out = [m for m in out if m.category]
    return out


def read_tree(path: str | Path) -> list[tuple[str, str, str]]:
    """The category tree as (一级, 二级, 三级) rows."""
    rows = read_table(path)
    if not rows:
        return []
    header = list(rows[0].keys())
    c1, c2, c3 = (_resolve(header, k) for k in ("level1", "level2", "level3"))
    if c1 is None:
        raise ValueError(f"{path}: no 一级分类 column (have: {', '.join(header)})")
    out = []
    for r in rows:
        l1 = (r.get(c1) or "").strip()
        if l1:
            out.append((l1, (r.get(c2) or "").strip() if c2 else "", (r.get(c3) or "").strip() if c3 else ""))
    return out


def write_pairs(path: str | Path, pairs: Iterable[tuple[str, str, float]]) -> int:
    """Write ``id_a,id_b,score`` (UTF-8, no BOM); returns the number of rows."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id_a", "id_b", "score"])
        for a, b, s in pairs:
            w.writerow([a, b, f"{s:.4f}"])
            n += 1
    return n
