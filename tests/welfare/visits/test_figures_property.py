"""The visit and veterans' figures (docs/figures.md § 走访与优抚) recounted from raw rows on random
histories.

Random programs of visits (random residents, days, groups — refusals included), interval edits,
tags ending, information checks, service requests and 优待证 applications moved by every action
of their tables by every named user run through the real services. Then for every named user's
scope, random `today`s and periods, `selectors.due_rows` and `selectors.figures` are compared with
a brute force reading ONLY raw rows: ResidentTag and SpecialGroup rows, the visits' group links
(the last visit per resident × group), the check rows, and for requests and applications their
transition histories replayed (the state is the last step's, 办结 time the latest finish step,
发放 date the issue step's) — never the rows' own states or dates.
"""

from __future__ import annotations

import os
from contextlib import suppress
from datetime import date, timedelta

from django.db import transaction
from django.http import Http404
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jiedao.core import caching, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.people.models import ResidentTag, SpecialGroup
from jiedao.welfare.models.visits import (
    CardApplication,
    CardTransition,
    RequestTransition,
    ServiceRequest,
    Veteran,
    VeteranCheck,
    Visit,
)
from jiedao.welfare.visits import selectors, services
from jiedao.welfare.visits.workflow import CardAction, RequestAction

EXAMPLES = int(os.environ.get("JIEDAO_VISITS_FIGURES_EXAMPLES", "6"))
USERS = ("worker", "other_worker", "village_worker", "secretary", "leader", "admin", "handler")


def _in_scope(user, path: str) -> bool:
    paths = scope.granted_paths(user, Perm.VIEW_WELFARE)
    return paths is None or any(path.startswith(p) for p in paths)


def brute_due(user, today: date) -> dict[tuple[int, int], tuple[date, str, bool]]:
    last: dict[tuple[int, int], date] = {}
    for visit in Visit.objects.all():
        for group_id in Visit.groups.through.objects.filter(visit_id=visit.pk).values_list("specialgroup_id", flat=True):
            key = (visit.resident_id, group_id)
            last[key] = max(last.get(key, visit.visited_on), visit.visited_on)
    groups = {g.pk: g for g in SpecialGroup.objects.all()}
    out = {}
    for tag in ResidentTag.objects.select_related("resident__node"):
        group = groups[tag.group_id]
        if not group.is_active or not group.visit_interval_days or not tag.resident.is_active:
            continue
        if (tag.end_date is not None and tag.end_date <= today) or not _in_scope(user, tag.resident.node.path):
            continue
        seen = last.get((tag.resident_id, tag.group_id))
        due = (seen or tag.start_date or timezone.localdate(tag.created_at)) + timedelta(days=group.visit_interval_days)
        sunday = today + timedelta(days=6 - today.weekday())
        status = "overdue" if due < today else "week" if due <= sunday else "later"
        out[(tag.resident_id, tag.group_id)] = (due, status, seen is None)
    return out


def brute_figures(user, start: date, end: date, today: date) -> dict[str, int]:
    due = brute_due(user, today)
    vet_paths = {v.pk: v.resident.node.path for v in Veteran.objects.select_related("resident__node")}
    seen_vets = {pk for pk, path in vet_paths.items() if _in_scope(user, path)}
    req_state, req_done = {}, {}
    for step in RequestTransition.objects.order_by("request_id", "seq"):
        req_state[step.request_id] = step.to_state
        if step.action == RequestAction.FINISH:
            req_done[step.request_id] = timezone.localdate(step.created_at)
    issued = {s.application_id: timezone.localdate(s.created_at)
              for s in CardTransition.objects.filter(action=CardAction.ISSUE)}
    requests = [r for r in ServiceRequest.objects.all() if r.veteran_id in seen_vets]
    cards = [a for a in CardApplication.objects.all() if a.veteran_id in seen_vets]
    return {
        "scheduled": len(due), "overdue": sum(s == "overdue" for _, s, _ in due.values()),
        "never": sum(n for _, _, n in due.values()),
        "visited": sum(1 for v in Visit.objects.select_related("resident__node")
                       if start <= v.visited_on <= end and _in_scope(user, v.resident.node.path)),
        "checks": sum(1 for c in VeteranCheck.objects.all() if c.veteran_id in seen_vets and start <= c.checked_on <= end),
        "applications": sum(start <= a.applied_on <= end for a in cards),
        "issued": sum(a.pk in issued and start <= issued[a.pk] <= end for a in cards),
        "requests": sum(start <= r.received_on <= end for r in requests),
        # 诉求办结 among the requests received in the period (one population): done, by the period's end
        "requests_done": sum(start <= r.received_on <= end and req_state.get(r.pk) == "done" and req_done[r.pk] <= end
                             for r in requests),
    }


