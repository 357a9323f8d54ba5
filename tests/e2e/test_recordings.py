"""A transcript's recording in a real browser: Alice attaches a WAV built here, plays it from a
turn's time on the transcript page and in the coding view, and Bob still codes beside the
player."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from coding.models import Code, Coding
from studies.models import Document, Recording, Study
from studies.services import import_transcripts
from tests.e2e.conftest import log_in, wait_until
from tests.e2e.test_people import CONTRAST_JS
from tests.e2e.test_workbench import drag_select, settle
from tests.test_recordings import wav_bytes

# Four turns ten seconds apart, over a recording of 40 seconds.
VTT = """WEBVTT

00:00:00.000 --> 00:00:09.000
<v Moderator>Welcome, everyone. Let us begin with hiring.

00:00:10.000 --> 00:00:19.000
<v Aino>I want to be able to explain my situation to a person.

00:00:20.000 --> 00:00:29.000
<v Eero>A machine never listens, and nobody wants a guess.

00:00:30.000 --> 00:00:39.000
<v Aino>Then let us argue with it, like with a clerk.
"""


@pytest.fixture
def session(study: Study) -> Document:
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    Code.objects.create(study=study, parent=concept, name="Negotiability", shortcut=1)
    (outcome,) = import_transcripts(
        study=study,
        workshop=None,
        files=[("Hiring session.vtt", VTT.encode())],
        mapping={"Moderator": "", "Aino": "", "Eero": ""},
        language="en",
    )
    return outcome.document


def too_wide(page: Page) -> list[str]:
    """What of the page's content reaches past the window's right edge (the content: the study's
    navigation bar above it is the base layout's)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main, main *')]
          .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth)
          .map(e => `${e.tagName}.${e.className}`)"""
    )


def player_time(page: Page) -> float:
    return page.evaluate("document.querySelector('[data-player]').currentTime")


def wait_for_metadata(page: Page) -> None:
    wait_until(page, "document.querySelector('[data-player]').readyState >= 1")


def test_an_owner_attaches_a_recording_and_plays_a_turn_from_its_time(
    page: Page, live_server: object, session: Document
) -> None:
    log_in(page, live_server, "alice", "pw-alice")
    page.goto(live_server.url + session.get_absolute_url())
    expect(page.locator("[data-player]")).to_have_count(0)
    page.get_by_label("Audio or video file").set_input_files(
        {"name": "session.wav", "mimeType": "audio/wav", "buffer": wav_bytes(40.0)}
    )
    page.get_by_role("button", name="Attach").click()

    expect(page.locator(".messages")).to_contain_text("Attached session.wav (312.5\xa0KB).")
    assert Recording.objects.get(document=session).content_type == "audio/wav"
    player = page.locator("audio[data-player]")
    expect(player).to_be_visible()
    wait_for_metadata(page)
    assert page.evaluate("document.querySelector('[data-player]').duration") == pytest.approx(40)

    # A turn's time plays the recording from there and marks that turn.
    page.get_by_role("button", name="Play from 0:00:20").click()
    third = page.locator("#turn-3")
    expect(third).to_have_attribute("aria-current", "true")
    expect(third).to_have_class(re.compile(r"\bplaying\b"))
    expect(third.locator(".playing-label")).to_have_text("Playing")
    assert 20 <= player_time(page) < 30
    expect(page.locator("[aria-current='true']", has=page.locator(".playing-label"))).to_have_count(
        1
    )

    # With the keyboard: Tab to another turn's time and press Enter.
    page.get_by_role("button", name="Play from 0:00:10").focus()
    page.keyboard.press("Enter")
    second = page.locator("#turn-2")
    expect(second).to_have_attribute("aria-current", "true")
    expect(third).not_to_have_attribute("aria-current", "true")
    assert 10 <= player_time(page) < 20

    # Seeking with the player's own controls moves the mark too.
    page.evaluate("document.querySelector('[data-player]').pause()")
    page.evaluate("document.querySelector('[data-player]').currentTime = 33")
    expect(page.locator("#turn-4")).to_have_attribute("aria-current", "true")
    expect(page.locator("#turn-4 .playing-label")).to_be_visible()

    # Readable and without sideways scrolling at 1024 px.
    page.set_viewport_size({"width": 1024, "height": 800})
    assert too_wide(page) == []
    assert page.locator("#turn-4 .playing-label").evaluate(CONTRAST_JS) >= 4.5
    assert page.get_by_role("button", name="Play from 0:00:10").evaluate(CONTRAST_JS) >= 4.5

    # Removing it asks first and says what goes.
    page.get_by_text("Replace or remove the recording").click()
    page.get_by_role("link", name="Remove the recording…").click()
    expect(page.locator("main")).to_contain_text("The file session.wav (312.5\xa0KB) is deleted")
    assert too_wide(page) == []
    page.get_by_role("button", name="Remove the recording").click()
    expect(page.locator(".messages")).to_contain_text("Removed the recording session.wav.")
    expect(page.locator("[data-player]")).to_have_count(0)
    assert not Recording.objects.exists()


def test_the_coding_view_plays_the_recording_and_still_codes(
    page: Page, live_server: object, session: Document, people: dict
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from studies.recordings import attach_recording

    attach_recording(
        document=session,
        upload=SimpleUploadedFile("session.wav", wav_bytes(40.0)),
        user=people["alice"],
    )
    log_in(page, live_server, "bob", "pw-bob")
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(live_server.url + reverse("coding:workbench", args=[session.study.slug, session.pk]))
    expect(page.locator("#wb-transcript.wb-ready")).to_be_attached()
    settle(page)
    expect(page.locator("audio[data-player]")).to_be_visible()
    assert too_wide(page) == []
    wait_for_metadata(page)

    page.get_by_role("button", name="Play from 0:00:30").click()
    expect(page.locator("#turn-4")).to_have_attribute("aria-current", "true")
    expect(page.locator("#turn-4 .playing-label")).to_have_text("Playing")
    assert 30 <= player_time(page) < 40
    page.evaluate("document.querySelector('[data-player]').pause()")

    # Coding works as before beside the player.
    page.locator("#turn-2").scroll_into_view_if_needed()
    settle(page)
    drag_select(page, "#turn-2", "xplain my situatio")
    popover = page.get_by_role("dialog", name="Apply a code")
    expect(popover).to_be_visible()
    popover.get_by_role("option", name="Negotiability").click()
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Negotiability")
    coding = Coding.objects.get()
    assert session.text[coding.start : coding.end] == "explain my situation"
    assert coding.coder.username == "bob"
