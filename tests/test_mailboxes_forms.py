"""Mailbox form input: arbitrary text never crashes and never stores an invalid address."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailboxes.forms import BulkForm, MailboxForm, RenameForm
from mailboxes.models import Mailbox
from provisioning.models import Job

LOCAL_RE = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def add_data(local_part: str) -> dict:
    return {
        "local_part": local_part,
        "domain": "a.test",
        "password1": "Sturdy-Pass-42",
        "password2": "Sturdy-Pass-42",
        "quota": "10",
        "netdiskquota": "0",
        "active": "on",
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    local_part=st.one_of(
        st.text(max_size=80),
        st.from_regex(r"[A-Za-z0-9._\-]{1,70}", fullmatch=True),
        st.sampled_from(
            [
                "../x",
                "a/../b",
                "..",
                "a..b",
                "\uff41\uff4c\uff49\uff43\uff45",
                "ali\x00ce",
                "é",
                " x ",
            ]
        ),
    )
)
@pytest.mark.django_db
def test_add_form_local_part_gives_a_clean_error_or_a_valid_stored_address(client_as, local_part):
    client = client_as("admin_a")
    before = set(Mailbox.objects.values_list("username", flat=True))
    jobs_before = Job.objects.count()
    response = client.post(reverse("mailboxes:add") + "?domain=a.test", add_data(local_part))
    after = set(Mailbox.objects.values_list("username", flat=True))
    if response.status_code == 200:
        assert response.context["form"].errors
        assert after == before and Job.objects.count() == jobs_before
    else:
        assert response.status_code == 302
        (created,) = after - before
        local, _, domain = created.partition("@")
        assert domain == "a.test"
        assert LOCAL_RE.fullmatch(local) and len(local) <= 64
        assert local == local_part.strip().lower()
        stored = Mailbox.objects.get(pk=created)
        assert stored.homedir == f"a.test/{local}" and ".." not in stored.maildir


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
@pytest.mark.django_db
def test_forward_to_accepts_only_addresses(personas, text):
    form = MailboxForm({**add_data("zed"), "forward_to": text}, actor=personas["superadmin"])
    if form.is_valid():
        for target in form.cleaned_data["forward_to"]:
            local, at, domain = target.partition("@")
            assert at and LOCAL_RE.fullmatch(local) and "." in domain and target == target.lower()
    else:
        assert set(form.errors) == {"forward_to"}


@settings(max_examples=30, deadline=None)
@given(text=st.text(max_size=80))
def test_rename_form_normalises_or_refuses(text):
    form = RenameForm({"local_part": text})
    if form.is_valid():
        assert LOCAL_RE.fullmatch(form.cleaned_data["local_part"])
    else:
        assert "local_part" in form.errors


@settings(max_examples=30, deadline=None)
@given(action=st.text(max_size=20), quota=st.text(max_size=12))
def test_bulk_form_accepts_only_known_actions_and_whole_quotas(action, quota):
    from django.http import QueryDict

    data = QueryDict(mutable=True)
    data.update({"action": action, "quota": quota})
    data.setlist("addresses", ["x@a.test"])
    form = BulkForm(data)
    if form.is_valid():
        assert form.cleaned_data["action"] in BulkForm.ACTION_LABELS
        assert form.cleaned_data["quota"] is None or form.cleaned_data["quota"] >= 0
    else:
        assert set(form.errors) <= {"action", "quota"}
