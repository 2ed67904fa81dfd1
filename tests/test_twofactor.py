"""Two-factor sign-in of managers (accounts.twofactor): enrolment, the code step of a login,
recovery codes, replay and throttling, the requirement setting, removal and a superadmin's
reset; each checked through the pages, with codes computed as an authenticator app would."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from accounts import securitykeys, twofactor
from accounts.models import Manager, RecoveryCode, SecondFactor, SecurityKey
from accounts.twofactor_views import PENDING
from audit.models import AuditEntry
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
CODE = reverse("accounts:login_code")
PAGE = reverse("accounts:twofactor")


def enrol(client: Client) -> tuple[str, list[str]]:
    """Enrol the client's manager through the page: ``(secret, recovery codes)``."""
    page = client.post(PAGE, {"action": "start"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html  # the QR code, inline
    secret = re.search(r'data-testid="twofactor-secret">([A-Z2-7 ]+)<', html).group(1)
    secret = secret.replace(" ", "")
    done = client.post(PAGE, {"action": "confirm", "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r'data-testid="recovery-code">([a-z0-9-]+)<', done.content.decode())
    return secret, codes


def password_step(client: Client, username: str, next_url: str = "") -> object:
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data)


def previous_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(time.time() - twofactor.STEP)


def next_code(secret: str) -> str:
    """The code of the next time step (accepted: one step of clock drift either side). The
    current step's code was used by the enrolment, and a code is accepted once."""
    return pyotp.TOTP(secret).at(time.time() + twofactor.STEP)


def test_enrolment_stores_the_secret_sealed_and_the_recovery_codes_hashed(personas):
    client = Client()
    client.force_login(personas["admin_a"])
    secret, codes = enrol(client)
    assert len(codes) == twofactor.RECOVERY_CODES and len(set(codes)) == len(codes)
    factor = SecondFactor.objects.get(manager="admin@a.test")
    assert secret not in factor.secret
    assert twofactor.unseal_secret(factor.secret) == secret
    stored = set(
        RecoveryCode.objects.filter(manager="admin@a.test").values_list("code_hash", flat=True)
    )
    assert len(stored) == len(codes) and not stored & set(codes)
    assert AuditEntry.objects.filter(action="2fa.enrolled", object_id="admin@a.test").count() == 1
    # The page now says it is on, and shows no secret any more.
    page = client.get(PAGE).content.decode()
    assert 'data-testid="twofactor-on"' in page and secret not in page


def test_a_wrong_code_does_not_enrol(personas):
    client = Client()
    client.force_login(personas["admin_a"])
    client.post(PAGE, {"action": "start"})
    refused = client.post(PAGE, {"action": "confirm", "code": "000000"})
    assert refused.status_code == 400
    assert "This code is not right" in refused.content.decode()
    assert not SecondFactor.objects.exists() and not RecoveryCode.objects.exists()


def test_login_asks_for_the_code_after_the_password(personas):
    setup = Client()
    setup.force_login(personas["admin_a"])
    secret, _ = enrol(setup)
    client = Client()
    first = password_step(client, "admin@a.test", next_url="/aliases/")
    assert first.status_code == 302 and first["Location"] == CODE
    # Not signed in yet: the pages still ask for the login.
    assert client.get("/").status_code == 302 and client.get("/")["Location"].startswith(LOGIN)
    wrong = client.post(CODE, {"code": "123456"})
    assert wrong.status_code == 400 and 'data-testid="code-refused"' in wrong.content.decode()
    assert AuditEntry.objects.filter(action="2fa.failed", object_id="admin@a.test").count() == 1
    right = client.post(CODE, {"code": next_code(secret)})
    assert right.status_code == 302 and right["Location"] == "/aliases/"
    assert client.get("/").status_code == 200
    login = AuditEntry.objects.get(action="login", object_id="admin@a.test")
    assert login.message == "with an authenticator code"


def test_a_code_is_accepted_once(personas):
    setup = Client()
    setup.force_login(personas["admin_a"])
    secret, _ = enrol(setup)  # used the current step
    code = pyotp.TOTP(secret).now()
    client = Client()
    password_step(client, "admin@a.test")
    assert client.post(CODE, {"code": code}).status_code == 400
    # An older code than the last accepted one is refused too.
    assert client.post(CODE, {"code": previous_code(secret)}).status_code == 400
    assert not client.session.get("_auth_user_id")


def test_a_recovery_code_signs_in_once(personas):
    setup = Client()
    setup.force_login(personas["admin_a"])
    _, codes = enrol(setup)
    client = Client()
    password_step(client, "admin@a.test")
    done = client.post(CODE, {"code": codes[3].upper().replace("-", " ")})
    assert done.status_code == 302 and client.get("/").status_code == 200
    assert AuditEntry.objects.filter(action="2fa.recovery_used").count() == 1
    assert twofactor.unused_recovery_codes(personas["admin_a"]) == len(codes) - 1
    again = Client()
    password_step(again, "admin@a.test")
    assert again.post(CODE, {"code": codes[3]}).status_code == 400


def test_too_many_wrong_codes_start_the_sign_in_again(personas, settings):
    settings.MAILADMIN_2FA_ATTEMPTS = 3
    setup = Client()
    setup.force_login(personas["admin_a"])
    secret, _ = enrol(setup)
    client = Client()
    password_step(client, "admin@a.test")
    assert client.post(CODE, {"code": "111111"}).status_code == 400
    assert client.post(CODE, {"code": "222222"}).status_code == 400
    third = client.post(CODE, {"code": "333333"})
    assert third.status_code == 302 and third["Location"] == LOGIN
    assert PENDING not in client.session
    # The right code no longer helps: the password step must come first.
    late = client.post(CODE, {"code": next_code(secret)})
    assert late.status_code == 302 and late["Location"] == LOGIN
    assert client.get("/").status_code == 302


def test_the_account_is_throttled_across_sign_ins(personas, settings):
    settings.MAILADMIN_2FA_ATTEMPTS = 2
    settings.AXES_FAILURE_LIMIT = 2  # 4 wrong codes per cool-off for the account
    setup = Client()
    setup.force_login(personas["admin_a"])
    secret, _ = enrol(setup)
    for _ in range(2):
        client = Client()
        password_step(client, "admin@a.test")
        client.post(CODE, {"code": "111111"})
        client.post(CODE, {"code": "222222"})
    client = Client()
    password_step(client, "admin@a.test")
    refused = client.post(CODE, {"code": next_code(secret)})
    assert refused.status_code == 400 and "Too many wrong codes" in refused.content.decode()
    assert client.get("/").status_code == 302


def test_a_password_step_expires(personas, monkeypatch):
    setup = Client()
    setup.force_login(personas["admin_a"])
    secret, _ = enrol(setup)
    client = Client()
    password_step(client, "admin@a.test")
    session = client.session
    session[PENDING] = {**session[PENDING], "at": time.time() - 3600}
    session.save()
    late = client.post(CODE, {"code": next_code(secret)})
    assert late.status_code == 302 and late["Location"] == LOGIN


def test_a_manager_without_an_authenticator_signs_in_with_the_password(personas):
    client = Client()
    done = password_step(client, "admin@a.test")
    assert done.status_code == 302 and done["Location"] != CODE
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("required", ["superadmins", "all"])
def test_a_required_second_factor_sends_to_enrolment(personas, settings, required):
    settings.MAILADMIN_2FA_REQUIRED = required
    root = Client()
    password_step(root, "root@panel.test")
    for url in ("/", "/domains/", "/managers/"):
        answer = root.get(url)
        assert answer.status_code == 302 and answer["Location"] == PAGE
    assert 'data-testid="twofactor-required"' in root.get(PAGE).content.decode()
    enrol(root)
    assert root.get("/managers/").status_code == 200
    admin = Client()
    password_step(admin, "admin@a.test")
    expected = 302 if required == "all" else 200
    assert admin.get("/").status_code == expected


def test_an_old_session_of_an_enrolled_manager_must_sign_in_again(personas, settings):
    setup = Client()
    setup.force_login(personas["superadmin"])
    enrol(setup)
    settings.MAILADMIN_2FA_REQUIRED = "superadmins"
    old = Client()
    old.force_login(personas["superadmin"])  # a session without the second step
    answer = old.get("/")
    assert answer.status_code == 302 and answer["Location"] == LOGIN
    assert old.get("/").status_code == 302 and not old.session.get("_auth_user_id")


def test_turning_it_off_takes_the_password(personas):
    client = Client()
    client.force_login(personas["admin_a"])
    enrol(client)
    refused = client.post(PAGE, {"action": "remove", "password": "wrong"})
    assert refused.status_code == 400 and SecondFactor.objects.exists()
    done = client.post(PAGE, {"action": "remove", "password": PASSWORD})
    assert done.status_code == 302
    assert not SecondFactor.objects.exists() and not RecoveryCode.objects.exists()
    assert AuditEntry.objects.filter(action="2fa.removed", object_id="admin@a.test").exists()


def test_new_recovery_codes_replace_the_old_ones(personas):
    client = Client()
    client.force_login(personas["admin_a"])
    _, old = enrol(client)
    page = client.post(PAGE, {"action": "codes", "password": PASSWORD})
    new = re.findall(r'data-testid="recovery-code">([a-z0-9-]+)<', page.content.decode())
    assert len(new) == twofactor.RECOVERY_CODES and not set(new) & set(old)
    manager = Manager.objects.get(pk="admin@a.test")
    assert twofactor.verify(manager=manager, code=old[0]) is None
    assert twofactor.verify(manager=manager, code=new[0]) == "recovery"
    assert AuditEntry.objects.filter(action="2fa.codes").count() == 1


def test_a_superadmin_resets_a_lost_authenticator(personas, client_as):
    setup = Client()
    setup.force_login(personas["admin_a"])
    enrol(setup)
    url = reverse("accounts:manager_twofactor_reset", kwargs={"username": "admin@a.test"})
    assert client_as("admin_b").post(url).status_code == 404
    assert client_as("admin_a").post(url).status_code == 404
    assert SecondFactor.objects.exists()
    root = client_as("superadmin")
    edit = root.get(reverse("accounts:manager_edit", kwargs={"username": "admin@a.test"}))
    assert 'data-testid="manager-2fa-reset"' in edit.content.decode()
    assert root.post(url).status_code == 302
    assert not SecondFactor.objects.exists() and not RecoveryCode.objects.exists()
    entry = AuditEntry.objects.get(action="2fa.reset")
    assert entry.object_id == "admin@a.test" and entry.actor == "root@panel.test"
    # The manager signs in with the password alone again.
    client = Client()
    assert password_step(client, "admin@a.test")["Location"] != CODE


def test_the_manager_list_shows_who_has_it_in_one_query(
    personas, client_as, django_assert_max_num_queries
):
    setup = Client()
    setup.force_login(personas["admin_a"])
    enrol(setup)
    root = client_as("superadmin")
    root.get("/managers/")
    with django_assert_max_num_queries(12):
        page = root.get("/managers/").content.decode()
    assert page.count('data-testid="manager-2fa"><span class="badge') == 1


def test_deleting_a_manager_deletes_their_authenticator(personas, client_as):
    setup = Client()
    setup.force_login(personas["admin_a"])
    enrol(setup)
    url = reverse("accounts:manager_delete", kwargs={"username": "admin@a.test"})
    assert client_as("superadmin").post(url).status_code == 302
    assert not SecondFactor.objects.exists() and not RecoveryCode.objects.exists()


# --- security keys (the browser test registers and uses a real one: tests/e2e) ---------------
def add_key(manager, name: str = "Desk key", credential_id: str = "AAAA") -> SecurityKey:
    return SecurityKey.objects.create(
        manager=manager.pk,
        name=name,
        credential_id=credential_id,
        credential_hash=securitykeys.credential_hash(credential_id),
        public_key="BBBB",
    )


def test_a_manager_with_only_a_key_gets_the_second_step(personas):
    add_key(personas["admin_a"])
    client = Client()
    assert password_step(client, "admin@a.test")["Location"] == CODE
    page = client.get(CODE).content.decode()
    assert 'data-testid="key-login"' in page and "Use your security key" in page
    options = client.post(reverse("accounts:key_login_options"))
    assert options.status_code == 200
    allowed = options.json()["allowCredentials"]
    assert [c["id"] for c in allowed] == ["AAAA"] and options.json()["challenge"]


def test_a_refused_key_answer_counts_as_a_wrong_code(personas, settings):
    settings.MAILADMIN_2FA_ATTEMPTS = 2
    add_key(personas["admin_a"])
    client = Client()
    password_step(client, "admin@a.test")
    url = reverse("accounts:key_login")
    client.post(reverse("accounts:key_login_options"))
    bad = {"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}}
    first = client.post(url, bad, content_type="application/json")
    assert first.status_code == 400 and "error" in first.json()
    second = client.post(url, bad, content_type="application/json")
    assert second.json() == {"redirect": LOGIN}
    assert AuditEntry.objects.filter(action="2fa.failed").count() == 2
    assert client.get("/").status_code == 302


def test_a_key_answer_without_a_challenge_is_refused(personas):
    add_key(personas["admin_a"])
    client = Client()
    password_step(client, "admin@a.test")
    answer = client.post(
        reverse("accounts:key_login"),
        {"credential": {"id": "AAAA"}},
        content_type="application/json",
    )
    assert answer.status_code == 400 and client.get("/").status_code == 302


def test_registration_needs_its_own_challenge(personas):
    client = Client()
    client.force_login(personas["admin_a"])
    answer = client.post(
        reverse("accounts:key_register"),
        {"name": "x", "credential": {"id": "AAAA"}},
        content_type="application/json",
    )
    assert answer.status_code == 400 and not SecurityKey.objects.exists()
    options = client.post(reverse("accounts:key_register_options")).json()
    assert options["rp"]["id"] == "testserver" and options["user"]["name"] == "admin@a.test"


def test_removing_the_last_key_takes_the_password_and_the_recovery_codes(personas):
    manager = personas["admin_a"]
    key = add_key(manager)
    twofactor.first_recovery_codes(manager)
    client = Client()
    client.force_login(manager)
    refused = client.post(PAGE, {"action": "remove_key", "key": key.pk, "password": "wrong"})
    assert refused.status_code == 400 and SecurityKey.objects.exists()
    done = client.post(PAGE, {"action": "remove_key", "key": key.pk, "password": PASSWORD})
    assert done.status_code == 302
    assert not SecurityKey.objects.exists() and not RecoveryCode.objects.exists()
    assert AuditEntry.objects.filter(action="2fa.key_removed").count() == 1


def test_a_manager_cannot_remove_another_managers_key(personas):
    key = add_key(personas["admin_b"])
    client = Client()
    client.force_login(personas["admin_a"])
    add_key(personas["admin_a"], "mine", credential_id="CCCC")
    client.post(PAGE, {"action": "remove_key", "key": key.pk, "password": PASSWORD})
    assert SecurityKey.objects.filter(pk=key.pk).exists()


def test_a_superadmins_reset_removes_the_keys_too(personas, client_as):
    add_key(personas["admin_a"])
    url = reverse("accounts:manager_twofactor_reset", kwargs={"username": "admin@a.test"})
    assert client_as("superadmin").post(url).status_code == 302
    assert not SecurityKey.objects.exists()
    assert password_step(Client(), "admin@a.test")["Location"] != CODE
