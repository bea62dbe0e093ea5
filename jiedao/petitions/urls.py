"""信访 pages."""
from django.urls import path

from jiedao.petitions import views

app_name = "petitions"

urlpatterns = [
    path("petitions/", views.index, name="index"),
    path("petitions/list/", views.petition_list, name="list"),
    path("petitions/list/export/", views.petition_export, name="export"),
    path("petitions/new/", views.petition_new, name="new"),
    path("petitions/<int:pk>/", views.petition_detail, name="petition"),
    path("petitions/<int:pk>/act/", views.petition_act, name="act"),
    path("petitions/<int:pk>/to-case/", views.petition_to_case, name="to_case"),
    path("petitions/<int:pk>/propose-joint/", views.petition_propose_joint, name="propose_joint"),
    path("petitions/candidates/<int:pk>/", views.candidate_decide, name="candidate"),
    path("petitions/petitioners/", views.petitioner_list, name="petitioners"),
    path("petitions/petitioners/<int:pk>/", views.petitioner_detail, name="petitioner"),
    path("petitions/petitioners/<int:pk>/reveal/", views.petitioner_reveal, name="petitioner_reveal"),
    path("petitions/petitioners/<int:pk>/key/", views.key_flag, name="key_flag"),
    path("petitions/key/", views.key_persons, name="key_persons"),
    path("petitions/key/<int:pk>/contact/", views.key_contact, name="key_contact"),
    path("petitions/key/<int:pk>/end/", views.key_end, name="key_end"),
    path("petitions/campaign/", views.campaign, name="campaign"),
    path("petitions/matters/<int:pk>/", views.matter_detail, name="matter"),
    path("petitions/matters/<int:pk>/<slug:what>/", views.matter_post, name="matter_post"),
]
