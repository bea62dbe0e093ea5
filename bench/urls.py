"""The project's routes, unchanged and in the same order, then the reference endpoints of
bench/intake.py: /bench/noop and /bench/bare-intake (bench.views)."""

from django.urls import path

from bench import views
from jiedao.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("bench/noop", views.noop),
    path("bench/bare-intake", views.bare_intake),
]
