from __future__ import annotations

import io
import zipfile

import docx
import pytest
from django.test import override_settings

from studies.importers import FileRejected
from studies.models import Document, Sentence, Study, Turn
from studies.nlp import sentence_pipeline
from studies.services import describe_outcomes, import_transcripts, preview_transcript
from tests.helpers import db_snapshot

FI_TXT = """Työpaja FI-1, Helsinki

Fasilitaattori: Tervetuloa. Puhutaan ensin rekrytoinnista.
Aino: Minusta algoritmin pitäisi osata selittää päätöksensä. Muuten siihen ei voi luottaa.
Eero: Olen samaa mieltä.
Tärkeintä on, että päätöksestä voi valittaa.
P03: Entä jos ihminen on vielä puolueellisempi?
"""

GB_VTT = """WEBVTT

00:00:01.000 --> 00:00:04.000
<v Facilitator>Shall we start with lending? Who has been refused a loan?

00:00:04.500 --> 00:00:09.000
<v Amara>Me. The bank's system said no, and nobody could tell me why.

00:00:09.000 --> 00:00:12.000
<v Amara>I wanted to explain my situation to a person.

00:00:12.500 --> 00:00:15.000
<v Callum>That's negotiability, isn't it?
"""

GB_SRT = """1
00:00:01,000 --> 00:00:04,000
Facilitator: What about medicine?

2
00:00:04,200 --> 00:00:07,000
Dr. Okafor: A diagnosis tool can be accurate.

3
00:00:07,000 --> 00:00:09,500
But I still want a doctor to talk to.

4
00:00:10,000 --> 00:00:12,000
Callum: Agreed.
"""


def make_docx(paragraphs: list[tuple[str, str]]) -> bytes:
    document = docx.Document()
    for speaker, text in paragraphs:
        paragraph = document.add_paragraph()
        paragraph.add_run(speaker).bold = True
        paragraph.add_run(" " + text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def utterances(document: Document) -> list[tuple[str, str | None, str]]:
    return [
        (t.speaker, t.participant.code if t.participant else None, document.text[t.start : t.end])
        for t in document.turns.select_related("participant")
    ]


def test_a_txt_transcript_imports_with_matched_speakers_and_sentences(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")

    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())]
    )

    document = outcome.document
    assert (document.title, document.language, document.source_format) == ("FI-1", "fi", "txt")
    assert document.text == FI_TXT
    assert utterances(document) == [
        ("Fasilitaattori", None, "Tervetuloa. Puhutaan ensin rekrytoinnista."),
        (
            "Aino",
            "P01",
            "Minusta algoritmin pitäisi osata selittää päätöksensä. Muuten siihen ei voi luottaa.",
        ),
        ("Eero", "P02", "Olen samaa mieltä.\nTärkeintä on, että päätöksestä voi valittaa."),
        ("P03", "P03", "Entä jos ihminen on vielä puolueellisempi?"),
    ]
    sentences = [document.text[s.start : s.end] for s in document.sentences.all()]
    assert sentences == [
        "Tervetuloa.",
        "Puhutaan ensin rekrytoinnista.",
        "Minusta algoritmin pitäisi osata selittää päätöksensä.",
        "Muuten siihen ei voi luottaa.",
        "Olen samaa mieltä.",
        "Tärkeintä on, että päätöksestä voi valittaa.",
        "Entä jos ihminen on vielä puolueellisempi?",
    ]
    assert outcome.status == "created"
    assert document.word_count == 37
    assert describe_outcomes([outcome]) == (
        "Imported 1 transcript: 4 turns, 7 sentences, 37 words."
    )


def test_no_sentence_crosses_a_turn_and_every_offset_lies_in_the_text(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())]
    )
    document = outcome.document
    turns = list(document.turns.all())
    for sentence in document.sentences.all():
        assert 0 <= sentence.start < sentence.end <= len(document.text)
        assert any(t.start <= sentence.start and sentence.end <= t.end for t in turns)


