"""The survey API: a permission ladder for every endpoint, what each gives back, and what it
refuses.

Alice owns the study, Bob codes, Victor views, Mallory is an outsider. The survey "pre" (English,
translated into German) asks a Likert question, a multiple choice and a long text; P01 has a
private link, P02 has submitted a response and P03 left a draft. Owners alone see links and
individual responses; everyone in the study reads the instrument and the aggregated results.
"""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from studies.models import Study
from surveys.models import Invitation, Option, Question, Response, Survey, Translation
from tests.helpers import client_for, db_snapshot
from tests.test_api_resources import climb

API = "/api/v1/studies/adm/surveys"
PRE = f"{API}/pre"
MEMBERS_READ = {"mallory": 404, "victor": 200, "bob": 200, "alice": 200}
OWNERS_ONLY = {"mallory": 404, "victor": 403, "bob": 403, "alice": 200}
TRUST = [("sd", "Strongly disagree"), ("d", "Disagree"), ("n", "Neither"), ("a", "Agree")]
TRUST.append(("sa", "Strongly agree"))
SECRET_COMMENT = "My neighbour Aino told me a secret"


def question(survey: Survey, code: str, kind: str, label: str, options=(), **extra) -> Question:
    made = Question.objects.create(
        survey=survey, code=code, kind=kind, label=label, order=survey.questions.count(), **extra
    )
    for order, (option_code, option_label) in enumerate(options):
        Option.objects.create(question=made, code=option_code, label=option_label, order=order)
    return made


def answer(survey: Survey, participant: str, submitted: bool, **values: str) -> Response:
    response = Response.objects.create(
        survey=survey,
        participant=survey.study.participants.get(code=participant),
        submitted_at=timezone.now() if submitted else None,
    )
    for code, value in values.items():
        response.answers.create(question=survey.questions.get(code=code), value=value)
    return response


@pytest.fixture
def survey(roster_study: Study) -> Survey:
    survey = Survey.objects.create(
        study=roster_study, slug="pre", title="Before the workshop", languages="en,de"
    )
    trust = question(survey, "trust", "likert5", "I trust algorithms", TRUST, required=True)
    Translation.objects.create(question=trust, language="de", text="Ich vertraue Algorithmen")
    Translation.objects.create(option=trust.options.get(code="sa"), language="de", text="Ja")
    question(survey, "domains", "multiple", "Which domains?", [("hiring", "Hiring")])
    question(survey, "comments", "long_text", "Anything else?")
    Invitation.objects.create(survey=survey, participant=roster_study.participants.get(code="P01"))
    answer(survey, "P02", True, trust="a", domains="hiring", comments=SECRET_COMMENT)
    answer(survey, "P03", False, trust="sd")
    return survey


def post_file(client: Client, url: str, name: str, data: bytes, **fields: str) -> object:
    return client.post(url, {"file": SimpleUploadedFile(name, data), **fields})


# --- Surveys ----------------------------------------------------------------------------------


def test_members_read_the_surveys_with_their_counts(
    survey: Survey, people: dict[str, User]
) -> None:
    climb(people, "get", f"{API}/", MEMBERS_READ)
    climb(people, "get", f"{PRE}/", MEMBERS_READ)

    [listed] = client_for(people["victor"]).get(f"{API}/").json()["results"]
    assert listed == {
        "slug": "pre",
        "title": "Before the workshop",
        "description": "",
        "languages": "en,de",
        "wave_of": None,
        "allows_anonymous": False,
        "anonymous_url": None,
        "opens_at": None,
        "closes_at": None,
        "created_at": listed["created_at"],
        "counts": {"questions": 3, "invited": 1, "started": 1, "completed": 1},
    }


