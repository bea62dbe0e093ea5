"""The grant workflow documentation, generated from the transition table itself
(docs/benefits-workflow.md is checked against it by a test, so the two cannot drift apart)."""

from __future__ import annotations


def workflow_markdown() -> str:
    from jiedao.core.workflow import markdown_page
    from jiedao.welfare.benefits.workflow import TABLE

    return markdown_page(
        TABLE,
        title="救助补贴资格变动表 / Benefit grant workflow",
        intro=[
            "Generated from `jiedao/welfare/benefits/workflow.py`"
            " (`python -m jiedao.welfare.benefits.docs > docs/benefits-workflow.md`).",
            "Every state change of a grant goes through `jiedao.welfare.benefits.services.grant_act`, which applies",
            "this table on the core workflow machine: a compare-and-set on the grant's state and version, one",
            "GrantTransition row and one audit event per step.",
        ],
        outro=[
            "- 民政经办是对所在社区（村）的资格而言：社区（村）书记和工作人员对本社区（村），街道领导、系统管理员对本街道。"
            "网格员、网格长可以查看本网格的资格和发放（证件号为掩码），不能办理（403）；管辖范围以外的资格一律 404。",
            "- 暂停中的资格不能登记发放；保障期以外的月份不能登记发放（页面、接口和民政发放表导入同一规则）。",
            "- 统计口径（人次、人均补差、户数等）见 docs/figures.md 的“救助补贴”一节。",
        ],
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
