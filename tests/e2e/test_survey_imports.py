"""The owner imports a file of survey responses in Chromium at 1024 pixels: the preview shows
each column and the question it answers, one column is re-mapped, and the import is confirmed;
and a refused XLSForm says where it went wrong. Every step fits the window and reads at WCAG AA
contrast."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.models import Membership, Study
from studies.services import import_roster
from surveys.models import Response, Survey
from tests.conftest import ROSTER
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW
from tests.test_responses_import import DOMAINS, TRUST, add_options, add_question
from tests.test_survey_imports_pages import KOBO_SURVEY, kobo_form

PASSWORD = "pw-alice-123"
RESPONSES = (
    "participant,Ich vertraue,Bereiche,comments\n"
    'P01,Stimme voll zu,Hiring decisions; justice,"A long comment that goes on and on, about '
    "how a bank's system refused a loan without a reason anyone could tell\"\n"
    "Eero,2,medicine,\n"
)


def fits_and_reads(page: Page) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["innerWidth"], found["culprits"]
    assert page.evaluate(CONTRAST) == []


def test_an_owner_previews_remaps_and_imports_responses(
    page: Page, live_server: LiveServer, transactional_db: None, tmp_path: Path
) -> None:
    alice = User.objects.create_user("alice", password=PASSWORD)
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    survey = Survey.objects.create(
        study=study, slug="pre", title="Before the workshop", languages="en,de"
    )
    add_options(
        add_question(survey, "trust", "likert5", "I trust algorithms", "Ich vertraue"), TRUST
    )
    add_options(add_question(survey, "domains", "multiple", "Which domains?"), DOMAINS)
    add_question(survey, "comments", "long_text", "Anything else?")
    responses = tmp_path / "pre.csv"
    responses.write_text(RESPONSES, encoding="utf-8")

    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/studies/adm/surveys/pre/responses/")
    expect(page.get_by_text("No responses yet")).to_be_visible()
    fits_and_reads(page)
    page.get_by_role("link", name="Import responses from a file").click()

    # A file with problems: each is named by row, column and value, and it cannot be confirmed.
    bad = tmp_path / "bad.csv"
    bad.write_text("participant,trust,I trust algorithms\nP01,maybe,1\nP99,2,\n")
    page.get_by_label("Response file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and preview").click()
    problems = page.get_by_role("alert")
    expect(problems).to_contain_text("3 problems: nothing can be imported")
    listed = page.locator("section[aria-labelledby=problems-h] tbody tr")
    expect(listed).to_have_count(3)
    expect(listed.nth(1)).to_contain_text("'maybe' is not an answer to trust")
    expect(listed.nth(2)).to_contain_text("P99")
    assert page.get_by_role("button", name="Import 2 responses").count() == 0
    fits_and_reads(page)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".messages")).to_contain_text("Import cancelled: nothing was written.")

    page.get_by_label("Response file").set_input_files(str(responses))
    fits_and_reads(page)
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_role("heading", name="Preview: pre.csv")).to_be_visible()
    fits_and_reads(page)
    trust = page.get_by_label("Question answered by column Ich vertraue")
    expect(trust).to_have_value("trust")  # matched by its German label
    bereiche = page.get_by_label("Question answered by column Bereiche")
    expect(bereiche).to_have_value("")  # a header that names nothing is ignored
    expect(page.get_by_role("cell", name="Hiring decisions; justice")).to_be_visible()

    # The owner maps the unmatched column and previews again before importing.
    bereiche.select_option("domains")
    page.get_by_role("button", name="Update the preview").click()
    expect(page.get_by_label("Question answered by column Bereiche")).to_have_value("domains")
    fits_and_reads(page)
    assert Response.objects.count() == 0  # nothing written yet
    page.get_by_role("button", name="Import 2 responses").click()

    expect(page.locator(".messages")).to_contain_text("Imported 2 responses to pre.")
    fits_and_reads(page)
    page.get_by_role("link", name="P01").click()
    expect(page.get_by_text("Strongly agree (sa)")).to_be_visible()
    expect(page.get_by_text("Justice (justice)")).to_be_visible()
    fits_and_reads(page)
    answers = {
        a.question.code: a.value
        for a in Response.objects.get(participant__code="P02").answers.select_related("question")
    }
    assert answers == {"trust": "d", "domains": "medicine"}


def test_a_refused_xlsform_names_the_row_and_column_on_a_page_that_fits(
    page: Page, live_server: LiveServer, transactional_db: None, tmp_path: Path
) -> None:
    alice = User.objects.create_user("alice", password=PASSWORD)
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    form = tmp_path / "post.xlsx"
    form.write_bytes(
        kobo_form([*KOBO_SURVEY, ["geopoint", "where", "Where are you?", "Wo sind Sie?"]])
    )

    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/studies/adm/surveys/import/")
    fits_and_reads(page)
    page.get_by_label("XLSForm file").set_input_files(str(form))
    page.get_by_role("button", name="Import survey").click()

    expect(page.get_by_role("alert")).to_contain_text(
        "Nothing was imported: post.xlsx, sheet 'survey', row 7, column 'type': 'geopoint': "
        "locations are not supported"
    )
    fits_and_reads(page)
    assert not Survey.objects.exists()
