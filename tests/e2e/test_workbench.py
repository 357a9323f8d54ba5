"""The coding view in a real browser: Bob codes a short hiring session with the mouse and with
the keyboard, and every test checks both what he sees and what the database holds."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from coding.models import Code, Coding, Memo, SuggestionDecision
from studies.models import Document, Study
from studies.services import import_transcripts
from tests.e2e.conftest import log_in

SESSION = """Moderator: Welcome, everyone. Let us begin with hiring.

Aino: I want to be able to explain my situation to a person. A machine never listens.

Eero: Accuracy matters more than anything 😀 in medicine, I think. Nobody 👩🏽‍⚕️ wants a guess.

Helmi: <script>alert(1)</script> is what my nephew typed into the form, and nothing happened.
"""

FIND_WORDS = """([selector, words]) => {
  const utt = document.querySelector(selector + " .wb-utt");
  const text = utt.textContent;
  const at = text.indexOf(words);
  if (at < 0) return null;
  // Map a UTF-16 index of the whole utterance to a DOM point among its text nodes.
  const point = (index) => {
    const walker = document.createTreeWalker(utt, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (index <= node.length) return [node, index];
      index -= node.length;
    }
  };
  const box = (from, to) => {
    const range = document.createRange();
    range.setStart(...point(from));
    range.setEnd(...point(to));
    const r = range.getClientRects()[0];
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  };
  return { first: box(at, at + 1), last: box(at + words.length - 1, at + words.length) };
}"""


@pytest.fixture
def session(study: Study) -> Document:
    """Alice's study with a codebook (a Concept dimension with three codes) and one session."""
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    for order, (name, colour, shortcut) in enumerate(
        [
            ("Negotiability", "#0072B2", 1),
            ("Accuracy", "#D55E00", 2),
            ("Explainability", "#009E73", 3),
        ]
    ):
        Code.objects.create(
            study=study,
            parent=concept,
            name=name,
            colour=colour,
            shortcut=shortcut,
            order=order,
        )
    (outcome,) = import_transcripts(
        study=study,
        workshop=None,
        files=[("Hiring session.txt", SESSION.encode())],
        mapping={"Aino": "", "Eero": "", "Helmi": ""},
    )
    return outcome.document


def code(name: str) -> Code:
    return Code.objects.get(name=name)


def open_workbench(
    page: Page, live_server: object, document: Document, user: str = "bob", layer: str = ""
) -> None:
    log_in(page, live_server, user, f"pw-{user}")
    url = reverse("coding:workbench", args=[document.study.slug, document.pk])
    page.goto(live_server.url + url + (f"?layer={layer}" if layer else ""))
    expect(page.locator("#wb-transcript.wb-ready")).to_be_attached()
    settle(page)


