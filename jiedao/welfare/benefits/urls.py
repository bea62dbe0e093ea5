"""Pages of benefits and subsidies, appended to jiedao.welfare.urls (namespace "welfare")."""

from django.urls import path

from jiedao.welfare.benefits import views

urlpatterns = [
    path("welfare/benefits/", views.grant_list, name="benefits_grants"),
    path("welfare/benefits/grants/new/", views.grant_new, name="benefits_grant_new"),
    path("welfare/benefits/grants/<int:pk>/", views.grant_detail, name="benefits_grant"),
    path("welfare/benefits/grants/<int:pk>/edit/", views.grant_edit, name="benefits_grant_edit"),
    path("welfare/benefits/grants/<int:pk>/act/", views.grant_act, name="benefits_grant_act"),
    path("welfare/benefits/grants/<int:pk>/payments/", views.payment_new, name="benefits_payment_new"),
    path("welfare/benefits/panel/", views.panel, name="benefits_panel"),
    path("welfare/benefits/programmes/", views.programme_list, name="benefits_programmes"),
    path("welfare/benefits/programmes/defaults/", views.programme_seed, name="benefits_programme_seed"),
    path("welfare/benefits/programmes/new/", views.programme_form, name="benefits_programme_new"),
    path("welfare/benefits/programmes/<int:pk>/", views.programme_form, name="benefits_programme_edit"),
    path("welfare/benefits/payments/", views.payment_list, name="benefits_payments"),
    path("welfare/benefits/totals/", views.totals, name="benefits_totals"),
    path("welfare/benefits/import/", views.import_index, name="benefits_import"),
    path("welfare/benefits/import/template/", views.import_template, name="benefits_import_template"),
    path("welfare/benefits/import/upload/", views.import_upload, name="benefits_import_upload"),
    path("welfare/benefits/import/<int:pk>/", views.import_job, name="benefits_import_job"),
    path("welfare/benefits/import/<int:pk>/commit/", views.import_commit, name="benefits_import_commit"),
    path("welfare/benefits/import/<int:pk>/validate/", views.import_validate, name="benefits_import_validate"),
    path("welfare/benefits/import/<int:pk>/cancel/", views.import_cancel, name="benefits_import_cancel"),
    path("welfare/benefits/import/<int:pk>/bad-rows/", views.import_bad_rows, name="benefits_import_bad_rows"),
]
