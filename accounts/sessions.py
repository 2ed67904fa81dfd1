"""Session engine storing sessions in ``mailadmin_session`` (SESSION_ENGINE)."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls) -> type:
        from accounts.models import PanelSession

        return PanelSession
