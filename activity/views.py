"""The mail activity pages: the message trace, one message's path, the traffic graphs."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from activity.forms import TraceForm
from activity.graphs import PERIODS, traffic_graph
from activity.models import Message, managed_domains
from activity.selectors import (
    LIMIT,
    TraceQuery,
    related_messages,
    search_messages,
    shown_recipients,
)
from mailadmin.lib.access import (
    domain_from_query,
    get_visible_or_404,
    manager_required,
    visible_object,
)


@manager_required
@require_safe
def trace(request: HttpRequest) -> HttpResponse:
    form = TraceForm(request.GET or None)
    # "results", not "messages": that name is the base template's list of notices.
    results: list[Message] = []
    searched = False
    if form.is_bound and form.is_valid():
        searched = True
        results = search_messages(request.user, form.query())
    elif not form.is_bound:
        results = search_messages(request.user, TraceQuery())
    return render(
        request,
        "activity/trace.html",
        {"form": form, "results": results, "searched": searched, "limit": LIMIT},
    )


def _get_message(request: HttpRequest, pk: int) -> Message:
    return get_visible_or_404(Message.objects, request.user, pk=pk)


@manager_required
@visible_object(_get_message, param="pk", name="message")
@require_safe
def message_detail(request: HttpRequest, message: Message) -> HttpResponse:
    recipients = shown_recipients(message, managed_domains(request.user))
    return render(
        request,
        "activity/message.html",
        {
            "message": message,
            "recipients": recipients,
            **related_messages(message, request.user, recipients),
        },
    )


@manager_required
@require_safe
def graphs(request: HttpRequest) -> HttpResponse:
    domain = domain_from_query(request)
    allowed = managed_domains(request.user)
    if domain is not None:
        name = domain.pk.lower()
    elif allowed is None:
        name = ""  # the superadmin: the whole installation
    elif allowed:
        name = allowed[0]
    else:
        raise Http404
    period = request.GET.get("period", "day")
    if period not in PERIODS:
        period = "day"
    return render(
        request,
        "activity/graphs.html",
        {
            "graph": traffic_graph(name, period),
            "domain": name,
            "period": period,
            "periods": [(key, label) for key, (label, _) in PERIODS.items()],
            "domains": allowed,
        },
    )
