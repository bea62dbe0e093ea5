"""Finer places (issue 15): stretches, junctions, landmarks and numbers read from the structure of
the words, and duplicates that never join two places. The pairs are written by hand for these
tests (not taken from the development sets)."""

from jiedao.insight.text import similar
from jiedao.insight.text.places import fine_places, locator_conflict


def texts(s):
    return [loc.text for loc in fine_places(s)]


def test_stretches_junctions_landmarks_and_numbers():
    assert texts("清水河桃花村段河面漂满垃圾") == ["桃花村"]
    assert texts("东六路（远大路至映霞路）路面破损") == ["远大路/映霞路"]
    assert texts("从曙光路到朝阳路段什么时候拓宽") == ["曙光路/朝阳"]
    assert texts("联江路与连塘路交叉口建垃圾场") == ["联江路/连塘路"]
    assert texts("万家丽南路丽发新城附近修建搅拌站") == ["丽发新城"]
    assert texts("幸福里小区3栋2单元502室漏水") == ["3栋", "2单元", "502室"]
    assert texts("门牌仓板路123号门口堆物") == ["123号"]
    # dates, bus lines and verbs are no places
    assert texts("12月3号到现在还没修，3号线也停了") == []
    assert texts("我看到了很多问题，严重影响附近居民") == []


def _pair(a, b):
    return similar.run([("a", *a), ("b", *b)])


RIVER_A = ("清水河桃花村段垃圾成堆", "清水河桃花村段河面漂满垃圾，发臭，请尽快清理。")
RIVER_B = ("清水河石门桥段垃圾成堆", "清水河石门桥段河面漂满垃圾，发臭，请尽快清理。")
RIVER_A2 = ("清水河桃花村段的垃圾还没清理", "清水河桃花村段河面漂满垃圾，发臭，请尽快清理，已经一个月了。")


def test_same_river_other_stretch_is_related_not_merged():
    res = _pair(RIVER_A, RIVER_B)
    assert res.pairs == {}
    assert res.groups == []
    assert list(res.related.values()) == ["桃花村≠石门桥"]


def test_same_stretch_is_a_duplicate():
    res = _pair(RIVER_A, RIVER_A2)
    assert (0, 1) in res.pairs
    assert res.groups == [[0, 1]]


def test_buildings_and_junctions():
    a = ("幸福里小区3栋楼道堆满杂物", "幸福里小区3栋楼道堆满杂物，消防通道被堵，物业不管。")
    b = ("幸福里小区5栋楼道堆满杂物", "幸福里小区5栋楼道堆满杂物，消防通道被堵，物业不管。")
    assert _pair(a, b).pairs == {}
    c = ("联江路与连塘路交叉口红绿灯坏了", "联江路与连塘路交叉口红绿灯坏了三天，车辆乱行，很危险。")
    d = ("联江路与枫林路交叉口红绿灯坏了", "联江路与枫林路交叉口红绿灯坏了三天，车辆乱行，很危险。")
    assert _pair(c, d).pairs == {}
    e = ("连塘路联江路口的红绿灯坏了", "联江路与连塘路交叉口的红绿灯坏了三天，车辆乱行，请修。")
    assert (0, 1) in _pair(c, e).pairs


def test_a_message_without_a_finer_place_does_not_conflict():
    assert locator_conflict(fine_places("清水河桃花村段垃圾"), [], "清水河桃花村段垃圾", "清水河垃圾") == ""


def test_groups_never_chain_two_stretches():
    """A vague message (no stretch) matches both stretches; the group around it may hold only one."""
    vague = ("清水河垃圾成堆", "清水河河面漂满垃圾，发臭，请尽快清理。")
    res = similar.run([("v", *vague), ("a", *RIVER_A), ("b", *RIVER_B), ("a2", *RIVER_A2)])
    for g in res.groups:
        ids = {res.docs[i].id for i in g}
        assert not {"a", "b"} <= ids and not {"a2", "b"} <= ids
    for i, j in res.pairs:
        assert {res.docs[i].id, res.docs[j].id} not in ({"a", "b"}, {"a2", "b"})


def test_group_around_main_needs_a_direct_link_to_the_main():
    # 0-1, 1-2, 2-3: a chain; the groups hold no two items that are not linked to one main
    groups = similar.group_around_main(4, [(0, 1, 0.9), (1, 2, 0.8), (2, 3, 0.7)], lambda a, b: True)
    edges = {(0, 1), (1, 2), (2, 3)}
    for main, members in groups:
        for m in members[1:]:
            assert (min(main, m), max(main, m)) in edges
    # members that conflict with each other are not put together
    groups = similar.group_around_main(3, [(0, 1, 0.9), (0, 2, 0.8)], lambda a, b: {a, b} != {1, 2})
    assert all(not {1, 2} <= set(m) for _main, m in groups)


def test_the_org_trees_own_names_are_places():
    """A community the org tree knows, written without any generic suffix, is a place: two reports
    naming two of the deployment's communities are not merged."""
    a = ("桃源里垃圾成堆没人清运", "桃源里东头垃圾成堆，发臭，请尽快清运。")
    b = ("杏花坞垃圾成堆没人清运", "杏花坞东头垃圾成堆，发臭，请尽快清运。")
    known = {"桃源里社区": "estate", "桃源里": "estate", "杏花坞": "estate"}
    res = similar.run([("a", *a), ("b", *b)], known_places=known)
    assert [p.core for p in res.docs[0].places] == ["桃源里"]
    assert (0, 1) not in res.pairs
