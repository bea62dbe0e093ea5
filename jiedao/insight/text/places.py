"""Place and site keys in residents' messages: estates, roads, rivers, schools, hospitals, firms.

No gazetteer is needed: Chinese place names end in a small set of generic words (小区, 花园, 路, 河,
小学, 医院, 公司, 村 …). A mention is such a suffix plus the name in front of it. The text is cut
into jieba words; walking left from the suffix, the name takes words until it meets one that
cannot be inside a name — a verb, adverb, pronoun, preposition, localiser (附近, 门口), punctuation
or an administrative code of the anonymised data (a市, a3区) — using the part-of-speech tags of
jieba's own dictionary. ``a2区丽发新城附近修建搅拌站`` → 丽发 + 新城.

Mentions compare by their *core* (the name without the suffix): equal, one containing the other,
or made of nearly the same characters (涉外经济学院 ~ 经济学院, 丽发新城 ~ 丽发小区, 聚利人 ~
利聚人). Two messages that both name a site of the same kind and share none are about different
sites — the look-alike case that text similarity alone cannot see.
"""

# ruff: noqa: SIM905  (word lists read best as one string per list)

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from .features import get_tokenizer

__all__ = [
    "GROUPS",
    "SUFFIXES",
    "Locator",
    "Place",
    "core_similarity",
    "could_be_name",
    "extract_places",
    "fine_places",
    "locator_conflict",
    "looks_like_name",
    "place_spans",
    "tokenize_for_places",
]

# suffix → kind; kind → comparison group
_KIND_WORDS = {
    "estate": "小区 花园 家园 新村 新城 山庄 公寓 公馆 大厦 广场 华府 华庭 名苑 雅苑 御苑 嘉园 佳园 名城 名都 国际城 "
    "国际 天地 公元 首府 一品 湾畔 半岛 庄园 别墅 小镇 商住楼 宿舍 安置房 公园 一期 二期 三期 四期 五期 苑 园 府 湾 庭 郡 邸 "
    "墅 阁 城 栋",
    "road": "大道 大街 路口 高架 立交桥 立交 大桥 隧道 高速 国道 省道 南路 北路 东路 西路 中路 路 街 巷 桥",
    "water": "水库 河道 河 江 湖 港 渠 溪 塘",
    "school": "幼儿园 小学 中学 附中 学校 大学 学院 职校 校区 一中 二中 三中 实验学校 培训学校 培训机构",
    "hospital": "人民医院 医院 卫生院 诊所 妇幼保健院",
    "firm": "有限公司 公司 集团 银行 酒店 宾馆 超市 商场 市场 农庄 会所 工厂",
    "facility": "搅拌站 垃圾站 变电站 地铁站 汽车站 高铁站 火车站 加油站 收费站 基站 采石场 砂场 洗砂场 停车场 垃圾场 "
    "工地 项目 楼盘 号线",
    "area": "街道 社区 片区 开发区 工业园 产业园 园区 镇 乡 村 组",
}
GROUPS = {
    "estate": "site",
    "school": "site",
    "hospital": "site",
    "firm": "site",
    "facility": "site",
    "line": "line",
    "road": "road",
    "water": "water",
    "area": "area",
}
_SUFFIXES: dict[str, str] = {}
SUFFIXES = _SUFFIXES  # generic word → kind (小区 → estate)
for _kind, _words in _KIND_WORDS.items():
    for _w in _words.split():
        _SUFFIXES.setdefault(_w, _kind)

