"""The surveys issue, done: the owner builds a small survey in the browser (two pages, a Likert
scale, a single choice, a long text shown only for one of its options, a German translation),
makes a private link, and a participant answers it on a phone: a question left empty is named
beside it, the draft resumes from the same link, the last page is answered in German. The
owner then sees the result, and the used link cannot answer again."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from studies.models import Membership, Participant, Study, Workshop
from surveys.models import Response, Survey
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW

GERMAN = {
    "Your views": "Ihre Ansichten",
    "Tell us more": "Erzählen Sie mehr",
    "I trust automated decisions.": "Ich vertraue automatisierten Entscheidungen.",
    "Strongly disagree": "Stimme gar nicht zu",
    "Disagree": "Stimme nicht zu",
    "Neither agree nor disagree": "Weder noch",
    "Agree": "Stimme zu",
    "Strongly agree": "Stimme voll zu",
    "Which decision matters most to you?": "Welche Entscheidung ist Ihnen am wichtigsten?",
    "Hiring": "Einstellung",
    "Medicine": "Medizin",
    "Why does it matter?": "Warum ist das wichtig?",
}


def fits(page: Page) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["innerWidth"], found["culprits"]
    assert page.evaluate(CONTRAST) == []


def add_question(page: Page, kind: str, on: str, fields: dict[str, str]) -> None:
    """From the builder: choose the kind and the page, fill the form, add the question."""
    page.get_by_label("Question of the kind").select_option(label=kind)
    page.get_by_label("on the page", exact=True).select_option(label=on)
    page.get_by_role("button", name="Add question").click()
    expect(page.get_by_role("heading", name="New question")).to_be_visible()
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)


def test_an_owner_builds_a_survey_that_a_participant_answers_on_a_phone(
    page: Page, browser: Browser, live_server: LiveServer, transactional_db: None
) -> None:
    from django.contrib.auth.models import User

    alice = User.objects.create_user("alice", "alice@example.org", "pw-alice-123")
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    workshop = Workshop.objects.create(study=study, code="GB-1", country="GB", language="en-GB")
    Participant.objects.create(study=study, code="P04", workshop=workshop)

    # The owner makes the survey, in English with German as its second language.
    log_in(page, live_server, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/studies/adm/surveys/new/")
    page.get_by_label("Title").fill("After the workshop")
    page.get_by_label("Languages").fill("en, de")
    page.get_by_role("button", name="Create survey").click()
    survey = Survey.objects.get(study=study)
    build = f"{live_server.url}/studies/adm/surveys/{survey.slug}/build/"
    page.goto(build)
    expect(page.get_by_text("No pages or questions yet")).to_be_visible()

    # Two pages.
    for title in ("Your views", "Tell us more"):
        page.get_by_role("link", name="Add page").click()
        page.get_by_label("Title").fill(title)
        page.get_by_role("button", name="Add page").click()
        expect(page.get_by_role("heading", name=title)).to_be_visible()

    # A single choice, first written with a code that is not one.
    add_question(
        page,
        "Single choice",
        "Your views",
        {
            "Code": "1domain",
            "Label": "Which decision matters most to you?",
            "Options, or the points of the scale": "hiring = Hiring\nmedicine = Medicine",
        },
    )
    page.get_by_role("button", name="Add question").click()
    expect(page.get_by_text("'1domain' is not a code")).to_be_visible()
    page.get_by_label("Code", exact=True).fill("domain")
    page.get_by_label("Required (when shown)").check()
    page.get_by_role("button", name="Add question").click()
    expect(page.get_by_text("Added question domain.")).to_be_visible()

    # A required Likert scale, whose points come labelled.
    add_question(
        page,
        "Likert, 5 points",
        "Tell us more",
        {"Code": "trust", "Label": "I trust automated decisions."},
    )
    expect(page.get_by_label("Options, or the points of the scale")).to_have_value(
        "1 = Strongly disagree\n2 = Disagree\n3 = Neither agree nor disagree\n4 = Agree\n"
        "5 = Strongly agree"
    )
    expect(page.get_by_label("Matrix rows")).to_be_hidden()  # only the kind's fields show
    # Untouched starting points follow the kind.
    page.get_by_label("Kind").select_option(label="Likert, 7 points")
    expect(page.get_by_label("Options, or the points of the scale")).to_have_value(
        re.compile(r"4 = Neither agree nor disagree\n.*7 = Strongly agree$", re.DOTALL)
    )
    page.get_by_label("Kind").select_option(label="Likert, 5 points")
    page.get_by_label("Required (when shown)").check()
    page.get_by_role("button", name="Add question").click()
    expect(page.get_by_text("Added question trust.")).to_be_visible()

    # The long text on page 2, shown only to those who chose hiring; a typo in the condition
    # is named beside it.
    add_question(
        page,
        "Long text",
        "Tell us more",
        {
            "Code": "why",
            "Label": "Why does it matter?",
            "Display condition": "${domian} = 'hiring'",
        },
    )
    page.get_by_role("button", name="Add question").click()
    problem = page.locator(".field.has-error", has=page.get_by_label("Display condition"))
    expect(
        problem.get_by_text("its condition refers to ${domian}, no such question")
    ).to_be_visible()
    page.get_by_label("Display condition").fill("${domain} = 'hiring'")
    page.get_by_role("button", name="Add question").click()
    expect(page.get_by_text("Added question why.")).to_be_visible()
    expect(page.get_by_text("Shown only when ${domain} = 'hiring'")).to_be_visible()

    # Reordering from the keyboard: the long text goes above the scale, and back below it.
    page.get_by_role("button", name="Move question why up").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Moved Question why up.")).to_be_visible()
    expect(page.get_by_role("button", name="Move question why up")).to_be_focused()
    codes = page.locator(f"#page-{survey.pages.get(order=1).pk} .builder-question .qcode")
    expect(codes.first).to_have_text("why")
    page.get_by_role("button", name="Move question why down").click()
    expect(codes.first).to_have_text("trust")
    fits(page)

    # Every text in German.
    page.get_by_role("link", name="German").click()
    expect(page.get_by_text("0 of 12 texts translated to German.")).to_be_visible()
    for english, german in GERMAN.items():
        page.get_by_label(f"German: {english}", exact=True).fill(german)
    page.get_by_role("button", name="Save translations").click()
    expect(page.get_by_text("Saved: 12 of 12 texts translated to German.")).to_be_visible()
    fits(page)

    # The owner's preview in German, which makes no response.
    page.goto(build + "preview/?lang=de")
    expect(page.get_by_text("Welche Entscheidung ist Ihnen am wichtigsten?")).to_be_visible()
    assert not Response.objects.exists()

    # A private link for the participant.
    page.goto(f"{live_server.url}/studies/adm/surveys/{survey.slug}/links/")
    page.get_by_role("button", name="Create links").click()
    expect(page.get_by_text("Created 1 link")).to_be_visible()
    link = page.locator("table.links code.link-text").first.inner_text().strip()
    assert f"/s/{survey.invitations.get().token}/" in link

    # The participant, on a phone, with nothing of the owner's session.
    phone = browser.new_context(viewport={"width": 360, "height": 740})
    errors: list[str] = []
    respondent = phone.new_page()
    respondent.set_default_timeout(10_000)
    respondent.on("pageerror", lambda error: errors.append(str(error)))
    respondent.goto(link)
    expect(respondent.get_by_role("heading", name="Your views")).to_be_visible()
    fits(respondent)

    # The required choice left empty is named beside it.
    respondent.get_by_role("button", name="Next").click()
    choice = respondent.get_by_role("group", name="Which decision matters most to you?")
    expect(choice.get_by_text("Please answer this question.")).to_be_visible()
    fits(respondent)
    choice.get_by_label("Hiring").check()
    respondent.get_by_role("button", name="Next").click()
    expect(respondent.get_by_role("heading", name="Tell us more")).to_be_visible()
    expect(respondent.get_by_label("Why does it matter?")).to_be_visible()

    # The participant leaves, and the same link resumes on page 2; they switch to German.
    respondent.goto("about:blank")
    respondent.goto(link)
    expect(respondent.get_by_role("heading", name="Tell us more")).to_be_visible()
    respondent.get_by_role("link", name="Deutsch").click()
    expect(respondent.get_by_role("heading", name="Erzählen Sie mehr")).to_be_visible()
    scale = respondent.get_by_role("group", name="Ich vertraue automatisierten Entscheidungen.")
    scale.get_by_label("Stimme zu", exact=True).check()
    respondent.get_by_label("Warum ist das wichtig?").fill("Weil Lebensläufe aussortiert werden.")
    fits(respondent)
    respondent.get_by_role("button", name="Absenden").click()
    expect(respondent.get_by_text("Vielen Dank: Ihre Antworten sind eingegangen.")).to_be_visible()

    response = Response.objects.get(survey=survey)
    assert response.is_submitted and response.language == "de"
    stored = {a.question.code: a.value for a in response.answers.select_related("question")}
    assert stored == {
        "trust": "4",
        "domain": "hiring",
        "why": "Weil Lebensläufe aussortiert werden.",
    }

    # The used link cannot answer again: it says so, and a posted page is refused.
    respondent.goto(link)
    expect(respondent.get_by_text("Vielen Dank: Ihre Antworten sind eingegangen.")).to_be_visible()
    assert respondent.locator("form").count() == 0
    csrf = next(c["value"] for c in phone.cookies() if c["name"] == "csrftoken")
    again = respondent.request.post(
        link,
        form={"csrfmiddlewaretoken": csrf, "page": "1", "shown": "trust why", "q-why": "Changed"},
        headers={"Referer": link},
    )
    assert again.status == 403
    assert "Vielen Dank: Ihre Antworten sind eingegangen." in again.text()
    assert response.answers.get(question__code="why").value.startswith("Weil")
    phone.close()
    assert errors == []

    # The owner sees the result: the counts, and the participant's own answers.
    page.goto(f"{live_server.url}/studies/adm/surveys/{survey.slug}/results/")
    expect(page.get_by_text("1 respondent counted: 1 submitted")).to_be_visible()
    expect(page.get_by_text("I trust automated decisions.")).to_be_visible()
    page.goto(f"{live_server.url}/studies/adm/surveys/{survey.slug}/responses/")
    page.get_by_role("link", name="P04").click()
    expect(page.get_by_text("Weil Lebensläufe aussortiert werden.")).to_be_visible()


def test_the_owner_reorders_by_dragging(
    page: Page, live_server: LiveServer, transactional_db: None, script_errors: list[str]
) -> None:
    from django.contrib.auth.models import User

    from surveys import builder
    from surveys.builder import QuestionData

    alice = User.objects.create_user("alice", "alice@example.org", "pw-alice-123")
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    survey = Survey.objects.create(study=study, slug="pre", title="Before the workshop")
    first = builder.add_page(survey, title="About you")
    second = builder.add_page(survey, title="Your views")
    builder.add_question(survey, QuestionData(code="age", kind="number", label="Age?"), page=first)
    for code in ("trust", "why"):
        builder.add_question(
            survey,
            QuestionData(code=code, kind="text", label=code, relevant="${age} > 17"),
            page=second,
        )

    def handle(code: str) -> object:
        return page.locator(f"#question-{survey.questions.get(code=code).pk} .question-handle")

    def order() -> list[tuple[str, str]]:
        return [(q.code, q.page.title) for q in survey.questions.order_by("order")]

    page.set_viewport_size({"width": 1280, "height": 1600})  # both pages in view while dragging
    log_in(page, live_server, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/studies/adm/surveys/pre/build/")
    # "why" onto the first page, below "age".
    below_age = page.locator(f"#page-{first.pk} .builder-questions")
    box = below_age.bounding_box()
    handle("why").drag_to(below_age, target_position={"x": 40, "y": box["height"] - 4})
    expect(page.get_by_text("The new order is saved.")).to_be_visible()
    page.reload()
    expect(page.locator(f"#page-{first.pk} .builder-question .qcode")).to_have_text(["age", "why"])
    assert order() == [("age", "About you"), ("why", "About you"), ("trust", "Your views")]

    # "age" dragged below the questions whose conditions use it is refused, and the page
    # returns to the order that was kept.
    handle("age").drag_to(page.locator(f"#page-{second.pk} .builder-questions"))
    expect(page.get_by_text("That order would break display logic")).to_be_visible()
    expect(page.locator(f"#page-{first.pk} .builder-question .qcode").first).to_have_text("age")
    assert order() == [("age", "About you"), ("why", "About you"), ("trust", "Your views")]
    script_errors.clear()  # the refused order's 400 is logged by the browser
