from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = _("Mailboxes")

    def ready(self) -> None:
        # Background operations are looked up by kind; this app brings its bulk and import ones.
        from mailboxes.operations import register

        register()
