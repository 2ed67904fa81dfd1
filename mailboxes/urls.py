from django.urls import path

from mailboxes import views

app_name = "mailboxes"
urlpatterns = [
    path("", views.mailbox_list, name="list"),
    path("add/", views.mailbox_add, name="add"),
    path("bulk/", views.mailbox_bulk, name="bulk"),
    path("import/", views.mailbox_import, name="import"),
    path("generate-password/", views.mailbox_generate_password, name="generate_password"),
    path("<address:address>/", views.mailbox_detail, name="detail"),
    path("<address:address>/edit/", views.mailbox_edit, name="edit"),
    path("<address:address>/delete/", views.mailbox_delete, name="delete"),
    path("<address:address>/rename/", views.mailbox_rename, name="rename"),
    path("<address:address>/active/", views.mailbox_set_active, name="set_active"),
    path(
        "<address:address>/reset-password/",
        views.mailbox_reset_password,
        name="reset_password",
    ),
]
