from django.urls import path

from jiedao.people import views

app_name = "people"

urlpatterns = [
    path("people/picker/<slug:purpose>/", views.node_picker, name="node_picker"),
    path("residents/", views.resident_list, name="residents"),
    path("residents/new/", views.resident_new, name="resident_new"),
    path("residents/lookup/", views.resident_lookup, name="resident_lookup"),
    path("residents/export/", views.resident_export, name="resident_export"),
    path("residents/<int:pk>/", views.resident_detail, name="resident"),
    path("residents/<int:pk>/edit/", views.resident_edit, name="resident_edit"),
    path("residents/<int:pk>/reveal/", views.resident_reveal, name="resident_reveal"),
    path("residents/<int:pk>/history/", views.resident_history, name="resident_history"),
    path("residents/<int:pk>/tags/", views.resident_tag, name="resident_tag"),
    path("residents/<int:pk>/tags/<int:tag_pk>/remove/", views.resident_untag, name="resident_untag"),
    path("households/", views.household_list, name="households"),
    path("households/new/", views.household_new, name="household_new"),
    path("households/export/", views.household_export, name="household_export"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("households/<int:pk>/edit/", views.household_edit, name="household_edit"),
    path("households/<int:pk>/head/", views.household_head, name="household_head"),
    path("households/<int:pk>/history/", views.household_history, name="household_history"),
    path("special-groups/", views.group_list, name="groups"),
    path("businesses/", views.business_list, name="businesses"),
    path("businesses/new/", views.business_new, name="business_new"),
    path("businesses/export/", views.business_export, name="business_export"),
    path("businesses/<int:pk>/", views.business_detail, name="business"),
    path("businesses/<int:pk>/edit/", views.business_edit, name="business_edit"),
    path("businesses/<int:pk>/reveal/", views.business_reveal, name="business_reveal"),
    path("businesses/<int:pk>/history/", views.business_history, name="business_history"),
    path("imports/", views.import_index, name="imports"),
    path("imports/upload/", views.import_upload, name="import_upload"),
    path("imports/templates/<slug:register>/", views.import_template, name="import_template"),
    path("imports/<int:pk>/", views.import_job, name="import_job"),
    path("imports/<int:pk>/commit/", views.import_commit, name="import_commit"),
    path("imports/<int:pk>/validate/", views.import_validate, name="import_validate"),
    path("imports/<int:pk>/bad-rows/", views.import_bad_rows, name="import_bad_rows"),
    path("imports/<int:pk>/cancel/", views.import_cancel, name="import_cancel"),
]
