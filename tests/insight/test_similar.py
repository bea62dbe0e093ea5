import random

import pytest

from jiedao.insight.text.similar import SimilarConfig, analyse, find_groups, find_pairs, run

from .conftest import read_dev


def _pairs(msgs):
    return {tuple(sorted((a, b))) for a, b, _s in find_pairs(msgs)}


def test_reposts_and_neighbours_pair_look_alikes_do_not():
    msgs = [
        (
            "1",
            "A市丽发新城小区旁建搅拌站噪音扰民",
            "丽发新城小区旁边建了一个大型搅拌站，白天粉尘大，晚上噪音大，无法休息。",
        ),
        ("2", "投诉小区附近搅拌站噪音扰民", "我是暮云街道丽发新城的业主，小区边上的搅拌站日夜运转，噪音和灰尘严重。"),
        ("3", "A市丽发新城搅拌站粉尘污染", "丽发新城附近搅拌站灰尘满天飞，请尽快搬走搅拌站。"),
        (
            "4",
            "A市碧桂园小区旁建搅拌站噪音扰民",
            "碧桂园小区旁边建了一个大型搅拌站，白天粉尘大，晚上噪音大，无法休息。",
        ),
        ("5", "A3区枫林路路灯不亮", "枫林路路灯坏了半年，晚上出行很不安全。"),
        ("6", "A3区枫林路路灯不亮", "枫林路路灯坏了半年，晚上出行很不安全。"),
    ]
    found = _pairs(msgs)
    assert {("1", "2"), ("1", "3"), ("2", "3"), ("5", "6")} <= found  # re-posts and neighbours
    assert not {p for p in found if "4" in p}  # same words, another estate
    groups = find_groups(msgs)
    assert ["1", "2", "3"] in groups and ["5", "6"] in groups


_FILLER = [
    ("枫林路路灯不亮", "枫林路路灯坏了半年，晚上出行很不安全。"),
    ("公交站台太破旧", "火车站门口的公交站台顶棚破了，下雨没地方躲。"),
    ("孩子入学难", "今年学区划分调整，孩子上学要跑很远。"),
    ("医保报销太慢", "去年的医保报销到现在还没到账。"),
    ("拖欠工资", "工地老板拖欠工资三个月不给。"),
    ("出租车拒载", "晚上在汽车站打车，出租车司机拒载。"),
    ("公园厕所没人打扫", "湘江公园的公厕好几天没人打扫。"),
    ("社保卡补办", "社保卡丢了，去哪里补办？"),
    ("停车收费乱", "医院门口停车费一小时二十元。"),
    ("网吧接纳未成年人", "学校旁边的网吧让学生进去上网。"),
]


def test_one_site_or_one_rare_name_with_the_same_problem_words_pairs_in_other_words():
    msgs = [
        ("1", "星河湾小区底层饭店油烟熏人", "星河湾小区一楼开了几家饭店，油烟直往楼上窜，窗户都不敢开。"),
        ("2", "星河湾临街门面吵到半夜", "我们是星河湾小区的住户，临街门面开到凌晨，油烟和吵闹声让老人睡不着。"),
        ("3", "星河湾小区楼板开裂", "星河湾小区好几户楼板开裂，开发商一直推脱。"),  # one estate, another problem
        ("4", "翠湖苑临街门面吵到半夜", "我们是翠湖苑小区的住户，临街门面开到凌晨，油烟和吵闹声让老人睡不着。"),
        ("5", "请关注鑫汇宝平台爆雷案", "鑫汇宝平台去年爆雷，立案至今没有进展，受害人很着急。"),
        ("6", "经侦何时公布案情", "我们是鑫汇宝的出借人，立案半年了，诈骗案从未通报，钱也追不回来。"),
    ] + [(str(10 + k), t, b) for k, (t, b) in enumerate(_FILLER)]
    found = _pairs(msgs)
    # 1 ~ 2: one estate, the lampblack in other words; 5 ~ 6: one rare name (the second writes it
    # only in its body) and the same problem words; little wording in common in both
    assert {("1", "2"), ("5", "6")} <= found
    assert not {p for p in found if "3" in p or "4" in p}  # another problem; another estate
    # each piece of evidence is what finds its pair
    without_words = run(msgs, SimilarConfig(problem_check=False))
    without_names = run(msgs, SimilarConfig(body_anchors=False))
    ids = [d.id for d in without_words.docs]
    assert not {tuple(sorted((ids[i], ids[j]))) for i, j in without_words.pairs} & {("1", "2"), ("5", "6")}
    assert {tuple(sorted((ids[i], ids[j]))) for i, j in without_names.pairs} == {("1", "2")}


def test_scores_are_sorted_and_bounded():
    msgs = [(str(i), "A市幸福里小区电梯坏了", "幸福里小区电梯坏了一个月没人修") for i in range(4)]
    out = find_pairs(msgs)
    assert len(out) == 6
    assert all(0.0 <= s <= 1.0 for *_ab, s in out)
    assert [s for *_ab, s in out] == sorted((s for *_ab, s in out), reverse=True)
    assert find_pairs([]) == [] and find_pairs(msgs[:1]) == []


