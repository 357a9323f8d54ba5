"""Plain-text (.txt) and Markdown (.md) transcripts, and the speaker-label rules shared with .docx.

The document text is the decoded file exactly as written: turns only point into it. That keeps
the text the researcher sees identical to the file they typed, timestamps and all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from . import ParsedTranscript, ParsedTurn
from .encoding import decode_text

MAX_LABEL_CHARS = 40
_LABEL_WINDOW = 200
NO_LABELS_WARNING = "No speaker labels found: the text is imported as one block without turns."

# A label is 1 to 4 words of letters, digits, dots, hyphens and apostrophes, each word starting
# with a letter or digit ("Anna", "Dr. Smith", "P07", "Participant 3", "Jean-Luc O'Neill").
_WORD = r"[^\W_](?:[^\W_]|['\u2019.\-])*"
LABEL = rf"{_WORD}(?:[ \t]+{_WORD}){{0,3}}"
_LABEL_RE = re.compile(LABEL)

# [00:01:23], 00:01:23, (01:23), 1:02:03.450 ...
_TIME = r"\d{1,2}(?::\d{1,2}){1,2}(?:[.,]\d{1,3})?"
_STAMP = rf"[\[(]?(?P<stamp>{_TIME})[\])]?"
_STAMP_RE = re.compile(_STAMP)

# Bracketed transcription notes that begin many lines but are not speakers.
_ANNOTATIONS = frozenset(
    {
        "applause",
        "background noise",
        "cough",
        "coughs",
        "crosstalk",
        "inaudible",
        "indistinct",
        "laughing",
        "laughs",
        "laughter",
        "long pause",
        "music",
        "noise",
        "overlapping",
        "pause",
        "silence",
        "sighs",
        "unclear",
        "unintelligible",
    }
)

_PLAIN_FORMS = (
    # [Label] utterance, [Label]: utterance
    rf"\[(?P<bracket>{LABEL})\](?P<bracket_colon>[ \t]*:)?(?=\s|$)",
    # Label: utterance, and the "Label (01:23):" shape that transcription services write
    rf"(?P<plain>{LABEL})(?:[ \t]+[\[(](?P<late_stamp>{_TIME})[\])])?[ \t]*:(?=\s|$)",
)
_MARKDOWN_FORMS = (
    # **Label:** utterance
    rf"\*\*(?P<bold_in>{LABEL})[ \t]*:\*\*",
    # **Label**: utterance
    rf"\*\*(?P<bold_out>{LABEL})\*\*[ \t]*:(?=\s|$)",
)


def _line_pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(rf"[ \t]*(?:{_STAMP}[ \t]+)?(?:{'|'.join(forms)})")


_PLAIN_LINE = _line_pattern(_PLAIN_FORMS)
_MARKDOWN_LINE = _line_pattern(_MARKDOWN_FORMS + _PLAIN_FORMS)
_MARKDOWN_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")


@dataclass(frozen=True)
class TurnStart:
    """A line that opens a turn: who speaks, and where in the line their words begin."""

    speaker: str
    utterance_at: int
    start_ms: int | None = None


@dataclass(frozen=True)
class Line:
    """One line (or .docx paragraph) of a document, placed in the document's text."""

    offset: int
    text: str
    where: str  # "line 12", "paragraph 12": for warnings
    turn_start: TurnStart | None = None
    heading: bool = False


def collapse(label: str) -> str:
    return " ".join(label.split())


def is_label(candidate: str) -> bool:
    """Whether a piece of text (e.g. bold leading text in Word) qualifies as a speaker label."""
    label = collapse(candidate)
    return bool(label) and len(label) <= MAX_LABEL_CHARS and _LABEL_RE.fullmatch(label) is not None


def stamp_to_ms(stamp: str) -> int:
    whole, _, fraction = stamp.replace(",", ".").partition(".")
    seconds = 0
    for part in whole.split(":"):
        seconds = seconds * 60 + int(part)
    milliseconds = int(fraction.ljust(3, "0")) if fraction else 0
    return seconds * 1000 + milliseconds


