"""One permission matrix over every URL of the project (SPEC §1, §7.3).

The routes come from the URLconf itself: a URL the matrix does not list fails
``test_every_url_of_the_project_is_in_the_matrix``, so each new page gets classified here. Path
parameters are filled with real objects of a.test (the domain of admin_a); every route is
requested by each persona with GET and with an empty POST.

Beyond the status:
- an answer to anyone but the superadmin and a.test's admin never names a.test or its objects
  (a 404 looks the same as for something that does not exist);
- a refused request (login redirect, 404, 405) changes nothing;
- every page's POST forms carry exactly one CSRF token.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from test_csrf_tokens import assert_one_csrf_token_per_form

from accounts.models import DomainManager, Manager
from activity.models import Login, Message, Recipient
from aliases.models import Alias
from api.models import ApiToken
from api.services import token_create
from audit.models import AuditEntry
from conftest import PASSWORD, PERSONAS
from domains.models import Domain
from expiry.models import ExpiryNotice
from groupmail.models import GroupMail
from mailadmin.lib.passwords import hash_password
from mailadmin.lib.sealing import seal
from mailboxes.models import Mailbox
from mailstack.config import DOMAINS_MAP
from mailstack.models import InternalOnly
from provisioning.models import Archive, Job, Operation
from provisioning.services import job_record
from signup.models import SignupPolicy, SignupRequest

pytestmark = pytest.mark.django_db

# The objects of a.test that fill the path parameters; "{job}" is the id of a.test's job,
# "{operation}" that of a.test's background operation, "{signup}" the id of a pending signup
# request for a.test, "{captcha}" a captcha's key.
DOMAIN = "a.test"
MAILBOX = "user@a.test"
ALIAS = "sales@a.test"
MANAGER = "admin@a.test"
APPLICANT = "applicant@a.test"
JOB = "{job}"
OPERATION = "{operation}"
SIGNUP = "{signup}"
ARCHIVE = "{archive}"
CAPTCHA = "{captcha}"
MESSAGE = "{message}"
TOKEN = "{token}"  # an API token of admin_a
AUDIT = "{audit}"  # an audit entry of a.test
ON_A = f"?domain={DOMAIN}"

OK, FOUND, NOT_FOUND, NOT_ALLOWED = 200, 302, 404, 405
LOGIN = "login"  # a redirect to the manager login page
PORTAL_LOGIN = "portal login"  # a redirect to the mailbox portal's login page
# The generated files carry the panel's MySQL connection: without one there is nothing to give.
OK_ON_MYSQL = OK if connection.vendor == "mysql" else NOT_FOUND


@dataclass(frozen=True)
class Route:
    """Expected answers, in the order of ``PERSONAS``: superadmin, admin_a (a.test's admin),
    admin_b (another domain's admin), user_a (user@a.test, logged in to the portal), anonymous.
    ``LOGIN`` is a redirect to the manager login page, ``PORTAL_LOGIN`` to the portal's."""

    get: tuple[int | str, ...]
    post: tuple[int | str, ...]
    kwargs: dict[str, str] = field(default_factory=dict)
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    public: tuple[str, ...] = ()  # secrets this page shows to everyone it answers
    own_account: bool = False  # a mailbox user's page: it shows them their own address


EVERYONE = (OK,) * 5
ANY_MANAGER = (OK, OK, OK, LOGIN, LOGIN)
OWNERS = (OK, OK, NOT_FOUND, LOGIN, LOGIN)
SUPERADMIN = (OK, NOT_FOUND, NOT_FOUND, LOGIN, LOGIN)
# The POST did its work (or refused the empty form with a message) and redirects.
ANY_MANAGER_DONE = (FOUND, FOUND, FOUND, LOGIN, LOGIN)
OWNERS_DONE = (FOUND, FOUND, NOT_FOUND, LOGIN, LOGIN)
SUPERADMIN_DONE = (FOUND, NOT_FOUND, NOT_FOUND, LOGIN, LOGIN)
# A method the page does not take: 405 only to those who may see the page, and always after
# the login; an outsider gets the same 404 as for any other method.
MANAGERS_REFUSE = (NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, LOGIN, LOGIN)
OWNERS_REFUSE = (NOT_ALLOWED, NOT_ALLOWED, NOT_FOUND, LOGIN, LOGIN)
SUPERADMIN_REFUSE = (NOT_ALLOWED, NOT_FOUND, NOT_FOUND, LOGIN, LOGIN)
EVERYONE_REFUSED = (NOT_ALLOWED,) * 5  # logging out is for everyone, by POST only
# The mailbox portal: only the mailbox user's portal session opens it, never a manager's.
MAILBOX_USER = (PORTAL_LOGIN, PORTAL_LOGIN, PORTAL_LOGIN, OK, PORTAL_LOGIN)
MAILBOX_USER_REFUSE = (PORTAL_LOGIN, PORTAL_LOGIN, PORTAL_LOGIN, NOT_ALLOWED, PORTAL_LOGIN)
# The REST API: 401 without a manager's login (a portal session is none).
API_ANY_MANAGER = (OK, OK, OK, 401, 401)
API_OWNERS = (OK, OK, NOT_FOUND, 401, 401)
API_SUPERADMIN = (OK, NOT_FOUND, NOT_FOUND, 401, 401)
API_REFUSE = (NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, 401, 401)
API_NO_JSON = (415, 415, 415, 401, 401)

MATRIX: dict[str, Route] = {
    # Public (a manager who is logged in already is sent on from the login page)
    "accounts:login": Route(get=(FOUND, FOUND, FOUND, OK, OK), post=(FOUND, FOUND, FOUND, OK, OK)),
    "accounts:logout": Route(get=EVERYONE_REFUSED, post=(FOUND,) * 5),
    "set_language": Route(get=(FOUND,) * 5, post=(FOUND,) * 5),
    # The public signup form of a.test (which offers it); an empty POST shows the errors.
    "signup:form": Route(get=EVERYONE, post=EVERYONE, kwargs={"domain": DOMAIN}, public=(DOMAIN,)),
    # The captcha of the public forms, with its spoken version (flite).
    "captcha-image": Route(get=EVERYONE, post=EVERYONE, kwargs={"key": CAPTCHA}),
    "captcha-image-2x": Route(get=EVERYONE, post=EVERYONE, kwargs={"key": CAPTCHA}),
    "captcha-audio": Route(get=EVERYONE, post=EVERYONE, kwargs={"key": CAPTCHA}),
    "captcha-refresh": Route(
        get=EVERYONE, post=EVERYONE, headers={"X-Requested-With": "XMLHttpRequest"}
    ),
    # The mailbox portal: public login and forgotten password; the rest is the mailbox user's
    # own (a portal user already logged in is sent on from the login page).
    "portal:login": Route(get=(OK, OK, OK, FOUND, OK), post=EVERYONE),
    "portal:forgot": Route(get=EVERYONE, post=EVERYONE),
    "portal:logout": Route(get=EVERYONE_REFUSED, post=(FOUND,) * 5),
    "portal:home": Route(get=MAILBOX_USER, post=MAILBOX_USER_REFUSE, own_account=True),
    "portal:password": Route(get=MAILBOX_USER, post=MAILBOX_USER, own_account=True),
    "portal:recovery": Route(get=MAILBOX_USER, post=MAILBOX_USER, own_account=True),
    # Every manager, scoped to their own domains
    "overview": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    # The top bar's search: every manager, over their own domains only ("u" finds user@a.test
    # and "s" sales@a.test for those who may see them).
    "search": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE, query="?q=u"),
    "accounts:password": Route(get=ANY_MANAGER, post=ANY_MANAGER),
    # The code step of a sign-in: without a password step waiting for it, back to the login.
    "accounts:login_code": Route(get=(FOUND,) * 5, post=(FOUND,) * 5),
    "accounts:twofactor": Route(get=ANY_MANAGER, post=ANY_MANAGER),
    # Security keys: the sign-in steps answer JSON, refused without a password step waiting;
    # a manager's own key registration.
    "accounts:key_login_options": Route(get=EVERYONE_REFUSED, post=(400,) * 5),
    "accounts:key_login": Route(get=EVERYONE_REFUSED, post=(400,) * 5),
    "accounts:key_register_options": Route(get=MANAGERS_REFUSE, post=ANY_MANAGER),
    "accounts:key_register": Route(get=MANAGERS_REFUSE, post=(400, 400, 400, LOGIN, LOGIN)),
    "accounts:manager_twofactor_reset": Route(
        get=SUPERADMIN_REFUSE, post=SUPERADMIN_DONE, kwargs={"username": MANAGER}
    ),
    "domains:list": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    # Nothing ticked: a message and back to the list.
    "mailboxes:bulk": Route(get=MANAGERS_REFUSE, post=ANY_MANAGER_DONE),
    "aliases:bulk": Route(get=MANAGERS_REFUSE, post=ANY_MANAGER_DONE),
    # The "Generate" button of the mailbox form: a password from the panel's generator.
    "mailboxes:generate_password": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    "expiry:list": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    "signup:bulk": Route(get=MANAGERS_REFUSE, post=ANY_MANAGER_DONE),
    # Mail activity: the trace and the graphs show each manager their own domains' traffic.
    "activity:trace": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    "activity:graphs": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    # The objects of a.test
    "domains:detail": Route(get=OWNERS, post=OWNERS_REFUSE, kwargs={"domain": DOMAIN}),
    "mailboxes:list": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A),
    "mailboxes:add": Route(get=OWNERS, post=OWNERS, query=ON_A),
    # An empty POST shows the form's error (no file).
    "mailboxes:import": Route(get=OWNERS, post=OWNERS, query=ON_A),
    "mailboxes:detail": Route(get=OWNERS, post=OWNERS_REFUSE, kwargs={"address": MAILBOX}),
    # A message from user@a.test (the trace's page of one message), and a.test's graphs.
    "activity:message": Route(get=OWNERS, post=OWNERS_REFUSE, kwargs={"pk": MESSAGE}),
    # Every field of the edit form is optional: an empty POST is a valid change.
    "mailboxes:edit": Route(get=OWNERS, post=OWNERS_DONE, kwargs={"address": MAILBOX}),
    "mailboxes:delete": Route(get=OWNERS, post=OWNERS_DONE, kwargs={"address": MAILBOX}),
    "mailboxes:rename": Route(get=OWNERS, post=OWNERS, kwargs={"address": MAILBOX}),
    # One-click enable/disable: an empty POST names no state, a message and back to the list.
    "mailboxes:set_active": Route(get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"address": MAILBOX}),
    # GET asks, POST resets and shows the new password once.
    "mailboxes:reset_password": Route(get=OWNERS, post=OWNERS, kwargs={"address": MAILBOX}),
    "aliases:set_active": Route(get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"address": ALIAS}),
    "aliases:list": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A),
    # Downloads of the lists (streamed CSV/JSON), scoped as the lists.
    "exports:domains": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    "exports:mailboxes": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A + "&format=csv"),
    "exports:aliases": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A + "&format=json"),
    "aliases:add": Route(get=OWNERS, post=OWNERS, query=ON_A),
    "aliases:edit": Route(get=OWNERS, post=OWNERS, kwargs={"address": ALIAS}),
    "aliases:delete": Route(get=OWNERS, post=OWNERS_DONE, kwargs={"address": ALIAS}),
    "audit:list": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A),
    "provisioning:jobs": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A),
    "provisioning:retry": Route(get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"pk": JOB}),
    "provisioning:cancel": Route(get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"pk": JOB}),
    "provisioning:operation": Route(get=OWNERS, post=OWNERS_REFUSE, kwargs={"pk": OPERATION}),
    "provisioning:operation_progress": Route(
        get=OWNERS, post=OWNERS_REFUSE, kwargs={"pk": OPERATION}
    ),
    # The manager who started it (admin_a) or a superadmin; a bulk action is not stoppable:
    # a message and back to its page.
    "provisioning:operation_stop": Route(
        get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"pk": OPERATION}
    ),
    "provisioning:operation_resume": Route(
        get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"pk": OPERATION}
    ),
    # Group mails: the list is scoped; the form preselects a.test (an empty POST shows errors).
    "groupmail:list": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    "groupmail:new": Route(get=OWNERS, post=OWNERS, query=ON_A),
    "signup:queue": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A),
    "archives:list": Route(get=OWNERS, post=MANAGERS_REFUSE, query=ON_A),
    # An empty POST shows the form's errors.
    "archives:restore": Route(get=OWNERS, post=OWNERS, kwargs={"pk": ARCHIVE}),
    "archives:delete": Route(get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"pk": ARCHIVE}),
    # Disk usage: measure now, the report as CSV, the report mailed now.
    "diskusage:measure_domain": Route(
        get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"domain": DOMAIN}
    ),
    "diskusage:measure_mailbox": Route(
        get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"address": MAILBOX}
    ),
    "diskusage:report_csv": Route(get=OWNERS, post=OWNERS_REFUSE, kwargs={"domain": DOMAIN}),
    "diskusage:report_send": Route(get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"domain": DOMAIN}),
    "signup:approve": Route(get=OWNERS_REFUSE, post=OWNERS_DONE, kwargs={"pk": SIGNUP}),
    # No reason is needed: an empty POST rejects the request.
    "signup:reject": Route(get=OWNERS, post=OWNERS_DONE, kwargs={"pk": SIGNUP}),
    # Superadmin only
    "domains:add": Route(get=SUPERADMIN, post=SUPERADMIN),
    "domains:edit": Route(get=SUPERADMIN, post=SUPERADMIN, kwargs={"domain": DOMAIN}),
    "domains:delete": Route(get=SUPERADMIN, post=SUPERADMIN, kwargs={"domain": DOMAIN}),
    "domains:rename": Route(get=SUPERADMIN, post=SUPERADMIN, kwargs={"domain": DOMAIN}),
    "accounts:managers": Route(get=SUPERADMIN, post=SUPERADMIN_REFUSE),
    "accounts:manager_add": Route(get=SUPERADMIN, post=SUPERADMIN),
    "accounts:manager_edit": Route(get=SUPERADMIN, post=SUPERADMIN, kwargs={"username": MANAGER}),
    "accounts:manager_delete": Route(
        get=SUPERADMIN, post=SUPERADMIN_DONE, kwargs={"username": MANAGER}
    ),
    # An empty POST is no valid policy: a message and back to the domain page.
    "signup:policy": Route(get=SUPERADMIN_REFUSE, post=SUPERADMIN_DONE, kwargs={"domain": DOMAIN}),
    "mailstack:system": Route(get=SUPERADMIN, post=SUPERADMIN_REFUSE),
    "expiry:run": Route(get=SUPERADMIN_REFUSE, post=SUPERADMIN_DONE),
    "archives:scan": Route(get=SUPERADMIN_REFUSE, post=SUPERADMIN_DONE),
    "mailstack:download": Route(
        get=(OK_ON_MYSQL, NOT_FOUND, NOT_FOUND, LOGIN, LOGIN),
        post=SUPERADMIN_REFUSE,
        kwargs={"name": DOMAINS_MAP},
    ),
    # An empty POST names no action: a message and back to the page.
    "mailstack:action": Route(get=SUPERADMIN_REFUSE, post=SUPERADMIN_DONE),
    # The hosts' status and the Postfix queue; an empty POST of an action is refused with a
    # message and queues nothing.
    "mailstack:status": Route(get=SUPERADMIN, post=SUPERADMIN_REFUSE),
    "mailstack:status_refresh": Route(get=SUPERADMIN_REFUSE, post=SUPERADMIN_DONE),
    "mailstack:queue": Route(get=SUPERADMIN, post=SUPERADMIN_REFUSE),
    "mailstack:queue_action": Route(get=SUPERADMIN_REFUSE, post=SUPERADMIN_DONE),
    # A manager's own API tokens; an empty POST shows the form's errors. Only the owner
    # (admin_a) revokes a token: anyone else, a superadmin too, gets 404.
    "tokens:list": Route(get=ANY_MANAGER, post=ANY_MANAGER),
    "tokens:revoke": Route(
        get=MANAGERS_REFUSE, post=(NOT_FOUND, FOUND, NOT_FOUND, LOGIN, LOGIN), kwargs={"pk": TOKEN}
    ),
    # The REST API with the browser's session (tests/test_api_permissions.py has every method
    # with tokens). Without a manager's login: 401; a method a route does not take: 405 to every
    # manager, before any object is looked up (so it tells nothing about the object). An empty
    # POST is no JSON: 415 where the data is read.
    "api:schema": Route(get=EVERYONE, post=EVERYONE_REFUSED),
    "api:docs": Route(get=ANY_MANAGER, post=MANAGERS_REFUSE),
    "api:domain-list": Route(get=API_ANY_MANAGER, post=(415, 404, 404, 401, 401)),
    "api:domain-detail": Route(
        get=API_OWNERS, post=(405, 404, 404, 401, 401), kwargs={"domain": DOMAIN}
    ),
    "api:domain-rename": Route(
        get=(405, 404, 404, 401, 401), post=(415, 404, 404, 401, 401), kwargs={"domain": DOMAIN}
    ),
    "api:mailbox-list": Route(get=API_OWNERS, post=API_NO_JSON, query=ON_A),
    "api:mailbox-bulk": Route(get=API_REFUSE, post=API_NO_JSON),
    "api:mailbox-import": Route(get=API_REFUSE, post=API_NO_JSON),
    "api:mailbox-detail": Route(get=API_OWNERS, post=API_REFUSE, kwargs={"address": MAILBOX}),
    "api:mailbox-rename": Route(
        get=API_REFUSE, post=(415, 415, 404, 401, 401), kwargs={"address": MAILBOX}
    ),
    "api:alias-list": Route(get=API_OWNERS, post=API_NO_JSON, query=ON_A),
    "api:alias-detail": Route(get=API_OWNERS, post=API_REFUSE, kwargs={"address": ALIAS}),
    "api:manager-list": Route(get=API_SUPERADMIN, post=(415, 404, 404, 401, 401)),
    "api:manager-detail": Route(
        get=API_SUPERADMIN, post=(405, 404, 404, 401, 401), kwargs={"username": MANAGER}
    ),
    "api:signup-list": Route(get=API_OWNERS, post=API_REFUSE, query=ON_A),
    "api:signup-bulk": Route(get=API_REFUSE, post=API_NO_JSON),
    "api:signup-detail": Route(get=API_OWNERS, post=API_REFUSE, kwargs={"pk": SIGNUP}),
    "api:signup-approve": Route(get=API_REFUSE, post=API_OWNERS, kwargs={"pk": SIGNUP}),
    "api:signup-reject": Route(
        get=API_REFUSE, post=(415, 415, 404, 401, 401), kwargs={"pk": SIGNUP}
    ),
    "api:job-list": Route(get=API_OWNERS, post=API_REFUSE, query=ON_A),
    "api:job-detail": Route(get=API_OWNERS, post=API_REFUSE, kwargs={"pk": JOB}),
    "api:job-retry": Route(get=API_REFUSE, post=API_OWNERS, kwargs={"pk": JOB}),
    "api:job-cancel": Route(get=API_REFUSE, post=API_OWNERS, kwargs={"pk": JOB}),
    "api:operation-detail": Route(get=API_OWNERS, post=API_REFUSE, kwargs={"pk": OPERATION}),
    "api:audit-list": Route(get=API_OWNERS, post=API_REFUSE, query=ON_A),
    "api:audit-detail": Route(get=API_OWNERS, post=API_REFUSE, kwargs={"pk": AUDIT}),
}