def test_only_owners_create_a_survey(survey: Survey, people: dict[str, User]) -> None:
    climb(
        people,
        "post",
        f"{API}/",
        {"mallory": 404, "victor": 403, "bob": 403, "alice": 201},
        {"title": "After the workshop", "wave_of": "pre"},
    )

    post = Survey.objects.get(study=survey.study, title="After the workshop")
    assert (post.slug, post.wave_of, post.languages) == ("after-the-workshop", survey, "en")


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"title": ""}, "title", "may not be blank"),
        ({"title": "Again", "slug": "pre"}, "slug", "already"),
        ({"title": "Again", "slug": "not a slug!"}, "slug", "slug"),
        ({"title": "Again", "slug": "import"}, "slug", "names a page of the Surveys section"),
        ({"title": "Again", "languages": "english please"}, "languages", ""),
        ({"title": "Again", "languages": " , "}, "languages", "at least one"),
        ({"title": "Again", "wave_of": "nope"}, "wave_of", ""),
        (
            {
                "title": "Again",
                "opens_at": "2026-05-02T10:00:00Z",
                "closes_at": "2026-05-01T10:00:00Z",
            },
            "closes_at",
            "close after it opens",
        ),
        ({"title": "Again", "opens_at": "next Tuesday"}, "opens_at", ""),
    ],
)
def test_a_bad_survey_is_refused_naming_the_field(
    survey: Survey, people: dict[str, User], data: dict, field: str, words: str
) -> None:
    response = client_for(people["alice"]).post(f"{API}/", data, content_type="application/json")

    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert Survey.objects.count() == 1


def test_owners_change_a_survey_and_its_anonymous_link(
    survey: Survey, people: dict[str, User]
) -> None:
    climb(
        people,
        "patch",
        f"{PRE}/",
        {"mallory": 404, "victor": 403, "bob": 403, "alice": 200},
        {"title": "Before we meet", "allows_anonymous": True},
    )
    survey.refresh_from_db()
    assert survey.title == "Before we meet" and survey.anonymous_token
    mine = client_for(people["alice"]).get(f"{PRE}/").json()
    assert mine["anonymous_url"].endswith(f"/s/{survey.anonymous_token}/")
    # A survey cannot be its own wave.
    refused = client_for(people["alice"]).patch(
        f"{PRE}/", {"wave_of": "pre"}, content_type="application/json"
    )
    assert refused.status_code == 400 and "wave_of" in refused.json()


def test_deleting_a_survey_with_responses_asks_for_confirmation(
    survey: Survey, people: dict[str, User]
) -> None:
    climb(people, "delete", f"{PRE}/", {"mallory": 404, "victor": 403, "bob": 403, "alice": 400})
    alice = client_for(people["alice"])
    refused = alice.delete(f"{PRE}/")
    assert "also deletes its 1 link and 2 responses" in refused.json()["confirm"][0]
    assert Survey.objects.filter(pk=survey.pk).exists()

    assert alice.delete(f"{PRE}/?confirm=true").status_code == 204
    assert not Survey.objects.filter(pk=survey.pk).exists()


def test_an_archived_study_keeps_its_surveys_readable_and_unchanged(
    survey: Survey, people: dict[str, User]
) -> None:
    Study.objects.filter(pk=survey.study_id).update(archived_at=timezone.now())

    climb(people, "get", f"{PRE}/", MEMBERS_READ)
    climb(people, "get", f"{PRE}/links/", OWNERS_ONLY)
    climb(people, "get", f"{PRE}/responses/", OWNERS_ONLY)
    alice = client_for(people["alice"])
    for method, url, data in [
        ("post", f"{API}/", {"title": "New"}),
        ("patch", f"{PRE}/", {"title": "Renamed"}),
        ("post", f"{PRE}/questions/", {"code": "q9", "kind": "text", "label": "Why?"}),
        ("post", f"{PRE}/links/", {"all": True}),
        ("delete", f"{PRE}/?confirm=true", None),
    ]:
        body = json.dumps(data) if data is not None else ""
        response = getattr(alice, method)(url, body, content_type="application/json")
        assert response.status_code == 403, (method, url)
        assert "archived" in response.json()["detail"]
    survey.refresh_from_db()
    assert survey.title == "Before the workshop" and survey.questions.count() == 3


# --- Questions --------------------------------------------------------------------------------


