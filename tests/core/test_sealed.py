"""Sealed identifiers (jiedao.core.sealed): the component, the registry of sealed columns that
every app fills, and key rotation over that registry (jiedao.core.keys)."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from jiedao.cases import services as case_services
from jiedao.cases.models import Case, Open311Extra, Source
from jiedao.cases.open311 import services as open311_services
from jiedao.core import crypto, sealed
from jiedao.core.keys import fill_missing_indexes, rotate_keys
from jiedao.core.models import AuditEvent
from jiedao.core.validators import id_number_check_char
from jiedao.org import services as org_services
from jiedao.org.models import SecondFactor
from jiedao.people import services as people_services
from jiedao.people.models import Business, Resident
from jiedao.petitions import services as petition_services
from jiedao.petitions.models import Petitioner


def _id_number_ending_in_x() -> str:
    """A valid ID number (born 1985-06-12, 17th digit odd: male) whose check character is X."""
    for sequence in range(1, 1000, 2):
        first = f"33022519850612{sequence:03d}"
        if id_number_check_char(first) == "X":
            return first + "X"
    raise AssertionError("no sequence gives the check character X")


ID_NUMBER = _id_number_ending_in_x()
# How people type them: a lower-case x, spaces and a dash; sealing stores the normalised form.
SAMPLES = {"id_number": f" {ID_NUMBER[:6]} {ID_NUMBER[6:].lower()}", "phone": "0574-6571 2345",
           "email": " Chen.AY@Example.org", "identifier": "device 42 ", "secret": "jbsw y3dp ehpk 3pxp"}

# One real write path per model with a sealed column: the column's stem is the service keyword.
WRITERS = {
    Resident: lambda world, **values: people_services.resident_create(
        actor=world.worker, node=world.building, name="陈阿姨", **values),
    Business: lambda world, **values: people_services.business_create(
        actor=world.worker, node=world.grid, name="东门水产店", **values),
    SecondFactor: lambda world, **values: org_services.second_factor_begin(actor=world.worker, **values)[0],
    Case: lambda world, **values: case_services.case_create(
        actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, title="楼道灯坏了",
        description="3单元楼道灯不亮", suggest=False, **values),
    Open311Extra: lambda world, **values: open311_services.open311_extra_create(
        actor=world.worker, case=case_services.case_create(
            actor=world.worker, source=Source.HOTLINE, node=world.grid, description="路灯不亮", suggest=False),
        **values),
    Petitioner: lambda world, **values: petition_services.petition_register(
        actor=world.secretary, node=world.grid, channel="visit", received_on=timezone.localdate(), category="other",
        content="路灯不亮", petitioners=[{"name": "陈阿姨", **values}]).petitioners.get(),
}


def _write_every_column(world) -> dict:
    """One row per model holding a sample value in each of its sealed columns."""
    by_model: dict = {}
    for column in sealed.columns():
        by_model.setdefault(column.model, {})[column.stem] = SAMPLES[column.kind]
    missing = [model._meta.label for model in by_model if model not in WRITERS]
    assert not missing, f"add a write path for the sealed columns of {missing} to WRITERS"
    return {model: WRITERS[model](world, **values) for model, values in by_model.items()}


def test_every_encrypted_field_is_a_registered_sealed_column():
    registered = {(c.model, c.enc) for c in sealed.columns()}
    indexes = {(c.model, c.bidx) for c in sealed.columns() if c.bidx}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.name.endswith("_enc"):
                assert (model, field.name) in registered, f"{model._meta.label}.{field.name} is not in jiedao.core.sealed"
            if field.name.endswith("_bidx"):
                assert (model, field.name) in indexes, f"{model._meta.label}.{field.name} is not a registered index"
            # An index column named otherwise (`index_field`) beside a sealed column is registered too.
            stem = field.name.removesuffix("_index")
            if field.name.endswith("_index") and any(f.name == f"{stem}_enc" for f in model._meta.concrete_fields):
                assert (model, field.name) in indexes, f"{model._meta.label}.{field.name} is not a registered index"
    assert {str(c) for c in sealed.columns()} >= {
        "people.Resident.id_number_enc", "people.Resident.phone_enc", "people.Business.phone_enc",
        "cases.Case.reporter_phone_enc",
    }
    case_phone = next(c for c in sealed.columns() if c.model is Case)
    assert (case_phone.bidx, case_phone.masked) == ("reporter_phone_index", "reporter_phone_masked")


def test_every_registered_column_round_trips(world):
    rows = _write_every_column(world)
    for column in sealed.columns():
        row = rows[column.model]
        sample = SAMPLES[column.kind]
        stored = column.model.objects.get(pk=row.pk)
        token = getattr(stored, column.enc)
        assert crypto.normalise(sample, column.kind) not in token
        assert crypto.is_bound(token) and sealed.reveal(stored, column.stem) == crypto.normalise(sample, column.kind), column
        if column.masked:
            assert getattr(stored, column.masked) == crypto.mask(sample, column.kind), column
        if column.bidx:
            found = column.model.objects.filter(**{f"{column.bidx}__in": sealed.lookup_keys(column.kind, sample)})
            assert list(found.values_list("pk", flat=True)) == [row.pk], column


def test_seal_an_id_number():
    value = sealed.seal("id_number", SAMPLES["id_number"])
    assert crypto.decrypt(value.ciphertext) == ID_NUMBER
    assert value.mask == ID_NUMBER[:2] + "*" * 15 + ID_NUMBER[-1:]
    assert (value.gender, value.birth_date.isoformat()) == ("male", "1985-06-12")
    assert value.lookup_keys == (value.blind_index,) == (crypto.blind_index(ID_NUMBER, kind="id_number"),)
    assert value.fields("id_number") == {"id_number_enc": value.ciphertext, "id_number_bidx": value.blind_index,
                                         "id_number_masked": value.mask}


def test_seal_a_phone_and_nothing():
    phone = sealed.seal("phone", "+86 138-1234-5678")
    assert crypto.decrypt(phone.ciphertext) == "13812345678" and phone.mask == "138******78"
    assert phone.blind_index == crypto.blind_index("13812345678", kind="phone")
    assert (phone.lookup_keys, phone.gender, phone.birth_date) == ((), "", None)  # a phone is looked up by search only
    unindexed = sealed.seal("phone", "13812345678", indexed=False)
    assert set(unindexed.fields("reporter_phone")) == {"reporter_phone_enc", "reporter_phone_masked"}
    assert sealed.seal("phone", "  ").fields("phone") == {"phone_enc": "", "phone_bidx": "", "phone_masked": ""}
    assert phone.fields("reporter_phone", index_field="reporter_phone_index") == {
        "reporter_phone_enc": phone.ciphertext, "reporter_phone_index": phone.blind_index,
        "reporter_phone_masked": phone.mask}
    with pytest.raises(ValueError):
        sealed.register(Case, "reporter_phone", kind="phone", indexed=False, index_field="reporter_phone_index")
    assert sealed.seal("id_number", "") == sealed.EMPTY
    with pytest.raises(ValueError):
        sealed.seal("passport", "E12345678")


def test_lookup_keys_cover_every_index_key():
    ring = crypto.Keyring.generate()
    before = sealed.seal("id_number", ID_NUMBER, keyring=ring)
    ring.index_keys["i2"], ring.index = b"\x07" * 32, "i2"
    after = sealed.seal("id_number", ID_NUMBER, keyring=ring)
    assert after.blind_index != before.blind_index
    assert after.lookup_keys == (before.blind_index, after.blind_index)
    assert sealed.lookup_keys("id_number", ID_NUMBER, keyring=ring) == after.lookup_keys


def test_rotation_reencrypts_every_registered_column_with_the_case_reporter_phones(world, settings, tmp_path):
    settings.JIEDAO_KEYRING = str(tmp_path / "ring.json")
    crypto.reload_keyring()
    rows = _write_every_column(world)
    anonymous = WRITERS[Case](world, anonymous=True, reporter_phone="13900001111")

    report = rotate_keys(batch_size=1, rotate_index=True)

    ring = crypto.get_keyring()
    assert (report.key_id, report.index_key_id) == (ring.active, ring.index)
    assert len(ring.keys) == len(ring.index_keys) == 2 and re.fullmatch(r"k[0-9a-f]{8}", ring.active)
    for column in sealed.columns():
        stored = column.model.objects.get(pk=rows[column.model].pk)
        token = getattr(stored, column.enc)
        assert crypto.key_id_of(token) == ring.active and crypto.is_bound(token), column
        assert sealed.reveal(stored, column.stem) == crypto.normalise(SAMPLES[column.kind], column.kind), column
        if column.bidx:
            assert getattr(stored, column.bidx) == crypto.blind_index(SAMPLES[column.kind], kind=column.kind), column
    assert Case.objects.get(pk=anonymous.pk).reporter_phone_enc == ""  # nothing sealed, nothing written
    assert report.reencrypted == len(sealed.columns()) and report.skipped_concurrent == 0
    # A second rotation finds every value under the older key again, the case reporter's phone
    # included, and every sealed column still decrypts in its row afterwards.
    second = rotate_keys(rotate_index=True)
    assert second.reencrypted == len(sealed.columns()) and second.key_id not in (report.key_id, "k2")
    for column in sealed.columns():
        stored = column.model.objects.get(pk=rows[column.model].pk)
        assert crypto.key_id_of(getattr(stored, column.enc)) == second.key_id, column
        assert sealed.reveal(stored, column.stem) == crypto.normalise(SAMPLES[column.kind], column.kind), column


def test_rotation_and_reindex_fill_the_blind_indexes_a_column_lacks(world, settings, tmp_path, capsys):
    """Cases filed before the reporter's phone was indexed have a ciphertext and no index: no
    migration can compute it (the keys live outside the database); every rotation fills it, and
    `jiedao keys reindex` does only that."""
    settings.JIEDAO_KEYRING = str(tmp_path / "ring.json")
    crypto.reload_keyring()
    phone = crypto.normalise(SAMPLES["phone"], "phone")
    cases = [WRITERS[Case](world, reporter_phone=SAMPLES["phone"]) for _ in range(3)]
    lacking = Case.objects.filter(pk__in=[c.pk for c in cases])
    found = lambda: Case.objects.filter(reporter_phone_index__in=sealed.lookup_keys("phone", phone)).count()  # noqa: E731
    lacking.update(reporter_phone_index="")
    assert found() == 0

    report = fill_missing_indexes(batch_size=2)
    assert (report.indexed, report.skipped_concurrent) == (3, 0)
    assert report.columns["cases.Case.reporter_phone_enc"] == 3
    assert found() == 3 and set(lacking.values_list("reporter_phone_index", flat=True)) == {
        crypto.blind_index(phone, kind="phone")}
    event = AuditEvent.objects.get(action="core.keys.reindex")
    assert event.after["indexed"] == 3 and phone not in str(event.after)
    assert fill_missing_indexes().indexed == 0  # nothing left: no second event
    assert AuditEvent.objects.filter(action="core.keys.reindex").count() == 1

    lacking.update(reporter_phone_index="")
    rotated = rotate_keys(batch_size=2)  # a data key rotation fills them on the way
    assert rotated.indexed == 3 and found() == 3

    lacking.filter(pk=cases[0].pk).update(reporter_phone_index="")
    call_command("keys_reindex")
    assert "已补建盲索引 1 个" in capsys.readouterr().out and found() == 3


def test_rotating_the_index_key_reindexes_case_phones_and_lookups_still_find_them(world, settings, tmp_path):
    settings.JIEDAO_KEYRING = str(tmp_path / "ring.json")
    crypto.reload_keyring()
    case = WRITERS[Case](world, reporter_phone="13812345678")
    before = Case.objects.get(pk=case.pk).reporter_phone_index
    rotate_keys(rotate_index=True)
    after = Case.objects.get(pk=case.pk).reporter_phone_index
    assert after != before and after == crypto.blind_index("13812345678", kind="phone")
    found = case_services.case_reporter_lookup(actor=world.worker, phone="13812345678")
    assert [c.pk for c in found.cases] == [case.pk]
