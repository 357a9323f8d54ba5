"""REFI-QDA in the browser: an owner exports the demo study as a .qdpx from its overview, imports
the file into a new study through the Import project page (upload, a preview with the counts,
confirm), and codes on in the copy, where the imported document opens with its codings. The
import pages fit a 1024-pixel window and their text meets WCAG AA contrast."""

from __future__ import annotations

import io
from pathlib import Path

from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from coding.models import Code, CodeTree, Coding
from exports.qdpx import write_qdpx
from studies.models import Study
from studies.services import create_study
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW

PASSWORD = "demo-pass-123"


def assert_fits_and_reads(page: Page) -> None:
    """The page at 1024 pixels: no sideways scrolling, no text below WCAG AA contrast."""
    page.set_viewport_size({"width": 1024, "height": 800})
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["innerWidth"], found["culprits"]
    assert page.evaluate(CONTRAST) == []
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_owner_takes_the_demo_to_a_new_study_as_a_qdpx(
    page: Page, live_server: LiveServer, transactional_db: None, tmp_path: Path
) -> None:
    call_command("load_demo", "--password", PASSWORD, stdout=io.StringIO())
    demo = Study.objects.get(slug="demo")
    alice = User.objects.get(username="alice")
    copy = create_study(owner=alice, name="Demo, again", slug="again")
    _data, counts = write_qdpx(demo)

    log_in(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/studies/demo/")
    with page.expect_download() as info:
        page.get_by_role("button", name="Export project (.qdpx)").click()
    download = info.value
    assert download.suggested_filename == "demo.qdpx"
    exported = tmp_path / download.suggested_filename
    download.save_as(exported)

    page.goto(f"{live_server.url}/studies/again/")
    page.get_by_role("link", name="Import project").click()
    expect(page.get_by_role("heading", name="Import a project")).to_be_visible()
    assert_fits_and_reads(page)

    page.get_by_label("Project or codebook file").set_input_files(str(exported))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="Review import: demo.qdpx")).to_be_visible()
    counts_table = page.locator("#qdpx-counts")
    codings = counts_table.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="Codings")
    )
    expect(codings.get_by_role("cell").nth(1)).to_have_text(f"{counts.codings:,}")
    sources = counts_table.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="Sources")
    )
    expect(sources.get_by_role("cell").nth(2)).to_have_text(f"{counts.sources:,}")
    expect(page.locator("p.lead")).to_contain_text(f"adds {counts.codes} codes")
    # Nothing is written before the owner confirms.
    assert not copy.documents.exists()
    assert_fits_and_reads(page)

    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".messages")).to_contain_text(f"demo.qdpx: adds {counts.codes} codes")
    expect(page.get_by_role("heading", name="Demo, again")).to_be_visible()
    assert copy.documents.count() == counts.sources
    assert Coding.objects.filter(document__study=copy).count() == counts.codings

    # An imported transcript opens in the coding view with its codings.
    coding = (
        Coding.objects.filter(document__study=copy, document__kind="transcript")
        .select_related("document", "code")
        .order_by("document_id", "start")
        .first()
    )
    document = coding.document
    page.goto(f"{live_server.url}/studies/again/documents/{document.pk}/code/?layer=all")
    expect(page.locator("#wb-transcript.wb-ready")).to_be_attached()
    marks = page.locator("mark.wb-seg")
    expect(marks.first).to_be_visible()
    names = {
        c.code.name
        for c in Coding.objects.filter(document=document).select_related("code")
        if c.start < coding.end and coding.start < c.end
    }
    title = marks.first.get_attribute("title") or ""
    assert names & set(title.split(", ")), (title, names)
    assert Code.objects.filter(study=copy).count() == counts.codes
    assert set(CodeTree.of(copy).path.values()) == set(CodeTree.of(demo).path.values())
