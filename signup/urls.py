from django.urls import path

from signup import views

app_name = "signup"
urlpatterns = [
    path("signups/", views.queue, name="queue"),
    path("signups/bulk/", views.bulk, name="bulk"),
    path("signups/<int:pk>/approve/", views.approve, name="approve"),
    path("signups/<int:pk>/reject/", views.reject, name="reject"),
    path("signups/policy/<domain:domain>/", views.policy, name="policy"),
    path("signup/<domain:domain>/", views.signup_form, name="form"),
]
