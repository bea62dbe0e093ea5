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
            "联合执法队（1+3+N）；隐患记下事项编号，继续整改、复查、销号。该事项**仅内部流转**（`Case.internal`）："
            "其描述写明企业名称和地址，受理后也不出现在 Open311 公开接口和居民公开查询中。",
            "- 三色风险等级只由规则评定（`jiedao.safety.services.risk_recompute` 是 `Business.risk_colour` 唯一的写入方；"
            "主体登记的表单、接口和导入都不能填写等级）：隐患登记、整改、复查、撤销后重新评定该主体；主体登记或"
            "行业、所在网格、在营状态变化后重新评定该主体；修改规则后排入后台作业重新评定全街道（页面显示“正在重新计算”，"
            "等级变化在作业中批量审计）；每天 01:00 的定时作业 `safety_risk_recompute` 重新评定全部在营主体，"
            "让“逾期未整改”“近期隐患”等随时间变化的条件即使没有任何写入也能生效。每次变化写一条风险变更记录（原因）。",
            "- 检查表原地修改：内容不变（或按编号指明）的检查项保留原记录，只更新依据、等级、期限和顺序；新增的行新建检查项；"
            "删去的检查项若已有检查或隐患引用则停用保留，否则删除。每次修改的新增、修改、停用、删除都记入审计。",
            "- 三色规则、新建检查表对在多个街道任职的用户须先选择街道（`?subdistrict=`），从不默认取第一个；"
            "已有检查表按其所属街道修改。",
            "- 统计口径（整改率、按期整改率等）见 docs/figures.md 的“安全生产”一节。",
        ],
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
