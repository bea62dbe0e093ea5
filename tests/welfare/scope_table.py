"""The scope table of /api/v1/welfare (checked by tests/test_api_scope.py): the tables of its
parts (tests/welfare/<part>/scope_table.py) joined, each with its own `build`."""

from tests.welfare.benefits import scope_table as benefits
from tests.welfare.monitoring import scope_table as monitoring
from tests.welfare.visits import scope_table as visits

PARTS = [monitoring, benefits, visits]

ENDPOINTS = [endpoint for part in PARTS for endpoint in part.ENDPOINTS]


def build(world) -> dict:
    ids: dict = {}
    for part in PARTS:
        ids.update(part.build(world))
    return ids
