"""The panel over hostile legacy data: tests/fixtures/extman-hostile.sql on top of
extman-legacy.sql, utf8 (utf8mb3) MyISAM tables as ExtMan creates them (legacy pass).

- Every page of every stored row opens for those who may see it, and every list, search and
  link works, whatever the keys (``domain = ''``, ``a/b@x.example``, ``a@b@c``,
  ``odd_domain!.example``). Odd rows carry a badge.
- A row is a domain admin's only when its ``domain`` column and its address's own domain are
  both theirs (``x@corp.example`` stored under shop.example is not the shop admin's).
- Text with characters outside the BMP (😀) never reaches a query: written, it is a field
  error; looked up, it finds nothing. On a utf8mb3 table MariaDB refuses to store such text
  and even to compare it, which was a 500 on every one of these paths.

The routes come from the URLconf, as in tests/test_permission_matrix.py. MyISAM does not roll
back: a test that changes legacy rows restores them, and every other one checks it changed
nothing.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from html import unescape
from urllib.parse import unquote, urlsplit

import pytest
from django import forms
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from test_adoption import dump_data

from accounts.models import Manager
from aliases.models import Alias
from audit.services import audit_record
from conftest import portal_force_login
from domains.models import Domain
from mailadmin.lib.addresses import split_address
from mailadmin.lib.passwords import hash_password
from mailadmin.lib.urlkeys import AddressConverter, DomainConverter, domain_param
from mailboxes.models import Mailbox
from provisioning.models import Job
from provisioning.services import job_record
from signup.models import SignupRequest

pytestmark = [pytest.mark.legacy, pytest.mark.django_db]

ROOT = "root@hostile.example"
SHOP = "shop@hostile.example"
CORP = "corp@hostile.example"
#: The domains of the fixture's managers (tests/fixtures/README.md).
DOMAINS_OF = {
    SHOP: {"shop.example", "odd_domain!.example", "", "x.example", "upper.example"},
    CORP: {"corp.example"},
}
EMOJI = "😀"
UNSTORABLE = "cannot be stored"
LIST_ROUTES = [
    "overview",
    "domains:list",
    "mailboxes:list",
    "aliases:list",
    "accounts:managers",
    "provisioning:jobs",
    "audit:list",
    "signup:queue",
    "groupmail:list",
    "archives:list",
]
#: The API's objects, checked as the pages that show them (a domain admin reads their domains).
API_AS_PAGE = {
    "api:domain-detail": "domains:detail",
    "api:mailbox-detail": "mailboxes:detail",
    "api:alias-detail": "aliases:edit",
    "api:manager-detail": "accounts:manager_edit",
}
#: Pages with a search of their own (not a listing), opened like the lists.
SEARCH_PAGES = ["activity:trace", "activity:graphs"]
#: List pages that take ``?domain=``.
DOMAIN_LISTS = [
    "mailboxes:list",
    "aliases:list",
    "provisioning:jobs",
    "audit:list",
    "signup:queue",
    "archives:list",
    "activity:graphs",
]


def client_for(username: str | None) -> Client:
    client = Client()
    if username:
        client.force_login(Manager.objects.get(pk=username))
    return client


def object_routes(
    resolver: URLResolver | None = None, namespace: str = ""
) -> Iterator[tuple[str, str, type]]:
    """``(route name, parameter, converter class)`` of every route that names a stored key."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from object_routes(pattern, inner)
            continue
        assert isinstance(pattern, URLPattern)
        for param, converter in getattr(pattern.pattern, "converters", {}).items():
            if isinstance(converter, AddressConverter):  # DomainConverter is one too
                yield f"{namespace}{pattern.name}", param, type(converter)


# Actions that take POST only: whoever may see the row gets 405 for a GET.
POST_ONLY = {
    "accounts:manager_twofactor_reset",
    "diskusage:measure_domain",
    "diskusage:measure_mailbox",
    "diskusage:report_send",
}


