"""An ordinary user starts a study in the browser and runs it: a roster that names no
language (the preview asks), a transcript, a participant's page and variables, renaming and
deleting a document, editing a workshop, archiving, restoring and deleting the study. Each
page is checked for sideways scrolling at 1024 px."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from studies.models import Document, ParticipantValue, Study
from tests.e2e.conftest import log_in

ROSTER = "participant,workshop,country,site,aliases,gender\nP01,UK-1,GB,Leeds,Amara,woman\n"
ROSTER += "P02,UK-1,GB,Leeds,Callum,man\n"
TRANSCRIPT = "Facilitator: Welcome.\n\nAmara: I want to talk to a person.\n\nCallum: Me too.\n"


def fits(page: object) -> None:
    """Nothing on the page's own content sticks out sideways at 1024 px. (The top bar and
    the study's navigation belong to the base layout, checked on every page by its own test.)"""
    page.set_viewport_size({"width": 1024, "height": 800})
    culprits = page.evaluate(
        "[...document.querySelectorAll('main, main *')]"
        ".filter(e => !e.closest('.visually-hidden'))"
        ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth"
        " || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')"
        ".map(e => e.tagName + '.' + e.className).slice(0, 8)"
    )
    assert not culprits, f"{page.url} is wider than 1024 px: {culprits}"


def test_a_new_user_starts_runs_archives_and_deletes_a_study(
    page, live_server, django_user_model, tmp_path: Path
) -> None:
    django_user_model.objects.create_user("rita", password="pw-rita-123")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    transcript = tmp_path / "UK-1 session.txt"
    transcript.write_text(TRANSCRIPT, encoding="utf-8")

    log_in(page, live_server, "rita", "pw-rita-123")
    expect(page.get_by_text("You are not a member of any study yet")).to_be_visible()
    page.get_by_role("link", name="New study", exact=True).click()
    fits(page)
    page.get_by_label("Name", exact=True).fill("Lending in Leeds")
    expect(page.get_by_label("Short name (slug)")).to_have_value("lending-in-leeds")
    page.get_by_label("Description", exact=True).fill("A pilot.")
    page.get_by_label("Languages", exact=True).fill("en-GB, en")
    page.get_by_role("button", name="Create study").click()
    expect(page.locator(".messages")).to_contain_text("Created Lending in Leeds")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lending in Leeds")

    # A roster without a language column: the preview asks, suggesting the study's first.
    page.get_by_role("link", name="Import").first.click()
    page.get_by_label("Roster file").set_input_files(str(roster))
    page.get_by_role("button", name="Upload and preview").first.click()
    language = page.get_by_label("Language of these workshops")
    expect(language).to_have_value("en-GB")
    fits(page)
    page.get_by_role("button", name="Import roster").click()
    expect(page.locator(".messages")).to_contain_text("1 new workshop, 2 new participants")
    study = Study.objects.get(slug="lending-in-leeds")
    assert study.workshops.get().language == "en-GB"

    # Edit the workshop from the overview.
    page.get_by_role("link", name="Edit workshop UK-1").click()
    fits(page)
    page.get_by_label("Site", exact=True).fill("Leeds Central Library")
    page.get_by_role("button", name="Save workshop").click()
    expect(page.locator(".messages")).to_contain_text("Saved workshop UK-1.")
    expect(page.locator("table.data")).to_contain_text("Leeds Central Library")

    page.get_by_role("link", name="Import").first.click()
    page.get_by_label("Transcript files").set_input_files(str(transcript))
    page.get_by_role("button", name="Upload and preview").nth(1).click()
    page.get_by_role("button", name="Import 1 transcript").click()
    expect(page.locator(".messages")).to_contain_text("Imported 1 transcript")

    # The participant's page: variables, turns, codings panel.
    page.get_by_role("navigation", name="Study").get_by_role("link", name="Participants").click()
    page.get_by_label("Variable", exact=True).select_option(label="gender: woman")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.data tbody tr")).to_have_count(1)
    page.get_by_role("link", name="P01", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Participant P01")
    expect(page.locator("table.transcript")).to_contain_text("I want to talk to a person.")
    expect(page.get_by_text("Nothing P01 said is coded yet")).to_be_visible()
    fits(page)
    page.get_by_label("gender", exact=True).select_option("man")
    page.get_by_role("button", name="Save P01").click()
    expect(page.locator(".messages")).to_contain_text("Saved P01's variables.")
    assert ParticipantValue.objects.get(participant__code="P01").value == "man"

    # Rename, then delete the document after the confirmation.
    page.get_by_role("link", name="UK-1 session").first.click()
    page.get_by_role("link", name="Rename or move").click()
    fits(page)
    page.get_by_label("Title", exact=True).fill("Leeds, first session")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text(
        "renamed UK-1 session to Leeds, first session"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Leeds, first session")
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_text("Nothing has been coded or noted in this document yet")).to_be_visible()
    fits(page)
    page.get_by_role("button", name="Delete the document").click()
    expect(page.locator(".messages")).to_contain_text("Deleted Leeds, first session.")
    expect(page.get_by_text("No transcripts yet")).to_be_visible()
    assert not Document.objects.exists()

    # Archive, find it under Archived studies, restore, then delete it by typing its name.
    page.get_by_role("navigation", name="Study").get_by_role("link", name="Overview").click()
    page.get_by_role("link", name="Study settings").click()
    fits(page)
    page.get_by_role("button", name="Archive Lending in Leeds").click()
    expect(page.locator(".messages")).to_contain_text("Archived Lending in Leeds")
    page.get_by_role("link", name="Archived studies (1)").click()
    fits(page)
    page.get_by_role("button", name="Restore Lending in Leeds").click()
    expect(page.locator(".messages")).to_contain_text("Restored Lending in Leeds")
    page.get_by_role("link", name="Study settings").click()
    page.get_by_role("link", name="Delete this study…").click()
    expect(page.locator("ul.loss")).to_contain_text("2 participants")
    fits(page)
    page.get_by_label("Type the study's name to confirm").fill("Lending in Leeds")
    page.get_by_role("button", name="Delete the study and all its data").click()
    expect(page.locator(".messages")).to_contain_text("Deleted Lending in Leeds with")
    assert not Study.objects.exists()
