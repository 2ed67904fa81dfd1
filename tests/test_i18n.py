"""Every text is translated into Simplified and Traditional Chinese, and the browser picks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _strings(raw: str) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', raw))


class Entry(NamedTuple):
    msgid: str
    msgstrs: list[str]  # one per plural form for a plural message
    fuzzy: bool
    plural: bool


def _entries(po: Path) -> list[Entry]:
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n)+)', block, re.M)
        if not msgid:
            continue
        plural = re.search(r"^msgid_plural ", block, re.M) is not None
        if plural:
            forms = re.findall(r'^msgstr\[(\d+)\] ((?:".*"\n?)+)', block, re.M)
            assert [int(n) for n, _ in forms] == list(range(len(forms))), block
            msgstrs = [_strings(raw) for _, raw in forms]
        else:
            msgstr = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
            if not msgstr:
                continue
            msgstrs = [_strings(msgstr.group(1))]
        entries.append(Entry(_strings(msgid.group(1)), msgstrs, "#, fuzzy" in block, plural))
    return entries


def _po(language: str) -> Path:
    return ROOT / "locale" / language / "LC_MESSAGES" / "django.po"


@pytest.mark.parametrize("language", ["zh_Hans", "zh_Hant"])
def test_every_message_is_translated(language):
    entries = [e for e in _entries(_po(language)) if e.msgid]
    assert len(entries) > 50
    untranslated = [e.msgid for e in entries if not all(e.msgstrs) or e.fuzzy]
    assert untranslated == []


@pytest.mark.parametrize("language", ["zh_Hans", "zh_Hant"])
def test_every_plural_message_fills_each_plural_form(language):
    po = _po(language)
    header = re.search(r"nplurals=(\d+);", po.read_text(encoding="utf-8"))
    assert header, "the catalogue has no Plural-Forms header"
    plurals = [e for e in _entries(po) if e.plural]
    assert "%(count)s mailbox" in [e.msgid for e in plurals]
    incomplete = [
        e.msgid for e in plurals if len(e.msgstrs) != int(header.group(1)) or not all(e.msgstrs)
    ]
    assert incomplete == []


@pytest.mark.parametrize(
    ("accept", "text"), [("zh-CN,zh;q=0.9", "登录"), ("zh-TW", "登入"), ("en-US", "Log in")]
)
def test_the_language_follows_the_browser(client, db, accept, text):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert text in page


def test_the_language_can_be_switched(client, db):
    client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/login/"})
    assert "登入" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
