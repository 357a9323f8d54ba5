"""A NUL character (U+0000) in what a request sends is refused with a 400 naming where it is.

PostgreSQL cannot compare or store one in text: before this rule, `?layer=`, `?coder=` or
`?person=` holding one, or a memo whose study slug held one, were server errors there (found by
the API fuzz test), while SQLite answered. These run on both databases."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from coding.models import Memo
from studies.models import Document, Study
from studies.nul import nul_at
from tests.helpers import client_for, db_snapshot
from tests.test_transcript_import import FI_TXT

# Every one of these was a 500 on PostgreSQL.
QUERIES = [
    "/studies/adm/exports/?table=frequencies&layer=a%00",
    "/api/v1/studies/adm/exports/frequencies/?layer=a%00",
    "/api/v1/codings/?coder=a%00",
    "/studies/adm/audit/?person=a%00",
    "/api/v1/studies/adm/audit/?person=a%00",
]


@pytest.mark.parametrize("url", QUERIES)
def test_a_nul_in_a_query_parameter_is_refused_naming_the_parameter(
    document: Document, people: dict[str, User], url: str
) -> None:
    client = Client()
    client.force_login(people["alice"])
    response = client.get(url)
    assert response.status_code == 400
    name = url.split("&")[-1].split("?")[-1].split("=")[0]
    expected = (
        f"The query parameter '{name}' holds a NUL character (\\u0000), which no field accepts."
    )
    if url.startswith("/api/"):
        assert response.json() == {"detail": expected, "code": "parse_error"}
    else:
        assert response.content.decode() == expected
        assert response["Content-Type"].startswith("text/plain")


def test_a_nul_in_a_parameters_name_is_shown_written_out(study: Study, people: dict) -> None:
    client = client_for(people["alice"])
    response = client.get("/api/v1/studies/?a%00b=1")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The query parameter 'a\\u0000b' holds")


def test_a_nul_in_a_json_body_is_refused_naming_where_and_nothing_is_written(
    study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["bob"])
    before = db_snapshot()
    response = client.post(
        "/api/v1/memos/", {"study": "a\x00dm", "text": "A note"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body at 'study' holds a NUL character (\\u0000), which no field "
        "accepts.",
        "code": "parse_error",
    }
    assert db_snapshot() == before
    # Without it the same memo is written.
    fine = client.post(
        "/api/v1/memos/", {"study": "adm", "text": "A note"}, content_type="application/json"
    )
    assert fine.status_code == 201 and Memo.objects.get().text == "A note"


def test_the_path_to_a_nul_names_lists_and_objects() -> None:
    assert nul_at({"codings": [{"text": "ok"}, {"start": 1, "text": "a\x00"}]}) == (
        "codings[1].text"
    )
    assert nul_at(["fine", {"a\x00": 1}]) == "[1].a\\u0000"
    assert nul_at("\x00") == ""
    assert nul_at({"a": [1, 2.5, None, True, "b"]}) is None


def test_a_nul_in_a_form_field_is_refused(study: Study, people: dict[str, User]) -> None:
    # As a browser sends a form.
    response = Client().post(
        "/login/",
        urlencode({"username": "ali\x00ce", "password": "pw-alice"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert response.content.decode() == (
        "The form field 'username' holds a NUL character (\\u0000), which no field accepts."
    )


def test_a_multipart_text_field_with_a_nul_is_refused_but_a_file_may_hold_one(
    roster_study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["alice"])
    url = "/api/v1/studies/adm/imports/transcripts/"
    upload = SimpleUploadedFile("FI-1.txt", FI_TXT.encode(), content_type="text/plain")
    refused = client.post(url, {"workshop": "FI\x00-1", "files": [upload]})
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("The request body at 'workshop' holds a NUL")
    # A file's bytes are the importer's to judge: a binary file reaches it and is refused there.
    binary = SimpleUploadedFile("FI-1.txt", b"\x00\x01\x02" * 50, content_type="text/plain")
    judged = client.post(url, {"workshop": "FI-1", "files": [binary]})
    assert judged.status_code == 400
    assert "NUL character" not in judged.content.decode()
