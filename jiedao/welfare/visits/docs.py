"""The request and 优待证 workflow documentation, generated from the transition tables themselves
(docs/veterans-workflow.md is checked against it by a test, so the two cannot drift apart)."""

from __future__ import annotations


def workflow_markdown() -> str:
    from jiedao.core.workflow import markdown_rows
    from jiedao.welfare.visits.workflow import CARD_TABLE, REQUEST_TABLE

    lines = [
        "# 优抚诉求和优待证流转表 / Veterans' request and card workflows", "",
        "Generated from `jiedao/welfare/visits/workflow.py` "
        "(`python -m jiedao.welfare.visits.docs > docs/veterans-workflow.md`).",
        "Every state change goes through `jiedao.welfare.visits.services.request_act` or `card_act`, which apply",
        "these tables on the core workflow machine: a compare-and-set on state and version, one transition row",
        "and one audit event per step.", "",
        "## 求助 / 诉求 (service requests)", "", *markdown_rows(REQUEST_TABLE), "",
        "## 优待证申请 (preferential card applications)", "", *markdown_rows(CARD_TABLE), "",
        "- 网格员（走访登记）指在该优抚对象所在网格有“登记走访”权限的人：网格员、网格长；他们登记诉求和优待证申请，"
        "但不办理。社区（村）书记、工作人员，街道领导和系统管理员（有“民政帮扶管理”权限）办理。管辖范围以外的一律 404。",
        "- 发放后，优抚对象档案的优待证状态改为“已发放”并记下证号；审核不通过后恢复为“未申领”，可重新申请。",
        "- 统计口径见 docs/figures.md 的“走访与优抚”一节。",
    ]
    return "\n".join([*lines, ""])


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
