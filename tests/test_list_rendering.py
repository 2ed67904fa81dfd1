"""The per-row parts of the lists, drawn by template tags instead of included templates and
``{% url %}`` (docs/performance.md, "What a request costs"): the same links, badges, meters
and labels as before, for hostile legacy keys too, and no more queries."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, set_script_prefix
from django.utils import translation
from django.utils.html import escape

from aliases.models import Alias
from domains.usage import recompute_domain
from mailadmin.lib.urlkeys import key_url
from mailadmin.templatetags.mailadmin_tags import row_labels
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures"

#: Keys legacy rows hold (tests/fixtures/extman-hostile.sql has such rows).
HOSTILE_KEYS = [
    "",
    "a/b@x.example",
    "Upper@X.example",
    " spaced@x.example ",
    "a@b@c",
    "odd_domain!.example",
    "名字@例子.cn",
    "bücher.example",
    "xn--bcher-kva.example",
    "add",
    "..",
    "~abc",
    "%41@x.example",
    "a?b#c@x.example",
    "a;b=c&d@x.example",
    "tab\t@x.example",
    '<script>"x"</script>@x.example',
    "@catch.example",
    "anna@example.com",
]

#: The markup the lists drew before, as included templates (kept here to compare).
OLD_KEY_PROBLEMS = (
    '{% load i18n %}{% for problem in problems %} <span class="badge text-bg-danger"'
    ' data-testid="key-problem" title="{% translate \'This legacy row does not follow the rules'
    " of the panel; it is shown as it is stored.' %}\">{{ problem }}</span>{% endfor %}"
)
OLD_DISK_USAGE = """{% load i18n mailadmin_tags %}{% if used is None %}<span class="text-secondary small">{% translate "not measured" %}</span>{% else %}<div class="usage small">
  <span class="text-nowrap">{{ used|mb }} / {% if quota %}{{ quota|mb }}{% if percent is not None %} ({{ percent }}%){% endif %}{% else %}{% translate "unlimited" %}{% endif %}</span>
  {% if quota %}<meter class="d-block w-100" min="0" max="{{ quota }}" low="{% widthratio quota 100 80 %}" high="{% widthratio quota 100 90 %}" optimum="0" value="{{ used }}" aria-label="{% translate 'Used' %}"></meter>{% endif %}
</div>{% endif %}"""  # noqa: E501
OLD_USAGE = """{% load i18n mailadmin_tags %}<div class="usage small">
  <span class="text-nowrap">{% if mb %}{% blocktranslate with n=used|mb %}{{ n }} MB{% endblocktranslate %}{% else %}{{ used }}{% endif %} / {% if not max %}{% translate "unlimited" %}{% elif mb %}{% blocktranslate with n=max|mb %}{{ n }} MB{% endblocktranslate %}{% else %}{{ max }}{% endif %}</span>
  {% if max %}<meter class="d-block w-100" min="0" max="{{ max }}" low="{{ max }}" high="{{ max }}" optimum="0" value="{{ used }}"></meter>{% endif %}
