"""Workflows that touch several models: importing transcripts and rosters; creating, archiving
and deleting a study; renaming, moving and deleting documents; editing workshops and
participants. The web pages and the API call the same functions, keyword-only.

Each public function runs in one transaction: a bad file anywhere leaves the database exactly as
it was. Parsing lives in `studies.importers`; this module matches speakers, checks the rules of
the study (identity, immutability) and writes rows in bulk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings
from django.db import router, transaction
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.text import slugify
from django_countries import countries

from studies.audit import record
from studies.importers import FileRejected, ParsedTranscript, Table, parse_transcript, read_table
from studies.models import (
    BCP47_RE,
    AuditEvent,
    Document,
    Membership,
    Participant,
    ParticipantValue,
    Recording,
    Sentence,
    Study,
    Turn,
    Variable,
    Workshop,
    language_list,
    validate_language_list,
    validate_language_tag,
)
from studies.nlp import count_words, sentence_spans
from studies.pseudonymise import Decisions, Pseudonymised, keep_mapping, pseudonymise_parsed
from studies.rows import insert_rows
from studies.wording import plural

# Labels that mean the person running the session, in the study's languages. A speaker with one of
# these labels (or one listed in the workshop's facilitators) is a speaker without a participant.
FACILITATOR_WORDS = {
    "facilitator",
    "co-facilitator",
    "moderator",
    "interviewer",
    "researcher",
    "host",
    "fasilitaattori",
    "moderaattori",
    "haastattelija",
    "tutkija",
    "moderatorin",
    "interviewerin",
    "forscher",
    "forscherin",
    "leitung",
}

NON_PARTICIPANT = ""  # the value of a speaker mapping that says "not a participant"


def check_upload_size(data: bytes, filename: str) -> None:
    limit = settings.COLLOQUY_MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise FileRejected(
            f"is {len(data) / 1048576:.1f} MB, larger than the limit of "
            f"{limit / 1048576:.0f} MB (COLLOQUY_MAX_UPLOAD_MB)",
            filename=filename,
        )


# --- Speakers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeakerMatch:
    label: str
    participant: Participant | None
    how: str  # "code", "alias", "facilitator", "mapped", "unmatched"

    @property
    def matched(self) -> bool:
        return self.how != "unmatched"


def _fold(label: str) -> str:
    return " ".join(label.casefold().split())


def is_facilitator_label(label: str, workshop: Workshop | None) -> bool:
    folded = _fold(label)
    if workshop and folded in {_fold(name) for name in workshop.facilitator_labels}:
        return True
    # "Facilitator", "Facilitator 2", "Moderator (Anna)", "Co-facilitator"
    first = re.split(r"[\s(]", folded, maxsplit=1)[0] if folded else ""
    return first in FACILITATOR_WORDS


def match_speakers(
    study: Study,
    workshop: Workshop | None,
    labels: Iterable[str],
    mapping: Mapping[str, str] | None = None,
) -> dict[str, SpeakerMatch]:
    """Match each label to a participant: an explicit mapping first (a participant code, or
    NON_PARTICIPANT), then a participant code, then an alias of a participant of this workshop,
    then an alias unique in the study; facilitator labels match nobody on purpose."""
    participants = list(study.participants.all())
    by_code = {_fold(p.code): p for p in participants}
    local_alias: dict[str, Participant] = {}
    study_alias: dict[str, list[Participant]] = {}
    for p in participants:
        for alias in p.alias_list:
            study_alias.setdefault(_fold(alias), []).append(p)
            if workshop is not None and p.workshop_id == workshop.pk:
                local_alias[_fold(alias)] = p
    mapping = {_fold(k): v for k, v in (mapping or {}).items()}

    result: dict[str, SpeakerMatch] = {}
    for label in labels:
        if label in result:
            continue
        key = _fold(label)
        if key in mapping:
            target = mapping[key]
            if target == NON_PARTICIPANT:
                result[label] = SpeakerMatch(label, None, "mapped")
                continue
            participant = by_code.get(_fold(target))
            if participant is None:
                raise ValueError(f"speaker {label!r} is mapped to unknown participant {target!r}")
            result[label] = SpeakerMatch(label, participant, "mapped")
        elif key in by_code:
            result[label] = SpeakerMatch(label, by_code[key], "code")
        elif key in local_alias:
            result[label] = SpeakerMatch(label, local_alias[key], "alias")
        elif len(study_alias.get(key, [])) == 1:
            result[label] = SpeakerMatch(label, study_alias[key][0], "alias")
        elif is_facilitator_label(label, workshop):
            result[label] = SpeakerMatch(label, None, "facilitator")
        else:
            result[label] = SpeakerMatch(label, None, "unmatched")
    return result


def withdrawn_speaker(matches: Mapping[str, SpeakerMatch]) -> str | None:
    """Why a text whose speakers matched so cannot come in, or None: a speaker is a participant
    who withdrew (studies.withdrawal), and their speech must not come back."""
    for match in matches.values():
        participant = match.participant
        if participant is not None and participant.withdrawn_at is not None:
            who = participant.code
            if _fold(match.label) != _fold(participant.code):
                who = f"the speaker '{match.label}' is {participant.code}, who"
            when = timezone.localtime(participant.withdrawn_at).date().isoformat()
            return f"{who} withdrew on {when}; remove their speech from the file before importing"
    return None


# --- Transcripts ----------------------------------------------------------------------------


@dataclass
class SpeakerSummary:
    label: str
    turns: int
    words: int
    match: SpeakerMatch


@dataclass
class TranscriptPreview:
    filename: str
    title: str
    parsed: ParsedTranscript
    speakers: list[SpeakerSummary]
    status: str  # "new", "unchanged", "replace", "refused"
    reason: str = ""
    existing: Document | None = None
    sha256: str = ""
    # What pseudonymisation found and replaced, when the import asked for it.
    pseudonymised: Pseudonymised | None = None

    @property
    def unmatched(self) -> list[str]:
        return [s.label for s in self.speakers if not s.match.matched]

    @property
    def word_count(self) -> int:
        return count_words(self.parsed.text)


def default_title(filename: str) -> str:
    return PurePath(filename).stem.strip() or filename


# A web import reads the same upload up to four times: the upload's preview, the review page,
# and at confirmation the review again and the import itself. Parsing depends only on the bytes
# and the file's name, so the last few parses are kept in this process (parsed transcripts are
# not changed after parsing; pseudonymisation makes new ones).
_PARSED: OrderedDict[tuple[str, str], ParsedTranscript] = OrderedDict()
_PARSED_KEEP = 4
_PARSED_MAX_BYTES = 5 * 1024 * 1024  # larger files are parsed each time, not held in memory
_PARSED_LOCK = threading.Lock()


def _parse_remembered(data: bytes, filename: str) -> ParsedTranscript:
    if len(data) > _PARSED_MAX_BYTES:
        return parse_transcript(data, filename)
    key = (hashlib.sha256(data).hexdigest(), filename)
    with _PARSED_LOCK:
        parsed = _PARSED.get(key)
        if parsed is not None:
            _PARSED.move_to_end(key)
            return parsed
    parsed = parse_transcript(data, filename)  # FileRejected is not remembered
    with _PARSED_LOCK:
        _PARSED[key] = parsed
        while len(_PARSED) > _PARSED_KEEP:
            _PARSED.popitem(last=False)
    return parsed


def preview_transcript(
    *,
    study: Study,
    workshop: Workshop | None,
    filename: str,
    data: bytes,
    mapping: Mapping[str, str] | None = None,
    title: str | None = None,
    pseudonymise: bool = False,
    decisions: Decisions | None = None,
    language: str | None = None,
) -> TranscriptPreview:
    """Parse one file and say what importing it would do, writing nothing. With
    `pseudonymise`, the personal data found in it is replaced first (as `decisions` say, or
    as suggested), and the preview is of the text that would be stored."""
    check_upload_size(data, filename)
    parsed = _parse_remembered(data, filename)
    if not parsed.text.strip():
        raise FileRejected("contains no text", filename=filename)
    result = None
    if pseudonymise:
        result = pseudonymise_transcript(
            study=study,
            workshop=workshop,
            filename=filename,
            parsed=parsed,
            mapping=mapping,
            decisions=decisions,
            language=language or (workshop.language if workshop else study.language),
        )
        parsed = result.parsed
    preview = preview_parsed(
        study=study,
        workshop=workshop,
        filename=filename,
        parsed=parsed,
        mapping=mapping,
        title=title,
    )
    preview.pseudonymised = result
    return preview


def pseudonymise_transcript(
    *,
    study: Study,
    workshop: Workshop | None,
    filename: str,
    parsed: ParsedTranscript,
    language: str,
    mapping: Mapping[str, str] | None = None,
    decisions: Decisions | None = None,
) -> Pseudonymised:
    """A parsed transcript with its personal data replaced; a speaker who is a participant
    (as the speaker matching finds them) is then labelled with their code."""
    labels = [turn.speaker for turn in parsed.turns]
    matches = match_speakers(study, workshop, labels, mapping)
    speakers = {m.label: m.participant.code for m in matches.values() if m.participant}
    try:
        return pseudonymise_parsed(
            study,
            parsed,
            workshop=workshop,
            language=language,
            decisions=decisions,
            speakers=speakers,
        )
    except ValueError as exc:
        raise FileRejected(str(exc), filename=filename) from None


def preview_parsed(
    *,
    study: Study,
    workshop: Workshop | None,
    filename: str,
    parsed: ParsedTranscript,
    mapping: Mapping[str, str] | None = None,
    title: str | None = None,
) -> TranscriptPreview:
    """What storing an already parsed text would do (a file's, or a REFI-QDA project's source):
    its speakers matched, and whether it is new, unchanged, replaces a document or is refused
    because something refers to the document it would replace. Writes nothing."""
    title = (title or default_title(filename))[:200]
    labels = [turn.speaker for turn in parsed.turns]
    matches = match_speakers(study, workshop, labels, mapping)
    withdrawn = withdrawn_speaker(matches)
    if withdrawn:
        raise FileRejected(withdrawn, filename=filename)
    counts: dict[str, list[int]] = {}
    for turn in parsed.turns:
        entry = counts.setdefault(turn.speaker, [0, 0])
        entry[0] += 1
        entry[1] += count_words(parsed.text[turn.start : turn.end])
    speakers = [SpeakerSummary(lbl, n, w, matches[lbl]) for lbl, (n, w) in counts.items()]
    sha = hashlib.sha256(parsed.text.encode()).hexdigest()

    preview = TranscriptPreview(filename, title, parsed, speakers, "new", sha256=sha)
    existing = Document.objects.filter(study=study, title=title).first()
    if existing is not None:
        preview.existing = existing
        if existing.sha256 == sha and existing.workshop_id == (workshop.pk if workshop else None):
            preview.status = "unchanged"
            preview.reason = f"'{title}' is already imported with identical text"
        else:
            attached = existing.attached_objects()
            if attached:
                what = ", ".join(f"{n:,} {name}" for name, n in attached.items())
                verb = "refers" if sum(attached.values()) == 1 else "refer"
                preview.status = "refused"
                preview.reason = (
                    f"'{title}' already exists and {what} {verb} to its text, so it cannot be "
                    "replaced; import the new version under another title"
                )
            else:
                preview.status = "replace"
                preview.reason = f"replaces the existing '{title}' (nothing refers to it yet)"
    return preview


@dataclass
class TranscriptOutcome:
    document: Document
    status: str  # "created", "replaced", "unchanged"
    turns: int
    sentences: int
    words: int
    pseudonymised: str = ""  # what pseudonymisation replaced, when it ran
    replacements: list[str] = field(default_factory=list)  # one line each (Pseudonymised.lines)


def store_transcript(
    preview: TranscriptPreview,
    *,
    study: Study,
    workshop: Workshop | None,
    language: str,
    kind: str,
    user: object | None,
    spans: list[tuple[int, int]] | None = None,
) -> TranscriptOutcome:
    """Write a previewed text as a document with its turns and sentences: every import of a
    text (files, REFI-QDA projects) stores it here. `spans`: its sentences, when they were
    found before the transaction (`preview_sentences`)."""
    parsed = preview.parsed
    words = preview.word_count
    fields = {
        "workshop": workshop,
        "kind": kind,
        "language": language,
        "text": parsed.text,
        "sha256": preview.sha256,
        "source_name": PurePath(preview.filename).name[:255],
        "source_format": parsed.format,
        "word_count": words,
        "imported_by": user if getattr(user, "pk", None) else None,
    }
    if preview.existing is not None:
        document = preview.existing
        document.turns.all().delete()
        document.sentences.all().delete()
        for name, value in fields.items():
            setattr(document, name, value)
        document.save()
        status = "replaced"
    else:
        document = Document.objects.create(study=study, title=preview.title, **fields)
        status = "created"

    matches = {s.label: s.match for s in preview.speakers}
    participants = {label: match.participant for label, match in matches.items()}
    insert_rows(
        Turn,
        ("document", "seq", "speaker", "participant", "start", "end", "start_ms", "end_ms"),
        [
            (
                document.pk,
                seq,
                turn.speaker[:100],
                participants[turn.speaker].pk if participants[turn.speaker] else None,
                turn.start,
                turn.end,
                turn.start_ms,
                turn.end_ms,
            )
            for seq, turn in enumerate(parsed.turns, start=1)
        ],
    )
    if spans is None:
        spans = preview_sentences(preview, language)
    insert_rows(
        Sentence,
        ("document", "seq", "start", "end"),
        [(document.pk, seq, start, end) for seq, (start, end) in enumerate(spans, start=1)],
    )
    outcome = TranscriptOutcome(document, status, len(parsed.turns), len(spans), words)
    if preview.pseudonymised is not None:
        keep_mapping(study, preview.pseudonymised, document=document, user=user)
        outcome.pseudonymised = preview.pseudonymised.report()
        outcome.replacements = preview.pseudonymised.lines(preview.filename)
    return outcome


def preview_sentences(
    preview: TranscriptPreview, language: str, progress: Callable[[int], object] | None = None
) -> list[tuple[int, int]]:
    """The sentences of a previewed text, inside its turns (no sentence crosses a speaker
    change): the slow part of an import, done before its transaction opens."""
    parsed = preview.parsed
    regions = [(t.start, t.end) for t in parsed.turns] or None
    return sentence_spans(parsed.text, regions, language, progress)


# What an import reports while it works: (done, total, what it is doing); see studies.jobs.
ImportProgress = Callable[[int, int, str], object]


def import_transcripts(
    *,
    study: Study,
    workshop: Workshop | None,
    files: Sequence[tuple[str, bytes]],
    user: object | None = None,
    mapping: Mapping[str, str] | None = None,
    language: str | None = None,
    kind: str = Document.Kind.TRANSCRIPT,
    progress: ImportProgress | None = None,
    pseudonymise: bool = False,
    decisions: Mapping[str, Decisions] | None = None,
    in_transaction: Callable[[], object] | None = None,
) -> list[TranscriptOutcome]:
    """Import transcripts all together or not at all. With `pseudonymise`, each text's
    personal data is replaced before it is stored (`decisions`: a reviewer's, by filename).
    Files are read and their sentences found first; only the writing is one transaction, so
    `progress` (done, total, stage) is heard from every step but that last one.
    `in_transaction` runs inside that transaction, after the writes, so that what it does (a
    job deleting the upload it imported) commits with them or not at all.

    Every speaker must be matched (by code, alias, facilitator label or `mapping`) and no file
    may replace a document whose text something refers to; otherwise FileRejected names the file
    and nothing is written."""
    language = language or (workshop.language if workshop else "en")
    validate_language_tag(language)
    report = progress or (lambda done, total, stage: None)
    previews = []
    titles: dict[str, str] = {}
    for number, (filename, data) in enumerate(files, start=1):
        report(0, 0, f"Reading {filename} ({number} of {len(files)})")
        preview = preview_transcript(
            study=study,
            workshop=workshop,
            filename=filename,
            data=data,
            mapping=mapping,
            pseudonymise=pseudonymise,
            decisions=(decisions or {}).get(filename),
            language=language,
        )
        if preview.title in titles:
            raise FileRejected(
                f"has the same title '{preview.title}' as {titles[preview.title]}",
                filename=filename,
            )
        titles[preview.title] = filename
        if preview.status == "refused":
            raise FileRejected(preview.reason, filename=filename)
        if preview.unmatched:
            names = ", ".join(repr(label) for label in preview.unmatched)
            raise FileRejected(
                f"speakers not in the roster: {names}; add them as participant aliases, list "
                "them as the workshop's facilitators, or map them (LABEL=CODE, or LABEL= for "
                "a non-participant)",
                filename=filename,
            )
        previews.append(preview)

    changed = [p for p in previews if p.status != "unchanged"]
    total = sum(len(p.parsed.text) for p in changed)
    sentences: dict[str, list[tuple[int, int]]] = {}
    before = 0
    for preview in changed:
        stage = f"Finding the sentences of {preview.filename}"
        sentences[preview.filename] = preview_sentences(
            preview, language, lambda at, base=before, stage=stage: report(base + at, total, stage)
        )
        before += len(preview.parsed.text)
    report(total, total, f"Saving {len(changed)} document{'s' if len(changed) != 1 else ''}")

    outcomes = []
    with transaction.atomic():
        for preview in previews:
            if preview.status == "unchanged":
                outcome = TranscriptOutcome(
                    preview.existing, "unchanged", 0, 0, preview.existing.word_count
                )
            else:
                outcome = store_transcript(
                    preview,
                    study=study,
                    workshop=workshop,
                    language=language,
                    kind=kind,
                    user=user,
                    spans=sentences[preview.filename],
                )
            outcomes.append(outcome)
        _record_import(study, workshop, kind, outcomes, user)
        if in_transaction is not None:
            in_transaction()
    return outcomes


def _record_import(
    study: Study,
    workshop: Workshop | None,
    kind: str,
    outcomes: Sequence[TranscriptOutcome],
    user: object | None,
) -> None:
    """'Imported 3 transcripts into FI-1 (1,512 turns)', when anything was written."""
    written = [o for o in outcomes if o.status != "unchanged"]
    if not written:
        return
    label = str(Document.Kind(kind).label).lower() if kind in Document.Kind.values else kind
    turns = sum(o.turns for o in written)
    place = f" into {workshop.code}" if workshop is not None else ""
    replaced = sum(o.status == "replaced" for o in written)
    summary = f"Imported {plural(len(written), label)}{place} ({plural(turns, 'turn')}"
    summary += f", {replaced} replaced)" if replaced else ")"
    record(
        study,
        AuditEvent.Action.IMPORT,
        summary,
        user=user,
        details={
            "kind": kind,
            "workshop": workshop.code if workshop is not None else None,
            "documents": [o.document.pk for o in written],
            "files": [o.document.source_name for o in written],
            "turns": turns,
            "sentences": sum(o.sentences for o in written),
            "words": sum(o.words for o in written),
            "replaced": replaced,
        },
    )


def describe_outcomes(outcomes: Sequence[TranscriptOutcome]) -> str:
    """One line for a message or a terminal: 'Imported 3 transcripts, 1,512 turns, ...'."""
    written = [o for o in outcomes if o.status != "unchanged"]
    unchanged = len(outcomes) - len(written)
    if not written:
        return f"No changes: {plural(unchanged, 'transcript')} already imported."
    replaced = sum(o.status == "replaced" for o in written)
    turns = sum(o.turns for o in written)
    sentences = sum(o.sentences for o in written)
    words = sum(o.words for o in written)
    line = (
        f"Imported {plural(len(written), 'transcript')}: {plural(turns, 'turn')}, "
        f"{plural(sentences, 'sentence')}, {plural(words, 'word')}"
    )
    if replaced:
        line += f" ({replaced} replaced an earlier version)"
    if unchanged:
        line += f"; {unchanged} unchanged"
    return line + "."


# --- Rosters --------------------------------------------------------------------------------

COLUMN_NAMES = {
    "participant": ("participant", "participant code", "participant_code", "code", "id", "case"),
    "workshop": ("workshop", "workshop code", "workshop_code", "session"),
    "country": ("country",),
    "site": ("site", "city", "venue"),
    "date": ("date", "workshop date", "workshop_date"),
    "language": ("language", "lang"),
    "facilitators": ("facilitators", "facilitator"),
    "aliases": ("aliases", "alias", "speaker labels", "speaker_labels"),
}
WORKSHOP_FIELDS = ("country", "site", "date", "language", "facilitators")
TYPED_HEADER_RE = re.compile(r"^(?P<name>.+?)\s*\[(?P<kind>text|number|choice)\]$", re.I)
MAX_INFERRED_CHOICES = 12


@dataclass
class RosterPlan:
    filename: str
    workshops_new: list[str] = field(default_factory=list)
    workshops_changed: list[str] = field(default_factory=list)
    participants_new: list[str] = field(default_factory=list)
    participants_changed: list[str] = field(default_factory=list)
    participants_unchanged: int = 0
    variables_new: list[tuple[str, str]] = field(default_factory=list)  # (name, kind)
    # New workshops whose rows give no language: whoever applies the plan must name one, since
    # sentence splitting and lemma search depend on it (never a silent English).
    workshops_need_language: list[str] = field(default_factory=list)
    rows: int = 0
    # What will be written, resolved during planning so that applying cannot fail on input.
    _workshops: dict[str, dict] = field(default_factory=dict, repr=False)
    _participants: list[dict] = field(default_factory=list, repr=False)
    _variables: dict[str, dict] = field(default_factory=dict, repr=False)

    @property
    def has_changes(self) -> bool:
        return bool(
            self.workshops_new
            or self.workshops_changed
            or self.participants_new
            or self.participants_changed
            or self.variables_new
        )

    def summary(self) -> str:
        if not self.has_changes:
            return (
                f"No changes: {'the' if self.participants_unchanged == 1 else 'all'} "
                f"{plural(self.participants_unchanged, 'participant')} in {self.filename} "
                f"{'is' if self.participants_unchanged == 1 else 'are'} already in the study "
                f"as the file describes {'it' if self.participants_unchanged == 1 else 'them'}."
            )
        parts = []
        if self.workshops_new:
            parts.append(plural(len(self.workshops_new), "new workshop"))
        if self.workshops_changed:
            parts.append(f"{plural(len(self.workshops_changed), 'workshop')} updated")
        if self.participants_new:
            parts.append(plural(len(self.participants_new), "new participant"))
        if self.participants_changed:
            parts.append(f"{plural(len(self.participants_changed), 'participant')} updated")
        if self.variables_new:
            parts.append(plural(len(self.variables_new), "new variable"))
        if self.participants_unchanged:
            parts.append(f"{plural(self.participants_unchanged, 'participant')} unchanged")
        return f"Roster {self.filename}: " + ", ".join(parts) + "."


def parse_country(value: str) -> str | None:
    """An ISO 3166 alpha-2 code from 'FI', 'FIN', '246' or 'Finland'; None when unknown."""
    text = value.strip()
    code = countries.alpha2(text)
    if code:
        return code
    code = countries.by_name(text)
    if code:
        return code
    aliases = {"uk": "GB", "united kingdom": "GB", "usa": "US", "united states": "US"}
    return aliases.get(text.casefold())


DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def parse_date(value: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    return None


def parse_number(value: str) -> float | None:
    try:
        number = float(value.replace(",", ".") if value.count(",") == 1 else value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _resolve_columns(table: Table, filename: str) -> tuple[dict[str, str], list[str]]:
    """Map our column roles to the file's headers; the rest are variables."""
    roles: dict[str, str] = {}
    for header in table.headers:
        folded = _fold(header).replace("-", " ")
        for role, names in COLUMN_NAMES.items():
            if folded in names or folded.replace(" ", "_") in names:
                if role in roles:
                    raise FileRejected(
                        f"columns '{roles[role]}' and '{header}' both look like the {role} column",
                        filename=filename,
                        line=1,
                        column=header,
                    )
                roles[role] = header
                break
    for role in ("participant", "workshop"):
        if role not in roles:
            found = ", ".join(f"'{h}'" for h in table.headers)
            raise FileRejected(
                f"has no '{role}' column (required; found {found})", filename=filename, line=1
            )
    variables = [h for h in table.headers if h not in roles.values()]
    return roles, variables


def store_value(
    participant: Participant, variable: Variable, value: str, number: float | None
) -> None:
    """A participant's value of a variable (with its number, for a number variable); an empty
    value removes it. The roster import and the participant's page both write through here."""
    if value:
        ParticipantValue.objects.update_or_create(
            participant=participant, variable=variable, defaults={"value": value, "number": number}
        )
    else:
        ParticipantValue.objects.filter(participant=participant, variable=variable).delete()


def plan_roster(*, study: Study, filename: str, data: bytes) -> RosterPlan:
    """Read and check a roster completely, writing nothing. Every problem is a FileRejected
    naming the row and the column."""
    check_upload_size(data, filename)
    table = read_table(data, filename)
    if not table.rows:
        raise FileRejected("has a header but no participant rows", filename=filename)
    return plan_roster_table(study=study, filename=filename, table=table)


def plan_roster_table(*, study: Study, filename: str, table: Table) -> RosterPlan:
    """Check a roster already read into a table (a file's rows, or a REFI-QDA project's cases
    as rows): the one place workshops, participants and their variables are planned."""
    roles, variable_headers = _resolve_columns(table, filename)
    plan = RosterPlan(filename=filename, rows=len(table.rows))

    def reject(row: int, header: str, reason: str) -> FileRejected:
        return FileRejected(reason, filename=filename, line=row, column=header)

    existing_workshops = {w.code.casefold(): w for w in study.workshops.all()}
    existing_participants = {
        p.code.casefold(): p
        for p in study.participants.select_related("workshop").prefetch_related("values")
    }
    existing_variables = {v.name.casefold(): v for v in study.variables.all()}

    # Workshops first: every row repeats its workshop's attributes, and they must agree.
    workshop_rows: dict[str, tuple[int, dict]] = {}
    for row in table.rows:
        code = row.values[roles["workshop"]].strip()
        if not code:
            raise reject(row.number, roles["workshop"], "the workshop is empty")
        attrs: dict = {}
        for name in WORKSHOP_FIELDS:
            header = roles.get(name)
            if header is None or not row.values[header]:
                continue
            raw = row.values[header]
            if name == "country":
                value = parse_country(raw)
                if value is None:
                    raise reject(row.number, header, f"unknown country {raw!r} (use an ISO code)")
            elif name == "date":
                value = parse_date(raw)
                if value is None:
                    raise reject(row.number, header, f"bad date {raw!r} (use YYYY-MM-DD)")
            elif name == "language":
                value = raw
                if not BCP47_RE.match(raw):
                    raise reject(row.number, header, f"{raw!r} is not a BCP 47 language tag")
            else:
                value = raw
            attrs[name] = value
        key = code.casefold()
        if key in workshop_rows:
            first_row, first = workshop_rows[key]
            for name, value in attrs.items():
                if name in first and first[name] != value:
                    raise reject(
                        row.number,
                        roles[name],
                        f"workshop {code} has {name} {value!r} here but {first[name]!r} "
                        f"in row {first_row}",
                    )
                first.setdefault(name, value)
        else:
            if key not in existing_workshops and "country" not in attrs:
                raise reject(
                    row.number,
                    roles["workshop"],
                    f"unknown workshop {code!r}: create it first, or give its country in a "
                    "'country' column so the roster creates it",
                )
            workshop_rows[key] = (row.number, attrs | {"code": code})

    for key, (_row, attrs) in workshop_rows.items():
        current = existing_workshops.get(key)
        if current is None:
            plan.workshops_new.append(attrs["code"])
            if "language" not in attrs:
                plan.workshops_need_language.append(attrs["code"])
        elif any(
            str(getattr(current, n)) != str(v) for n, v in attrs.items() if n not in ("code",)
        ):
            plan.workshops_changed.append(current.code)
        plan._workshops[key] = attrs

    # Variables: type from a "[number]" suffix, from the existing variable, or inferred.
    for header in variable_headers:
        typed = TYPED_HEADER_RE.match(header)
        name = (typed.group("name") if typed else header).strip()[:100]
        values = [row.values[header] for row in table.rows if row.values[header]]
        current = existing_variables.get(name.casefold())
        if typed:
            kind = typed.group("kind").lower()
        elif current is not None:
            kind = current.kind
        elif values and all(parse_number(v) is not None for v in values):
            kind = Variable.Kind.NUMBER
        elif len(set(values)) <= MAX_INFERRED_CHOICES:
            kind = Variable.Kind.CHOICE
        else:
            kind = Variable.Kind.TEXT
        if current is not None and current.kind != kind:
            raise reject(1, header, f"variable {name!r} is a {current.kind} variable, not {kind}")
        if kind == Variable.Kind.NUMBER:
            for row in table.rows:
                raw = row.values[header]
                if raw and parse_number(raw) is None:
                    raise reject(row.number, header, f"{raw!r} is not a number")
        plan._variables[header] = {"name": name, "kind": kind, "current": current}
        if current is None:
            plan.variables_new.append((name, kind))

    # Participants.
    seen: dict[str, int] = {}
    for row in table.rows:
        code = row.values[roles["participant"]].strip()
        if not code:
            raise reject(row.number, roles["participant"], "the participant code is empty")
        if len(code) > 32:
            raise reject(
                row.number, roles["participant"], "the participant code is over 32 characters"
            )
        if code.casefold() in seen:
            raise reject(
                row.number,
                roles["participant"],
                f"duplicate participant code {code!r} (also in row {seen[code.casefold()]})",
            )
        seen[code.casefold()] = row.number
        aliases = ""
        if "aliases" in roles:
            aliases = ", ".join(
                a.strip() for a in re.split(r"[,;]", row.values[roles["aliases"]]) if a.strip()
            )
        values = {header: row.values[header] for header in variable_headers}
        workshop_key = row.values[roles["workshop"]].strip().casefold()
        plan._participants.append(
            {"code": code, "workshop": workshop_key, "aliases": aliases, "values": values}
        )
        current = existing_participants.get(code.casefold())
        if current is not None and current.withdrawn_at is not None:
            when = timezone.localtime(current.withdrawn_at).date().isoformat()
            raise reject(
                row.number,
                roles["participant"],
                f"{current.code} withdrew on {when}: remove their row, as their variables and "
                "speaker labels are not stored again",
            )
        if current is None:
            plan.participants_new.append(code)
        elif _participant_differs(current, workshop_key, aliases, values, plan._variables):
            plan.participants_changed.append(current.code)
        else:
            plan.participants_unchanged += 1
    return plan


def _participant_differs(
    participant: Participant,
    workshop_key: str,
    aliases: str,
    values: dict[str, str],
    variables: dict[str, dict],
) -> bool:
    if participant.workshop.code.casefold() != workshop_key:
        return True
    if aliases and aliases != participant.aliases:
        return True
    stored = {v.variable_id: v.value for v in participant.values.all()}
    for header, value in values.items():
        current = variables[header]["current"]
        if current is None:
            if value:
                return True
        elif stored.get(current.pk, "") != value:
            return True
    return False


class LanguageNeeded(ValueError):
    """A roster creates workshops without saying their language, and none was given."""

    def __init__(self, workshops: Sequence[str]) -> None:
        self.workshops = list(workshops)
        super().__init__(
            f"The roster gives no language for {', '.join(self.workshops)}: choose one "
            "(a BCP 47 tag such as 'en', 'de' or 'fi')."
        )


def apply_roster(*, study: Study, plan: RosterPlan, language: str | None = None) -> RosterPlan:
    """Write a checked roster in one transaction. `language` is the language of the new
    workshops the roster gives none for (`plan.workshops_need_language`); it is required when
    there are any."""
    if not plan.has_changes:
        return plan
    if plan.workshops_need_language:
        if not language:
            raise LanguageNeeded(plan.workshops_need_language)
        validate_language_tag(language)
    with transaction.atomic():
        workshops = {w.code.casefold(): w for w in study.workshops.all()}
        for key, attrs in plan._workshops.items():
            workshop = workshops.get(key)
            if workshop is None:
                workshop = Workshop(study=study, code=attrs["code"], language=language or "")
            for name in WORKSHOP_FIELDS:
                if name in attrs:
                    setattr(workshop, name, attrs[name])
            workshop.save()
            workshops[key] = workshop

        variables: dict[str, Variable] = {}
        next_order = study.variables.count()
        for header, info in plan._variables.items():
            variable = info["current"]
            if variable is None:
                variable = Variable.objects.create(
                    study=study, name=info["name"], kind=info["kind"], order=next_order
                )
                next_order += 1
            if variable.kind == Variable.Kind.CHOICE:
                known = variable.choice_list
                new = sorted(
                    {p["values"][header] for p in plan._participants if p["values"][header]}
                    - set(known)
                )
                if new:
                    variable.choices = "\n".join(known + new)
                    variable.save(update_fields=["choices"])
            variables[header] = variable

        participants = {p.code.casefold(): p for p in study.participants.all()}
        for entry in plan._participants:
            participant = participants.get(entry["code"].casefold())
            workshop = workshops[entry["workshop"]]
            if participant is None:
                participant = Participant.objects.create(
                    study=study, code=entry["code"], workshop=workshop, aliases=entry["aliases"]
                )
            else:
                participant.workshop = workshop
                if entry["aliases"]:
                    participant.aliases = entry["aliases"]
                participant.save()
            for header, value in entry["values"].items():
                variable = variables[header]
                number = parse_number(value) if variable.kind == Variable.Kind.NUMBER else None
                store_value(participant, variable, value, number)
        record(
            study,
            AuditEvent.Action.IMPORT,
            plan.summary().replace("Roster ", "Imported the roster ", 1).rstrip("."),
            details={
                "file": plan.filename,
                "workshops_new": plan.workshops_new,
                "workshops_changed": plan.workshops_changed,
                "participants_new": len(plan.participants_new),
                "participants_changed": len(plan.participants_changed),
                "variables_new": [name for name, _kind in plan.variables_new],
            },
        )
    return plan


def import_roster(
    *, study: Study, filename: str, data: bytes, language: str | None = None
) -> RosterPlan:
    """Plan and apply a roster in one go (commands, scripts, the demo). New workshops the roster
    gives no language for take `language`, or else the study's first language: a scripted
    import has nobody to ask."""
    plan = plan_roster(study=study, filename=filename, data=data)
    return apply_roster(study=study, plan=plan, language=language or study.language)


# --- Running a study: studies, documents, workshops, participants ---------------------------

# Slugs that name pages of the site rather than a study ("/studies/new/").
RESERVED_SLUGS = {"new", "archived"}


class StudyError(ValueError):
    """A change to a study or its contents that the rules refuse; the message says why."""


@dataclass
class DeletionSummary:
    """What deleting an object takes with it, counted generically by Django's deletion
    collector (so whatever later apps attach is counted too): [(label, number)], largest
    relations in the order Django collects them, the object itself left out."""

    counts: list[tuple[str, int]]

    def describe(self, *, leave_out: Iterable[str] = ()) -> str:
        """'3 documents, 1,204 turns, 57 codings, 4 memos' (or '' when nothing goes)."""
        skip = set(leave_out)
        return ", ".join(f"{n:,} {label}" for label, n in self.counts if label not in skip and n)

    def count(self, label: str) -> int:
        return dict(self.counts).get(label, 0)


def _label(model: type, n: int) -> str:
    meta = model._meta
    return str(meta.verbose_name if n == 1 else meta.verbose_name_plural)


def deletion_summary(obj: object) -> DeletionSummary:
    """Everything a delete of `obj` cascades to, counted without loading the rows Django can
    delete in bulk."""
    collector = Collector(using=router.db_for_write(type(obj)))
    collector.collect([obj])
    # A row can be reached along two paths (a memo through its study and through its coding),
    # so rows are counted by primary key.
    rows: dict[type, set] = {}
    for model, instances in collector.data.items():
        rows.setdefault(model, set()).update(instance.pk for instance in instances)
    for queryset in collector.fast_deletes:
        rows.setdefault(queryset.model, set()).update(queryset.values_list("pk", flat=True))
    rows.get(type(obj), set()).discard(obj.pk)
    return DeletionSummary(
        [(_label(model, len(pks)), len(pks)) for model, pks in rows.items() if pks]
    )


def _delete_with_files(obj: Study | Document) -> None:
    """Delete `obj` and what cascades from it; stored recordings leave storage once the
    transaction commits (a rollback keeps them)."""
    recordings = Recording.objects.filter(
        **({"document__study": obj} if isinstance(obj, Study) else {"document": obj})
    )
    files = [(r.file.storage, r.file.name) for r in recordings.only("file") if r.file]
    obj.delete()
    for storage, name in files:
        transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))


