"""Small pieces the panel's forms share."""

from __future__ import annotations

from typing import Any


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