</div>"""  # noqa: E501


def render(source: str, **context: object) -> str:
    return Template(source).render(Context(context))


def squeezed(html: str) -> str:
    """HTML without the whitespace between tags (the included files ended with a newline)."""
    return re.sub(r">\s+<", "><", html).strip()


@pytest.mark.parametrize(
    "name",
    [
        "mailboxes:detail",
        "mailboxes:edit",
        "mailboxes:set_active",
        "mailboxes:reset_password",
        "aliases:edit",
        "aliases:delete",
        "aliases:set_active",
        "domains:detail",
    ],
)
def test_key_url_is_the_url_reverse_gives_for_every_stored_key(name):
    for key in HOSTILE_KEYS:
        assert key_url(name, key) == reverse(name, args=[key]), key


def test_key_url_follows_the_script_prefix():
    key_url("mailboxes:detail", "anna@example.com")  # cached under the default prefix
    set_script_prefix("/panel/")
    try:
        for key in HOSTILE_KEYS:
            url = key_url("mailboxes:detail", key)
            assert url == reverse("mailboxes:detail", args=[key]) and url.startswith("/panel/")
    finally:
        set_script_prefix("/")
    assert key_url("mailboxes:detail", "a@x.example") == "/mailboxes/a@x.example/"


def test_key_url_tag_escapes_nothing_reverse_would_not():
    html = render("{% load mailadmin_tags %}{% key_url 'aliases:edit' key %}", key="<a>&@x.example")
    assert html == render("{% url 'aliases:edit' key %}", key="<a>&@x.example")


@pytest.mark.parametrize("model", [Mailbox, Alias])
def test_key_problems_draw_the_badges_of_the_old_include(model):
    for key in HOSTILE_KEYS:
        row = model(**{model._meta.pk.name: key, "domain_id": "x.example"})
        old = render(OLD_KEY_PROBLEMS, problems=row.key_problems)
        new = render("{% load mailadmin_tags %}{% key_problems row.key_problems %}", row=row)
        assert new == old, key
    bad = model(**{model._meta.pk.name: "<b>x</b>@y.example", "domain_id": "x.example"})
    html = render("{% load mailadmin_tags %}{% key_problems row.key_problems %}", row=bad)
    assert html.count('data-testid="key-problem"') == 2  # invalid address, domain mismatch
    sound = model(**{model._meta.pk.name: "anna@x.example", "domain_id": "x.example"})
    assert render("{% load mailadmin_tags %}{% key_problems row.key_problems %}", row=sound) == ""


def test_key_problems_are_translated():
    row = Mailbox(username="", domain_id="x.example")
    with translation.override("zh-hans"):
        old = render(OLD_KEY_PROBLEMS, problems=row.key_problems)
        new = render("{% load mailadmin_tags %}{% key_problems row.key_problems %}", row=row)
    assert new == old and "invalid address" not in new


@pytest.mark.parametrize(
    ("used", "quota", "percent"),
    [
        (None, 0, None),
        (None, 104857600, None),
        (0, 0, None),
        (52428800, 104857600, 50),
        (52428800, 104857600, None),
        (209715200, 104857600, 200),
        (123, 0, None),
        (1, 7, 14),
    ],
)
def test_disk_usage_draws_the_meter_of_the_old_include(used, quota, percent):
    context = {"used": used, "quota": quota, "percent": percent}
    for language in ("en", "zh-hans"):
        with translation.override(language):
            old = render(OLD_DISK_USAGE, **context)
            new = render("{% load mailadmin_tags %}{% disk_usage used quota percent %}", **context)
        assert squeezed(new) == squeezed(old)


@pytest.mark.parametrize(
    ("used", "maximum", "mb"),
    [(0, 0, False), (7, 10, False), (12, 0, False), (0, 0, True), (52428800, 104857600, True)],
)
def test_usage_meter_draws_the_meter_of_the_old_include(used, maximum, mb):
    for language in ("en", "zh-hans"):
        with translation.override(language):
            old = render(OLD_USAGE, used=used, max=maximum, mb=mb)
            new = render(
                "{% load mailadmin_tags %}{% usage_meter used maximum mb %}",
                used=used,
                maximum=maximum,
                mb=mb,
            )
        assert squeezed(new) == squeezed(old)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_row_labels_are_the_blocktranslate_messages(language):
    for key, message in [
        ("select", "Select"),
        ("disable", "Disable"),
        ("enable", "Enable"),
        ("edit", "Edit"),
        ("delete", "Delete"),
        ("reset_password", "Reset the password of"),
    ]:
        for address in ("anna@x.example", '<i>"o"</i>&@x.example', ""):
            with translation.override(language):
                old = render(
                    "{% load i18n %}{% blocktranslate with address=a %}"
                    + message
                    + " {{ address }}{% endblocktranslate %}",
                    a=address,
                )
                new = escape(row_labels()[key] % {"address": address})
            assert new == old
    with translation.override("zh-hans"):
        assert "Edit" not in row_labels()["edit"]


def reference_rows(name: str, **context: object) -> str:
    """The rows as the list's template drew them (tests/fixtures/<name>_rows.reference)."""
    source = (FIXTURES / f"{name}_rows.reference").read_text()
    return Template(source).render(Context(context))


def request_for(path: str) -> object:
    request = RequestFactory().get(path)
    request.META["CSRF_COOKIE"] = "x" * 32
    return request


