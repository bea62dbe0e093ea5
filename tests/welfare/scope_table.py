"""The scope table of /api/v1/welfare: each part's table (tests/welfare/<part>/scope_table.py) joined."""

from tests.welfare.benefits import scope_table as benefits

ENDPOINTS = [*benefits.ENDPOINTS]


def build(world) -> dict:
    return {**benefits.build(world)}
