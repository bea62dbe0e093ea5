"""Inspection and rectification photos: encrypted at rest, served only within scope."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jiedao.core.models import AuditEvent
from jiedao.safety import services
from jiedao.safety.models import Inspection, SafetyPhoto
from tests.cases.test_views import png_upload, tiny_png


def test_photos_from_the_pages_are_encrypted_and_scoped(world, safety, client):
    client.force_login(world.worker)
    url = f"/safety/businesses/{safety.diner.pk}/inspect/"
    r = client.post(url, {"inspected_on": timezone.localdate().isoformat(), "finding_1": "配电箱未加锁",
                          "severity_1": "ordinary", "days_1": "3", "severity_2": "ordinary", "days_2": "5",
                          "severity_3": "ordinary", "days_3": "5", "photos": [png_upload(), png_upload("二.png")]})
    assert r.status_code == 302, r.content.decode()[:2000]
    inspection = Inspection.objects.get()
    photo = inspection.photos.first()
    assert inspection.photos.count() == 2 and photo.kind == "inspection"
    on_disk = (services.photo_dir() / photo.stored).read_bytes()
    assert b"PNG" not in on_disk and tiny_png() not in on_disk
    assert client.get(f"/safety/photos/{photo.pk}/").content == tiny_png()
    hazard = inspection.hazards.get()
    r = client.post(f"/safety/hazards/{hazard.pk}/act/", {"action": "submit", "reason": "已加锁",
                                                          "photos": [png_upload("整改.png")]})
    assert r.status_code == 302
    assert SafetyPhoto.objects.filter(hazard=hazard, kind="rectification").count() == 1
    assert AuditEvent.objects.filter(action="safety.photo.add").count() == 3
    client.force_login(world.other_worker)
    assert client.get(f"/safety/photos/{photo.pk}/").status_code == 404


def test_a_non_image_is_refused_and_nothing_is_kept(world, safety, client):
    client.force_login(world.worker)
    fake = SimpleUploadedFile("照片.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    r = client.post(f"/safety/businesses/{safety.diner.pk}/inspect/",
                    {"inspected_on": timezone.localdate().isoformat(), "severity_1": "ordinary", "days_1": "5",
                     "severity_2": "ordinary", "days_2": "5", "severity_3": "ordinary", "days_3": "5",
                     "photos": [fake]})
    assert r.status_code == 400 and "照片" in r.content.decode()
    assert not Inspection.objects.exists() and not SafetyPhoto.objects.exists()


def test_a_refused_batch_leaves_no_file_on_disk(world, safety, client):
    client.force_login(world.worker)
    before = set(services.photo_dir().glob("*")) if services.photo_dir().exists() else set()
    fake = SimpleUploadedFile("照片2.jpg", b"%PDF-1.4 not a photo", content_type="image/jpeg")
    r = client.post(f"/safety/businesses/{safety.diner.pk}/inspect/",
                    {"inspected_on": timezone.localdate().isoformat(), "severity_1": "ordinary", "days_1": "5",
                     "severity_2": "ordinary", "days_2": "5", "severity_3": "ordinary", "days_3": "5",
                     "photos": [png_upload("好的.png"), fake]})
    assert r.status_code == 400
    after = set(services.photo_dir().glob("*")) if services.photo_dir().exists() else set()
    assert after == before and not SafetyPhoto.objects.exists()
    too_many = [png_upload(f"{i}.png") for i in range(services.PHOTOS_PER_OBJECT + 1)]
    r = client.post(f"/safety/businesses/{safety.diner.pk}/inspect/",
                    {"inspected_on": timezone.localdate().isoformat(), "severity_1": "ordinary", "days_1": "5",
                     "severity_2": "ordinary", "days_2": "5", "severity_3": "ordinary", "days_3": "5",
                     "photos": too_many})
    assert r.status_code == 400
    after = set(services.photo_dir().glob("*")) if services.photo_dir().exists() else set()
    assert after == before and not SafetyPhoto.objects.exists()
