from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DomainsConfig(AppConfig):
    name = "domains"
    verbose_name = _("Domains")

    def ready(self) -> None:
        # The runner looks handlers up by job kind; this app brings its own.
        from domains.handlers import register_handlers

        register_handlers()
