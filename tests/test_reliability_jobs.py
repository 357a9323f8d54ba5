"""A large study's agreement is computed as a job: the page offers it instead of computing in
the request, shows the finished table to the person who asked, and the API does the same on
POST. Small studies keep the table on the page at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from coding.jobs import BLIND, start_reliability
from coding.reliability import Scope, compute_reliability
from studies.models import Document, Job, Study
from tests import test_reliability
from tests.helpers import client_for
from tests.test_jobs_api import DATABASE_TASKS, run

# The known case of tests/test_reliability.py: Cohen's kappa .4 on negotiability.
known_case = test_reliability.known_case
rated_codes = test_reliability.rated_codes
ten_sentences = test_reliability.ten_sentences

PAGE = "/studies/adm/reliability/"
API = "/api/v1/studies/adm/reliability/"


@pytest.fixture
def large(settings: object) -> None:
    """Every table counts as large."""
    settings.COLLOQUY_RELIABILITY_INLINE_DECISIONS = 0


def test_the_scope_counts_its_judgements(known_case: Document, roster_study: Study) -> None:
    # Ten sentences (and the facilitator's one), two codable codes, two coders with codings.
    scope = Scope.of(roster_study, unit="sentence", wanted=["alice", "bob"])
    units = known_case.sentences.count()
    assert scope.decisions(roster_study) == units * 2 * 2
    assert Scope.of(roster_study, unit="character", wanted=["alice", "bob"]).decisions(
        roster_study
    ) == (known_case.text_length * 2 * 2)


def test_a_small_study_gets_its_table_at_once(known_case: Document, people) -> None:
    html = client_for(people["alice"]).get(PAGE).content.decode()
    assert "Agreement per code" in html
    assert "computed as a job" not in html


def test_a_large_study_is_computed_as_a_job_and_shows_the_same_table(
    large: None, known_case: Document, roster_study: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    page = alice.get(PAGE, {"unit": "sentence", "coder": ["alice", "bob"]}).content.decode()
    assert "Agreement per code" not in page
    assert "so it is computed as a job" in page
    assert f'action="{reverse("coding:reliability_job", args=["adm"])}"' in page
    assert '<input type="hidden" name="coder" value="bob">' in page

    response = alice.post(
        reverse("coding:reliability_job", args=["adm"]),
        {"unit": "sentence", "coder": ["alice", "bob"]},
    )
    job = Job.objects.get(kind="reliability")
    assert job.status == Job.Status.DONE, job.error
    assert job.user == people["alice"]
    assert job.params == {
        "unit": "sentence",
        "round": None,
        "coders": ["alice", "bob"],
        "machines": True,
    }
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}?job={job.pk}"

    html = alice.get(response["Location"]).content.decode()
    expected = compute_reliability(
        roster_study, unit="sentence", coders=[people["alice"], people["bob"]]
    )
    negotiability = next(c for c in expected.codes if c.path.endswith("negotiability"))
    assert negotiability.cohen_kappa == pytest.approx(0.4)
    row = html[html.index("Concept/negotiability") :]
    row = row[: row.index("</tr>")]
    assert "0.400" in row  # Cohen's kappa of the known case
    assert "This table was computed as a job" in html
    assert "Compute again" in html


def test_only_the_person_who_asked_opens_a_finished_table(
    large: None, known_case: Document, roster_study: Study, people: dict[str, User]
) -> None:
    job = start_reliability(study=roster_study, user=people["alice"], scope=Scope.of(roster_study))
    assert job.status == Job.Status.DONE, job.error
    for name in ("victor", "bob"):
        assert client_for(people[name]).get(PAGE, {"job": job.pk}).status_code == 404, name
    assert client_for(people["mallory"]).get(PAGE, {"job": job.pk}).status_code == 404
    alice = client_for(people["alice"])
    assert alice.get(PAGE, {"job": job.pk}).status_code == 200
    assert alice.get(PAGE, {"job": "x"}).status_code == 404
    other = Job.objects.create(
        study=roster_study, user=people["alice"], kind="pack", status=Job.Status.DONE
    )
    assert alice.get(PAGE, {"job": other.pk}).status_code == 404


def test_blind_coding_turned_on_before_it_runs_refuses_a_coder(
    settings: object, known_case: Document, roster_study: Study, people: dict[str, User]
) -> None:
    settings.TASKS = DATABASE_TASKS
    job = start_reliability(study=roster_study, user=people["bob"], scope=Scope.of(roster_study))
    assert job.status == Job.Status.QUEUED
    # Asked again while it waits: the same job.
    again = start_reliability(study=roster_study, user=people["bob"], scope=Scope.of(roster_study))
    assert again.pk == job.pk
    roster_study.blind_coding = True
    roster_study.save()
    job = run(job.pk)
    assert job.status == Job.Status.FAILED
    assert job.error == BLIND
    # And the page refuses a coder the form while blind coding is on.
    response = client_for(people["bob"]).post(reverse("coding:reliability_job", args=["adm"]))
    assert "blind" in response.content.decode().lower()
    assert Job.objects.filter(kind="reliability").count() == 1


def test_a_round_deleted_before_the_job_runs_is_named(
    settings: object, known_case: Document, roster_study: Study, people: dict[str, User]
) -> None:
    from coding.models import AgreementRound

    settings.TASKS = DATABASE_TASKS
    agreement_round = AgreementRound.objects.create(study=roster_study, name="Pilot")
    agreement_round.documents.add(known_case)
    agreement_round.coders.add(people["alice"], people["bob"])
    scope = Scope.of(roster_study, round_id=agreement_round.pk)
    job = start_reliability(study=roster_study, user=people["alice"], scope=scope)
    assert "Pilot" in job.title
    agreement_round.delete()
    job = run(job.pk)
    assert job.status == Job.Status.FAILED
    assert job.error == "No agreement computed: No such round in this study."


def test_the_api_computes_the_same_table_as_a_job(
    known_case: Document, roster_study: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    direct = alice.get(API, {"unit": "turn", "coders": "alice,bob"}).json()
    response = alice.post(
        API, {"unit": "turn", "coders": ["alice", "bob"]}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["kind"] == "reliability" and job["status"] == "done"
    data = {key: value for key, value in job["data"].items() if key != "code_ids"}
    assert data == direct
    assert job["next_url"].endswith(f"{PAGE}?job={job['id']}")


def test_the_api_job_waits_for_a_worker_when_one_is_configured(
    settings: object, known_case: Document, people: dict[str, User]
) -> None:
    settings.TASKS = DATABASE_TASKS
    response = client_for(people["alice"]).post(
        API, {"coders": "alice,bob"}, content_type="application/json"
    )
    assert response.status_code == 202
    job = run(response.json()["id"])
    assert job.status == Job.Status.DONE
    assert job.data["coders"] == ["alice", "bob"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"unit": "page"}, "unit", "Use one of sentence, turn, character."),
        ({"coders": "alice,nobody"}, "coders", "Not a coder of this study: nobody."),
        ({"coders": [1, 2]}, "coders", "Give usernames, comma-separated."),
        ({"round": 999}, "round", "No such round in this study."),
        ({"machines": "maybe"}, "machines", "Use on or off."),
    ],
)
def test_the_api_names_what_is_wrong(known_case, people, body, field, message) -> None:
    response = client_for(people["alice"]).post(API, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert not Job.objects.exists()


def test_blind_coding_keeps_a_coder_from_the_api_job(
    known_case: Document, roster_study: Study, people: dict[str, User]
) -> None:
    roster_study.blind_coding = True
    roster_study.save()
    response = client_for(people["bob"]).post(API, {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["detail"] == BLIND
    assert (
        client_for(people["victor"]).post(API, {}, content_type="application/json").status_code
        == 201
    )


def test_progress_hears_of_every_document(known_case: Document, roster_study: Study) -> None:
    heard = []
    compute_reliability(roster_study, progress=lambda *args: heard.append(args))
    assert heard == [(1, 1, "Reading the documents' codings")]
