"""Regression tests for the issue 17 review of the petitions app (each failed before its fix)."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from jiedao.core.errors import DomainError
from jiedao.core.models import AuditEvent
from jiedao.petitions import selectors, services
from jiedao.petitions.models import MatterStage, Petition, Petitioner, RepeatCandidate, RepeatedMatter

from .conftest import register

ID = "330225198001010018"


def _cross(world):
    """A village petition, then one in 东门社区 by the same person: a candidate pointing out of 东门."""
    v = register(world, world.leader, node=world.village_grid, id_number=ID, title="横塘村征地补偿",
                 content="村里土地征收补偿")
    a = register(world, world.leader, node=world.grid, id_number=ID, content="东门小区物业费")
    return v, a, RepeatCandidate.objects.get(petition=a)


def test_candidate_into_another_community_is_not_found(world, staff, as_):
    v, a, cand = _cross(world)
    with pytest.raises(Http404):
        selectors.candidate_get(world.secretary, cand.pk)
    with pytest.raises(Http404):
        services.candidate_decide(actor=world.secretary, candidate=cand, confirm=True)
    r = as_(world.secretary).post(f"/candidates/{cand.pk}", {"confirm": True})
    assert r.status_code == 404
    a.refresh_from_db()
    v.refresh_from_db()
    assert a.matter_id is None and v.matter_id is None
    assert RepeatCandidate.objects.get(pk=cand.pk).status == "pending"
    assert selectors.candidate_get(world.leader, cand.pk).earlier_id == v.pk


def test_hidden_matter_title_is_not_shown(world, staff, client):
    _v, a, cand = _cross(world)
    services.candidate_decide(actor=world.leader, candidate=cand, confirm=True)
    client.force_login(world.secretary)
    html = client.get(reverse("petitions:petition", args=[a.pk])).content.decode()
    assert "横塘村征地补偿" not in html
    assert "重复件" not in html and "首次信访" not in html
    client.force_login(world.leader)
    html = client.get(reverse("petitions:petition", args=[a.pk])).content.decode()
    assert "横塘村征地补偿" in html


def test_case_from_petition_holds_no_content(world, staff):
    from jiedao.cases import selectors as case_selectors
    p = register(world, world.secretary, node=world.grid, name="举报人", content="举报社区主任收受好处费，要求查处")
    services.petition_act(actor=world.secretary, petition=p, action="accept")
    case = services.petition_to_case(actor=world.secretary, petition=p)
    assert p.code in case.title
    for text in (case.title, case.description):
        assert "好处费" not in text and "举报人" not in text and p.title not in text
    assert case.node == world.community and case.resident_id is None  # filed above the grids
    with pytest.raises(Http404):  # the grid worker has no petitions right and does not see it
        case_selectors.case_get(world.worker, case.pk)
    assert case_selectors.case_get(world.secretary, case.pk).pk == case.pk


def _handling(world, days_since_accept):
    p = register(world, world.leader, node=world.grid)
    services.petition_act(actor=world.leader, petition=p, action="accept")
    today = timezone.localdate()
    decided = today - timedelta(days=days_since_accept)
    Petition.objects.filter(pk=p.pk).update(decided_on=decided, conclude_due=decided + timedelta(days=60))
    return Petition.objects.get(pk=p.pk)


def test_extension_on_the_due_day_is_allowed(world, staff):
    p = _handling(world, 60)
    assert p.conclude_due == timezone.localdate()
    p = services.petition_act(actor=world.leader, petition=p, action="extend", reason="情况复杂", days=10)
    assert p.extended_days == 10


def test_extension_after_the_due_day_is_refused(world, staff):
    p = _handling(world, 61)
    with pytest.raises(DomainError, match="办理期限已过"):
        services.petition_act(actor=world.leader, petition=p, action="extend", reason="情况复杂", days=10)
    p2 = Petition.objects.get(pk=p.pk)
    assert p2.extended_days == 0 and p2.conclude_due == p.conclude_due


def test_typed_id_with_another_name_is_refused_without_the_stored_name(world, staff):
    register(world, world.leader, node=world.grid, name="真名", id_number=ID)
    with pytest.raises(DomainError) as err:
        register(world, world.secretary, node=world.grid, name="随便", id_number=ID)
    assert err.value.field == "name" and "真名" not in str(err.value)
    assert Petition.objects.count() == 1


def test_typed_id_with_the_same_name_is_audited_and_keeps_the_phone(world, staff):
    register(world, world.leader, node=world.grid, name="真名", id_number=ID)
    p = register(world, world.secretary, node=world.grid, name="真名", id_number=ID, phone="13812345678")
    person = p.petitioners.get()
    assert Petitioner.objects.count() == 1
    assert person.phone_masked  # an empty phone is filled in
    assert AuditEvent.objects.filter(action="petitions.petitioner.match_id", actor=world.secretary).exists()


def test_counts_only_visible_petitions(world, staff):
    # first raised in 东门 (the petitioner and the matter lie there), then in the village
    register(world, world.leader, node=world.grid, id_number=ID, content="东门小区物业费")
    v = register(world, world.leader, node=world.village_grid, id_number=ID, content="村里土地征收补偿")
    services.candidate_decide(actor=world.leader, candidate=RepeatCandidate.objects.get(petition=v), confirm=True)
    assert [p.petition_count for p in selectors.petitioner_list(world.secretary)] == [1]
    assert [p.petition_count for p in selectors.petitioner_list(world.leader)] == [2]
    assert [m.petition_count for m in selectors.matter_list(world.secretary)] == [1]
    assert [m.petition_count for m in selectors.matter_list(world.leader)] == [2]


def _matter(world):
    register(world, world.secretary, node=world.grid, id_number=ID)
    p2 = register(world, world.secretary, node=world.grid, id_number=ID)
    cand = RepeatCandidate.objects.get(petition=p2)
    services.candidate_decide(actor=world.secretary, candidate=cand, confirm=True)
    return RepeatedMatter.objects.get(pk=Petition.objects.get(pk=p2.pk).matter_id)


def test_non_numeric_measure_is_404(world, staff, client):
    matter = _matter(world)
    client.force_login(world.secretary)
    r = client.post(reverse("petitions:matter_post", args=[matter.pk, "done"]), {"measure": "abc"})
    assert r.status_code == 404


def test_a_repeat_of_a_struck_off_matter_reopens_it(world, staff):
    matter = _matter(world)
    services.matter_diagnose(actor=world.secretary, matter=matter, causes="c", responsible_unit="u", basis="b",
                             wants="w")
    m = services.measure_add(actor=world.secretary, matter=matter, text="t", owner="o",
                             due_on=timezone.localdate())
    services.measure_done(actor=world.secretary, measure=m)
    services.matter_strike_off(actor=world.leader, matter=matter, evidence="已化解")
    p3 = register(world, world.secretary, node=world.grid, id_number=ID)
    cand = RepeatCandidate.objects.filter(petition=p3).first()
    services.candidate_decide(actor=world.secretary, candidate=cand, confirm=True)
    matter.refresh_from_db()
    assert matter.stage == MatterStage.PLANNED and matter.struck_off_on is None
    assert matter.notes.exists()
    assert AuditEvent.objects.filter(action="petitions.matter.reopen").exists()


@pytest.mark.parametrize("action", ["decide_review", "decide_recheck"])
def test_review_and_recheck_are_decided_above_the_community(world, staff, action):
    p = register(world)
    steps = ["accept", "reply", "request_review"] + (["decide_review", "request_recheck"] if action == "decide_recheck" else [])
    for step in steps:
        p = services.petition_act(actor=world.admin, petition=p, action=step, reason="说明")
    with pytest.raises(DomainError):
        services.petition_act(actor=world.secretary, petition=p, action=action, reason="意见")
    services.petition_act(actor=world.leader, petition=p, action=action, reason="意见")


def test_demo_steps_are_done_by_whom_the_table_allows(world):
    from jiedao.petitions import workflow
    from jiedao.petitions.demo import seed_petitions
    from jiedao.petitions.models import PetitionTransition

    seed_petitions(world.subdistrict, seed=7)
    today = timezone.localdate()
    for step in PetitionTransition.objects.select_related("petition__node", "actor"):
        row = workflow.find(step.action, step.from_state)
        kinds = services.petition_actor_kinds(step.actor, step.petition)
        assert row is not None and row.actors & kinds, (step.action, step.actor, step.petition.node.path)
    for p in Petition.objects.exclude(recheck_requested_on=None):
        assert p.recheck_requested_on <= today and p.state in ("rechecking", "closed")
