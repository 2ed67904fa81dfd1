"""The generated mysql: maps and Dovecot SQL configuration, answered by the real programs
(postmap, dovecot/doveadm) against the MariaDB test database."""

from __future__ import annotations

import subprocess

import pytest

from aliases.services import alias_create
from mailboxes.services import mailbox_create, mailbox_update
from mailstack import config
from tests.mailservers import PrivateDovecot, generate_mailstack_files, private_postfix_config

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

SECRET = "Mail-Stack-Pass-7"


@pytest.fixture
def generated(settings, tmp_path):
    """Every generated file, from the test database's own settings, in a private directory."""
    pf = private_postfix_config(tmp_path / "pfconf")
    settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(pf)
    return {"dir": generate_mailstack_files(tmp_path / "generated"), "pfconf": pf}


def postmap_q(generated, key: str, name: str) -> str | None:
    args = [
        "postmap",
        "-c",
        str(generated["pfconf"]),
        "-q",
        key,
        f"mysql:{generated['dir']}/{name}",
    ]
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


def test_the_generated_files_use_the_test_database(generated, settings):
    text = (generated["dir"] / config.MAILBOX_MAP).read_text()
    assert f"dbname = {settings.DATABASES['default']['NAME']}" in text
    assert oct((generated["dir"] / config.MAILBOX_MAP).stat().st_mode & 0o777) == "0o640"


def test_domain_map_answers_active_domains_only(generated, mail_data):
    assert postmap_q(generated, "a.test", config.DOMAINS_MAP) == "a.test"
    assert postmap_q(generated, "off.test", config.DOMAINS_MAP) is None
    assert postmap_q(generated, "nowhere.test", config.DOMAINS_MAP) is None


def test_mailbox_map_answers_active_mailboxes_of_active_domains(generated, mail_data):
    assert postmap_q(generated, "alice@a.test", config.MAILBOX_MAP) == "a.test/alice/Maildir/"
    assert postmap_q(generated, "idle@a.test", config.MAILBOX_MAP) is None
    assert postmap_q(generated, "bob@off.test", config.MAILBOX_MAP) is None
    assert postmap_q(generated, "alice@a.test", config.SENDER_MAP) == "alice@a.test"
    assert postmap_q(generated, "idle@a.test", config.SENDER_MAP) is None
    assert postmap_q(generated, "alice@a.test", config.LIMIT_MAP) is not None


def test_alias_map_lets_a_mailbox_win_over_the_catch_all(generated, mail_data):
    assert postmap_q(generated, "team@a.test", config.ALIAS_MAP) == "alice@a.test"
    # The mailbox answers itself, so Postfix never looks up @a.test for it.
    assert postmap_q(generated, "user@a.test", config.ALIAS_MAP) == "user@a.test"
    assert postmap_q(generated, "@a.test", config.ALIAS_MAP) == "alice@a.test"
    # An unknown address gets nothing: Postfix then asks for the catch-all @a.test.
    assert postmap_q(generated, "nobody@a.test", config.ALIAS_MAP) is None
    # An inactive mailbox is not shielded; aliases of an inactive domain do not answer.
    assert postmap_q(generated, "idle@a.test", config.ALIAS_MAP) is None
    assert postmap_q(generated, "gone@off.test", config.ALIAS_MAP) is None
    assert postmap_q(generated, "bob@off.test", config.ALIAS_MAP) is None


def test_a_forwarding_alias_replaces_the_mailbox_answer(generated, mail_data):
    from mailboxes.models import Mailbox

    alice = Mailbox.objects.get(pk="alice@a.test")
    mailbox_update(mailbox=alice, actor=mail_data, forward_to=["x@b.test"])
    assert postmap_q(generated, "alice@a.test", config.ALIAS_MAP) == "x@b.test"
    mailbox_update(mailbox=alice, actor=mail_data, forward_to=["x@b.test"], forward_keep_copy=True)
    assert set(postmap_q(generated, "alice@a.test", config.ALIAS_MAP).split(",")) == {
        "x@b.test",
        "alice@a.test",
    }


# --- Dovecot ------------------------------------------------------------------------------------
@pytest.fixture
def dovecot(generated):
    """A private Dovecot (no listeners) whose passdb/userdb are the generated SQL file."""
    server = PrivateDovecot(generated["dir"] / config.DOVECOT_SQL).start()
    yield server
    server.stop()


@pytest.mark.parametrize("scheme", ["md5crypt", "sha512crypt"])
def test_dovecot_authenticates_panel_mailboxes(dovecot, personas, settings, scheme):
    settings.MAILADMIN_PASSWORD_SCHEME = scheme
    root = personas["superadmin"]
    box = mailbox_create(domain="a.test", local_part="carol", password=SECRET, actor=root)
    assert box.password.startswith("$1$" if scheme == "md5crypt" else "{CRYPT}$6$")

    ok = dovecot.auth_test("carol@a.test", SECRET)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert dovecot.auth_test("carol@a.test", "wrong-password").returncode != 0

    user = dovecot.doveadm("user", "carol@a.test")
    assert user.returncode == 0, user.stdout + user.stderr
    assert f"{settings.MAILADMIN_MAIL_BASE}/a.test/carol" in user.stdout
    assert "maildir:" in user.stdout and "uid" in user.stdout


def test_dovecot_refuses_inactive_mailboxes_and_domains(dovecot, personas, make_domain):
    root = personas["superadmin"]
    mailbox_create(domain="a.test", local_part="idle", password=SECRET, actor=root, active=False)
    make_domain("off.test", active=False)
    mailbox_create(domain="off.test", local_part="bob", password=SECRET, actor=root)
    for user in ("idle@a.test", "bob@off.test"):
        assert dovecot.auth_test(user, SECRET).returncode != 0
        assert dovecot.doveadm("user", user).returncode != 0


def test_dovecot_honours_the_imap_and_pop3_flags(dovecot, personas):
    root = personas["superadmin"]
    mailbox_create(
        domain="a.test",
        local_part="noimap",
        password=SECRET,
        actor=root,
        services={"imap": False},
    )
    imap = dovecot.auth_test("noimap@a.test", SECRET, service="imap")
    assert imap.returncode != 0
    pop3 = dovecot.auth_test("noimap@a.test", SECRET, service="pop3")
    assert pop3.returncode == 0, pop3.stdout + pop3.stderr
