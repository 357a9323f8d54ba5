"""Pseudonymisation: find personal data in a text before it is stored, and replace what the
owner accepts.

What is found, and the replacement proposed:
- the names of the roster's participants (their aliases, which are the names they go by in
  transcripts), in their inflected forms, with spaCy's PhraseMatcher on lower-cased tokens, in
  every language the study uses: `[P07]`, the participant's code;
- the study's private list of other names (staff, places, employers), which is held only as
  keyed hashes (`PrivateName`): the text's words are hashed alike, so the list is never shown
  back nor readable from the database: `[NAME]`, `[PLACE]`, `[ORGANISATION]`;
- e-mail addresses, phone numbers and URLs: `[EMAIL]`, `[PHONE]`, `[URL]`;
- where a trained spaCy pipeline with an entity recogniser is installed for the language
  (COLLOQUY_SPACY_MODELS), its PERSON entities, as suggestions the owner must accept: `[NAME]`.

Inflection rules (Finnish case endings with consonant gradation and -nen names, German and
English genitives) live in one table, `_ENDINGS`, used both to generate a name's forms for the
matcher and to take a word back to its possible base forms for the hashed list.

`pseudonymise_parsed` applies the accepted findings to a parsed transcript: the text, its turns
(offsets shifted onto the new text) and its speaker labels (a participant's label becomes their
code), so that everything stored afterwards, sentences and codings included, is computed on the
pseudonymised text.

spaCy is imported where a pipeline or matcher is built, so that the pages and commands that only
name these functions do not load it.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from studies.audit import record
from studies.importers import FileRejected, ParsedTranscript, ParsedTurn
from studies.models import AuditEvent, Participant, PrivateName, Pseudonym, Study, Workshop
from studies.nlp import base_language
from studies.wording import plural

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.matcher import PhraseMatcher

PARTICIPANT, NAME, PLACE, ORGANISATION = "participant", "name", "place", "organisation"
EMAIL, PHONE, URL, PERSON = "email", "phone", "url", "person"

# Each kind's label on pages and its replacement (a participant's is their code).
KINDS: dict[str, tuple[str, str, str]] = {
    PARTICIPANT: ("Participant names", "[P..]", "participant name"),
    NAME: ("Names from the private list", "[NAME]", "listed name"),
    PLACE: ("Places from the private list", "[PLACE]", "listed place"),
    ORGANISATION: ("Organisations from the private list", "[ORGANISATION]", "organisation"),
    EMAIL: ("E-mail addresses", "[EMAIL]", "e-mail address"),
    PHONE: ("Phone numbers", "[PHONE]", "phone number"),
    URL: ("Web addresses", "[URL]", "web address"),
    PERSON: ("Other names the language model suggests", "[NAME]", "suggested name"),
}
MAX_REPLACEMENT = 100
MAX_PRIVATE_NAMES = 5000
MAX_PRIVATE_WORDS = 6

# --- Patterns ---------------------------------------------------------------------------------

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
URL_RE = re.compile(r"(?<![\w@/])(?:https?://|www\.)[^\s<>\"'\]\[)]+", re.IGNORECASE)
# A phone number: an international prefix (+ or 00) or a leading 0 or bracketed area code, or
# the North American 3-3-4 shape; digits in groups separated by spaces, dashes, dots or slashes.
# At least seven digits, so that years, counts and clock times are not phone numbers.
PHONE_RE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\d{1,3}[\s./-]?(?:\(0?\d{1,4}\)[\s./-]?)?|\(0?\d{2,4}\)[\s./-]?|0)"
    r"\d{1,4}(?:[\s./-]?\d{2,5}){1,4}(?![\w])"
    r"|(?<![\w+])\d{3}[.-]\d{3}[.-]\d{4}(?!\w)"
)
_TRAILING = ".,;:!?"


def _pattern_findings(text: str) -> list[Finding]:
    found = []
    for regex, kind in ((EMAIL_RE, EMAIL), (URL_RE, URL)):
        for match in regex.finditer(text):
            start, end = match.span()
            while end > start and text[end - 1] in _TRAILING:
                end -= 1
            found.append(Finding(start, end, text[start:end], kind, KINDS[kind][1], "pattern"))
    for match in PHONE_RE.finditer(text):
        digits = sum(c.isdigit() for c in match.group())
        if 7 <= digits <= 15:
            start, end = match.span()
            found.append(Finding(start, end, match.group(), PHONE, KINDS[PHONE][1], "pattern"))
    return found


# --- Inflection -------------------------------------------------------------------------------

# Case endings by language, added to a name (or its stem) as written. Finnish has many, so a
# name matches however a sentence inflects it ("Ainolle", "Eeron", "Virtasen"); German and
# English mark the genitive.
_ENDINGS: dict[str, tuple[str, ...]] = {
    # Nominative plural, genitive, partitive, the locatives, translative, essive, and the
    # clitics that follow a case ("Ainollekin").
    "fi": (
        "t",
        "n",
        "a",
        "ä",
        "ta",
        "tä",
        "lle",
        "lla",
        "llä",
        "lta",
        "ltä",
        "ssa",
        "ssä",
        "sta",
        "stä",
        "ksi",
        "na",
        "nä",
        "kin",
        "kaan",
        "kään",
        "han",
        "hän",
        "nkin",
        "llekin",
    ),
    "de": ("s", "'", "\u2019", "'s", "\u2019s"),
    "en": ("'s", "\u2019s", "'", "\u2019", "s"),
}
_VOWELS = "aeiouyäöå"
# Finnish consonant gradation in a name's last syllable: the weak stem takes most endings
# ("Mikko" -> "Mikon", "Jaakko" -> "Jaakolle", "Antti" -> "Antin").
_GRADATION = (("kk", "k"), ("pp", "p"), ("tt", "t"), ("nk", "ng"), ("mp", "mm"), ("nt", "nn"))


def _stems(word: str, language: str) -> list[str]:
    """The stems a name takes case endings on, as lower-case strings."""
    word = word.lower()
    if language != "fi":
        return [word]
    stems = [word]
    if word.endswith("nen"):
        stems += [word[:-3] + "se", word[:-3] + "s"]  # Virtanen: Virtasen, Virtasta
    elif word[-1:] in _VOWELS:
        for strong, weak in _GRADATION:
            head, tail = word[:-1], word[-1]
            if head.endswith(strong):
                stems.append(head[: -len(strong)] + weak + tail)
    else:
        stems.append(word + "i")  # Peter: Peterin, Peterille
    return stems


def name_forms(name: str, language: str) -> set[str]:
    """Every form of a (possibly multi-word) name the matcher looks for: the name itself and
    its last word, lower-case, with each case ending of the language. The other words keep
    their spelling, so that a tokenizer splits them as it splits the text ("Dr. Okafor")."""
    words = name.split()
    if not words:
        return set()
    head = " ".join(words[:-1])
    forms = {name}
    lang = base_language(language)
    for stem in _stems(words[-1], lang):
        tails = {stem} | {stem + ending for ending in _ENDINGS.get(lang, ())}
        if lang == "fi" and stem[-1:] in _VOWELS:
            tails.add(stem + stem[-1] + "n")  # illative: Ainoon, Johannaan
        forms |= {f"{head} {tail}" if head else tail for tail in tails}
    return forms


def base_forms(word: str, language: str) -> set[str]:
    """The words `word` may be an inflected form of (itself included), lower-case: the
    reverse of `name_forms`, for looking words up in the hashed private list."""
    word = word.lower()
    lang = base_language(language)
    bases = {word}
    for ending in _ENDINGS.get(lang, ()):
        if word.endswith(ending) and len(word) > len(ending) + 1:
            stem = word[: -len(ending)]
            bases.add(stem)
            if lang == "fi":
                bases |= _unstem_fi(stem)
    if lang == "fi" and len(word) > 3 and word[-1] == "n" and word[-2] == word[-3]:
        bases.add(word[:-2])  # illative
    return bases


def _unstem_fi(stem: str) -> set[str]:
    found = set()
    if stem.endswith("se"):
        found.add(stem[:-2] + "nen")
    if stem.endswith("s"):
        found.add(stem[:-1] + "nen")
    if stem.endswith("i"):
        found.add(stem[:-1])
    for strong, weak in _GRADATION:
        head, tail = stem[:-1], stem[-1:]
        if tail in _VOWELS and head.endswith(weak):
            found.add(head[: -len(weak)] + strong + tail)
    return found


# --- The private list -------------------------------------------------------------------------


def fold(name: str) -> str:
    """A name as the private list compares it: NFC, case-folded, single spaces, no
    punctuation around it."""
    name = unicodedata.normalize("NFC", name).casefold()
    return " ".join(name.strip(" \t.,;:!?\"'()[]{}").split())


# A word of a name or a text, for the private list: letters and digits, with inner
# apostrophes and hyphens ("O'Brien", "Anna-Liisa"); "Dr. Okafor" is the two words dr okafor.
PRIVATE_WORD_RE = re.compile(r"\w+(?:['\u2019-]\w+)*")


def private_key(name: str) -> str:
    """A name as the private list compares it: NFC, case-folded, its words joined by one
    space. The text's words are compared the same way."""
    return " ".join(PRIVATE_WORD_RE.findall(unicodedata.normalize("NFC", name).casefold()))