def suggest_slug(name: str) -> str:
    """A free slug made from the study's name: 'Judging AI' -> 'judging-ai', then
    'judging-ai-2' while that is taken."""
    base = (slugify(name) or "study")[:44].strip("-") or "study"
    if base in RESERVED_SLUGS:
        base = f"{base}-study"
    slug, n = base, 1
    while Study.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def create_study(
    *, owner: object, name: str, slug: str = "", description: str = "", languages: str = "en"
) -> Study:
    """A new study owned by `owner`. An empty slug is made from the name."""
    name = name.strip()
    if not name:
        raise StudyError("A study needs a name.")
    slug = slug.strip() or suggest_slug(name)
    if slug in RESERVED_SLUGS:
        raise StudyError(f"'{slug}' names a page of the site; choose another slug.")
    validate_language_list(languages)
    if not language_list(languages):
        raise StudyError("Name at least one language, e.g. 'en'.")
    with transaction.atomic():
        if Study.objects.select_for_update().filter(slug=slug).exists():
            raise StudyError(f"A study with the slug '{slug}' already exists; choose another.")
        study = Study.objects.create(
            slug=slug,
            name=name,
            description=description.strip(),
            languages=", ".join(language_list(languages)),
        )
        Membership.objects.create(study=study, user=owner, role=Membership.Role.OWNER)
        record(
            study,
            AuditEvent.Action.STUDY,
            f"Created the study '{study.name}'",
            user=owner,
            details={"slug": study.slug, "owner": owner.get_username() if owner else None},
        )
    return study


