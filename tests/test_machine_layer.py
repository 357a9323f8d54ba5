"""A model is one more coder: its suggestions are its own account's codings, written all or
nothing, offered least certain first, and left out of every person's layer, every table and
every REFI-QDA project until a person accepts them."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth.models import User

from coding.machine import (
    Suggested,
    current_machine_coders,
    machine_suggestions,
    new_machine_coder,
    write_suggestions,
)
from coding.models import Code, Coding, MachineScore
from coding.services import CodingSpan, CodingsRefused, apply_codings
from exports.qdpx import write_qdpx
from exports.tables import build_table
from studies.models import Document


@pytest.fixture
def negotiability(roster_study) -> Code:
    return Code.objects.create(study=roster_study, name="negotiability")


def sentences(document: Document, n: int) -> list[tuple[int, int]]:
    return list(document.sentences.order_by("seq").values_list("start", "end")[:n])


def test_suggestions_are_the_machines_own_layer_and_left_out_of_analyses(
    document: Document, negotiability: Code, people: dict[str, User]
) -> None:
    study = document.study
    (a, b), (c, d), (e, f) = sentences(document, 3)
    apply_codings(user=people["bob"], spans=[CodingSpan(document.pk, negotiability.pk, a, b)])
    machine = new_machine_coder(study, "learned", "tfidf-logreg", trained_on="consensus")
    assert machine.version == 1 and machine.user.has_usable_password() is False
    written = write_suggestions(
        machine,
        document,
        [
            Suggested(negotiability.pk, a, b, 0.95),
            Suggested(negotiability.pk, c, d, 0.55),
            Suggested(negotiability.pk, e, f, 0.7),
        ],
    )
    assert written == 3
    assert Coding.objects.filter(coder=machine.user).count() == 3
    assert MachineScore.objects.count() == 3
    # Not a person's coding: out of "all", in the machine layer, out of the tables.
    assert Coding.objects.layer("all").count() == 1
    assert Coding.objects.machine_layer().count() == 3
    assert Coding.objects.layer(machine.user.pk).count() == 3  # compared like anyone's
    frequencies = build_table(study, "frequencies", layer="all")
    total = frequencies.wide[frequencies.wide["code_path"] == "Total"].iloc[0]
    assert total["segments"] == 1
    # Offered to Bob least certain first, without the span he already coded.
    offered = machine_suggestions(document, user=people["bob"])
    assert [(s.start, s.confidence) for s in offered] == [(c, 0.55), (e, 0.7)]
    assert offered[0].machine == machine.label
    # A second version replaces nothing of the first; the current one is offered.
    second = new_machine_coder(study, "learned", "tfidf-logreg", trained_on="consensus")
    assert second.version == 2 and current_machine_coders(study) == [second]
    assert machine_suggestions(document, user=people["bob"]) == []


def test_writing_suggestions_is_all_or_nothing(document: Document, negotiability: Code) -> None:
    machine = new_machine_coder(document.study, "llm", "some-model")
    (a, b), (c, d) = sentences(document, 2)
    write_suggestions(machine, document, [Suggested(negotiability.pk, a, b, 0.8)])
    with pytest.raises(CodingsRefused):
        write_suggestions(
            machine,
            document,
            [
                Suggested(negotiability.pk, c, d, 0.6),
                Suggested(negotiability.pk, 0, document.text_length + 5, 0.6),
            ],
        )
    kept = Coding.objects.get(coder=machine.user)
    assert (kept.start, kept.end, kept.machine_score.confidence) == (a, b, 0.8)


def test_a_project_export_holds_no_machine_layer(
    document: Document, negotiability: Code, people: dict[str, User]
) -> None:
    (a, b), (c, d) = sentences(document, 2)
    apply_codings(user=people["bob"], spans=[CodingSpan(document.pk, negotiability.pk, a, b)])
    machine = new_machine_coder(document.study, "learned", "tfidf-logreg")
    write_suggestions(machine, document, [Suggested(negotiability.pk, c, d, 0.9)])
    data, counts = write_qdpx(document.study)
    assert counts.codings == 1
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        project = archive.read("project.qde").decode()
    assert machine.user.username not in project


def test_blind_coders_are_offered_nothing_learned_from_peoples_codings(
    document: Document, negotiability: Code, people: dict[str, User]
) -> None:
    study = document.study
    (a, b), (c, d) = sentences(document, 2)
    learned = new_machine_coder(study, "learned", "tfidf-logreg", trained_on="consensus")
    write_suggestions(learned, document, [Suggested(negotiability.pk, a, b, 0.6)])
    llm = new_machine_coder(study, "llm", "some-model")
    write_suggestions(llm, document, [Suggested(negotiability.pk, c, d, 0.6)])
    assert len(machine_suggestions(document, user=people["bob"])) == 2
    study.blind_coding = True
    study.save()
    document.study.refresh_from_db()
    offered = machine_suggestions(document, user=people["bob"])
    assert [s.start for s in offered] == [c]  # the LLM's only: it learned from no one
    assert len(machine_suggestions(document, user=people["alice"])) == 2  # owners see all