def keys_for(route: str, converter: type) -> list[str]:
    """Every stored key the route can name."""
    if converter is DomainConverter:
        return list(Domain.objects.values_list("pk", flat=True))
    app = route.split(":")[0]
    if app == "mailboxes" or route == "diskusage:measure_mailbox":
        return list(Mailbox.objects.values_list("pk", flat=True))
    if app == "aliases":  # forwarding aliases have no page of their own
        mailboxes = Mailbox.objects.values_list("pk", flat=True)
        return list(Alias.objects.exclude(pk__in=mailboxes).values_list("pk", flat=True))
    assert app == "accounts", route
    return list(Manager.objects.values_list("pk", flat=True))


def sees(manager: str, address: str, domain: str) -> bool:
    """The scoping rule: both the row's domain column and the address's own domain."""
    if manager == ROOT:
        return True
    mine = DOMAINS_OF[manager]
    return domain.lower() in mine and split_address(address)[1].lower() in mine


def links(body: str) -> set[str]:
    """The panel's own links on a page (not the language switch or the logout form)."""
    found = {unescape(href) for href in re.findall(r'href="(/[^"]*)"', body)}
    return {href for href in found if not href.startswith(("/static/", "/i18n/"))}


# --- every page of every row ------------------------------------------------------------------


@pytest.mark.parametrize("manager", [ROOT, SHOP, CORP])
def test_every_page_of_every_row_opens_for_those_who_may_see_it(manager):
    client = client_for(manager)
    before = dump_data(connection.settings_dict["NAME"])
    checked = 0
    for path_name, param, converter in object_routes():
        if path_name in ("signup:policy", "signup:form"):
            continue  # a POST-only action and the public form: below
        if path_name.startswith("api:") and path_name not in API_AS_PAGE:
            continue  # POST-only API actions (renames): tests/test_api_hostile.py
        # An API object answers whom its page answers.
        route = API_AS_PAGE.get(path_name, path_name)
        for key in keys_for(route, converter):
            response = client.get(reverse(path_name, kwargs={param: key}))
            if route.startswith("mailboxes:") or route == "diskusage:measure_mailbox":
                domain = Mailbox.objects.get(pk=key).domain_id
                allowed = sees(manager, key, domain)
            elif route.startswith("aliases:"):
                domain = Alias.objects.get(pk=key).domain_id
                allowed = sees(manager, key, domain)
            elif route == "domains:detail" or route.startswith("diskusage:"):
                allowed = manager == ROOT or key.lower() in DOMAINS_OF[manager]
            else:  # changing domains and managers is the superadmin's
                allowed = manager == ROOT
            if route.endswith(":set_active"):
                # POST only (405 once the row is found); posting the row's own state
                # changes nothing, whatever else the row holds.
                assert response.status_code == (405 if allowed else 404), (path_name, key)
                model = Mailbox if route.startswith("mailboxes:") else Alias
                current = model.objects.get(pk=key).active
                response = client.post(
                    reverse(path_name, kwargs={param: key}), {"active": "1" if current else "0"}
                )
                assert response.status_code == (302 if allowed else 404), (path_name, key)
            else:
                ok = 405 if path_name in POST_ONLY else 200
                assert response.status_code == (ok if allowed else 404), (path_name, key)
            checked += 1
    assert checked > 100
    assert dump_data(connection.settings_dict["NAME"]) == before


@pytest.fixture
def odd_panel_rows(db) -> None:
    """Jobs, audit entries and a signup request that name the odd rows (panel tables)."""
    for domain, address in [
        ("", "nobody@"),
        ("x.example", "a/b@x.example"),
        ("x.example", "a@b@c"),
    ]:
        job = job_record(kind=Job.Kind.MAILDIR_CREATE, payload={}, domain=domain, object_id=address)
        Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, last_error="no such <dir>")
        audit_record(
            actor="root@hostile.example",
            action="mailbox.update",
            object_type="mailbox",
            object_id=address,
            domain=domain,
            changes={"name": ["<b>old</b>", "new"]},
        )
    SignupRequest.objects.create(
        domain="odd_domain!.example",
        local_part="applicant",
        address="applicant@odd_domain!.example",
        pending_address="applicant@odd_domain!.example",
        name="Odd <applicant>",
        password_hash=hash_password("Hostile-pass-9"),
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )


