from django.urls import path

from mailboxes import views

app_name = "mailboxes"
urlpatterns = [
    path("", views.mailbox_list, name="list"),
    path("add/", views.mailbox_add, name="add"),
    path("bulk/", views.mailbox_bulk, name="bulk"),
    path("import/", views.mailbox_import, name="import"),
    path("<address:address>/", views.mailbox_detail, name="detail"),
    path("<address:address>/edit/", views.mailbox_edit, name="edit"),
    path("<address:address>/delete/", views.mailbox_delete, name="delete"),
    path("<address:address>/rename/", views.mailbox_rename, name="rename"),
]
