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
            "Chinese message and change nothing.",
        ],
        outro=["回访时居民回答问题未解决或不满意，事项回到“办理中”（没有承办单位的回到“已受理”）并计入重办；"
               "核查不通过计入返工；退回计入回退。统计口径见 docs/figures.md。"],
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
