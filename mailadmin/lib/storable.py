"""Text the database can store: one rule for every value written to it or looked up in it.

ExtMan's tables are ``utf8``, which MySQL and MariaDB mean as ``utf8mb3``: at most three bytes
per character, so the characters outside Unicode's Basic Multilingual Plane (emoji such as 😀,
rare CJK ideographs) cannot be stored. MariaDB refuses to write them to such a column, and
even to compare them with one ("Illegal mix of collations"), which makes a lookup fail rather
than find nothing. On an adopted database the panel's own tables often share the database's
``utf8`` default too, so the rule applies everywhere, whatever the table:

- a form field with such text gets a field error (:class:`StorableTextMixin`, on every form of
  the panel; passwords are exempt, they are stored hashed) and a service refuses it
  (:func:`check_storable`);
- a lookup with it finds nothing: a search gives an empty list, an object URL a 404, a login
  or a recovery a plain failure (:func:`is_storable`, :func:`storable`).

Lone surrogates (half of a UTF-16 pair, which no valid UTF-8 input yields) are refused as well.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_UNSTORABLE = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")
#: What an unstorable character becomes in :func:`storable` (U+FFFD REPLACEMENT CHARACTER).
REPLACEMENT = "\ufffd"
UNSTORABLE_MESSAGE = _(
    "This text has characters that cannot be stored, such as emoji: %(characters)s. Remove them."
)


def is_storable(text: str) -> bool:
    """Whether ``text`` fits a ``utf8mb3`` column (every character in the BMP)."""
    return _UNSTORABLE.search(text) is None


def storable(text: str) -> str:
    """``text`` with each unstorable character replaced by U+FFFD: for a name that is only
    looked up or recorded (a login name), so that it finds nothing and records safely."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def unstorable_error(text: str) -> ValidationError:
    found = list(dict.fromkeys(_UNSTORABLE.findall(text)))
    shown = " ".join(ch if not "\ud800" <= ch <= "\udfff" else REPLACEMENT for ch in found[:5])
    return ValidationError(UNSTORABLE_MESSAGE, code="unstorable", params={"characters": shown})


def validate_storable(value: Any) -> None:
    """Validator: refuse a text (or a list of texts) with unstorable characters."""
    texts = value if isinstance(value, list | tuple) else [value]
    for text in texts:
        if isinstance(text, str) and not is_storable(text):
            raise unstorable_error(text)


def check_storable(**fields: str | None) -> None:
    """For services: raise ``ValidationError({field: message})`` for every named text that
    cannot be stored."""
    errors = {
        name: [unstorable_error(text)]
        for name, text in fields.items()
        if text is not None and not is_storable(text)
    }
    if errors:
        raise ValidationError(errors)


class StorableTextMixin:
    """Form mixin: each text field refuses text that cannot be stored, with a field error.

    Password fields (a ``PasswordInput``) are left alone: a password is stored as its hash.
    Fields a subclass adds after ``__init__`` get the validator from :meth:`add_storable`.
    """

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_storable()

    def add_storable(self) -> None:
        for field in self.fields.values():
            if (
                isinstance(field, forms.CharField)
                and not isinstance(field.widget, forms.PasswordInput)
                and validate_storable not in field.validators
            ):
                field.validators.append(validate_storable)
