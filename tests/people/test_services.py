import pytest
from django.db import connection
from django.http import Http404

from jiedao.core import crypto, sealed
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.core.validators import id_number_check_char
from jiedao.people import selectors, services
from jiedao.people.models import Resident, SpecialGroup


def make_id(prefix17: str) -> str:
    return prefix17 + id_number_check_char(prefix17)


ID_A = make_id("33022519850612001")  # male (17th digit odd)
ID_B = make_id("33022519920228002")  # female (17th digit even)


def test_id_number_helpers():
    assert ID_A[-1] == id_number_check_char(ID_A[:17])


def test_create_resident_encrypts_and_derives(world):
    r = services.resident_create(actor=world.worker, node=world.building, name="陈阿姨", id_number=ID_B, phone="13812345678")
    assert r.gender == "female" and r.birth_date.isoformat() == "1992-02-28"
    assert r.id_number_masked == ID_B[:2] + "*" * 15 + ID_B[-1:]
    assert r.phone_masked == "138******78"
    assert ID_B not in r.id_number_enc and sealed.reveal(r, "id_number") == ID_B
    event = AuditEvent.objects.get(action="people.resident.create")
    assert ID_B not in str(event.after) and "13812345678" not in str(event.after)


def test_database_holds_no_readable_identifiers(world):
    services.resident_create(actor=world.worker, node=world.building, name="陈阿姨", id_number=ID_B, phone="13812345678")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM people_resident")
        dump = repr(cursor.fetchall())
        cursor.execute("SELECT before, after FROM core_auditevent")
        dump += repr(cursor.fetchall())
    assert ID_B not in dump and "13812345678" not in dump
    assert ID_B[6:14] not in dump.replace("1992-02-28", "")  # birth date only in its own column


@pytest.mark.parametrize(
    ("value", "message"),
    [("33022519850612001", "18 位"), (ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1"), "校验位"),
     (make_id("33022519850231001"), "不存在")],
)
def test_bad_id_numbers_name_the_field(world, value, message):
    with pytest.raises(DomainError) as exc:
        services.resident_create(actor=world.worker, node=world.building, name="某人", id_number=value)
    assert exc.value.field == "id_number" and message in exc.value.message
    assert Resident.objects.count() == 0


def test_duplicate_id_number_found_by_blind_index(world):
    services.resident_create(actor=world.worker, node=world.building, name="甲", id_number=ID_A)
    with pytest.raises(ConflictError):
        services.resident_create(actor=world.secretary, node=world.other_grid, name="乙", id_number=ID_A.lower())
    assert [r.name for r in selectors.resident_lookup(world.secretary, kind="id_number", value=ID_A)] == ["甲"]
    assert [r.name for r in selectors.resident_list(world.secretary, text=ID_A)] == []  # the list is no oracle


def test_grid_worker_cannot_touch_other_grid(world):
    with pytest.raises(Http404):
        services.resident_create(actor=world.worker, node=world.other_grid, name="乙")
    r = services.resident_create(actor=world.other_worker, node=world.other_grid, name="乙")
    with pytest.raises(Http404):
        selectors.resident_get(world.worker, r.pk)
    assert selectors.resident_list(world.worker).count() == 0
    assert selectors.resident_list(world.secretary).count() == 1


def test_reveal_needs_permission_and_reason_and_is_audited(world):
    r = services.resident_create(actor=world.worker, node=world.building, name="甲", id_number=ID_A, phone="13900001111")
    with pytest.raises(PermissionError_):
        services.resident_reveal(actor=world.worker, resident=r, field="id_number", reason="核实身份")
    with pytest.raises(DomainError):
        services.resident_reveal(actor=world.secretary, resident=r, field="id_number", reason="")
    assert services.resident_reveal(actor=world.secretary, resident=r, field="phone", reason="电话回访") == "13900001111"
    event = AuditEvent.objects.get(action="people.resident.reveal_phone")
    assert event.reason == "电话回访" and event.actor_repr == "secretary"


def test_key_rotation_keeps_values_readable(world, settings, tmp_path):
    settings.JIEDAO_KEYRING = str(tmp_path / "ring.json")
    crypto.reload_keyring()
    r = services.resident_create(actor=world.worker, node=world.building, name="甲", id_number=ID_A, phone="13900001111")
    from jiedao.core.keys import rotate_keys

    report = rotate_keys(batch_size=1)
    r.refresh_from_db()
    assert crypto.key_id_of(r.id_number_enc) == crypto.get_keyring().active == report.key_id
    assert sealed.reveal(r, "id_number") == ID_A and report.reencrypted >= 2
    assert [x.pk for x in selectors.resident_lookup(world.secretary, kind="id_number", value=ID_A)] == [r.pk]


def test_tags_validate_extra_fields(world):
    r = services.resident_create(actor=world.worker, node=world.building, name="甲")
    group = SpecialGroup.objects.get(code="disabled")
    with pytest.raises(DomainError) as exc:
        services.resident_tag(actor=world.worker, resident=r, group=group, data={"level": "五级"})
    assert exc.value.field == "data.level"
    tag = services.resident_tag(actor=world.worker, resident=r, group=group, data={"level": "二级"})
    assert tag.data == {"level": "二级"}
    assert list(selectors.resident_list(world.worker, group="disabled")) == [r]


def test_business_uscc_checked(world):
    from jiedao.core.validators import uscc_check_char

    code17 = "91330225MA2AB1234"
    good = code17 + uscc_check_char(code17)
    with pytest.raises(DomainError) as exc:
        services.business_create(actor=world.worker, node=world.grid, name="某公司", uscc=code17 + "0" if good[-1] != "0" else code17 + "1")
    assert exc.value.field == "uscc"
    b = services.business_create(actor=world.worker, node=world.grid, name="丹西水产公司", uscc=good, phone="0574-65712345")
    assert b.phone_masked.startswith("057") and selectors.business_get(world.handler, b.pk) == b
    with pytest.raises(Http404):
        selectors.business_get(world.other_worker, b.pk)


def test_full_width_digits_are_not_an_id_number_or_a_phone():
    """Full-width digits (１１０…) would pass \\d and int() but give another blind index than the ASCII
    spelling: the same person could be registered twice. They are refused, with the format message."""
    from jiedao.core.validators import validate_id_number, validate_phone

    ascii_id = make_id("11010519491231002")
    validate_id_number(ascii_id)
    wide = ascii_id.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    assert wide != ascii_id
    with pytest.raises(DomainError):
        validate_id_number(wide)
    validate_phone("13912345678")
    with pytest.raises(DomainError):
        validate_phone("１３９１２３４５６７８")
