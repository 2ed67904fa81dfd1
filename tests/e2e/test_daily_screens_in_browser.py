"""The screens admins use every day, in a real browser at 1366x900 and at 390x844: the lists'
quick actions, the mailbox form's help, a readable audit log, no page wider than a phone, a
top bar that fits a laptop. Screenshots for the README when MAILADMIN_SCREENSHOTS is set."""

from __future__ import annotations

import datetime
import pprint
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Manager
from audit.models import AuditEntry
from conftest import PASSWORD
from domains.models import Domain
from mailadmin.lib.passwords import hash_password, verify_password
from mailboxes import bulk, services
from mailboxes.models import Mailbox
from provisioning.models import Archive, Job
from provisioning.services import job_record
from signup.models import SignupRequest
from tests.e2e.conftest import LAPTOP, PHONE, PNG, ROOT
from tests.e2e.pages import log_in, submit

pytestmark = pytest.mark.e2e

SCREENS = pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=["1366", "390"])
LONG = "firstname.middlename.lastname-department@example.com"
LIST = "/mailboxes/?domain=example.com"


def fits(page: Page) -> bool:
    width = page.viewport_size["width"]
    return page.evaluate("document.documentElement.scrollWidth") <= width


def inside(page: Page, locator) -> bool:
    """Whether the element can be reached without scrolling sideways."""
    box = locator.bounding_box()
    right = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= right


# The elements that stick out to the right, to name them when a page is too wide.
CULPRITS = """() => Array.from(document.querySelectorAll("body *"))
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .filter((e) => !e.parentElement.closest(".table-responsive, details:not([open])"))
  .slice(0, 4)
  .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} ` +
    `${Math.round(e.getBoundingClientRect().right)} ${(e.textContent || "").slice(0, 40)}`)"""


# The buttons of a table that a phone shows only after scrolling the table sideways.
BUTTONS_OFF_SCREEN = """() => Array.from(document.querySelectorAll("table .btn"))
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth)
  .map((e) => (e.textContent || e.title).trim().slice(0, 20))"""


def width_problem(page: Page) -> tuple[int, list[str]] | None:
    off_screen = page.evaluate(BUTTONS_OFF_SCREEN)
    if fits(page) and not off_screen:
        return None
    width = page.evaluate("document.documentElement.scrollWidth")
    return width, page.evaluate(CULPRITS) + off_screen


@pytest.fixture
def busy_site(demo_data, make_mailbox) -> None:
    """The demo site with what makes pages wide: a long address, a pending signup, a failed
    job, an archive, an import of 50 mailboxes in the audit log."""
    make_mailbox(LONG, name="Firstname Middlename Lastname-Department")
    Domain.objects.filter(pk="example.com").update(can_signup=True)
    SignupRequest.objects.create(
        domain="example.com",
        local_part="applicant.with.a.long.name",
        address="applicant.with.a.long.name@example.com",
        pending_address="applicant.with.a.long.name@example.com",
        name="Applicant With A Long Name",
        password_hash=hash_password(PASSWORD),
        contact_email="applicant.with.a.long.name@somewhere-else.example",
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    job = job_record(kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain="example.com", object_id=LONG)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.FAILED,
        last_error="quota file /home/domains/example.com/firstname.middlename/Maildir/maildirsize"
        " could not be written: no space left on device",
    )
    Archive.objects.create(
        path=".archive/example.com/gone.firstname.lastname.20260101T000000",
        homedir="example.com/gone.firstname.lastname",
        address="gone.firstname.lastname@example.com",
        domain="example.com",
        size_bytes=4096,
        archived_at=timezone.now(),
    )


@pytest.fixture
def imported(busy_site) -> None:
    Domain.objects.filter(pk="example.org").update(maxusers=100)
    rows = [
        {"local_part": f"staff{n:02}", "name": f"Staff member {n}", "password": PASSWORD}
        for n in range(50)
    ]
    bulk.mailbox_import(domain="example.org", rows=rows, actor=Manager.objects.get(pk=ROOT))


