from django.urls import include, path
from django.views.i18n import set_language

from mailadmin import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("domains/", include("domains.urls")),
    path("mailboxes/", include("mailboxes.urls")),
    path("aliases/", include("aliases.urls")),
    path("audit/", include("audit.urls")),
    path("export/", include("exports.urls")),
    path("jobs/", include("provisioning.urls")),
    path("groupmail/", include("groupmail.urls")),
    path("expiry/", include("expiry.urls")),
    path("archives/", include("archives.urls")),
    path("usage/", include("diskusage.urls")),
    path("account/", include("portal.urls")),
    path("captcha/", include("captcha.urls")),
    path("", include("signup.urls")),
    path("system/mailstack/", include("mailstack.urls")),
    path("", include("accounts.urls")),
]