@pytest.mark.parametrize("manager", [ROOT, SHOP])
def test_every_list_search_and_link_answers_without_error(manager, odd_panel_rows):
    client = client_for(manager)
    pages = {
        reverse(name) for name in LIST_ROUTES if manager == ROOT or name != "accounts:managers"
    }
    pages |= {reverse(name) for name in SEARCH_PAGES}
    pages |= {f"{reverse('activity:trace')}?address={q}" for q in ("a", "@", "a@b@c", "张")}
    visible = (
        Domain.objects.all()
        if manager == ROOT
        else Domain.objects.filter(pk__in=DOMAINS_OF[manager])
    )
    for name in DOMAIN_LISTS:
        pages |= {f"{reverse(name)}?domain={domain_param(d.pk)}" for d in visible}
    queries = ["a", "@", "/", "%", "_", "!", "~", "a@b@c", "odd_domain!", "ü", "张"]
    for name in LIST_ROUTES:
        if manager == ROOT or name != "accounts:managers":
            for q in queries:
                pages.add(f"{reverse(name)}?q={q}")
                pages.add(f"{reverse(name)}?q={q}&match=contains")
    followed: set[str] = set()
    for page in sorted(pages):
        response = client.get(page)
        assert response.status_code == 200, page
        followed |= links(response.content.decode())
    assert len(followed) > 30
    if manager == ROOT:
        jobs = client.get("/jobs/?state=failed").content.decode()
        assert "a/b@x.example" in jobs and "nobody@" in jobs
        assert "a@b@c" in client.get("/audit/").content.decode()
        assert "applicant@odd_domain!.example" in client.get("/signups/").content.decode()
    for href in sorted(followed):
        response = client.get(href)
        # A link is a page of its own (200), a form target of a GET-less action (405) or a
        # redirect (the portal's login, a language switch).
        assert response.status_code in (200, 302, 405), href


def test_a_domain_admin_sees_exactly_the_rows_of_the_rule():
    client = client_for(SHOP)
    mailboxes = client.get("/mailboxes/?per_page=200").context["listing"].objects
    expected = {m.pk for m in Mailbox.objects.all() if sees(SHOP, m.pk, m.domain_id)}
    assert {m.pk for m in mailboxes} == expected
    assert "mismatch@corp.example" not in expected and "a/b@x.example" in expected
    aliases = client.get("/aliases/?per_page=200").context["listing"].objects
    assert "x@corp.example" not in {a.pk for a in aliases}
    assert {"@odd_domain!.example", "@"} <= {a.pk for a in aliases}
    # The corp admin does not get it either: its domain column is shop.example.
    corp = client_for(CORP)
    assert corp.get("/aliases/x@corp.example/edit/").status_code == 404
    assert corp.get("/mailboxes/mismatch@corp.example/").status_code == 404


def test_the_shop_admin_cannot_redirect_a_corp_address():
    before = dump_data(connection.settings_dict["NAME"])
    client = client_for(SHOP)
    path = reverse("aliases:edit", args=["x@corp.example"])
    assert client.get(path).status_code == 404
    response = client.post(path, {"goto": "bare@shop.example", "active": "on"})
    assert response.status_code == 404
    assert client.post(reverse("aliases:delete", args=["x@corp.example"])).status_code == 404
    assert dump_data(connection.settings_dict["NAME"]) == before


