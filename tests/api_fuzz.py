"""The schemathesis run behind tests/test_api_fuzz.py (and scripts/fuzz_api.py).

The schema is loaded from the running application (`/api/v1/openapi.json`) and every operation is
exercised through the WSGI application with one user's bearer token, in the caller's database
transaction. Generation is derandomised: the same requests every run, so a failure reproduces.
Shrinking is off (the budget is the point; the failure message carries a curl command).
"""

from __future__ import annotations

import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import hypothesis
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Path parameters drawn from the rows that exist (valid input reaches the code behind the 404):
# parameter name → model, or (path fragment → model) where one name means different things.
POOLS: dict[str, Any] = {
    "node_id": "org.OrgNode",
    "subdistrict_id": "org.OrgNode",
    "user_id": "org.User",
    "assignment_id": "org.RoleAssignment",
    "token_id": "core.ApiToken",
    "job_id": "core.ImportJob",
    "case_id": "cases.Case",
    "attachment_id": "cases.CaseAttachment",
    "digest_id": "cases.WeeklyDigest",
    "review_id": "cases.QuarterlyReview",
    "meeting_id": {"/deliberations/": "cases.Deliberation", "/joint-meetings/": "cases.JointMeeting"},
    "item_id": {"/reviews/": "cases.ReviewItem", "/joint-meetings/": "cases.JointMeetingItem"},
    "resident_id": "people.Resident",
    "tag_id": "people.ResidentTag",
    "household_id": "people.Household",
    "business_id": "people.Business",
    "group_id": "insight.DuplicateGroup",
    "petition_id": "petitions.Petition",
    "candidate_id": "petitions.RepeatCandidate",
    "petitioner_id": "petitions.Petitioner",
    "plan_id": "petitions.KeyPersonPlan",
    "matter_id": "petitions.RepeatedMatter",
    "measure_id": "petitions.PlanMeasure",
}

