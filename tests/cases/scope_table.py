"""The scope table of /api/v1/cases (checked by tests/test_api_scope.py, see tests/scope.py).

The objects live in 东门第一网格 and 东门社区: a case with a photo, and the cycle objects (weekly
digest, deliberation, quarterly review) around it. The outsiders are the grid workers of 东门第二网格
and 横塘第一网格.
"""

from django.utils import timezone

from tests.cases import scope_table_joint
from tests.scope import Endpoint

THIS_MONTH = f"{timezone.localdate():%Y-%m}"
RECORD = {"held_at": "2026-03-20T19:00:00", "location": "议事厅", "host": "王书记",
          "attendees": [{"name": "李大爷", "role": "居民代表"}], "summary": "议定"}
CYCLES = "everyone who sees the community's cases takes part in its meetings and reviews"
PHONE = "13812345678"  # the case's reporter
# Who does not even see the sub-district node (404): its grid workers.
SUBDISTRICT_OUTSIDERS = ("worker", "other_worker", "village_worker")
INTAKE = {"source": "patrol", "node": "{grid}", "title": "井盖缺失", "description": "路口井盖缺失"}


def build(world) -> dict:
    """A case in 东门第一网格 (with a photo) and the cycle objects of 东门社区 around it."""
    from jiedao.cases import services
    from jiedao.cases.cycles import services as cycles
    from jiedao.cases.models import Case
    from tests.cases.conftest import make_catalogue
    from tests.cases.test_views import png_upload

    catalogue = make_catalogue(world)
    case = services.case_create(actor=world.worker, source="door_visit", node=world.grid, title="楼下垃圾",
                                description="垃圾堆放", category=catalogue["garbage"], reporter_phone=PHONE)
    attachment = services.case_attach(actor=world.worker, case=case, upload=png_upload())
    Case.objects.filter(pk=case.pk).update(difficult=True)
    today = timezone.localdate()
    year, quarter = today.year, (today.month - 1) // 3 + 1
    digest = cycles.weekly_digest_generate(node=world.grid, week_start=today, actor=world.worker)
    meeting = cycles.deliberation_prepare(actor=world.secretary, community=world.community, month=today)
    review = cycles.quarterly_review_prepare(actor=world.secretary, community=world.community, year=year,
                                             quarter=quarter)
    ids = scope_table_joint.build(world)  # 联席会议
    return {**ids, "case": case.pk, "attachment": attachment.pk, "grid": world.grid.pk, "community": world.community.pk,
            "digest": digest.pk, "meeting": meeting.pk, "review": review.pk, "item": review.items.get().pk,
            "year": year, "quarter": quarter}