def test_a_vtt_transcript_keeps_cue_times_and_merges_one_speakers_cues(
    roster_study: Study,
) -> None:
    gb = roster_study.workshops.get(code="GB-1")

    [outcome] = import_transcripts(
        study=roster_study, workshop=gb, files=[("lending.vtt", GB_VTT.encode())]
    )

    turns = list(outcome.document.turns.select_related("participant"))
    assert [(t.speaker, t.participant and t.participant.code) for t in turns] == [
        ("Facilitator", None),
        ("Amara", "P04"),
        ("Callum", "P05"),
    ]
    assert [(t.start_ms, t.end_ms) for t in turns] == [
        (1000, 4000),
        (4500, 12000),
        (12500, 15000),
    ]
    amara = outcome.document.text[turns[1].start : turns[1].end]
    assert amara.startswith("Me. The bank's system said no")
    assert amara.endswith("explain my situation to a person.")


def test_an_srt_transcript_matches_an_alias_with_a_dot(roster_study: Study) -> None:
    gb = roster_study.workshops.get(code="GB-1")

    [outcome] = import_transcripts(
        study=roster_study, workshop=gb, files=[("medicine.srt", GB_SRT.encode())]
    )

    assert utterances(outcome.document) == [
        ("Facilitator", None, "What about medicine?"),
        (
            "Dr. Okafor",
            "P04",
            "A diagnosis tool can be accurate. But I still want a doctor to talk to.",
        ),
        ("Callum", "P05", "Agreed."),
    ]
    assert outcome.document.turns.get(seq=2).start_ms == 4200


def test_a_docx_transcript_with_bold_speakers_imports(roster_study: Study) -> None:
    gb = roster_study.workshops.get(code="GB-1")
    data = make_docx(
        [("Facilitator:", "Justice next. Bail decisions?"), ("Callum", "Never by a machine.")]
    )

    [outcome] = import_transcripts(study=roster_study, workshop=gb, files=[("justice.docx", data)])

    assert utterances(outcome.document) == [
        ("Facilitator", None, "Justice next. Bail decisions?"),
        ("Callum", "P05", "Never by a machine."),
    ]
    assert outcome.document.source_format == "docx"


def test_a_markdown_transcript_with_bold_labels_imports(roster_study: Study) -> None:
    gb = roster_study.workshops.get(code="GB-1")
    text = "# GB-1\n\n**Facilitator:** Hiring?\n\n**Amara:** CV filters scare me.\n"

    [outcome] = import_transcripts(
        study=roster_study, workshop=gb, files=[("hiring.md", text.encode())]
    )

    assert utterances(outcome.document) == [
        ("Facilitator", None, "Hiring?"),
        ("Amara", "P04", "CV filters scare me."),
    ]


def test_unmatched_speakers_are_refused_by_name_and_nothing_is_written(
    roster_study: Study,
) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    text = FI_TXT + "Tuntematon: Kuka minä olen?\n"
    before = db_snapshot()

    with pytest.raises(FileRejected) as excinfo:
        import_transcripts(study=roster_study, workshop=fi, files=[("FI-1.txt", text.encode())])

    assert str(excinfo.value).startswith("FI-1.txt: speakers not in the roster: 'Tuntematon';")
    assert db_snapshot() == before


