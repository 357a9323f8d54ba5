"""A large study's agreement in the browser, with the site configured for a worker: the
Reliability page offers to compute the table as a job instead of computing it in the request;
the job's page turns to Done by itself once the worker has run it, and its Continue link opens
the table it computed, which says when. Every state fits a 1024-pixel window and meets WCAG AA
contrast."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from coding.models import Code, Coding
from coding.reliability import compute_reliability
from studies.jobs import run_job
from studies.models import Job, Membership, Study
from studies.services import import_roster, import_transcripts
from tests.e2e.conftest import log_in
from tests.e2e.test_jobs import DATABASE_TASKS, assert_fits_and_reads

DEMO = Path(__file__).resolve().parents[2] / "studies" / "demo"


def test_a_large_studys_agreement_is_computed_as_a_job_and_opened_from_it(
    page: Page, live_server: LiveServer, transactional_db: None, settings: object
) -> None:
    settings.TASKS = DATABASE_TASKS
    settings.COLLOQUY_RELIABILITY_INLINE_DECISIONS = 100
    alice = User.objects.create_user("alice", password="pw-alice-123")
    bob = User.objects.create_user("bob", password="pw-bob-123")
    study = Study.objects.create(slug="adm", name="ADM workshops")
    Membership.objects.create(study=study, user=alice, role="owner")
    Membership.objects.create(study=study, user=bob, role="coder")
    import_roster(study=study, filename="roster.csv", data=(DEMO / "roster.csv").read_bytes())
    [outcome] = import_transcripts(
        study=study,
        workshop=study.workshops.get(code="US-1"),
        files=[("US-1.txt", (DEMO / "US-1.txt").read_bytes())],
    )
    document = outcome.document
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    negotiability = Code.objects.create(study=study, parent=concept, name="negotiability")
    Code.objects.create(study=study, parent=concept, name="humanity")
    sentences = list(document.sentences.order_by("seq")[:12])
    for coder, picked in ((alice, sentences[:8]), (bob, sentences[2:10])):
        for sentence in picked:
            Coding.objects.create(
                document=document,
                code=negotiability,
                coder=coder,
                start=sentence.start,
                end=sentence.end,
            )
    expected = compute_reliability(study, unit="sentence")
    alpha = next(c for c in expected.codes if c.path == "Concept/negotiability").krippendorff_alpha

    log_in(page, live_server, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/studies/adm/reliability/")
    expect(page.get_by_text("so it is computed as a job")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    assert_fits_and_reads(page)

    page.get_by_role("button", name="Compute agreement").click()
    status = page.locator("#job-status")
    expect(page.get_by_role("heading", name="Agreement by sentence")).to_be_visible()
    expect(status).to_contain_text("Waiting for a worker")
    job = Job.objects.get(study=study, kind="reliability")
    assert_fits_and_reads(page)

    assert run_job.call(job.pk) == Job.Status.DONE
    expect(status).to_contain_text("Done", timeout=30_000)
    expect(status).to_contain_text("Agreement of 2 coders over 1 document by sentence")
    assert_fits_and_reads(page)
    status.get_by_role("link", name="Continue").click()

    table = page.get_by_role("table", name="Agreement per code")
    expect(table).to_be_visible()
    row = table.get_by_role("row").filter(has_text="Concept/negotiability")
    expect(row).to_contain_text(f"{alpha:.3f}")
    expect(page.get_by_text("This table was computed as a job")).to_be_visible()
    assert_fits_and_reads(page)

    # Computing it again starts a new job rather than showing the old table.
    page.get_by_role("button", name="Compute again").click()
    expect(status).to_contain_text("Waiting for a worker")
    assert Job.objects.filter(study=study, kind="reliability").count() == 2
