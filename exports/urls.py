from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("domains/", views.export, {"table": "domains"}, name="domains"),
    path("mailboxes/", views.export, {"table": "mailboxes"}, name="mailboxes"),
    path("aliases/", views.export, {"table": "aliases"}, name="aliases"),
]
