"""Long work run as jobs from the pages and the API: the REFI-QDA project's download and import,
the learned engine's training and the engines' suggestions, and the overview's link to a
person's jobs. Under the immediate backend (the default) each answers as it did before jobs
(their own tests: test_qdpx_views, test_qdpx_api, test_machine_views); here each also runs
under the database backend: the request answers with the job's page (or 202), the job waits
QUEUED, and `run_job.call` runs it in-process as `manage.py db_worker` would."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from coding.models import Code, Coding, MachineCoder
from coding.services import create_code
from exports.jobs import STALE
from exports.qdpx import write_qdpx
from studies.jobs import run_job
from studies.models import Document, Job, Membership, PendingImport, Study
from studies.services import create_study
from tests.helpers import client_for
from tests.test_jobs_api import DATABASE_TASKS, assert_file_only_for_starter, job_path
from tests.test_machine_views import coded_by_bob, fake_learned, fake_llm, uncoded  # noqa: F401
from tests.test_qdpx_views import code_it, digest_of, upload

API = "/api/v1/studies"


@pytest.fixture
def background(settings: object) -> None:
    settings.TASKS = DATABASE_TASKS


@pytest.fixture
def coded(document: Document, codes: dict[str, Code], people: dict[str, User]) -> Study:
    return code_it(document, codes, people["bob"])


@pytest.fixture
def copy(people: dict[str, User]) -> Study:
    return create_study(owner=people["alice"], name="The copy", slug="copy")


def started(response: object) -> Job:
    """The job a page started: it answers with a redirect to the job's page."""
    assert response.status_code == 302, response.content
    match = re.fullmatch(r"/studies/([-\w]+)/jobs/(\d+)/", response["Location"])
    assert match, response["Location"]
    job = Job.objects.get(pk=match.group(2))
    assert job.status == Job.Status.QUEUED
    return job


def run(job: Job) -> Job:
    run_job.call(job.pk)
    job.refresh_from_db()
    return job


# --- The REFI-QDA project ----------------------------------------------------------------------


def test_the_project_download_is_a_job_whose_file_only_its_starter_gets(
    coded: Study, people: dict[str, User], background: None
) -> None:
    alice = client_for(people["alice"])

    job = started(alice.post(reverse("exports:qdpx", args=[coded.slug])))

    assert (job.kind, job.user) == ("qdpx-export", people["alice"])
    page = alice.get(job.get_absolute_url())
    assert page.status_code == 200 and "Waiting for a worker" in page.content.decode()
    assert run(job).status == Job.Status.DONE and job.result_name == "adm.qdpx"
    assert "project.qde" in zipfile.ZipFile(io.BytesIO(job.result.read())).namelist()
    assert "Download adm.qdpx" in alice.get(job.get_absolute_url()).content.decode()
    page_file = reverse("studies:job_file", args=[coded.slug, job.pk])
    for name in ("bob", "victor", "mallory"):
        assert client_for(people[name]).get(page_file).status_code == 404, name
    assert client_for(None).get(page_file)["Location"].startswith("/login/")
    assert alice.get(page_file).status_code == 200
    assert_file_only_for_starter(coded, job, people)


def test_the_project_download_through_the_api_answers_202_then_serves_the_file(
    coded: Study, people: dict[str, User], background: None
) -> None:
    alice = client_for(people["alice"])

    response = alice.get(f"{API}/{coded.slug}/qdpx/")

    assert response.status_code == 202
    job = run(Job.objects.get(pk=response.json()["id"]))
    body = alice.get(response["Location"]).json()
    assert body["status"] == "done" and body["file"].endswith(job_path(coded, job.pk, "file/"))
    content = assert_file_only_for_starter(coded, job, people)
    assert "project.qde" in zipfile.ZipFile(io.BytesIO(content)).namelist()


