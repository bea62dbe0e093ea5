"""我的导出 (core.export_views): names in the `exports` namespace."""

from django.urls import path

from jiedao.core import export_views as views

app_name = "exports"

urlpatterns = [
    path("exports/", views.export_list, name="list"),
    path("exports/<int:pk>/download/", views.export_download, name="download"),
    path("exports/<int:pk>/delete/", views.export_delete, name="delete"),
]
