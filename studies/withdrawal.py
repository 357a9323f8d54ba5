"""A participant's withdrawal from a study (their right to withdraw under the GDPR).

Withdrawing is irreversible and happens in one transaction:
- their speech is redacted: every character of each of their turns that is not whitespace
  becomes REDACTION_MARK, and so does the speaker label written just before a turn when it is
  their code, one of their aliases or the turn's label. Whitespace and line breaks stay, so the
  text keeps its length and every offset into it (everyone else's turns, sentences and codings)
  still points at the same characters: a coding of someone else's words keeps exactly its
  text, and a coding that reaches into the withdrawn speech shows the redaction there;
- their turns' speaker label becomes their code, and their aliases (real names, often) are
  cleared;
- their variable values are deleted;
- the apps built on this one delete what they hold of them through the `participant_withdrawn`
  signal (the surveys app: their responses and answers, their survey links, and the survey
  texts made from their responses, which hold nothing but their answers; the codings on those
  texts go with them);
- `Participant.withdrawn_at` is set, which leaves them out of every analysis and export
  (`Participant.objects.current()`) and refuses any new import of their speech, variables or
  answers;
- an audit event records it with the counts.

What it cannot do: a recording holds their voice, and Colloquy does not cut audio; the summary
names those documents, so that an owner removes or replaces their recordings. Other people's
words are never changed, even where they mention the participant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from studies.audit import record
from studies.models import (
    AuditEvent,
    Document,
    Participant,
    Pseudonym,
    Recording,
    Sentence,
    Turn,
)
from studies.nlp import count_words
from studies.signals import WithdrawalEffects, participant_withdrawn, withdrawal_previewed
from studies.spans import SpanIndex
from studies.wording import plural

REDACTION_MARK = "\u2588"  # FULL BLOCK

Span = tuple[int, int]


class WithdrawalRefused(ValueError):
    """A withdrawal that cannot go ahead; the message says why and that nothing changed.
    `field` is "confirm" when the confirmation was wrong, "" otherwise."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def redact(text: str) -> str:
    """Every character but whitespace replaced by REDACTION_MARK: the same length, the same
    line breaks."""
    return "".join(ch if ch.isspace() else REDACTION_MARK for ch in text)


@dataclass
class WithdrawalSummary:
    """What a withdrawal does (a preview) or did (with `withdrawn_at` set)."""

    participant: str
    turns: int = 0
    words: int = 0
    labels: int = 0
    documents: list[str] = field(default_factory=list)
    # What points into their speech and shows the redaction from now on ("codings": 4).
    attached: dict[str, int] = field(default_factory=dict)
    values: int = 0
    aliases: int = 0
    # Kept pseudonym mappings that hold their real names (studies.pseudonymise).
    pseudonyms: int = 0
    # What the apps built on this one delete ("survey responses": 1, "survey links": 2, ...).
    deleted: dict[str, int] = field(default_factory=dict)
    deleted_documents: list[str] = field(default_factory=list)
    # What points into the documents deleted whole ("codings": 3), deleted with them.
    deleted_attached: dict[str, int] = field(default_factory=dict)
    recordings: list[str] = field(default_factory=list)
    withdrawn_at: dt.datetime | None = None
    # document id -> the spans to redact, merged and in order (not shown).
    spans: dict[int, list[Span]] = field(default_factory=dict, repr=False)

    def lines(self) -> list[str]:
        """What happens, one sentence per line, in the future tense for a preview and the past
        tense once done."""
        done = self.withdrawn_at is not None
        code = self.participant
        out = []
        if self.turns:
            verb = "were" if done else "will be"
            out.append(
                f"{plural(self.turns, 'turn')} ({plural(self.words, 'word')}) in "
                f"{plural(len(self.documents), 'document')} {verb} replaced by "
                f"{REDACTION_MARK * 3} marks of the same length"
                + (
                    f", with {plural(self.labels, 'speaker label')} before them"
                    if self.labels
                    else ""
                )
                + f": {', '.join(self.documents)}."
            )
        else:
            out.append(f"{code} speaks in no transcript: there is no speech to redact.")
        if self.attached:
            what = ", ".join(f"{n:,} {name}" for name, n in self.attached.items())
            verb = "showed" if done else "will show"
            out.append(
                f"{what} on their speech {verb} the redaction; everyone else's codings keep "
                "their text and positions."
            )
        verb = "were" if done else "will be"
        if self.values:
            out.append(f"{plural(self.values, 'variable value')} {verb} deleted.")
        if self.aliases:
            out.append(f"{plural(self.aliases, 'speaker label')} (aliases) {verb} cleared.")
        if self.pseudonyms:
            out.append(f"{plural(self.pseudonyms, 'kept pseudonym')} naming them {verb} deleted.")
        for name, n in self.deleted.items():
            if n:
                out.append(f"{n:,} {name} {verb} deleted.")
        if self.deleted_attached:
            what = ", ".join(f"{n:,} {name}" for name, n in self.deleted_attached.items())
            out.append(f"{what} on their survey texts {verb} deleted with them.")
        if self.recordings:
            out.append(
                "Colloquy cannot cut audio: the recordings of "
                + ", ".join(self.recordings)
                + " still hold their voice; remove or replace them."
            )
        out.append(
            f"{code} {'is' if done else 'will be'} left out of every analysis and export, and "
            "an import that brings back their speech, variables or answers is refused."
        )
        return out

    def describe(self) -> str:
        """One line for a message, the audit trail or a terminal."""
        parts = [
            f"redacted {plural(self.turns, 'turn')} in {plural(len(self.documents), 'document')}"
        ]
        if self.values:
            parts.append(f"deleted {plural(self.values, 'variable value')}")
        parts += [f"deleted {n:,} {name}" for name, n in self.deleted.items() if n]
        return f"{self.participant} withdrew: " + ", ".join(parts) + "."

    def as_json(self) -> dict:
        return {
            "participant": self.participant,
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
            "turns": self.turns,
            "words": self.words,
            "speaker_labels": self.labels,
            "documents": self.documents,
            "attached": self.attached,
            "variable_values": self.values,
            "aliases": self.aliases,
            "pseudonyms": self.pseudonyms,
            "deleted": self.deleted,
            "deleted_documents": self.deleted_documents,
            "deleted_with_documents": self.deleted_attached,
            "recordings": self.recordings,
            "summary": self.lines(),
        }


