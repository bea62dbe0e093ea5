"""{% can_reveal_phone case as allowed %}: whether the viewer may see the case reporter's phone in
clear (cases/_reporter_phone.html), so the case page's view needs no knowledge of the phone row."""

from django import template

from jiedao.core import scope
from jiedao.core.permissions import Perm

register = template.Library()


@register.simple_tag(takes_context=True)
def can_reveal_phone(context, case) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user is not None and scope.path_allows(user, Perm.REVEAL_REPORTER, case.org_path)
