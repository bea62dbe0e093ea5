from django.urls import include, path

from jiedao.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("jiedao.core.urls")),
    path("", include("jiedao.org.urls")),
]