def _merge(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _label_span(text: str, start: int, floor: int, labels: list[str]) -> Span | None:
    """Where one of `labels` is last written between the turn before (its end, `floor`) and
    this turn's text: "Aino: ", "**Aino:** ", "[00:01] P03: ", or a label on a line of its
    own. Only labels, times and headings sit there, never anyone's speech."""
    gap = text[floor:start]
    best: Span | None = None
    for label in labels:
        for found in re.finditer(re.escape(label), gap, re.IGNORECASE):
            span = (floor + found.start(), floor + found.end())
            if best is None or span[1] > best[1] or (span[1] == best[1] and span[0] < best[0]):
                best = span
    return best


def _offset_models() -> list[tuple[type, str]]:
    """(model, its foreign key to Document) for everything that points into a document's text
    by offsets, turns and sentences aside (codings, suggestion decisions, ...), found as
    `Document.attached_objects` finds them, so that this app names none of them."""
    found = []
    for relation in Document._meta.related_objects:
        model = relation.related_model
        if model in (Turn, Sentence) or relation.many_to_many:
            continue
        if {"start", "end"} <= {f.name for f in model._meta.get_fields()}:
            found.append((model, relation.field.name))
    return found


def _attached_to(spans: dict[int, list[Span]]) -> dict[str, int]:
    """How many rows of each offset model overlap the spans, by verbose name (one query per
    model, however many turns)."""
    indexes = {document_id: SpanIndex.of(merged) for document_id, merged in spans.items()}
    counts: dict[str, int] = {}
    for model, fk in _offset_models():
        rows = model._default_manager.filter(**{f"{fk}_id__in": list(spans)}).values_list(
            f"{fk}_id", "start", "end"
        )
        n = sum(1 for document_id, start, end in rows if indexes[document_id].overlaps(start, end))
        if n:
            meta = model._meta
            counts[str(meta.verbose_name if n == 1 else meta.verbose_name_plural)] = n
    return counts


def _effects(responses: list[tuple[object, object]]) -> WithdrawalEffects:
    merged = WithdrawalEffects()
    for _receiver, effects in responses:
        if isinstance(effects, WithdrawalEffects):
            for name, n in effects.counts.items():
                merged.counts[name] = merged.counts.get(name, 0) + n
            merged.documents |= effects.documents
    return merged


def _their_pseudonyms(participant: Participant) -> QuerySet[Pseudonym]:
    """The kept pseudonym mappings (studies.pseudonymise) that hold one of their names: what
    replaced one of their aliases, or what became their code."""
    code = participant.code
    names = Q(replacement__in=[code, f"[{code}]"])
    for alias in participant.alias_list:
        names |= Q(original__iexact=alias)
    return Pseudonym.objects.filter(names, study_id=participant.study_id)


def withdrawal_preview(participant: Participant) -> WithdrawalSummary:
    """What withdrawing `participant` would do, writing nothing."""
    effects = _effects(withdrawal_previewed.send(sender=Participant, participant=participant))
    return _plan(participant, effects)


def _plan(participant: Participant, effects: WithdrawalEffects) -> WithdrawalSummary:
    summary = WithdrawalSummary(
        participant=participant.code,
        values=participant.values.count(),
        pseudonyms=_their_pseudonyms(participant).count(),
        aliases=len(participant.alias_list),
        deleted=dict(effects.counts),
        withdrawn_at=participant.withdrawn_at,
    )
    gone = Document.objects.filter(pk__in=effects.documents).order_by("title")
    for document in gone:
        summary.deleted_documents.append(document.title)
        for name, n in document.attached_objects().items():
            summary.deleted_attached[name] = summary.deleted_attached.get(name, 0) + n

    theirs = (
        Turn.objects.filter(participant=participant)
        .exclude(document_id__in=effects.documents)
        .values_list("document_id", "start", "end", "speaker")
    )
    by_document: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for document_id, start, end, speaker in theirs:
        by_document[document_id].append((start, end, speaker))
    if not by_document:
        return summary
    # Each document's turn ends in order (turns do not overlap), to find the turn before one.
    ends: dict[int, list[int]] = defaultdict(list)
    for document_id, end in (
        Turn.objects.filter(document_id__in=list(by_document))
        .order_by("document_id", "end")
        .values_list("document_id", "end")
    ):
        ends[document_id].append(end)
    names = [participant.code, *participant.alias_list]
    documents = Document.objects.filter(pk__in=list(by_document)).order_by("title")
    for document in documents.only("pk", "title", "text"):
        text = document.text
        spans: list[Span] = []
        for start, end, speaker in sorted(by_document[document.pk]):
            summary.turns += 1
            summary.words += count_words(text[start:end])
            spans.append((start, end))
            before = bisect_right(ends[document.pk], start)
            floor = ends[document.pk][before - 1] if before else 0
            labels = sorted({speaker, *names} - {""}, key=len, reverse=True)
            label = _label_span(text, start, floor, labels)
            if label is not None:
                summary.labels += 1
                spans.append(label)
        summary.spans[document.pk] = _merge(spans)
        summary.documents.append(document.title)
    summary.attached = _attached_to(summary.spans)
    summary.recordings = list(
        Recording.objects.filter(document_id__in=list(summary.spans))
        .order_by("document__title")
        .values_list("document__title", flat=True)
    )
    return summary


def _redact_document(document: Document, spans: list[Span]) -> None:
    text = document.text
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], redact(text[start:end])]
        last = end
    pieces.append(text[last:])
    redacted = "".join(pieces)
    if len(redacted) != len(text):  # redact() keeps lengths; this guards every offset
        raise AssertionError(f"redacting {document.title} changed its length")
    document.text = redacted
    document.sha256 = hashlib.sha256(redacted.encode()).hexdigest()
    document.word_count = count_words(redacted)
    document.save(update_fields=["text", "sha256", "word_count"])