def settle(page: Page) -> None:
    """Wait two frames: turns off screen are laid out lazily (content-visibility), so the words'
    positions are final only after the first frames are drawn."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def drag_select(page: Page, turn: str, words: str, *, modifiers: tuple[str, ...] = ()) -> None:
    """Drag the mouse from the first letter of `words` to its last letter, as a person does:
    a quarter into the first letter, three quarters into the last."""
    boxes = page.evaluate(FIND_WORDS, [turn, words])
    assert boxes, f"{words!r} is not in {turn}"
    first, last = boxes["first"], boxes["last"]
    for key in modifiers:
        page.keyboard.down(key)
    # Whole pixels, as a mouse gives (Chromium starts no selection on a press exactly halfway
    # across a glyph at a fractional position).
    page.mouse.move(
        round(first["x"] + first["width"] * 0.25), round(first["y"] + first["height"] / 2)
    )
    page.mouse.down()
    page.mouse.move(
        round(last["x"] + last["width"] * 0.75), round(last["y"] + last["height"] / 2), steps=8
    )
    page.mouse.up()
    for key in reversed(modifiers):
        page.keyboard.up(key)


def coded_text(coding: Coding) -> str:
    return coding.document.text[coding.start : coding.end]


def hex_to_rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_it_codes_a_mouse_selection_grown_to_whole_words(page, live_server, session) -> None:
    open_workbench(page, live_server, session)

    drag_select(page, "#turn-2", "xplain my situatio")

    popover = page.get_by_role("dialog", name="Apply a code")
    expect(popover).to_be_visible()
    expect(popover).to_contain_text("“explain my situation”")
    expect(page.get_by_role("combobox", name="Filter the codebook")).to_be_focused()
    expect(popover.get_by_role("option")).to_have_count(3)
    popover.get_by_role("option", name="Negotiability").click()

    expect(popover).to_be_hidden()
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Negotiability")
    turn = page.locator("#turn-2")
    expect(turn.locator(".wb-margin")).to_contain_text("Negotiability")
    expect(turn.locator("mark.wb-seg")).to_have_text("explain my situation")
    coding = Coding.objects.get()
    assert coded_text(coding) == "explain my situation"
    assert (coding.code, coding.coder.username, coding.consensus) == (
        code("Negotiability"),
        "bob",
        False,
    )


def test_it_codes_with_the_keyboard_only(page, live_server, session) -> None:
    open_workbench(page, live_server, session)

    # Tab from the top of the page into the transcript.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('wb-utt')"):
            break
    expect(page.locator("#turn-1 .wb-utt")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#turn-2 .wb-utt")).to_be_focused()
    page.keyboard.press("ArrowRight")  # selects "I"
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    assert page.evaluate("getSelection().toString()") == "I want to"
    page.keyboard.press("c")

    popover = page.get_by_role("dialog", name="Apply a code")
    expect(popover).to_contain_text("“I want to”")
    page.keyboard.type("expl")
    expect(popover.get_by_role("option")).to_have_count(1)
    page.keyboard.press("Enter")

    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Explainability")
    expect(page.locator("#turn-2 .wb-utt")).to_be_focused()
    coding = Coding.objects.get()
    assert coded_text(coding) == "I want to"
    assert coding.code == code("Explainability")

    # A digit applies the code with that shortcut straight away.
    page.keyboard.press("End")
    for _ in range(3):
        page.keyboard.press("Shift+ArrowLeft")
    assert page.evaluate("getSelection().toString()") == "machine never listens."
    page.keyboard.press("2")
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Accuracy")
    assert coded_text(Coding.objects.get(code=code("Accuracy"))) == "machine never listens."


def test_a_coding_is_still_there_after_a_reload(page, live_server, session) -> None:
    open_workbench(page, live_server, session)
    boxes = page.evaluate(FIND_WORDS, ["#turn-2", "machine"])
    page.mouse.dblclick(round(boxes["first"]["x"] + 3), round(boxes["first"]["y"] + 8))
    expect(page.get_by_role("dialog", name="Apply a code")).to_contain_text("“machine”")
    page.keyboard.press("2")
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Accuracy")

    page.reload()

    turn = page.locator("#turn-2")
    expect(turn.locator("mark.wb-seg")).to_have_text("machine")
    expect(turn.locator("mark.wb-seg")).to_have_attribute("title", "Accuracy")
    expect(turn.get_by_role("button", name="Accuracy")).to_be_visible()
    coding = Coding.objects.get()
    assert (coded_text(coding), coding.code) == ("machine", code("Accuracy"))


def test_two_overlapping_codings_are_both_visible(page, live_server, session, people) -> None:
    text = session.text
    start = text.index("explain my situation to a person")
    Coding.objects.create(
        document=session,
        code=code("Accuracy"),
        coder=people["bob"],
        start=start,
        end=start + len("explain my situation to a person"),
    )
    open_workbench(page, live_server, session)

    drag_select(page, "#turn-2", "my situation")
    expect(page.get_by_role("dialog", name="Apply a code")).to_contain_text("“my situation”")
    page.keyboard.type("neg")
    page.keyboard.press("Enter")
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Negotiability")

    turn = page.locator("#turn-2")
    expect(turn.locator("mark.wb-seg")).to_have_text(["explain ", "my situation", " to a person"])
    overlap = turn.locator("mark.wb-seg", has_text="my situation")
    expect(overlap).to_have_attribute("title", "Accuracy, Negotiability")
    stripes = overlap.evaluate("el => getComputedStyle(el).backgroundImage")
    assert hex_to_rgb("#D55E00") in stripes
    assert hex_to_rgb("#0072B2") in stripes
    margin = turn.locator(".wb-margin")
    expect(margin.get_by_role("button")).to_have_text(["Accuracy", "Negotiability"])
    assert sorted(coded_text(c) for c in Coding.objects.all()) == [
        "explain my situation to a person",
        "my situation",
    ]


def test_removing_a_coding_and_undoing_it_brings_it_back(
    page, live_server, session, people
) -> None:
    start = session.text.index("explain my situation")
    Coding.objects.create(
        document=session,
        code=code("Negotiability"),
        coder=people["bob"],
        start=start,
        end=start + len("explain my situation"),
    )
    open_workbench(page, live_server, session)

    page.locator("#turn-2 .wb-margin").get_by_role("button", name="Negotiability").click()
    details = page.get_by_role("dialog", name="Coding")
    expect(details).to_contain_text("Concept/Negotiability")
    expect(details).to_contain_text("coded by bob")
    expect(details).to_contain_text("explain my situation")
    details.get_by_role("button", name="Remove").click()

    expect(page.locator("#wb-status-line")).to_contain_text("Removed Negotiability")
    expect(page.locator("#turn-2 mark")).to_have_count(0)
    assert not Coding.objects.exists()

    page.keyboard.press("Control+z")

    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Negotiability")
    expect(page.locator("#turn-2 mark.wb-seg")).to_have_text("explain my situation")
    coding = Coding.objects.get()
    assert (coding.code, coding.start, coding.end) == (
        code("Negotiability"),
        start,
        start + len("explain my situation"),
    )
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()


def test_a_script_in_a_transcript_is_shown_as_text(page, live_server, session) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_workbench(page, live_server, session)
    utterance = page.locator("#turn-4 .wb-utt")
    expect(utterance).to_contain_text("<script>alert(1)</script> is what my nephew typed")

    # Alt+Shift while selecting codes the whole turn, which redraws it.
    drag_select(page, "#turn-4", "nephew typed", modifiers=("Alt", "Shift"))
    expect(page.get_by_role("dialog", name="Apply a code")).to_contain_text("“<script>")
    page.keyboard.press("1")
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Negotiability")

    expect(utterance.locator("mark.wb-seg")).to_have_text(
        "<script>alert(1)</script> is what my nephew typed into the form, and nothing happened."
    )
    expect(page.locator("#wb-transcript script")).to_have_count(0)
    page.reload()
    expect(utterance.locator("mark.wb-seg")).to_contain_text("<script>alert(1)</script>")
    assert dialogs == []
    assert coded_text(Coding.objects.get()).startswith("<script>alert(1)</script> is what")


def test_offsets_after_an_emoji_count_code_points(page, live_server, session) -> None:
    open_workbench(page, live_server, session)

    drag_select(page, "#turn-3", "n medicin")
    page.get_by_role("option", name="Accuracy").click()
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Accuracy")
    # After a skin-toned health-worker emoji: five code points, seven UTF-16 units.
    drag_select(page, "#turn-3", "ants a gues")
    page.get_by_role("option", name="Explainability").click()
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Explainability")

    text = session.text
    medicine = Coding.objects.get(code=code("Accuracy"))
    assert coded_text(medicine) == "in medicine"
    assert medicine.start == text.index("in medicine")
    assert coded_text(Coding.objects.get(code=code("Explainability"))) == "wants a guess"
    page.reload()
    expect(page.locator("#turn-3 mark.wb-seg")).to_have_text(["in medicine", "wants a guess"])


def test_the_sentence_snap_codes_whole_sentences(page, live_server, session) -> None:
    open_workbench(page, live_server, session)
    page.get_by_label("Sentence").check()

    drag_select(page, "#turn-2", "machine")
    expect(page.get_by_role("dialog", name="Apply a code")).to_contain_text(
        "“A machine never listens.”"
    )
    page.keyboard.press("3")

    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Explainability")
    assert coded_text(Coding.objects.get()) == "A machine never listens."


def test_a_selection_across_two_turns_stays_in_the_first(page, live_server, session) -> None:
    open_workbench(page, live_server, session)
    first = page.evaluate(FIND_WORDS, ["#turn-2", "person"])["first"]
    last = page.evaluate(FIND_WORDS, ["#turn-3", "matters"])["first"]
    page.mouse.move(round(first["x"] + 2), round(first["y"] + 8))
    page.mouse.down()
    page.mouse.move(round(last["x"] + 2), round(last["y"] + 8), steps=10)
    page.mouse.up()

    expect(page.get_by_role("dialog", name="Apply a code")).to_contain_text(
        "“person. A machine never listens.”"
    )
    expect(page.locator("#wb-status-line")).to_contain_text("stays within one turn")
    page.keyboard.press("1")
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Negotiability")
    assert coded_text(Coding.objects.get()) == "person. A machine never listens."


def test_a_coder_writes_a_memo_recodes_and_undoes_the_recode(
    page, live_server, session, people
) -> None:
    start = session.text.index("explain my situation")
    coding = Coding.objects.create(
        document=session,
        code=code("Negotiability"),
        coder=people["bob"],
        start=start,
        end=start + len("explain my situation"),
    )
    open_workbench(page, live_server, session)

    page.locator("#turn-2 mark.wb-seg").click()
    details = page.get_by_role("dialog", name="Coding")
    details.get_by_label("Memo").fill("Wants a human to listen, not a form.")
    details.get_by_role("button", name="Save memo").click()
    expect(page.locator("#wb-status-line")).to_have_text("Memo saved.")
    memo = Memo.objects.get()
    assert (memo.coding, memo.author.username, memo.text) == (
        coding,
        "bob",
        "Wants a human to listen, not a form.",
    )

    details.get_by_role("button", name="Recode…").click()
    recode = page.get_by_role("dialog", name="Recode Negotiability as")
    expect(recode.get_by_role("option")).to_have_count(2)
    page.keyboard.press("2")
    expect(page.locator("#wb-status-line")).to_contain_text("Recoded: Negotiability → Accuracy")
    expect(page.locator("#turn-2 .wb-margin")).to_have_text("Accuracy")
    coding.refresh_from_db()
    assert coding.code == code("Accuracy")

    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#wb-status-line")).to_contain_text("Recoded: Accuracy → Negotiability")
    coding.refresh_from_db()
    assert coding.code == code("Negotiability")

    page.reload()
    page.locator("#turn-2 .wb-margin").get_by_role("button", name="Negotiability").click()
    expect(page.get_by_label("Memo")).to_have_value("Wants a human to listen, not a form.")


def test_a_refused_coding_is_taken_back_with_the_servers_reason(
    page, live_server, session, script_errors
) -> None:
    open_workbench(page, live_server, session)
    code("Explainability").delete()  # removed by an owner in another tab

    drag_select(page, "#turn-2", "machine")
    page.get_by_role("option", name="Explainability").click()

    expect(page.locator("#wb-status-line")).to_have_text(
        "Not saved: code: No such code in this study."
    )
    expect(page.locator("#turn-2 mark")).to_have_count(0)
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    assert not Coding.objects.exists()
    assert script_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    script_errors.clear()


def test_a_viewer_reads_codings_but_cannot_code(page, live_server, session, people) -> None:
    start = session.text.index("machine")
    Coding.objects.create(
        document=session,
        code=code("Accuracy"),
        coder=people["bob"],
        start=start,
        end=start + len("machine"),
    )
    open_workbench(page, live_server, session, user="victor")
    expect(page.locator("#wb-status-line")).to_contain_text("Read only")

    drag_select(page, "#turn-2", "explain my")
    expect(page.get_by_role("dialog", name="Apply a code")).to_be_hidden()
    expect(page.locator("#wb-status-line")).to_contain_text("Read only")

    page.locator("#turn-2 .wb-margin").get_by_role("button", name="Accuracy bob").click()
    details = page.get_by_role("dialog", name="Coding")
    expect(details).to_contain_text("coded by bob")
    expect(details.get_by_role("button", name="Remove")).to_have_count(0)
    assert Coding.objects.count() == 1


def test_accepting_and_rejecting_suggestions(page, live_server, session) -> None:
    Code.objects.filter(name="Accuracy").update(patterns="medicine")
    Code.objects.filter(name="Explainability").update(patterns="lemma: explain")
    open_workbench(page, live_server, session)

    page.get_by_role("button", name="Show suggestions").click()

    expect(page.locator("#wb-status-line")).to_contain_text("2 suggestions")
    expect(page.get_by_role("button", name="Hide suggestions")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("mark.wb-sug-start")).to_have_count(2)
    assert not Coding.objects.exists()  # nothing is coded without a click

    page.locator("#turn-3 .wb-margin").get_by_role("button", name="Suggested: Accuracy").click()
    suggestion = page.get_by_role("dialog", name="Suggestion")
    expect(suggestion).to_contain_text("in medicine")
    suggestion.get_by_role("button", name="Accept").click()

    expect(page.locator("#wb-status-line")).to_contain_text("Accepted: Accuracy")
    turn = page.locator("#turn-3")
    expect(turn.locator("mark.wb-sug")).to_have_count(0)
    expect(turn.locator(".wb-margin").get_by_role("button")).to_have_text(["Accuracy"])
    coding = Coding.objects.get()
    medicine = session.text.index("medicine")
    sentence = session.sentences.get(start__lte=medicine, end__gt=medicine)
    assert coding.code == code("Accuracy")
    assert (coding.start, coding.end) == (sentence.start, sentence.end)
    assert "😀 in medicine" in coded_text(coding)
    assert SuggestionDecision.objects.get(code=code("Accuracy")).verdict == "accepted"

    page.locator("#turn-2 mark.wb-sug").first.click()
    page.get_by_role("dialog", name="Suggestion").get_by_role("button", name="Reject").click()

    expect(page.locator("#wb-status-line")).to_contain_text("Rejected: Explainability")
    expect(page.locator("mark.wb-sug")).to_have_count(0)
    assert SuggestionDecision.objects.get(code=code("Explainability")).verdict == "rejected"
    assert Coding.objects.count() == 1

    # Neither comes back: one is coded, the other rejected.
    page.reload()
    page.get_by_role("button", name="Show suggestions").click()
    expect(page.locator("#wb-status-line")).to_contain_text("No suggestions")


def test_an_owner_codes_the_consensus_layer(page, live_server, session) -> None:
    open_workbench(page, live_server, session, user="alice", layer="consensus")
    expect(page.get_by_role("button", name="Show suggestions")).to_be_hidden()

    drag_select(page, "#turn-2", "person")
    page.keyboard.press("1")

    expect(page.locator("#wb-status-line")).to_contain_text("Saved: Negotiability")
    coding = Coding.objects.get()
    assert (coded_text(coding), coding.consensus, coding.coder.username) == (
        "person",
        True,
        "alice",
    )
    page.goto(page.url.replace("layer=consensus", "layer=mine"))
    expect(page.locator("#turn-2 mark")).to_have_count(0)


def test_blind_coding_withholds_other_coders_codings(page, live_server, session, people) -> None:
    aino = session.text.index("I want to be able")
    eero = session.text.index("Accuracy matters")
    Coding.objects.create(
        document=session,
        code=code("Negotiability"),
        coder=people["alice"],
        start=aino,
        end=aino + 9,
    )
    Coding.objects.create(
        document=session, code=code("Accuracy"), coder=people["bob"], start=eero, end=eero + 8
    )
    Study.objects.filter(pk=session.study_id).update(blind_coding=True)

    open_workbench(page, live_server, session, layer="all")

    expect(page.locator(".wb-blind")).to_contain_text("you see only your own codings")
    expect(page.get_by_role("link", name="All coders")).to_have_count(0)
    expect(page.locator("#turn-3 .wb-margin")).to_have_text("Accuracy")
    expect(page.locator("#turn-2 .wb-margin").get_by_role("button")).to_have_count(0)
    # Nothing of Alice's coding reached the page at all, not even hidden.
    data = json.loads(page.locator("#wb-data").text_content())
    assert [c["coder"] for c in data["codings"]] == ["bob"]

    Study.objects.filter(pk=session.study_id).update(blind_coding=False)
    page.goto(page.url)
    expect(page.locator("#wb-transcript.wb-ready")).to_be_attached()
    expect(page.locator("#turn-2 .wb-margin")).to_contain_text("Negotiability")
