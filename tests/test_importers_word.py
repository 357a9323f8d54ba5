"""Word (.docx) transcripts, and the zip checks that guard .docx and .xlsx files."""

from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from docx.shared import Pt

from studies.importers import FileRejected, ParsedTranscript, parse_transcript

NO_LABELS = "No speaker labels found: the text is imported as one block without turns."


def said(parsed: ParsedTranscript) -> list[tuple[str, str]]:
    return [(turn.speaker, parsed.text[turn.start : turn.end]) for turn in parsed.turns]


def rejection(data: bytes, filename: str, **limits: int) -> str:
    with pytest.raises(FileRejected) as caught:
        parse_transcript(data, filename, **limits)
    return str(caught.value)


def saved(document: docx.document.Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def bold_led(document: docx.document.Document, *runs: tuple[str, bool]) -> None:
    """Add a paragraph made of (text, bold) runs."""
    paragraph = document.add_paragraph()
    for text, bold in runs:
        paragraph.add_run(text).bold = bold


def test_it_reads_colon_labels_in_paragraphs() -> None:
    document = docx.Document()
    document.add_paragraph("Workshop GB-1, London")
    document.add_paragraph("Facilitator: What makes a decision fair?")
    document.add_paragraph("P12: That I can talk to someone.")
    document.add_paragraph("And that they listen.")

    parsed = parse_transcript(saved(document), "gb1.docx")

    assert parsed.text == (
        "Workshop GB-1, London\n"
        "Facilitator: What makes a decision fair?\n"
        "P12: That I can talk to someone.\n"
        "And that they listen."
    )
    assert said(parsed) == [
        ("Facilitator", "What makes a decision fair?"),
        ("P12", "That I can talk to someone.\nAnd that they listen."),
    ]
    assert parsed.format == "docx"
    assert parsed.encoding is None
    assert parsed.warnings == []


def test_it_reads_bold_leading_text_as_the_speaker() -> None:
    document = docx.Document()
    bold_led(document, ("Anna:", True), (" The bank never explained it.", False))
    bold_led(document, ("Ben", True), (": Did you ask?", False))
    bold_led(document, ("Dr. Smith", True), (" Nobody asks.", False))
    bold_led(document, ("Anna", True), (" ", False), ("Müller:", True), (" Ich schon.", False))
    document.add_paragraph("An ordinary continuation with a ").add_run("bold").bold = True

    parsed = parse_transcript(saved(document), "de.docx")

    assert said(parsed) == [
        ("Anna", "The bank never explained it."),
        ("Ben", "Did you ask?"),
        ("Dr. Smith", "Nobody asks."),
        ("Anna Müller", "Ich schon.\nAn ordinary continuation with a bold"),
    ]


def test_it_reads_bold_from_a_character_style() -> None:
    document = docx.Document()
    paragraph = document.add_paragraph()
    paragraph.add_run("Moderator:", style="Strong")
    paragraph.add_run(" Willkommen.")

    parsed = parse_transcript(saved(document), "de.docx")

    assert said(parsed) == [("Moderator", "Willkommen.")]


def test_it_does_not_take_a_wholly_bold_paragraph_for_a_speaker() -> None:
    document = docx.Document()
    bold_led(document, ("Part one", True))
    document.add_paragraph("Anna: Hello.")
    bold_led(document, ("Not a label at all because it is long", True), (" text", False))

    parsed = parse_transcript(saved(document), "w.docx")

    assert said(parsed) == [
        ("Anna", "Hello.\nNot a label at all because it is long text"),
    ]


def test_it_starts_the_turn_on_the_next_paragraph_after_a_bare_label() -> None:
    document = docx.Document()
    bold_led(document, ("Anna:", True))
    document.add_paragraph("")
    document.add_paragraph("I was not sure.")

    parsed = parse_transcript(saved(document), "w.docx")

    assert said(parsed) == [("Anna", "I was not sure.")]


def test_it_ends_a_turn_at_a_heading() -> None:
    document = docx.Document()
    document.add_paragraph("Anna: Hello.")
    document.add_heading("Second session", level=2)
    document.add_paragraph("Nobody's words.")
    document.add_paragraph("Ben: Back again.")

    parsed = parse_transcript(saved(document), "w.docx")

    assert parsed.text == "Anna: Hello.\nSecond session\nNobody's words.\nBen: Back again."
    assert said(parsed) == [("Anna", "Hello."), ("Ben", "Back again.")]


def test_it_reads_a_two_column_table_of_speakers_and_words() -> None:
    document = docx.Document()
    document.add_paragraph("Interview US-3")
    table = document.add_table(rows=0, cols=2)
    for speaker, words in [
        ("Speaker", "Text"),
        ("Interviewer", "Should a judge be able to bend the rules?"),
        ("P41", "Sometimes.\nWhen it is obvious."),
        ("", "Like with my cousin."),
        ("Interviewer:", "Go on."),
    ]:
        cells = table.add_row().cells
        cells[0].text = speaker
        cells[1].text = words
    document.add_paragraph("End of recording")

    parsed = parse_transcript(saved(document), "us3.docx")

    assert parsed.text == (
        "Interview US-3\n"
        "Speaker\tText\n"
        "Interviewer: Should a judge be able to bend the rules?\n"
        "P41: Sometimes.\nWhen it is obvious.\n"
        "Like with my cousin.\n"
        "Interviewer: Go on.\n"
        "End of recording"
    )
    assert said(parsed) == [
        ("Interviewer", "Should a judge be able to bend the rules?"),
        ("P41", "Sometimes.\nWhen it is obvious.\nLike with my cousin."),
        ("Interviewer", "Go on.\nEnd of recording"),
    ]


def test_it_reads_a_table_with_a_time_column() -> None:
    document = docx.Document()
    table = document.add_table(rows=0, cols=3)
    for row in [("00:00:04", "Anna", "Hei."), ("00:01:10", "Ben", "Moi.")]:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value

    parsed = parse_transcript(saved(document), "fi.docx")

    assert parsed.text == "Anna: Hei.\nBen: Moi."
    assert said(parsed) == [("Anna", "Hei."), ("Ben", "Moi.")]
    assert [turn.start_ms for turn in parsed.turns] == [4_000, 70_000]


def test_it_warns_when_a_document_has_no_speakers() -> None:
    document = docx.Document()
    document.add_paragraph("Just some notes.")
    document.add_paragraph("More notes.").runs[0].font.size = Pt(14)

    parsed = parse_transcript(saved(document), "notes.docx")

    assert parsed.text == "Just some notes.\nMore notes."
    assert parsed.turns == []
    assert parsed.warnings == [NO_LABELS]


def test_it_normalises_word_text_to_nfc() -> None:
    document = docx.Document()
    bold_led(document, ("Zoe\u0308:", True), (" Pa\u0308a\u0308to\u0308s.", False))

    parsed = parse_transcript(saved(document), "fi.docx")

    assert said(parsed) == [("Zoë", "Päätös.")]
    assert parsed.text == "Zoë: Päätös."


def test_it_rejects_a_document_without_text() -> None:
    document = docx.Document()
    document.add_paragraph("   ")

    assert rejection(saved(document), "blank.docx") == "blank.docx: contains no text"


def test_it_rejects_a_text_file_named_docx() -> None:
    assert rejection(b"Anna: hello\n", "fake.docx") == (
        "fake.docx: is not a Word .docx document (it looks like a plain text file)"
    )


def test_it_rejects_a_pdf_named_docx() -> None:
    assert rejection(b"%PDF-1.4\n\x00\x01", "paper.docx") == (
        "paper.docx: is not a Word .docx document (it looks like a PDF)"
    )


def test_it_rejects_a_zip_without_a_word_document() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes/readme.txt", "hello")

    assert rejection(buffer.getvalue(), "w.docx") == (
        "w.docx: is not a Word .docx document (the zip archive has no word/document.xml)"
    )


def test_it_says_when_a_docx_is_really_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")

    assert rejection(buffer.getvalue(), "w.docx") == (
        "w.docx: is not a Word .docx document (it is an Excel workbook)"
    )


def test_it_rejects_a_damaged_word_document() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<not-closed")

    message = rejection(buffer.getvalue(), "broken.docx")

    assert message.startswith("broken.docx: is not a readable Word .docx document (")


def zip_bomb_docx(zeros: int) -> bytes:
    """A real Word document with a highly compressible extra part, as a zip bomb would have."""
    document = docx.Document()
    document.add_paragraph("Anna: hello")
    source = zipfile.ZipFile(io.BytesIO(saved(document)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            archive.writestr(member, source.read(member))
        archive.writestr("word/media/padding.bin", bytes(zeros))
    return buffer.getvalue()


def test_it_rejects_a_member_compressed_beyond_the_ratio() -> None:
    message = rejection(zip_bomb_docx(20 * 1024 * 1024), "bomb.docx")

    # The exact ratio depends on the zlib build; about a thousand to one.
    assert re.fullmatch(
        r"bomb\.docx: looks like a zip bomb: 'word/media/padding\.bin' is compressed "
        r"1,0\d\d to 1 \(at most 100 to 1 is allowed\)",
        message,
    ), message


def test_it_rejects_an_archive_that_unpacks_beyond_the_size_limit() -> None:
    message = rejection(
        zip_bomb_docx(2 * 1024 * 1024),
        "big.docx",
        max_unzipped_bytes=1024 * 1024,
        max_ratio=10_000,
    )

    # 2 MB of padding plus the parts of Word's default template.
    assert re.fullmatch(
        r"big\.docx: looks like a zip bomb: it would unpack to 2\.\d MB "
        r"\(at most 1 MB are allowed\)",
        message,
    ), message


def test_it_accepts_the_same_file_with_higher_limits() -> None:
    parsed = parse_transcript(zip_bomb_docx(2 * 1024 * 1024), "big.docx", max_ratio=10_000)

    assert said(parsed) == [("Anna", "hello")]


def test_it_rejects_an_archive_with_too_many_members() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        for number in range(10_001):
            archive.writestr(f"word/media/{number}.txt", "")

    assert rejection(buffer.getvalue(), "many.docx") == (
        "many.docx: looks like a zip bomb: it holds 10,002 files (at most 10,000 are allowed)"
    )
