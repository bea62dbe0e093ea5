"""The scope table of /api/v1/org and /api/v1/users (checked by tests/test_api_scope.py).

The objects are the world's own: 东门第一网格 and its people, 城建办, and 张网格's role there. The
outsiders are the grid workers of 东门第二网格 and 横塘第一网格, who see neither.
"""

from tests.scope import Endpoint

NEW_USER = {"username": "newbie", "full_name": "新同事", "home_node": "{grid}", "password": "Jiedao-new-2026"}
SUBDISTRICT_OUTSIDERS = ("worker", "other_worker", "village_worker")


def build(world) -> dict:
    """The world only; the role 张网格 holds in 东门第一网格 by id."""
    from jiedao.org.models import RoleAssignment

    return {"assignment": RoleAssignment.objects.get(user=world.worker).pk}


ENDPOINTS = [
    Endpoint("GET", "/org/nodes", "list", {"subtree_of": "{grid}"}, owner="worker", listed="grid"),
    Endpoint("POST", "/org/nodes", "create", {"parent": "{grid}", "kind": "microgrid", "name": "二号微网格"},
             owner="admin", forbidden="worker"),
    Endpoint("GET", "/org/nodes/{grid}", "detail", owner="worker"),
    Endpoint("PATCH", "/org/nodes/{grid}", "update", {"name": "改名"}, owner="admin", forbidden="worker"),
    Endpoint("GET", "/org/nodes/{grid}/children", "list", owner="worker"),
    Endpoint("GET", "/org/nodes/{grid}/people", "list", owner="worker"),
    Endpoint("GET", "/org/departments", "list", owner="handler", listed="department"),
    Endpoint("POST", "/org/departments", "create", {"subdistrict": "{subdistrict}", "name": "平安办"},
             owner="admin", outsiders=SUBDISTRICT_OUTSIDERS, forbidden="leader"),
    Endpoint("GET", "/users", "list", {"node": "{community}"}, owner="secretary", listed="worker"),
    Endpoint("POST", "/users", "create", NEW_USER, owner="admin", forbidden="worker"),
    Endpoint("GET", "/users/{worker}", "detail", owner="secretary"),
    Endpoint("PATCH", "/users/{worker}", "update", {"full_name": "改名"}, owner="admin", forbidden="secretary"),
    Endpoint("POST", "/users/{worker}/roles", "create", {"role": "grid_worker", "node": "{grid}"}, owner="admin",
             forbidden="secretary"),
    Endpoint("DELETE", "/users/{worker}/roles/{assignment}", "delete", owner="admin", forbidden="secretary"),
]
