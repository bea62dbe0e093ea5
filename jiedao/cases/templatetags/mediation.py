"""{% joint_panel case as joint %}: what the case page's 联席会议 panel shows
(cases/mediation/_case_panel.html), read by jiedao.cases.mediation.selectors, so the case detail
view needs no change."""

from django import template

from jiedao.cases.mediation import selectors
from jiedao.cases.models import JointMeeting, Level, State

register = template.Library()


@register.simple_tag(takes_context=True)
def joint_panel(context, case):
    request = context.get("request")
    user = getattr(request, "user", None)
    items = selectors.case_joint_items(case)
    visible = set()
    if user is not None and items:
        visible = set(selectors.meetings_visible(user).filter(pk__in=[i.meeting_id for i in items])
                      .values_list("pk", flat=True))
    for item in items:
        item.meeting_visible = item.meeting_id in visible
    waiting = case.level == Level.JOINT_MEETING and case.state == State.ACCEPTED
    return {
        "items": items,
        "waiting": waiting,
        "on_agenda": any(i.decided_at is None and i.meeting.status == JointMeeting.Status.DRAFT for i in items),
        "meetings_visible": visible,
    }
