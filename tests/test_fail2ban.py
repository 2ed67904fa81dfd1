"""The fail2ban filter in contrib/ matches what the panel logs (checked with fail2ban-regex).

The log lines are produced by real login attempts through the panel and formatted with the
formatter of ``settings.LOGGING``, so the filter is tested against what the panel writes.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
FILTER = ROOT / "contrib" / "fail2ban" / "filter.d" / "mailadmin.conf"
SUMMARY = re.compile(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", re.M)


def fail2ban_regex(lines: list[str], directory: Path) -> tuple[dict[str, int], list[str]]:
    """Run fail2ban-regex on ``lines``: the summary counts, and the address of every match."""
    program = shutil.which("fail2ban-regex")
    if program is None:
        pytest.fail(
            "fail2ban-regex is missing: install the Debian package fail2ban"
            " (scripts/bootstrap.sh test installs it)"
        )
    log = directory / "mailadmin.log"
    log.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    report = subprocess.run(
        [program, str(log), str(FILTER)], capture_output=True, text=True, check=False
    )
    assert report.returncode == 0, report.stdout + report.stderr
    summary = SUMMARY.search(report.stdout)
    assert summary, f"no summary line in the output of fail2ban-regex:\n{report.stdout}"
    counts = dict(
        zip(("lines", "ignored", "matched", "missed"), map(int, summary.groups()), strict=True)
    )
    addresses = subprocess.run(
        [program, "--out", "ip", str(log), str(FILTER)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return counts, addresses


class _Lines(logging.Handler):
    """Collects records as the panel's log handler writes them."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def security_log():
    logger = logging.getLogger("mailadmin.security")
    handler = _Lines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def login(client: Client, username: str, password: str, address: str):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_the_filter_matches_the_failures_and_lockouts_the_panel_logs(
    personas, security_log, tmp_path
):
    # A wrong password: one "login failed" line.
    assert login(Client(), "admin@a.test", "wrong", "203.0.113.9").status_code == 200
    # A successful login: an INFO line that must never count against the address.
    assert login(Client(), "admin@b.test", PASSWORD, "198.51.100.20").status_code == 302
    # Guessing from one IPv6 address until the panel's own throttling refuses it.
    guesser = Client()
    for number in range(settings.AXES_FAILURE_LIMIT):
        login(guesser, f"guess{number}@a.test", "wrong", "2001:db8::1")
    assert login(guesser, "admin@a.test", PASSWORD, "2001:db8::1").status_code == 429
    # A hostile user name cannot add an address of its choice or a second line.
    login(Client(), "x from ip=192.0.2.66\nlogin failed for user=y", "wrong", "198.51.100.30")

    failed = [line for line in security_log if " login failed for user=" in line]
    locked = [line for line in security_log if " login locked out for user=" in line]
    succeeded = [line for line in security_log if " login succeeded for user=" in line]
    assert failed and locked and succeeded, security_log
    assert all("\n" not in line for line in security_log)

    counts, addresses = fail2ban_regex(security_log, tmp_path)
    assert counts["lines"] == len(security_log), security_log
    assert counts["matched"] == len(failed) + len(locked), security_log
    assert counts["missed"] == len(security_log) - len(failed) - len(locked), security_log
    assert set(addresses) == {"203.0.113.9", "2001:db8::1", "198.51.100.30"}
    assert addresses.count("2001:db8::1") == sum("ip=2001:db8::1" in line for line in security_log)


@pytest.mark.django_db
def test_the_filter_reads_journal_lines_and_ignores_text_clients_control(tmp_path):
    lines = [
        # As written to a log file.
        "2026-11-21 10:00:00,123 WARNING mailadmin.security: login failed for user=admin@a.test"
        " from ip=203.0.113.9",
        "2026-11-21 10:00:01,123 WARNING mailadmin.security: login locked out for user=x"
        " from ip=2001:db8::1",
        "2026-11-21 10:00:02,123 INFO mailadmin.security: login succeeded for user=x"
        " from ip=192.0.2.1",
        # As fail2ban's systemd backend presents a journal entry of the unit.
        "mail gunicorn[1234]: 2026-11-21 10:00:03,123 WARNING mailadmin.security: login failed"
        " for user=- from ip=198.51.100.4",
        "mail gunicorn[1234]: 2026-11-21 10:00:04,123 INFO mailadmin.security: login succeeded"
        " for user=x from ip=192.0.2.2",
        # A request path is chosen by the client: it must never produce a match.
        "2026-11-21 10:00:05,123 WARNING django.request: Not Found: /mailadmin.security:"
        " login failed for user=x from ip=192.0.2.3",
        "mail gunicorn[1234]: 2026-11-21 10:00:06,123 WARNING django.request: Not Found:"
        " /x WARNING mailadmin.security: login failed for user=x from ip=192.0.2.4",
    ]
    counts, addresses = fail2ban_regex(lines, tmp_path)
    assert counts == {"lines": 7, "ignored": 0, "matched": 3, "missed": 4}
    assert addresses == ["203.0.113.9", "2001:db8::1", "198.51.100.4"]


@pytest.mark.django_db
def test_the_filter_matches_wrong_sign_in_codes(personas, security_log, tmp_path):
    import pyotp

    from accounts import twofactor

    secret = twofactor.new_secret()
    twofactor.enrol(manager=personas["admin_a"], secret=secret, code=pyotp.TOTP(secret).now())
    client = Client()
    assert login(client, "admin@a.test", PASSWORD, "203.0.113.77").status_code == 302
    assert (
        client.post("/login/code/", {"code": "000000"}, REMOTE_ADDR="203.0.113.77").status_code
        == 400
    )
    failed = [line for line in security_log if " login code failed for user=" in line]
    assert len(failed) == 1, security_log
    counts, addresses = fail2ban_regex(security_log, tmp_path)
    assert counts["matched"] == 1, security_log
    assert addresses == ["203.0.113.77"]
