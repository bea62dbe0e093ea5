"""The demo's registers and cases are consistent with what the real services would write."""

from django.db.models import Sum
from django.utils import timezone

from jiedao.cases import search, services
from jiedao.cases.demo import demo_caller_phone, seed_cases, seed_hotline_callers
from jiedao.cases.models import Case, CaseStat, CaseText, CaseTransition, State
from jiedao.core import crypto, sealed
from jiedao.core.validators import validate_id_number
from jiedao.people.demo import seed_registers
from jiedao.people.models import Resident


def test_demo_registers_are_valid_and_encrypted(world):
    counts = seed_registers(world.subdistrict, seed=1, businesses=5)
    assert counts["residents"] == Resident.objects.count() > 0
    resident = Resident.objects.exclude(id_number_enc="").first()
    number = sealed.reveal(resident, "id_number")
    assert validate_id_number(number) == resident.birth_date
    assert resident.id_number_masked == crypto.mask(number, "id_number")


def test_demo_cases_match_their_rollups_and_transitions(world, catalogue):
    seed_cases(world.subdistrict, seed=1, count=80, days=60)
    assert Case.objects.count() == 80
    assert CaseText.objects.count() == 80  # every demo case is in the full-text index
    case = Case.objects.order_by("id").first()
    assert case in Case.objects.filter(pk__in=search.matching_ids(case.description[:12]))
    assert CaseStat.objects.aggregate(n=Sum("reported"))["n"] == 80
    closed = Case.objects.filter(state=State.CLOSED).count()
    assert CaseStat.objects.aggregate(n=Sum("closed"))["n"] == closed
    assert Case.objects.filter(created_at__gt=timezone.now()).count() == 0
    for case in Case.objects.all()[:20]:
        seqs = list(CaseTransition.objects.filter(case=case).values_list("seq", flat=True))
        assert seqs == list(range(len(seqs))) and case.version == seqs[-1]
        last = CaseTransition.objects.filter(case=case).order_by("-seq").first()
        assert last.to_state == case.state


def test_no_demo_case_is_left_without_a_next_step(world, catalogue):
    from jiedao.cases.stuck import stuck_cases

    seed_cases(world.subdistrict, seed=3, count=1200, days=90)
    checked, stuck = stuck_cases()
    assert checked > 0 and stuck == []


def test_demo_cases_include_repeated_reports_at_one_building(world, catalogue):
    """Some problems are reported again at the same building a few days later, so the demo shows
    duplicate groups and hotspots."""
    seed_cases(world.subdistrict, seed=1, count=400, days=60)
    assert Case.objects.count() == 400
    repeats = Case.objects.filter(title__contains="再次反映") | Case.objects.filter(title__startswith="又来反映") \
        | Case.objects.filter(title__contains="还是没人管")
    assert repeats.count() >= 5
    for repeat in repeats[:10]:
        original = Case.objects.filter(building=repeat.building, category=repeat.category,
                                       created_at__lt=repeat.created_at).order_by("-created_at").first()
        assert original is not None and repeat.created_at - original.created_at <= timezone.timedelta(days=16)


def test_demo_hotline_calls_have_sealed_indexed_phones_and_one_repeat_caller(world, catalogue):
    """Filed through case_create by the community secretary: typing the repeat caller's number on
    the hotline form finds the three calls."""
    assert seed_hotline_callers(world.subdistrict, seed=1) == 6
    calls = Case.objects.filter(source="hotline")
    assert calls.count() == 6 and calls.filter(anonymous=True, reporter_phone_enc="", reporter_phone_index="").count() == 1
    assert not calls.filter(anonymous=False, reporter_phone_index="").exists()
    found = services.case_reporter_lookup(actor=world.secretary, phone=demo_caller_phone(1, 0))
    assert found.count == 3 and all(c.reporter_name == "刘女士" for c in found.cases)


def test_demo_seeds_routing_rules_that_the_dispatch_form_preselects(world, catalogue):
    """派遣规则 of the demo: 大事 categories → the sub-district's departments (by the words of their
    names, as jiedao.org.demo names them); a village's 违法搭建 goes to 农业农村办."""
    from jiedao.cases.catalogue.selectors import route
    from jiedao.cases.demo import seed_routing_rules
    from jiedao.cases.models import Category, RoutingRule
    from jiedao.org import services as org_services

    made = {name: org_services.department_create(actor=world.root, subdistrict=world.subdistrict, name=name)
            for name in ("城市管理办", "综合行政执法队", "应急管理办", "农业农村办")}
    added = seed_routing_rules(world.subdistrict)
    assert added == RoutingRule.objects.filter(node__subdistrict=world.subdistrict).count() - 1  # + the test's own
    assert seed_routing_rules(world.subdistrict) == 0  # idempotent
    category = {c.code: c for c in Category.objects.all()}
    assert route(category["exposed_garbage"], world.building) == made["城市管理办"]
    assert route(category["street_vending"], world.grid) == made["综合行政执法队"]
    assert route(category["fire_hazard"], world.grid) == made["应急管理办"]
    assert route(category["illegal_building"], world.grid) == made["综合行政执法队"]
    assert route(category["illegal_building"], world.village_grid) == made["农业农村办"]
    assert route(category["assistance"], world.grid) is None  # no 社会事务办 here: no rule, no guess
    assert route(category["neighbour_dispute"], world.grid) is None  # 小事: the community
