"""The command line (docs/cli.md): ``manage.py domain|mailbox|alias|manager`` through the
panel's forms and services, run by ``call_command`` (exit codes as ``CommandError.returncode``)
and as a real process (the exit status a shell script sees)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import DomainManager, Manager
from aliases.models import Alias
from audit.models import AuditEntry
from conftest import PASSWORD
from domains.models import Domain
from mailadmin.lib.passwords import verify_password
from mailboxes.models import Mailbox
from provisioning.models import Job

pytestmark = pytest.mark.django_db
ROOT = "root@panel.test"
PROJECT = Path(__file__).resolve().parent.parent


def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
    """``call_command``: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def snapshot() -> tuple:
    return (
        list(Domain.objects.order_by("pk").values()),
        list(Mailbox.objects.order_by("pk").values()),
        list(Alias.objects.order_by("pk").values()),
        list(Manager.objects.order_by("pk").values()),
        sorted(DomainManager.objects.values_list("manager_id", "domain_id", "active")),
        Job.objects.count(),
        AuditEntry.objects.count(),
    )


# --- mailboxes --------------------------------------------------------------------------------
def test_mailbox_add_with_the_password_on_stdin_creates_it_through_the_service(personas):
    code, out, err = run(
        "mailbox",
        "add",
        "carol@a.test",
        "--as",
        ROOT,
        "--name",
        "Carol",
        "--quota",
        "50",
        "--password-stdin",
        stdin=f"{PASSWORD}\n",
    )
    assert code == 0, err
    box = Mailbox.objects.get(pk="carol@a.test")
    assert box.name == "Carol"
    assert box.quota == str(50 * 1024 * 1024) + "S"
    assert verify_password(PASSWORD, box.password)
    assert Job.objects.filter(object_id="carol@a.test", kind=Job.Kind.MAILDIR_CREATE).exists()
    entry = AuditEntry.objects.get(action="mailbox.create", object_id="carol@a.test")
    assert entry.actor == ROOT and entry.actor_kind == "cli"
    assert entry.message.startswith("[command line, OS user ")
    assert PASSWORD not in out + err


def test_a_generated_password_is_printed_once_and_works(personas):
    code, out, _err = run("mailbox", "add", "dan@a.test", "--as", ROOT, "--generate-password")
    assert code == 0
    password = out.strip().rpartition("password: ")[2]
    assert len(password) >= 12
    assert verify_password(password, Mailbox.objects.get(pk="dan@a.test").password)


def test_a_password_is_refused_on_the_command_line_unless_insisted(personas):
    code, _out, err = run("mailbox", "add", "eve@a.test", "--as", ROOT, "--password", PASSWORD)
    assert code == 2 and "--password" in err
    assert not Mailbox.objects.filter(pk="eve@a.test").exists()
    code, _out, _err = run(
        "mailbox", "add", "eve@a.test", "--as", ROOT, "--insecure-password", PASSWORD
    )
    assert code == 0
    assert verify_password(PASSWORD, Mailbox.objects.get(pk="eve@a.test").password)


def test_the_form_rules_apply_a_weak_password_is_refused_with_exit_1(personas):
    before = snapshot()
    code, _out, err = run("mailbox", "add", "f@a.test", "--as", ROOT, "--insecure-password", "x")
    assert code == 1
    assert "f@a.test: refused: password" in err
    assert snapshot() == before


def test_mailbox_mod_changes_only_what_is_given(personas):
    user = personas["user_a"]
    code, _out, err = run(
        "mailbox",
        "mod",
        "user@a.test",
        "--as",
        ROOT,
        "--quota",
        "20",
        "--disable",
        "imap",
        "--forward-to",
        "boss@b.test",
    )
    assert code == 0, err
    box = Mailbox.objects.get(pk="user@a.test")
    assert box.quota_bytes == 20 * 1024 * 1024
    assert not box.service_enabled("imap") and box.service_enabled("pop3")
    assert box.name == user.name and box.password == user.password
    assert Alias.objects.get(pk="user@a.test").goto == "boss@b.test"
    code, _out, err = run("mailbox", "mod", "user@a.test", "--as", ROOT)
    assert code == 1 and "nothing to change" in err


