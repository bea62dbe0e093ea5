"""Home, sign-in, my account and the audit log: names without a namespace (`home`, `login`, …)."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from jiedao.org import site_views as views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.StaffLoginView.as_view(), name="login"),
    path("login/second-factor/", views.login_second_factor, name="login_second_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", views.account, name="account"),
    path("account/password/", views.account_password, name="account_password"),
    path("account/second-factor/", views.account_second_factor, name="account_second_factor"),
    path("account/second-factor/remove/", views.account_second_factor_remove, name="account_second_factor_remove"),
    path("account/tokens/", views.token_create, name="token_create"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/history/", views.audit_history, name="audit_history"),
]
