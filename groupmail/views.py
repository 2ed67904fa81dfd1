"""Group mail pages: the past group mails (scoped) and the form that starts one; its progress,
stop button and outcome are on its operation's page (provisioning.views)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from domains.models import Domain
from groupmail import services
from groupmail.forms import GroupMailForm
from groupmail.models import GroupMail
from mailadmin.lib.access import domain_from_query, manager_required
from mailadmin.lib.listing import make_listing


@manager_required
@require_safe
def group_mail_list(request: HttpRequest) -> HttpResponse:
    group_mails = (
        GroupMail.objects.visible_to(request.user)
        .select_related("operation")
        .defer("body", "attachment_data", "operation__payload", "operation__sealed_input")
    )
    listing = make_listing(
        request,
        group_mails,
        search_fields=["subject", "actor"],
        sort_fields={"created": "created_at", "subject": "subject"},
        default_sort="-created",
    )
    return render(request, "groupmail/list.html", {"listing": listing})


@manager_required
@require_http_methods(["GET", "POST"])
def group_mail_new(request: HttpRequest) -> HttpResponse:
    selected = domain_from_query(request)  # ?domain= preselects; 404 for an outsider
    initial = {"domains": [selected.pk]} if selected else {}
    form = GroupMailForm(
        request.POST or None, request.FILES or None, manager=request.user, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            group_mail = services.groupmail_start(
                actor=request.user,
                domains=data["domains"],
                subject=data["subject"],
                body=data["body"],
                skip_expired=data["skip_expired"],
                attachment=data.get("attachment"),
                request=request,
            )
        except Domain.DoesNotExist:
            form.add_error("domains", _("Choose among your domains."))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect(group_mail)
    sender = settings.MAILADMIN_GROUPMAIL_FROM.replace("{domain}", f"<{_('domain')}>")
    return render(request, "groupmail/new.html", {"form": form, "sender": sender})
