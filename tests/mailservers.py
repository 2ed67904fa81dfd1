"""The real mail programs for tests, reading the files the panel generates (``mailstack.config``)
for the pytest test database: Postfix (``postmap`` and a private smtpd), a private Dovecot, and
courier-authlib's authdaemond with ``authtest`` and ``maildrop``.

``MailStack`` is one such stack per test run: it renders the files, installs them with the
very ``install`` commands the panel prints for operators (into its own directories), and starts
each server on first use. Nothing listens beyond 127.0.0.1, and nothing of the machine's own
configuration is read or changed: authlib has ``/etc/courier`` and ``/run/courier`` compiled
in, so authdaemond, authtest and maildrop run in a private mount namespace where the stack's
directories are bind-mounted over those two (the mounts never reach the rest of the machine).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from django.test import override_settings

from mailstack import config

# Runs a command with the stack's courier directories over /etc/courier and /run/courier. A
# fixed script; the directories and the command come as positional arguments.
COURIER_NAMESPACE_SCRIPT = (
    'mount --bind "$1" /etc/courier && mount --bind "$2" /run/courier && shift 2 && exec "$@"'
)
AUTHDAEMOND = "/usr/lib/courier/courier-authlib/authdaemond"
SYSTEM_AUTHDAEMONRC = Path("/etc/courier/authdaemonrc")


def private_postfix_config(directory: Path) -> Path:
    """An empty Postfix configuration directory, for ``postmap -c`` (no system ``main.cf``)."""
    directory.mkdir()
    (directory / "main.cf").write_text("")
    return directory


def generate_mailstack_files(directory: Path) -> Path:
    """Every generated file, from the panel's own database settings, written to ``directory``
    (the files that point at others point into ``directory``)."""
    dirs = config.install_dirs(postfix=str(directory), dovecot=str(directory))
    config.write_files(config.render_all(config.database_params(), dirs), directory)
    return directory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _require(*programs: str, package: str) -> None:
    missing = [p for p in programs if not (shutil.which(p) or Path(p).exists())]
    if missing:
        raise AssertionError(
            f"{', '.join(missing)} missing: {package} is not installed (scripts/bootstrap.sh test)"
        )


def _stop(process: subprocess.Popen[bytes] | None, *, group: bool = False) -> None:
    if process is None or process.poll() is not None:
        return
    if group:
        os.killpg(process.pid, signal.SIGTERM)  # our own session: authdaemond and its children
    else:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=10)


class PrivateDovecot:
    """``dovecot -F`` of the test's own with no IMAP/POP3 listeners. Its passdb and userdb are
    either a generated SQL file, or a generated include (``auth-mailadmin.conf.ext``) with
    everything it brings (the SQL file it names, the SASL socket for Postfix)."""

    def __init__(self, sql_file: Path | None = None, *, include: Path | None = None) -> None:
        _require("dovecot", "doveadm", package="dovecot-core")
        if (sql_file is None) == (include is None):
            raise ValueError("give the SQL file or the include")
        self.sql_file = sql_file
        self.include = include
        # Outside the test's private tmp directory: Dovecot's unprivileged processes need to
        # reach base_dir.
        self.root = Path(tempfile.mkdtemp(prefix="mailadmin-dovecot-"))
        self.root.chmod(0o755)
        self.conf = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _auth_config(self) -> str:
        if self.include is not None:
            return f"!include {self.include}\n"
        return f"""passdb {{
  driver = sql
  args = {self.sql_file}
}}
userdb {{
  driver = sql
  args = {self.sql_file}
}}
"""

    def start(self) -> PrivateDovecot:
        for name in ("run", "state"):
            (self.root / name).mkdir(exist_ok=True)
        # No 2 s penalty per refused password: the tests refuse many on purpose.
        self.conf.write_text(
            f"""base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = mailadmin-test-{os.getpid()}-{self.root.name}