def update_study(
    *,
    study: Study,
    name: str | None = None,
    description: str | None = None,
    languages: str | None = None,
    blind_coding: bool | None = None,
) -> Study:
    """Change a study's name, description, languages or blind coding; its slug never changes
    (links and scripts use it)."""
    fields = []
    before = {"name": study.name, "blind_coding": study.blind_coding}
    if name is not None:
        if not name.strip():
            raise StudyError("A study needs a name.")
        study.name = name.strip()
        fields.append("name")
    if description is not None:
        study.description = description.strip()
        fields.append("description")
    if languages is not None:
        validate_language_list(languages)
        if not language_list(languages):
            raise StudyError("Name at least one language, e.g. 'en'.")
        study.languages = ", ".join(language_list(languages))
        fields.append("languages")
    if blind_coding is not None and blind_coding != study.blind_coding:
        study.blind_coding = blind_coding
        fields.append("blind_coding")
    if fields:
        with transaction.atomic():
            study.save(update_fields=fields)
            _record_study_change(study, fields, before)
    return study


def _record_study_change(study: Study, fields: list[str], before: dict[str, object]) -> None:
    """'Turned blind coding on', "Renamed the study 'A' to 'B'", 'Changed the study's
    description'. Unchanged values set again are left out of the line (not of the details)."""
    parts = []
    if "name" in fields and before["name"] != study.name:
        parts.append(f"renamed the study '{before['name']}' to '{study.name}'")
    if "blind_coding" in fields:
        parts.append(f"turned blind coding {'on' if study.blind_coding else 'off'}")
    others = [f for f in fields if f in ("description", "languages")]
    if others:
        parts.append(f"changed the study's {' and '.join(others)}")
    if not parts:
        return
    line = "; ".join(parts)
    record(
        study,
        AuditEvent.Action.STUDY,
        line[0].upper() + line[1:],
        details={"fields": fields, "blind_coding": study.blind_coding},
    )


