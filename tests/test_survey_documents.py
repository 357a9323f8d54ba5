"""Long-text answers become documents (kind survey text), attributed to their participant and
workshop, codable with the study's codebook, searchable, and made once."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from coding.models import Code
from exports.frame import analysis_frame
from studies.importers import FileRejected
from studies.models import Document, Study
from surveys.models import Answer, Invitation, Page, Question, Response, Survey, Translation
from surveys.responses_import import import_responses
from surveys.services import publish_text_answers
from tests.helpers import client_for, db_snapshot

STORY = "I asked the bank to negotiate the terms. Nobody would listen to my situation."
HOPE = "A person I can talk to.\nSomeone who can change the outcome."


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> None:
    cache.clear()


@pytest.fixture
def survey(roster_study: Study) -> Survey:
    """One page: a Likert question, a short text and two long texts, the first translated into
    German."""
    survey = Survey.objects.create(
        study=roster_study, slug="pre", title="Before the workshop", languages="en,de"
    )
    page = Page.objects.create(survey=survey, order=0, title="Your views")
    Question.objects.create(survey=survey, page=page, order=0, code="trust", kind="likert5",
                            label="Do you trust algorithms?")  # fmt: skip
    Question.objects.create(survey=survey, page=page, order=1, code="job", kind="text",
                            label="What is your job?")  # fmt: skip
    story = Question.objects.create(
        survey=survey,
        page=page,
        order=2,
        code="story",
        kind="long_text",
        label="Tell us about a decision an algorithm made about you.",
    )
    Translation.objects.create(
        question=story,
        language="de",
        text="Erzählen Sie von einer Entscheidung, die ein Algorithmus über Sie traf.",
    )
    Question.objects.create(survey=survey, page=page, order=3, code="hope", kind="long_text",
                            label="What would make such a decision acceptable?")  # fmt: skip
    for code, label in [("1", "Not at all"), ("2", "Little"), ("3", "Some"), ("4", "Much")]:
        survey.questions.get(code="trust").options.create(code=code, label=label)
    survey.questions.get(code="trust").options.create(code="5", label="Completely", order=5)
    return survey


def submitted(survey: Survey, code: str, language: str = "en", **answers: str) -> Response:
    participant = survey.study.participants.get(code=code)
    response = Response.objects.create(
        survey=survey, participant=participant, language=language, source="import"
    )
    for question_code, value in answers.items():
        Answer.objects.create(
            response=response, question=survey.questions.get(code=question_code), value=value
        )
    response.submitted_at = response.started_at
    response.save()
    return response


def test_submitting_through_the_link_makes_a_document_of_the_long_texts(
    survey: Survey, roster_study: Study
) -> None:
    invitation = Invitation.objects.create(
        survey=survey, participant=roster_study.participants.get(code="P01")
    )
    page = Client().post(
        f"/s/{invitation.token}/",
        {
            "page": "0",
            "shown": "trust job story hope",
            "q-trust": "2",
            "q-job": "Nurse",
            "q-story": STORY,
            "q-hope": HOPE,
        },
    )
    assert page.status_code == 302
    response = Response.objects.get(invitation=invitation)
    assert response.is_submitted
    document = response.document
    assert document is not None
    assert document.kind == Document.Kind.SURVEY
    assert document.title == "Before the workshop · P01"
    assert document.workshop.code == "FI-1"
    assert document.language == "en"
    turns = [
        (t.speaker, t.participant.code if t.participant else None, document.text[t.start : t.end])
        for t in document.turns.order_by("seq")
    ]
    assert turns == [
        ("Question", None, "Tell us about a decision an algorithm made about you."),
        ("P01", "P01", STORY),
        ("Question", None, "What would make such a decision acceptable?"),
        ("P01", "P01", HOPE),
    ]
    # The short text and the rating are not part of it; the question labels are.
    assert "Nurse" not in document.text
    assert document.text.startswith("Question: Tell us about a decision")
    # Sentences as the transcript import finds them, inside the turns.
    sentences = [document.text[s.start : s.end] for s in document.sentences.order_by("seq")]
    assert "Nobody would listen to my situation." in sentences
    assert "I asked the bank to negotiate the terms." in sentences
    assert document.word_count > 20


def test_a_draft_and_a_response_without_long_texts_make_no_document(survey: Survey) -> None:
    draft = submitted(survey, "P02", story=STORY)
    draft.submitted_at = None
    draft.save()
    assert publish_text_answers(draft) is None
    rating_only = submitted(survey, "P03", trust="4", job="Teacher")
    assert publish_text_answers(rating_only) is None
    assert not Document.objects.filter(kind=Document.Kind.SURVEY).exists()


def test_the_question_is_shown_in_the_language_the_respondent_answered_in(
    survey: Survey,
) -> None:
    response = submitted(survey, "P02", language="de", story="Die Bank hat nie erklärt, warum.")
    document = publish_text_answers(response)
    assert document.language == "de"
    assert document.text == (
        "Question: Erzählen Sie von einer Entscheidung, die ein Algorithmus über Sie traf.\n\n"
        "P02: Die Bank hat nie erklärt, warum."
    )


def test_publishing_again_changes_nothing(survey: Survey) -> None:
    response = submitted(survey, "P04", story=STORY)
    first = publish_text_answers(response)
    before = db_snapshot()
    assert publish_text_answers(Response.objects.get(pk=response.pk)) == first
    assert db_snapshot() == before


def test_the_title_stays_unique_in_the_study(survey: Survey, roster_study: Study) -> None:
    Document.objects.create(
        study=roster_study, title="Before the workshop · P05", text="x", sha256="x"
    )
    document = publish_text_answers(submitted(survey, "P05", hope=HOPE))
    assert document.title == "Before the workshop · P05 (2)"


def test_an_anonymous_response_is_numbered_and_attributed_to_nobody(survey: Survey) -> None:
    for _ in range(2):
        response = Response.objects.create(survey=survey, source="anonymous link")
        Answer.objects.create(
            response=response, question=survey.questions.get(code="hope"), value=HOPE
        )
        response.submitted_at = response.started_at
        response.save()
    document = publish_text_answers(response)
    assert document.title == "Before the workshop · anonymous 2"
    assert document.workshop is None
    assert not document.turns.filter(participant__isnull=False).exists()


def test_an_import_makes_documents_and_a_coded_one_cannot_be_replaced(
    survey: Survey, roster_study: Study, codes: dict[str, Code], people: dict[str, User]
) -> None:
    data = f'id,trust,story\nP01,3,"{STORY}"\nP04,2,\n'.encode()
    import_responses(survey=survey, filename="pre.csv", data=data)
    documents = Document.objects.filter(kind=Document.Kind.SURVEY)
    assert list(documents.values_list("title", flat=True)) == ["Before the workshop · P01"]
    document = documents.get()
    assert document.survey_response.participant.code == "P01"

    # Replaced before anyone coded it, the document follows the new answers.
    data = b'id,story\nP01,"The bank was fair."\n'
    import_responses(survey=survey, filename="pre.csv", data=data, replace=True)
    document.refresh_from_db()
    assert document.text == (
        "Question: Tell us about a decision an algorithm made about you.\n\nP01: The bank was fair."
    )
    # Once coded, its text is frozen: the replacement is refused and nothing is written.
    start = document.text.index("The bank")
    client_for(people["bob"]).post(
        "/api/v1/codings/",
        json.dumps(
            {
                "document": document.pk,
                "code": codes["negotiability"].pk,
                "start": start,
                "end": start + 8,
            }
        ),
        content_type="application/json",
    )
    before = db_snapshot()
    with pytest.raises(FileRejected) as excinfo:
        import_responses(
            survey=survey, filename="pre.csv", data=b"id,story\nP01,Changed\n", replace=True
        )
    assert str(excinfo.value) == (
        "pre.csv: the long-text answers of P01 to pre are the document 'Before the workshop · "
        "P01', and 1 coding refers to its text, so they cannot change"
    )
    assert db_snapshot() == before


def test_a_coder_codes_it_and_the_coding_counts_for_the_participant(
    survey: Survey, roster_study: Study, codes: dict[str, Code], people: dict[str, User]
) -> None:
    document = publish_text_answers(submitted(survey, "P04", story=STORY, hope=HOPE))
    workbench = client_for(people["bob"]).get(
        reverse("coding:workbench", args=[roster_study.slug, document.pk])
    )
    assert workbench.status_code == 200
    assert "Tell us about a decision an algorithm made about you." in workbench.content.decode()

    start = document.text.index("negotiate the terms")
    response = client_for(people["bob"]).post(
        "/api/v1/codings/",
        json.dumps(
            {
                "document": document.pk,
                "code": codes["negotiability"].pk,
                "start": start,
                "end": start + len("negotiate the terms"),
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 201
    frame = analysis_frame(roster_study, layer="all")
    row = frame[frame["document"] == document.title].iloc[0]
    assert list(row["participants"]) == ["P04"]
    assert row["workshop"] == "GB-1"
    # A coding of the question alone belongs to nobody, like a facilitator's words.
    question_end = document.turns.get(seq=1).end
    response = client_for(people["bob"]).post(
        "/api/v1/codings/",
        json.dumps(
            {"document": document.pk, "code": codes["explainability"].pk, "start": 10, "end": 14}
        ),
        content_type="application/json",
    )
    assert response.status_code == 201 and question_end >= 14
    frame = analysis_frame(roster_study, layer="all")
    question_row = frame[(frame["document"] == document.title) & (frame["start"] == 10)].iloc[0]
    assert list(question_row["participants"]) == []


def test_search_and_the_documents_list_find_it(
    survey: Survey, roster_study: Study, people: dict[str, User]
) -> None:
    document = publish_text_answers(submitted(survey, "P01", story=STORY))
    client = client_for(people["alice"])
    results = client.get(
        reverse("coding:search", args=[roster_study.slug]) + "?q=negotiate"
    ).content.decode()
    assert "Before the workshop · P01" in results and "negotiate" in results
    listing = client.get(reverse("studies:documents", args=[roster_study.slug])).content.decode()
    assert "Before the workshop · P01" in listing and "Survey text" in listing
    assert document.get_absolute_url() in listing
