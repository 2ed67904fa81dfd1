from django.urls import path

from activity import views

app_name = "activity"
urlpatterns = [
    path("", views.trace, name="trace"),
    path("messages/<int:pk>/", views.message_detail, name="message"),
    path("graphs/", views.graphs, name="graphs"),
]
