from django.urls import path

from jiedao.insight import views

app_name = "insight"

urlpatterns = [
    path("insight/duplicates/", views.groups, name="groups"),
    path("insight/duplicates/<int:pk>/", views.group_decide, name="decide"),
    path("insight/hotspots/", views.hotspots, name="hotspots"),
]
