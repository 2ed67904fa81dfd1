"""The generated files, installed with the printed commands and answered by the real programs
against the MariaDB test database: postmap (the mysql: maps), Dovecot (SQL passdb/userdb and
the SASL socket), courier authlib (authtest) with maildrop, and a Postfix smtpd whose main.cf
carries the generated lines. One private stack serves the whole test run (tests.mailservers).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aliases.services import alias_create
from mailadmin.lib.maildir import create_maildir, set_quota
from mailboxes.models import Mailbox
from mailboxes.services import mailbox_create, mailbox_update
from mailstack import config, tables
from tests.mailservers import MailStack

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

SECRET = "Mail-Stack-Pass-7"


@pytest.fixture
def stack(mail_stack: MailStack, settings) -> Iterator[MailStack]:
    """The stack, with the settings its files were rendered for; its Maildirs are emptied after
    the test (the database is flushed by the transactional test)."""
    for name, value in mail_stack.settings().items():
        setattr(settings, name, value)
    yield mail_stack
    mail_stack.clear_mail()


def postmap_q(stack: MailStack, key: str, name: str) -> str | None:
    args = ["postmap", "-c", str(stack.pfconf), "-q", key, f"mysql:{stack.installed(name)}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    assert "error" not in result.stderr.lower() and "fatal" not in result.stderr.lower(), (
        result.stderr
    )
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.fixture
def mail_data(personas, make_domain):
    root = personas["superadmin"]
    make_domain("off.test", active=False)
    mailbox_create(domain="a.test", local_part="alice", password=SECRET, actor=root)
    mailbox_create(domain="a.test", local_part="idle", password=SECRET, actor=root, active=False)
    mailbox_create(domain="off.test", local_part="bob", password=SECRET, actor=root)
    alias_create(actor=root, local_part="team", domain="a.test", goto=["alice@a.test"])
    alias_create(actor=root, local_part="@", domain="a.test", goto=["alice@a.test"])
    alias_create(actor=root, local_part="gone", domain="off.test", goto=["x@b.test"])
    return root


def test_the_installed_files_use_the_test_database(stack, settings):
    path = stack.installed(config.MAILBOX_MAP)
    assert f"dbname = {settings.DATABASES['default']['NAME']}" in path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert path.group() == "postfix"
    assert stack.installed(config.AUTHMYSQLRC).group() == "courier"


# --- Postfix maps -------------------------------------------------------------------------------
def test_domain_map_answers_active_domains_only(stack, mail_data):
    assert postmap_q(stack, "a.test", config.DOMAINS_MAP) == "a.test"
    assert postmap_q(stack, "off.test", config.DOMAINS_MAP) is None
    assert postmap_q(stack, "nowhere.test", config.DOMAINS_MAP) is None


def test_mailbox_map_answers_active_mailboxes_of_active_domains(stack, mail_data):
    assert postmap_q(stack, "alice@a.test", config.MAILBOX_MAP) == "a.test/alice/Maildir/"
    assert postmap_q(stack, "idle@a.test", config.MAILBOX_MAP) is None
    assert postmap_q(stack, "bob@off.test", config.MAILBOX_MAP) is None
    assert postmap_q(stack, "alice@a.test", config.SENDER_MAP) == "alice@a.test"
    assert postmap_q(stack, "idle@a.test", config.SENDER_MAP) is None
    assert postmap_q(stack, "alice@a.test", config.LIMIT_MAP) is not None


def test_alias_map_lets_a_mailbox_win_over_the_catch_all(stack, mail_data):
    assert postmap_q(stack, "team@a.test", config.ALIAS_MAP) == "alice@a.test"
    # The mailbox answers itself, so Postfix never looks up @a.test for it.
    assert postmap_q(stack, "user@a.test", config.ALIAS_MAP) == "user@a.test"
    assert postmap_q(stack, "@a.test", config.ALIAS_MAP) == "alice@a.test"
    # An unknown address gets nothing: Postfix then asks for the catch-all @a.test.
    assert postmap_q(stack, "nobody@a.test", config.ALIAS_MAP) is None
    # An inactive mailbox is not shielded; aliases of an inactive domain do not answer.
    assert postmap_q(stack, "idle@a.test", config.ALIAS_MAP) is None
    assert postmap_q(stack, "gone@off.test", config.ALIAS_MAP) is None
    assert postmap_q(stack, "bob@off.test", config.ALIAS_MAP) is None


def test_a_forwarding_alias_replaces_the_mailbox_answer(stack, mail_data):
    alice = Mailbox.objects.get(pk="alice@a.test")
    mailbox_update(mailbox=alice, actor=mail_data, forward_to=["x@b.test"])
    assert postmap_q(stack, "alice@a.test", config.ALIAS_MAP) == "x@b.test"
    mailbox_update(mailbox=alice, actor=mail_data, forward_to=["x@b.test"], forward_keep_copy=True)
    assert set(postmap_q(stack, "alice@a.test", config.ALIAS_MAP).split(",")) == {
        "x@b.test",
        "alice@a.test",
    }


# --- Dovecot (through the installed include) ----------------------------------------------------
@pytest.mark.parametrize("scheme", ["md5crypt", "sha512crypt"])
def test_dovecot_authenticates_panel_mailboxes(stack, personas, settings, scheme):
    settings.MAILADMIN_PASSWORD_SCHEME = scheme
    root = personas["superadmin"]
    box = mailbox_create(domain="a.test", local_part="carol", password=SECRET, actor=root)
    assert box.password.startswith("$1$" if scheme == "md5crypt" else "{CRYPT}$6$")

    ok = stack.dovecot.auth_test("carol@a.test", SECRET)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert stack.dovecot.auth_test("carol@a.test", "wrong-password").returncode != 0

    user = stack.dovecot.doveadm("user", "carol@a.test")
    assert user.returncode == 0, user.stdout + user.stderr
    assert f"{stack.mail_base}/a.test/carol" in user.stdout
    assert "maildir:" in user.stdout and "uid" in user.stdout


def test_dovecot_refuses_inactive_mailboxes_and_domains(stack, personas, make_domain):
    root = personas["superadmin"]
    mailbox_create(domain="a.test", local_part="idle", password=SECRET, actor=root, active=False)
    make_domain("off.test", active=False)
    mailbox_create(domain="off.test", local_part="bob", password=SECRET, actor=root)
    for user in ("idle@a.test", "bob@off.test"):
        assert stack.dovecot.auth_test(user, SECRET).returncode != 0
        assert stack.dovecot.doveadm("user", user).returncode != 0


def test_dovecot_honours_the_imap_and_pop3_flags(stack, personas):
    root = personas["superadmin"]
    mailbox_create(
        domain="a.test",
        local_part="noimap",
        password=SECRET,
        actor=root,
        services={"imap": False},
    )
    imap = stack.dovecot.auth_test("noimap@a.test", SECRET, service="imap")
    assert imap.returncode != 0
    pop3 = stack.dovecot.auth_test("noimap@a.test", SECRET, service="pop3")
    assert pop3.returncode == 0, pop3.stdout + pop3.stderr


# --- courier authlib (authtest) and maildrop -----------------------------------------------------
def authtest_report(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stdout + result.stderr
    report = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            report[key.strip()] = value.strip()
    return report


@pytest.mark.parametrize(("scheme", "prefix"), [("md5crypt", "$1$"), ("sha512crypt", "{CRYPT}$6$")])
def test_authlib_authenticates_panel_mailboxes(stack, personas, settings, scheme, prefix):
    settings.MAILADMIN_PASSWORD_SCHEME = scheme
    box = mailbox_create(
        domain="a.test", local_part="carol", password=SECRET, actor=personas["superadmin"], quota=5
    )
    assert box.password.startswith(prefix)

    report = authtest_report(stack.authlib.authtest("carol@a.test", SECRET))
    assert report["Authenticated"] == "carol@a.test  (uid 1000, gid 1000)"
    assert report["Home Directory"] == f"{stack.mail_base}/a.test/carol"
    assert report["Maildir"] == f"{stack.mail_base}/a.test/carol/Maildir/"
    assert report["Quota"] == "5242880S"
    assert "disableimap=0" in report["Options"] and "disablepop3=0" in report["Options"]
    assert stack.authlib.authtest("carol@a.test", "wrong-password").returncode != 0


def test_authlib_refuses_inactive_mailboxes_and_domains(stack, personas, make_domain):
    root = personas["superadmin"]
    mailbox_create(domain="a.test", local_part="idle", password=SECRET, actor=root, active=False)
    make_domain("off.test", active=False)
    mailbox_create(domain="off.test", local_part="bob", password=SECRET, actor=root)
    for address in ("idle@a.test", "bob@off.test"):
        result = stack.authlib.authtest(address, SECRET)
        assert result.returncode != 0
        assert "Authentication FAILED" in result.stdout + result.stderr
        # Unknown to authlib altogether: no lookup without a password either.
        assert stack.authlib.authtest(address).returncode != 0
    # The same lookup answers for an active mailbox, so the refusals are about the rows.
    authtest_report(stack.authlib.authtest("user@a.test"))


def test_authlib_passes_the_service_flags_as_options(stack, personas):
    mailbox_create(
        domain="a.test",
        local_part="noimap",
        password=SECRET,
        actor=personas["superadmin"],
        services={"imap": False},
    )
    options = authtest_report(stack.authlib.authtest("noimap@a.test", SECRET))["Options"]
    assert "disableimap=1" in options.split(",")


def message(subject: str, size: int = 0) -> bytes:
    body = ("x" * 76 + "\n") * (size // 77 + 1) if size else "hello\n"
    return f"From: sender@b.test\nTo: dora@a.test\nSubject: {subject}\n\n{body}".encode()


def new_messages(box: Mailbox, base: Path) -> list[str]:
    return sorted(p.read_text().split("\n\n")[0] for p in (base / box.maildir / "new").iterdir())


def test_maildrop_delivers_and_enforces_the_quota(stack, personas):
    box = mailbox_create(
        domain="a.test", local_part="dora", password=SECRET, actor=personas["superadmin"], quota=1
    )
    assert box.quota == "1048576S"
    create_maildir(
        stack.mail_base, box.homedir, box.maildir, box.quota, box.uidnumber, box.gidnumber
    )

    small = stack.authlib.maildrop("dora@a.test", message("small"))
    assert small.returncode == 0, small.stdout + small.stderr
    assert [h for h in new_messages(box, stack.mail_base) if "Subject: small" in h]

    big = stack.authlib.maildrop("dora@a.test", message("big", 1_200_000))
    assert big.returncode == 75, big.stdout + big.stderr  # EX_TEMPFAIL: Postfix defers it
    assert b"maildir over quota" in big.stderr
    assert len(new_messages(box, stack.mail_base)) == 1


def test_maildrop_enforces_a_bare_legacy_quota(stack, personas):
    """ExtMan's "vda" quota type stored bare byte counts, which maildrop cannot parse (and then
    delivers without limit): the generated authmysqlrc hands them over in the Maildir++ form."""
    box = mailbox_create(
        domain="a.test", local_part="dora", password=SECRET, actor=personas["superadmin"], quota=1
    )
    Mailbox.objects.filter(pk=box.pk).update(quota="1048576")
    create_maildir(stack.mail_base, box.homedir, box.maildir, "1048576", 1000, 1000)
    set_quota(stack.mail_base, box.maildir, "1048576", 1000, 1000)

    big = stack.authlib.maildrop("dora@a.test", message("big", 1_200_000))
    assert big.returncode == 75, big.stdout + big.stderr
    assert b"maildir over quota" in big.stderr
    assert new_messages(box, stack.mail_base) == []
    assert authtest_report(stack.authlib.authtest("dora@a.test"))["Quota"] == "1048576S"


def test_maildrop_as_the_mail_user_needs_the_socket_directory(stack, personas):
    """As Postfix's pipe transport runs it (docs/mailstack.md): with the mail user's uid and
    group only, maildrop reaches authdaemond's socket once its directory belongs to that group
    (Debian makes it courier:courier 0750)."""
    box = mailbox_create(
        domain="a.test", local_part="dora", password=SECRET, actor=personas["superadmin"]
    )
    create_maildir(stack.mail_base, box.homedir, box.maildir, box.quota, 1000, 1000)
    socket_dir = stack.authlib.socket.parent
    assert (socket_dir.owner(), socket_dir.group()) == ("courier", "courier")

    refused = stack.authlib.maildrop("dora@a.test", message("refused"), uid=1000, gid=1000)
    assert refused.returncode != 0
    assert b"s_connect() failed: Permission denied" in refused.stderr
    try:
        os.chown(socket_dir, -1, 1000)  # the docs' tmpfiles.d line
        delivered = stack.authlib.maildrop("dora@a.test", message("piped"), uid=1000, gid=1000)
    finally:
        shutil.chown(socket_dir, group="courier")
    assert delivered.returncode == 0, delivered.stdout + delivered.stderr
    assert [h for h in new_messages(box, stack.mail_base) if "Subject: piped" in h]


def test_maildrop_refuses_inactive_mailboxes(stack, personas):
    box = mailbox_create(
        domain="a.test", local_part="idle", password=SECRET, actor=personas["superadmin"]
    )
    create_maildir(stack.mail_base, box.homedir, box.maildir, box.quota, 1000, 1000)
    Mailbox.objects.filter(pk=box.pk).update(active=False)
    result = stack.authlib.maildrop("idle@a.test", message("to an inactive mailbox"))
    assert result.returncode != 0
    assert new_messages(box, stack.mail_base) == []


# --- Postfix smtpd with the generated main.cf lines ---------------------------------------------
@pytest.fixture
def smtpd(stack, mail_data):
    """The private smtpd, with the managed tables its restrictions name written."""
    tables.write_tables()
    return stack.postfix


def test_the_merged_main_cf_is_accepted_by_postconf(smtpd):
    result = smtpd.postconf("-n")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no unused, unknown or overridden parameter
    values = smtpd.postconf("-h", "smtpd_sasl_auth_enable", "smtpd_sasl_type", "smtpd_sasl_path")
    assert values.stdout.split() == ["yes", "dovecot", config.SASL_SOCKET]


def smtp_session(smtpd) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", smtpd.port, timeout=30)
    client.ehlo("outsider.example")
    return client


def test_an_outsider_cannot_use_one_of_our_addresses(smtpd):
    client = smtp_session(smtpd)
    try:
        assert client.mail("alice@a.test")[0] == 250
        code, text = client.rcpt("alice@a.test")
        assert code == 553, text
        assert b"not logged in" in text
        # Mail from elsewhere is still accepted for our mailboxes.
        client.rset()
        assert client.mail("someone@elsewhere.example")[0] == 250
        code, text = client.rcpt("alice@a.test")
        assert code == 250, text
    finally:
        client.quit()
    assert "no SASL support" not in smtpd.log_text()


def test_a_mailbox_logs_in_through_dovecot_and_sends_as_itself_only(smtpd):
    client = smtp_session(smtpd)
    try:
        assert "PLAIN" in client.esmtp_features.get("auth", "")
        assert client.login("alice@a.test", SECRET)[0] == 235
        assert client.mail("alice@a.test")[0] == 250
        code, text = client.rcpt("user@a.test")
        assert code == 250, text
        client.rset()
        assert client.mail("user@a.test")[0] == 250
        code, text = client.rcpt("alice@a.test")
        assert code == 553, text
        assert b"not owned by user alice@a.test" in text
    finally:
        client.quit()


def test_a_wrong_password_is_refused_by_smtp_auth(smtpd):
    client = smtp_session(smtpd)
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("alice@a.test", "wrong-password")
    finally:
        client.close()
