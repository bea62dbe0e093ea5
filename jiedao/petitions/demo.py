"""Demo 信访 data for the demo sub-district: a believable year.

About 300 petitions over the past year from every community, by visit, letter, online and
hotline; most accepted within 15 days and replied within 60, a few late, some asking for 复查
and fewer for 复核, a handful still open and overdue. A dozen grievances come back again and
again (the same petitioner, the same words retold): those are confirmed repeated matters in the
销号 campaign at every stage — waiting for the 体检会诊, being resolved with a plan and progress,
struck off with a leader's approval. Four of their petitioners are 重点信访人员 with contact logs.
Deterministic per seed; written directly (it is history, not new work), without audit events.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiedao.core.permissions import Role
from jiedao.core.validators import id_number_check_char
from jiedao.org.models import NodeKind, OrgNode, RoleAssignment
from jiedao.people.models import Resident
from jiedao.petitions import services
from jiedao.petitions.models import (
    CandidateStatus,
    KeyContact,
    KeyPersonPlan,
    MatterNote,
    MatterStage,
    Petition,
    Petitioner,
    PetitionState,
    PetitionTransition,
    PlanMeasure,
    RepeatBasis,
    RepeatCandidate,
    RepeatedMatter,
    Stability,
)

S = PetitionState
TOPICS = [
    ("construction", "小区地下车库雨季渗水", "小区地下车库每逢下雨就渗水积水，车辆被泡，物业多次维修未解决，要求开发商彻底修复防水层。",
     "地下车库又渗水了，物业修了几次还是积水，车都泡了，请督促开发商把防水层彻底修好。"),
    ("labour", "建筑工地拖欠农民工工资", "在辖区某建筑工地务工半年，包工头拖欠工资三万余元，多次讨要未果，请求帮助追讨工资。",
     "工地包工头一直拖欠我们的工资，三万多元讨要多次没有结果，请求政府帮助追讨欠薪。"),
    ("construction", "老旧小区加装电梯意见不一", "单元加装电梯，低层住户反对影响采光，高层住户强烈要求，协调多次未达成一致。",
     "加装电梯的事低层不同意高层着急，协调好几次了还是谈不拢，请街道出面协调加装电梯。"),
    ("environment", "餐饮油烟噪声扰民", "楼下餐馆油烟直排、夜间排风机噪声很大，影响休息，要求整改。",
     "楼下餐馆油烟还是直排，晚上排风机噪声吵得睡不着，要求餐馆整改油烟和噪声。"),
    ("land", "征地补偿款分配争议", "村集体征地补偿款分配方案未将外嫁女纳入，认为不公平，要求重新分配。",
     "征地补偿款分配又没有算外嫁女，我们认为分配方案不公平，要求重新分配补偿款。"),
    ("construction", "物业服务费上涨", "物业公司未经业主大会同意上调物业费，服务质量差，要求撤销涨价。",
     "物业公司擅自上调物业服务费，没有经过业主大会，服务还差，要求撤销物业费涨价。"),
    ("security", "邻里宅基地界址纠纷", "与邻居因宅基地界址发生纠纷，邻居建房占用我家通道，要求确权并拆除。",
     "邻居建房占了我家的通道，宅基地界址纠纷一直没解决，要求确权并拆除占道部分。"),
    ("labour", "社保缴费年限认定", "原单位改制时社保断缴，缴费年限认定不足十五年，无法办理退休，要求补缴认定。",
     "原单位改制社保断缴，缴费年限认定不够十五年办不了退休，要求补缴并认定缴费年限。"),
    ("health", "诊所医疗纠纷赔偿", "在社区诊所输液后出现不良反应住院，诊所拒绝赔偿，要求调解处理。",
     "社区诊所输液后不良反应住院，诊所一直拒绝赔偿医疗费，要求调解处理赔偿。"),
    ("rural", "土地承包经营权流转租金", "承包地流转给合作社后租金连续两年未付，要求支付租金或收回土地。",
     "流转给合作社的承包地租金两年没付了，要求合作社支付土地流转租金或者收回承包地。"),
    ("construction", "小区违章搭建", "邻居在楼顶违章搭建阳光房，影响楼体安全和邻里，要求拆除违建。",
     "楼顶阳光房违章搭建还没拆，影响楼体安全，要求城管依法拆除违章建筑。"),
    ("discipline", "村务公开不及时", "村集体资产租赁收入和开支未按规定公开，怀疑村干部优亲厚友，要求公开账目。",
     "村集体资产租赁收入开支还是不公开，怀疑村干部优亲厚友，要求公开村务账目。"),
]
ONE_OFF = [
    ("environment", "道路积水", "路口下水道堵塞，下雨积水严重，行人无法通行。"),
    ("education", "入学学位", "孩子随迁入学学位申请未通过，希望协调就近入学。"),
    ("construction", "路灯损坏", "小区门口路灯损坏多日无人维修，夜间出行不便。"),
    ("health", "医保报销", "异地就医医保报销材料被退回，不清楚还需要哪些材料。"),
    ("labour", "劳动合同纠纷", "公司未签劳动合同即辞退，要求支付双倍工资。"),
    ("other", "低保申请", "家庭困难申请低保被告知不符合条件，要求说明理由。"),
    ("environment", "垃圾清运不及时", "小区垃圾站满溢，清运不及时，气味难闻。"),
    ("security", "噪音扰民", "楼上住户夜间装修噪音扰民，多次沟通无效。"),
    ("construction", "供暖温度不达标", "冬季室温长期低于十六度，供热公司未处理。"),
    ("rural", "农田灌溉水渠", "农田灌溉水渠年久失修漏水，影响春耕灌溉。"),
]
CONTACT_NOTES = ["了解近况，做好解释疏导", "情绪平稳，表示等待处理结果", "反映处理进度慢，已解释并转告责任单位",
                 "家中走访，家属表示会做好劝导", "电话联系，近期无进京赴省上访意向"]
CHANNELS = ["visit"] * 35 + ["letter"] * 12 + ["online"] * 33 + ["hotline"] * 20
REPLIES = ["已责成物业与开发商制定维修方案，限期完成", "经核查，已协调相关单位依法处理，并书面答复信访人",
           "经调解双方达成一致意见", "依据相关政策作出解释说明，信访人表示理解", "已督促责任单位整改到位"]


def _code(prefix: str, day: date, rng: random.Random) -> str:
    return f"{prefix}{day:%Y%m%d}{''.join(rng.choice('23456789ABCDEFGHJKMNPQRSTUVWXYZ') for _ in range(5))}"


def _when(day: date, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(rng.randint(8, 17), rng.randint(0, 59))))


def _users(subdistrict: OrgNode) -> dict[str, Any]:
    def first(role: str) -> Any:
        ra = RoleAssignment.objects.filter(role=role, node__path__startswith=subdistrict.path).select_related(
            "user").order_by("pk").first()
        return ra.user if ra else None

    return {"leader": first(Role.LEADER), "secretary": first(Role.COMMUNITY_SECRETARY),
            "staff": first(Role.COMMUNITY_STAFF)}


def _by_community(subdistrict: OrgNode, role: str) -> dict[int, Any]:
    """The first user holding `role` at each community or village (by the node of the assignment)."""
    out: dict[int, Any] = {}
    rows = RoleAssignment.objects.filter(role=role, node__path__startswith=subdistrict.path,
                                         node__kind__in=[NodeKind.COMMUNITY, NodeKind.VILLAGE]).select_related("user")
    for ra in rows.order_by("pk"):
        out.setdefault(ra.node_id, ra.user)
    return out


UPPER_ACTIONS = frozenset({"extend", "decide_review", "decide_recheck"})  # the leader's steps in the table


def _history(petition: Petition, steps: list[tuple[str, str, str, date, str]], local: Any, leader: Any,
             rng: random.Random, rows: list[PetitionTransition]) -> None:
    """History rows as the table allows them: the community's secretary for its own steps, the
    sub-district leader for an extension and the 复查 / 复核 decisions."""
    for seq, (action, source, target, day, reason) in enumerate(steps, start=1):
        actor = leader if action in UPPER_ACTIONS or local is None else local
        rows.append(PetitionTransition(petition=petition, seq=seq, action=action, from_state=source, to_state=target,
                                       actor=actor, actor_repr=actor.get_username() if actor else "", reason=reason,
                                       data={"days": petition.extended_days} if action == "extend" else {},
                                       created_at=_when(day, rng)))
    petition.version = len(steps)


def _progress(p: Petition, today: date, rng: random.Random, late: bool) -> list[tuple[str, str, str, date, str]]:
    """Move a petition along the table as far as its age allows; return its steps."""
    steps: list[tuple[str, str, str, date, str]] = []
    age = (today - p.received_on).days
    decide = rng.randint(16, 22) if late and rng.random() < 0.5 else rng.randint(1, 12)
    if age < decide or (16 <= age <= 40 and rng.random() < 0.08):  # a few not decided in time, still waiting
        return steps
    p.decided_on = p.received_on + timedelta(days=decide)
    if rng.random() < 0.06:
        p.state, p.closed_on = S.REJECTED, p.decided_on
        steps.append(("reject", S.REGISTERED, S.REJECTED, p.decided_on, "属于诉讼程序处理的事项，已告知信访人依法向人民法院起诉"))
        return steps
    p.conclude_due = p.decided_on + timedelta(days=60)
    p.state, p.unit_node = S.HANDLING, p.community
    steps.append(("accept", S.REGISTERED, S.HANDLING, p.decided_on, ""))
    if rng.random() < 0.08:
        p.extended_days, p.extension_reason = 30, "涉及多个部门，情况复杂，需进一步调查核实"
        p.conclude_due += timedelta(days=30)
        steps.append(("extend", S.HANDLING, S.HANDLING, p.decided_on + timedelta(days=40), p.extension_reason))
    work = rng.randint(70, 85) if late and rng.random() < 0.5 else rng.randint(15, 55)
    reply_on = p.decided_on + timedelta(days=work)
    if reply_on > today or (p.conclude_due < today <= p.conclude_due + timedelta(days=40) and rng.random() < 0.25):
        return steps  # still being handled (a few past their limit)
    p.replied_on, p.reply, p.state = reply_on, rng.choice(REPLIES), S.REPLIED
    p.review_until = reply_on + timedelta(days=30)
    steps.append(("reply", S.HANDLING, S.REPLIED, reply_on, p.reply))
    if rng.random() < 0.12 and reply_on + timedelta(days=10) <= today:
        p.review_requested_on = reply_on + timedelta(days=rng.randint(3, 25))
        p.review_due = p.review_requested_on + timedelta(days=30)
        p.state = S.REVIEWING
        steps.append(("request_review", S.REPLIED, S.REVIEWING, p.review_requested_on, ""))
        reviewed = p.review_requested_on + timedelta(days=rng.randint(10, 28))
        if reviewed > today:
            return steps
        p.reviewed_on, p.recheck_until, p.state = reviewed, reviewed + timedelta(days=30), S.REVIEWED
        steps.append(("decide_review", S.REVIEWING, S.REVIEWED, reviewed, "复查维持原处理意见"))
        asked = reviewed + timedelta(days=rng.randint(3, 25))
        if rng.random() < 0.3 and asked <= today:  # a 复核 asked (never a request dated in the future)
            p.recheck_requested_on, p.recheck_due = asked, asked + timedelta(days=30)
            p.state = S.RECHECKING
            steps.append(("request_recheck", S.REVIEWED, S.RECHECKING, p.recheck_requested_on, ""))
            rechecked = p.recheck_requested_on + timedelta(days=rng.randint(10, 28))
            if rechecked > today:
                return steps
            p.rechecked_on = p.closed_on = rechecked
            p.state = S.CLOSED
            steps.append(("decide_recheck", S.RECHECKING, S.CLOSED, rechecked, "复核维持复查意见，信访事项终结"))
            return steps
        close = reviewed + timedelta(days=31)
    else:
        close = reply_on + timedelta(days=31)
    if close <= today:
        source = p.state
        p.closed_on, p.state = close, S.CLOSED
        steps.append(("conclude", source, S.CLOSED, close, "期满未申请复查（复核），终结"))
    return steps


@transaction.atomic
def seed_petitions(subdistrict: OrgNode, *, seed: int) -> dict[str, int]:
    rng = random.Random(f"petitions-{seed}")
    today = timezone.localdate()
    users = _users(subdistrict)
    secretaries = _by_community(subdistrict, Role.COMMUNITY_SECRETARY)
    staffs = _by_community(subdistrict, Role.COMMUNITY_STAFF)

    def local(community: Any) -> Any:
        """Who works the community's petitions: its staff member, else its secretary, else the leader."""
        cid = getattr(community, "pk", community)
        return staffs.get(cid) or secretaries.get(cid) or users["leader"]
    communities = list(OrgNode.objects.filter(subdistrict=subdistrict, kind__in=[NodeKind.COMMUNITY, NodeKind.VILLAGE])
                       .order_by("path"))
    if not communities:
        return {"petitions": 0, "matters": 0}
    grids = {c.pk: list(OrgNode.objects.filter(parent=c, kind=NodeKind.GRID).order_by("path")) or [c]
             for c in communities}
    residents = {c.pk: list(Resident.objects.filter(node__path__startswith=c.path).order_by("pk")[:200])
                 for c in communities}
    petitioners: dict[int, Petitioner] = {}

    def petitioner_of(community: OrgNode) -> Petitioner:
        pool = residents[community.pk]
        if pool and rng.random() < 0.75:
            r = rng.choice(pool)
            if r.pk not in petitioners:
                petitioners[r.pk] = Petitioner.objects.create(
                    node=r.node, subdistrict=subdistrict, resident=r, name=r.name,
                    id_number_masked=r.id_number_masked, phone_masked=r.phone_masked)
            return petitioners[r.pk]
        person = Petitioner(node=community, subdistrict=subdistrict,
                            name=rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(["建国", "秀英", "志强", "桂兰", "海峰", "丽华"]))
        first17 = f"330225{rng.randint(1950, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
        services._seal_identifiers(person, first17 + id_number_check_char(first17), f"13{rng.randint(100000000, 999999999)}")
        person.save()
        return person

    created: list[tuple[Petition, list[Petitioner]]] = []
    # the repeated matters: one petitioner, the same grievance 2–5 times over the year
    matters: list[tuple[int, list[Petition]]] = []
    for i, (category, title, text_a, text_b) in enumerate(TOPICS):
        community = communities[i % min(len(communities), 4)]  # the matters gather in a few communities
        person = petitioner_of(community)
        node = rng.choice(grids[community.pk])
        times = rng.randint(2, 5)
        days = sorted(rng.sample(range(20, 360), times), reverse=True)
        group = []
        for k, ago in enumerate(days):
            p = Petition(code=_code("XF", today - timedelta(days=ago), rng), node=node, subdistrict=subdistrict,
                         community=community, channel=rng.choice(CHANNELS), received_on=today - timedelta(days=ago),
                         category=category, title=title, content=text_a if k % 2 == 0 else text_b,
                         is_group=(i == 2 and k == 0), people_count=12 if (i == 2 and k == 0) else 1,
                         created_by=local(community))
            p.accept_due = p.received_on + timedelta(days=15)
            created.append((p, [person]))
            group.append(p)
        matters.append((i, group))
    total = rng.randint(280, 320)
    while len(created) < total:
        community = rng.choice(communities[:6] if rng.random() < 0.5 else communities)
        category, title, text = rng.choice(ONE_OFF)
        day = today - timedelta(days=rng.randint(0, 364))
        group_visit = rng.random() < 0.04
        p = Petition(code=_code("XF", day, rng), node=rng.choice(grids[community.pk]), subdistrict=subdistrict,
                     community=community, channel="visit" if group_visit else rng.choice(CHANNELS), received_on=day,
                     category=category, title=title, content=text, is_group=group_visit,
                     people_count=rng.randint(5, 30) if group_visit else 1, created_by=local(community))
        p.accept_due = day + timedelta(days=15)
        created.append((p, [petitioner_of(community)]))
    history: list[PetitionTransition] = []
    for p, _people in created:
        steps = _progress(p, today, rng, late=rng.random() < 0.1)
        p.save()
        _history(p, steps, secretaries.get(p.community_id) or users["leader"], users["leader"], rng, history)
    PetitionTransition.objects.bulk_create(history)
    Petition.objects.bulk_update([p for p, _ in created], ["version"])
    for p, people in created:
        p.petitioners.set(people)
    # the 销号 campaign: 4 waiting for their diagnosis, 5 being resolved, 3 struck off
    stages = [MatterStage.DIAGNOSING] * 4 + [MatterStage.PLANNED] * 5 + [MatterStage.STRUCK_OFF] * 3
    candidates = []
    for (i, group), stage in zip(matters, stages, strict=False):
        first = min(group, key=lambda p: (p.received_on, p.pk))
        matter = RepeatedMatter.objects.create(code=_code("CF", first.received_on, rng), node=first.node,
                                               subdistrict=subdistrict, community=first.community, title=first.title,
                                               stage=stage)
        for p in group:
            Petition.objects.filter(pk=p.pk).update(matter=matter, is_repeat=p.pk != first.pk)
            if p.pk != first.pk:
                candidates.append(RepeatCandidate(petition=p, earlier=first, basis=RepeatBasis.PERSON, score=1.0,
                                                  status=CandidateStatus.CONFIRMED, decided_by=local(p.community),
                                                  decided_at=_when(p.received_on + timedelta(days=1), rng)))
        if stage == MatterStage.DIAGNOSING:
            continue
        diagnosed = first.received_on + timedelta(days=rng.randint(20, 40))
        RepeatedMatter.objects.filter(pk=matter.pk).update(
            causes="历史遗留问题，责任主体多次变更，前期处理意见未落实到位", responsible_unit=first.community.name,
            basis="《信访工作条例》第三十二条；相关行业管理规定", wants=TOPICS[i][3][:60],
            diagnosed_on=min(diagnosed, today), diagnosed_by=users["leader"])
        for k, text in enumerate(["召开协调会，明确责任单位和时间表", "落实整改或补偿措施", "回访信访人，做好解释疏导"]):
            due = min(diagnosed + timedelta(days=30 * (k + 1)), today + timedelta(days=60))
            done = stage == MatterStage.STRUCK_OFF or (k == 0 and due <= today)
            PlanMeasure.objects.create(matter=matter, text=text, owner=(secretaries.get(first.community_id) or users["leader"]).get_full_name()
                                       or "社区书记", due_on=due, done_on=min(due, today) if done else None)
        MatterNote.objects.create(matter=matter, noted_on=min(diagnosed + timedelta(days=10), today),
                                  text="已与信访人当面沟通，说明处理进度", author=local(first.community))
        if stage == MatterStage.STRUCK_OFF:
            RepeatedMatter.objects.filter(pk=matter.pk).update(
                evidence="问题已解决，信访人签字确认息诉罢访，附整改照片和回访记录",
                struck_off_on=min(diagnosed + timedelta(days=100), today), approved_by=users["leader"])
    RepeatCandidate.objects.bulk_create(candidates, ignore_conflicts=True)
    # the last month's petitions went through the real repeat detection: their likely repeats wait for staff
    for p, _people in created:
        if p.received_on >= today - timedelta(days=30) and not p.matter_id:
            services.detect_repeats(p)
    # 重点信访人员: the petitioners of four matters still being resolved or waiting
    for i, (_k, group) in enumerate(matters[:4]):
        person = created[[p for p, _ in created].index(group[0])][1][0]
        started = today - timedelta(days=rng.randint(60, 200))
        interval = (15, 30, 30, 7)[i]
        stability = (Stability.WATCH, Stability.STABLE, Stability.UNSTABLE, Stability.WATCH)[i]
        plan = KeyPersonPlan.objects.create(
            petitioner=person, responsible=local(group[0].community), interval_days=interval,
            stability=stability, reason="同一事项反复信访，情绪较大", started_on=started, next_due=started)
        day, last = started, None
        while True:
            day += timedelta(days=interval + rng.randint(-2, 3))  # contacts about on time, now and then late
            if day > today - timedelta(days=rng.randint(0, 4)):
                break
            KeyContact.objects.create(plan=plan, contacted_on=day, way=rng.choice(["走访", "电话", "约谈"]),
                                      note=rng.choice(CONTACT_NOTES), stability=stability,
                                      author=local(group[0].community))
            last = day
        KeyPersonPlan.objects.filter(pk=plan.pk).update(last_contact_on=last,
                                                        next_due=(last or started) + timedelta(days=interval))
        Petitioner.objects.filter(pk=person.pk).update(is_key=True)
    return {"petitions": len(created), "matters": len(matters)}


def demo_step(subdistrict: OrgNode, *, seed: int) -> str:
    """petitions' part of `jiedao seed` (registered in PetitionsConfig.ready(), see core.seeding)."""
    counts = seed_petitions(subdistrict, seed=seed)
    return f"信访 / petitions: {counts['petitions']} 件、{counts['matters']} 个重复信访事项"
