"""One rule for text the database can store (mailadmin.lib.storable).

The 500s themselves reproduce on a utf8mb3 database only: tests/test_hostile_legacy.py runs
every page over one. These tests pin the rule and check that every form of the panel has it.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from django import forms
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from mailadmin.lib.storable import (
    StorableTextMixin,
    check_storable,
    is_storable,
    storable,
    validate_storable,
)

#: Every module of the panel that defines forms.
FORM_MODULES = [
    "accounts.forms",
    "accounts.manager_forms",
    "aliases.forms",
    "domains.forms",
    "mailboxes.forms",
    "mailstack.forms",
    "portal.forms",
    "signup.forms",
]


def test_characters_outside_the_bmp_are_not_storable():
    assert is_storable("Zoë 张伟 Ωmega ﬁ \ufffd")
    assert not is_storable("smile 😀")
    assert not is_storable("rare CJK 𠀀")
    assert not is_storable("lone surrogate \ud800")
    assert storable("a😀b") == "a\ufffdb"


@given(st.text())
def test_storable_text_fits_three_bytes_per_character(text):
    fixed = storable(text)
    assert is_storable(fixed)
    assert all(len(ch.encode("utf-8")) <= 3 for ch in fixed)
    assert (fixed == text) is is_storable(text)


def test_the_validator_names_the_characters():
    with pytest.raises(ValidationError) as caught:
        validate_storable("Bob 😀🎉")
    assert caught.value.code == "unstorable"
    assert "😀 🎉" in caught.value.messages[0]
    assert "cannot be stored" in caught.value.messages[0]
    validate_storable(["fine", "also fine"])
    with pytest.raises(ValidationError):
        validate_storable(["fine", "not 😀"])


def test_check_storable_reports_each_field():
    check_storable(name="Bob", question=None)
    with pytest.raises(ValidationError) as caught:
        check_storable(name="Bob 😀", question="ok", answer="🎉")
    assert set(caught.value.message_dict) == {"name", "answer"}


def project_forms() -> list[type]:
    found = []
    for module_name in FORM_MODULES:
        module = importlib.import_module(module_name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, forms.BaseForm) and obj.__module__ == module_name:
                found.append(obj)
    return found


def test_every_form_of_the_panel_refuses_unstorable_text():
    """A form added without the rule fails here (add StorableTextMixin to it)."""
    found = project_forms()
    assert len(found) >= 20
    missing = [f.__qualname__ for f in found if not issubclass(f, StorableTextMixin)]
    assert missing == []


class _Example(StorableTextMixin, forms.Form):
    name = forms.CharField()
    notes = forms.CharField(widget=forms.Textarea, required=False)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput)
    count = forms.IntegerField(required=False)


def test_the_mixin_checks_every_text_field_but_passwords():
    form = _Example({"name": "a😀", "notes": "b🎉", "password": "pässwörd 😀", "count": "1"})
    assert not form.is_valid()
    assert set(form.errors) == {"name", "notes"}
    assert "cannot be stored" in form.errors["name"][0]
    assert _Example({"name": "Zoë", "password": "pässwörd 😀"}).is_valid()
