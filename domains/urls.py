from django.urls import path

from domains import views

app_name = "domains"
urlpatterns = [
    path("", views.domain_list, name="list"),
    path("add/", views.domain_add, name="add"),
    path("<str:domain>/", views.domain_detail, name="detail"),
    path("<str:domain>/edit/", views.domain_edit, name="edit"),
    path("<str:domain>/delete/", views.domain_delete, name="delete"),
    path("<str:domain>/rename/", views.domain_rename, name="rename"),
]
