"""A person's job pages: the list and one job's page are the starter's alone (everyone else,
other owners included, is told there is no such job); the status panel htmx polls comes alone
and stops being polled once the job has finished or stopped; a stopped, a failed and an expired
job each say so. And `run_job`, in the request (the immediate backend): what a handler's
refusal, an unexpected error and a starter who has left the study turn into."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studies.jobs import (
    JobFailed,
    Outcome,
    Progress,
    is_stalled,
    run_job,
    stalled_condition,
    start_job,
    waiting_job,
)
from studies.models import Job, Membership, Study
from tests.test_transcript_import import FI_TXT

POLLING = 'hx-trigger="every 1s"'


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_job(study: Study, user: User, **fields: object) -> Job:
    values = {"kind": "pack", "title": "Paper pack", "handler": "exports.jobs.paper_pack"}
    return Job.objects.create(study=study, user=user, **(values | fields))


def panel(client: Client, job: Job, seen: str | None = None) -> str:
    """The status panel as htmx polls it, telling the state the page shows (`seen`)."""
    query = {"seen": seen} if seen else {}
    answer = client.get(job.get_absolute_url(), query, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.fixture
def packed(study: Study, people: dict[str, User]) -> Job:
    """Alice's finished paper pack, with its file."""
    job = make_job(
        study,
        people["alice"],
        status=Job.Status.DONE,
        message="The paper pack is ready.",
        finished_at=timezone.now(),
        result_name="adm_pack.zip",
        result_type="application/zip",
        result_size=4,
    )
    job.result.save("adm_pack.zip", ContentFile(b"PK\x05\x06"))
    return job


def test_the_starter_sees_the_list_the_page_and_the_file(
    study: Study, people: dict[str, User], packed: Job
) -> None:
    queued = make_job(study, people["alice"], kind="import", title="Importing 2 transcripts")
    alice = client_for(people["alice"])

    listing = alice.get(reverse("studies:jobs", args=[study.slug])).content.decode()
    assert listing.index("Importing 2 transcripts") < listing.index("Paper pack")  # newest first
    assert "Waiting for a worker" in listing
    file_url = reverse("studies:job_file", args=[study.slug, packed.pk])
    assert f'href="{file_url}" download>adm_pack.zip</a>' in listing

    page = alice.get(packed.get_absolute_url()).content.decode()
    assert "<h1>Paper pack</h1>" in page
    assert "The paper pack is ready." in page
    assert "Download adm_pack.zip" in page
    download = alice.get(file_url)
    assert download["Content-Type"] == "application/zip"
    assert download["Content-Disposition"] == 'attachment; filename="adm_pack.zip"'
    assert b"".join(download.streaming_content) == b"PK\x05\x06"
    assert alice.get(queued.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("who", ["carol (another owner)", "bob", "victor", "mallory"])
def test_nobody_else_finds_the_job_or_its_file(
    study: Study, people: dict[str, User], packed: Job, who: str
) -> None:
    if who.startswith("carol"):
        carol = User.objects.create_user("carol")
        Membership.objects.create(study=study, user=carol, role="owner")
        user = carol
    else:
        user = people[who]
    other = client_for(user)
    assert other.get(packed.get_absolute_url()).status_code == 404
    assert other.get(packed.get_absolute_url(), headers={"HX-Request": "true"}).status_code == 404
    assert other.get(reverse("studies:job_file", args=[study.slug, packed.pk])).status_code == 404
    listing = other.get(reverse("studies:jobs", args=[study.slug]))
    if who == "mallory":
        assert listing.status_code == 404  # not a member of the study at all
    else:
        assert listing.status_code == 200
        assert "Paper pack" not in listing.content.decode()
        assert "You have started no jobs in this study." in listing.content.decode()


def test_a_job_of_another_study_is_not_found_through_this_one(
    study: Study, people: dict[str, User], packed: Job
) -> None:
    other = Study.objects.create(slug="other", name="Other")
    Membership.objects.create(study=other, user=people["alice"], role="owner")
    alice = client_for(people["alice"])
    assert alice.get(reverse("studies:job", args=["other", packed.pk])).status_code == 404
    assert alice.get(reverse("studies:job_file", args=["other", packed.pk])).status_code == 404


def test_the_htmx_panel_comes_alone_and_is_polled_until_the_job_finishes(
    study: Study, people: dict[str, User]
) -> None:
    job = make_job(study, people["alice"], kind="import", title="Importing 1 transcript")
    alice = client_for(people["alice"])

    queued = panel(alice, job)
    assert queued.lstrip().startswith('<div id="job-status"')
    assert "<html" not in queued and "<h1>" not in queued
    assert POLLING in queued
    assert f'hx-get="{job.get_absolute_url()}"' in queued
    assert "<strong>Waiting for a worker</strong>" in queued

    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        done=250,
        total=1000,
        stage="Finding the sentences of B-1.txt",
    )
    running = panel(alice, job)
    assert POLLING in running
    assert "<strong>Running</strong>: Finding the sentences of B-1.txt" in running
    assert '<progress max="1000" value="250"' in running
    assert "250 of 1,000 (25%)" in running

    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.DONE,
        finished_at=timezone.now(),
        done=1000,
        stage="",
        message="Imported 1 transcript: 12 turns",
        next_url=reverse("studies:documents", args=[study.slug]),
    )
    done = panel(alice, job)
    assert "hx-get" not in done and "hx-trigger" not in done
    assert "<strong>Done</strong>" in done
    assert "Imported 1 transcript: 12 turns" in done
    assert f'<a href="{reverse("studies:documents", args=[study.slug])}">Continue</a>' in done