@lru_cache(maxsize=64)
def _study_key(study_pk: int, secret: str) -> bytes:
    return hashlib.sha256(f"colloquy.private-names:{study_pk}:{secret}".encode()).digest()


def _digest(study: Study, key: str) -> str:
    """A keyed hash (BLAKE2b with a key made of the study and the server's secret key) of a
    name's `private_key`: without the secret the list cannot be recovered by hashing a
    dictionary of names."""
    secret = _study_key(study.pk, settings.SECRET_KEY)
    return hashlib.blake2b(key.encode(), key=secret, digest_size=32).hexdigest()


@dataclass
class PrivateListChange:
    added: int
    already: int
    kind: str

    def summary(self) -> str:
        label = dict(PrivateName.Kind.choices)[self.kind].lower()
        text = f"Added {plural(self.added, label)} to the private list"
        if self.already:
            text += f" ({plural(self.already, 'was', 'were')} already on it)"
        return text + "."


def add_private_names(
    *,
    study: Study,
    names: Iterable[str],
    kind: str = PrivateName.Kind.NAME,
    user: object = None,
    filename: str = "the list",
) -> PrivateListChange:
    """Add names (one per item, as lines of `filename`; blank ones are ignored) to the study's
    private list, keeping only their keyed hashes. Refuses the whole list, naming the line,
    when a name is too long."""
    if kind not in PrivateName.Kind.values:
        raise FileRejected(
            f"unknown kind {kind!r}: use name, place or organisation", filename=filename
        )
    folded: dict[str, int] = {}
    for number, raw in enumerate(names, start=1):
        name = private_key(raw)
        if not name:
            continue
        words = len(name.split())
        if words > MAX_PRIVATE_WORDS or len(name) > 200:
            raise FileRejected(
                f"a name of at most {MAX_PRIVATE_WORDS} words and 200 characters, please",
                filename=filename,
                line=number,
            )
        folded.setdefault(name, words)
    existing = study.private_names.count()
    if existing + len(folded) > MAX_PRIVATE_NAMES:
        raise FileRejected(
            f"the private list holds at most {MAX_PRIVATE_NAMES:,} names", filename=filename
        )
    digests = {_digest(study, name): words for name, words in folded.items()}
    with transaction.atomic():
        known = set(
            PrivateName.objects.filter(study=study, digest__in=digests).values_list(
                "digest", flat=True
            )
        )
        PrivateName.objects.bulk_create(
            PrivateName(study=study, digest=d, words=w, kind=kind, added_by=user)
            for d, w in digests.items()
            if d not in known
        )
        change = PrivateListChange(len(digests) - len(known), len(known), kind)
        if change.added:
            record(study, AuditEvent.Action.PRIVACY, change.summary(), user=user)
    return change


