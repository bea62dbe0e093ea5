"""Benefit fixtures on top of the shared world (tests/conftest.py): the default programmes and
residents with ID numbers in both communities.

    东门社区 / 东门第一网格 / 1幢: 张桂英 (household H1, with 李明), 王大爷
    东门社区 / 东门第二网格:       赵阿婆
    横塘村 / 横塘第一网格:         钱老汉 (household H2)
"""

from dataclasses import dataclass

import pytest

from jiedao.core.validators import id_number_check_char
from jiedao.people import services as people_services
from jiedao.people.models import Household, Resident
from jiedao.welfare.benefits import services
from jiedao.welfare.models.benefits import Programme


def ident(n: int, year: int = 1950) -> str:
    first = f"330225{year}0101{n:03d}"
    return first + id_number_check_char(first)


@dataclass
class Benefits:
    urban: Programme  # 城市低保 (per household, monthly, yearly review)
    rural: Programme
    longevity: Programme  # 长寿补贴 (per person, 1200)
    rent: Programme  # 廉租住房补贴
    zhang: Resident
    li: Resident
    wang: Resident
    zhao: Resident
    qian: Resident
    h1: Household
    h2: Household


def make_benefits(world) -> Benefits:
    services.programme_seed_defaults(actor=world.admin)
    p = {x.code: x for x in Programme.objects.all()}
    h1 = people_services.household_create(actor=world.admin, node=world.building, number="H1", address="1幢101")
    h2 = people_services.household_create(actor=world.admin, node=world.village_grid, number="H2", address="横塘12号")

    def person(node, name, n, household=None, year=1950):
        return people_services.resident_create(actor=world.admin, node=node, name=name, id_number=ident(n, year),
                                               household=household)

    return Benefits(
        urban=p["dibao_urban"], rural=p["dibao_rural"], longevity=p["changshou"], rent=p["lianzu"],
        zhang=person(world.building, "张桂英", 1, h1), li=person(world.building, "李明", 2, h1, 1980),
        wang=person(world.building, "王大爷", 3, year=1930), zhao=person(world.other_grid, "赵阿婆", 4),
        qian=person(world.village_grid, "钱老汉", 5, h2),
        h1=h1, h2=h2,
    )


@pytest.fixture
def ben(world) -> Benefits:
    return make_benefits(world)
