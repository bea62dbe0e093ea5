from django.urls import path

from jiedao.safety import views, views_map

app_name = "safety"

urlpatterns = [
    path("safety/", views.index, name="index"),
    path("safety/campaigns/", views.campaign_list, name="campaigns"),
    path("safety/campaigns/new/", views.campaign_new, name="campaign_new"),
    path("safety/campaigns/<int:pk>/", views.campaign_detail, name="campaign"),
    path("safety/businesses/", views.business_list, name="businesses"),
    path("safety/businesses/<int:pk>/", views.business_detail, name="business"),
    path("safety/businesses/<int:pk>/tenancy/", views.tenancy_set, name="tenancy_set"),
    path("safety/businesses/<int:pk>/inspect/", views.inspection_new, name="inspect"),
    path("safety/inspections/<int:pk>/", views.inspection_detail, name="inspection"),
    path("safety/hazards/", views.hazard_list, name="hazards"),
    path("safety/hazards/<int:pk>/", views.hazard_detail, name="hazard"),
    path("safety/hazards/<int:pk>/act/", views.hazard_act, name="hazard_act"),
    path("safety/risk-rule/", views.risk_rule, name="risk_rule"),
    path("safety/photos/<int:pk>/", views.photo, name="photo"),
    path("safety/checklists/", views.template_list, name="templates"),
    path("safety/checklists/new/", views.template_new, name="template_new"),
    path("safety/checklists/<int:pk>/edit/", views.template_edit, name="template_edit"),
    path("safety/map/", views_map.risk_map, name="map"),
]

# 季度风险研判 (jiedao.safety.views_review)
from jiedao.safety import views_review  # noqa: E402

urlpatterns += [
    path("safety/review/", views_review.review_page, name="review"),
    path("safety/review/download/<str:kind>/", views_review.review_download, name="review_download"),
]
