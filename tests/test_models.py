from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError

from studies.models import Document, Participant, Sentence, Study, Turn, Workshop


def test_deleting_a_study_deletes_all_its_data(document: Document) -> None:
    document.study.delete()
    for model in (Workshop, Participant, Document, Turn, Sentence):
        assert not model.objects.exists(), model.__name__


def test_a_participant_who_speaks_in_a_transcript_cannot_be_deleted(document: Document) -> None:
    aino = Participant.objects.get(code="P01")
    with pytest.raises(RestrictedError):
        aino.delete()
    assert Participant.objects.filter(code="P01").exists()


def test_a_workshop_with_documents_cannot_be_deleted(document: Document) -> None:
    with pytest.raises(RestrictedError):
        document.workshop.delete()


def test_the_database_refuses_an_empty_or_reversed_span(document: Document) -> None:
    for start, end in ((5, 5), (9, 3)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Turn.objects.create(document=document, seq=99, speaker="X", start=start, end=end)


def test_codes_and_titles_are_unique_per_study(document: Document) -> None:
    study = document.study
    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(study=study, code="P01", workshop=document.workshop)
    other = Study.objects.create(slug="other", name="Other")
    workshop = Workshop.objects.create(study=other, code="FI-1", country="FI")
    Participant.objects.create(study=other, code="P01", workshop=workshop)  # fine elsewhere
