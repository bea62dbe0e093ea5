"""Keys that cannot be lost quietly (issue 12): random key ids per keyring, a restore refused
without the keyring that encrypted the backup, a start refused while stored values cannot be
opened, and ciphertexts bound to their table, column and row."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from jiedao.cases.models import Case
from jiedao.core import backup, crypto, keys, sealed
from jiedao.core.management.commands import serve
from jiedao.people.models import Business, Resident
from tests.core.test_cli import run_jiedao, seeded_tiny_data_dir
from tests.core.test_sealed import SAMPLES, WRITERS, _write_every_column


@pytest.fixture
def own_keyring(settings, tmp_path):
    settings.JIEDAO_KEYRING = str(tmp_path / "ring.json")
    crypto.reload_keyring()
    yield tmp_path / "ring.json"
    crypto.reload_keyring()


# --- key ids ---------------------------------------------------------------------------------


def test_key_ids_are_random_per_keyring_and_old_ids_stay_valid():
    first, second = crypto.Keyring.generate(), crypto.Keyring.generate()
    assert re.fullmatch(r"k[0-9a-f]{8}", first.active) and re.fullmatch(r"i[0-9a-f]{8}", first.index)
    assert first.active != second.active and first.index != second.index
    # A keyring made before (k1/i1) keeps working; its new keys get random ids.
    old = crypto.Keyring.from_json(json.dumps({
        "active": "k1", "index": "i1", "keys": {"k1": base64.b64encode(b"\x01" * 16).decode()},
        "index_keys": {"i1": base64.b64encode(b"\x02" * 32).decode()}}))
    token = crypto.encrypt("13812345678", old)
    assert token.startswith("k1$") and not crypto.is_bound(token)
    new_id = old.add_key()
    assert re.fullmatch(r"k[0-9a-f]{8}", new_id) and old.active == new_id
    assert crypto.decrypt(token, old) == "13812345678"  # an unbound (version 1) value still reads


# --- associated data -------------------------------------------------------------------------


def test_a_ciphertext_moved_to_another_row_or_column_does_not_decrypt(world, own_keyring):
    one = WRITERS[Resident](world, id_number=SAMPLES["id_number"], phone="13812345678")
    two = WRITERS[Resident](world, phone="13987654321")
    one.refresh_from_db()
    assert crypto.is_bound(one.phone_enc) and crypto.is_bound(one.id_number_enc)
    assert sealed.reveal(one, "phone") == "13812345678"

    Resident.objects.filter(pk=two.pk).update(phone_enc=one.phone_enc)  # another row
    two.refresh_from_db()
    with pytest.raises(crypto.DecryptionError):
        sealed.reveal(two, "phone")
    Resident.objects.filter(pk=one.pk).update(phone_enc=one.id_number_enc)  # another column
    one.refresh_from_db()
    with pytest.raises(crypto.DecryptionError):
        sealed.reveal(one, "phone")
    business = WRITERS[Business](world, phone="13812345678")
    Business.objects.filter(pk=business.pk).update(phone_enc=two.phone_enc)  # another table
    business.refresh_from_db()
    with pytest.raises(crypto.DecryptionError):
        sealed.reveal(business, "phone")
    with pytest.raises(crypto.DecryptionError):  # a bound value is never read without its place
        crypto.decrypt(two.phone_enc)


def test_case_phones_are_bound_at_intake_and_cannot_move_between_cases(world, own_keyring):
    first = WRITERS[Case](world, reporter_phone="13812345678")
    second = WRITERS[Case](world, reporter_phone="13987654321")
    first.refresh_from_db()
    assert crypto.is_bound(first.reporter_phone_enc) and sealed.reveal(first, "reporter_phone") == "13812345678"
    Case.objects.filter(pk=second.pk).update(reporter_phone_enc=first.reporter_phone_enc)
    second.refresh_from_db()
    with pytest.raises(crypto.DecryptionError):
        sealed.reveal(second, "reporter_phone")


def test_rotation_binds_old_unbound_values_and_every_column_reads_after_two_rotations(world, own_keyring):
    rows = _write_every_column(world)
    ring = crypto.get_keyring()
    for column in sealed.columns():  # as rows written before associated data existed
        plain = crypto.normalise(SAMPLES[column.kind], column.kind)
        column.model.objects.filter(pk=rows[column.model].pk).update(**{column.enc: crypto.encrypt(plain, ring)})
    for _ in range(2):
        keys.rotate_keys(rotate_index=True)
    for column in sealed.columns():
        stored = column.model.objects.get(pk=rows[column.model].pk)
        token = getattr(stored, column.enc)
        assert crypto.is_bound(token) and crypto.key_id_of(token) == crypto.get_keyring().active, column
        assert sealed.reveal(stored, column.stem) == crypto.normalise(SAMPLES[column.kind], column.kind), column


def test_saving_a_row_binds_a_value_sealed_before_its_row_was_known(world, own_keyring):
    resident = WRITERS[Resident](world, phone="13812345678")
    Resident.objects.filter(pk=resident.pk).update(phone_enc=crypto.encrypt("13812345678"))
    resident.refresh_from_db()
    assert not crypto.is_bound(resident.phone_enc)
    resident.save()
    resident.refresh_from_db()
    assert crypto.is_bound(resident.phone_enc) and sealed.reveal(resident, "phone") == "13812345678"


# --- refusing to start -----------------------------------------------------------------------


def test_start_is_refused_while_stored_values_cannot_be_opened(world, own_keyring, settings, tmp_path):
    _write_every_column(world)
    assert keys.startup_problems() == ""
    serve.check_database(io.StringIO(), io.StringIO())  # the present keyring opens everything

    # The keyring is gone (a restore without it): no new one is generated, the start is refused.
    settings.JIEDAO_KEYRING = str(tmp_path / "elsewhere" / "ring.json")
    with pytest.raises(CommandError) as refused:
        serve.check_database(io.StringIO(), io.StringIO())
    assert "拒绝启动" in str(refused.value) and "refusing to start" in str(refused.value)
    assert not (tmp_path / "elsewhere" / "ring.json").exists()
    with pytest.raises(SystemCheckError):
        call_command("check", databases=["default"], stdout=io.StringIO(), stderr=io.StringIO())

    # A keyring with the same key ids but other keys (generated afresh) is refused as well.
    real = crypto.Keyring.from_json(own_keyring.read_text())
    forged = crypto.Keyring(active=real.active, keys={k: b"\x09" * 16 for k in real.keys},
                            index=real.index, index_keys=real.index_keys, path=tmp_path / "forged.json")
    forged.save()
    settings.JIEDAO_KEYRING = str(forged.path)
    problem = keys.startup_problems()
    assert "does not open" in problem and real.active in problem


# --- restore ---------------------------------------------------------------------------------


SEALED_ROW = """
from jiedao.core import sealed
from jiedao.org.models import OrgNode
from jiedao.people.models import Business
node = OrgNode.objects.filter(kind="grid").first()
row = Business.objects.create(node=node, subdistrict_id=node.subdistrict_id, name="东门水产店",
                              **sealed.seal("phone", "13812345678").fields("phone"))
