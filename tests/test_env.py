"""Settings parsing: strict, with every problem named at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mailadmin.env import Env

ROOT = Path(__file__).resolve().parent.parent


def test_values_are_parsed_strictly():
    env = Env(
        {
            "A": "yes",
            "B": "42",
            "C": "vda",
            "D": "a, b ,,c",
            "E": "1000-2000",
            "F": "/srv/mail",
        }
    )
    assert env.bool("A", False) is True
    assert env.int("B", 0, minimum=1) == 42
    assert env.choice("C", "courier", ("courier", "vda")) == "vda"
    assert env.list("D") == ["a", "b", "c"]
    assert env.range("E", (0, 0)) == (1000, 2000)
    assert str(env.path("F", "/x")) == "/srv/mail"
    env.check()


def test_every_invalid_value_is_reported_together():
    env = Env({"A": "maybe", "B": "ten", "C": "ext4", "E": "9-1", "F": "relative/dir"})
    env.bool("A", False)
    env.int("B", 0)
    env.choice("C", "courier", ("courier", "vda"))
    env.range("E", (0, 0))
    env.path("F", "/x")
    env.str("G", required=True)
    with pytest.raises(ImproperlyConfigured) as excinfo:
        env.check()
    message = str(excinfo.value)
    for name in ("A:", "B:", "C:", "E:", "F:", "G: required"):
        assert name in message


def test_secrets_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    env = Env({"SECRET_KEY_FILE": str(secret)})
    assert env.str("SECRET_KEY") == "s3cret"
    env.check()


def test_a_value_and_its_file_together_are_refused(tmp_path):
    env = Env({"SECRET_KEY": "x", "SECRET_KEY_FILE": str(tmp_path / "nothing")})
    env.str("SECRET_KEY")
    with pytest.raises(ImproperlyConfigured):
        env.check()


def _start(environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "mailadmin.settings", **environ},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_project_refuses_to_start_with_invalid_settings():
    result = _start(
        {
            "SECRET_KEY": "x",
            "MAILADMIN_QUOTA_TYPE": "xfs",
            "MAILADMIN_DEFAULT_UID": "abc",
            "DATABASE_URL": "postgres://u@h/db",
        }
    )
    assert result.returncode != 0
    for name in ("MAILADMIN_QUOTA_TYPE", "MAILADMIN_DEFAULT_UID", "DATABASE_URL"):
        assert name in result.stderr


def test_production_needs_a_secret_key():
    result = _start({})
    assert result.returncode != 0
    assert "SECRET_KEY: required" in result.stderr


def test_the_quick_start_needs_no_settings():
    result = _start({"DEBUG": "1"})
    assert result.returncode == 0, result.stderr


def test_every_setting_is_documented_in_env_example():
    import re

    source = (ROOT / "mailadmin" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    documented = (ROOT / ".env.example").read_text()
    assert names, "no settings found"
    missing = sorted(n for n in names if not re.search(rf"^#? ?{n}=", documented, re.M))
    assert missing == []


def test_env_example_is_a_valid_configuration(tmp_path):
    import re

    values = dict(re.findall(r"^([A-Z_]+)=(.*)$", (ROOT / ".env.example").read_text(), re.M))
    values["DATABASE_URL"] = ""  # no server needed to check the rest
    result = _start(values)
    assert result.returncode == 0, result.stderr
