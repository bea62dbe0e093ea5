"""`{% visits_panel %}`: the visits and veterans' summary on the welfare overview page."""

from django import template
from django.utils import timezone

from jiedao.welfare.visits import selectors

register = template.Library()


@register.inclusion_tag("welfare/visits/_panel.html", takes_context=True)
def visits_panel(context):
    today = timezone.localdate()
    user = context["request"].user
    return {"figures": selectors.panel_figures(user, None, today.replace(month=1, day=1), today)}
