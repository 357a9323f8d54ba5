"""Faults lose nothing: a worker or a web server killed (SIGKILL, no chance to clean up) in the
middle of a 5 MB transcript import, while it finds sentences or while it writes them, leaves no
part of the document behind; the job then shows as stopped once it has been silent longer than
COLLOQUY_JOB_STALL_MINUTES, and importing again works.

The kill lands where the test waits for it, never after a guessed delay: the job's row names
the stage it is in (finding sentences), and PostgreSQL's pg_stat_activity shows the import's
connection inside its transaction, having inserted rows (writing). PostgreSQL only, since the
worker and the server are second processes on the test's database.
"""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from studies.jobs import Outcome, Progress, is_stalled, start_job
from studies.models import Document, Job, Membership, PendingImport, Sentence, Study, Turn
from studies.services import import_roster
from tests.helpers import require_postgresql
from tests.test_jobs_worker import (
    DATABASE_TASKS,
    ROOT,
    ROSTER,
    SECOND_PROCESS,
    finish,
    process_env,
    start_worker,
    transcript,
    upload_and_confirm,
    wait_for,
)

# Where a process is killed: while it finds the sentences (before the import's transaction),
# or once its transaction has inserted rows (before it commits).
STAGES = ("finding sentences", "writing")


@pytest.fixture
def owner(transactional_db: None) -> User:
    require_postgresql(
        "the killed worker or server is a second process, which cannot share SQLite's "
        "in-memory test database, and the moment to kill it is read from pg_stat_activity"
    )
    return User.objects.create_user("alice", "alice@example.org", "pw-alice")


