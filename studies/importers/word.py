"""Word (.docx) transcripts.

The text is the paragraphs' text joined by "\\n", in document order, tables included. Speakers are
found the way people type them in Word: "Anna: ..." as in plain text, a bold name at the start of
the paragraph, or a two-column table of speaker and words.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import docx
from docx.document import Document as WordDocument
from docx.table import Table as WordTable
from docx.table import _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from . import FileRejected, ParsedTranscript
from .encoding import normalise
from .txt import (
    NO_LABELS_WARNING,
    Line,
    TurnStart,
    assemble_turns,
    collapse,
    is_label,
    match_turn_start,
    parse_stamp,
)
from .zipsafety import check_zip_package

KIND = "a Word .docx document"

# First rows of transcript tables that name the columns rather than hold a turn.
_SPEAKER_HEADERS = frozenset(
    {"speaker", "name", "who", "person", "participant", "sprecher", "puhuja", "henkilö"}
)
_TIME_HEADERS = frozenset({"time", "timestamp", "start", "zeit", "aika"})


@dataclass(frozen=True)
class _Block:
    """A paragraph's worth of text before it is placed in the document."""

    text: str
    turn_start: TurnStart | None = None
    heading: bool = False


def parse_docx(
    data: bytes, filename: str, *, max_unzipped_bytes: int, max_ratio: int
) -> ParsedTranscript:
    check_zip_package(
        data,
        filename,
        kind=KIND,
        required_part="word/document.xml",
        max_unzipped_bytes=max_unzipped_bytes,
        max_ratio=max_ratio,
    )
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_document_blocks(document))
    except Exception as exc:  # python-docx raises many kinds on a damaged package
        raise FileRejected(
            f"is not a readable Word .docx document ({exc})", filename=filename
        ) from exc

    if not any(block.text.strip() for block in blocks):
        raise FileRejected("contains no text", filename=filename)

    lines = []
    offset = 0
    for number, block in enumerate(blocks, start=1):
        lines.append(
            Line(
                offset,
                block.text,
                f"paragraph {number}",
                turn_start=block.turn_start,
                heading=block.heading,
            )
        )
        offset += len(block.text) + 1
    text = "\n".join(block.text for block in blocks)
    turns, warnings = assemble_turns(lines)
    if not any(block.turn_start for block in blocks):
        warnings.append(NO_LABELS_WARNING)
    return ParsedTranscript(text=text, turns=turns, format="docx", encoding=None, warnings=warnings)


def _document_blocks(document: WordDocument) -> Iterator[_Block]:
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            yield _paragraph_block(item)
        elif isinstance(item, WordTable):
            yield from _table_blocks(item)


def _paragraph_block(paragraph: Paragraph) -> _Block:
    raw = paragraph.text
    text = _clean(raw)
    style_name = paragraph.style.name if paragraph.style is not None else ""
    if style_name.startswith(("Heading", "Title")):
        return _Block(text, heading=True)
    start = match_turn_start(text) or _bold_label(paragraph, raw, text)
    return _Block(text, turn_start=start)


def _clean(raw: str) -> str:
    # Word's soft line breaks arrive as "\n" and may sit inside a paragraph; the document text keeps
    # them, normalised like every other text.
    return normalise(raw)


def _bold_label(paragraph: Paragraph, raw: str, text: str) -> TurnStart | None:
    """A paragraph whose leading text is bold ("**Anna** I think..."): the bold is the label."""
    bold = []
    for item in paragraph.iter_inner_content():
        if not isinstance(item, Run):
            break  # a hyperlink is never a speaker label
        if not item.text.strip():
            bold.append(item.text)  # spacing runs carry no meaning, whatever their formatting
        elif _is_bold(item):
            bold.append(item.text)
        else:
            break
    prefix = "".join(bold)
    if not prefix.strip() or not raw.startswith(prefix):
        return None

    after = len(prefix)
    label = prefix.strip()
    if label.endswith(":"):
        label = label[:-1]
    else:
        rest = raw[after:]
        if rest.lstrip().startswith(":"):
            after += len(rest) - len(rest.lstrip()) + 1
        elif not rest.strip():
            # A wholly bold paragraph without a colon reads as a heading, not a speaker.
            return None
    if not is_label(label):
        return None

    # Offsets were found in the raw text; carry them over to the normalised one.
    head = unicodedata.normalize("NFC", raw[:after])
    if not text.startswith(head):
        return None
    return TurnStart(speaker=collapse(label), utterance_at=len(head))


def _is_bold(run: Run) -> bool:
    if run.bold is not None:
        return run.bold
    # Bold may come from a character style such as "Strong" rather than direct formatting.
    style = run.style
    return bool(style is not None and style.font.bold)


def _table_blocks(table: WordTable) -> Iterator[_Block]:
    for row_number, row in enumerate(table.rows):
        cells = _distinct(row.cells)
        texts = [_clean(cell.text) for cell in cells]
        if row_number == 0 and _is_header_row(texts):
            yield _Block("\t".join(texts))
            continue
        if len(cells) == 2:
            yield _turn_row(texts[0], texts[1], None)
        elif len(cells) == 3 and (stamp := parse_stamp(texts[0])) is not None:
            yield _turn_row(texts[1], texts[2], stamp)
        else:
            # Not a transcript table: read its paragraphs like any others.
            for cell in cells:
                for paragraph in cell.paragraphs:
                    yield _paragraph_block(paragraph)


def _distinct(cells: tuple[_Cell, ...]) -> list[_Cell]:
    # A cell spanning several grid columns is repeated once per column.
    distinct: list[_Cell] = []
    for cell in cells:
        if not distinct or cell is not distinct[-1]:
            distinct.append(cell)
    return distinct


def _is_header_row(texts: list[str]) -> bool:
    folded = [text.strip().rstrip(":").casefold() for text in texts]
    if len(folded) == 2:
        return folded[0] in _SPEAKER_HEADERS
    if len(folded) == 3:
        return folded[0] in _TIME_HEADERS and folded[1] in _SPEAKER_HEADERS
    return False


def _turn_row(speaker_cell: str, words: str, start_ms: int | None) -> _Block:
    speaker = collapse(speaker_cell).removesuffix(":").strip()
    words = words.strip()
    if not speaker:
        # An empty speaker cell continues the previous speaker's turn.
        return _Block(words)
    line = f"{speaker}: {words}"
    return _Block(line, turn_start=TurnStart(speaker, len(speaker) + 2, start_ms))
