"""The REST API (issue 13): tokens from creation to revocation, the service layer's messages and
audit records, lists with a constant number of queries, odd legacy keys, throttling."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import TOKEN_PREFIX, ApiToken
from api.services import token_create
from audit.models import AuditEntry
from domains.models import Domain
from mailboxes.models import Mailbox
from provisioning.models import Job

pytestmark = pytest.mark.django_db

JSON = "application/json"


def bearer(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


# --- tokens ------------------------------------------------------------------------------------
def test_a_token_is_shown_once_and_stored_hashed(client_as, personas):
    client = client_as("admin_a")
    response = client.post("/tokens/", {"name": "provisioning", "scope": "write", "lifetime": 30})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = response.context["token"]
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    row = ApiToken.objects.get(manager_id="admin@a.test")
    # Only the lookup part and the hash are stored: never the token itself.
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(ApiToken.objects.values()))
    assert token not in str(list(AuditEntry.objects.values()))
    assert abs(row.expires_at - timezone.now() - datetime.timedelta(days=30)).total_seconds() < 60
    # The list shows it, but never again the whole token.
    page = client.get("/tokens/").content.decode()
    assert "provisioning" in page and f"mat_{row.lookup}" in page and token not in page
    # And it works.
    assert bearer(token).get("/api/v1/mailboxes/").status_code == 200


def test_creating_and_revoking_a_token_is_audited(client_as, personas):
    client = client_as("admin_a")
    client.post("/tokens/", {"name": "hr sync", "scope": "read", "lifetime": 7})
    row = ApiToken.objects.get()
    response = client.post(f"/tokens/{row.pk}/revoke/")
    assert response.status_code == 302
    actions = list(
        AuditEntry.objects.filter(object_type="api_token").values_list("action", "actor")
    )
    assert sorted(actions) == [
        ("api_token.create", "admin@a.test"),
        ("api_token.revoke", "admin@a.test"),
    ]


def test_a_revoked_token_is_refused(api_token, personas):
    token = api_token("admin_a")
    client = bearer(token)
    assert client.get("/api/v1/mailboxes/").status_code == 200
    ApiToken.objects.update(revoked_at=timezone.now())
    response = client.get("/api/v1/mailboxes/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_refused(api_token, personas):
    token = api_token("admin_a")
    ApiToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert bearer(token).get("/api/v1/mailboxes/").status_code == 401


def test_another_managers_token_cannot_be_revoked(client_as, api_token, personas):
    api_token("admin_b")
    row = ApiToken.objects.get()
    for persona in ("admin_a", "superadmin"):
        assert client_as(persona).post(f"/tokens/{row.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None


@pytest.mark.parametrize(
    "token",
    [
        "mat_",
        "mat_123",
        "mat_000000000000_x",
        "wrong",
        "mat_ééééééééééé_x",
        "Bearer",
    ],
)
def test_malformed_and_unknown_tokens_are_refused_alike(api_token, personas, token):
    real = api_token("admin_a")
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for value in (token, forged):
        response = bearer(value).get("/api/v1/mailboxes/")
        assert response.status_code == 401


def test_a_token_of_a_disabled_manager_is_refused(api_token, personas):
    token = api_token("admin_a")
    personas["admin_a"].__class__.objects.filter(pk="admin@a.test").update(active=False)
    assert bearer(token).get("/api/v1/mailboxes/").status_code == 401


def test_a_read_only_token_cannot_write(api_token, personas):
    client = bearer(api_token("admin_a", scope="read"))
    response = client.post(
        "/api/v1/mailboxes/",
        {"domain": "a.test", "local_part": "anna", "password": "Long-enough-9"},
        content_type=JSON,
    )
    assert response.status_code == 403
    assert not Mailbox.objects.filter(pk="anna@a.test").exists()


def test_last_use_is_recorded_at_most_once_a_minute(api_token, personas):
    token = api_token("admin_a")
    client = bearer(token)
    client.get("/api/v1/mailboxes/", REMOTE_ADDR="192.0.2.7")
    row = ApiToken.objects.get()
    assert row.last_used_ip == "192.0.2.7"
    first = row.last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/mailboxes/", REMOTE_ADDR="192.0.2.8")
    assert not [q for q in queries if q["sql"].startswith("UPDATE")]
    assert ApiToken.objects.get().last_used_at == first
    # A minute later the next request writes again.
    ApiToken.objects.update(last_used_at=first - datetime.timedelta(seconds=61))
    client.get("/api/v1/mailboxes/", REMOTE_ADDR="192.0.2.8")
    row = ApiToken.objects.get()
    assert row.last_used_ip == "192.0.2.8" and row.last_used_at > first


def test_token_names_and_lifetimes_are_checked(client_as, personas):
    client = client_as("admin_a")
    response = client.post("/tokens/", {"name": "", "scope": "write", "lifetime": 30})
    assert response.status_code == 200 and "token" not in response.context
    response = client.post("/tokens/", {"name": "x", "scope": "root", "lifetime": 9999})
    assert response.context["form"].errors.keys() == {"scope", "lifetime"}
    assert not ApiToken.objects.exists()
    with pytest.raises(Exception, match="at most a year"):
        token_create(
            actor=personas["admin_a"],
            name="x",
            scope="read",
            expires_at=timezone.now() + datetime.timedelta(days=400),
        )


# --- session authentication --------------------------------------------------------------------
def test_the_browser_session_works_with_csrf(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas["admin_a"])
    assert client.get("/api/v1/mailboxes/").status_code == 200
    data = {"domain": "a.test", "local_part": "anna", "password": "Long-enough-9"}
    response = client.post("/api/v1/mailboxes/", data, content_type=JSON)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Mailbox.objects.filter(pk="anna@a.test").exists()
    page = client.get("/api/v1/docs/")
    token = page.context["csrf_token"]
    response = client.post(
        "/api/v1/mailboxes/", data, content_type=JSON, headers={"X-CSRFToken": str(token)}
    )
    assert response.status_code == 201
    # The documentation page loads only the panel's own assets.
    body = page.content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in body
    assert "//cdn" not in body and "https://" not in body


def test_the_schema_is_openapi_3_and_lists_every_resource(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/domains/",
        "/api/v1/mailboxes/",
        "/api/v1/mailboxes/bulk/",
        "/api/v1/mailboxes/{address}/rename/",
        "/api/v1/aliases/",
        "/api/v1/managers/",
        "/api/v1/signups/",
        "/api/v1/jobs/",
        "/api/v1/audit/",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_the_schema_names_each_lists_sort_keys_and_the_api_sorts_by_them(client, api_client):
    from aliases.views import SORT_FIELDS as ALIAS_SORTS
    from domains.views import SORT_FIELDS as DOMAIN_SORTS
    from mailboxes.views import SORT_FIELDS as MAILBOX_SORTS

    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path, keys in (
        ("/api/v1/mailboxes/", MAILBOX_SORTS),
        ("/api/v1/domains/", DOMAIN_SORTS),
        ("/api/v1/aliases/", ALIAS_SORTS),
    ):
        (sort,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "sort"]
        assert set(sort["schema"]["enum"]) == {*keys, *(f"-{k}" for k in keys)}, path
    assert "used" in MAILBOX_SORTS  # the order by measured disk use
    api = api_client("superadmin")
    for key in MAILBOX_SORTS:
        response = api.get(f"/api/v1/mailboxes/?sort=-{key}")
        assert response.status_code == 200 and response.json()["sort"] == f"-{key}", key


# --- the services' rules, messages and records --------------------------------------------------
def test_a_service_refusal_is_a_field_error_with_the_forms_message(api_client, personas):
    Domain.objects.filter(pk="a.test").update(maxusers=1)  # user@a.test is the one
    client = api_client("admin_a")
    response = client.post(
        "/api/v1/mailboxes/",
        {"domain": "a.test", "local_part": "anna", "password": "Long-enough-9"},
        content_type=JSON,
    )
    assert response.status_code == 400
    messages = [m for field in response.json().values() for m in field]
    assert "The domain has reached its limit of 1 mailboxes." in messages
    response = client.post(
        "/api/v1/mailboxes/",
        {"domain": "a.test", "local_part": "user", "password": "Long-enough-9"},
        content_type=JSON,
    )
    assert response.status_code == 400
    assert list(response.json()) == ["local_part"]
    assert Mailbox.objects.count() == 1


def test_a_write_records_the_same_audit_entry_and_job_as_the_page(api_client, run_jobs, settings):
    client = api_client("admin_a")
    response = client.post(
        "/api/v1/mailboxes/",
        {"domain": "a.test", "local_part": "anna", "password": "Long-enough-9", "quota": 5},
        content_type=JSON,
    )
    assert response.status_code == 201
    entry = AuditEntry.objects.get(action="mailbox.create")
    assert (entry.actor, entry.object_id, entry.domain) == ("admin@a.test", "anna@a.test", "a.test")
    assert entry.ip == "127.0.0.1"
    job = Job.objects.get(kind=Job.Kind.MAILDIR_CREATE, object_id="anna@a.test")
    run_jobs()
    job.refresh_from_db()
    assert job.state == Job.State.DONE
    assert (settings.MAILADMIN_MAIL_BASE / "a.test/anna/Maildir/cur").is_dir()


def test_a_domain_admin_cannot_move_anything_into_another_domain(api_client, personas):
    client = api_client("admin_a")
    response = client.post(
        "/api/v1/aliases/",
        {"domain": "b.test", "local_part": "sales", "goto": ["x@example.org"]},
        content_type=JSON,
    )
    assert response.status_code == 400 and "domain" in response.json()
    response = client.post(
        "/api/v1/mailboxes/bulk/",
        {"action": "disable", "addresses": ["user@a.test", "someone@b.test"]},
        content_type=JSON,
    )
    assert response.status_code == 404
    assert Mailbox.objects.get(pk="user@a.test").active


def test_bulk_reset_returns_the_new_passwords_once(api_client, personas):
    response = api_client("admin_a").post(
        "/api/v1/mailboxes/bulk/",
        {"action": "reset_password", "addresses": ["user@a.test"]},
        content_type=JSON,
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    password = response.json()["passwords"]["user@a.test"]
    assert password not in str(list(AuditEntry.objects.values()))
    from mailadmin.lib.passwords import verify_password

    assert verify_password(password, Mailbox.objects.get(pk="user@a.test").password)


# --- lists -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/mailboxes/",
        "/api/v1/mailboxes/?domain=a.test",
        "/api/v1/mailboxes/?q=u&sort=-quota",
        "/api/v1/aliases/?domain=a.test",
        "/api/v1/aliases/?q=al&match=contains",
        "/api/v1/domains/",
        "/api/v1/jobs/?domain=a.test",
        "/api/v1/audit/?domain=a.test",
        "/api/v1/signups/?state=",
    ],
)
@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
def test_lists_run_a_constant_number_of_queries(api_client, make_mailbox, path, persona):
    from aliases.models import Alias

    client = api_client(persona)

    def fill(start: int, count: int) -> None:
        for i in range(start, start + count):
            make_mailbox(f"u{i:03}@a.test")
            Alias.objects.create(
                address=f"al{i:03}@a.test", goto="x@example.org", domain_id="a.test"
            )
            AuditEntry.objects.create(actor="x", action="mailbox.create", domain="a.test")

    def count_queries() -> int:
        client.get(path)  # usage rows of the domains written behind the panel's back: once
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200
        return len(queries)

    fill(0, 3)
    few = count_queries()
    fill(3, 60)
    assert count_queries() == few
    # token (with its manager), domain filter, count, page, scoping: a handful, not a row's worth
    assert few <= 7


def test_lists_page_and_sort_as_the_pages_do(api_client, make_mailbox):
    for i in range(30):
        make_mailbox(f"u{i:03}@a.test")
    client = api_client("admin_a")
    first = client.get("/api/v1/mailboxes/?per_page=25&sort=-address").json()
    assert (first["count"], first["pages"], first["per_page"]) == (31, 2, 25)
    assert first["results"][0]["username"] == "user@a.test"
    second = client.get("/api/v1/mailboxes/?per_page=25&sort=-address&page=2").json()
    assert [r["username"] for r in second["results"]][-1] == "u000@a.test"
    found = client.get("/api/v1/mailboxes/?q=u01").json()
    assert {r["username"] for r in found["results"]} == {f"u01{i}@a.test" for i in range(10)}


# --- odd legacy keys ---------------------------------------------------------------------------
ODD_KEYS = ["a/b@a.test", "a@b@a.test", "Upper@a.test", " space@a.test", "add"]


def test_odd_legacy_keys_have_working_urls_and_never_fail(api_client, make_mailbox, personas):
    from aliases.models import Alias

    for key in ODD_KEYS:
        if "@" in key:
            make_mailbox(key)
            Mailbox.objects.filter(pk=key).update(domain_id="a.test")
        Alias.objects.create(address=f"x{key}", goto="user@a.test", domain_id="a.test")
    Domain.objects.create(domain="", description="empty")
    client = api_client("superadmin")
    seen = set()
    for path in ("/api/v1/mailboxes/?per_page=200", "/api/v1/aliases/?per_page=200"):
        response = client.get(path)
        assert response.status_code == 200
        for row in response.json()["results"]:
            detail = client.get(row["url"])
            assert detail.status_code == 200, row["url"]
            key = row.get("username") or row["address"]
            assert (detail.json().get("username") or detail.json()["address"]) == key
            seen.add(key)
            assert client.patch(row["url"], {}, content_type=JSON).status_code in (200, 400)
    assert {"a/b@a.test", "a@b@a.test"} <= seen
    domains = client.get("/api/v1/domains/?per_page=200").json()["results"]
    empty = next(d for d in domains if d["domain"] == "")
    assert client.get(empty["url"]).status_code == 200
    assert empty["key_problems"]
    for query in ("%", "_", "😀", "a@b@c", "/", "~"):
        for path in ("/api/v1/mailboxes/", "/api/v1/aliases/", "/api/v1/domains/"):
            assert client.get(path, {"q": query}).status_code == 200
    assert client.get("/api/v1/mailboxes/😀@a.test/").status_code == 404
    assert client.get("/api/v1/mailboxes/", {"domain": "😀.test"}).status_code == 404
    assert client.get("/api/v1/jobs/99999999999999999999/").status_code == 404


# --- throttling --------------------------------------------------------------------------------
def test_requests_are_throttled_per_manager(api_client, settings, personas):
    settings.MAILADMIN_API_RATE = 3
    client = api_client("admin_a")
    answers = [client.get("/api/v1/domains/").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    # Another manager has their own count.
    assert api_client("admin_b").get("/api/v1/domains/").status_code == 200


def test_anonymous_requests_are_throttled_per_client_address(settings, db):
    settings.MAILADMIN_API_ANON_RATE = 2
    answers = [
        Client().get("/api/v1/domains/", REMOTE_ADDR="192.0.2.50").status_code for _ in range(3)
    ]
    assert answers == [401, 401, 429]
    assert Client().get("/api/v1/domains/", REMOTE_ADDR="192.0.2.51").status_code == 401
    # Wrong tokens count too.
    wrong = Client(headers={"Authorization": "Bearer mat_000000000000_guess"})
    answers = [
        wrong.get("/api/v1/domains/", REMOTE_ADDR="192.0.2.52").status_code for _ in range(3)
    ]
    assert answers == [401, 401, 429]


def test_an_import_is_all_or_nothing_with_the_pages_messages(api_client, personas):
    client = api_client("admin_a")
    rows = [
        {"local_part": "anna", "name": "Anna", "password": "Long-enough-9", "quota": 10},
        {"local_part": "user", "name": "", "password": "Long-enough-9"},
        {"local_part": "bad address", "password": "Long-enough-9"},
    ]
    response = client.post(
        "/api/v1/mailboxes/import/", {"domain": "a.test", "rows": rows}, content_type=JSON
    )
    assert response.status_code == 400
    messages = response.json()["rows"]
    assert [m.split(":")[0] for m in messages] == ["Line 2", "Line 3"]
    assert not Mailbox.objects.filter(pk="anna@a.test").exists()
    response = client.post(
        "/api/v1/mailboxes/import/",
        {"domain": "a.test", "rows": [rows[0], {**rows[1], "local_part": "bert"}]},
        content_type=JSON,
    )
    assert response.status_code == 201
    assert response.json()["created"] == ["anna@a.test", "bert@a.test"]
    # One entry for the import, naming both (the audit page folds the list).
    imported = AuditEntry.objects.get(action="mailbox.import").changes["mailboxes"][1]
    assert sorted(imported) == ["anna@a.test", "bert@a.test"]
    response = client.post(
        "/api/v1/mailboxes/import/", {"domain": "b.test", "rows": rows[:1]}, content_type=JSON
    )
    assert response.status_code == 404


def test_deleting_a_manager_deletes_their_tokens(api_client, api_token, personas):
    token = api_token("admin_a")
    response = api_client("superadmin").delete("/api/v1/managers/admin@a.test/")
    assert response.status_code == 204
    assert not ApiToken.objects.filter(manager_id="admin@a.test").exists()
    assert bearer(token).get("/api/v1/mailboxes/").status_code == 401


def test_a_token_follows_its_managers_current_domains(api_token, personas):
    from accounts.models import DomainManager

    client = bearer(api_token("admin_a"))
    assert client.get("/api/v1/mailboxes/user@a.test/").status_code == 200
    DomainManager.objects.filter(manager_id="admin@a.test").delete()
    assert client.get("/api/v1/mailboxes/user@a.test/").status_code == 404


# --- the other resources' writes ---------------------------------------------------------------
def test_a_superadmin_creates_renames_and_deletes_a_domain(api_client, make_mailbox, personas):
    client = api_client("superadmin")
    response = client.post(
        "/api/v1/domains/",
        {"domain": "Neu.Example", "maxusers": 5, "default_quota": 100, "maxquota": 50},
        content_type=JSON,
    )
    assert response.status_code == 400
    assert response.json() == {
        "default_quota": ["The default quota cannot be larger than the domain's maximum."]
    }
    response = client.post(
        "/api/v1/domains/", {"domain": "Neu.Example", "maxusers": 5}, content_type=JSON
    )
    assert response.status_code == 201 and response.json()["domain"] == "neu.example"
    assert Domain.objects.get(pk="neu.example").active  # the form's initial value
    make_mailbox("x@neu.example")
    response = client.post(
        "/api/v1/domains/neu.example/rename/", {"domain": "alt.example"}, content_type=JSON
    )
    assert response.status_code == 200 and response.json()["domain"] == "alt.example"
    assert Mailbox.objects.filter(pk="x@alt.example").exists()
    response = client.delete("/api/v1/domains/alt.example/")
    assert response.status_code == 400 and "delete_all" in response.json()
    response = client.delete(
        "/api/v1/domains/alt.example/?delete_all=true&confirm_domain=alt.example"
    )
    assert response.status_code == 204
    assert not Domain.objects.filter(pk="alt.example").exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"domain.create", "domain.rename", "domain.delete"} <= actions


def test_a_signup_request_is_approved_through_the_api(api_client, personas):
    from conftest import PASSWORD
    from mailadmin.lib.passwords import hash_password
    from signup.models import SignupRequest

    signup = SignupRequest.objects.create(
        domain="a.test",
        local_part="newbie",
        address="newbie@a.test",
        pending_address="newbie@a.test",
        password_hash=hash_password(PASSWORD),
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    client = api_client("admin_a")
    listed = client.get("/api/v1/signups/?domain=a.test").json()
    assert [r["address"] for r in listed["results"]] == ["newbie@a.test"]
    response = client.post(f"/api/v1/signups/{signup.pk}/approve/")
    assert response.status_code == 200 and response.json()["state"] == "approved"
    assert Mailbox.objects.filter(pk="newbie@a.test").exists()
    response = client.post(f"/api/v1/signups/{signup.pk}/approve/")
    assert response.status_code == 400  # decided already: the service's message
    assert api_client("admin_b").post(f"/api/v1/signups/{signup.pk}/reject/").status_code == 404


def test_a_failed_job_is_retried_through_the_api(api_client, personas):
    from provisioning.services import job_record

    job = job_record(kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain="a.test", object_id="x")
    client = api_client("admin_a")
    assert client.post(f"/api/v1/jobs/{job.pk}/retry/").status_code == 409
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, last_error="disk full")
    response = client.post(f"/api/v1/jobs/{job.pk}/retry/")
    assert response.status_code == 200
    assert Job.objects.get(pk=job.pk).state != Job.State.FAILED


def test_a_large_bulk_reset_runs_in_the_background_and_gives_the_passwords_once(
    api_client, make_mailbox, settings
):
    from provisioning import operations

    settings.MAILADMIN_BACKGROUND_BULK_OVER = 1
    make_mailbox("second@a.test")
    client = api_client("admin_a")
    response = client.post(
        "/api/v1/mailboxes/bulk/",
        {"action": "reset_password", "addresses": ["user@a.test", "second@a.test"]},
        content_type=JSON,
    )
    assert response.status_code == 202
    url = response.json()["operation"]
    assert client.get(url).json()["finished"] is False
    operation_id = int(url.rstrip("/").rsplit("/", 1)[1])
    assert operations.execute(operation_id) == "done"  # what the worker does
    body = client.get(url).json()
    assert body["finished"] is True and body["state"] == "done"
    passwords = body["passwords"]
    assert len(passwords) == 2
    assert "passwords" not in client.get(url).json()  # once
    # Nobody else sees the operation.
    assert api_client("admin_b").get(url).status_code == 404