def run_program(world, v, data) -> None:
    residents = [v.alice, v.bob, v.dan, v.carl]
    veterans = [v.dan_veteran, v.carl_veteran]
    groups = list(SpecialGroup.objects.filter(visit_interval_days__isnull=False).values_list("pk", flat=True))
    today = timezone.localdate()
    for _ in range(data.draw(st.integers(1, 16), label="steps")):
        kind = data.draw(st.sampled_from(["visit", "visit", "visit", "interval", "end", "check", "request", "card",
                                          "act"]), label="kind")
        actor = getattr(world, data.draw(st.sampled_from(USERS), label="actor"))
        with suppress(DomainError, Http404):
            if kind == "visit":
                services.visit_record(
                    actor=actor, resident=data.draw(st.sampled_from(residents), label="resident"),
                    visited_on=today - timedelta(days=data.draw(st.integers(0, 120), label="days ago")),
                    groups=data.draw(st.lists(st.sampled_from(groups), max_size=2), label="groups"), findings="走访")
            elif kind == "interval":
                SpecialGroup.objects.filter(code=data.draw(st.sampled_from(["alone_elderly", "disabled", "veteran"]))) \
                    .update(visit_interval_days=data.draw(st.sampled_from([None, 1, 7, 30, 90])))
            elif kind == "end":
                tag = data.draw(st.sampled_from(list(ResidentTag.objects.order_by("pk"))), label="tag")
                ResidentTag.objects.filter(pk=tag.pk).update(
                    end_date=today + timedelta(days=data.draw(st.integers(-5, 5), label="end")))
            elif kind == "check":
                services.veteran_check(actor=actor, veteran=data.draw(st.sampled_from(veterans)),
                                       checked_on=today - timedelta(days=data.draw(st.integers(0, 60))))
            elif kind == "request":
                services.request_create(actor=actor, veteran=data.draw(st.sampled_from(veterans)), kind="help",
                                        content="求助", received_on=today - timedelta(days=data.draw(st.integers(0, 60))))
            elif kind == "card":
                services.card_apply(actor=actor, veteran=data.draw(st.sampled_from(veterans)),
                                    applied_on=today - timedelta(days=data.draw(st.integers(0, 60))))
            elif ServiceRequest.objects.exists() and data.draw(st.booleans(), label="request?"):
                services.request_act(actor=actor, request=data.draw(st.sampled_from(list(ServiceRequest.objects.all()))),
                                     action=data.draw(st.sampled_from(RequestAction.values)), reason="说明")
            elif CardApplication.objects.exists():
                services.card_act(actor=actor, application=data.draw(st.sampled_from(list(CardApplication.objects.all()))),
                                  action=data.draw(st.sampled_from(CardAction.values)), reason="说明",
                                  card_number="ZJ1")


def check(world, data) -> None:
    real_today = timezone.localdate()
    for name in USERS:
        user = getattr(world, name)
        today = real_today + timedelta(days=data.draw(st.integers(-3, 40), label="today"))
        expected = brute_due(user, today)
        got = {(r.resident_id, r.group_id): (r.due, r.status, r.never) for r in selectors.due_rows(user, today=today)}
        assert got == expected, name
        for bucket, keep in (("overdue", lambda s, n: s == "overdue"), ("week", lambda s, n: s == "week"),
                             ("never", lambda s, n: n), ("due", lambda s, n: s != "later")):
            rows = selectors.due_rows(user, today=today, bucket=bucket)
            assert {(r.resident_id, r.group_id) for r in rows} == {k for k, (_, s, n) in expected.items() if keep(s, n)}
        start = real_today - timedelta(days=data.draw(st.integers(0, 90), label="start"))
        end = start + timedelta(days=data.draw(st.integers(0, 90), label="length"))
        f = selectors.figures(user, None, start, end, today=real_today)
        want = brute_figures(user, start, end, real_today)
        assert {k: getattr(f, k) for k in want} == want, (name, start, end)


def test_random_histories_count_by_the_book(world, v):
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        with transaction.atomic():
            run_program(world, v, data)
            check(world, data)
            transaction.set_rollback(True)

    run()
