from django.urls import include, path

urlpatterns = [
    path("", include("jiedao.org.urls")),
]