def test_a_mapping_resolves_unmatched_speakers(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    text = FI_TXT + "Tuntematon: Kuka minä olen?\nVieras: Minä olen vieras.\n"

    [outcome] = import_transcripts(
        study=roster_study,
        workshop=fi,
        files=[("FI-1.txt", text.encode())],
        mapping={"tuntematon": "P03", "Vieras": ""},
    )

    turns = {t.speaker: t.participant for t in outcome.document.turns.all()}
    assert turns["Tuntematon"].code == "P03"
    assert turns["Vieras"] is None


def test_a_preview_lists_unmatched_speakers_and_writes_nothing(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    before = db_snapshot()

    preview = preview_transcript(
        study=roster_study,
        workshop=fi,
        filename="FI-1.txt",
        data=(FI_TXT + "Tuntematon: Hei.\n").encode(),
    )

    assert preview.unmatched == ["Tuntematon"]
    assert {s.label: (s.turns, s.match.how) for s in preview.speakers} == {
        "Fasilitaattori": (1, "facilitator"),
        "Aino": (1, "alias"),
        "Eero": (1, "alias"),
        "P03": (1, "code"),
        "Tuntematon": (1, "unmatched"),
    }
    assert db_snapshot() == before


def test_reimporting_an_identical_transcript_changes_nothing(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    import_transcripts(study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())])
    before = db_snapshot()

    # The same text saved as UTF-16 with Windows line endings is the same transcript.
    again = FI_TXT.replace("\n", "\r\n").encode("utf-16")
    outcomes = import_transcripts(study=roster_study, workshop=fi, files=[("FI-1.txt", again)])

    assert outcomes[0].status == "unchanged"
    assert describe_outcomes(outcomes) == "No changes: 1 transcript already imported."
    assert db_snapshot() == before


def test_a_new_version_replaces_a_transcript_nothing_refers_to(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    import_transcripts(study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())])
    newer = FI_TXT.replace("Olen samaa mieltä.", "Olen täysin samaa mieltä.")

    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-1.txt", newer.encode())]
    )

    assert outcome.status == "replaced"
    assert Document.objects.filter(study=roster_study).count() == 1
    assert outcome.document.text == newer
    assert Turn.objects.filter(document=outcome.document).count() == 4
    assert "Olen täysin samaa mieltä." in [
        newer[s.start : s.end] for s in Sentence.objects.filter(document=outcome.document)
    ]


def test_replacing_a_transcript_that_has_codings_is_refused_with_the_reason(
    roster_study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    import_transcripts(study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())])
    # Codings arrive with the coding workbench; stand in for them here.
    monkeypatch.setattr(Document, "attached_objects", lambda self: {"codings": 3})
    before = db_snapshot()

    with pytest.raises(FileRejected) as excinfo:
        import_transcripts(
            study=roster_study,
            workshop=fi,
            files=[("FI-1.txt", (FI_TXT + "Aino: Vielä yksi asia.\n").encode())],
        )

    assert str(excinfo.value) == (
        "FI-1.txt: 'FI-1' already exists and 3 codings refer to its text, so it cannot be "
        "replaced; import the new version under another title"
    )
    assert db_snapshot() == before


def test_a_batch_with_one_bad_file_writes_none_of_them(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    before = db_snapshot()

    with pytest.raises(FileRejected) as excinfo:
        import_transcripts(
            study=roster_study,
            workshop=fi,
            files=[("good.txt", FI_TXT.encode()), ("bad.vtt", b"not a caption file\n")],
        )

    assert str(excinfo.value).startswith("bad.vtt, line 1:")
    assert db_snapshot() == before


@override_settings(COLLOQUY_MAX_UPLOAD_BYTES=100)
def test_a_file_over_the_upload_limit_is_refused(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    with pytest.raises(FileRejected) as excinfo:
        import_transcripts(study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())])
    assert "larger than the limit of 0 MB" in str(excinfo.value)
    assert not Document.objects.exists()


def test_a_zip_bomb_named_docx_is_refused_before_it_is_unpacked(roster_study: Study) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * (20 * 1024 * 1024))

    with pytest.raises(FileRejected) as excinfo:
        import_transcripts(
            study=roster_study, workshop=fi, files=[("bomb.docx", buffer.getvalue())]
        )

    assert str(excinfo.value).startswith("bomb.docx: looks like a zip bomb")
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("empty.txt", b"", "is empty"),
        ("blank.vtt", b"  \n\n", "is empty"),
        ("garbage.txt", bytes(range(256)) * 40, "does not look like a text file"),
        ("report.pdf", b"%PDF-1.7\n...", "unsupported file type '.pdf'"),
        ("fake.docx", FI_TXT.encode(), "is not a Word .docx document"),
    ],
)
def test_bad_files_are_refused_with_a_clear_reason(
    roster_study: Study, filename: str, data: bytes, reason: str
) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    with pytest.raises(FileRejected) as excinfo:
        import_transcripts(study=roster_study, workshop=fi, files=[(filename, data)])
    assert str(excinfo.value).startswith(f"{filename}")
    assert reason in str(excinfo.value)
    assert not Document.objects.exists()


