"""Jobs in the browser, with the site configured for a worker (the database backend): an owner
confirms a transcript import and lands on the job's page, which waits for a worker; when the
worker has run the job, the page turns to Done with a Continue link by itself (htmx polls it),
without a reload. The list of the owner's jobs shows it beside a running and a failed one; the
running one's page turns to Stopped by itself once it has been silent past the stall time. Every
state fits a 1024-pixel window and its text meets WCAG AA contrast."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.jobs import run_job
from studies.models import Job, Membership, Study
from studies.services import import_roster
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW

DEMO = Path(__file__).resolve().parents[2] / "studies" / "demo"
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def assert_fits_and_reads(page: Page) -> None:
    """At 1024 pixels: no sideways scrolling, no text below WCAG AA contrast."""
    page.set_viewport_size({"width": 1024, "height": 800})
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= 1024, found["culprits"]
    assert page.evaluate(CONTRAST) == []
    page.set_viewport_size({"width": 1280, "height": 900})


def test_an_import_waits_for_a_worker_and_its_page_turns_to_done_by_itself(
    page: Page, live_server: LiveServer, transactional_db: None, settings: object
) -> None:
    settings.TASKS = DATABASE_TASKS
    alice = User.objects.create_user("alice", password="pw-alice-123")
    study = Study.objects.create(slug="adm", name="ADM workshops")
    Membership.objects.create(study=study, user=alice, role="owner")
    import_roster(study=study, filename="roster.csv", data=(DEMO / "roster.csv").read_bytes())

    log_in(page, live_server, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/studies/adm/import/")
    page.get_by_label("Workshop").select_option(label="US-1")
    page.get_by_label("Transcript files").set_input_files(str(DEMO / "US-1.txt"))
    page.get_by_role("button", name="Upload and preview").nth(1).click()
    expect(page.get_by_role("heading", name="Review transcripts for US-1")).to_be_visible()
    page.get_by_role("button", name="Import 1 transcript").click()

    # The request answered at once: the job's page, waiting for a worker, polling itself.
    expect(page.get_by_role("heading", name="Importing 1 transcript")).to_be_visible()
    status = page.locator("#job-status")
    expect(status).to_contain_text("Waiting for a worker")
    expect(status).to_contain_text("manage.py db_worker")
    job = Job.objects.get(study=study, kind="import")
    assert job.status == Job.Status.QUEUED
    assert page.url == live_server.url + job.get_absolute_url()
    assert not study.documents.exists()
    assert_fits_and_reads(page)

    # The worker runs it (here in the test's process); the page follows without a reload.
    page.evaluate("window.notReloaded = true")
    assert run_job.call(job.pk) == Job.Status.DONE
    expect(status).to_contain_text("Done", timeout=30_000)
    expect(status).to_contain_text("Imported 1 transcript:")
    assert page.evaluate("window.notReloaded") is True
    expect(status).not_to_have_attribute("hx-trigger", "every 1s")
    # A screen reader hears it: the page's status line, which stays while the panel changes.
    expect(
        page.get_by_role("status").filter(has_text="Importing 1 transcript: Done.")
    ).to_have_count(1)
    continue_link = status.get_by_role("link", name="Continue")
    expect(continue_link).to_be_visible()
    assert_fits_and_reads(page)
    continue_link.click()
    expect(page.get_by_role("link", name="US-1", exact=True)).to_be_visible()
    assert study.documents.get().turns.exists()

    # The list of Alice's jobs, with one running and one failed beside it.
    now = timezone.now()
    Job.objects.create(
        study=study,
        user=alice,
        kind="pack",
        title="Paper pack",
        handler="exports.jobs.paper_pack",
        status=Job.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        done=40,
        total=100,
        stage="Drawing figures",
    )
    Job.objects.create(
        study=study,
        user=alice,
        kind="import",
        title="Importing 2 transcripts",
        handler="studies.job_handlers.transcript_import",
        status=Job.Status.FAILED,
        finished_at=now,
        error="Nothing was imported: GB-1.txt: speakers not in the roster: 'Guest'",
    )
    page.goto(f"{live_server.url}/studies/adm/jobs/")
    expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Failed")
    expect(rows.nth(1)).to_contain_text("Running (40%)")
    expect(rows.nth(2)).to_contain_text("Done")
    assert_fits_and_reads(page)

    # The running job's page: its stage and progress bar, still polling.
    page.get_by_role("link", name="Paper pack").click()
    expect(status).to_contain_text("Running: Drawing figures")
    expect(status).to_contain_text("40 of 100 (40%)")
    expect(status.get_by_role("progressbar", name="Progress")).to_be_visible()
    assert_fits_and_reads(page)
    # Silent past the stall time, its worker is taken to be gone: the page says so by itself.
    settings.COLLOQUY_JOB_STALL_MINUTES = 0
    expect(status).to_contain_text("Stopped: Drawing figures")
    expect(status.get_by_role("alert")).to_contain_text("its worker stopped before it finished")
    expect(page.locator("#job-announce")).to_have_text("Paper pack: Stopped.")
    assert_fits_and_reads(page)
    settings.COLLOQUY_JOB_STALL_MINUTES = 30

    page.goto(f"{live_server.url}/studies/adm/jobs/")
    page.get_by_role("link", name="Importing 2 transcripts").click()
    expect(status.get_by_role("alert")).to_contain_text("speakers not in the roster: 'Guest'")
    assert_fits_and_reads(page)