def private_name_counts(study: Study) -> dict[str, int]:
    """How many names of each kind the private list holds (all the list ever shows)."""
    counts = Counter(study.private_names.values_list("kind", flat=True))
    return {kind: counts.get(kind, 0) for kind in PrivateName.Kind.values}


def remove_private_name(study: Study, name: str, user: object = None) -> bool:
    """Take one name off the private list, found by hashing it as it was added (so the owner
    types it again); True when it was on the list."""
    folded = private_key(name)
    if not folded:
        return False
    with transaction.atomic():
        removed, _ = PrivateName.objects.filter(study=study, digest=_digest(study, folded)).delete()
        if removed:
            record(
                study, AuditEvent.Action.PRIVACY, "Removed a name from the private list", user=user
            )
    return bool(removed)


def clear_private_names(study: Study, user: object = None) -> int:
    """Empty the study's private list; returns how many names it held."""
    with transaction.atomic():
        removed, _ = PrivateName.objects.filter(study=study).delete()
        if removed:
            record(
                study,
                AuditEvent.Action.PRIVACY,
                f"Removed the whole private list ({plural(removed, 'name')})",
                user=user,
            )
    return removed


def set_keep_mapping(study: Study, keep: bool, user: object = None) -> int:
    """Turn keeping the mapping from real names to pseudonyms on or off; turning it off
    deletes the mapping kept so far (returns how many rows were deleted)."""
    if keep == study.keep_pseudonyms:
        return 0
    with transaction.atomic():
        study.keep_pseudonyms = keep
        study.save(update_fields=["keep_pseudonyms"])
        deleted = 0
        if keep:
            summary = "Turned on keeping the mapping from real names to pseudonyms"
        else:
            deleted, _ = Pseudonym.objects.filter(study=study).delete()
            summary = (
                "Turned off keeping the mapping from real names to pseudonyms and deleted "
                f"{plural(deleted, 'kept replacement')}"
            )
        record(study, AuditEvent.Action.PRIVACY, summary, user=user)
    return deleted


