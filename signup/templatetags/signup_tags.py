"""The signup card of the domain page."""

from __future__ import annotations

from typing import Any

from django import template

from signup.forms import PolicyForm
from signup.models import SignupPolicy, SignupRequest

register = template.Library()


@register.inclusion_tag("signup/_policy_card.html", takes_context=True)
def signup_policy_card(context: dict[str, Any], domain: Any) -> dict[str, Any]:
    policy = SignupPolicy.objects.filter(pk=domain.pk).first()
    approval = policy.approval if policy else SignupPolicy.Approval.REQUIRED
    return {
        "domain": domain,
        "user": context.get("user"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "approval_label": SignupPolicy.Approval(approval).label,
        "form": PolicyForm(initial={"approval": approval}),
        "pending": SignupRequest.objects.pending().filter(domain=domain.pk).count(),
    }
