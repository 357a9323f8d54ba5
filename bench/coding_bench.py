"""Coding speed: the coding page, and saving a coding through the API served by gunicorn.

Targets (DESIGN.md): the coding page of a 20,000-word transcript with 2,000 codings served in
under 300 ms; saving a coding under 15 ms at the median (aim: 6 ms) whatever the document's
length or number of codings; under 100 ms at the 95th percentile with 20 concurrent coders on
PostgreSQL. Prints tables; run with `make bench`.

Uses a throwaway SQLite database unless DATABASE_URL is set (the benchmark creates and deletes
its own study there). Every request loop is bounded and talks only to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, bench_study, build_transcript
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils.crypto import get_random_string
from serving import free_port, wait_until_listening

from coding.models import Code, Coding
from studies.models import Membership, Study
from studies.services import import_transcripts
from studies.tokens import issue_token

settings.STORAGES["staticfiles"]["BACKEND"] = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
)


def make_study() -> tuple[Study, list[Code], User]:
    study = bench_study("bench", "Benchmark")
    parent = Code.objects.create(study=study, name="Concept", codable=False)
    codes = [
        Code.objects.create(study=study, parent=parent, name=f"code {n}", order=n)
        for n in range(12)
    ]
    user, _ = User.objects.get_or_create(username="bench-coder")
    Membership.objects.get_or_create(study=study, user=user, defaults={"role": "coder"})
    return study, codes, user


def add_document(study: Study, words: int, codings: int, codes: list[Code], user: User):
    [outcome] = import_transcripts(
        study=study,
        workshop=study.workshops.get(),
        files=[(f"bench-{words}.txt", build_transcript(words, seed=words))],
    )
    document = outcome.document
    rng = random.Random(words)
    length = len(document.text)
    rows = []
    for _ in range(codings):
        start = rng.randrange(0, length - 200)
        rows.append(
            Coding(
                document=document,
                code=rng.choice(codes),
                coder=user,
                start=start,
                end=start + rng.randrange(20, 200),
            )
        )
    Coding.objects.bulk_create(rows, ignore_conflicts=True)
    return document


def page_times(document, user: User, runs: int = 15) -> list[float]:
    client = Client()
    client.force_login(user)
    url = f"/studies/bench/documents/{document.pk}/code/"
    client.get(url)  # warm caches, as a running server would be
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return times


class Server:
    """gunicorn serving this project on 127.0.0.1, stopped when the benchmark ends."""

    def __init__(self, workers: int) -> None:
        self.port = free_port()
        env = dict(os.environ, DEBUG="0")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        wait_until_listening(self.process, self.port, 30, "gunicorn")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def session_headers(user: User) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = get_random_string(32)
    return {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
        "Host": "127.0.0.1",
    }


def token_headers(user: User) -> dict[str, str]:
    """A script's headers: a personal API token, no session or CSRF."""
    _token, secret = issue_token(user, name="benchmark")
    return {
        "Authorization": f"Token {secret}",
        "Content-Type": "application/json",
        "Host": "127.0.0.1",
    }


def post_codings(port: int, headers: dict, document, codes: list[Code], n: int, seed: int):
    rng = random.Random(seed)
    length = len(document.text)
    times = []
    for _ in range(n):
        start = rng.randrange(0, length - 100)
        body = json.dumps(
            {
                "document": document.pk,
                "code": rng.choice(codes).pk,
                "start": start,
                "end": start + rng.randrange(5, 100),
            }
        )
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.perf_counter()
        conn.request("POST", "/api/v1/codings/", body, headers)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - started)
        conn.close()
        assert response.status in (200, 201), response.status
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    study, codes, user = make_study()
    vendor = connection.vendor
    print(f"Database: {vendor}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs\n")

    big = add_document(study, 20_000, 2_000, codes, user)
    times = page_times(big, user)
    print("Coding page (in-process, median of 15; target < 300 ms)")
    print(f"{'document':<28}{'codings':>9}{'median ms':>11}{'max ms':>9}")
    print(
        f"{'20,000 words':<28}{Coding.objects.filter(document=big).count():>9,}"
        f"{statistics.median(times) * 1000:>11.1f}{max(times) * 1000:>9.1f}\n"
    )

    documents = [
        (words, add_document(study, words, words // 10, codes, user))
        for words in (1_000, 10_000, 50_000)
    ]
    headers = session_headers(user)
    server = Server(workers=2)
    try:
        print("Saving a coding through the API, gunicorn with 2 workers, one coder")
        print("(200 sequential POSTs each; target: median < 15 ms, flat across sizes)")
        print(f"{'document':<16}{'auth':>8}{'codings before':>16}{'median ms':>11}{'p95 ms':>9}")
        for auth, auth_headers in (("session", headers), ("token", token_headers(user))):
            for words, document in documents:
                before = Coding.objects.filter(document=document).count()
                post_codings(server.port, auth_headers, document, codes, 20, seed=1)  # warm up
                times = post_codings(
                    server.port, auth_headers, document, codes, 200, seed=words + len(auth)
                )
                print(
                    f"{f'{words:,} words':<16}{auth:>8}{before:>16,}"
                    f"{statistics.median(times) * 1000:>11.2f}{pct(times, 0.95) * 1000:>9.2f}"
                )
    finally:
        server.stop()

    # One sync worker per core served 20 coders best on the 2-core reference machine.
    workers = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 2)))
    server = Server(workers=workers)
    try:
        coders = 20
        results: list[list[float]] = [[] for _ in range(coders)]
        document = documents[1][1]

        def work(i: int) -> None:
            results[i] = post_codings(server.port, headers, document, codes, 50, seed=100 + i)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(coders)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        times = [t for r in results for t in r]
        print(
            f"\n{coders} concurrent coders, 50 POSTs each, gunicorn with {workers} workers"
            " (target on PostgreSQL: p95 < 100 ms)"
        )
        print(f"{'requests':>9}{'median ms':>11}{'p95 ms':>9}{'req/s':>8}")
        print(
            f"{len(times):>9}{statistics.median(times) * 1000:>11.2f}"
            f"{pct(times, 0.95) * 1000:>9.2f}{len(times) / elapsed:>8.0f}"
        )
    finally:
        server.stop()
    study.delete()


if __name__ == "__main__":
    main()
