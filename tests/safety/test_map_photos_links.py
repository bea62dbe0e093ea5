"""The grid map by colour, photos through the API, and the case page's link back to its hazard."""

import re
from datetime import timedelta

from django.utils import timezone

from jiedao.cases.models import Case
from jiedao.core.permissions import Role
from jiedao.org import services as org_services
from jiedao.people.models import Business
from jiedao.safety import mapping, services, views_map
from jiedao.safety.models import Hazard
from tests.cases.test_views import png_upload, tiny_png
from tests.conftest import _user

BASE = "/api/v1/safety"


def _colours(world, safety):
    Business.objects.filter(pk__in=[safety.diner.pk, safety.shop.pk]).update(risk_colour="red")
    Business.objects.filter(pk=safety.park.pk).update(risk_colour="yellow")


def _square(x, y, size=0.01):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def test_projection_keeps_the_aspect_and_north_up():
    drawing = mapping.project({1: mapping.rings_of(_square(121.0, 29.0)), 2: mapping.rings_of(_square(121.01, 29.0)),
                               3: []})
    assert set(drawing.shapes) == {1, 2}
    xs = [float(v) for v in re.findall(r"([\d.]+) [\d.]+", drawing.shapes[1].d)]
    assert min(xs) >= 0 and max(xs) <= drawing.width
    assert drawing.shapes[1].cx < drawing.shapes[2].cx  # west to the left
    assert abs(drawing.shapes[1].cy - drawing.shapes[2].cy) < 0.01
    assert mapping.rings_of({"type": "Point", "coordinates": [1, 2]}) == []
    assert mapping.rings_of({"type": "Polygon", "coordinates": [[["x", 1]]]}) == []


def test_schematic_map_counts_by_grid_and_links_to_the_list(world, safety, client):
    _colours(world, safety)
    client.force_login(world.leader)
    r = client.get("/safety/map/")
    assert r.status_code == 200
    page = r.content.decode()
    assert "示意图，非地理边界" in page  # the test tree has no boundaries
    grid_link = f"/safety/businesses/?node={world.grid.pk}&amp;colour=red"
    assert grid_link in page
    # 东门第一网格: 海鲜排档 red, 东门工业园 yellow, 园内电焊铺 green → red share 1/3
    assert "共 3 家，红 1、黄 1、绿 1（占比 33%）" in page
    assert page.count("<title>") >= 4 and "<table" in page
    # 1/3 red is in the [20 %, 40 %) class; 东门第二网格 (好邻居超市 red) 1/1 in ≥ 40 %; 横塘 0 red
    assert views_map.share_class(1 / 3, views_map.BREAKS["red"]) == 4
    shapes = re.findall(r'<a href="/safety/businesses/\?node=(\d+)[^"]*"[^>]*><path class="grid-shape m-(\d)"', page)
    assert dict(shapes) == {str(world.grid.pk): "4", str(world.other_grid.pk): "5", str(world.village_grid.pk): "1"}
    # the link gives the grid's red businesses only
    r = client.get(f"/safety/businesses/?node={world.grid.pk}&colour=red")
    names = re.findall(r'class="row-title"[^>]*>([^<]+)<', r.content.decode())
    assert names == ["海鲜排档"]
    r = client.get(f"/safety/businesses/?node={world.community.pk}")
    assert len(re.findall(r'class="row-title"', r.content.decode())) == 4


def test_the_share_is_recounted_from_the_rows(world, safety, client):
    _colours(world, safety)
    client.force_login(world.leader)
    page = client.get("/safety/map/?show=risk").content.decode()
    for grid in (world.grid, world.other_grid, world.village_grid):
        rows = Business.objects.filter(node__path__startswith=grid.path, is_active=True)
        n = rows.count()
        risky = rows.filter(risk_colour__in=["red", "yellow"]).count()
        assert f"{grid.name}（" in page
        assert f"共 {n} 家，红 {rows.filter(risk_colour='red').count()}" in page
        assert f"{risky * 100 / n:.0f}%" in page


