"""The 信访 list's export (core.exports through the page): the file holds the page's rows for each
role and filter, nothing out of scope, petitioners only masked, no content; who may not view the
list may not export it."""

import pytest
from django.urls import reverse

from jiedao.core.models import AuditEvent, ExportJob
from tests.export_helpers import page_download, page_export, sheet

from .conftest import register

ID = "330225198001010018"
PHONE = "13912345678"
CONTENT = "小区地下车库每逢下雨就渗水积水，物业多次维修未解决。"


@pytest.fixture
def petitions(world, staff):
    home = register(world, node=world.grid, id_number=ID, phone=PHONE, content=CONTENT)
    other = register(world, node=world.other_grid, name="钱二", channel="letter", title="噪音扰民")
    village = register(world, world.leader, node=world.village_grid, name="外村", title="横塘村征地补偿")
    return home, other, village


def page_codes(client, query):
    response = client.get(reverse("petitions:list"), query)
    assert response.status_code == 200
    return [p.code for p in response.context["page"].object_list]


@pytest.mark.parametrize("who", ["staff", "secretary", "leader"])
@pytest.mark.parametrize("query", [{}, {"channel": "letter"}, {"q": "渗水"}, {"overdue": "any"}])
def test_file_rows_are_the_page_rows(world, staff, petitions, client, who, query):
    client.force_login(staff if who == "staff" else getattr(world, who))
    data = sheet(page_download(client, "petitions:export", query))
    assert data[0][0] == "信访编号" and "重复信访" in data[0]
    assert [r[0] for r in data[1:]] == page_codes(client, query)


def test_out_of_scope_absent_petitioners_masked_no_content(world, petitions, client):
    home, other, village = petitions
    client.force_login(world.secretary)
    data = sheet(page_download(client, "petitions:export"))
    assert sorted(r[0] for r in data[1:]) == sorted([home.code, other.code])
    header = data[0]
    row = next(r for r in data[1:] if r[0] == home.code)
    who = row[header.index("信访人")]
    assert who.startswith("陈信访（") and "*" in who
    cells = " ".join(str(c) for r in data for c in r if c is not None)
    assert ID not in cells and PHONE not in cells and ID[6:14] not in cells and PHONE[3:7] not in cells
    assert CONTENT not in cells and "渗水积水" not in cells
    assert row[header.index("事项摘要")] == home.title
    client.force_login(world.leader)
    codes = [r[0] for r in sheet(page_download(client, "petitions:export"))[1:]]
    assert village.code in codes and len(codes) == 3
    assert AuditEvent.objects.filter(action="petitions.petition.export").count() == 2


def test_dates_and_places_in_filters(world, petitions, client):
    home, _other, village = petitions
    client.force_login(world.leader)
    day = home.received_on.isoformat()
    query = {"received_from": day, "received_to": day, "node": world.village.pk}
    data = sheet(page_download(client, "petitions:export", query))
    assert [r[0] for r in data[1:]] == page_codes(client, query) == [village.code]


def test_refused_without_the_view_permission(world, petitions, client):
    client.force_login(world.worker)
    assert page_export(client, "petitions:export").status_code == 403
    assert not ExportJob.objects.exists()


def test_the_button_carries_the_filters(world, petitions, client):
    client.force_login(world.secretary)
    page = client.get(reverse("petitions:list"), {"channel": "letter"}).content.decode()
    assert 'action="/petitions/list/export/?channel=letter"' in page
