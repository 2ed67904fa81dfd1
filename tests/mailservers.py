"""The real mail programs for tests: Postfix's ``postmap`` and a private Dovecot, both reading the
files the panel generates (``mailstack.config``) for the pytest test database.

The Dovecot has no listeners: ``doveadm auth test`` and ``doveadm user`` ask its auth service,
which runs the generated ``password_query`` and ``user_query`` against the database, exactly
as on a mail host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from mailstack import config


def private_postfix_config(directory: Path) -> Path:
    """An empty Postfix configuration directory, for ``postmap -c`` (no system ``main.cf``)."""
    directory.mkdir()
    (directory / "main.cf").write_text("")
    return directory


def generate_mailstack_files(directory: Path) -> Path:
    """Every generated file, from the panel's own database settings, written to ``directory``."""
    config.write_files(config.render_all(config.database_params(), str(directory)), directory)
    return directory


class PrivateDovecot:
    """``dovecot -F`` of the test's own, whose passdb and userdb are a generated SQL file."""

    def __init__(self, sql_file: Path) -> None:
        if not shutil.which("dovecot") or not shutil.which("doveadm"):
            raise AssertionError("dovecot-core is not installed: run scripts/bootstrap.sh test")
        self.sql_file = sql_file
        # Outside the test's private tmp directory: Dovecot's unprivileged processes need to
        # reach base_dir.
        self.root = Path(tempfile.mkdtemp(prefix="mailadmin-dovecot-"))
        self.root.chmod(0o755)
        self.conf = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateDovecot:
        for name in ("run", "state"):
            (self.root / name).mkdir(exist_ok=True)
        self.conf.write_text(
            f"""base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = mailadmin-test-{os.getpid()}
log_path = /dev/stderr
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {{
  driver = sql
  args = {self.sql_file}
}}
userdb {{
  driver = sql
  args = {self.sql_file}
}}
"""
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["dovecot", "-F", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while not (self.root / "run" / "auth-client").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                output = self.log.read_text(errors="replace")
                self.stop()
                raise AssertionError(f"dovecot did not start: {output}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def doveadm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["doveadm", "-c", str(self.conf), *args], capture_output=True, text=True, timeout=60
        )

    def auth_test(
        self, user: str, password: str, *, service: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``doveadm auth test``: returncode 0 when Dovecot accepts the password (for the
        service, when given: ``imap``, ``pop3``, ``smtp``...)."""
        extra = ["-x", f"service={service}"] if service else []
        return self.doveadm("auth", "test", *extra, user, password)
