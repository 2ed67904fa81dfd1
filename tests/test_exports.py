"""Downloads of the domain, mailbox and alias lists (docs/cli.md, "Export"): streamed in keyset
chunks, scoped like the lists, honouring their filter and search, formula-safe CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from aliases.models import Alias
from exports import tables
from exports.formats import neutralise
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db


def download(client, table: str, query: str = "") -> tuple[object, str]:
    response = client.get(reverse(f"exports:{table}") + query)
    body = b"".join(response.streaming_content).decode() if response.streaming else ""
    return response, body


def csv_rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def test_the_mailbox_list_link_downloads_what_the_list_shows(client_as, personas, make_mailbox):
    for local in ("anna", "anton", "bert"):
        make_mailbox(f"{local}@a.test")
    client = client_as("admin_a")
    page = client.get(reverse("mailboxes:list") + "?domain=a.test&q=an&sort=-name&page=1")
    link = reverse("exports:mailboxes") + "?domain=a.test&amp;q=an&amp;format=csv"
    assert link in page.content.decode()
    response, body = download(client, "mailboxes", "?domain=a.test&q=an&format=csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="mailboxes-a.test-')
    assert [row["username"] for row in csv_rows(body)] == ["anna@a.test", "anton@a.test"]


def test_a_domain_admin_exports_only_their_own_rows(client_as, personas, make_mailbox):
    make_mailbox("secret@b.test")
    Alias.objects.create(address="x@b.test", goto="secret@b.test", domain_id="b.test")
    Alias.objects.create(address="y@a.test", goto="user@a.test", domain_id="a.test")
    client = client_as("admin_a")
    _response, body = download(client, "mailboxes", "?format=json")
    assert [row["username"] for row in json.loads(body)] == ["user@a.test"]
    _response, body = download(client, "aliases", "?format=json")
    assert [row["address"] for row in json.loads(body)] == ["y@a.test"]
    _response, body = download(client, "domains", "?format=csv")
    assert [row["domain"] for row in csv_rows(body)] == ["a.test"]
    assert client.get(reverse("exports:mailboxes") + "?domain=b.test").status_code == 404
    _response, body = download(client_as("superadmin"), "mailboxes", "?format=json")
    assert {row["username"] for row in json.loads(body)} == {"user@a.test", "secret@b.test"}


def test_the_alias_export_leaves_out_forwardings_which_the_mailbox_rows_carry(client_as, personas):
    Alias.objects.create(address="user@a.test", goto="user@a.test,far@b.test", domain_id="a.test")
    Alias.objects.create(address="team@a.test", goto="user@a.test", domain_id="a.test")
    client = client_as("admin_a")
    _response, body = download(client, "aliases", "?domain=a.test&format=json")
    assert [row["address"] for row in json.loads(body)] == ["team@a.test"]
    _response, body = download(client, "mailboxes", "?domain=a.test&format=json")
    (row,) = json.loads(body)
    assert row["forward_to"] == "far@b.test" and row["forward_keep_copy"] is True


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(client_as, personas, start):
    Mailbox.objects.filter(pk="user@a.test").update(name=f'{start}HYPERLINK("http://x")')
    _response, body = download(client_as("admin_a"), "mailboxes", "?domain=a.test")
    (row,) = csv_rows(body)
    assert row["name"] == f'\'{start}HYPERLINK("http://x")'
    _response, body = download(client_as("admin_a"), "mailboxes", "?domain=a.test&format=json")
    assert json.loads(body)[0]["name"] == f'{start}HYPERLINK("http://x")'  # JSON keeps it


def test_neutralise_leaves_plain_text_and_numbers():
    assert neutralise("alice") == "alice"
    assert neutralise(5) == 5
    assert neutralise(True) == 1
    assert neutralise("@a.test") == "'@a.test"


def test_rows_are_read_in_keyset_chunks_each_query_bounded(
    personas, make_mailbox, django_assert_max_num_queries, settings
):
    for number in range(25):
        make_mailbox(f"u{number:02d}@a.test")
    spec = tables.TABLES["mailboxes"]
    queryset = tables.scoped_queryset(spec, personas["superadmin"])
    stream = tables.export_rows(spec, queryset, chunk_size=10)
    seen = []
    # One query per chunk (the forwarding is a subquery of it): 10 + 10 + 6 rows.
    with django_assert_max_num_queries(3) as captured:
        for row in stream:
            seen.append(row["username"])
    assert seen == sorted(seen) and len(seen) == 26
    limits = [q["sql"] for q in captured.captured_queries if "LIMIT 10" in q["sql"]]
    assert len(limits) == 3
    assert all('"mailbox"."username" >' in sql or "username` >" in sql for sql in limits[1:])


def test_the_response_is_sent_before_the_rows_are_read(client_as, personas):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        response = client_as("admin_a").get(reverse("exports:mailboxes") + "?format=csv")
    assert response.streaming
    assert not [q for q in before.captured_queries if "LIMIT 2000" in q["sql"]]
    with CaptureQueriesContext(connection) as during:
        body = b"".join(response.streaming_content).decode()
    assert [q for q in during.captured_queries if "LIMIT 2000" in q["sql"]]
    assert body.startswith("username,domain,")


def test_an_unknown_format_falls_back_to_csv_and_a_search_with_emoji_finds_nothing(
    client_as, personas
):
    response, body = download(client_as("admin_a"), "mailboxes", "?format=xml&q=%F0%9F%98%80")
    assert response["Content-Type"].startswith("text/csv")
    assert body.splitlines()[1:] == []


def test_the_download_makes_one_query_per_chunk_whatever_the_rows(
    client_as, personas, make_mailbox, monkeypatch, django_assert_num_queries
):
    monkeypatch.setitem(tables.export_rows.__kwdefaults__, "chunk_size", 10)
    for number in range(34):
        make_mailbox(f"m{number:02d}@a.test")
    client = client_as("superadmin")
    client.get("/")  # the session is loaded once before counting
    # session + manager, then 4 chunks of 10, 10, 10 and 5 rows.
    with django_assert_num_queries(6):
        response = client.get(reverse("exports:mailboxes") + "?format=json")
        rows = json.loads(b"".join(response.streaming_content))
    assert len(rows) == 35