def test_only_an_owner_at_the_time_it_runs_gets_the_project(
    coded: Study, people: dict[str, User], background: None
) -> None:
    job = started(client_for(people["alice"]).post(reverse("exports:qdpx", args=[coded.slug])))
    Membership.objects.filter(study=coded, user=people["alice"]).update(role="viewer")

    assert run(job).status == Job.Status.FAILED
    assert job.error == "This needs the owner role." and not job.result


def test_a_confirmed_project_import_is_a_job_that_a_worker_applies(
    coded: Study, copy: Study, people: dict[str, User], background: None
) -> None:
    data, _counts = write_qdpx(coded)
    alice = client_for(people["alice"])
    preview = alice.get(upload(alice, copy, "adm.qdpx", data)["Location"])

    job = started(
        alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": digest_of(preview)})
    )

    assert job.kind == "qdpx-import" and not Document.objects.filter(study=copy).exists()
    assert run(job).status == Job.Status.DONE, job.error
    assert job.message.startswith("adm.qdpx: adds 3 codes")
    assert job.next_url == reverse("studies:overview", args=[copy.slug])
    assert Coding.objects.filter(document__study=copy).count() == 1
    assert not PendingImport.objects.exists()


def test_a_study_changed_before_the_worker_runs_imports_nothing_and_keeps_the_upload(
    coded: Study, copy: Study, people: dict[str, User], background: None
) -> None:
    data, _counts = write_qdpx(coded)
    alice = client_for(people["alice"])
    preview = alice.get(upload(alice, copy, "adm.qdpx", data)["Location"])
    job = started(
        alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": digest_of(preview)})
    )
    # A code is added meanwhile: the preview's "3 new codes" no longer holds.
    create_code(study=copy, name="Concept", codable=False)

    assert run(job).status == Job.Status.FAILED
    assert job.error == STALE
    assert PendingImport.objects.filter(study=copy).count() == 1
    assert alice.get(preview.request["PATH_INFO"]).status_code == 200


def test_a_stale_confirmation_under_the_immediate_backend_still_shows_the_new_preview(
    coded: Study, copy: Study, people: dict[str, User]
) -> None:
    data, _counts = write_qdpx(coded)
    alice = client_for(people["alice"])
    preview = alice.get(upload(alice, copy, "adm.qdpx", data)["Location"])

    stale = alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": "0" * 64})

    assert stale.status_code == 200 and 'name="digest"' in stale.content.decode()
    assert not Document.objects.filter(study=copy).exists()
    assert Job.objects.get().error == STALE


def test_a_project_import_through_the_api_answers_202_and_reports_in_the_job(
    coded: Study, copy: Study, people: dict[str, User], background: None
) -> None:
    data, _counts = write_qdpx(coded)
    alice = client_for(people["alice"])

    response = alice.post(
        f"{API}/{copy.slug}/qdpx/", {"file": SimpleUploadedFile("adm.qdpx", data)}
    )

    assert response.status_code == 202
    job = run(Job.objects.get(pk=response.json()["id"]))
    body = alice.get(response["Location"]).json()
    assert body["data"]["applied"] is True and body["data"]["file"] == "adm.qdpx"
    assert (
        body["data"]["new"]["codings"] == 1 == Coding.objects.filter(document__study=copy).count()
    )
    assert job.status == Job.Status.DONE


def test_a_refused_project_through_the_api_stays_a_400_under_the_immediate_backend(
    copy: Study, people: dict[str, User]
) -> None:
    response = client_for(people["alice"]).post(
        f"{API}/{copy.slug}/qdpx/", {"file": SimpleUploadedFile("broken.qdpx", b"PK\x03\x04 no")}
    )

    assert response.status_code == 400
    assert response.json() == {"file": ["broken.qdpx: is not a .qdpx package (not a zip archive)"]}
    assert not PendingImport.objects.exists()


# --- Machine coding ----------------------------------------------------------------------------


