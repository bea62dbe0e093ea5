"""The scope table of /api/v1/welfare (checked by tests/test_api_scope.py): each part's entries."""

from tests.welfare.monitoring import scope_table as monitoring

ENDPOINTS = [*monitoring.ENDPOINTS]


def build(world) -> dict:
    return {**monitoring.build(world)}
