from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExpiryConfig(AppConfig):
    name = "expiry"
    verbose_name = _("Expiry of mailboxes and domains")
