"""Export and the import's dry run in a real browser: a domain admin searches the mailbox
list, downloads what it shows as CSV, then checks a file with "Dry run" (nothing is created)
and imports it, existing password hashes included."""

from __future__ import annotations

from pathlib import Path

import pytest
from passlib.hash import md5_crypt
from playwright.sync_api import expect

from conftest import PASSWORD
from mailadmin.lib.passwords import verify_password
from mailboxes.models import Mailbox
from tests.e2e.pages import log_in

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.com"


def test_a_domain_admin_exports_a_search_and_dry_runs_an_import(
    new_page, make_domain, make_manager, make_mailbox, tmp_path: Path
):
    make_domain("example.com")
    make_domain("example.org")
    make_manager(ADMIN, domains=["example.com"])
    make_mailbox("anna@example.com", name="=cmd|' /C calc'!A0")
    make_mailbox("anton@example.com", name="Anton")
    make_mailbox("bert@example.com", name="Bert")
    make_mailbox("anna@example.org", name="Outsider")
    page = new_page()
    log_in(page, ADMIN)

    page.goto("/mailboxes/?domain=example.com&q=an")
    expect(page.get_by_test_id("mailbox-table")).not_to_contain_text("bert@")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    path = tmp_path / "export.csv"
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("username,domain,name,")
    assert [line.split(",")[0] for line in lines[1:]] == ["anna@example.com", "anton@example.com"]
    assert "'=cmd|' /C calc'!A0" in lines[1]  # a spreadsheet shows it as text

    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "local_part,name,password,quota,password_hash\n"
        f"carl,Carl,{PASSWORD},10,\n"
        f"dora,Dora,,,{md5_crypt.hash(PASSWORD)}\n"
    )
    page.goto("/mailboxes/import/?domain=example.com")
    page.set_input_files("input[name=file]", str(csv_file))
    page.get_by_test_id("import-dry-run").click()
    preview = page.get_by_test_id("import-preview")
    expect(preview).to_contain_text("would create 2 mailboxes")
    expect(preview).to_contain_text("dora@example.com")
    assert not Mailbox.objects.filter(pk__in=["carl@example.com", "dora@example.com"]).exists()

    page.set_input_files("input[name=file]", str(csv_file))
    page.get_by_test_id("import").click()
    expect(page.get_by_test_id("mailbox-table")).to_contain_text("dora@example.com")
    assert verify_password(PASSWORD, Mailbox.objects.get(pk="dora@example.com").password)
