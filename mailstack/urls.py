from django.urls import path

from mailstack import status_views, views

app_name = "mailstack"

urlpatterns = [
    path("", views.system, name="system"),
    path("files/<str:name>", views.download, name="download"),
    path("actions/", views.action, name="action"),
    path("status/", status_views.status, name="status"),
    path("status/refresh/", status_views.status_refresh, name="status_refresh"),
    path("queue/", status_views.queue, name="queue"),
    path("queue/action/", status_views.queue_action, name="queue_action"),
]
