"""Structured logs: a request's id comes in (or is made), goes back in the response, and is on
every log line of the request, in text or as one JSON object a line; a job's lines carry its id."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest
from django.contrib.auth.models import User
from django.test import Client

from studies.jobs import start_job
from studies.logs import JsonFormatter, RequestContextFilter, job_context, request_id
from studies.models import Job, Study
from tests.helpers import client_for

HEX32 = re.compile(r"[0-9a-f]{32}")


def failing_handler(job: Job, progress: object) -> None:
    logging.getLogger("colloquy.jobs").warning("about to fail")
    raise RuntimeError("a bug in a handler")


def record(message: str = "hello", **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("colloquy.test", logging.WARNING, __file__, 1, message, (), None)
    rec.__dict__.update(extra)
    return rec


@pytest.mark.django_db
def test_a_sane_request_id_is_kept_and_sent_back() -> None:
    response = Client().get("/login/", HTTP_X_REQUEST_ID="lb-7f3a.42")

    assert response["X-Request-ID"] == "lb-7f3a.42"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "given", ["", "two words", 'quote"d', "x" * 65, "new\nline", "-leading-dash", "ünïcode"]
)
def test_an_odd_request_id_is_replaced_by_a_new_one(given: str) -> None:
    response = Client().get("/login/", HTTP_X_REQUEST_ID=given)

    assert HEX32.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
def test_each_request_without_an_id_gets_its_own() -> None:
    client = Client()
    first = client.get("/login/")["X-Request-ID"]
    second = client.get("/login/")["X-Request-ID"]

    assert HEX32.fullmatch(first) and HEX32.fullmatch(second)
    assert first != second


@pytest.mark.django_db
def test_each_request_writes_one_access_line(
    people: dict[str, User], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="colloquy.request")

    response = client_for(people["alice"]).get("/", HTTP_X_REQUEST_ID="abc123")

    [line] = [r for r in caplog.records if r.name == "colloquy.request"]
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith(f"GET / {response.status_code} ")
    assert line.method == "GET" and line.status == response.status_code
    assert line.duration_ms >= 0
    RequestContextFilter().filter(line)
    assert line.request_id == "abc123"
    assert line.user_id == people["alice"].pk
    assert line.path == "/"


@pytest.mark.django_db
def test_a_failed_request_logged_after_the_middleware_keeps_its_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Client().get("/no-such-page/", HTTP_X_REQUEST_ID="lost-1")

    [warning] = [r for r in caplog.records if r.name == "django.request"]
    RequestContextFilter().filter(warning)
    assert warning.request_id == "lost-1"
    assert warning.path == "/no-such-page/"


def test_the_json_formatter_writes_one_object_a_line() -> None:
    rec = record("imported %d transcripts", status=201, duration_ms=12.5)
    rec.args = (3,)
    token = request_id.set("req-9")
    try:
        RequestContextFilter().filter(rec)
    finally:
        request_id.reset(token)

    line = JsonFormatter().format(rec)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "imported 3 transcripts"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "colloquy.test"
    assert entry["request_id"] == "req-9"
    assert entry["status"] == 201 and entry["duration_ms"] == 12.5
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert "exception" not in entry and "user_id" not in entry


def test_the_json_formatter_carries_the_exception_text() -> None:
    try:
        raise ValueError("bad cell B7")
    except ValueError:
        rec = record("import failed", exc_info=sys.exc_info())
    RequestContextFilter().filter(rec)

    entry = json.loads(JsonFormatter().format(rec))

    assert entry["request_id"] == "-"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad cell B7" in entry["exception"]


def test_a_jobs_lines_carry_its_id_and_the_request_id_comes_back_after() -> None:
    token = request_id.set("outer")
    try:
        with job_context(41) as inside:
            assert inside == "job-41"
            rec = record()
            RequestContextFilter().filter(rec)
            assert rec.request_id == "job-41"
        assert request_id.get() == "outer"
    finally:
        request_id.reset(token)


def test_the_text_format_names_the_request_id(settings: object) -> None:
    formatter = logging.Formatter(settings.LOGGING["formatters"]["text"]["format"])
    rec = record("hello")
    RequestContextFilter().filter(rec)

    assert formatter.format(rec).endswith("WARNING colloquy.test [-] hello")


@pytest.mark.django_db
def test_a_job_logs_under_its_own_id(
    study: Study, people: dict[str, User], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="colloquy.jobs")

    job = start_job(
        study=study,
        user=people["alice"],
        kind="test",
        title="A job that fails",
        handler="tests.test_request_logs.failing_handler",
    )

    assert job.status == Job.Status.FAILED
    lines = [r for r in caplog.records if r.name == "colloquy.jobs"]
    messages = [r.getMessage() for r in lines]
    assert messages[:3] == [
        f"job {job.pk}: starting",
        "about to fail",
        f"job {job.pk} (test) failed",
    ]
    assert re.fullmatch(rf"job {job.pk}: failed after \d+\.\d s", messages[3])
    for line in lines:
        RequestContextFilter().filter(line)
        assert line.request_id == f"job-{job.pk}"
    assert "RuntimeError: a bug in a handler" in JsonFormatter().format(lines[2])
