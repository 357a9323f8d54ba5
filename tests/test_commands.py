from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from coding.models import Code, Coding
from studies.models import Document, Membership, Participant, Study, Turn, Workshop
from tests.conftest import ROSTER
from tests.helpers import db_snapshot
from tests.test_transcript_import import FI_TXT


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_study_makes_the_owner_a_member(people: dict[str, User]) -> None:
    output = run("create_study", "adm", "--name", "ADM workshops", "--owner", "alice")

    study = Study.objects.get(slug="adm")
    assert study.name == "ADM workshops"
    assert Membership.objects.get(study=study).role == "owner"
    assert output.strip() == "Created study adm (ADM workshops), owned by alice."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["bad slug!", "--name", "X"],
            "slug 'bad slug!': use letters, numbers, hyphens or underscores only",
        ),
        (
            ["adm", "--name", "X", "--owner", "nobody"],
            "--owner 'nobody': no such user (create it with createsuperuser)",
        ),
    ],
)
def test_create_study_refuses_bad_input(db: None, args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as excinfo:
        run("create_study", *args)
    assert str(excinfo.value) == message
    assert not Study.objects.exists()


def test_create_study_refuses_a_taken_slug(study: Study) -> None:
    with pytest.raises(CommandError, match="slug 'adm': a study with this slug already exists"):
        run("create_study", "adm", "--name", "Again")


def test_import_roster_command(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")

    output = run("import_roster", "--study", "adm", str(path))

    assert (
        output.strip() == "Roster roster.csv: 2 new workshops, 5 new participants, 2 new variables."
    )
    assert Participant.objects.filter(study=study).count() == 5
    again = run("import_roster", "--study", "adm", str(path))
    assert again.startswith("No changes: all 5 participants")


def test_import_roster_command_names_the_row_of_a_bad_file(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("participant,workshop,country\nP01,FI-1,FI\nP01,FI-1,FI\n", encoding="utf-8")
    before = db_snapshot()

    with pytest.raises(CommandError) as excinfo:
        run("import_roster", "--study", "adm", str(path))

    assert str(excinfo.value) == (
        "roster.csv, row 3, column 'participant': duplicate participant code 'P01' (also in row 2)"
    )
    assert db_snapshot() == before


def test_import_roster_command_names_a_missing_file_and_study(study: Study, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"nope\.csv: no such file"):
        run("import_roster", "--study", "adm", str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match=r"--study 'zzz': no such study"):
        run("import_roster", "--study", "zzz", str(tmp_path / "nope.csv"))


def test_import_transcripts_command(roster_study: Study, tmp_path: Path) -> None:
    path = tmp_path / "FI-1.txt"
    path.write_text(FI_TXT + "Vieras: Hei kaikki.\n", encoding="utf-8")

    with pytest.raises(CommandError) as excinfo:
        run("import_transcripts", "--study", "adm", "--workshop", "FI-1", str(path))
    assert str(excinfo.value).startswith("FI-1.txt: speakers not in the roster: 'Vieras';")
    assert not Document.objects.exists()

    output = run(
        "import_transcripts", "--study", "adm", "--workshop", "FI-1", "--map", "Vieras=", str(path)
    )

    assert output.strip() == "Imported 1 transcript: 5 turns, 8 sentences, 40 words."
    assert Turn.objects.get(speaker="Vieras").participant is None


def test_import_transcripts_command_names_an_unknown_workshop(
    roster_study: Study, tmp_path: Path
) -> None:
    path = tmp_path / "FI-1.txt"
    path.write_text(FI_TXT, encoding="utf-8")
    with pytest.raises(CommandError) as excinfo:
        run("import_transcripts", "--study", "adm", "--workshop", "XX", str(path))
    assert str(excinfo.value) == "--workshop 'XX': no such workshop in adm (known: FI-1, GB-1)"


def test_load_demo_builds_the_demo_study_and_is_idempotent(db: None) -> None:
    run("load_demo", "--password", "demo-pass-123")
    study = Study.objects.get(slug="demo")
    before = db_snapshot()

    run("load_demo")

    assert db_snapshot() == before
    workshops = {w.code: (w.country.code, w.language) for w in Workshop.objects.filter(study=study)}
    assert workshops == {
        "FI-1": ("FI", "fi"),
        "DE-1": ("DE", "de"),
        "GB-1": ("GB", "en-GB"),
        "US-1": ("US", "en-US"),
        "US-2": ("US", "en-US"),
    }
    assert Participant.objects.filter(study=study).count() == 60
    documents = Document.objects.filter(study=study, kind=Document.Kind.TRANSCRIPT)
    assert documents.count() == 5
    assert {d.language for d in documents} == {"fi", "de", "en-GB", "en-US"}
    for document in documents:
        assert 3000 <= document.word_count <= 6000, document.title
        # Every speaker is a participant of the document's own workshop or a facilitator.
        for turn in document.turns.select_related("participant"):
            if turn.participant is not None:
                assert turn.participant.workshop_id == document.workshop_id
    assert Turn.objects.filter(document__study=study, start_ms__isnull=False).exists()
    assert User.objects.get(username="alice").check_password("demo-pass-123")
    # The codebook has its two dimensions, and both coders coded every transcript.
    dimensions = {
        code.name: sorted(code.children.values_list("name", flat=True))
        for code in Code.objects.filter(study=study, parent=None)
    }
    assert dimensions["Concept"] == [
        "accuracy",
        "explainability",
        "fairness",
        "humanity",
        "negotiability",
    ]
    assert {"hiring", "medicine", "justice", "lending"} <= set(dimensions["Domain"])
    for document in documents:
        coders = set(document.codings.values_list("coder__username", flat=True))
        assert coders == {"bob", "chloe"}, document.title
    # Mostly agreeing, sometimes not.
    spans = {
        coder: set(
            Coding.objects.filter(document__study=study, coder__username=coder).values_list(
                "document_id", "code_id", "start", "end"
            )
        )
        for coder in ("bob", "chloe")
    }
    shared = len(spans["bob"] & spans["chloe"])
    assert 0.6 < shared / len(spans["bob"]) < 0.95
    roles = dict(Membership.objects.filter(study=study).values_list("user__username", "role"))
    assert roles == {"alice": "owner", "bob": "coder", "chloe": "coder", "victor": "viewer"}


def test_every_demo_coding_lies_on_words_of_its_document(db: None) -> None:
    run("load_demo", "--password", "demo-pass-123")
    codings = Coding.objects.select_related("document")
    assert codings.count() > 1000
    for coding in codings:
        text = coding.document.text
        assert 0 <= coding.start < coding.end <= len(text)
        excerpt = text[coding.start : coding.end]
        assert excerpt == excerpt.strip(), excerpt
        assert coding.start == 0 or not text[coding.start - 1].isalnum(), excerpt


DEMO = Path(__file__).resolve().parents[1] / "studies" / "demo"


@pytest.mark.parametrize(
    ("workshop", "filename"),
    [
        ("FI-1", "FI-1.txt"),
        ("DE-1", "DE-1.vtt"),
        ("GB-1", "GB-1.srt"),
        ("US-1", "US-1.txt"),
        ("US-2", "US-2.md"),
    ],
)
def test_each_demo_file_imports_from_the_command_line(
    study: Study, workshop: str, filename: str
) -> None:
    run("import_roster", "--study", "adm", str(DEMO / "roster.csv"))

    output = run(
        "import_transcripts", "--study", "adm", "--workshop", workshop, str(DEMO / filename)
    )

    document = Document.objects.get(study=study)
    assert output.startswith(f"Imported 1 transcript: {document.turns.count():,} turns")
    assert document.workshop.code == workshop
    assert document.turns.filter(participant__isnull=False).count() > 50


def test_import_transcripts_command_imports_a_docx(roster_study: Study, tmp_path: Path) -> None:
    from tests.test_transcript_import import make_docx

    path = tmp_path / "justice.docx"
    path.write_bytes(make_docx([("Facilitator:", "Bail?"), ("Callum", "Never by a machine.")]))

    output = run("import_transcripts", "--study", "adm", "--workshop", "GB-1", str(path))

    assert output.strip() == "Imported 1 transcript: 2 turns, 2 sentences, 7 words."
