"""Agreement rounds and adjudication into the consensus layer.

The hand-built case (the `case` fixture of tests/conftest.py): a two-turn hiring session of four
sentences, coded by Bob (coder A) and Carol (coder B). Alice, the owner, adjudicates. Who applied
what, sentence by sentence:

    s1 "I want a person."          negotiability: Bob "a person", Carol "want a person" (agree)
    s2 "A machine never listens."  accuracy: Bob "machine never" only
    s3 "It was accurate."          accuracy: Carol "accurate" only; negotiability: Bob only
    s4 "Nobody wants a guess."     negotiability: Bob only (his coding runs on from s3);
                                   explainability: Bob "Nobody wants", Carol "wants a guess."
                                   (agree)
"""

from __future__ import annotations

import random

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404

from coding.adjudication import (
    AdjudicationError,
    accept_agreements,
    adjudicate,
    adjudication_progress,
    close_round,
    decision_map,
    sample_documents,
    start_round,
)
from coding.models import AdjudicationDecision, AgreementRound, Assignment, Code, Coding
from studies.models import Document, Study
from tests.conftest import HIRING_TEXT, Case, hiring_span


def consensus(document: Document) -> set[tuple[str, str, str]]:
    """The consensus layer as (code, coded text, adjudicator)."""
    return {
        (c.code.name, document.text[c.start : c.end], c.coder.username)
        for c in Coding.objects.filter(document=document, consensus=True).select_related(
            "code", "coder"
        )
    }


def decide(case: Case, sentence: int, code: str, decision: str, *, swap: bool = False) -> None:
    start, end = case.unit(sentence)
    a, b = (case.carol, case.bob) if swap else (case.bob, case.carol)
    adjudicate(
        document=case.document,
        code=case.codes[code],
        unit_start=start,
        unit_end=end,
        decision=decision,
        coder_a=a,
        coder_b=b,
        user=case.alice,
    )


# Deciding -----------------------------------------------------------------------------------------


def test_taking_a_copies_coder_as_span_into_the_consensus(case: Case) -> None:
    decide(case, 2, "accuracy", "a")

    assert consensus(case.document) == {("accuracy", "machine never", "alice")}
    decision = AdjudicationDecision.objects.get()
    assert (decision.decision, decision.coder_a, decision.coder_b, decision.decided_by) == (
        "a",
        case.bob,
        case.carol,
        case.alice,
    )


def test_taking_b_copies_coder_bs_span(case: Case) -> None:
    decide(case, 3, "accuracy", "b")

    assert consensus(case.document) == {("accuracy", "accurate", "alice")}


def test_a_coding_that_runs_past_the_unit_is_clipped_to_it(case: Case) -> None:
    decide(case, 3, "negotiability", "a")
    decide(case, 4, "negotiability", "a")

    # Bob's one coding across two sentences becomes one consensus coding per sentence.
    assert consensus(case.document) == {
        ("negotiability", "It was accurate.", "alice"),
        ("negotiability", "Nobody", "alice"),
    }


def test_both_merges_overlapping_spans_of_the_two_coders(case: Case) -> None:
    decide(case, 1, "negotiability", "both")
    decide(case, 4, "explainability", "both")
    decide(case, 2, "accuracy", "both")

    assert consensus(case.document) == {
        ("negotiability", "want a person", "alice"),
        ("explainability", "Nobody wants a guess.", "alice"),
        ("accuracy", "machine never", "alice"),
    }


def test_neither_removes_the_consensus_in_the_unit_and_trims_what_reaches_outside(
    case: Case,
) -> None:
    decide(case, 2, "accuracy", "a")
    start, _ = hiring_span("It was accurate.")
    _, end = hiring_span("Nobody wants a guess.")
    by_hand = Coding.objects.create(
        document=case.document,
        code=case.codes["negotiability"],
        coder=case.alice,
        start=start,
        end=end,
        consensus=True,
    )

    decide(case, 2, "accuracy", "neither")
    decide(case, 3, "negotiability", "neither")

    # The hand-made coding keeps its id and the part in the next sentence, without the space.
    assert consensus(case.document) == {("negotiability", "Nobody wants a guess.", "alice")}
    assert Coding.objects.get(consensus=True).pk == by_hand.pk
    assert set(AdjudicationDecision.objects.values_list("decision", flat=True)) == {"neither"}