def _private_lookup(study: Study) -> tuple[dict[str, str], set[int]]:
    rows = PrivateName.objects.filter(study=study).values_list("digest", "kind", "words")
    kinds = {digest: kind for digest, kind, _w in rows}
    return kinds, {words for _d, _k, words in rows}


# --- Finding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A piece of personal data at text[start:end] and what would replace it."""

    start: int
    end: int
    text: str
    kind: str
    replacement: str
    source: str  # "roster", "private list", "pattern", "model"
    suggested: bool = True  # replaced unless the reviewer dismisses it (model findings: False)
    label: bool = False  # a speaker's label: always replaced, as the speaker is

    @property
    def key(self) -> str:
        return f"{self.start}-{self.end}"

    @property
    def kind_label(self) -> str:
        return KINDS[self.kind][0]


@lru_cache(maxsize=16)
def _tokenizer(language: str) -> Language:
    import spacy

    try:
        return spacy.blank(base_language(language))
    except ImportError:
        return spacy.blank("xx")


@lru_cache(maxsize=8)
def _entity_pipeline(language: str) -> Language | None:
    model = settings.COLLOQUY_SPACY_MODELS.get(base_language(language))
    if not model:
        return None
    import spacy

    nlp = spacy.load(model)
    return nlp if "ner" in nlp.pipe_names else None


def _participant_names(
    study: Study, workshop: Workshop | None
) -> dict[str, tuple[str, Participant | None]]:
    """Each participant name (an alias, as first written) and what replaces it: the
    participant's code, or [NAME] when the name is shared and the workshop does not settle
    whose it is."""
    owners: dict[str, list[Participant]] = {}
    spelling: dict[str, str] = {}
    for participant in study.participants.current():
        for alias in participant.alias_list:
            if fold(alias) and fold(alias) != fold(participant.code):
                owners.setdefault(fold(alias), []).append(participant)
                spelling.setdefault(fold(alias), alias)
    names = {}
    for folded, people in owners.items():
        name = spelling[folded]
        local = [p for p in people if workshop is not None and p.workshop_id == workshop.pk]
        one = local[0] if len(local) == 1 else people[0] if len(people) == 1 else None
        names[name] = (f"[{one.code}]" if one else "[NAME]", one)
    return names


