"""The mail system side: generated files, managed Postfix tables (real postmap), the
internal-only checkbox, coalesced rebuilds, service actions and the superadmin page."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aliases.models import Alias
from aliases.services import alias_create, alias_delete, alias_update
from audit.models import AuditEntry
from conftest import PASSWORD, PERSONAS
from domains.services import domain_update
from mailboxes.models import Mailbox
from mailboxes.services import mailbox_delete, mailbox_rename, mailbox_update
from mailstack import checks, config, tables
from mailstack.models import InternalOnly
from mailstack.services import postfix_tables_request
from provisioning import runner
from provisioning.models import Job
from tests.mailservers import private_postfix_config

pytestmark = pytest.mark.django_db

MYSQL = {
    "ENGINE": "django.db.backends.mysql",
    "NAME": "extmail",
    "USER": "extmail",
    "PASSWORD": "s3cret-pw",
    "HOST": "127.0.0.1",
    "PORT": 3306,
}


@pytest.fixture
def postfix(settings, tmp_path):
    """postmap with a private Postfix configuration; the reload is a harmless program."""
    pf = private_postfix_config(tmp_path / "pfconf")
    settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(pf)
    settings.MAILADMIN_POSTMAP = "/usr/sbin/postmap"
    settings.MAILADMIN_POSTFIX = "/bin/true"
    return {"conf": pf, "dir": Path(settings.MAILADMIN_POSTFIX_DIR)}


def query(postfix, table: str, key: str) -> str | None:
    result = subprocess.run(
        ["postmap", "-c", str(postfix["conf"]), "-q", key, f"hash:{postfix['dir'] / table}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip() if result.returncode == 0 else None


def run_pending() -> list[str | None]:
    return [runner.execute(job.pk) for job in Job.objects.filter(state=Job.State.PENDING)]


@pytest.fixture
def mysql_settings(monkeypatch):
    """The page and the command read a MySQL configuration (the suite may run on SQLite)."""
    original = config.database_params
    monkeypatch.setattr(config, "database_params", lambda c=None: original(c or MYSQL))


# --- generated configuration -------------------------------------------------------------------
def test_files_come_from_the_database_settings():
    dirs = config.install_dirs(postfix="/etc/postfix/mailadmin")
    files = config.render_all(config.database_params(MYSQL), dirs)
    alias_map = files[config.ALIAS_MAP]
    assert "hosts = inet:127.0.0.1:3306" in alias_map and "dbname = extmail" in alias_map
    assert "password = s3cret-pw" in alias_map
    assert "UNION ALL" in alias_map and "NOT EXISTS" in alias_map
    dovecot = files[config.DOVECOT_SQL]
    assert "connect = host=127.0.0.1 port=3306 dbname=extmail user=extmail password=s3cret-pw" in (
        dovecot
    )
    assert "default_pass_scheme = CRYPT" in dovecot and "disableimap" in dovecot
    assert "MYSQL_PASSWORD          s3cret-pw" in files[config.AUTHMYSQLRC]
    assert "mysql:/etc/postfix/mailadmin/mysql_virtual_alias_maps.cf" in files[config.MAIN_CF]
    assert "local_only = check_sender_access hash:" in files[config.MAIN_CF]


def test_a_socket_is_used_when_configured():
    db = config.database_params({**MYSQL, "HOST": "/run/mysqld/mysqld.sock", "PORT": ""})
    files = config.render_all(db)
    assert "hosts = unix:/run/mysqld/mysqld.sock" in files[config.MAILBOX_MAP]
    assert "connect = host=/run/mysqld/mysqld.sock dbname" in files[config.DOVECOT_SQL]
    assert "MYSQL_SOCKET            /run/mysqld/mysqld.sock" in files[config.AUTHMYSQLRC]


def test_masked_files_never_show_the_password():
    files = config.render_all(config.masked(config.database_params(MYSQL)))
    assert all("s3cret-pw" not in text for text in files.values())
    assert config.MASK in files[config.DOVECOT_SQL]


@pytest.mark.parametrize("password", ["with space", "quo'te", "hash#", "new\nline"])
def test_passwords_the_files_cannot_carry_are_refused(password):
    with pytest.raises(config.MailstackConfigError):
        config.database_params({**MYSQL, "PASSWORD": password})


def test_sqlite_has_no_database_for_the_mail_stack():
    with pytest.raises(config.MailstackConfigError):
        config.database_params({"ENGINE": "django.db.backends.sqlite3", "NAME": "x"})


def test_the_command_writes_private_files(mysql_settings, tmp_path):
    out = tmp_path / "out"
    call_command("mailstack_config", "--output", str(out), stdout=open("/dev/null", "w"))  # noqa: SIM115
    written = sorted(p.name for p in out.iterdir())
    assert config.ALIAS_MAP in written and config.DOVECOT_SQL in written
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == 0o640
    assert "s3cret-pw" in (out / config.AUTHMYSQLRC).read_text()


def test_the_command_prints_install_commands_for_what_it_wrote(mysql_settings, tmp_path):
    out = tmp_path / "out"
    stdout = io.StringIO()
    call_command(
        "mailstack_config", "--output", str(out), "--install-dir", "/srv/pf", stdout=stdout
    )
    dirs = config.install_dirs(postfix="/srv/pf")
    printed = stdout.getvalue()
    for command in config.install_commands(str(out), dirs):
        assert f"  {command}\n" in printed
    installed = {item.name: item for item in config.install_plan(dirs)}
    written = {p.name for p in out.iterdir()}
    assert written == set(installed)
    # Every file that names another names it where the commands install it.
    main_cf = (out / config.MAIN_CF).read_text()
    assert f"mysql:{installed[config.MAILBOX_MAP].path}" in main_cf
    include = (out / config.DOVECOT_AUTH).read_text()
    assert f"args = {installed[config.DOVECOT_SQL].path}" in include
    assert installed[config.DOVECOT_SQL].path == "/etc/dovecot/dovecot-sql.conf.ext"
    assert installed[config.DOVECOT_AUTH].path == "/etc/dovecot/conf.d/auth-mailadmin.conf.ext"
    assert installed[config.AUTHMYSQLRC].path == "/etc/courier/authmysqlrc"
    assert "unix_listener /var/spool/postfix/private/auth {" in include


def test_the_command_takes_other_directories(mysql_settings, tmp_path):
    out = tmp_path / "out"
    args = ["--output", str(out), "--dovecot-dir", "/usr/local/etc/dovecot"]
    args += ["--courier-dir", "/etc/authlib", "--postfix-queue-dir", "/var/spool/pf"]
    stdout = io.StringIO()
    call_command("mailstack_config", *args, stdout=stdout)
    include = (out / config.DOVECOT_AUTH).read_text()
    assert "args = /usr/local/etc/dovecot/dovecot-sql.conf.ext" in include
    assert "unix_listener /var/spool/pf/private/auth {" in include
    assert "-D -t /etc/authlib " in stdout.getvalue()
    with pytest.raises(CommandError):
        call_command("mailstack_config", "--output", str(out), "--dovecot-dir", "relative/dir")


def test_the_docs_install_what_the_command_prints():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "mailstack.md").read_text()
    dirs = config.install_dirs(postfix="/etc/postfix/mailadmin")
    for command in config.install_commands("/tmp/mailstack", dirs):  # noqa: S108 - the docs' path
        assert command in docs
    for item in config.install_plan(dirs):
        assert item.path in docs


def test_authmysqlrc_carries_the_lines_authlib_requires():
    text = config.render_all(config.database_params(MYSQL))[config.AUTHMYSQLRC]
    lines = text.splitlines()
    # The version line of the authmysqlrc that Debian's courier-authlib-mysql installs.
    shipped = Path("/etc/courier/authmysqlrc").read_text().splitlines()
    assert lines[0] == shipped[0] == config.AUTHMYSQLRC_VERSION
    assert config.AUTHLIB_MARKER in lines and config.AUTHLIB_MARKER in shipped
    assert all(
        line.startswith("#") or not line for line in lines[lines.index("##NAME: MARKER:0") :]
    )


def test_debian_dovecot_accepts_the_include(settings, tmp_path):
    """Debian's own /etc/dovecot, changed as the docs say (10-auth.conf includes the generated
    file in place of auth-system.conf.ext), is read by the real doveconf."""
    etc = tmp_path / "dovecot"
    shutil.copytree("/etc/dovecot", etc)
    files = config.render_all(config.database_params(MYSQL))
    (etc / "conf.d" / config.DOVECOT_AUTH).write_text(files[config.DOVECOT_AUTH])
    auth = etc / "conf.d" / "10-auth.conf"
    text = auth.read_text()
    assert "\n!include auth-system.conf.ext\n" in text
    auth.write_text(
        text.replace("\n!include auth-system.conf.ext\n", "\n#!include auth-system.conf.ext\n")
        + f"!include {config.DOVECOT_AUTH}\n"
    )
    result = subprocess.run(
        ["doveconf", "-c", str(etc / "dovecot.conf"), "-n"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "driver = passwd" not in result.stdout and "driver = pam" not in result.stdout
    assert "args = /etc/dovecot/dovecot-sql.conf.ext" in result.stdout
    # The generated service auth merges with Debian's (10-master.conf).
    service = re.search(r"(?ms)^service auth \{\n(.*?)^\}", result.stdout)
    assert service and result.stdout.count("service auth {") == 1
    assert "unix_listener /var/spool/postfix/private/auth {" in service.group(1)


# --- managed tables ----------------------------------------------------------------------------
def test_tables_answer_postmap(personas, postfix, make_domain, make_mailbox):
    make_domain("off.test", active=False)
    root = personas["superadmin"]
    mailbox_update(mailbox=Mailbox.objects.get(pk="user@a.test"), actor=root, internal_only=True)
    alias_create(
        actor=root, local_part="staff", domain="b.test", goto=["x@a.test"], internal_only=True
    )
    assert run_pending() == [Job.State.DONE]
    assert query(postfix, "local_recipient", "user@a.test") == "local_only"
    assert query(postfix, "local_recipient", "staff@b.test") == "local_only"
    assert query(postfix, "local_recipient", "other@a.test") is None
    assert query(postfix, "local_sender", "a.test") == "OK"
    assert query(postfix, "local_sender", "b.test") == "OK"
    assert query(postfix, "local_sender", "off.test") is None
    assert not (postfix["dir"] / "transport").exists()
    assert not [p for p in postfix["dir"].iterdir() if p.name.startswith(".")]


def test_the_transport_table_when_configured(personas, postfix, settings):
    settings.MAILADMIN_TRANSPORT_MAP = True
    root = personas["superadmin"]
    domain_update(domain="b.test", values={"transport": "smtp:[relay.example.com]:25"}, actor=root)
    assert run_pending() == [Job.State.DONE]
    assert query(postfix, "transport", "b.test") == "smtp:[relay.example.com]:25"
    assert query(postfix, "transport", "a.test") is None


def test_unmarking_and_deleting_take_addresses_out(personas, postfix):
    root = personas["superadmin"]
    box = Mailbox.objects.get(pk="user@a.test")
    mailbox_update(mailbox=box, actor=root, internal_only=True)
    alias = alias_create(
        actor=root, local_part="staff", domain="a.test", goto=["user@a.test"], internal_only=True
    )
    run_pending()
    alias_update(actor=root, alias=alias, goto=["user@a.test"], active=True, internal_only=False)
    renamed = mailbox_rename(mailbox=box, local_part="renamed", actor=root)
    run_pending()
    assert query(postfix, "local_recipient", "staff@a.test") is None
    assert query(postfix, "local_recipient", "user@a.test") is None
    assert query(postfix, "local_recipient", "renamed@a.test") == "local_only"
    mailbox_delete(mailbox=renamed, actor=root)
    run_pending()
    assert query(postfix, "local_recipient", "renamed@a.test") is None
    assert not InternalOnly.objects.exists()


def test_hostile_addresses_stay_literal_and_never_reach_a_shell(client_as, postfix, tmp_path):
    hostile = f"$(touch${{IFS}}{tmp_path}/pwned);`id`|x&y>z@a.test"
    Alias.objects.create(address=hostile, goto="user@a.test", domain_id="a.test")
    InternalOnly.objects.create(address=hostile, domain="a.test")
    spaced = "two words@a.test"
    Alias.objects.create(address=spaced, goto="user@a.test", domain_id="a.test")
    InternalOnly.objects.create(address=spaced, domain="a.test")
    postfix_tables_request()
    assert run_pending() == [Job.State.DONE]
    assert query(postfix, "local_recipient", hostile) == "local_only"
    assert not (tmp_path / "pwned").exists()
    text = (postfix["dir"] / "local_recipient").read_text()
    assert spaced not in text  # a line with a space would be another key
    response = client_as("superadmin").post(
        "/aliases/add/",
        {"local_part": "a;rm${IFS}-rf", "domain": "a.test", "goto": "user@a.test", "active": "on"},
    )
    assert response.status_code == 200 and not Alias.objects.filter(pk__startswith="a;").exists()


def test_a_failing_postmap_fails_the_job_and_keeps_the_previous_table(personas, postfix, settings):
    root = personas["superadmin"]
    mailbox_update(mailbox=Mailbox.objects.get(pk="user@a.test"), actor=root, internal_only=True)
    run_pending()
    db_file = postfix["dir"] / "local_recipient.db"
    before = db_file.read_bytes()
    settings.MAILADMIN_POSTMAP = "/bin/false"
    alias_create(
        actor=root, local_part="new", domain="a.test", goto=["x@b.test"], internal_only=True
    )
    assert run_pending() == [Job.State.FAILED]
    job = Job.objects.get(kind=Job.Kind.POSTFIX_TABLES, state=Job.State.FAILED)
    assert "postmap local_recipient" in job.last_error and "/bin/false" in job.last_error
    assert db_file.read_bytes() == before
    assert query(postfix, "local_recipient", "user@a.test") == "local_only"
    assert query(postfix, "local_recipient", "new@a.test") is None
    assert not [p for p in postfix["dir"].iterdir() if p.name.startswith(".")]
    # Fixed and retried, the job catches up with everything.
    settings.MAILADMIN_POSTMAP = "/usr/sbin/postmap"
    assert runner.retry(job)
    assert runner.execute(job.pk) == Job.State.DONE
    assert query(postfix, "local_recipient", "new@a.test") == "local_only"


def test_a_failing_reload_fails_the_job(personas, postfix, settings):
    settings.MAILADMIN_POSTFIX = "/bin/false"
    postfix_tables_request()
    assert run_pending() == [Job.State.FAILED]
    assert "postfix reload" in Job.objects.get().last_error


def test_changes_in_a_burst_share_one_pending_job(personas):
    root = personas["superadmin"]
    mailbox_update(mailbox=Mailbox.objects.get(pk="user@a.test"), actor=root, internal_only=True)
    alias_create(actor=root, local_part="x", domain="a.test", goto=["u@b.test"], internal_only=True)
    domain_update(domain="b.test", values={"active": False}, actor=root)
    assert Job.objects.filter(kind=Job.Kind.POSTFIX_TABLES).count() == 1
    job = Job.objects.get(kind=Job.Kind.POSTFIX_TABLES)
    assert job.queue == "privileged" and job.domain == ""
    # Once it ran (or while it runs), the next change needs a job of its own.
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING)
    domain_update(domain="b.test", values={"active": True}, actor=root)
    assert Job.objects.filter(kind=Job.Kind.POSTFIX_TABLES).count() == 2


def test_unrelated_changes_record_no_table_job(personas):
    root = personas["superadmin"]
    mailbox_update(mailbox=Mailbox.objects.get(pk="user@a.test"), actor=root, name="New name")
    domain_update(domain="a.test", values={"description": "x"}, actor=root)
    mailbox_update(mailbox=Mailbox.objects.get(pk="user@a.test"), actor=root, internal_only=False)
    assert not Job.objects.filter(kind=Job.Kind.POSTFIX_TABLES).exists()


def test_deleting_an_alias_forgets_its_mark(personas):
    root = personas["superadmin"]
    alias = alias_create(
        actor=root, local_part="x", domain="a.test", goto=["u@b.test"], internal_only=True
    )
    alias_delete(actor=root, alias=alias)
    assert not InternalOnly.objects.exists()


# --- the checkbox ------------------------------------------------------------------------------
CHECKED = re.compile(r'<input[^>]*name="internal_only"[^>]*checked')


def mailbox_form(**overrides) -> dict:
    data = {
        "name": "User",
        "quota": 0,
        "netdiskquota": 0,
        "active": "on",
        **{f"enable_{s}": "on" for s in ("smtpd", "smtp", "webmail", "netdisk", "imap", "pop3")},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_a_domain_admin_marks_a_mailbox_internal_only(client_as):
    client = client_as("admin_a")
    page = client.get("/mailboxes/user@a.test/edit/").content.decode()
    assert 'name="internal_only"' in page
    response = client.post("/mailboxes/user@a.test/edit/", mailbox_form(internal_only="on"))
    assert response.status_code == 302
    assert InternalOnly.objects.filter(pk="user@a.test", domain="a.test").exists()
    entry = AuditEntry.objects.filter(action="mailbox.update").latest("id")
    assert entry.changes["internal_only"] == [False, True]
    assert CHECKED.search(client.get("/mailboxes/user@a.test/edit/").content.decode())
    client.post("/mailboxes/user@a.test/edit/", mailbox_form())
    assert not InternalOnly.objects.exists()


def test_the_add_forms_take_the_checkbox(client_as):
    client = client_as("admin_a")
    response = client.post(
        "/mailboxes/add/",
        mailbox_form(
            local_part="new",
            domain="a.test",
            password1=PASSWORD,
            password2=PASSWORD,
            internal_only="on",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client.post(
        "/aliases/add/",
        {
            "local_part": "team",
            "domain": "a.test",
            "goto": "new@a.test",
            "active": "on",
            "internal_only": "on",
        },
    )
    assert response.status_code == 302
    assert set(InternalOnly.objects.values_list("pk", flat=True)) == {"new@a.test", "team@a.test"}
    assert AuditEntry.objects.get(action="alias.create").changes["internal_only"] == [False, True]


def test_alias_edit_shows_and_clears_the_mark(client_as, personas):
    alias_create(
        actor=personas["admin_a"],
        local_part="team",
        domain="a.test",
        goto=["user@a.test"],
        internal_only=True,
    )
    client = client_as("admin_a")
    assert CHECKED.search(client.get("/aliases/team@a.test/edit/").content.decode())
    client.post("/aliases/team@a.test/edit/", {"goto": "user@a.test", "active": "on"})
    assert not InternalOnly.objects.exists()


def test_a_domain_admin_cannot_mark_another_domain(client_as, make_mailbox):
    make_mailbox("other@b.test")
    response = client_as("admin_a").post(
        "/mailboxes/other@b.test/edit/", mailbox_form(internal_only="on")
    )
    assert response.status_code == 404
    assert not InternalOnly.objects.exists()


# --- the page, downloads and service actions ----------------------------------------------------
URLS = ("/system/mailstack/", f"/system/mailstack/files/{config.DOVECOT_SQL}")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", URLS)
def test_only_the_superadmin_sees_the_page(client_as, mysql_settings, persona, url):
    response = client_as(persona).get(url)
    expected = {"superadmin": 200, "admin_a": 404, "admin_b": 404}.get(persona, 302)
    assert response.status_code == expected
    if expected == 302:
        assert "/login/" in response["Location"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_superadmin_runs_actions(client_as, persona):
    client = client_as(persona)
    expected_get = {"superadmin": 405, "admin_a": 404, "admin_b": 404}.get(persona, 302)
    assert client.get("/system/mailstack/actions/").status_code == expected_get
    response = client.post("/system/mailstack/actions/", {"action": "postfix_reload"})
    expected = {"superadmin": 302, "admin_a": 404, "admin_b": 404}.get(persona, 302)
    assert response.status_code == expected
    assert Job.objects.filter(kind=Job.Kind.SERVICE_ACTION).exists() is (persona == "superadmin")


def test_the_page_masks_the_password_and_the_download_has_it(client_as, mysql_settings):
    client = client_as("superadmin")
    page = client.get("/system/mailstack/").content.decode()
    assert "s3cret-pw" not in page and config.MASK in page
    assert "smtpd_restriction_classes = local_only" in page
    assert "Mail system" in page  # the navigation entry
    response = client.get(f"/system/mailstack/files/{config.DOVECOT_SQL}")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert "password=s3cret-pw" in response.content.decode()
    assert AuditEntry.objects.filter(action="mailstack.download").count() == 1
    assert client.get("/system/mailstack/files/..%2Fsettings.py").status_code == 404


def test_the_navigation_entry_is_for_superadmins_only(client_as):
    assert "/system/mailstack/" in client_as("superadmin").get("/").content.decode()
    assert "/system/mailstack/" not in client_as("admin_a").get("/").content.decode()


def test_the_page_explains_a_database_without_mysql(client_as, monkeypatch):
    original = config.database_params
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}
    monkeypatch.setattr(config, "database_params", lambda c=None: original(c or sqlite))
    page = client_as("superadmin").get("/system/mailstack/").content.decode()
    assert "MySQL/MariaDB" in page


def test_an_action_runs_its_fixed_argument_list(client_as, settings, tmp_path):
    settings.MAILADMIN_POSTFIX = "/bin/echo"
    settings.MAILADMIN_POSTFIX_CONFIG_DIR = ""
    client = client_as("superadmin")
    client.post("/system/mailstack/actions/", {"action": "postfix_status"})
    job = Job.objects.get(kind=Job.Kind.SERVICE_ACTION)
    assert job.queue == "privileged"
    assert runner.execute(job.pk) == Job.State.DONE
    job.refresh_from_db()
    assert job.payload["output"] == "status"
    assert AuditEntry.objects.filter(action="mailstack.service_action").count() == 1
    page = client.get("/system/mailstack/").content.decode()
    assert "status" in page and "done" in page
    assert "Postfix status" in page  # the action in words, not its name


def test_an_action_of_a_program_this_host_lacks_says_so(client_as, settings, tmp_path):
    settings.MAILADMIN_DOVEADM = str(tmp_path / "no-doveadm")
    client = client_as("superadmin")
    client.post("/system/mailstack/actions/", {"action": "dovecot_reload"})
    job = Job.objects.get(kind=Job.Kind.SERVICE_ACTION)
    assert runner.execute(job.pk) == Job.State.DONE
    page = client.get("/system/mailstack/").content.decode()
    assert "is not installed on this host" in page and "Reload Dovecot" in page


def test_a_failing_action_shows_its_error(client_as, settings):
    settings.MAILADMIN_DOVEADM = "/bin/false"
    client_as("superadmin").post("/system/mailstack/actions/", {"action": "dovecot_reload"})
    job = Job.objects.get(kind=Job.Kind.SERVICE_ACTION)
    assert runner.execute(job.pk) == Job.State.FAILED
    job.refresh_from_db()
    assert "dovecot_reload" in job.last_error and "status 1" in job.last_error


@pytest.mark.parametrize("action", ["rm -rf /", "postfix_reload; id", "", "../../bin/sh"])
def test_anything_outside_the_allow_list_is_refused(client_as, action):
    response = client_as("superadmin").post("/system/mailstack/actions/", {"action": action})
    assert response.status_code == 302
    assert not Job.objects.exists()


def test_rebuild_from_the_page_is_coalesced(client_as):
    client = client_as("superadmin")
    client.post("/system/mailstack/actions/", {"action": "postfix_tables"})
    client.post("/system/mailstack/actions/", {"action": "postfix_tables"})
    assert Job.objects.filter(kind=Job.Kind.POSTFIX_TABLES).count() == 1


def test_tables_module_refuses_lines_that_would_split(personas):
    text = tables._lines([("ok@a.test", "local_only"), ("#x@a.test", "local_only")], "t")
    assert "ok@a.test\tlocal_only" in text and "#x@a.test" not in text


# --- SMTP AUTH as the page sees it (the real postconf) ------------------------------------------
@pytest.fixture
def postfix_main_cf(settings, tmp_path):
    """``write(text)``: a Postfix configuration directory whose main.cf is ``text``, for the
    page's postconf."""

    def write(text: str) -> None:
        directory = tmp_path / "sasl-conf"
        directory.mkdir(exist_ok=True)
        (directory / "main.cf").write_text(text)
        settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(directory)

    return write


