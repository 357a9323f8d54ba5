"""WebVTT (.vtt) captions, and the cue-to-turn rules shared with .srt.

Captions split speech into cues of a few seconds; a reader wants turns. Consecutive cues of one
speaker become one turn, and the text is rebuilt as "Speaker: words" paragraphs so that it reads
like any other transcript. The parser is our own rather than webvtt-py's because a rejected file
must name the offending line, which webvtt-py does not report.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from . import FileRejected, ParsedTranscript, ParsedTurn
from .encoding import decode_text
from .txt import LABEL, MAX_LABEL_CHARS, collapse

UNKNOWN_SPEAKER = "Unknown"
NO_SPEAKERS_WARNING = (
    f"No speaker names found in the cues: the whole text is one turn by '{UNKNOWN_SPEAKER}'."
)

_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_IGNORED_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")
_TIMING = re.compile(r"(?P<start>\S+)[ \t]+-->[ \t]+(?P<end>\S+)(?:[ \t]+.*)?")
# Hours take two digits in the standard; one is unambiguous, so it is accepted too.
_TIMESTAMP = re.compile(r"(?:(?P<h>\d+):)?(?P<m>[0-5]\d):(?P<s>[0-5]\d)\.(?P<ms>\d{3})")

# <v Anna>, <v.loud Anna>; the annotation after the tag name is the speaker.
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?(?:[ \t]+(?P<name>[^>]*))?>")
_TAG = re.compile(r"<[^>]*>")
# Subtitle editors leave ASS override codes such as {\an8} in .srt files.
_OVERRIDE = re.compile(r"\{\\[^}]*\}")
_NAME_PREFIX = re.compile(rf"(?P<name>{LABEL})[ \t]*:(?:[ \t]+|$)")
# "- Are you coming?" / "- Yes.": caption dashes mark a change of voice without naming it.
_DIALOGUE_DASH = re.compile(r"[-\u2010\u2013\u2014](?:[ \t]+|$)")


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    lines: list[str]


@dataclass(frozen=True)
class _Piece:
    speaker: str | None
    words: str
    start_ms: int
    end_ms: int


def parse_vtt(data: bytes, filename: str) -> ParsedTranscript:
    text, encoding = decode_text(data, filename)
    cues = list(_read_cues(text.split("\n"), filename))
    return build_caption_transcript(
        cues, filename=filename, file_format="vtt", encoding=encoding, entities=True
    )


def _read_cues(lines: list[str], filename: str) -> Iterable[Cue]:
    if not _HEADER.fullmatch(lines[0]):
        shown = lines[0].strip()[:40]
        raise FileRejected(
            f"the first line must be 'WEBVTT', found '{shown}': this is not a WebVTT file",
            filename=filename,
            line=1,
        )
    index = 1
    # Header lines ("Kind: captions", "Language: de") run up to the first blank line; some tools
    # forget that blank line, so a timing line also ends the header.
    while index < len(lines) and lines[index].strip() and "-->" not in lines[index]:
        index += 1

    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        first = index
        while index < len(lines) and lines[index].strip():
            index += 1
        block = lines[first:index]
        if _IGNORED_BLOCK.fullmatch(block[0]):
            continue
        yield _read_cue(block, first + 1, filename)


def _read_cue(block: list[str], first_line: int, filename: str) -> Cue:
    if "-->" in block[0]:
        timing_at = 0
    elif len(block) > 1 and "-->" in block[1]:
        timing_at = 1  # the first line is the cue's identifier
    else:
        at = 1 if len(block) > 1 else 0
        raise FileRejected(
            f"'{block[at].strip()[:60]}' is not a cue timing line "
            "(expected e.g. '00:00:01.000 --> 00:00:04.000')",
            filename=filename,
            line=first_line + at,
        )
    line_number = first_line + timing_at
    timing = _TIMING.fullmatch(block[timing_at].strip())
    if timing is None:
        raise FileRejected(
            f"'{block[timing_at].strip()[:60]}' is not a cue timing line "
            "(expected e.g. '00:00:01.000 --> 00:00:04.000')",
            filename=filename,
            line=line_number,
        )
    start_ms = _timestamp_ms(timing["start"], filename, line_number)
    end_ms = _timestamp_ms(timing["end"], filename, line_number)
    if end_ms < start_ms:
        raise FileRejected(
            f"the cue ends ({timing['end']}) before it starts ({timing['start']})",
            filename=filename,
            line=line_number,
        )
    return Cue(start_ms=start_ms, end_ms=end_ms, lines=block[timing_at + 1 :])


def _timestamp_ms(stamp: str, filename: str, line: int) -> int:
    match = _TIMESTAMP.fullmatch(stamp)
    if match is None:
        raise FileRejected(
            f"cue timing '{stamp}' is not a WebVTT timestamp (expected hh:mm:ss.ttt or mm:ss.ttt)",
            filename=filename,
            line=line,
        )
    hours = int(match["h"] or 0)
    return ((hours * 60 + int(match["m"])) * 60 + int(match["s"])) * 1000 + int(match["ms"])


def _clean(markup: str, *, entities: bool) -> str:
    text = _TAG.sub("", _OVERRIDE.sub("", markup))
    if entities:
        text = html.unescape(text)
    # Collapsing also turns no-break spaces (&nbsp;) into plain spaces.
    return " ".join(text.split())


def _without_dash(text: str) -> str:
    match = _DIALOGUE_DASH.match(text)
    return text[match.end() :] if match else text


def _speaker_name(raw: str | None) -> str | None:
    if raw is None:
        return None
    name = collapse(html.unescape(raw))
    return name or None


def _pieces(cue: Cue, *, entities: bool) -> list[_Piece]:
    """Split one cue into who-said-what; most cues hold one speaker, some hold a short exchange."""
    # Each entry is a speaker (None when the cue does not say) and their cleaned words.
    found: list[tuple[str | None, list[str]]] = []
    markup = " ".join(cue.lines)
    if _VOICE.search(markup):
        # <v Anna>Hello</v> <v Ben>Hi</v>: each voice tag starts a new speaker's words.
        position = 0
        speaker: str | None = None
        for match in _VOICE.finditer(markup):
            found.append((speaker, [_clean(markup[position : match.start()], entities=entities)]))
            speaker = _speaker_name(match["name"])
            position = match.end()
        found.append((speaker, [_clean(markup[position:], entities=entities)]))
    else:
        # "Anna: Hello" prefixes, possibly one per line of the cue.
        for raw_line in cue.lines:
            line = _without_dash(_clean(raw_line, entities=entities))
            prefix = _NAME_PREFIX.match(line)
            if prefix and len(collapse(prefix["name"])) <= MAX_LABEL_CHARS:
                found.append((collapse(prefix["name"]), [line[prefix.end() :]]))
            elif found:
                found[-1][1].append(line)
            else:
                found.append((None, [line]))

    pieces = []
    for speaker, parts in found:
        words = _without_dash(" ".join(" ".join(parts).split()))
        if words:
            pieces.append(_Piece(speaker, words, cue.start_ms, cue.end_ms))
    return pieces


def build_caption_transcript(
    cues: Iterable[Cue],
    *,
    filename: str,
    file_format: str,
    encoding: str | None,
    entities: bool,
) -> ParsedTranscript:
    """Merge cues into turns and write the text as "Speaker: words" paragraphs."""
    merged: list[tuple[str, list[str], int, int]] = []
    any_speaker = False
    for cue in cues:
        for piece in _pieces(cue, entities=entities):
            any_speaker = any_speaker or piece.speaker is not None
            if merged and piece.speaker in (None, merged[-1][0]):
                speaker, words, start_ms, _ = merged[-1]
                merged[-1] = (speaker, [*words, piece.words], start_ms, piece.end_ms)
            else:
                speaker = piece.speaker or UNKNOWN_SPEAKER
                merged.append((speaker, [piece.words], piece.start_ms, piece.end_ms))

    if not merged:
        what = "cues" if file_format == "vtt" else "subtitles"
        raise FileRejected(f"contains no {what} with text", filename=filename)

    paragraphs: list[str] = []
    turns: list[ParsedTurn] = []
    offset = 0
    for speaker, words, start_ms, end_ms in merged:
        label = unicodedata.normalize("NFC", speaker)
        utterance = unicodedata.normalize("NFC", " ".join(words))
        start = offset + len(label) + 2
        turns.append(ParsedTurn(label, start, start + len(utterance), start_ms, end_ms))
        paragraph = f"{label}: {utterance}"
        paragraphs.append(paragraph)
        offset += len(paragraph) + 2
    warnings = [] if any_speaker else [NO_SPEAKERS_WARNING]
    return ParsedTranscript(
        text="\n\n".join(paragraphs),
        turns=turns,
        format=file_format,
        encoding=encoding,
        warnings=warnings,
    )
