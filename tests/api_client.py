"""The one test client for /api/v1: a Django test client carrying one user's bearer token.

Bodies go as JSON (a str is sent as it is, for malformed-body tests), or as multipart/form-data
when they hold an uploaded file or `multipart=True` is asked (a form without its file). Tests get
it through the `as_` fixture of tests/conftest.py: `as_(world.worker).get("/cases")`.
"""

from __future__ import annotations

import json

from django.core.files.uploadedfile import UploadedFile

from jiedao.core.services import token_create

ROOT = "/api/v1"


def bearer(user, **kwargs) -> dict[str, str]:
    """The header of a new personal token of `user` (kwargs go to token_create)."""
    _, plaintext = token_create(actor=user, name=kwargs.pop("name", "测试"), **kwargs)
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


def _holds_file(data) -> bool:
    if not isinstance(data, dict):
        return False
    values = [v for value in data.values() for v in (value if isinstance(value, list | tuple) else [value])]
    return any(isinstance(v, UploadedFile) for v in values)


class ApiClient:
    """Requests to `base` + path as `user`, with a personal token created for the purpose
    (no credentials at all when `user` is None)."""

    def __init__(self, client, user, base: str = ROOT) -> None:
        self.client = client
        self.user = user
        self.base = base
        self.headers = bearer(user) if user is not None else {}

    def get(self, url: str, **params):
        return self.client.get(self.base + url, params, **self.headers)

    def post(self, url: str, data=None, *, multipart: bool = False):
        if multipart or _holds_file(data):
            return self.client.post(self.base + url, data if data is not None else {}, **self.headers)
        return self._send_json("post", url, data)

    def put(self, url: str, data=None):
        return self._send_json("put", url, data)

    def patch(self, url: str, data=None):
        return self._send_json("patch", url, data)

    def delete(self, url: str):
        return self.client.delete(self.base + url, **self.headers)

    def _send_json(self, method: str, url: str, data):
        body = data if isinstance(data, str) else json.dumps(data if data is not None else {})
        return getattr(self.client, method)(self.base + url, body, content_type="application/json", **self.headers)
