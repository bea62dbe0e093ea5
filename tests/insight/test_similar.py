import random

import pytest

from jiedao.insight.text.similar import find_groups, find_pairs, run

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
    assert _rate(dev, found, "same") >= 0.85
    assert _rate(dev, found, "lookalike") <= 0.10
    assert _rate(dev, found, "different") <= 0.10