# jieba dictionary tags of words that cannot be inside a name
_BOUNDARY_TAGS = frozenset(
    [
        "v",
        "vg",
        "vd",
        "vi",
        "vq",
        "d",
        "dg",
        "df",
        "p",
        "c",
        "u",
        "ud",
        "ug",
        "uj",
        "ul",
        "uv",
        "uz",
        "r",
        "rr",
        "rg",
        "rz",
        "f",
        "s",
        "t",
        "tg",
        "q",
        "mq",
        "y",
        "e",
        "o",
        "i",
        "l",
        "k",
        "h",
    ]
)
_BOUNDARY_WORDS = frozenset(
    [
        "市",
        "的",
        "在",
        "于",
        "是",
        "了",
        "和",
        "与",
        "及",
        "到",
        "从",
        "住",
        "位",
        "处",
        "对",
        "把",
        "被",
        "向",
        "近",
        "旁",
        "边",
        "我",
        "你",
        "他",
        "她",
        "们",
        "这",
        "那",
        "该",
        "个",
        "有",
        "无",
        "请",
        "为",
        "将",
        "由",
        "给",
        "让",
        "跟",
        "同",
        "或",
        "其",
        "并",
        "也",
        "都",
        "就",
        "还",
        "又",
        "很",
        "太",
        "最",
        "更",
        "已",
        "正",
        "去",
        "来",
        "买",
        "卖",
        "建",
        "修",
        "开",
        "关",
        "做",
        "搞",
        "叫",
        "称",
        "说",
        "问",
        "要",
        "想",
        "能",
        "会",
        "可以",
        "因",
        "所",
        "但",
        "而",
        "附近",
        "旁边",
        "门口",
        "周边",
        "对面",
        "隔壁",
        "楼下",
        "楼上",
        "后面",
        "前面",
        "里面",
        "外面",
        "一带",
        "沿线",
        "地段",
        "路段",
        "位于",
        "地处",
        "坐落",
        "原",
        "新建",
        "在建",
        "投诉",
        "举报",
        "反映",
        "咨询",
        "建议",
        "关于",
        "请问",
        "希望",
        "要求",
        "请求",
        "恳请",
        "业主",
        "居民",
        "住户",
        "村民",
        "市民",
        "开发商",
        "物业",
        "政府",
        "部门",
        "严重",
        "违规",
        "违法",
        "非法",
        "私自",
        "擅自",
        "违建",
        "无证",
        "一所",
        "一家",
        "一座",
        "一条",
        "一处",
        "一片",
        "这所",
        "这家",
        "该所",
        "那家",
        "全体",
        "部分",
        "所有",
        "整个",
        "其他",
        "多个",
        "各个",
        "每个",
        "一些",
        "某",
        "本",
        "此",
        "各",
        "每",
        "多",
        "同",
        "另",
        "一",
        "个",
        "年",
        "月",
        "日",
        "号",
        "时",
        "点",
        "按",
        "进",
        "出",
        "一个",
        "这个",
        "那个",
        "政府",
        "市政府",
        "人民政府",
        "党委",
        "城市",
        "县城",
        "省城",
        "旧城",
        "全城",
        "进城",
        "校园",
        "家园",
        "乐园",
        "田园",
        "公园",
        "花园",
        "学校",
        "小区",
        "社区",
        "街道",
        "地方",
        "单位",
        "公司",
        "集团",
        "银行",
        "医院",
        "公园",
        "马路",
        "道路",
        "公路",
        "铁路",
        "线路",
        "河道",
        "江湖",
    ]
)
_CODE = re.compile(r"[a-z]\d*[市区县州]|西地省|[省市区县]委|[省市区县]政府")
_PUNCT = re.compile(r"[^\u4e00-\u9fffa-z0-9]")
_NOT_CORES = frozenset(
    [
        "本",
        "该",
        "我",
        "这",
        "那",
        "此",
        "某",
        "一",
        "二",
        "三",
        "周边",
        "附近",
        "整个",
        "其他",
        "各",
        "每",
        "新",
        "老",
        "大",
        "小",
        "省",
        "市",
        "区",
        "县",
        "本地",
        "当地",
        "人民",
        "中心",
        "第一",
        "第二",
        "地铁",
        "公交",
        "垃圾",
        "停车",
        "变电",
        "加油",
        "采石",
        "搅拌",
        "农贸",
        "菜",
        "商业",
        "住宅",
        "安置",
        "保障",
        "公租",
        "廉租",
        "经适",
        "职工",
        "教师",
        "学生",
        "私立",
        "公办",
        "民办",
        "实验",
        "附属",
        "中小",
        "幼",
        "高",
        "初",
        "学",
        "医",
        "卫生",
        "城",
        "市政",
        "政",
        "公",
        "全",
        "进",
        "县",
        "省",
        "农村",
        "乡",
        "城中",
        "城乡",
        "城市",
        "小",
        "培训",
        "教育",
        "工程",
        "建设",
        "房地产",
        "开发",
        "投资",
        "科技",
        "物业",
        "置业",
        "管理",
        "服务",
        "发展",
        "实业",
        "贸易",
        "商贸",
        "信息",
        "文化",
        "传媒",
        "网络",
        "电子",
        "环保",
        "建筑",
        "劳务",
        "人力",
        "资源",
        "餐饮",
        "娱乐",
        "旅游",
        "汽车",
        "物流",
        "金融",
        "保险",
        "证券",
        "医药",
        "药",
        "食品",
        "家具",
        "装饰",
        "人",
        "主干",
        "马",
        "公",
        "国",
        "街",
        "路",
        "湖",
        "江",
        "河",
        "号",
        "栋",
        "楼",
        "单元",
        "一号",
        "二号",
        "三号",
        "a",
        "b",
        "c",
        "d",
        "e",
    ]
)
_MAX_CORE = 10
_DESCRIPTORS = frozenset(
    "普惠 普惠性 民办 公办 公立 私立 配套 一级 二级 三级 示范 示范性 省级 市级 区级 县级 重点 大型 小型 国家 "
    "本地 当地 新 老 原 现 性 的 大力 推广".split()
)


