"""Codes suggested by the codebook's patterns, and accepting or rejecting them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from coding.models import Code, Coding, SuggestionDecision
from coding.search import Suggestion, suggestions
from studies.models import Document, Participant, Study, Workshop
from studies.services import import_transcripts
from tests.helpers import client_for

GB_TEXT = """Facilitator: Who has been refused a loan?
Amara: Me. Nobody explained it, and nobody would explain why.
Callum: You need someone to talk to.
Explaining takes time. That's negotiability, isn't it?
"""

DE_TEXT = """Moderatorin: Was soll ein System können?
Anna: Es soll sich erklären. Das System erklärt nichts. Das ist alles.
"""

FI_TEXT = """Fasilitaattori: Mitä ajattelette?
Aino: Selitys auttaa. Selityksen pitäisi tulla ihmiseltä.
"""


@pytest.fixture
def transcripts(roster_study: Study) -> Study:
    study = roster_study
    de = Workshop.objects.create(
        study=study, code="DE-1", country="DE", language="de", facilitators="Moderatorin"
    )
    Participant.objects.create(study=study, code="P06", workshop=de, aliases="Anna")
    for code, text in (("GB-1", GB_TEXT), ("DE-1", DE_TEXT), ("FI-1", FI_TEXT)):
        import_transcripts(
            study=study,
            workshop=study.workshops.get(code=code),
            files=[(f"{code}.txt", text.encode())],
        )
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    Code.objects.create(
        study=study,
        parent=concept,
        name="explainability",
        patterns="lemma: explain\nlemma: erklären\nlemma: selitys",
    )
    Code.objects.create(
        study=study, parent=concept, name="negotiability", patterns="Negotiability\nsomeone to TALK"
    )
    Code.objects.create(study=study, parent=concept, name="accuracy")
    return study


def doc(study: Study, title: str) -> Document:
    return study.documents.get(title=title)


def code(study: Study, name: str) -> Code:
    return Code.objects.get(study=study, name=name)


def texts(found: list[Suggestion], study: Study) -> list[tuple[str, str]]:
    names = dict(Code.objects.filter(study=study).values_list("pk", "name"))
    return [(names[s.code_id], s.text) for s in found]


def test_keyword_and_lemma_patterns_suggest_whole_sentences(
    transcripts: Study, people: dict[str, User]
) -> None:
    document = doc(transcripts, "GB-1")
    found = suggestions(document, user=people["bob"])
    assert texts(found, transcripts) == [
        # "explained" and "explain" in one sentence make one suggestion.
        ("explainability", "Nobody explained it, and nobody would explain why."),
        ("negotiability", "You need someone to talk to."),
        ("explainability", "Explaining takes time."),
        ("negotiability", "That's negotiability, isn't it?"),
    ]
    for suggestion in found:
        assert document.text[suggestion.start : suggestion.end] == suggestion.text
        assert document.sentences.filter(start=suggestion.start, end=suggestion.end).exists()


def test_a_german_lemma_pattern_finds_every_form(
    transcripts: Study, people: dict[str, User]
) -> None:
    found = suggestions(doc(transcripts, "DE-1"), user=people["bob"])
    assert texts(found, transcripts) == [
        ("explainability", "Es soll sich erklären."),
        ("explainability", "Das System erklärt nichts."),
    ]


def test_without_a_lemma_table_a_lemma_pattern_matches_the_word_itself(
    transcripts: Study, people: dict[str, User]
) -> None:
    # Finnish has no lookup table: "selitys" matches "Selitys", not the inflected "Selityksen".
    found = suggestions(doc(transcripts, "FI-1"), user=people["bob"])
    assert texts(found, transcripts) == [("explainability", "Selitys auttaa.")]


def test_what_i_coded_or_rejected_is_not_suggested_again(
    transcripts: Study, people: dict[str, User]
) -> None:
    document = doc(transcripts, "GB-1")
    text = document.text
    explainability = code(transcripts, "explainability")
    # Bob coded just the word "Explaining" (overlapping that sentence) with the same code...
    start = text.index("Explaining")
    Coding.objects.create(
        document=document, code=explainability, coder=people["bob"], start=start, end=start + 10
    )
    # ...coded the negotiability sentence with another code (which does not count)...
    sentence = "That's negotiability, isn't it?"
    start = text.index(sentence)
    Coding.objects.create(
        document=document,
        code=explainability,
        coder=people["bob"],
        start=start,
        end=start + len(sentence),
    )
    # ...and rejected the first suggestion.
    first = "Nobody explained it, and nobody would explain why."
    start = text.index(first)
    SuggestionDecision.objects.create(
        document=document,
        code=explainability,
        user=people["bob"],
        start=start,
        end=start + len(first),
        verdict="rejected",
    )
    assert texts(suggestions(document, user=people["bob"]), transcripts) == [
        ("negotiability", "You need someone to talk to."),
        ("negotiability", "That's negotiability, isn't it?"),
    ]
    # Alice has decided nothing: she still gets all four.
    assert len(suggestions(document, user=people["alice"])) == 4


def test_a_code_without_patterns_or_that_cannot_be_applied_suggests_nothing(
    transcripts: Study, people: dict[str, User]
) -> None:
    Code.objects.filter(study=transcripts).update(patterns="")
    Code.objects.filter(name="Concept").update(patterns="negotiability")
    assert suggestions(doc(transcripts, "GB-1"), user=people["bob"]) == []


# --- the endpoint and accepting ---------------------------------------------------------------


def url(document: Document) -> str:
    return reverse("coding:suggestions", args=[document.study.slug, document.pk])


def test_the_suggestions_endpoint_serves_the_coder_their_suggestions(
    transcripts: Study, people: dict[str, User]
) -> None:
    document = doc(transcripts, "GB-1")
    response = client_for(people["bob"]).get(url(document))
    assert response.status_code == 200
    body = response.json()
    negotiability = code(transcripts, "negotiability").pk
    assert body["suggestions"][1] == {
        "code": negotiability,
        "start": document.text.index("You need"),
        "end": document.text.index("You need") + len("You need someone to talk to."),
        "text": "You need someone to talk to.",
    }
    assert len(body["suggestions"]) == 4


def test_the_suggestions_endpoint_follows_the_permission_ladder(
    transcripts: Study, people: dict[str, User]
) -> None:
    document = doc(transcripts, "GB-1")
    anonymous = client_for(None).get(url(document))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert client_for(people["mallory"]).get(url(document)).status_code == 404
    # A viewer may read the document but could accept nothing: an empty list.
    viewer = client_for(people["victor"]).get(url(document))
    assert viewer.status_code == 200
    assert viewer.json() == {"suggestions": []}
    assert len(client_for(people["alice"]).get(url(document)).json()["suggestions"]) == 4
    # A document of another study is not found, even for a member of this one.
    other = Study.objects.create(slug="other", name="Other")
    secret = Document.objects.create(study=other, title="Secret", text="negotiability", sha256="-")
    wrong = reverse("coding:suggestions", args=["adm", secret.pk])
    assert client_for(people["bob"]).get(wrong).status_code == 404


def test_accepting_a_suggestion_codes_it_and_nothing_is_coded_without_that(
    transcripts: Study, people: dict[str, User]
) -> None:
    document = doc(transcripts, "GB-1")
    bob = client_for(people["bob"])
    offered = bob.get(url(document)).json()["suggestions"]
    assert not Coding.objects.exists()

    accept, reject = offered[1], offered[3]
    decisions = reverse("suggestion-list")
    response = bob.post(
        decisions,
        {k: accept[k] for k in ("code", "start", "end")}
        | {"document": document.pk, "verdict": "accepted"},
        content_type="application/json",
    )
    assert response.status_code == 201
    [coding] = Coding.objects.all()
    assert (coding.coder, coding.code_id, coding.start, coding.end) == (
        people["bob"],
        accept["code"],
        accept["start"],
        accept["end"],
    )
    response = bob.post(
        decisions,
        {k: reject[k] for k in ("code", "start", "end")}
        | {"document": document.pk, "verdict": "rejected"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Coding.objects.count() == 1

    remaining = bob.get(url(document)).json()["suggestions"]
    assert [s["text"] for s in remaining] == [
        "Nobody explained it, and nobody would explain why.",
        "Explaining takes time.",
    ]
