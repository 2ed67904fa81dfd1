from django.urls import path

from provisioning import views

app_name = "provisioning"
urlpatterns = [
    path("", views.job_list, name="jobs"),
    path("<int:pk>/retry/", views.job_retry, name="retry"),
    path("<int:pk>/cancel/", views.job_cancel, name="cancel"),
]