def test_odd_rows_are_listed_with_a_badge_and_link_to_their_pages():
    client = client_for(ROOT)
    body = client.get("/mailboxes/?per_page=200").content.decode()
    url = reverse("mailboxes:detail", args=["a/b@x.example"])
    assert url.startswith("/mailboxes/~") and f'href="{url}"' in body
    row = body[body.index(f'href="{url}"') :]
    assert "invalid address" in row[: row.index("</tr>")]
    assert client.get(url).context["mailbox"].pk == "a/b@x.example"
    aliases = client.get("/aliases/?per_page=200").content.decode()
    for address in ("a@b@c", "@"):
        edit = reverse("aliases:edit", args=[address])
        assert f'href="{edit}"' in aliases
        assert client.get(edit).context["alias"].pk == address
    domains = client.get("/domains/").content.decode()
    assert domains.count("invalid domain name") == 3  # '', odd_domain!.example, Upper.Example
    for name in ("", "odd_domain!.example", "Upper.Example"):
        detail = reverse("domains:detail", args=[name])
        assert f'href="{detail}"' in domains
        page = client.get(detail)
        assert page.context["domain"].pk == name
        listed = client.get(f"/mailboxes/?domain={domain_param(name)}").context["listing"]
        assert listed.objects and {m.domain_id for m in listed.objects} == {name}
    overview = client.get("/").content.decode()
    assert reverse("domains:detail", args=[""]) in overview and "(empty)" in overview


def test_the_public_signup_page_of_odd_domains_is_not_offered():
    client = Client()
    for name in Domain.objects.values_list("pk", flat=True):
        response = client.get(reverse("signup:form", args=[name]))
        offered = name == "shop.example" or name == "extmail.org"
        assert response.status_code == (200 if offered else 404), name


# --- characters no utf8mb3 column can hold ----------------------------------------------------


