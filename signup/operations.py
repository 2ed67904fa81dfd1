"""Bulk decisions on signup requests as background operations (docs/jobs.md).

Approving a request creates a mailbox and mails the applicant: more than
``MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER`` requests at once leave the web request. The runner
calls :func:`signup.services.signup_bulk`, the same service as the request, with a progress
callback; each request is still decided on its own (one that a limit refuses does not hold back
the others), and the decisions are committed together when the operation ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from provisioning import operations
from provisioning.models import Operation
from provisioning.operations import OperationRun, Outcome
from signup import services
from signup.models import SignupRequest

if TYPE_CHECKING:
    from accounts.models import Manager


def signup_bulk_start(
    *,
    action: str,
    ids: list[int],
    actor: Manager,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Operation:
    """Record a bulk decision to run in the background; the caller redirects to its page.
    Raises ``SignupRequest.DoesNotExist`` when any id is not a request the actor may see."""
    wanted = sorted(set(ids))
    found = dict(
        SignupRequest.objects.visible_to(actor).filter(pk__in=wanted).values_list("pk", "domain")
    )
    if len(found) != len(wanted):
        raise SignupRequest.DoesNotExist("some requests do not exist or are not visible")
    domains = set(found.values())
    return operations.operation_start(
        kind=Operation.Kind.SIGNUP_BULK,
        actor=actor,
        total=len(wanted),
        domain=domains.pop() if len(domains) == 1 else "",
        payload={"action": action, "ids": wanted, "reason": reason},
        request=request,
    )


def run_bulk(run: OperationRun) -> Outcome:
    payload = run.operation.payload
    try:
        result = services.signup_bulk(
            action=payload["action"],
            ids=payload["ids"],
            reason=payload.get("reason", ""),
            actor=run.actor,
            request=run.request,
            progress=run.progress,
        )
    except SignupRequest.DoesNotExist as exc:
        raise ValidationError(
            _("Some of the selected requests no longer exist or are no longer yours.")
        ) from exc
    return Outcome(result={"action": result.action, "done": result.done, "refused": result.refused})


def register() -> None:
    """Called from ``SignupConfig.ready``."""
    operations.register(
        Operation.Kind.SIGNUP_BULK, run_bulk, result_template="signup/_operation_bulk.html"
    )