def test_a_job_silent_past_the_stall_time_shows_as_stopped(
    study: Study, people: dict[str, User], settings: object
) -> None:
    settings.COLLOQUY_JOB_STALL_MINUTES = 30
    heard = timezone.now() - dt.timedelta(minutes=29)
    job = make_job(
        study,
        people["alice"],
        status=Job.Status.RUNNING,
        started_at=heard,
        heartbeat_at=heard,
        done=10,
        total=40,
        stage="Drawing figures",
    )
    alice = client_for(people["alice"])
    still = panel(alice, job)
    assert "<strong>Running</strong>: Drawing figures" in still
    assert "its worker stopped" not in still

    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=31))
    stopped = panel(alice, job)
    assert "<strong>Stopped</strong>: Drawing figures" in stopped  # where it stopped
    assert re.search(
        r'role="alert">Nothing has been heard from this job since 31\xa0minutes ago: its worker '
        r"stopped before it finished\. Nothing it was writing was saved; start it again\.",
        stopped,
    ), stopped
    assert "hx-trigger" not in stopped
    listing = alice.get(reverse("studies:jobs", args=[study.slug])).content.decode()
    assert '<td class="job-running">Stopped</td>' in listing


def test_a_failed_job_shows_its_error(study: Study, people: dict[str, User]) -> None:
    job = make_job(
        study,
        people["alice"],
        status=Job.Status.FAILED,
        finished_at=timezone.now(),
        error="Nothing was imported: B-1.txt: speakers not in the roster: 'Guest'",
    )
    alice = client_for(people["alice"])
    page = alice.get(job.get_absolute_url()).content.decode()
    assert "<strong>Failed</strong>" in page
    assert (
        '<p class="error" role="alert">Nothing was imported: B-1.txt: speakers not in the '
        "roster: &#x27;Guest&#x27;</p>"
    ) in page
    assert "hx-trigger" not in page
    listing = alice.get(reverse("studies:jobs", args=[study.slug])).content.decode()
    assert '<td class="job-failed">Failed</td>' in listing


def test_an_expired_file_says_so_and_is_gone(
    study: Study, people: dict[str, User], packed: Job, settings: object
) -> None:
    settings.COLLOQUY_JOB_RESULT_DAYS = 7
    Job.objects.filter(pk=packed.pk).update(finished_at=timezone.now() - dt.timedelta(days=8))
    call_command("cleanup", stdout=io.StringIO())
    packed.refresh_from_db()
    assert packed.result_expired
    alice = client_for(people["alice"])

    page = alice.get(packed.get_absolute_url()).content.decode()
    assert "Its file was deleted after its time was up; run it again for a new one." in page
    assert "Download" not in page
    listing = alice.get(reverse("studies:jobs", args=[study.slug])).content.decode()
    assert "Deleted after its time was up" in listing
    gone = alice.get(reverse("studies:job_file", args=[study.slug, packed.pk]))
    assert gone.status_code == 404