def sasl_alert(client) -> str:
    page = client.get("/system/mailstack/").content.decode()
    match = re.search(
        r'<div class="alert alert-(\w+)"[^>]*data-testid="sasl-check">(.*?)</div>', page
    )
    assert match, "no SMTP AUTH check on the page"
    return f"{match.group(1)}: {match.group(2)}"


def test_the_page_says_smtp_auth_is_on_with_the_generated_lines(
    client_as, mysql_settings, postfix_main_cf
):
    postfix_main_cf(config.main_cf())
    alert = sasl_alert(client_as("superadmin"))
    assert alert.startswith("success: SMTP AUTH is on (dovecot, private/auth)")


def test_the_page_warns_that_postfix_ignores_the_login_checks_without_sasl(
    client_as, mysql_settings, postfix_main_cf
):
    # The lines this panel generated before, as EMOS has them: the checks, no SMTP AUTH.
    postfix_main_cf(
        "smtpd_sender_login_maps = hash:/etc/postfix/senders\n"
        "smtpd_sender_restrictions = permit_mynetworks, reject_sender_login_mismatch,\n"
        "    reject_authenticated_sender_login_mismatch,\n"
        "    reject_unauthenticated_sender_login_mismatch\n"
    )
    alert = sasl_alert(client_as("superadmin"))
    assert alert.startswith("danger: SMTP AUTH is off (smtpd_sasl_auth_enable = no)")
    assert "accepts mail from outsiders" in alert


