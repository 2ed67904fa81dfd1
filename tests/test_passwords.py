"""mailadmin.lib.passwords: every stored form of an ExtMan database, and what the panel writes.

The fixture values are real rows of ExtMan/EMOS databases (or written by ``doveadm pw``); the
Dovecot tests run the real ``doveadm`` against hashes this module writes.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.hashers import identify_hasher
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from mailadmin.lib import passwords
from mailadmin.lib.passwords import (
    SCHEMES,
    dummy_verify,
    hash_password,
    identify,
    needs_rehash,
    verify_password,
)

SHA512_ALICE = (
    "$6$Qx8vR2sT$FdKyyCEr0PP3LYBFHWXN3G/56ewC/JqJmNPLnOJlz8h7ULiuPUwDHfhnI8SGk2JZxvpMe0X6e11wl15kD8"
    ".4D/"
)
# Written by `doveadm pw -s SHA512-CRYPT -r 10000`.
SHA512_ROUNDS = (
    "$6$rounds=10000$ZM6ZNTxdElfzLQbc$LLJFed8oYh/ypWc58hBmMwHjsLGXpOcTCdjNv1aQJjJKVzrvivu2lh9eaUz"
    ".nQL6wEre/URB9kf2gqm.FDwRz."
)

# (password, stored value, scheme identify() names)
FIXTURE = [
    ("extmail*123*", "$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1", "md5crypt"),
    ("extmail", "$1$phz1mRrj$3ok6BjeaoJYWDBsEPZb5C0", "md5crypt"),
    ("pm-example-1", "{SHA}LQDA5Fy3Gm8GwAfrF8Xc5TI8sAU=", "ldap_sha1"),
    ("bob-secret", "{SHA}Md7yGSbrVBY29morDdFNHvcmrxg=", "ldap_sha1"),
    ("Alice-pass-1", SHA512_ALICE, "sha512crypt"),
    ("carol-pw", "{MD5}0BGwi/T1ZVFDD8EHljsDNg==", "ldap_md5"),
    ("dave-pw", "b9bc15e71d04b0a3e86bf67539289a8a", "plain_md5"),
    ("erinpass", "abGPkfvdQSHe.", "des_crypt"),
    ("frank-pw", "{CRYPT}$1$Fr4nkS1t$vtbEcR42Tob5xB8DNoIT./", "md5crypt"),
    ("gina-plain", "gina-plain", "cleartext"),
    ("multi-pw-1", "$1$mUlTi123$JEe4ElT8zc/3LmECkjbev.", "md5crypt"),
    ("zed-pw", "$1$zzzzzzzz$aD/jA38DBgwzZiqk/0A9u.", "md5crypt"),
]

# The other prefixed forms, most of them written by `doveadm pw -s <SCHEME>`.
OTHER_FORMS = [
    ("extmail", "{MD5-CRYPT}$1$phz1mRrj$3ok6BjeaoJYWDBsEPZb5C0", "md5crypt"),
    ("extmail", "{crypt}$1$phz1mRrj$3ok6BjeaoJYWDBsEPZb5C0", "md5crypt"),
    ("extmail", "{MD5}$1$phz1mRrj$3ok6BjeaoJYWDBsEPZb5C0", "md5crypt"),
    ("erinpass", "{CRYPT}abGPkfvdQSHe.", "des_crypt"),
    ("erinpass", "{DES-CRYPT}abGPkfvdQSHe.", "des_crypt"),
    ("dave-pw", "{PLAIN-MD5}b9bc15e71d04b0a3e86bf67539289a8a", "plain_md5"),
    ("dave-pw", "B9BC15E71D04B0A3E86BF67539289A8A", "plain_md5"),
    ("ssha-pw", "{SSHA}+SSVRSJBossaFOErjeaafPDC4L2TqFLj", "ldap_salted_sha1"),
    ("plain-pw", "{PLAIN}plain-pw", "cleartext"),
    ("plain-pw", "{CLEARTEXT}plain-pw", "cleartext"),
    ("Alice-pass-1", "{CRYPT}" + SHA512_ALICE, "sha512crypt"),
    ("Alice-pass-1", "{SHA512-CRYPT}" + SHA512_ALICE, "sha512crypt"),
    ("rounds-pw", "{SHA512-CRYPT}" + SHA512_ROUNDS, "sha512crypt"),
    (
        "sha256-pw",
        "{SHA256-CRYPT}$5$cPlk/WxtILn7NneO$5PPKsB8.hI2Jl5VTVSN4n5sIQYviOCwC.be9Sm3qzm7",
        "sha256crypt",
    ),
    (
        "blf-pw",
        "{BLF-CRYPT}$2y$05$73ejWAxWKdr0Egzycw6FeuBM1gRUwirsDhsheiXJo4IZwLd4/TJvO",
        "bcrypt",
    ),
    ("blf-pw", "$2y$05$73ejWAxWKdr0Egzycw6FeuBM1gRUwirsDhsheiXJo4IZwLd4/TJvO", "bcrypt"),
]

ALL_FORMS = FIXTURE + OTHER_FORMS


def _ids(rows: list[tuple[str, str, str]]) -> list[str]:
    return [f"{scheme}:{stored[:24]}" for _password, stored, scheme in rows]


# --- verify_password and identify --------------------------------------------------------------


@pytest.mark.parametrize(("password", "stored", "scheme"), FIXTURE, ids=_ids(FIXTURE))
def test_every_password_from_the_fixture_verifies(password, stored, scheme):
    assert verify_password(password, stored)


@pytest.mark.parametrize(("password", "stored", "scheme"), OTHER_FORMS, ids=_ids(OTHER_FORMS))
def test_every_other_stored_form_verifies(password, stored, scheme):
    assert verify_password(password, stored)


@pytest.mark.parametrize(("password", "stored", "scheme"), ALL_FORMS, ids=_ids(ALL_FORMS))
def test_a_wrong_password_is_refused_in_every_scheme(password, stored, scheme):
    # wrong at the start and at the end (appending would not do: DES reads only 8 characters)
    assert not verify_password("x" + password, stored)
    assert not verify_password(password[:-1] + chr(ord(password[-1]) ^ 1), stored)
    assert not verify_password(password.upper(), stored)


@pytest.mark.parametrize(("password", "stored", "scheme"), ALL_FORMS, ids=_ids(ALL_FORMS))
def test_identify_names_the_scheme_of_every_stored_form(password, stored, scheme):
    assert identify(stored) == scheme


def test_md5crypt_from_the_fixture_verifies():
    assert verify_password("extmail*123*", "$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1")


@pytest.mark.parametrize("stored", ["", *[row[1] for row in FIXTURE]])
def test_an_empty_password_never_verifies(stored):
    assert not verify_password("", stored)


@pytest.mark.parametrize("stored", ["", "{PLAIN}", "{CLEARTEXT}", "{CRYPT}", "{SHA}"])
def test_an_empty_stored_value_never_verifies(stored):
    assert not verify_password("", stored)
    assert not verify_password("anything", stored)
    assert not verify_password(stored or "x", stored)


def test_a_null_stored_value_is_refused_without_an_exception():
    assert not verify_password("x", None)  # type: ignore[arg-type]
    assert identify(None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "stored",
    [
        "b9bc15e71d04b0a3e86bf67539289a8a",  # 32 hex: plain-md5
        "abGPkfvdQSHe.",  # 13 crypt chars: DES
        "$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1",
        SHA512_ALICE,
        "{SHA}LQDA5Fy3Gm8GwAfrF8Xc5TI8sAU=",
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",  # 40 hex: sha1 of nothing we read
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",  # yescrypt
        "pbkdf2_sha256$870000$abcdefghijkl$aGFzaGhhc2hoYXNoaGFzaA==",  # Django
    ],
)
def test_a_hash_shaped_value_is_never_compared_as_cleartext(stored):
    assert not verify_password(stored, stored)


def test_cleartext_is_only_a_value_without_the_shape_of_any_hash():
    assert identify("gina-plain") == "cleartext"
    assert identify("b9bc15e71d04b0a3e86bf67539289a8a") == "plain_md5"
    assert identify("2fd4e1c67a2d28fced849ee1bb76e7391b93eb12") is None
    assert identify("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o") is None


@pytest.mark.parametrize("stored", ["{FOO}gina-plain", "{foo}", "{SMD5}abcdefgh", "{}gina-plain"])
def test_an_unknown_scheme_prefix_is_refused(stored):
    assert not verify_password("gina-plain", stored)
    assert not verify_password(stored, stored)
    assert identify(stored) is None


@pytest.mark.parametrize(
    "stored",
    [
        "$1$",
        "$1$abc",
        "$1$BrT9qxfB$",
        "$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj",  # one character short
        "$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1$",
        "$1$toolongsalt$Ha81Mb5YVV6rNKNN5jmtj1",
        "$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1\n",
        "$1$Br T9qxf$Ha81Mb5YVV6rNKNN5jmtj1",
        "{CRYPT}$1$BrT9qxfB",
        "{CRYPT}not-a-crypt-string",
        "{MD5-CRYPT}abGPkfvdQSHe.",  # DES under an md5crypt prefix
        "{SHA}LQDA5Fy3Gm8GwAfrF8Xc5TI8sAU",  # padding lost
        "{SSHA}AAAA",
        "$6$rounds=abc$Qx8vR2sT$xyz",
        "$2y$05$short",
    ],
)
def test_a_malformed_stored_value_returns_false_without_an_exception(stored):
    assert not verify_password("extmail*123*", stored)
    assert not verify_password(stored, stored)
    assert identify(stored) is None


def test_des_crypt_only_looks_at_the_first_eight_characters():
    # Traditional DES crypt(3) truncates the password to 8 characters: this is the scheme's
    # (and glibc's) behaviour, and why nothing new is ever written in it.
    assert verify_password("erinpass", "abGPkfvdQSHe.")
    assert verify_password("erinpass-and-anything-after", "abGPkfvdQSHe.")
    assert not verify_password("erinpas", "abGPkfvdQSHe.")


def test_a_password_with_a_nul_byte_is_refused_without_an_exception():
    assert not verify_password("extmail\x00", "$1$phz1mRrj$3ok6BjeaoJYWDBsEPZb5C0")
    assert not verify_password("erinpass\x00", "abGPkfvdQSHe.")
    assert not verify_password("blf-pw\x00", OTHER_FORMS[-1][1])


# --- hash_password -------------------------------------------------------------------------------

H64 = r"[./0-9A-Za-z]"
OUTPUT_FORMS = {
    "md5crypt": re.compile(rf"\$1\${H64}{{8}}\${H64}{{22}}"),
    "sha512crypt": re.compile(rf"\{{CRYPT\}}\$6\${H64}{{16}}\${H64}{{86}}"),
    "sha256crypt": re.compile(rf"\{{CRYPT\}}\$5\${H64}{{16}}\${H64}{{43}}"),
}


def test_schemes_lists_what_new_hashes_may_be_written_in():
    assert SCHEMES == ("md5crypt", "sha512crypt", "sha256crypt")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hash_password_writes_the_form_the_mail_stack_reads(scheme):
    stored = hash_password("Correct-Horse-9", scheme)
    assert OUTPUT_FORMS[scheme].fullmatch(stored), stored
    assert identify(stored) == scheme


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_new_hash_verifies_and_refuses_a_wrong_password(scheme):
    stored = hash_password("Correct-Horse-9", scheme)
    assert verify_password("Correct-Horse-9", stored)
    assert not verify_password("Correct-Horse-8", stored)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_two_hashes_of_the_same_password_differ_by_their_salt(scheme):
    assert hash_password("Correct-Horse-9", scheme) != hash_password("Correct-Horse-9", scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hash_password_never_writes_a_django_hash(scheme):
    stored = hash_password("Correct-Horse-9", scheme)
    assert not re.match(r"(pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|scrypt)\$", stored)
    with pytest.raises(ValueError):
        identify_hasher(stored)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hash_password_uses_the_configured_scheme(settings, scheme):
    settings.MAILADMIN_PASSWORD_SCHEME = scheme
    stored = hash_password("Correct-Horse-9")
    assert OUTPUT_FORMS[scheme].fullmatch(stored), stored


def test_sha512crypt_with_the_default_5000_rounds_leaves_rounds_out(settings):
    settings.MAILADMIN_PASSWORD_ROUNDS = 5000
    assert "rounds=" not in hash_password("Correct-Horse-9", "sha512crypt")


def test_sha512crypt_uses_the_configured_rounds(settings):
    settings.MAILADMIN_PASSWORD_ROUNDS = 12000
    stored = hash_password("Correct-Horse-9", "sha512crypt")
    assert stored.startswith("{CRYPT}$6$rounds=12000$")
    assert verify_password("Correct-Horse-9", stored)


@pytest.mark.parametrize("scheme", ["md5", "bcrypt", "pbkdf2_sha256", "SHA512-CRYPT", ""])
def test_hash_password_refuses_an_unknown_scheme(scheme):
    with pytest.raises(ValueError):
        hash_password("Correct-Horse-9", scheme)


def test_hash_password_refuses_an_unknown_configured_scheme(settings):
    settings.MAILADMIN_PASSWORD_SCHEME = "argon2"
    with pytest.raises(ValueError):
        hash_password("Correct-Horse-9")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hash_password_refuses_an_empty_password(scheme):
    with pytest.raises(ValueError):
        hash_password("", scheme)


def test_hash_password_refuses_a_nul_byte_the_mail_stack_would_cut_the_password_at():
    with pytest.raises(ValueError):
        hash_password("Correct\x00Horse", "md5crypt")


# Any text but NUL (refused above) and lone surrogates (not encodable, so not typeable).
PASSWORD_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=64,
)


@pytest.mark.parametrize("scheme", ["md5crypt", "sha512crypt"])
@hypothesis_settings(max_examples=25, deadline=None)
@given(password=PASSWORD_TEXT)
def test_any_text_password_verifies_after_hashing_and_a_longer_one_does_not(scheme, password):
    stored = hash_password(password, scheme)
    assert verify_password(password, stored)
    assert not verify_password(password + "x", stored)


# --- needs_rehash --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        "$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1",
        "{CRYPT}$1$Fr4nkS1t$vtbEcR42Tob5xB8DNoIT./",
        "{crypt}$1$Fr4nkS1t$vtbEcR42Tob5xB8DNoIT./",
    ],
)
def test_md5crypt_bare_or_with_a_crypt_prefix_needs_no_rehash_for_md5crypt(stored):
    assert not needs_rehash(stored, "md5crypt")


@pytest.mark.parametrize(
    "stored",
    [
        "{SHA}LQDA5Fy3Gm8GwAfrF8Xc5TI8sAU=",
        "{MD5}0BGwi/T1ZVFDD8EHljsDNg==",
        "b9bc15e71d04b0a3e86bf67539289a8a",
        "abGPkfvdQSHe.",
        "gina-plain",
        "{PLAIN}gina-plain",
        "{MD5-CRYPT}$1$phz1mRrj$3ok6BjeaoJYWDBsEPZb5C0",
        SHA512_ALICE,
        "",
        "{FOO}bar",
        "$1$broken",
    ],
)
def test_anything_else_needs_a_rehash_for_md5crypt(stored):
    assert needs_rehash(stored, "md5crypt")


def test_needs_rehash_reads_the_configured_scheme(settings):
    settings.MAILADMIN_PASSWORD_SCHEME = "sha512crypt"
    assert needs_rehash("$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1")
    assert not needs_rehash(hash_password("Correct-Horse-9"))
    settings.MAILADMIN_PASSWORD_SCHEME = "md5crypt"
    assert not needs_rehash("$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1")


def test_sha512crypt_needs_the_crypt_prefix_and_the_configured_rounds(settings):
    settings.MAILADMIN_PASSWORD_ROUNDS = 5000
    assert not needs_rehash("{CRYPT}" + SHA512_ALICE, "sha512crypt")
    assert needs_rehash(SHA512_ALICE, "sha512crypt")  # bare: Dovecot wants a prefix
    assert needs_rehash("{SHA512-CRYPT}" + SHA512_ALICE, "sha512crypt")
    assert needs_rehash("{CRYPT}" + SHA512_ROUNDS, "sha512crypt")
    assert needs_rehash("{CRYPT}" + SHA512_ALICE, "sha256crypt")
    settings.MAILADMIN_PASSWORD_ROUNDS = 10000
    assert not needs_rehash("{CRYPT}" + SHA512_ROUNDS, "sha512crypt")
    assert needs_rehash("{CRYPT}" + SHA512_ALICE, "sha512crypt")


def test_needs_rehash_refuses_an_unknown_scheme():
    with pytest.raises(ValueError):
        needs_rehash("$1$BrT9qxfB$Ha81Mb5YVV6rNKNN5jmtj1", "md5")


# --- dummy_verify --------------------------------------------------------------------------------


def test_dummy_verify_runs_one_md5crypt_verification_and_returns_nothing(monkeypatch):
    calls: list[tuple[str, str]] = []
    real = passwords._VERIFIERS["md5crypt"]

    def spy(password: str, stored: str) -> bool:
        calls.append((password, stored))
        return real(password, stored)

    monkeypatch.setitem(passwords._VERIFIERS, "md5crypt", spy)
    assert dummy_verify("Correct-Horse-9") is None
    assert dummy_verify("") is None
    assert dummy_verify("päss\x00wörd") is None
    assert [password for password, _stored in calls][:2] == ["Correct-Horse-9", "-"]
    assert all(identify(stored) == "md5crypt" for _password, stored in calls)


# --- the real Dovecot ----------------------------------------------------------------------------

DOVEADM = Path("/usr/bin/doveadm")


def doveadm_pw(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``doveadm pw`` with an empty configuration.

    ``pw`` needs no settings, and ``-c /dev/null`` keeps the test independent of whatever
    /etc/dovecot holds (doveadm parses the whole config first, and fails on e.g. an unreadable
    SSL key or a missing include). As root and as an unprivileged user alike it then just works.
    """
    if not DOVEADM.exists():
        pytest.fail(f"{DOVEADM} is missing: install dovecot-core to check hashes against Dovecot")
    return subprocess.run(
        [str(DOVEADM), "-c", "/dev/null", "pw", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def doveadm_verifies(stored: str, password: str) -> bool:
    """Whether Dovecot accepts the password for the stored value; fails on any other error."""
    result = doveadm_pw("-t", stored, "-p", password)
    if result.returncode == 0:
        assert "(verified)" in result.stdout, result.stdout
        return True
    # doveadm exits 75 (EX_TEMPFAIL) for a mismatch; anything else is a broken call
    assert "Password mismatch" in result.stderr, (result.returncode, result.stderr)
    return False


@pytest.mark.parametrize("scheme", SCHEMES)
def test_dovecot_verifies_what_hash_password_writes(scheme):
    stored = hash_password("Correct-Horse-9", scheme)
    assert doveadm_verifies(stored, "Correct-Horse-9")
    assert not doveadm_verifies(stored, "Correct-Horse-8")


def test_dovecot_verifies_md5crypt_bare_and_with_the_crypt_prefix():
    # Dovecot recognises a bare "$1$" value as MD5-CRYPT by itself (that is how EMOS stores
    # them); every other crypt string needs a {SCHEME} prefix, see the next test.
    stored = hash_password("Correct-Horse-9", "md5crypt")
    assert doveadm_verifies(stored, "Correct-Horse-9")
    assert doveadm_verifies("{CRYPT}" + stored, "Correct-Horse-9")
    assert not doveadm_verifies("{CRYPT}" + stored, "Correct-Horse-8")


def test_dovecot_refuses_bare_sha512crypt_which_is_why_it_is_written_with_a_prefix():
    result = doveadm_pw("-t", SHA512_ALICE, "-p", "Alice-pass-1")
    assert result.returncode != 0
    assert "Missing {scheme} prefix" in result.stderr
    assert doveadm_verifies("{CRYPT}" + SHA512_ALICE, "Alice-pass-1")


def test_dovecot_verifies_sha512crypt_with_configured_rounds(settings):
    settings.MAILADMIN_PASSWORD_ROUNDS = 10000
    stored = hash_password("Correct-Horse-9", "sha512crypt")
    assert "rounds=10000" in stored
    assert doveadm_verifies(stored, "Correct-Horse-9")


@pytest.mark.parametrize(
    "dovecot_scheme",
    ["MD5-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "SSHA", "SHA", "PLAIN-MD5", "PLAIN"],
)
def test_what_doveadm_writes_verifies_here(dovecot_scheme):
    result = doveadm_pw("-s", dovecot_scheme, "-p", "Dove-pw-7")
    assert result.returncode == 0, result.stderr
    stored = result.stdout.strip()
    assert verify_password("Dove-pw-7", stored), stored
    assert not verify_password("Dove-pw-8", stored), stored


@pytest.mark.parametrize("password", ["Sturdy\x00Pass-42", "Sturdy\nPass-42", "Sturdy\x7fPass-42"])
def test_a_password_with_control_characters_is_a_field_error_not_a_crash(password):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from mailboxes.rules import check_password

    with pytest.raises(ValidationError) as caught:
        validate_password(password)
    assert "control characters" in " ".join(caught.value.messages)
    with pytest.raises(ValidationError) as caught:
        check_password(password)
    assert set(caught.value.message_dict) == {"password1"}