# run_job in the request: handlers named by their dotted path, as any job's are.


def refusing(job: Job, progress: Progress) -> Outcome:
    raise JobFailed("Nothing was made: the study has no codings yet.")


def crashing(job: Job, progress: Progress) -> Outcome:
    raise ZeroDivisionError("division by zero")


def reporting(job: Job, progress: Progress) -> Outcome:
    progress(3, 4, "Counting", force=True)
    job.refresh_from_db()
    assert (job.done, job.total, job.stage) == (3, 4, "Counting")
    assert job.heartbeat_at is not None
    return Outcome(message="Counted.", next_url="/done/", file=("n.txt", "text/plain", b"4"))


def test_a_handler_refusal_and_an_unexpected_error_become_the_job_s_error(
    study: Study, people: dict[str, User]
) -> None:
    refused = start_job(
        study=study, user=people["alice"], kind="t", title="T", handler=f"{__name__}.refusing"
    )
    assert refused.status == Job.Status.FAILED
    assert refused.error == "Nothing was made: the study has no codings yet."

    crashed = start_job(
        study=study, user=people["alice"], kind="t", title="T", handler=f"{__name__}.crashing"
    )
    assert crashed.status == Job.Status.FAILED
    assert crashed.error == (
        "An unexpected error stopped it (ZeroDivisionError); the server's log has the details "
        f"under job {crashed.pk}. Anything it was writing was not saved."
    )
    assert "division by zero" not in crashed.error


# Progress is written outside transactions only, so this test's writes are committed.
@pytest.mark.django_db(transaction=True)
def test_a_job_reports_progress_and_keeps_its_file(study: Study, people: dict[str, User]) -> None:
    job = start_job(
        study=study, user=people["bob"], kind="t", title="T", handler=f"{__name__}.reporting"
    )
    assert job.status == Job.Status.DONE
    assert (job.done, job.total, job.stage) == (4, 4, "")
    assert job.message == "Counted." and job.next_url == "/done/"
    assert (job.result_name, job.result_type, job.result_size) == ("n.txt", "text/plain", 1)
    assert job.result.read() == b"4"


def test_a_starter_who_left_the_study_before_it_ran_gets_nothing(
    study: Study, people: dict[str, User], settings: object
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    job = start_job(
        study=study, user=people["bob"], kind="t", title="T", handler=f"{__name__}.reporting"
    )
    assert job.status == Job.Status.QUEUED
    Membership.objects.filter(study=study, user=people["bob"]).delete()
    assert run_job.call(job.pk) == Job.Status.FAILED
    job.refresh_from_db()
    assert job.error == "You are no longer a member of this study."
    assert not job.result
    # Run again (a worker picking the same task up after a crash), it is not run twice.
    assert run_job.call(job.pk) == Job.Status.FAILED


def meanwhile(job: Job, progress: Progress) -> Outcome:
    # What start_job writes once the backend has the task, here while the job runs.
    Job.objects.filter(pk=job.pk).update(task_id="task-7")
    return Outcome(message="Done meanwhile.")


def test_finishing_a_job_keeps_what_was_written_meanwhile(
    study: Study, people: dict[str, User]
) -> None:
    job = start_job(
        study=study, user=people["alice"], kind="t", title="T", handler=f"{__name__}.meanwhile"
    )
    assert (job.status, job.message) == (Job.Status.DONE, "Done meanwhile.")
    assert job.task_id == "task-7"


def test_a_file_missing_from_storage_is_not_found_rather_than_an_error(
    study: Study, people: dict[str, User], packed: Job
) -> None:
    # As when a worker wrote it to storage the web server does not share.
    packed.result.storage.delete(packed.result.name)
    alice = client_for(people["alice"])
    gone = alice.get(reverse("studies:job_file", args=[study.slug, packed.pk]))
    assert gone.status_code == 404


def test_a_change_of_state_is_told_to_the_page_s_status_line_once(
    study: Study, people: dict[str, User]
) -> None:
    job = make_job(study, people["alice"], kind="import", title="Importing 1 transcript")
    alice = client_for(people["alice"])
    page = alice.get(job.get_absolute_url()).content.decode()
    # The status line stays on the page while the panel is replaced under it.
    assert '<p id="job-announce" class="visually-hidden" role="status"></p>' in page
    assert 'hx-vals=\'{"seen": "queued"}\'' in page

    assert "job-announce" not in panel(alice, job, seen="queued")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    running = panel(alice, job, seen="queued")
    assert (
        '<p id="job-announce" hx-swap-oob="innerHTML">Importing 1 transcript: Running.</p>'
        in running
    )
    assert 'hx-vals=\'{"seen": "running"}\'' in running
    assert "job-announce" not in panel(alice, job, seen="running")

    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, finished_at=timezone.now(), error="Nothing was imported."
    )
    failed = panel(alice, job, seen="running")
    assert "Importing 1 transcript: Failed. Nothing was imported.</p>" in failed


