"""The idle timeout (issue 14): a session ends SESSION_COOKIE_AGE seconds after it was last
pushed forward, and a request pushes it forward (saves the session) only when the expiry would
move by IDLE_TOUCH_SECONDS or more — so most page views write nothing, and a session is never
kept longer than the idle minutes after the last request, at most a minute shorter."""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from jiedao.core.middleware import IDLE_TOUCH_SECONDS, IDLE_TOUCHED
from tests.conftest import PASSWORD


def signed_in(client, username="worker"):
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return Session.objects.get(pk=client.cookies[settings.SESSION_COOKIE_NAME].value)


def stored(client) -> Session:
    return Session.objects.get(pk=client.cookies[settings.SESSION_COOKIE_NAME].value)


def test_a_sign_in_starts_the_idle_clock_and_a_request_within_the_minute_writes_nothing(client, world):
    row = signed_in(client)
    assert abs((row.expire_date - timezone.now()).total_seconds() - settings.SESSION_COOKIE_AGE) < 5
    assert abs(row.get_decoded()[IDLE_TOUCHED] - time.time()) < 5
    for _ in range(3):
        assert client.get(reverse("home")).status_code == 200
    again = stored(client)
    assert (again.expire_date, again.session_data) == (row.expire_date, row.session_data)


def test_a_request_a_minute_later_pushes_the_expiry_forward(client, world):
    signed_in(client)
    session = client.session  # as if the last push was just over a minute ago
    session[IDLE_TOUCHED] = int(time.time()) - IDLE_TOUCH_SECONDS - 1
    session.save()
    Session.objects.filter(pk=session.session_key).update(
        expire_date=timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE - IDLE_TOUCH_SECONDS - 1))
    assert client.get(reverse("home")).status_code == 200
    row = stored(client)
    assert abs((row.expire_date - timezone.now()).total_seconds() - settings.SESSION_COOKIE_AGE) < 5
    assert abs(row.get_decoded()[IDLE_TOUCHED] - time.time()) < 5
    assert "_auth_user_id" in row.get_decoded()


def test_a_session_idle_for_the_configured_minutes_is_over(client, world):
    signed_in(client)
    # The last push was the idle minutes ago (a request since then, within its minute, saved
    # nothing): the stored expiry has passed, and the next request is signed out.
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("cases:dashboard"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Session.objects.filter(pk=key, expire_date__gt=timezone.now()).exists()


def test_anonymous_pages_create_no_session(client, db):
    assert client.get(reverse("login")).status_code == 200
    assert not Session.objects.exists()



def test_a_short_idle_timeout_pushes_the_expiry_in_tenths_of_it(client, world, settings):
    settings.SESSION_COOKIE_AGE = 60  # JIEDAO_SESSION_IDLE_MINUTES=1: pushed every 6 s, not every minute
    signed_in(client)
    session = client.session
    session[IDLE_TOUCHED] = int(time.time()) - 7
    session.save()
    Session.objects.filter(pk=session.session_key).update(expire_date=timezone.now() + timedelta(seconds=53))
    assert client.get(reverse("home")).status_code == 200
    assert (stored(client).expire_date - timezone.now()).total_seconds() > 55
