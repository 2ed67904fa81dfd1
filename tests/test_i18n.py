"""Every text is translated into Simplified and Traditional Chinese, and the browser picks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _entries(po: Path) -> list[tuple[str, str, bool]]:
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        fuzzy = "#, fuzzy" in block
        msgid = re.search(r'^msgid ((?:".*"\n)+)', block, re.M)
        msgstr = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if not msgid or not msgstr:
            continue
        join = lambda raw: "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', raw))  # noqa: E731
        entries.append((join(msgid.group(1)), join(msgstr.group(1)), fuzzy))
    return entries


@pytest.mark.parametrize("language", ["zh_Hans", "zh_Hant"])
def test_every_message_is_translated(language):
    po = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    entries = [e for e in _entries(po) if e[0]]
    assert len(entries) > 50
    untranslated = [msgid for msgid, msgstr, fuzzy in entries if not msgstr or fuzzy]
    assert untranslated == []


@pytest.mark.parametrize(
    ("accept", "text"), [("zh-CN,zh;q=0.9", "登录"), ("zh-TW", "登入"), ("en-US", "Log in")]
)
def test_the_language_follows_the_browser(client, db, accept, text):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()
    assert text in page


def test_the_language_can_be_switched(client, db):
    client.post("/i18n/setlang/", {"language": "zh-hant", "next": "/login/"})
    assert "登入" in client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
