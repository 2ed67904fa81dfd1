from django.urls import include, path
from django.views.i18n import set_language

from mailadmin import search, views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("search/", search.search, name="search"),
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
    path("activity/", include("activity.urls")),
    path("usage/", include("diskusage.urls")),
    path("account/", include("portal.urls")),
    path("captcha/", include("captcha.urls")),
    path("", include("signup.urls")),
    path("system/mailstack/", include("mailstack.urls")),
    path("api/v1/", include("api.urls")),
    path("tokens/", include("api.token_urls")),
    path("", include("accounts.urls")),
]
