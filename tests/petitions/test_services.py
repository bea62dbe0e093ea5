"""Registration, time limits, masks, repeats, the 销号 campaign, 重点信访人员, case and 联席会议 links."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from jiedao.cases.models import Case, Level
from jiedao.core import sealed
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.petitions import selectors, services
from jiedao.petitions.models import MatterStage, Petitioner, PetitionState

from .conftest import register

ID = "330225198001010018"


def test_register_sets_the_acceptance_limit_and_seals_identifiers(world):
    day = timezone.localdate() - timedelta(days=3)
    p = register(world, received_on=day, id_number=ID, phone="13812345678")
    assert p.accept_due == day + timedelta(days=15)
    assert p.state == PetitionState.REGISTERED and p.community == world.community
    person = p.petitioners.get()
    assert person.id_number_masked == "33***************8" and person.phone_masked == "138******78"
    assert ID not in person.id_number_enc and "13812345678" not in person.phone_enc
    assert sealed.reveal(person, "id_number") == ID
    event = AuditEvent.objects.filter(action="petitions.petition.register").latest("id")
    assert ID not in str(event.after)


def test_bad_input_names_the_field_and_changes_nothing(world):
    before = Petitioner.objects.count()
    for kwargs, field in [({"id_number": "330225198001010019"}, "id_number"), ({"phone": "123"}, "phone"),
                          ({"channel": "fax"}, "channel"), ({"is_group": True, "people_count": 2}, "people_count"),
                          ({"received_on": timezone.localdate() + timedelta(days=1)}, "received_on")]:
        with pytest.raises(DomainError) as exc:
            register(world, **kwargs)
        assert exc.value.field == field
    assert Petitioner.objects.count() == before


def test_scope_of_registration(world):
    with pytest.raises(Http404):
        register(world, world.secretary, node=world.village_grid)  # not the secretary's place
    with pytest.raises(Http404):
        register(world, world.worker)  # a grid worker has no petitions grant anywhere
    p = register(world, world.leader, node=world.village_grid)
    with pytest.raises(Http404):
        selectors.petition_get(world.secretary, p.pk)
    with pytest.raises(Http404):
        selectors.petition_get(world.worker, p.pk)


def test_same_id_number_is_one_petitioner_and_a_repeat_candidate(world, staff):
    a = register(world, id_number=ID, content="物业费上涨没有经过业主大会")
    b = register(world, id_number=ID, content="完全不同的事：路灯坏了")
    assert a.petitioners.get() == b.petitioners.get()
    cands = selectors.candidates_for(world.secretary, b)
    assert [(c.earlier_id, c.basis) for c in cands] == [(a.pk, "person")]


def test_similar_text_in_the_community_is_a_candidate_and_confirm_groups_a_matter(world, staff):
    a = register(world, name="甲", content="小区地下车库每逢下雨就渗水积水，车辆被泡，要求开发商修复防水层。")
    b = register(world, name="乙", node=world.other_grid, content="地下车库又渗水了，下雨积水车都泡了，请督促开发商修好防水层。")
    c = register(world, name="丙", node=world.other_grid, content="楼道路灯损坏")
    assert [x.earlier_id for x in selectors.candidates_for(staff, b)] == [a.pk]
    assert selectors.candidates_for(staff, c) == []
    cand = selectors.candidates_for(staff, b)[0]
    services.candidate_decide(actor=staff, candidate=cand, confirm=True)
    a.refresh_from_db(), b.refresh_from_db()
    assert a.matter_id == b.matter_id and not a.is_repeat and b.is_repeat
    with pytest.raises(DomainError):
        services.candidate_decide(actor=staff, candidate=cand, confirm=False)


def _matter(world, staff):
    register(world, id_number=ID)
    b = register(world, id_number=ID)
    services.candidate_decide(actor=staff, candidate=selectors.candidates_for(staff, b)[0], confirm=True)
    b.refresh_from_db()
    return b.matter


def test_the_strike_off_campaign(world, staff):
    matter = _matter(world, staff)
    with pytest.raises(DomainError):
        services.measure_add(actor=staff, matter=matter, text="协调会", owner="王书记", due_on=timezone.localdate())
    services.matter_diagnose(actor=staff, matter=matter, causes="防水层施工质量", responsible_unit="城建办",
                             basis="《建设工程质量管理条例》", wants="修复防水层")
    m = services.measure_add(actor=staff, matter=matter, text="协调会", owner="王书记", due_on=timezone.localdate())
    services.matter_note_add(actor=staff, matter=matter, text="已约谈开发商")
    with pytest.raises(DomainError):
        services.matter_strike_off(actor=world.leader, matter=matter, evidence="已修复")  # a measure open
    services.measure_done(actor=staff, measure=m)
    with pytest.raises(PermissionError_):
        services.matter_strike_off(actor=staff, matter=matter, evidence="已修复")  # community staff: no approval
    with pytest.raises(PermissionError_):
        services.matter_strike_off(actor=world.secretary, matter=matter, evidence="已修复")  # a leader approves
    done = services.matter_strike_off(actor=world.leader, matter=matter, evidence="已修复，信访人签字确认")
    assert done.stage == MatterStage.STRUCK_OFF and done.approved_by == world.leader
    board = selectors.campaign_board(world.secretary)
    assert board[-1].struck_off == 1
    today = timezone.localdate()
    assert selectors.figures(world.secretary, None, today, today).struck_off == 1
    assert selectors.figures(world.secretary, world.village, today, today).struck_off == 0
    assert selectors.figures(world.worker, None, today, today).struck_off == 0
    assert selectors.figures(world.leader, None, today, today).repeats == 1
    assert selectors.campaign_board(world.worker)[-1].total == 0


def test_key_person_follow_up(world, staff):
    p = register(world, id_number=ID)
    person = p.petitioners.get()
    with pytest.raises(PermissionError_):
        services.key_person_flag(actor=staff, petitioner=person, reason="反复信访")  # handling, not managing
    plan = services.key_person_flag(actor=world.secretary, petitioner=person, reason="反复信访", interval_days=7,
                                    responsible=staff)
    assert plan.next_due == timezone.localdate() + timedelta(days=7)
    services.key_contact_add(actor=staff, plan=plan, contacted_on=timezone.localdate(), way="走访", note="情绪平稳",
                             stability="stable")
    plan.refresh_from_db()
    assert plan.stability == "stable" and plan.next_due == timezone.localdate() + timedelta(days=7)
    assert list(selectors.key_plans(world.secretary, due_within=7)) == [plan]
    assert list(selectors.key_plans(world.secretary, due_within=0)) == []
    assert list(selectors.key_plans(world.worker)) == []


def test_reveal_needs_the_right_and_a_reason(world):
    p = register(world, id_number=ID)
    person = p.petitioners.get()
    with pytest.raises(DomainError):
        services.petitioner_reveal(actor=world.secretary, petitioner=person, field="id_number", reason="")
    with pytest.raises(Http404):
        services.petitioner_reveal(actor=world.worker, petitioner=person, field="id_number", reason="核对")
    value = services.petitioner_reveal(actor=world.admin, petitioner=person, field="id_number", reason="核对身份")
    assert value == ID
    assert AuditEvent.objects.filter(action="petitions.petitioner.reveal_id_number").exists()


def test_case_link_and_joint_meeting(world):
    p = register(world)
    services.petition_act(actor=world.secretary, petition=p, action="accept")
    case = services.petition_to_case(actor=world.secretary, petition=p)
    assert case.internal and case.source == "petition"
    with pytest.raises(DomainError):
        services.petition_to_case(actor=world.secretary, petition=p)
    from jiedao.cases.related import links_for
    assert any(link.label.startswith(p.code) for link in links_for(world.secretary, case))
    assert not any(link.label.startswith(p.code) for link in links_for(world.worker, case))
    case = services.petition_propose_joint(actor=world.secretary, petition=p, reason="涉及多个部门")
    assert case.level == Level.JOINT_MEETING
    from jiedao.cases.mediation.selectors import awaiting_cases
    assert case.pk in set(awaiting_cases(world.subdistrict.pk).values_list("pk", flat=True))
    assert Case.objects.get(pk=case.pk).difficult
