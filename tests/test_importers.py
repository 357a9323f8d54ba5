"""The import parsers: shared types, decoding, and plain-text and Markdown transcripts.

Word, caption and table formats have their own test_importers_*.py files. None of these tests
touch the database.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from studies.importers import (
    SUPPORTED_TRANSCRIPT_EXTENSIONS,
    FileRejected,
    ParsedTranscript,
    decode_text,
    parse_transcript,
)

INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "interop"
NO_LABELS = "No speaker labels found: the text is imported as one block without turns."


def said(parsed: ParsedTranscript) -> list[tuple[str, str]]:
    return [(turn.speaker, parsed.text[turn.start : turn.end]) for turn in parsed.turns]


def rejection(data: bytes, filename: str) -> str:
    with pytest.raises(FileRejected) as caught:
        parse_transcript(data, filename)
    return str(caught.value)


def interop_file(name: str) -> bytes:
    if not INTEROP.is_dir():
        pytest.skip("../shared/interop/ is absent (it ships beside CI, not in a clone)")
    return (INTEROP / name).read_bytes()


# The error type


def test_it_names_file_line_and_reason_in_one_line() -> None:
    error = FileRejected(
        "cue timing '00:01' is not a WebVTT timestamp", filename="notes.vtt", line=12
    )

    assert str(error) == "notes.vtt, line 12: cue timing '00:01' is not a WebVTT timestamp"
    assert (error.reason, error.filename, error.line, error.column) == (
        "cue timing '00:01' is not a WebVTT timestamp",
        "notes.vtt",
        12,
        None,
    )


def test_it_speaks_of_rows_and_columns_for_tables() -> None:
    error = FileRejected(
        "'Atlantis' is not a country", filename="roster.csv", line=7, column="country"
    )

    assert str(error) == "roster.csv, row 7, column 'country': 'Atlantis' is not a country"


def test_it_keeps_the_message_on_one_line_when_the_reason_quotes_several() -> None:
    error = FileRejected("found 'a\nb'", filename="x.txt")

    assert str(error) == "x.txt: found 'a b'"


def test_it_rejects_an_unsupported_transcript_type_listing_the_supported_ones() -> None:
    assert SUPPORTED_TRANSCRIPT_EXTENSIONS == (".txt", ".md", ".docx", ".vtt", ".srt")
    assert rejection(b"%PDF-1.5", "workshop.pdf") == (
        "workshop.pdf: unsupported file type '.pdf': use .txt, .md, .docx, .vtt or .srt"
    )


def test_it_rejects_a_file_without_an_extension() -> None:
    assert rejection(b"Anna: hi", "transcript") == (
        "transcript: unsupported file type (the name has no extension): "
        "use .txt, .md, .docx, .vtt or .srt"
    )


def test_it_matches_extensions_whatever_their_case() -> None:
    parsed = parse_transcript(b"Anna: hello", "WORKSHOP.TXT")

    assert parsed.format == "txt"
    assert said(parsed) == [("Anna", "hello")]


# Decoding


def test_it_decodes_utf8_with_and_without_a_bom() -> None:
    assert decode_text("Grüße".encode(), "a.txt") == ("Grüße", "utf-8")
    assert decode_text("\ufeffGrüße".encode(), "a.txt") == ("Grüße", "utf-8-sig")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_it_decodes_utf16_with_a_bom(codec: str) -> None:
    data = "\ufeffAnna: Päätös on reilu.\r\nBen: Ja.".encode(codec)

    assert decode_text(data, "a.txt") == ("Anna: Päätös on reilu.\nBen: Ja.", "utf-16")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_it_recognises_utf16_without_a_bom(codec: str) -> None:
    data = "Moderator: Wie fanden Sie das?\nTeilnehmerin: Gut.".encode(codec)

    assert decode_text(data, "a.txt") == (
        "Moderator: Wie fanden Sie das?\nTeilnehmerin: Gut.",
        codec,
    )


def test_it_decodes_a_german_file_saved_in_windows_1252() -> None:
    text = (
        "Moderatorin: Grüß Gott, wie geht es Ihnen?\n"
        "Teilnehmer 1: Die Größe ist schön, Ärger über Öl.\n"
    )

    assert decode_text(text.encode("cp1252"), "interview.txt") == (text, "cp1252")


@pytest.mark.parametrize(
    "text",
    [
        "Müller: ja\n",
        "Haastattelija: Mitä mieltä olet päätöksistä?\n",
        "Jürgen: Das Ergebnis war für mich überraschend \u2013 wirklich.\n",
    ],
)
def test_it_decodes_short_western_texts_saved_in_windows_1252(text: str) -> None:
    assert decode_text(text.encode("cp1252"), "a.txt") == (text, "cp1252")


def test_it_turns_crlf_and_lone_cr_into_newlines() -> None:
    assert decode_text(b"one\r\ntwo\rthree\n", "a.txt") == ("one\ntwo\nthree\n", "utf-8")


def test_it_normalises_to_nfc() -> None:
    decomposed = "Pa\u0308a\u0308to\u0308s"

    text, _ = decode_text(decomposed.encode(), "a.txt")

    assert text == "Päätös"
    assert len(text) == 6


@pytest.mark.parametrize("data", [b"", b"  \r\n\t\n", "\ufeff  \n".encode("utf-16")])
def test_it_rejects_an_empty_file(data: bytes) -> None:
    assert rejection(data, "empty.txt") == "empty.txt: is empty"


def test_it_rejects_a_png_renamed_to_txt() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"

    assert rejection(png, "photo.txt") == (
        "photo.txt: does not look like a text file (it looks like a PNG image)"
    )


def test_it_rejects_a_pdf_renamed_to_txt() -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"

    assert rejection(pdf, "paper.txt") == (
        "paper.txt: does not look like a text file (it looks like a PDF)"
    )


def test_it_rejects_a_zip_given_as_a_text_file_and_suggests_renaming_it() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")

    assert rejection(buffer.getvalue(), "transcript.txt") == (
        "transcript.txt: does not look like a text file "
        "(it looks like a zip archive, e.g. a .docx or .xlsx: rename it?)"
    )


def test_it_rejects_an_old_word_document_given_as_text() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64

    assert rejection(ole, "notes.md") == (
        "notes.md: does not look like a text file "
        "(it looks like an old Word .doc or Excel .xls file: save it as .docx or .xlsx)"
    )


def test_it_rejects_binary_data_with_nul_bytes() -> None:
    binary = bytes(range(256)) * 8

    assert rejection(binary, "data.txt") == "data.txt: does not look like a text file"


def test_it_rejects_text_that_is_mostly_control_characters() -> None:
    garbage = b"\x01\x02\x03abc\x04\x05\x06def\x07\x08" * 40

    assert rejection(garbage, "data.txt") == "data.txt: does not look like a text file"


def test_it_accepts_a_stray_form_feed_in_real_text() -> None:
    text, _ = decode_text(b"Anna: first page\x0cBen: second page", "a.txt")

    assert text == "Anna: first page\x0cBen: second page"


def test_it_does_not_take_a_transcript_starting_with_riff_for_audio() -> None:
    parsed = parse_transcript(b"RIFF: a speaker with an odd name\n", "odd.txt")

    assert said(parsed) == [("RIFF", "a speaker with an odd name")]


# Plain-text transcripts


def test_it_reads_colon_labels_of_one_to_four_words() -> None:
    data = (
        b"Anna: I think the decision should be explained.\n"
        b"Dr. Smith: Why?\n"
        b"Participant 3: Because then you can argue.\n"
        b"P07: Agreed.\n"
        b"Fasilitaattori: Kiitos.\n"
        b"Jean-Luc O'Neill: Fine.\n"
    )

    parsed = parse_transcript(data, "w1.txt")

    assert said(parsed) == [
        ("Anna", "I think the decision should be explained."),
        ("Dr. Smith", "Why?"),
        ("Participant 3", "Because then you can argue."),
        ("P07", "Agreed."),
        ("Fasilitaattori", "Kiitos."),
        ("Jean-Luc O'Neill", "Fine."),
    ]
    assert parsed.format == "txt"
    assert parsed.encoding == "utf-8"
    assert parsed.warnings == []
    assert all(turn.start_ms is None and turn.end_ms is None for turn in parsed.turns)


def test_it_keeps_the_file_text_exactly_as_written() -> None:
    data = b"Workshop 2, Helsinki\n\n[00:00:05] Anna: Hei!\n"

    parsed = parse_transcript(data, "w2.txt")

    assert parsed.text == "Workshop 2, Helsinki\n\n[00:00:05] Anna: Hei!\n"


def test_it_reads_bracketed_labels_with_and_without_a_colon() -> None:
    parsed = parse_transcript(b"[id1] hello there\n[Dr. Who]: yes\n[id2]\n", "q.txt")

    assert said(parsed) == [("id1", "hello there"), ("Dr. Who", "yes")]
    assert parsed.warnings == [
        "Line 3: the label 'id2' has no words after it, so it was left out of the turns."
    ]


def test_it_keeps_leading_timestamps_as_start_times() -> None:
    data = (
        b"[00:01:23] Anna: first\n"
        b"00:02:05 Ben: second\n"
        b"(03:07) [Cara] third\n"
        b"[1:00:00.250] Anna: fourth\n"
        b"Ben (04:10): fifth\n"
    )

    parsed = parse_transcript(data, "timed.txt")

    assert said(parsed) == [
        ("Anna", "first"),
        ("Ben", "second"),
        ("Cara", "third"),
        ("Anna", "fourth"),
        ("Ben", "fifth"),
    ]
    assert [turn.start_ms for turn in parsed.turns] == [
        83_000,
        125_000,
        187_000,
        3_600_250,
        250_000,
    ]
    assert all(turn.end_ms is None for turn in parsed.turns)


def test_it_continues_a_turn_over_unlabelled_lines_and_blank_lines() -> None:
    data = b"Anna: First line.\nSecond line.\n\n   Third, after a blank line.   \n\nBen: Next.\n"

    parsed = parse_transcript(data, "w.txt")

    assert said(parsed) == [
        ("Anna", "First line.\nSecond line.\n\n   Third, after a blank line."),
        ("Ben", "Next."),
    ]


def test_it_leaves_lines_before_the_first_label_outside_every_turn() -> None:
    data = b"Workshop FI-1\nRecorded 12 March 2025\n\nAnna: Hello.\n"

    parsed = parse_transcript(data, "w.txt")

    assert said(parsed) == [("Anna", "Hello.")]
    assert parsed.turns[0].start == parsed.text.index("Hello.")


def test_it_starts_a_turn_on_the_next_line_when_the_label_stands_alone() -> None:
    data = b"Anna:\n  I have thought about it.\nA lot.\nBen: Me too.\n"

    parsed = parse_transcript(data, "w.txt")

    assert said(parsed) == [("Anna", "I have thought about it.\nA lot."), ("Ben", "Me too.")]
    assert parsed.warnings == []


def test_it_excludes_surrounding_whitespace_and_crlf_from_the_span() -> None:
    parsed = parse_transcript(b"Anna:    hello   \r\n\r\nBen:\tbye\t\r\n", "w.txt")

    assert parsed.text == "Anna:    hello   \n\nBen:\tbye\t\n"
    assert said(parsed) == [("Anna", "hello"), ("Ben", "bye")]


def test_it_imports_text_without_labels_as_one_block_with_a_warning() -> None:
    parsed = parse_transcript(b"We talked about hiring.\nNobody agreed.\n", "notes.txt")

    assert parsed.turns == []
    assert parsed.warnings == [NO_LABELS]
    assert parsed.text == "We talked about hiring.\nNobody agreed.\n"


@pytest.mark.parametrize(
    "line",
    [
        "https://example.org/recording: the link",
        "10:30 we started late",
        "This is what I really said: yes",
        "A label that is far too long to be a name: no",
        "[inaudible] something",
        "Anna:no space after the colon",
        "_hidden: underscores are not in labels",
    ],
)
def test_it_does_not_take_ordinary_lines_for_labels(line: str) -> None:
    parsed = parse_transcript(line.encode(), "w.txt")

    assert parsed.turns == []
    assert parsed.warnings == [NO_LABELS]


def test_it_keeps_a_bracketed_note_inside_the_current_turn() -> None:
    parsed = parse_transcript(b"Anna: I disagree.\n[laughter] Really.\n", "w.txt")

    assert said(parsed) == [("Anna", "I disagree.\n[laughter] Really.")]


def test_it_collapses_whitespace_inside_labels() -> None:
    parsed = parse_transcript(b"Participant   3: yes\n", "w.txt")

    assert said(parsed) == [("Participant 3", "yes")]


def test_it_counts_offsets_in_code_points() -> None:
    parsed = parse_transcript("Jürgen: Ärger 😀 über\nZoë: ja\n".encode(), "w.txt")

    assert said(parsed) == [("Jürgen", "Ärger 😀 über"), ("Zoë", "ja")]
    assert parsed.turns[1].start == len("Jürgen: Ärger 😀 über\nZoë: ")


def test_it_reads_a_windows_1252_transcript() -> None:
    data = "Moderatorin: Grüß Gott.\r\nTeilnehmer 1: Schöne Größe.\r\n".encode("cp1252")

    parsed = parse_transcript(data, "de.txt")

    assert parsed.encoding == "cp1252"
    assert said(parsed) == [("Moderatorin", "Grüß Gott."), ("Teilnehmer 1", "Schöne Größe.")]


def test_it_reads_the_qualcoder_example_transcript() -> None:
    parsed = parse_transcript(interop_file("qualcoder_transcript.txt"), "transcript.txt")

    assert [turn.speaker for turn in parsed.turns] == [
        "id1",
        "id2",
        "id3",
        "id1",
        "id3",
        "id1",
        "id2",
    ]
    first, *_, last = said(parsed)
    assert first[1].startswith("hello, I like the course.")
    assert first[1].endswith("complexities of life in the past.")
    assert last == ("id2", "Hmm, I will ask the tutor for more help as I am really struggling.")
    assert parsed.warnings == []


# Markdown transcripts


def test_it_reads_bold_markdown_labels() -> None:
    data = b"**Anna:** Explain it to me.\n**Ben**: I cannot.\nCara: Plain labels work too.\n"

    parsed = parse_transcript(data, "w.md")

    assert parsed.format == "md"
    assert said(parsed) == [
        ("Anna", "Explain it to me."),
        ("Ben", "I cannot."),
        ("Cara", "Plain labels work too."),
    ]


def test_it_ends_a_turn_at_a_markdown_heading_and_leaves_the_heading_out() -> None:
    data = (
        b"# Workshop DE-2\n\n"
        b"**Anna:** Hello.\nStill Anna.\n\n"
        b"## Part two\n\nNot in any turn.\n\n"
        b"**Ben:** Hi.\n"
    )

    parsed = parse_transcript(data, "w.md")

    assert said(parsed) == [("Anna", "Hello.\nStill Anna."), ("Ben", "Hi.")]


def test_it_treats_a_hash_in_a_text_file_as_an_ordinary_line() -> None:
    parsed = parse_transcript(b"Anna: Hello.\n# not a heading here\n", "w.txt")

    assert said(parsed) == [("Anna", "Hello.\n# not a heading here")]


def test_it_does_not_read_bold_labels_in_a_text_file() -> None:
    parsed = parse_transcript(b"**Anna:** Hello.\n", "w.txt")

    assert parsed.turns == []
    assert parsed.warnings == [NO_LABELS]
