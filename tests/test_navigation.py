"""The top bar: six sections in the bar, the others under "More", by role."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def labels(items) -> list[str]:
    return [str(item["label"]) for item in items]


def test_the_bar_and_the_more_menu_of_a_superadmin(client_as):
    response = client_as("superadmin").get("/jobs/")
    assert labels(response.context["navigation"]) == [
        "Overview",
        "Domains",
        "Mailboxes",
        "Aliases",
        "Signups",
        "Audit log",
    ]
    more = response.context["navigation_more"]
    assert labels(more) == [
        "Managers",
        "Group mail",
        "Jobs",
        "Expiry",
        "Archives",
        "Mail activity",
        "Mail system",
    ]
    assert [item["label"] for item in more if item["active"]] == ["Jobs"]
    assert response.context["navigation_more_active"] is True
    body = response.content.decode()
    assert '<details class="js-nav-more">' in body and 'aria-current="page"' in body


def test_a_domain_admin_has_no_superadmin_sections(client_as):
    response = client_as("admin_a").get("/")
    assert "Managers" not in labels(response.context["navigation_more"])
    assert "Mail system" not in labels(response.context["navigation_more"])
    assert response.context["navigation_more_active"] is False
