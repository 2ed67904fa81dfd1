"""Test-wide fixtures: fast settings, the MariaDB/legacy passes, real broker and workers, and
the personas.

``scripts/test.sh`` runs the suite three times: on SQLite, on MariaDB, and (tests marked
``legacy``) on a MariaDB test database that was loaded from ``tests/fixtures/extman-legacy.sql``
and then ``tests/fixtures/extman-hostile.sql`` before ``migrate`` adopted it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.db.models.signals import pre_migrate
from django.test import Client

if TYPE_CHECKING:
    from mailboxes.models import Mailbox

from tests.workers import PrivateRedis, Worker

FIXTURES = Path(__file__).resolve().parent / "tests" / "fixtures"
FIXTURE_SQL = FIXTURES / "extman-legacy.sql"
HOSTILE_SQL = FIXTURES / "extman-hostile.sql"
LEGACY_MODE = os.environ.get("MAILADMIN_TEST_LEGACY_FIXTURE") == "1"
ALL_QUEUES = ["maildir.default", "privileged", "mailadmin"]


def mysql_client_args(settings_dict: dict, database: str | None = None) -> tuple[list[str], dict]:
    """Arguments and environment for the real ``mysql`` client on a Django connection's server."""
    args = [
        "mysql",
        "--protocol=tcp",
        f"--host={settings_dict['HOST'] or '127.0.0.1'}",
        f"--port={settings_dict['PORT'] or 3306}",
        f"--user={settings_dict['USER']}",
        "--default-character-set=utf8mb4",
    ]
    if database:
        args.append(database)
    return args, {**os.environ, "MYSQL_PWD": settings_dict["PASSWORD"] or ""}


def load_legacy_fixture(settings_dict: dict, database: str, sql_file: Path = FIXTURE_SQL) -> None:
    """Load an ExtMan fixture with the mysql client, as an admin would (`mysql DB < file`)."""
    args, env = mysql_client_args(settings_dict, database)
    with sql_file.open("rb") as sql:
        subprocess.run(args, stdin=sql, env=env, check=True)


_legacy_loaded = False


def _load_fixture_before_migrate(sender, using="default", **kwargs) -> None:
    """In the legacy pass, fill the fresh test database from the fixtures before `migrate`: the
    ExtMan database, then the hostile rows on top of it."""
    global _legacy_loaded
    if _legacy_loaded:
        return
    _legacy_loaded = True
    from django.db import connections

    conn = connections[using]
    with conn.cursor() as cursor:
        if "manager" in conn.introspection.table_names(cursor):
            return
    for sql_file in (FIXTURE_SQL, HOSTILE_SQL):
        load_legacy_fixture(conn.settings_dict, conn.settings_dict["NAME"], sql_file)


def pytest_configure(config: pytest.Config) -> None:
    if LEGACY_MODE:
        pre_migrate.connect(_load_fixture_before_migrate, dispatch_uid="mailadmin-legacy")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MAILADMIN_MAIL_BASE = tmp_path / "maildata"
    settings.MAILADMIN_MAIL_BASE.mkdir()
    settings.MAILADMIN_POSTFIX_DIR = tmp_path / "postfix"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SECURE_COOKIES = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.LANGUAGE_CODE = "en"
    settings.MAILADMIN_CAPTCHA_TEST_MODE = True
    # Rate-limit counters live in the cache: every test starts with none.
    from django.core.cache import cache

    cache.clear()


WRAP_HINT = b"<wbr>"


@pytest.fixture(autouse=True)
def _pages_read_as_text(monkeypatch):
    """Tests read an address in a page as its reader does: the ``<wbr>`` break hints of the
    ``wrap_address`` filter (after ``@`` and dots) are taken out of the HTML the test client
    gets, so that ``address in body``, and above all ``address not in body``, mean what they
    say. The hints themselves are tested on the filter (tests/test_wrap_address.py)."""
    from django.test.client import Client

    request = Client.request

    def request_without_hints(self, **kwargs):
        response = request(self, **kwargs)
        if not response.streaming and "html" in response.get("Content-Type", ""):
            response.content = response.content.replace(WRAP_HINT, b"")
        return response

    monkeypatch.setattr(Client, "request", request_without_hints)


