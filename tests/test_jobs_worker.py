"""Background jobs across processes: the request that starts a job answers at once, and
`manage.py db_worker`, run as a second process on the same PostgreSQL database and media
folder, does the work while the job's page shows its progress.

Two jobs as an owner starts them from the site: a 5 MB transcript import (upload, review,
confirm) and the paper pack of a study with 100,000 codings, whose file only the person who
asked for it can see or download.

A second process cannot see SQLite's in-memory test database, so these tests run on
PostgreSQL only (a DATABASE_URL of postgres://USER@HOST/NAME).
"""

from __future__ import annotations

import io
import itertools
import os
import random
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from coding.models import Code, Coding
from coding.services import import_codebook
from studies.models import Document, Job, Membership, PendingImport, Sentence, Study, Turn
from studies.services import import_roster, import_transcripts
from tests.helpers import require_postgresql

ROOT = Path(__file__).resolve().parents[1]
US1 = ROOT / "studies" / "demo" / "US-1.txt"
CODEBOOK = ROOT / "coding" / "demo" / "codebook.csv"
# The status panel's progress bar: <progress max="total" value="done">.
PROGRESS = re.compile(r'<progress max="(\d+)" value="(\d+)"')
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
SPEAKERS = ["Moderator"] + [f"P{n:02d}" for n in range(1, 13)]
# Twelve participants of workshop B-1, whose moderator is a facilitator: every speaker of
# `transcript` is known, so the review page asks nothing about speakers.
ROSTER = "participant,workshop,country,language,facilitators\n" + "".join(
    f"P{n:02d},B-1,GB,en,Moderator\n" for n in range(1, 13)
)


def transcript(words: int, seed: int = 1, title: str = "Long workshop") -> bytes:
    """About `words` words (870,000 make 5 MB): the demo's US-1 utterances shuffled among
    the twelve participants and the moderator, so turns and sentences are realistic."""
    rng = random.Random(seed)
    utterances = [
        line.split("] ", 1)[1]
        for line in US1.read_text(encoding="utf-8").splitlines()
        if line.startswith("[") and "] " in line
    ]
    lines, total = [title, ""], 0
    while total < words:
        text = rng.choice(utterances)
        lines += [f"{rng.choice(SPEAKERS)}: {text}", ""]
        total += len(text.split())
    return "\n".join(lines).encode()


@pytest.fixture
def postgres(transactional_db: None) -> None:
    require_postgresql("a second process cannot share SQLite's in-memory test database")


SECOND_PROCESS = "colloquy-second-process"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a second process on this test's database and media folder."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{quote(db['USER'] or '', safe='')}{password}@{host}{port}/"
        f"{db['NAME']}",
        "DATABASE_CONN_MAX_AGE": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DEBUG": "0",
        "COLLOQUY_TASKS": "database",
        "PYTHONUNBUFFERED": "1",
        # libpq names the second process's connections, so a test waits for those alone.
        "PGAPPNAME": SECOND_PROCESS,
    }
    env.update(extra)
    return env


def start_worker() -> subprocess.Popen[bytes]:
    """`manage.py db_worker --batch`: runs what is queued, then exits."""
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "db_worker",
            "--batch",
            "--no-reload",
            "--no-startup-delay",
            "--interval",
            "0.1",
        ],
        cwd=ROOT,
        env=process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still running at its end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def finish(process: subprocess.Popen[bytes], timeout: float = 120) -> str:
    output, _ = process.communicate(timeout=timeout)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    return text


def wait_for(
    condition: Callable[[], object], process: subprocess.Popen[bytes] | None, what: str
) -> object:
    """Poll until `condition()` is true; fail, naming `what`, if `process` ends first or after
    two minutes (a hung test, not a slow machine)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process is not None and process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            pytest.fail(f"the process ended before {what}:\n{output}")
        time.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


@pytest.fixture
def owner(postgres: None) -> User:
    return User.objects.create_user("alice", "alice@example.org", "pw-alice")


@pytest.fixture
def long_study(owner: User) -> Study:
    study = Study.objects.create(slug="long", name="A long workshop")
    Membership.objects.create(study=study, user=owner, role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    return study


def upload_and_confirm(client: Client, study: Study, data: bytes, filename: str) -> Job:
    """Upload a transcript on the import page, open its review, confirm: as an owner does."""
    upload = client.post(
        reverse("studies:import", args=[study.slug]),
        {
            "transcripts": "1",
            "t-workshop": study.workshops.get(code="B-1").pk,
            "t-files": [SimpleUploadedFile(filename, data)],
        },
    )
    assert upload.status_code == 302, upload.content.decode()[:2000]
    review = client.get(upload["Location"])
    assert review.status_code == 200
    assert review.context["mapping_form"].fields == {}  # every speaker is known
    confirm = client.post(upload["Location"], {"confirm": "1"})
    job = Job.objects.get(study=study, kind="import", status=Job.Status.QUEUED)
    # The request answered at once, before any worker ran: the job waits on its page.
    assert confirm.status_code == 302
    assert confirm["Location"] == job.get_absolute_url()
    page = client.get(confirm["Location"])
    assert "Waiting for a worker" in page.content.decode()
    return job


def watch_progress(client: Client, job: Job, worker: subprocess.Popen[bytes]) -> list[str]:
    """The job's status panel (as htmx polls it) until the worker exits: what it showed."""
    seen: list[str] = []
    url = job.get_absolute_url()
    while worker.poll() is None:
        panel = client.get(url, headers={"HX-Request": "true"})
        assert panel.status_code == 200
        seen.append(panel.content.decode())
        time.sleep(0.25)
    return seen


