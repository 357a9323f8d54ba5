"""What the surveys app deletes when a participant withdraws (`studies.withdrawal`): their
responses with every answer, their survey links (so an old link stops working), and the survey
texts made from their responses (`Response.document`). A survey text holds nothing but the
participant's answers and the questions they read, so it is deleted whole rather than redacted,
and the codings, memos and other rows that point into it go with it. Connected in
`SurveysConfig.ready()`."""

from __future__ import annotations

from typing import Any

from studies.models import Document, Participant
from studies.signals import WithdrawalEffects
from surveys.models import Invitation, Response


def _survey_texts(participant: Participant) -> set[int]:
    return set(
        Response.objects.filter(participant=participant, document__isnull=False).values_list(
            "document_id", flat=True
        )
    )


def _counts(participant: Participant, documents: set[int]) -> dict[str, int]:
    return {
        "survey responses": Response.objects.filter(participant=participant).count(),
        "survey links": Invitation.objects.filter(participant=participant).count(),
        "survey texts": len(documents),
    }


def preview_withdrawal(sender: type, participant: Participant, **kwargs: Any) -> WithdrawalEffects:
    documents = _survey_texts(participant)
    return WithdrawalEffects(_counts(participant, documents), documents)


def delete_for_withdrawal(
    sender: type, participant: Participant, **kwargs: Any
) -> WithdrawalEffects:
    documents = _survey_texts(participant)
    effects = WithdrawalEffects(_counts(participant, documents), documents)
    # Answers go with their responses (CASCADE); a response's link is deleted with the others.
    Response.objects.filter(participant=participant).delete()
    Invitation.objects.filter(participant=participant).delete()
    Document.objects.filter(pk__in=documents).delete()
    return effects
