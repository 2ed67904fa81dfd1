"""Strict readers for settings taken from the environment.

Every reader accepts ``NAME`` or ``NAME_FILE`` (a file holding the value, for secrets) and
records a clear message for a missing or invalid value instead of failing on the first one,
so that a misconfigured install reports all of its problems at once (see ``Env.check``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.errors: list[str] = []

    def raw(self, name: str) -> str | None:
        """The value of ``name``, or the content of the file named by ``name_FILE``."""
        value = self.environ.get(name)
        file_name = self.environ.get(f"{name}_FILE")
        if value is not None and file_name:
            self.errors.append(f"{name}: set either {name} or {name}_FILE, not both")
            return value
        if file_name:
            try:
                return Path(file_name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                self.errors.append(f"{name}_FILE: cannot read {file_name!r}: {exc.strerror}")
                return None
        return value

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                self.errors.append(f"{name}: required but not set")
            return default if default is not None else ""
        return value

    def bool(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None or value == "":
            return default
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        self.errors.append(f"{name}: expected a boolean (1/0, true/false, yes/no), got {value!r}")
        return default

    def int(
        self,
        name: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value.strip())
        except ValueError:
            self.errors.append(f"{name}: expected a whole number, got {value!r}")
            return default
        if minimum is not None and number < minimum:
            self.errors.append(f"{name}: must be at least {minimum}, got {number}")
            return default
        if maximum is not None and number > maximum:
            self.errors.append(f"{name}: must be at most {maximum}, got {number}")
            return default
        return number

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        value = self.raw(name)
        if value is None or value == "":
            return default
        lowered = value.strip().lower()
        if lowered not in choices:
            self.errors.append(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
            return default
        return lowered

    def list(self, name: str, default: Sequence[str] = ()) -> list[str]:
        value = self.raw(name)
        if value is None or value.strip() == "":
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def range(self, name: str, default: tuple[int, int]) -> tuple[int, int]:
        """A ``low-high`` range of whole numbers such as ``1000-60000``."""
        value = self.raw(name)
        if value is None or value.strip() == "":
            return default
        low, sep, high = value.strip().partition("-")
        try:
            bounds = (int(low), int(high)) if sep else (int(low), int(low))
        except ValueError:
            self.errors.append(f"{name}: expected a range like 1000-60000, got {value!r}")
            return default
        if bounds[0] < 0 or bounds[0] > bounds[1]:
            self.errors.append(f"{name}: the range {value!r} is empty or negative")
            return default
        return bounds

    def path(self, name: str, default: str) -> Path:
        value = self.str(name, default)
        path = Path(value)
        if not path.is_absolute():
            self.errors.append(f"{name}: must be an absolute path, got {value!r}")
        return path

    def check(self) -> None:
        """Raise one error naming every invalid setting, if there are any."""
        if self.errors:
            lines = "\n  ".join(self.errors)
            raise ImproperlyConfigured(
                f"Invalid configuration (see .env.example for every setting):\n  {lines}"
            )
