"""A domain admin provisions mailboxes from a script with an API token (issue 13, "done when"):
a separate process with curl against a live server, and nothing beyond their domains."""

from __future__ import annotations

import json
import subprocess

import pytest

from audit.models import AuditEntry
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db(transaction=True)


def curl(url: str, token: str, method: str = "GET", data: dict | None = None) -> tuple[int, dict]:
    """One request from another process, as a provisioning script would send it."""
    command = ["curl", "-sS", "-X", method, "-H", f"Authorization: Bearer {token}"]
    command += ["-w", "\n%{http_code}", "--max-time", "30"]
    if data is not None:
        command += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(data)]
    result = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    body, _, status = result.stdout.rpartition("\n")
    return int(status), (json.loads(body) if body.strip() else {})


def test_a_domain_admin_provisions_mailboxes_of_their_domain_only(live_server, api_token, settings):
    token = api_token("admin_a")
    api = f"{live_server.url}/api/v1"
    for local in ("anna", "bert", "carl"):
        status, body = curl(
            f"{api}/mailboxes/",
            token,
            "POST",
            {"domain": "a.test", "local_part": local, "password": "Long-enough-9", "quota": 50},
        )
        assert status == 201, body
        assert body["username"] == f"{local}@a.test" and body["quota_mb"] == 50
    status, body = curl(f"{api}/mailboxes/?domain=a.test&q=b", token)
    assert status == 200 and [r["username"] for r in body["results"]] == ["bert@a.test"]
    status, body = curl(f"{api}/mailboxes/bert@a.test/", token, "PATCH", {"name": "Bert"})
    assert status == 200 and body["name"] == "Bert"
    status, body = curl(
        f"{api}/mailboxes/bulk/", token, "POST", {"action": "disable", "addresses": ["carl@a.test"]}
    )
    assert status == 200 and body["addresses"] == ["carl@a.test"]

    # Nothing beyond a.test: b.test is not a choice, and its mailboxes do not exist for them.
    status, body = curl(
        f"{api}/mailboxes/",
        token,
        "POST",
        {"domain": "b.test", "local_part": "eve", "password": "Long-enough-9"},
    )
    assert status == 400 and list(body) == ["domain"]
    Mailbox.objects.create(username="boss@b.test", uid="boss", domain_id="b.test")
    for method, path in (
        ("GET", "/mailboxes/boss@b.test/"),
        ("PATCH", "/mailboxes/boss@b.test/"),
        ("DELETE", "/mailboxes/boss@b.test/"),
        ("GET", "/mailboxes/?domain=b.test"),
        ("GET", "/domains/b.test/"),
        ("GET", "/managers/"),
    ):
        status, body = curl(f"{api}{path}", token, method, {} if method == "PATCH" else None)
        assert (status, body) == (404, {"detail": "Not found."}), (method, path)
    status, body = curl(f"{api}/mailboxes/?per_page=100", token)
    assert {r["domain"] for r in body["results"]} == {"a.test"}

    # The rows, the audit entries and the Maildirs: as if made on the pages.
    assert set(Mailbox.objects.filter(domain_id="a.test").values_list("username", flat=True)) >= {
        "anna@a.test",
        "bert@a.test",
        "carl@a.test",
    }
    assert not Mailbox.objects.get(pk="carl@a.test").active
    assert Mailbox.objects.filter(pk="boss@b.test").exists()
    assert AuditEntry.objects.filter(action="mailbox.create", actor="admin@a.test").count() == 3
    for local in ("anna", "bert", "carl"):
        assert (settings.MAILADMIN_MAIL_BASE / f"a.test/{local}/Maildir/new").is_dir()
