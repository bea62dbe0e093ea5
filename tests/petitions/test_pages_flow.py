"""As a new user would, on the pages: a petition is registered, a repeat is detected and
confirmed, the repeated matter is diagnosed, planned, carried out and struck off by a leader."""

from django.urls import reverse
from django.utils import timezone

from jiedao.petitions.models import Petition, RepeatedMatter


def _register(client, world, content):
    return client.post(reverse("petitions:new"), {
        "channel": "visit", "received_on": timezone.localdate().isoformat(), "node": world.grid.pk,
        "category": "construction", "content": content, "name": "陈阿姨", "id_number": "330225198001010018",
        "phone": "13812345678"})


def test_a_repeat_is_detected_diagnosed_and_struck_off(world, staff, client):
    client.force_login(staff)
    assert _register(client, world, "小区地下车库雨季渗水，要求修复防水层").status_code == 302
    response = _register(client, world, "地下车库又渗水了，请督促修复防水层")
    second = Petition.objects.order_by("-pk").first()
    assert response.url == reverse("petitions:petition", args=[second.pk])
    page = client.get(response.url).content.decode()
    assert "疑似重复信访" in page and "同一信访人" in page and "13812345678" not in page
    candidate = second.candidates.get()
    assert client.post(reverse("petitions:candidate", args=[candidate.pk]), {"decision": "confirm"}).status_code == 302
    matter = RepeatedMatter.objects.get()
    url = reverse("petitions:matter", args=[matter.pk])
    assert "待体检会诊" in client.get(url).content.decode()
    post = lambda what, data: client.post(reverse("petitions:matter_post", args=[matter.pk, what]), data)  # noqa: E731
    assert post("diagnose", {"causes": "防水层老化", "responsible_unit": "城建办", "basis": "《物业管理条例》",
                             "wants": "修复防水层"}).status_code == 302
    assert post("measure", {"text": "约谈开发商", "owner": "王书记",
                            "due_on": timezone.localdate().isoformat()}).status_code == 302
    assert post("note", {"text": "已约谈"}).status_code == 302
    measure = matter.measures.get()
    assert post("done", {"measure": measure.pk}).status_code == 302
    strike_url = reverse("petitions:matter_post", args=[matter.pk, "strike"])
    assert strike_url not in client.get(url).content.decode()  # community staff do not approve
    assert post("strike", {"evidence": "已修复"}).status_code == 403
    client.force_login(world.leader)
    assert strike_url in client.get(url).content.decode()
    assert post("strike", {"evidence": "已修复，信访人签字确认"}).status_code == 302
    matter.refresh_from_db()
    assert matter.stage == "struck_off" and matter.approved_by == world.leader
    board = client.get(reverse("petitions:campaign")).content.decode()
    assert "东门社区" in board


def test_register_a_resident_found_by_name_or_by_the_audited_lookup(world, client):
    from jiedao.core.models import AuditEvent
    from jiedao.people import services as people_services

    resident = people_services.resident_create(actor=world.admin, node=world.building, name="林居民",
                                               id_number="330225198001010026", phone="13912345678")
    client.force_login(world.secretary)
    page = client.get(reverse("petitions:new"), {"resident_q": "林居"}).content.decode()
    assert "林居民" in page and "330225198001010026" not in page
    lookups = AuditEvent.objects.filter(action="people.resident.lookup").count()
    client.get(reverse("petitions:new"), {"lookup_id": "330225198001010026", "lookup_reason": "来访登记核对"})
    assert AuditEvent.objects.filter(action="people.resident.lookup").count() == lookups + 1
    response = client.post(reverse("petitions:new"), {
        "channel": "letter", "received_on": timezone.localdate().isoformat(), "node": world.grid.pk,
        "category": "other", "content": "楼道堆物", "resident": resident.pk})
    assert response.status_code == 302
    person = Petition.objects.get().petitioners.get()
    assert person.resident == resident and person.id_number_masked == "33***************6"
    assert not person.id_number_enc  # the register keeps the sealed number; the petitioner only links to it
