import logging
import os
import tempfile

from jiedao.insight.text.features import (
    char_gram_keys,
    char_ngrams,
    content_words,
    get_tokenizer,
    gram_key,
    message_tokens,
)


def test_tokenizer_is_cached_quiet_and_keeps_its_cache_in_the_temp_dir():
    tok = get_tokenizer()
    assert get_tokenizer() is tok
    assert tok.tmp_dir.startswith(tempfile.gettempdir())
    assert os.path.isdir(tok.tmp_dir)
    assert logging.getLogger("jieba").level >= logging.WARNING


def test_content_words_drop_stop_words_codes_and_punctuation():
    words = content_words("a市a3区小区物业乱收停车费，请问怎么办？")
    assert "物业" in words and "停车费" in words
    assert not {"a市", "a3", "请问", "，"} & set(words)


def test_char_ngrams_stay_inside_chinese_runs():
    grams = char_ngrams("社保卡ab补办", 2, 3)
    assert "社保" in grams and "保卡" in grams and "社保卡" in grams and "补办" in grams
    assert not any("a" in g or "b" in g for g in grams)
    assert "卡补" not in grams


def test_integer_gram_keys_are_the_same_grams():
    text = "a市社保卡补办，社保卡丢了"
    keys = set(char_gram_keys(text, 1, 3).tolist())
    assert keys == {gram_key(g) for g in char_ngrams(text, 1, 3)}


def test_message_tokens_bags():
    t = message_tokens("小区油烟扰民", "楼下餐馆油烟直排，噪音很大")
    assert "油烟" in t.title_words and "扰民" in t.title_words
    assert t.title_pairs and all(len(p) >= 4 for p in t.title_pairs)
    assert "油烟" in t.chars and t.char_text.startswith("小区油烟扰民")
    assert message_tokens("小区油烟扰民", "x", grams=False).chars == []
