"""The navigation of the panel, per role."""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpRequest
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.undo import take_undo

# (url name, label, icon, superadmin only, in the bar itself: the others are under "More", so
# that the bar fits a 1366-pixel screen in one row with room for a search box)
NAVIGATION = (
    ("overview", _("Overview"), "speedometer2", False, True),
    ("domains:list", _("Domains"), "globe2", False, True),
    ("mailboxes:list", _("Mailboxes"), "inbox", False, True),
    ("aliases:list", _("Aliases"), "signpost-split", False, True),
    ("signup:queue", _("Signups"), "person-plus", False, True),
    ("audit:list", _("Audit log"), "journal-text", False, True),
    ("accounts:managers", _("Managers"), "people", True, False),
    ("groupmail:list", _("Group mail"), "megaphone", False, False),
    ("provisioning:jobs", _("Jobs"), "gear", False, False),
    ("expiry:list", _("Expiry"), "hourglass-split", False, False),
    ("archives:list", _("Archives"), "archive", False, False),
    ("activity:trace", _("Mail activity"), "activity", False, False),
    ("mailstack:system", _("Mail system"), "hdd-network", True, False),
)


@lru_cache(maxsize=16)
def _section_urls(script_prefix: str, urlconf: str | None) -> dict[str, str]:
    """The URL of each section this install has (reversed once, not on every page)."""
    urls = {}
    for name, *_rest in NAVIGATION:
        try:
            urls[name] = reverse(name, urlconf=urlconf)
        except NoReverseMatch:
            continue  # a section this install does not have
    return urls


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": [], "navigation_more": []}
    match = getattr(request, "resolver_match", None)
    current = (
        f"{match.namespace}:" if match and match.namespace else (match.url_name if match else "")
    )
    items, more = [], []
    urls = _section_urls(get_script_prefix(), get_urlconf())
    for name, label, icon, superadmin_only, in_bar in NAVIGATION:
        if superadmin_only and not user.is_superadmin:
            continue
        url = urls.get(name)
        if url is None:
            continue
        active = name.startswith(current) if current.endswith(":") else name == current
        if name == "accounts:managers":
            # /login/ and /password/ live in the same namespace but are not the managers' pages.
            active = bool(active and (match.url_name or "").startswith("manager"))
        (items if in_bar else more).append(
            {"url": url, "label": label, "icon": icon, "active": active}
        )
    return {
        "navigation": items,
        "navigation_more": more,
        "navigation_more_active": any(item["active"] for item in more),
    }


def undo(request: HttpRequest) -> dict:
    """The Undo offer of the last one-click change (read, and so removed, only when shown)."""
    return {"undo": SimpleLazyObject(lambda: take_undo(request) or {})}
