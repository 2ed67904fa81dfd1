"""Property tests of the domain forms: whatever comes in, the form either refuses it with a
field error or hands the services a normalised, storable value."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.forms import MAX_QUOTA_MB, DomainAddForm, DomainRenameForm
from domains.services import TRANSPORT_RE
from mailadmin.lib import dates
from mailadmin.lib.addresses import normalize_domain

pytestmark = pytest.mark.django_db

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BASE = {"maxusers": "0", "maxalias": "0", "maxquota": "0", "maxnetdiskquota": "0"}
LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
NAMES = st.one_of(
    st.text(max_size=80),
    st.lists(LABEL, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["../etc", "a..b", "Bücher.Test", "xn--bcher-kva.test", "a.test.", " x.test "]),
)


@FAST
@given(name=NAMES)
def test_a_domain_name_is_refused_or_stored_normalised(name):
    form = DomainAddForm(data={**BASE, "domain": name})
    if form.is_valid():
        stored = form.cleaned_data["domain"]
        assert stored == normalize_domain(stored) and stored.isascii() and stored == stored.lower()
        assert "/" not in stored and ".." not in stored and len(stored) <= 253
    else:
        assert "domain" in form.errors
        with pytest.raises(ValidationError):
            normalize_domain(name)


@FAST
@given(name=NAMES)
def test_a_rename_target_is_refused_or_normalised(name):
    form = DomainRenameForm(data={"domain": name})
    if form.is_valid():
        assert form.cleaned_data["domain"] == normalize_domain(name)
    else:
        assert form.errors["domain"]


@FAST
@given(
    field=st.sampled_from(["maxusers", "maxalias", "maxquota", "maxnetdiskquota", "default_quota"]),
    value=st.one_of(
        st.integers(min_value=-(10**12), max_value=10**12).map(str), st.text(max_size=12)
    ),
)
def test_numbers_are_whole_non_negative_and_bounded(field, value):
    form = DomainAddForm(data={**BASE, "domain": "ok.test", field: value})
    if form.is_valid():
        number = form.cleaned_data[field]
        assert number is None or 0 <= number <= max(MAX_QUOTA_MB, 2_147_483_647)
    else:
        assert field in form.errors


@FAST
@given(
    value=st.one_of(
        st.text(max_size=14), st.from_regex(r"\s?[0-9]{1,5}[dwmyDWMYx]\s?", fullmatch=True)
    )
)
def test_lifetimes_are_refused_or_stored_in_short_form(value):
    form = DomainAddForm(data={**BASE, "domain": "ok.test", "default_expire": value})
    if form.is_valid():
        stored = form.cleaned_data["default_expire"]
        assert stored == "" or (
            dates.parse_lifetime(stored) is not None and stored == stored.strip().lower()
        )
        assert len(stored) <= 12
    else:
        assert "default_expire" in form.errors


@FAST
@given(value=st.text(max_size=60))
def test_transports_never_carry_separators_or_control_characters(value):
    form = DomainAddForm(data={**BASE, "domain": "ok.test", "transport": value})
    if form.is_valid():
        stored = form.cleaned_data["transport"]
        assert stored == "" or TRANSPORT_RE.match(stored)
        assert not any(c in stored for c in ", \t\r\n\x00")
    else:
        assert "transport" in form.errors


@FAST
@given(value=st.text(max_size=12))
def test_dates_are_iso_or_refused(value):
    form = DomainAddForm(data={**BASE, "domain": "ok.test", "expiredate": value})
    if form.is_valid():
        date = form.cleaned_data["expiredate"]
        # Only YYYY-MM-DD: none of Django's other formats (such as 10/25/2006) is accepted.
        assert date is None or date == datetime.datetime.strptime(value.strip(), "%Y-%m-%d").date()
    else:
        assert "expiredate" in form.errors
