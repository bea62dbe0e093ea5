"""Demo registers for a generated sub-district: households, residents (with valid, encrypted ID
numbers), special-group tags and businesses (with valid credit codes). Deterministic."""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from jiedao.core import audit, crypto, sealed
from jiedao.core.bulk import insert_rows, reserve_ids
from jiedao.core.validators import id_number_check_char, uscc_check_char
from jiedao.org.demo import Names
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import Business, Household, Resident, ResidentTag, SpecialGroup

RELATIONS = ("户主", "配偶", "子女", "父母", "孙子女", "其他")
INDUSTRIES = ("水产加工", "餐饮", "零售", "住宿", "建材", "服装", "汽修", "物流", "教育培训", "美容美发")
KINDS = ("有限责任公司", "个体工商户", "个人独资企业", "农民专业合作社")
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _id_number(rng: random.Random, county: str, born: date, male: bool) -> str:
    sequence = rng.randrange(0, 100) * 10 + rng.randrange(0, 5) * 2 + (1 if male else 0)
    first = f"{county}{born:%Y%m%d}{sequence:03d}"
    return first + id_number_check_char(first)


def _uscc(rng: random.Random, county: str) -> str:
    body = "91" + county + "".join(rng.choice(USCC_CHARS) for _ in range(9))
    return body + uscc_check_char(body)


@transaction.atomic
def seed_registers(subdistrict: OrgNode, *, seed: int, residents_per_building: tuple[int, int] = (6, 14),
                   businesses: int = 600) -> dict[str, int]:
    rng = random.Random(seed * 7 + subdistrict.pk)
    names = Names(rng)
    county = (subdistrict.code or "330225")[:6]
    ring = crypto.get_keyring()
    now = timezone.now()
    buildings = list(OrgNode.objects.filter(subdistrict=subdistrict, kind=NodeKind.BUILDING)
                     .values_list("id", "name", "parent__name", "address"))
    groups = {g.code: g.pk for g in SpecialGroup.objects.all()}
    household_rows, resident_rows, tag_rows = [], [], []
    household_ids = iter(reserve_ids(Household, len(buildings) * 6))
    seen_ids: set[str] = set()
    resident_count = 0
    for building_id, building_name, parent_name, address in buildings:
        people = rng.randint(*residents_per_building)
        families = max(1, people // 3)
        for family in range(families):
            household_id = next(household_ids)
            floor = rng.randint(1, 6)
            room = f"{floor}0{family + 1}"  # the family index keeps room numbers unique per building
            where = f"{parent_name}{building_name}{room}室"
            household_rows.append((household_id, now, now, building_id, subdistrict.pk, f"{building_id:05d}-{room}",
                                   where, "", floor, room, None, ""))
            for member in range(max(1, people // families)):
                male = rng.random() < 0.5
                age = rng.randint(30, 80) if member == 0 else rng.randint(1, 90)
                born = date.today() - timedelta(days=age * 365 + rng.randint(0, 364))
                number = _id_number(rng, county, born, male)
                if number in seen_ids:
                    continue
                seen_ids.add(number)
                phone = sealed.seal("phone", f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}" if age >= 16 else "",
                                    keyring=ring)
                id_number = sealed.seal("id_number", number, keyring=ring)
                resident_rows.append([
                    None, now, now, building_id, subdistrict.pk, household_id,
                    RELATIONS[0] if member == 0 else rng.choice(RELATIONS[1:]), names.person(),
                    id_number.ciphertext, id_number.blind_index, id_number.mask, id_number.gender, id_number.birth_date,
                    phone.ciphertext, phone.blind_index, phone.mask, f"浙江省象山县{address or where}", where,
                    rng.random() < 0.08, "", True,
                ])
                roll = rng.random()
                if age >= 70 and roll < 0.12:
                    tag_rows.append((len(resident_rows) - 1, groups.get("alone_elderly")))
                elif roll < 0.02:
                    tag_rows.append((len(resident_rows) - 1, groups.get("dibao")))
                elif roll < 0.035:
                    tag_rows.append((len(resident_rows) - 1, groups.get("veteran")))
                elif roll < 0.05:
                    tag_rows.append((len(resident_rows) - 1, groups.get("disabled")))
                resident_count += 1
    insert_rows(Household, ("id", "created_at", "updated_at", "node", "subdistrict", "number", "address", "unit",
                            "floor", "room", "head", "notes"), household_rows)
    ids = reserve_ids(Resident, len(resident_rows))
    for row, pk in zip(resident_rows, ids, strict=True):
        row[0] = pk
        # Bound to their row now that its pk is known (jiedao.core.sealed).
        row[8] = sealed.rebind(row[8], Resident, "id_number", pk, keyring=ring)
        row[13] = sealed.rebind(row[13], Resident, "phone", pk, keyring=ring)
    insert_rows(Resident, ("id", "created_at", "updated_at", "node", "subdistrict", "household", "relation", "name",
                           "id_number_enc", "id_number_bidx", "id_number_masked", "gender", "birth_date",
                           "phone_enc", "phone_bidx", "phone_masked", "registered_address", "actual_address",
                           "is_floating", "notes", "is_active"), resident_rows)
    ResidentTag.objects.bulk_create(
        [ResidentTag(resident_id=ids[index], group_id=group, start_date=date(2024, 1, 1)) for index, group in tag_rows
         if group], ignore_conflicts=True)
    grids = list(OrgNode.objects.filter(subdistrict=subdistrict, kind=NodeKind.GRID).values_list("id", "name"))
    business_rows, codes = [], set()
    for _ in range(businesses):
        code = _uscc(rng, county)
        if code in codes:
            continue
        codes.add(code)
        grid_id, grid_name = rng.choice(grids)
        industry = rng.choice(INDUSTRIES)
        phone = sealed.seal("phone", f"0574-65{rng.randint(0, 999999):06d}", keyring=ring)
        business_rows.append(Business(
            node_id=grid_id, subdistrict_id=subdistrict.pk, name=f"象山{names.road()[:2]}{industry}{rng.choice(('有限公司', '店', '厂', '合作社'))}",
            uscc=code, kind=rng.choice(KINDS), legal_rep=names.person(), address=f"{grid_name}{names.road()}{rng.randint(1, 300)}号",
            industry=industry, size=rng.choice(("small", "micro", "micro", "individual", "medium")),
            risk_colour=rng.choices(("green", "yellow", "red"), weights=(85, 13, 2))[0],
            **phone.fields("phone"),
        ))
    Business.objects.bulk_create(business_rows, batch_size=500)
    sealed.bind_rows(Business, [b.pk for b in business_rows])  # bulk_create sends no signals
    counts = {"households": len(household_rows), "residents": resident_count, "tags": len(tag_rows),
              "businesses": len(business_rows)}
    audit.record(actor="jiedao seed", action="people.demo.seed", obj=subdistrict, after=counts, reason="生成演示数据")
    return counts


def demo_step(subdistrict: OrgNode, *, seed: int) -> str:
    """people's part of `jiedao seed` (registered in PeopleConfig.ready(), see core.seeding)."""
    registers = seed_registers(subdistrict, seed=seed)
    return (f"登记簿 / registers: {registers['households']} 户、{registers['residents']} 名居民、"
            f"{registers['businesses']} 家主体")
