"""The API over hostile legacy data (tests/fixtures/extman-hostile.sql, legacy pass): every list
and search answers, every object a list gives opens by its own ``url``, and changes to odd rows
end in an answer, never a server error; a domain admin's token sees exactly their rows."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from test_hostile_legacy import DOMAINS_OF, ROOT, SHOP, sees

from accounts.models import Manager
from api.services import token_create

pytestmark = [pytest.mark.legacy, pytest.mark.django_db]

LISTS = ["domains", "mailboxes", "aliases", "jobs", "audit", "signups"]
QUERIES = ["a", "@", "/", "%", "_", "!", "~", "a@b@c", "odd_domain!", "ü", "张", "😀"]


def token_client(username: str) -> Client:
    _row, token = token_create(
        actor=Manager.objects.get(pk=username),
        name="legacy",
        scope="write",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    return Client(headers={"Authorization": f"Bearer {token}"}, raise_request_exception=False)


@pytest.mark.parametrize("manager", [ROOT, SHOP])
def test_every_list_search_and_object_answers(manager, settings):
    settings.MAILADMIN_API_RATE = 100_000
    client = token_client(manager)
    followed = 0
    for name in LISTS:
        for q in ["", *QUERIES]:
            for match in ("prefix", "contains"):
                response = client.get(f"/api/v1/{name}/", {"q": q, "match": match})
                assert response.status_code == 200, (name, q, match)
        response = client.get(f"/api/v1/{name}/", {"per_page": 200, "state": ""})
        assert response.status_code == 200
        for row in response.json()["results"]:
            if "url" not in row:
                continue
            detail = client.get(row["url"])
            assert detail.status_code == 200, row["url"]
            followed += 1
            if name == "mailboxes":
                assert sees(manager, row["username"], row["domain"])
            if name == "aliases":
                assert sees(manager, row["address"], row["domain"])
            if name == "domains" and manager != ROOT:
                assert row["domain"].lower() in DOMAINS_OF[manager]
    assert followed > 20


@pytest.mark.parametrize("manager", [ROOT, SHOP])
def test_changes_to_odd_rows_answer_without_server_error(manager, settings, legacy_rows_kept):
    settings.MAILADMIN_API_RATE = 100_000
    client = token_client(manager)
    for name in ("mailboxes", "aliases"):
        rows = client.get(f"/api/v1/{name}/", {"per_page": 200}).json()["results"]
        for row in rows:
            response = client.patch(row["url"], {}, content_type="application/json")
            assert response.status_code in (200, 400), (row["url"], response.content[:300])
            response = client.patch(row["url"], {"name": "😀"}, content_type="application/json")
            assert response.status_code in (200, 400), row["url"]
            if name == "mailboxes":
                rename = client.post(
                    row["url"] + "rename/", {"local_part": "x"}, content_type="application/json"
                )
                assert rename.status_code in (200, 400, 404), row["url"]
