"""Personal API tokens: the token endpoint, `Authorization: Token`, revoking, the profile page,
and the API's error bodies."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from coding.models import Code
from studies.models import APIToken, Document, Study
from tests.helpers import client_for

TOKEN_URL = "/api/v1/auth/token/"
CODINGS = "/api/v1/codings/"


@pytest.fixture
def code(roster_study: Study) -> Code:
    return Code.objects.create(study=roster_study, name="negotiability")


def with_token(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {secret}")


def post_json(client: Client, url: str, data: dict) -> object:
    return client.post(url, json.dumps(data), content_type="application/json")


# --- The token endpoint ---------------------------------------------------------------------


def test_the_endpoint_issues_a_token_and_keeps_only_its_hash(people: dict[str, User]) -> None:
    response = post_json(
        Client(), TOKEN_URL, {"username": "bob", "password": "pw-bob", "name": "laptop"}
    )

    assert response.status_code == 201
    body = response.json()
    secret = body["token"]
    assert secret.startswith("clq_") and len(secret) > 40
    assert body["name"] == "laptop" and body["prefix"] == secret[:8]
    token = APIToken.objects.get(user=people["bob"])
    assert token.key_hash == APIToken.hash_of(secret) != secret
    stored = [str(v) for v in APIToken.objects.values_list().get()]
    assert not any(secret in value or secret[8:] in value for value in stored)


def test_each_call_makes_a_new_token_with_a_default_name(people: dict[str, User]) -> None:
    first = post_json(Client(), TOKEN_URL, {"username": "bob", "password": "pw-bob"}).json()
    second = post_json(Client(), TOKEN_URL, {"username": "bob", "password": "pw-bob"}).json()

    assert first["token"] != second["token"]
    assert APIToken.objects.filter(user=people["bob"]).count() == 2
    assert first["name"] == "API token"


def test_the_endpoint_accepts_a_form_post(people: dict[str, User]) -> None:
    response = Client().post(
        TOKEN_URL,
        urlencode({"username": "bob", "password": "pw-bob"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201


def test_bad_credentials_get_the_same_400_whichever_part_is_wrong(
    people: dict[str, User],
) -> None:
    wrong_password = post_json(Client(), TOKEN_URL, {"username": "bob", "password": "nope"})
    unknown_user = post_json(Client(), TOKEN_URL, {"username": "nobody", "password": "pw-bob"})

    assert wrong_password.status_code == unknown_user.status_code == 400
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json() == {
        "non_field_errors": ["Unable to log in with these credentials."]
    }
    assert not APIToken.objects.exists()


def test_the_endpoint_names_missing_fields(db: None) -> None:
    response = post_json(Client(), TOKEN_URL, {"username": "bob"})
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}


# --- Authorization: Token -------------------------------------------------------------------


def test_a_token_reads_codings_as_its_owner(document: Document, people: dict[str, User]) -> None:
    _token, secret = APIToken.issue(user=people["bob"], name="script")

    response = with_token(secret).get(CODINGS, {"document": document.pk})

    assert response.status_code == 200
    assert response.json() == []


def test_a_token_creates_a_coding_without_csrf_and_the_coder_is_its_owner(
    document: Document, code: Code, people: dict[str, User]
) -> None:
    _token, secret = APIToken.issue(user=people["bob"], name="script")
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {secret}")

    response = post_json(
        client, CODINGS, {"document": document.pk, "code": code.pk, "start": 0, "end": 10}
    )

    assert response.status_code == 201
    assert response.json()["coder"] == "bob"


def test_last_used_is_recorded_at_most_once_a_minute(
    document: Document, people: dict[str, User]
) -> None:
    token, secret = APIToken.issue(user=people["bob"], name="script")
    assert token.last_used_at is None

    with_token(secret).get(CODINGS, {"document": document.pk})
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None

    with_token(secret).get(CODINGS, {"document": document.pk})
    token.refresh_from_db()
    assert token.last_used_at == first_use

    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    APIToken.objects.filter(pk=token.pk).update(last_used_at=an_hour_ago)
    with_token(secret).get(CODINGS, {"document": document.pk})
    token.refresh_from_db()
    assert token.last_used_at > first_use


def test_a_revoked_token_gets_401_saying_it_was_revoked(
    document: Document, people: dict[str, User]
) -> None:
    token, secret = APIToken.issue(user=people["bob"], name="script")
    token.revoke()

    response = with_token(secret).get(CODINGS, {"document": document.pk})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "detail": (
            f"This token ({token.prefix}…) was revoked; make a new one on your profile page."
        ),
        "code": "authentication_failed",
    }


@pytest.mark.parametrize(
    "header",
    ["Token clq_not-a-real-token", "Token", "Token two parts", "token clq_lowercase-keyword"],
)
def test_a_wrong_or_malformed_token_gets_401(
    document: Document, people: dict[str, User], header: str
) -> None:
    APIToken.issue(user=people["bob"], name="script")

    response = Client(HTTP_AUTHORIZATION=header).get(CODINGS, {"document": document.pk})

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_an_inactive_users_token_gets_401(document: Document, people: dict[str, User]) -> None:
    _token, secret = APIToken.issue(user=people["bob"], name="script")
    User.objects.filter(pk=people["bob"].pk).update(is_active=False)

    assert with_token(secret).get(CODINGS, {"document": document.pk}).status_code == 401


def test_anonymous_gets_401_with_a_code(document: Document) -> None:
    response = Client().get(CODINGS, {"document": document.pk})

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


# --- Error bodies ---------------------------------------------------------------------------


def test_an_outsiders_token_gets_404_with_a_code(
    document: Document, people: dict[str, User]
) -> None:
    _token, secret = APIToken.issue(user=people["mallory"], name="script")

    response = with_token(secret).get(CODINGS, {"document": document.pk})

    assert response.status_code == 404
    assert response.json() == {"detail": "No such study.", "code": "not_found"}


def test_a_viewer_writing_gets_403_with_a_code(
    document: Document, code: Code, people: dict[str, User]
) -> None:
    _token, secret = APIToken.issue(user=people["victor"], name="script")

    response = post_json(
        with_token(secret),
        CODINGS,
        {"document": document.pk, "code": code.pk, "start": 0, "end": 10},
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the coder role.", "code": "permission_denied"}


def test_validation_errors_keep_their_field_shape(
    document: Document, code: Code, people: dict[str, User]
) -> None:
    response = post_json(
        client_for(people["bob"]),
        CODINGS,
        {"document": document.pk, "code": code.pk, "start": 10, "end": 5},
    )

    assert response.status_code == 400
    assert response.json() == {"end": ["end must be greater than start."]}


# --- The profile page -----------------------------------------------------------------------


def test_the_profile_page_asks_anonymous_to_log_in(db: None) -> None:
    response = Client().get("/profile/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_top_bar_links_to_the_profile(people: dict[str, User]) -> None:
    page = client_for(people["bob"]).get("/")
    assert b'href="/profile/"' in page.content


def test_a_token_made_on_the_profile_page_is_shown_once_and_works(
    document: Document, people: dict[str, User]
) -> None:
    bob = client_for(people["bob"])

    made = bob.post("/profile/", {"name": "analysis laptop"})

    assert made.status_code == 200
    secret = made.context["new_secret"]
    assert secret.startswith("clq_")
    assert secret.encode() in made.content
    assert b"Copy it now: it won't be shown again." in made.content
    token = APIToken.objects.get(user=people["bob"])
    assert token.name == "analysis laptop" and token.key_hash == APIToken.hash_of(secret)

    later = bob.get("/profile/")
    assert secret.encode() not in later.content
    assert b"analysis laptop" in later.content and token.prefix.encode() in later.content
    assert with_token(secret).get(CODINGS, {"document": document.pk}).status_code == 200


def test_a_token_needs_a_name(people: dict[str, User]) -> None:
    response = client_for(people["bob"]).post("/profile/", {"name": ""})

    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert not APIToken.objects.exists()


def test_the_profile_lists_only_my_tokens(people: dict[str, User]) -> None:
    APIToken.issue(user=people["bob"], name="bobs script")
    APIToken.issue(user=people["alice"], name="alices script")

    page = client_for(people["bob"]).get("/profile/")

    assert b"bobs script" in page.content and b"alices script" not in page.content


def test_revoking_asks_first_naming_the_token_then_stops_it(
    document: Document, people: dict[str, User]
) -> None:
    token, secret = APIToken.issue(user=people["bob"], name="old laptop")
    bob = client_for(people["bob"])
    url = f"/profile/tokens/{token.pk}/revoke/"

    confirm = bob.get(url)
    assert confirm.status_code == 200
    assert b"old laptop" in confirm.content and token.prefix.encode() in confirm.content
    assert b"will stop working" in confirm.content
    token.refresh_from_db()
    assert token.is_active

    revoked = bob.post(url, follow=True)
    assert revoked.redirect_chain == [("/profile/", 302)]
    assert "Revoked “old laptop”" in revoked.content.decode()
    token.refresh_from_db()
    assert not token.is_active
    assert with_token(secret).get(CODINGS, {"document": document.pk}).status_code == 401


def test_another_users_token_does_not_exist_for_me(people: dict[str, User]) -> None:
    token, _secret = APIToken.issue(user=people["alice"], name="alices script")
    url = f"/profile/tokens/{token.pk}/revoke/"
    mallory = client_for(people["mallory"])

    assert mallory.get(url).status_code == 404
    assert mallory.post(url).status_code == 404
    token.refresh_from_db()
    assert token.is_active
