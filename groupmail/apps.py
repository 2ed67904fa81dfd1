from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GroupMailConfig(AppConfig):
    name = "groupmail"
    verbose_name = _("Group mail")

    def ready(self) -> None:
        # Background operations are looked up by kind: this app brings the group mail.
        from groupmail.operations import register

        register()
