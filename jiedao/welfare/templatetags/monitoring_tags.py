"""The 防止返贫动态监测 summary panel of the welfare overview page: `{% monitoring_panel %}`."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from jiedao.welfare.monitoring import selectors

register = template.Library()


@register.inclusion_tag("welfare/monitoring/_panel.html", takes_context=True)
def monitoring_panel(context: Any) -> dict[str, Any]:
    user = context["request"].user
    today = timezone.localdate()
    start = today.replace(month=1, day=1)
    return {"rows": selectors.panel_figures(user, None, start, today), "start": start, "end": today}