def test_unstorable_logins_and_recoveries_fail_like_unknown_accounts():
    client = Client()
    before = dump_data(connection.settings_dict["NAME"])
    response = client.post("/login/", {"username": f"root{EMOJI}", "password": "x"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post(
        "/account/login/", {"username": f"alice{EMOJI}@example.net", "password": "x"}
    )
    assert response.status_code == 200
    response = client.post(
        "/account/forgot/",
        {
            "username": f"alice{EMOJI}@example.net",
            "answer": "x",
            "new_password1": "Hostile-pass-9",
            "new_password2": "Hostile-pass-9",
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
    )
    assert response.status_code == 200
    assert dump_data(connection.settings_dict["NAME"]) == before
    from accounts.backends import ManagerBackend
    from mailboxes.auth import authenticate_mailbox

    assert ManagerBackend().authenticate(None, username=f"root{EMOJI}", password="x") is None
    assert authenticate_mailbox(f"alice{EMOJI}@example.net", "x") is None


@pytest.mark.parametrize("match", ["prefix", "contains"])
def test_unstorable_searches_find_nothing(match):
    client = client_for(ROOT)
    for name in LIST_ROUTES:
        response = client.get(reverse(name), {"q": f"a{EMOJI}", "match": match})
        assert response.status_code == 200, name
        assert response.context["listing"].total == 0, name
    audit = client.get("/audit/", {"action": EMOJI})
    assert audit.status_code == 200 and audit.context["listing"].total == 0


def test_unstorable_object_urls_and_filters_are_404():
    client = client_for(ROOT)
    checked = 0
    for route, param, converter in object_routes():
        placeholder = "zzkeyzz.example" if converter is DomainConverter else "zzkeyzz@x.example"
        path = reverse(route, kwargs={param: placeholder}).replace("zzkeyzz", EMOJI)
        assert client.get(path).status_code == 404, path
        assert client.post(path).status_code == 404, path
        checked += 1
    assert checked >= 12
    for name in DOMAIN_LISTS:
        assert client.get(reverse(name), {"domain": f"{EMOJI}.example"}).status_code == 404
    response = client.post("/mailboxes/bulk/", {"action": "disable", "addresses": [EMOJI]})
    assert response.status_code == 404


def post_data(form: forms.BaseForm, **values: str) -> dict:
    """What a browser posts back from a form as shown, with ``values`` typed in."""
    data: dict = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if name == "captcha":
            data.update({"captcha_0": "x", "captcha_1": "PASSED"})
        elif isinstance(field.widget, forms.PasswordInput):
            data[name] = "Hostile-pass-9"
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is None:
            data[name] = ""
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif isinstance(value, datetime.date):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    data.update(values)
    return data


def text_fields(form: forms.BaseForm) -> list[str]:
    return [
        name
        for name, field in form.fields.items()
        if isinstance(field, forms.CharField)
        and not isinstance(field.widget, forms.PasswordInput | forms.HiddenInput)
        and not field.disabled
        and name != "website"  # the honeypot: filled in, the request is a robot's
    ]


@pytest.fixture
def pending_signup(db) -> SignupRequest:
    return SignupRequest.objects.create(
        domain="extmail.org",
        local_part="applicant",
        address="applicant@extmail.org",
        pending_address="applicant@extmail.org",
        name="Applicant",
        password_hash=hash_password("Hostile-pass-9"),
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )


# (page, who, what to type besides the shown values): every form with text fields.
FORM_PAGES = [
    ("/login/", None, {"password": "x"}),
    ("/account/login/", None, {}),
    ("/account/forgot/", None, {}),
    ("/signup/extmail.org/", None, {"local_part": "applicant2"}),
    ("/account/recovery/", "alice@example.net", {"password": "Alice-pass-1"}),
    ("/domains/add/", ROOT, {"domain": "emoji-test.example"}),
    ("/domains/example.net/edit/", ROOT, {}),
    ("/domains/example.net/rename/", ROOT, {"domain": "emoji-test.example"}),
    ("/domains/example.net/delete/", ROOT, {"delete_all": "on", "confirm_domain": "example.net"}),
    ("/mailboxes/add/?domain=example.net", ROOT, {"local_part": "emoji-test"}),
    ("/mailboxes/alice@example.net/edit/", ROOT, {}),
    ("/mailboxes/alice@example.net/rename/", ROOT, {"local_part": "alice2"}),
    ("/aliases/add/?domain=example.net", ROOT, {"local_part": "emoji", "goto": "alice@x.example"}),
    ("/aliases/team@example.net/edit/", ROOT, {}),
    ("/managers/add/", ROOT, {"username": "emoji@example.net", "domains": ["example.net"]}),
    ("/managers/pm@example.net/edit/", ROOT, {}),
    ("/signups/{signup}/reject/", ROOT, {}),
    ("/groupmail/new/", ROOT, {"domains": ["example.net"], "subject": "Notice", "body": "Text"}),
]


@pytest.mark.parametrize(("page", "who", "typed"), FORM_PAGES, ids=[p[0] for p in FORM_PAGES])
def test_unstorable_text_in_any_form_field_is_a_field_error(
    page, who, typed, pending_signup, settings
):
    settings.MAILADMIN_SIGNUP_RATE_LIMIT = 100  # one signup POST per field
    page = page.format(signup=pending_signup.pk)
    client = client_for(who if who == ROOT else None)
    if who == "alice@example.net":  # the mailbox portal
        portal_force_login(client, Mailbox.objects.get(pk=who))
    before = dump_data(connection.settings_dict["NAME"])
    form = client.get(page).context["form"]
    fields = text_fields(form)
    assert fields, page
    for name in fields:
        data = post_data(form, **typed)
        data[name] = f"Zoë {EMOJI}"
        response = client.post(page, data)
        assert response.status_code == 200, (page, name)
        errors = response.context["form"].errors
        assert UNSTORABLE in " ".join(errors.get(name, [])), (page, name, errors)
    assert dump_data(connection.settings_dict["NAME"]) == before
    assert SignupRequest.objects.count() == 1  # only the fixture's, still pending
    assert SignupRequest.objects.get().state == SignupRequest.State.PENDING


def test_an_import_line_with_unstorable_text_is_refused():
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = dump_data(connection.settings_dict["NAME"])
    upload = SimpleUploadedFile(
        "new.csv", f"csv1,Fine,Hostile-pass-9,\ncsv2,Bob {EMOJI},Hostile-pass-9,\n".encode()
    )
    response = client_for(ROOT).post("/mailboxes/import/?domain=example.net", {"file": upload})
    assert response.status_code == 200
    assert any(
        "Line 2" in line and UNSTORABLE in line for line in response.context["import_errors"]
    )
    assert dump_data(connection.settings_dict["NAME"]) == before


def test_a_stored_request_with_unstorable_text_cannot_be_approved_but_gives_a_message(
    pending_signup,
):
    """Requests stored before the form refused such text (the panel's own table is utf8mb4)
    are refused with a message on approval, one by one and in bulk, instead of a 500."""
    SignupRequest.objects.filter(pk=pending_signup.pk).update(name=f"Bob {EMOJI}")
    client = client_for(ROOT)
    before = dump_data(connection.settings_dict["NAME"])
    response = client.post(reverse("signup:approve", args=[pending_signup.pk]), follow=True)
    assert response.status_code == 200
    assert UNSTORABLE in response.content.decode()
    response = client.post(
        reverse("signup:bulk"), {"action": "approve", "ids": [pending_signup.pk]}, follow=True
    )
    assert response.status_code == 200
    assert UNSTORABLE in response.content.decode()
    assert SignupRequest.objects.get().state == SignupRequest.State.PENDING
    assert dump_data(connection.settings_dict["NAME"]) == before


def test_a_signup_with_unstorable_text_is_refused_at_signup():
    response = Client().post(
        "/signup/extmail.org/",
        {
            "local_part": "newbie",
            "name": f"New {EMOJI}",
            "password1": "Hostile-pass-9",
            "password2": "Hostile-pass-9",
            "question": "",
            "answer": "",
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
    )
    assert response.status_code == 200
    assert UNSTORABLE in " ".join(response.context["form"].errors["name"])
    assert not SignupRequest.objects.exists()


# --- quotas -----------------------------------------------------------------------------------


def test_a_mailbox_approved_in_a_domain_with_a_bare_template_gets_the_s_form(pending_signup):
    """extmail.org's default_quota is ExtMan's bare 5242880; maildrop ignores a bare quota."""
    assert Domain.objects.get(pk="extmail.org").default_quota == "5242880"
    before = dump_data(connection.settings_dict["NAME"])
    try:
        response = client_for(ROOT).post(reverse("signup:approve", args=[pending_signup.pk]))
        assert response.status_code == 302
        mailbox = Mailbox.objects.get(pk="applicant@extmail.org")
        assert (mailbox.quota, mailbox.netdiskquota) == ("5242880S", "5242880S")
    finally:
        Mailbox.objects.filter(pk="applicant@extmail.org").delete()
        from domains.usage import recompute_all

        recompute_all()
    assert dump_data(connection.settings_dict["NAME"]) == before


def test_the_fixture_rows_are_as_documented():
    """The job tests build on these rows (tests/fixtures/README.md)."""
    homes = dict(Mailbox.objects.filter(domain_id="shop.example").values_list("pk", "homedir"))
    assert homes["thief@shop.example"] == "corp.example"
    assert homes["domainhome@shop.example"] == "shop.example"
    assert homes["inner@shop.example"].startswith(homes["outer@shop.example"] + "/")
    assert homes["absolute@shop.example"].startswith("/")
    assert ".." in homes["dotdot@shop.example"].split("/")
    assert Domain.objects.get(pk="shop.example").default_quota == "5242880"
    assert Mailbox.objects.get(pk="bare@shop.example").createdate is None
    assert set(Manager.objects.get(pk=SHOP).domain_names()) == {
        "shop.example",
        "odd_domain!.example",
        "",
        "x.example",
        "Upper.Example",
    }
    assert urlsplit(reverse("domains:detail", args=[""])).path == "/domains/~/"
    assert unquote(reverse("mailboxes:detail", args=["müller@shop.example"])) == (
        "/mailboxes/müller@shop.example/"
    )
