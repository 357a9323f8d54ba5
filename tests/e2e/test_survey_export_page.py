"""Browser test: an owner exports a survey from the export page, at a 1024-pixel window.

Alice's study (conftest's roster and tests/test_survey_exports.py's transcripts, codings and
surveys) is opened in the browser: she chooses the survey results with their figure, downloads
the responses as SPSS, and groups the codes by the answer to a Likert question.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyreadstat
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.models import Study
from tests.e2e.conftest import log_in
from tests.test_survey_exports import build_joined


@pytest.fixture
def joined(roster_study: Study, people: dict[str, User]) -> dict:
    return build_joined(roster_study, people)


def test_an_owner_exports_a_survey_and_groups_codes_by_an_answer(
    page: Page, live_server: LiveServer, transactional_db: None, joined: dict
) -> None:
    alice = User.objects.get(username="alice")
    alice.set_password("pw-alice-long")
    alice.save()
    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", "pw-alice-long")
    page.goto(f"{live_server.url}/studies/adm/exports/")

    page.get_by_label("Table", exact=True).select_option("survey_results")
    page.get_by_label("Survey", exact=True).select_option(label="Before the workshop")
    # The survey results read no codings and no measure: those options are out of the way.
    expect(page.get_by_label("Measure")).to_be_hidden()
    page.get_by_role("button", name="Show table").click()
    expect(page.get_by_role("heading", name="Results: Before the workshop")).to_be_visible()
    figure = page.locator(".exp-figure img")
    expect(figure).to_be_visible()
    assert page.evaluate("img => img.complete && img.naturalWidth > 0", arg=figure.element_handle())

    page.get_by_label("Table", exact=True).select_option("survey_responses")
    page.get_by_role("button", name="Show table").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="SPSS (.sav, labelled)").click()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "responses.sav"
        download.value.save_as(path)
        frame, meta = pyreadstat.read_sav(str(path))
    assert list(frame["participant"]) == ["P01", "P02", "P03", "P04", ""]
    assert meta.variable_value_labels["trust"][4.0] == "Agree"

    page.get_by_label("Table", exact=True).select_option("crosstab")
    page.get_by_label("Grouping").select_option("survey:pre/trust")
    page.get_by_label("Measure").select_option(label="Participants")
    page.get_by_role("button", name="Show table").click()
    table = page.get_by_role("region", name="The table").locator("table")
    expect(table.get_by_role("columnheader", name="Agree", exact=True)).to_be_visible()
    expect(table.get_by_role("columnheader", name="(missing)", exact=True)).to_be_visible()
    # Nothing pushes the page sideways at 1024 pixels; a wide table scrolls in its own box.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