# Who may see a.test and its objects; anything the others get must not name them.
INSIDERS = {"superadmin", "admin_a"}
SECRETS = (
    DOMAIN,
    MAILBOX,
    ALIAS,
    MANAGER,
    APPLICANT,
    "boss@example.org",
    "applicant@example.net",
    "Generated-Pass-1",
)
# What the mailbox user's own portal pages show them.
OWN_ACCOUNT = (DOMAIN, MAILBOX)


def url_patterns(resolver: URLResolver | None = None, namespace: str = "") -> Iterator[str]:
    """The name (``namespace:name``) of every URL pattern, or its route if it has no name."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_patterns(pattern, inner)
        else:
            assert isinstance(pattern, URLPattern)
            yield f"{namespace}{pattern.name}" if pattern.name else str(pattern.pattern)


def test_every_url_of_the_project_is_in_the_matrix():
    names = list(url_patterns())
    assert len(names) == len(set(names)), "two URL patterns share a name"
    assert set(names) - set(MATRIX) == set(), "classify the new URLs in MATRIX"
    assert set(MATRIX) - set(names) == set(), "MATRIX lists URLs that no longer exist"


@pytest.fixture
def objects(personas) -> dict[str, Any]:
    Domain.objects.filter(pk=DOMAIN).update(can_signup=True)
    Alias.objects.create(address=ALIAS, goto="boss@example.org", domain_id=DOMAIN)
    job = job_record(kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain=DOMAIN, object_id=MAILBOX)
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, last_error="disk full")
    signup = SignupRequest.objects.create(
        domain=DOMAIN,
        local_part=APPLICANT.partition("@")[0],
        address=APPLICANT,
        pending_address=APPLICANT,
        name="Applicant",
        password_hash=hash_password(PASSWORD),
        contact_email="applicant@example.net",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    # A bulk reset of a.test's mailboxes, done, its generated password not yet shown.
    operation = Operation.objects.create(
        kind=Operation.Kind.MAILBOX_BULK,
        actor=MANAGER,
        domain=DOMAIN,
        total=1,
        state=Operation.State.DONE,
        payload={"action": "reset_password", "addresses": [MAILBOX]},
        result={"action": "reset_password", "count": 1, "passwords": 1, "domain": DOMAIN},
        sealed_result=seal([[MAILBOX, "Generated-Pass-1"]], purpose="operation-result"),
        finished_at=timezone.now(),
    )
    # A group mail to a.test's mailboxes, sent.
    sent = Operation.objects.create(
        kind=Operation.Kind.GROUP_MAIL,
        actor=MANAGER,
        domain=DOMAIN,
        total=1,
        state=Operation.State.DONE,
        result={"sent": 1},
        finished_at=timezone.now(),
    )
    GroupMail.objects.create(
        operation=sent, actor=MANAGER, subject="Maintenance", body="Tonight.", domains=[DOMAIN]
    )
    archive = Archive.objects.create(
        path=".archive/a.test/gone.20260101T000000",
        homedir="a.test/gone",
        address="gone@a.test",
        domain=DOMAIN,
        size_bytes=4096,
        archived_at=timezone.now(),
    )
    message = Message.objects.create(
        id=1, host="mx1", queue_id="4B2C1E0A11", time=timezone.now(), sender=MAILBOX,
        sender_domain=DOMAIN, message_id="m1@a.test",
    )  # fmt: skip
    Recipient.objects.create(
        id=2, message=message, time=message.time, address="boss@example.org",
        domain="example.org", status="sent", updated_at=message.time,
    )  # fmt: skip
    Login.objects.create(
        time=message.time, host="mx1", service="imap", address=MAILBOX, domain=DOMAIN,
        client_ip="203.0.113.5", success=True,
    )  # fmt: skip
    token, _secret = token_create(
        actor=Manager.objects.get(pk=MANAGER),
        name="script",
        scope="write",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    entry = AuditEntry.objects.create(
        actor=MANAGER,
        action="mailbox.update",
        object_type="mailbox",
        object_id=MAILBOX,
        domain=DOMAIN,
    )
    return {
        "audit": str(entry.pk),
        "token": str(token.pk),
        "message": str(message.pk),
        "archive": str(archive.pk),
        "job": str(job.pk),
        "operation": str(operation.pk),
        "signup": str(signup.pk),
        "captcha": CaptchaStore.generate_key(),
    }


def snapshot() -> tuple:
    """Everything a refused request must leave alone."""
    return (
        list(Domain.objects.order_by("pk").values()),
        list(Mailbox.objects.order_by("pk").values()),
        list(Alias.objects.order_by("pk").values()),
        list(Manager.objects.order_by("pk").values()),
        sorted(DomainManager.objects.values_list("manager_id", "domain_id", "active")),
        list(Job.objects.order_by("pk").values_list("pk", "state", "attempts")),
        list(
            Operation.objects.order_by("pk").values_list(
                "pk", "state", "sealed_result", "stop_requested_at"
            )
        ),
        list(GroupMail.objects.order_by("pk").values_list("pk", "subject")),
        list(SignupRequest.objects.order_by("pk").values()),
        list(SignupPolicy.objects.order_by("pk").values()),
        list(InternalOnly.objects.order_by("pk").values()),
        list(Archive.objects.order_by("pk").values_list("pk", "state")),
        list(ExpiryNotice.objects.order_by("pk").values()),
        list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at")),
        AuditEntry.objects.exclude(action__startswith="login").count(),
    )


LOGIN_PAGES = {LOGIN: "/login/", PORTAL_LOGIN: "/account/login/"}


def url_of(name: str, route: Route, objects: dict[str, Any]) -> str:
    kwargs = {key: value.format(**objects) for key, value in route.kwargs.items()}
    return reverse(name, kwargs=kwargs) + route.query


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_persona_gets_the_expected_answer(client_as, objects, name, persona, method):
    route = MATRIX[name]
    expected = getattr(route, method)[PERSONAS.index(persona)]
    client: Client = client_as(persona)
    before = snapshot()

    response = getattr(client, method)(url_of(name, route, objects), headers=route.headers)

    if expected in LOGIN_PAGES:
        assert response.status_code == 302
        assert response["Location"].startswith(LOGIN_PAGES[expected])
    else:
        assert response.status_code == expected
    raw = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )  # the captcha's spoken version is streamed
    body = raw.decode(errors="replace")  # the captcha is an image
    if persona not in INSIDERS:
        shown = route.public + (OWN_ACCOUNT if route.own_account and persona == "user_a" else ())
        leaked = [secret for secret in SECRETS if secret in body and secret not in shown]
        assert leaked == []
    if expected in (LOGIN, PORTAL_LOGIN, NOT_FOUND, NOT_ALLOWED) or persona not in INSIDERS:
        assert snapshot() == before
    if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
        assert_one_csrf_token_per_form(body)


def test_the_not_found_page_repeats_nothing_of_the_request(client_as):
    response = client_as("admin_b").get(
        "/mailboxes/someone-secret@a.test/", HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert response.status_code == 404
    body = response.content.decode()
    assert "页面不存在" in body  # the panel's own page, in the visitor's language
    assert "someone-secret" not in body and "a.test" not in body
