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

from studies.models import Document, Participant, ParticipantValue, Study, Variable
from surveys import distribution
from surveys.models import Answer, Question, Response, Survey, free_slug, slug_problem

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
    assert found.roster == 5
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


# --- The pages --------------------------------------------------------------------------------


def client_of(people: dict, name: str | None) -> Client:
    client = Client()
    if name:
        client.force_login(people[name])
    return client


def page(study: Study, tail: str = "") -> str:
    return f"/studies/{study.slug}/surveys/{tail}"


def settings_data(**changes: str) -> dict[str, str]:
    data = {
        "title": "After the workshop",
        "slug": "",
        "description": "",
        "languages": "en, de",
        "wave_of": "",
        "opens_at": "",
        "closes_at": "",
    }
    return {**data, **changes}


def test_the_owner_creates_a_survey(roster_study: Study, people: dict) -> None:
    alice = client_of(people, "alice")
    assert "No surveys yet: " in alice.get(page(roster_study)).content.decode()

    created = alice.post(
        page(roster_study, "new/"),
        settings_data(allows_anonymous="on", opens_at="2030-01-01T09:00"),
        follow=True,
    )

    survey = roster_study.surveys.get()
    assert (survey.slug, survey.languages, survey.allows_anonymous) == (
        "after-the-workshop",
        "en, de",
        True,
    )
    assert survey.anonymous_token, "allowing anonymous answers makes the shared link"
    assert created.redirect_chain[-1][0] == page(roster_study, "after-the-workshop/")
    assert "Created the survey After the workshop" in created.content.decode()
    listed = alice.get(page(roster_study)).content.decode()
    assert "After the workshop" in listed and "Not open yet" in listed