def archive_study(*, study: Study) -> Study:
    """Make the study read-only and hide it from the list of studies, until restored."""
    with transaction.atomic():
        if study.archived_at is None:
            study.archived_at = timezone.now()
            study.save(update_fields=["archived_at"])
            record(study, AuditEvent.Action.STUDY, "Archived the study (now read-only)")
    return study


def restore_study(*, study: Study) -> Study:
    with transaction.atomic():
        if study.archived_at is not None:
            study.archived_at = None
            study.save(update_fields=["archived_at"])
            record(study, AuditEvent.Action.STUDY, "Restored the study from the archive")
    return study


def delete_study(*, study: Study, confirmation: str) -> DeletionSummary:
    """Delete the study and everything in it, when `confirmation` is its name (as typed by the
    owner: surrounding spaces aside, exactly)."""
    if confirmation.strip() != study.name:
        raise StudyError(f"Type the study's name, {study.name}, to confirm the deletion.")
    with transaction.atomic():
        summary = deletion_summary(study)
        # Written before the delete, so the event's link to the study is cleared with it and
        # the event stays under the study's slug.
        record(
            study,
            AuditEvent.Action.STUDY,
            f"Deleted the study '{study.name}'"
            + (f" ({summary.describe()})" if summary.counts else ""),
            details={"deleted": dict(summary.counts)},
        )
        _delete_with_files(study)
    return summary


