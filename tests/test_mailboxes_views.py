"""Mailbox pages: the permission matrix, the list, forms with bad input, bulk actions."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from aliases.models import Alias
from audit.models import AuditEntry
from conftest import PASSWORD, PERSONAS
from domains.models import Domain
from domains.usage import recompute_domain
from mailadmin.lib import dates
from mailadmin.lib.passwords import verify_password
from mailboxes import indexes
from mailboxes.models import Mailbox
from provisioning.models import Job

MB = 1024 * 1024
ADDRESS = "user@a.test"
ALLOWED = {"superadmin", "admin_a"}


def url(name, *args, query=""):
    return reverse(f"mailboxes:{name}", args=args) + query


def add_data(**overrides):
    data = {
        "local_part": "alice",
        "domain": "a.test",
        "name": "Alice",
        "password1": "Sturdy-Pass-42",
        "password2": "Sturdy-Pass-42",
        "quota": "100",
        "netdiskquota": "0",
        "expiredate": "",
        "active": "on",
        "enable_smtpd": "on",
        "enable_smtp": "on",
        "enable_webmail": "on",
        "enable_imap": "on",
        "enable_pop3": "on",
        "forward_to": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def form_post_data(form):
    """What a browser posts back from an unchanged form."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is None:
            data[name] = ""
        elif isinstance(value, datetime.date):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    return data


def snapshot_db():
    return (
        sorted(Mailbox.objects.values_list("username", "quota", "active", "password", "name")),
        sorted(Alias.objects.values_list("address", "goto")),
        Job.objects.count(),
        AuditEntry.objects.count(),
    )


def expected(persona, allowed_status):
    if persona in ("user_a", "anonymous"):
        return 302
    return allowed_status if persona in ALLOWED else 404


def assert_no_leak(persona, response):
    if persona == "admin_b":
        assert ADDRESS not in response.content.decode()


# --- permission matrix (GET of every page: tests/test_permission_matrix.py) ---------------------
GET_PAGES = [
    ("list", (), "?domain=a.test"),
    ("add", (), "?domain=a.test"),
    ("detail", (ADDRESS,), ""),
    ("edit", (ADDRESS,), ""),
    ("delete", (ADDRESS,), ""),
    ("rename", (ADDRESS,), ""),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("name", "args"), [("list", ()), ("detail", (ADDRESS,))])
def test_read_only_pages_refuse_post(client_as, persona, name, args):
    """After the login; and a mailbox of another domain is not found, whatever the method."""
    before = snapshot_db()
    response = client_as(persona).post(url(name, *args))
    if persona in ("user_a", "anonymous"):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
    elif persona == "admin_b" and args:
        assert response.status_code == 404
    else:
        assert response.status_code == 405
    assert snapshot_db() == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_add_post_matrix(client_as, persona):
    response = client_as(persona).post(url("add", query="?domain=a.test"), add_data())
    assert response.status_code == expected(persona, 302)
    assert Mailbox.objects.filter(pk="alice@a.test").exists() == (persona in ALLOWED)
    assert_no_leak(persona, response)


@pytest.mark.parametrize("persona", PERSONAS)
def test_edit_post_matrix(client_as, persona):
    response = client_as(persona).post(url("edit", ADDRESS), add_data(name="Changed"))
    assert response.status_code == expected(persona, 302)
    assert (Mailbox.objects.get(pk=ADDRESS).name == "Changed") == (persona in ALLOWED)
    assert_no_leak(persona, response)


@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_post_matrix(client_as, persona):
    response = client_as(persona).post(url("delete", ADDRESS))
    assert response.status_code == expected(persona, 302)
    assert Mailbox.objects.filter(pk=ADDRESS).exists() == (persona not in ALLOWED)
    assert_no_leak(persona, response)


@pytest.mark.parametrize("persona", PERSONAS)
def test_rename_post_matrix(client_as, persona):
    response = client_as(persona).post(url("rename", ADDRESS), {"local_part": "renamed"})
    assert response.status_code == expected(persona, 302)
    assert Mailbox.objects.filter(pk="renamed@a.test").exists() == (persona in ALLOWED)
    assert_no_leak(persona, response)


