"""The generated mysql: maps and Dovecot SQL configuration, answered by the real programs
(postmap, dovecot/doveadm) against the MariaDB test database."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from aliases.services import alias_create
from mailboxes.services import mailbox_create, mailbox_update
from mailstack import config

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

SECRET = "Mail-Stack-Pass-7"


def _wipe_legacy_tables() -> None:
    from accounts.models import DomainManager, Manager
    from aliases.models import Alias
    from domains.models import Domain
    from mailboxes.models import Mailbox

    for model in (DomainManager, Alias, Mailbox, Domain, Manager):
        model.objects.all().delete()


@pytest.fixture(autouse=True)
def _clean_legacy_tables():
    """The legacy tables are unmanaged: a transactional test must empty them itself."""
    _wipe_legacy_tables()
    yield
    _wipe_legacy_tables()


@pytest.fixture
def generated(settings, tmp_path):
    """Every generated file, from the test database's own settings, in a private directory."""
    pf = tmp_path / "pfconf"
    pf.mkdir()
    (pf / "main.cf").write_text("")
    settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(pf)
    out = tmp_path / "generated"
    config.write_files(config.render_all(config.database_params(), str(out)), out)
    return {"dir": out, "pfconf": pf}


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
    if not shutil.which("dovecot") or not shutil.which("doveadm"):
        pytest.fail("dovecot-core is not installed: run scripts/bootstrap.sh test")
    # Outside the test's private tmp directory: Dovecot's unprivileged processes need to
    # reach base_dir.
    root = Path(tempfile.mkdtemp(prefix="mailadmin-dovecot-"))
    root.chmod(0o755)
    for name in ("run", "state"):
        (root / name).mkdir()
    sql = generated["dir"] / config.DOVECOT_SQL
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""base_dir = {root}/run
state_dir = {root}/state
instance_name = mailadmin-test-{os.getpid()}
log_path = /dev/stderr
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = sql
  args = {sql}
}}
userdb {{
  driver = sql
  args = {sql}
}}
"""
    )
    process = subprocess.Popen(
        ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while not (root / "run" / "auth-client").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"dovecot did not start: {output}")
        time.sleep(0.1)
    yield conf
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(root, ignore_errors=True)


def doveadm(conf: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["doveadm", "-c", str(conf), *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("scheme", ["md5crypt", "sha512crypt"])
def test_dovecot_authenticates_panel_mailboxes(dovecot, personas, settings, scheme):
    settings.MAILADMIN_PASSWORD_SCHEME = scheme
    root = personas["superadmin"]
    box = mailbox_create(domain="a.test", local_part="carol", password=SECRET, actor=root)
    assert box.password.startswith("$1$" if scheme == "md5crypt" else "{CRYPT}$6$")

    ok = doveadm(dovecot, "auth", "test", "carol@a.test", SECRET)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert doveadm(dovecot, "auth", "test", "carol@a.test", "wrong-password").returncode != 0

    user = doveadm(dovecot, "user", "carol@a.test")
    assert user.returncode == 0, user.stdout + user.stderr
    assert f"{settings.MAILADMIN_MAIL_BASE}/a.test/carol" in user.stdout
    assert "maildir:" in user.stdout and "uid" in user.stdout


def test_dovecot_refuses_inactive_mailboxes_and_domains(dovecot, personas, make_domain):
    root = personas["superadmin"]
    mailbox_create(domain="a.test", local_part="idle", password=SECRET, actor=root, active=False)
    make_domain("off.test", active=False)
    mailbox_create(domain="off.test", local_part="bob", password=SECRET, actor=root)
    for user in ("idle@a.test", "bob@off.test"):
        assert doveadm(dovecot, "auth", "test", user, SECRET).returncode != 0
        assert doveadm(dovecot, "user", user).returncode != 0


def test_dovecot_honours_the_imap_and_pop3_flags(dovecot, personas):
    root = personas["superadmin"]
    mailbox_create(
        domain="a.test",
        local_part="noimap",
        password=SECRET,
        actor=root,
        services={"imap": False},
    )
    imap = doveadm(dovecot, "auth", "test", "-x", "service=imap", "noimap@a.test", SECRET)
    assert imap.returncode != 0
    pop3 = doveadm(dovecot, "auth", "test", "-x", "service=pop3", "noimap@a.test", SECRET)
    assert pop3.returncode == 0, pop3.stdout + pop3.stderr
