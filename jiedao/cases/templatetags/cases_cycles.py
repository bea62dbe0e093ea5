"""Template tags of the 红色网格 cycle for pages owned by other parts of cases:
{% case_decisions case as decisions %} (the case page's 月议 decisions, from
jiedao/templates/cases/cycles/_case_decisions.html)."""

from django import template
from django.utils import timezone

from jiedao.cases.cycles import selectors
from jiedao.core import scope
from jiedao.core.permissions import Perm

register = template.Library()


@register.simple_tag(takes_context=True)
def case_decisions(context, case):
    """The 月议 decisions on `case` (already fetched in the viewer's scope): decision, owner,
    deadline, whether it is overdue, and whether the viewer may open the meeting."""
    request = context.get("request")
    user = getattr(request, "user", None)
    today = timezone.localdate()
    rows = list(selectors.case_decisions(case))
    for row in rows:
        row.overdue = bool(row.due_date and row.due_date < today and not row.completed_at)
        row.meeting_visible = user is not None and scope.path_allows(user, Perm.VIEW_CASES, row.meeting.community.path)
    return rows
