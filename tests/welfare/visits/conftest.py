"""Visit fixtures on top of the shared world (tests/conftest.py): tagged residents in three grids.

    东门第一网格 (1幢): 陈阿婆 独居老人 + 残疾人, 林老兵 退役军人 (with a veteran record)
    东门第二网格:        吴奶奶 独居老人
    横塘第一网格:        周大伯 退役军人 (with a veteran record)
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from jiedao.people import services as people_services
from jiedao.people.models import Resident, SpecialGroup
from jiedao.welfare.models.visits import Veteran
from jiedao.welfare.visits import services


@dataclass
class Visits:
    alice: Resident
    bob: Resident
    dan: Resident
    carl: Resident
    dan_veteran: Veteran
    carl_veteran: Veteran

    @staticmethod
    def group(code: str) -> SpecialGroup:
        return SpecialGroup.objects.get(code=code)


def make_visits(world) -> Visits:
    start = timezone.localdate() - timedelta(days=30)

    def resident(node, name, *codes):
        r = people_services.resident_create(actor=world.admin, node=node, name=name, phone="13800001234")
        for code in codes:
            people_services.resident_tag(actor=world.admin, resident=r, group=Visits.group(code), start_date=start)
        return r

    alice = resident(world.building, "陈阿婆", "alone_elderly", "disabled")
    bob = resident(world.other_grid, "吴奶奶", "alone_elderly")
    dan = resident(world.building, "林老兵", "veteran")
    carl = resident(world.village_grid, "周大伯", "veteran")
    return Visits(alice=alice, bob=bob, dan=dan, carl=carl,
                  dan_veteran=services.veteran_create(actor=world.worker, resident=dan, enlisted_year=1990,
                                                      discharged_year=1994),
                  carl_veteran=services.veteran_create(actor=world.village_worker, resident=carl))


@pytest.fixture
def v(world) -> Visits:
    return make_visits(world)