_DESCRIPTORS_LONGEST = sorted(_DESCRIPTORS, key=len, reverse=True)
_FILLER = "性制办成转的型类级所家座条个一二三四五六七八九十几多各该本此这那"


def _name_like_token(tok: str) -> bool:
    """Single characters (pieces of a name jieba does not know), unknown or rare words, codes."""
    if len(tok) == 1 or (not tok.isascii() and not all("\u4e00" <= c <= "\u9fff" for c in tok)):
        return True
    if tok.isascii():
        return True
    f = get_tokenizer().FREQ.get(tok)
    return not f or f <= 100


_LINE = re.compile(r"^([a-z]?\d{1,3}[a-z]?)(路|号线)$")
_LINE_NO = re.compile(r"^[a-z]?\d{1,3}[a-z]?$")
_lock = threading.Lock()
_tags: dict[str, str] | None = None


def _word_tags() -> dict[str, str]:
    """word → part-of-speech tag, read once from jieba's dictionary (shipped inside the wheel)."""
    global _tags
    if _tags is None:
        with _lock:
            if _tags is None:
                tags: dict[str, str] = {}
                tok = get_tokenizer()
                with tok.get_dict_file() as fh:
                    for raw in fh:
                        parts = raw.decode("utf-8").split()
                        if len(parts) == 3 and parts[2] in _BOUNDARY_TAGS:
                            tags[parts[0]] = parts[2]
                _tags = tags
    return _tags


@dataclass(frozen=True)
class Place:
    kind: str  # estate, road, water, school, hospital, firm, facility, area
    core: str  # the name without its generic suffix (丽发)
    text: str  # the whole mention (丽发新城)

    @property
    def group(self) -> str:
        return GROUPS[self.kind]


_SUFFIX_LENGTHS = sorted({len(s) for s in _SUFFIXES}, reverse=True)


def _suffix_of(token: str) -> str | None:
    n = len(token)
    for k in _SUFFIX_LENGTHS:
        if k <= n and token[n - k :] in _SUFFIXES:
            return token[n - k :]
    return None