def update_document(
    *, document: Document, title: str | None = None, workshop: Workshop | None = None
) -> Document:
    """Rename a document or move it to another workshop of its study. Its text, and so every
    offset that points into it, stays as it is."""
    fields = []
    old_title, old_workshop = document.title, document.workshop
    if title is not None:
        title = title.strip()
        if not title:
            raise StudyError("A document needs a title.")
        clash = Document.objects.filter(study_id=document.study_id, title=title)
        if clash.exclude(pk=document.pk).exists():
            raise StudyError(f"Another document of this study is called '{title}'.")
        document.title = title[:200]
        fields.append("title")
    if workshop is not None:
        if workshop.study_id != document.study_id:
            raise StudyError("A document moves only to a workshop of its own study.")
        document.workshop = workshop
        fields.append("workshop")
    if fields:
        with transaction.atomic():
            document.save(update_fields=fields)
            parts = []
            if document.title != old_title:
                parts.append(f"Renamed the document '{old_title}' to '{document.title}'")
            if workshop is not None and workshop != old_workshop:
                was = f" from {old_workshop.code}" if old_workshop is not None else ""
                parts.append(f"Moved '{document.title}'{was} to {workshop.code}")
            if parts:
                record(
                    document.study,
                    AuditEvent.Action.STUDY,
                    "; ".join(parts),
                    details={"document": document.pk, "fields": fields},
                )
    return document


