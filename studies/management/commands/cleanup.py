"""`manage.py cleanup`: the housekeeping a server runs from cron (hourly is plenty).

Each step is safe to repeat and only removes what has outlived its use:
- expired sessions (Django's `clearsessions`);
- job result files (a paper pack, an export) older than COLLOQUY_JOB_RESULT_DAYS: the file goes
  from the media storage, the job stays on its owner's list marked as expired;
- running jobs silent for longer than COLLOQUY_JOB_STALL_MINUTES: their worker is gone, so they
  are marked failed with a message saying so;
- uploads waiting for confirmation (PendingImport) older than a day;
- the task queue's finished results older than COLLOQUY_TASK_RESULT_DAYS;
- failed-login records older than the login cool-off (AXES_COOLOFF_MINUTES), and the login
  history (address, browser) older than COLLOQUY_LOGIN_LOG_DAYS;
- then the steps other apps register (studies.housekeeping), e.g. idempotency keys older than
  a day.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.management.base import BaseCommand, CommandParser
from django.db.models import QuerySet
from django.utils import timezone

from studies.housekeeping import STEPS
from studies.jobs import stalled_condition
from studies.models import Job, PendingImport
from studies.views import PENDING_LIFETIME

STALLED_ERROR = (
    "Its worker stopped before it finished; nothing it was writing was saved. Start it again."
)


def counted(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def days(count: int) -> str:
    return counted(count, "day", "days")


def delete(queryset: QuerySet) -> int:
    """Delete and count the rows of the queryset's own model (not what went with them)."""
    return queryset.delete()[1].get(queryset.model._meta.label, 0)


class Command(BaseCommand):
    help = (
        "Delete expired sessions, old job files, unconfirmed uploads, old task results and old "
        "login records, and mark jobs whose worker stopped as failed. Safe to run from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be done; change nothing"
        )

    def handle(self, *args: object, dry_run: bool = False, **options: object) -> None:
        self.dry_run = dry_run
        self.now = timezone.now()
        self.sessions()
        self.job_results()
        self.stalled_jobs()
        self.pending_imports()
        self.task_results()
        self.login_records()
        for step in STEPS:
            count, (one, many), suffix = step(self.now, self.dry_run)
            self.report(counted(count, one, many), suffix)

    def report(self, what: str, suffix: str = "") -> None:
        verb = "Would delete" if self.dry_run else "Deleted"
        self.stdout.write(f"{verb} {what}{suffix}")

    def sessions(self) -> None:
        engine = import_module(settings.SESSION_ENGINE)
        store = engine.SessionStore
        if issubclass(store, DatabaseSessionStore):
            expired = store.get_model_class().objects.filter(expire_date__lt=self.now)
            count = expired.count()
            if not self.dry_run:
                # Django's own clearsessions does exactly this.
                store.clear_expired()
            self.report(counted(count, "expired session", "expired sessions"))
        elif self.dry_run:
            self.stdout.write(f"Would clear expired sessions ({settings.SESSION_ENGINE})")
        else:
            try:
                store.clear_expired()
            except NotImplementedError:
                self.stdout.write(
                    f"Sessions: {settings.SESSION_ENGINE} expires its sessions by itself"
                )
            else:
                self.stdout.write(f"Cleared expired sessions ({settings.SESSION_ENGINE})")

    def job_results(self) -> None:
        """A job's file is deleted from storage after COLLOQUY_JOB_RESULT_DAYS; the job row stays
        (its owner still sees what ran and when), marked `result_expired`."""
        cutoff = self.now - timedelta(days=settings.COLLOQUY_JOB_RESULT_DAYS)
        old = (
            Job.objects.filter(finished_at__lt=cutoff, result_expired=False)
            .exclude(result="")
            .only("pk", "result")
        )
        age = f" older than {days(settings.COLLOQUY_JOB_RESULT_DAYS)}"
        if self.dry_run:
            self.report(counted(old.count(), "job result file", "job result files"), age)
            return
        deleted = failed = 0
        for job in old.iterator():
            name = job.result.name
            try:
                job.result.storage.delete(name)
            except Exception as exc:  # a storage (S3, a mount) may fail in many ways
                failed += 1
                self.stderr.write(f"Job {job.pk}: could not delete {name} ({exc}); kept")
                continue
            Job.objects.filter(pk=job.pk).update(result="", result_expired=True)
            deleted += 1
        self.report(
            counted(deleted, "job result file", "job result files"),
            age + (f" ({failed} could not be deleted)" if failed else ""),
        )

    def stalled_jobs(self) -> None:
        # studies.jobs decides what "stalled" means. The update repeats the condition, so a job
        # that reports progress meanwhile is left alone.
        stalled = Job.objects.filter(stalled_condition())
        if self.dry_run:
            count = stalled.count()
        else:
            count = stalled.update(
                status=Job.Status.FAILED,
                error=STALLED_ERROR,
                stage="",
                finished_at=self.now,
            )
            self.stalled_tasks()
        verb = "Would mark" if self.dry_run else "Marked"
        minutes = settings.COLLOQUY_JOB_STALL_MINUTES
        self.stdout.write(
            f"{verb} {counted(count, 'stalled job', 'stalled jobs')} as failed (silent for "
            f"more than {counted(minutes, 'minute', 'minutes')})"
        )

    def stalled_tasks(self) -> None:
        """The task queue's rows of the jobs just marked stalled: their worker died with them
        "running" (django-tasks-db never hears of a killed process), so they would stay so
        for ever and count as running in the admin. They fail as their jobs did."""
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        task_ids = [
            task_id
            for task_id in Job.objects.filter(
                status=Job.Status.FAILED, error=STALLED_ERROR, finished_at=self.now
            ).values_list("task_id", flat=True)
            if task_id
        ]
        if task_ids:
            DBTaskResult.objects.filter(pk__in=task_ids, status=TaskResultStatus.RUNNING).update(
                status=TaskResultStatus.FAILED,
                finished_at=self.now,
                exception_class_path="",
                traceback=STALLED_ERROR,
            )

    def pending_imports(self) -> None:
        old = PendingImport.objects.filter(created_at__lt=self.now - PENDING_LIFETIME)
        count = old.count() if self.dry_run else delete(old)
        self.report(
            counted(count, "unconfirmed upload", "unconfirmed uploads"), " older than a day"
        )

    def task_results(self) -> None:
        from django_tasks_db.models import DBTaskResult

        keep = settings.COLLOQUY_TASK_RESULT_DAYS
        old = DBTaskResult.objects.finished().filter(
            finished_at__lt=self.now - timedelta(days=keep)
        )
        count = old.count() if self.dry_run else delete(old)
        self.report(
            counted(count, "finished task result", "finished task results"),
            f" older than {days(keep)}",
        )

    def login_records(self) -> None:
        from axes.models import AccessAttempt, AccessFailureLog, AccessLog

        attempts = AccessAttempt.objects.filter(
            attempt_time__lt=self.now - settings.AXES_COOLOFF_TIME
        )
        count = attempts.count() if self.dry_run else delete(attempts)
        self.report(
            counted(count, "failed-login record", "failed-login records"),
            " older than the login cool-off",
        )
        keep = settings.COLLOQUY_LOGIN_LOG_DAYS
        cutoff = self.now - timedelta(days=keep)
        history = 0
        for model in (AccessLog, AccessFailureLog):
            old = model.objects.filter(attempt_time__lt=cutoff)
            history += old.count() if self.dry_run else delete(old)
        self.report(
            counted(history, "login history entry", "login history entries"),
            f" older than {days(keep)}",
        )
