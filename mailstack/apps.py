from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailstackConfig(AppConfig):
    name = "mailstack"
    verbose_name = _("Postfix and Dovecot")

    def ready(self) -> None:
        # The runner looks handlers up by job kind; this app brings the mail services' ones.
        from mailstack.handlers import register

        register()
