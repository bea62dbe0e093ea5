"""Sealed personal identifiers: one call turns a clear value into everything stored for it.

`seal("id_number", value)` normalises the value and returns a frozen `Sealed`: the SM4
ciphertext, the keyed blind index under the active index key, the lookup keys (the blind index
under every index key, for kinds that identify a record, so a duplicate is found while the index
key is being rotated), the masked form for display, and the facts a value carries (an ID number's
gender and birth date). jiedao.core.crypto stays the primitive layer underneath.

Validation is not done here: the caller checks the value with jiedao.core.validators first, so
the error names the caller's field; sealing trusts a valid value and derives its facts from it.

Every sealed column of every app is listed once in the registry below, filled by each app in its
`AppConfig.ready()` (`register(Resident, "phone", kind="phone")`). Key rotation
(jiedao.core.keys) and the registry test read it, so a new sealed column is rotated and tested by
registering it. Columns follow one naming rule: `<stem>_enc` (ciphertext), `<stem>_bidx` (blind
index, when the column is looked up) and `<stem>_masked` (display); a blind-index column named
otherwise is registered with `index_field` (cases.Case.reporter_phone_index).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from django.db import models

from jiedao.core import crypto

# The kinds a value can be sealed as. An ID number identifies one resident, so its lookup keys
# are computed when it is sealed (de-duplication at write); a phone is looked up only by a search.
# A "secret" (a login second factor's key) is never shown, masked or looked up: it has no
# `<stem>_masked` or index column, only the ciphertext. An e-mail address and an opaque identifier
# (a device or account id an Open311 client sends) are kept only to be shown to staff.
KINDS = frozenset({"id_number", "phone", "email", "identifier", "secret"})
IDENTIFYING_KINDS = frozenset({"id_number"})
UNSHOWN_KINDS = frozenset({"secret"})


class Sealed(NamedTuple):
    """What is stored for one personal identifier; all empty for an empty value. (A named tuple:
    immutable and cheap to build, as the importer seals 100,000 values in one pass.)"""

    ciphertext: str = ""
    # None when sealed with indexed=False (a column that is never looked up has no index column).
    blind_index: str | None = ""
    mask: str = ""
    lookup_keys: tuple[str, ...] = ()
    # Derived from an ID number (GB 11643): "male"/"female" (the people app's Gender values).
    gender: str = ""
    birth_date: date | None = None

    def fields(self, stem: str, *, index_field: str = "") -> dict[str, str]:
        """The column values under the naming rule: `<stem>_enc`, `<stem>_bidx` (unless sealed
        with indexed=False; `index_field` names a blind-index column named otherwise) and
        `<stem>_masked`."""
        values = {f"{stem}_enc": self.ciphertext, f"{stem}_masked": self.mask}
        if self.blind_index is not None:
            values[index_field or f"{stem}_bidx"] = self.blind_index
        return values


EMPTY = Sealed()
EMPTY_UNINDEXED = Sealed(blind_index=None)


def seal(kind: str, value: str | None, *, keyring: crypto.Keyring | None = None, indexed: bool = True,
         aad: bytes | None = None) -> Sealed:
    """Seal a (validated) value of a kind. Pass `keyring` when sealing many values in a loop,
    indexed=False for a column without a blind index (it saves the keyed hash), and `aad`
    (`SealedColumn.context(row)`) when the row is known: the ciphertext is then bound to its
    table, column and row. A value sealed without is bound when its row is saved (`bind_on_save`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown sealed kind {kind!r}")
    text = crypto.normalise(value or "", kind)
    if not text:
        return EMPTY if indexed else EMPTY_UNINDEXED
    ring = keyring or crypto.get_keyring()
    index: str | None = None
    lookup: tuple[str, ...] = ()
    if indexed:
        index = crypto.blind_index(text, kind=kind, keyring=ring)
        if kind in IDENTIFYING_KINDS:
            lookup = (index,) if len(ring.index_keys) == 1 else tuple(
                index if key_id == ring.index else crypto.blind_index(text, kind=kind, keyring=ring, index_key_id=key_id)
                for key_id in ring.index_keys
            )
    gender, born = _facts(kind, text)
    return Sealed(crypto.encrypt(text, ring, aad=aad), index, crypto.mask(text, kind), lookup, gender, born)


def lookup_keys(kind: str, value: str, *, keyring: crypto.Keyring | None = None) -> tuple[str, ...]:
    """The blind indexes of a value under every index key: an exact lookup that still finds rows
    written before the index key was rotated (`<stem>_bidx__in=lookup_keys(...)`)."""
    if not value:
        return ()
    ring = keyring or crypto.get_keyring()
    return tuple(crypto.blind_index(value, kind=kind, keyring=ring, index_key_id=k) for k in ring.index_keys)


def facts(kind: str, text: str) -> tuple[str, date | None]:
    """(gender, birth date) a normalised value tells (an ID number; nothing for other kinds): what
    `seal` stores beside the ciphertext, for bulk writers that seal in batches."""
    return _facts(kind, text)


def _facts(kind: str, text: str) -> tuple[str, date | None]:
    """What a value tells: for an ID number, gender (17th digit odd = male) and birth date."""
    if kind != "id_number" or len(text) != 18 or not (text[:17].isascii() and text[:17].isdigit()):
        return "", None
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        born = None
    return ("male" if int(text[16]) % 2 else "female"), born


# --- what is shown of a sealed value and its facts --------------------------------------------


def remask(masked: str, kind: str) -> str:
    """A masked (or clear) value narrowed to the current mask (crypto.MASK_KEEP): a mask written
    before the masks were narrowed (`3302**********0013` in an old row or audit event) shows no
    more than a new one (`33***************3`). Idempotent."""
    if not masked:
        return ""
    head, tail = crypto.MASK_KEEP.get(kind, (1, 1))
    if len(masked) <= head + tail:
        return "*" * len(masked)
    return masked[:head] + "*" * (len(masked) - head - tail) + masked[-tail:]


def birth_year(born: date | str | None) -> str:
    """The birth year alone ("1980"), what a user without the reveal right sees of a birth date."""
    if not born:
        return ""
    return str(born)[:4] if isinstance(born, str) else str(born.year)


def scrub_snapshot(values: dict | None) -> dict | None:
    """An audit snapshot as shown to anyone: masks narrowed to the current ones and a birth date
    cut to its year, so history written before the masks were narrowed leaks no more than a page."""
    if not values:
        return values
    out = dict(values)
    for key, value in values.items():
        if key.endswith("_masked") and isinstance(value, str):
            kind = "id_number" if key.startswith("id_number") else "phone" if "phone" in key else "identifier"
            out[key] = remask(value, kind)
        elif key == "birth_date" and value:
            out[key] = birth_year(value)
    return out


# --- the registry of sealed columns ----------------------------------------------------------


@dataclass(frozen=True)
class SealedColumn:
    """One sealed identifier on a model: its columns follow the naming rule of the module."""

    model: type[models.Model]
    stem: str
    kind: str
    indexed: bool = True
    index_field: str = ""  # the blind-index column when it is not named `<stem>_bidx`
    # The field naming the row in the associated data: the primary key, or a unique, never
    # changed field known before the INSERT (cases.Case.ticket, for the intake fast path).
    row_field: str = "pk"

    @property
    def enc(self) -> str:
        return f"{self.stem}_enc"

    @property
    def bidx(self) -> str:
        """The blind-index column, or "" when the column is never looked up."""
        return (self.index_field or f"{self.stem}_bidx") if self.indexed else ""

    @property
    def masked(self) -> str:
        """The display column, or "" for a kind that is never shown."""
        return "" if self.kind in UNSHOWN_KINDS else f"{self.stem}_masked"

    @property
    def table(self) -> str:
        return self.model._meta.concrete_model._meta.db_table

    @property
    def enc_column(self) -> str:
        return self.model._meta.get_field(self.enc).column

    @property
    def row_column(self) -> str:
        """The database column of `row_field`."""
        meta = self.model._meta
        return (meta.pk if self.row_field == "pk" else meta.get_field(self.row_field)).column

    def context(self, row: object) -> bytes:
        """The associated data binding a ciphertext of this column to the row whose `row_field`
        is `row`."""
        return crypto.context(self.table, self.enc_column, row)

    def row_of(self, obj: models.Model) -> object:
        return getattr(obj, self.row_field)

    def __str__(self) -> str:
        return f"{self.model._meta.label}.{self.enc}"


_columns: dict[tuple[str, str], SealedColumn] = {}


def register(model: type[models.Model], stem: str, *, kind: str, indexed: bool = True,
             index_field: str = "", row_field: str = "pk") -> SealedColumn:
    """List a sealed column (from the owning app's `AppConfig.ready()`); registering twice is harmless.
    `index_field` names the blind-index column when it is not `<stem>_bidx`; `row_field` the
    unique, unchanging field that names the row in the associated data when it is not the pk."""
    if kind not in KINDS:
        raise ValueError(f"unknown sealed kind {kind!r}")
    if index_field and not indexed:
        raise ValueError("an unindexed column has no index field")
    if kind in UNSHOWN_KINDS and indexed:
        raise ValueError(f"a {kind} column is never looked up: register it with indexed=False")
    column = SealedColumn(model, stem, kind, indexed, index_field, row_field)
    for name in filter(None, (column.enc, column.bidx, column.masked, row_field if row_field != "pk" else "")):
        model._meta.get_field(name)  # FieldDoesNotExist at start-up, not at the first rotation
    _columns[(model._meta.label, stem)] = column
    models.signals.pre_save.connect(_bind_before_save, sender=model, dispatch_uid=f"sealed-pre-{model._meta.label}")
    models.signals.post_save.connect(_bind_after_insert, sender=model, dispatch_uid=f"sealed-post-{model._meta.label}")
    return column


def column_of(model: type[models.Model], stem: str) -> SealedColumn:
    """The registered column `stem` of `model` (KeyError for a column never registered)."""
    return _columns[(model._meta.concrete_model._meta.label, stem)]


def _model_columns(model: type[models.Model]) -> list[SealedColumn]:
    label = model._meta.concrete_model._meta.label
    return [c for (owner, _), c in _columns.items() if owner == label]


def _bind_before_save(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """A value sealed without its row is bound before the row is written, when the row is known."""
    if raw:
        return
    for column in _model_columns(sender):
        if update_fields is not None and column.enc not in update_fields:
            continue
        if column.row_of(instance) not in (None, ""):
            bind(instance, column.stem)


def _bind_after_insert(sender, instance, created=False, raw=False, **kwargs) -> None:
    """A row inserted with a database-assigned pk: its values are bound now (one UPDATE)."""
    if raw or not created:
        return
    changes = {}
    for column in _model_columns(sender):
        token = getattr(instance, column.enc)
        if token and not crypto.is_bound(token):
            changes[column.enc] = bind(instance, column.stem)
    if changes:
        sender._base_manager.filter(pk=instance.pk).update(**changes)


def rebind(token: str, model: type[models.Model], stem: str, row: object, *,
           keyring: crypto.Keyring | None = None) -> str:
    """`token` (sealed before its row was known) bound to the row `row` of `model`'s `stem`, for
    bulk writers that learn the row's pk before their INSERT (reserved ids). Bound ones stay."""
    if not token or crypto.is_bound(token):
        return token
    ring = keyring or crypto.get_keyring()
    return crypto.encrypt(crypto.decrypt(token, ring), ring, aad=column_of(model, stem).context(row))


def bind_rows(model: type[models.Model], pks) -> int:
    """Bind every still-unbound sealed value of the rows `pks` (after a bulk INSERT, which sends
    no signals); returns how many values were rewritten."""
    columns_ = _model_columns(model)
    ring = crypto.get_keyring()
    done = 0
    pks = list(pks)
    for start in range(0, len(pks), 500):
        for obj in model._base_manager.filter(pk__in=pks[start:start + 500]).only(
                "pk", *{c.row_field for c in columns_ if c.row_field != "pk"}, *(c.enc for c in columns_)):
            old = {c.enc: getattr(obj, c.enc) for c in columns_}
            changes = {
                c.enc: bind(obj, c.stem, keyring=ring) for c in columns_
                if old[c.enc] and not crypto.is_bound(old[c.enc])
            }
            if changes:
                # Compare-and-set on the old ciphertexts: a concurrent edit (bound by its save) wins.
                done += len(changes) * model._base_manager.filter(
                    pk=obj.pk, **{k: old[k] for k in changes}).update(**changes)
    return done


def context_of(obj: models.Model, stem: str) -> bytes:
    """The associated data of `obj`'s sealed `stem` (its table, ciphertext column and row)."""
    column = column_of(type(obj), stem)
    return column.context(column.row_of(obj))


def reveal(obj: models.Model, stem: str, *, keyring: crypto.Keyring | None = None) -> str:
    """The clear value of `obj`'s sealed `stem`: a bound ciphertext authenticates only in the
    row and column it was written for."""
    token = getattr(obj, f"{stem}_enc")
    return crypto.decrypt(token, keyring, aad=context_of(obj, stem)) if token else ""


def bind(obj: models.Model, stem: str, *, keyring: crypto.Keyring | None = None) -> str:
    """Re-encrypt `obj`'s sealed `stem` bound to its row (the row must have its pk); returns the
    new ciphertext, set on `obj` (the caller saves it)."""
    token = getattr(obj, f"{stem}_enc")
    if not token or crypto.is_bound(token):
        return token
    aad = context_of(obj, stem)
    plain = crypto.decrypt(token, keyring)  # without a keyring: reloaded if another process rotated
    token = crypto.encrypt(plain, keyring or crypto.get_keyring(), aad=aad)
    setattr(obj, f"{stem}_enc", token)
    return token


def columns() -> list[SealedColumn]:
    """Every registered sealed column, in registration order."""
    return list(_columns.values())
