"""Reading the activity tables for the pages: the message trace (docs/activity.md, "Trace")."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from activity.models import Login, Message, Recipient, managed_domains

#: Messages a search shows at most (the newest first).
LIMIT = 50


@dataclass(frozen=True)
class TraceQuery:
    """What the trace form asks: an address (``anna@a.test``) or a domain (``a.test`` or
    ``@a.test``) as sender or recipient, a queue id, a Message-ID, and a time window."""

    address: str = ""
    queue_id: str = ""
    message_id: str = ""
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None

    @property
    def is_domain(self) -> bool:
        return "@" not in self.address.lstrip("@")

    @property
    def domain(self) -> str:
        return self.address.lstrip("@").rpartition("@")[2]


def _window(queryset: QuerySet, query: TraceQuery, field: str = "time") -> QuerySet:
    if query.since is not None:
        queryset = queryset.filter(**{f"{field}__gte": query.since})
    if query.until is not None:
        queryset = queryset.filter(**{f"{field}__lt": query.until})
    return queryset


def search_messages(actor: Any, query: TraceQuery, *, limit: int = LIMIT) -> list[Message]:
    """The messages matching ``query`` that ``actor`` may see, newest first, with their
    recipients. A fixed number of queries, each on an index, whatever the table's size."""
    domains = managed_domains(actor)
    messages = Message.objects.all()
    if query.queue_id:
        ids = list(
            _window(messages.filter(queue_id=query.queue_id), query)
            .order_by("-time")
            .values_list("id", flat=True)[:limit]
        )
    elif query.message_id:
        ids = list(
            _window(messages.filter(message_id=query.message_id), query)
            .order_by("-time")
            .values_list("id", flat=True)[:limit]
        )
    elif query.address or domains is not None:
        if not query.address:  # a domain admin's latest: from or to any of their domains
            as_sender = Q(sender_domain__in=domains)
            as_recipient = Q(domain__in=domains)
        elif query.is_domain:
            as_sender = Q(sender_domain=query.domain)
            as_recipient = Q(domain=query.domain)
        else:
            as_sender = Q(sender=query.address)
            as_recipient = Q(address=query.address)
        senders = _window(messages.filter(as_sender), query)
        recipients = _window(Recipient.objects.filter(as_recipient), query)
        if query.address and domains is not None and query.domain not in domains:
            # A foreign address: only what comes from or goes to the admin's domains.
            senders = senders.filter(
                Exists(Recipient.objects.filter(message=OuterRef("pk"), domain__in=domains))
            )
            recipients = recipients.filter(
                Q(message__sender_domain__in=domains)
                | Exists(
                    Recipient.objects.filter(message=OuterRef("message_id"), domain__in=domains)
                )
            )
        found = list(senders.order_by("-time").values_list("id", "time")[:limit])
        # Distinct: a message to several recipients of the domain is one result, not several
        # (the server stops reading the index once it has ``limit`` different messages).
        found += list(
            recipients.order_by("-time").values_list("message_id", "time").distinct()[:limit]
        )
        found.sort(key=lambda pair: pair[1], reverse=True)
        ids = list(dict.fromkeys(pk for pk, _ in found))[:limit]
    else:
        visible = _window(messages.for_domains(domains), query)
        ids = list(visible.order_by("-time").values_list("id", flat=True)[:limit])
    if not ids:
        return []
    # A search by address or domain found only what the actor may see (the filters above); a
    # queue id or a Message-ID may name anyone's message.
    scoped = query.queue_id or query.message_id or not (query.address or domains is not None)
    chosen = Message.objects.for_domains(domains) if scoped else Message.objects.all()
    found_messages = list(
        chosen.filter(pk__in=ids).prefetch_related("recipients").order_by("-time", "-id")
    )
    for message in found_messages:
        message.shown_recipients = shown_recipients(message, domains)  # type: ignore[attr-defined]
    return found_messages


def shown_recipients(message: Message, domains: list[str] | None) -> list[Recipient]:
    """The recipients of ``message`` an admin of ``domains`` may see: all of them when the
    message comes from one of their domains, else those of their domains only."""
    recipients = list(message.recipients.all())
    if domains is None or message.sender_domain in domains:
        return recipients
    return [recipient for recipient in recipients if recipient.domain in domains]


def related_messages(message: Message, actor: Any, recipients: list[Recipient]) -> dict[str, Any]:
    """The messages this one is linked to on its host: where it came from (the same Message-ID
    before a content filter), where its recipients were handed on (``queued as``), and the
    notice Postfix sent back about it."""
    visible = Message.objects.visible_to(actor).filter(host=message.host)
    came_from = None
    if message.message_id and message.client_ip in ("127.0.0.1", "::1"):
        came_from = (
            visible.filter(message_id=message.message_id, time__lte=message.time)
            .exclude(pk=message.pk)
            .order_by("-time")
            .first()
        )
    for recipient in recipients:
        recipient.next_message = None  # type: ignore[attr-defined]
        if recipient.next_queue_id:
            recipient.next_message = (  # type: ignore[attr-defined]
                visible.filter(queue_id=recipient.next_queue_id, time__gte=message.time)
                .order_by("time")
                .first()
            )
    notice = None
    if message.notice_queue_id:
        notice = (
            visible.filter(queue_id=message.notice_queue_id, time__gte=message.time)
            .order_by("time")
            .first()
        )
    return {"came_from": came_from, "notice": notice}


def recent_deliveries(address: str, limit: int = 10) -> list[Recipient]:
    """What became of the latest messages to ``address``."""
    return list(
        Recipient.objects.filter(address=address.lower())
        .select_related("message")
        .order_by("-time")[:limit]
    )


def recent_logins(address: str, limit: int = 10) -> list[Login]:
    return list(Login.objects.filter(address=address.lower()).order_by("-time")[:limit])
