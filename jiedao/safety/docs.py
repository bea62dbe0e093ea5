"""The hazard workflow documentation, generated from the transition table itself
(docs/safety-workflow.md is checked against it by a test, so the two cannot drift apart)."""

from __future__ import annotations


def workflow_markdown() -> str:
    from jiedao.core.workflow import markdown_page
    from jiedao.safety.workflow import TABLE

    return markdown_page(
        TABLE,
        title="隐患流转表 / Hazard workflow",
        intro=[
            "Generated from `jiedao/safety/workflow.py` (`python -m jiedao.safety.docs > docs/safety-workflow.md`).",
            "Every state change of a hazard goes through `jiedao.safety.services.hazard_act`, which applies this",
            "table on the core workflow machine: a compare-and-set on the hazard's state and version, one",
            "HazardTransition row and one audit event per step, the business's 三色 colour recomputed.",
        ],
        outro=[
            "- 检查人（网格员、网格长）是对所在网格的隐患而言；社区（村）书记和工作人员对本社区（村）的隐患；"
            "街道领导、系统管理员对本街道的隐患。管辖范围以外的隐患一律 404。",
            "- 移交执法生成一件诉求事件（来源“巡查”、分流为大事、状态“已报告”），由社区按事项流程受理、派遣"
            "联合执法队（1+3+N）；隐患记下事项编号，继续整改、复查、销号。",
            "- 统计口径（整改率、按期整改率等）见 docs/figures.md 的“安全生产”一节。",
        ],
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