def withdraw_participant(
    *, participant: Participant, confirmation: str, user: object | None = None
) -> WithdrawalSummary:
    """Withdraw `participant` (see the module): `confirmation` must be their code, exactly.
    Raises WithdrawalRefused, having changed nothing, otherwise or when they withdrew already."""
    code = participant.code
    if (confirmation or "").strip() != code:
        raise WithdrawalRefused(
            f"Type the participant's code, {code}, to confirm the withdrawal"
            + (f" (you typed '{confirmation.strip()}')" if (confirmation or "").strip() else "")
            + ". Nothing was changed.",
            field="confirm",
        )
    with transaction.atomic():
        locked = (
            Participant.objects.select_for_update().select_related("study").get(pk=participant.pk)
        )
        if locked.withdrawn_at is not None:
            raise WithdrawalRefused(
                f"{code} already withdrew on {locked.withdrawn_at:%Y-%m-%d}. Nothing was changed."
            )
        summary = _plan(
            locked,
            _effects(withdrawal_previewed.send(sender=Participant, participant=locked)),
        )
        done = _effects(participant_withdrawn.send(sender=Participant, participant=locked))
        summary.deleted = dict(done.counts)
        for document in Document.objects.filter(pk__in=list(summary.spans)):
            _redact_document(document, summary.spans[document.pk])
        Turn.objects.filter(participant=locked).update(speaker=code[:100])
        locked.values.all().delete()
        _their_pseudonyms(locked).delete()
        locked.aliases = ""
        locked.withdrawn_at = timezone.now()
        locked.save(update_fields=["aliases", "withdrawn_at"])
        summary.withdrawn_at = locked.withdrawn_at
        details = summary.as_json()
        details.pop("summary")
        record(
            locked.study,
            AuditEvent.Action.WITHDRAWAL,
            summary.describe(),
            user=user,
            details=details,
        )
    participant.refresh_from_db()
    return summary