def test_mailbox_del_archives_by_default(personas):
    code, out, _err = run("mailbox", "del", "user@a.test", "--as", ROOT)
    assert code == 0 and "deleted (data archived)" in out
    assert not Mailbox.objects.filter(pk="user@a.test").exists()
    assert Job.objects.filter(object_id="user@a.test", kind=Job.Kind.MAILDIR_ARCHIVE).exists()


# --- scoping ----------------------------------------------------------------------------------
def test_a_domain_admin_reaches_only_their_domains(personas, make_mailbox):
    make_mailbox("other@b.test")
    before = snapshot()
    code, _out, err = run(
        "mailbox", "add", "x@b.test", "--as", "admin@a.test", "--generate-password"
    )
    assert code == 1 and "not one of yours" in err
    for action in ("mod", "del"):
        code, _out, err = (
            run("mailbox", action, "other@b.test", "--as", "admin@a.test", "--name", "X")
            if action == "mod"
            else run("mailbox", action, "other@b.test", "--as", "admin@a.test")
        )
        assert code == 1 and "no such object" in err
    code, out, _err = run("mailbox", "show", "other@b.test", "--as", "admin@a.test")
    assert code == 1 and "other@b.test" not in out
    code, out, _err = run("mailbox", "list", "--as", "admin@a.test")
    assert code == 0 and out.split() == ["user@a.test"]
    code, _out, err = run("mailbox", "list", "--as", "admin@a.test", "--domain", "b.test")
    assert code == 1
    code, _out, err = run("domain", "add", "c.test", "--as", "admin@a.test")
    assert code == 1 and "only a superadmin" in err
    code, _out, err = run("domain", "mod", "a.test", "--as", "admin@a.test", "--maxusers", "9")
    assert code == 1 and "only a superadmin" in err
    code, _out, err = run("manager", "del", "admin@b.test", "--as", "admin@a.test")
    assert code == 1
    assert snapshot() == before


def test_a_domain_admin_may_not_grant_what_the_domain_disables(personas):
    Domain.objects.filter(pk="a.test").update(disableimap=1)
    Mailbox.objects.filter(pk="user@a.test").update(disableimap=1)
    code, _out, err = run(
        "mailbox", "mod", "user@a.test", "--as", "admin@a.test", "--services", "imap,pop3"
    )
    assert code == 1 and "enable_imap: Disabled for this domain." in err
    code, _out, err = run(
        "mailbox", "mod", "user@a.test", "--as", "admin@a.test", "--uidnumber", "2000"
    )
    assert code == 1 and "uidnumber: this manager may not set it" in err
    assert Mailbox.objects.get(pk="user@a.test").disableimap == 1


def test_without_an_actor_it_is_a_usage_error(personas, monkeypatch):
    monkeypatch.delenv("MAILADMIN_CLI_AS", raising=False)
    assert run("mailbox", "list")[0] == 2
    assert run("mailbox", "list", "--as", "nobody@x.test")[0] == 2
    Manager.objects.filter(pk="admin@a.test").update(active=False)
    assert run("mailbox", "list", "--as", "admin@a.test")[0] == 2
    monkeypatch.setenv("MAILADMIN_CLI_AS", ROOT)
    assert run("mailbox", "list")[0] == 0


# --- batches, --continue, --dry-run -------------------------------------------------------------
BATCH = f"""# new people
ann@a.test --name "Ann A" --password {PASSWORD}
bob@a.test --password {PASSWORD} --quota 10
bad@nowhere.test --password {PASSWORD}
cid@a.test --generate-password
"""


def test_a_batch_is_all_or_nothing_by_default(personas):
    before = snapshot()
    code, _out, err = run("mailbox", "add", "--as", ROOT, "--file", "-", stdin=BATCH)
    assert code == 1
    assert "line 4: bad@nowhere.test: refused" in err
    assert "nothing written" in err
    assert snapshot() == before


