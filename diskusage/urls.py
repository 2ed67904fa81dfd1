from django.urls import path

from diskusage import views

app_name = "diskusage"
urlpatterns = [
    path("domain/<domain:domain>/measure/", views.measure_domain, name="measure_domain"),
    path("domain/<domain:domain>/report.csv", views.report_csv, name="report_csv"),
    path("domain/<domain:domain>/report/", views.report_send, name="report_send"),
    path("mailbox/<address:address>/measure/", views.measure_mailbox, name="measure_mailbox"),
]