def find_personal_data(
    study: Study,
    text: str,
    *,
    workshop: Workshop | None = None,
    language: str | None = None,
    labels: Sequence[tuple[int, int]] = (),
) -> list[Finding]:
    """Everything in `text` that looks like personal data, in text order, without overlaps
    (where two overlap, the longer wins; the earlier at equal length). `labels` are the spans
    of speaker labels in the text: a finding exactly on one is marked `label`."""
    language = language or study.language
    languages = tuple(dict.fromkeys(base_language(tag) for tag in [*study.language_list, language]))
    found: list[Finding] = []

    names = _participant_names(study, workshop)
    if names:
        found += _roster_findings(_tokenizer(language), text, names, languages)
    found += _private_findings(study, text, languages)
    found += _pattern_findings(text)
    found += _model_findings(text, language)

    label_spans = set(labels)
    chosen: list[Finding] = []
    taken_until = -1
    for finding in sorted(found, key=lambda f: (f.start, -(f.end - f.start), f.source)):
        if finding.start < taken_until:
            continue
        if (finding.start, finding.end) in label_spans:
            finding = replace(finding, label=True, suggested=True)
        chosen.append(finding)
        taken_until = finding.end
    return chosen


def _roster_findings(
    nlp: Language,
    text: str,
    names: dict[str, tuple[str, Participant | None]],
    languages: tuple[str, ...],
) -> list[Finding]:
    """The participants' names in `text`. Only the lines where a name's first letters occur
    are tokenised and matched (names are rare in a transcript; tokenising all of it is what
    costs)."""
    key = tuple(sorted(names))
    matcher = _phrase_matcher(nlp, key, languages)
    found = []
    for line_start, line_end in _candidate_lines(text, _name_prefixes(key)):
        doc = nlp.make_doc(text[line_start:line_end])
        for match_id, start, end in matcher(doc):
            span = doc[start:end]
            name = nlp.vocab.strings[match_id]
            found.append(
                Finding(
                    line_start + span.start_char,
                    line_start + span.end_char,
                    span.text,
                    PARTICIPANT,
                    names[name][0],
                    "roster",
                )
            )
    return found


@lru_cache(maxsize=64)
def _name_prefixes(names: tuple[str, ...]) -> re.Pattern[str]:
    """Where a name may start: the first three letters of each (case-insensitive), which
    every inflected form keeps."""
    prefixes = sorted({name.split()[0][:3].casefold() for name in names if name.split()})
    return re.compile("|".join(re.escape(p) for p in prefixes), re.IGNORECASE)


def _candidate_lines(text: str, prefixes: re.Pattern[str]) -> list[tuple[int, int]]:
    lines: list[tuple[int, int]] = []
    for match in prefixes.finditer(text):
        if lines and match.start() < lines[-1][1]:
            continue
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        lines.append((start, len(text) if end < 0 else end))
    return lines


@lru_cache(maxsize=64)
def _phrase_matcher(
    nlp: Language, names: tuple[str, ...], languages: tuple[str, ...]
) -> PhraseMatcher:
    """One matcher per set of names, tokenizer and study languages (a study's roster changes
    rarely, and a matcher with its patterns is the costly part): each name in its forms in
    every language the study uses, so a Finnish name in an English transcript is found too."""
    from spacy.matcher import PhraseMatcher

    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    for name in names:
        forms = set().union(*(name_forms(name, lang) for lang in languages))
        matcher.add(name, [nlp.make_doc(form) for form in sorted(forms)])
    return matcher


def _private_findings(study: Study, text: str, languages: tuple[str, ...]) -> list[Finding]:
    """The private list's names in `text`: every run of as many words as a listed name has,
    its last word in each of its possible base forms, hashed as the list was."""
    kinds, lengths = _private_lookup(study)
    if not kinds:
        return []
    # Offsets come from the text itself: case-folding may change a word's length ("ß").
    matches = list(PRIVATE_WORD_RE.finditer(text))
    folded = [m.group().casefold() for m in matches]
    looked: dict[str, str | None] = {}
    found = []
    for n in sorted(lengths, reverse=True):
        for i in range(len(folded) - n + 1):
            head = " ".join(folded[i : i + n - 1]) + " " if n > 1 else ""
            for base in _bases(folded[i + n - 1], languages):
                candidate = head + base
                kind = looked.get(candidate, "")
                if kind == "":
                    kind = looked[candidate] = kinds.get(_digest(study, candidate))
                if kind:
                    start, end = matches[i].start(), matches[i + n - 1].end()
                    replacement = KINDS[kind][1]
                    found.append(
                        Finding(start, end, text[start:end], kind, replacement, "private list")
                    )
                    break
    return found


