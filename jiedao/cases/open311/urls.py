"""Open311 GeoReport v2 routes, mounted at /open311/v2/ (see jiedao.cases.open311.views)."""

from django.urls import re_path

from jiedao.cases.open311.views import (
    request_detail,
    requests_endpoint,
    service_definition,
    service_list,
    token_detail,
    unknown,
)

FMT = r"\.(?P<fmt>json|xml)$"
urlpatterns = [
    re_path(r"^services" + FMT, service_list),
    re_path(r"^services/(?P<code>[^/]+)" + FMT, service_definition),
    re_path(r"^requests" + FMT, requests_endpoint),
    re_path(r"^requests/(?P<request_id>[^/]+)" + FMT, request_detail),
    re_path(r"^tokens/(?P<token>[^/]+)" + FMT, token_detail),
    re_path(r"^(?P<path>.*)$", unknown),
]
