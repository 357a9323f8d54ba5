"""Machine coding in a real browser at 1024 px: the owner trains the learned engine on her own
codings, reads its agreement per code, asks for suggestions in an uncoded transcript, sees them
dashed in the coding view with the machine's confidence, and accepts one as her own coding."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from coding.models import Code, Coding, MachineCoder
from coding.services import CodingSpan, apply_codings
from studies.models import Membership, Participant, Study, Workshop
from studies.services import import_transcripts
from tests.e2e.conftest import log_in

CODED = """Facilitator: What would you want from the bank?
Amara: I want them to explain the decision. The weather was fine that day.
Callum: Nobody explained anything to me. We drove home after lunch.
Amara: They should explain why it said no. My sister lives in Leeds.
"""

CODED_TOO = """Facilitator: Anything else about the bank?
Callum: An explanation would help me understand. The bus was late again.
Amara: I asked them to explain it twice. We had tea in the kitchen.
Callum: Without an explanation it feels unfair. The shop closes at six.
"""

UNCODED = """Facilitator: And the hospital?
Amara: The doctor did explain the result to me. The car park was full.
Callum: I wanted an explanation from a person. The garden needs rain.
"""

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_an_owner_trains_asks_for_suggestions_and_accepts_one(
    page: Page, live_server: LiveServer, django_user_model: type[User]
) -> None:
    alice = django_user_model.objects.create_user("alice", password="pw-alice-123")
    study = Study.objects.create(slug="adm", name="ADM workshops")
    Membership.objects.create(study=study, user=alice, role="owner")
    gb = Workshop.objects.create(study=study, code="GB-1", country="GB", language="en-GB")
    Participant.objects.create(study=study, code="P04", workshop=gb, aliases="Amara")
    Participant.objects.create(study=study, code="P05", workshop=gb, aliases="Callum")
    [coded, coded_too] = import_transcripts(
        study=study,
        workshop=gb,
        files=[("GB-1.txt", CODED.encode()), ("GB-1a.txt", CODED_TOO.encode())],
    )
    [uncoded] = import_transcripts(
        study=study, workshop=gb, files=[("GB-1b.txt", UNCODED.encode())]
    )
    explainability = Code.objects.create(study=study, name="explainability")
    Code.objects.create(study=study, name="weather")
    document = coded.document
    spans = [
        CodingSpan(d.pk, explainability.pk, start, end)
        for d in (document, coded_too.document)
        for start, end in d.sentences.values_list("start", "end")
        if "xplain" in d.text[start:end]
    ]
    apply_codings(user=alice, spans=spans, study=study)

    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/studies/adm/")
    page.get_by_role("link", name="Machine coding").click()
    expect(page.get_by_role("heading", name="Machine coding", exact=True)).to_be_visible()
    page.get_by_label("Learn from").select_option(label="alice")
    page.get_by_role("button", name="Train").click()

    expect(page.locator(".messages")).to_contain_text("Trained Learned from this study")
    expect(page.get_by_role("row", name="explainability").first).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    # The uncoded transcript is ticked for suggestions; the coded one is not.
    expect(page.get_by_label(uncoded.document.title, exact=True)).to_be_checked()
    expect(page.get_by_label(document.title, exact=True)).not_to_be_checked()
    page.get_by_role("button", name="Suggest with the learned model").click()
    expect(page.locator(".messages")).to_contain_text("in 1 document")
    machine = MachineCoder.objects.get()
    suggested = Coding.objects.filter(coder=machine.user, document=uncoded.document)
    assert suggested.filter(code=explainability).exists()

    page.goto(f"{live_server.url}/studies/adm/documents/{uncoded.document.pk}/code/")
    page.get_by_role("button", name="Show suggestions").click()
    expect(page.locator("#wb-status-line")).to_contain_text("The least certain")
    marks = page.locator("mark.wb-sug-start")
    expect(marks.first).to_be_visible()
    assert "dashed" in marks.first.evaluate("el => getComputedStyle(el).borderTopStyle")
    chip = page.locator(".wb-chip-machine").filter(has_text="explainability").first
    expect(chip).to_contain_text("%")
    chip.click()
    dialog = page.get_by_role("dialog", name="Suggestion")
    expect(dialog).to_contain_text(machine.label)
    expect(dialog).to_contain_text("sure")
    dialog.get_by_role("button", name="Accept", exact=True).click()

    expect(page.locator("#wb-status-line")).to_contain_text("Accepted: explainability")
    mine = Coding.objects.layer("mine", user=alice).filter(document=uncoded.document)
    assert mine.filter(code=explainability).count() == 1
    assert page.evaluate(OVERFLOW) <= 0
