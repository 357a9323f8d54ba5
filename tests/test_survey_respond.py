"""The respondent's pages: a participant answers through their private link, no login."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from studies.models import Participant, Study
from surveys.models import Answer, Invitation, Option, Page, Question, Response, Survey, Translation


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> None:
    cache.clear()


def build_survey(study: Study) -> Survey:
    """A three-page survey in English with German texts: consent first, a question that only
    those who consent see, a multiple choice whose 'hiring' shows a follow-up, a Likert scale,
    a ranking, a matrix, a date and a long text."""
    survey = Survey.objects.create(
        study=study, slug="trust", title="Trust in decisions", languages="en,de"
    )
    about = Page.objects.create(survey=survey, order=0, title="About you")
    views = Page.objects.create(survey=survey, order=1, title="Your views")
    last = Page.objects.create(survey=survey, order=2, title="Last questions")
    Translation.objects.create(page=about, language="de", text="Über Sie")
    Translation.objects.create(page=views, language="de", text="Ihre Ansichten")

    def question(page: Page, order: int, code: str, kind: str, label: str, **extra) -> Question:
        return Question.objects.create(
            survey=survey, page=page, order=order, code=code, kind=kind, label=label, **extra
        )

    def options(q: Question, *pairs: tuple[str, str], role: str = "choice") -> None:
        for order, (code, label) in enumerate(pairs):
            Option.objects.create(question=q, code=code, label=label, order=order, role=role)

    consent = question(about, 0, "consent", "single", "May we use your answers?", required=True)
    options(consent, ("yes", "Yes"), ("no", "No"))
    Translation.objects.create(
        question=consent, language="de", text="Dürfen wir Ihre Antworten verwenden?"
    )
    for option, text in [("yes", "Ja"), ("no", "Nein")]:
        Translation.objects.create(
            option=consent.options.get(code=option), language="de", text=text
        )
    age = question(
        about,
        1,
        "age",
        "number",
        "How old are you?",
        required=True,
        min_value=18,
        max_value=99,
        relevant="${consent} = 'yes'",
    )
    Translation.objects.create(question=age, language="de", text="Wie alt sind Sie?")
    domains = question(
        views, 0, "domains", "multiple", "Which decisions concern you?", allows_other=True
    )
    options(domains, ("hiring", "Hiring"), ("medicine", "Medicine"), ("justice", "Justice"))
    question(
        views,
        1,
        "why_hiring",
        "text",
        "Why hiring?",
        required=True,
        relevant="selected(${domains}, 'hiring')",
    )
    trust = question(views, 2, "trust", "likert5", "I trust automated decisions.", required=True)
    options(
        trust,
        ("1", "Strongly disagree"),
        ("2", "Disagree"),
        ("3", "Neither"),
        ("4", "Agree"),
        ("5", "Strongly agree"),
    )
    rank = question(last, 0, "rank", "ranking", "Rank these qualities.")
    options(rank, ("accuracy", "Accuracy"), ("negotiability", "Negotiability"))
    grid = question(last, 1, "grid", "matrix", "How important is each?")
    options(grid, ("low", "Low"), ("high", "High"))
    options(grid, ("speed", "Speed"), ("fairness", "Fairness"), role="row")
    question(last, 2, "when", "date", "When did you last apply for a job?")
    question(last, 3, "notes", "long_text", "Anything else?")
    return survey


@pytest.fixture
def survey(roster_study: Study) -> Survey:
    return build_survey(roster_study)


@pytest.fixture
def invitation(survey: Survey, roster_study: Study) -> Invitation:
    return Invitation.objects.create(
        survey=survey, participant=roster_study.participants.get(code="P01")
    )


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=False)


def link(invitation: Invitation, lang: str = "") -> str:
    return f"/s/{invitation.token}/" + (f"?lang={lang}" if lang else "")


EVERY_CODE = "consent age domains why_hiring trust rank grid when notes"


def send(client: Client, url: str, data: dict) -> object:
    """A page's form as the browser posts it: the questions it showed (here: all of them, so
    that each is judged as seen) and the answers."""
    return client.post(url, {"shown": EVERY_CODE, **data})


def answers(invitation: Invitation) -> dict[str, str]:
    response = Response.objects.get(invitation=invitation)
    return {
        a.question.code + (f".{a.item}" if a.item else ""): a.value
        for a in Answer.objects.filter(response=response).select_related("question")
    }


def test_it_shows_the_first_page_without_login(client: Client, invitation: Invitation) -> None:
    page = client.get(link(invitation))
    assert page.status_code == 200
    text = page.content.decode()
    assert "About you" in text and "May we use your answers?" in text
    assert "How old are you?" not in text  # hidden until consent is given
    assert "csrfmiddlewaretoken" in text
    assert "P01" not in text and "Aino" not in text and roster_note(invitation) not in text


def roster_note(invitation: Invitation) -> str:
    return invitation.survey.study.name


def test_it_saves_a_draft_and_resumes_it(client: Client, invitation: Invitation) -> None:
    done = send(client, link(invitation), {"page": "0", "consent": "", "q-consent": "yes"})
    # Consent shows the age question on the same page: it is now required.
    assert done.status_code == 200
    assert "Please answer this question." in done.content.decode()
    done = send(client, link(invitation), {"page": "0", "q-consent": "yes", "q-age": "40"})
    assert done.status_code == 302
    assert answers(invitation) == {"consent": "yes", "age": "40"}
    response = Response.objects.get(invitation=invitation)
    assert response.page == 1 and response.submitted_at is None
    again = client.get(link(invitation)).content.decode()
    assert "Your views" in again and "Which decisions concern you?" in again
    back = send(client, link(invitation), {"page": "1", "action": "back"})
    assert back.status_code == 302
    first = client.get(link(invitation)).content.decode()
    assert 'value="40"' in first and 'value="yes" checked' in first


def test_a_question_that_appears_comes_back_without_an_error(
    client: Client, invitation: Invitation
) -> None:
    page = client.post(link(invitation), {"page": "0", "shown": "consent", "q-consent": "yes"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "How old are you?" in text and "added questions to this page" in text
    assert "Please answer this question." not in text
    assert 'name="shown" value="consent age"' in text
    assert not Response.objects.exists()


def test_a_hidden_question_is_not_required_and_its_stale_answer_is_removed(
    client: Client, invitation: Invitation
) -> None:
    send(client, link(invitation), {"page": "0", "q-consent": "yes", "q-age": "40"})
    page = send(
        client, link(invitation), {"page": "1", "q-domains": ["hiring", "justice"], "q-trust": "4"}
    )
    assert "Please answer this question." in page.content.decode()  # why_hiring
    send(
        client,
        link(invitation),
        {
            "page": "1",
            "q-domains": ["hiring"],
            "q-why_hiring": "Bias",
            "q-trust": "4",
            "q-domains-other": "Lending",
        },
    )
    assert answers(invitation)["why_hiring"] == "Bias"
    assert answers(invitation)["domains._other"] == "Lending"
    # Going back and withdrawing consent hides the age question: its answer goes.
    send(client, link(invitation), {"page": "0", "q-consent": "no"})
    assert "age" not in answers(invitation)
    # Dropping hiring hides the follow-up, which is no longer required and loses its answer.
    done = send(client, link(invitation), {"page": "1", "q-domains": ["medicine"], "q-trust": "2"})
    assert done.status_code == 302
    assert "why_hiring" not in answers(invitation)
    assert answers(invitation)["domains"] == "medicine"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"q-consent": "yes", "q-age": "12"}, "Please enter a number from 18 to 99."),
        ({"q-consent": "yes", "q-age": "old"}, "Please enter a number."),
        ({"q-consent": "maybe"}, "Please choose one of the options."),
        ({}, "Please answer this question."),
    ],
)
def test_it_explains_what_is_wrong_beside_the_question(
    client: Client, invitation: Invitation, data: dict, message: str
) -> None:
    page = send(client, link(invitation), {"page": "0", **data})
    assert page.status_code == 200
    assert message in page.content.decode()
    assert not Response.objects.filter(invitation=invitation).exists()


def test_it_checks_dates_rankings_and_matrices(client: Client, invitation: Invitation) -> None:
    send(client, link(invitation), {"page": "0", "q-consent": "no"})
    send(client, link(invitation), {"page": "1", "q-trust": "3"})
    page = send(
        client,
        link(invitation),
        {
            "page": "2",
            "q-when": "31/12/2024",
            "q-rank-rank1": "accuracy",
            "q-rank-rank2": "accuracy",
            "q-grid-speed": "huge",
        },
    ).content.decode()
    assert "Please enter a date (year-month-day)." in page
    assert "Please give each place to one option only." in page
    assert "Please choose one of the options." in page
    done = send(
        client,
        link(invitation),
        {
            "page": "2",
            "q-when": "2024-12-31",
            "q-rank-rank1": "negotiability",
            "q-rank-rank2": "accuracy",
            "q-grid-speed": "low",
            "q-grid-fairness": "high",
            "q-notes": "Thanks",
        },
    )
    assert done.status_code == 302
    assert answers(invitation) == {
        "consent": "no",
        "trust": "3",
        "when": "2024-12-31",
        "rank": "negotiability accuracy",
        "grid.speed": "low",
        "grid.fairness": "high",
        "notes": "Thanks",
    }
    assert Response.objects.get(invitation=invitation).submitted_at is not None


def test_it_speaks_the_language_asked_for(client: Client, invitation: Invitation) -> None:
    page = client.get(link(invitation, "de")).content.decode()
    assert '<html lang="de">' in page
    assert "Über Sie" in page and "Dürfen wir Ihre Antworten verwenden?" in page
    assert "Weiter" in page and ">English<" in page
    error = send(client, link(invitation, "de"), {"page": "0"}).content.decode()
    assert "Bitte beantworten Sie diese Frage." in error
    # A language the survey does not offer falls back to the survey's own.
    assert "About you" in client.get(link(invitation, "xx")).content.decode()
    # Untranslated texts fall back to English; the draft remembers the language.
    send(client, link(invitation, "de"), {"page": "0", "q-consent": "ja"})
    send(client, link(invitation, "de"), {"page": "0", "q-consent": "no"})
    later = client.get(link(invitation)).content.decode()
    assert "Ihre Ansichten" in later and "Which decisions concern you?" in later


def test_a_submitted_response_cannot_be_changed_through_the_link(
    client: Client, invitation: Invitation
) -> None:
    send(client, link(invitation), {"page": "0", "q-consent": "no"})
    send(client, link(invitation), {"page": "1", "q-trust": "3"})
    send(client, link(invitation), {"page": "2"})
    assert Response.objects.get(invitation=invitation).is_submitted
    page = client.get(link(invitation))
    assert "your answers were received" in page.content.decode()
    assert "<form" not in page.content.decode()
    refused = send(client, link(invitation), {"page": "1", "q-trust": "5"})
    assert refused.status_code == 403
    assert answers(invitation)["trust"] == "3"


def test_a_closed_or_unopened_survey_says_so(client: Client, invitation: Invitation) -> None:
    survey = invitation.survey
    survey.closes_at = timezone.now() - datetime.timedelta(days=1)
    survey.save()
    page = client.get(link(invitation)).content.decode()
    assert "This survey is closed." in page and "<form" not in page
    assert send(client, link(invitation), {"page": "0", "q-consent": "no"}).status_code == 403
    survey.closes_at = None
    survey.opens_at = timezone.now() + datetime.timedelta(days=3)
    survey.save()
    assert "This survey is not open yet." in client.get(link(invitation)).content.decode()
    assert not Response.objects.exists()


def test_an_unknown_token_is_a_plain_404(client: Client, invitation: Invitation) -> None:
    page = client.get("/s/not-a-token/")
    assert page.status_code == 404
    text = page.content.decode()
    for secret in ("Trust in decisions", invitation.survey.study.name, "P01", "consent"):
        assert secret not in text
    assert client.post("/s/not-a-token/", {"page": "0"}).status_code == 404


def test_it_needs_the_csrf_token(invitation: Invitation) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert send(strict, link(invitation), {"page": "0", "q-consent": "no"}).status_code == 403
    assert not Response.objects.exists()


def test_it_limits_posts_per_link(client: Client, invitation: Invitation) -> None:
    for _ in range(60):
        send(client, link(invitation), {"page": "0"})
    page = send(client, link(invitation), {"page": "0", "q-consent": "no"})
    assert page.status_code == 429
    assert "Too many attempts" in page.content.decode()
    assert not Response.objects.exists()


def test_one_participants_link_never_shows_anothers_answers(
    client: Client, invitation: Invitation, roster_study: Study
) -> None:
    send(client, link(invitation), {"page": "0", "q-consent": "yes", "q-age": "77"})
    other = Invitation.objects.create(
        survey=invitation.survey, participant=Participant.objects.get(code="P02")
    )
    page = client.get(link(other)).content.decode()
    assert "About you" in page and 'value="77"' not in page and "checked" not in page


def branch_link(study: Study) -> tuple[Invitation, str]:
    """A link to a survey whose second page only those who answer "yes" on the first see."""
    survey = Survey.objects.create(study=study, slug="branch", title="Branch")
    first = Page.objects.create(survey=survey, order=0, title="First")
    second = Page.objects.create(survey=survey, order=1, title="Second")
    affected = Question.objects.create(
        survey=survey, page=first, code="affected", kind="single", label="Affected?"
    )
    for order, code in enumerate(["yes", "no"]):
        Option.objects.create(question=affected, code=code, label=code.title(), order=order)
    Question.objects.create(
        survey=survey,
        page=second,
        code="story",
        kind="long_text",
        label="What happened?",
        relevant="${affected} = 'yes'",
    )
    invitation = Invitation.objects.create(
        survey=survey, participant=study.participants.get(code="P01")
    )
    url = link(invitation)
    return invitation, url


def test_a_page_whose_answers_may_show_more_says_next_and_never_submits_by_it(
    client: Client, roster_study: Study
) -> None:
    """The last page's button says "Submit" only when nothing can follow: where every later
    page depends on this page's answers it says "Next", and a "Next" whose answers hid them all
    comes back as the last page with "Submit" instead of submitting."""
    invitation, url = branch_link(roster_study)
    html = client.get(url).content.decode()
    assert ">Next</button>" in html and 'name="more"' in html

    # "No" hides the second page: the first comes back as the last one, nothing submitted.
    page = client.post(url, {"page": "0", "shown": "affected", "q-affected": "no", "more": "1"})
    assert page.status_code == 200
    assert ">Submit</button>" in page.content.decode()
    response = Response.objects.get(invitation=invitation)
    assert response.submitted_at is None and response.page == 0

    # Its "Submit" submits.
    client.post(url, {"page": "0", "shown": "affected", "q-affected": "no"})
    response.refresh_from_db()
    assert response.submitted_at is not None


def test_a_yes_that_shows_the_next_page_goes_there(client: Client, roster_study: Study) -> None:
    _invitation, url = branch_link(roster_study)
    client.post(url, {"page": "0", "shown": "affected", "q-affected": "yes", "more": "1"})
    html = client.get(url).content.decode()
    assert "What happened?" in html and ">Submit</button>" in html
