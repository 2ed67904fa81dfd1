"""Small pieces the panel's forms share."""

from __future__ import annotations

from typing import Any

from django import forms

#: What a date field's help text promises and the field takes.
ISO_DATE_FORMAT = "%Y-%m-%d"


class IsoDateInput(forms.DateInput):
    """A date typed as ``YYYY-MM-DD``, as the field's help text says.

    Not ``type="date"``: browsers show that one in the language's own order (``06/30/2027``
    in American English), which is not what the help text says, and it cannot be typed the
    same way in every browser."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {
            "placeholder": "YYYY-MM-DD",
            "pattern": r"\d{4}-\d{2}-\d{2}",
            "autocomplete": "off",
            "spellcheck": "false",
            "maxlength": "10",
        }
        super().__init__(attrs={**defaults, **(attrs or {})}, format=ISO_DATE_FORMAT)


class ClearedPasswordsMixin:
    """A password is never sent back to the browser, so a form that failed comes back with its
    password inputs empty; ``passwords_cleared`` tells the template to say so
    (templates/includes/passwords_cleared.html), so that nobody wonders where they went."""

    password_field_names: tuple[str, ...] = ()

    @property
    def passwords_cleared(self) -> bool:
        form: Any = self
        return bool(
            form.is_bound
            and form.errors
            and any(form.data.get(form.add_prefix(name)) for name in self.password_field_names)
        )
