"""The default case catalogue, modelled on digital-urban-management event groups (市容环境, 宣传广告,
施工管理, 街面秩序, 突发事件, 部件) and common 12345 request types, with the time limits seen in
practice (DESIGN.md §6). Installed by a data migration; administrators edit it afterwards."""

from __future__ import annotations

# (group code, group name, [(code, name, tier, limit, unit, keywords)])
DEFAULT_CATALOGUE = [
    ("city_appearance", "市容环境", [
        ("exposed_garbage", "暴露垃圾", "public", 1, "working_days", "垃圾 清运 堆放 臭 垃圾桶 满溢"),
        ("illegal_building", "违法搭建", "public", 15, "working_days", "违建 私搭乱建 搭建 加盖 违章"),
        ("muck", "积存渣土", "public", 4, "working_days", "渣土 建筑垃圾 砂石 泥土"),
        ("dirty_road", "道路不洁", "public", 5, "working_hours", "路面 脏 油污 清扫 保洁"),
        ("dirty_water", "水域不洁", "public", 15, "working_days", "河道 水面 漂浮物 污水 发臭 河"),
    ]),
    ("advertising", "宣传广告", [
        ("illegal_ads", "非法小广告", "public", 2, "working_days", "小广告 张贴 涂写 喷涂 广告牌"),
    ]),
    ("construction", "施工管理", [
        ("construction_noise", "施工噪音", "public", 3, "working_days", "施工 噪音 夜间施工 机器 扰民"),
        ("construction_dust", "施工扬尘", "public", 3, "working_days", "扬尘 工地 灰尘 围挡"),
    ]),
    ("street_order", "街面秩序", [
        ("street_vending", "占道经营", "public", 1, "working_days", "占道 摆摊 流动摊贩 出店经营"),
        ("open_bbq", "露天烧烤", "public", 2, "hours", "烧烤 油烟 露天"),
        ("illegal_parking", "乱停乱放", "public", 1, "working_days", "停车 占用 车位 共享单车 堵塞"),
    ]),
    ("emergency", "突发事件", [
        ("road_collapse", "路面塌陷", "public", 4, "hours", "塌陷 坑洞 路面破损 下沉"),
        ("waterlogging", "道路积水", "public", 4, "hours", "积水 内涝 排水 下水道 堵"),
    ]),
    ("facilities", "公用设施", [
        ("street_lamp", "路灯不亮", "public", 1, "working_days", "路灯 不亮 灯坏 照明"),
        ("manhole_cover", "井盖缺失破损", "public", 1, "working_days", "井盖 缺失 破损 窨井"),
        ("water_supply", "供水问题", "public", 2, "working_days", "停水 水压 自来水 水管 漏水"),
        ("tree_damage", "绿化损坏", "public", 3, "working_days", "树木 倒伏 绿化 草坪 修剪"),
    ]),
    ("community_affairs", "社区事务", [
        ("neighbour_dispute", "邻里纠纷", "community", 5, "working_days", "邻居 纠纷 矛盾 吵架 噪音 楼上"),
        ("property_management", "物业管理", "community", 10, "working_days", "物业 物业费 保安 小区管理"),
        ("pet_nuisance", "宠物扰民", "community", 5, "working_days", "狗 宠物 犬 粪便 狗叫"),
        ("public_space", "楼道堆物", "community", 3, "working_days", "楼道 堆物 杂物 消防通道 占用"),
        ("elevator", "电梯故障", "community", 2, "working_days", "电梯 故障 困人 停运"),
    ]),
    ("livelihood", "民生服务", [
        ("social_security", "社保医保咨询", "private", 5, "working_days", "社保 医保 养老保险 报销 咨询"),
        ("family_matter", "家庭事务求助", "private", 5, "working_days", "家庭 赡养 子女 求助"),
        ("elderly_care", "养老助残", "community", 5, "working_days", "老人 独居 助残 养老 照料"),
        ("assistance", "困难救助", "public", 10, "working_days", "低保 救助 困难 补助 返贫"),
    ]),
    ("safety", "安全隐患", [
        ("fire_hazard", "消防隐患", "public", 1, "working_days", "消防 火灾 电动车 充电 飞线 灭火器"),
        ("gas_hazard", "燃气安全", "public", 4, "hours", "燃气 煤气 漏气 液化气"),
    ]),
]


def install_default_catalogue(Category) -> int:
    """Create the default groups and categories that do not exist yet (by code)."""
    created = 0
    for order, (group_code, group_name, items) in enumerate(DEFAULT_CATALOGUE, start=1):
        group, made = Category.objects.get_or_create(
            code=group_code, defaults={"name": group_name, "sort_order": order * 100}
        )
        created += made
        for index, (code, name, tier, limit, unit, keywords) in enumerate(items, start=1):
            _, made = Category.objects.get_or_create(
                code=code,
                defaults={"parent": group, "name": name, "default_tier": tier, "time_limit": limit,
                          "time_limit_unit": unit, "keywords": keywords, "sort_order": order * 100 + index},
            )
            created += made
    return created
