"""Checks of free text that people type (display names, recovery questions and answers).

Such text ends up in one-line places: the columns that ExtMail webmail and ExtMan show, mail
bodies and headers, log lines. A control character there (CR, LF, NUL, ...) is never meant and
can split a line, so forms refuse it with a field error.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: Unicode categories refused in one-line text: controls (C0, DEL, C1) and the line and
#: paragraph separators U+2028/U+2029.
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
#: What a multi-line text (a textarea) may hold besides printable text.
_MULTILINE_ALLOWED = frozenset("\t\n\r")


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    allowed = _MULTILINE_ALLOWED if multiline else frozenset()
    return any(
        unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in allowed for ch in value
    )


def refuse_control_characters(value: str) -> None:
    """Form-field validator for one-line text: no control characters, no line breaks."""
    if isinstance(value, str) and has_control_characters(value):
        raise ValidationError(
            _("Remove the control characters (such as line breaks or tabs) from this field."),
            code="control_characters",
        )


def refuse_control_characters_multiline(value: str) -> None:
    """Form-field validator for a textarea: line breaks and tabs are fine, other controls
    (NUL, escape, ...) are not."""
    if isinstance(value, str) and has_control_characters(value, multiline=True):
        raise ValidationError(
            _("Remove the control characters (such as NUL) from this field."),
            code="control_characters",
        )
