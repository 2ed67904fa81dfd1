"""The superadmin's mail system page: generated files, managed tables, service actions."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from audit.services import audit_record
from mailadmin.lib.access import superadmin_required
from mailstack import checks, config, services, tables
from mailstack.actions import ACTIONS
from mailstack.forms import REBUILD_TABLES, ServiceActionForm
from mailstack.models import InternalOnly
from provisioning.models import Job

RECENT_JOBS = 10


@superadmin_required
@never_cache
@require_safe
def system(request: HttpRequest) -> HttpResponse:
    error = ""
    files: list[tuple[str, str, str]] = []
    main_cf = ""
    try:
        dirs = config.install_dirs()
        main_cf = config.main_cf(dirs)
        install = {item.name: item.path for item in config.install_plan(dirs)}
        rendered = config.render_all(config.masked(config.database_params()), dirs)
        files = [(name, text, install[name]) for name, text in rendered.items()]
    except config.MailstackConfigError as exc:
        error = str(exc)
    jobs = list(
        Job.objects.filter(kind__in=[Job.Kind.POSTFIX_TABLES, Job.Kind.SERVICE_ACTION]).order_by(
            "-created_at", "-id"
        )[:RECENT_JOBS]
    )
    for job in jobs:  # the action in words, as on its button
        job.action_label = ACTIONS[job.object_id][0] if job.object_id in ACTIONS else ""
    return render(
        request,
        "mailstack/system.html",
        {
            "error": error,
            "files": files,
            "main_cf_name": config.MAIN_CF,
            "secret_files": config.SECRET_FILES,
            "main_cf": main_cf,
            "sasl": checks.postfix_sasl_check(),
            "tables": tables.table_contents(),
            "postfix_dir": str(settings.MAILADMIN_POSTFIX_DIR),
            "internal_only_count": InternalOnly.objects.count(),
            "actions": [(REBUILD_TABLES, _("Rebuild the Postfix tables"))]
            + [(name, label) for name, (label, _builder) in ACTIONS.items()],
            "jobs": jobs,
        },
    )


@superadmin_required
@never_cache
@require_safe
def download(request: HttpRequest, name: str) -> HttpResponse:
    """One generated file as it must be installed, database password included."""
    try:
        files = config.render_all(config.database_params())
    except config.MailstackConfigError as exc:
        raise Http404 from exc
    if name not in files:
        raise Http404
    if name in config.SECRET_FILES:
        audit_record(
            actor=request.user,
            action="mailstack.download",
            request=request,
            object_type="file",
            object_id=name,
        )
    response = HttpResponse(files[name], content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@superadmin_required
@require_POST
def action(request: HttpRequest) -> HttpResponse:
    form = ServiceActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the listed actions."))
        return redirect("mailstack:system")
    name = form.cleaned_data["action"]
    if name == REBUILD_TABLES:
        job = services.postfix_tables_request(actor=request.user)
    else:
        job = services.service_action_request(action=name, actor=request.user, request=request)
    messages.success(
        request, _("Job #%(id)s queued: see its result below or on the jobs page.") % {"id": job.pk}
    )
    return redirect("mailstack:system")
