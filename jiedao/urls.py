from django.conf import settings
from django.urls import include, path

from jiedao.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("open311/v2/", include("jiedao.cases.open311")),
    path("", include("jiedao.org.site_urls")),
    path("", include("jiedao.org.urls")),
    path("", include("jiedao.cases.urls")),
    path("", include("jiedao.people.urls")),
    path("", include("jiedao.insight.urls")),
]

if settings.JIEDAO_BENCH_ENDPOINTS:
    from jiedao import bench_views

    urlpatterns += [
        path("bench/noop", bench_views.noop),
        path("bench/bare-intake", bench_views.bare_intake),
    ]
