"""The scope table of the caller's own account and tokens (checked by tests/test_api_scope.py)."""

from tests.scope import Endpoint


def build(world) -> dict:
    """A token of 张网格 (东门第一网格)."""
    from jiedao.core.services import token_create

    token, _plaintext = token_create(actor=world.worker, name="数据对接")
    return {"token": token.pk}


ENDPOINTS = [
    Endpoint("GET", "/me", "own", why="the caller's own account"),
    Endpoint("GET", "/tokens", "own", why="lists only the caller's own tokens"),
    Endpoint("POST", "/tokens", "own", {"name": "对接"}, forbidden="worker",
             why="creates a token of the caller; never with a token (403), only in a signed-in session"),
    Endpoint("DELETE", "/tokens/{token}", "delete", owner="worker", outsiders=("other_worker", "admin"),
             why_no_403="a token is seen by its owner only"),
]
