"""The API and the pages give the same result for the same write (issue 13): a mailbox created
through the form and through the API, with the same typed values, leads to the same row,
forwarding, usage, audit entry and job, or to the same messages on the same fields."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_hostile_legacy import post_data

from aliases.models import Alias
from audit.models import AuditEntry
from domains.models import Domain, DomainUsage
from mailadmin.lib.passwords import verify_password
from mailboxes.models import Mailbox
from provisioning.models import Job

pytestmark = pytest.mark.django_db

VOLATILE = {"createdate"}  # the time of the write
# The API's form errors arrive as JSON; non-field errors under DRF's name.
NON_FIELD = "non_field_errors"

local_parts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True),
    st.sampled_from(["user", "postmaster", "Anna", "a..b", "-x", "", "x" * 70]),
    st.text(max_size=6),
)
names = st.one_of(st.just(""), st.text(max_size=12))
quotas = st.one_of(st.none(), st.integers(min_value=0, max_value=3000))
forwards = st.one_of(
    st.just([]),
    st.lists(st.sampled_from(["boss@example.org", "user@a.test", "bad address", "x@"]), max_size=2),
)


def outcome(address: str | None) -> dict[str, Any]:
    """What a create left behind (or nothing when it was refused)."""
    if address is None or not Mailbox.objects.filter(pk=address).exists():
        return {
            "mailboxes": Mailbox.objects.count(),
            "audit": AuditEntry.objects.count(),
            "jobs": Job.objects.count(),
        }
    row = Mailbox.objects.filter(pk=address).values().get()
    password = row.pop("password")
    entry = AuditEntry.objects.filter(action="mailbox.create", object_id=address).get()
    changes = {k: v for k, v in entry.changes.items() if k not in VOLATILE}
    job = Job.objects.filter(object_id=address).values("kind", "payload", "domain", "queue").get()
    return {
        "row": {k: v for k, v in row.items() if k not in VOLATILE},
        "password": password.startswith("$") and len(password) > 20,
        "forwarding": list(Alias.objects.filter(pk=address).values_list("goto", "active")),
        "usage": list(
            DomainUsage.objects.filter(domain_id="a.test").values(
                "mailboxes", "aliases", "quota_bytes", "netdisk_bytes"
            )
        ),
        "audit": (entry.actor, entry.action, entry.domain, entry.ip, changes, entry.message),
        "job": job,
    }


def through_the_page(client, typed: dict[str, Any]) -> tuple[dict, dict[str, list[str]]]:
    form = client.get("/mailboxes/add/?domain=a.test").context["form"]
    values = {
        "local_part": typed["local_part"],
        "name": typed["name"],
        "password1": typed["password"],
        "password2": typed["password"],
        "quota": "" if typed["quota"] is None else str(typed["quota"]),
        "forward_to": "\n".join(typed["forward_to"]),
    }
    data = post_data(form, **values)
    if typed["active"]:
        data["active"] = "on"
    else:
        data.pop("active", None)
    response = client.post("/mailboxes/add/?domain=a.test", data)
    if response.status_code == 302:
        return outcome(f"{typed['local_part']}@a.test".lower()), {}
    errors = response.context["form"].errors.get_json_data()
    messages = {
        (NON_FIELD if k == "__all__" else k): [e["message"] for e in v] for k, v in errors.items()
    }
    return outcome(None), messages


def through_the_api(client, typed: dict[str, Any]) -> tuple[dict, dict[str, list[str]]]:
    response = client.post(
        "/api/v1/mailboxes/", {"domain": "a.test", **typed}, content_type="application/json"
    )
    if response.status_code == 201:
        return outcome(response.json()["username"]), {}
    assert response.status_code == 400, response.content
    return outcome(None), response.json()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(  # created, with forwarding
    local_part="anna",
    name="Anna",
    quota=10,
    active=True,
    forward_to=["boss@example.org"],
    password="Long-enough-9",
)
@example(  # refused by the domain's limit
    local_part="bob", name="", quota=3000, active=False, forward_to=[], password="Long-enough-9"
)
@given(
    local_part=local_parts,
    name=names,
    quota=quotas,
    active=st.booleans(),
    forward_to=forwards,
    password=st.sampled_from(["Long-enough-9", "short", ""]),
)
def test_a_mailbox_created_through_the_page_and_the_api_is_the_same(
    client_as, api_token, local_part, name, quota, active, forward_to, password
):
    # 2000 MB: some quotas are over it.
    Domain.objects.filter(pk="a.test").update(maxquota="2097152000S")
    typed = {
        "local_part": local_part,
        "name": name,
        "quota": quota,
        "active": active,
        "forward_to": forward_to,
        "password": password,
    }
    from django.test import Client

    page_client = client_as("admin_a")
    api_client = Client(headers={"Authorization": f"Bearer {api_token('admin_a')}"})
    results = []
    for submit, client in ((through_the_page, page_client), (through_the_api, api_client)):
        with transaction.atomic():
            results.append(submit(client, typed))
            transaction.set_rollback(True)
    (page, page_errors), (api, api_errors) = results
    assert api_errors == page_errors
    assert api == page
    if local_part == "anna":
        assert page["row"]["username"] == "anna@a.test" and page_errors == {}
        assert page["forwarding"] and "boss@example.org" in page["forwarding"][0][0]
    if local_part == "bob":
        assert page_errors and "row" not in page


def test_the_password_set_through_the_api_verifies(api_client):
    response = api_client("admin_a").post(
        "/api/v1/mailboxes/",
        {"domain": "a.test", "local_part": "anna", "password": "Long-enough-9"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert verify_password("Long-enough-9", Mailbox.objects.get(pk="anna@a.test").password)
