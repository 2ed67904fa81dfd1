from django.urls import path

from mailstack import views

app_name = "mailstack"

urlpatterns = [
    path("", views.system, name="system"),
    path("files/<str:name>", views.download, name="download"),
    path("actions/", views.action, name="action"),
]
