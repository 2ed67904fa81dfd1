"""The README's run command on a fresh checkout: serves the login page, the demo admin logs in."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_checkout(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    # The virtual environment is the one scripts/bootstrap.sh already made for this checkout.
    (target / ".venv").symlink_to(ROOT / ".venv")


def test_run_script_serves_the_panel_and_the_demo_superadmin_logs_in(tmp_path):
    checkout = tmp_path / "mailadmin"
    checkout.mkdir()
    _fresh_checkout(checkout)
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MAILADMIN_", "DATABASE_URL", "CELERY_", "SECRET_KEY", "DEBUG"))
    }
    env["MAILADMIN_LISTEN"] = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=checkout,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = ""
        password = None
        deadline = time.monotonic() + 240
        while password is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            output += line
            match = re.search(r"Password:\s+(\S+)", line)
            if match:
                password = match.group(1)
        assert password, output
        assert "admin@example.com" in output

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                page = opener.open(f"{base}/login/", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("the panel did not answer:\n" + output)
        assert 'name="username"' in page
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": "admin@example.com", "password": password}
        ).encode()
        request = urllib.request.Request(f"{base}/login/", data=data, headers={"Referer": base})
        overview = opener.open(request, timeout=10).read().decode()
        assert "Signed in as admin@example.com (Superadmin)" in overview
        assert (checkout / "var" / "mailadmin.sqlite3").exists()
        # Served as production serves it: the printed URL is the one listened on, gunicorn
        # answers, DEBUG is off (a friendly 404, no traceback), static files come from the app.
        assert f"http://127.0.0.1:{port}/" in output
        assert opener.open(f"{base}/login/", timeout=5).headers["Server"] == "gunicorn"
        try:
            opener.open(f"{base}/no-such-page/", timeout=5)
        except urllib.error.HTTPError as missing:
            body = missing.read().decode()
            assert missing.code == 404 and "Page not found" in body
            assert "Traceback" not in body and "DEBUG = True" not in body
        else:
            raise AssertionError("a missing page answered 200")
        css = opener.open(f"{base}/static/css/mailadmin.css", timeout=5)
        assert css.status == 200 and "text/css" in css.headers["Content-Type"]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
