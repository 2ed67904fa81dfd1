from django.urls import path

from accounts import manager_views, twofactor_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", twofactor_views.login_code, name="login_code"),
    path("login/key/options/", twofactor_views.key_login_options, name="key_login_options"),
    path("login/key/", twofactor_views.key_login, name="key_login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/2fa/", twofactor_views.own_twofactor, name="twofactor"),
    path(
        "password/2fa/keys/options/",
        twofactor_views.key_register_options,
        name="key_register_options",
    ),
    path("password/2fa/keys/", twofactor_views.key_register, name="key_register"),
    path("managers/", manager_views.manager_list, name="managers"),
    path("managers/add/", manager_views.manager_add, name="manager_add"),
    path("managers/<address:username>/edit/", manager_views.manager_edit, name="manager_edit"),
    path(
        "managers/<address:username>/delete/", manager_views.manager_delete, name="manager_delete"
    ),
    path("password/", manager_views.own_password, name="password"),
    path(
        "managers/<address:username>/2fa-reset/",
        manager_views.manager_twofactor_reset,
        name="manager_twofactor_reset",
    ),
]
