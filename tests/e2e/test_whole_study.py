"""A whole study run from the browser, from a fresh database with one ordinary user: Rita creates
the study, imports a roster and a timed transcript, attaches its recording and plays it from a
turn, writes a code, and invites Dora by e-mail; Dora accepts through the link and codes; Rita
edits a participant's variable and sees the crosstab follow, then renames and deletes the
transcript after the confirmation that names what goes with it."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.auth.models import User
from django.core import mail
from playwright.sync_api import Page, expect

from coding.models import Coding
from studies.models import Document, ParticipantValue, Study
from tests.e2e.conftest import log_in, wait_until
from tests.e2e.test_workbench import drag_select, settle
from tests.test_recordings import wav_bytes

ROSTER = (
    "participant,workshop,country,site,language,aliases,gender\n"
    "P01,UK-1,GB,Leeds,en-GB,Amara,woman\n"
    "P02,UK-1,GB,Leeds,en-GB,Callum,man\n"
)
# Three turns ten seconds apart; the recording built below lasts 30 seconds.
VTT = """WEBVTT

00:00:00.000 --> 00:00:09.000
<v Facilitator>Welcome. What should a lender's system do when it says no?

00:00:10.000 --> 00:00:19.000
<v Amara>I want to argue my case with a person who can change the outcome.

