"""A participant's withdrawal in a real browser, at 1024 px: the owner opens the participant's
page, goes to Withdraw, reads what will happen, types the code and confirms; the page then shows
the withdrawn state and the redacted speech. No page scrolls sideways."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import expect

from studies.models import Membership, Participant, Study
from studies.services import import_roster, import_transcripts
from studies.withdrawal import REDACTION_MARK
from tests.conftest import ROSTER
from tests.e2e.conftest import log_in
from tests.e2e.test_people import fits
from tests.test_transcript_import import FI_TXT

PASSWORD = "pw-alice-long-enough"


def study_with_a_transcript() -> Study:
    alice = User.objects.create_user("alice", "alice@example.org", PASSWORD)
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    fi = study.workshops.get(code="FI-1")
    import_transcripts(study=study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())])
    return study


def test_an_owner_withdraws_a_participant_after_typing_their_code(
    page, live_server, transactional_db, script_errors
) -> None:
    study = study_with_a_transcript()
    p01 = Participant.objects.get(study=study, code="P01")
    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/studies/adm/participants/{p01.pk}/")
    expect(page.get_by_text("Minusta algoritmin")).to_be_visible()
    assert fits(page, "main")

    page.get_by_role("link", name="Withdraw participant").click()
    expect(page.get_by_role("heading", name="Withdraw P01?")).to_be_visible()
    expect(page.locator("main")).to_contain_text("cannot be undone")
    expect(page.locator("main")).to_contain_text("1 turn (11 words) in 1 document will be")
    assert fits(page, "main")

    page.get_by_label("Type the participant's code to confirm").fill("P02")
    page.get_by_role("button", name="Withdraw P01 and redact their speech").click()
    expect(page.get_by_role("alert")).to_contain_text("Type the participant's code, P01")
    assert Participant.objects.get(pk=p01.pk).withdrawn_at is None
    assert fits(page, "main")
    script_errors.clear()  # the refused form answers 400, which the console reports

    page.get_by_label("Type the participant's code to confirm").fill("P01")
    page.get_by_role("button", name="Withdraw P01 and redact their speech").click()
    expect(page.get_by_role("heading", name="Participant P01")).to_be_visible()
    day = Participant.objects.get(pk=p01.pk).withdrawn_at.date().isoformat()
    expect(page.locator("main")).to_contain_text(f"P01 withdrew on {day}.")
    expect(page.locator("main")).to_contain_text("P01 withdrew: redacted 1 turn in 1 document")
    expect(page.get_by_role("link", name="Withdraw participant")).to_have_count(0)
    expect(page.get_by_text("Minusta algoritmin")).to_have_count(0)
    expect(page.locator("td.utterance").first).to_contain_text(REDACTION_MARK * 7)
    assert fits(page, "main")

    page.goto(f"{live_server.url}/studies/adm/participants/")
    expect(page.locator("table.data")).to_contain_text(f"withdrawn on {day}")
    assert fits(page, "main")
