from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = _("Mailboxes")

    def ready(self) -> None:
        # The runner looks handlers up by job kind; this app brings its own.
        from mailboxes.handlers import register_handlers

        register_handlers()