def test_the_page_warns_when_sasl_is_on_without_the_sender_check(
    client_as, mysql_settings, postfix_main_cf
):
    postfix_main_cf("smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n")
    assert sasl_alert(client_as("superadmin")).startswith("warning: SMTP AUTH is on, but")


def test_the_page_says_once_that_postfix_is_not_installed(client_as, mysql_settings, monkeypatch):
    monkeypatch.setattr(checks, "POSTCONF", "/nonexistent/sbin/postconf")
    client = client_as("superadmin")
    assert sasl_alert(client).startswith("info: Postfix is not installed on this host")
    page = client.get("/system/mailstack/").content.decode()
    assert page.count("Postfix is not installed") == 1
    assert "alert-danger" not in page


def test_the_page_reports_an_unreadable_postfix_configuration(
    client_as, mysql_settings, settings, tmp_path
):
    settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(tmp_path / "no-such-dir")
    alert = sasl_alert(client_as("superadmin"))
    assert alert.startswith("warning: postconf could not read the Postfix configuration")
    assert "main.cf" in alert


def test_the_page_shows_where_each_file_is_installed(client_as, mysql_settings):
    page = client_as("superadmin").get("/system/mailstack/").content.decode()
    assert "Install as /etc/dovecot/dovecot-sql.conf.ext" in page
    assert "Install as /etc/courier/authmysqlrc" in page
    assert "Merge into /etc/postfix/main.cf" in page


