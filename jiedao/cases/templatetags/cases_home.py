"""{% case_widgets %}: the case widgets of the home page (additive to core/home.html), so the
home view stays core's and the case queries stay in jiedao.cases.selectors.home_widgets."""

from django import template

from jiedao.cases import selectors
from jiedao.cases.cycles import selectors as cycle_selectors

register = template.Library()


@register.inclusion_tag("cases/_home_widgets.html", takes_context=True)
def case_widgets(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    widgets = selectors.home_widgets(user) if user is not None else []
    decisions = cycle_selectors.decisions_widget(user) if user is not None else None
    if decisions:  # 我的月议事项: the user's own tasks come first
        widgets = [decisions, *widgets]
    return {"widgets": widgets, "request": request, "csrf_token": context.get("csrf_token")}
