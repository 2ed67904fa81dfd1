from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchivesConfig(AppConfig):
    name = "archives"
    verbose_name = _("Archives of deleted mail")

    def ready(self) -> None:
        from archives.handlers import register_handlers

        register_handlers()