log_path = /dev/stderr
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
auth_failure_delay = 0
"""
            + self._auth_config()
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
        _stop(self.process)
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
        # no-penalty: after a refused password Dovecot would hold the next request for seconds.
        extra = ["-x", "no-penalty", *(["-x", f"service={service}"] if service else [])]
        return self.doveadm("auth", "test", *extra, user, password)


class PrivateAuthdaemon:
    """courier-authlib's authdaemond (authmysql) in a private mount namespace, reading the
    ``authmysqlrc`` installed in ``etc`` and Debian's ``authdaemonrc`` with the one change the
    docs ask for (``authmodulelist="authmysql"``)."""

    def __init__(self, root: Path, etc: Path) -> None:
        _require(AUTHDAEMOND, "authtest", package="courier-authdaemon")
        _require("/usr/lib/courier-authlib/libauthmysql.so", package="courier-authlib-mysql")
        if not SYSTEM_AUTHDAEMONRC.exists():
            raise AssertionError(f"{SYSTEM_AUTHDAEMONRC} missing: courier-authdaemon is broken")
        self.etc = etc
        self.run_dir = root / "courier-run"
        self.log = root / "authdaemond.log"
        self.socket = self.run_dir / "authdaemon" / "socket"
        self.process: subprocess.Popen[bytes] | None = None

    def _write_authdaemonrc(self) -> None:
        text = SYSTEM_AUTHDAEMONRC.read_text()
        text, count = re.subn(r"(?m)^authmodulelist=.*$", 'authmodulelist="authmysql"', text)
        assert count == 1, "Debian's authdaemonrc has no authmodulelist line"
        text = re.sub(r"(?m)^daemons=.*$", "daemons=2", text)
        (self.etc / "authdaemonrc").write_text(text)

    def command(self, *args: str) -> list[str]:
        """``args`` to run in the namespace where this authlib's directories are the real ones."""
        return [
            "unshare",
            "--mount",
            "sh",
            "-c",
            COURIER_NAMESPACE_SCRIPT,
            "sh",
            str(self.etc),
            str(self.run_dir),
            *args,
        ]

    def start(self) -> PrivateAuthdaemon:
        self._write_authdaemonrc()
        # The socket's directory as Debian's tmpfiles.d makes it: only root and group courier
        # reach authdaemond.
        (self.run_dir / "authdaemon").mkdir(parents=True, exist_ok=True)
        shutil.chown(self.run_dir / "authdaemon", "courier", "courier")
        (self.run_dir / "authdaemon").chmod(0o750)
        # The mount point; the package creates it, but /run may have been emptied since.
        Path("/run/courier").mkdir(exist_ok=True)
        with self.log.open("ab") as log:
            # In the foreground (the Debian wrapper would daemonize it through courierlogger).
            self.process = subprocess.Popen(
                self.command(AUTHDAEMOND),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"authdaemond did not start: {self.log.read_text()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        _stop(self.process, group=True)

    def authtest(self, address: str, password: str = "") -> subprocess.CompletedProcess[str]:
        """courier's ``authtest``: returncode 0 when authlib knows the address (and accepts the
        password, when given); its report names home, Maildir, quota and options."""
        args = ["authtest", address, *([password] if password else [])]
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=60)

    def maildrop(
        self, address: str, message: bytes, *, uid: int | None = None, gid: int | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """``maildrop -d address``: delivery as authlib describes the mailbox (uid, Maildir,
        quota). As root by default; with ``uid``/``gid`` as Postfix's pipe(8) transport runs
        it with ``user=``: that uid and that one group, no others."""
        args = ["maildrop", "-d", address]
        if uid is not None and gid is not None:
            args = ["setpriv", f"--reuid={uid}", f"--regid={gid}", f"--groups={gid}", *args]
        return subprocess.run(self.command(*args), input=message, capture_output=True, timeout=60)


#: What the delivering instance adds after the generated lines: the panel's local MTA, which
#: delivers with virtual(8) into the Maildirs below virtual_mailbox_base as the mail user (EMOS:
#: vuser 1000), and whose smtpd serves the panel only (no SMTP AUTH; it trusts this host).
DELIVERY_MAIN_CF = """
# The delivering instance: the panel's local MTA.
smtpd_sasl_auth_enable = no
virtual_transport = virtual
virtual_uid_maps = static:1000
virtual_gid_maps = static:1000
virtual_minimum_uid = 100
"""


class PrivatePostfix:
    """A Postfix instance of the test's own (``postfix -c``): an smtpd on a loopback port whose
    ``main.cf`` is a minimal private base plus the generated ``main.cf`` lines, unchanged.

    With ``delivery`` it is the panel's local MTA instead: this host is in ``mynetworks`` (as
    Postfix's default ``mynetworks_style = host`` has it) and mail for the mailboxes of the
    generated maps is delivered by virtual(8) into their Maildirs (``DELIVERY_MAIN_CF``)."""

    def __init__(
        self,
        root: Path,
        queue_directory: Path,
        generated_main_cf: str,
        *,
        name: str = "postfix",
        delivery: bool = False,
    ) -> None:
        _require("postfix", "postconf", package="postfix")
        self.conf = root / f"{name}-conf"
        self.queue = queue_directory
        self.data = root / f"{name}-data"
        self.log = root / f"{name}.log"
        self.port = free_port()
        self.generated_main_cf = generated_main_cf
        self.delivery = delivery
        self.started = False

    def base_main_cf(self) -> str:
        # Without delivery nobody is in mynetworks: every client is an outsider unless it logs
        # in.
        trusted = "127.0.0.0/8" if self.delivery else ""
        return f"""compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {self.log}
maillog_file_prefixes = {self.log.parent}
myhostname = mailadmin-test.localhost
mydestination =
mynetworks = {trusted}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
default_transport = error:the test instance never relays
max_use = 1
max_idle = 5s
"""

    def write_config(self) -> None:
        self.conf.mkdir(exist_ok=True)
        extra = DELIVERY_MAIN_CF if self.delivery else ""
        (self.conf / "main.cf").write_text(
            self.base_main_cf() + "\n" + self.generated_main_cf + extra
        )
        services = [
            f"127.0.0.1:{self.port} inet n - n - - smtpd",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "proxymap unix - - n - - proxymap",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        ]
        if self.delivery:
            services += ["virtual unix - n n - - virtual", "showq unix n - n - - showq"]
        (self.conf / "master.cf").write_text("\n".join(services) + "\n")

    def postconf(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["postconf", "-c", str(self.conf), *args], capture_output=True, text=True, timeout=60
        )

    def start(self) -> PrivatePostfix:
        self.write_config()
        self.data.mkdir(exist_ok=True)
        shutil.chown(self.data, "postfix")
        result = subprocess.run(
            ["postfix", "-c", str(self.conf), "start"], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"postfix did not start: {result.stdout}{result.stderr}{log}")
        self.started = True
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if time.monotonic() > deadline:
                raise AssertionError(f"postfix does not listen: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.started:
            try:
                subprocess.run(
                    ["postfix", "-c", str(self.conf), "stop"], capture_output=True, timeout=30
                )
            except subprocess.TimeoutExpired:
                self.kill()  # a master that no longer answers: its children follow it
            self.started = False

    def kill(self) -> None:
        """SIGKILL this instance's master (from its pid file)."""
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)

    def processes(self) -> str:
        """This instance's processes as ``ps`` shows them (for a failure's message)."""
        result = subprocess.run(
            ["ps", "-eo", "pid,stat,wchan:20,etime,args"], capture_output=True, text=True
        )
        return "\n".join(line for line in result.stdout.splitlines() if str(self.conf) in line)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def queue_empty(self) -> bool:
        """Whether every message it took has left the queue (delivered or bounced)."""
        result = subprocess.run(
            ["postqueue", "-c", str(self.conf), "-j"], capture_output=True, text=True, timeout=60
        )
        return result.returncode == 0 and result.stdout.strip() == ""


class HeldPostfix(PrivatePostfix):
    """A running private Postfix whose mail for other hosts stays in its queue, deferred: it
    relays through a loopback port where nothing listens. For the queue pages and actions; in a
    directory of its own, readable by the ``postfix`` user; ``stop`` removes it."""

    REASON = "Connection refused"

    def __init__(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="mailadmin-held-"))
        root.chmod(0o755)
        super().__init__(
            root,
            root / "spool",
            "default_transport = smtp\nrelayhost = [127.0.0.1]:1\n",
            name="held",
            delivery=True,
        )
        self.root = root

    def write_config(self) -> None:
        super().write_config()
        with (self.conf / "master.cf").open("a") as master:
            # Relaying, and what "postqueue -f" (flush) talks to.
            master.write(
                "smtp unix - - n - - smtp\n"
                "pickup fifo n - n 60 1 pickup\n"
                "flush unix n - n 1000? 0 flush\n"
            )

    def start(self) -> HeldPostfix:
        self.queue.mkdir(exist_ok=True)
        super().start()
        return self

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def submit(self, sender: str, recipient: str, subject: str = "held") -> str:
        """Hand one message to the smtpd; its queue id."""
        import smtplib

        with smtplib.SMTP("127.0.0.1", self.port, timeout=15) as smtp:
            smtp.ehlo("client.test")
            smtp.mail(sender)
            smtp.rcpt(recipient)
            code, answer = smtp.data(f"Subject: {subject}\r\n\r\nheld message\r\n".encode())
        assert code == 250, answer
        return answer.decode().rsplit(" ", 1)[-1]

    def messages(self) -> list[dict]:
        """``postqueue -j`` of this instance, one dict per message."""
        import json

        result = subprocess.run(
            ["postqueue", "-c", str(self.conf), "-j"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]

    def wait_deferred(self, count: int, timeout: float = 30) -> list[dict]:
        """Wait until ``count`` messages sit in the deferred queue; all messages then."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages()
            if sum(m["queue_name"] == "deferred" for m in messages) >= count:
                return messages
            if time.monotonic() > deadline:
                raise AssertionError(f"not deferred: {messages}\n{self.log_text()}")
            time.sleep(0.2)


def start_held(messages: list[tuple[str, str]]) -> tuple[HeldPostfix, list[str]]:
    """A new private Postfix holding one deferred message per (sender, recipient), and their
    queue ids. On a loaded test machine an instance has been seen not to greet its first
    client at all (nor to stop when asked): it is then killed and a second one started; two
    such in a row fail with their processes and log."""
    import smtplib

    failures = []
    for _attempt in range(2):
        server = HeldPostfix().start()
        try:
            ids = [server.submit(sender, recipient) for sender, recipient in messages]
            server.wait_deferred(len(messages))
            return server, ids
        except (smtplib.SMTPException, OSError) as exc:
            failures.append(f"{exc!r}\n{server.processes()}\n{server.log_text()[-3000:]}")
            server.stop()
    raise AssertionError("the private Postfix did not take mail twice:\n" + "\n".join(failures))


class MailStack:
    """One private mail stack per test run, on the test database (see the module docstring).

    Files are rendered once, with ``MAILADMIN_MAIL_BASE`` and ``MAILADMIN_POSTFIX_DIR`` set to
    the stack's own directories; tests that use the stack take those settings (``use``).
    """

    def __init__(self) -> None:
        # Outside pytest's 0700 tmp directories: maildrop delivers as the mailbox's uid.
        self.root = Path(tempfile.mkdtemp(prefix="mailadmin-mailstack-"))
        self.root.chmod(0o755)
        self.mail_base = self.root / "maildata"
        self.tables = self.root / "postfix-tables"
        self.output = self.root / "generated"
        self.pfconf = private_postfix_config(self.root / "pfconf")
        queue = self.root / "postfix-spool"
        self.dirs = config.install_dirs(
            postfix=str(self.root / "etc-postfix-mailadmin"),
            dovecot=str(self.root / "etc-dovecot"),
            courier=str(self.root / "etc-courier"),
            postfix_queue=str(queue),
        )
        self._dovecot: PrivateDovecot | None = None
        self._authlib: PrivateAuthdaemon | None = None
        self._postfix: PrivatePostfix | None = None
        self._delivery: PrivatePostfix | None = None

    def settings(self) -> dict[str, object]:
        return {
            "MAILADMIN_MAIL_BASE": self.mail_base,
            "MAILADMIN_POSTFIX_DIR": self.tables,
            "MAILADMIN_POSTFIX_CONFIG_DIR": str(self.pfconf),
        }

    def install(self) -> MailStack:
        """Render the files and install them as the operator would, with the printed commands."""
        self.mail_base.mkdir(mode=0o755)
        self.tables.mkdir()
        with override_settings(**self.settings()):
            self.files = config.render_all(config.database_params(), self.dirs)
        config.write_files(self.files, self.output)
        for command in config.install_commands(str(self.output), self.dirs):
            subprocess.run(shlex.split(command), check=True, capture_output=True, timeout=60)
        # Dovecot puts the SASL socket into Postfix's private/ before Postfix first starts.
        private = Path(self.dirs.postfix_queue) / "private"
        private.mkdir(parents=True)
        shutil.chown(private, "postfix")
        private.chmod(0o700)
        return self

    def installed(self, name: str) -> Path:
        """Where ``name`` was installed (``config.install_plan``)."""
        (item,) = [i for i in config.install_plan(self.dirs) if i.name == name]
        return Path(item.path)

    def clear_mail(self) -> None:
        for child in self.mail_base.iterdir():
            shutil.rmtree(child)

    @property
    def dovecot(self) -> PrivateDovecot:
        if self._dovecot is None:
            self._dovecot = PrivateDovecot(include=self.installed(config.DOVECOT_AUTH)).start()
        return self._dovecot

    @property
    def authlib(self) -> PrivateAuthdaemon:
        if self._authlib is None:
            self._authlib = PrivateAuthdaemon(self.root, self.installed(config.AUTHMYSQLRC).parent)
            self._authlib.start()
        return self._authlib

    @property
    def postfix(self) -> PrivatePostfix:
        if self._postfix is None:
            self.dovecot  # noqa: B018 - started first: smtpd asks it at every EHLO
            self._postfix = PrivatePostfix(
                self.root, Path(self.dirs.postfix_queue), self.files[config.MAIN_CF]
            )
            self._postfix.start()
        return self._postfix

    @property
    def delivery(self) -> PrivatePostfix:
        """The panel's local MTA: a second Postfix, with its own queue, that delivers into the
        stack's mail base (``PrivatePostfix`` with ``delivery``)."""
        if self._delivery is None:
            queue = self.root / "postfix-delivery-spool"
            queue.mkdir(exist_ok=True)
            self._delivery = PrivatePostfix(
                self.root,
                queue,
                self.files[config.MAIN_CF],
                name="postfix-delivery",
                delivery=True,
            )
            self._delivery.start()
        return self._delivery

    def stop(self) -> None:
        for server in (self._delivery, self._postfix, self._authlib, self._dovecot):
            if server is not None:
                server.stop()
        shutil.rmtree(self.root, ignore_errors=True)
