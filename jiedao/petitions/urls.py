from django.urls import path

from jiedao.petitions import views

app_name = "petitions"

urlpatterns = [
    path("petitions/", views.index, name="index"),
]
