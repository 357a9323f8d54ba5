"""Agreement rounds and adjudication: from two coders' codings to the study's consensus layer.

Rules, decided here once for the pages, commands and tests:

- A study has at most one open round. Opening one turns blind coding on and remembers how it was
  (`AgreementRound.blind_before`); closing it puts the switch back, whatever happened meanwhile.
- A sampled round draws `random.Random(seed).sample(sorted ids, k)` with k = ceil(share * n), so
  anyone holding the seed reproduces it; the draw is also stored as the round's documents.
- A decision concerns one unit (a sentence or turn span) and one code, for an ordered pair of
  coders. It is stored with the lower user id as coder A and "a"/"b" swapped to match, so the same
  disagreement has one decision whichever way round the pair was opened.
- "a", "b" and "both" replace the consensus codings of that code inside the unit with the chosen
  coder's (or both coders') spans, clipped to the unit; overlapping or touching spans are merged,
  because two abutting consensus codings would count as two segments in every frequency table.
  "neither" only removes. Removing trims a consensus coding that reaches outside the unit instead
  of deleting it, so a ruling on one sentence never erases consensus in its neighbours.
- "edit" records the decision and leaves the consensus layer as it is: the owner codes that unit
  by hand in the coding view (`?layer=consensus`), starting from whatever is already there.
- Accepting agreements fills only the (unit, code) pairs whose unit holds no consensus coding of
  that code yet, so running it twice changes nothing and never overrides a ruling or hand edit.
- Only owners adjudicate and run rounds. Every consensus coding written here lies in
  0 <= start < end <= len(text).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from coding.models import AdjudicationDecision, AgreementRound, Assignment, Code, Coding
from coding.reliability import UNITS, compare_coders
from coding.services import CodingSpan, apply_codings
from studies.access import Access, role_in
from studies.audit import record
from studies.models import AuditEvent, Document, Membership, Study
from studies.spans import SpanIndex
from studies.wording import plural

Span = tuple[int, int]
Choice = AdjudicationDecision.Choice
SWAP = {Choice.A: Choice.B, Choice.B: Choice.A}
OWNER = Membership.Role.OWNER


class AdjudicationError(Exception):
    """A request the rules refuse; str() is one sentence for the person who asked."""


def require_owner(study: Study | int, user: object) -> None:
    """404 for an outsider, 403 for a member who is not an owner or in an archived study (the
    project's one door)."""
    if isinstance(study, int):
        study = Study.objects.get(pk=study)
    Access(study, user, role_in(study, user)).require(OWNER)


# Spans -------------------------------------------------------------------------------------------


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """The union of spans as sorted, disjoint, non-touching spans."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def clip_spans(spans: Iterable[Span], start: int, end: int) -> list[Span]:
    """The parts of spans inside [start, end); spans that only touch it give nothing."""
    clipped = [(max(s, start), min(e, end)) for s, e in spans]
    return [(s, e) for s, e in clipped if s < e]


# Rounds ------------------------------------------------------------------------------------------


def sample_size(share: float, count: int) -> int:
    # round() first: 0.3 * 10 is 3.0000000000000004 in floating point, and ceil would make it 4.
    return min(count, math.ceil(round(share * count, 9)))


def sample_documents(document_ids: Iterable[int], share: float, seed: int) -> list[int]:
    """The documents a round with this share and seed draws, in id order (reproducible)."""
    ids = sorted(document_ids)
    return sorted(random.Random(seed).sample(ids, k=sample_size(share, len(ids))))


@transaction.atomic
def start_round(
    *,
    study: Study,
    name: str,
    user: object,
    coders: Iterable[object],
    documents: Iterable[Document] | None = None,
    share: float | None = None,
    seed: int | None = None,
    unit: str = "sentence",
) -> AgreementRound:
    """Open a round over `documents` (default: all of the study's), or a random `share` of them,
    for `coders`; turn blind coding on and assign every document of the round to every coder."""
    require_owner(study, user)
    name = (name or "").strip()
    if not name:
        raise AdjudicationError("A round needs a name.")
    if unit not in UNITS:
        raise AdjudicationError(f"{unit!r} is not a unit: choose {', '.join(UNITS)}.")
    coder_list = list({coder.pk: coder for coder in coders}.values())
    if len(coder_list) < 2:
        raise AdjudicationError("A round needs at least two coders.")
    can_code = set(
        Membership.objects.filter(study=study, role__in=[Membership.Role.CODER, OWNER]).values_list(
            "user_id", flat=True
        )
    )
    for coder in coder_list:
        if coder.pk not in can_code:
            raise AdjudicationError(
                f"{coder.get_username()} is not a coder or owner of this study."
            )
    if documents is None:
        pool = list(study.documents.all())
    else:
        pool = list({document.pk: document for document in documents}.values())
        if any(document.study_id != study.pk for document in pool):
            raise AdjudicationError("Every document of a round must belong to the study.")
    if not pool:
        raise AdjudicationError("A round needs at least one document.")
    if share is not None:
        if not 0 < share <= 1:
            raise AdjudicationError("The sample share is a fraction above 0 and at most 1.")
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        chosen = set(sample_documents((d.pk for d in pool), share, seed))
        pool = [document for document in pool if document.pk in chosen]
    else:
        seed = None

    # Lock the study so that blind_before is the value this round really replaced.
    locked = Study.objects.select_for_update().get(pk=study.pk)
    still_open = AgreementRound.objects.open().filter(study=locked).first()
    if still_open is not None:
        raise AdjudicationError(f"The round “{still_open.name}” is still open: close it first.")
    try:
        with transaction.atomic():
            agreement_round = AgreementRound.objects.create(
                study=locked,
                name=name,
                sample_share=share,
                seed=seed,
                unit=unit,
                created_by=user,
                blind_before=locked.blind_coding,
            )
    except IntegrityError:
        # Another owner opened a round between our check and our insert.
        raise AdjudicationError("Another round was just opened: close it first.") from None
    agreement_round.documents.set(pool)
    agreement_round.coders.set(coder_list)
    locked.blind_coding = True
    locked.save(update_fields=["blind_coding"])
    study.blind_coding = True
    Assignment.objects.bulk_create(
        [
            Assignment(document=document, coder=coder, assigned_by=user)
            for document in pool
            for coder in coder_list
        ],
        ignore_conflicts=True,  # an existing assignment keeps its status
    )
    names = " and ".join(coder.get_username() for coder in coder_list)
    record(
        study,
        AuditEvent.Action.ADJUDICATION,
        f"Opened the agreement round “{name}” for {names} ({plural(len(pool), 'document')}, "
        f"by {unit}); blind coding on",
        user=user,
        details={
            "round": agreement_round.pk,
            "coders": [coder.get_username() for coder in coder_list],
            "documents": [document.pk for document in pool],
            "share": share,
            "seed": seed,
            "unit": unit,
        },
    )
    return agreement_round


@transaction.atomic
def close_round(*, agreement_round: AgreementRound, user: object) -> AgreementRound:
    """Close the round and put the study's blind-coding switch back as it was before it."""
    require_owner(agreement_round.study_id, user)
    locked_round = AgreementRound.objects.select_for_update().get(pk=agreement_round.pk)
    if not locked_round.is_open:
        raise AdjudicationError(f"The round “{locked_round.name}” is already closed.")
    study = Study.objects.select_for_update().get(pk=agreement_round.study_id)
    study.blind_coding = locked_round.blind_before
    study.save(update_fields=["blind_coding"])
    locked_round.closed_at = timezone.now()
    locked_round.save(update_fields=["closed_at"])
    agreement_round.closed_at = locked_round.closed_at
    record(
        study,
        AuditEvent.Action.ADJUDICATION,
        f"Closed the agreement round “{locked_round.name}”; blind coding "
        f"{'stays on' if study.blind_coding else 'back off'}",
        user=user,
        details={"round": locked_round.pk},
    )
    return locked_round


# Adjudication ------------------------------------------------------------------------------------


def ordered_pair(coder_a: object, coder_b: object) -> tuple[object, object, bool]:
    """The pair as stored (lower id first) and whether it was swapped."""
    if coder_a.pk > coder_b.pk:
        return coder_b, coder_a, True
    return coder_a, coder_b, False


def coder_spans(
    document: Document, code_id: int, coder: object, start: int, end: int
) -> list[Span]:
    return list(
        Coding.objects.filter(
            document=document,
            code_id=code_id,
            coder=coder,
            consensus=False,
            start__lt=end,
            end__gt=start,
        ).values_list("start", "end")
    )


def strip_span(text: str, start: int, end: int) -> Span | None:
    """The span without leading or trailing white space, or None if nothing else is left: the
    part of a coding outside a unit often begins with the space between two sentences."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def clear_consensus(document: Document, code_id: int, start: int, end: int, user: object) -> None:
    """Remove consensus codings of the code from [start, end). One that reaches outside is
    trimmed to what lies outside (and keeps its id, so its memo stays with it)."""
    text = document.text
    overlapping = Coding.objects.select_for_update().filter(
        document=document, code_id=code_id, consensus=True, start__lt=end, end__gt=start
    )
    for coding in overlapping:
        left = strip_span(text, coding.start, start) if coding.start < start else None
        right = strip_span(text, end, coding.end) if coding.end > end else None
        if left is None and right is None:
            coding.delete()
            continue
        keep, extra = (left, right) if left else (right, None)
        if extra is not None:
            # The part beyond the unit on the other side becomes a consensus coding of its own,
            # written by the owner whose ruling split it.
            apply_codings(
                user=user, spans=[CodingSpan(document.pk, code_id, *extra, consensus=True)]
            )
        twin = Coding.objects.filter(
            document=document,
            code_id=code_id,
            coder_id=coding.coder_id,
            consensus=True,
            start=keep[0],
            end=keep[1],
        ).exclude(pk=coding.pk)
        if twin.exists():
            coding.delete()
        else:
            coding.start, coding.end = keep
            coding.save(update_fields=["start", "end"])


def write_consensus(document: Document, code_id: int, user: object, spans: list[Span]) -> None:
    apply_codings(
        user=user,
        spans=[CodingSpan(document.pk, code_id, s, e, consensus=True) for s, e in spans],
    )


@transaction.atomic
def adjudicate(
    *,
    document: Document,
    code: Code,
    unit_start: int,
    unit_end: int,
    decision: str,
    coder_a: object,
    coder_b: object,
    user: object,
) -> AdjudicationDecision:
    """Record the ruling on one (unit, code) for a pair of coders and write the consensus layer
    accordingly (see the module's rules). Deciding again replaces the earlier ruling."""
    require_owner(document.study_id, user)
    if code.study_id != document.study_id:
        raise AdjudicationError(f"The code {code.name} is not in this document's study.")
    if decision not in Choice.values:
        choices = ", ".join(Choice.values)
        raise AdjudicationError(f"{decision!r} is not a decision: choose {choices}.")
    if coder_a.pk == coder_b.pk:
        raise AdjudicationError("Compare two different coders.")
    if not 0 <= unit_start < unit_end <= len(document.text):
        raise AdjudicationError(
            f"[{unit_start}, {unit_end}) is not a span of this document "
            f"(0 to {len(document.text)})."
        )
    first, second, swapped = ordered_pair(coder_a, coder_b)
    stored = SWAP.get(decision, decision) if swapped else decision
    row, _ = AdjudicationDecision.objects.update_or_create(
        document=document,
        code=code,
        start=unit_start,
        end=unit_end,
        coder_a=first,
        coder_b=second,
        defaults={"decision": stored, "decided_by": user},
    )
    _record_decision(document, code, unit_start, unit_end, decision, coder_a, coder_b, user)
    if decision == Choice.EDIT:
        return row
    chosen: list[Span] = []
    if decision in (Choice.A, Choice.BOTH):
        chosen += coder_spans(document, code.pk, coder_a, unit_start, unit_end)
    if decision in (Choice.B, Choice.BOTH):
        chosen += coder_spans(document, code.pk, coder_b, unit_start, unit_end)
    clear_consensus(document, code.pk, unit_start, unit_end, user)
    write_consensus(document, code.pk, user, merge_spans(clip_spans(chosen, unit_start, unit_end)))
    return row


def _record_decision(
    document: Document,
    code: Code,
    start: int,
    end: int,
    decision: str,
    coder_a: object,
    coder_b: object,
    user: object,
) -> None:
    """'Adjudicated 'Trust' in FI-1 [120, 240) between bob and carol: bob's coding'."""
    a, b = coder_a.get_username(), coder_b.get_username()
    said = {
        Choice.A: f"{a}'s coding",
        Choice.B: f"{b}'s coding",
        Choice.BOTH: "both codings",
        Choice.NEITHER: "neither coding",
        Choice.EDIT: "to be edited by hand",
    }[Choice(decision)]
    record(
        document.study,
        AuditEvent.Action.ADJUDICATION,
        f"Adjudicated '{code.name}' in {document.title} [{start}, {end}) between {a} and {b}: "
        f"{said}",
        user=user,
        details={
            "document": document.pk,
            "code": code.pk,
            "start": start,
            "end": end,
            "decision": str(decision),
            "coders": [a, b],
        },
    )


@transaction.atomic
def accept_agreements(
    *, document: Document, coder_a: object, coder_b: object, unit: str, user: object
) -> int:
    """Copy every (unit, code) both coders applied into the consensus layer as the union of their
    spans clipped to the unit; pairs whose unit already holds consensus of that code are left
    alone. Returns how many (unit, code) pairs were copied."""
    require_owner(document.study_id, user)
    if coder_a.pk == coder_b.pk:
        raise AdjudicationError("Compare two different coders.")
    comparisons = compare_coders(document, coder_a, coder_b, unit=unit)
    by_code: dict[int, list[Span]] = defaultdict(list)
    for code_id, start, end in Coding.objects.filter(
        document=document, consensus=False, coder__in=[coder_a, coder_b]
    ).values_list("code_id", "start", "end"):
        by_code[code_id].append((start, end))
    consensus: dict[int, list[Span]] = defaultdict(list)
    for code_id, start, end in (
        Coding.objects.select_for_update()
        .filter(document=document, consensus=True)
        .values_list("code_id", "start", "end")
    ):
        consensus[code_id].append((start, end))
    coder_index = {code_id: SpanIndex.of(spans) for code_id, spans in by_code.items()}
    consensus_index = {code_id: SpanIndex.of(spans) for code_id, spans in consensus.items()}

    copied = 0
    spans: list[CodingSpan] = []
    for comparison in comparisons:
        for code_id in sorted(comparison.a & comparison.b):
            start, end = comparison.start, comparison.end
            done = consensus_index.get(code_id)
            if done is not None and done.overlapping(start, end):
                continue
            found = coder_index[code_id].overlapping(start, end)
            spans += [
                CodingSpan(document.pk, code_id, s, e, consensus=True)
                for s, e in merge_spans(clip_spans(found, start, end))
            ]
            copied += 1
    apply_codings(user=user, spans=spans)
    if copied:
        record(
            document.study,
            AuditEvent.Action.ADJUDICATION,
            f"Accepted where {coder_a.get_username()} and {coder_b.get_username()} agree in "
            f"{document.title} ({plural(copied, 'unit')} into the consensus layer)",
            user=user,
            details={"document": document.pk, "units": copied, "unit": unit},
        )
    return copied


def disagreements(
    document: Document, coder_a: object, coder_b: object, unit: str, codes: set[int] | None = None
) -> list[tuple[int, int, int]]:
    """Every (unit start, unit end, code id) where exactly one of the coders applied the code."""
    return [
        (comparison.start, comparison.end, code_id)
        for comparison in compare_coders(document, coder_a, coder_b, unit=unit, codes=codes)
        for code_id in sorted(comparison.a ^ comparison.b)
    ]


def decision_map(
    document: Document, coder_a: object, coder_b: object
) -> dict[tuple[int, int, int], AdjudicationDecision]:
    """The pair's decisions on the document by (start, end, code id), with `decision` seen from
    the caller's A and B (swapped back when the pair is stored the other way round)."""
    first, second, swapped = ordered_pair(coder_a, coder_b)
    found: dict[tuple[int, int, int], AdjudicationDecision] = {}
    for row in AdjudicationDecision.objects.filter(
        document=document, coder_a=first, coder_b=second
    ).select_related("decided_by"):
        if swapped:
            row.decision = SWAP.get(row.decision, row.decision)
        found[(row.start, row.end, row.code_id)] = row
    return found


def adjudication_progress(
    document: Document, coder_a: object, coder_b: object, unit: str
) -> tuple[int, int]:
    """(disagreements decided, disagreements) for the pair on the document at this unit."""
    open_ones = set(disagreements(document, coder_a, coder_b, unit))
    decided = decision_map(document, coder_a, coder_b).keys() & open_ones
    return len(decided), len(open_ones)