MAILBOX_ROWS = [
    # key, name, quota, expiry, active, measured use (bytes, percent)
    ("anna@a.test", "Anna <Chen>", "104857600S", datetime.date(2099, 1, 1), 1, (5_000_000, 4)),
    ("", "", "0", datetime.date(2001, 1, 1), 0, None),
    ("Odd One@a.test", "O'Brien & co", "104857600S,2000C", None, 1, (209_715_200, 200)),
    ("x/y@b.test", "李", "5242880", None, 0, (0, None)),
    ('<script>"x"</script>@a.test', "", "", datetime.date(2000, 2, 29), 1, None),
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("path", ["/mailboxes/?domain=a.test", "/mailboxes/?q=a b&sort=-name"])
def test_mailbox_rows_are_what_the_template_drew(language, path):
    mailboxes = []
    for address, name, quota, expiry, active, used in MAILBOX_ROWS:
        mailbox = Mailbox(
            username=address,
            name=name,
            quota=quota,
            expiredate=expiry,
            active=active,
            domain_id="a.test",
        )
        mailbox.used_bytes, mailbox.used_percent = used or (None, None)
        mailboxes.append(mailbox)
    request = request_for(path)
    context = {"listing": {"objects": mailboxes}, "request": request}
    with translation.override(language):
        old = reference_rows("mailbox", csrf_token="tok", **context)
        new = render(
            "{% load mailbox_list %}{% mailbox_rows listing.objects %}"
            "{% mailbox_active_forms listing.objects %}",
            csrf_token="tok",
            **context,
        )
    assert squeezed(new) == squeezed(old)
    assert new.count('data-testid="mailbox-row"') == len(MAILBOX_ROWS)


ALIAS_ROWS = [
    ("list@a.test", "anna@a.test,bob@a.test", 1),
    ("@a.test", "anna@a.test", 1),
    ("", "a@x.example,b@x.example,c@x.example,d@x.example,e@x.example,f@x.example,g@x.example", 0),
    ("x/y@a.test", "one@x.example,\ntwo@x.example, three@x.example", 0),
    (
        "odd@odd_domain!.example",
        "<b>@x.example,名字@例子.cn,a@b.test,c@d.test,e@f.test,g@h.test",
        1,
    ),
]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("domain", [None, "a.test"])
def test_alias_rows_are_what_the_template_drew(language, domain):
    aliases = [
        Alias(address=address, goto=goto, active=active, domain_id=address.rpartition("@")[2])
        for address, goto, active in ALIAS_ROWS
    ]
    request = request_for("/aliases/?q=x&page=2")
    context = {"listing": {"objects": aliases}, "request": request, "domain": domain}
    with translation.override(language):
        old = reference_rows("alias", csrf_token="tok", **context)
        new = render(
            "{% load alias_list %}{% alias_rows listing.objects domain %}"
            "{% alias_active_forms listing.objects %}",
            csrf_token="tok",
            **context,
        )
    assert squeezed(new) == squeezed(old)
    assert new.count('data-testid="alias-row"') == len(ALIAS_ROWS)
    assert ("more" in new) == (language == "en")  # "and 2 more" of the seven targets


def test_the_mailbox_list_links_every_legacy_row_to_its_own_pages(client_as):
    for address in ("", "Odd One@a.test", "x/y@a.test", "anna@a.test"):
        Mailbox.objects.create(username=address, domain_id="a.test", quota="0")
    recompute_domain("a.test")
    body = client_as("superadmin").get("/mailboxes/?domain=a.test").content.decode()
    for address in ("", "Odd One@a.test", "x/y@a.test", "anna@a.test"):
        for name in ("detail", "edit", "reset_password", "set_active"):
            assert f'"{reverse(f"mailboxes:{name}", args=[address])}' in body, (address, name)
    # "": invalid address and domain mismatch; "Odd One" and "x/y": invalid address
    assert body.count('data-testid="key-problem"') == 4


def test_the_alias_list_links_every_legacy_row_to_its_own_pages(client_as):
    for address in ("", "x/y@a.test", "@a.test", "list@a.test"):
        Alias.objects.create(address=address, goto="user@a.test", domain_id="a.test")
    recompute_domain("a.test")
    response = client_as("superadmin").get("/aliases/?domain=a.test")
    body = response.content.decode()
    for address in ("", "x/y@a.test", "@a.test", "list@a.test"):
        for name in ("edit", "delete", "set_active"):
            assert f'"{reverse(f"aliases:{name}", args=[address])}' in body, (address, name)
    assert body.count('type="checkbox" name="addresses"') == 4


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        # session, manager, the domain with its usage row, the page
        ("/mailboxes/?domain=a.test", 4),
        # session, manager, the domain, the page, the total from the usage rows
        ("/aliases/?domain=a.test", 5),
        # session, manager, the page, the count of the admin's domains
        ("/domains/", 4),
        # session, manager, totals, failed jobs, pending signups, the page
        ("/", 6),
    ],
)
def test_a_list_reads_as_much_at_30_rows_as_at_3(client_as, make_mailbox, url, queries):
    client = client_as("admin_a")
    counts = []
    for size in (3, 30):
        for n in range(Mailbox.objects.filter(domain_id="a.test").count(), size):
            make_mailbox(f"m{n:02d}@a.test", quota="104857600S")
            Alias.objects.create(
                address=f"list{n:02d}@a.test", goto="user@a.test", domain_id="a.test"
            )
        recompute_domain("a.test")
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        counts.append(len(captured))
    assert counts == [queries, queries], [q["sql"][:80] for q in captured.captured_queries]


def test_the_section_links_follow_the_script_prefix(client_as):
    client = client_as("superadmin")
    assert '<a class="nav-link" href="/domains/"' in client.get("/").content.decode()
    set_script_prefix("/panel/")  # as the WSGI handler does for SCRIPT_NAME=/panel
    try:
        body = client.get("/").content.decode()
    finally:
        set_script_prefix("/")
    assert '<a class="nav-link" href="/panel/domains/"' in body
    assert 'href="/panel/mailboxes/"' in body
