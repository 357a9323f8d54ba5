"""Machine-assisted coding: a model is one more coder.

A `MachineCoder` has an account of its own; what it suggests is written as that account's
codings (`write_suggestions`, through the one write path `apply_codings`), each with its
confidence (`MachineScore`). So its suggestions form their own layer, are never mixed into a
person's codings (`Coding.objects.layer("all")` and every analysis leave machine layers out),
and agreement with the people is measured by the same reliability code as between people.
Nothing enters a person's layer until that person accepts a suggestion (`accept_suggestion`).

Engines: `coding.machine.learned` (scikit-learn, trained on a layer of the study itself) and
`coding.machine.llm` (an OpenAI-compatible endpoint the deployment configures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max

from coding.models import Coding, MachineCoder, MachineScore, SuggestionDecision, TrainingExample
from coding.services import CodingSpan, apply_codings
from studies.access import Access, role_in
from studies.models import Document, Membership, Study


class MachineError(Exception):
    """A machine engine cannot do what was asked; str() is one line for the person."""


def learning_layer(study: Study, value: object) -> tuple[str, int | None]:
    """The layer a model may learn from, as a form, the API, the command or code names it:
    "consensus", or a person's user id or username. Returns (its name, the person's id, None
    for the consensus); anything else, a machine's own layer included, is a MachineError."""
    text = str(value if value is not None else "").strip()
    if text == "consensus":
        return "consensus", None
    User = get_user_model()
    found = None
    if text.isdigit() and len(text) < 19:
        found = User.objects.filter(pk=int(text)).first()
    if found is None and text:
        found = User.objects.filter(**{User.USERNAME_FIELD: text}).first()
    if found is None:
        raise MachineError(
            f"layer {text!r}: use consensus or the username of a person who coded in this study"
        )
    if MachineCoder.objects.filter(user=found).exists():
        raise MachineError(f"layer {text!r} is a machine's: train on consensus or a person")
    return found.get_username(), found.pk


def new_machine_coder(
    study: Study,
    engine: str,
    model_name: str,
    *,
    trained_on: str = "",
    prompt_version: str = "",
    options: dict | None = None,
    user: object = None,
) -> MachineCoder:
    """A new version of a machine coder, with its own account (no password; it cannot sign in)
    and a coder's membership, so that its codings are checked like anyone's."""
    with transaction.atomic():
        last = MachineCoder.objects.filter(
            study=study, engine=engine, model_name=model_name
        ).aggregate(v=Max("version"))["v"]
        version = (last or 0) + 1
        username = f"{engine}-v{version}@{study.slug}"[:150]
        User = get_user_model()
        number = 1
        while User.objects.filter(**{User.USERNAME_FIELD: username}).exists():
            number += 1
            username = f"{engine}-v{version}-{number}@{study.slug}"[:150]
        account = User(**{User.USERNAME_FIELD: username})
        account.first_name = f"{engine} v{version}"[:150]
        account.set_unusable_password()
        account.save()
        Membership.objects.create(study=study, user=account, role=Membership.Role.CODER)
        return MachineCoder.objects.create(
            study=study,
            user=account,
            engine=engine,
            model_name=model_name[:200],
            version=version,
            trained_on=trained_on[:150],
            prompt_version=prompt_version[:20],
            options=options or {},
            created_by=user if getattr(user, "pk", None) else None,
        )


@dataclass(frozen=True)
class Suggested:
    code: int
    start: int
    end: int
    confidence: float


def write_suggestions(machine: MachineCoder, document: Document, items: Sequence[Suggested]) -> int:
    """Replace the machine's codings of `document` with `items`, all of them or none; returns
    how many were written."""
    spans = [CodingSpan(document.pk, s.code, s.start, s.end) for s in items]
    confidence = {(s.code, s.start, s.end): s.confidence for s in items}
    with transaction.atomic():
        Coding.objects.filter(document=document, coder=machine.user).delete()
        if not spans:
            return 0
        applied = apply_codings(user=machine.user, spans=spans, study=machine.study)
        MachineScore.objects.bulk_create(
            MachineScore(coding=c, confidence=confidence[(c.code_id, c.start, c.end)])
            for c in applied.created
        )
    return len(applied.created)


def current_machine_coders(study: Study) -> list[MachineCoder]:
    """The latest version of each engine and model of the study: the ones whose suggestions
    are offered."""
    latest: dict[tuple[str, str], MachineCoder] = {}
    for machine in MachineCoder.objects.filter(study=study).order_by("-version"):
        latest.setdefault((machine.engine, machine.model_name), machine)
    return sorted(latest.values(), key=lambda m: (m.engine, m.model_name))


@dataclass(frozen=True)
class MachineSuggestion:
    coding: int  # the machine's coding it comes from
    code_id: int
    start: int
    end: int
    text: str
    confidence: float
    machine: str  # its label


def machine_suggestions(document: Document, *, user: object) -> list[MachineSuggestion]:
    """What the study's current machine coders suggest in `document` for `user`, the least
    certain first (the most useful to check): left out are spans the user already coded with
    that code (any overlap) and spans they already decided on. While the study codes blind, a
    coder is offered nothing learned from people's codings (the blind-coding rule,
    `Access.sees_others`): a model trained on a layer would show its judgements."""
    study = document.study
    access = Access(study, user, role_in(study, user))
    machines = {
        m.user_id: m
        for m in current_machine_coders(study)
        if access.sees_others or not m.trained_on
    }
    if not machines:
        return []
    rows = list(
        Coding.objects.filter(document=document, coder_id__in=machines, consensus=False)
        .select_related("machine_score")
        .values_list("pk", "coder_id", "code_id", "start", "end", "machine_score__confidence")
    )
    if not rows:
        return []
    mine: dict[int, list[tuple[int, int]]] = {}
    for code_id, start, end in Coding.objects.filter(
        document=document, coder=user, consensus=False
    ).values_list("code_id", "start", "end"):
        mine.setdefault(code_id, []).append((start, end))
    decided = set(
        SuggestionDecision.objects.filter(document=document, user=user).values_list(
            "code_id", "start", "end"
        )
    )
    text = document.text
    found = [
        MachineSuggestion(
            pk, code_id, start, end, text[start:end], 0.5 if p is None else p, machines[coder].label
        )
        for pk, coder, code_id, start, end, p in rows
        if (code_id, start, end) not in decided
        and not any(s < end and start < e for s, e in mine.get(code_id, ()))
    ]
    return sorted(found, key=lambda s: (abs(s.confidence - 0.5), s.start, s.code_id))


def steer(
    *, user: object, document: Document, code_id: int, start: int, end: int, positive: bool
) -> TrainingExample:
    """A coder's "more like this" (positive) or "not this" (negative) for the learned
    engine's next training."""
    example, _created = TrainingExample.objects.update_or_create(
        document=document,
        code_id=code_id,
        start=start,
        end=end,
        user=user,
        defaults={"study_id": document.study_id, "positive": positive},
    )
    return example
