"""jiedao.core.limits: fixed-window counters in the database, and the sweep of expired rows."""

from __future__ import annotations

import time
from datetime import timedelta

from django.contrib.sessions.models import Session
from django.utils import timezone

from jiedao.core import limits, scheduler
from jiedao.core.models import RateCounter


def test_hit_counts_within_the_window_and_starts_again_after_it(db):
    assert [limits.hit("k", 60) for _ in range(3)] == [1, 2, 3]
    assert limits.peek("k") == 3 and limits.peek("other") == 0
    RateCounter.objects.filter(key="k").update(expires=time.time() - 1)
    assert limits.peek("k") == 0
    assert limits.hit("k", 60) == 1


def test_expired_sweep_removes_ended_counters_and_sessions(db):
    limits.hit("old", 60)
    limits.hit("new", 60)
    RateCounter.objects.filter(key="old").update(expires=time.time() - 1)
    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(minutes=1))
    Session.objects.create(session_key="y" * 32, session_data="", expire_date=timezone.now() + timedelta(minutes=30))
    assert limits.expired_sweep() == "计数 1，会话 1"
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["new"]
    assert list(Session.objects.values_list("session_key", flat=True)) == ["y" * 32]
    assert "expired_sweep" in {job.name for job in scheduler.JOBS}
