"""The 防止返贫监测 list's export (core.exports through the page): the file holds the page's rows
for each role and filter, nothing out of scope, no identifier in clear; who may not view the
list may not export it."""

import pytest
from django.urls import reverse

from jiedao.core.models import AuditEvent, ExportJob
from jiedao.people import services as people_services
from tests.export_helpers import page_download, page_export, sheet

from .conftest import lead, to_monitored

ID = "330225198001010018"
PHONE = "13912345678"


@pytest.fixture
def rows(world, mon):
    people_services.resident_create(actor=world.admin, node=world.building, household=mon.home, name="赵有证",
                                    relation="配偶", id_number=ID, phone=PHONE)
    home = to_monitored(world, lead(world, mon.home, actor=world.worker))
    other = lead(world, mon.other, kind="sudden", risk_types=["disaster", "illness"])
    village = lead(world, mon.village, actor=world.leader)
    return home, other, village


def page_numbers(client, query):
    response = client.get(reverse("welfare:monitoring_list"), query)
    assert response.status_code == 200
    return [m.household.number for m in response.context["page"].object_list]


@pytest.mark.parametrize("who", ["worker", "secretary", "leader"])
@pytest.mark.parametrize("query", [{}, {"kind": "sudden"}, {"risk": "illness", "q": "0"}, {"state": "monitored_all"}])
def test_file_rows_are_the_page_rows(world, rows, client, who, query):
    client.force_login(getattr(world, who))
    data = sheet(page_download(client, "welfare:monitoring_export", query))
    assert data[0][0] == "户号" and "下次应走访（月）" in data[0]
    assert [r[0] for r in data[1:]] == page_numbers(client, query)


def test_out_of_scope_rows_absent_and_no_identifier_in_clear(world, rows, client):
    client.force_login(world.worker)
    data = sheet(page_download(client, "welfare:monitoring_export"))
    assert [r[0] for r in data[1:]] == ["101"]
    header, row = data[0], data[1]
    assert row[header.index("户主")] == "户主101" and row[header.index("状态")] == "监测中"
    assert row[header.index("下次应走访（月）")]  # under monitoring: a month is due
    cells = " ".join(str(c) for r in data for c in r if c is not None)
    assert ID not in cells and PHONE not in cells and ID[-6:] not in cells
    client.force_login(world.leader)
    assert sorted(r[0] for r in sheet(page_download(client, "welfare:monitoring_export"))[1:]) == ["101", "201", "301"]
    assert AuditEvent.objects.filter(action="welfare.monitoring.export").count() == 2


def test_refused_without_the_view_permission(world, rows, client):
    client.force_login(world.handler)
    assert page_export(client, "welfare:monitoring_export").status_code == 403
    assert not ExportJob.objects.exists()
    client.force_login(world.worker)
    assert client.get(reverse("welfare:monitoring_export")).status_code == 405


def test_the_button_carries_the_filters(world, rows, client):
    client.force_login(world.secretary)
    page = client.get(reverse("welfare:monitoring_list"), {"kind": "sudden", "q": "2"}).content.decode()
    assert 'action="/welfare/monitoring/export/?kind=sudden&amp;q=2"' in page
    assert 'form="monitoring-export"' in page
