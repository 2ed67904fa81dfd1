from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailboxesConfig(AppConfig):
    name = "mailboxes"
    verbose_name = _("Mailboxes")

    def ready(self) -> None:
        # The runner looks handlers up by job kind; this app brings its own. Background
        # operations are looked up by kind too: this app brings its bulk and import ones.
        from mailboxes.handlers import register_handlers
        from mailboxes.operations import register

        register_handlers()
        register()
        # The tables derived from the mailbox rows follow every ORM save of a mailbox.
        from mailboxes.indexes import connect

        connect()