# What a document is made of: deleting these alone loses nothing anyone added.
DOCUMENT_PARTS = (str(Turn._meta.verbose_name_plural), str(Sentence._meta.verbose_name_plural))
DOCUMENT_PARTS += (str(Turn._meta.verbose_name), str(Sentence._meta.verbose_name))


def document_attachments(summary: DeletionSummary) -> str:
    """What people added to a document (codings, memos, a recording, ...), as words."""
    return summary.describe(leave_out=DOCUMENT_PARTS)


def delete_document(*, document: Document, confirm: bool = False) -> DeletionSummary:
    """Delete a document with its turns and sentences. When something was added to it
    (codings, memos, a recording, ...), only with `confirm`: the caller has shown the owner
    what goes with it."""
    with transaction.atomic():
        summary = deletion_summary(document)
        attached = document_attachments(summary)
        if attached and not confirm:
            raise StudyError(
                f"'{document.title}' has {attached}; they would be deleted with it. "
                "Confirm to delete them all."
            )
        record(
            document.study,
            AuditEvent.Action.STUDY,
            f"Deleted the document '{document.title}'" + (f" ({attached})" if attached else ""),
            details={"document": document.pk, "deleted": dict(summary.counts)},
        )
        _delete_with_files(document)
    return summary


WORKSHOP_EDITABLE = ("code", "site", "date", "country", "language")


