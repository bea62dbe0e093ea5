"""The visit and veterans' pages (appended to jiedao.welfare.urls, namespace welfare)."""

from django.urls import path

from jiedao.welfare.visits import views

urlpatterns = [
    path("welfare/visits/", views.due_list, name="visits_due"),
    path("welfare/visits/mine/", views.my_visits, name="visits_mine"),
    path("welfare/visits/records/", views.visit_list, name="visits_list"),
    path("welfare/visits/records/<int:pk>/", views.visit_detail, name="visit"),
    path("welfare/visits/records/<int:pk>/case/", views.visit_case, name="visit_case"),
    path("welfare/visits/residents/<int:pk>/", views.resident_visits, name="visit_resident"),
    path("welfare/veterans/", views.veteran_list, name="veterans"),
    path("welfare/veterans/new/", views.veteran_new, name="veteran_new"),
    path("welfare/veterans/<int:pk>/", views.veteran_detail, name="veteran"),
    path("welfare/veterans/requests/", views.request_list, name="request_list"),
    path("welfare/veterans/requests/<int:pk>/", views.request_detail, name="request"),
    path("welfare/veterans/cards/", views.card_list, name="card_list"),
    path("welfare/veterans/cards/<int:pk>/", views.card_detail, name="card"),
]
