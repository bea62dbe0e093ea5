"""A database too busy to take a request's write answers 503 in the page's or the API's form."""

from __future__ import annotations

import json

from django.db import OperationalError
from django.test import RequestFactory

from jiedao import urls
from jiedao.core.views import server_error


def _answer(path: str, exc: BaseException):
    try:
        raise exc
    except BaseException:  # handler500 runs while the uncaught error is being handled
        return server_error(RequestFactory().get(path))


def test_the_project_uses_the_busy_aware_handler():
    assert urls.handler500 == "jiedao.core.views.server_error"


def test_a_locked_database_is_a_503_page_that_says_to_try_again():
    response = _answer("/cases/", OperationalError("database is locked"))
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "系统正忙" in response.content.decode() and "没有保存" in response.content.decode()


def test_a_locked_database_is_a_503_in_the_api_error_shape():
    response = _answer("/api/v1/cases", OperationalError("canceling statement due to lock timeout"))
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["code"] == "busy" and body["field"] is None and "系统正忙" in body["detail"]


def test_any_other_error_is_still_the_plain_500():
    assert _answer("/cases/", OperationalError("no such table: x")).status_code == 500
    assert _answer("/cases/", ValueError("boom")).status_code == 500
