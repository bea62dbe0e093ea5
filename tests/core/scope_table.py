"""The scope table of the caller's own account and tokens (checked by tests/test_api_scope.py)."""

from tests.scope import Endpoint


def build(world) -> dict:
    """A token of 张网格 (东门第一网格) and an export of hers (written at once: tasks run eagerly)."""
    from jiedao.core import exports
    from jiedao.core.services import token_create

    token, _plaintext = token_create(actor=world.worker, name="数据对接")
    job = exports.export_request(actor=world.worker, register="people.resident", filters={})
    return {"token": token.pk, "export": job.pk}


# An export job is its requester's alone: even the system administrator gets 404.
PRIVATE_EXPORT = ("other_worker", "admin")


ENDPOINTS = [
    Endpoint("GET", "/me", "own", why="the caller's own account"),
    Endpoint("GET", "/tokens", "own", why="lists only the caller's own tokens"),
    Endpoint("POST", "/tokens", "own", {"name": "对接"}, forbidden="worker",
             why="creates a token of the caller; never with a token (403), only in a signed-in session"),
    Endpoint("DELETE", "/tokens/{token}", "delete", owner="worker", outsiders=("other_worker", "admin"),
             why_no_403="a token is seen by its owner only"),
    Endpoint("GET", "/exports", "own", why="lists only the caller's own export jobs"),
    Endpoint("GET", "/exports/{export}", "detail", owner="worker", outsiders=PRIVATE_EXPORT),
    Endpoint("GET", "/exports/{export}/download", "export", owner="worker", outsiders=PRIVATE_EXPORT),
]