@lru_cache(maxsize=50_000)
def _bases(word: str, languages: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(base_forms(word, lang) for lang in languages))


def _model_findings(text: str, language: str) -> list[Finding]:
    nlp = _entity_pipeline(language)
    if nlp is None:
        return []
    doc = nlp(text)
    return [
        Finding(e.start_char, e.end_char, e.text, PERSON, "[NAME]", "model", suggested=False)
        for e in doc.ents
        if e.label_ in ("PERSON", "PER")
    ]


# --- Deciding and applying --------------------------------------------------------------------


@dataclass(frozen=True)
class Decisions:
    """A reviewer's decisions: per finding key, the replacement to use ("" dismisses it); per
    kind, "accept" or "dismiss" for all its findings not decided one by one."""

    each: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)


def decide(findings: Sequence[Finding], decisions: Decisions | None = None) -> list[Finding]:
    """The findings to replace, with the replacement each gets. A speaker label is always
    replaced (the stored speaker is too). Raises ValueError naming a bad replacement."""
    decisions = decisions or Decisions()
    accepted = []
    for finding in findings:
        choice = decisions.each.get(finding.key)
        if choice is None:
            bulk = decisions.kinds.get(finding.kind)
            keep = finding.suggested if bulk is None else bulk == "accept"
            choice = finding.replacement if keep else ""
        choice = choice.strip()
        if finding.label and not choice:
            choice = finding.replacement
        if not choice:
            continue
        if len(choice) > MAX_REPLACEMENT or "\n" in choice:
            raise ValueError(
                f"the replacement for '{finding.text}' at {finding.start} must be one line of at "
                f"most {MAX_REPLACEMENT} characters"
            )
        accepted.append(replace(finding, replacement=choice))
    return accepted


@dataclass
class Replacement:
    original: str
    replacement: str
    kind: str
    count: int


@dataclass
class Pseudonymised:
    """A text after pseudonymisation: the new parsed transcript, what was found, and what
    was replaced (for the report and, where the study keeps it, the mapping)."""

    parsed: ParsedTranscript
    findings: list[Finding]
    applied: list[Finding]
    original: str = ""  # the text before: the findings' offsets point into it
    # Where an offset of the original text lands in the new one (`move(offset, end=False)`):
    # inside a replaced piece, at its start, or at its end for the end of a span.
    move: Callable[..., int] = field(default=lambda offset, end=False: offset, repr=False)

    def lines(self, filename: str) -> list[str]:
        """One line per replacement, where it was (line and column of the original text):
        'FI-1.txt:5:12: participant name 'Aino' -> [P01]'."""
        out = []
        for f in self.applied:
            line = self.original.count("\n", 0, f.start) + 1
            column = f.start - (self.original.rfind("\n", 0, f.start) + 1) + 1
            out.append(
                f"{filename}:{line}:{column}: {KINDS[f.kind][2]} {f.text!r} -> {f.replacement}"
            )
        return out

    @property
    def replacements(self) -> list[Replacement]:
        counts = Counter((f.text, f.replacement, f.kind) for f in self.applied)
        return [Replacement(o, r, k, n) for (o, r, k), n in sorted(counts.items())]

    def report(self) -> str:
        if not self.applied:
            return "no personal data replaced"
        by_kind = Counter(f.kind for f in self.applied)
        return "replaced " + ", ".join(
            plural(n, KINDS[kind][2], KINDS[kind][2] + ("es" if kind == EMAIL else "s"))
            for kind, n in sorted(by_kind.items())
        )