ENDPOINTS = [
    Endpoint("GET", "/cases", "list", {"node": "{grid}"}, owner="worker", listed="case"),
    Endpoint("POST", "/cases/exports", "export", {"node": "{grid}"}, owner="worker"),
    Endpoint("POST", "/cases", "create", INTAKE, owner="worker", forbidden="handler"),
    Endpoint("GET", "/cases/{case}", "detail", owner="worker"),
    Endpoint("POST", "/cases/{case}/actions", "action", {"action": "accept"}, owner="worker", forbidden="leader"),
    Endpoint("POST", "/cases/{case}/reveal-phone", "action", {"reason": "电话回访"}, owner="secretary",
             forbidden="worker"),
    Endpoint("POST", "/cases/reporter-lookup", "own", {"phone": PHONE}, owner="secretary", forbidden="handler",
             why="no object is named: the answer counts only the cases the caller sees (scope.restrict), "
                 "tests/cases/test_reporter_phone.py checks another community's cases are left out"),
    Endpoint("GET", "/cases/{case}/transitions", "detail", owner="worker"),
    Endpoint("GET", "/cases/{case}/attachments", "list", owner="worker"),
    Endpoint("POST", "/cases/{case}/attachments", "create", {"file": "{upload}"}, owner="worker",
             why_no_403="everyone who sees a case may add a photo or a file to it"),
    Endpoint("GET", "/cases/{case}/attachments/{attachment}", "export", owner="worker"),
    Endpoint("POST", "/cases/with-attachments", "create", {**INTAKE, "files": "{upload}"}, owner="worker",
             forbidden="handler"),
    Endpoint("GET", "/cases/stats/rates", "list", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/cases/stats/ranking", "list", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/cases/stats/trend", "list", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/cases/stats/categories", "list", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/cases/digests", "list", {"node": "{grid}"}, owner="worker", listed="digest"),
    Endpoint("POST", "/cases/digests", "create", {"node": "{grid}"}, owner="worker",
             why_no_403="everyone who sees a grid's cases may generate its weekly digest"),
    Endpoint("GET", "/cases/digests/{digest}", "detail", owner="worker"),
    Endpoint("GET", "/cases/deliberations", "list", {"community": "{community}"}, owner="secretary",
             listed="meeting"),
    Endpoint("POST", "/cases/deliberations", "create", {"community": "{community}", "month": THIS_MONTH},
             owner="secretary", why_no_403=CYCLES),
    Endpoint("GET", "/cases/deliberations/{meeting}", "detail", owner="secretary"),
    Endpoint("POST", "/cases/deliberations/{meeting}/items", "action", {"case": "{case}"}, owner="secretary",
             why_no_403=CYCLES),
    Endpoint("POST", "/cases/deliberations/{meeting}/record", "update", RECORD, owner="secretary", why_no_403=CYCLES),
    Endpoint("GET", "/cases/reviews", "list", {"community": "{community}"}, owner="secretary", listed="review"),
    Endpoint("POST", "/cases/reviews", "create", {"community": "{community}", "year": "{year}", "quarter": "{quarter}"},
             owner="secretary", why_no_403=CYCLES),
    Endpoint("GET", "/cases/reviews/{review}", "detail", owner="secretary"),
    Endpoint("GET", "/cases/reviews/{review}/items", "list", owner="secretary"),
    Endpoint("PUT", "/cases/reviews/{review}/items/{item}", "update", {"verdict": "carried_over", "reason": "待协调"},
             owner="secretary", why_no_403=CYCLES),
    Endpoint("POST", "/cases/reviews/{review}/finalize", "action", owner="secretary", why_no_403=CYCLES),
    Endpoint("GET", "/cases/reviews/{review}/report.xlsx", "export", owner="secretary"),
    Endpoint("GET", "/cases/reviews/{review}/report.docx", "export", owner="secretary"),
    Endpoint("GET", "/cases/workflow", "reference", why="the workflow table, the same for everyone"),
    Endpoint("GET", "/cases/categories", "reference", why="the case catalogue, the same for everyone"),
    # issue 11: deadlines — the working-day years (one holiday table for the whole system) and 办件规则
    Endpoint("GET", "/cases/workday-years", "reference", why="the holiday table is one for the whole system"),
    Endpoint("POST", "/cases/workday-years", "reference", {"year": 2027}, owner="admin", forbidden="secretary",
             why="the holiday table is one for the whole system; catalogue administrators declare a year complete"),
    Endpoint("GET", "/cases/policies", "list", owner="admin", outsiders=SUBDISTRICT_OUTSIDERS, listed="subdistrict"),
    Endpoint("GET", "/cases/policies/default", "reference", owner="admin", forbidden="secretary",
             why="the default rules, one for the whole system; catalogue administrators read them"),
    Endpoint("PUT", "/cases/policies/default", "reference", {"separate_verifier": False}, owner="root",
             forbidden="admin", why="the default rules, one for the whole system; only a superuser changes them"),
    Endpoint("GET", "/cases/policies/{subdistrict}", "detail", owner="admin", outsiders=SUBDISTRICT_OUTSIDERS,
             forbidden="leader"),
    Endpoint("PUT", "/cases/policies/{subdistrict}", "update", {"separate_verifier": False}, owner="admin",
             outsiders=SUBDISTRICT_OUTSIDERS, forbidden="leader"),
]

ENDPOINTS += scope_table_joint.ENDPOINTS
