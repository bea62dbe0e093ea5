"""A labelled case history for the classifier tests: cases filed by grid workers through the
intake service and accepted by the community secretary, whose accepted category is the label."""

from __future__ import annotations

import random

from jiedao.cases import services
from jiedao.cases.models import Case, Category, Source
from jiedao.cases.workflow import Action

# category code → ways residents put it (a place and a detail are added to each)
PHRASES = {
    "exposed_garbage": ["垃圾堆了好几天没人清运", "垃圾桶满了垃圾散落一地很臭", "楼下垃圾没人收，苍蝇很多", "路边有人乱倒生活垃圾"],
    "street_lamp": ["路灯不亮，晚上一片漆黑", "几盏路灯坏了好久没人修", "路灯晚上一闪一闪的", "照明灯坏了走路看不见"],
    "neighbour_dispute": ["邻居半夜吵闹影响休息", "和楼上邻居因为漏水吵起来了", "邻居占了公共过道起了矛盾", "两家人因为停车吵架"],
    "elevator": ["电梯又坏了老人上不了楼", "电梯困人半小时才出来", "电梯运行时异响很吓人", "电梯停运一周没人修"],
    "illegal_parking": ["小区门口乱停车堵住消防通道", "共享单车堆满人行道", "车辆长期占用盲道停放", "门口被私家车堵死进不去"],
    "water_supply": ["家里突然停水也没通知", "自来水水压太小洗不了澡", "水管爆裂漏水严重", "自来水发黄有异味"],
}
PLACES = ["1幢楼下", "小区东门", "菜市场旁边", "3号楼前", "幼儿园门口", "河边步道", "老街口", "2单元"]
DETAILS = ["已经三天了", "希望尽快处理", "好几个居民都反映过", "晚上尤其严重", "老人孩子都不方便", ""]


def messages(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """n (code, title, description) triples, the categories in turn."""
    rng = random.Random(seed)
    codes = sorted(PHRASES)
    out = []
    for i in range(n):
        code = codes[i % len(codes)]
        phrase = rng.choice(PHRASES[code])
        place = rng.choice(PLACES)
        title = f"{place}{phrase}"[:30]
        out.append((code, title, f"{place}{phrase}，{rng.choice(DETAILS)}。"))
    return out


def file_history(world, n: int = 60, *, seed: int = 0, accept: bool = True) -> list[Case]:
    """n cases filed in 东门第一网格 and (by default) accepted by the secretary with their category."""
    categories = {c.code: c for c in Category.objects.filter(code__in=list(PHRASES))}
    cases = []
    for code, title, description in messages(n, seed):
        case = services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, title=title,
                                    description=description, category=categories[code])
        if accept:
            case = services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT,
                                     category=categories[code])
        cases.append(case)
    return cases
