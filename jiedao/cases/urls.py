from django.urls import include, path

from jiedao.cases import views
from jiedao.cases.catalogue import views as catalogue_views
from jiedao.cases.cycles.urls import urlpatterns as cycles_urlpatterns
from jiedao.cases.statistics import views as statistics_views

app_name = "cases"

urlpatterns = [
    path("cases/", views.case_list, name="list"),
    path("cases/export/", views.case_export, name="export"),
    path("cases/dashboard/", statistics_views.dashboard, name="dashboard"),
    path("cases/dashboard/hotspots/", statistics_views.dashboard_hotspots_fragment, name="dashboard_hotspots"),
    path("cases/dashboard/panels/<slug:key>/", statistics_views.dashboard_panel_fragment, name="dashboard_panel"),
    path("cases/new/", views.case_new, name="new"),
    path("cases/hotline/", views.case_hotline, name="hotline"),
    path("cases/places/", views.place_picker, name="places"),
    path("cases/similar/", views.similar, name="similar"),
    path("cases/suggest/", views.suggest, name="suggest"),
    path("cases/households/", views.households, name="households"),
    path("cases/reporter-cases/", views.reporter_cases, name="reporter_cases"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/act/", views.case_act, name="act"),
    path("cases/<int:pk>/attach/", views.case_attach, name="attach"),
    path("cases/<int:pk>/reveal-phone/", views.reporter_phone_reveal, name="reveal_phone"),
    path("cases/<int:pk>/files/<int:attachment_pk>/", views.attachment_file, name="attachment"),
    path("catalogue/", catalogue_views.catalogue, name="catalogue"),
    path("catalogue/<int:pk>/", catalogue_views.category_edit, name="category"),
    path("catalogue/<int:pk>/rules/", catalogue_views.rule_set, name="rule_set"),
    path("catalogue/rules/<int:pk>/delete/", catalogue_views.rule_delete, name="rule_delete"),
    path("catalogue/holidays/", catalogue_views.holidays, name="holidays"),
    path("catalogue/holidays/<int:pk>/delete/", catalogue_views.holiday_delete, name="holiday_delete"),
    path("", include("jiedao.cases.mediation.urls")),
    path("catalogue/holidays/declare/", catalogue_views.holiday_year_declare, name="holiday_declare"),
    path("catalogue/policy/", catalogue_views.policies, name="policies"),
    path("catalogue/policy/default/", catalogue_views.policy_default, name="policy_default"),
    path("catalogue/policy/<int:pk>/", catalogue_views.policy_edit, name="policy"),
    path("public/", include("jiedao.cases.public_urls")),
    *cycles_urlpatterns,
]
