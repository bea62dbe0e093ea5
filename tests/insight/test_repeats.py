"""Repeat complaints (issue 15): the same reporter again (the phone's blind index), a re-post of
the same problem at the same place, or the words of a chase mark a case as a repeat, linked to the
earlier one; hotspots and the 月议 agenda count them."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jiedao.cases.cycles import services as cycles
from jiedao.cases.models import Case, Category, Tier
from jiedao.core import scheduler
from jiedao.core.models import AuditEvent
from jiedao.insight import selectors
from jiedao.insight import services as insight
from jiedao.insight.models import CaseRepeat, RepeatScan
from tests.insight.test_groups import LOOKALIKE, OTHER, REPORT, file, garbage, second_building  # noqa: F401

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
CALLBACK = ("楼下垃圾没人清运", "1幢楼下垃圾堆着没人清运，上周打过电话。")
CHASE = ("丽发新城垃圾问题", "丽发新城小区3栋楼下的垃圾多次反映，还是没有人来清运。")


def test_same_reporter_re_post_and_chase_words_mark_repeats(world, garbage, second_building):  # noqa: F811
    first = file(world, REPORT, category=garbage, reporter_name="陈", reporter_phone=PHONE, days_ago=5)
    again = file(world, CALLBACK, category=garbage, reporter_name="陈", reporter_phone=PHONE, days_ago=2)
    other_problem = file(world, OTHER, reporter_name="陈", reporter_phone=PHONE, days_ago=1)  # same phone, not alike
    lookalike = file(world, LOOKALIKE, building=second_building, category=garbage, days_ago=1)
    chase = file(world, CHASE, category=garbage)
    marked = insight.repeat_scan(subdistrict=world.subdistrict)
    rows = {r.case_id: r for r in CaseRepeat.objects.all()}
    assert marked == len(rows) == 2
    assert rows[again.pk].earlier_id == first.pk and "reporter" in rows[again.pk].reasons
    assert rows[chase.pk].earlier_id == first.pk and set(rows[chase.pk].reasons) >= {"chase", "repost"}
    assert other_problem.pk not in rows and lookalike.pk not in rows and first.pk not in rows
    assert AuditEvent.objects.filter(action="insight.repeat.scan").count() == 1
    # read once: a second scan marks nothing and writes no row twice
    assert insight.repeat_scan(subdistrict=world.subdistrict) == 0 and CaseRepeat.objects.count() == 2
    assert RepeatScan.objects.get(subdistrict=world.subdistrict).last_case_id == chase.pk
    assert selectors.repeat_counts([first.pk, again.pk, chase.pk]) == {first.pk: 2}


def test_the_same_reporter_repeats_only_the_same_problem_at_the_same_place(world, garbage, second_building):  # noqa: F811
    lift = Category.objects.create(code="lift", name="电梯故障", default_tier=Tier.PUBLIC, time_limit=1)
    first = file(world, REPORT, category=garbage, reporter_name="陈", reporter_phone=PHONE, days_ago=9)
    # the same category at the same building, in other words: the same problem again
    again = file(world, ("楼下卫生太差", "楼下脏得很，麻烦派人来看看。"), category=garbage,
                 reporter_name="陈", reporter_phone=PHONE, days_ago=7)
    # the same resident on another problem at the same building: another category, other words
    other_problem = file(world, OTHER, category=lift, reporter_name="陈", reporter_phone=PHONE, days_ago=5)
    # the same kind of problem at another building: another place
    elsewhere = file(world, ("2幢门口垃圾桶满了", "垃圾桶满了溢出来，没人换。"), building=second_building,
                     category=garbage, reporter_name="陈", reporter_phone=PHONE, days_ago=3)
    # no category, but the title says the same problem at a place that does not differ
    alike_title = file(world, ("丽发新城3栋楼下垃圾没人清运", "还是臭。"), building=None,
                       reporter_name="陈", reporter_phone=PHONE, days_ago=1)
    insight.repeat_scan(subdistrict=world.subdistrict)
    rows = {r.case_id: r for r in CaseRepeat.objects.all()}
    assert rows[again.pk].earlier_id == first.pk and rows[again.pk].reasons[0] == "reporter"
    assert other_problem.pk not in rows and elsewhere.pk not in rows and first.pk not in rows
    assert "reporter" in rows[alike_title.pk].reasons


def test_same_reporter_rule_reads_place_category_and_title():
    def case(title, *, building=None, grid=None, category=None):
        return Case(title=title, building_id=building, grid_id=grid, category_id=category)

    first = case("小区路灯不亮", building=1, grid=10, category=5)
    assert insight._alike(case("晚上黑得看不见", building=1, grid=10, category=5), first)  # same category, building
    assert not insight._alike(case("晚上黑得看不见", building=2, grid=10, category=5), first)  # another building
    assert not insight._alike(case("小区路灯不亮", building=2, grid=10, category=5), first)  # alike, elsewhere
    assert not insight._alike(case("电梯坏了", building=1, grid=10, category=6), first)  # another problem
    assert insight._alike(case("小区路灯还是不亮", building=1, grid=10, category=6), first)  # title alike
    assert insight._alike(case("晚上黑得看不见", grid=10, category=5), first)  # same grid, no building stated
    assert not insight._alike(case("晚上黑得看不见", grid=11, category=5), first)  # another grid
    assert not insight._alike(case("晚上黑得看不见", category=5), first)  # place unknown: the words must say it
    assert insight._alike(case("小区路灯不亮了"), first)


def test_hotspots_and_the_monthly_agenda_count_repeats(world, garbage, second_building):  # noqa: F811
    first = file(world, REPORT, category=garbage, reporter_name="陈", reporter_phone=PHONE)
    file(world, CALLBACK, category=garbage, reporter_name="陈", reporter_phone=PHONE)
    file(world, CHASE, category=garbage, reporter_name="李")
    insight.repeat_scan_all()
    spots = selectors.hotspots_for_path(world.subdistrict.path, period="month", level="building",
                                        day=timezone.localdate())
    spot = next(s for s in spots if s.category_name == "暴露垃圾")
    # recount from the raw rows: the cluster's cases merged into another or marked a repeat
    cluster = Case.objects.filter(building=world.building, category=garbage)
    expected = sum(1 for c in cluster if c.merged_into_id or CaseRepeat.objects.filter(case=c).exists())
    assert spot.reposts == expected == 2
    assert spot.chases == 0  # the reporter's second request is a repeat, not counted twice
    meeting = cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=timezone.localdate())
    why = {i.case_id: i.why for i in meeting.items.all()}
    assert "重复反映（再次反映2次）" in why[first.pk]


def test_the_scan_is_a_periodic_job():
    assert "repeat_scan" in {job.name for job in scheduler.JOBS}


def test_another_stretch_of_the_same_river_is_shown_as_related_without_a_merge_button(client, world, garbage):  # noqa: F811
    stretch_a = ("清水河桃花村段垃圾成堆", "清水河桃花村段河面漂满垃圾，发臭，请尽快清理。")
    stretch_b = ("清水河石门桥段垃圾成堆", "清水河石门桥段河面漂满垃圾，发臭，请尽快清理。")
    earlier = file(world, stretch_a, category=garbage, days_ago=1)
    found = selectors.similar_for_text(world.worker, node=world.building, title=stretch_b[0], text=stretch_b[1],
                                       category=garbage)
    assert [s.case.pk for s in found] == [earlier.pk]
    assert found[0].related and any("位置不同：石门桥≠桃花村" in e for e in found[0].evidence)
    later = file(world, stretch_b, category=garbage)
    client.force_login(world.worker)
    page = client.get(f"/cases/{later.pk}/").content.decode()
    assert "相关·位置不同" in page and "并入此件" not in page
    # the nightly grouping never puts the two stretches in one group
    assert insight.propose_groups([earlier, later], set()) == []


def test_the_case_page_links_repeats_within_the_viewers_scope(client, world, garbage, second_building):  # noqa: F811
    first = file(world, REPORT, category=garbage, reporter_name="陈", reporter_phone=PHONE, days_ago=5)
    again = file(world, CALLBACK, category=garbage, reporter_name="陈", reporter_phone=PHONE, days_ago=2)
    insight.repeat_scan(subdistrict=world.subdistrict)
    client.force_login(world.worker)
    page = client.get(f"/cases/{again.pk}/").content.decode()
    assert "本件是重复反映" in page and f"/cases/{first.pk}/" in page and first.ticket in page
    page = client.get(f"/cases/{first.pk}/").content.decode()
    assert "此后又被反映 1 次" in page and again.ticket in page

    # an earlier case outside the viewer's scope: the mark shows, the case and the evidence do not
    CaseRepeat.objects.filter(case=again).update(earlier=None)
    outside = file(world, OTHER, actor=world.village_worker, node=world.village_grid, building=None)
    CaseRepeat.objects.filter(case=again).update(earlier=outside, evidence=f"与 {outside.ticket} 为同一问题")
    page = client.get(f"/cases/{again.pk}/").content.decode()
    # (the same-reporter reason would say that this phone wrote where the worker cannot see)
    assert "repeat-title" not in page and outside.ticket not in page and "同一反映人" not in page
    client.force_login(world.village_worker)
    page = client.get(f"/cases/{outside.pk}/").content.decode()
    assert "此后又被反映" not in page and again.ticket not in page


def test_a_repeat_merged_afterwards_is_counted_once_on_the_agenda(world, garbage, second_building):  # noqa: F811
    first = file(world, REPORT, category=garbage, reporter_name="陈", reporter_phone=PHONE)
    again = file(world, CALLBACK, category=garbage, reporter_name="陈", reporter_phone=PHONE)
    insight.repeat_scan(subdistrict=world.subdistrict)
    assert selectors.repeat_counts([first.pk]) == {first.pk: 1}
    Case.objects.filter(pk=again.pk).update(merged_into=first)  # as a confirmed duplicate group leaves it
    # recount from the raw rows: repeats of `first` that are neither merged nor rejected
    expected = sum(1 for r in CaseRepeat.objects.filter(earlier=first)
                   if r.case.merged_into_id is None and r.case.state != "rejected")
    assert selectors.repeat_counts([first.pk]).get(first.pk, 0) == expected == 0
