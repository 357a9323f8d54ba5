"""The owner's Surveys section in Chromium: Alice creates a survey, makes the participants'
links and reads them in the table; the list, the overview and the links page fit 1024 pixels
and read at WCAG AA contrast."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.models import Membership, Study
from studies.services import import_roster
from surveys.models import Survey
from tests.conftest import ROSTER
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW

PASSWORD = "owner-pass-123"


@pytest.fixture
def study(transactional_db: None) -> Study:
    alice = User.objects.create_user("alice", "alice@example.org", PASSWORD)
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    return study


def fits_and_reads(page: Page) -> list[str]:
    found = page.evaluate(OVERFLOW)
    problems = []
    if found["scrollWidth"] > found["innerWidth"]:
        problems.append(f"{page.url}: {found['scrollWidth']}px wide: {found['culprits']}")
    return problems + [f"{page.url}: {failure}" for failure in page.evaluate(CONTRAST)]


def test_the_owner_creates_a_survey_and_its_links(
    page: Page, live_server: LiveServer, study: Study, script_errors: list[str]
) -> None:
    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/studies/adm/")
    page.get_by_role("navigation", name="Study").get_by_role("link", name="Surveys").click()
    expect(page.get_by_text("No surveys yet")).to_be_visible()
    problems = fits_and_reads(page)

    page.get_by_role("link", name="New survey").click()
    page.get_by_label("Title").fill("Before the workshop")
    page.get_by_label("Languages").fill("en, fi")
    page.get_by_label("Opens at").fill("2030-03-01T09:00")
    page.get_by_label("Closes at").fill("2030-02-01T09:00")
    page.get_by_role("button", name="Create survey").click()
    expect(page.get_by_text("The survey must close after it opens")).to_be_visible()
    assert not Survey.objects.exists()
    # The refused form answers 400, which the browser logs; that one is expected.
    assert [e for e in script_errors if "400" not in e] == []
    script_errors.clear()
    problems += fits_and_reads(page)
    page.get_by_label("Closes at").fill("2030-04-01T09:00")
    page.get_by_label("Also allow anonymous answers through one shared link").check()
    page.get_by_role("button", name="Create survey").click()

    expect(page.get_by_role("heading", name="Before the workshop", level=1)).to_be_visible()
    expect(page.get_by_text("Created the survey Before the workshop")).to_be_visible()
    expect(page.get_by_text("Not open yet")).to_be_visible()
    expect(page.get_by_role("table").first.get_by_role("rowheader", name="FI-1")).to_be_visible()
    problems += fits_and_reads(page)

    page.get_by_role("link", name="Links and e-mail").click()
    expect(page.get_by_text("No links yet")).to_be_visible()
    page.get_by_label("Create links for").select_option(label="Workshop GB-1")
    page.get_by_role("button", name="Create links").click()
    expect(page.get_by_text("Created 2 links in workshop GB-1.")).to_be_visible()
    page.get_by_role("button", name="Create links").click()  # everyone on the roster
    expect(page.get_by_text("Created 3 links.")).to_be_visible()

    survey = Survey.objects.get()
    table = page.locator("table.links")
    expect(table.locator("tbody tr")).to_have_count(5)
    for invitation in survey.invitations.all():
        expect(table.get_by_text(f"/s/{invitation.token}/")).to_be_visible()
    expect(page.get_by_label("Shared link for anonymous answers")).to_have_value(
        f"{live_server.url}/s/{survey.anonymous_token}/"
    )
    page.get_by_label("E-mail address of P04").fill("amara@example.org")
    page.get_by_label("Select P04").check()
    page.get_by_role("button", name="Send by e-mail to the selected").click()
    expect(page.get_by_text("Saved 1 e-mail address.")).to_be_visible()
    expect(page.get_by_text("Sent 1 e-mail.")).to_be_visible()
    expect(page.get_by_label("E-mail address of P04")).to_have_value("amara@example.org")
    problems += fits_and_reads(page)

    page.get_by_role("link", name="Surveys", exact=True).first.click()
    row = page.get_by_role("row", name="Before the workshop")
    expect(row).to_contain_text("en, fi")
    expect(row.get_by_role("cell").nth(5)).to_have_text("5")
    problems += fits_and_reads(page)
    assert not problems, "\n".join(problems)
