from django.urls import include, path

from jiedao.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("open311/v2/", include("jiedao.cases.open311.urls")),
    path("", include("jiedao.org.site_urls")),
    path("", include("jiedao.core.urls")),
    path("", include("jiedao.org.urls")),
    path("", include("jiedao.cases.urls")),
    path("", include("jiedao.people.urls")),
    path("", include("jiedao.insight.urls")),
    path("", include("jiedao.safety.urls")),
    path("", include("jiedao.welfare.urls")),
    path("", include("jiedao.petitions.urls")),
]

handler500 = "jiedao.core.views.server_error"