@pytest.mark.parametrize("persona", PERSONAS)
def test_bulk_post_matrix(client_as, persona):
    response = client_as(persona).post(url("bulk"), {"action": "disable", "addresses": [ADDRESS]})
    assert response.status_code == expected(persona, 302)
    assert Mailbox.objects.get(pk=ADDRESS).active == (persona not in ALLOWED)
    assert_no_leak(persona, response)


def test_domain_admin_cannot_add_into_another_domain_by_posting_it(client_as):
    response = client_as("admin_b").post(url("add"), add_data(domain="a.test"))
    assert response.status_code == 200
    assert "domain" in response.context["form"].errors
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()


# --- list --------------------------------------------------------------------------------------
def test_list_is_scoped_and_searchable(client_as, make_mailbox):
    make_mailbox("other@b.test", name="Other")
    make_mailbox("carol@a.test", name="Carol Singer")
    body = client_as("admin_b").get(url("list")).content.decode()
    assert "other@b.test" in body and ADDRESS not in body
    response = client_as("superadmin").get(url("list", query="?q=singer&match=contains"))
    assert [m.username for m in response.context["listing"].objects] == ["carol@a.test"]
    response = client_as("superadmin").get(url("list", query="?domain=b.test"))
    assert [m.username for m in response.context["listing"].objects] == ["other@b.test"]


def test_list_sorts_quota_by_size_not_by_text(client_as, make_mailbox):
    make_mailbox("big@a.test", quota=f"{900 * MB}S")
    make_mailbox("small@a.test", quota=f"{90 * MB}S,100C")
    Mailbox.objects.filter(pk=ADDRESS).update(quota=str(1000 * MB))  # behind the panel's back
    indexes.reindex_all()  # the periodic recompute corrects the sort key
    response = client_as("admin_a").get(url("list", query="?domain=a.test&sort=-quota"))
    assert [m.username for m in response.context["listing"].objects] == [
        ADDRESS,
        "big@a.test",
        "small@a.test",
    ]


@pytest.mark.parametrize("domain", ["b.test", "nowhere.test", "not a domain", "../.."])
def test_list_of_an_invisible_or_unknown_domain_is_404(client_as, domain):
    response = client_as("admin_a").get(url("list"), {"domain": domain})
    assert response.status_code == 404


def test_empty_list_says_what_to_do(client_as, make_domain):
    make_domain("empty.test")
    body = client_as("superadmin").get(url("list", query="?domain=empty.test")).content.decode()
    assert 'data-testid="empty-state"' in body and url("add", query="?domain=empty.test") in body


@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
def test_list_query_count_does_not_grow_with_the_table(client_as, make_mailbox, persona):
    client = client_as(persona)
    client.get(url("list", query="?domain=a.test"))  # creates the usage row of a.test
    counts = []
    for size in (30, 90):  # more than a page of 25 at both sizes
        for n in range(Mailbox.objects.filter(domain_id="a.test").count(), size):
            make_mailbox(f"m{n:03d}@a.test")
        recompute_domain("a.test")  # written behind the panel's back
        for query in ("?domain=a.test", "?q=m0&sort=-quota"):
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(url("list", query=query))
            assert response.status_code == 200
            counts.append(len(ctx))
            assert response.context["listing"].total == size - ("q=" in query)
    # The total of a domain comes from its usage row (no COUNT), read with the domain in one
    # query; a search counts at most 1,001 rows, after one lookup in the word index of display
    # names. A domain admin's list of all their mailboxes reads their domain names first
    # (list_scope).
    assert counts[:2] == counts[2:] == [4, 5 if persona == "superadmin" else 6], counts