def _is_boundary(token: str, tags: dict[str, str]) -> bool:
    if token in _BOUNDARY_WORDS or _PUNCT.search(token) or token.isdigit():
        return True
    # single characters of an unknown name get arbitrary tags (天 q, 健 a): trust only the word list
    return len(token) > 1 and token in tags


def tokenize_for_places(text: str) -> list[str]:
    """jieba words of normalised text, administrative codes replaced by a comma."""
    return get_tokenizer().lcut(_CODE.sub("，", text), HMM=False) if text else []


def place_spans(tokens: Sequence[str]) -> list[tuple[int, int, Place]]:
    """(first token, last token, place) of every mention in ``tokens``; no mention inside another."""
    tags = _word_tags()
    spans: list[tuple[int, int, Place]] = []
    for j, tok in enumerate(tokens):
        suffix = _suffix_of(tok)
        if suffix is None:
            continue
        if tok != suffix and tok in _BOUNDARY_WORDS:  # 政府, 城市, 公园 …: a word, no name
            continue
        kind = _SUFFIXES[suffix]
        # a bus or metro line: 15路, x117路, 3号线
        line = _LINE.match(tok)
        if line is None and suffix in ("路", "号线") and j > 0 and _LINE_NO.match(tokens[j - 1]) and tok == suffix:
            line = _LINE.match(tokens[j - 1] + tok)
        if line is not None:
            spans.append((j - (0 if _LINE.match(tok) else 1), j, Place("line", line.group(1), line.group(0))))
            continue
        head = tok[: -len(suffix)]
        if head and _is_boundary(head, tags):
            head = ""
        parts = [head] if head else []
        size = len(head)
        i = j - 1
        while i >= 0 and size < _MAX_CORE:
            prev = tokens[i]
            if _is_boundary(prev, tags) or size + len(prev) > _MAX_CORE:
                break
            # a road or an area in front is a place of its own: 万家丽南路|丽发新城, 暮云街道|丽发新城社区
            pk = _SUFFIXES.get(_suffix_of(prev) or "")
            if pk in ("road", "area") and (kind != pk or pk == "area"):
                break
            parts.append(prev)
            size += len(prev)
            i -= 1
        parts.reverse()
        while parts and parts[0] in _DESCRIPTORS:  # 普惠性民办幼儿园, 配套幼儿园: a kind, not a name
            parts.pop(0)
        if parts and kind not in ("school", "hospital") and not any(_name_like_token(t) for t in parts):
            continue  # common words only (世纪城, 国家大力推广…): no name; schools are named so (经济学院)
        core = "".join(parts).lstrip("0123456789")
        residue = core
        for d in _DESCRIPTORS_LONGEST:
            residue = residue.replace(d, "")
        if len(residue.strip(_FILLER)) < 2 and suffix not in ("组",):
            continue  # 办普惠园, 普惠制幼儿园: descriptors and fillers, no name
        if suffix == "栋":  # a building: part of an estate, not a site of its own
            continue
        if suffix == "组" and core:
            pass  # 五组, 大塘组: a villagers' group, short but specific
        elif len(core) < 2 or core in _NOT_CORES:
            continue
        spans.append((i + 1, j, Place(kind, core, core + suffix)))
    return [
        (a, b, p) for a, b, p in spans if not any(a2 <= a and b <= b2 and (a2, b2) != (a, b) for a2, b2, _ in spans)
    ]