def test_continue_keeps_the_good_lines_and_reports_the_bad(personas):
    code, out, _err = run(
        "mailbox", "add", "--as", ROOT, "--file", "-", "--continue", "--json", stdin=BATCH
    )
    assert code == 1
    report = json.loads(out)
    assert report["committed"] is True and report["ok"] is False
    by_object = {r["object"]: r for r in report["results"]}
    assert by_object["bad@nowhere.test"]["ok"] is False
    assert by_object["bad@nowhere.test"]["line"] == 4
    assert by_object["bad@nowhere.test"]["errors"]
    assert set(Mailbox.objects.filter(domain_id="a.test").values_list("pk", flat=True)) == {
        "user@a.test",
        "ann@a.test",
        "bob@a.test",
        "cid@a.test",
    }
    generated = by_object["cid@a.test"]["password"]
    assert verify_password(generated, Mailbox.objects.get(pk="cid@a.test").password)
    assert Mailbox.objects.get(pk="ann@a.test").name == "Ann A"


def test_dry_run_checks_every_line_and_writes_nothing(personas, django_capture_on_commit_callbacks):
    good = "\n".join(line for line in BATCH.splitlines() if "nowhere" not in line)
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        code, out, err = run(
            "mailbox", "add", "--as", ROOT, "--file", "-", "--dry-run", "--json", stdin=good
        )
    assert code == 0, err
    report = json.loads(out)
    assert report["dry_run"] is True and report["committed"] is False and report["ok"] is True
    assert all("password" not in r for r in report["results"])
    assert snapshot() == before
    assert callbacks == []  # no job was sent
    code, _out, err = run("mailbox", "add", "--as", ROOT, "--file", "-", "--dry-run", stdin=BATCH)
    assert code == 1 and "would be refused" in err
    assert snapshot() == before


def test_a_later_line_sees_the_earlier_ones_of_the_same_batch(personas):
    Domain.objects.filter(pk="a.test").update(maxusers=2)
    batch = f"x1@a.test --password {PASSWORD}\nx2@a.test --password {PASSWORD}\n"
    code, _out, err = run("mailbox", "add", "--as", ROOT, "--file", "-", "--dry-run", stdin=batch)
    assert code == 1 and "line 2: x2@a.test: refused" in err and "limit" in err


def test_a_malformed_line_is_a_usage_error_before_anything_is_done(personas, tmp_path):
    path = tmp_path / "batch.txt"
    path.write_text(f"ok@a.test --password {PASSWORD}\nno@a.test --bogus 1\n")
    before = snapshot()
    code, _out, err = run("mailbox", "add", "--as", ROOT, "--file", str(path))
    assert code == 2 and "line 2" in err
    assert snapshot() == before
    assert run("mailbox", "add", "--as", ROOT, "--file", str(tmp_path / "missing"))[0] == 2


# --- domains, aliases, managers ---------------------------------------------------------------
def test_domain_add_mod_show_del(personas):
    code, _out, err = run(
        "domain",
        "add",
        "c.test",
        "--as",
        ROOT,
        "--maxusers",
        "5",
        "--default-quota",
        "100",
        "--userservices",
        "smtp,smtpd,imap",
        "--description",
        "Shop",
    )
    assert code == 0, err
    dom = Domain.objects.get(pk="c.test")
    assert dom.maxusers == 5 and dom.description == "Shop"
    assert dom.service_enabled("imap") and not dom.service_enabled("pop3")
    assert run("domain", "mod", "c.test", "--as", ROOT, "--maxuser", "7", "--active", "0")[0] == 0
    dom.refresh_from_db()
    assert dom.maxusers == 7 and not dom.active and dom.description == "Shop"
    code, out, _err = run("domain", "show", "c.test", "--as", ROOT, "--json")
    assert json.loads(out)["maxusers"] == 7
    assert run("domain", "del", "c.test", "--as", ROOT)[0] == 0
    assert not Domain.objects.filter(pk="c.test").exists()
    assert run("domain", "del", "a.test", "--as", ROOT)[0] == 1  # it has a mailbox


