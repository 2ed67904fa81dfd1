"""A one-click change with an Undo button: the change's message carries a form that reverts it.

The offer is kept in the session until the next page shows it (as Django's messages are), so
the Undo button is an ordinary form that works without script.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

SESSION_KEY = "mailadmin_undo"


def offer_undo(
    request: HttpRequest, *, message: str, url: str, fields: dict[str, str | list[str]]
) -> None:
    """Show ``message`` on the next page with an Undo button posting ``fields`` to ``url`` (a
    list value posts the name once per item, as ticked boxes do)."""
    request.session[SESSION_KEY] = {"message": str(message), "url": url, "fields": fields}


def take_undo(request: HttpRequest) -> dict[str, Any] | None:
    """The pending offer, removed from the session (shown once)."""
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return None
    offer = session.pop(SESSION_KEY)
    if not isinstance(offer, dict) or not {"message", "url", "fields"} <= set(offer):
        return None
    # The hidden inputs of the form: (name, value) pairs.
    offer["inputs"] = [
        (name, item)
        for name, value in offer["fields"].items()
        for item in (value if isinstance(value, list) else [value])
    ]
    return offer


def set_active_with_undo(
    request: HttpRequest,
    *,
    back: str,
    was_active: bool,
    apply: Callable[[bool], None],
    undo_url: str,
    done_text: Callable[[bool], str],
) -> HttpResponse:
    """The one-click enable/disable of a list row: the wanted state is posted (``active`` 1 or
    0, never "toggle", so a repeated or late Undo does no harm), ``apply(active)`` calls the
    service, and the next page offers an Undo that posts the previous state back."""
    wanted = request.POST.get("active")
    if wanted not in ("0", "1"):
        messages.error(request, _("Nothing was changed: the form did not say enable or disable."))
        return redirect(back)
    active = wanted == "1"
    try:
        apply(active)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect(back)
    text = done_text(active)
    if was_active == active or request.POST.get("undone"):
        messages.info(request, text)  # nothing changed, or this was the Undo itself
    else:
        offer_undo(
            request,
            message=text,
            url=undo_url,
            fields={"active": "1" if was_active else "0", "next": back, "undone": "1"},
        )
    return redirect(back)