def test_a_5_mb_import_runs_in_a_worker_process_while_its_page_shows_progress(
    long_study: Study, owner: User, settings: object, processes: list
) -> None:
    settings.TASKS = DATABASE_TASKS
    data = transcript(870_000)
    assert len(data) > 5_000_000
    client = Client()
    client.force_login(owner)

    job = upload_and_confirm(client, long_study, data, "B-1.txt")
    assert not Document.objects.filter(study=long_study).exists()

    worker = start_worker()
    processes.append(worker)
    seen = watch_progress(client, job, worker)
    finish(worker)

    # While it ran, the panel told how far it was: a stage, and a share done of the whole.
    running = [panel for panel in seen if "<strong>Running</strong>" in panel]
    assert any(": Finding the sentences of B-1.txt" in panel for panel in running), seen[-3:]
    shares = [tuple(map(int, m)) for panel in running for m in PROGRESS.findall(panel)]
    assert any(0 < done < total for total, done in shares), shares
    assert all('hx-trigger="every 1s"' in panel for panel in running)

    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    document = Document.objects.get(study=long_study)
    turns = Turn.objects.filter(document=document).count()
    sentences = Sentence.objects.filter(document=document).count()
    assert turns > 10_000
    assert sentences > turns
    [described] = job.data["documents"]
    assert {k: described[k] for k in ("id", "title", "status", "turns", "sentences")} == {
        "id": document.pk,
        "title": "B-1",
        "status": "created",
        "turns": turns,
        "sentences": sentences,
    }
    assert job.message.startswith(f"Imported 1 transcript: {turns:,} turns")
    assert not PendingImport.objects.filter(study=long_study).exists()
    assert 0 < job.done == job.total
    assert job.heartbeat_at >= job.started_at

    # The finished panel stops polling and leads on to the documents.
    panel = client.get(job.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in panel
    assert f'href="{reverse("studies:documents", args=[long_study.slug])}"' in panel


def coded_study(owner: User, codings: int) -> Study:
    """A study with `codings` codings: one transcript whose sentences two coders coded with
    the demo codebook's codes, written in bulk as the benchmarks do."""
    study = Study.objects.create(slug="coded", name="A coded study")
    Membership.objects.create(study=study, user=owner, role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    import_codebook(study=study, filename=CODEBOOK.name, data=CODEBOOK.read_bytes())
    codes = list(Code.objects.filter(study=study, codable=True).order_by("pk"))
    coders = [User.objects.create_user(f"coder-{n}") for n in range(2)]
    for coder in coders:
        Membership.objects.create(study=study, user=coder, role="coder")
    per_sentence = len(codes) * len(coders)
    words = 25 * (codings // per_sentence + 1)  # sentences are shorter than 25 words
    [outcome] = import_transcripts(
        study=study,
        workshop=study.workshops.get(),
        files=[("B-1.txt", transcript(words, seed=2))],
    )
    spans = list(outcome.document.sentences.values_list("start", "end"))
    assert len(spans) * per_sentence >= codings, "the transcript has too few sentences"
    rows = (
        Coding(document=outcome.document, code=code, coder=coder, start=start, end=end)
        for start, end in spans
        for code in codes
        for coder in coders
    )
    Coding.objects.bulk_create(list(itertools.islice(rows, codings)), batch_size=5000)
    return study


def test_the_paper_pack_of_100000_codings_is_made_by_a_worker_for_its_requester_only(
    owner: User, settings: object, processes: list
) -> None:
    settings.TASKS = DATABASE_TASKS
    study = coded_study(owner, 100_000)
    assert Coding.objects.filter(document__study=study).count() == 100_000
    others = {
        "another owner": User.objects.create_user("carol"),
        "a coder": User.objects.create_user("bob"),
        "an outsider": User.objects.create_user("mallory"),
    }
    Membership.objects.create(study=study, user=others["another owner"], role="owner")
    Membership.objects.create(study=study, user=others["a coder"], role="coder")
    client = Client()
    client.force_login(owner)

    asked = client.post(reverse("exports:pack", args=[study.slug]))
    job = Job.objects.get(study=study, kind="pack")
    assert asked.status_code == 302
    assert asked["Location"] == job.get_absolute_url()
    assert job.status == Job.Status.QUEUED
    assert not job.has_file

    worker = start_worker()
    processes.append(worker)
    finish(worker)

    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    page = client.get(job.get_absolute_url()).content.decode()
    file_url = reverse("studies:job_file", args=[study.slug, job.pk])
    assert f'href="{file_url}"' in page
    assert "Download coded_pack.zip" in page
    download = client.get(file_url)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert 'filename="coded_pack.zip"' in download["Content-Disposition"]
    content = b"".join(download.streaming_content)
    assert len(content) == job.result_size
    with zipfile.ZipFile(io.BytesIO(content)) as pack:
        names = pack.namelist()
        assert "README.md" in names
        assert pack.testzip() is None
    # The file was written by the worker into the shared media folder.
    assert (Path(settings.MEDIA_ROOT) / job.result.name).is_file()

    for who, user in others.items():
        other = Client()
        other.force_login(user)
        for url in (job.get_absolute_url(), file_url, reverse("studies:jobs", args=[study.slug])):
            answer = other.get(url)
            if url.endswith("/jobs/") and who != "an outsider":
                # Their own list, without Alice's job.
                assert answer.status_code == 200, who
                assert job.title not in answer.content.decode(), who
            else:
                assert answer.status_code == 404, (who, url)
