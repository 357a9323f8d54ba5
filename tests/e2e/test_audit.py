"""The audit trail in a real browser at 1024 px: an owner opens it from the overview, filters
it by kind and person, reads the result without scrolling sideways, and downloads the same
selection as .csv."""

from __future__ import annotations

import csv
import io

from django.contrib.auth.models import User
from playwright.sync_api import expect

from coding.models import Coding
from coding.services import create_code, update_code
from studies.audit import record
from studies.models import AuditEvent, Membership, Study
from studies.services import import_roster, import_transcripts
from tests.conftest import ROSTER
from tests.e2e.conftest import log_in
from tests.test_transcript_import import FI_TXT

PASSWORD = "pw-alice-long-enough"


def a_study_with_a_trail() -> Study:
    alice = User.objects.create_user("alice", "alice@example.org", PASSWORD)
    bob = User.objects.create_user("bob", "bob@example.org", "pw-bob-long-enough")
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    Membership.objects.create(study=study, user=bob, role="coder")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    [outcome] = import_transcripts(
        study=study,
        workshop=study.workshops.get(code="FI-1"),
        files=[("FI-1.txt", FI_TXT.encode())],
        user=alice,
    )
    code = create_code(study=study, name="negotiability")
    update_code(code=code, name="negotiability (working around a decision-maker)")
    for start in range(0, 40, 10):
        Coding.objects.create(
            document=outcome.document, code=code, coder=bob, start=start, end=start + 5
        )
    # A long line without spaces must wrap inside its cell, not widen the page.
    record(study, AuditEvent.Action.EXPORT, "Exported " + "x" * 300 + " as .csv", user=alice)
    return study


def test_an_owner_filters_the_trail_at_1024_px_and_downloads_it(
    page, live_server, transactional_db
) -> None:
    a_study_with_a_trail()
    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)
    page.goto(live_server.url + "/studies/adm/")

    page.get_by_role("link", name="Audit trail").click()

    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    table = page.locator("table.audit")
    expect(table).to_contain_text("Imported 1 transcript into FI-1")
    expect(table).to_contain_text("Renamed code 'negotiability'")
    expect(table).to_contain_text("bob coded 4 passages in FI-1")

    page.get_by_label("Kind").select_option(label="Coding")
    page.get_by_label("Person").select_option("bob")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url(
        live_server.url + "/studies/adm/audit/?kind=coding&person=bob&since=&until="
    )
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("bob")
    expect(rows.first).to_contain_text("Coding")
    expect(rows.first).to_contain_text("bob coded 4 passages in FI-1")
    expect(page.get_by_label("Kind")).to_have_value("coding")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1024, f"the filtered page is {width}px wide"

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download .csv").click()
    download = download_info.value
    assert download.suggested_filename == "adm-audit.csv"
    with open(download.path(), encoding="utf-8-sig") as handle:
        rows_in_file = list(csv.DictReader(io.StringIO(handle.read())))
    assert [(r["person"], r["kind"], r["summary"]) for r in rows_in_file] == [
        ("bob", "coding", "bob coded 4 passages in FI-1")
    ]

    # The whole trail, the long line included, fits the window too.
    page.get_by_role("link", name="Clear").click()
    expect(table).to_contain_text("Exported xxx")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1024, f"the whole trail is {width}px wide"
