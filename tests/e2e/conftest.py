"""Browser fixtures: Debian's chromium driven by Playwright against pytest-django's live server.

Playwright's own browser downloads are never used: the tests launch the chromium that
``scripts/bootstrap.sh test`` installs, and fail (not skip) when it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from accounts.models import Manager
from aliases.models import Alias
from domains.models import Domain
from mailboxes.models import Mailbox

CHROMIUM = os.environ.get("MAILADMIN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
DESKTOP = {"width": 1280, "height": 800}
# The two screens the panel is checked on: a laptop and a phone.
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

ROOT = "root@example.net"
DOMAIN_ADMIN = "postmaster@example.com"
MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium per test module.

    Playwright's sync API marks an asyncio loop as running in this thread, which Django's
    async-safety check takes for async code; the check is relaxed only while the browser runs,
    and the loop is gone again when the module ends.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"chromium is not installed at {CHROMIUM}: run scripts/bootstrap.sh test",
            pytrace=False,
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                yield browser
            finally:
                browser.close()


class ConsoleErrors(list[str]):
    """Errors the page reported: console errors (CSP violations among them) and exceptions.

    A test that asks for an error page on purpose names it with ``expect_status``; the
    browser's report of that status is then not an error.
    """

    def __init__(self) -> None:
        super().__init__()
        self.expected: set[tuple[str, int]] = set()

    def expect_status(self, path: str, status: int) -> None:
        self.expected.add((path, status))

    def _is_expected(self, message: ConsoleMessage) -> bool:
        location = message.location.get("url", "")
        return any(
            location.endswith(path) and f"status of {status}" in message.text
            for path, status in self.expected
        )

    def attach(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not self._is_expected(message):
                where = message.location.get("url") or page.url
                self.append(f"{where}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.append(f"{page.url}: {error}"))


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


@pytest.fixture
def new_page(
    browser: Browser, live_server: LiveServer, console_errors: ConsoleErrors, transactional_db: None
) -> Iterator[Callable[..., Page]]:
    """``new_page(viewport=...)``: a page in a fresh browser context (own cookies).

    The live server's thread sees only committed data, hence ``transactional_db``; the root
    conftest empties the legacy tables after such a test.
    """
    contexts = []

    def make(viewport: dict[str, int] | None = None) -> Page:
        context = browser.new_context(
            base_url=live_server.url, viewport=viewport or DESKTOP, locale="en-US"
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        console_errors.attach(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert console_errors == []


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where the tests save their screenshots: MAILADMIN_SCREENSHOTS, or a temporary folder."""
    target = os.environ.get("MAILADMIN_SCREENSHOTS")
    path = Path(target) if target else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def superadmin(make_manager) -> Manager:
    return make_manager(ROOT, type="admin", name="Site operator")


@pytest.fixture
def demo_data(superadmin, make_domain, make_manager, make_mailbox) -> None:
    """A small, realistic site: three domains (one internationalised) with some mailboxes."""
    for name, description, limits in (
        ("example.com", "Example Corporation", {"maxusers": 50, "maxalias": 20}),
        ("example.org", "Example Foundation", {"maxusers": 10}),
        ("xn--bcher-kva.example", "Bücher & Co.", {}),
    ):
        make_domain(name, **limits)
        Domain.objects.filter(pk=name).update(description=description)
    Domain.objects.filter(pk="example.com").update(maxquota=f"{51200 * MB}S")
    make_manager(DOMAIN_ADMIN, domains=["example.com"], name="Pat Postmaster")
    people = [
        ("alice.martin", "Alice Martin", 2048),
        ("bob.chen", "Bob Chen", 1024),
        ("carol.jones", "Carol Jones", 5120),
        ("david.kim", "David Kim", 1024),
        ("eva.novak", "Eva Novák", 2048),
        ("frank.li", "Frank Li", 1024),
        ("helpdesk", "Help desk", 10240),
    ]
    for local, name, quota in people:
        make_mailbox(f"{local}@example.com", name=name, quota=f"{quota * MB}S")
    Mailbox.objects.filter(pk="frank.li@example.com").update(active=0)
    Mailbox.objects.filter(pk="david.kim@example.com").update(expiredate="2027-06-30")
    for local, name in (("info", "Info desk"), ("jan", "Jan de Vries")):
        make_mailbox(f"{local}@example.org", name=name, quota=f"{512 * MB}S")
    make_mailbox("verkauf@xn--bcher-kva.example", name="Verkauf", quota=f"{1024 * MB}S")
    for address, goto in (
        ("sales@example.com", "alice.martin@example.com,bob.chen@example.com"),
        ("support@example.com", "helpdesk@example.com"),
        ("@example.org", "info@example.org"),
    ):
        Alias.objects.create(address=address, goto=goto, domain_id=address.split("@")[1])
