"""``manage.py bench_ui --writes``: add, edit and delete go through the views and leave the
data as the run found it."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from aliases.models import Alias
from domains.models import Domain
from mailadmin.management.commands.bench_ui import BIG, WRITE_PREFIX
from mailboxes.models import Mailbox, NameWord
from provisioning.models import Job

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(
        "bench_ui", "--largest", "40", "--domains", "2", "--per-domain", "3", *args, stdout=out
    )
    return out.getvalue()


def snapshot() -> dict[str, object]:
    return {
        "mailboxes": sorted(Mailbox.objects.values_list("username", "name", "quota")),
        "aliases": sorted(Alias.objects.values_list("address", "goto")),
        "usage": sorted(
            Domain.objects.values_list("domain", "usage__mailboxes", "usage__quota_bytes")
        ),
        "words": NameWord.objects.count(),
        "jobs": Job.objects.count(),
    }


def test_writes_time_add_edit_and_delete_and_leave_the_data_as_found(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    run("--runs", "1", "--only", "nothing")  # seeds
    before = snapshot()
    out = run("--runs", "3", "--only", "nothing", "--writes")
    for kind in ("add", "edit", "delete"):
        row = re.search(rf"\| {kind} mailbox \(largest domain\)\s+\| domain admin \|(.*)\|", out)
        assert row, out
        median, _p95, _sql, queries = (cell.strip() for cell in row[1].split("|"))
        assert float(median) > 0 and int(queries) > 0
    assert snapshot() == before
    assert not Mailbox.objects.filter(username__startswith=WRITE_PREFIX).exists()


def test_writes_refuse_what_the_domain_limits_refuse(settings):
    """The add goes through the form and the service: a full domain stops the run."""
    settings.ALLOWED_HOSTS = ["testserver"]
    run("--runs", "1", "--only", "nothing")
    Domain.objects.filter(pk=BIG).update(maxusers=40)  # as many as it holds
    with pytest.raises(CommandError, match=r"^add .*: HTTP 200, no redirect$"):
        run("--runs", "1", "--only", "nothing", "--writes")
    assert not Mailbox.objects.filter(username__startswith=WRITE_PREFIX).exists()