def looks_like_name(core: str) -> bool:
    """True when ``core`` reads as a proper name on its own: no verb, adverb, function word or
    other word that cannot be inside a name (明确指出, 送孩子上 are not), and some part unknown or
    rare to the dictionary — a rare word, two unknown characters (金科时代中心) — or a string of
    three or more words (愿景山水印象)."""
    tags = _word_tags()
    tokens = get_tokenizer().lcut(core, HMM=False)
    if not tokens or any(_is_boundary(t, tags) or (len(t) == 1 and t in _BOUNDARY_WORDS) for t in tokens):
        return False
    # a localiser, measure word or verb at the end (送孩子上, 调整后, 患者家, 幼儿园入) or a function
    # word at the start ends a phrase, not a name; a name's first character may be anything (愿景…)
    first, last = tokens[0], tokens[-1]
    if len(last) == 1 and _char_tag(last) in _BOUNDARY_TAGS:
        return False
    if len(first) == 1 and _char_tag(first) in _FUNCTION_TAGS:
        return False
    if len(tokens) == 1 and get_tokenizer().FREQ.get(core):
        return False  # a dictionary word (营利性, 数百家) names nothing in particular
    singles = sum(1 for t in tokens if len(t) == 1)
    if len(tokens) >= 3 and len(core) >= 5:
        return True  # several words strung together without a verb: 愿景|山水|印象
    return singles >= 2 or any(len(t) > 1 and _name_like_token(t) for t in tokens)


def _char_tag(ch: str) -> str | None:
    """Dictionary tag of a single character (read lazily, once)."""
    global _char_tags
    if _char_tags is None:
        with _lock:
            if _char_tags is None:
                tags: dict[str, str] = {}
                with get_tokenizer().get_dict_file() as fh:
                    for raw in fh:
                        parts = raw.decode("utf-8").split()
                        if len(parts) == 3 and len(parts[0]) == 1:
                            tags[parts[0]] = parts[2]
                _char_tags = tags
    return _char_tags.get(ch)


_char_tags: dict[str, str] | None = None
_FUNCTION_TAGS = frozenset(["p", "c", "u", "ud", "ug", "uj", "ul", "uv", "uz", "d", "r", "rr", "rz", "y", "e", "o"])


_NOT_IN_NAMES = frozenset(_BOUNDARY_TAGS - {"v", "vg", "vd", "vi", "vq", "i", "l", "s", "t", "tg", "h", "k"})


def could_be_name(text: str) -> bool:
    """Weaker than :func:`looks_like_name`: ``text`` holds no punctuation, no word that cannot be
    inside a name (的, 我, 一所) and does not start with a function word or end with a localiser
    (至于…, …后), so it may be a name even if made of common words (胜利, 解放: 胜利河, 解放路)."""
    if not text:
        return False
    tokens = get_tokenizer().lcut(text, HMM=False)
    if any(_PUNCT.search(t) or t.isdigit() or t in _BOUNDARY_WORDS for t in tokens):
        return False

    def tag(t: str) -> str | None:
        return _char_tag(t) if len(t) == 1 else _word_tags().get(t)

    if tag(tokens[0]) in (_FUNCTION_TAGS if len(tokens[0]) == 1 else _NOT_IN_NAMES):
        return False
    return tag(tokens[-1]) not in _NOT_AT_NAME_END


_NOT_AT_NAME_END = frozenset(["f", "p", "c", "u", "ud", "ug", "uj", "ul", "uv", "uz", "d", "y", "e", "o"])


def extract_places(text: str, tokens: list[str] | None = None) -> list[Place]:
    """Place mentions of normalised text, deduplicated, in order of appearance.

    ``tokens``: :func:`tokenize_for_places` of ``text`` if the caller has them already.
    """
    if tokens is None:
        tokens = tokenize_for_places(text)
    out: list[Place] = []
    seen: set[tuple[str, str]] = set()
    for _a, _b, p in place_spans(tokens):
        key = (p.kind, p.core)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)} or {s}


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


