"""Every transcript format imports through the web page, using the demo study's own files."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from studies.models import Document, Study
from studies.services import import_roster

DEMO = Path(__file__).resolve().parents[1] / "studies" / "demo"


def us1_as_docx() -> bytes:
    """US-1's turns as a Word document with bold speaker names, as transcribers deliver them."""
    document = docx.Document()
    for line in (DEMO / "US-1.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and "] " in line:
            speaker, text = line[1:].split("] ", 1)
            paragraph = document.add_paragraph()
            paragraph.add_run(speaker + ":").bold = True
            paragraph.add_run(" " + text)
        elif line.strip():
            document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def demo_roster(study: Study) -> Study:
    import_roster(study=study, filename="roster.csv", data=(DEMO / "roster.csv").read_bytes())
    return study


@pytest.mark.parametrize(
    ("workshop", "filename", "fmt", "first_speaker", "has_times"),
    [
        ("FI-1", "FI-1.txt", "txt", "Fasilitaattori", False),
        ("DE-1", "DE-1.vtt", "vtt", "Moderatorin", True),
        ("GB-1", "GB-1.srt", "srt", "Facilitator", True),
        ("US-1", "US-1.txt", "txt", "Moderator", False),
        ("US-2", "US-2.md", "md", "Facilitator", False),
        ("US-1", "US-1.docx", "docx", "Moderator", False),
    ],
)
def test_each_format_imports_from_the_web(
    demo_roster: Study,
    people: dict[str, User],
    workshop: str,
    filename: str,
    fmt: str,
    first_speaker: str,
    has_times: bool,
) -> None:
    data = us1_as_docx() if fmt == "docx" else (DEMO / filename).read_bytes()
    client = Client()
    client.force_login(people["alice"])

    upload = client.post(
        reverse("studies:import", args=[demo_roster.slug]),
        {
            "transcripts": "1",
            "t-workshop": demo_roster.workshops.get(code=workshop).pk,
            "t-files": [SimpleUploadedFile(filename, data)],
        },
    )
    assert upload.status_code == 302, upload.content.decode()[:2000]
    review = client.get(upload["Location"])
    assert review.context["mapping_form"].fields == {}  # every demo speaker is known
    done = client.post(upload["Location"], {"confirm": "1"}, follow=True)

    document = Document.objects.get(study=demo_roster)
    assert document.source_format == fmt
    turns = list(document.turns.select_related("participant"))
    assert turns[0].speaker == first_speaker
    assert turns[0].participant is None
    assert (turns[0].start_ms is not None) == has_times
    spoken = [t for t in turns if t.participant is not None]
    assert len(spoken) > len(turns) / 2
    assert all(t.participant.workshop.code == workshop for t in spoken)
    assert document.sentences.count() > len(turns)
    assert f"Imported 1 transcript: {len(turns):,} turns" in done.content.decode()
