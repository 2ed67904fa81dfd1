"""The navigation of the panel, per role."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.undo import take_undo

# (url name, label, icon, superadmin only)
NAVIGATION = (
    ("overview", _("Overview"), "speedometer2", False),
    ("domains:list", _("Domains"), "globe2", False),
    ("mailboxes:list", _("Mailboxes"), "inbox", False),
    ("aliases:list", _("Aliases"), "signpost-split", False),
    ("signup:queue", _("Signups"), "person-plus", False),
    ("accounts:managers", _("Managers"), "people", True),
    ("groupmail:list", _("Group mail"), "megaphone", False),
    ("provisioning:jobs", _("Jobs"), "gear", False),
    ("expiry:list", _("Expiry"), "hourglass-split", False),
    ("archives:list", _("Archives"), "archive", False),
    ("audit:list", _("Audit log"), "journal-text", False),
    ("mailstack:system", _("Mail system"), "hdd-network", True),
)


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    match = getattr(request, "resolver_match", None)
    current = (
        f"{match.namespace}:" if match and match.namespace else (match.url_name if match else "")
    )
    items = []
    for name, label, icon, superadmin_only in NAVIGATION:
        if superadmin_only and not user.is_superadmin:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue  # a section this install does not have
        active = name.startswith(current) if current.endswith(":") else name == current
        if name == "accounts:managers":
            # /login/ and /password/ live in the same namespace but are not the managers' pages.
            active = bool(active and (match.url_name or "").startswith("manager"))
        items.append({"url": url, "label": label, "icon": icon, "active": active})
    return {"navigation": items}


def undo(request: HttpRequest) -> dict:
    """The Undo offer of the last one-click change (read, and so removed, only when shown)."""
    return {"undo": SimpleLazyObject(lambda: take_undo(request) or {})}