def test_alias_add_mod_del_and_catch_all(personas):
    code, _out, err = run(
        "alias", "add", "sales@a.test", "--as", "admin@a.test", "--goto", "user@a.test,x@b.test"
    )
    assert code == 0, err
    assert Alias.objects.get(pk="sales@a.test").goto == "user@a.test,x@b.test"
    code, _out, err = run(
        "alias",
        "mod",
        "sales@a.test",
        "--as",
        "admin@a.test",
        "--add-goto",
        "y@b.test",
        "--del-goto",
        "x@b.test",
    )
    assert code == 0, err
    assert Alias.objects.get(pk="sales@a.test").goto == "user@a.test,y@b.test"
    assert run("alias", "add", "@a.test", "--as", ROOT, "--goto", "user@a.test")[0] == 0
    assert Alias.objects.filter(pk="@a.test").exists()
    code, _out, err = run("alias", "add", "loop@a.test", "--as", ROOT, "--goto", "loop@a.test")
    assert code == 1
    assert run("alias", "del", "sales@a.test", "--as", "admin@b.test")[0] == 1
    assert run("alias", "del", "sales@a.test", "--as", "admin@a.test")[0] == 0
    assert not Alias.objects.filter(pk="sales@a.test").exists()


def test_manager_add_mod_show_del(personas):
    code, out, err = run(
        "manager",
        "add",
        "ops@a.test",
        "--as",
        ROOT,
        "--domains",
        "a.test",
        "--name",
        "Ops",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    ops = Manager.objects.get(pk="ops@a.test")
    assert ops.check_password(PASSWORD) and not ops.is_superadmin
    code, _out, err = run("manager", "mod", "ops@a.test", "--as", ROOT, "--adddomains", "b.test")
    assert code == 0, err
    code, out, _err = run("manager", "show", "ops@a.test", "--as", ROOT, "--json")
    assert json.loads(out)["domains"] == "a.test,b.test"
    code, _out, err = run("manager", "mod", "ops@a.test", "--as", ROOT, "--deldomains", "a.test")
    assert (
        json.loads(run("manager", "show", "ops@a.test", "--as", ROOT, "--json")[1])["domains"]
        == "b.test"
    )
    code, out, _err = run("manager", "list", "--as", "admin@a.test")
    assert out.split() == ["admin@a.test"]
    assert run("manager", "del", ROOT, "--as", ROOT)[0] == 1  # never oneself
    assert run("manager", "del", "ops@a.test", "--as", ROOT)[0] == 0


# --- list output ------------------------------------------------------------------------------
def test_list_json_and_csv_shapes(personas, make_mailbox):
    make_mailbox("=cmd@a.test", name="=HYPERLINK(1)")
    code, out, _err = run("mailbox", "list", "--as", ROOT, "--domain", "a.test", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["username"] for r in rows] == ["=cmd@a.test", "user@a.test"]
    assert rows[0]["name"] == "=HYPERLINK(1)" and rows[0]["active"] is True
    assert {"quota", "enable_imap", "forward_to", "expiredate"} <= set(rows[0])
    code, out, _err = run("mailbox", "list", "--as", ROOT, "--domain", "a.test", "--csv")
    lines = out.splitlines()
    assert lines[0].startswith("username,domain,name,active,quota")
    assert lines[1].startswith("'=cmd@a.test,a.test,'=HYPERLINK(1),1,")
    _code, out, _err = run("mailbox", "list", "--as", ROOT, "--search", "us")
    assert out.split() == ["user@a.test"]


# --- a real process ---------------------------------------------------------------------------
def test_exit_codes_and_stdin_of_the_real_command(tmp_path):
    """``manage.py`` as a shell script runs it, on a database of its own (a SQLite file), so the
    exit status and stdin are those of a real process."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "MAILADMIN_MAIL_BASE": str(tmp_path / "mail"),
        "MAILADMIN_CLI_AS": ROOT,
    }
    env.pop("CELERY_BROKER_URL", None)

    def manage(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert manage("migrate", "-v0").returncode == 0
    made = manage("create_superadmin", "--username", ROOT, "--password-stdin", stdin=PASSWORD)
    assert made.returncode == 0, made.stderr
    assert manage("domain", "add", "a.test").returncode == 0
    batch = f"p1@a.test --password {PASSWORD}\np2@a.test --generate-password\n"
    ok = manage("mailbox", "add", "--file", "-", "--json", stdin=batch)
    assert ok.returncode == 0, ok.stderr
    assert [r["object"] for r in json.loads(ok.stdout)["results"]] == ["p1@a.test", "p2@a.test"]
    refused = manage("mailbox", "add", "p1@a.test", "--password-stdin", stdin=PASSWORD + "\n")
    assert refused.returncode == 1
    assert "p1@a.test: refused" in refused.stderr
    assert manage("mailbox", "add", "--bogus").returncode == 2
    assert manage("mailbox", "frobnicate").returncode == 2
    listed = manage("mailbox", "list", "--csv")
    assert listed.returncode == 0
    assert [line.split(",")[0] for line in listed.stdout.splitlines()[1:]] == [
        "p1@a.test",
        "p2@a.test",
    ]


def test_mailbox_import_takes_the_import_pages_csv_with_hashes_and_a_dry_run(personas):
    from passlib.hash import md5_crypt

    text = (
        "local_part,name,password,quota,password_hash\n"
        f"ann,Ann,{PASSWORD},5,\nbob,Bob,,,{md5_crypt.hash(PASSWORD)}\n"
    )
    before = snapshot()
    code, out, err = run(
        "mailbox",
        "import",
        "--as",
        "admin@a.test",
        "--domain",
        "a.test",
        "--file",
        "-",
        "--dry-run",
        "--json",
        stdin=text,
    )
    assert code == 0, err
    assert json.loads(out)["created"] == ["ann@a.test", "bob@a.test"]
    assert snapshot() == before
    bad = text + "ann,Again,short\n"
    code, out, err = run(
        "mailbox",
        "import",
        "--as",
        "admin@a.test",
        "--domain",
        "a.test",
        "--file",
        "-",
        stdin=bad,
    )
    assert code == 1 and "Line 4" in err
    assert snapshot() == before
    code, out, err = run(
        "mailbox",
        "import",
        "--as",
        "admin@a.test",
        "--domain",
        "a.test",
        "--file",
        "-",
        stdin=text,
    )
    assert code == 0 and "2 mailboxes imported" in out
    assert verify_password(PASSWORD, Mailbox.objects.get(pk="bob@a.test").password)
    entry = AuditEntry.objects.get(action="mailbox.create", object_id="bob@a.test")
    assert entry.actor == "admin@a.test" and entry.actor_kind == "cli"
    assert (
        run(
            "mailbox",
            "import",
            "--as",
            "admin@a.test",
            "--domain",
            "b.test",
            "--file",
            "-",
            stdin=text,
        )[0]
        == 1
    )


def test_stdin_and_command_line_options_do_not_mix_with_a_batch(personas):
    batch = f"z@a.test --password {PASSWORD}\n"
    code, _out, err = run(
        "mailbox", "add", "--as", ROOT, "--file", "-", "--password-stdin", stdin=batch
    )
    assert code == 2
    code, _out, err = run(
        "mailbox", "add", "--as", ROOT, "--file", "-", "--quota", "5", stdin=batch
    )
    assert code == 2 and "quota" in err
    code, _out, err = run("mailbox", "add", "y@a.test", "--as", ROOT, "--file", "-", stdin=batch)
    assert code == 2
    assert not Mailbox.objects.filter(pk__in=["z@a.test", "y@a.test"]).exists()


def test_a_zero_is_a_change_too(personas):
    assert run("mailbox", "mod", "user@a.test", "--as", ROOT, "--active", "0")[0] == 0
    assert not Mailbox.objects.get(pk="user@a.test").active
    code, _out, err = run(
        "mailbox", "mod", "--as", ROOT, "--file", "-", "--active", "0", stdin="user@a.test\n"
    )
    assert code == 2 and "active" in err