print(row.phone_enc)
"""


def test_restore_is_refused_without_the_keyring_that_encrypted_the_backup(tmp_path_factory, tmp_path):
    source_dir = seeded_tiny_data_dir(tmp_path_factory)
    copy_dir = tmp_path / "source"
    shutil.copytree(source_dir, copy_dir)
    sealed_row = run_jiedao("manage", "shell", "-c", SEALED_ROW, data_dir=copy_dir)  # the tiny demo has none
    assert sealed_row.returncode == 0 and "$2$" in sealed_row.stdout, sealed_row.stderr
    archive = tmp_path / "jiedao.sqlite3"
    made = run_jiedao("backup", "--output", str(archive), data_dir=copy_dir)
    assert made.returncode == 0, made.stderr
    recorded = json.loads(backup.manifest_path(archive).read_text())
    ring = crypto.Keyring.from_json((copy_dir / "keys" / "keyring.json").read_text())
    assert recorded["keys"] and set(recorded["keys"]) <= set(ring.keys)
    assert all(base64.b64encode(key).decode() not in json.dumps(recorded) for key in ring.keys.values())

    target = tmp_path / "target"
    refused = run_jiedao("restore", str(archive), data_dir=target)
    assert refused.returncode == 2, refused.stdout
    assert "拒绝恢复" in refused.stderr and "refusing to restore" in refused.stderr
    assert not (target / "jiedao.sqlite3").exists()

    # Without its manifest the SQLite backup itself is read for the key ids: still refused.
    backup.manifest_path(archive).rename(tmp_path / "manifest.json")
    refused = run_jiedao("restore", str(archive), data_dir=target)
    assert refused.returncode == 2 and "refusing to restore" in refused.stderr
    (tmp_path / "manifest.json").rename(backup.manifest_path(archive))

    # A keyring of the same ids but other keys is not the right one.
    (target / "keys").mkdir(parents=True)
    forged = crypto.Keyring(active=ring.active, keys={k: b"\x09" * 16 for k in ring.keys},
                            index=ring.index, index_keys=ring.index_keys, path=target / "keys" / "keyring.json")
    forged.save()
    refused = run_jiedao("restore", str(archive), data_dir=target)
    assert refused.returncode == 2 and "different key" in refused.stderr

    shutil.copy(copy_dir / "keys" / "keyring.json", target / "keys" / "keyring.json")
    restored = run_jiedao("restore", str(archive), data_dir=target)
    assert restored.returncode == 0, restored.stderr


def _all_bound_and_readable(model) -> int:
    count = 0
    for row in model.objects.all():
        for column in (c for c in sealed.columns() if c.model is model):
            token = getattr(row, column.enc)
            if token:
                assert crypto.is_bound(token), (column, row.pk)
                sealed.reveal(row, column.stem)
                count += 1
    return count


def test_bulk_writers_bind_what_they_write(world):
    """The importer (reserved pks) and the demo (bulk inserts) bind values to their rows too."""
    from jiedao.core import imports
    from jiedao.core.models import ImportJob
    from tests.people.test_import import good_row, run, xlsx

    rows = [good_row(n) for n in range(1, 6)]
    job = imports.import_commit(actor=world.secretary, job=run(world, xlsx(rows)))
    assert job.status == ImportJob.Status.COMMITTED and job.created_rows == 5
    assert _all_bound_and_readable(Resident) == 10
    job = imports.import_commit(actor=world.secretary, job=run(world, xlsx(rows)))  # updates
    assert job.updated_rows == 5 and _all_bound_and_readable(Resident) == 10

    from jiedao.people.demo import seed_registers

    seed_registers(world.subdistrict, seed=1, businesses=3)
    assert _all_bound_and_readable(Resident) > 10 and _all_bound_and_readable(Business) == 3


def test_every_ciphertext_column_is_in_the_registry_whatever_its_name():
    """Beside the `*_enc` rule (tests/core/test_sealed.py): a column described as a ciphertext
    (密文) must be a registered sealed column, or rotation and the start-up check would skip it."""
    from django.apps import apps

    registered = {(c.model, c.enc) for c in sealed.columns()}
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if "密文" in str(field.verbose_name) or field.name.endswith("_enc"):
                assert (model, field.name) in registered, f"{model._meta.label}.{field.name} is not in jiedao.core.sealed"
