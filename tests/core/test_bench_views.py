"""The reference endpoints of bench/intake.py (mounted only with JIEDAO_BENCH_ENDPOINTS): the bare
floor must do what it claims — one case row and one audit row — in both its variants."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from jiedao import bench_views
from jiedao.cases.models import Case
from jiedao.core.models import AuditEvent


@pytest.mark.parametrize("query", ["", "?cached"])
def test_bare_intake_inserts_one_case_and_one_audit_row(world, query):
    body = json.dumps({"title": "路灯不亮", "description": "3号楼前", "node": world.grid.pk, "org_path": world.grid.path})
    cases, events = Case.objects.count(), AuditEvent.objects.count()
    response = bench_views.bare_intake(RequestFactory().post(f"/bench/bare-intake{query}", body,
                                                             content_type="application/json"))
    assert response.status_code == 201
    case = Case.objects.get(ticket=json.loads(response.content)["ticket"])
    assert (case.title, case.node_id, case.org_path) == ("路灯不亮", world.grid.pk, world.grid.path)
    assert (Case.objects.count(), AuditEvent.objects.count()) == (cases + 1, events + 1)


def test_bare_intake_refuses_bad_input_and_writes_nothing(world):
    cases = Case.objects.count()
    for body in ("not json", json.dumps({"title": "", "description": "x", "node": world.grid.pk})):
        response = bench_views.bare_intake(RequestFactory().post("/bench/bare-intake", body,
                                                                 content_type="application/json"))
        assert response.status_code == 400 and "请" in json.loads(response.content)["detail"]
    assert Case.objects.count() == cases
