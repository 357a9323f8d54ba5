"""Accounts: signing up (and switching it off), the login page's links, changing and resetting a
password with Django's own views, and a createsuperuser-made admin reaching /admin/."""

from __future__ import annotations

import io
import re

from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import Client

from tests.helpers import client_for

STRONG = "a long walk to Turku"


def sign_up(client: Client, **fields: str) -> object:
    data = {
        "username": "dora",
        "email": "dora@example.org",
        "password1": STRONG,
        "password2": STRONG,
    } | fields
    return client.post("/signup/", data)


def test_the_login_page_offers_sign_up_and_a_password_reset(db: None) -> None:
    html = Client().get("/login/").content.decode()
    assert 'href="/signup/"' in html
    assert '<a href="/password/reset/">Forgot your password?</a>' in html


def test_someone_signs_up_and_is_signed_in(db: None) -> None:
    client = Client()
    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/"
    dora = User.objects.get(username="dora")
    assert dora.email == "dora@example.org" and dora.check_password(STRONG)
    assert not dora.is_staff
    assert "Welcome, dora" in client.get("/").content.decode()


def test_sign_up_applies_the_password_validators_and_refuses_a_taken_address(
    people: dict[str, User],
) -> None:
    client = Client()
    mismatch = sign_up(client, password2=STRONG + "!")
    assert "The two password fields didn\u2019t match." in mismatch.content.decode()
    common = sign_up(client, password1="password", password2="password")
    assert "This password is too common." in common.content.decode()
    numeric = sign_up(client, password1="4815162342", password2="4815162342")
    assert "This password is entirely numeric." in numeric.content.decode()
    taken = sign_up(client, email="ALICE@example.org")
    assert taken.status_code == 400
    assert "An account with this e-mail address exists already" in taken.content.decode()
    assert not User.objects.filter(username="dora").exists()


def test_sign_up_switched_off_says_so_and_the_login_page_does_not_offer_it(
    db: None, settings: object
) -> None:
    settings.COLLOQUY_SIGNUP = False
    client = Client()
    page = client.get("/signup/")
    assert page.status_code == 200
    assert "Sign-up is switched off on this server." in page.content.decode()
    assert sign_up(client).status_code == 200
    assert not User.objects.filter(username="dora").exists()
    assert 'href="/signup/"' not in client.get("/login/").content.decode()


def test_a_signed_in_person_changes_their_password(people: dict[str, User]) -> None:
    assert Client().get("/password/change/")["Location"].startswith("/login/")
    alice = client_for(people["alice"])
    assert 'href="/password/change/"' in alice.get("/profile/").content.decode()
    wrong = alice.post(
        "/password/change/",
        {"old_password": "nope", "new_password1": STRONG, "new_password2": STRONG},
    )
    assert "Your old password was entered incorrectly." in wrong.content.decode()
    done = alice.post(
        "/password/change/",
        {"old_password": "pw-alice", "new_password1": STRONG, "new_password2": STRONG},
        follow=True,
    )
    assert "Password changed" in done.content.decode()
    people["alice"].refresh_from_db()
    assert people["alice"].check_password(STRONG)


def test_a_forgotten_password_is_reset_by_email(people: dict[str, User]) -> None:
    client = Client()
    sent = client.post("/password/reset/", {"email": "bob@example.org"}, follow=True)
    assert "Check your e-mail" in sent.content.decode()
    [message] = mail.outbox
    assert message.to == ["bob@example.org"]
    assert message.subject == "Reset your Colloquy password"
    link = re.search(r"http://testserver(/password/reset/\S+/\S+/)", message.body).group(1)

    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": STRONG, "new_password2": STRONG},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    people["bob"].refresh_from_db()
    assert people["bob"].check_password(STRONG)
    assert "This link does not work" in client.get(link, follow=True).content.decode()

    # An unknown address gets the same page and no e-mail.
    client.post("/password/reset/", {"email": "nobody@example.org"})
    assert len(mail.outbox) == 1


def test_a_createsuperuser_admin_reaches_the_admin_site(db: None, monkeypatch: object) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG)
    call_command(
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.org",
        stdout=io.StringIO(),
    )
    client = Client()
    assert (
        client.post(
            "/admin/login/?next=/admin/", {"username": "admin", "password": STRONG}
        ).status_code
        == 302
    )
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "Site administration" in page.content.decode()
    assert ">Users<" in page.content.decode()
    # An ordinary member is turned away.
    member = User.objects.create_user("bob", password=STRONG)
    assert client_for(member).get("/admin/").status_code == 302
