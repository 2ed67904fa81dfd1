"""Whose directory is it? The rule every disk job follows before it creates over, moves,
archives or deletes a mailbox's data (SPEC §4.2).

A stored ``homedir`` is a legacy value and is never trusted: ExtMan let an admin type any
path, and real databases hold homes that are another domain's directory, the mailbox's own
domain directory, or a directory that contains other mailboxes. A job may act only on a home
that belongs to its mailbox alone:

- a relative path below the mail base, with no ``..``;
- inside the directory of the mailbox's own domain (``<domain>/…`` or, in the ISP layout,
  ``<hash prefix>/<domain>/…``), and not that directory itself;
- holding the mailbox's Maildir (the Maildir is the home or lies inside it);
- neither inside nor around the home or Maildir of any other mailbox.

:func:`home_problem` says what is wrong, in words for the jobs page and the mailbox page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from domains.models import Domain
from mailboxes.models import Mailbox

# One level of an ISP-layout hash (ExtMan: upper-case hex, 1 to 9 characters per level).
_HASH_SEGMENT = re.compile(r"^[0-9A-Fa-f]{1,9}$")
#: At most this many other mailboxes are named in a problem.
NAMED = 5


def segments(path: str | None) -> list[str] | None:
    """The components of a stored relative path (``./`` and repeated slashes ignored), or
    None for a path that is empty, absolute or climbs out with ``..``."""
    text = (path or "").strip()
    if not text or text.startswith(("/", "\\")) or "\x00" in text:
        return None
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return parts


def domain_directory(homedir: str, domain: str, hashdirpath: str = "") -> str | None:
    """The directory of ``domain`` that holds ``homedir`` (``example.com`` or, in the ISP
    layout, ``A0/B0/example.com``), when the home lies strictly inside it; else None.

    The levels before the domain must be the domain's ``hashdirpath`` or look like ISP hash
    levels (legacy rows carry a hashed prefix the domain row no longer names).
    """
    parts = segments(homedir)
    if parts is None or not domain:
        return None
    prefix = segments(hashdirpath) or []
    for index, part in enumerate(parts):
        if part.lower() != domain.lower():
            continue
        before = parts[:index]
        if before and before != prefix and not all(_HASH_SEGMENT.match(p) for p in before):
            return None
        if len(parts) <= index + 1:
            return None  # the domain directory itself
        return "/".join(parts[: index + 1])
    return None


def _inside_or_equal(inner: list[str], outer: list[str]) -> bool:
    return inner[: len(outer)] == outer


def _variants(path: str) -> list[str]:
    """How a stored path may spell ``path``: with or without a trailing slash or ``./``, or
    absolute below the mail base."""
    base = str(settings.MAILADMIN_MAIL_BASE).rstrip("/")
    return [form for stem in (path, f"./{path}", f"{base}/{path}") for form in (stem, f"{stem}/")]


def _near(parts: list[str], rows: QuerySet, limit: int | None = None) -> list[tuple]:
    """``(address, column, path segments)`` of the mailboxes among ``rows`` whose home is the
    directory ``parts`` or lies inside it, or whose Maildir is, lies inside or contains it
    (what the database finds: it compares without regard to case or a trailing slash). Two
    index lookups (the panel indexes ``homedir`` and ``maildir``)."""
    here = "/".join(parts)
    base = str(settings.MAILADMIN_MAIL_BASE).rstrip("/")
    ancestors = [form for n in range(1, len(parts) + 1) for form in _variants("/".join(parts[:n]))]
    found: list[tuple] = []
    for column, around in (("homedir", _variants(here)), ("maildir", ancestors)):
        # istartswith: a plain LIKE, which MariaDB reads as a range of the index (startswith
        # is LIKE BINARY there, which scans the whole index: 0.3-0.5 s at 1,000,000 rows).
        # What the database finds is filtered exactly below.
        inside = Q(**{f"{column}__istartswith": f"{here}/"}) | Q(
            **{f"{column}__istartswith": f"{base}/{here}/"}
        )
        matches = rows.filter(Q(**{f"{column}__in": around}) | inside).values_list(
            "username", column
        )
        for address, path in matches[:limit] if limit else matches:
            other = segments(path.removeprefix(f"{base}/"))
            if other is not None:
                found.append((address, column, other))
    return found


def overlapping(homedir: str, exclude: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(address, path)`` of other mailboxes whose data a job on ``homedir`` would take
    along: their home or Maildir is ``homedir`` or lies inside it, or their Maildir contains
    it. (A home inside another mailbox's home but outside its Maildir is not shared: legacy
    rows whose home is the domain directory would otherwise hold every mailbox hostage.)"""
    parts = segments(homedir)
    if parts is None:
        return []
    found: dict[str, str] = {}
    rows = Mailbox.objects.exclude(username__in=list(exclude))
    for address, column, other in _near(parts, rows, limit=NAMED * 4):
        if _inside_or_equal(other, parts) or (
            column == "maildir" and _inside_or_equal(parts, other)
        ):
            found.setdefault(address, "/".join(other))
    return sorted(found.items())


