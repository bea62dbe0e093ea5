"""The scope table of /api/v1/insight (checked by tests/test_api_scope.py).

The objects live in 东门第一网格: three reports of the same garbage at 1幢, proposed as one group of
duplicates. The outsiders are the grid workers of 东门第二网格 and 横塘第一网格.
"""

from tests.scope import Endpoint


def build(world) -> dict:
    from jiedao.insight import services as insight
    from jiedao.insight.models import DuplicateGroup
    from tests.cases.conftest import make_catalogue
    from tests.insight.test_groups import file, three_reports

    catalogue = make_catalogue(world)
    first, _second, _third, _other, _lookalike = three_reports(world, catalogue["garbage"])
    insight.duplicate_groups_build(subdistrict=world.subdistrict)
    later = file(world, ("丽发新城垃圾还在", "3栋楼下垃圾还是没人清运。"), category=catalogue["garbage"])
    return {"case": later.pk, "first": first.pk, "group": DuplicateGroup.objects.get().pk}


ENDPOINTS = [
    Endpoint("GET", "/insight/similar", "list", {"node": "{building}", "title": "丽发新城垃圾没人清运"},
             owner="worker"),
    Endpoint("POST", "/insight/similar", "list", {"node": "{building}", "title": "丽发新城垃圾没人清运"},
             owner="worker"),
    Endpoint("GET", "/insight/similar/{case}", "list", owner="worker"),
    Endpoint("GET", "/insight/duplicate-groups", "list", owner="worker", listed="group"),
    Endpoint("GET", "/insight/duplicate-groups/{group}", "detail", owner="worker"),
    Endpoint("POST", "/insight/duplicate-groups/{group}/confirm", "action", {"main_case": "{first}"}, owner="worker",
             forbidden="leader"),
    Endpoint("POST", "/insight/duplicate-groups/{group}/dismiss", "action", {"reason": "不是同一件事"}, owner="worker",
             why_no_403="everyone who sees every case of the group may say they are not one problem"),
    Endpoint("GET", "/insight/hotspots", "list", {"node": "{grid}"}, owner="worker"),
    Endpoint("POST", "/insight/suggest", "action", {"title": "楼下垃圾没人清运", "node": "{grid}"}, owner="worker",
             forbidden="handler"),
]