@pytest.mark.parametrize("missing", ["postmap", "main.cf"])
def test_a_host_without_postfix_notes_it_instead_of_failing_the_job(
    personas, settings, tmp_path, client_as, missing
):
    """The quick start, or a panel host without Postfix: every change that touches the tables
    records the job, which ends with a note rather than a failure that turns the overview red."""
    if missing == "postmap":
        settings.MAILADMIN_POSTMAP = str(tmp_path / "no-postmap")
    else:
        settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(tmp_path / "empty-conf")
    root = personas["superadmin"]
    mailbox_update(mailbox=Mailbox.objects.get(pk="user@a.test"), actor=root, internal_only=True)
    assert run_pending() == [Job.State.DONE]
    job = Job.objects.get(kind=Job.Kind.POSTFIX_TABLES)
    wanted = "is not installed on this host" if missing == "postmap" else "not set up"
    assert wanted in job.note
    assert not (settings.MAILADMIN_POSTFIX_DIR / "local_recipient").exists()
    overview = client_as("superadmin").get("/").content.decode()
    failed_card = overview.split('data-testid="count-failed-jobs"')[1].split("</div></div>")[0]
    assert "border-danger" not in overview.split('data-testid="count-failed-jobs"')[0][-200:]
    assert ">0<" in failed_card
