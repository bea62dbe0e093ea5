"""The petition workflow documentation, generated from the transition table itself
(docs/petitions-workflow.md is checked against it by a test, so the two cannot drift apart)."""

from __future__ import annotations


def workflow_markdown() -> str:
    from jiedao.core.workflow import markdown_page
    from jiedao.petitions.workflow import TABLE

    return markdown_page(
        TABLE,
        title="信访流转表 / Petition workflow",
        intro=[
            "Generated from `jiedao/petitions/workflow.py` (`python -m jiedao.petitions.docs > docs/petitions-workflow.md`).",
            "Every state change of a petition goes through `jiedao.petitions.services.petition_act`, which applies this",
            "table on the core workflow machine: a compare-and-set on the petition's state and version, one",
            "PetitionTransition row and one audit event per step.",
            "",
            "登记 → 受理 / 不予受理 → 办理中 → 答复 → （复查 → 复核）→ 终结。",
        ],
        outro=[
            "## 时限 / Time limits（《信访工作条例》2022）",
            "",
            "条例写的是“日”而不是“工作日”，本系统按**自然日**计算（不使用 `jiedao.core.workdays`）：",
            "",
            "| 时限 | 起算 | 期限 | 字段 |",
            "|---|---|---|---|",
            "| 受理告知（第二十二条） | 收到之日 | 收到之日 + 15 日 | `accept_due` |",
            "| 办结（第三十二条） | 受理之日的次日为第 1 日 | 受理之日 + 60 日 | `conclude_due` |",
            "| 延期（第三十二条） | 原办结期限 | 最多 + 30 日，只能一次，街道领导批准，理由告知信访人 | `extended_days`、`extension_reason` |",
            "| 申请复查（第三十五条） | 答复之日 | 答复之日 + 30 日内可申请 | `review_until` |",
            "| 复查意见 | 收到复查请求之日 | + 30 日 | `review_due` |",
            "| 申请复核（第三十六条） | 复查意见之日 | + 30 日内可申请 | `recheck_until` |",
            "| 复核意见 | 收到复核请求之日 | + 30 日 | `recheck_due` |",
            "",
            "逾期标记：已登记且过了受理告知期限（受理逾期）；办理中且过了办结期限（办结逾期）；复查中、复核中且过了",
            "复查、复核期限（复查逾期、复核逾期）。列表可按任一逾期筛选。",
            "",
            "## 谁是谁 / Actors",
            "",
            "- 社区（村）工作人员、书记对本社区（村）的信访件；街道领导、系统管理员对本街道的信访件；网格员、科室办理人员"
            "看不到信访（页面 403，对象 404）。管辖范围以外的信访件一律 404。",
            "- 受理、不予受理、复查意见、复核意见由社区（村）书记、街道领导或管理员作出；延期只由街道领导（或管理员）批准。",
            "",
            "## 转办事项与联席会议 / Cases and the joint meeting",
            "",
            "- 办理中的信访件可“转为事项办理”：通过事项受理的唯一入口 `jiedao.cases.services.case_create` 生成一件"
            "来源为“信访”、分流为大事的事项，**仅内部流转**（`Case.internal`，不出现在 Open311 和居民公开查询中）；"
            "信访件记下事项编号，事项页面的“关联记录”链接回信访件（`jiedao.petitions.case_links`）。",
            "- “提请联席会议”：事项若还待受理则先受理（大事），再按事项流程的“上报”逐级上报到联席会议（第三级），"
            "在联席会议的“待上会事项”中等待街道领导列入议程（`jiedao.cases.mediation`）。",
            "",
            "## 重复信访与销号 / Repeats and the strike-off campaign",
            "",
            "- 登记时自动查找近两年本街道的疑似重复件：同一信访人（同一在册居民，或同一身份证号盲索引的信访人），或"
            "同一社区（村）内文字相近（字符二元组 Dice 系数 ≥ 0.35，见 `jiedao/petitions/similarity.py`）。"
            "工作人员确认或排除；确认的两件归入同一“重复信访事项”，其中最早的一件为首次信访，其余为重复件。",
            "- 重复信访事项：待体检会诊 →（登记成因、责任单位、法律政策依据、信访人诉求）→ 化解中（方案措施、责任人、"
            "时限、进展）→ 措施全部完成、填写化解情况及佐证，经街道领导审批 → 已销号。",
            "- 统计口径见 docs/figures.md 的“信访”一节。",
        ],
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
