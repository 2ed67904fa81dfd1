from django.urls import path

from aliases import views

app_name = "aliases"
urlpatterns = [
    path("", views.alias_list, name="list"),
    path("add/", views.alias_add, name="add"),
    path("bulk/", views.alias_bulk, name="bulk"),
    # ``local@domain``, or ``@domain`` for a catch-all (any stored key: mailadmin.lib.urlkeys)
    path("<address:address>/edit/", views.alias_edit, name="edit"),
    path("<address:address>/delete/", views.alias_delete, name="delete"),
    path("<address:address>/active/", views.alias_set_active, name="set_active"),
]
