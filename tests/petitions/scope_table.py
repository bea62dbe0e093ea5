"""The scope table of /api/v1/petitions (checked by tests/test_api_scope.py).

The objects live in 东门第一网格 (the secretary's community): a petition being handled, a second
one by the same petitioner left as a likely repeat (its candidate), the
petitioner on the 重点信访人员 list, and a repeated matter diagnosed with one open measure. The
outsiders are the grid workers of 东门第二网格 and 横塘第一网格, who hold no petitions grant.

Every role that sees petitions also handles them (VIEW_PETITIONS comes with HANDLE_PETITIONS in
jiedao.core.permissions), so handling endpoints have no 403 to check; the manage-only ones would
refuse community staff, whom the shared world does not have — tests/petitions/test_services.py
checks those refusals with its own staff user.
"""

from datetime import date

from tests.scope import Endpoint

TODAY = date.today().isoformat()
ID = "330225198001010018"
SEE_HANDLE = "every role that sees a place's petitions handles them (VIEW comes with HANDLE_PETITIONS)"
SEE_MANAGE = ("the shared world has no community staff, the one role that sees petitions without managing them; "
              "tests/petitions/test_services.py checks that refusal")


def build(world) -> dict:
    from jiedao.petitions import services
    from tests.petitions.conftest import register

    p = register(world, id_number=ID)
    p = services.petition_act(actor=world.secretary, petition=p, action="accept")
    q = register(world, id_number=ID)
    candidate = q.candidates.get(earlier=p)
    other = register(world, name="乙", title="物业费上涨", content="物业费上涨")
    third = register(world, name="乙", title="物业费上涨", content="物业费又上涨")
    services.candidate_decide(actor=world.secretary, candidate=third.candidates.get(earlier=other), confirm=True)
    third.refresh_from_db()
    matter = services.matter_diagnose(actor=world.secretary, matter=third.matter, causes="涨价未经业主大会",
                                      responsible_unit="东门社区", basis="《物业管理条例》", wants="撤销涨价")
    measure = services.measure_add(actor=world.secretary, matter=matter, text="召开业主协商会", owner="王书记",
                                   due_on=TODAY)
    person = p.petitioners.get()
    plan = services.key_person_flag(actor=world.secretary, petitioner=person, reason="反复信访")
    return {"petition": p.pk, "candidate": candidate.pk, "petitioner": person.pk, "plan": plan.pk,
            "matter": matter.pk, "measure": measure.pk, "other": other.pk}


NEW = {"node": "{grid}", "channel": "online", "received_on": TODAY, "category": "other", "content": "路灯坏了",
       "petitioners": [{"name": "丙"}]}

ENDPOINTS = [
    Endpoint("GET", "/petitions/workflow", "reference", why="the petition transition table, the same for everyone"),
    Endpoint("GET", "/petitions/petitions", "list", owner="secretary", listed="petition"),
    Endpoint("POST", "/petitions/petitions", "create", NEW, owner="secretary", why_no_403=SEE_HANDLE),
    Endpoint("GET", "/petitions/petitions/{petition}", "detail", owner="secretary"),
    Endpoint("POST", "/petitions/petitions/{petition}/actions", "action", {"action": "extend", "reason": "情况复杂",
                                                                         "days": 10},
             owner="leader", forbidden="secretary"),
    Endpoint("POST", "/petitions/petitions/{petition}/case", "action", owner="secretary", why_no_403=SEE_HANDLE),
    Endpoint("POST", "/petitions/petitions/{petition}/joint-meeting", "action", {"reason": "涉及多个部门"},
             owner="secretary", why_no_403=SEE_HANDLE),
    Endpoint("POST", "/petitions/candidates/{candidate}", "action", {"confirm": False}, owner="secretary",
             why_no_403=SEE_HANDLE),
    Endpoint("GET", "/petitions/petitioners", "list", owner="secretary", listed="petitioner"),
    Endpoint("GET", "/petitions/petitioners/{petitioner}", "detail", owner="secretary"),
    Endpoint("POST", "/petitions/petitioners/{petitioner}/key", "create", {"reason": "反复信访"}, owner="secretary",
             why_no_403=SEE_MANAGE),
    Endpoint("GET", "/petitions/key-persons", "list", owner="secretary", listed="plan"),
    Endpoint("POST", "/petitions/key-persons/{plan}/contacts", "action",
             {"contacted_on": TODAY, "way": "走访", "note": "情绪平稳", "stability": "stable"},
             owner="secretary", why_no_403=SEE_HANDLE),
    Endpoint("GET", "/petitions/matters", "list", owner="secretary", listed="matter"),
    Endpoint("GET", "/petitions/matters/{matter}", "detail", owner="secretary"),
    Endpoint("GET", "/petitions/matters/{matter}/measures", "detail", owner="secretary"),
    Endpoint("POST", "/petitions/matters/{matter}/diagnosis", "update",
             {"causes": "成因", "responsible_unit": "城建办", "basis": "依据", "wants": "诉求"},
             owner="secretary", why_no_403=SEE_HANDLE),
    Endpoint("POST", "/petitions/matters/{matter}/measures", "create",
             {"text": "回访", "owner": "王书记", "due_on": TODAY}, owner="secretary", why_no_403=SEE_HANDLE),
    Endpoint("POST", "/petitions/matters/{matter}/measures/{measure}/done", "action", owner="secretary",
             why_no_403=SEE_HANDLE),
    Endpoint("POST", "/petitions/matters/{matter}/strike-off", "action", {"evidence": "已解决"}, owner="leader",
             forbidden="secretary"),
    Endpoint("GET", "/petitions/figures", "detail", {"start": TODAY, "end": TODAY, "node": "{grid}"},
             owner="secretary"),
]