def test_members_read_questions_with_options_and_translations(
    survey: Survey, people: dict[str, User]
) -> None:
    climb(people, "get", f"{PRE}/questions/", MEMBERS_READ)
    trust = survey.questions.get(code="trust")
    climb(people, "get", f"{PRE}/questions/{trust.pk}/", MEMBERS_READ)

    body = client_for(people["victor"]).get(f"{PRE}/questions/").json()
    assert [q["code"] for q in body["results"]] == ["trust", "domains", "comments"]
    first = body["results"][0]
    assert first["kind"] == "likert5" and first["required"] is True
    assert first["translations"] == {"de": {"text": "Ich vertraue Algorithmen", "help_text": ""}}
    assert first["options"][-1] == {
        "code": "sa",
        "label": "Strongly agree",
        "role": "choice",
        "translations": {"de": "Ja"},
    }
    # Another study's survey with the same slug is not found.
    assert client_for(people["mallory"]).get(f"{PRE}/questions/").status_code == 404


def test_owners_add_a_question_with_options_and_translations(
    survey: Survey, people: dict[str, User]
) -> None:
    data = {
        "code": "fair",
        "kind": "single",
        "label": "Was it fair?",
        "relevant": "${trust} = 'a'",
        "options": [
            {"code": "yes", "label": "Yes", "translations": {"de": "Ja"}},
            {"code": "no", "label": "No"},
        ],
        "translations": {"de": {"text": "War es fair?"}},
    }
    climb(
        people,
        "post",
        f"{PRE}/questions/",
        {"mallory": 404, "victor": 403, "bob": 403, "alice": 201},
        data,
    )

    fair = survey.questions.get(code="fair")
    assert [(o.code, o.label) for o in fair.options.all()] == [("yes", "Yes"), ("no", "No")]
    assert fair.translations.get(language="de").text == "War es fair?"
    assert Translation.objects.get(option__question=fair, option__code="yes").text == "Ja"
    assert fair.relevant == "${trust} = 'a'"


@pytest.mark.parametrize(
    "data, field, words",
    [
        ({"kind": "text", "label": "Why?"}, "code", "required"),
        ({"code": "1st", "kind": "text", "label": "Why?"}, "code", "not a code"),
        ({"code": "trust", "kind": "text", "label": "Why?"}, "code", "already"),
        ({"code": "why", "kind": "essay", "label": "Why?"}, "kind", "not a valid choice"),
        ({"code": "why", "kind": "text", "label": ""}, "label", "blank"),
        ({"code": "pick", "kind": "single", "label": "Pick"}, "options", "at least"),
        (
            {"code": "why", "kind": "text", "label": "Why?", "relevant": "${later} = 1"},
            "relevant",
            "later",
        ),
        (
            {"code": "why", "kind": "text", "label": "Why?", "relevant": "${trust} = = 1"},
            "relevant",
            "",
        ),
        (
            {"code": "age", "kind": "number", "label": "Age", "min_value": 9, "max_value": 1},
            "max_value",
            "below",
        ),
        (
            {"code": "why", "kind": "text", "label": "Why?", "translations": {"fi": {"text": "X"}}},
            "translations",
            "not one of this survey's",
        ),
        ({"code": "why", "kind": "text", "label": "Why?", "page": 999}, "page", "no page"),
        ({"code": "why", "kind": "text", "label": "Why?", "options": "yes"}, "options", ""),
    ],
)
def test_a_bad_question_is_refused_naming_the_field(
    survey: Survey, people: dict[str, User], data: dict, field: str, words: str
) -> None:
    before = db_snapshot()
    response = client_for(people["alice"]).post(
        f"{PRE}/questions/", data, content_type="application/json"
    )

    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert words in json.dumps(errors[field]), errors
    assert db_snapshot() == before