@pytest.mark.parametrize("size", [5, 50])
def test_list_query_count_is_pinned(client_as, make_mailbox, django_assert_num_queries, size):
    client = client_as("admin_a")
    for n in range(size):
        make_mailbox(f"m{n:03d}@a.test")
    # The mailboxes were written behind the panel's back: the first read of the domain's
    # figures creates its usage row (two grouped counts, one insert), and the session is
    # loaded and touched once.
    client.get(url("list"))
    # session, manager, the visible domain with its usage (the total), page
    with django_assert_num_queries(4):
        response = client.get(url("list", query="?domain=a.test&per_page=200"))
    assert response.context["listing"].total == size + 1  # and user@a.test
    # session, manager, the admin's domain names, the total from the usage rows, page
    with django_assert_num_queries(5):
        client.get(url("list"))


def test_detail_query_count_does_not_grow_with_the_table(client_as, make_mailbox):
    """The page checks that the home is the mailbox's own by two index lookups of the paths
    around it (mailboxes.homes), not by reading the domain's mailboxes."""
    client = client_as("admin_a")
    counts = []
    for size in (20, 200):
        Mailbox.objects.bulk_create(
            Mailbox(
                username=f"d{n:03d}@a.test",
                uid=f"d{n:03d}",
                domain_id="a.test",
                homedir=f"a.test/d{n:03d}",
                maildir=f"a.test/d{n:03d}/Maildir/",
            )
            for n in range(Mailbox.objects.filter(uid__startswith="d").count(), size)
        )
        client.get(url("detail", ADDRESS))
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("detail", ADDRESS)).status_code == 200
        counts.append(len(ctx))
    assert counts[0] == counts[1], counts


@pytest.mark.mariadb
def test_on_mariadb_the_home_check_of_the_detail_page_reads_index_ranges(client_as, make_mailbox):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    Mailbox.objects.bulk_create(
        Mailbox(
            username=f"d{n:03d}@a.test",
            uid=f"d{n:03d}",
            domain_id="a.test",
            homedir=f"a.test/d{n:03d}",
            maildir=f"a.test/d{n:03d}/Maildir/",
        )
        for n in range(300)
    )
    client = client_as("admin_a")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url("detail", "d150@a.test")).status_code == 200
    checks = [
        q["sql"]
        for q in ctx.captured_queries
        if "`homedir` IN" in q["sql"] or "`maildir` IN" in q["sql"]
    ]
    assert len(checks) == 2, checks
    for sql in checks:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            columns = [c[0] for c in cursor.description]
            plan = dict(zip(columns, cursor.fetchone(), strict=True))
        assert plan["type"] == "range", plan
        assert plan["key"] in ("mailadmin_mailbox_homedir", "mailadmin_mailbox_maildir"), plan
        assert int(plan["rows"]) < 50, plan


# --- add ---------------------------------------------------------------------------------------
def test_add_form_is_prefilled_from_the_domain_template(client_as):
    Domain.objects.filter(pk="a.test").update(
        default_quota=f"{50 * MB}S", default_expire="30d", disableimap=1
    )
    form = client_as("admin_a").get(url("add", query="?domain=a.test")).context["form"]
    assert form["quota"].value() == 50
    assert form["expiredate"].value() == dates.today() + datetime.timedelta(days=30)
    assert form["enable_imap"].value() is False and form.fields["enable_imap"].disabled
    assert "mailhost" not in form.fields and "uidnumber" not in form.fields


def test_add_without_a_domain_asks_for_one_when_there_are_several(client_as):
    response = client_as("superadmin").get(url("add"))
    assert response.templates[0].name == "mailboxes/choose_domain.html"
    response = client_as("admin_a").get(url("add"))
    assert response.context["form"]["domain"].value() == "a.test"


def test_add_creates_and_redirects_to_the_mailbox_page(client_as):
    response = client_as("admin_a").post(
        url("add", query="?domain=a.test"),
        add_data(local_part="Alice", forward_to="Fwd@Ext.Example\n", forward_keep_copy="on"),
    )
    assert response["Location"] == url("detail", "alice@a.test")
    assert Alias.objects.get(pk="alice@a.test").goto == "fwd@ext.example,alice@a.test"
    page = client_as("admin_a").get(url("detail", "alice@a.test")).content.decode()
    assert "fwd@ext.example" in page and 'data-testid="job-state"' in page