def parse_stamp(text: str) -> int | None:
    """The time in ms of a text that is only a timestamp ("00:01:23", "[01:23]"), else None."""
    match = _STAMP_RE.fullmatch(text.strip())
    return stamp_to_ms(match["stamp"]) if match else None


def match_turn_start(line: str, *, markdown: bool = False) -> TurnStart | None:
    """Recognise a speaker label at the start of a line, or return None."""
    pattern = _MARKDOWN_LINE if markdown else _PLAIN_LINE
    # A label and its markup fit in the first few dozen characters; looking only there keeps a
    # megabyte-long line without newlines from costing the regex engine its whole length.
    match = pattern.match(line[:_LABEL_WINDOW])
    if match is not None and match.end() >= _LABEL_WINDOW - 1:
        match = pattern.match(line)  # the window cut the line too close to tell
    if match is None:
        return None
    groups = match.groupdict()
    raw_label = next(
        groups[name]
        for name in ("bold_in", "bold_out", "bracket", "plain")
        if groups.get(name) is not None
    )
    label = collapse(raw_label)
    if len(label) > MAX_LABEL_CHARS:
        return None
    if (
        groups.get("bracket") is not None
        and groups.get("bracket_colon") is None
        and label.casefold() in _ANNOTATIONS
    ):
        return None
    stamp = groups.get("stamp") or groups.get("late_stamp")
    return TurnStart(
        speaker=label,
        utterance_at=match.end(),
        start_ms=stamp_to_ms(stamp) if stamp else None,
    )


def split_lines(text: str) -> Iterable[tuple[int, int, str]]:
    """Yield (line number from 1, offset, line) for each line of a "\\n"-separated text."""
    offset = 0
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, offset, line
        offset += len(line) + 1


class _OpenTurn:
    def __init__(self, start: TurnStart, where: str) -> None:
        self.speaker = start.speaker
        self.start_ms = start.start_ms
        self.where = where
        self.start: int | None = None
        self.end: int | None = None

    def extend(self, offset: int, text: str) -> None:
        """Add words that sit at text[...] beginning at offset, if there are any."""
        stripped = text.strip()
        if not stripped:
            return
        if self.start is None:
            self.start = offset + len(text) - len(text.lstrip())
        self.end = offset + len(text.rstrip())


def assemble_turns(lines: Iterable[Line]) -> tuple[list[ParsedTurn], list[str]]:
    """Group lines into turns: a labelled line opens one, unlabelled lines continue it.

    Blank lines do not end a turn (people leave blank lines inside long answers); a heading or
    the next label does. Lines before the first label belong to no turn.
    """
    turns: list[ParsedTurn] = []
    warnings: list[str] = []
    current: _OpenTurn | None = None

    def close() -> None:
        if current is None:
            return
        if current.start is None or current.end is None:
            warnings.append(
                f"{current.where.capitalize()}: the label '{current.speaker}' has no words "
                "after it, so it was left out of the turns."
            )
            return
        turns.append(
            ParsedTurn(
                speaker=current.speaker,
                start=current.start,
                end=current.end,
                start_ms=current.start_ms,
            )
        )

    for line in lines:
        if line.heading:
            close()
            current = None
        elif line.turn_start is not None:
            close()
            current = _OpenTurn(line.turn_start, line.where)
            at = line.turn_start.utterance_at
            current.extend(line.offset + at, line.text[at:])
        elif current is not None:
            current.extend(line.offset, line.text)
    close()
    return turns, warnings


def parse_text_transcript(data: bytes, filename: str, *, markdown: bool) -> ParsedTranscript:
    text, encoding = decode_text(data, filename)
    lines = []
    found_label = False
    for number, offset, line in split_lines(text):
        heading = markdown and _MARKDOWN_HEADING.match(line) is not None
        start = None if heading else match_turn_start(line, markdown=markdown)
        found_label = found_label or start is not None
        lines.append(Line(offset, line, f"line {number}", turn_start=start, heading=heading))

    turns, warnings = assemble_turns(lines)
    if not found_label:
        warnings.append(NO_LABELS_WARNING)
    return ParsedTranscript(
        text=text,
        turns=turns,
        format="md" if markdown else "txt",
        encoding=encoding,
        warnings=warnings,
    )
