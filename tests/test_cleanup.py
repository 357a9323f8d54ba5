"""`manage.py cleanup`, run from cron: it removes what has outlived its use, says how much,
changes nothing with --dry-run, and finds nothing more to do when run again."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from coding.models import IdempotencyKey
from studies.management.commands.cleanup import STALLED_ERROR
from studies.models import Job, PendingImport, Study
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

NOW = timezone.now


def cleanup(*args: str) -> str:
    out = io.StringIO()
    call_command("cleanup", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def make_job(study: Study, user: User, **fields: object) -> Job:
    return Job.objects.create(
        study=study, user=user, kind="pack", title="Paper pack", handler="x.y", **fields
    )


def finished_with_file(study: Study, user: User, days_ago: float) -> Job:
    job = make_job(study, user, status=Job.Status.DONE)
    job.result.save("pack.zip", ContentFile(b"PK zip bytes"), save=False)
    job.result_name, job.result_type, job.result_size = "pack.zip", "application/zip", 12
    job.save()
    Job.objects.filter(pk=job.pk).update(finished_at=NOW() - dt.timedelta(days=days_ago))
    return job


@pytest.fixture
def mess(study: Study, people: dict[str, User]) -> dict[str, object]:
    """A server after a while: something of each kind to clean up, and its fresh counterpart."""
    alice = people["alice"]
    expired = SessionStore()
    expired["x"] = 1
    expired.set_expiry(-60)
    expired.create()
    live = SessionStore()
    live["x"] = 1
    live.create()
    old_pack = finished_with_file(study, alice, days_ago=8)
    new_pack = finished_with_file(study, alice, days_ago=1)
    stalled = make_job(study, alice, status=Job.Status.RUNNING)
    Job.objects.filter(pk=stalled.pk).update(heartbeat_at=NOW() - dt.timedelta(minutes=31))
    busy = make_job(study, alice, status=Job.Status.RUNNING, heartbeat_at=NOW())
    old_upload = PendingImport.objects.create(
        study=study, user=alice, kind="transcript", filename="old.txt", data=b"x"
    )
    PendingImport.objects.filter(pk=old_upload.pk).update(created_at=NOW() - dt.timedelta(days=2))
    new_upload = PendingImport.objects.create(
        study=study, user=alice, kind="transcript", filename="new.txt", data=b"x"
    )
    task_fields = {
        "args_kwargs": {"args": [], "kwargs": {}},
        "task_path": "studies.jobs.run_job",
        "backend_name": "default",
        "run_after": NOW(),
    }
    old_task = DBTaskResult.objects.create(
        status="SUCCESSFUL", finished_at=NOW() - dt.timedelta(days=15), **task_fields
    )
    new_task = DBTaskResult.objects.create(
        status="FAILED", finished_at=NOW() - dt.timedelta(days=1), **task_fields
    )
    waiting_task = DBTaskResult.objects.create(**task_fields)
    # The stalled job's task: its worker was killed, so the queue still has it running.
    lost_task = DBTaskResult.objects.create(status="RUNNING", started_at=NOW(), **task_fields)
    Job.objects.filter(pk=stalled.pk).update(task_id=str(lost_task.pk))
    busy_task = DBTaskResult.objects.create(status="RUNNING", started_at=NOW(), **task_fields)
    Job.objects.filter(pk=busy.pk).update(task_id=str(busy_task.pk))
    old_attempt = AccessAttempt.objects.create(
        username="alice", ip_address="203.0.113.7", user_agent="", failures_since_start=2
    )
    AccessAttempt.objects.filter(pk=old_attempt.pk).update(
        attempt_time=NOW() - dt.timedelta(minutes=16)
    )
    new_attempt = AccessAttempt.objects.create(
        username="bob", ip_address="203.0.113.7", user_agent="", failures_since_start=1
    )
    old_login = AccessLog.objects.create(username="alice", ip_address="203.0.113.7")
    AccessLog.objects.filter(pk=old_login.pk).update(attempt_time=NOW() - dt.timedelta(days=91))
    new_login = AccessLog.objects.create(username="alice", ip_address="203.0.113.7")
    # Idempotency keys (coding's step, registered with studies.housekeeping): a day's worth.
    key = {"user": alice, "fingerprint": "POST /api/v1/codings/ x", "status": 201, "body": {}}
    IdempotencyKey.objects.create(key="old", created_at=NOW() - dt.timedelta(hours=25), **key)
    new_key = IdempotencyKey.objects.create(key="new", **key)
    return locals()


def test_dry_run_says_what_it_would_do_and_changes_nothing(mess: dict[str, object]) -> None:
    before = {
        model: model.objects.count()
        for model in (
            Session,
            PendingImport,
            DBTaskResult,
            AccessAttempt,
            AccessLog,
            IdempotencyKey,
        )
    }

    out = cleanup("--dry-run")

    assert out.splitlines() == [
        "Would delete 1 expired session",
        "Would delete 1 job result file older than 7 days",
        "Would mark 1 stalled job as failed (silent for more than 30 minutes)",
        "Would delete 1 unconfirmed upload older than a day",
        "Would delete 1 finished task result older than 14 days",
        "Would delete 1 failed-login record older than the login cool-off",
        "Would delete 1 login history entry older than 90 days",
        "Would delete 1 idempotency key older than a day",
    ]
    assert {model: model.objects.count() for model in before} == before
    old_pack = Job.objects.get(pk=mess["old_pack"].pk)
    assert old_pack.has_file and Path(old_pack.result.path).exists()
    assert Job.objects.get(pk=mess["stalled"].pk).status == Job.Status.RUNNING
    assert DBTaskResult.objects.get(pk=mess["lost_task"].pk).status == "RUNNING"


def test_it_cleans_up_what_is_old_and_leaves_the_rest(mess: dict[str, object]) -> None:
    old_file = Path(mess["old_pack"].result.path)

    out = cleanup()

    assert out.splitlines() == [
        "Deleted 1 expired session",
        "Deleted 1 job result file older than 7 days",
        "Marked 1 stalled job as failed (silent for more than 30 minutes)",
        "Deleted 1 unconfirmed upload older than a day",
        "Deleted 1 finished task result older than 14 days",
        "Deleted 1 failed-login record older than the login cool-off",
        "Deleted 1 login history entry older than 90 days",
        "Deleted 1 idempotency key older than a day",
    ]
    assert list(Session.objects.values_list("session_key", flat=True)) == [mess["live"].session_key]
    # The old pack's file is gone; the job stays on its owner's list, marked expired.
    old_pack = Job.objects.get(pk=mess["old_pack"].pk)
    assert not old_file.exists()
    assert old_pack.result_expired and not old_pack.has_file
    assert old_pack.result_name == "pack.zip" and old_pack.status == Job.Status.DONE
    new_pack = Job.objects.get(pk=mess["new_pack"].pk)
    assert new_pack.has_file and Path(new_pack.result.path).exists()
    stalled = Job.objects.get(pk=mess["stalled"].pk)
    assert stalled.status == Job.Status.FAILED
    assert stalled.error == STALLED_ERROR
    assert stalled.finished_at is not None
    assert Job.objects.get(pk=mess["busy"].pk).status == Job.Status.RUNNING
    assert list(PendingImport.objects.values_list("filename", flat=True)) == ["new.txt"]
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {
        mess["new_task"].pk,
        mess["waiting_task"].pk,
        mess["lost_task"].pk,
        mess["busy_task"].pk,
    }
    # The stalled job's task fails with it; the busy one's keeps running.
    lost = DBTaskResult.objects.get(pk=mess["lost_task"].pk)
    assert lost.status == "FAILED" and lost.finished_at is not None
    assert lost.traceback == STALLED_ERROR
    assert DBTaskResult.objects.get(pk=mess["busy_task"].pk).status == "RUNNING"
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["bob"]
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [mess["new_login"].pk]
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_a_second_run_finds_nothing_more(mess: dict[str, object]) -> None:
    cleanup()

    out = cleanup()

    assert all(" 0 " in line for line in out.splitlines()), out
    assert Job.objects.get(pk=mess["stalled"].pk).error == STALLED_ERROR


def test_the_owner_sees_the_stalled_jobs_message_and_the_expired_file(
    mess: dict[str, object], people: dict[str, User]
) -> None:
    cleanup()
    client = client_for(people["alice"])
    study = mess["study"]

    page = client.get(f"/studies/{study.slug}/jobs/{mess['stalled'].pk}/").content.decode()
    assert STALLED_ERROR in page
    gone = client.get(f"/studies/{study.slug}/jobs/{mess['old_pack'].pk}/file/")
    assert gone.status_code == 404


def test_a_file_already_gone_from_storage_is_still_marked_expired(
    study: Study, people: dict[str, User]
) -> None:
    job = finished_with_file(study, people["alice"], days_ago=30)
    Path(job.result.path).unlink()

    assert "Deleted 1 job result file " in cleanup()
    assert Job.objects.get(pk=job.pk).result_expired


def test_the_retention_follows_the_settings(
    study: Study, people: dict[str, User], settings: object
) -> None:
    settings.COLLOQUY_JOB_RESULT_DAYS = 1
    settings.COLLOQUY_JOB_STALL_MINUTES = 5
    finished_with_file(study, people["alice"], days_ago=2)
    quiet = make_job(study, people["alice"], status=Job.Status.RUNNING)
    Job.objects.filter(pk=quiet.pk).update(heartbeat_at=NOW() - dt.timedelta(minutes=6))

    out = cleanup("--dry-run")

    assert "Would delete 1 job result file older than 1 day" in out
    assert "Would mark 1 stalled job as failed (silent for more than 5 minutes)" in out
