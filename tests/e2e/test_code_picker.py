"""The code picker of the coding view groups the codes under their dimension (Concept,
Domain), with a heading per group, and still filters by typing, applies digit shortcuts and
walks the options with the arrows across the groups."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from coding.models import Code, Coding
from studies.models import Document
from tests.e2e.test_workbench import code, coded_text, drag_select, open_workbench, session

__all__ = ["session"]  # the coding session of the workbench tests, used here as a fixture


@pytest.fixture
def two_dimensions(session: Document) -> Document:
    """The session's codebook with a second dimension, Domain, and a code outside both."""
    study = session.study
    domain = Code.objects.create(study=study, name="Domain", codable=False, order=1)
    for order, name in enumerate(["hiring", "medicine"]):
        Code.objects.create(study=study, parent=domain, name=name, order=order, shortcut=4 + order)
    Code.objects.create(study=study, name="Surprise", order=2)
    return session


def group_options(page: Page) -> list[tuple[str, list[str]]]:
    """(heading, option names) per group, in the order shown."""
    found = page.evaluate(
        """() => [...document.querySelectorAll('#wb-codes [role=group]')].map(group => [
            document.getElementById(group.getAttribute('aria-labelledby')).textContent,
            [...group.querySelectorAll('[role=option] .wb-opt-name')].map(n => n.textContent),
        ])"""
    )
    return [(heading, names) for heading, names in found]


def test_the_picker_groups_codes_by_dimension(page: Page, live_server, two_dimensions) -> None:
    open_workbench(page, live_server, two_dimensions)
    drag_select(page, "#turn-2", "xplain my situatio")
    popover = page.get_by_role("dialog", name="Apply a code")
    expect(popover).to_be_visible()

    assert group_options(page) == [
        ("Concept", ["Negotiability", "Accuracy", "Explainability"]),
        ("Domain", ["hiring", "medicine"]),
        ("Other codes", ["Surprise"]),
    ]
    domain = popover.get_by_role("group", name="Domain")
    expect(domain.get_by_role("option")).to_have_count(2)
    expect(popover.get_by_role("group", name="Concept").get_by_role("option")).to_have_count(3)

    # Typing filters inside the groups; a group with nothing left disappears.
    page.keyboard.type("med")
    assert group_options(page) == [("Domain", ["medicine"])]
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    expect(popover.get_by_role("option")).to_have_count(6)

    # The arrows walk the options as shown, from the Concept group into the Domain group.
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    expect(domain.get_by_role("option", name="hiring")).to_have_attribute("aria-selected", "true")
    filter_box = page.get_by_role("combobox", name="Filter the codebook")
    expect(filter_box).to_have_attribute("aria-activedescendant", f"wb-opt-{code('hiring').pk}")
    page.keyboard.press("Enter")
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: hiring")
    assert coded_text(Coding.objects.get(code=code("hiring"))) == "explain my situation"

    # A digit in the picker applies the code with that shortcut, whichever group it is in.
    drag_select(page, "#turn-2", "achine never listen")
    expect(popover).to_be_visible()
    page.keyboard.press("5")
    expect(page.locator("#wb-status-line")).to_contain_text("Saved: medicine")
    assert coded_text(Coding.objects.get(code=code("medicine"))) == "machine never listens"