def test_an_upload_confirmed_twice_while_its_job_waits_has_one_job(
    roster_study: Study, people: dict[str, User], settings: object
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    alice = client_for(people["alice"])
    upload = alice.post(
        reverse("studies:import", args=[roster_study.slug]),
        {
            "transcripts": "1",
            "t-workshop": roster_study.workshops.get(code="FI-1").pk,
            "t-files": [SimpleUploadedFile("FI-1.txt", FI_TXT.encode())],
        },
    )
    first = alice.post(upload["Location"], {"confirm": "1"})
    again = alice.post(upload["Location"], {"confirm": "1"})  # a double click
    job = Job.objects.get(study=roster_study, kind="import")
    assert first["Location"] == again["Location"] == job.get_absolute_url()
    # A job whose worker died (silent past the stall time) is not followed: a new one starts.
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, heartbeat_at=timezone.now() - dt.timedelta(minutes=31)
    )
    settings.COLLOQUY_JOB_STALL_MINUTES = 30
    retried = alice.post(upload["Location"], {"confirm": "1"})
    job = Job.objects.get(study=roster_study, kind="import", status=Job.Status.QUEUED)
    assert retried["Location"] == job.get_absolute_url()
    assert run_job.call(job.pk) == Job.Status.DONE
    # Done, its upload is used up: confirming again finds nothing to import.
    assert alice.post(upload["Location"], {"confirm": "1"}).status_code == 404


def test_the_page_asking_again_and_cleanup_agree_on_which_jobs_stalled(
    study: Study, people: dict[str, User], settings: object
) -> None:
    """One rule (studies.jobs.stalled_condition, is_stalled): silent past the stall time since
    the last heartbeat, or since it was created when it never sent one."""
    settings.COLLOQUY_JOB_STALL_MINUTES = 30
    long_ago = timezone.now() - dt.timedelta(minutes=31)
    lately = timezone.now() - dt.timedelta(minutes=29)
    jobs = {
        "silent": make_job(study, people["alice"], status="running", heartbeat_at=long_ago),
        "never heard": make_job(study, people["alice"], status="running", heartbeat_at=None),
        "heard lately": make_job(study, people["alice"], status="running", heartbeat_at=lately),
    }
    Job.objects.filter(pk=jobs["never heard"].pk).update(created_at=long_ago)
    for job in jobs.values():
        job.refresh_from_db()
    assert {name for name, job in jobs.items() if is_stalled(job)} == {"silent", "never heard"}
    assert {job.pk for job in Job.objects.filter(stalled_condition())} == {
        jobs["silent"].pk,
        jobs["never heard"].pk,
    }
    # Asking again (start_job's once_per) follows only the job still heard from.
    for name, job in jobs.items():
        Job.objects.filter(pk=job.pk).update(params={"layer": name})
    following = {
        name: waiting_job(study=study, user=people["alice"], kind="pack", layer=name)
        for name in jobs
    }
    assert following == {"silent": None, "never heard": None, "heard lately": jobs["heard lately"]}
    call_command("cleanup", stdout=io.StringIO())
    failed = Job.objects.filter(status=Job.Status.FAILED)
    assert set(failed.values_list("pk", flat=True)) == {jobs["silent"].pk, jobs["never heard"].pk}