def test_map_with_boundaries_draws_them_and_a_grid_worker_sees_only_the_own_grid(world, safety, client):
    for i, node in enumerate((world.grid, world.other_grid, world.village_grid)):
        org_services.node_update(actor=world.admin, node=node, boundary=_square(121.0 + i * 0.01, 29.0))
    client.force_login(world.worker)
    page = client.get("/safety/map/").content.decode()
    assert "示意图" not in page and 'class="grid-shape' in page
    assert world.grid.name in page and world.other_grid.name not in page and "横塘" not in page
    assert f"?node={world.grid.pk}" in page
    # out of scope: another grid as focus, another grid's list → 404
    assert client.get(f"/safety/map/?node={world.other_grid.pk}").status_code == 404
    assert client.get(f"/safety/businesses/?node={world.other_grid.pk}").status_code == 404
    assert client.get("/safety/map/?sub=999999").status_code == 404
    client.force_login(world.leader)
    page = client.get(f"/safety/map/?node={world.community.pk}").content.decode()
    assert page.count('class="grid-shape') == 2 and "横塘第一网格" not in page


def test_photos_in_the_api_and_the_upload_is_scoped(world, safety, as_):
    worker, other = as_(world.worker), as_(world.other_worker)
    today = timezone.localdate().isoformat()
    item = safety.item("ordinary")
    r = worker.post("/inspections", {"business": safety.diner.pk, "inspected_on": today, "template": safety.fire.pk,
                                     "answers": {str(item.pk): "fail"}})
    assert r.status_code == 201 and r.json()["photos"] == []
    iid = r.json()["id"]
    r = worker.post(f"/inspections/{iid}/photos", {"photos": [png_upload(), png_upload("二.png")]})
    assert r.status_code == 201, r.content
    photos = r.json()
    assert [(p["kind"], p["content_type"], p["size"]) for p in photos] == [("inspection", "image/png", len(tiny_png()))] * 2
    detail = worker.get(f"/inspections/{iid}").json()
    assert [p["id"] for p in detail["photos"]] == [p["id"] for p in photos]
    download = worker.client.get(photos[0]["url"], **worker.headers)
    assert download.status_code == 200 and download.content == tiny_png()
    hazard = Hazard.objects.get(inspection_id=iid)
    r = worker.post(f"/hazards/{hazard.pk}/photos", {"photos": [png_upload("整改.png")]})
    assert r.status_code == 201 and r.json()[0]["kind"] == "rectification"
    assert len(worker.get(f"/hazards/{hazard.pk}").json()["photos"]) == 3
    # refused: not an image (400, nothing kept); out of scope (404) for listing, upload and download
    bad = worker.post(f"/inspections/{iid}/photos", {"photos": [png_upload("x.png").__class__(
        "x.jpg", b"%PDF-1.4", content_type="image/jpeg")]})
    assert bad.status_code == 400 and bad.json()["field"] == "photos"
    assert other.get(f"/inspections/{iid}").status_code == 404
    assert other.post(f"/inspections/{iid}/photos", {"photos": [png_upload()]}).status_code == 404
    assert other.post(f"/hazards/{hazard.pk}/photos", {"photos": [png_upload()]}).status_code == 404
    assert other.client.get(photos[0]["url"], **other.headers).status_code == 404
    assert hazard.photos.count() == 1 and hazard.inspection.photos.count() == 3


def test_case_page_links_back_to_its_hazard_within_scope(world, safety, client):
    item = safety.item("ordinary")
    inspection = services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=timezone.localdate(),
                                            template=safety.fire, answers={item.pk: "fail"})
    hazard = Hazard.objects.get(inspection=inspection)
    Hazard.objects.filter(pk=hazard.pk).update(deadline_at=timezone.now() - timedelta(days=1))
    hazard.refresh_from_db()
    services.hazard_act(actor=world.secretary, hazard=hazard, action="escalate", reason="逾期拒不整改")
    case = Case.objects.get()
    client.force_login(world.secretary)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "关联记录" in page and f'href="/safety/hazards/{hazard.pk}/"' in page and hazard.code in page
    # a handler of another sub-district's department the case is dispatched to sees the case, but
    # holds the safety grant only in that sub-district: the hazard is not shown
    north = org_services.node_create(actor=world.root, parent=None, kind="subdistrict", name="北仑街道",
                                     code="330225003000")
    department = org_services.department_create(actor=world.root, subdistrict=north, name="应急办")
    handler = _user(world.root, "north_handler", "周科员", north, Role.DEPARTMENT_HANDLER, north, department)
    Case.objects.filter(pk=case.pk).update(handling_department=department)
    client.force_login(handler)
    r = client.get(f"/cases/{case.pk}/")
    assert r.status_code == 200
    assert f"/safety/hazards/{hazard.pk}/" not in r.content.decode() and "关联记录" not in r.content.decode()
    assert client.get(f"/safety/hazards/{hazard.pk}/").status_code == 404
