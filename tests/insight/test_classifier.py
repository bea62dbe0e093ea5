import random
from collections import Counter

import pytest

from jiedao.insight.text.classifier import (
    MODEL_VERSION,
    CategoryModel,
    Example,
    Suggestions,
    TrainConfig,
    evaluate,
    scores,
    train,
)

TINY_TREE = [
    ("城乡建设", "住房保障与房地产", "物业服务"),
    ("城乡建设", "城市建设和市政管理", "自来水供应"),
    ("环境保护", "环境污染", "噪音污染"),
    ("环境保护", "环境污染", "大气污染"),
    ("教育文体", "教育收费", "乱收费"),
    ("教育文体", "考试招生", "招生录取"),
]


def _split(examples, share=0.3, seed=1):
    """A stratified split: ``share`` of each category held out."""
    rng = random.Random(seed)
    by = {}
    for e in examples:
        by.setdefault(e.label, []).append(e)
    train_set, test_set = [], []
    for items in by.values():
        items = items[:]
        rng.shuffle(items)
        k = max(1, round(len(items) * share))
        test_set += items[:k]
        train_set += items[k:]
    return train_set, test_set


@pytest.fixture(scope="module")
def split_model(labelled, tree):
    train_set, test_set = _split(labelled)
    return train(train_set, tree), train_set, test_set


def test_beats_the_baselines_on_held_out_messages(split_model):
    model, train_set, test_set = split_model
    report = evaluate(model, test_set)
    # floors computed from the same held-out data: always guessing the commonest category,
    # and a plain model (words + n-grams, no tree, no seed keywords) trained on the same split
    majority = Counter(e.label for e in train_set).most_common(1)[0][0]
    base_acc, _base_f1, *_ = scores([e.label for e in test_set], [majority] * len(test_set))
    plain = evaluate(train(train_set, None, seeds={}, config=TrainConfig(keyword_scale=0.0)), test_set)
    assert report.accuracy >= base_acc + 0.4
    assert report.macro_f1 >= plain.macro_f1 + 0.1
    assert set(report.per_class) == set(model.labels)
    assert sum(map(sum, report.confusion)) == len(test_set) == report.n


def test_predicts_only_the_categories_it_was_trained_on(split_model, tree):
    model, train_set, _ = split_model
    assert set(model.labels) == {e.label for e in train_set}  # the tree has 15; history 7
    assert len({r[0] for r in tree}) > len(model.labels)
    s = model.suggest("村里的宅基地纠纷和土地承包", title="宅基地纠纷")  # 农村农业 in the tree
    assert s.label in model.labels


def test_suggest_returns_k_sorted_probabilities(split_model):
    model, *_ = split_model
    s = model.suggest("小区楼下餐馆油烟直排，晚上噪音扰民，无法休息", k=3, title="餐馆油烟扰民")
    assert isinstance(s, Suggestions) and len(s) == 3
    assert s.label == "环境保护" and not s.low_confidence
    probs = [p for _, p in s]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001


@pytest.mark.parametrize("text", ["asdfgh qwerty zxcv 123456", "哈哈哈哈哈哈", "？？？！！！", ""])
def test_gibberish_is_low_confidence(split_model, text):
    model, *_ = split_model
    s = model.suggest(text)
    assert s.low_confidence and s.reason


def test_low_confidence_suggestions_are_less_often_right(split_model):
    model, _, test_set = split_model
    sugg = model.suggest_many(test_set, k=1)
    sure = [s.label == e.label for s, e in zip(sugg, test_set, strict=True) if not s.low_confidence]
    assert sum(sure) / len(sure) >= evaluate(model, test_set).accuracy


def test_batch_and_single_agree(split_model):
    model, _, test_set = split_model
    batch = model.suggest_many(test_set[:20])
    for e, b in zip(test_set[:20], batch, strict=True):
        s = model.suggest(e.text, title=e.title)
        assert s.label == b.label and s[0][1] == pytest.approx(b[0][1], abs=1e-3)


def test_save_and_load_round_trip(split_model):
    model, _, test_set = split_model
    data = model.to_bytes()
    again = CategoryModel.from_bytes(data)
    assert again.labels == model.labels and again.temperature == model.temperature
    for e in test_set[:10]:
        assert again.suggest(e.text, title=e.title) == model.suggest(e.text, title=e.title)
    bad = data.replace(f'"version": {MODEL_VERSION}'.encode(), b'"version": 999')
    if bad != data:  # the header is compressed; when it is visible, a wrong version is refused
        with pytest.raises(ValueError):
            CategoryModel.from_bytes(bad)


def test_wrong_version_is_refused(split_model, monkeypatch):
    model, *_ = split_model
    data = model.to_bytes()
    monkeypatch.setattr("jiedao.insight.text.classifier.MODEL_VERSION", MODEL_VERSION + 1)
    with pytest.raises(ValueError, match="retrain"):
        CategoryModel.from_bytes(data)


def test_cold_start_from_the_tree_alone():
    model = train([], TINY_TREE, seeds={})
    assert set(model.labels) == {"城乡建设", "环境保护", "教育文体"}
    assert model.suggest("物业公司乱收费，服务差", title="物业服务差").label == "城乡建设"
    assert model.suggest("工厂排放废气，大气污染严重", title="大气污染").label == "环境保护"
    assert model.suggest("学校招生录取不公平", title="招生录取").label == "教育文体"


def test_a_little_history_plus_seeds():
    examples = [
        Example("小区停水三天了", "城乡建设", title="小区停水"),
        Example("物业不管电梯", "城乡建设", title="电梯坏了"),
        Example("工地夜间施工噪音扰民", "环境保护", title="施工噪音"),
        Example("化工厂排污", "环境保护", title="排污"),
        Example("学校乱收补课费", "教育文体", title="补课费"),
        Example("幼儿园招生", "教育文体", title="入园难"),
    ]
    model = train(examples, TINY_TREE)
    assert model.suggest("楼下烧烤店油烟太大", title="油烟扰民").label == "环境保护"
    assert model.suggest("初中老师组织有偿补课", title="有偿补课").label == "教育文体"
    with pytest.raises(ValueError):
        train([Example("x", "城乡建设")], None)