def label_spans(parsed: ParsedTranscript) -> list[tuple[int, int]]:
    """Where each turn's speaker label is written in the text (just before the turn), when
    it is."""
    spans = []
    previous_end = 0
    for turn in parsed.turns:
        gap = parsed.text[previous_end : turn.start]
        at = gap.rfind(turn.speaker) if turn.speaker else -1
        if at >= 0:
            start = previous_end + at
            spans.append((start, start + len(turn.speaker)))
        previous_end = turn.end
    return spans


def find_in_parsed(
    study: Study, parsed: ParsedTranscript, *, workshop: Workshop | None, language: str
) -> list[Finding]:
    return find_personal_data(
        study, parsed.text, workshop=workshop, language=language, labels=label_spans(parsed)
    )


def pseudonymise_parsed(
    study: Study,
    parsed: ParsedTranscript,
    *,
    workshop: Workshop | None,
    language: str,
    decisions: Decisions | None = None,
    speakers: Mapping[str, str] | None = None,
) -> Pseudonymised:
    """`parsed` with the accepted findings replaced. Turn offsets move onto the new text; a
    speaker label that names a participant becomes their code (`speakers`: label -> code, as
    the speaker matching found), and one that was itself replaced becomes its replacement."""
    findings = find_in_parsed(study, parsed, workshop=workshop, language=language)
    applied = decide(findings, decisions)
    text, moved = _replace(parsed.text, applied)
    relabel = {fold(f.text): f.replacement.strip("[]") for f in applied if f.label}
    relabel.update({fold(label): code for label, code in (speakers or {}).items()})
    turns = [
        ParsedTurn(
            relabel.get(fold(turn.speaker), turn.speaker),
            moved(turn.start),
            moved(turn.end, end=True),
            turn.start_ms,
            turn.end_ms,
        )
        for turn in parsed.turns
    ]
    new = ParsedTranscript(text, turns, parsed.format, parsed.encoding, list(parsed.warnings))
    return Pseudonymised(new, findings, applied, parsed.text, moved)


def pseudonymise_text(
    study: Study, text: str, *, language: str, workshop: Workshop | None = None
) -> Pseudonymised:
    """A text without turns (a survey answer, a note) with every suggested finding replaced."""
    parsed = ParsedTranscript(text, [], "text", "utf-8")
    return pseudonymise_parsed(study, parsed, workshop=workshop, language=language)


def _replace(text: str, applied: Sequence[Finding]) -> tuple[str, Callable[..., int]]:
    """The text with `applied` (sorted, not overlapping) replaced, and a function moving an
    old offset onto the new text (an offset inside a replaced span goes to its start, or to
    its end for the end of a span)."""
    pieces: list[str] = []
    anchors: list[tuple[int, int, int, int]] = []  # old start, old end, new start, new end
    at = 0
    length = 0
    for f in applied:
        pieces.append(text[at : f.start])
        length += f.start - at
        anchors.append((f.start, f.end, length, length + len(f.replacement)))
        pieces.append(f.replacement)
        length += len(f.replacement)
        at = f.end
    pieces.append(text[at:])

    starts = [a[0] for a in anchors]

    def moved(offset: int, end: bool = False) -> int:
        i = bisect.bisect_left(starts, offset) - 1  # the last replaced span starting before it
        if i < 0:
            return offset
        _old_start, old_end, new_start, new_end = anchors[i]
        if offset < old_end:
            return new_end if end else new_start
        return offset + new_end - old_end

    return "".join(pieces), moved


def keep_mapping(
    study: Study,
    result: Pseudonymised,
    *,
    document: object | None = None,
    where: str = "",
    user: object = None,
) -> int:
    """Store what each pseudonym replaced, only when the study keeps the mapping; returns how
    many rows were kept."""
    if not study.keep_pseudonyms or not result.applied:
        return 0
    rows = [
        Pseudonym(
            study=study,
            document=document,
            where=where[:200],
            kind=r.kind,
            original=r.original[:500],
            replacement=r.replacement,
            count=r.count,
            created_by=user if getattr(user, "pk", None) else None,
        )
        for r in result.replacements
    ]
    Pseudonym.objects.bulk_create(rows)
    return len(rows)
