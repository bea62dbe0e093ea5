import pytest

from jiedao.cases.models import Category, RoutingRule, Tier


def make_catalogue(world) -> dict[str, Category]:
    """Two categories: 暴露垃圾 (大事, routed to 城建办) and 邻里纠纷 (小事)."""
    garbage = Category.objects.create(code="garbage", name="暴露垃圾", default_tier=Tier.PUBLIC, time_limit=1)
    dispute = Category.objects.create(code="dispute", name="邻里纠纷", default_tier=Tier.COMMUNITY, time_limit=5)
    RoutingRule.objects.create(category=garbage, node=world.subdistrict, department=world.department)
    return {"garbage": garbage, "dispute": dispute}


@pytest.fixture
def catalogue(world):
    """Two categories: 暴露垃圾 (大事, routed to 城建办) and 邻里纠纷 (小事)."""
    return make_catalogue(world)
