from __future__ import annotations

import io

from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.conftest import log_in


def test_a_researcher_logs_in_opens_the_demo_study_and_reads_a_transcript(
    page, live_server, transactional_db
) -> None:
    call_command("load_demo", "--password", "demo-pass-123", stdout=io.StringIO())

    log_in(page, live_server, "victor", "demo-pass-123")
    page.get_by_role("link", name="Judging algorithmic decisions (demo)").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Judging algorithmic decisions (demo)"
    )
    workshops = page.locator("table.data tbody tr")
    expect(workshops).to_have_count(5)
    expect(page.get_by_text("Finland (FI)")).to_be_visible()
    expect(page.locator("dl.stats")).to_contain_text("60")

    page.get_by_role("navigation", name="Study").get_by_role("link", name="Documents").click()
    page.get_by_role("link", name="DE-1", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("DE-1")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Germany")
    expect(facts).to_contain_text("3 April 2025")
    expect(facts).to_contain_text("de")
    first = page.locator("table.transcript tbody tr").first
    expect(first.locator(".time")).to_have_text("0:01:02")
    expect(first.locator(".speaker")).to_contain_text("Moderatorin")
    expect(first.locator(".utterance")).to_contain_text("Schön, dass Sie alle da sind.")
    anna = page.locator("table.transcript tbody tr", has_text="Anna").first
    expect(anna.locator(".speaker")).to_contain_text("P13")
    # A viewer sees no import link.
    expect(page.get_by_role("link", name="Import")).to_have_count(0)