def test_neither_in_the_middle_of_a_long_consensus_coding_leaves_both_ends(case: Case) -> None:
    Coding.objects.create(
        document=case.document,
        code=case.codes["accuracy"],
        coder=case.alice,
        start=0,
        end=case.unit(3)[1],
        consensus=True,
    )

    decide(case, 2, "accuracy", "neither")

    assert consensus(case.document) == {
        ("accuracy", "I want a person.", "alice"),
        ("accuracy", "It was accurate.", "alice"),
    }


def test_edit_records_the_decision_and_leaves_the_consensus_alone(case: Case) -> None:
    decide(case, 2, "accuracy", "a")

    decide(case, 2, "accuracy", "edit")

    assert consensus(case.document) == {("accuracy", "machine never", "alice")}
    assert AdjudicationDecision.objects.get().decision == "edit"


def test_deciding_again_replaces_the_earlier_consensus_and_decision(case: Case) -> None:
    decide(case, 3, "accuracy", "b")
    assert consensus(case.document) == {("accuracy", "accurate", "alice")}

    decide(case, 3, "accuracy", "a")  # Bob did not apply it here: nothing remains.

    assert consensus(case.document) == set()
    assert list(AdjudicationDecision.objects.values_list("decision", flat=True)) == ["a"]


def test_a_decision_taken_with_the_pair_swapped_is_the_same_decision(case: Case) -> None:
    decide(case, 3, "accuracy", "a", swap=True)  # A is Carol here

    assert consensus(case.document) == {("accuracy", "accurate", "alice")}
    stored = AdjudicationDecision.objects.get()
    assert (stored.coder_a, stored.coder_b, stored.decision) == (case.bob, case.carol, "b")
    key = (*case.unit(3), case.codes["accuracy"].pk)
    assert decision_map(case.document, case.bob, case.carol)[key].decision == "b"
    assert decision_map(case.document, case.carol, case.bob)[key].decision == "a"

    decide(case, 3, "accuracy", "neither")  # the same pair the other way round: one row
    assert AdjudicationDecision.objects.count() == 1


def test_every_consensus_coding_lies_inside_the_text(case: Case) -> None:
    for sentence in range(1, 5):
        for name in case.codes:
            decide(case, sentence, name, "both")
    length = len(case.document.text)
    spans = Coding.objects.filter(consensus=True).values_list("start", "end")
    assert spans and all(0 <= start < end <= length for start, end in spans)


def test_it_refuses_a_span_outside_the_text_a_foreign_code_and_an_unknown_decision(
    case: Case,
) -> None:
    other = Study.objects.create(slug="other", name="Other")
    foreign = Code.objects.create(study=other, name="foreign")
    common = {"document": case.document, "coder_a": case.bob, "coder_b": case.carol}
    with pytest.raises(AdjudicationError, match="not a span"):
        adjudicate(
            **common,
            code=case.codes["accuracy"],
            unit_start=10,
            unit_end=len(HIRING_TEXT) + 1,
            decision="a",
            user=case.alice,
        )
    with pytest.raises(AdjudicationError, match="not in this document's study"):
        adjudicate(**common, code=foreign, unit_start=0, unit_end=5, decision="a", user=case.alice)
    with pytest.raises(AdjudicationError, match="not a decision"):
        adjudicate(
            **common,
            code=case.codes["accuracy"],
            unit_start=0,
            unit_end=5,
            decision="maybe",
            user=case.alice,
        )
    assert not AdjudicationDecision.objects.exists()


