"""Open survey answers are pseudonymised before they are stored (surveys.pseudonymise): through
the respondent's link and through a response import, names in their inflected forms, e-mail
addresses and phone numbers; closed answers, numbers and dates as they are; the mapping kept
only while the study keeps it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from studies.models import Membership, Pseudonym, Study
from studies.pseudonymise import add_private_names
from studies.services import import_roster
from surveys.distribution import set_anonymous
from surveys.models import OTHER, Invitation, Option, Page, Question, Response, Survey
from surveys.pseudonymise import _together, clean_answers
from surveys.responses_import import import_responses, plan_responses
from tests.helpers import client_for

ROSTER = """participant,workshop,country,site,date,language,facilitators,aliases
P01,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,"Aino; Aino Virtanen"
P02,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Mikko
P03,DE-1,DE,Berlin,2025-04-02,de,Moderatorin,Jürgen
P04,DE-1,DE,Berlin,2025-04-02,de,Moderatorin,Anna
P05,GB-1,GB,Manchester,2025-05-08,en-GB,,Callum
"""

FI_STORY = "Ainolle kävi huonosti. Kirjoita minulle mikko@example.fi tai soita 040 123 4567."
FI_STORY_CLEAN = "[P01] kävi huonosti. Kirjoita minulle [EMAIL] tai soita [PHONE]."
DE_STORY = "Annas Bewerbung wurde abgelehnt, Jürgens auch. Hotline: +49 30 1234567."
DE_STORY_CLEAN = "[P04] Bewerbung wurde abgelehnt, [P03] auch. Hotline: [PHONE]."


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> None:
    cache.clear()


@pytest.fixture
def study(people: dict[str, User]) -> Study:
    study = Study.objects.create(slug="priv", name="Privacy", languages="fi, de, en")
    Membership.objects.create(study=study, user=people["alice"], role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    return study


@pytest.fixture
def survey(study: Study) -> Survey:
    """Two pages. The first: a Likert scale, who led the group (a single choice whose codes
    are names), the domains (with "other, please specify"), an age and a long text; the
    second: the respondent's job (a short text) and another long text."""
    survey = Survey.objects.create(
        study=study, slug="pre", title="Before the workshop", languages="en,fi,de"
    )
    first = Page.objects.create(survey=survey, order=0, title="Your views")
    second = Page.objects.create(survey=survey, order=1, title="You")
    questions = [
        (first, "trust", "likert5", "Do you trust algorithms?", {}),
        (first, "led", "single", "Who led your group?", {}),
        (first, "domains", "multiple", "Which domains?", {"allows_other": True}),
        (first, "age", "number", "Your age", {}),
        (first, "story", "long_text", "Tell us about a decision made about you.", {}),
        (second, "job", "text", "What is your job?", {}),
        (second, "hope", "long_text", "What would make it acceptable?", {}),
    ]
    for order, (page, code, kind, label, extra) in enumerate(questions):
        Question.objects.create(
            survey=survey, page=page, order=order, code=code, kind=kind, label=label, **extra
        )
    for n in range(1, 6):
        survey.questions.get(code="trust").options.create(code=str(n), label=str(n), order=n)
    for code in ("aino", "mikko"):
        survey.questions.get(code="led").options.create(code=code, label=code.title())
    for code in ("hiring", "lending"):
        survey.questions.get(code="domains").options.create(code=code, label=code.title())
    return survey


FIRST_PAGE = "trust led domains age story"


def link_for(survey: Survey, code: str, language: str) -> str:
    participant = survey.study.participants.get(code=code)
    invitation = Invitation.objects.create(
        survey=survey, participant=participant, language=language
    )
    return f"/s/{invitation.token}/"


def answer_both_pages(link: str, story: str, other: str, job: str, hope: str) -> None:
    client = Client()
    first = client.post(
        link,
        {
            "page": "0",
            "shown": FIRST_PAGE,
            "q-trust": "2",
            "q-led": "aino",
            "q-domains": "hiring",
            "q-domains-other": other,
            "q-age": "34",
            "q-story": story,
        },
    )
    assert first.status_code == 302
    second = client.post(link, {"page": "1", "shown": "job hope", "q-job": job, "q-hope": hope})
    assert second.status_code == 302


def stored(survey: Survey, code: str) -> dict[str, str]:
    response = Response.objects.get(survey=survey, participant__code=code)
    return {
        a.question.code + (f"/{a.item}" if a.item else ""): a.value
        for a in response.answers.select_related("question")
    }