def core_similarity(a: str, b: str) -> float:
    """1.0 for equal cores, 0.9 for one inside the other, 0.75 for a shortened name whose
    characters all appear in order in the other (师大星城 ~ 师大附中星城), else overlap of
    bigrams (or characters)."""
    if a == b:
        return 1.0
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 2 and short in long:
        # a two-character head of a long name is often a developer's brand (保利 in 保利广场 and in
        # 保利麓谷林语), not the site
        return 0.45 if len(short) == 2 and len(long) >= 5 and long.startswith(short) else 0.9
    if len(short) >= 4 and len(short) >= 0.6 * len(long) and _is_subsequence(short, long):
        return 0.75
    ba, bb = _bigrams(a), _bigrams(b)
    jb = len(ba & bb) / len(ba | bb)
    ca, cb = set(a), set(b)
    if min(len(a), len(b)) >= 3 and len(ca & cb) / len(ca | cb) >= 0.75:  # same characters, one typo/shuffle
        return max(jb, 0.75)
    return jb


# --- finer places: where along a road or river, which building, unit, door ---------------------
#
# A named road, river or estate is not yet a place for a duplicate: two complaints about one
# river at two stretches are two problems. Chinese writes the finer place with a few structures,
# whatever the names: a stretch (…段, …至…, 从…到…), a junction (…与…交叉口, …路口), a landmark
# (…旁, …附近, …东侧/西侧/南侧/北侧, …对面, …门口) and numbers (…号, 门牌…号, …弄, …栋/…幢/…号楼,
# …单元, …室). :func:`fine_places` reads them from the structure alone; no list of places.

_SPOT_AFTER = frozenset(
    "段 路段 河段 交叉口 交叉路口 路口 十字路口 丁字路口 t字路口 交汇处 交界处 旁 旁边 附近 东侧 西侧 南侧 北侧 "
    "东边 西边 南边 北边 东面 西面 南面 北面 对面 门口 一侧 沿线 下游 上游".split()
)
_STRETCH_LINKS = frozenset(["至", "到"])
_NOT_STRETCH = frozenset("阶段 手段 地段 时段 片段 分段 中段 前段 后段 上段 下段 全段 这段 那段 一段 该段 本段".split())
_JOINS = frozenset(["交汇", "交界", "交叉", "交会", "相交"])
_JUNCTION_LINKS = frozenset(["与", "和", "、", "及"])
_LINE_END_CHARS = "路街道河桥"  # a one-character suffix that ends a name read rightwards
_NUM = r"(?:\d{1,4}|[a-z]\d{0,3}|[一二三四五六七八九十]{1,3})"
_FINE_PATTERNS = (
    ("building", re.compile(rf"(?<![\d月年日])({_NUM})(?:号楼|号栋|栋|幢|座)")),
    ("unit", re.compile(rf"(?<![\d月])({_NUM})单元")),
    ("room", re.compile(r"(?<!\d)(\d{3,4})(?:室|房)(?!间|子|屋|产)")),
    ("door", re.compile(r"(?<![\d月年日期第])(\d{1,4})(?:号(?![线楼栋文令院晚早上下凌中夜前后起开至到以之])|号院|弄)")),
)


@dataclass(frozen=True)
class Locator:
    """A finer place a message states: ``level`` is "spot" (a stretch, junction or landmark;
    ``names`` the one, two or more names that fix it) or "building", "unit", "room", "door"
    (``names`` the number)."""

    level: str
    names: tuple[str, ...]

    @property
    def text(self) -> str:
        return "/".join(self.names) if self.level == "spot" else self.names[0] + _LEVEL_WORD[self.level]


_LEVEL_WORD = {"building": "栋", "unit": "单元", "room": "室", "door": "号"}


def _coarse(tok: str) -> bool:
    """A word that is a road, river or area of its own (浏阳河, 北路, 大道, 曙光路)."""
    if len(tok) < 2:
        return False
    s = _suffix_of(tok)
    return s is not None and _SUFFIXES[s] in ("road", "water", "area")