PAGES = [
    "/",
    "/domains/",
    "/domains/example.com/",
    "/domains/example.com/edit/",
    "/domains/add/",
    "/mailboxes/",
    LIST,
    "/mailboxes/add/?domain=example.com",
    "/mailboxes/import/?domain=example.com",
    f"/mailboxes/{LONG}/",
    f"/mailboxes/{LONG}/edit/",
    f"/mailboxes/{LONG}/rename/",
    f"/mailboxes/{LONG}/delete/",
    f"/mailboxes/{LONG}/reset-password/",
    "/aliases/",
    "/aliases/?domain=example.com",
    "/aliases/add/?domain=example.com",
    "/aliases/sales@example.com/edit/",
    "/signups/",
    "/managers/",
    "/managers/add/",
    "/groupmail/",
    "/groupmail/new/",
    "/jobs/",
    "/expiry/",
    "/archives/",
    "/audit/",
    "/system/mailstack/",
    "/system/mailstack/status/",
    "/system/mailstack/queue/",
    "/password/",
    "/password/2fa/",
    "/tokens/",
]
PUBLIC_PAGES = ["/login/", "/account/login/", "/account/forgot/", "/signup/example.com/"]


@pytest.mark.parametrize("language", ["en", "zh-hans", "zh-hant"])
def test_no_page_is_wider_than_a_phone(new_page, imported, live_server, language, console_errors):
    """Nor does a table hide its buttons beyond the screen's edge."""
    page = new_page(viewport=PHONE)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    too_wide = {}
    for url in PUBLIC_PAGES:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        if problem := width_problem(page):
            too_wide[url] = problem
    log_in(page, ROOT)
    for url in PAGES:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        assert page.locator("html").get_attribute("lang") == language
        if problem := width_problem(page):
            too_wide[url] = problem
    assert too_wide == {}, pprint.pformat(too_wide)
    assert console_errors == []


def test_the_top_bar_fits_a_laptop_in_one_row(new_page, busy_site, live_server, console_errors):
    page = new_page(viewport=LAPTOP)
    log_in(page, ROOT)
    bar = page.locator("nav.navbar").first
    assert bar.bounding_box()["height"] < 70
    for link in page.locator("#mainnav .nav-link").all():
        if link.is_visible():
            assert inside(page, link), link.inner_text()
    assert inside(page, page.get_by_test_id("whoami"))
    assert inside(page, page.get_by_role("button", name="Log out"))
    # Room for a search box (200 pixels) between the sections and the signed-in manager.
    more = page.get_by_test_id("nav-more").bounding_box()
    whoami = page.get_by_test_id("whoami").bounding_box()
    assert whoami["x"] - (more["x"] + more["width"]) >= 200
    # The same in both Chinese scripts.
    for language in ("zh-hans", "zh-hant"):
        page.context.add_cookies(
            [{"name": "django_language", "value": language, "url": live_server.url}]
        )
        page.goto("/")
        assert page.locator("html").get_attribute("lang") == language
        assert bar.bounding_box()["height"] < 70, language
        more = page.get_by_test_id("nav-more").bounding_box()
        whoami = page.get_by_test_id("whoami").bounding_box()
        assert whoami["x"] - (more["x"] + more["width"]) >= 200, language
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto("/")
    # Every section is reachable from the bar.
    page.locator("#mainnav").get_by_text("More").click()
    page.locator("#mainnav").get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(r"/audit/$"))
    assert fits(page)
    assert console_errors == []


@SCREENS
def test_a_mailbox_is_disabled_in_one_click_and_undone(new_page, busy_site, screen, console_errors):
    page = new_page(viewport=screen)
    log_in(page, ROOT)
    page.goto(LIST)
    row = page.get_by_test_id("mailbox-row").filter(has_text="bob.chen@example.com")
    disable = row.get_by_test_id("row-disable")
    assert inside(page, disable) and inside(page, row.get_by_test_id("row-edit"))
    disable.click()
    expect(page.get_by_test_id("undo-message")).to_contain_text("bob.chen@example.com disabled")
    assert Mailbox.objects.get(pk="bob.chen@example.com").active == 0
    page.get_by_test_id("undo").click()
    expect(page).to_have_url(re.compile(r"/mailboxes/\?domain=example\.com$"))
    assert Mailbox.objects.get(pk="bob.chen@example.com").active == 1
    expect(page.get_by_test_id("undo-message")).to_have_count(0)
    assert fits(page)
    assert console_errors == []