@pytest.fixture(autouse=True)
def _database_markers(request: pytest.FixtureRequest) -> None:
    """A test that needs MariaDB (or the legacy fixture) fails loudly without it."""
    needs_mariadb = request.node.get_closest_marker("mariadb") or request.node.get_closest_marker(
        "legacy"
    )
    if needs_mariadb and connection.vendor != "mysql":
        pytest.fail("this test needs MariaDB: run it through scripts/test.sh")
    if request.node.get_closest_marker("legacy") and not LEGACY_MODE:
        pytest.fail("this test needs the legacy fixture database: run it through scripts/test.sh")


LEGACY_TABLES = ("domain_manager", "alias", "mailbox", "manager", "domain")


@pytest.fixture(autouse=True)
def _empty_legacy_tables_after_transactional_tests(request, django_db_blocker):
    """Django's flush after a transactional test (live server, worker tests) empties only the
    panel's own tables; the extmail tables are unmanaged, so they are emptied here."""
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if not transactional or LEGACY_MODE:
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table in LEGACY_TABLES:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608


@pytest.fixture
def legacy_rows_kept(db, django_db_blocker):
    """For legacy-pass tests that change rows: the fixture's extmail tables are MyISAM, which
    a test's rollback cannot undo, so their rows are copied aside on the server first and put
    back afterwards (zero dates and all). Temporary tables: other DDL would commit the test's
    own transaction."""
    if not LEGACY_MODE:
        yield
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in LEGACY_TABLES:
            backup = qn(f"keep_{table}")
            cursor.execute(f"DROP TEMPORARY TABLE IF EXISTS {backup}")
            cursor.execute(f"CREATE TEMPORARY TABLE {backup} LIKE {qn(table)}")
            cursor.execute(f"INSERT INTO {backup} SELECT * FROM {qn(table)}")  # noqa: S608
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")
        for table in LEGACY_TABLES:
            backup = qn(f"keep_{table}")
            cursor.execute(f"DELETE FROM {qn(table)}")  # noqa: S608
            cursor.execute(f"INSERT INTO {qn(table)} SELECT * FROM {backup}")  # noqa: S608
            cursor.execute(f"DROP TEMPORARY TABLE {backup}")


@pytest.fixture
def use_broker(settings):
    """Switch jobs from inline to a real broker: ``use_broker("redis://...")``.

    Celery keeps connection pools per app; they are dropped on the way in and out so that no
    test sends to another test's broker.
    """
    from mailadmin.celery import app

    def switch(url: str):
        settings.CELERY_TASK_ALWAYS_EAGER = False
        settings.CELERY_BROKER_URL = url
        app._after_fork()  # forget pools made for another broker
        return app

    yield switch
    if app._pool is not None:
        app._pool.force_close_all()
    app._after_fork()
    from provisioning.dispatch import resume_broker

    resume_broker()  # a failed send pauses sending for this process; not into the next test


