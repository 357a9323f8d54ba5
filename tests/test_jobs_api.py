"""Jobs through the API: a person's jobs in a study, one job's progress and outcome, its file
(only to the member who started it), and the endpoints that start jobs: the paper pack and the
transcript import. Under the immediate backend (the default) they answer as before jobs; under
the database backend they answer 202 with the job and a Location to poll, the job waits QUEUED,
and here it is run in-process with `run_job.call` as a worker would run it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from coding.models import Code
from studies.jobs import run_job
from studies.models import Document, Job, Membership, PendingImport, Study
from tests.helpers import client_for, db_snapshot
from tests.test_qdpx_views import code_it
from tests.test_transcript_import import FI_TXT

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
API = "/api/v1/studies"


@pytest.fixture
def background(settings: object) -> None:
    """Jobs wait for a worker, as with COLLOQUY_TASKS=database."""
    settings.TASKS = DATABASE_TASKS


@pytest.fixture
def coded(document: Document, codes: dict[str, Code], people: dict[str, User]) -> Study:
    return code_it(document, codes, people["bob"])


def run(job_id: int) -> Job:
    """What `manage.py db_worker` does with a queued job, in this process."""
    run_job.call(job_id)
    return Job.objects.get(pk=job_id)


def job_path(study: Study, job_id: int, suffix: str = "") -> str:
    return f"{API}/{study.slug}/jobs/{job_id}/{suffix}"


def assert_file_only_for_starter(study: Study, job: Job, people: dict[str, User]) -> bytes:
    """The job's file goes to the member who started it; anyone else finds no such job."""
    file_url = job_path(study, job.pk, "file/")
    # Bob becomes an owner too: owning the study does not open another person's job.
    Membership.objects.filter(study=study, user=people["bob"]).update(role="owner")
    for name in ("bob", "victor", "mallory"):
        client = client_for(people[name])
        assert client.get(file_url).status_code == 404, name
        assert client.get(job_path(study, job.pk)).status_code == 404, name
    assert client_for(None).get(file_url).status_code in (401, 403)
    response = client_for(people[job.user.username]).get(file_url)
    assert response.status_code == 200
    assert job.result_name in response["Content-Disposition"]
    return b"".join(response.streaming_content)


# --- The paper pack ----------------------------------------------------------------------------


def test_the_pack_api_answers_with_the_finished_job_and_its_file_under_the_immediate_backend(
    coded: Study, people: dict[str, User]
) -> None:
    response = client_for(people["alice"]).post(f"{API}/{coded.slug}/pack/")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"]) == ("pack", "done")
    assert body["file"].endswith(job_path(coded, body["id"], "file/"))
    assert body["file_name"] == "adm_pack.zip" and body["file_size"] > 0
    content = assert_file_only_for_starter(coded, Job.objects.get(pk=body["id"]), people)
    assert "README.md" in " ".join(zipfile.ZipFile(io.BytesIO(content)).namelist())


def test_the_pack_api_answers_202_and_the_job_is_polled_under_the_database_backend(
    coded: Study, people: dict[str, User], background: None
) -> None:
    alice = client_for(people["alice"])

    response = alice.post(f"{API}/{coded.slug}/pack/", {"layer": "bob"}, "application/json")

    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.QUEUED and job.params == {"layer": "bob"}
    assert response["Location"].endswith(job_path(coded, job.pk))
    waiting = alice.get(response["Location"]).json()
    assert (waiting["status"], waiting["file"], waiting["finished_at"]) == ("queued", None, None)

    assert run(job.pk).status == Job.Status.DONE

    done = alice.get(response["Location"]).json()
    assert done["status"] == "done" and done["message"].startswith("The paper pack is ready")
    assert done["started_at"] and done["finished_at"]
    assert done["file"].endswith(job_path(coded, job.pk, "file/"))
    assert zipfile.ZipFile(io.BytesIO(assert_file_only_for_starter(coded, job, people))).namelist()


def test_a_coder_under_blind_coding_may_not_pack_anyone_elses_layer(
    coded: Study, people: dict[str, User]
) -> None:
    coded.blind_coding = True
    coded.save(update_fields=["blind_coding"])
    bob = client_for(people["bob"])

    refused = bob.post(f"{API}/{coded.slug}/pack/", {"layer": "alice"}, "application/json")

    assert refused.status_code == 403
    assert not Job.objects.exists()
    own = bob.post(f"{API}/{coded.slug}/pack/", {"layer": "bob"}, "application/json")
    assert own.status_code == 201 and own.json()["status"] == "done"


def test_a_member_removed_before_the_job_runs_gets_nothing(
    coded: Study, people: dict[str, User], background: None
) -> None:
    bob = client_for(people["bob"])
    job_id = bob.post(f"{API}/{coded.slug}/pack/").json()["id"]
    Membership.objects.filter(study=coded, user=people["bob"]).delete()

    job = run(job_id)

    assert job.status == Job.Status.FAILED
    assert job.error == "You are no longer a member of this study."
    assert not job.result
    assert bob.get(job_path(coded, job_id)).status_code == 404


