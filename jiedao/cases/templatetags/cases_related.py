"""{% related_links case as related %}: the case page's 关联记录 (jiedao.cases.related), so the
case detail view needs no change."""

from django import template

from jiedao.cases import related

register = template.Library()


@register.simple_tag(takes_context=True)
def related_links(context, case):
    request = context.get("request")
    return related.links_for(getattr(request, "user", None), case)
