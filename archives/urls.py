from django.urls import path

from archives import views

app_name = "archives"
urlpatterns = [
    path("", views.archive_list, name="list"),
    path("scan/", views.archive_scan, name="scan"),
    path("<int:pk>/restore/", views.archive_restore, name="restore"),
    path("<int:pk>/delete/", views.archive_delete, name="delete"),
]
