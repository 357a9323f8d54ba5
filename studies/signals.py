"""Signals by which the apps built on this one take part in the foundation's workflows, so
that `studies` names none of them (DESIGN.md: `studies` imports no other app).

A participant's withdrawal (`studies.withdrawal`):
- `withdrawal_previewed` is sent with `participant` while the confirmation page is drawn; a
  receiver returns a `WithdrawalEffects` saying what withdrawing would delete of its own, and
  writes nothing;
- `participant_withdrawn` is sent with `participant` inside the withdrawal's transaction,
  before their speech is redacted; a receiver deletes what it holds of the participant (the
  surveys app: responses, answers, links and the survey texts made from them) and returns a
  `WithdrawalEffects` saying what it deleted. An exception rolls the whole withdrawal back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.dispatch import Signal


@dataclass
class WithdrawalEffects:
    """What an app deletes when a participant withdraws: counts by name in the plural as a
    person reads them ("survey responses": 2), and the documents deleted whole (their ids),
    so that the foundation neither redacts nor counts those a second time."""

    counts: dict[str, int] = field(default_factory=dict)
    documents: set[int] = field(default_factory=set)


withdrawal_previewed = Signal()
participant_withdrawn = Signal()
