"""The petition table, state × action × role: every action from every state by every named user
either does what the table says (next state, history row) or is refused and changes nothing."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from jiedao.core.errors import DomainError
from jiedao.petitions import services, workflow
from jiedao.petitions.models import Petition, PetitionState, PetitionTransition
from jiedao.petitions.workflow import PetitionAction

from .conftest import register

PATHS = {  # a way to reach each state
    PetitionState.REGISTERED: [],
    PetitionState.HANDLING: ["accept"],
    PetitionState.REPLIED: ["accept", "reply"],
    PetitionState.REVIEWING: ["accept", "reply", "request_review"],
    PetitionState.REVIEWED: ["accept", "reply", "request_review", "decide_review"],
    PetitionState.RECHECKING: ["accept", "reply", "request_review", "decide_review", "request_recheck"],
}
USERS = ("staff", "secretary", "leader", "admin", "worker", "handler")


def _at(world, state):
    p = register(world)
    for action in PATHS[state]:
        p = services.petition_act(actor=world.admin, petition=p, action=action, reason="说明")
    return p


@pytest.mark.parametrize("state", list(PATHS))
def test_every_action_by_every_user(world, staff, state):
    world.staff = staff
    for action in PetitionAction.values:
        for name in USERS:
            user = getattr(world, name)
            p = _at(world, state)
            kinds = services.petition_actor_kinds(user, p)
            row = workflow.find(action, state)
            allowed = row is not None and bool(row.actors & kinds) and not row.refusal(p, user, kinds)
            steps = PetitionTransition.objects.filter(petition=p).count()
            try:
                after = services.petition_act(actor=user, petition=p, action=action, reason="说明", days=10)
            except (DomainError, Http404):
                assert not allowed, (state, action, name)
                assert Petition.objects.get(pk=p.pk).state == state
                assert PetitionTransition.objects.filter(petition=p).count() == steps
                continue
            assert allowed, (state, action, name)
            assert after.state == (row.target or state)
            assert PetitionTransition.objects.filter(petition=p).count() == steps + 1


def test_time_limits(world):
    p = register(world)
    p = services.petition_act(actor=world.secretary, petition=p, action="accept")
    today = timezone.localdate()
    assert p.decided_on == today and p.conclude_due == today + timedelta(days=60)
    p = services.petition_act(actor=world.leader, petition=p, action="extend", reason="情况复杂", days=30)
    assert p.conclude_due == today + timedelta(days=90) and p.extension_reason == "情况复杂"
    with pytest.raises(DomainError):
        services.petition_act(actor=world.leader, petition=p, action="extend", reason="再延", days=5)
    with pytest.raises(DomainError):
        services.petition_act(actor=world.secretary, petition=p, action="extend", reason="x", days=5)
    p = services.petition_act(actor=world.secretary, petition=p, action="reply", reason="处理意见")
    assert p.review_until == today + timedelta(days=30)
    Petition.objects.filter(pk=p.pk).update(review_until=today - timedelta(days=1))
    with pytest.raises(DomainError):
        services.petition_act(actor=world.secretary, petition=p, action="request_review")


def test_overdue_flags(world):
    p = register(world, received_on=timezone.localdate() - timedelta(days=20))
    assert p.overdue_flags(timezone.localdate()) == ["accept"]
    from jiedao.petitions import selectors
    assert list(selectors.petition_list(world.secretary, overdue="accept")) == [p]
    assert list(selectors.petition_list(world.secretary, overdue="conclude")) == []


def test_the_documentation_is_the_table():
    from pathlib import Path

    from jiedao.petitions.docs import workflow_markdown

    docs = Path(__file__).resolve().parents[2] / "docs" / "petitions-workflow.md"
    assert docs.read_text(encoding="utf-8") == workflow_markdown(), \
        "run: python -m jiedao.petitions.docs > docs/petitions-workflow.md"