def _walk_left(tokens: Sequence[str], j: int, tags: dict[str, str], ends=None) -> tuple[str, int]:
    """The name that ends right before token ``j`` and the index of its first token; a place
    mention ending there (``ends``: last token → (first token, place)) is taken whole."""
    if ends and j - 1 in ends:
        first, place = ends[j - 1]
        return place.text, first
    parts: list[str] = []
    size = 0
    i = j - 1
    road = False  # the name is a road itself (远大路至…): only the pieces of its name follow
    while i >= 0:
        tok = tokens[i]
        generic = not parts and tok in _SUFFIXES  # 海伦春天小区附近: the generic word ends the name
        if tok in _JUNCTION_LINKS or tok in _STRETCH_LINKS or tok in _SPOT_AFTER or (
            _spot_stop(tok, tags) and not generic
        ):
            break
        if (_coarse(tok) and parts and not road) or (road and len(tok) > 1):
            break  # the road or river the finer place is on
        if size + len(tok) > _MAX_CORE:
            break
        if not parts and tok in _JOINS:
            i -= 1
            continue  # 交汇路口, 交叉口
        road = road or (not parts and _coarse(tok))
        parts.append(tok)
        size += len(tok)
        i -= 1
    parts.reverse()
    return "".join(parts), i + 1


def _walk_right(tokens: Sequence[str], j: int, tags: dict[str, str]) -> tuple[str, int]:
    """The name that starts right after token ``j`` and the index of the token after it."""
    parts: list[str] = []
    size = 0
    k = j + 1
    while k < len(tokens):
        tok = tokens[k]
        if tok in _SPOT_AFTER or tok in ("之间", "中间", "一带") or _is_boundary(tok, tags) or tok in _JUNCTION_LINKS:
            break
        if size + len(tok) > _MAX_CORE:
            break
        parts.append(tok)
        size += len(tok)
        k += 1
        if _coarse(tok) or tok[-1] in _LINE_END_CHARS:
            break
    return "".join(parts), k


_SPOT_STOP_TAGS = frozenset(["v", "vd", "vi", "d", "p", "c", "u", "uj", "ul", "uz", "r", "rr", "rz", "y", "e", "o", "m"])


def _spot_stop(tok: str, tags: dict[str, str]) -> bool:
    """Narrower than :func:`_is_boundary`: a landmark's name may hold a word of time or place
    (海伦春天, 东方红), not a verb, adverb or function word."""
    if tok in _BOUNDARY_WORDS or _PUNCT.search(tok) or tok.isdigit():
        return True
    return len(tok) > 1 and tags.get(tok) in _SPOT_STOP_TAGS


def _spot_name(name: str) -> str:
    """``name`` if it can name a spot (not a measure, a verb, a common word)."""
    name = name.lstrip("0123456789")
    if len(name) < 2 or name in _NOT_CORES or name in _BOUNDARY_WORDS or name.endswith(("左右", "米", "公里")):
        return ""
    suffix = _suffix_of(name)
    head = name[: -len(suffix)] if suffix and len(name) - len(suffix) >= 2 else name
    return name if could_be_name(head) and get_tokenizer().FREQ.get(name, 0) <= 2000 else ""