def foreign_paths(directory: str, domain: str) -> list[tuple[str, list[str]]]:
    """``(address, path segments)`` of the homes and Maildirs of mailboxes of other domains
    than ``domain`` that lie inside ``directory`` (a domain's directory), or whose Maildir
    contains it: what a job on the whole domain must leave alone."""
    parts = segments(directory)
    if parts is None:
        return []
    return [
        (address, other)
        for address, _column, other in _near(parts, Mailbox.objects.exclude(domain_id=domain))
    ]


def shares_with(homedir: str, others: list[tuple[str, list[str]]]) -> list[str]:
    """The addresses among ``others`` (from :func:`foreign_paths`) whose data lies in
    ``homedir`` or whose Maildir holds it."""
    parts = segments(homedir) or []
    return sorted(
        {
            address
            for address, other in others
            if _inside_or_equal(other, parts) or _inside_or_equal(parts, other)
        }
    )


def home_problem(
    *,
    address: str,
    domain: str,
    hashdirpath: str,
    homedir: str,
    maildir: str,
    others: bool = True,
    also_excluded: tuple[str, ...] = (),
) -> str | None:
    """Why ``homedir`` is not the mailbox's own (a sentence), or None when it is.

    ``others=False`` leaves out the lookup of other mailboxes (the caller knows there is
    nothing on disk to confuse, e.g. a home that does not exist yet); ``also_excluded``
    names other addresses whose rows are this mailbox's too (a rename's old address).
    """
    home = segments(homedir)
    if home is None:
        return _("the home directory %(path)s is not a relative path below the mail base.") % {
            "path": homedir or "''"
        }
    if domain_directory(homedir, domain, hashdirpath) is None:
        return _(
            "the home directory %(path)s is not a directory of its own inside the directory"
            " of the domain %(domain)s."
        ) % {"path": homedir, "domain": domain}
    box = segments(maildir)
    if box is None or not _inside_or_equal(box, home):
        return _("the Maildir %(maildir)s is not inside the home directory %(path)s.") % {
            "maildir": maildir or "''",
            "path": homedir,
        }
    if others:
        shared = overlapping(homedir, exclude=[address, *also_excluded])
        if shared:
            return _("the home directory %(path)s is shared with other mailboxes: %(others)s.") % {
                "path": homedir,
                "others": ", ".join(f"{other} ({path})" for other, path in shared[:NAMED]),
            }
    return None


def mailbox_home_problem(mailbox: Mailbox, *, others: bool = True) -> str | None:
    """:func:`home_problem` of a stored mailbox."""
    hashdirpath = (
        Domain.objects.filter(pk=mailbox.domain_id).values_list("hashdirpath", flat=True).first()
    )
    return home_problem(
        address=mailbox.username,
        domain=mailbox.domain_id,
        hashdirpath=hashdirpath or "",
        homedir=mailbox.homedir,
        maildir=mailbox.maildir,
        others=others,
    )
