"""The example web server files: the gunicorn unit and the nginx site are accepted by systemd and
by Debian's nginx, and agree with each other and with the panel's settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mailboxes.forms import MAX_IMPORT_BYTES

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"
UNIT = CONTRIB / "systemd" / "mailadmin-web.service"
SITE = CONTRIB / "nginx" / "mailadmin.conf"


def gunicorn_args() -> str:
    text = UNIT.read_text().replace("\\\n", " ")
    return re.search(r"^ExecStart=(.*)$", text, re.MULTILINE).group(1)


def test_the_unit_runs_gunicorn_on_the_address_nginx_proxies_to():
    args = gunicorn_args()
    assert "/gunicorn " in args and args.rstrip().endswith("mailadmin.wsgi:application")
    bind = re.search(r"--bind (\S+)", args).group(1)
    assert f"proxy_pass http://{bind};" in SITE.read_text()
    # Bounded: a hung request ends, nothing in the panel needs longer.
    assert 0 < int(re.search(r"--timeout (\d+)", args).group(1)) <= 60


def test_nginx_passes_the_headers_the_panel_trusts_and_the_largest_upload():
    site = SITE.read_text()
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site
    size = re.search(r"client_max_body_size (\d+)m;", site).group(1)
    assert int(size) * 1024 * 1024 >= MAX_IMPORT_BYTES


def test_debians_nginx_accepts_the_site(tmp_path):
    if shutil.which("nginx") is None:
        pytest.fail("nginx is missing: run scripts/bootstrap.sh test (Debian package nginx-light)")
    certificate, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=mail.example.com", "-keyout", str(key), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    site = (
        SITE.read_text()
        .replace("/etc/ssl/mail.example.com/fullchain.pem", str(certificate))
        .replace("/etc/ssl/mail.example.com/privkey.pem", str(key))
    )
    (tmp_path / "mailadmin.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        "  include /etc/nginx/mime.types;\n"
        f"  access_log {tmp_path}/access.log;\n"
        f"  include {tmp_path}/mailadmin.conf;\n"
        "}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "[warn]" not in result.stderr
