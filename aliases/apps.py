from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AliasesConfig(AppConfig):
    name = "aliases"
    verbose_name = _("Aliases")

    def ready(self) -> None:
        # The reverse index of alias targets follows every ORM save and delete of an alias.
        from aliases.index import connect

        connect()