BAD_INPUT = [
    ({"local_part": "../etc"}, "local_part"),
    ({"local_part": "a..b"}, "local_part"),
    ({"local_part": "x" * 65}, "local_part"),
    ({"local_part": "user"}, "local_part"),  # a mailbox
    ({"local_part": "sales"}, "local_part"),  # an alias
    ({"password2": "different"}, "password2"),
    ({"password1": "", "password2": ""}, "password1"),
    ({"password1": "password", "password2": "password"}, "password1"),
    ({"quota": "-1"}, "quota"),
    ({"quota": "abc"}, "quota"),
    ({"quota": "301"}, "quota"),  # over the domain's total
    ({"expiredate": "2031-01-01"}, "expiredate"),  # after the domain's
    ({"expiredate": "31/12/2030"}, "expiredate"),
    ({"name": "n" * 256}, "name"),
    ({"question": "q" * 1001}, "question"),
    ({"forward_to": "not-an-address"}, "forward_to"),
    ({"forward_to": "alice@a.test"}, "forward_to"),
    ({"domain": "b.test"}, "domain"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_INPUT)
def test_bad_input_shows_field_errors_and_changes_nothing(client_as, overrides, field):
    Domain.objects.filter(pk="a.test").update(
        maxquota=f"{300 * MB}S", expiredate=datetime.date(2030, 12, 31)
    )
    Alias.objects.create(address="sales@a.test", goto=ADDRESS, domain_id="a.test")
    Mailbox.objects.filter(pk=ADDRESS).update(quota="0")
    before = snapshot_db()
    response = client_as("admin_a").post(url("add", query="?domain=a.test"), add_data(**overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert 'class="invalid-feedback' in response.content.decode()
    assert snapshot_db() == before


# --- edit --------------------------------------------------------------------------------------
def test_unchanged_edit_of_a_legacy_row_keeps_every_column_byte_identical(
    client_as, make_domain, settings
):
    settings.MAILADMIN_ISP_MODE = True
    make_domain("legacy.test", hashdirpath="A0/B1")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mailbox (username, uid, password, clearpwd, name, mailhost, maildir,"
            " homedir, quota, netdiskquota, domain, uidnumber, gidnumber, createdate, expiredate,"
            " active, disablepwdchange, disablesmtpd, disablesmtp, disablewebmail, disablenetdisk,"
            " disableimap, disablepop3, question, answer) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL, NULL, NULL, NULL, NULL, NULL, %s, %s)",
            [
                "old@legacy.test",
                "old",
                "$1$abcdefgh$0123456789abcdefABCDEF",
                "secret",
                "Old Timer ",
                "legacyhost",
                "A0/B1/legacy.test/3F/9C/old/Maildir/",
                "A0/B1/legacy.test/3F/9C/old",
                "104857600S,2000C",
                "5242881",
                "legacy.test",
                523,
                523,
                "2009-03-04 05:06:07",
                "0000-00-00",
                1,
                "Pet?",
                "rex",
            ],
        )
        Alias.objects.create(
            address="old@legacy.test",
            goto="old@legacy.test,fwd@ext.example",
            domain_id="legacy.test",
        )

    def row():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM mailbox WHERE username = %s", ["old@legacy.test"])
            return cursor.fetchone()

    before, alias_before, audit_before = (
        row(),
        Alias.objects.get(pk="old@legacy.test").goto,
        (AuditEntry.objects.count()),
    )
    for persona in ("superadmin",):
        client = client_as(persona)
        form = client.get(url("edit", "old@legacy.test")).context["form"]
        assert form["quota"].value() == 100 and form["forward_keep_copy"].value() is True
        response = client.post(url("edit", "old@legacy.test"), form_post_data(form))
        assert response.status_code == 302, response.context["form"].errors
    assert row() == before
    assert Alias.objects.get(pk="old@legacy.test").goto == alias_before
    assert AuditEntry.objects.count() == audit_before
    assert not Job.objects.exists()


def test_unchanged_edit_by_a_domain_admin_keeps_the_row(client_as):
    Mailbox.objects.filter(pk=ADDRESS).update(quota="104857600S,2000C", disableimap=None)
    Domain.objects.filter(pk="a.test").update(disablepop3=1)
    before = Mailbox.objects.filter(pk=ADDRESS).values().get()
    client = client_as("admin_a")
    form = client.get(url("edit", ADDRESS)).context["form"]
    response = client.post(url("edit", ADDRESS), form_post_data(form))
    assert response.status_code == 302
    assert Mailbox.objects.filter(pk=ADDRESS).values().get() == before


def test_edit_changes_only_what_changed(client_as):
    client = client_as("admin_a")
    form = client.get(url("edit", ADDRESS)).context["form"]
    data = form_post_data(form)
    data.update(quota="20", password1="New-Secret-77", password2="New-Secret-77")
    assert client.post(url("edit", ADDRESS), data).status_code == 302
    stored = Mailbox.objects.get(pk=ADDRESS)
    assert stored.quota == f"{20 * MB}S" and verify_password("New-Secret-77", stored.password)
    assert Job.objects.get().kind == Job.Kind.MAILDIR_QUOTA
    entry = AuditEntry.objects.get(action="mailbox.update")
    assert set(entry.changes) == {"quota", "password"}


def test_edit_with_over_limit_quota_changes_nothing(client_as):
    Domain.objects.filter(pk="a.test").update(maxquota=f"{10 * MB}S")
    Mailbox.objects.filter(pk=ADDRESS).update(quota=f"{5 * MB}S")
    client = client_as("admin_a")
    data = form_post_data(client.get(url("edit", ADDRESS)).context["form"])
    data.update(quota="11", name="Should not stick")
    before = snapshot_db()
    response = client.post(url("edit", ADDRESS), data)
    assert response.status_code == 200 and "quota" in response.context["form"].errors
    assert snapshot_db() == before


# --- delete and rename -------------------------------------------------------------------------
def test_delete_page_lists_affected_aliases_and_hides_purge_when_not_allowed(client_as, settings):
    settings.MAILADMIN_PURGE_ALLOWED = False
    Alias.objects.create(address="team@a.test", goto=ADDRESS, domain_id="a.test")
    body = client_as("admin_a").get(url("delete", ADDRESS)).content.decode()
    assert "team@a.test" in body and 'name="purge"' not in body


def test_forged_purge_is_refused(client_as, settings):
    settings.MAILADMIN_PURGE_ALLOWED = False
    before = snapshot_db()
    response = client_as("admin_a").post(url("delete", ADDRESS), {"purge": "on"})
    assert response.status_code == 200
    assert "disabled on this server" in response.content.decode()
    assert snapshot_db() == before


def test_purge_when_allowed_queues_a_purge_job(client_as, settings):
    settings.MAILADMIN_PURGE_ALLOWED = True
    client = client_as("admin_a")
    assert 'name="purge"' in client.get(url("delete", ADDRESS)).content.decode()
    response = client.post(url("delete", ADDRESS), {"purge": "on"})
    assert response["Location"] == url("list", query="?domain=a.test")
    assert Job.objects.get().kind == Job.Kind.MAILDIR_PURGE


def test_rename_with_bad_or_taken_local_part_changes_nothing(client_as, make_mailbox):
    make_mailbox("taken@a.test")
    before = snapshot_db()
    for local in ("../x", "taken", "user"):
        response = client_as("admin_a").post(url("rename", ADDRESS), {"local_part": local})
        assert response.status_code == 200 and "local_part" in response.context["form"].errors
    assert snapshot_db() == before


# --- bulk --------------------------------------------------------------------------------------
def test_bulk_reset_password_confirms_then_shows_the_passwords_once(client_as, make_mailbox):
    make_mailbox("two@a.test")
    client = client_as("admin_a")
    data = {"action": "reset_password", "addresses": [ADDRESS, "two@a.test"]}
    before = snapshot_db()
    response = client.post(url("bulk"), data)
    assert response.status_code == 200 and 'name="confirm"' in response.content.decode()
    assert snapshot_db() == before
    response = client.post(url("bulk"), {**data, "confirm": "1"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    passwords = dict(response.context["passwords"])
    assert set(passwords) == {ADDRESS, "two@a.test"}
    for address, password in passwords.items():
        assert password in response.content.decode()
        assert verify_password(password, Mailbox.objects.get(pk=address).password)
    again = client.get(url("list", query="?domain=a.test")).content.decode()
    assert not any(password in again for password in passwords.values())


def test_bulk_delete_needs_confirmation(client_as):
    client = client_as("admin_a")
    response = client.post(url("bulk"), {"action": "delete", "addresses": [ADDRESS]})
    assert response.status_code == 200 and Mailbox.objects.filter(pk=ADDRESS).exists()
    response = client.post(
        url("bulk"),
        {"action": "delete", "addresses": [ADDRESS], "confirm": "1", "domain": "a.test"},
    )
    assert response["Location"] == url("list", query="?domain=a.test")
    assert not Mailbox.objects.filter(pk=ADDRESS).exists()


def test_bulk_with_one_invisible_address_is_404_and_changes_nothing(client_as, make_mailbox):
    make_mailbox("someone@b.test")
    before = snapshot_db()
    response = client_as("admin_a").post(
        url("bulk"), {"action": "disable", "addresses": [ADDRESS, "someone@b.test"]}
    )
    assert response.status_code == 404
    assert snapshot_db() == before


def test_bulk_set_quota_over_the_limit_shows_the_error_and_changes_nothing(client_as):
    Domain.objects.filter(pk="a.test").update(maxquota=f"{10 * MB}S")
    Mailbox.objects.filter(pk=ADDRESS).update(quota=f"{5 * MB}S")
    before = snapshot_db()
    response = client_as("admin_a").post(
        url("bulk"), {"action": "set_quota", "quota": "11", "addresses": [ADDRESS]}
    )
    assert response.status_code == 200 and 'data-testid="bulk-errors"' in response.content.decode()
    assert snapshot_db() == before


def test_bulk_without_selection_or_quota_shows_errors(client_as):
    client = client_as("admin_a")
    response = client.post(url("bulk"), {"action": "set_quota", "addresses": [ADDRESS]})
    assert response.status_code == 200 and "quota" in response.context["form"].errors
    # Nothing ticked: back to the list with a message (tests/test_list_quick_actions.py).
    response = client.post(url("bulk"), {"action": "enable"})
    assert response.status_code == 302


def test_detail_shows_open_jobs_and_no_password_material(client_as):
    Job.objects.create(
        kind=Job.Kind.MAILDIR_CREATE,
        state=Job.State.FAILED,
        queue="maildir.default",
        domain="a.test",
        object_id=ADDRESS,
        last_error="disk full",
    )
    body = client_as("admin_a").get(url("detail", ADDRESS)).content.decode()
    assert "disk full" in body
    assert Mailbox.objects.get(pk=ADDRESS).password not in body
    assert PASSWORD not in body


@pytest.mark.parametrize(("name", "args", "query"), GET_PAGES)
def test_pages_have_no_inline_script_or_style_and_a_breadcrumb(client_as, name, args, query):
    body = client_as("superadmin").get(url(name, *args, query=query)).content.decode()
    assert "style=" not in body
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)
    assert 'aria-label="breadcrumb"' in body and "a.test" in body


def test_unchanged_edit_keeps_a_legacy_self_alias(client_as):
    Alias.objects.create(address=ADDRESS, goto=ADDRESS, domain_id="a.test")
    client = client_as("admin_a")
    form = client.get(url("edit", ADDRESS)).context["form"]
    assert form["forward_to"].value() == "" and form["forward_keep_copy"].value() is True
    assert client.post(url("edit", ADDRESS), form_post_data(form)).status_code == 302
    assert Alias.objects.get(pk=ADDRESS).goto == ADDRESS