SCHEMA_URL = "/api/v1/openapi.json"
# Generated requests per operation, role and generation mode (valid and invalid input); the
# suite's budget. JIEDAO_FUZZ_EXAMPLES raises it (scripts/fuzz_api.py).
FUZZ_EXAMPLES = int(os.environ.get("JIEDAO_FUZZ_EXAMPLES", "2"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

@dataclass
class FuzzSummary:
    operations: int = 0
    examples: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def line(self, label: str) -> str:
        statuses = " ".join(f"{code}×{n}" for code, n in sorted(self.statuses.items()))
        server_errors = sum(n for code, n in self.statuses.items() if code >= 500)
        return (
            f"schemathesis [{label}]: {self.operations} operations, {self.examples} examples, "
            f"{server_errors} server errors, {len(self.failures)} failing operations, "
            f"{self.seconds:.1f} s; statuses {statuses}"
        )

    def report(self) -> str:
        return "\n\n".join(f"{label}\n{message}" for label, message in self.failures)


@contextmanager
def _in_this_transaction():
    """Django's WSGI handler without the per-request connection closing (as Django's test client
    does): the requests must run inside the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


_LOADED: list[Any] = []


def _schema():
    """The schema loaded from the WSGI application, once per process (building it and the
    operations' strategies costs seconds)."""
    if not _LOADED:
        schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler())
        _LOADED.append(schema)
    return _LOADED[0]


def _settings(max_examples: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def seed_rows(world) -> None:
    """A few rows for the pools beyond the world's org tree: a case, a household with a resident
    in a special group, a business."""
    from jiedao.cases.services import case_create
    from jiedao.people import services as people
    from jiedao.people.models import SpecialGroup

    case_create(actor=world.worker, source="patrol", node=world.grid, title="路灯不亮", description="东门路路灯坏了三盏。",
                suggest=False)
    household = people.household_create(actor=world.admin, node=world.grid, number="FZ-001", address="东门路1号")
    resident = people.resident_create(actor=world.admin, node=world.grid, name="周测试", household=household, relation="户主")
    group = SpecialGroup.objects.order_by("pk").first()
    if group is not None:
        people.resident_tag(actor=world.admin, resident=resident, group=group)
    people.business_create(actor=world.admin, node=world.grid, name="东门小吃店")
    _seed_petitions(world)


def _seed_petitions(world) -> None:
    """Two petitions by one petitioner (a likely repeat), one accepted; a diagnosed repeated matter
    with a measure; the petitioner on the 重点信访人员 list."""
    from django.utils import timezone

    from jiedao.petitions import services as petitions

    def register(content):
        return petitions.petition_register(actor=world.admin, node=world.grid, channel="visit",
                                           received_on=timezone.localdate(), category="other", content=content,
                                           petitioners=[{"name": "吴测试", "id_number": "330225198001010018"}])

    first = register("东门路地下车库渗水")
    petitions.petition_act(actor=world.admin, petition=first, action="accept")
    second = register("东门路地下车库又渗水了")
    petitions.candidate_decide(actor=world.admin, candidate=second.candidates.get(earlier=first), confirm=True)
    register("东门路地下车库还在渗水")
    second.refresh_from_db()
    matter = petitions.matter_diagnose(actor=world.admin, matter=second.matter, causes="防水层老化",
                                       responsible_unit="城建办", basis="《物业管理条例》", wants="修复")
    petitions.measure_add(actor=world.admin, matter=matter, text="约谈开发商", owner="王书记",
                          due_on=timezone.localdate())
    petitions.key_person_flag(actor=world.admin, petitioner=first.petitioners.get(), reason="反复信访")


def _pool_model(path: str, name: str) -> str | None:
    model = POOLS.get(name)
    if isinstance(model, dict):
        return next((m for fragment, m in model.items() if fragment in path), None)
    return model


def _pooled(operation, mode, protected: dict[str, set[int]]):
    """The operation's strategy; valid input takes its ids from existing rows where it can."""
    from django.apps import apps
    from hypothesis import strategies as st

    plain = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE:
        return plain
    pools = {}
    for parameter in operation.path_parameters:
        model = _pool_model(operation.path, parameter.name)
        if model is None:
            continue
        ids = sorted(set(apps.get_model(model).objects.values_list("pk", flat=True)) - protected.get(parameter.name, set()))
        if ids:
            pools[parameter.name] = st.sampled_from(ids[:20])
    if not pools:
        return plain
    return st.fixed_dictionaries(pools).flatmap(
        lambda fixed: operation.as_strategy(generation_mode=mode, path_parameters=fixed)
    )


def fuzz_api(user, *, max_examples: int = FUZZ_EXAMPLES, modes=(GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):
    """Fuzz every operation as `user`; returns the counts and the failures (operation, message)."""
    from jiedao.core.services import token_create

    summary = FuzzSummary()
    token, plaintext = token_create(actor=user, name="fuzz")
    headers = {"Authorization": f"Bearer {plaintext}"}
    # The fuzzing user's own token, account and roles are not revoked, changed or removed
    # mid-run: everything after would be a 401.
    protected = {
        "token_id": {token.pk},
        "user_id": {user.pk},
        "assignment_id": set(user.assignments.values_list("pk", flat=True)),
    }
    started = perf_counter()
    with _in_this_transaction():
        schema = _schema()
        for result in schema.get_all_operations():
            operation = result.ok()
            summary.operations += 1
            for mode in modes:
                strategy = _pooled(operation, mode, protected)

                @_settings(max_examples)
                @hypothesis.given(case=strategy)
                def run(case):
                    if case.method != "GET" and any(
                        (case.path_parameters or {}).get(name) in ids for name, ids in protected.items()
                    ):
                        hypothesis.reject()
                    response = case.call(headers=headers)
                    summary.examples += 1
                    summary.statuses[response.status_code] += 1
                    case.validate_response(response, checks=CHECKS, headers=headers)

                try:
                    run()
                except (Exception, BaseExceptionGroup) as exc:  # every operation's failure, not only the first
                    summary.failures.append((f"{operation.label} [{mode.value}]", str(exc)))
    summary.seconds = perf_counter() - started
    return summary
