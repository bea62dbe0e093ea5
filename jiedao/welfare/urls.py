from django.urls import path

from jiedao.welfare import views

app_name = "welfare"

urlpatterns = [
    path("welfare/", views.index, name="index"),
]
# Each part appends its own patterns below (monitoring, benefits, visits).
from jiedao.welfare.monitoring.urls import urlpatterns as monitoring_urls  # noqa: E402

urlpatterns += monitoring_urls
from jiedao.welfare.benefits.urls import urlpatterns as benefits_urls  # noqa: E402

urlpatterns += benefits_urls
from jiedao.welfare.visits.urls import urlpatterns as visits_urls  # noqa: E402

urlpatterns += visits_urls
