"""The workflow documentation, generated from the transition table itself (docs/workflow.md is
checked against it by a test, so the two cannot drift apart)."""

from __future__ import annotations


def workflow_markdown() -> str:
    from jiedao.cases.models import State
    from jiedao.cases.workflow import TRANSITIONS, Action, Actor

    lines = [
        "# 事项流转表 / Case workflow",
        "",
        "Generated from `jiedao/cases/workflow.py` (`python -m jiedao.cases.docs > docs/workflow.md`).",
        "Every state change goes through `jiedao.cases.services.case_act`, which applies this table with",
        "a compare-and-set on the case's state and version; forbidden combinations are refused with a",
        "Chinese message and change nothing.",
        "",
        "| 动作 action | 从 from | 到 to | 谁可以 who | 需说明 reason | 说明 |",
        "|---|---|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        sources = "、".join(str(State(s).label) for s in State.values if s in t.sources)
        target = str(State(t.target).label) if t.target else "（不变）"
        actors = "、".join(str(Actor(a).label) for a in Actor.values if a in t.actors)
        lines.append(
            f"| {Action(t.action).label} `{t.action}` | {sources} | {target} | {actors} | "
            f"{'是' if t.needs_reason else ''} | {t.note} |"
        )
    lines += [
        "",
        "回访评价选“不满意”时事项回到“办理中”并计入重办；核查不通过计入返工；退回计入回退。",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    django.setup()
    print(workflow_markdown(), end="")
