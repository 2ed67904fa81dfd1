from django.urls import path

from domains import views

app_name = "domains"
urlpatterns = [
    path("", views.domain_list, name="list"),
    path("add/", views.domain_add, name="add"),
    path("<domain:domain>/", views.domain_detail, name="detail"),
    path("<domain:domain>/edit/", views.domain_edit, name="edit"),
    path("<domain:domain>/delete/", views.domain_delete, name="delete"),
    path("<domain:domain>/rename/", views.domain_rename, name="rename"),
]
