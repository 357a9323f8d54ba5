"""SubRip (.srt) subtitles, read with the srt package; speakers and merging follow .vtt."""

from __future__ import annotations

from datetime import timedelta

import srt

from . import FileRejected, ParsedTranscript
from .encoding import decode_text
from .vtt import Cue, build_caption_transcript

_EXPECTED = (
    "expected a number, then a timing line like '00:00:01,000 --> 00:00:04,000', then the text"
)


def parse_srt(data: bytes, filename: str) -> ParsedTranscript:
    text, encoding = decode_text(data, filename)
    try:
        subtitles = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise _parse_error(text, exc, filename) from None
    except ValueError as exc:  # a timestamp the srt package matched but could not convert
        raise FileRejected(
            f"has a subtitle timing that cannot be read ({exc})", filename=filename
        ) from None

    cues = [
        Cue(
            start_ms=_ms(subtitle.start),
            end_ms=_ms(subtitle.end),
            lines=subtitle.content.split("\n"),
        )
        for subtitle in subtitles
    ]
    # SRT has no character references: "&amp;" in a subtitle is what the person typed.
    return build_caption_transcript(
        cues, filename=filename, file_format="srt", encoding=encoding, entities=False
    )


def _ms(value: timedelta) -> int:
    return value // timedelta(milliseconds=1)


def _parse_error(text: str, exc: srt.SRTParseError, filename: str) -> FileRejected:
    """Point at the first line the srt package could not fit into a subtitle block."""
    candidates: list[tuple[int, str]] = []  # (offset in text, line) of the unmatched lines
    offset = exc.expected_start
    for piece in exc.unmatched_content.split("\n"):
        if piece.strip():
            candidates.append((offset, piece.strip()))
        offset += len(piece) + 1
    if not candidates:  # cannot happen for a real parse error; keep the message useful anyway
        return FileRejected(f"is not a SubRip file ({_EXPECTED})", filename=filename)
    position, culprit = candidates[0]
    # A block number is rarely the problem: the timing line after it is.
    if culprit.isdigit() and len(candidates) > 1:
        position, culprit = candidates[1]
    line = text.count("\n", 0, position) + 1
    if "->" in culprit:
        reason = f"'{culprit[:60]}' is not a subtitle timing line ({_EXPECTED})"
    else:
        reason = f"'{culprit[:60]}' is not part of a subtitle ({_EXPECTED})"
    return FileRejected(reason, filename=filename, line=line)
