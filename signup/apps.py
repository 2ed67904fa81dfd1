from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SignupConfig(AppConfig):
    name = "signup"
    verbose_name = _("Self-service signup")

    def ready(self) -> None:
        # Background operations are looked up by kind; this app brings its bulk decisions.
        from signup.operations import register

        register()
