"""The 三色 risk rule: a business's red/yellow/green colour from its hazards and industry.

The rule, with the sub-district's editable thresholds (`RiskRule`, defaults in brackets):

- 红 red: open major hazards (未销号重大隐患) ≥ red_open_major [1], or hazards past their deadline
  and not rectified yet (逾期未整改: 待整改/整改中) ≥ red_open_overdue [2];
- 黄 yellow: open hazards ≥ yellow_open [1], or hazards found in the last recent_days [365] days
  (cancelled ones left out) ≥ yellow_recent [3], or the business's industry is in
  high_risk_industries;
- 绿 green: otherwise.

A threshold of 0 switches its clause off. The first clause that holds is the reason recorded with
the change (RiskChange). `evaluate` is pure; jiedao.safety.services.risk_recompute reads the
counts and writes the colour, the change row and the audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from jiedao.people.models import RiskColour


@dataclass(frozen=True)
class Counts:
    """What the rule reads about one business."""

    open_major: int = 0
    open_overdue: int = 0
    open_total: int = 0
    recent: int = 0
    industry: str = ""


def evaluate(rule: Any, counts: Counts) -> tuple[str, str]:
    """(colour, reason) for one business under `rule` (a RiskRule or anything with its fields)."""
    if rule.red_open_major and counts.open_major >= rule.red_open_major:
        return RiskColour.RED, _("未销号重大隐患 %(n)s 个") % {"n": counts.open_major}
    if rule.red_open_overdue and counts.open_overdue >= rule.red_open_overdue:
        return RiskColour.RED, _("逾期未整改隐患 %(n)s 个") % {"n": counts.open_overdue}
    if rule.yellow_open and counts.open_total >= rule.yellow_open:
        return RiskColour.YELLOW, _("未销号隐患 %(n)s 个") % {"n": counts.open_total}
    if rule.yellow_recent and counts.recent >= rule.yellow_recent:
        return RiskColour.YELLOW, _("近 %(days)s 天发现隐患 %(n)s 个") % {"days": rule.recent_days, "n": counts.recent}
    if counts.industry and counts.industry in (rule.high_risk_industries or []):
        return RiskColour.YELLOW, _("高风险行业：%(industry)s") % {"industry": counts.industry}
    return RiskColour.GREEN, _("无未销号隐患，近期隐患少于阈值")
