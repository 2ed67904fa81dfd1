"""Mailbox paths: ExtMan's normal and ISP layouts, and renames of stored paths."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from domains.models import Domain
from mailboxes.paths import isp_user_hash, mailbox_paths, renamed_path


def test_normal_layout(settings):
    settings.MAILADMIN_ISP_MODE = False
    assert mailbox_paths(Domain(domain="example.com"), "alice") == (
        "example.com/alice",
        "example.com/alice/Maildir/",
    )


def test_isp_layout_with_a_domain_prefix(settings):
    settings.MAILADMIN_ISP_MODE = True
    settings.MAILADMIN_ISP_HASH = "2x2"
    homedir, maildir = mailbox_paths(Domain(domain="example.com", hashdirpath="A0/B0"), "alice")
    assert re.fullmatch(r"A0/B0/example\.com/[0-9A-F]{2}/[0-9A-F]{2}/alice", homedir)
    assert maildir == homedir + "/Maildir/"


def test_isp_layout_without_a_domain_prefix(settings):
    settings.MAILADMIN_ISP_MODE = True
    settings.MAILADMIN_ISP_HASH = "3x1"
    homedir, _ = mailbox_paths(Domain(domain="example.com", hashdirpath=""), "bob")
    assert re.fullmatch(r"example\.com/[0-9A-F]{3}/bob", homedir)


def test_isp_hashes_are_random():
    assert len({isp_user_hash("2x2") for _ in range(50)}) > 40


@pytest.mark.parametrize("spec", ["", "2", "x2", "0x2", "2x0", "axb", "2x2x2"])
def test_a_bad_hash_setting_fails_clearly(spec):
    with pytest.raises(ImproperlyConfigured):
        isp_user_hash(spec)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.test/alice", "a.test/bob"),
        ("a.test/alice/Maildir/", "a.test/bob/Maildir/"),
        ("alice/a.test/3F/9C/alice", "alice/a.test/3F/9C/bob"),
        ("alice/a.test/3F/9C/alice/Maildir/", "alice/a.test/3F/9C/bob/Maildir/"),
        ("a.test/other/Maildir/", "a.test/other/Maildir/"),
        ("a.test/xalice", "a.test/xalice"),
    ],
)
def test_rename_replaces_only_the_last_segment_equal_to_the_old_local_part(path, expected):
    assert renamed_path(path, "alice", "bob") == expected