def test_owners_change_move_reorder_and_delete_questions(
    survey: Survey, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    ids = {q.code: q.pk for q in survey.questions.all()}
    climb(
        people,
        "patch",
        f"{PRE}/questions/{ids['domains']}/",
        OWNERS_ONLY,
        {"label": "Which domains matter?", "options": [{"code": "hiring", "label": "Jobs"}]},
    )
    domains = survey.questions.get(code="domains")
    assert domains.label == "Which domains matter?"
    assert domains.options.get().label == "Jobs"
    # An option that an answer uses cannot go; a question with answers keeps its kind.
    gone = alice.patch(
        f"{PRE}/questions/{ids['domains']}/",
        {"options": [{"code": "medicine", "label": "Medicine"}]},
        content_type="application/json",
    )
    assert gone.status_code == 400 and "used by 1 answer" in gone.json()["options"][0]
    kind = alice.patch(
        f"{PRE}/questions/{ids['trust']}/", {"kind": "text"}, content_type="application/json"
    )
    assert kind.status_code == 400 and "kind" in kind.json()

    climb(
        people, "post", f"{PRE}/questions/{ids['comments']}/move/", OWNERS_ONLY, {"direction": "up"}
    )
    moved = alice.get(f"{PRE}/questions/").json()["results"]
    assert [q["code"] for q in moved] == ["trust", "comments", "domains"]
    bad_move = alice.post(
        f"{PRE}/questions/{ids['comments']}/move/",
        {"direction": "sideways"},
        content_type="application/json",
    )
    assert bad_move.status_code == 400 and "direction" in bad_move.json()

    order = {"pages": [{"page": None, "questions": [ids["domains"], ids["trust"]]}]}
    incomplete = alice.post(f"{PRE}/questions/reorder/", order, content_type="application/json")
    assert incomplete.status_code == 400 and "every" in incomplete.json()["pages"][0]
    order["pages"][0]["questions"].append(ids["comments"])
    climb(people, "post", f"{PRE}/questions/reorder/", OWNERS_ONLY, order)
    reordered = alice.get(f"{PRE}/questions/").json()["results"]
    assert [q["code"] for q in reordered] == ["domains", "trust", "comments"]

    # Answered: deleted only when confirmed, with its answers.
    url = f"{PRE}/questions/{ids['comments']}/"
    climb(people, "delete", url, {"mallory": 404, "victor": 403, "bob": 403, "alice": 400})
    asked = alice.delete(url).json()["confirm"][0]
    assert asked.startswith("1 response answers comments: send confirm=true")
    assert alice.delete(f"{url}?confirm=true").status_code == 204
    assert not survey.questions.filter(code="comments").exists()


# --- Links ------------------------------------------------------------------------------------


def test_only_owners_see_the_links(survey: Survey, people: dict[str, User]) -> None:
    link = survey.invitations.get()
    climb(people, "get", f"{PRE}/links/", OWNERS_ONLY)
    climb(people, "get", f"{PRE}/links/{link.pk}/", OWNERS_ONLY)

    [listed] = client_for(people["alice"]).get(f"{PRE}/links/").json()["results"]
    assert listed == {
        "id": link.pk,
        "participant": "P01",
        "workshop": "FI-1",
        "language": "",
        "email": "",
        "url": f"http://testserver/s/{link.token}/",
        "status": "invited",
        "sent_at": None,
        "created_at": listed["created_at"],
    }


def test_owners_make_links_for_participants_or_everyone(
    survey: Survey, people: dict[str, User]
) -> None:
    climb(
        people,
        "post",
        f"{PRE}/links/",
        {"mallory": 404, "victor": 403, "bob": 403, "alice": 201},
        {"participants": ["P02", "Callum"]},
    )
    alice = client_for(people["alice"])
    assert set(survey.invitations.values_list("participant__code", flat=True)) == {
        "P01",
        "P02",
        "P05",
    }
    for data, words in [
        ({"participants": ["P02", "P99", "nobody"]}, "P99, nobody"),
        ({}, "all=true"),
        ({"participants": ["P02"], "all": True}, "not both"),
    ]:
        refused = alice.post(f"{PRE}/links/", data, content_type="application/json")
        assert refused.status_code == 400 and words in refused.json()["participants"][0]
    wrong_language = alice.post(
        f"{PRE}/links/", {"all": True, "language": "fi"}, content_type="application/json"
    )
    assert wrong_language.status_code == 400 and "language" in wrong_language.json()

    made = alice.post(f"{PRE}/links/", {"all": True}, content_type="application/json").json()
    assert made["created"] == 2
    assert made["summary"] == "Made 2 new links; 5 participants have a link now."
    assert {link["status"] for link in made["links"]} == {"invited", "started", "completed"}
    assert survey.invitations.count() == 5


def test_owners_send_links_by_email(survey: Survey, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    link = survey.invitations.get()
    url = f"{PRE}/links/{link.pk}/"
    bad = alice.patch(url, {"email": "not an address"}, content_type="application/json")
    assert bad.status_code == 400 and "not an e-mail address" in bad.json()["email"][0]
    climb(people, "patch", url, OWNERS_ONLY, {"email": "aino@example.org"})

    climb(people, "post", f"{PRE}/links/send/", OWNERS_ONLY, {})

    # Alice's request sent the one link; the refused ones sent nothing.
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["aino@example.org"]
    assert link.token in mail.outbox[0].body
    again = alice.post(f"{PRE}/links/send/", {"participants": ["P01"]}, "application/json")
    assert again.json()["sent"] == 1
    unknown = alice.post(f"{PRE}/links/send/", {"participants": ["P04"]}, "application/json")
    assert unknown.status_code == 400 and "No link yet for P04" in unknown.json()["participants"][0]


def test_coders_and_viewers_never_meet_a_token(survey: Survey, people: dict[str, User]) -> None:
    Survey.objects.filter(pk=survey.pk).update(allows_anonymous=True, anonymous_token="anon-tok")
    tokens = [survey.invitations.get().token, "anon-tok"]
    question_id = survey.questions.first().pk
    for name in ("victor", "bob"):
        client = client_for(people[name])
        for url in [
            f"{API}/",
            f"{PRE}/",
            f"{PRE}/questions/",
            f"{PRE}/questions/{question_id}/",
            f"{PRE}/results/",
            f"{PRE}/results/?by=workshop",
            f"{PRE}/xlsform/",
            f"{PRE}/links/",
            f"{PRE}/responses/",
        ]:
            response = client.get(url)
            text = response.content.decode("latin-1")
            assert response.status_code in (200, 403), url
            assert not any(token in text for token in tokens), (name, url)
            assert SECRET_COMMENT not in text, (name, url)
    # The same requests show the owner both, so the check above can find them.
    alice = client_for(people["alice"])
    assert tokens[0] in alice.get(f"{PRE}/links/").content.decode()
    assert tokens[1] in alice.get(f"{PRE}/").content.decode()
    assert SECRET_COMMENT in alice.get(f"{PRE}/responses/").content.decode()


# --- Responses --------------------------------------------------------------------------------


def test_only_owners_read_individual_responses(survey: Survey, people: dict[str, User]) -> None:
    submitted = survey.responses.get(participant__code="P02")
    climb(people, "get", f"{PRE}/responses/", OWNERS_ONLY)
    climb(people, "get", f"{PRE}/responses/{submitted.pk}/", OWNERS_ONLY)

    alice = client_for(people["alice"])
    body = alice.get(f"{PRE}/responses/{submitted.pk}/").json()
    assert (body["participant"], body["workshop"], body["status"]) == ("P02", "FI-1", "submitted")
    assert body["answers"] == [
        {"question": "trust", "item": "", "value": "a"},
        {"question": "domains", "item": "", "value": "hiring"},
        {"question": "comments", "item": "", "value": SECRET_COMMENT},
    ]
    drafts = alice.get(f"{PRE}/responses/", {"status": "draft"}).json()["results"]
    assert [r["participant"] for r in drafts] == ["P03"]
    done = alice.get(f"{PRE}/responses/", {"status": "submitted"}).json()["results"]
    assert [r["participant"] for r in done] == ["P02"]
    bad = alice.get(f"{PRE}/responses/", {"status": "finished"})
    assert bad.status_code == 400 and "status" in bad.json()


def test_owners_import_responses_all_or_nothing(survey: Survey, people: dict[str, User]) -> None:
    good = b"participant,trust,domains\nP04,Agree,Hiring\nP05,sd,\n"
    for name, expected in [("mallory", 404), ("victor", 403), ("bob", 403)]:
        refused = post_file(client_for(people[name]), f"{PRE}/responses/import/", "r.csv", good)
        assert refused.status_code == expected
    assert client_for(None).post(f"{PRE}/responses/import/").status_code in (401, 403)
    alice = client_for(people["alice"])

    imported = post_file(alice, f"{PRE}/responses/import/", "r.csv", good)

    assert imported.status_code == 200, imported.json()
    assert imported.json()["imported"] == 2
    assert imported.json()["summary"] == "Imported 2 responses to pre."
    p04 = survey.responses.get(participant__code="P04")
    assert p04.is_submitted and {a.value for a in p04.answers.all()} == {"a", "hiring"}

    before = db_snapshot()
    bad = b"participant,trust,domains\nP01,Agree,Cooking\nP03,very much,\nP99,sa,\n"
    refused = post_file(alice, f"{PRE}/responses/import/", "bad.csv", bad)
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert [(e["row"], e["column"], e["value"]) for e in errors] == [
        (2, "domains", "Cooking"),
        (3, "trust", "very much"),
        (4, "participant", "P99"),
    ], errors
    assert "is not an answer to trust" in errors[1]["message"]
    assert refused.json()["file"][1].startswith("bad.csv, row 3, column 'trust'")
    not_json = post_file(alice, f"{PRE}/responses/import/", "r.csv", good, mapping="trust")
    assert not_json.status_code == 400 and "JSON object" in not_json.json()["mapping"][0]
    # P02 submitted already: replacing needs replace=true.
    again = post_file(alice, f"{PRE}/responses/import/", "r.csv", b"participant,trust\nP02,n\n")
    assert again.status_code == 400 and "replace" in again.json()["file"][0]
    missing = alice.post(f"{PRE}/responses/import/", {})
    assert missing.status_code == 400 and "file" in missing.json()
    assert db_snapshot() == before

    replaced = post_file(
        alice, f"{PRE}/responses/import/", "r.csv", b"participant,trust\nP02,n\n", replace="true"
    )
    assert replaced.status_code == 200 and replaced.json()["replaced"] == ["P02"]
    # A column whose header names no question is mapped to one by hand.
    mapped = post_file(
        alice,
        f"{PRE}/responses/import/",
        "r.csv",
        b"who,Q1\nP01,sa\n",
        mapping=json.dumps({"Q1": "trust"}),
    )
    assert mapped.status_code == 200 and mapped.json()["columns"] == {"Q1": "trust"}
    assert survey.responses.get(participant__code="P01").answers.get().value == "sa"


# --- XLSForm ----------------------------------------------------------------------------------


def test_members_download_the_xlsform_and_owners_import_one(
    survey: Survey, people: dict[str, User]
) -> None:
    climb(people, "get", f"{PRE}/xlsform/", MEMBERS_READ)
    download = client_for(people["victor"]).get(f"{PRE}/xlsform/")
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(download.content))
    assert {"survey", "choices", "settings"} <= set(book.sheetnames)

    for name, expected in [("mallory", 404), ("victor", 403), ("bob", 403)]:
        refused = post_file(client_for(people[name]), f"{API}/import/", "f.xlsx", download.content)
        assert refused.status_code == expected
    alice = client_for(people["alice"])
    made = post_file(alice, f"{API}/import/", "pre.xlsx", download.content, slug="pre-copy")
    assert made.status_code == 201, made.json()
    assert made.json()["survey"]["slug"] == "pre-copy"
    copy = Survey.objects.get(study=survey.study, slug="pre-copy")
    assert list(copy.questions.values_list("code", flat=True)) == ["trust", "domains", "comments"]

    before = db_snapshot()
    broken = post_file(alice, f"{API}/import/", "form.xlsx", b"not a workbook")
    assert broken.status_code == 400 and broken.json()["file"][0].startswith("form.xlsx")
    taken = post_file(alice, f"{API}/import/", "pre.xlsx", download.content, slug="pre")
    assert taken.status_code == 400 and "already" in taken.json()["slug"][0]
    assert db_snapshot() == before


# --- Results ----------------------------------------------------------------------------------


def test_members_read_aggregated_results(survey: Survey, people: dict[str, User]) -> None:
    climb(people, "get", f"{PRE}/results/", MEMBERS_READ)

    body = client_for(people["bob"]).get(f"{PRE}/results/", {"by": "workshop"}).json()
    assert (body["by"], body["respondents"], body["change"]) == ("workshop", 1, None)
    trust = body["questions"][0]
    assert trust["code"] == "trust" and trust["overall"]["n"] == 1
    agree = next(o for o in trust["overall"]["options"] if o["code"] == "a")
    assert (agree["count"], agree["share"]) == (1, 1.0)
    assert [g["group"] for g in trust["groups"]] == ["FI-1", "GB-1"]
    with_drafts = client_for(people["bob"]).get(f"{PRE}/results/", {"drafts": "true"}).json()
    assert with_drafts["respondents"] == 2

    unknown = client_for(people["bob"]).get(f"{PRE}/results/", {"by": "shoe size"})
    assert unknown.status_code == 400 and "by" in unknown.json()


def test_a_later_wave_reports_the_change(survey: Survey, people: dict[str, User]) -> None:
    post = Survey.objects.create(study=survey.study, slug="post", title="After", wave_of=survey)
    question(post, "trust", "likert5", "I trust algorithms", TRUST)
    survey.responses.update(submitted_at=timezone.now())
    answer(post, "P02", True, trust="sa")
    answer(post, "P03", True, trust="d")

    body = client_for(people["victor"]).get(f"{API}/post/results/").json()

    [change] = body["change"]
    assert (change["code"], change["overall"]["n_pairs"]) == ("trust", 2)
    assert change["overall"]["mean_difference"] == 1.0


# --- Junk -------------------------------------------------------------------------------------

JUNK = [[], "text", 7, None, {"code": 5, "kind": [], "label": {}}, {"options": [1, "x"]}]


@pytest.mark.parametrize("body", JUNK, ids=lambda body: type(body).__name__)
def test_junk_gets_a_clear_400_never_a_server_error(
    survey: Survey, people: dict[str, User], body: object
) -> None:
    alice = Client(raise_request_exception=False)
    alice.force_login(people["alice"])
    question_id = survey.questions.first().pk
    link_id = survey.invitations.get().pk
    for method, url in [
        ("post", f"{API}/"),
        ("patch", f"{PRE}/"),
        ("post", f"{PRE}/questions/"),
        ("patch", f"{PRE}/questions/{question_id}/"),
        ("post", f"{PRE}/questions/{question_id}/move/"),
        ("post", f"{PRE}/questions/reorder/"),
        ("post", f"{PRE}/links/"),
        ("patch", f"{PRE}/links/{link_id}/"),
        ("post", f"{PRE}/links/send/"),
    ]:
        response = getattr(alice, method)(url, json.dumps(body), content_type="application/json")
        if url in (f"{PRE}/", f"{PRE}/links/send/") and isinstance(body, dict):
            # Fields these do not know are left aside, as everywhere in the API: a change of
            # nothing, and sending the links not sent yet (none).
            assert response.status_code == 200
            continue
        assert response.status_code == 400, (method, url, response.status_code)
        assert response.json(), (method, url)


@pytest.mark.parametrize(
    "query",
    [
        {"by": "variable:"},
        {"by": "variable:shoe size"},
        {"by": "survey:pre/trust"},
        {"by": "x" * 5000},
        {"drafts": "maybe"},
    ],
)
def test_odd_results_queries_are_answered(
    survey: Survey, people: dict[str, User], query: dict
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(people["victor"])
    response = client.get(f"{PRE}/results/", query)
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert "by" in response.json()


def test_numbers_too_large_for_an_id_are_refused(survey: Survey, people: dict[str, User]) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(people["alice"])
    huge = 2**70
    assert client.get(f"{PRE}/questions/{huge}/").status_code == 404
    assert client.get(f"{PRE}/responses/{huge}/").status_code == 404
    page = client.post(
        f"{PRE}/questions/",
        {"code": "why", "kind": "text", "label": "Why?", "page": huge},
        content_type="application/json",
    )
    assert page.status_code == 400 and "page" in page.json()
    order = client.post(
        f"{PRE}/questions/reorder/",
        {"pages": [{"page": huge, "questions": [huge]}]},
        content_type="application/json",
    )
    assert order.status_code == 400 and "pages" in order.json()
