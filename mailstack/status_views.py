"""The superadmin's system status and Postfix queue pages (ExtMan's system information and
control center). Both read the hosts' stored reports (mailstack.models.HostStatus); actions
on the queue are privileged, audited jobs."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from mailadmin.lib.access import superadmin_required
from mailstack import services
from mailstack.models import HostStatus, StatusCollection
from provisioning.models import Job

#: Messages shown on the queue page, at most.
QUEUE_PAGE_LIMIT = 500
QUEUE_ACTION_LABELS = {
    "hold": _("Hold"),
    "release": _("Release"),
    "requeue": _("Requeue"),
    "delete": _("Delete"),
}


def _stale_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=3 * settings.MAILADMIN_STATUS_INTERVAL)


def _host_rows() -> list[dict[str, Any]]:
    now = timezone.now()
    rows = []
    for host in HostStatus.objects.order_by("host"):
        data = host.data or {}
        disk = data.get("mail_base") or None
        queue = (data.get("postfix") or {}).get("queue") or {}
        oldest = queue.get("oldest")
        rows.append(
            {
                "host": host.host,
                "reported_at": host.reported_at,
                "stale": now - host.reported_at > _stale_after(),
                "load": data.get("load"),
                "cpus": data.get("cpus"),
                "disk": disk,
                # The meter turns amber from 75 % and red from 90 %.
                "disk_low": int(disk["total"] * 0.75) if disk else 0,
                "disk_high": int(disk["total"] * 0.9) if disk else 0,
                "disk_percent": round(100 * disk["used"] / disk["total"])
                if disk and disk.get("total")
                else None,
                "postfix_running": (data.get("postfix") or {}).get("running"),
                "queue": queue,
                "oldest": datetime.datetime.fromtimestamp(oldest, tz=datetime.UTC)
                if oldest
                else None,
                "dovecot_running": (data.get("dovecot") or {}).get("running"),
                "workers": host.workers,
            }
        )
    return rows


@superadmin_required
@never_cache
@require_safe
def status(request: HttpRequest) -> HttpResponse:
    collection = StatusCollection.objects.filter(pk=1).first()
    pending = Job.objects.filter(state=Job.State.PENDING)
    oldest_pending = pending.order_by("created_at", "id").first()
    day_ago = timezone.now() - datetime.timedelta(days=1)
    return render(
        request,
        "mailstack/status.html",
        {
            "collection": collection,
            "collection_stale": collection is None
            or timezone.now() - collection.ran_at > _stale_after(),
            "inline": settings.CELERY_TASK_ALWAYS_EAGER,
            "hosts": _host_rows(),
            "jobs": {
                "pending": pending.count(),
                "running": Job.objects.filter(state=Job.State.RUNNING).count(),
                "failed_today": Job.objects.filter(
                    state=Job.State.FAILED, updated_at__gte=day_ago
                ).count(),
                "oldest_pending": oldest_pending,
            },
        },
    )


@superadmin_required
@require_POST
def status_refresh(request: HttpRequest) -> HttpResponse:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        services.collect_status()
        messages.success(request, _("Status read anew."))
    else:
        from mailstack.tasks import collect_status

        try:
            collect_status.apply_async(expires=settings.MAILADMIN_STATUS_INTERVAL)
        except Exception:  # the broker is down: the page says how old the figures are
            messages.error(request, _("The job queue cannot be reached: try again later."))
        else:
            messages.success(
                request,
                _("The workers were asked for their status: reload this page in a few seconds."),
            )
    return redirect("mailstack:status")


@superadmin_required
@never_cache
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    wanted_queue = request.GET.get("queue", "")
    search = request.GET.get("q", "").strip().lower()[:255]
    hosts = _host_rows()
    rows: list[dict[str, Any]] = []
    for host in hosts:
        for message in host["queue"].get("messages", []):
            if wanted_queue and message["queue"] != wanted_queue:
                continue
            if (
                search
                and search not in message["sender"].lower()
                and not any(search in r["address"].lower() for r in message["recipients"])
            ):
                continue
            rows.append(
                {
                    **message,
                    "host": host["host"],
                    "arrived": datetime.datetime.fromtimestamp(message["arrival"], tz=datetime.UTC)
                    if message["arrival"]
                    else None,
                }
            )
    rows.sort(key=lambda m: (m["arrival"], m["queue_id"]))
    return render(
        request,
        "mailstack/queue.html",
        {
            "hosts": hosts,
            "queued": rows[:QUEUE_PAGE_LIMIT],
            "more": max(0, len(rows) - QUEUE_PAGE_LIMIT),
            "queue_names": ("active", "deferred", "hold", "incoming"),
            "wanted_queue": wanted_queue,
            "search": search,
            "actions": QUEUE_ACTION_LABELS,
            "jobs": Job.objects.filter(kind=Job.Kind.POSTFIX_QUEUE).order_by("-created_at", "-id")[
                :10
            ],
        },
    )


@superadmin_required
@require_POST
def queue_action(request: HttpRequest) -> HttpResponse:
    arrival = request.POST.get("arrival", "")
    try:
        job = services.queue_action_request(
            action=request.POST.get("action", ""),
            queue_id=request.POST.get("queue_id", "").strip(),
            arrival=int(arrival) if arrival.isdigit() else None,
            actor=request.user,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Job #%(id)s queued: its result is shown below.") % {"id": job.pk}
        )
    return redirect("mailstack:queue")
