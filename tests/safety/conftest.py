"""Safety fixtures on top of the shared world (tests/conftest.py): businesses in three grids, a
park with a tenant, a fire checklist with an ordinary and a major item.

    东门第一网格: 海鲜排档 (building 1幢), 东门工业园 (park) ⊃ 园内电焊铺 (tenant)
    东门第二网格: 好邻居超市
    横塘第一网格: 横塘冷库
"""

from dataclasses import dataclass

import pytest

from jiedao.people import services as people_services
from jiedao.people.models import Business
from jiedao.safety import services
from jiedao.safety.models import ChecklistTemplate


@dataclass
class Safety:
    diner: Business
    park: Business
    tenant: Business
    shop: Business
    cold_store: Business
    fire: ChecklistTemplate

    def item(self, severity: str):
        return self.fire.items.get(severity=severity)


def make_safety(world) -> Safety:
    def biz(node, name, industry):
        return people_services.business_create(actor=world.admin, node=node, name=name, industry=industry)

    s = Safety(
        diner=biz(world.building, "海鲜排档", "餐饮"),
        park=biz(world.grid, "东门工业园", "园区管理"),
        tenant=biz(world.grid, "园内电焊铺", "金属加工"),
        shop=biz(world.other_grid, "好邻居超市", "零售"),
        cold_store=biz(world.village_grid, "横塘冷库", "仓储"),
        fire=services.template_create(actor=world.admin, node=world.subdistrict, field="fire", name="消防安全检查表", items=[
            {"text": "灭火器在有效期内", "legal_basis": "《消防法》第十六条", "severity": "ordinary", "deadline_days": 3},
            {"text": "疏散通道畅通、未锁闭", "legal_basis": "《消防法》第二十八条", "severity": "major", "deadline_days": 5},
        ]),
    )
    services.tenancy_set(actor=world.secretary, site=s.park, tenant=s.tenant, kind="park")
    return s


@pytest.fixture
def safety(world) -> Safety:
    return make_safety(world)
