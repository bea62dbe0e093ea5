"""The reference endpoints of bench/intake.py (bench.views, served only under bench.settings): the
bare floor must do what it claims — one case row and one audit row — in both its variants; the
benchmark's URLconf serves them beside every project route, and the project's own does not."""

from __future__ import annotations

import importlib
import json

import pytest
from django.test import RequestFactory
from django.urls import Resolver404, resolve

from bench import views as bench_views
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


def test_only_the_benchmark_urlconf_serves_the_reference_endpoints(client, settings):
    for url in ("/bench/noop", "/bench/bare-intake"):
        with pytest.raises(Resolver404):
            resolve(url, urlconf="jiedao.urls")
        resolve(url, urlconf="bench.urls")
    assert not hasattr(settings, "JIEDAO_BENCH_ENDPOINTS")  # no switch left in production settings
    assert importlib.import_module("bench.settings").ROOT_URLCONF == "bench.urls"
    # every project route resolves to the same view under the benchmark's URLconf
    for url in ("/api/v1/cases", "/cases/", "/open311/v2/services.json"):
        assert resolve(url, urlconf="bench.urls").func == resolve(url, urlconf="jiedao.urls").func
    settings.ROOT_URLCONF = "bench.urls"
    assert client.get("/bench/noop").status_code == 204
