from django.urls import path

from groupmail import views

app_name = "groupmail"
urlpatterns = [
    path("", views.group_mail_list, name="list"),
    path("new/", views.group_mail_new, name="new"),
]
