"""The workflow documentation, generated from the transition table itself (docs/workflow.md is
checked against it by a test, so the two cannot drift apart)."""

from __future__ import annotations


def workflow_markdown() -> str:
    from jiedao.cases.workflow import TABLE
    from jiedao.core.workflow import markdown_page

    return markdown_page(
        TABLE,
        title="事项流转表 / Case workflow",
        intro=[
            "Generated from `jiedao/cases/workflow.py` (`python -m jiedao.cases.docs > docs/workflow.md`).",
            "Every state change goes through `jiedao.cases.services.case_act`, which applies this table with",
            "a compare-and-set on the case's state and version; forbidden combinations are refused with a",
            "Chinese message and change nothing. The column 条件 (guard) is a condition on the case or the",
            "actor beyond its state: an action whose condition fails is refused with the reason, and neither",
            "the case page nor the API (`allowed_actions`) offers it.",
        ],
        outro=[
            "- 三级调处：上报使调处层级上升一级（1 村社 → 2 街道科室 → 3 联席会议）；小事上报到街道科室时改为大事。"
            "第三级的事项在“已受理”等待联席会议确定牵头单位，由街道领导派遣；协调不成的由街道领导移交区级"
            "（第四级，“区级办理中”），登记区级反馈后回到“已办结”（化解层级记为区级）或“已受理”（退回街道）。",
            "- 核查不通过计入返工；回访时居民回答问题未解决或不满意，计入重办：有承办单位的回到“办理中”，没有承办单位的"
            "（受理后直接办结的私事、区级办结的事项）回到“已受理”重新派遣；退回计入回退。统计口径见 docs/figures.md。",
            "- 缓办：街道领导批准新的办理期限（当日下班时间），记录原期限和新期限；缓办的事项不计入按期办结率的分母。",
            "- 每个未结案的事项都有责任单位和能推进它的人（事项页面的“当前责任单位 · 下一步”）；"
            "定时任务 `stuck_check` 每小时检查，发现无人可推进的事项即通知街道领导和系统管理员。",
        ],
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
