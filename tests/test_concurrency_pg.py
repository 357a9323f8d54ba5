"""Twenty coders at once on PostgreSQL, through gunicorn as in production: each creates 500
codings in shared documents and removes some of them, sends some requests twice with the same
Idempotency-Key, and often codes the very span another coder codes. At the end the database
holds exactly what the server acknowledged: every coding answered 201 and not removed with a
204, nothing else, no duplicates, and no answer was a 5xx."""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection

from coding.models import Code, Coding, IdempotencyKey
from studies.models import Document, Membership, Study
from studies.tokens import issue_token
from tests.helpers import require_postgresql

ROOT = Path(__file__).resolve().parents[1]
CODERS = 20
CREATES = 500  # per coder
BULK = 8  # codings per bulk request: most of them come in bulk, to keep the test quick
TEXT = "".join(f"Sentence {n} says something about hiring and machines. " for n in range(60))

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgresql() -> None:
    require_postgresql("concurrent writers")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """gunicorn serving the project on the test database, from another process."""

    port: int
    process: subprocess.Popen

    def request(
        self, method: str, path: str, token: str, body: object = None, key: str | None = None
    ) -> tuple[int, object]:
        headers = {"Authorization": f"Token {token}", "Host": "127.0.0.1"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None, headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        content_type = response.getheader("Content-Type") or ""
        if raw and content_type.startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw.decode(errors="replace")


@pytest.fixture
def server(postgresql: None) -> Iterator[Server]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DEBUG="0",
        SECRET_KEY=settings.SECRET_KEY or "test-key",
        ALLOWED_HOSTS="127.0.0.1",
    )
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(2 * (os.cpu_count() or 2) + 1),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start")
                time.sleep(0.1)
        yield Server(port, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass
class Team:
    study: Study
    documents: list[int]
    codes: list[int]
    tokens: dict[str, str] = field(default_factory=dict)  # username -> token


@pytest.fixture
def team(postgresql: None) -> Team:
    study = Study.objects.create(slug="busy", name="Twenty coders")
    documents = [
        Document.objects.create(study=study, title=f"Session {n}", language="en", text=TEXT)
        for n in range(3)
    ]
    codes = [Code.objects.create(study=study, name=f"code {n}") for n in range(5)]
    team = Team(study, [d.pk for d in documents], [c.pk for c in codes])
    for n in range(CODERS):
        user = User.objects.create_user(f"coder{n:02}")
        Membership.objects.create(study=study, user=user, role="coder")
        team.tokens[user.username] = issue_token(user, name="concurrency")[1]
    return team


@dataclass
class Coder:
    """One coder's work and what the server acknowledged to them."""

    name: str
    token: str
    live: dict[int, tuple] = field(default_factory=dict)  # id -> (document, code, start, end)
    problems: list[str] = field(default_factory=list)
    requests: int = 0


def span(rng: random.Random, team: Team) -> dict[str, int]:
    # Few places, so that coders often code the same span as another coder (or themselves).
    start = rng.randrange(0, 60) * 50
    return {
        "document": rng.choice(team.documents),
        "code": rng.choice(team.codes),
        "start": start,
        "end": start + rng.choice((10, 40)),
    }


def key_of(item: dict) -> tuple:
    return (item["document"], item["code"], item["start"], item["end"])


def work(server: Server, team: Team, coder: Coder, seed: int) -> None:
    rng = random.Random(seed)

    def send(method: str, path: str, body: object = None, key: str | None = None):
        coder.requests += 1
        status, answer = server.request(method, path, coder.token, body, key)
        if status >= 500:
            coder.problems.append(f"{method} {path}: {status} {answer}")
        return status, answer

    def acknowledge(status: int, coding: dict) -> None:
        if status == 201:
            if coding["id"] in coder.live:
                coder.problems.append(f"201 for a coding already acknowledged: {coding}")
            coder.live[coding["id"]] = key_of(coding)
        elif coding["id"] not in coder.live or coder.live[coding["id"]] != key_of(coding):
            coder.problems.append(f"an 'existing' coding never acknowledged: {coding}")

    created = 0
    while created < CREATES:
        key = str(uuid.uuid4())
        if rng.random() < 0.4 and CREATES - created >= BULK:
            items = [span(rng, team) for _ in range(BULK)]
            status, answer = send("POST", "/api/v1/codings/bulk/", {"codings": items}, key)
            if status != 201:
                coder.problems.append(f"bulk: {status} {answer}")
                continue
            for coding in answer["created"]:
                acknowledge(201, coding)
            for coding in answer["existing"]:
                acknowledge(200, coding)
            created += BULK
            path, body, first = "/api/v1/codings/bulk/", {"codings": items}, (status, answer)
        else:
            body = span(rng, team)
            status, answer = send("POST", "/api/v1/codings/", body, key)
            if status not in (200, 201):
                coder.problems.append(f"create: {status} {answer}")
                continue
            acknowledge(status, answer)
            created += 1
            path, first = "/api/v1/codings/", (status, answer)
        if rng.random() < 0.1:
            # The answer was lost: the same request again, with the same key.
            again = send("POST", path, body, key)
            if again != first:
                coder.problems.append(f"a repeated request answered {again}, first {first}")
        if coder.live and rng.random() < 0.5:
            victim = rng.choice(sorted(coder.live))
            key = str(uuid.uuid4())
            status, answer = send("DELETE", f"/api/v1/codings/{victim}/", key=key)
            if status != 204:
                coder.problems.append(f"delete {victim}: {status} {answer}")
                continue
            del coder.live[victim]
            if rng.random() < 0.3:
                again = send("DELETE", f"/api/v1/codings/{victim}/", key=key)
                if again[0] != 204:
                    coder.problems.append(f"a repeated delete answered {again}")


def test_twenty_coders_at_once_leave_exactly_what_was_acknowledged(
    server: Server, team: Team
) -> None:
    coders = [Coder(name, token) for name, token in team.tokens.items()]
    threads = [
        threading.Thread(target=work, args=(server, team, coder, seed))
        for seed, coder in enumerate(coders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [p for coder in coders for p in coder.problems] == []
    rows = list(
        Coding.objects.filter(document__study=team.study).values_list(
            "pk", "coder__username", "document", "code", "start", "end"
        )
    )
    in_database = {pk: (name, *place) for pk, name, *place in rows}
    acknowledged = {
        pk: (coder.name, *place) for coder in coders for pk, place in coder.live.items()
    }
    assert in_database == acknowledged
    # No coder holds the same span and code twice, whoever else coded it too.
    assert len(set(in_database.values())) == len(in_database)
    shared = {place[1:] for place in in_database.values()}
    assert len(shared) < len(in_database), "no two coders ever coded the same span"


def test_the_same_request_twice_at_once_with_one_key_is_done_once(
    server: Server, team: Team
) -> None:
    token = next(iter(team.tokens.values()))
    for n in range(20):
        body = {"document": team.documents[0], "code": team.codes[n % 5], "start": n, "end": 99}
        key = str(uuid.uuid4())
        gate = threading.Barrier(2)
        answers: list[tuple[int, object]] = []

        def send(
            body: dict = body,
            key: str = key,
            gate: threading.Barrier = gate,
            answers: list = answers,
        ) -> None:
            gate.wait()
            answers.append(server.request("POST", "/api/v1/codings/", token, body, key))

        pair = [threading.Thread(target=send) for _ in range(2)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()

        assert [status for status, _answer in answers] == [201, 201]
        assert answers[0][1] == answers[1][1]
    assert Coding.objects.filter(document__study=team.study).count() == 20
    assert IdempotencyKey.objects.count() == 20


def test_one_coder_saving_the_same_codings_from_two_tabs_at_once_gets_each_once(
    server: Server, team: Team
) -> None:
    """Without a shared key: the unique constraint decides; one request creates, the other
    finds the coding existing, in whatever order the two bulk requests list them."""
    token = next(iter(team.tokens.values()))
    items = [
        {"document": team.documents[n % 3], "code": team.codes[n % 5], "start": n, "end": 50}
        for n in range(40)
    ]
    for round_ in range(5):
        gate = threading.Barrier(2)
        answers: list[tuple[int, object]] = []

        def send(
            items: list = items, gate: threading.Barrier = gate, answers: list = answers
        ) -> None:
            gate.wait()
            answers.append(server.request("POST", "/api/v1/codings/bulk/", token, items))

        tabs = [threading.Thread(target=send), threading.Thread(target=send, args=(items[::-1],))]
        for thread in tabs:
            thread.start()
        for thread in tabs:
            thread.join()

        assert [status for status, _answer in answers] == [201, 201]
        rows = set(Coding.objects.filter(document__study=team.study).values_list("pk", flat=True))
        for _status, answer in answers:
            # Each tab hears of all 40 codings, as created or as existing, and of no others.
            assert {c["id"] for c in answer["created"] + answer["existing"]} == rows
        created = sum(len(answer["created"]) for _status, answer in answers)
        assert created == (40 if round_ == 0 else 0)
    assert Coding.objects.filter(document__study=team.study).count() == 40
