"""The monitoring pages' patterns, appended to jiedao.welfare.urls (app namespace "welfare")."""

from django.urls import path

from jiedao.welfare.monitoring import views

urlpatterns = [
    path("welfare/monitoring/", views.monitored_list, name="monitoring_list"),
    path("welfare/monitoring/export/", views.monitored_export, name="monitoring_export"),
    path("welfare/monitoring/new/", views.monitored_new, name="monitoring_new"),
    path("welfare/monitoring/mine/", views.my_visits, name="monitoring_mine"),
    path("welfare/monitoring/overdue/", views.overdue, name="monitoring_overdue"),
    path("welfare/monitoring/notice/", views.notice, name="monitoring_notice"),
    path("welfare/monitoring/lines/", views.lines, name="monitoring_lines"),
    path("welfare/monitoring/<int:pk>/", views.monitored_detail, name="monitoring_detail"),
    path("welfare/monitoring/<int:pk>/act/", views.monitored_act, name="monitoring_act"),
    path("welfare/monitoring/<int:pk>/adjust/", views.monitored_adjust, name="monitoring_adjust"),
    path("welfare/monitoring/<int:pk>/visit/", views.visit_new, name="monitoring_visit"),
    path("welfare/monitoring/<int:pk>/measures/", views.measure_add, name="monitoring_measure_add"),
    path("welfare/monitoring/measures/<int:pk>/", views.measure_update, name="monitoring_measure_update"),
]
