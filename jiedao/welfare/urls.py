from django.urls import path

from jiedao.welfare import views

app_name = "welfare"

urlpatterns = [
    path("welfare/", views.index, name="index"),
]
# Each part appends its own patterns below (monitoring, benefits, visits).
from jiedao.welfare.benefits.urls import urlpatterns as benefits_urls  # noqa: E402

urlpatterns += benefits_urls
