"""Real services for the job tests: a private Redis and Celery worker processes.

Each test gets its own Redis on a free port (so that stopping it touches nobody else) and
starts workers with ``celery -A mailadmin.worker worker``, exactly as an installation does,
pointed at the pytest-django test database.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import redis

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, which it can stop and start again."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            raise AssertionError("redis-server is not installed: run scripts/bootstrap.sh test")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, 10, "the private Redis")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.resume()
            self.process.kill()
            self.process.wait(10)
        wait_until(lambda: not self.ping(), 5, "the private Redis to stop")

    def hang(self) -> None:
        """SIGSTOP: the server keeps its port (connections are accepted by the kernel) but
        answers nothing, as a Redis stuck on a full disk or swapped out does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for another process, on the test database of this one."""
    user = quote(settings_dict["USER"], safe="")
    password = quote(settings_dict["PASSWORD"] or "", safe="")
    host = settings_dict["HOST"] or "127.0.0.1"
    port = settings_dict["PORT"] or 3306
    return f"mysql://{user}:{password}@{host}:{port}/{settings_dict['NAME']}"


class Worker:
    """``celery -A mailadmin.worker worker`` in its own process group."""

    def __init__(
        self,
        *,
        name: str,
        queues: list[str],
        broker_url: str,
        database: dict,
        mail_base: Path,
        logdir: Path,
        beat: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = logdir / f"{name}.log"
        self.args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mailadmin.worker",
            "worker",
            "-n",
            f"{name}@%h",
            "-Q",
            ",".join(queues),
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ]
        if beat:
            self.args += ["-B", "-s", str(logdir / f"{name}-beat-schedule")]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MAILADMIN_", "CELERY_"))},
            "DATABASE_URL": database_url(database),
            "CELERY_BROKER_URL": broker_url,
            "SECRET_KEY": "tests-only-not-secret",
            "DEBUG": "0",
            "MAILADMIN_MAIL_BASE": str(mail_base),
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._ready, 60, f"worker {self.name} to start (see {self.log})")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"worker {self.name} exited:\n{self.log.read_text()[-3000:]}")
        return " ready." in self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the worker dies in the middle of whatever it does, as on a power cut."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
