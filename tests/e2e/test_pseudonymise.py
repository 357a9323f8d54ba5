"""Pseudonymisation in a real browser at 1024 px: an owner uploads a transcript with names, an
e-mail address, a phone number and a web address; on the review screen she unticks one finding,
changes one replacement and keeps every phone number with a bulk button; the stored document
shows the pseudonymised text. Then the privacy page: names added are counted, never shown."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.models import Document, Membership, PrivateName, Study
from studies.services import import_roster
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW
from tests.test_pseudonymise import EN_TEXT, ROSTER

PASSWORD = "pw-alice-long-enough"


def fits_and_reads(page: Page) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["innerWidth"], found["culprits"]
    assert page.evaluate(CONTRAST) == []


def test_an_owner_reviews_personal_data_imports_and_keeps_a_private_list(
    page: Page, live_server: LiveServer, transactional_db: None, tmp_path: Path
) -> None:
    alice = User.objects.create_user("alice", "alice@example.org", PASSWORD)
    study = Study.objects.create(slug="priv", name="Privacy", languages="en")
    Membership.objects.create(study=study, user=alice, role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    transcript = tmp_path / "GB-1 session.txt"
    transcript.write_text(EN_TEXT, encoding="utf-8")

    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/studies/priv/import/")
    page.get_by_label("Workshop").select_option(label="GB-1")
    page.get_by_label("Transcript files").set_input_files(str(transcript))
    page.get_by_role("button", name="Upload and preview").nth(1).click()

    expect(page.get_by_role("heading", name="Review transcripts for GB-1")).to_be_visible()
    expect(page.get_by_role("heading", name="Personal data")).to_be_visible()
    okafor = page.locator("td.context mark", has_text="Dr. Okafor")
    expect(okafor).to_be_visible()
    fits_and_reads(page)

    # Untick one finding, change another's replacement, keep every phone number.
    page.get_by_role("checkbox", name="Replace “www.example.org/loans”").uncheck()
    page.get_by_role("textbox", name="Replacement for “Dr. Okafor”").fill("the doctor")
    page.get_by_role("button", name="Keep all phone numbers").click()

    # The page comes back with the decisions applied, in the boxes and in the preview.
    expect(page.locator("table.transcript")).to_contain_text("the doctor said so too")
    expect(page.locator("table.transcript")).to_contain_text("Call me on (0161) 496 0000.")
    expect(page.get_by_role("checkbox", name="Replace “(0161)")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Replace “www.example.org/loans”")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Replace “callum.b")).to_be_checked()
    expect(page.get_by_text("Phone numbers: 1 found, 0 to be replaced")).to_be_visible()
    fits_and_reads(page)

    page.get_by_role("button", name="Import 1 transcript").click()
    expect(page.locator(".messages")).to_contain_text("Imported 1 transcript: 3 turns")
    page.get_by_role("link", name="GB-1 session", exact=True).click()
    shown = page.locator("table.transcript")
    expect(shown).to_contain_text("Thanks. [P06] loan was refused, and the doctor said so too.")
    expect(shown).to_contain_text("Email [EMAIL] or see www.example.org/loans.")
    expect(shown).not_to_contain_text("Amara")
    fits_and_reads(page)
    assert "Dr. Okafor" not in Document.objects.get().text

    # The privacy page, from the overview.
    page.goto(f"{live_server.url}/studies/priv/")
    page.get_by_role("link", name="Privacy", exact=True).click()
    expect(page.get_by_role("heading", name="Privacy", level=1)).to_be_visible()
    fits_and_reads(page)
    page.get_by_label("Names, one per line").fill("Leena Salo\nKallion terveysasema")
    page.get_by_label("The names are").select_option(label="Place")
    page.get_by_role("button", name="Add to the list").click()
    expect(page.locator(".messages")).to_contain_text("Added 2 places to the private list.")
    expect(page.locator("main")).not_to_contain_text("Leena")
    assert PrivateName.objects.filter(study=study).count() == 2
    page.get_by_label("Name to remove").fill("leena salo")
    page.get_by_role("button", name="Remove it").click()
    expect(page.locator(".messages")).to_contain_text("Removed the name from the private list.")
    page.get_by_label("Keep the mapping from real names to pseudonyms").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("The mapping to pseudonyms is now kept.")
    fits_and_reads(page)
    page.get_by_label("Yes, remove every name on the private list").check()
    page.get_by_role("button", name="Remove the whole list").click()
    expect(page.locator(".messages")).to_contain_text("Removed the whole private list (1 name).")
    assert not PrivateName.objects.filter(study=study).exists()
