"""Turn uploaded files into plain Python values: transcripts with speaker turns, and tables.

Nothing here touches the database or Django settings, so the parsers can be tested, benchmarked
and reused (management commands, the web upload, REFI-QDA import) on bytes alone. Limits arrive as
keyword arguments; the service layer decides their values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

# Spreadsheet users think in rows, not lines; the message follows the file's kind.
_TABLE_EXTENSIONS = (".csv", ".tsv", ".xlsx", ".xlsm", ".xls", ".ods")


@dataclass(frozen=True)
class ParsedTurn:
    speaker: str
    start: int
    end: int
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class ParsedTranscript:
    text: str
    turns: list[ParsedTurn]
    format: str
    encoding: str | None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TableRow:
    number: int
    values: dict[str, str]


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[TableRow]


class FileRejected(Exception):
    """A file that cannot be imported.

    str(exc) is one line naming the file (and line or row when known) and the reason, ready to show
    to the person who uploaded it: "notes.vtt, line 12: cue timing '00:01' is not a WebVTT
    timestamp" or "roster.csv, row 7, column 'country': ...".
    """

    def __init__(
        self,
        reason: str,
        *,
        filename: str,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.reason = reason
        self.filename = filename
        self.line = line
        self.column = column
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [self.filename]
        if self.line is not None:
            is_table = PurePath(self.filename).suffix.lower() in _TABLE_EXTENSIONS
            parts.append(f"{'row' if is_table else 'line'} {self.line}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        # The reason may quote user text; keep the message on one line whatever it holds.
        reason = " ".join(self.reason.split())
        return f"{', '.join(parts)}: {reason}"

    def __str__(self) -> str:
        return self._message()


SUPPORTED_TRANSCRIPT_EXTENSIONS = (".txt", ".md", ".docx", ".vtt", ".srt")
SUPPORTED_TABLE_EXTENSIONS = (".csv", ".xlsx")

DEFAULT_MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_RATIO = 100


def extension_of(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def unsupported(filename: str, supported: tuple[str, ...]) -> FileRejected:
    ext = extension_of(filename)
    listed = ", ".join(supported[:-1]) + " or " + supported[-1]
    what = f"'{ext}'" if ext else "(the name has no extension)"
    return FileRejected(f"unsupported file type {what}: use {listed}", filename=filename)


def parse_transcript(
    data: bytes,
    filename: str,
    *,
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES,
    max_ratio: int = DEFAULT_MAX_RATIO,
) -> ParsedTranscript:
    """Parse a transcript in any supported format, chosen by the file's extension."""
    ext = extension_of(filename)
    if ext in (".txt", ".md"):
        return txt.parse_text_transcript(data, filename, markdown=ext == ".md")
    if ext == ".docx":
        from . import word  # python-docx (and lxml) only when a Word file is read

        return word.parse_docx(
            data, filename, max_unzipped_bytes=max_unzipped_bytes, max_ratio=max_ratio
        )
    if ext == ".vtt":
        return vtt.parse_vtt(data, filename)
    if ext == ".srt":
        return srt.parse_srt(data, filename)
    raise unsupported(filename, SUPPORTED_TRANSCRIPT_EXTENSIONS)


# The format modules import the types above from this package, so they can only be imported once
# those exist.
from . import srt, txt, vtt  # noqa: E402
from .encoding import decode_text  # noqa: E402
from .tables import read_table  # noqa: E402

__all__ = [
    "SUPPORTED_TABLE_EXTENSIONS",
    "SUPPORTED_TRANSCRIPT_EXTENSIONS",
    "FileRejected",
    "ParsedTranscript",
    "ParsedTurn",
    "Table",
    "TableRow",
    "decode_text",
    "parse_transcript",
    "read_table",
]
