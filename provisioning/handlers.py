"""The registry of job handlers: what each kind of job does.

The apps that own the data register their handlers when Django starts (``AppConfig.ready``):
``mailboxes`` the Maildir jobs, ``domains`` the domain-directory jobs, ``mailstack`` the
Postfix and service jobs. A handler may return a note (what it found and did that an admin
should know); it raises to fail or retry the job (see ``provisioning.runner``).
"""

from __future__ import annotations

from collections.abc import Callable

from provisioning.models import Job

Handler = Callable[[Job], "str | None"]

HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    HANDLERS[kind] = handler