def update_workshop(*, workshop: Workshop, **changes: object) -> Workshop:
    """Change a workshop's code, site, date, country or language. Its documents keep the
    language they were imported in (their sentences were split in it)."""
    unknown = set(changes) - set(WORKSHOP_EDITABLE)
    if unknown:
        raise StudyError(f"A workshop has no editable field {', '.join(sorted(unknown))}.")
    if "code" in changes:
        code = str(changes["code"]).strip()
        if not code:
            raise StudyError("A workshop needs a code.")
        clash = Workshop.objects.filter(study_id=workshop.study_id, code__iexact=code)
        if clash.exclude(pk=workshop.pk).exists():
            raise StudyError(f"Another workshop of this study has the code '{code}'.")
        changes["code"] = code
    if "language" in changes:
        validate_language_tag(str(changes["language"]))
    if "country" in changes and not countries.alpha2(str(changes["country"])):
        raise StudyError(f"Unknown country {changes['country']!r}: use an ISO code such as FI.")
    for name, value in changes.items():
        setattr(workshop, name, value)
    if changes:
        with transaction.atomic():
            workshop.save(update_fields=list(changes))
    return workshop


def clean_variable_value(variable: Variable, raw: object) -> tuple[str, float | None]:
    """A participant's value of `variable` as stored: (text, number for a number variable).
    Raises StudyError naming the variable when the value does not fit its type."""
    value = "" if raw is None else str(raw).strip()
    if not value:
        return "", None
    if variable.kind == Variable.Kind.NUMBER:
        number = parse_number(value)
        if number is None:
            raise StudyError(f"{variable.name}: {value!r} is not a number.")
        return value, number
    if variable.kind == Variable.Kind.CHOICE and value not in variable.choice_list:
        raise StudyError(
            f"{variable.name}: {value!r} is not one of {', '.join(variable.choice_list)}."
        )
    if len(value) > 500:
        raise StudyError(f"{variable.name}: at most 500 characters.")
    return value, None


def update_participant(
    *,
    participant: Participant,
    values: Mapping[Variable, object] | None = None,
    aliases: str | None = None,
) -> Participant:
    """Set a participant's variable values (typed as the roster's variables: an empty value
    removes it; a number variable keeps its number in step) and speaker labels."""
    if participant.withdrawn_at is not None:
        raise StudyError(
            f"{participant.code} withdrew: their variables and speaker labels are not stored again."
        )
    cleaned = {}
    for variable, raw in (values or {}).items():
        if variable.study_id != participant.study_id:
            raise StudyError(f"{variable.name} is not a variable of this study.")
        cleaned[variable] = clean_variable_value(variable, raw)
    with transaction.atomic():
        if aliases is not None:
            participant.aliases = ", ".join(
                a.strip() for a in re.split(r"[,;]", aliases) if a.strip()
            )[:500]
            participant.save(update_fields=["aliases"])
        for variable, (value, number) in cleaned.items():
            store_value(participant, variable, value, number)
    return participant