def test_only_owners_adjudicate(case: Case, people: dict[str, User]) -> None:
    start, end = case.unit(2)
    for user, refusal in [
        (case.bob, PermissionDenied),
        (people["victor"], PermissionDenied),
        (people["mallory"], Http404),
    ]:
        with pytest.raises(refusal):
            adjudicate(
                document=case.document,
                code=case.codes["accuracy"],
                unit_start=start,
                unit_end=end,
                decision="a",
                coder_a=case.bob,
                coder_b=case.carol,
                user=user,
            )
        with pytest.raises(refusal):
            accept_agreements(
                document=case.document,
                coder_a=case.bob,
                coder_b=case.carol,
                unit="sentence",
                user=user,
            )
    assert not Coding.objects.filter(consensus=True).exists()
    assert not AdjudicationDecision.objects.exists()


# Accepting agreements and progress ---------------------------------------------------------------


def test_accept_agreements_copies_each_agreed_unit_and_code_once(case: Case) -> None:
    copied = accept_agreements(
        document=case.document,
        coder_a=case.bob,
        coder_b=case.carol,
        unit="sentence",
        user=case.alice,
    )

    assert copied == 2
    assert consensus(case.document) == {
        ("negotiability", "want a person", "alice"),
        ("explainability", "Nobody wants a guess.", "alice"),
    }
    again = accept_agreements(
        document=case.document,
        coder_a=case.carol,
        coder_b=case.bob,
        unit="sentence",
        user=case.alice,
    )
    assert again == 0
    assert Coding.objects.filter(consensus=True).count() == 2


def test_accept_agreements_keeps_a_unit_already_settled_by_hand(case: Case) -> None:
    start, end = hiring_span("person")
    Coding.objects.create(
        document=case.document,
        code=case.codes["negotiability"],
        coder=case.alice,
        start=start,
        end=end,
        consensus=True,
    )

    accept_agreements(
        document=case.document,
        coder_a=case.bob,
        coder_b=case.carol,
        unit="sentence",
        user=case.alice,
    )

    assert consensus(case.document) == {
        ("negotiability", "person", "alice"),
        ("explainability", "Nobody wants a guess.", "alice"),
    }


def test_progress_counts_decided_disagreements(case: Case) -> None:
    # Four disagreements by sentence: s2 accuracy, s3 accuracy, s3 and s4 negotiability.
    assert adjudication_progress(case.document, case.bob, case.carol, "sentence") == (0, 4)

    decide(case, 2, "accuracy", "a")
    decide(case, 3, "accuracy", "neither", swap=True)
    decide(case, 1, "negotiability", "both")  # an agreement, not a disagreement

    assert adjudication_progress(case.document, case.bob, case.carol, "sentence") == (2, 4)
    assert adjudication_progress(case.document, case.carol, case.bob, "sentence") == (2, 4)
    # By turn the units differ, so no sentence decision counts: accuracy differs in both turns,
    # negotiability in the second.
    assert adjudication_progress(case.document, case.bob, case.carol, "turn") == (0, 3)


# Rounds -------------------------------------------------------------------------------------------


@pytest.fixture
def ten_documents(study: Study) -> list[Document]:
    return [
        Document.objects.create(study=study, title=f"Session {n:02d}", text=f"Session {n}.")
        for n in range(10)
    ]


def test_a_sampled_round_can_be_drawn_again_from_its_seed(
    case: Case, ten_documents: list[Document]
) -> None:
    study = case.document.study
    every_id = sorted(study.documents.values_list("pk", flat=True))  # 11 documents

    first = start_round(
        study=study,
        name="Pilot",
        user=case.alice,
        coders=[case.bob, case.carol],
        share=0.3,
        seed=1234,
    )

    drawn = sorted(first.documents.values_list("pk", flat=True))
    assert len(drawn) == 4  # ceil(0.3 * 11)
    assert drawn == sorted(random.Random(1234).sample(every_id, k=4))
    assert (first.sample_share, first.seed) == (0.3, 1234)
    close_round(agreement_round=first, user=case.alice)

    second = start_round(
        study=study,
        name="Again",
        user=case.alice,
        coders=[case.bob, case.carol],
        share=0.3,
        seed=1234,
    )
    assert sorted(second.documents.values_list("pk", flat=True)) == drawn


