"""A participant answers a survey on a phone, in German: a validation error, a draft resumed
from the same link, display logic on the server, and a link that cannot answer twice."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.models import Participant, Study, Workshop
from surveys.models import Invitation, Response
from tests.e2e.test_layout import CONTRAST, OVERFLOW
from tests.test_survey_respond import build_survey


def no_sideways_scroll(page: Page) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["innerWidth"], found["culprits"]
    assert page.evaluate(CONTRAST) == []


def test_a_participant_answers_on_a_phone_in_german(
    page: Page, live_server: LiveServer, transactional_db: None
) -> None:
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    workshop = Workshop.objects.create(study=study, code="DE-1", country="DE")
    aino = Participant.objects.create(study=study, code="P07", workshop=workshop)
    survey = build_survey(study)
    invitation = Invitation.objects.create(survey=survey, participant=aino)
    link = f"{live_server.url}/s/{invitation.token}/"

    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(link + "?lang=de")
    expect(page.get_by_role("heading", name="Über Sie")).to_be_visible()
    no_sideways_scroll(page)
    assert page.get_by_label("Wie alt sind Sie?").count() == 0  # hidden until consent

    # Nothing answered: the required question says so, in German, beside it.
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_text("Bitte beantworten Sie diese Frage.")).to_be_visible()

    # Consent shows the age question (server-side logic); a wrong age is refused, then fixed.
    page.get_by_role("group", name="Dürfen wir Ihre Antworten verwenden?").get_by_label(
        "Ja"
    ).check()
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_text("Ihre Antworten haben dieser Seite Fragen hinzugefügt")).to_be_visible()
    page.get_by_label("Wie alt sind Sie?").fill("12")
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_text("Bitte geben Sie eine Zahl von 18 bis 99 ein.")).to_be_visible()
    page.get_by_label("Wie alt sind Sie?").fill("41")
    page.get_by_role("button", name="Weiter").click()
    expect(page.get_by_role("heading", name="Ihre Ansichten")).to_be_visible()

    # The same page on a laptop: it fits and reads as well.
    for width in (1024, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        no_sideways_scroll(page)
    page.set_viewport_size({"width": 360, "height": 740})

    # The draft is saved: the same link opens where the participant left off, in German.
    page.goto(link)
    expect(page.get_by_role("heading", name="Ihre Ansichten")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_label("Hiring").check()
    page.get_by_label("Agree", exact=True).check()
    page.get_by_role("button", name="Weiter").click()
    # Choosing hiring shows its follow-up, asked on the same page.
    page.get_by_label("Why hiring?").fill("Bias in CVs")
    page.get_by_role("button", name="Weiter").click()

    # The last page: a ranking as numbered selects and a matrix that reads on a phone.
    expect(page.get_by_role("button", name="Absenden")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_label("Platz 1").select_option("negotiability")
    page.get_by_label("Platz 2").select_option("accuracy")
    page.get_by_label("High, Speed").check()
    page.get_by_label("Low, Fairness").check()
    page.get_by_label("Anything else?").fill("Danke")
    for width in (1024, 360):
        page.set_viewport_size({"width": width, "height": 740})
        no_sideways_scroll(page)
    page.get_by_role("button", name="Absenden").click()
    expect(page.get_by_text("Vielen Dank: Ihre Antworten sind eingegangen.")).to_be_visible()

    response = Response.objects.get(invitation=invitation)
    assert response.is_submitted and response.language == "de"
    stored = {(a.question.code, a.item): a.value for a in response.answers.all()}
    assert stored == {
        ("consent", ""): "yes",
        ("age", ""): "41",
        ("domains", ""): "hiring",
        ("why_hiring", ""): "Bias in CVs",
        ("trust", ""): "4",
        ("rank", ""): "negotiability accuracy",
        ("grid", "speed"): "high",
        ("grid", "fairness"): "low",
        ("notes", ""): "Danke",
    }

    # The used link cannot answer again.
    page.goto(link)
    expect(page.get_by_text("Vielen Dank: Ihre Antworten sind eingegangen.")).to_be_visible()
    assert page.locator("form").count() == 0
    no_sideways_scroll(page)
