"""``manage.py check --deploy`` names the settings that must never reach a real server."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What scripts/test.sh gives its own `check --deploy` step: a configuration that passes.
DEPLOY_ENV = {
    "PATH": "/usr/bin:/bin",
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "ALLOWED_HOSTS": "mail.example.com",
    "MAILADMIN_HSTS_SECONDS": "31536000",
    "MAILADMIN_SSL_REDIRECT": "1",
    "MAILADMIN_HSTS_PRELOAD": "1",
    "MAILADMIN_SITE_URL": "https://mail.example.com",
}


def check_deploy(**environ: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**DEPLOY_ENV, **environ},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_deploy_check_passes_without_the_captcha_test_mode():
    result = check_deploy(MAILADMIN_CAPTCHA_TEST_MODE="0")
    assert result.returncode == 0, result.stderr
    assert "mailadmin.E001" not in result.stdout + result.stderr


def test_the_deploy_check_refuses_the_captcha_test_mode():
    result = check_deploy(MAILADMIN_CAPTCHA_TEST_MODE="1")
    assert result.returncode != 0
    assert "mailadmin.E001" in result.stderr
    assert "MAILADMIN_CAPTCHA_TEST_MODE is on" in result.stderr


def test_the_plain_check_is_not_troubled_by_the_test_mode():
    """Only --deploy looks at it: tests and development servers run with it on."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**DEPLOY_ENV, "MAILADMIN_CAPTCHA_TEST_MODE": "1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_a_retired_setting_is_named_with_its_replacement():
    result = check_deploy(MAILADMIN_CAPTCHA_TEST_MODE="0", MAILADMIN_JOB_STALE_AFTER="900")
    assert result.returncode != 0  # --fail-level WARNING
    assert "mailadmin.W001" in result.stderr and "MAILADMIN_JOB_LEASE" in result.stderr


def test_the_deploy_check_warns_when_mails_would_carry_bare_paths():
    result = check_deploy(MAILADMIN_CAPTCHA_TEST_MODE="0", MAILADMIN_SITE_URL="")
    assert result.returncode != 0  # --fail-level WARNING
    assert "mailadmin.W002" in result.stderr and "MAILADMIN_SITE_URL" in result.stderr
    result = check_deploy(MAILADMIN_CAPTCHA_TEST_MODE="0", MAILADMIN_SITE_URL="mail.example.com")
    assert "mailadmin.W003" in result.stderr
    # A development server (DEBUG=1) is not troubled.
    result = check_deploy(MAILADMIN_CAPTCHA_TEST_MODE="0", MAILADMIN_SITE_URL="", DEBUG="1")
    assert "mailadmin.W002" not in result.stdout + result.stderr
