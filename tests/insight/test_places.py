from jiedao.insight.text.places import core_similarity, could_be_name, extract_places, looks_like_name


def kinds(text):
    return {(p.kind, p.core) for p in extract_places(text)}


def test_estates_roads_rivers_schools_lines():
    assert kinds("a市万家丽南路丽发新城居民区附近搅拌站扰民") == {("estate", "丽发"), ("road", "万家丽")}
    assert ("estate", "丽发新城") in kinds("暮云街道丽发新城小区")
    assert ("school", "广益实验") in kinds("a市古曲南路广益实验中学门口摊贩脏乱差")
    assert ("water", "浏阳") in kinds("浏阳河被排污")
    assert ("line", "15") in kinds("期盼a市星沙15路车在上班高峰期能准时发车")


def test_function_words_codes_and_descriptors_are_not_names():
    assert kinds("我们小区的电梯坏了") == set()  # no name before 小区
    assert kinds("配套幼儿园迟迟不开园") == set()
    assert all("a" not in core for _k, core in kinds("a7县a3区星河湾小区"))


def test_core_similarity_tolerates_shortened_and_typoed_names():
    assert core_similarity("丽发新城", "丽发新城") == 1.0
    assert core_similarity("涉外经济", "经济") >= 0.9
    assert core_similarity("聚利人", "利聚人") >= 0.75
    assert core_similarity("魅力之城", "润芳园") < 0.5


def test_shortened_names_brands_and_building_phases():
    # a shortened school name keeps its characters in order
    assert core_similarity("师大星城", "师大附中星城") >= 0.75
    # a developer's brand at the head of two estates' names does not make them one site
    assert core_similarity("保利", "保利麓谷林语") < 0.5
    assert core_similarity("丽发", "丽发新城") >= 0.9
    # 二期, 三期: a phase of an estate names the estate
    assert ("estate", "辉煌国际城") in kinds("a1区辉煌国际城二期居民楼下商铺没有专用烟道")
    assert kinds("地铁二期工程何时开工") == set()


def test_looks_like_name():
    assert looks_like_name("愿景山水印象")
    assert looks_like_name("金科时代中心")
    assert not looks_like_name("送孩子上")  # a phrase ending in a localiser
    assert not looks_like_name("调整后")
    assert not looks_like_name("营利性")  # one dictionary word
    assert not looks_like_name("明确指出")


def test_could_be_name_accepts_common_words_but_not_phrases():
    assert could_be_name("胜利") and could_be_name("大风车") and could_be_name("魅力之城")
    assert not could_be_name("至于")  # a preposition
    assert not could_be_name("a市排名前十的一所")
    assert not could_be_name("调整后")
