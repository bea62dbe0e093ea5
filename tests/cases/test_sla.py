from datetime import timedelta

from django.utils import timezone

from jiedao.cases.catalogue import sla
from jiedao.cases.models import Case, Notification
from jiedao.cases.services import case_act
from jiedao.cases.workflow import Action
from tests.cases.test_workflow import file_case


def dispatched(world, catalogue):
    case = file_case(world, catalogue)
    case = case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    return case_act(actor=world.secretary, case=case, action=Action.DISPATCH)


def test_scan_marks_and_notifies_once(world, catalogue):
    case = dispatched(world, catalogue)
    assert sla.sla_scan()["overdue"] == 0
    later = case.deadline_at + timedelta(minutes=1)
    result = sla.sla_scan(now=later)
    assert result["overdue"] == 1
    assert Case.objects.get(pk=case.pk).sla_status == "overdue"
    recipients = set(Notification.objects.filter(case=case, kind="overdue").values_list("user__username", flat=True))
    assert recipients == {"handler", "secretary", "worker"}
    assert sla.sla_scan(now=later)["notified"] == 0  # once per kind
    assert [c.pk for c in sla.overdue_cases(world.secretary)] == [case.pk]
    assert list(sla.overdue_cases(world.other_worker)) == []


def test_near_deadline_and_clearing(world, catalogue):
    case = dispatched(world, catalogue)
    assert sla.sla_scan(now=case.deadline_at - timedelta(hours=1))["near"] == 1
    case = case_act(actor=world.handler, case=case, action=Action.ACKNOWLEDGE)
    case_act(actor=world.handler, case=case, action=Action.RESOLVE, reason="已清运")
    assert sla.sla_scan(now=timezone.now())["cleared"] == 1
    assert Case.objects.get(pk=case.pk).sla_status == ""
