"""Maildir++ handling on a real file system, including hostile paths and planted links."""

from __future__ import annotations

import datetime
import os
import stat
import tempfile
from pathlib import Path

import pytest

from mailadmin.lib import maildir
from mailadmin.lib.maildir import MaildirConflictError, UnsafePathError


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "domains"
    path.mkdir()
    return path


def create(base, home="example.net/alice", quota="104857600S"):
    maildir.create_maildir(base, home, f"{home}/Maildir/", quota, 1000, 1000)
    return base / home


def test_create_builds_the_full_maildir_plus_plus_layout(base):
    home = create(base)
    box = home / "Maildir"
    for folder in ("", ".Sent", ".Drafts", ".Trash", ".Junk"):
        for sub in ("cur", "new", "tmp"):
            assert (box / folder / sub).is_dir()
        if folder:
            assert (box / folder / "maildirfolder").is_file()
    assert (box / "maildirsize").read_text() == "104857600S\n"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((box / "maildirsize").stat().st_mode) == 0o600


def test_create_gives_the_tree_to_the_mailbox_uid_and_gid(base):
    # As root (CI, the storage worker) any uid/gid; otherwise only one's own can be given.
    uid, gid = (1234, 2345) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    maildir.create_maildir(base, "ex.net/u", "ex.net/u/Maildir/", "0S", uid, gid)
    for path in (base / "ex.net", base / "ex.net/u", base / "ex.net/u/Maildir/.Sent/cur"):
        assert (path.stat().st_uid, path.stat().st_gid) == (uid, gid)


def test_create_is_idempotent_and_never_touches_existing_content(base):
    home = create(base)
    message = home / "Maildir" / "cur" / "1.msg"
    message.write_text("hello")
    (home / "Maildir" / "maildirsize").write_text("5S\n10 1\n")
    (home / "Maildir" / ".Junk").rename(home / "gone")  # a half-made tree is completed
    create(base, quota="999S")
    assert message.read_text() == "hello"
    assert (home / "Maildir" / "maildirsize").read_text() == "5S\n10 1\n"
    assert (home / "Maildir" / ".Junk" / "new").is_dir()


def test_quota_change_rewrites_only_the_first_line(base):
    home = create(base)
    sizefile = home / "Maildir" / "maildirsize"
    sizefile.write_text("104857600S,1000C\n1234 2\n-10 -1\n")
    maildir.set_quota(base, "example.net/alice/Maildir/", "209715200S,1000C", 1000, 1000)
    assert sizefile.read_text() == "209715200S,1000C\n1234 2\n-10 -1\n"
    assert maildir.read_quota_line(base, "example.net/alice/Maildir/") == "209715200S,1000C"


def test_move_is_idempotent(base):
    create(base)
    maildir.move(base, "example.net/alice", "example.net/alicia")
    assert (base / "example.net/alicia/Maildir/cur").is_dir()
    assert not (base / "example.net/alice").exists()
    maildir.move(base, "example.net/alice", "example.net/alicia")  # a re-run is done already


def test_move_refuses_to_overwrite(base):
    create(base)
    create(base, "example.net/bob")
    with pytest.raises(MaildirConflictError):
        maildir.move(base, "example.net/alice", "example.net/bob")


def test_archive_moves_aside_with_a_timestamp_and_is_idempotent(base):
    create(base)
    target = maildir.archive_path("example.net/alice", datetime.datetime(2026, 11, 21, 10, 0, 0))
    assert target == ".archive/example.net/alice.20261121T100000"
    maildir.archive(base, "example.net/alice", target)
    maildir.archive(base, "example.net/alice", target)
    assert (base / target / "Maildir" / "cur").is_dir()
    assert not (base / "example.net/alice").exists()


def test_purge_deletes_the_home_and_nothing_else(base, tmp_path):
    create(base)
    create(base, "example.net/bob")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    (base / "example.net/alice/link").symlink_to(outside)
    maildir.purge(base, "example.net/alice")
    maildir.purge(base, "example.net/alice")
    assert not (base / "example.net/alice").exists()
    assert (base / "example.net/bob/Maildir").is_dir()
    assert (outside / "keep").read_text() == "x"


@pytest.mark.parametrize(
    "hostile",
    ["../etc", "a/../../etc", "/etc/passwd", "", "a/\x00b", "..", "./..", "a/b/../../.."],
)
def test_paths_that_leave_the_mail_base_are_refused(base, hostile):
    with pytest.raises(UnsafePathError):
        maildir.create_maildir(base, hostile, f"{hostile}/Maildir/", "0S", 1000, 1000)
    assert list(base.iterdir()) == []


def test_a_symlink_planted_in_the_tree_is_never_followed(base, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (base / "evil.example").symlink_to(outside)
    with pytest.raises(UnsafePathError):
        create(base, "evil.example/alice")
    with pytest.raises(UnsafePathError):
        maildir.purge(base, "evil.example")
    with pytest.raises(UnsafePathError):
        maildir.move(base, "evil.example", "good.example")
    assert list(outside.iterdir()) == []


def test_a_symlinked_maildirsize_is_not_written_through(base, tmp_path):
    home = create(base)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    sizefile = home / "Maildir" / "maildirsize"
    sizefile.unlink()
    sizefile.symlink_to(victim)
    with pytest.raises(UnsafePathError):
        maildir.set_quota(base, "example.net/alice/Maildir/", "1S", 1000, 1000)
    assert victim.read_text() == "precious\n"


def test_the_maildir_must_lie_inside_the_home(base):
    with pytest.raises(UnsafePathError):
        maildir.create_maildir(base, "example.net/a", "example.net/b/Maildir/", "0S", 1000, 1000)


def test_a_worker_that_cannot_own_files_for_the_mailbox_uid_refuses():
    """Run as an unprivileged user (uid 65534), creating a Maildir for uid 1000 must fail with
    the remedy instead of leaving files the mail server cannot write."""
    if os.geteuid() != 0:
        pytest.fail("this test switches to another user and needs to start as root")
    # pytest's tmp_path is private to root; this base must be reachable by the other user.
    with tempfile.TemporaryDirectory() as top:
        base = Path(top)
        base.chmod(0o777)
        message, code = _create_as_nobody(base)
        assert list(base.iterdir()) == []  # refused before creating anything
    assert code == 0, message
    assert "runs as uid 65534 and cannot give" in message
    assert "run the storage worker as uid 1000" in message


def _create_as_nobody(base: Path) -> tuple[str, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become "nobody", try, report, exit
        os.close(read_end)
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            maildir.create_maildir(base, "a.test/alice", "a.test/alice/Maildir/", "0", 1000, 1000)
        except maildir.OwnershipError as exc:
            os.write(write_end, str(exc).encode())
            code = 0
        except BaseException as exc:  # reported to the parent
            os.write(write_end, repr(exc).encode())
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    return message, os.waitstatus_to_exitcode(status)
