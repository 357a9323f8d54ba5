"""GET /health/: what a load balancer asks. The database answers, and with the database task
backend the queue is being worked through; otherwise 503 naming what is wrong."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def waiting_task(waited: dt.timedelta) -> DBTaskResult:
    """A task in the queue, ready since `waited` ago and not yet taken by a worker."""
    task = DBTaskResult.objects.create(
        args_kwargs={"args": [1], "kwargs": {}},
        task_path="studies.jobs.run_job",
        backend_name="default",
        run_after=timezone.now() - waited,
    )
    DBTaskResult.objects.filter(pk=task.pk).update(enqueued_at=timezone.now() - waited)
    return task


@pytest.mark.django_db
def test_it_says_ok_with_the_immediate_backend() -> None:
    response = Client().get("/health/")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "tasks": {"backend": "immediate", "status": "ok"},
    }
    # No session, no cookies: a probe every few seconds leaves nothing behind.
    assert response.cookies == {}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_it_needs_no_login_and_no_https(settings: object) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert Client().get("/health/").status_code == 200
    # Everything else is redirected to HTTPS.
    assert Client().get("/login/").status_code == 301


@pytest.mark.django_db
def test_it_answers_503_when_the_database_does_not(settings: object) -> None:
    settings.TASKS = DATABASE_TASKS
    with mock.patch(
        "django.db.backends.utils.CursorWrapper.execute",
        side_effect=OperationalError("connection refused"),
    ):
        response = Client().get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "error"
    assert body["problems"] == ["the database does not answer (OperationalError)"]
    assert body["tasks"] == {"backend": "database", "status": "unknown"}
    # Nothing of the error's text (which could name hosts or users) is shown.
    assert "refused" not in response.content.decode()


@pytest.mark.django_db
def test_it_counts_the_queue_with_the_database_backend(settings: object) -> None:
    settings.TASKS = DATABASE_TASKS
    waiting_task(dt.timedelta(seconds=30))
    waiting_task(dt.timedelta(seconds=90))
    # A finished task is not waiting.
    DBTaskResult.objects.filter(pk=waiting_task(dt.timedelta(hours=5)).pk).update(
        status="SUCCESSFUL", finished_at=timezone.now()
    )

    response = Client().get("/health/")

    assert response.status_code == 200
    tasks = response.json()["tasks"]
    assert tasks["backend"] == "database"
    assert tasks["status"] == "ok"
    assert tasks["ready"] == 2
    assert 90 <= tasks["oldest_wait_seconds"] < 600
    assert tasks["max_wait_seconds"] == 600


@pytest.mark.django_db
def test_an_empty_queue_is_healthy(settings: object) -> None:
    settings.TASKS = DATABASE_TASKS

    response = Client().get("/health/")

    assert response.status_code == 200
    assert response.json()["tasks"] == {
        "backend": "database",
        "ready": 0,
        "oldest_wait_seconds": 0,
        "max_wait_seconds": 600,
        "status": "ok",
    }


@pytest.mark.django_db
def test_a_stuck_queue_answers_503_and_says_so(settings: object) -> None:
    settings.TASKS = DATABASE_TASKS
    settings.COLLOQUY_HEALTH_QUEUE_MAX_WAIT = 120
    waiting_task(dt.timedelta(minutes=5))

    response = Client().get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["tasks"]["status"] == "error"
    assert body["tasks"]["ready"] == 1
    [problem] = body["problems"]
    assert re.match(r"the task queue is stuck: a task has waited 30\d s ", problem)
    assert "(more than 120 s)" in problem
    assert "manage.py db_worker" in problem


@pytest.mark.django_db
def test_it_answers_503_when_the_queue_table_does_not(settings: object) -> None:
    settings.TASKS = DATABASE_TASKS
    with mock.patch(
        "django_tasks_db.models.DBTaskResultQuerySet.ready",
        side_effect=OperationalError('relation "django_tasks_database_dbtaskresult" missing'),
    ):
        response = Client().get("/health/")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["problems"] == ["the task queue does not answer (OperationalError)"]


@pytest.mark.django_db
def test_it_answers_head_and_refuses_anything_but_get() -> None:
    assert Client().head("/health/").status_code == 200
    assert Client().post("/health/").status_code == 405