def fine_places(text: str, tokens: Sequence[str] | None = None) -> list[Locator]:
    """The finer places ``text`` (normalised) states, in order, deduplicated.

    >>> [l.text for l in fine_places("浏阳河榔梨段河道污染")]
    ['榔梨']
    """
    if not text:
        return []
    if tokens is None:
        tokens = tokenize_for_places(text)
    tags = _word_tags()
    ends = {b: (a, p) for a, b, p in place_spans(tokens) if p.kind not in ("road", "water", "area", "line")}
    out: list[Locator] = []
    skip = -1  # the 段 closing a stretch already read (从曙光路到朝阳路段)
    for j, tok in enumerate(tokens):
        if j <= skip:
            continue
        if tok in _STRETCH_LINKS:
            if tok == "到" and not any(t == "从" for t in tokens[max(0, j - 8) : j]):
                nxt = tokens[j + 1 : j + 6]
                if not any(t in ("段", "路段", "之间") for t in nxt):
                    continue  # 到 as a verb (到了, 到期), not 从…到…
            left, _i = _walk_left(tokens, j, tags, ends)
            right, end = _walk_right(tokens, j, tags)
            names = tuple(n for n in (_spot_name(left), _spot_name(right)) if n)
            if len(names) == 2:
                out.append(Locator("spot", names))
                if end < len(tokens) and tokens[end] in ("段", "路段", "河段"):
                    skip = end
            continue
        glued = ""  # jieba glues a name's last character to 段: 石门|桥段, 桃花|村段
        if tok not in _SPOT_AFTER:
            if len(tok) != 2 or tok[1] != "段" or tok in _NOT_STRETCH:
                continue
            glued = tok[0]
        name, i = _walk_left(tokens, j, tags, ends)
        name += glued
        names = [_spot_name(name)]
        # a junction: 联江路与连塘路交叉口, 银双路、楚岳路交汇路口
        while i >= 2 and tokens[i - 1] in _JUNCTION_LINKS and tok not in ("段", "路段", "河段"):
            other, i = _walk_left(tokens, i - 1, tags, ends)
            names.append(_spot_name(other))
        names = [n for n in names if n]
        if names:
            out.append(Locator("spot", tuple(sorted(names))))
    for level, pattern in _FINE_PATTERNS:
        for m in pattern.finditer(text):
            out.append(Locator(level, (m.group(1),)))
    seen: set[Locator] = set()
    return [loc for loc in out if not (loc in seen or seen.add(loc))]


def locator_conflict(a: Sequence[Locator], b: Sequence[Locator], text_a: str, text_b: str) -> str:
    """"" when the two messages' finer places agree or one of them states none at a level; else the
    two finer places that differ ("榔梨≠黄泥圹"): the same road, river or estate, another stretch,
    junction, building, unit or door — related, not the same problem.

    At each level both state, they agree when a finer place of one is also in the other: equal
    numbers; for a stretch, junction or landmark every name of it written somewhere in the other
    message (a re-post repeats its landmarks) or a nearly equal name."""
    for level in ("spot", "building", "unit", "room", "door"):
        la = [x for x in a if x.level == level]
        lb = [x for x in b if x.level == level]
        if not la or not lb:
            continue
        if level != "spot":
            if {x.names for x in la} & {x.names for x in lb}:
                continue
            return f"{la[0].text}≠{lb[0].text}"
        names_b = [n for x in lb for n in x.names]
        names_a = [n for x in la for n in x.names]

        def found(loc: Locator, text: str, names: list[str]) -> bool:
            return all(n in text or any(_same_spot(n, m) for m in names) for n in loc.names)

        if any(found(x, text_b, names_b) for x in la) or any(found(x, text_a, names_a) for x in lb):
            continue
        return f"{la[0].text}≠{lb[0].text}"
    return ""


_GENERIC_TAILS = ("居民区", "住宅区", "生活区")


def _spot_core(name: str) -> str:
    """The name without its generic word (丽发新城居民区, 丽发新城小区 → 丽发新城)."""
    for tail in _GENERIC_TAILS:
        if name.endswith(tail) and len(name) - len(tail) >= 2:
            return name[: -len(tail)]
    suffix = _suffix_of(name)
    return name[: -len(suffix)] if suffix and len(name) - len(suffix) >= 2 else name


def _same_spot(a: str, b: str) -> bool:
    """Two names of one spot: nearly equal, or one holds the other (丽发新城 / 丽发新城居民区),
    compared with and without their generic words."""
    for x, y in ((a, b), (_spot_core(a), _spot_core(b))):
        short, long = (x, y) if len(x) <= len(y) else (y, x)
        if (len(short) >= 3 and short in long) or core_similarity(x, y) >= 0.75:
            return True
    return False
