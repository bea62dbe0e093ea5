"""The scope table of /api/v1/welfare/benefits (collected by tests/welfare/scope_table.py, checked by
tests/test_api_scope.py).

The objects live in 东门第一网格 (tests/welfare/benefits/conftest.py): 张桂英's 城市低保 grant (its
review due within 30 days) with one payment; 王大爷 has no grant yet. The outsiders are the grid
workers of 东门第二网格 and 横塘第一网格; the grid worker of 东门第一网格 sees but may not decide (403).
"""

from datetime import date, timedelta

from tests.scope import Endpoint

TODAY = date.today()
MONTH = TODAY.replace(day=1).isoformat()


def build(world) -> dict:
    from jiedao.core import imports, tasks
    from jiedao.welfare.benefits import importer, services
    from tests.welfare.benefits.conftest import ident, make_benefits
    from tests.welfare.benefits.test_import import xlsx

    b = make_benefits(world)
    grant = services.grant_create(actor=world.secretary, programme=b.urban, resident=b.zhang,
                                  starts_on=date(TODAY.year - 1, 1, 1), amount="400", persons=2,
                                  next_review_on=TODAY + timedelta(days=10))
    payment = services.payment_record(actor=world.secretary, grant=grant, month=date(TODAY.year - 1, 2, 1))
    job = imports.import_upload(actor=world.secretary, register_key=importer.KEY, mode="good_only",
                                uploaded=xlsx([[1, "王大爷", ident(3, 1930), "长寿补贴", MONTH, 1, 1200, ""],
                                               [2, "某某", ident(99), "长寿补贴", MONTH, 1, 1200, ""]]))
    tasks.submit("jiedao.core.imports.import_validate_by_id", job.pk)
    return {"programme": b.longevity.pk, "grant": grant.pk, "payment": payment.pk, "resident": b.wang.pk,
            "job": job.pk}


PRIVATE_JOB = ("worker", "admin")  # a job is its uploader's: the admin sees the place, not the job
GRANT = {"resident": "{resident}", "programme": "{programme}", "starts_on": MONTH}
PROGRAMME = {"code": "canbu", "name": "残疾人两项补贴", "unit": "person", "period": "monthly"}
CATALOGUE = ("the sub-district's catalogue of benefit programmes (no personal data); writing it needs MANAGE_WELFARE "
             "granted at the sub-district or higher (a community secretary may read it, not change it)")

ENDPOINTS = [
    Endpoint("GET", "/welfare/benefits/programmes", "reference", why=CATALOGUE),
    Endpoint("POST", "/welfare/benefits/programmes", "reference", PROGRAMME, owner="leader", forbidden="secretary",
             why=CATALOGUE),
    Endpoint("PATCH", "/welfare/benefits/programmes/{programme}", "reference", {"amount_rule": "每人每年 1500 元"},
             owner="leader", forbidden="secretary", why=CATALOGUE),
    Endpoint("GET", "/welfare/benefits/grants", "list", owner="worker", listed="grant"),
    Endpoint("GET", "/welfare/benefits/reviews-due", "list", owner="worker", listed="grant"),
    Endpoint("POST", "/welfare/benefits/grants", "create", GRANT, owner="secretary", forbidden="worker"),
    Endpoint("GET", "/welfare/benefits/grants/{grant}", "detail", owner="worker"),
    Endpoint("PATCH", "/welfare/benefits/grants/{grant}", "update", {"persons": 3}, owner="secretary",
             forbidden="worker"),
    Endpoint("POST", "/welfare/benefits/grants/{grant}/actions", "action", {"action": "review"}, owner="secretary",
             forbidden="worker"),
    Endpoint("GET", "/welfare/benefits/workflow", "reference", why="the grant transition table, the same for everyone"),
    Endpoint("GET", "/welfare/benefits/payments", "list", owner="worker", listed="payment"),
    Endpoint("POST", "/welfare/benefits/grants/{grant}/payments", "create", {"month": MONTH}, owner="secretary",
             forbidden="worker"),
    Endpoint("GET", "/welfare/benefits/totals", "detail", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/welfare/benefits/imports/template", "reference", why="an empty spreadsheet template"),
    Endpoint("GET", "/welfare/benefits/imports", "own", why="lists only the caller's own import jobs"),
    Endpoint("POST", "/welfare/benefits/imports", "own", {"mode": "good_only", "file": "{upload}"}, multipart=True,
             owner="secretary", forbidden="worker",
             why="creates the caller's own job; every row's resident is looked up in the caller's scope "
                 "(tests/welfare/benefits/test_import.py)"),
    Endpoint("GET", "/welfare/benefits/imports/{job}", "detail", owner="secretary", outsiders=PRIVATE_JOB),
    Endpoint("GET", "/welfare/benefits/imports/{job}/errors", "list", owner="secretary", outsiders=PRIVATE_JOB),
    Endpoint("GET", "/welfare/benefits/imports/{job}/bad-rows", "export", owner="secretary", outsiders=PRIVATE_JOB),
    Endpoint("POST", "/welfare/benefits/imports/{job}/commit", "action", owner="secretary", outsiders=PRIVATE_JOB,
             why_no_403="a job is seen by its uploader only, who had the permission to upload it"),
    Endpoint("POST", "/welfare/benefits/imports/{job}/cancel", "action", owner="secretary", outsiders=PRIVATE_JOB,
             why_no_403="a job is seen by its uploader only, who had the permission to upload it"),
]
