"""Moving a site without resetting passwords: the mailbox import (file and command line) takes
existing hashes of every scheme the panel verifies, and the people log in with their old
password afterwards: through the panel's own login, and through the test mail stack's Dovecot.
Also the import's "Dry run" button."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from passlib.hash import (
    bcrypt,
    des_crypt,
    ldap_md5,
    ldap_salted_sha1,
    ldap_sha1,
    md5_crypt,
    sha256_crypt,
    sha512_crypt,
)

from audit.models import AuditEntry
from conftest import PASSWORD
from mailadmin.lib.passwords import identify, importable_hash, verify_password
from mailboxes import bulk
from mailboxes.models import Mailbox
from provisioning import operations
from provisioning.models import Job, Operation

pytestmark = pytest.mark.django_db

SHA512 = sha512_crypt.using(rounds=5000)
SHA256 = sha256_crypt.using(rounds=5000)
MD5_HEX = hashlib.md5(PASSWORD.encode()).hexdigest()  # noqa: S324 - a legacy scheme under test

#: name -> (the hash as another server stored it, the form the panel stores)
SCHEMES = {
    "md5crypt": (lambda: md5_crypt.hash(PASSWORD), "$1$"),
    "crypt-md5crypt": (lambda: "{CRYPT}" + md5_crypt.hash(PASSWORD), "$1$"),
    "md5-crypt-prefix": (lambda: "{MD5-CRYPT}" + md5_crypt.hash(PASSWORD), "$1$"),
    "crypt-sha512": (lambda: "{CRYPT}" + SHA512.hash(PASSWORD), "{CRYPT}$6$"),
    "bare-sha512": (lambda: SHA512.hash(PASSWORD), "{CRYPT}$6$"),
    "sha512-crypt-prefix": (lambda: "{SHA512-CRYPT}" + SHA512.hash(PASSWORD), "{CRYPT}$6$"),
    "bare-sha256": (lambda: SHA256.hash(PASSWORD), "{CRYPT}$5$"),
    "sha256-crypt-prefix": (lambda: "{SHA256-CRYPT}" + SHA256.hash(PASSWORD), "{CRYPT}$5$"),
    "des-crypt": (lambda: des_crypt.hash(PASSWORD), ""),
    "plain-md5-hex": (lambda: MD5_HEX, "{MD5}"),
    "plain-md5-prefix": (lambda: "{PLAIN-MD5}" + MD5_HEX, "{MD5}"),
    "ldap-md5": (lambda: ldap_md5.hash(PASSWORD), "{MD5}"),
    "ldap-sha1": (lambda: ldap_sha1.hash(PASSWORD), "{SHA}"),
    "ldap-ssha": (lambda: ldap_salted_sha1.hash(PASSWORD), "{SSHA}"),
    "bcrypt": (lambda: bcrypt.using(ident="2y", rounds=5).hash(PASSWORD), "{BLF-CRYPT}$2y$"),
    "blf-crypt-prefix": (
        lambda: "{BLF-CRYPT}" + bcrypt.using(ident="2y", rounds=5).hash(PASSWORD),
        "{BLF-CRYPT}$2y$",
    ),
}
NOT_HASHES = (
    PASSWORD,
    "{PLAIN}" + PASSWORD,
    "{CLEARTEXT}" + PASSWORD,
    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$abc$def",
    "pbkdf2_sha256$600000$salt$hash",
    "$1$short",
    "{SHA}not-base64!",
)


def portal_login_works(address: str, password: str) -> bool:
    response = Client().post(reverse("portal:login"), {"username": address, "password": password})
    return response.status_code == 302 and response["Location"] == reverse("portal:home")


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_an_imported_hash_keeps_the_password_for_the_panel_login(personas, scheme):
    make, stored_prefix = SCHEMES[scheme]
    original = make()
    rows = [{"local_part": "moved", "name": "Moved", "password": "", "password_hash": original}]
    bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["superadmin"])
    stored = Mailbox.objects.get(pk="moved@a.test").password
    assert stored.startswith(stored_prefix)
    assert identify(stored) not in (None, "cleartext")
    assert verify_password(PASSWORD, stored) and not verify_password("wrong-pass-1", stored)
    assert portal_login_works("moved@a.test", PASSWORD)
    assert not portal_login_works("moved@a.test", "Wrong-Horse-9")
    entry = AuditEntry.objects.get(action="mailbox.create", object_id="moved@a.test")
    assert original not in str(entry.changes) and stored not in str(entry.changes)


@pytest.mark.parametrize("value", NOT_HASHES)
def test_a_value_that_is_no_known_hash_is_refused_by_line(personas, value):
    rows = [
        {"local_part": "ok", "name": "", "password": PASSWORD},
        {"local_part": "moved", "name": "", "password": "", "password_hash": value},
    ]
    with pytest.raises(bulk.ImportRejected) as caught:
        bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["superadmin"])
    assert [line for line, _message in caught.value.lines] == [2]
    assert not Mailbox.objects.filter(domain_id="a.test").exclude(pk="user@a.test").exists()


def test_a_row_with_both_a_password_and_a_hash_is_refused(personas):
    rows = [{"local_part": "x", "password": PASSWORD, "password_hash": md5_crypt.hash("a")}]
    with pytest.raises(bulk.ImportRejected):
        bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["superadmin"])


def test_cleartext_still_goes_through_the_password_rules(personas):
    with pytest.raises(bulk.ImportRejected):
        bulk.mailbox_import(
            domain="a.test",
            rows=[{"local_part": "x", "password": "short"}],
            actor=personas["superadmin"],
        )


def test_importable_hash_only_respells():
    original = "{SHA512-CRYPT}" + SHA512.hash(PASSWORD)
    assert importable_hash(original) == "{CRYPT}" + original.removeprefix("{SHA512-CRYPT}")
    with pytest.raises(ValueError):
        importable_hash("{PLAIN}secret")


def csv_file(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("users.csv", text.encode(), content_type="text/csv")


def test_the_import_page_takes_a_hash_column(client_as, personas):
    text = (
        f"local_part,name,password,quota,password_hash\nmoved,Moved,,,{md5_crypt.hash(PASSWORD)}\n"
    )
    response = client_as("admin_a").post(
        reverse("mailboxes:import") + "?domain=a.test", {"file": csv_file(text)}
    )
    assert response.status_code == 302
    assert portal_login_works("moved@a.test", PASSWORD)


def test_the_dry_run_button_checks_every_line_and_writes_nothing(
    client_as, personas, django_capture_on_commit_callbacks
):
    good = f"anna,Anna,{PASSWORD},10\nbert,Bert,,,{ldap_sha1.hash(PASSWORD)}\n"
    before = (Mailbox.objects.count(), Job.objects.count(), AuditEntry.objects.count())
    client = client_as("admin_a")
    url = reverse("mailboxes:import") + "?domain=a.test"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(url, {"file": csv_file(good), "dry_run": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="import-preview"' in body
    assert "anna@a.test" in body and "bert@a.test" in body and "10 MB" in body
    assert (Mailbox.objects.count(), Job.objects.count(), AuditEntry.objects.count()) == before
    assert callbacks == []
    bad = good + "anna,Again,short\n"
    response = client.post(url, {"file": csv_file(bad), "dry_run": "1"})
    body = response.content.decode()
    assert "Dry run: the import would be refused" in body and "Line 3" in body
    assert Mailbox.objects.count() == before[0]
    response = client.post(url, {"file": csv_file(good)})
    assert response.status_code == 302
    assert Mailbox.objects.filter(pk__in=["anna@a.test", "bert@a.test"]).count() == 2


def test_a_large_dry_run_runs_in_the_background_and_writes_nothing(client_as, personas, settings):
    settings.MAILADMIN_BACKGROUND_IMPORT_OVER = 1
    text = f"anna,Anna,{PASSWORD}\nbert,Bert,,,{ldap_md5.hash(PASSWORD)}\n"
    client = client_as("admin_a")
    response = client.post(
        reverse("mailboxes:import") + "?domain=a.test", {"file": csv_file(text), "dry_run": "1"}
    )
    assert response.status_code == 302
    operation = Operation.objects.get(kind=Operation.Kind.MAILBOX_IMPORT)
    assert operation.payload["dry_run"] is True
    assert PASSWORD not in str(operation.payload) and "{MD5}" not in str(operation.payload)
    operations.execute(operation.pk)  # what a worker does (no commit fires in this test)
    page = client.get(response["Location"])
    assert 'data-testid="operation-dry-run"' in page.content.decode()
    assert "would create 2 mailboxes" in page.content.decode()
    assert not Mailbox.objects.filter(pk__in=["anna@a.test", "bert@a.test"]).exists()


def test_the_command_line_add_takes_a_hash(personas):
    from django.core.management import call_command

    call_command(
        "mailbox",
        "add",
        "cli@a.test",
        "--as",
        "root@panel.test",
        "--password-hash",
        "{SSHA}" + ldap_salted_sha1.hash(PASSWORD).removeprefix("{SSHA}"),
    )
    assert portal_login_works("cli@a.test", PASSWORD)


# --- the test mail stack's Dovecot ---------------------------------------------------------------
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_dovecot_authenticates_imported_hashes(mail_stack, personas, settings):
    for name, value in mail_stack.settings().items():
        setattr(settings, name, value)
    rows = [
        {"local_part": scheme, "name": "", "password": "", "password_hash": make()}
        for scheme, (make, _prefix) in sorted(SCHEMES.items())
    ]
    bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["superadmin"])
    refused = []
    for scheme in sorted(SCHEMES):
        result = mail_stack.dovecot.auth_test(f"{scheme}@a.test", PASSWORD)
        if result.returncode != 0:
            refused.append(scheme)
        assert mail_stack.dovecot.auth_test(f"{scheme}@a.test", "Wrong-Horse-9").returncode != 0
    assert refused == []