@SCREENS
def test_select_all_and_the_bulk_menu(new_page, busy_site, screen, console_errors):
    page = new_page(viewport=screen)
    log_in(page, ROOT)
    page.goto(LIST)
    # Nothing ticked: a message, no post.
    action = page.get_by_test_id("bulk-action")
    expect(action).to_have_value("")
    quota_box = page.get_by_test_id("bulk-quota-box")
    expect(quota_box).to_be_hidden()
    action.select_option("disable")
    expect(quota_box).to_be_hidden()
    page.get_by_test_id("bulk-submit").click()
    expect(page.get_by_test_id("bulk-problem")).to_have_text("Tick at least one mailbox first.")
    expect(page).to_have_url(re.compile(r"/mailboxes/\?domain=example\.com$"))
    # Select all ticks every row of the page; set_quota shows the quota box.
    page.get_by_test_id("select-all").check()
    boxes = page.locator("input[name=addresses]")
    assert boxes.count() == 8 and all(box.is_checked() for box in boxes.all())
    action.select_option("set_quota")
    expect(quota_box).to_be_visible()
    page.fill("#bulk-quota", "300")
    page.get_by_test_id("bulk-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("8 mailboxes done")
    quotas = set(Mailbox.objects.filter(domain_id="example.com").values_list("quota", flat=True))
    assert quotas == {f"{300 * 1024 * 1024}S"}
    assert fits(page)
    assert console_errors == []


@SCREENS
def test_a_password_reset_from_the_list_is_shown_once(
    new_page, busy_site, screen, console_errors, screenshot_dir: Path
):
    page = new_page(viewport=screen)
    log_in(page, ROOT)
    page.goto(LIST)
    row = page.get_by_test_id("mailbox-row").filter(has_text="carol.jones@example.com")
    row.get_by_test_id("row-reset-password").click()
    page.get_by_test_id("confirm").click()
    password = page.get_by_test_id("new-password").input_value()
    assert verify_password(password, Mailbox.objects.get(pk="carol.jones@example.com").password)
    assert fits(page)
    page.get_by_test_id("back").click()
    expect(page).to_have_url(re.compile(r"/mailboxes/\?domain=example\.com$"))
    assert password not in page.content()
    assert console_errors == []


@SCREENS
def test_the_alias_list_has_the_same_quick_actions(new_page, busy_site, screen, console_errors):
    page = new_page(viewport=screen)
    log_in(page, ROOT)
    page.goto("/aliases/?domain=example.com")
    row = page.get_by_test_id("alias-row").filter(has_text="sales@example.com")
    assert inside(page, row.get_by_test_id("row-disable"))
    assert inside(page, row.get_by_test_id("alias-delete"))
    row.get_by_test_id("row-disable").click()
    expect(page.get_by_test_id("undo-message")).to_contain_text("sales@example.com disabled")
    page.get_by_test_id("undo").click()
    expect(page.get_by_test_id("undo-message")).to_have_count(0)
    page.get_by_test_id("select-all").check()
    page.get_by_test_id("bulk-action").select_option("delete")
    page.get_by_test_id("bulk-submit").click()
    expect(page.get_by_test_id("bulk-addresses")).to_contain_text("support@example.com")
    page.get_by_test_id("confirm").click()
    expect(page.locator(".alert-success")).to_contain_text("2 aliases done")
    assert fits(page)
    assert console_errors == []


@SCREENS
def test_the_mailbox_form_helps_after_a_mistake(
    new_page, busy_site, screen, console_errors, screenshot_dir: Path
):
    page = new_page(viewport=screen)
    log_in(page, ROOT)
    page.goto("/mailboxes/add/?domain=example.com")
    page.fill("[name=local_part]", "../greta")
    page.fill("[name=name]", "Greta Holm")
    page.get_by_test_id("generate-password").click()
    generated = page.get_by_test_id("generated-password")
    expect(generated).to_have_value(re.compile(r"^\S{16,}$"))
    password = generated.input_value()
    assert page.input_value("[name=password1]") == page.input_value("[name=password2]") == password
    # The date field takes what its help text says.
    page.fill("[name=expiredate]", "2031-02-28")
    page.fill("[name=quota]", "-5")
    submit(page, "mailbox-form")

    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Local part")
    expect(summary).to_contain_text("Quota")
    expect(page.get_by_test_id("password-again")).to_contain_text("enter the password again")
    assert page.input_value("[name=password1]") == ""
    assert page.input_value("[name=expiredate]") == "2031-02-28"
    if screen == LAPTOP:
        page.screenshot(path=screenshot_dir / "mailbox-form-summary.png")
    else:
        page.screenshot(path=screenshot_dir / "phone-mailbox-form-error.png")
    summary.get_by_role("link", name="Local part").click()
    expect(page.locator("[name=local_part]")).to_be_focused()

    page.fill("[name=local_part]", "greta")
    page.fill("[name=quota]", "100")
    page.fill("[name=password1]", password)
    page.fill("[name=password2]", password)
    submit(page, "mailbox-form")
    expect(page.get_by_test_id("mailbox-address")).to_contain_text("greta@example.com")
    greta = Mailbox.objects.get(pk="greta@example.com")
    assert verify_password(password, greta.password)
    assert str(greta.expiredate) == "2031-02-28"
    assert fits(page)
    assert console_errors == []


@SCREENS
def test_the_audit_log_reads_as_sentences(
    new_page, imported, screen, console_errors, screenshot_dir: Path
):
    mailbox = Mailbox.objects.get(pk="alice.martin@example.com")
    services.mailbox_update(
        mailbox=mailbox, actor=Manager.objects.get(pk=ROOT), quota=4096, active=False
    )
    page = new_page(viewport=screen)
    log_in(page, ROOT)
    page.goto("/audit/")
    rows = page.get_by_test_id("audit-row")
    changed = rows.filter(has_text="mailbox changed")
    expect(changed).to_contain_text("alice.martin@example.com")
    expect(changed).to_contain_text("Active, Quota changed")
    details = changed.get_by_test_id("audit-details")
    expect(details.get_by_text("4096 MB")).to_be_hidden()
    details.locator("summary").click()
    expect(details).to_contain_text("2048 MB")
    expect(details).to_contain_text("4096 MB")
    imported_row = rows.filter(has_text="50 mailboxes imported")
    expect(imported_row).to_have_count(1)
    expect(imported_row.get_by_test_id("audit-imported")).to_be_hidden()
    assert AuditEntry.objects.filter(action="mailbox.import").count() == 1
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2500, height
    assert fits(page)
    name = "audit.png" if screen == LAPTOP else "phone-audit.png"
    page.screenshot(path=screenshot_dir / name, full_page=True)
    assert (screenshot_dir / name).read_bytes().startswith(PNG)
    assert console_errors == []


def test_screens_of_the_lists(new_page, busy_site, console_errors, screenshot_dir: Path):
    for screen, name in ((LAPTOP, "mailboxes-undo.png"), (PHONE, "phone-mailboxes.png")):
        page = new_page(viewport=screen)
        log_in(page, ROOT)
        page.goto(LIST)
        page.get_by_test_id("mailbox-row").filter(has_text="bob.chen").get_by_test_id(
            "row-disable"
        ).click()
        expect(page.get_by_test_id("undo-message")).to_be_visible()
        page.screenshot(path=screenshot_dir / name, full_page=True)
        assert (screenshot_dir / name).read_bytes().startswith(PNG)
        page.get_by_test_id("undo").click()
    assert console_errors == []
