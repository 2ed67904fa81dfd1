from django.urls import path

from provisioning import views

app_name = "provisioning"
urlpatterns = [
    path("", views.job_list, name="jobs"),
    path("<int:pk>/retry/", views.job_retry, name="retry"),
    path("<int:pk>/cancel/", views.job_cancel, name="cancel"),
    path("operations/<int:pk>/", views.operation_detail, name="operation"),
    path("operations/<int:pk>/progress/", views.operation_progress, name="operation_progress"),
    path("operations/<int:pk>/stop/", views.operation_stop, name="operation_stop"),
    path("operations/<int:pk>/resume/", views.operation_resume, name="operation_resume"),
]
