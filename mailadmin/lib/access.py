"""Access helpers for views: login, superadmin-only pages, and 404 for outsiders (SPEC §1).

The domain of an object always comes from the stored row, through the model's
``visible_to(manager)`` queryset: a domain admin asking for something outside their domains
gets the same 404 as for something that does not exist.

Decorators go in one order: the access decorator (``manager_required``,
``superadmin_required``), then ``visible_object`` where the URL names an object, then the
method decorator (``require_safe``, ``require_POST``). So an anonymous visitor is sent to the
login page and an outsider gets 404 whatever the method, never a 405 about a page they may not
see.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from mailadmin.lib.urlkeys import domain_from_param

M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]


def manager_required(view: View) -> View:
    """A logged-in manager (anonymous visitors are sent to the login page)."""
    return login_required(view)


def superadmin_required(view: View) -> View:
    """A superadmin; any other manager gets 404, as for a page that does not exist."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_superadmin:
            raise Http404
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def visible_object(
    lookup: Callable[[HttpRequest, Any], Any], *, param: str, name: str
) -> Callable[[View], View]:
    """Hand the view the object named by the URL parameter ``param`` as ``name``.

    ``lookup(request, value)`` answers 404 for what the user may not see; it runs before the
    decorators below this one, the method check among them.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            kwargs[name] = lookup(request, kwargs.pop(param))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def domain_from_query(request: HttpRequest, queryset: QuerySet | None = None) -> Any:
    """The domain named by ``?domain=`` (as :func:`mailadmin.lib.urlkeys.domain_param` writes
    it), read from ``queryset`` (default: every domain): None when absent, 404 when it names
    no domain the user may see."""
    from domains.models import Domain

    try:
        name = domain_from_param(request.GET.get("domain", ""))
    except ValueError as exc:
        raise Http404 from exc
    if name is None:
        return None
    return get_visible_or_404(
        Domain.objects.all() if queryset is None else queryset, request.user, pk=name
    )


def get_visible_or_404(queryset: QuerySet[M], manager: Any, **lookup: Any) -> M:
    """The object matching ``lookup`` among those ``manager`` may see, or 404."""
    return get_object_or_404(queryset.visible_to(manager), **lookup)  # type: ignore[attr-defined]
