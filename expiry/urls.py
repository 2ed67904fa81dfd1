from django.urls import path

from expiry import views

app_name = "expiry"
urlpatterns = [
    path("", views.expiry_list, name="list"),
    path("run/", views.expiry_run, name="run"),
]
