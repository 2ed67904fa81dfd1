"""The captcha of the public forms is one a person can pass: a large image of characters that
cannot be taken for one another, a new image on demand, a spoken version (flite and sox), and
a visible error when the answer is wrong (the browser side: tests/e2e/test_captcha_in_browser.py).
"""

from __future__ import annotations

import io
import re
import subprocess

import pytest
from captcha.models import CaptchaStore
from django.test import Client
from PIL import Image

from domains.models import Domain
from mailadmin.lib.captcha import READABLE_CHARACTERS, readable_challenge

NEW_PASSWORD = "Blue-Lantern-42"
LOOK_ALIKES = "0OQD1IL2Z5S6G8B"


@pytest.fixture
def real_captcha(settings, personas):
    settings.MAILADMIN_CAPTCHA_TEST_MODE = False
    Domain.objects.filter(pk="a.test").update(can_signup=True)


def captcha_of(html: str) -> dict[str, str]:
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', html).group(1)
    image = re.search(r'<img src="(/captcha/image/[0-9a-f]+/)"', html).group(1)
    audio = re.search(r'<audio[^>]* src="(/captcha/audio/[0-9a-f]+\.wav)"', html)
    refresh = re.search(r'data-captcha-refresh="([^"]+)"', html).group(1)
    return {
        "key": key,
        "image": image,
        "audio": audio.group(1) if audio else "",
        "refresh": refresh,
    }


@pytest.mark.parametrize("url", ["/signup/a.test/", "/account/forgot/"])
def test_the_image_is_large_and_shows_readable_characters(real_captcha, url):
    client = Client()
    captcha = captcha_of(client.get(url).content.decode())
    response = client.get(captcha["image"])
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    width, height = Image.open(io.BytesIO(response.content)).size
    assert width >= 200 and height >= 70  # the library's default was 92 x 37
    challenge = CaptchaStore.objects.get(hashkey=captcha["key"]).challenge
    assert len(challenge) == 5 and set(challenge) <= set(READABLE_CHARACTERS)


def test_challenges_never_use_look_alike_characters(settings):
    seen = set()
    for _ in range(500):
        shown, answer = readable_challenge()
        assert answer == shown.lower()
        seen |= set(shown)
    assert not seen & set(LOOK_ALIKES)
    assert seen == set(READABLE_CHARACTERS)


def test_a_new_image_can_be_asked_for(real_captcha):
    client = Client()
    page = client.get("/account/forgot/").content.decode()
    captcha = captcha_of(page)
    assert captcha["refresh"] == "/captcha/refresh/"
    assert 'href="" class="btn btn-sm btn-outline-secondary" data-captcha-refresh' in page
    response = client.get(captcha["refresh"], headers={"X-Requested-With": "XMLHttpRequest"})
    fresh = response.json()
    assert fresh["key"] != captcha["key"]
    assert client.get(fresh["image_url"]).status_code == 200
    # Without script, the link reloads the page, which shows a new challenge too.
    assert captcha_of(client.get("/account/forgot/").content.decode())["key"] != captcha["key"]


def test_the_characters_can_be_heard(real_captcha):
    client = Client()
    captcha = captcha_of(client.get("/signup/a.test/").content.decode())
    assert captcha["audio"], "no spoken captcha: is flite installed (scripts/bootstrap.sh)?"
    response = client.get(captcha["audio"])
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    sound = b"".join(response.streaming_content)
    assert sound[:4] == b"RIFF" and sound[8:12] == b"WAVE"
    # sox reads the file back: five spoken characters last more than a second.
    seconds = subprocess.run(
        ["sox", "--i", "-D", "-"], input=sound, capture_output=True, check=True
    ).stdout
    assert float(seconds) > 1.0


def forgot_post(client: Client, key: str, answer: str):
    return client.post(
        "/account/forgot/",
        {
            "username": "user@a.test",
            "answer": "fluffy",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "captcha_0": key,
            "captcha_1": answer,
        },
    )


def test_a_wrong_answer_gets_a_visible_field_error_and_says_why_the_passwords_are_gone(
    real_captcha,
):
    client = Client()
    key = captcha_of(client.get("/account/forgot/").content.decode())["key"]
    page = forgot_post(client, key, "WRONG").content.decode()
    error = re.search(
        r'<div id="id_captcha_error" class="invalid-feedback">(.*?)</div>', page, re.S
    )
    assert error and "The characters do not match" in error.group(1)
    assert 'id="div_id_captcha"' in page  # static/css/mailadmin.css shows its error
    assert 'data-testid="passwords-cleared"' in page
    assert "enter the password again" in page
    # A new challenge is shown; the old one cannot be tried again.
    assert captcha_of(page)["key"] != key
    assert not CaptchaStore.objects.filter(hashkey=key).exists()


def test_the_right_answer_passes(real_captcha):
    client = Client()
    key = captcha_of(client.get("/signup/a.test/").content.decode())["key"]
    answer = CaptchaStore.objects.get(hashkey=key).response
    response = client.post(
        "/signup/a.test/",
        {
            "local_part": "alice",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "captcha_0": key,
            "captcha_1": f" {answer.upper()} ",
        },
    )
    assert b"signup-received" in response.content
