"""Background jobs: long work run through the django-tasks API, owned by a study and a person.

One rule for all of them. `start_job` writes a `Job` row and enqueues `run_job` with its id;
the configured backend (settings.TASKS) runs it at once in the same request (immediate, the
default) or later in `manage.py db_worker` (database), on this host or another that shares the
database and the media storage. `run_job` calls the job's handler, a function named by its
dotted path (so this module, at the bottom of the layering, imports no higher app), with the job
and a `Progress`; the handler returns an `Outcome` (a message, a page to go on to, a file) or
raises `JobFailed` with what the person who started it should read. Anything else that escapes
is logged with the job's id and shown as an unexpected error.

Handlers keep their writes in one transaction and their slow reading and parsing before it, so
that progress (written in autocommit, outside any transaction) is seen while they work, and a
worker killed mid-way leaves nothing half-written: the transaction never commits.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import connection
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import task

from studies.access import get_study_for_user, require_role
from studies.audit import acting_for, current_actor
from studies.logs import job_context
from studies.models import Job, Study

logger = logging.getLogger("colloquy.jobs")

# Progress is written at most this often (seconds), so a tight loop costs no extra queries.
PROGRESS_INTERVAL = 0.5


class JobFailed(Exception):
    """A failure to show the person who started the job, as it is worded. `data` (JSON) is
    what the API answers about it, e.g. {"file": [reason]} for a file that was refused."""

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


@dataclass
class Outcome:
    message: str = ""
    next_url: str = ""
    # A file the job made: (filename, content type, bytes), stored and served to its owner.
    file: tuple[str, str, bytes] | None = None
    # What the API answers about the outcome (JSON), e.g. an import's documents.
    data: dict[str, Any] = field(default_factory=dict)


class Progress:
    """What a handler reports while it works: `progress(done, total, stage)`. Writes go
    straight to the job's row in autocommit; inside a transaction (the handler's writes) they
    are skipped, since nobody else could see them before the commit anyway."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._last = 0.0

    def __call__(self, done: int = 0, total: int = 0, stage: str = "", *, force: bool = False):
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL:
            return
        if connection.in_atomic_block:
            return
        self._last = now
        total = max(total, done)
        Job.objects.filter(pk=self.job.pk).update(
            done=done, total=total, stage=stage[:200], heartbeat_at=timezone.now()
        )
        self.job.done, self.job.total, self.job.stage = done, total, stage[:200]


def start_job(
    *,
    study: Study,
    user: object,
    kind: str,
    title: str,
    handler: str,
    params: dict[str, Any] | None = None,
    once_per: Sequence[str] = (),
) -> Job:
    """Record a job and hand it to the task backend; with the immediate backend it has run
    (done or failed) when this returns. `params` must be JSON: ids and choices, not objects.
    With `once_per` (names of params), asking again while the same person's job of this kind
    with those same values waits or runs (a double click, a second tab) answers that job."""
    if once_per:
        same = {name: (params or {}).get(name) for name in once_per}
        waiting = waiting_job(study=study, user=user, kind=kind, **same)
        if waiting is not None:
            return waiting
    import_string(handler)  # a misspelt handler fails here, in the request, not in a worker
    _actor, via = current_actor()
    job = Job.objects.create(
        study=study,
        user=user,
        kind=kind,
        title=title[:200],
        handler=handler,
        params=params or {},
        via=via,
    )
    result = run_job.enqueue(job.pk)
    Job.objects.filter(pk=job.pk, task_id="").update(task_id=str(result.id)[:64])
    job.refresh_from_db()
    return job


@task()
def run_job(job_id: int) -> str:
    """The one task every job runs through. Returns the job's final status."""
    # Its log lines carry "job-<id>" (studies.logs), in a worker as in a request.
    with job_context(job_id):
        began = time.monotonic()
        logger.info("job %s: starting", job_id)
        status = _run_job(job_id)
        logger.info("job %s: %s after %.1f s", job_id, status, time.monotonic() - began)
        return status


