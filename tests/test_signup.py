"""Self-service signup: the public form, its abuse controls, the approval queue (SPEC §3.7)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from aliases.models import Alias
from audit.models import AuditEntry
from conftest import PASSWORD
from domains.models import Domain
from mailadmin.lib import passwords
from mailadmin.selectors import address_owner
from mailboxes import services as mailbox_services
from mailboxes.models import Mailbox
from provisioning import runner
from provisioning.models import Job
from signup import services
from signup.models import SignupPolicy, SignupRequest

NEW_PASSWORD = "Blue-Lantern-42"


def form_data(local_part: str = "alice", **extra: str) -> dict[str, str]:
    data = {
        "local_part": local_part,
        "name": "Alice Example",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "question": "First pet?",
        "answer": "  Fluffy ",
        "contact_email": "alice@elsewhere.example",
        "captcha_0": "x",
        "captcha_1": "PASSED",
        "website": "",
    }
    data.update(extra)
    return data


@pytest.fixture
def signup_domain(personas):
    Domain.objects.filter(pk="a.test").update(
        can_signup=True, default_quota="52428800S", default_expire="1y"
    )
    return Domain.objects.get(pk="a.test")


def submit(client: Client, domain: str = "a.test", **extra: str):
    return client.post(f"/signup/{domain}/", form_data(**extra), REMOTE_ADDR="198.51.100.7")


def pending(address: str = "alice@a.test") -> SignupRequest:
    return SignupRequest.objects.get(address=address, state="pending")


# --- the public form ---------------------------------------------------------------------------
def test_signup_records_a_pending_request_with_hashes_only(
    client, signup_domain, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client)
    assert response.status_code == 200
    assert b"signup-received" in response.content
    request = pending()
    assert request.pending_address == "alice@a.test"
    assert NEW_PASSWORD not in request.password_hash
    assert passwords.verify_password(NEW_PASSWORD, request.password_hash)
    assert "fluffy" not in request.answer_hash.lower()
    assert passwords.verify_password("fluffy", request.answer_hash)
    assert request.contact_email == "alice@elsewhere.example"
    assert request.client_ip == "198.51.100.7"
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()
    assert address_owner("alice@a.test") == "signup"
    # The domain's admin hears of it.
    assert [m.to for m in mail.outbox] == [["admin@a.test"]]
    assert "alice@a.test" in mail.outbox[0].subject
    assert AuditEntry.objects.filter(action="signup.request", object_id="alice@a.test").exists()


def test_the_mail_to_the_admins_links_to_the_queue_with_the_site_url(
    client, signup_domain, settings, django_capture_on_commit_callbacks
):
    settings.MAILADMIN_SITE_URL = "https://mail.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        submit(client)
    (message,) = mail.outbox
    assert "https://mail.example.com/signups/" in message.body


def test_the_form_shows_its_fields(client, signup_domain):
    page = client.get("/signup/a.test/").content.decode()
    for name in (
        "local_part",
        "name",
        "password1",
        "password2",
        "question",
        "answer",
        "contact_email",
        "captcha_1",
        "website",
    ):
        assert f'name="{name}"' in page
    assert "/captcha/image/" in page


def test_a_pending_applicant_cannot_log_in_to_the_portal(client, signup_domain):
    submit(client)
    response = Client().post(
        "/account/login/", {"username": "alice@a.test", "password": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert b"portal-login-error" in response.content


@pytest.mark.parametrize(
    "change",
    [
        {"can_signup": False},
        {"active": False},
        {"expiredate": datetime.date(2000, 1, 1)},
    ],
)
def test_a_domain_without_signup_answers_404_and_creates_nothing(client, signup_domain, change):
    Domain.objects.filter(pk="a.test").update(**change)
    assert client.get("/signup/a.test/").status_code == 404
    response = submit(client)
    assert response.status_code == 404
    assert b"signup-not-offered" in response.content
    assert not SignupRequest.objects.exists()


def test_an_unknown_domain_answers_404(client, db):
    assert client.get("/signup/nowhere.test/").status_code == 404
    assert client.get("/signup/not a domain/").status_code == 404


@pytest.mark.parametrize("name", ["postmaster", "abuse", "root", "Admin", "mailer-daemon"])
def test_reserved_names_are_refused(client, signup_domain, name):
    response = submit(client, local_part=name)
    assert b"reserved" in response.content
    assert not SignupRequest.objects.exists()


def test_the_reserved_names_are_configurable(client, signup_domain, settings):
    settings.MAILADMIN_SIGNUP_RESERVED_NAMES = ["alice"]
    assert b"reserved" in submit(client).content
    assert not SignupRequest.objects.exists()


def test_an_address_of_a_mailbox_is_refused(client, signup_domain):
    response = submit(client, local_part="user")
    assert b"already taken" in response.content
    assert not SignupRequest.objects.exists()


def test_an_address_of_an_alias_is_refused(client, signup_domain):
    Alias.objects.create(address="team@a.test", goto="user@a.test", domain_id="a.test")
    assert b"already taken" in submit(client, local_part="team").content
    assert not SignupRequest.objects.exists()


def test_an_address_of_another_pending_request_is_refused(client, signup_domain):
    submit(client)
    response = submit(Client(), local_part="Alice")
    assert b"already taken" in response.content
    assert SignupRequest.objects.count() == 1


def test_admins_cannot_create_a_mailbox_or_alias_on_a_pending_address(signup_domain, personas):
    submit(Client())
    with pytest.raises(ValidationError, match="pending signup request"):
        mailbox_services.mailbox_create(
            domain="a.test", local_part="alice", password=NEW_PASSWORD, actor=personas["admin_a"]
        )
    from aliases.services import alias_create

    with pytest.raises(ValidationError, match="pending signup request"):
        alias_create(
            domain="a.test", local_part="alice", goto=["user@a.test"], actor=personas["admin_a"]
        )
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("password2", "something-else-9", b"differ"),
        ("password1", "short", b"too short"),
        ("local_part", "bad..name", b"local_part"),
        ("captcha_1", "WRONG", b"do not match"),
        ("contact_email", "not an address", b"contact_email"),
    ],
)
def test_bad_input_gives_field_errors_and_nothing_is_stored(
    client, signup_domain, field, value, text
):
    data = {field: value}
    if field == "password1":
        data["password2"] = value
    response = submit(client, **data)
    assert response.status_code == 200
    assert text in response.content
    assert not SignupRequest.objects.exists()


def test_the_captcha_is_checked_outside_test_mode(client, signup_domain, settings):
    settings.MAILADMIN_CAPTCHA_TEST_MODE = False
    response = submit(client)
    assert b"do not match" in response.content
    assert not SignupRequest.objects.exists()


def test_the_honeypot_looks_accepted_but_stores_nothing(client, signup_domain, caplog):
    response = submit(client, website="http://spam.example")
    assert response.status_code == 200
    assert b"signup-received" in response.content
    assert not SignupRequest.objects.exists()
    assert "signup honeypot filled from ip=198.51.100.7" in caplog.text


def test_submissions_are_rate_limited_per_client(client, signup_domain, settings):
    settings.MAILADMIN_SIGNUP_RATE_LIMIT = 2
    assert submit(client, local_part="one").status_code == 200
    assert submit(client, local_part="two").status_code == 200
    response = submit(client, local_part="three")
    assert response.status_code == 429
    assert SignupRequest.objects.count() == 2
    # Another client address is counted on its own.
    other = client.post("/signup/a.test/", form_data("four"), REMOTE_ADDR="198.51.100.8")
    assert other.status_code == 200
    assert SignupRequest.objects.count() == 3


def test_the_pending_requests_of_a_domain_are_capped(client, signup_domain, settings):
    settings.MAILADMIN_SIGNUP_MAX_PENDING = 1
    submit(client)
    response = submit(Client(), local_part="bob")
    assert b"too many requests" in response.content
    assert SignupRequest.objects.count() == 1


# --- approval ----------------------------------------------------------------------------------
def test_approval_creates_the_mailbox_from_the_template_and_its_maildir(
    client_as, signup_domain, personas, settings, django_capture_on_commit_callbacks
):
    Domain.objects.filter(pk="a.test").update(disablepop3=1)
    submit(Client())
    request = pending()
    admin = client_as("admin_a")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/signups/{request.pk}/approve/")
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == "approved" and request.pending_address is None
    assert request.decided_by == "admin@a.test"
    mailbox = Mailbox.objects.get(pk="alice@a.test")
    assert mailbox.name == "Alice Example"
    assert mailbox.quota_bytes == 52428800
    assert mailbox.expiredate == signup_domain.default_mailbox_expiry()
    assert not mailbox.enable_pop3 and mailbox.enable_imap
    assert mailbox.password == request.password_hash
    assert mailbox.question == "First pet?"
    assert passwords.verify_password("fluffy", mailbox.answer)
    job = Job.objects.get(kind="maildir.create", object_id="alice@a.test")
    runner.execute(job.pk)
    job.refresh_from_db()
    assert job.state == "done"
    assert (Path(settings.MAILADMIN_MAIL_BASE) / mailbox.maildir / "cur").is_dir()
    # The applicant is told at the contact address.
    assert mail.outbox[-1].to == ["alice@elsewhere.example"]
    assert "ready" in mail.outbox[-1].subject
    assert AuditEntry.objects.filter(action="signup.approve", object_id="alice@a.test").exists()
    # ... and can now use the portal.
    portal = Client()
    response = portal.post(
        "/account/login/", {"username": "alice@a.test", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302


def test_approval_refused_when_the_domain_is_full(client_as, signup_domain):
    submit(Client())
    Domain.objects.filter(pk="a.test").update(maxusers=1)  # user@a.test already uses it
    request = pending()
    response = client_as("superadmin").post(f"/signups/{request.pk}/approve/", follow=True)
    assert b"limit of 1 mailboxes" in response.content
    request.refresh_from_db()
    assert request.state == "pending" and request.pending_address == "alice@a.test"
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()
    assert not Job.objects.filter(object_id="alice@a.test").exists()


def test_approval_refused_when_the_quota_is_used_up(signup_domain, personas):
    submit(Client())
    Domain.objects.filter(pk="a.test").update(maxquota="52428800S")
    Mailbox.objects.filter(pk="user@a.test").update(quota="10485760S")
    with pytest.raises(ValidationError, match="total quota"):
        services.signup_approve(signup=pending(), actor=personas["superadmin"])
    assert pending()


def test_rejection_tells_the_applicant_the_reason(
    client_as, signup_domain, django_capture_on_commit_callbacks
):
    submit(Client())
    request = pending()
    admin = client_as("admin_a")
    assert admin.get(f"/signups/{request.pk}/reject/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/signups/{request.pk}/reject/", {"reason": "Not a member"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == "rejected" and request.reason == "Not a member"
    assert request.pending_address is None
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()
    assert address_owner("alice@a.test") is None
    assert mail.outbox[-1].to == ["alice@elsewhere.example"]
    assert "Not a member" in mail.outbox[-1].body
    assert AuditEntry.objects.filter(action="signup.reject").exists()


def test_a_decided_request_cannot_be_decided_again(client_as, signup_domain, personas):
    submit(Client())
    request = pending()
    services.signup_reject(signup=request, actor=personas["superadmin"])
    with pytest.raises(ValidationError, match="already decided"):
        services.signup_approve(signup=request, actor=personas["superadmin"])
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()


def test_bulk_approve_and_reject(client_as, signup_domain):
    for name in ("one", "two", "three"):
        submit(Client(), local_part=name)
    ids = list(SignupRequest.objects.order_by("pk").values_list("pk", flat=True))
    admin = client_as("admin_a")
    response = admin.post("/signups/bulk/", {"action": "approve", "ids": ids[:2]})
    assert response.status_code == 302
    assert set(Mailbox.objects.filter(domain_id="a.test").values_list("pk", flat=True)) == {
        "user@a.test",
        "one@a.test",
        "two@a.test",
    }
    admin.post("/signups/bulk/", {"action": "reject", "ids": [ids[2]], "reason": "spam"})
    assert SignupRequest.objects.get(pk=ids[2]).state == "rejected"


def test_bulk_reports_each_refusal_and_goes_on(signup_domain, personas):
    for name in ("one", "two"):
        submit(Client(), local_part=name)
    Domain.objects.filter(pk="a.test").update(maxusers=2)
    ids = list(SignupRequest.objects.order_by("pk").values_list("pk", flat=True))
    result = services.signup_bulk(action="approve", ids=ids, actor=personas["superadmin"])
    assert result.done == ["one@a.test"]
    assert list(result.refused) == ["two@a.test"]


def test_a_domain_admin_cannot_decide_another_domains_request(client_as, signup_domain):
    Domain.objects.filter(pk="b.test").update(can_signup=True)
    submit(Client(), domain="b.test")
    request = pending("alice@b.test")
    admin_a = client_as("admin_a")
    assert admin_a.post(f"/signups/{request.pk}/approve/").status_code == 404
    assert admin_a.get(f"/signups/{request.pk}/reject/").status_code == 404
    assert admin_a.post(f"/signups/{request.pk}/reject/", {"reason": "x"}).status_code == 404
    assert (
        admin_a.post("/signups/bulk/", {"action": "approve", "ids": [request.pk]}).status_code
        == 404
    )
    request.refresh_from_db()
    assert request.state == "pending"
    assert not Mailbox.objects.filter(pk="alice@b.test").exists()


# --- policy ------------------------------------------------------------------------------------
def test_an_open_domain_creates_the_mailbox_at_once(client, signup_domain, personas):
    SignupPolicy.objects.create(domain="a.test", approval="open")
    response = submit(client)
    assert b"signup-created" in response.content
    request = SignupRequest.objects.get(address="alice@a.test")
    assert request.state == "approved" and request.decided_by == "signup"
    assert Mailbox.objects.filter(pk="alice@a.test").exists()
    assert Job.objects.filter(kind="maildir.create", object_id="alice@a.test").exists()


def test_an_open_domain_that_is_full_keeps_the_request_for_an_admin(client, signup_domain):
    SignupPolicy.objects.create(domain="a.test", approval="open")
    Domain.objects.filter(pk="a.test").update(maxusers=1)
    response = submit(client)
    assert b"signup-received" in response.content
    assert pending().state == "pending"
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()


def test_the_superadmin_sets_the_policy_on_the_domain_page(client_as, signup_domain):
    superadmin = client_as("superadmin")
    page = superadmin.get("/domains/a.test/").content.decode()
    assert 'data-testid="signup-policy-form"' in page
    response = superadmin.post("/signups/policy/a.test/", {"approval": "open"})
    assert response.status_code == 302
    assert SignupPolicy.objects.get(pk="a.test").approval == "open"
    assert AuditEntry.objects.filter(action="signup.policy", object_id="a.test").exists()
    assert superadmin.post("/signups/policy/a.test/", {"approval": "bogus"}).status_code == 302
    assert SignupPolicy.objects.get(pk="a.test").approval == "open"


def test_domain_admins_see_the_policy_read_only(client_as, signup_domain):
    admin = client_as("admin_a")
    page = admin.get("/domains/a.test/").content.decode()
    assert 'data-testid="signup-policy"' in page
    assert 'data-testid="signup-policy-form"' not in page
    assert admin.post("/signups/policy/a.test/", {"approval": "open"}).status_code == 404
    assert not SignupPolicy.objects.exists()


# --- expiry and digest -------------------------------------------------------------------------
def test_requests_expire_and_free_their_address(
    signup_domain, settings, django_capture_on_commit_callbacks
):
    submit(Client())
    submit(Client(), local_part="bob")
    SignupRequest.objects.filter(address="alice@a.test").update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_requests() == 1
    request = SignupRequest.objects.get(address="alice@a.test")
    assert request.state == "expired" and request.pending_address is None
    assert pending("bob@a.test")
    assert address_owner("alice@a.test") is None
    assert "expired" in mail.outbox[-1].subject
    assert AuditEntry.objects.filter(action="signup.expire").count() == 1


def test_an_expired_request_cannot_be_approved(signup_domain, personas):
    submit(Client())
    SignupRequest.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(ValidationError, match="expired"):
        services.signup_approve(signup=pending(), actor=personas["superadmin"])


def test_the_expiry_command(signup_domain):
    submit(Client())
    SignupRequest.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    call_command("expire_signups")
    assert SignupRequest.objects.get().state == "expired"


def test_the_daily_digest(signup_domain, settings, personas):
    settings.MAILADMIN_SIGNUP_NOTIFY = "digest"
    submit(Client())
    assert mail.outbox == []
    Domain.objects.filter(pk="b.test").update(can_signup=True)
    submit(Client(), domain="b.test", local_part="bob")
    assert services.send_signup_digest() == 2
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert "alice@a.test" in bodies["admin@a.test"] and "bob@b.test" not in bodies["admin@a.test"]
    assert "bob@b.test" in bodies["admin@b.test"]
    settings.MAILADMIN_SIGNUP_NOTIFY = "off"
    assert services.send_signup_digest() == 0


# --- the queue ---------------------------------------------------------------------------------
def test_the_queue_is_scoped_and_filtered(client_as, signup_domain):
    Domain.objects.filter(pk="b.test").update(can_signup=True)
    submit(Client())
    submit(Client(), domain="b.test", local_part="bob", name="Bob", contact_email="")
    page = client_as("admin_a").get("/signups/").content.decode()
    assert "alice@a.test" in page and "bob@b.test" not in page
    page = client_as("superadmin").get("/signups/").content.decode()
    assert "alice@a.test" in page and "bob@b.test" in page
    page = client_as("superadmin").get("/signups/?domain=b.test").content.decode()
    assert "alice@a.test" not in page and "bob@b.test" in page
    page = client_as("superadmin").get("/signups/?q=alice%40a").content.decode()
    assert "alice@a.test" in page and "bob@b.test" not in page
    page = client_as("superadmin").get("/signups/?state=rejected").content.decode()
    assert "alice@a.test" not in page
    assert client_as("admin_a").get("/signups/?domain=b.test").status_code == 404


def test_the_queue_uses_a_constant_number_of_queries(
    client_as, signup_domain, django_assert_max_num_queries
):
    for n in range(30):
        SignupRequest.objects.create(
            domain="a.test",
            local_part=f"u{n}",
            address=f"u{n}@a.test",
            pending_address=f"u{n}@a.test",
            password_hash="x",
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )
    admin = client_as("superadmin")
    with django_assert_max_num_queries(12):
        response = admin.get("/signups/?per_page=25")
    assert response.content.count(b'data-testid="signup-row"') == 25


# --- permission matrix -------------------------------------------------------------------------
QUEUE_URLS = ["/signups/", "/signups/{id}/approve/", "/signups/{id}/reject/", "/signups/bulk/"]

EXPECTED = {
    # persona: (GET /signups/, POST approve own-domain request)
    "superadmin": (200, 302),
    "admin_a": (200, 302),
    "admin_b": (200, 404),
    "user_a": (302, 302),
    "anonymous": (302, 302),
}


@pytest.mark.parametrize("persona", list(EXPECTED))
def test_permission_matrix_of_the_queue(client_as, signup_domain, persona):
    submit(Client())
    request = pending()
    client = client_as(persona)
    if persona == "user_a":
        client.post("/account/login/", {"username": "user@a.test", "password": PASSWORD})
    list_status, approve_status = EXPECTED[persona]
    response = client.get("/signups/")
    assert response.status_code == list_status
    if list_status == 302:
        assert response["Location"].startswith("/login/")
    reject = client.get(f"/signups/{request.pk}/reject/")
    assert reject.status_code == (
        200
        if approve_status == 302 and list_status == 200
        else (404 if persona == "admin_b" else 302)
    )
    # GET on the POST-only actions is refused to the request's managers, not found for
    # another domain's admin, sent to login for others.
    get_approve = client.get(f"/signups/{request.pk}/approve/")
    assert get_approve.status_code == (
        405 if approve_status == 302 and list_status == 200 else reject.status_code
    )
    assert client.get("/signups/bulk/").status_code == (405 if list_status == 200 else 302)
    assert client.post(f"/signups/{request.pk}/approve/").status_code == approve_status
    request.refresh_from_db()
    assert (request.state == "approved") == (persona in ("superadmin", "admin_a"))


@pytest.mark.parametrize("persona", list(EXPECTED))
def test_permission_matrix_of_the_policy(client_as, signup_domain, persona):
    client = client_as(persona)
    expected = {"superadmin": 302, "admin_a": 404, "admin_b": 404}.get(persona, 302)
    assert client.post("/signups/policy/a.test/", {"approval": "open"}).status_code == expected
    assert SignupPolicy.objects.filter(approval="open").exists() == (persona == "superadmin")
    assert client.get("/signups/policy/a.test/").status_code in (302, 404, 405)


@pytest.mark.parametrize("persona", list(EXPECTED))
def test_everyone_may_use_the_public_form(client_as, signup_domain, persona):
    client = client_as(persona)
    assert client.get("/signup/a.test/").status_code == 200
    assert client.get("/signup/b.test/").status_code == 404
    assert (
        client.post("/signup/a.test/", form_data(f"p{persona[:5].replace('_', '')}")).status_code
        == 200
    )
    assert SignupRequest.objects.count() == 1


# --- domain rename and delete ------------------------------------------------------------------
def test_a_domain_rename_moves_its_policy_and_requests(signup_domain, personas):
    from domains.services import domain_rename

    SignupPolicy.objects.create(domain="a.test", approval="open")
    Domain.objects.filter(pk="a.test").update(maxusers=1)  # keeps the request pending
    submit(Client())
    domain_rename(
        domain=Domain.objects.get(pk="a.test"), new_name="c.test", actor=personas["superadmin"]
    )
    request = pending("alice@c.test")
    assert request.domain == "c.test" and request.pending_address == "alice@c.test"
    assert SignupPolicy.objects.get().domain == "c.test"
    assert address_owner("alice@c.test") == "signup"


def test_a_domain_delete_forgets_its_policy_and_requests(signup_domain, personas):
    from domains.services import domain_delete

    SignupPolicy.objects.create(domain="b.test", approval="open")
    SignupRequest.objects.create(
        domain="b.test",
        local_part="x",
        address="x@b.test",
        pending_address="x@b.test",
        password_hash="x",
        expires_at=timezone.now(),
    )
    domain_delete(domain=Domain.objects.get(pk="b.test"), actor=personas["superadmin"])
    assert not SignupRequest.objects.exists() and not SignupPolicy.objects.exists()