def test_training_from_the_page_is_a_job_with_the_pages_message(
    document: Document,
    codes: dict[str, Code],
    people: dict[str, User],
    fake_learned: object,  # noqa: F811
    background: None,
) -> None:
    coded_by_bob(document, codes, people["bob"])
    alice = client_for(people["alice"])
    page = reverse("coding:machine_train", args=[document.study.slug])

    job = started(alice.post(page, {"layer": str(people["bob"].pk)}))

    assert not MachineCoder.objects.exists()
    assert run(job).status == Job.Status.DONE, job.error
    machine = MachineCoder.objects.get()
    assert job.message == (
        f"Trained {machine.label}. Check its agreement below before asking for suggestions."
    )
    assert job.next_url == reverse("coding:machine", args=[document.study.slug])


def test_training_and_suggesting_through_the_api_answer_202_and_the_jobs_hold_the_answers(
    document: Document,
    uncoded: Document,  # noqa: F811
    codes: dict[str, Code],
    people: dict[str, User],
    fake_learned: object,  # noqa: F811
    background: None,
) -> None:
    coded_by_bob(document, codes, people["bob"])
    alice = client_for(people["alice"])
    slug = document.study.slug

    trained = alice.post(f"{API}/{slug}/machine/train/", {"layer": "bob"}, "application/json")

    assert trained.status_code == 202
    job = run(Job.objects.get(pk=trained.json()["id"]))
    assert job.data["trained_on"] == "bob" and job.data["engine"] == "learned"

    asked = alice.post(
        f"{API}/{slug}/machine/suggest/",
        {"engine": "learned", "documents": [uncoded.pk]},
        "application/json",
    )

    assert asked.status_code == 202
    job = run(Job.objects.get(pk=asked.json()["id"]))
    assert (job.data["documents"], job.data["suggestions"]) == (1, 2)
    assert alice.get(asked["Location"]).json()["data"] == job.data


def test_an_llm_run_that_fails_in_the_worker_says_why(
    document: Document,
    people: dict[str, User],
    fake_llm: object,  # noqa: F811
    background: None,
) -> None:
    study = document.study
    study.llm_suggestions = True
    study.save(update_fields=["llm_suggestions"])
    alice = client_for(people["alice"])

    job = started(
        alice.post(
            reverse("coding:machine_suggest", args=[study.slug]),
            {"engine": "llm", "document": [document.pk]},
        )
    )

    assert run(job).status == Job.Status.FAILED
    assert job.error == (
        "No suggestions: the model answered with a code that is not in the codebook."
    )
    assert job.data == {"engine": ["the model answered with a code that is not in the codebook"]}
    assert not Coding.objects.filter(coder__machine_coder__isnull=False).exists()


def test_a_document_deleted_before_the_worker_runs_is_named(
    document: Document,
    uncoded: Document,  # noqa: F811
    codes: dict[str, Code],
    people: dict[str, User],
    fake_learned: object,  # noqa: F811
    background: None,
) -> None:
    slug = document.study.slug
    alice = client_for(people["alice"])
    asked = alice.post(
        f"{API}/{slug}/machine/suggest/",
        {"engine": "learned", "documents": [uncoded.pk]},
        "application/json",
    )
    gone = uncoded.pk
    uncoded.delete()

    job = run(Job.objects.get(pk=asked.json()["id"]))

    assert job.status == Job.Status.FAILED
    assert job.data == {"documents": [f"documents: no such document in this study: {gone}"]}


# --- The overview ------------------------------------------------------------------------------


def test_the_overview_links_your_jobs_and_says_how_many_of_yours_run(
    coded: Study, people: dict[str, User], background: None
) -> None:
    alice, bob = client_for(people["alice"]), client_for(people["bob"])
    overview = reverse("studies:overview", args=[coded.slug])
    jobs = reverse("studies:jobs", args=[coded.slug])

    quiet = alice.get(overview).content.decode()
    assert f'href="{jobs}"' in quiet and "job running" not in quiet
    alice.post(reverse("exports:qdpx", args=[coded.slug]))

    assert "1 job running" in alice.get(overview).content.decode()
    assert "job running" not in bob.get(overview).content.decode()
    assert f'href="{jobs}"' in bob.get(overview).content.decode()
