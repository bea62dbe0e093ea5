"""Residents' pages under /public/: no login, throttled per address (see jiedao.cases.views).
Included by jiedao.cases.urls, so their names are cases:public_report and so on."""

from django.urls import path

from jiedao.cases import views

urlpatterns = [
    path("report/", views.public_report, name="public_report"),
    path("report/grids/", views.public_grids, name="public_grids"),
    path("report/done/", views.public_report_done, name="public_report_done"),
    path("track/", views.public_track, name="public_track"),
    path("track/rate/", views.public_rate, name="public_rate"),
]