def test_a_finnish_respondents_open_answers_are_stored_pseudonymised(survey: Survey) -> None:
    answer_both_pages(
        link_for(survey, "P02", "fi"),
        story=FI_STORY,
        other="Aino Virtasen pankki",
        job="Mikko, sairaanhoitaja",  # their own name: their code, as anyone's
        hope="Ei mitään. https://esimerkki.fi/palaute",
    )
    assert stored(survey, "P02") == {
        "trust": "2",
        "led": "aino",  # an option's code, not a name
        "domains": "hiring",
        f"domains/{OTHER}": "[P01] pankki",
        "age": "34",
        "story": FI_STORY_CLEAN,
        "job": "[P02], sairaanhoitaja",
        "hope": "Ei mitään. [URL]",
    }
    response = Response.objects.get(survey=survey, participant__code="P02")
    assert response.is_submitted
    document = response.document
    assert document.language == "fi"
    assert f"P02: {FI_STORY_CLEAN}" in document.text
    assert "P02: Ei mitään. [URL]" in document.text
    for private in ("Aino", "mikko@", "040 123", "esimerkki"):
        assert private not in document.text
    turns = [document.text[t.start : t.end] for t in document.turns.filter(participant__code="P02")]
    assert turns == [FI_STORY_CLEAN, "Ei mitään. [URL]"]
    assert not Pseudonym.objects.exists()  # the study does not keep the mapping


def test_a_german_respondents_names_are_found_in_the_genitive(survey: Survey) -> None:
    answer_both_pages(
        link_for(survey, "P03", "de"), story=DE_STORY, other="", job="Lehrer", hope=""
    )
    answers = stored(survey, "P03")
    assert answers["story"] == DE_STORY_CLEAN
    assert answers["job"] == "Lehrer"
    response = Response.objects.get(survey=survey, participant__code="P03")
    assert response.document.text.endswith(f"P03: {DE_STORY_CLEAN}")


def test_the_mapping_is_kept_once_and_points_at_the_document_when_the_study_keeps_it(
    survey: Survey, study: Study
) -> None:
    study.keep_pseudonyms = True
    study.save()
    link = link_for(survey, "P02", "fi")
    client = Client()
    page = {"page": "0", "shown": FIRST_PAGE, "q-trust": "2", "q-story": FI_STORY}
    client.post(link, {**page, "q-domains": "hiring", "q-domains-other": "Ainon firma"})
    client.post(link, {"page": "1", "shown": "job hope", "action": "back", "q-job": "Mikko"})
    # Back on the first page: the stored story comes back pseudonymised and is not found again.
    client.post(link, {**page, "q-story": FI_STORY_CLEAN, "q-domains": "hiring",
                       "q-domains-other": "[P01] firma"})  # fmt: skip
    client.post(link, {"page": "1", "shown": "job hope", "q-job": "[P02]", "q-hope": ""})

    response = Response.objects.get(survey=survey, participant__code="P02")
    rows = {
        (p.where, p.original, p.replacement, p.kind, p.document_id)
        for p in Pseudonym.objects.filter(study=study)
    }
    story = "survey pre, P02, question story"
    assert rows == {
        (story, "Ainolle", "[P01]", "participant", response.document_id),
        (story, "mikko@example.fi", "[EMAIL]", "email", response.document_id),
        (story, "040 123 4567", "[PHONE]", "phone", response.document_id),
        (f"survey pre, P02, question domains ({OTHER})", "Ainon", "[P01]", "participant", None),
        ("survey pre, P02, question job", "Mikko", "[P02]", "participant", None),
    }
    assert Pseudonym.objects.filter(study=study).count() == len(rows)  # none kept twice


def test_an_anonymous_respondent_naming_a_participant_gets_their_code(
    survey: Survey, study: Study
) -> None:
    set_anonymous(survey, True)
    link = reverse("surveys:respond", args=[survey.anonymous_token])
    answer_both_pages(link, story="Callum's loan was refused.", other="", job="", hope="")
    response = Response.objects.get(survey=survey, participant__isnull=True)
    assert response.answers.get(question__code="story").value == "[P05] loan was refused."
    assert response.document.text.endswith("Respondent: [P05] loan was refused.")


CSV = (
    "participant,trust,domains,domains_other,age,story,job\n"
    f'Mikko,2,hiring,Aino Virtasen pankki,34,"{FI_STORY}",Nurse\n'
    f'P03,4,lending,,51,"{DE_STORY}",Lehrer\n'
    "P05,5,hiring,,29,Nothing to add.,callum@example.co.uk\n"
)


def test_a_response_import_pseudonymises_and_its_summary_says_so(
    survey: Survey, study: Study, people: dict[str, User]
) -> None:
    plan = plan_responses(survey=survey, filename="pre.csv", data=CSV.encode())
    assert plan.answers_pseudonymised == 4
    summary = (
        "Imported 3 responses to pre; pseudonymised 4 answers (replaced 2 e-mail addresses, "
        "4 participant names, 2 phone numbers)."
    )
    assert plan.summary() == summary
    assert not Response.objects.exists()  # planning wrote nothing

    imported = import_responses(
        survey=survey, filename="pre.csv", data=CSV.encode(), imported_by=people["alice"]
    )
    assert imported.summary() == summary
    assert stored(survey, "P02") == {
        "trust": "2",
        "domains": "hiring",
        f"domains/{OTHER}": "[P01] pankki",
        "age": "34",
        "story": FI_STORY_CLEAN,
        "job": "Nurse",
    }
    assert stored(survey, "P03")["story"] == DE_STORY_CLEAN
    assert stored(survey, "P05")["job"] == "[EMAIL]"
    assert stored(survey, "P05")["story"] == "Nothing to add."
    document = Response.objects.get(participant__code="P02").document
    assert document.text.endswith(f"P02: {FI_STORY_CLEAN}")
    assert not Pseudonym.objects.exists()