@pytest.fixture(scope="module")
def dev_run(hotspot):
    """Our labelled dev pairs, judged within their messages plus 300 others of the hotspot set."""
    dev = read_dev("similar_pairs_dev.csv")
    ids = {r["id_a"] for r in dev} | {r["id_b"] for r in dev}
    others = [m for m in hotspot if m.id not in ids]
    random.Random(0).shuffle(others)
    msgs = [m for m in hotspot if m.id in ids] + others[:300]
    res = run(msgs)
    found = {tuple(sorted((res.docs[i].id, res.docs[j].id))) for i, j in res.pairs}
    return dev, found


def _rate(dev, found, label):
    rows = [r for r in dev if r["label"] == label]
    return sum(tuple(sorted((r["id_a"], r["id_b"]))) in found for r in rows) / len(rows)


def test_dev_set_recall_and_look_alike_merges(dev_run):
    dev, found = dev_run
    # 0.97 while groups were chained (union-find); with every member judged against the group's
    # main case (issue 15), pairs only ever joined through a third message are no longer found.
    assert _rate(dev, found, "same") >= 0.90
    assert _rate(dev, found, "lookalike") <= 0.10
    assert _rate(dev, found, "different") <= 0.10


_CHASE = (
    "我是一个现高一年级学生家长，小孩就读于该校，该校也具备一定教学规模，该届学生目前正式处于分班选科阶段，"
    "但该校通知没有政史地的选择，现通知要么转学要么放弃自己的选择，希望教育局过问此事。"
)


def test_copied_body_is_a_repost_even_with_another_title():
    msgs = [
        ("1", "A市外国语学校不分科的吗？", _CHASE),
        ("2", "咨询高考改革考生自主选科等问题", "尊敬的领导：您好！" + _CHASE[:60] + "盼复。"),
        ("3", "咨询高考改革的报名时间", "请问今年的高考报名什么时候开始，在哪里报名，需要带什么材料？"),
    ]
    assert _pairs(msgs) == {("1", "2")}
    # the pair is caught by the copied text, not by the words of the titles
    assert _pairs(msgs[:2]) and not {
        tuple(sorted((a, b))) for a, b, _s in find_pairs(msgs[:2], SimilarConfig(copy_threshold=9.0))
    }


def test_one_template_with_two_names_is_not_a_repost():
    msgs = [
        (
            "1",
            "A3区江山帝景小区内的幼儿园为什么没改为普惠性",
            "江山帝景小区内的大风车幼儿园为什么没有按上级要求改为普惠性幼儿园，家长负担重。",
        ),
        (
            "2",
            "A7县三一街区幼儿园为何没有改为普惠性",
            "a7县三一街区小区内的三之三幼儿园为什么没有按上级要求改为普惠性幼儿园，家长负担重。",
        ),
    ]
    assert _pairs(msgs) == set()
    # without the template check the copied words alone would pair them
    assert find_pairs(msgs, SimilarConfig(slot_check=9.0))


def test_names_the_set_marks_as_sites_are_found_without_their_suffix():
    msgs = [
        ("1", "A市愿景山水印象小区外墙渗水", "愿景山水印象小区的外墙渗水，墙面开裂，家里发霉。"),
        ("2", "愿景山水印象小区车库积水", "愿景山水印象小区地下车库一下雨就积水。"),
        ("3", "A市愿景山水印象的房屋质量问题太大了", "房子保温墙开裂，阳台外墙渗水。"),
        ("4", "A市碧桂园的房屋质量问题太大了", "碧桂园小区的房子保温墙开裂，阳台外墙渗水。"),
    ]
    docs = analyse(msgs)
    assert [p.core for p in docs[2].title_places] == ["愿景山水印象"]  # no 小区 after it here
    found = _pairs(msgs)
    assert ("1", "3") in found
    assert not {p for p in found if "4" in p}  # the same words about another estate
    # a name only one message marks is not learned; without learning the pair is missed
    assert analyse(msgs[1:])[1].title_places == []
    assert analyse(msgs, SimilarConfig(learn_names=False))[2].title_places == []
    assert ("1", "3") not in {tuple(sorted((a, b))) for a, b, _s in find_pairs(msgs, SimilarConfig(learn_names=False))}


def test_one_template_about_two_rivers_is_not_a_repost():
    # common words as names: no place is recognised, only the template tells them apart
    body = "{}河被上游的养殖场排污，河水发黑发臭，鱼虾死光，沿岸居民苦不堪言，请环保部门尽快查处。"
    msgs = [("1", "河水被污染", body.format("胜利")), ("2", "河水被污染了", body.format("光明"))]
    assert _pairs(msgs) == set()
    assert find_pairs(msgs, SimilarConfig(slot_check=9.0))  # the copied words alone would pair them
