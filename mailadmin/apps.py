from django.apps import AppConfig
from django.urls import register_converter
from django.utils.translation import gettext_lazy as _


class MailadminConfig(AppConfig):
    name = "mailadmin"
    verbose_name = _("Mail administration")

    def ready(self) -> None:
        from mailadmin import checks  # noqa: F401 - registers the system checks
        from mailadmin.lib.urlkeys import AddressConverter, DomainConverter

        # The stored keys in every app's URLs (mailadmin.lib.urlkeys).
        register_converter(AddressConverter, "address")
        register_converter(DomainConverter, "domain")
