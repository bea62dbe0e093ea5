"""The monitored-household entry/exit table as documentation, generated from the table itself
(docs/welfare-monitoring-workflow.md is checked against it by a test, so the two cannot drift)."""

from __future__ import annotations


def workflow_markdown() -> str:
    from jiedao.core.workflow import markdown_page
    from jiedao.welfare.monitoring.workflow import TABLE

    return markdown_page(
        TABLE,
        title="监测户认定和退出流转表 / Monitored household workflow",
        intro=[
            "Generated from `jiedao/welfare/monitoring/workflow.py` "
            "(`python -m jiedao.welfare.monitoring.docs > docs/welfare-monitoring-workflow.md`).",
            "Every state change of a monitored household goes through `jiedao.welfare.monitoring.services."
            "monitored_act`, which applies this table on the core workflow machine: a compare-and-set on the row's",
            "state and version, one MonitoringTransition row and one audit event per step.",
        ],
        outro=[
            "- 走访干部（网格员、网格长）是对所在网格的监测户而言；社区（村）书记和工作人员对本社区（村）的户；"
            "街道领导、系统管理员对本街道的户。管辖范围以外的户一律 404。",
            "- 登记线索（`monitored_create`）不在表中：它新建一条“线索待核实”的记录（流转记录第 0 条），"
            "自线索日期起 15 天内应完成认定，超过的在页面上标出。",
            "- 公示不少于 5 天，公示期满（结束日之后）才能认定；公示名单不显示身份证号、电话、银行账号和健康状况。",
            "- 风险消除核实须人均纯收入高于当年监测标准（`MonitoringLine`），并逐项确认义务教育、基本医疗、住房安全、"
            "饮水安全有保障；“不予消除”清除这些核实结果，回到监测中。",
            "- 监测类型、风险类型、帮扶干部、人均纯收入、家庭人口的变化不改变状态，由 `monitored_adjust` 和走访"
            "（`visit_record`）记入动态调整记录（MonitoringChange）。统计口径见 docs/figures.md“防止返贫动态监测”一节。",
        ],
    )


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
