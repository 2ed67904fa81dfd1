"""Self-service from end to end (SPEC §3.7): an applicant signs up in the browser, the domain
admin is told by mail and approves in the queue, a real Celery worker creates the Maildir, the
mail server (a private Dovecot on the panel's generated SQL file) accepts the password, and
the applicant changes it in the portal.

Marked ``mariadb``: the worker and Dovecot are other processes that read the committed test
database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from mailboxes.models import Mailbox
from mailstack import config
from provisioning.models import Job
from signup.models import SignupRequest
from tests.e2e.pages import log_in, submit
from tests.mailservers import PrivateDovecot, generate_mailstack_files
from tests.workers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.mariadb]

DOMAIN = "example.com"
ADDRESS = f"alice@{DOMAIN}"
DOMAIN_ADMIN = f"postmaster@{DOMAIN}"
APPLICANT_PASSWORD = "Violet-Lantern-48"
NEW_PASSWORD = "Quiet-Orchard-73"
QUOTA = f"{200 * 1024 * 1024}S"


@pytest.fixture
def dovecot(transactional_db: None, tmp_path: Path) -> Iterator[PrivateDovecot]:
    generated = generate_mailstack_files(tmp_path / "generated")
    server = PrivateDovecot(generated / config.DOVECOT_SQL).start()
    yield server
    server.stop()


def portal_log_in(page: Page, password: str) -> None:
    page.goto("/account/login/")
    page.fill("[name=username]", ADDRESS)
    page.fill("[name=password]", password)
    submit(page, "portal-login-form")


def maildir_job_done() -> bool:
    job = Job.objects.filter(kind=Job.Kind.MAILDIR_CREATE, object_id=ADDRESS).first()
    if job is not None and job.state == Job.State.FAILED:
        raise AssertionError(f"the Maildir job failed: {job.last_error}")
    return job is not None and job.state == Job.State.DONE


def test_an_applicant_signs_up_is_approved_and_changes_the_password(
    new_page,
    live_server: LiveServer,
    make_domain,
    make_manager,
    start_worker,
    dovecot: PrivateDovecot,
    mailoutbox,
    settings,
    console_errors,
):
    settings.MAILADMIN_SITE_URL = live_server.url
    make_domain(DOMAIN, can_signup=True, default_quota=QUOTA)
    make_manager(DOMAIN_ADMIN, domains=[DOMAIN], name="Pat Postmaster")
    start_worker("storage", ["maildir.default", "mailadmin"])

    # The applicant asks for a mailbox.
    applicant = new_page()
    applicant.goto(f"/signup/{DOMAIN}/")
    applicant.fill("[name=local_part]", "alice")
    applicant.fill("[name=name]", "Alice Martin")
    applicant.fill("[name=password1]", APPLICANT_PASSWORD)
    applicant.fill("[name=password2]", APPLICANT_PASSWORD)
    applicant.fill("[name=question]", "First pet?")
    applicant.fill("[name=answer]", "Rex")
    expect(applicant.locator("img.captcha")).to_be_visible()
    applicant.fill("[name=captcha_1]", "PASSED")
    submit(applicant, "signup-form")
    expect(applicant.get_by_test_id("signup-received")).to_be_visible()

    # Pending: no mailbox, no login in the portal, nothing for the mail server.
    signup = SignupRequest.objects.get(address=ADDRESS)
    assert signup.state == SignupRequest.State.PENDING
    assert not Mailbox.objects.filter(pk=ADDRESS).exists()
    portal_log_in(applicant, APPLICANT_PASSWORD)
    expect(applicant.get_by_test_id("portal-login-error")).to_be_visible()
    expect(applicant).to_have_url(re.compile(r"/account/login/$"))
    assert dovecot.auth_test(ADDRESS, APPLICANT_PASSWORD).returncode != 0

    # The domain admin is told, and follows the mail's link to the queue.
    assert len(mailoutbox) == 1
    notice = mailoutbox[0]
    assert notice.to == [DOMAIN_ADMIN]
    assert ADDRESS in notice.subject and ADDRESS in notice.body
    assert "Alice Martin" in notice.body
    queue_url = f"{live_server.url}/signups/"
    assert queue_url in notice.body.split()
    admin = new_page()
    log_in(admin, DOMAIN_ADMIN)
    admin.goto(queue_url)
    row = admin.get_by_test_id("signup-row").filter(has_text=ADDRESS)
    expect(row).to_have_count(1)
    row.get_by_test_id("signup-approve").click()
    expect(admin.locator(".alert-success")).to_contain_text(f"{ADDRESS} approved")
    expect(admin.get_by_test_id("signup-empty")).to_be_visible()

    # The worker creates the Maildir.
    wait_until(maildir_job_done, 30, "the worker to create the Maildir")
    mailbox = Mailbox.objects.get(pk=ADDRESS)
    assert mailbox.name == "Alice Martin" and mailbox.quota == QUOTA
    maildir = Path(settings.MAILADMIN_MAIL_BASE) / mailbox.maildir
    for sub in ("cur", "new", "tmp"):
        assert (maildir / sub).is_dir(), maildir / sub
    assert (maildir / "maildirsize").read_text().splitlines()[0] == QUOTA
    assert Job.objects.get(kind=Job.Kind.MAILDIR_CREATE, object_id=ADDRESS).attempts == 1

    # The mail server accepts the password chosen at signup.
    accepted = dovecot.auth_test(ADDRESS, APPLICANT_PASSWORD)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    user = dovecot.doveadm("user", ADDRESS)
    assert user.returncode == 0, user.stdout + user.stderr
    assert f"maildir:{settings.MAILADMIN_MAIL_BASE}/{mailbox.maildir}" in user.stdout

    # The applicant logs in to the portal, sees the Maildir's use and changes the password.
    portal_log_in(applicant, APPLICANT_PASSWORD)
    expect(applicant.get_by_test_id("portal-address")).to_contain_text(ADDRESS)
    expect(applicant.get_by_test_id("portal-used")).to_contain_text("0 MB")
    applicant.goto("/account/password/")
    applicant.fill("[name=old_password]", APPLICANT_PASSWORD)
    applicant.fill("[name=new_password1]", NEW_PASSWORD)
    applicant.fill("[name=new_password2]", NEW_PASSWORD)
    submit(applicant, "portal-password-form")
    expect(applicant).to_have_url(re.compile(r"/account/$"))
    expect(applicant.locator(".alert-success")).to_contain_text("password has been changed")

    # The mail server takes the new password at once and refuses the old one.
    changed = dovecot.auth_test(ADDRESS, NEW_PASSWORD)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert dovecot.auth_test(ADDRESS, APPLICANT_PASSWORD).returncode != 0
    assert console_errors == []