@pytest.mark.parametrize(
    "changes, field, message",
    [
        (
            {"opens_at": "2030-02-01T09:00", "closes_at": "2030-02-01T09:00"},
            "closes_at",
            "The survey must close after it opens",
        ),
        (
            {"opens_at": "2030-02-01T09:00", "closes_at": "2030-01-01T09:00"},
            "closes_at",
            "The survey must close after it opens",
        ),
        ({"languages": "en, english"}, "languages", "'english' is not a language tag"),
        ({"languages": " , "}, "languages", "Name at least one language"),
        ({"languages": "en, de, en"}, "languages", "Name each language once"),
        ({"slug": "pre"}, "slug", "The study has a survey called 'pre' already"),
        ({"slug": "import"}, "slug", "'import' names a page"),
        ({"slug": "new"}, "slug", "'new' names a page"),
        ({"closes_at": "next week"}, "closes_at", "Enter a valid date/time"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    survey: Survey, people: dict, changes: dict, field: str, message: str
) -> None:
    answer = client_of(people, "alice").post(page(survey.study, "new/"), settings_data(**changes))
    assert answer.status_code == 400
    assert message in " ".join(answer.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in answer.content.decode()
    assert survey.study.surveys.count() == 1


def test_a_survey_is_not_a_wave_of_itself_nor_of_its_own_wave(survey: Survey, people: dict) -> None:
    post = Survey.objects.create(study=survey.study, slug="post", title="Post", wave_of=survey)
    alice = client_of(people, "alice")
    form = alice.get(page(survey.study, "pre/settings/")).context["form"]
    assert list(form.fields["wave_of"].queryset) == [post]
    answer = alice.post(
        page(survey.study, "pre/settings/"),
        settings_data(title="Pre", slug="pre", wave_of=str(post.pk)),
    )
    assert answer.status_code == 400
    assert "Post is itself a later wave of this survey" in answer.content.decode()
    saved = alice.post(
        page(survey.study, "post/settings/"),
        settings_data(title="Post", slug="post", wave_of=str(survey.pk)),
    )
    assert saved.status_code == 302


def test_the_owner_changes_the_settings_and_the_anonymous_link_follows(
    survey: Survey, people: dict
) -> None:
    alice = client_of(people, "alice")
    alice.post(
        page(survey.study, "pre/settings/"),
        settings_data(title="Before", slug="before", languages="de, en", allows_anonymous="on"),
    )
    survey.refresh_from_db()
    assert (survey.title, survey.slug, survey.language) == ("Before", "before", "de")
    links = alice.get(page(survey.study, "before/links/")).content.decode()
    assert f"/s/{survey.anonymous_token}/" in links


def test_the_owner_deletes_a_survey_after_seeing_what_is_lost(survey: Survey, people: dict) -> None:
    distribution.create_links(survey)
    answered = respond(survey, "P01", submitted=True)
    answered.document = Document.objects.create(
        study=survey.study, kind="survey", title="Before the workshop: P01", text="A person.\n"
    )
    answered.save()
    respond(survey, "P02", submitted=False)
    alice = client_of(people, "alice")
    confirm = alice.get(page(survey.study, "pre/delete/")).content.decode()
    assert "The 1 survey text document made from long-text answers stays in" in confirm
    assert "2 responses</strong> will be lost" in confirm
    assert "1 submitted response" in confirm and "1 unfinished response" in confirm
    assert "5 participants&#x27; links" in confirm
    assert Survey.objects.filter(pk=survey.pk).exists()
    gone = alice.post(page(survey.study, "pre/delete/"), follow=True)
    assert "Deleted the survey Before the workshop." in gone.content.decode()
    assert not Survey.objects.filter(pk=survey.pk).exists()
    assert Document.objects.filter(title="Before the workshop: P01").exists()


def test_the_owner_creates_links_per_workshop_then_for_everyone(
    survey: Survey, people: dict
) -> None:
    alice = client_of(people, "alice")
    url = page(survey.study, "pre/links/")
    assert "No links yet" in alice.get(url).content.decode()
    gb = survey.study.workshops.get(code="GB-1")
    first = alice.post(url, {"action": "create", "workshop": str(gb.pk)}, follow=True)
    assert "Created 2 links in workshop GB-1." in first.content.decode()
    second = alice.post(url, {"action": "create", "workshop": ""}, follow=True)
    assert "Created 3 links." in second.content.decode()
    third = alice.post(url, {"action": "create", "workshop": ""}, follow=True)
    assert "Everyone has a link already: none created." in third.content.decode()
    html = third.content.decode()
    for invitation in survey.invitations.all():
        assert f"/s/{invitation.token}/" in html


def test_the_owner_types_addresses_and_sends(survey: Survey, people: dict) -> None:
    distribution.create_links(survey)
    links = {i.participant.code: i for i in survey.invitations.select_related("participant")}
    alice = client_of(people, "alice")
    url = page(survey.study, "pre/links/")

    refused = alice.post(
        url,
        {
            "action": "send_unsent",
            f"email-{links['P01'].pk}": "aino@example.org",
            f"email-{links['P02'].pk}": "eero@",
        },
        follow=True,
    )
    assert "Nothing saved or sent: &#x27;eero@&#x27; is not an e-mail address (for P02)." in (
        refused.content.decode()
    )
    assert not survey.invitations.exclude(email="").exists() and not mail.outbox

    sent = alice.post(
        url,
        {
            "action": "send_unsent",
            f"email-{links['P01'].pk}": "aino@example.org",
            f"email-{links['P04'].pk}": "amara@example.org",
        },
        follow=True,
    )
    html = sent.content.decode()
    assert "Saved 2 e-mail addresses." in html
    assert "Sent 2 e-mails; 3 links have no address." in html
    assert sorted(m.to[0] for m in mail.outbox) == ["aino@example.org", "amara@example.org"]
    assert mail.outbox[0].body.count("http://testserver/s/") == 1

    selected = alice.post(
        url,
        {"action": "send_selected", "selected": [links["P01"].pk, links["P02"].pk]},
        follow=True,
    )
    assert "Sent 1 e-mail; 1 link has no address." in selected.content.decode()
    nothing = alice.post(url, {"action": "send_selected"}, follow=True)
    assert "Select the links to send first" in nothing.content.decode()
    assert len(mail.outbox) == 3


def test_the_owner_downloads_the_links(survey: Survey, people: dict) -> None:
    distribution.create_links(survey)
    answer = client_of(people, "alice").get(page(survey.study, "pre/links.csv"))
    assert answer["Content-Type"].startswith("text/csv")
    assert 'filename="adm-pre-links.csv"' in answer["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == 5
    assert rows[0]["url"].startswith("http://testserver/s/")


def test_the_overview_shows_progress_by_workshop_and_country(survey: Survey, people: dict) -> None:
    distribution.create_links(survey)
    respond(survey, "P01", submitted=True)
    respond(survey, "P04", submitted=False)
    answer = client_of(people, "victor").get(page(survey.study, "pre/"))
    progress = answer.context["progress"]
    assert [
        (r.label, r.counts.invited, r.counts.started, r.counts.completed)
        for r in progress.by_workshop
    ] == [
        ("FI-1", 3, 0, 1),
        ("GB-1", 2, 1, 0),
    ]
    html = answer.content.decode()
    assert "Finland" in html and "United Kingdom" in html


@pytest.mark.parametrize("who", ["victor", "bob"])
def test_viewers_and_coders_see_numbers_but_never_a_link(
    survey: Survey, people: dict, who: str
) -> None:
    distribution.create_links(survey)
    distribution.set_anonymous(survey, True)
    tokens = [i.token for i in survey.invitations.all()] + [survey.anonymous_token]
    client = client_of(people, who)
    for url in [page(survey.study), page(survey.study, "pre/")]:
        answer = client.get(url)
        assert answer.status_code == 200
        html = answer.content.decode()
        assert "Before the workshop" in html
        assert not [t for t in tokens if t in html], url
        assert "/links/" not in html
    for url in ["pre/links/", "pre/links.csv", "new/", "pre/settings/", "pre/delete/"]:
        assert client.get(page(survey.study, url)).status_code == 403, url
    assert client.post(page(survey.study, "pre/links/"), {"action": "create"}).status_code == 403
    assert client.post(page(survey.study, "pre/delete/")).status_code == 403
    assert Survey.objects.filter(pk=survey.pk).exists()


def test_outsiders_and_visitors_find_nothing(survey: Survey, people: dict) -> None:
    mallory, anonymous = client_of(people, "mallory"), client_of(people, None)
    for tail in ["", "new/", "pre/", "pre/settings/", "pre/delete/", "pre/links/", "pre/links.csv"]:
        assert mallory.get(page(survey.study, tail)).status_code == 404, tail
        answer = anonymous.get(page(survey.study, tail))
        assert answer.status_code == 302 and answer["Location"].startswith("/login/"), tail


def test_an_archived_study_shows_its_surveys_read_only(survey: Survey, people: dict) -> None:
    distribution.create_links(survey)
    Study.objects.filter(pk=survey.study.pk).update(archived_at=timezone.now())
    alice = client_of(people, "alice")
    links = alice.get(page(survey.study, "pre/links/"))
    assert links.status_code == 200
    html = links.content.decode()
    assert "archived" in html and "Create links" not in html and 'name="action"' not in html
    assert alice.get(page(survey.study, "pre/links.csv")).status_code == 200
    assert "New survey" not in alice.get(page(survey.study)).content.decode()
    assert alice.post(page(survey.study, "pre/links/"), {"action": "create"}).status_code == 403
    assert alice.get(page(survey.study, "pre/settings/")).status_code == 403
    assert alice.post(page(survey.study, "pre/delete/")).status_code == 403
    assert alice.post(page(survey.study, "new/"), settings_data()).status_code == 403
    assert survey.study.surveys.count() == 1


def test_the_study_bar_marks_the_surveys_section(survey: Survey, people: dict) -> None:
    html = client_of(people, "victor").get(page(survey.study, "pre/")).content.decode()
    assert (
        f'<a href="/studies/{survey.study.slug}/surveys/" aria-current="page">Surveys</a>' in html
    )


def test_a_made_slug_is_free_and_never_names_a_page(roster_study: Study) -> None:
    """One rule for every way a survey gets its slug (settings form, API, XLSForm import)."""
    Survey.objects.create(study=roster_study, slug="pre", title="Pre")
    assert free_slug(roster_study, "Pre") == "pre-2"
    assert free_slug(roster_study, "import") == "import-2"
    assert free_slug(roster_study, "New") == "new-2"
    assert free_slug(roster_study, "!!!") == "survey"
    assert "names a page" in slug_problem(roster_study, "import")
    assert "already" in slug_problem(roster_study, "pre")
    assert slug_problem(roster_study, "post") is None
