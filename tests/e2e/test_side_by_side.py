"""The side-by-side comparison in a real browser: Alice, the owner, compares Bob and Carol on the
hand-built hiring session (the `case` fixture of tests/conftest.py), filters by a code and takes
Bob's coding on one disagreement."""

from __future__ import annotations

from django.urls import reverse
from playwright.sync_api import Page, expect

from coding.models import AdjudicationDecision, Coding
from tests.conftest import Case
from tests.e2e.conftest import log_in

DIFFERS_BACKGROUND = "rgb(255, 246, 224)"  # .sbs-unit.differs in static/coding/reliability.css


def test_the_owner_filters_by_a_code_and_takes_a_on_a_disagreement(
    page: Page, live_server: object, case: Case
) -> None:
    log_in(page, live_server, "alice", "pw-alice")
    page.get_by_role("link", name="Algorithmic decision-making").click()
    page.get_by_role("link", name="Reliability").click()
    expect(page.get_by_role("heading", name="Inter-coder reliability")).to_be_visible()
    page.get_by_role("link", name="bob and carol").click()
    page.get_by_role("link", name="Hiring session").click()

    expect(page.locator("#sbs-progress")).to_have_text("0 of 4 disagreements decided")
    rows = page.locator("tr.sbs-unit")
    expect(rows).to_have_count(4)
    differing = page.locator("tr.sbs-unit.differs")
    expect(differing).to_have_count(3)
    expect(differing.locator(".sbs-flag")).to_have_text(["differs"] * 3)
    expect(differing.first).to_contain_text("A machine never listens.")
    expect(differing.first.locator("td").first).to_have_css("background-color", DIFFERS_BACKGROUND)
    agreeing = rows.filter(has_text="I want a person.")
    expect(agreeing).not_to_have_class("sbs-unit differs")
    expect(agreeing.locator("td").first).not_to_have_css("background-color", DIFFERS_BACKGROUND)

    page.get_by_label("Code").select_option(label="accuracy")
    page.get_by_label("Only differences").check()
    page.get_by_role("button", name="Show").click()

    expect(rows).to_have_count(2)
    expect(rows).to_contain_text(["A machine never listens.", "It was accurate."])
    machine = rows.filter(has_text="A machine never listens.")
    expect(machine.locator("td.sbs-codes").nth(0)).to_have_text("accuracy")  # Bob
    expect(machine.locator("td.sbs-codes").nth(1)).to_have_text("—")  # Carol

    machine.get_by_role("button", name="Take A for accuracy").click()

    expect(page.get_by_role("status").first).to_contain_text("accuracy: took bob's coding")
    start, _ = case.unit(2)
    assert page.url.endswith(f"#u-{start}")
    machine = page.locator(f"#u-{start}")
    expect(machine).to_contain_text("Decided: took A (bob), by alice")
    expect(machine.locator("td.sbs-codes").nth(2)).to_have_text("accuracy")  # consensus
    expect(machine.get_by_role("button", name="Take A for accuracy")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#sbs-progress")).to_have_text("1 of 4 disagreements decided")
    # Still filtered after the round trip.
    expect(page.get_by_label("Code")).to_have_value(str(case.codes["accuracy"].pk))
    expect(page.locator("tr.sbs-unit")).to_have_count(2)

    coding = Coding.objects.get(consensus=True)
    assert (case.document.text[coding.start : coding.end], coding.code.name) == (
        "machine never",
        "accuracy",
    )
    assert coding.coder.username == "alice"
    assert AdjudicationDecision.objects.get().decision == "a"


def test_a_viewer_reads_the_comparison_without_buttons(
    page: Page, live_server: object, case: Case
) -> None:
    log_in(page, live_server, "victor", "pw-victor")
    url = reverse("coding:side_by_side", args=["adm", case.document.pk])
    page.goto(f"{live_server.url}{url}?a=bob&b=carol")

    expect(page.locator("tr.sbs-unit.differs")).to_have_count(3)
    expect(page.get_by_role("button", name="Take A for accuracy")).to_have_count(0)
    expect(page.get_by_role("button", name="Accept all agreements")).to_have_count(0)
