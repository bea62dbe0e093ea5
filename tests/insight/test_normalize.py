from jiedao.insight.text.normalize import fold_width, normalize, strip_boilerplate, to_simplified


def test_fold_width_turns_full_width_into_half_width_and_lowercases():
    assert fold_width("Ａ３区ＡＢＣ１２３，！？") == "a3区abc123,!?"
    assert fold_width("面积１００㎡") == "面积100m2"  # other compatibility forms too
    assert fold_width("a\u3000b\u200bc") == "a bc"


def test_traditional_becomes_simplified_phrase_aware():
    assert to_simplified("請盡快處理這個問題") == "请尽快处理这个问题"
    assert to_simplified("頭髮 乾淨 乾隆") == "头发 干净 乾隆"
    plain = "小区电梯坏了"  # no traditional character: returned untouched
    assert to_simplified(plain) is plain


def test_boilerplate_is_stripped_but_the_problem_kept():
    text = "尊敬的胡书记：您好！我是A3区居民，电话[电话]，小区电梯坏了一个月。望领导尽快回复！此致 敬礼"
    out = strip_boilerplate(fold_width(text))
    assert "尊敬" not in out and "[电话]" not in out and "此致" not in out and "回复" not in out
    assert "小区电梯坏了一个月" in out


def test_normalize_combines_all_steps():
    assert normalize("領導您好，Ａ市西湖路垃圾沒人清理。謝謝！") == "a市西湖路垃圾没人清理。"
    assert normalize(None) == "" and normalize("") == ""
    assert "感谢" not in normalize("感谢您百忙之中查看这份留言。我的父亲在工地受伤")