00:00:20.000 --> 00:00:29.000
<v Callum>An explanation would be a start, at least.
"""


def crosstab_cell(page: Page, code: str, group: str) -> str:
    """The value of the preview table's row `code` in the column whose header starts with
    `group` (headers may add the group's size, "man (n=1)")."""
    return page.evaluate(
        """([code, group]) => {
          const table = document.querySelector('table.data');
          const headers = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
          const column = headers.findIndex(h => h === group || h.startsWith(group + ' '));
          const row = [...table.querySelectorAll('tbody tr')]
            .find(tr => tr.firstElementChild.textContent.trim() === code);
          return row && column >= 0 ? row.children[column].textContent.trim() : null;
        }""",
        [code, group],
    )


def test_a_study_is_run_from_the_browser_from_start_to_finish(
    page: Page, live_server: object, transactional_db: None, tmp_path: Path
) -> None:
    User.objects.create_user("rita", "rita@example.org", "pw-rita-long-enough")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    transcript = tmp_path / "UK-1 session.vtt"
    transcript.write_text(VTT, encoding="utf-8")
    page.set_viewport_size({"width": 1024, "height": 800})

    # Rita starts the study.
    log_in(page, live_server, "rita", "pw-rita-long-enough")
    page.get_by_role("link", name="New study", exact=True).click()
    page.get_by_label("Name", exact=True).fill("Lending in Leeds")
    page.get_by_label("Languages", exact=True).fill("en-GB")
    page.get_by_role("button", name="Create study").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lending in Leeds")
    study = Study.objects.get(slug="lending-in-leeds")
    assert study.memberships.get().role == "owner"

    # The roster, then the transcript (its speakers match the roster's aliases).
    page.get_by_role("link", name="Import").first.click()
    page.get_by_label("Roster file").set_input_files(str(roster))
    page.get_by_role("button", name="Upload and preview").first.click()
    page.get_by_role("button", name="Import roster").click()
    expect(page.locator(".messages")).to_contain_text("1 new workshop, 2 new participants")
    page.get_by_role("link", name="Import").first.click()
    page.get_by_label("Transcript files").set_input_files(str(transcript))
    page.get_by_role("button", name="Upload and preview").nth(1).click()
    page.get_by_role("button", name="Import 1 transcript").click()
    expect(page.locator(".messages")).to_contain_text("Imported 1 transcript")
    document = Document.objects.get(study=study)
    assert document.turns.filter(participant__code="P01").exists()

    # The recording: attach it to the transcript and play it from Amara's turn.
    page.goto(live_server.url + document.get_absolute_url())
    page.get_by_label("Audio or video file").set_input_files(
        {"name": "session.wav", "mimeType": "audio/wav", "buffer": wav_bytes(30.0)}
    )
    page.get_by_role("button", name="Attach").click()
    expect(page.locator(".messages")).to_contain_text("Attached session.wav")
    wait_until(page, "document.querySelector('[data-player]').readyState >= 1")
    page.get_by_role("button", name="Play from 0:00:10").click()
    expect(page.locator("#turn-2")).to_have_attribute("aria-current", "true")
    assert 10 <= page.evaluate("document.querySelector('[data-player]').currentTime") < 20
    page.evaluate("document.querySelector('[data-player]').pause()")

    # A code to apply.
    page.goto(f"{live_server.url}/studies/{study.slug}/codebook/new/")
    page.get_by_label("Name", exact=True).fill("negotiability")
    page.get_by_role("button", name="Add code").click()
    expect(page.locator(".messages")).to_contain_text("Added the code negotiability")

    # Dora is invited by e-mail as a coder and accepts through the link.
    page.goto(f"{live_server.url}/studies/{study.slug}/members/")
    page.get_by_label("E-mail address or username").fill("dora@example.org")
    page.get_by_label("Role", exact=True).last.select_option("coder")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation for dora@example.org")
    [message] = mail.outbox
    link = re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)
    page.get_by_role("button", name="Log out").click()

    page.goto(link)
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Password", exact=True).fill("a long walk to Leeds")
    page.get_by_label("Password confirmation").fill("a long walk to Leeds")
    page.get_by_role("button", name="Create account and join").click()
    expect(page.get_by_role("status")).to_contain_text("You joined Lending in Leeds as coder.")

    # Dora codes Amara's words in the coding view.
    page.goto(live_server.url + f"/studies/{study.slug}/documents/{document.pk}/code/")
    expect(page.locator("#wb-transcript.wb-ready")).to_be_attached()
    settle(page)
    drag_select(page, "#turn-2", "argue my case")
    popover = page.get_by_role("dialog", name="Apply a code")
    expect(popover).to_be_visible()
    popover.get_by_role("option", name="negotiability").click()
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: negotiability")
    coding = Coding.objects.get()
    assert (coding.coder.username, document.text[coding.start : coding.end]) == (
        "dora",
        "argue my case",
    )
    page.get_by_role("button", name="Log out").click()

    # Rita sees Amara's coding under "woman", edits her variable, and the crosstab follows.
    log_in(page, live_server, "rita", "pw-rita-long-enough")
    crosstab = (
        f"{live_server.url}/studies/{study.slug}/exports/"
        "?table=crosstab&by=variable:gender&measure=participants&layer=all"
    )
    page.goto(crosstab)
    assert crosstab_cell(page, "negotiability", "woman") == "1"
    assert crosstab_cell(page, "negotiability", "man") == "0"
    page.goto(f"{live_server.url}/studies/{study.slug}/participants/")
    page.get_by_role("link", name="P01", exact=True).click()
    page.get_by_label("gender", exact=True).select_option("man")
    page.get_by_role("button", name="Save P01").click()
    expect(page.locator(".messages")).to_contain_text("Saved P01's variables.")
    assert ParticipantValue.objects.get(participant__code="P01").value == "man"
    page.goto(crosstab)
    assert crosstab_cell(page, "negotiability", "woman") == "0"
    assert crosstab_cell(page, "negotiability", "man") == "1"

    # Rename the transcript, then delete it after the confirmation names what goes with it.
    page.goto(live_server.url + document.get_absolute_url())
    page.get_by_role("link", name="Rename or move").click()
    page.get_by_label("Title", exact=True).fill("Leeds, first session")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Leeds, first session")
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("main")).to_contain_text("1 coding")
    page.get_by_role("button", name=re.compile(r"^Delete the document")).click()
    expect(page.locator(".messages")).to_contain_text("Deleted Leeds, first session")
    assert not Document.objects.exists()
    assert not Coding.objects.exists()