@pytest.fixture
def broker(tmp_path, use_broker):
    """A private Redis (``tests.workers.PrivateRedis``), started, that the jobs are sent to."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    use_broker(server.url)
    yield server
    server.stop()


@pytest.fixture
def start_worker(broker, settings, tmp_path, transactional_db):
    """``start_worker(name, queues, **options)``: a real Celery worker process on the private
    broker and the test database; it sees committed data only, hence ``transactional_db``."""
    workers: list[Worker] = []

    def start(name: str = "w1", queues: list[str] = ALL_QUEUES, **kwargs) -> Worker:
        kwargs.setdefault("mail_base", settings.MAILADMIN_MAIL_BASE)
        # The panel's secret key, as an installation's workers have it (sealed secrets).
        kwargs["env"] = {"SECRET_KEY": settings.SECRET_KEY, **kwargs.get("env", {})}
        worker = Worker(
            name=name,
            queues=queues,
            broker_url=broker.url,
            database=connection.settings_dict,
            logdir=tmp_path,
            **kwargs,
        )
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.kill()  # what the worker did is checked; how it shuts down is not


@pytest.fixture(scope="session")
def mail_stack(django_db_setup, django_db_blocker):
    """The private mail stack (``tests.mailservers.MailStack``), one per test run, on the test
    database (its name is known once it is set up)."""
    from tests.mailservers import MailStack

    stack = MailStack()
    try:
        with django_db_blocker.unblock():
            yield stack.install()
    finally:
        stack.stop()


@pytest.fixture
def run_jobs(settings):
    """``run_jobs()``: carry out every pending job in order with the real handlers, as a worker
    would (for tests whose recorded jobs never reach a worker: on_commit does not fire inside
    a test's transaction). Returns ``{job id: final state}`` of the jobs it ran."""
    from provisioning import runner
    from provisioning.models import Job

    def run(*kinds: str) -> dict[int, str | None]:
        """Only the kinds that start with one of ``kinds`` when given (e.g. "maildir.")."""
        states = {}
        for pk, kind in (
            Job.objects.filter(state="pending").order_by("id").values_list("pk", "kind")
        ):
            if not kinds or kind.startswith(kinds):
                states[pk] = runner.execute(pk)
        return dict(Job.objects.filter(pk__in=states).values_list("pk", "state"))

    return run


# --- Personas ---------------------------------------------------------------------------------
PASSWORD = "Correct-Horse-9"


@pytest.fixture
def make_domain(db):
    from domains.models import Domain

    def make(name: str, **fields) -> Domain:
        return Domain.objects.create(domain=name, description=f"virtualDomain for {name}", **fields)

    return make


@pytest.fixture
def make_manager(db):
    from accounts.models import DomainManager, Manager

    def make(username: str, *, domains=(), password: str = PASSWORD, **fields) -> Manager:
        manager = Manager(username=username, **fields)
        manager.set_password(password)
        manager.save()
        for domain in domains:
            DomainManager.objects.create(manager=manager, domain_id=domain)
        return manager

    return make


@pytest.fixture
def make_mailbox(db):
    from mailadmin.lib.passwords import hash_password
    from mailboxes.models import Mailbox

    def make(address: str, *, password: str = PASSWORD, **fields) -> Mailbox:
        local, _, domain = address.partition("@")
        fields.setdefault("homedir", f"{domain}/{local}")
        fields.setdefault("maildir", f"{fields['homedir']}/Maildir/")
        mailbox = Mailbox(username=address, uid=local, domain_id=domain, **fields)
        mailbox.password = hash_password(password)
        mailbox.save()
        return mailbox

    return make


@pytest.fixture
def personas(make_domain, make_manager, make_mailbox):
    """superadmin, admin of a.test, admin of b.test, a mailbox user of a.test."""
    make_domain("a.test")
    make_domain("b.test")
    return {
        "superadmin": make_manager("root@panel.test", type="admin"),
        "admin_a": make_manager("admin@a.test", domains=["a.test"]),
        "admin_b": make_manager("admin@b.test", domains=["b.test"]),
        "user_a": make_mailbox("user@a.test"),
    }


def portal_force_login(client: Client, mailbox: Mailbox) -> None:
    """Log ``client`` in to the mailbox portal, as ``Client.force_login`` does for a manager:
    straight into the session, without the login form's throttling and audit record."""
    from django.conf import settings
    from django.http import HttpRequest

    from portal.session import portal_login

    request = HttpRequest()
    request.session = client.session
    portal_login(request, mailbox)
    request.session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = request.session.session_key


@pytest.fixture
def client_as(personas):
    """``client_as("admin_a")``: a test client logged in as that persona.

    "user_a" is logged in to the mailbox portal (a session that never opens the manager pages);
    "anonymous" has no session.
    """

    def make(persona: str) -> Client:
        client = Client()
        if persona in ("superadmin", "admin_a", "admin_b"):
            client.force_login(personas[persona])
        elif persona == "user_a":
            portal_force_login(client, personas[persona])
        return client

    return make


PERSONAS = ("superadmin", "admin_a", "admin_b", "user_a", "anonymous")


@pytest.fixture
def api_token(personas):
    """``api_token("admin_a", scope="write")``: a new API token of that persona (the token
    text, shown once)."""
    import datetime

    from django.utils import timezone

    from api.services import token_create

    def make(persona: str, *, scope: str = "write", days: int = 30) -> str:
        _row, token = token_create(
            actor=personas[persona],
            name=f"test {persona} {scope}",
            scope=scope,
            expires_at=timezone.now() + datetime.timedelta(days=days),
        )
        return token

    return make


@pytest.fixture
def api_client(api_token):
    """``api_client("admin_a")``: a test client sending that persona's token ("anonymous": none;
    "user_a", a mailbox user, has no token: the client sends a made-up one)."""

    def make(persona: str, *, scope: str = "write") -> Client:
        if persona in ("superadmin", "admin_a", "admin_b"):
            token = api_token(persona, scope=scope)
        elif persona == "user_a":
            token = "mat_000000000000_not-a-token"
        else:
            return Client()
        return Client(headers={"Authorization": f"Bearer {token}"})

    return make
