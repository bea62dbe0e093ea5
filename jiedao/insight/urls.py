from django.urls import path

from jiedao.insight import views

app_name = "insight"

urlpatterns = [
    path("insight/duplicates/", views.groups, name="groups"),
    path("insight/duplicates/<int:pk>/", views.group_decide, name="decide"),
    path("insight/hotspots/", views.hotspots, name="hotspots"),
    path("insight/classifier/", views.evaluation, name="evaluation"),
    path("insight/classifier/training/", views.training_status, name="training"),
    path("insight/classifier/retrain/", views.retrain, name="retrain"),
    path("insight/classifier/<int:pk>/activate/", views.activate, name="activate"),
    path("public/report/suggest/", views.public_suggest, name="public_suggest"),
]
