"""A reviewer clicks a number in a crosstab, reads the excerpts behind it, and follows one to
its place in the coding view."""

from __future__ import annotations

import io
import re

from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW, WIDTHS


def test_a_crosstab_cell_opens_its_excerpts_and_one_opens_in_the_coding_view(
    page: Page, live_server: LiveServer, transactional_db: None
) -> None:
    call_command("load_demo", "--password", "demo-pass-123", stdout=io.StringIO())
    log_in(page, live_server, "alice", "demo-pass-123")
    page.goto(f"{live_server.url}/studies/demo/exports/?table=crosstab&by=country&layer=all")

    table = page.get_by_role("region", name="The table").locator("table")
    row = table.locator("tbody tr").filter(has=page.get_by_role("rowheader", name="negotiability"))
    # The FI column is the second cell after the row header in the order DE, FI, GB, US.
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    cell = row.locator("td").nth(headers.index("FI") - 1)
    number = int(cell.inner_text().replace(",", ""))
    assert number > 0
    cell.get_by_role("link").click()

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("negotiability")
    expect(heading).to_contain_text("FI")
    expect(page.locator("#cell-count")).to_have_text(f"{number:,} coded segments")
    excerpts = page.locator(".cell-excerpt")
    expect(excerpts).to_have_count(min(number, 100))  # a page holds a hundred
    # The page fits a 1024-pixel window and its text is readable (the layout walk's checks).
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        found = page.evaluate(OVERFLOW)
        assert found["scrollWidth"] <= found["innerWidth"], (width, found["culprits"])
        assert page.evaluate(CONTRAST) == [], width
    first = excerpts.first
    quote = first.locator("blockquote").inner_text().strip()
    expect(first).to_contain_text("FI")
    assert quote

    first.get_by_role("link", name="Open in the coding view").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+/code/\?layer=all#turn-\d+$"))
    turn_id = page.url.rsplit("#", 1)[1]
    turn = page.locator(f"[id='{turn_id}']")
    # The coding view opens at the excerpt's turn: it is on the screen and holds the quote.
    expect(turn).to_be_in_viewport()
    snippet = " ".join(quote.split()[:6])
    assert snippet in " ".join(turn.inner_text().split())
