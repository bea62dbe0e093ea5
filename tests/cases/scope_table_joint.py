"""The 联席会议 part of the /api/v1/cases scope table (merged into tests/cases/scope_table.py).

The objects: a case of 东门第一网格 escalated by 城建办 to level 3 (联席会议), and a meeting of 丹西街道
in preparation with that case on its agenda. The leader prepares, holds and decides; the handler
of 城建办 (a member department) sees the meeting but may not act (403); the grid workers of the
other grid and of the village see neither (404)."""

from datetime import timedelta

from django.utils import timezone

from tests.scope import Endpoint

DUE = (timezone.localdate() + timedelta(days=10)).isoformat()
DECISION = {"decision": "城建办牵头清运并建立长效保洁机制", "lead_department": "{department}", "co_departments": [],
            "due_date": DUE}
HOLD = {"held_at": f"{timezone.localdate() - timedelta(days=1)}T09:00:00", "summary": "会议逐件研究了上报事项。", "attendees": "李主任、孙科员"}
UPDATE = {"title": "信访联席会议（调整）", "location": "三楼会议室", "host": "李主任"}


def build(world) -> dict:
    """A level-3 case of 东门第一网格 and a meeting in preparation with it on the agenda."""
    from jiedao.cases import services
    from jiedao.cases.mediation import services as mediation
    from jiedao.cases.models import Category

    garbage = Category.objects.get(code="garbage")  # made by the cases table's build, which runs first
    case = services.case_create(actor=world.worker, source="door_visit", node=world.grid, title="垃圾房长期满溢",
                                description="小区垃圾房长期满溢，多次反映未解决", category=garbage)
    services.case_act(actor=world.secretary, case=case, action="accept")
    services.case_act(actor=world.secretary, case=case, action="dispatch", department=world.department)
    services.case_act(actor=world.handler, case=case, action="acknowledge")
    services.case_act(actor=world.handler, case=case, action="escalate", reason="涉及多个部门，需联席会议协调")
    meeting = mediation.joint_meeting_create(actor=world.leader, subdistrict=world.subdistrict)
    return {"joint_case": case.pk, "joint_meeting": meeting.pk, "joint_item": meeting.items.get().pk}


ENDPOINTS = [
    Endpoint("GET", "/cases/joint-meetings", "list", owner="leader", listed="joint_meeting"),
    Endpoint("POST", "/cases/joint-meetings", "create", {"subdistrict": "{subdistrict}"}, owner="leader",
             forbidden="handler"),
    Endpoint("GET", "/cases/joint-meetings/pending-cases", "list", {"subdistrict": "{subdistrict}"}, owner="leader"),
    Endpoint("GET", "/cases/joint-meetings/{joint_meeting}", "detail", owner="leader"),
    Endpoint("PUT", "/cases/joint-meetings/{joint_meeting}", "update", UPDATE, owner="leader", forbidden="handler"),
    Endpoint("GET", "/cases/joint-meetings/{joint_meeting}/items", "list", owner="leader"),
    Endpoint("POST", "/cases/joint-meetings/{joint_meeting}/items", "action", {"case": "{joint_case}"},
             owner="leader", forbidden="handler"),
    Endpoint("POST", "/cases/joint-meetings/{joint_meeting}/agenda", "action", owner="leader", forbidden="handler"),
    Endpoint("DELETE", "/cases/joint-meetings/{joint_meeting}/items/{joint_item}", "delete", owner="leader",
             forbidden="handler"),
    Endpoint("POST", "/cases/joint-meetings/{joint_meeting}/items/{joint_item}/decision", "action", DECISION,
             owner="leader", forbidden="handler"),
    Endpoint("POST", "/cases/joint-meetings/{joint_meeting}/hold", "action", HOLD, owner="leader",
             forbidden="handler"),
]
