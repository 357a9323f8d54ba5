from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from coding.models import Code, Coding
from studies.models import Membership, Participant, Study, Workshop
from studies.services import import_transcripts
from tests.e2e.conftest import log_in

TRANSCRIPT = """Facilitator: What would you want from the bank?
Amara: I wanted to explain my situation to a person.
Callum: Nobody ever explained anything to me.
"""


def test_a_coder_finds_every_form_of_a_word_and_codes_a_result(
    page: Page, live_server: LiveServer, django_user_model: type[User]
) -> None:
    bob = django_user_model.objects.create_user("bob", password="pw-bob-123")
    study = Study.objects.create(slug="adm", name="ADM workshops")
    Membership.objects.create(study=study, user=bob, role="coder")
    gb = Workshop.objects.create(study=study, code="GB-1", country="GB", language="en-GB")
    Participant.objects.create(study=study, code="P04", workshop=gb, aliases="Amara")
    Participant.objects.create(study=study, code="P05", workshop=gb, aliases="Callum")
    [outcome] = import_transcripts(
        study=study, workshop=gb, files=[("GB-1.txt", TRANSCRIPT.encode())]
    )
    document = outcome.document
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    Code.objects.create(study=study, parent=concept, name="explainability")

    log_in(page, live_server, "bob", "pw-bob-123")
    page.goto(f"{live_server.url}/studies/adm/search/")
    expect(page.get_by_text("Type a word or a phrase above")).to_be_visible()
    page.get_by_label("Search for").fill("explained")
    page.get_by_label("Lemma (every form)").check()
    page.get_by_role("button", name="Search").click()

    expect(page.get_by_role("heading", name="2 results for “explained”")).to_be_visible()
    rows = page.locator("table.kwic tbody tr")
    expect(rows).to_have_count(2)
    first = rows.first
    expect(first.locator(".kwic-match")).to_have_text("explain")
    expect(first).to_contain_text("I wanted to")
    expect(first).to_contain_text("Amara (P04)")

    page.get_by_label("Select result 1").check()
    page.get_by_label("Code to apply").select_option(label="Concept/explainability")
    page.get_by_label("Code what").select_option(label="The match only")
    page.get_by_role("button", name="Code ticked results").click()

    expect(page.locator(".messages")).to_contain_text("Coded 1 result with Concept/explainability.")
    # Still on the same search, ready for the next result.
    expect(page.get_by_label("Search for")).to_have_value("explained")
    [coding] = Coding.objects.all()
    assert coding.coder == bob
    assert coding.code.name == "explainability"
    assert document.text[coding.start : coding.end] == "explain"