def test_an_import_keeps_the_mapping_when_the_study_keeps_it(
    survey: Survey, study: Study, people: dict[str, User]
) -> None:
    study.keep_pseudonyms = True
    study.save()
    import_responses(
        survey=survey, filename="pre.csv", data=CSV.encode(), imported_by=people["alice"]
    )
    documents = dict(Response.objects.values_list("participant__code", "document_id"))
    assert {p.created_by.username for p in Pseudonym.objects.all()} == {"alice"}
    rows = {(p.where, p.original, p.replacement, p.document_id) for p in Pseudonym.objects.all()}
    p02, p03 = "survey pre, P02, question story", "survey pre, P03, question story"
    assert rows == {
        (p02, "Ainolle", "[P01]", documents["P02"]),
        (p02, "mikko@example.fi", "[EMAIL]", documents["P02"]),
        (p02, "040 123 4567", "[PHONE]", documents["P02"]),
        (f"survey pre, P02, question domains ({OTHER})", "Aino Virtasen", "[P01]", None),
        (p03, "Annas", "[P04]", documents["P03"]),
        (p03, "Jürgens", "[P03]", documents["P03"]),
        (p03, "+49 30 1234567", "[PHONE]", documents["P03"]),
        ("survey pre, P05, question job", "callum@example.co.uk", "[EMAIL]", None),
    }


def test_the_import_preview_and_the_api_say_how_many_answers_were_pseudonymised(
    survey: Survey, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    url = reverse("surveys:import_responses", args=["priv", "pre"])
    alice.post(url, {"action": "upload", "file": SimpleUploadedFile("pre.csv", CSV.encode())})
    page = alice.get(url).content.decode()
    assert "<dt>Answers pseudonymised</dt><dd>4</dd>" in page
    assert not Response.objects.exists()

    api = alice.post(
        "/api/v1/studies/priv/surveys/pre/responses/import/",
        {"file": SimpleUploadedFile("pre.csv", CSV.encode())},
    )
    assert api.status_code == 200, api.content
    assert "pseudonymised 4 answers" in api.json()["summary"]
    assert stored(survey, "P05")["job"] == "[EMAIL]"


def test_a_name_that_would_run_from_one_answer_into_the_next_is_not_found(
    survey: Survey, study: Study
) -> None:
    """Answers are read together; a private-list name split between two answers is no name,
    and each answer is then read alone."""
    add_private_names(study=study, names=["Acme Oy"], kind="organisation")
    questions = {q.code: q for q in survey.questions.all()}
    participant = study.participants.get(code="P05")
    response = Response(survey=survey, participant=participant, language="en")
    cleaned = clean_answers(
        response,
        [
            (questions["story"], "", "I worked at Acme"),
            (questions["job"], "", "Oy was the name of the dog. Acme Oy paid me."),
        ],
    )
    together = _together(study, ["I worked at Acme", "Oy was it"], language="en", workshop=None)
    assert together is None  # read together, "Acme Oy" ran across the two
    assert cleaned.values == [
        "I worked at Acme",
        "Oy was the name of the dog. [ORGANISATION] paid me.",
    ]


def test_the_engine_reads_the_roster_once_per_response_however_many_answers(
    survey: Survey, study: Study
) -> None:
    questions = {q.code: q for q in survey.questions.all()}
    participant = study.participants.select_related("workshop").get(code="P02")
    response = Response(survey=survey, participant=participant, language="fi")
    clean_answers(response, [(questions["story"], "", "Lämmittely.")])  # build the matchers

    def queries(answers: list[tuple[Question, str, str]]) -> int:
        with CaptureQueriesContext(connection) as captured:
            clean_answers(response, answers)
        return len(captured)

    one = queries([(questions["story"], "", FI_STORY)])
    many = [(questions[code], "", FI_STORY) for code in ("story", "hope", "job")]
    many.append((questions["domains"], OTHER, "Ainolle"))
    many.append((questions["trust"], "", "2"))
    assert queries(many) == one


def test_closed_numbers_and_dates_are_never_read_as_personal_data(survey: Survey) -> None:
    participant = survey.study.participants.get(code="P01")
    when = Question.objects.create(survey=survey, code="when", kind="date", label="When?")
    Option.objects.create(question=survey.questions.get(code="led"), code="anna", label="Anna")
    questions = {q.code: q for q in survey.questions.all()}
    answers = [
        (questions["led"], "", "anna"),
        (questions["age"], "", "0401234567"),
        (when, "", "2025-03-12"),
        (questions["job"], "", "anna"),
    ]
    cleaned = clean_answers(Response(survey=survey, participant=participant), answers)
    assert cleaned.values == ["anna", "0401234567", "2025-03-12", "[P04]"]