def test_a_round_without_a_seed_records_the_one_it_drew_with(
    case: Case, ten_documents: list[Document]
) -> None:
    chosen = ten_documents[:5]

    drawn = start_round(
        study=case.document.study,
        name="Pilot",
        user=case.alice,
        coders=[case.bob, case.carol],
        documents=chosen,
        share=0.4,
    )

    assert drawn.seed is not None
    ids = sorted(drawn.documents.values_list("pk", flat=True))
    assert ids == sample_documents([d.pk for d in chosen], 0.4, drawn.seed)
    assert len(ids) == 2
    assert set(ids) <= {d.pk for d in chosen}


def test_a_round_turns_blind_coding_on_and_closing_restores_it(
    case: Case, ten_documents: list[Document]
) -> None:
    study = case.document.study
    assert study.blind_coding is False

    agreement_round = start_round(
        study=study,
        name="Pilot",
        user=case.alice,
        coders=[case.bob, case.carol],
        documents=ten_documents[:2],
    )

    study.refresh_from_db()
    assert study.blind_coding is True
    assert agreement_round.blind_before is False
    close_round(agreement_round=agreement_round, user=case.alice)
    study.refresh_from_db()
    assert study.blind_coding is False
    assert AgreementRound.objects.get().closed_at is not None

    # A study that was blind already stays blind after its round.
    study.blind_coding = True
    study.save()
    blind_round = start_round(
        study=study, name="Second", user=case.alice, coders=[case.bob, case.carol]
    )
    close_round(agreement_round=blind_round, user=case.alice)
    study.refresh_from_db()
    assert study.blind_coding is True


def test_a_round_assigns_its_documents_to_its_coders(
    case: Case, ten_documents: list[Document]
) -> None:
    Assignment.objects.create(document=ten_documents[0], coder=case.bob, status="done")

    start_round(
        study=case.document.study,
        name="Pilot",
        user=case.alice,
        coders=[case.bob, case.carol],
        documents=ten_documents[:3],
    )

    assigned = set(Assignment.objects.values_list("document__title", "coder__username", "status"))
    assert assigned == {
        ("Session 00", "bob", "done"),  # kept as it was
        ("Session 00", "carol", "not_started"),
        ("Session 01", "bob", "not_started"),
        ("Session 01", "carol", "not_started"),
        ("Session 02", "bob", "not_started"),
        ("Session 02", "carol", "not_started"),
    }


def test_only_one_round_is_open_at_a_time(case: Case) -> None:
    study = case.document.study
    start_round(study=study, name="Pilot", user=case.alice, coders=[case.bob, case.carol])

    with pytest.raises(AdjudicationError, match="“Pilot” is still open"):
        start_round(study=study, name="Main", user=case.alice, coders=[case.bob, case.carol])
    assert AgreementRound.objects.count() == 1


def test_a_round_needs_two_coders_who_may_code(case: Case, people: dict[str, User]) -> None:
    study = case.document.study
    with pytest.raises(AdjudicationError, match="at least two coders"):
        start_round(study=study, name="Pilot", user=case.alice, coders=[case.bob])
    with pytest.raises(AdjudicationError, match="victor is not a coder"):
        start_round(study=study, name="Pilot", user=case.alice, coders=[case.bob, people["victor"]])
    study.refresh_from_db()
    assert not AgreementRound.objects.exists()
    assert study.blind_coding is False


def test_only_owners_run_rounds(case: Case, people: dict[str, User]) -> None:
    study = case.document.study
    with pytest.raises(PermissionDenied):
        start_round(study=study, name="Pilot", user=case.bob, coders=[case.bob, case.carol])
    with pytest.raises(Http404):
        start_round(
            study=study, name="Pilot", user=people["mallory"], coders=[case.bob, case.carol]
        )
    opened = start_round(study=study, name="Pilot", user=case.alice, coders=[case.bob, case.carol])
    with pytest.raises(PermissionDenied):
        close_round(agreement_round=opened, user=case.bob)
    study.refresh_from_db()
    assert study.blind_coding is True
