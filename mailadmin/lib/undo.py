"""A one-click change with an Undo button: the change's message carries a form that reverts it.

The offer is kept in the session until the next page shows it (as Django's messages are), so
the Undo button is an ordinary form that works without script.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

SESSION_KEY = "mailadmin_undo"


def offer_undo(request: HttpRequest, *, message: str, url: str, fields: dict[str, str]) -> None:
    """Show ``message`` on the next page with an Undo button posting ``fields`` to ``url``."""
    request.session[SESSION_KEY] = {"message": str(message), "url": url, "fields": fields}


def take_undo(request: HttpRequest) -> dict[str, Any] | None:
    """The pending offer, removed from the session (shown once)."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return None
    offer = session.pop(SESSION_KEY)
    if not isinstance(offer, dict) or not {"message", "url", "fields"} <= set(offer):
        return None
    return offer
