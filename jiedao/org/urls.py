from django.urls import path

from jiedao.org import views

app_name = "org"

urlpatterns = [
    path("org/", views.org_index, name="index"),
    path("org/search/", views.node_search, name="search"),
    path("org/picker/", views.node_picker, name="node_picker"),
    path("org/<int:pk>/", views.node_detail, name="node"),
    path("org/<int:pk>/children/", views.node_children, name="node_children"),
    path("org/<int:pk>/add/", views.node_add, name="node_add"),
    path("org/<int:pk>/edit/", views.node_edit, name="node_edit"),
    path("org/<int:pk>/departments/", views.department_add, name="department_add"),
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_new, name="user_new"),
    path("users/<int:pk>/", views.user_detail, name="user"),
    path("users/<int:pk>/edit/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/roles/", views.role_assign, name="role_assign"),
    path("users/<int:pk>/roles/<int:assignment_pk>/revoke/", views.role_revoke, name="role_revoke"),
    path("users/<int:pk>/active/", views.user_set_active, name="user_set_active"),
    path("users/<int:pk>/password/", views.user_password, name="user_password"),
    path("users/<int:pk>/second-factor/reset/", views.user_second_factor_reset, name="user_second_factor_reset"),
]
