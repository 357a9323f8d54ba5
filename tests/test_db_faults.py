"""The database restarting while people code (simulated by terminating every connection to the
test database; the server itself is never touched). The next request either succeeds, because
Django reconnects, or gets a clean 503 JSON answer; sent again with its Idempotency-Key it
succeeds, and nothing is saved twice."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections

from coding import api
from coding.models import Code, Coding
from studies.models import Document
from tests.helpers import client_for
from tests.test_concurrency_pg import Server, Team, postgresql, server, team  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

TERMINATE_OTHERS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def terminate_other_connections() -> int:
    """What a database restart does to every connection but the test's own."""
    with connection.cursor() as cursor:
        cursor.execute(TERMINATE_OTHERS)
        return cursor.fetchone()[0]


def test_a_request_whose_connection_dies_answers_503_json_and_its_retry_saves_once(
    postgresql: None,  # noqa: F811
    document: Document,
    codes: dict[str, Code],
    people: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write = api.write
    killed = []

    def write_on_a_dead_connection(*args: object, **kwargs: object) -> object:
        if not killed:
            # The request's connection is cut just before it writes, as in a restart.
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            killed.append(pid)
            with _another_connection() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        return real_write(*args, **kwargs)

    monkeypatch.setattr(api, "write", write_on_a_dead_connection)
    bob = client_for(people["bob"])
    start = document.text.index("voi valittaa")
    body = json.dumps(
        {
            "document": document.pk,
            "code": codes["negotiability"].pk,
            "start": start,
            "end": start + 12,
        }
    )
    headers = {"Idempotency-Key": "after-a-restart"}

    failed = bob.post("/api/v1/codings/", body, content_type="application/json", headers=headers)

    assert failed.status_code == 503
    assert failed["Content-Type"] == "application/json"
    assert failed.json()["code"] == "database_unavailable"
    assert failed.json()["detail"].startswith("The database was unavailable")
    assert failed["Retry-After"] == "1"

    again = bob.post("/api/v1/codings/", body, content_type="application/json", headers=headers)
    repeated = bob.post("/api/v1/codings/", body, content_type="application/json", headers=headers)

    assert len(killed) == 1
    assert again.status_code == repeated.status_code == 201
    assert repeated.json() == again.json()
    assert Coding.objects.count() == 1


class _another_connection:
    """A short-lived second connection to the test database, for pg_terminate_backend."""

    def __enter__(self) -> object:
        self.wrapper = connections.create_connection("default")
        self.cursor = self.wrapper.cursor()
        return self.cursor

    def __exit__(self, *exc: object) -> None:
        self.cursor.close()
        self.wrapper.close()


def test_a_coder_working_through_repeated_restarts_loses_and_doubles_nothing(
    server: Server,  # noqa: F811
    team: Team,  # noqa: F811
) -> None:
    token = next(iter(team.tokens.values()))
    acknowledged: dict[int, tuple] = {}
    unavailable: list[object] = []
    problems: list[str] = []
    done = threading.Event()

    def send_until_done(method: str, path: str, body: object = None) -> tuple[int, object]:
        key = str(uuid.uuid4())
        for _attempt in range(50):
            status, answer = server.request(method, path, token, body, key)
            if status != 503:
                return status, answer
            unavailable.append(answer)
            time.sleep(0.05)
        return status, answer

    def code_away() -> None:
        try:
            for n in range(150):
                body = {
                    "document": team.documents[n % 3],
                    "code": team.codes[n % 5],
                    "start": n,
                    "end": n + 20,
                }
                status, answer = send_until_done("POST", "/api/v1/codings/", body)
                if status != 201:
                    problems.append(f"create {body}: {status} {answer}")
                    continue
                acknowledged[answer["id"]] = (answer["document"], answer["start"])
                if n % 4 == 0:
                    status, answer = send_until_done("DELETE", f"/api/v1/codings/{answer['id']}/")
                    if status != 204:
                        problems.append(f"delete: {status} {answer}")
                        continue
                    acknowledged.popitem()
        finally:
            done.set()

    coder = threading.Thread(target=code_away)
    coder.start()
    terminated = 0
    while not done.wait(0.15):
        terminated += terminate_other_connections()
    coder.join()

    assert problems == []
    assert terminated > 0
    # Every failure was the API's clean answer, never an HTML error page.
    assert all(
        isinstance(answer, dict) and answer["code"] == "database_unavailable"
        for answer in unavailable
    ), unavailable
    rows = Coding.objects.filter(document__study=team.study).values_list("pk", "document", "start")
    assert {pk: (document, start) for pk, document, start in rows} == acknowledged
    assert len(acknowledged) == 150 - len(range(0, 150, 4))
