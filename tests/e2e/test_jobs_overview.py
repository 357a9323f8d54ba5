"""The study overview leads to a person's jobs, with the site configured for a worker (the
database backend): an owner exports the REFI-QDA project from the overview, the link opens the
job's page (not a download of it), and back on the overview a note says one job is running; the
note's link opens the list. The overview with its note fits a 1024-pixel window and its text
meets WCAG AA contrast."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.models import Job, Membership, Study
from tests.e2e.conftest import log_in
from tests.e2e.test_jobs import DATABASE_TASKS, assert_fits_and_reads


def test_the_overview_says_a_job_is_running_and_leads_to_your_jobs(
    page: Page, live_server: LiveServer, transactional_db: None, settings: object
) -> None:
    settings.TASKS = DATABASE_TASKS
    alice = User.objects.create_user("alice", password="pw-alice-123")
    study = Study.objects.create(slug="adm", name="ADM workshops")
    Membership.objects.create(study=study, user=alice, role="owner")

    log_in(page, live_server, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/studies/adm/")
    expect(page.get_by_role("link", name="Your jobs")).to_be_visible()
    expect(page.locator("#your-jobs")).not_to_contain_text("running")

    page.get_by_role("button", name="Export project (.qdpx)").click()

    # With a worker configured the link opens the job's page rather than saving it.
    expect(page.get_by_role("heading", name="REFI-QDA project (.qdpx)")).to_be_visible()
    job = Job.objects.get(study=study, kind="qdpx-export")
    assert page.url == live_server.url + job.get_absolute_url()

    page.goto(f"{live_server.url}/studies/adm/")
    expect(page.locator("#your-jobs")).to_contain_text("1 job running")
    assert_fits_and_reads(page)
    page.get_by_role("link", name="Your jobs").click()
    expect(page.get_by_role("link", name="REFI-QDA project (.qdpx)")).to_be_visible()
