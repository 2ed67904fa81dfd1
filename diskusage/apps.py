from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DiskUsageConfig(AppConfig):
    name = "diskusage"
    verbose_name = _("Disk usage, quota warnings and usage reports")

    def ready(self) -> None:
        from diskusage.handlers import register_handlers

        register_handlers()