@pytest.fixture
def long_study(owner: User) -> Study:
    study = Study.objects.create(slug="long", name="A long workshop")
    Membership.objects.create(study=study, user=owner, role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    return study


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def data() -> bytes:
    return transcript(870_000)


def other_backends() -> list[tuple[int, bool, str]]:
    """The second process's connections to the database: (pid, inside a transaction, last
    statement). Connections another test of this worker left open are not counted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, xact_start IS NOT NULL, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND application_name = %s",
            [SECOND_PROCESS],
        )
        return cursor.fetchall()


def writing_import() -> list[int]:
    """Connections inside a transaction whose last statement inserted turns or sentences."""
    return [
        pid
        for pid, in_transaction, query in other_backends()
        if in_transaction and re.match(r'\s*INSERT INTO "studies_(turn|sentence)"', query)
    ]


def kill_at(stage: str, process: subprocess.Popen[bytes], study: Study) -> None:
    """SIGKILL `process` once its import is at `stage`, then wait until the database has let go
    of its connections (a transaction left open is rolled back when its connection ends)."""
    if stage == "finding sentences":
        wait_for(
            Job.objects.filter(
                study=study, kind="import", stage__startswith="Finding the sentences"
            ).exists,
            process,
            "the job to report it is finding sentences",
        )
    else:
        wait_for(writing_import, process, "the import's transaction to insert rows")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    wait_for(lambda: not other_backends(), None, "the killed process's connections to close")


def assert_nothing_written(study: Study) -> None:
    assert not Document.objects.filter(study=study).exists()
    assert not Turn.objects.filter(document__study=study).exists()
    assert not Sentence.objects.filter(document__study=study).exists()


def assert_stops_showing_as_running(client: Client, job: Job, settings: object) -> None:
    """A killed job stays "running" until it has been silent for the stall time, then it shows
    as stopped, with what to do, on its page and in the list."""
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    page = client.get(job.get_absolute_url()).content.decode()
    assert "<strong>Running</strong>" in page
    assert "its worker stopped" not in page

    settings.COLLOQUY_JOB_STALL_MINUTES = 0  # as if half an hour had passed in silence
    assert is_stalled(job)
    panel = client.get(job.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert "<strong>Stopped</strong>" in panel
    assert "its worker stopped before it finished. Nothing it was writing was saved" in panel
    assert "hx-trigger" not in panel  # a stopped job's page stops polling
    listing = client.get(reverse("studies:jobs", args=[job.study.slug])).content.decode()
    assert 'class="job-running">Stopped<' in listing  # without its last share done


@pytest.mark.parametrize("stage", STAGES)
def test_a_worker_killed_mid_import_leaves_no_partial_document(
    long_study: Study, owner: User, settings: object, processes: list, data: bytes, stage: str
) -> None:
    settings.TASKS = DATABASE_TASKS
    client = Client()
    client.force_login(owner)
    job = upload_and_confirm(client, long_study, data, "B-1.txt")

    worker = start_worker()
    processes.append(worker)
    kill_at(stage, worker, long_study)

    assert_nothing_written(long_study)
    # The upload is still there: the job never got as far as using it up.
    assert PendingImport.objects.filter(study=long_study).count() == 1
    assert_stops_showing_as_running(client, job, settings)

    # Importing again works, and makes the one document.
    again = upload_and_confirm(client, long_study, transcript(20_000, seed=3), "B-1.txt")
    worker = start_worker()
    processes.append(worker)
    finish(worker)
    again.refresh_from_db()
    assert again.status == Job.Status.DONE, again.error
    document = Document.objects.get(study=long_study)
    assert document.turns.exists()
    assert document.sentences.count() > document.turns.count()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # the killed job is not taken up again


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int) -> subprocess.Popen[bytes]:
    """The site in a second process, running jobs in its requests (the immediate backend)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        # DEBUG serves the static files from the source folders, as the tests' own site does.
        env=process_env(COLLOQUY_TASKS="immediate", ALLOWED_HOSTS="127.0.0.1", DEBUG="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# Killed inside its transaction: the stronger case (the worker test covers both stages).
@pytest.mark.parametrize("stage", ["writing"])
def test_a_web_server_killed_mid_import_leaves_no_partial_document(
    long_study: Study, owner: User, settings: object, processes: list, data: bytes, stage: str
) -> None:
    client = Client()
    client.force_login(owner)
    # The upload is made in the test's process; the server gets the confirmation.
    upload = client.post(
        reverse("studies:import", args=[long_study.slug]),
        {
            "transcripts": "1",
            "t-workshop": long_study.workshops.get().pk,
            "t-files": [SimpleUploadedFile("B-1.txt", data)],
        },
    )
    assert upload.status_code == 302
    review_path = upload["Location"]

    port = free_port()
    server = start_server(port)
    processes.append(server)
    wait_for(lambda: answers(port), server, "the server to listen")
    session = client.cookies["sessionid"].value
    review = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    review.request("GET", review_path, headers={"Cookie": f"sessionid={session}"})
    response = review.getresponse()
    page = response.read().decode()
    if response.status != 200:
        server.kill()
        pytest.fail(f"the review page answered {response.status}:\n{server.communicate()[0]}")
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    review.close()

    outcome: list[object] = []

    def confirm() -> None:
        post = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            post.request(
                "POST",
                review_path,
                body=f"csrfmiddlewaretoken={token}&confirm=1",
                headers={
                    "Cookie": f"sessionid={session}; csrftoken={csrf_cookie}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            outcome.append(post.getresponse().status)
        except (http.client.HTTPException, OSError) as exc:
            outcome.append(exc)
        finally:
            post.close()

    sender = threading.Thread(target=confirm)
    sender.start()
    kill_at(stage, server, long_study)
    sender.join(timeout=30)

    # The request never got its answer: the server died under it.
    assert outcome and not isinstance(outcome[0], int), outcome
    assert_nothing_written(long_study)
    job = Job.objects.get(study=long_study, kind="import")
    assert_stops_showing_as_running(client, job, settings)

    # Importing again (here in the test's own process) works.
    again = upload_and_confirm_immediately(client, long_study, transcript(20_000, seed=3))
    assert again.status == Job.Status.DONE, again.error
    assert Document.objects.get(study=long_study).sentences.exists()


def upload_and_confirm_immediately(client: Client, study: Study, data: bytes) -> Job:
    upload = client.post(
        reverse("studies:import", args=[study.slug]),
        {
            "transcripts": "1",
            "t-workshop": study.workshops.get().pk,
            "t-files": [SimpleUploadedFile("B-1.txt", data)],
        },
    )
    assert upload.status_code == 302
    done = client.post(upload["Location"], {"confirm": "1"})
    assert done.status_code == 302
    assert done["Location"] == reverse("studies:documents", args=[study.slug])
    return Job.objects.filter(study=study, kind="import").order_by("-pk").first()


def drop_connection(job: Job, progress: Progress) -> Outcome:
    """A handler whose database connection is cut under it (a restart, a failover)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    return Outcome(message="Not reached.")


def test_a_job_whose_database_connection_drops_fails_rather_than_hangs(
    long_study: Study, owner: User
) -> None:
    job = start_job(
        study=long_study,
        user=owner,
        kind="t",
        title="T",
        handler=f"{__name__}.drop_connection",
    )
    # Finished as failed, in a new connection, rather than left "running" until it stalls.
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("An unexpected error stopped it (OperationalError)")
    assert job.finished_at is not None


def test_a_worker_told_twice_to_stop_fails_its_job_and_writes_nothing(
    long_study: Study, owner: User, settings: object, processes: list, data: bytes
) -> None:
    settings.TASKS = DATABASE_TASKS
    client = Client()
    client.force_login(owner)
    job = upload_and_confirm(client, long_study, data, "B-1.txt")
    worker = start_worker()
    processes.append(worker)
    wait_for(
        Job.objects.filter(pk=job.pk, stage__startswith="Finding the sentences").exists,
        worker,
        "the job to report it is finding sentences",
    )
    worker.send_signal(signal.SIGTERM)
    worker.send_signal(signal.SIGINT)  # the second asks it to stop at once
    output = worker.communicate(timeout=120)[0].decode(errors="replace")
    assert "terminating current task" in output
    wait_for(lambda: not other_backends(), None, "the stopped worker's connections to close")

    assert_nothing_written(long_study)
    job.refresh_from_db()
    # It says so at once, rather than running on until it stalls.
    assert job.status == Job.Status.FAILED
    assert job.error == (
        "It was stopped before it finished: its worker or the server was shutting down. "
        "Nothing it was writing was saved; start it again."
    )
    panel = client.get(job.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert "<strong>Failed</strong>" in panel
    assert "hx-trigger" not in panel