def _run_job(job_id: int) -> str:
    job = Job.objects.filter(pk=job_id).select_related("study", "user").first()
    if job is None:
        # Deleted with its study while it waited: nothing to do.
        return "missing"
    if job.is_finished:
        # A worker that picks up the same task again (after a crash) does not run it twice.
        return job.status
    now = timezone.now()
    started = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not started:
        # Another worker took it between the two queries: it is theirs to run.
        return Job.objects.filter(pk=job.pk).values_list("status", flat=True).first() or "missing"
    job.status, job.started_at, job.heartbeat_at = Job.Status.RUNNING, now, now
    progress = Progress(job)
    try:
        # Who may do what is decided when the job runs, not only when it was asked for: someone
        # removed from the study in between gets nothing.
        try:
            job.study = get_study_for_user(job.user, job.study.slug, archived_ok=True)
        except (Http404, PermissionDenied):
            raise JobFailed("You are no longer a member of this study.") from None
        handler: Callable[[Job, Progress], Outcome | None] = import_string(job.handler)
        with acting_for(job.user, job.via):
            outcome = handler(job, progress) or Outcome()
    except JobFailed as exc:
        finish(job, error=str(exc), data=exc.data)
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        # A lost database connection (a restart, a failover) would fail the write below too
        # and leave the job "running" until it stalls: drop it so the next query reconnects.
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
        finish(
            job,
            error=(
                f"An unexpected error stopped it ({type(exc).__name__}); the server's log has "
                f"the details under job {job.pk}. Anything it was writing was not saved."
            ),
        )
    except (KeyboardInterrupt, SystemExit):
        # Its process is being stopped (a worker told twice to stop, a web server's timeout):
        # say so now rather than leave it "running" until it stalls. Any transaction of the
        # handler's has rolled back on the way here. Nothing may keep the process from stopping.
        try:
            finish(
                job,
                error=(
                    "It was stopped before it finished: its worker or the server was shutting "
                    "down. Nothing it was writing was saved; start it again."
                ),
            )
        except Exception:
            logger.exception("job %s (%s): could not record that it was stopped", job.pk, job.kind)
        raise
    else:
        finish(job, outcome=outcome)
    return job.status


# What `finish` writes, and only that: start_job may be writing the task's id meanwhile.
FINISHED_FIELDS = [
    "status",
    "finished_at",
    "heartbeat_at",
    "error",
    "message",
    "next_url",
    "data",
    "done",
    "total",
    "stage",
    "result",
    "result_name",
    "result_type",
    "result_size",
]


def finish(
    job: Job, *, outcome: Outcome | None = None, error: str = "", data: dict | None = None
) -> None:
    job.finished_at = timezone.now()
    job.heartbeat_at = job.finished_at
    if error:
        job.status, job.error, job.data = Job.Status.FAILED, error, data or {}
    else:
        job.status = Job.Status.DONE
        job.message = outcome.message
        job.next_url = outcome.next_url[:500]
        job.data = outcome.data
        if job.total:
            job.done = job.total
        if outcome.file is not None:
            name, content_type, content = outcome.file
            job.result.save(name, ContentFile(content), save=False)
            job.result_name, job.result_type, job.result_size = name, content_type, len(content)
    job.stage = ""
    job.save(update_fields=FINISHED_FIELDS)


def require(job: Job, min_role: str, *, archived_ok: bool = False) -> None:
    """The role a handler needs, checked as the job runs (run_job has set job.study.access):
    someone whose role was lowered, or a study archived since, gets the page's refusal."""
    archived = job.study.is_archived and not archived_ok
    try:
        require_role(job.study.access.role, min_role, archived=archived)
    except (Http404, PermissionDenied) as exc:
        raise JobFailed(str(exc) or "You may no longer do this in this study.") from None


def waiting_job(*, study: Study, user: object, kind: str, **params: object) -> Job | None:
    """The same person's job of this kind and these params that waits or runs (not stalled):
    asking again (a double click, a prefetched link) leads to it instead of another."""
    lookups = {f"params__{name}": value for name, value in params.items()}
    return (
        Job.objects.unfinished()
        .filter(study=study, user=user, kind=kind, **lookups)
        .exclude(stalled_condition())
        .first()
    )


def jobs_for(user: object, study: Study):
    """The jobs of a study that `user` started: the only ones they see."""
    return Job.objects.filter(study=study, user=user)


def stalled_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(minutes=settings.COLLOQUY_JOB_STALL_MINUTES)


def stalled_condition() -> Q:
    """is_stalled as a query: running, and silent since its last heartbeat (or, with none,
    since it was created) for longer than COLLOQUY_JOB_STALL_MINUTES."""
    before = stalled_before()
    return Q(status=Job.Status.RUNNING) & (
        Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True, created_at__lt=before)
    )


def is_stalled(job: Job) -> bool:
    """Running, but silent for longer than COLLOQUY_JOB_STALL_MINUTES: its worker is gone."""
    return job.status == Job.Status.RUNNING and (job.heartbeat_at or job.created_at) < (
        stalled_before()
    )


def runs_in_background() -> bool:
    """Whether jobs wait for a worker (the database backend) rather than run in the request."""
    return not settings.TASKS["default"]["BACKEND"].endswith("ImmediateBackend")
