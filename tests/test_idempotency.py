"""Idempotency-Key on the coding endpoints: a request sent again with the same key by the same
person within a day gets the first answer back and writes nothing new."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from coding.idempotency import purge_expired
from coding.models import Code, Coding, IdempotencyKey
from studies.models import Document
from tests.helpers import client_for

CODINGS = "/api/v1/codings/"
BULK = "/api/v1/codings/bulk/"


def send(client: Client, method: str, url: str, data: object = None, key: str | None = None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json", headers=headers)


def span(document: Document, codes: dict[str, Code], words: str, code: str = "negotiability"):
    start = document.text.index(words)
    return {
        "document": document.pk,
        "code": codes[code].pk,
        "start": start,
        "end": start + len(words),
    }


@pytest.fixture
def bob(people: dict[str, User]) -> Client:
    return client_for(people["bob"])


def test_a_post_sent_again_with_its_key_answers_the_first_answer_and_writes_nothing(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    body = span(document, codes, "voi valittaa")

    first = send(bob, "post", CODINGS, body, key="k-1")
    again = send(bob, "post", CODINGS, body, key="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Coding.objects.count() == 1
    assert IdempotencyKey.objects.get().status == 201


def test_the_first_answer_comes_back_even_after_the_coding_was_removed(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    body = span(document, codes, "voi valittaa")
    first = send(bob, "post", CODINGS, body, key="create-1")
    assert send(bob, "delete", f"{CODINGS}{first.json()['id']}/").status_code == 204

    again = send(bob, "post", CODINGS, body, key="create-1")

    assert (again.status_code, again.json()) == (201, first.json())
    assert not Coding.objects.exists()


def test_a_repeated_delete_answers_the_first_204_not_404(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    created = send(bob, "post", CODINGS, span(document, codes, "voi valittaa")).json()
    url = f"{CODINGS}{created['id']}/"

    first = send(bob, "delete", url, key="remove-1")
    again = send(bob, "delete", url, key="remove-1")
    without_key = send(bob, "delete", url)

    assert (first.status_code, again.status_code) == (204, 204)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert without_key.status_code == 404
    assert not Coding.objects.exists()


def test_a_bulk_request_sent_again_writes_nothing_new(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    items = [
        span(document, codes, "voi valittaa"),
        span(document, codes, "voi valittaa", code="explainability"),
    ]
    first = send(bob, "post", BULK, {"codings": items}, key="bulk-1")
    Coding.objects.filter(code=codes["explainability"]).delete()

    again = send(bob, "post", BULK, {"codings": items}, key="bulk-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert len(first.json()["created"]) == 2
    assert list(Coding.objects.values_list("code", flat=True)) == [codes["negotiability"].pk]


def test_the_same_key_with_another_body_is_refused_and_writes_nothing(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    send(bob, "post", CODINGS, span(document, codes, "voi valittaa"), key="k-2")

    other = send(bob, "post", CODINGS, span(document, codes, "voi"), key="k-2")

    assert other.status_code == 422
    assert other.json()["detail"] == (
        "This Idempotency-Key was already used for POST /api/v1/codings/ with a different "
        "body; send a new key with a new request."
    )
    assert other.json()["code"] == "idempotency_key_reused"
    assert Coding.objects.count() == 1


def test_the_same_key_on_another_endpoint_is_refused(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    created = send(bob, "post", CODINGS, span(document, codes, "voi valittaa"), key="k-3")

    removed = send(bob, "delete", f"{CODINGS}{created.json()['id']}/", key="k-3")

    assert removed.status_code == 422
    assert "already used for POST /api/v1/codings/;" in removed.json()["detail"]
    assert Coding.objects.count() == 1


def test_the_same_json_in_another_order_and_spacing_is_the_same_request(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    body = span(document, codes, "voi valittaa")
    first = send(bob, "post", CODINGS, body, key="k-4")
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)

    again = bob.post(
        CODINGS, reordered, content_type="application/json", headers={"Idempotency-Key": "k-4"}
    )

    assert (again.status_code, again.json()) == (201, first.json())


def test_a_refusal_keeps_nothing_so_the_key_can_be_sent_again(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    body = span(document, codes, "voi valittaa")
    refused = send(bob, "post", CODINGS, {**body, "end": 10_000}, key="k-5")
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()

    # The same (still wrong) request with the key is checked again, not replayed.
    assert send(bob, "post", CODINGS, {**body, "end": 10_000}, key="k-5").status_code == 400
    # Corrected, it is another body: still no first answer under the key, so it is done.
    assert send(bob, "post", CODINGS, body, key="k-5").status_code == 201
    assert Coding.objects.count() == 1


def test_keys_are_each_persons_own(
    document: Document, codes: dict[str, Code], people: dict[str, User], bob: Client
) -> None:
    body = span(document, codes, "voi valittaa")

    bobs = send(bob, "post", CODINGS, body, key="same")
    alices = send(client_for(people["alice"]), "post", CODINGS, body, key="same")

    assert (bobs.status_code, alices.status_code) == (201, 201)
    assert (bobs.json()["coder"], alices.json()["coder"]) == ("bob", "alice")
    assert Coding.objects.count() == 2


def test_a_key_older_than_a_day_is_ignored_and_used_again(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    body = span(document, codes, "voi valittaa")
    first = send(bob, "post", CODINGS, body, key="old")
    Coding.objects.all().delete()
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(days=1, minutes=1))

    again = send(bob, "post", CODINGS, body, key="old")

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    assert Coding.objects.count() == 1
    assert IdempotencyKey.objects.get().created_at > timezone.now() - dt.timedelta(minutes=1)


def test_purge_expired_deletes_only_keys_older_than_a_day(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    send(bob, "post", CODINGS, span(document, codes, "voi valittaa"), key="fresh")
    send(bob, "post", CODINGS, span(document, codes, "voi"), key="stale")
    IdempotencyKey.objects.filter(key="stale").update(
        created_at=timezone.now() - dt.timedelta(days=2)
    )

    assert purge_expired() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.parametrize("key", ["", "has space", "ä", "x" * 256])
def test_a_malformed_key_is_refused_naming_the_header(
    document: Document, codes: dict[str, Code], bob: Client, key: str
) -> None:
    response = send(bob, "post", CODINGS, span(document, codes, "voi valittaa"), key=key)

    assert response.status_code == 400
    assert "The Idempotency-Key header must be 1 to 255" in response.json()["Idempotency-Key"][0]
    assert not Coding.objects.exists()


def test_without_a_key_the_key_table_is_not_touched_and_with_one_it_costs_one_insert(
    document: Document, codes: dict[str, Code], bob: Client
) -> None:
    table = IdempotencyKey._meta.db_table
    with CaptureQueriesContext(connection) as plain:
        send(bob, "post", CODINGS, span(document, codes, "voi valittaa"))
    with CaptureQueriesContext(connection) as keyed:
        send(bob, "post", CODINGS, span(document, codes, "voi"), key="k-6")

    assert not [q for q in plain.captured_queries if table in q["sql"]]
    touching = [q["sql"] for q in keyed.captured_queries if table in q["sql"]]
    assert len(touching) == 1 and touching[0].startswith("INSERT")
