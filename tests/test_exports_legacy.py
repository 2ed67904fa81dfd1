"""Exports and the command line over the hostile legacy fixture (legacy pass): odd keys, bare
and unreadable quotas, zero dates and rows whose domain column disagrees with their address
export without an error, scoped by the same rule as the lists."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from test_hostile_legacy import CORP, ROOT, SHOP, client_for, sees

from accounts.models import Manager
from aliases.models import Alias
from aliases.views import NOT_FORWARDING
from domains.models import Domain
from mailboxes.models import Mailbox

pytestmark = [pytest.mark.legacy, pytest.mark.django_db]


def body(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return b"".join(response.streaming_content).decode()


@pytest.mark.parametrize("manager", [ROOT, SHOP, CORP])
def test_every_export_of_the_hostile_rows_streams_to_the_end(manager):
    client = client_for(manager)
    mailboxes = json.loads(body(client, "/export/mailboxes/?format=json"))
    expected = {m.pk for m in Mailbox.objects.all() if sees(manager, m.pk, m.domain_id)}
    assert {row["username"] for row in mailboxes} == expected
    aliases = json.loads(body(client, "/export/aliases/?format=json"))
    expected = {
        a.pk for a in Alias.objects.filter(NOT_FORWARDING) if sees(manager, a.pk, a.domain_id)
    }
    assert {row["address"] for row in aliases} == expected
    domains = list(csv.DictReader(io.StringIO(body(client, "/export/domains/?format=csv"))))
    actor = Manager.objects.get(pk=manager)
    assert len(domains) == Domain.objects.visible_to(actor).count()
    rows = list(csv.DictReader(io.StringIO(body(client, "/export/mailboxes/?format=csv"))))
    assert len(rows) == len(mailboxes)


def test_the_command_line_lists_and_shows_the_hostile_rows():
    out = io.StringIO()
    call_command("mailbox", "list", "--as", ROOT, "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert {row["username"] for row in rows} == set(Mailbox.objects.values_list("pk", flat=True))
    out = io.StringIO()
    call_command("mailbox", "show", "a/b@x.example", "--as", ROOT, "--json", stdout=out)
    assert json.loads(out.getvalue())["username"] == "a/b@x.example"


def test_on_myisam_tables_a_dry_run_or_an_all_or_nothing_batch_is_refused(tmp_path):
    """ExtMan's MyISAM tables cannot roll back: the command refuses what would need it."""
    import sys

    from django.core.management import CommandError

    before = list(Mailbox.objects.order_by("pk").values_list("pk", flat=True))
    batch = "one@shop.example --generate-password\ntwo@shop.example --generate-password\n"
    for args in (
        ["mailbox", "add", "new@shop.example", "--generate-password", "--dry-run"],
        ["mailbox", "add", "--file", "-"],
    ):
        old = sys.stdin
        sys.stdin = io.StringIO(batch)
        try:
            with pytest.raises(CommandError) as caught:
                call_command(*args, "--as", ROOT, stdout=io.StringIO())
        finally:
            sys.stdin = old
        assert caught.value.returncode == 2 and "InnoDB" in str(caught.value)
    assert list(Mailbox.objects.order_by("pk").values_list("pk", flat=True)) == before


def test_the_import_dry_run_writes_nothing_on_myisam_tables():
    from mailboxes import bulk

    before = Mailbox.objects.count()
    rows = [{"local_part": "dry", "name": "", "password": "Correct-Horse-9"}]
    created = bulk.mailbox_import(
        domain="shop.example",
        rows=rows,
        actor=Manager.objects.get(pk=ROOT),
        dry_run=True,
    )
    assert [m.username for m in created] == ["dry@shop.example"]
    assert Mailbox.objects.count() == before
