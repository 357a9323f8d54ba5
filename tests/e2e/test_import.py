from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from studies.models import Document, Membership, Study
from tests.e2e.conftest import log_in

DEMO = Path(__file__).resolve().parents[2] / "studies" / "demo"


def test_an_owner_imports_a_roster_and_a_transcript_in_the_browser(
    page, live_server, django_user_model, tmp_path: Path
) -> None:
    alice = django_user_model.objects.create_user("alice", password="pw-alice-123")
    study = Study.objects.create(slug="adm", name="ADM workshops")
    Membership.objects.create(study=study, user=alice, role="owner")
    transcript = tmp_path / "FI-1 session.txt"
    transcript.write_text(
        "Fasilitaattori: Aloitetaan.\n\nAino: Haluan voida selittää tilanteeni.\n\n"
        "Vieras: Saanko minäkin sanoa jotain?\n",
        encoding="utf-8",
    )

    log_in(page, live_server, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/studies/adm/")
    expect(page.get_by_text("No workshops yet")).to_be_visible()
    page.get_by_role("link", name="Import").first.click()

    page.get_by_label("Roster file").set_input_files(str(DEMO / "roster.csv"))
    page.get_by_role("button", name="Upload and preview").first.click()
    expect(page.locator("p.lead")).to_contain_text("5 new workshops, 60 new participants")
    page.get_by_role("button", name="Import roster").click()
    expect(page.locator(".messages")).to_contain_text("60 new participants")

    page.get_by_role("link", name="Import").first.click()
    page.get_by_label("Workshop").select_option(label="FI-1")
    page.get_by_label("Transcript files").set_input_files(str(transcript))
    page.get_by_role("button", name="Upload and preview").nth(1).click()

    expect(page.get_by_role("heading", name="Review transcripts for FI-1")).to_be_visible()
    expect(page.get_by_text("Not matched")).to_be_visible()
    page.get_by_label("Speaker “Vieras”").select_option(
        label="Not a participant (facilitator, guest, ...)"
    )
    page.get_by_role("button", name="Import 1 transcript").click()

    expect(page.locator(".messages")).to_contain_text("Imported 1 transcript: 3 turns")
    page.get_by_role("link", name="FI-1 session", exact=True).click()
    expect(page.locator("table.transcript")).to_contain_text("Haluan voida selittää tilanteeni.")
    document = Document.objects.get(study=study)
    # The web import pseudonymises: a participant's turns are labelled with their code.
    assert document.turns.get(speaker="P01").participant.code == "P01"