# Finnish, as FI-1 speaks it: long sentences (someone thinking aloud), so that five megabytes
# stay quick to store, with a note in brackets and each saying ending its sentence.
CLAUSE = "rekrytointijärjestelmän päätöksentekokriteerien läpinäkyvyydestä keskusteltaessa, "
SAYINGS = [
    "Minusta algoritmin pitäisi osata selittää päätöksensä, " + CLAUSE * 20 + "ymmärrätkö?",
    "Muuten siihen ei voi luottaa, " + CLAUSE * 30 + "ei mitenkään!",
    "[naurua] Pankki sanoi ei, " + CLAUSE * 25 + "eikä kukaan osannut kertoa miksi.",
]


def one_line(size: int) -> tuple[str, list[str]]:
    """A turn of about `size` bytes of UTF-8 on a single line, and the sayings in it."""
    said, length = [], 0
    while length < size:
        saying = SAYINGS[len(said) % len(SAYINGS)]
        said.append(saying)
        length += len(saying.encode()) + 1
    return "Aino: " + " ".join(said), said


def assert_sentences_cover_the_turns(document: Document) -> None:
    """Sentences lie inside turns, in order, without overlapping, and only whitespace is left
    between them: every other character is in exactly one sentence."""
    text = document.text
    sentences = list(document.sentences.values_list("start", "end"))
    for turn in document.turns.all():
        inside = [(s, e) for s, e in sentences if turn.start <= s < turn.end]
        assert all(e <= turn.end for _s, e in inside)
        at = turn.start
        for start, end in inside:
            assert at <= start < end
            assert not text[at:start].strip()
            at = end
        assert at == turn.end


def test_a_5_mb_transcript_on_a_single_line_imports_with_every_sentence(
    roster_study: Study,
) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    text, said = one_line(5 * 1024 * 1024)
    assert "\n" not in text and len(text.encode()) > 5 * 1024 * 1024

    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-long.txt", text.encode())]
    )

    document = outcome.document
    assert document.text == text
    assert utterances(document) == [("Aino", "P01", text.removeprefix("Aino: "))]
    assert outcome.sentences == len(said)
    assert [text[s.start : s.end] for s in document.sentences.all()] == said
    assert_sentences_cover_the_turns(document)


def test_a_turn_without_spaces_or_punctuation_over_spacys_limit_imports(
    roster_study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    # spaCy's limit lowered from a million characters to keep the test quick.
    monkeypatch.setattr(sentence_pipeline("fi"), "max_length", 1000)
    fi = roster_study.workshops.get(code="FI-1")
    text = "Aino: " + "ä" * 3500

    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-1.txt", text.encode())]
    )

    sentences = list(outcome.document.sentences.values_list("start", "end"))
    assert sentences == [(6, 1006), (1006, 2006), (2006, 3006), (3006, 3506)]
    assert_sentences_cover_the_turns(outcome.document)


@override_settings(COLLOQUY_MAX_UPLOAD_BYTES=4 * 1024 * 1024)
def test_a_transcript_over_the_upload_limit_is_refused_naming_the_file_and_the_limit(
    roster_study: Study,
) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    text, _said = one_line(5 * 1024 * 1024)

    with pytest.raises(FileRejected) as excinfo:
        import_transcripts(study=roster_study, workshop=fi, files=[("FI-long.txt", text.encode())])

    assert str(excinfo.value) == (
        "FI-long.txt: is 5.0 MB, larger than the limit of 4 MB (COLLOQUY_MAX_UPLOAD_MB)"
    )
    assert not Document.objects.exists()
