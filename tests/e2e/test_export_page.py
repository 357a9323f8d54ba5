from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from coding.models import Code, code_paths
from studies.models import Job
from tests.e2e.conftest import log_in, wait_until
from tests.e2e.test_jobs import DATABASE_TASKS


def test_an_owner_sees_a_crosstab_with_its_figure_and_downloads_it_for_excel(
    page: Page, live_server: LiveServer, transactional_db: None, tmp_path: Path, settings: object
) -> None:
    call_command("load_demo", "--password", "demo-pass-123", stdout=io.StringIO())

    log_in(page, live_server, "alice", "demo-pass-123")
    page.goto(f"{live_server.url}/studies/demo/")
    page.get_by_role("navigation", name="Study").get_by_role("link", name="Exports").click()
    expect(page.get_by_role("heading", name="Exports", exact=True)).to_be_visible()

    page.get_by_label("Table", exact=True).select_option(label="Crosstab: codes by group")
    page.get_by_label("Grouping").select_option(label="Country")
    page.get_by_label("Measure").select_option(label="Share of participants")
    # Options the crosstab does not read are out of the way.
    expect(page.get_by_label("Quotes per code")).to_be_hidden()
    page.get_by_role("button", name="Show table").click()

    expect(page.get_by_label("Measure")).to_have_value("participant_share")
    table = page.get_by_role("region", name="The table").locator("table")
    # Each share says of how many: the country's participants in the roster.
    sizes = {"DE": 12, "FI": 12, "GB": 12, "US": 24}
    for country, n in sizes.items():
        header = f"{country} (n={n})"
        expect(table.get_by_role("columnheader", name=header, exact=True)).to_be_visible()
    expect(table.get_by_role("columnheader", name="Code", exact=True)).to_be_visible()
    expect(table.get_by_role("rowheader", name="negotiability")).to_be_visible()
    figure = page.locator(".exp-figure img")
    expect(figure).to_have_attribute("alt", "Figure: " + table.locator("caption").inner_text())
    wait_until(
        page,
        "(i => i.complete && i.naturalWidth > 0)(document.querySelector('.exp-figure img'))",
    )

    with page.expect_download() as info:
        page.get_by_role("link", name="Excel (.xlsx)").click()
    download = info.value
    assert download.suggested_filename == "demo_crosstab_country_participant_share.xlsx"
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    rows = list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True))
    # The reading form says "Code" (the tidy .csv keeps code_path) and each group's size.
    groups = ("DE (n=12)", "FI (n=12)", "GB (n=12)", "US (n=24)", "Total (n=60)")
    # Then whether each code's finding rests on one workshop (exports.robustness).
    assert rows[0][:6] == ("Code", *groups)
    assert rows[0][-1] == "Rests on one workshop"
    codes = list(Code.objects.filter(study__slug="demo"))
    codable = {
        path for pk, path in code_paths(codes).items() if pk in {c.pk for c in codes if c.codable}
    }
    code_rows = {row[0] for row in rows[1:] if row[1] is not None and row[0] != "Total"}
    assert code_rows == codable
    assert "Concept/negotiability" in code_rows

    # The paper pack is work, started by the button (a POST) and, with a worker configured, made
    # by a job whose page opens at once.
    settings.TASKS = DATABASE_TASKS
    page.get_by_role("button", name="Download the paper pack (.zip)").click()
    expect(page.get_by_role("heading", name="Paper pack")).to_be_visible()
    expect(page.locator("#job-status")).to_contain_text("Waiting for a worker")
    job = Job.objects.get(study__slug="demo", kind="pack")
    assert job.user.get_username() == "alice" and job.status == Job.Status.QUEUED
