"""The scope table of /api/v1/people (checked by tests/test_api_scope.py).

The objects live in 东门第一网格: a household and a resident at 1幢 (tagged 独居老人), a business,
and an import job of 王书记's. The outsiders are the grid workers of 东门第二网格 and 横塘第一网格;
an import job is seen by its uploader only, so its outsiders are a grid worker and the admin.
"""

from tests.people.test_api import ID_A
from tests.scope import Endpoint

PRIVATE_JOB = ("worker", "admin")


def build(world) -> dict:
    from jiedao.core import imports, tasks
    from jiedao.people import services
    from jiedao.people.models import SpecialGroup
    from tests.people.test_api import ID_A, PHONE_A, import_file, person

    household = services.household_create(actor=world.worker, node=world.building, number="DX-0001", address="1幢101")
    resident = services.resident_create(actor=world.worker, node=world.building, name="陈阿姨", id_number=ID_A,
                                        phone=PHONE_A, household=household, relation="户主")
    tag = services.resident_tag(actor=world.worker, resident=resident,
                                group=SpecialGroup.objects.get(code="alone_elderly"))
    business = services.business_create(actor=world.worker, node=world.grid, name="丹西水产", industry="水产加工")
    job = imports.import_upload(actor=world.secretary, register_key="residents", mode="good_only",
                                uploaded=import_file([person(1), person(2, {"姓名": ""})]))
    tasks.submit("jiedao.core.imports.import_validate_by_id", job.pk)
    return {"household": household.pk, "resident": resident.pk, "tag": tag.pk, "business": business.pk,
            "job": job.pk, "register": "residents"}


ENDPOINTS = [
    Endpoint("GET", "/people/residents", "list", {"node": "{grid}"}, owner="worker", listed="resident"),
    Endpoint("POST", "/people/residents", "create", {"node": "{building}", "name": "林小明"}, owner="worker",
             forbidden="leader"),
    Endpoint("POST", "/people/residents/exports", "export", {"node": "{grid}"}, owner="worker"),
    Endpoint("POST", "/people/residents/lookup", "own", {"kind": "id_number", "value": ID_A, "reason": "核实身份"},
             owner="secretary", forbidden="worker",
             why="no object is named: the answer holds only the residents in the caller's lookup scope "
                 "(scope.restrict), tests/people/test_masks.py checks another community's are left out"),
    Endpoint("GET", "/people/residents/{resident}", "detail", owner="worker"),
    Endpoint("PATCH", "/people/residents/{resident}", "update", {"name": "改名"}, owner="worker", forbidden="leader"),
    Endpoint("POST", "/people/residents/{resident}/reveal", "action", {"field": "phone", "reason": "电话回访"},
             owner="secretary", forbidden="worker"),
    Endpoint("GET", "/people/residents/{resident}/history", "list", owner="worker"),
    Endpoint("POST", "/people/residents/{resident}/tags", "create", {"group": "disabled"}, owner="worker",
             forbidden="leader"),
    Endpoint("DELETE", "/people/residents/{resident}/tags/{tag}", "delete", owner="worker", forbidden="leader"),
    Endpoint("GET", "/people/households", "list", {"node": "{grid}"}, owner="worker", listed="household"),
    Endpoint("POST", "/people/households", "create", {"node": "{building}", "number": "DX-0009", "address": "1幢301"},
             owner="worker", forbidden="leader"),
    Endpoint("GET", "/people/households/{household}", "detail", owner="worker"),
    Endpoint("POST", "/people/households/{household}/head", "action", {"head": "{resident}"}, owner="worker",
             forbidden="leader"),
    Endpoint("GET", "/people/special-groups", "reference", owner="worker", forbidden="handler",
             why="the special-group catalogue, read by everyone who keeps a register"),
    Endpoint("POST", "/people/special-groups", "reference", {"code": "orphan", "name": "孤儿"}, owner="admin",
             forbidden="secretary", why="the special-group catalogue, kept by the system administrator"),
    Endpoint("GET", "/people/businesses", "list", {"node": "{grid}"}, owner="worker", listed="business"),
    Endpoint("POST", "/people/businesses", "create", {"node": "{grid}", "name": "东门小吃"}, owner="worker",
             forbidden="leader"),
    Endpoint("POST", "/people/businesses/exports", "export", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/people/businesses/{business}", "detail", owner="worker"),
    Endpoint("PATCH", "/people/businesses/{business}", "update", {"name": "改名"}, owner="worker",
             forbidden="leader"),
    Endpoint("GET", "/people/imports/templates/{register}", "reference", why="an empty spreadsheet template"),
    Endpoint("GET", "/people/imports", "own", why="lists only the caller's own import jobs"),
    Endpoint("POST", "/people/imports", "own", {"register": "residents", "file": "{upload}"}, multipart=True,
             owner="secretary", forbidden="worker",
             why="creates the caller's own job; every row's place is checked against the caller's scope "
                 "(tests/people/test_api.py::test_import_scope_is_enforced_per_row)"),
    Endpoint("GET", "/people/imports/{job}", "detail", owner="secretary", outsiders=PRIVATE_JOB),
    Endpoint("GET", "/people/imports/{job}/errors", "list", owner="secretary", outsiders=PRIVATE_JOB),
    Endpoint("GET", "/people/imports/{job}/bad-rows", "export", owner="secretary", outsiders=PRIVATE_JOB),
    Endpoint("POST", "/people/imports/{job}/commit", "action", owner="secretary", outsiders=PRIVATE_JOB,
             why_no_403="a job is seen by its uploader only, who had the permission to upload it"),
    Endpoint("POST", "/people/imports/{job}/cancel", "action", owner="secretary", outsiders=PRIVATE_JOB,
             why_no_403="a job is seen by its uploader only, who had the permission to upload it"),
]
