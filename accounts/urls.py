from django.urls import path

from accounts import manager_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("managers/", manager_views.manager_list, name="managers"),
    path("managers/add/", manager_views.manager_add, name="manager_add"),
    path("managers/<address:username>/edit/", manager_views.manager_edit, name="manager_edit"),
    path(
        "managers/<address:username>/delete/", manager_views.manager_delete, name="manager_delete"
    ),
    path("password/", manager_views.own_password, name="password"),
]