# --- The list and one job ----------------------------------------------------------------------


def test_the_list_holds_only_your_own_jobs_and_outsiders_find_none(
    coded: Study, people: dict[str, User], background: None
) -> None:
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    mine = alice.post(f"{API}/{coded.slug}/pack/").json()["id"]
    theirs = bob.post(f"{API}/{coded.slug}/pack/").json()["id"]

    listed = alice.get(f"{API}/{coded.slug}/jobs/")

    assert listed.status_code == 200
    assert [job["id"] for job in listed.json()] == [mine]
    assert [job["id"] for job in bob.get(f"{API}/{coded.slug}/jobs/").json()] == [theirs]
    assert alice.get(job_path(coded, theirs)).status_code == 404
    assert client_for(people["mallory"]).get(f"{API}/{coded.slug}/jobs/").status_code == 404
    assert client_for(None).get(f"{API}/{coded.slug}/jobs/").status_code in (401, 403)


def test_a_job_refused_as_it_runs_says_why(
    coded: Study, people: dict[str, User], background: None
) -> None:
    bob = client_for(people["bob"])
    job_id = bob.post(f"{API}/{coded.slug}/pack/", {"layer": "alice"}).json()["id"]
    # Blind coding is turned on before a worker takes the job: Bob may pack only his own.
    coded.blind_coding = True
    coded.save(update_fields=["blind_coding"])

    job = run(job_id)

    body = bob.get(job_path(coded, job_id)).json()
    assert body["status"] == "failed" == job.status
    assert body["error"] == job.error and "only their own codings" in body["error"]
    assert body["file"] is None
    assert bob.get(job_path(coded, job_id, "file/")).status_code == 404


# --- The transcript import ---------------------------------------------------------------------


def transcripts_url(study: Study) -> str:
    return f"{API}/{study.slug}/imports/transcripts/?confirm=1"


def transcript(content: str = FI_TXT) -> SimpleUploadedFile:
    return SimpleUploadedFile("FI-1.txt", content.encode(), content_type="text/plain")


def test_the_transcript_import_api_answers_as_before_under_the_immediate_backend(
    roster_study: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])

    response = alice.post(
        transcripts_url(roster_study), {"workshop": "FI-1", "files": [transcript()]}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["applied"] is True and body["summary"].startswith("Imported 1 transcript")
    [outcome] = body["documents"]
    document = Document.objects.get(pk=outcome["id"])
    assert (outcome["status"], outcome["turns"]) == ("created", document.turns.count())
    assert not PendingImport.objects.exists()
    job = Job.objects.get()
    assert (job.kind, job.status, job.data) == ("import", Job.Status.DONE, body)


def test_a_refused_transcript_stays_a_400_naming_the_file_and_leaves_nothing(
    roster_study: Study, people: dict[str, User]
) -> None:
    before = db_snapshot()

    response = client_for(people["alice"]).post(
        transcripts_url(roster_study),
        {"workshop": "FI-1", "files": [transcript(FI_TXT.replace("Eero:", "Stranger:"))]},
    )

    assert response.status_code == 400
    assert list(response.json()) == ["file"]
    assert "speakers not in the roster: 'Stranger'" in response.json()["file"][0]
    assert db_snapshot() == before
    assert not PendingImport.objects.exists()


def test_the_transcript_import_api_answers_202_and_a_worker_imports(
    roster_study: Study, people: dict[str, User], background: None
) -> None:
    alice = client_for(people["alice"])

    response = alice.post(
        transcripts_url(roster_study),
        {"workshop": "FI-1", "files": [transcript()], "mapping": json.dumps({"Eero": "P02"})},
    )

    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.QUEUED and job.params["mapping"] == {"Eero": "P02"}
    assert PendingImport.objects.filter(kind="transcript").count() == 1
    assert not Document.objects.exists()

    assert run(job.pk).status == Job.Status.DONE

    body = alice.get(response["Location"]).json()
    [outcome] = body["data"]["documents"]
    assert Document.objects.get(pk=outcome["id"]).title == "FI-1"
    assert body["data"]["applied"] is True and body["next_url"].endswith("/documents/")
    assert not PendingImport.objects.exists()


def test_a_transcript_refused_in_the_worker_says_why_in_the_job(
    roster_study: Study, people: dict[str, User], background: None
) -> None:
    alice = client_for(people["alice"])
    response = alice.post(
        transcripts_url(roster_study),
        {"workshop": "FI-1", "files": [transcript(FI_TXT.replace("Eero:", "Stranger:"))]},
    )

    job = run(response.json()["id"])

    assert job.status == Job.Status.FAILED
    assert job.error.startswith("Nothing was imported: ")
    assert "'Stranger'" in job.data["file"][0]
    assert not Document.objects.exists()
    # Nobody comes back to an upload the API refused: its bytes are gone.
    assert not PendingImport.objects.exists()
