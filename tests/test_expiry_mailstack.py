"""The expiry run's effect on the real mail programs (MariaDB): Dovecot (``doveadm auth test``)
and Postfix (``postmap -q``) refuse an expired mailbox, and every mailbox of an expired domain,
once the run has disabled them; with ``MAILADMIN_MAILSTACK_REFUSE_EXPIRED`` the generated
queries refuse them before any run, mind the zero date and the mailbox-follows-domain rule."""

from __future__ import annotations

import datetime
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from domains.models import Domain
from expiry.services import run_expiry
from mailadmin.lib import dates
from mailboxes.models import Mailbox
from mailboxes.services import mailbox_create
from mailstack import config
from tests.mailservers import PrivateDovecot
from tests.test_mailstack_mariadb import SECRET, postmap_q, stack  # noqa: F401

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


def yesterday() -> datetime.date:
    return dates.today() - datetime.timedelta(days=1)


@pytest.fixture
def boxes(stack, personas, make_domain):  # noqa: F811 - the imported fixture
    root = personas["superadmin"]
    make_domain("late.test")
    for domain, local in (
        ("a.test", "expired"),
        ("a.test", "today"),
        ("a.test", "never"),
        ("late.test", "member"),
        ("late.test", "own"),
    ):
        mailbox_create(domain=domain, local_part=local, password=SECRET, actor=root)
    Mailbox.objects.filter(pk="expired@a.test").update(expiredate=yesterday())
    Mailbox.objects.filter(pk="today@a.test").update(expiredate=dates.today())
    Mailbox.objects.filter(pk="own@late.test").update(
        expiredate=dates.today() + datetime.timedelta(days=300)
    )
    Domain.objects.filter(pk="late.test").update(expiredate=yesterday())
    return stack


def accepted(dovecot: PrivateDovecot, user: str) -> bool:
    return dovecot.auth_test(user, SECRET).returncode == 0


REFUSED = ("expired@a.test", "member@late.test", "own@late.test")
ACCEPTED = ("today@a.test", "never@a.test")


def test_dovecot_and_postfix_refuse_expired_mailboxes_once_the_run_has_disabled_them(boxes):
    dovecot = boxes.dovecot
    # Nothing acts on the date by itself: the expired mailbox still logs in.
    assert accepted(dovecot, "expired@a.test")
    assert accepted(dovecot, "member@late.test")

    run_expiry()

    for user in REFUSED:
        assert not accepted(dovecot, user), user
        assert postmap_q(boxes, user, config.MAILBOX_MAP) is None, user
    assert postmap_q(boxes, "late.test", config.DOMAINS_MAP) is None
    for user in ACCEPTED:
        assert accepted(dovecot, user), user
        assert postmap_q(boxes, user, config.MAILBOX_MAP) is not None


def test_a_dry_run_leaves_the_mail_stack_as_it_was(boxes):
    run_expiry(dry_run=True)
    run_expiry(action="report")
    for user in (*REFUSED, *ACCEPTED):
        assert accepted(boxes.dovecot, user), user


@pytest.fixture
def refusing(boxes, tmp_path) -> Iterator[tuple[PrivateDovecot, Path]]:
    """A Dovecot and a Postfix mailbox map rendered with MAILADMIN_MAILSTACK_REFUSE_EXPIRED."""
    with override_settings(MAILADMIN_MAILSTACK_REFUSE_EXPIRED=True, **boxes.settings()):
        db = config.database_params()
        sql = config.dovecot_sql(db)
        maps = {name: config.postfix_map(name, db) for name in config.POSTFIX_MAPS}
    directory = Path(boxes.root) / f"refusing-{tmp_path.name}"
    directory.mkdir()
    sql_file = directory / config.DOVECOT_SQL
    sql_file.write_text(sql)
    sql_file.chmod(0o644)
    for name, text in maps.items():
        (directory / name).write_text(text)
    dovecot = PrivateDovecot(sql_file).start()
    try:
        yield dovecot, directory
    finally:
        dovecot.stop()


def map_answer(stack, directory: Path, key: str, name: str) -> str | None:  # noqa: F811
    args = ["postmap", "-c", str(stack.pfconf), "-q", key, f"mysql:{directory / name}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1) and "error" not in result.stderr.lower(), result.stderr
    return result.stdout.strip() if result.returncode == 0 else None


def test_with_the_setting_the_queries_refuse_expired_rows_before_any_run(boxes, refusing):
    dovecot, directory = refusing
    for user in REFUSED:
        assert not accepted(dovecot, user), user
        assert map_answer(boxes, directory, user, config.MAILBOX_MAP) is None, user
        assert map_answer(boxes, directory, user, config.SENDER_MAP) is None, user
    assert map_answer(boxes, directory, "late.test", config.DOMAINS_MAP) is None
    # 0000-00-00 never expires; the expiry date is the last valid day.
    for user in ACCEPTED:
        assert accepted(dovecot, user), user
        assert map_answer(boxes, directory, user, config.MAILBOX_MAP) is not None, user
    assert map_answer(boxes, directory, "a.test", config.DOMAINS_MAP) == "a.test"
    # Nothing was disabled: the rows are as they were.
    assert Mailbox.objects.get(pk="expired@a.test").active
    assert Mailbox.objects.get(pk="never@a.test").expiredate is None


def test_with_the_setting_a_renewed_mailbox_logs_in_again_at_once(boxes, refusing):
    dovecot, _directory = refusing
    assert not accepted(dovecot, "expired@a.test")
    Mailbox.objects.filter(pk="expired@a.test").update(expiredate=dates.today())
    assert accepted(dovecot, "expired@a.test")
