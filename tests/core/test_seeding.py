"""The seed-step registry (jiedao.core.seeding) that `jiedao seed` and `jiedao demo` run."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from jiedao.cases import bulk
from jiedao.cases import demo as cases_demo
from jiedao.core import seeding
from jiedao.people import demo as people_demo
from jiedao.petitions import demo as petitions_demo
from jiedao.safety import demo as safety_demo
from jiedao.welfare.benefits import demo as benefits_demo
from jiedao.welfare.monitoring import demo as monitoring_demo
from jiedao.welfare.visits import demo as visits_demo


def test_the_apps_register_their_steps_in_layer_order():
    assert [(s.app, s.demo, s.scale) for s in seeding.registered()] == [
        ("jiedao.people", "jiedao.people.demo.demo_step", None),
        ("jiedao.cases", "jiedao.cases.demo.demo_step", "jiedao.cases.bulk.scale_step"),
        ("jiedao.safety", "jiedao.safety.demo.demo_step", None),
        ("jiedao.welfare.monitoring", "jiedao.welfare.monitoring.demo.demo_step", None),
        ("jiedao.welfare.benefits", "jiedao.welfare.benefits.demo.demo_step", None),
        ("jiedao.welfare.visits", "jiedao.welfare.visits.demo.demo_step", None),
        ("jiedao.petitions", "jiedao.petitions.demo.demo_step", None),
    ]
    assert seeding.demo_steps() == [people_demo.demo_step, cases_demo.demo_step, safety_demo.demo_step,
                                    monitoring_demo.demo_step, benefits_demo.demo_step, visits_demo.demo_step,
                                    petitions_demo.demo_step]
    assert seeding.scale_steps() == [bulk.scale_step]


def test_a_step_must_be_a_function_of_its_own_app():
    with pytest.raises(ImproperlyConfigured, match=r"must be a function of jiedao\.org"):
        seeding.register("jiedao.org", demo="jiedao.cases.demo.demo_step")
    assert "jiedao.org" not in [s.app for s in seeding.registered()]


def test_the_bulk_history_runs_for_district_and_city_or_when_asked():
    # Nothing to do (no database touched): tiny without --cases, or --cases 0 at any scale.
    assert bulk.scale_step(scale="tiny", seed=1, cases=None) is None
    assert bulk.scale_step(scale="city", seed=1, cases=0) is None
