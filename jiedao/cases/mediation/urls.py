"""The 联席会议 pages, included in jiedao.cases.urls (names in the "cases" namespace)."""

from django.urls import path

from jiedao.cases.mediation import views

urlpatterns = [
    path("joint-meetings/", views.meeting_list, name="joint_list"),
    path("joint-meetings/new/", views.meeting_new, name="joint_new"),
    path("joint-meetings/<int:pk>/", views.meeting_detail, name="joint_detail"),
    path("joint-meetings/<int:pk>/edit/", views.meeting_edit, name="joint_edit"),
    path("joint-meetings/<int:pk>/agenda/", views.meeting_agenda, name="joint_agenda"),
    path("joint-meetings/<int:pk>/items/", views.meeting_item_add, name="joint_item_add"),
    path("joint-meetings/<int:pk>/items/<int:item_pk>/remove/", views.meeting_item_remove, name="joint_item_remove"),
    path("joint-meetings/<int:pk>/items/<int:item_pk>/decide/", views.meeting_decide, name="joint_decide"),
    path("joint-meetings/<int:pk>/hold/", views.meeting_hold, name="joint_hold"),
]
