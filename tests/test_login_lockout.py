"""Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from
one address, that pair must wait AXES_COOLOFF_MINUTES, on the login page and on the API's token
endpoint alike; the page says when to try again, the endpoint answers JSON."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db


def fail_logins(client: Client, username: str, times: int, **extra: str) -> list[object]:
    return [
        client.post("/login/", {"username": username, "password": "wrong"}, **extra)
        for _ in range(times)
    ]


def test_four_failures_are_only_failures(people: dict[str, User]) -> None:
    responses = fail_logins(Client(), "alice", 4)

    assert [r.status_code for r in responses] == [200] * 4
    assert "Please try again" in responses[-1].content.decode()


def test_the_fifth_failure_locks_the_username_out_and_says_when_to_come_back(
    people: dict[str, User],
) -> None:
    client = Client()
    *_, fifth = fail_logins(client, "alice", 5)

    assert fifth.status_code == 429
    page = fifth.content.decode()
    assert "Too many failed logins" in page
    assert "paused for 15 minutes" in page
    shown = re.search(r"Try again after <strong>(\d\d):(\d\d) \(UTC\)</strong>", page)
    assert shown, page
    until = timezone.localtime(timezone.now() + dt.timedelta(minutes=15))
    hour, minute = int(shown[1]), int(shown[2])
    # Within the minute the page was made (the clock may tick over between the two).
    assert (until.hour * 60 + until.minute - (hour * 60 + minute)) % (24 * 60) in (0, 1)
    assert fifth["Retry-After"] == "900"
    # Even the right password is refused until the cool-off is over.
    right = client.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_for_that_username_from_that_address(people: dict[str, User]) -> None:
    fail_logins(Client(), "alice", 5, REMOTE_ADDR="203.0.113.7")

    # Bob on the same network logs in; Alice from elsewhere too.
    bob = Client()
    assert (
        bob.post(
            "/login/", {"username": "bob", "password": "pw-bob"}, REMOTE_ADDR="203.0.113.7"
        ).status_code
        == 302
    )
    alice = Client()
    assert (
        alice.post(
            "/login/", {"username": "alice", "password": "pw-alice"}, REMOTE_ADDR="198.51.100.2"
        ).status_code
        == 302
    )


def test_after_the_cool_off_the_right_password_works_again(people: dict[str, User]) -> None:
    client = Client()
    fail_logins(client, "alice", 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))

    response = client.post("/login/", {"username": "alice", "password": "pw-alice"})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(people["alice"].pk)


def test_a_success_clears_the_count(people: dict[str, User]) -> None:
    client = Client()
    fail_logins(client, "alice", 4)
    assert client.post("/login/", {"username": "alice", "password": "pw-alice"}).status_code == 302
    client.post("/logout/")

    assert [r.status_code for r in fail_logins(client, "alice", 4)] == [200] * 4


def test_the_token_endpoint_counts_failures_and_answers_json_when_locked(
    people: dict[str, User],
) -> None:
    client = Client()
    bad = {"username": "bob", "password": "nope"}
    answers = [
        client.post("/api/v1/auth/token/", bad, content_type="application/json") for _ in range(5)
    ]

    assert [a.status_code for a in answers[:4]] == [400] * 4
    locked = answers[4]
    assert locked.status_code == 429
    assert locked["Content-Type"] == "application/json"
    body = locked.json()
    assert body["code"] == "locked_out"
    assert body["retry_after_seconds"] == 900
    assert body["detail"].startswith("Too many failed logins for this username")
    # The right password gets no token meanwhile.
    good = client.post(
        "/api/v1/auth/token/",
        {"username": "bob", "password": "pw-bob"},
        content_type="application/json",
    )
    assert good.status_code == 429
    assert "token" not in good.json()


def test_failures_on_the_page_and_the_endpoint_add_up(people: dict[str, User]) -> None:
    client = Client()
    fail_logins(client, "victor", 3)
    for _ in range(2):
        last = client.post(
            "/api/v1/auth/token/",
            {"username": "victor", "password": "nope"},
            content_type="application/json",
        )

    assert last.status_code == 429
    assert client.post("/login/", {"username": "victor", "password": "pw-victor"}).status_code == (
        429
    )


def test_logging_in_in_tests_keeps_working(people: dict[str, User]) -> None:
    # force_login (what the suite uses) goes past the authentication backends.
    client = Client()
    client.force_login(people["mallory"])

    assert client.get("/").status_code == 200
