"""The study's Surveys section: the owner makes links, sends them, follows progress and
downloads the links for a mail merge; members see the numbers but never a link; anonymous
respondents answer through the survey's shared link."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from studies.models import Participant, ParticipantValue, Study, Variable
from surveys import distribution
from surveys.models import Answer, Question, Response, Survey

BASE = "https://colloquy.example.org"


@pytest.fixture(autouse=True)
def fresh_rate_limit() -> None:
    cache.clear()


@pytest.fixture
def survey(roster_study: Study) -> Survey:
    """A one-question survey in English, German and Finnish."""
    survey = Survey.objects.create(
        study=roster_study, slug="pre", title="Before the workshop", languages="en, de, fi"
    )
    Question.objects.create(survey=survey, code="view", kind="text", label="Your view?")
    return survey


def participant(study: Study, code: str) -> Participant:
    return study.participants.get(code=code)


def respond(survey: Survey, code: str, *, submitted: bool) -> Response:
    return Response.objects.create(
        survey=survey,
        participant=participant(survey.study, code),
        submitted_at=timezone.now() if submitted else None,
    )


# --- Links ------------------------------------------------------------------------------------


def test_it_makes_one_link_per_participant_and_no_more(survey: Survey) -> None:
    assert distribution.create_links(survey) == 5
    assert distribution.create_links(survey) == 0
    assert survey.invitations.count() == 5
    assert len({i.token for i in survey.invitations.all()}) == 5


def test_a_link_takes_its_workshops_language_when_the_survey_offers_it(survey: Survey) -> None:
    distribution.create_links(survey)
    languages = dict(survey.invitations.values_list("participant__code", "language"))
    # FI-1 speaks Finnish; GB-1's en-GB is offered as English.
    assert languages == {"P01": "fi", "P02": "fi", "P03": "fi", "P04": "en", "P05": "en"}


def test_a_link_falls_back_to_the_surveys_first_language(roster_study: Study) -> None:
    survey = Survey.objects.create(study=roster_study, slug="de", title="Nur", languages="de")
    distribution.create_links(survey, [participant(roster_study, "P01")])
    assert survey.invitations.get().language == "de"


def test_it_makes_links_for_the_participants_named_only(survey: Survey) -> None:
    gb = survey.study.participants.filter(workshop__code="GB-1")
    assert distribution.create_links(survey, gb, language="de") == 2
    assert set(survey.invitations.values_list("participant__code", "language")) == {
        ("P04", "de"),
        ("P05", "de"),
    }
    assert distribution.create_links(survey) == 3


def test_it_refuses_a_language_the_survey_is_not_in(survey: Survey) -> None:
    with pytest.raises(Exception, match="'sv' is not one of this survey's languages"):
        distribution.create_links(survey, language="sv")


def test_it_never_links_a_participant_of_another_study(survey: Survey, people: dict) -> None:
    other = Study.objects.create(slug="other", name="Other")
    workshop = other.workshops.create(code="X", country="DE")
    stranger = Participant.objects.create(study=other, code="Z1", workshop=workshop)
    assert distribution.create_links(survey, [stranger]) == 0
    assert not survey.invitations.exists()


def test_a_new_link_takes_the_address_the_roster_gives(survey: Survey) -> None:
    email = Variable.objects.create(study=survey.study, name="E-mail")
    ParticipantValue.objects.create(
        participant=participant(survey.study, "P04"), variable=email, value="amara@example.org"
    )
    ParticipantValue.objects.create(
        participant=participant(survey.study, "P05"), variable=email, value="not an address"
    )
    distribution.create_links(survey)
    addresses = dict(survey.invitations.values_list("participant__code", "email"))
    assert addresses["P04"] == "amara@example.org"
    assert addresses["P05"] == ""


def test_an_address_is_checked(survey: Survey) -> None:
    distribution.create_links(survey)
    invitation = survey.invitations.get(participant__code="P01")
    with pytest.raises(Exception, match="'aino@' is not an e-mail address \\(for P01\\)"):
        distribution.set_email(invitation, "aino@")
    assert distribution.set_email(invitation, " aino@example.org ")
    assert not distribution.set_email(invitation, "aino@example.org")


# --- E-mail -----------------------------------------------------------------------------------


def test_it_sends_each_link_in_its_language_to_those_with_an_address(survey: Survey) -> None:
    distribution.create_links(survey)
    links = {i.participant.code: i for i in survey.invitations.select_related("participant")}
    distribution.set_email(links["P01"], "aino@example.org")
    distribution.set_email(links["P04"], "amara@example.org")
    respond(survey, "P05", submitted=True)
    distribution.set_email(links["P05"], "callum@example.org")

    sent = distribution.send_links(survey, links.values(), base_url=BASE)

    assert (sent.sent, sent.without_address, sent.answered) == (2, 2, 1)
    assert sent.summary() == (
        "Sent 2 e-mails; 2 links have no address; 1 participant answered already."
    )
    by_address = {message.to[0]: message for message in mail.outbox}
    assert set(by_address) == {"aino@example.org", "amara@example.org"}
    finnish, english = by_address["aino@example.org"], by_address["amara@example.org"]
    assert finnish.subject == "Kysely: Before the workshop"
    assert f"{BASE}/s/{links['P01'].token}/" in finnish.body
    assert "henkilökohtaisen linkkisi" in finnish.body
    assert english.subject == "Survey: Before the workshop"
    assert f"{BASE}/s/{links['P04'].token}/" in english.body
    assert links["P04"].token not in finnish.body
    sent_at = dict(survey.invitations.values_list("participant__code", "sent_at"))
    assert sent_at["P01"] and sent_at["P04"]
    assert sent_at["P02"] is None and sent_at["P05"] is None


def test_all_unsent_leaves_out_what_was_sent(survey: Survey) -> None:
    distribution.create_links(survey)
    for invitation in survey.invitations.all():
        distribution.set_email(invitation, f"{invitation.participant.code.lower()}@example.org")
    p01 = survey.invitations.filter(participant__code="P01")
    first = distribution.send_links(survey, p01, base_url=BASE)
    assert first.sent == 1
    assert distribution.send_links(survey, distribution.unsent(survey), base_url=BASE).sent == 4
    assert not distribution.unsent(survey).exists()
    assert len(mail.outbox) == 5


def test_the_mail_names_the_closing_day(survey: Survey) -> None:
    survey.closes_at = datetime.datetime(2030, 6, 30, 12, tzinfo=datetime.UTC)
    survey.save()
    distribution.create_links(survey, [participant(survey.study, "P04")])
    invitation = survey.invitations.get()
    distribution.set_email(invitation, "amara@example.org")
    distribution.send_links(survey, [invitation], base_url=BASE)
    assert "The survey closes on 2030-06-30." in mail.outbox[0].body


# --- Progress and the links file --------------------------------------------------------------


def test_progress_counts_links_drafts_and_submissions_by_workshop_and_country(
    survey: Survey,
) -> None:
    distribution.create_links(survey, survey.study.participants.filter(workshop__code="FI-1"))
    distribution.create_links(survey, [participant(survey.study, "P04")])
    respond(survey, "P01", submitted=True)
    respond(survey, "P02", submitted=False)
    respond(survey, "P04", submitted=True)
    respond(survey, "P05", submitted=True)  # imported from a file: no link, still completed
    Response.objects.create(survey=survey, source=distribution.ANONYMOUS_SOURCE)
    Response.objects.create(
        survey=survey, source=distribution.ANONYMOUS_SOURCE, submitted_at=timezone.now()
    )
    Response.objects.create(
        survey=survey, source=distribution.ANONYMOUS_SOURCE, submitted_at=timezone.now()
    )

    found = distribution.progress(survey)

    by_workshop = {
        row.label: (row.participants, row.counts.invited, row.counts.started, row.counts.completed)
        for row in found.by_workshop
    }
    assert by_workshop == {"FI-1": (3, 3, 1, 1), "GB-1": (2, 1, 0, 2)}
    by_country = {
        row.country: (row.label, row.counts.invited, row.counts.started, row.counts.completed)
        for row in found.by_country
    }
    assert by_country == {"FI": ("Finland", 3, 1, 1), "GB": ("United Kingdom", 1, 0, 2)}
    assert (found.participants.invited, found.participants.started) == (4, 1)
    assert found.participants.completed == 3
    assert (found.anonymous.started, found.anonymous.completed) == (1, 2)
    assert (found.total.started, found.total.completed) == (2, 5)
    totals = distribution.totals([survey])[survey.pk]
    assert (totals.invited, totals.started, totals.completed) == (4, 2, 5)


def test_the_links_file_holds_one_row_per_link_for_a_mail_merge(survey: Survey) -> None:
    distribution.create_links(survey)
    links = {i.participant.code: i for i in survey.invitations.select_related("participant")}
    distribution.set_email(links["P04"], "amara@example.org")
    distribution.send_links(survey, [links["P04"]], base_url=BASE)
    respond(survey, "P01", submitted=False)
    respond(survey, "P02", submitted=True)

    data = distribution.links_csv(survey, BASE + "/")

    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(rows[0]) == distribution.LINKS_CSV_HEADERS
    assert [r["participant"] for r in rows] == ["P01", "P02", "P03", "P04", "P05"]
    by_code = {r["participant"]: r for r in rows}
    assert by_code["P01"]["status"] == "started"
    assert by_code["P02"]["status"] == "completed"
    assert by_code["P03"]["status"] == "invited"
    assert by_code["P04"]["url"] == f"{BASE}/s/{links['P04'].token}/"
    assert (by_code["P04"]["workshop"], by_code["P04"]["country"]) == ("GB-1", "GB")
    assert (by_code["P04"]["language"], by_code["P04"]["email"]) == ("en", "amara@example.org")
    assert by_code["P04"]["sent_at"].startswith(str(timezone.now().year))
    assert by_code["P03"]["sent_at"] == ""


# --- The anonymous link -----------------------------------------------------------------------


@pytest.fixture
def anonymous(survey: Survey) -> Survey:
    """The survey on two pages, answerable through its shared link."""
    Question.objects.create(survey=survey, code="age", kind="number", label="Age?", order=1)
    page_one = survey.pages.create(order=0, title="One")
    page_two = survey.pages.create(order=1, title="Two")
    survey.questions.filter(code="view").update(page=page_one)
    survey.questions.filter(code="age").update(page=page_two)
    distribution.set_anonymous(survey, True)
    return survey


def anonymous_link(survey: Survey) -> str:
    survey.refresh_from_db()
    return f"/s/{survey.anonymous_token}/"


def test_turning_the_anonymous_link_on_makes_it_once(survey: Survey) -> None:
    assert distribution.anonymous_url(BASE, survey) == ""
    distribution.set_anonymous(survey, True)
    token = survey.anonymous_token
    assert len(token) >= 30
    assert distribution.anonymous_url(BASE, survey) == f"{BASE}/s/{token}/"
    distribution.set_anonymous(survey, False)
    distribution.set_anonymous(survey, True)
    assert survey.anonymous_token == token
    distribution.renew_anonymous_link(survey)
    assert survey.anonymous_token != token


def test_each_browser_answers_the_anonymous_link_as_its_own_respondent(
    anonymous: Survey,
) -> None:
    url = anonymous_link(anonymous)
    first, second = Client(), Client()

    page = first.get(url)
    assert page.status_code == 200 and "Your view?" in page.content.decode()
    assert not anonymous.responses.exists(), "opening the link writes nothing"
    first.post(url, {"page": "0", "shown": "view", "q-view": "Ask a person.", "action": "next"})
    resumed = first.get(url)
    assert "Age?" in resumed.content.decode(), "the same browser resumes on the second page"

    second.post(url, {"page": "0", "shown": "view", "q-view": "Let it decide.", "action": "next"})
    assert "Your view?" in Client().get(url).content.decode(), "a new browser starts anew"

    first.post(url, {"page": "1", "shown": "age", "q-age": "41", "action": "next"})
    done = first.get(url)
    assert "your answers were received" in done.content.decode()

    responses = anonymous.responses.order_by("pk")
    assert [r.source for r in responses] == ["anonymous link", "anonymous link"]
    assert all(r.participant_id is None and r.invitation_id is None for r in responses)
    assert [r.is_submitted for r in responses] == [True, False]
    answers = {
        (a.response_id, a.question.code): a.value
        for a in Answer.objects.filter(response__survey=anonymous).select_related("question")
    }
    one, two = responses
    assert answers == {
        (one.pk, "view"): "Ask a person.",
        (one.pk, "age"): "41",
        (two.pk, "view"): "Let it decide.",
    }
    again = first.post(url, {"page": "1", "shown": "age", "q-age": "42", "action": "next"})
    assert again.status_code == 403
    assert Answer.objects.get(response=one, question__code="age").value == "41"


def test_the_anonymous_link_opens_nothing_once_it_is_turned_off(anonymous: Survey) -> None:
    url = anonymous_link(anonymous)
    distribution.set_anonymous(anonymous, False)
    assert Client().get(url).status_code == 404
    assert Client().post(url, {"page": "0", "q-view": "x"}).status_code == 404
    assert not anonymous.responses.exists()


def test_a_closed_survey_refuses_anonymous_answers(anonymous: Survey) -> None:
    url = anonymous_link(anonymous)
    Survey.objects.filter(pk=anonymous.pk).update(
        opens_at=timezone.now() - datetime.timedelta(days=2),
        closes_at=timezone.now() - datetime.timedelta(days=1),
    )
    assert "This survey is closed." in Client().get(url).content.decode()
    posted = Client().post(url, {"page": "0", "shown": "view", "q-view": "Late."})
    assert posted.status_code == 403
    assert not anonymous.responses.exists()


def test_the_anonymous_link_is_rate_limited_per_address(anonymous: Survey) -> None:
    from surveys import views

    url = anonymous_link(anonymous)
    client = Client()
    data = {"page": "0", "shown": "view", "q-view": "Again.", "action": "next"}
    for _ in range(views.RATE_LIMIT):
        assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 429
    elsewhere = Client(REMOTE_ADDR="192.0.2.7")
    assert elsewhere.post(url, data).status_code == 302
