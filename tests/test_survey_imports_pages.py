"""The owner's import pages and individual responses, in the browser's terms (the test client).

Alice owns the study, Bob codes, Victor views, Mallory is an outsider. Alice imports a
KoboToolbox-style XLSForm, downloads ours, imports a file of responses through a preview whose
columns she can re-map, and reads one respondent's answers. Nobody else reads those answers.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from openpyxl import Workbook
from pyxform.xls2xform import convert

from studies.models import Study
from studies.services import import_roster
from surveys import views_imports
from surveys.models import Answer, Question, Response, Survey
from surveys.xlsform import import_xlsform
from tests.helpers import client_for, db_snapshot
from tests.test_responses_import import DOMAINS, TRUST, add_options, add_question

# --- A KoboToolbox-style XLSForm, written here ------------------------------------------------

KOBO_SURVEY = [
    ["type", "name", "label::English (en)", "label::Deutsch (de)", "required", "relevant",
     "appearance"],
    ["start", "start"],
    ["note", "welcome", "Thank you for coming", "Danke fürs Kommen"],
    ["select_one agree5", "trust", "I trust algorithms", "Ich vertraue Algorithmen", "yes", "",
     "likert"],
    ["select_multiple domains", "domains", "Which domains?", "Welche Bereiche?", "",
     "${trust} = 'a4' or ${trust} = 'a5'"],
    ["text", "why", "Why?", "Warum?", "", "", "multiline"],
]  # fmt: skip
KOBO_CHOICES = [
    ["list_name", "name", "label::English (en)", "label::Deutsch (de)"],
    *[["agree5", f"a{n}", f"Agree {n}", f"Zustimmung {n}"] for n in range(1, 6)],
    ["domains", "hiring", "Hiring", "Einstellung"],
    ["domains", "justice", "Justice", "Justiz"],
]


def kobo_form(survey_rows: list[list[str]] = KOBO_SURVEY) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey_rows:
        sheet.append(row)
    choices = book.create_sheet("choices")
    for row in KOBO_CHOICES:
        choices.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "default_language"])
    settings.append(["After the workshop", "post_workshop", "English (en)"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(name: str, data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def said(response: object) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def alice(people: dict[str, User]) -> Client:
    return client_for(people["alice"])


# --- XLSForm in -------------------------------------------------------------------------------


def test_the_import_url_is_this_page_not_a_survey_called_import(study: Study) -> None:
    url = reverse("surveys:import_xlsform", args=[study.slug])
    assert resolve(url).func is views_imports.xlsform_import


def test_an_owner_imports_a_kobo_style_xlsform(study: Study, alice: Client) -> None:
    url = reverse("surveys:import_xlsform", args=[study.slug])
    assert "XLSForm file" in alice.get(url).content.decode()

    response = alice.post(url, {"file": upload("post.xlsx", kobo_form())})

    survey = Survey.objects.get(study=study)
    assert response.status_code == 302
    assert survey.slug == "post_workshop" and survey.language_list == ["en", "de"]
    trust, domains, why = survey.questions.all()
    assert (trust.kind, trust.required) == (Question.Kind.LIKERT5, True)
    assert domains.relevant == "${trust} = 'a4' or ${trust} = 'a5'"
    assert domains.translations.get(language="de").text == "Welche Bereiche?"
    assert why.kind == Question.Kind.LONG_TEXT
    success, left_out = said(response)
    assert success == (
        "Imported the survey 'After the workshop' (post_workshop) from post.xlsx: 1 page, "
        "3 questions, languages en, de."
    )
    # What could not be represented is named, row by row.
    assert left_out.startswith("Left out, because Colloquy cannot represent them:")
    assert "sheet 'survey', row 2: start 'start' skipped" in left_out
    assert "row 3: note 'welcome' skipped: a note is text to read" in left_out


def test_a_form_with_what_we_cannot_represent_is_refused_naming_row_and_column(
    study: Study, alice: Client
) -> None:
    rows = [*KOBO_SURVEY, ["geopoint", "where", "Where are you?", "Wo sind Sie?"]]
    before = db_snapshot()

    response = alice.post(
        reverse("surveys:import_xlsform", args=[study.slug]),
        {"file": upload("post.xlsx", kobo_form(rows))},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "Nothing was imported: post.xlsx, sheet 'survey', row 7, column 'type': "
        "'geopoint': locations are not supported"
    ) in page.replace("&#x27;", "'")
    assert db_snapshot() == before


def test_a_file_that_is_not_a_workbook_is_refused(study: Study, alice: Client) -> None:
    response = alice.post(
        reverse("surveys:import_xlsform", args=[study.slug]),
        {"file": upload("post.xlsx", b"type,name\ntext,why\n")},
    )
    assert response.status_code == 200
    assert "Nothing was imported: post.xlsx" in response.content.decode()
    assert not Survey.objects.exists()


# --- XLSForm out ------------------------------------------------------------------------------


def test_the_exported_xlsform_is_valid_for_pyxform(study: Study, alice: Client) -> None:
    survey = import_xlsform(study=study, filename="post.xlsx", data=kobo_form()).survey

    response = alice.get(reverse("surveys:export_xlsform", args=[study.slug, survey.slug]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response["Content-Disposition"] == 'attachment; filename="post_workshop.xlsx"'
    result = convert(xlsform=response.content, file_type=".xlsx")
    assert "<h:title>After the workshop</h:title>" in result.xform
    assert "Ich vertraue Algorithmen" in result.xform


# --- Responses from a file --------------------------------------------------------------------


@pytest.fixture
def pre(roster_study: Study) -> Survey:
    """Alice's pre-workshop survey in English and German: a Likert scale, a multiple choice, a
    matrix and a long text."""
    survey = Survey.objects.create(
        study=roster_study, slug="pre", title="Before the workshop", languages="en,de"
    )
    trust = add_question(survey, "trust", "likert5", "I trust algorithms", "Ich vertraue")
    add_options(trust, TRUST)
    domains = add_question(survey, "domains", "multiple", "Which domains?", allows_other=True)
    add_options(domains, DOMAINS)
    rating = add_question(survey, "rating", "matrix", "Rate each domain")
    add_options(rating, [("low", "Low", ""), ("high", "High", "")])
    add_options(rating, [("hiring", "Hiring", ""), ("lending", "Lending", "")], role="row")
    add_question(survey, "comments", "long_text", "Anything else?")
    return survey


def import_url(survey: Survey) -> str:
    return reverse("surveys:import_responses", args=[survey.study.slug, survey.slug])


def answers_of(survey: Survey, code: str) -> dict[str, str]:
    response = Response.objects.get(survey=survey, participant__code=code)
    return {
        a.question.code + (f"/{a.item}" if a.item else ""): a.value
        for a in response.answers.select_related("question")
    }


def send(client: Client, survey: Survey, name: str, data: bytes) -> object:
    return client.post(import_url(survey), {"action": "upload", "file": upload(name, data)})


GOOD = (
    "participant,Ich vertraue,Bereiche,Rating/hiring,comments\n"
    "P01,Stimme voll zu,Hiring decisions; justice,high,Fine by me\n"
    "Eero,2,medicine,,\n"
)


def test_the_preview_shows_each_column_its_question_and_the_first_rows(
    pre: Survey, alice: Client
) -> None:
    before = db_snapshot()

    response = send(alice, pre, "pre.csv", GOOD.encode())
    assert response.status_code == 302 and response["Location"] == import_url(pre)
    page = alice.get(import_url(pre)).content.decode()

    assert "Preview: pre.csv" in page
    # Matched by header: the German label, a matrix row; a header that names nothing is ignored.
    assert '<option value="trust" selected>trust · I trust algorithms</option>' in page
    assert '<option value="rating/hiring" selected>rating/hiring · Rate each domain: Hiring' in page
    assert '<option value="comments" selected>' in page
    bereiche = page.split('id="map-2"')[1].split("</select>")[0]
    assert '<option value="" selected>' not in bereiche  # nothing chosen: the first, "Ignore"
    assert "selected" not in bereiche
    assert "Stimme voll zu" in page and "Hiring decisions; justice" in page  # the first rows
    assert "<dt>New responses</dt><dd>2</dd>" in page
    assert "P01, P02" in page
    assert "Import 2 responses" in page
    assert db_snapshot() == before  # nothing written before the confirmation


def preview_then(client: Client, survey: Survey, action: str, **fields: str) -> object:
    return client.post(import_url(survey), {"action": action, **fields})


def test_an_owner_changes_a_columns_question_and_imports(
    pre: Survey, alice: Client, people: dict[str, User]
) -> None:
    send(alice, pre, "pre.csv", GOOD.encode())
    alice.get(import_url(pre))
    mapping = {"map-1": "trust", "map-2": "domains", "map-3": "rating/hiring", "map-4": ""}

    # Confirming a mapping the preview has not shown imports nothing.
    response = preview_then(alice, pre, "confirm", **mapping)
    assert response.status_code == 302
    assert "changed since the preview" in said(response)[0]
    assert not Response.objects.exists()

    page = alice.get(import_url(pre)).content.decode()
    assert '<option value="domains" selected>' in page
    comments = page.split('id="map-4"')[1].split("</select>")[0]
    assert "selected" not in comments  # now ignored

    response = preview_then(alice, pre, "confirm", **mapping)

    assert response["Location"] == reverse("surveys:responses", args=["adm", "pre"])
    assert said(response) == ["Imported 2 responses to pre; 1 column ignored: 'comments'."]
    assert answers_of(pre, "P01") == {
        "trust": "sa",
        "domains": "hiring justice",
        "rating/hiring": "high",
    }
    assert answers_of(pre, "P02") == {"trust": "d", "domains": "medicine"}
    imported = Response.objects.get(participant__code="P01")
    assert imported.is_submitted and imported.source == "import"
    assert imported.imported_by == people["alice"]
    # The pending file is gone: the page offers a new upload.
    assert "Upload and preview" in alice.get(import_url(pre)).content.decode()


BAD = "participant,trust,domains\nP01,maybe,hiring\nP99,1,hiring\nP03,2,hiring; cooking\naino,3,\n"


def test_a_bad_file_lists_every_problem_by_row_column_and_value_and_writes_nothing(
    pre: Survey, alice: Client
) -> None:
    before = db_snapshot()
    send(alice, pre, "pre.csv", BAD.encode())
    page = alice.get(import_url(pre)).content.decode()

    assert "4 problems: nothing can be imported until they are fixed" in page
    problems = page.split('id="problems-h"')[1].split("</table>")[0]
    rows = [
        [cell.split(">", 1)[1].split("<")[0] for cell in row.split("<td")[1:]]
        for row in problems.split("<tbody>")[1].split("<tr>")[1:]
    ]
    assert [row[:2] for row in rows] == [
        ["2", "trust"],
        ["3", "participant"],
        ["4", "domains"],
        ["5", "participant"],
    ]
    assert "&#x27;maybe&#x27; is not an answer to trust: use one of sd (Strongly" in problems
    assert "<code>P99</code>" in problems and "is not a participant of adm" in problems
    assert "&#x27;cooking&#x27; (in &#x27;hiring; cooking&#x27;) is not an answer" in problems
    assert "&#x27;aino&#x27; (P01) already answered in row 2" in problems
    assert "Import 4 responses" not in page  # no way to confirm

    response = preview_then(alice, pre, "confirm", **{"map-1": "trust", "map-2": "domains"})

    assert "Nothing was imported: the file has problems." in said(response)
    assert db_snapshot() == before


def test_two_columns_for_one_question_are_a_problem_the_mapping_can_fix(
    pre: Survey, alice: Client
) -> None:
    send(alice, pre, "pre.csv", b"id,trust,I trust algorithms\nP01,1,5\n")
    page = alice.get(import_url(pre)).content.decode()
    assert "columns &#x27;trust&#x27; and &#x27;I trust algorithms&#x27; both answer" in page

    preview_then(alice, pre, "preview", **{"map-1": "trust", "map-2": ""})
    page = alice.get(import_url(pre)).content.decode()
    assert "<dt>Problems</dt><dd>0</dd>" in page and "Import 1 response" in page
    preview_then(alice, pre, "confirm", **{"map-1": "trust", "map-2": ""})

    assert answers_of(pre, "P01") == {"trust": "sd"}


def test_a_submitted_response_is_replaced_only_when_the_owner_says_so(
    pre: Survey, alice: Client
) -> None:
    earlier = Response.objects.create(
        survey=pre, participant=pre.study.participants.get(code="P01"), submitted_at=timezone.now()
    )
    Answer.objects.create(response=earlier, question=pre.questions.get(code="comments"), value="x")
    send(alice, pre, "pre.csv", b"participant,trust\nP01,4\nP02,5\n")
    page = alice.get(import_url(pre)).content.decode()
    assert "P01 has already submitted a response to pre" in page

    preview_then(alice, pre, "preview", **{"map-1": "trust", "replace": "1"})
    page = alice.get(import_url(pre)).content.decode()
    assert "<dt>Responses replaced</dt><dd>1</dd>" in page
    assert "their earlier answers are deleted):</strong> P01" in page
    response = preview_then(alice, pre, "confirm", **{"map-1": "trust", "replace": "1"})

    assert said(response) == ["Imported 2 responses to pre (1 earlier response replaced)."]
    assert answers_of(pre, "P01") == {"trust": "a"}


def test_cancelling_drops_the_file(pre: Survey, alice: Client) -> None:
    before = db_snapshot()
    send(alice, pre, "pre.csv", GOOD.encode())

    response = preview_then(alice, pre, "cancel")

    assert said(response) == ["Import cancelled: nothing was written."]
    assert "Upload and preview" in alice.get(import_url(pre)).content.decode()
    assert db_snapshot() == before


def test_an_unreadable_or_too_large_file_is_refused_at_upload(
    pre: Survey, alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = send(alice, pre, "pre.txt", b"participant,trust\nP01,1\n")
    assert response.status_code == 200
    assert "Nothing was imported: pre.txt" in response.content.decode()

    response = send(alice, pre, "pre.csv", b"participant\nP01\n")
    assert "has only one column" in response.content.decode()

    monkeypatch.setattr(views_imports, "SESSION_FILE_LIMIT", 10)
    response = send(alice, pre, "pre.csv", GOOD.encode())
    assert "files up to 0 MB can be previewed here" in response.content.decode()
    assert f"pre.csv is {len(GOOD) / 1048576:.1f} MB" in response.content.decode()
    assert views_imports._session_key(pre) not in alice.session


# --- QualCoder's survey files, through the page ----------------------------------------------


@pytest.fixture
def qualcoder(study: Study) -> Survey:
    roster = "participant,workshop,country,language\n" + "".join(
        f"ID{n},QC-1,GB,en\n" for n in range(4, 10)
    )
    import_roster(study=study, filename="roster.csv", data=roster.encode())
    survey = Survey.objects.create(study=study, slug="qc", title="QualCoder example")
    add_question(survey, "age", "number", "Age", min_value=0, max_value=120)
    add_question(survey, "gender", "text", "Gender")
    add_question(survey, "interest", "text", "Interest")
    add_question(survey, "freetext", "long_text", "Why did you (not) study further?")
    add_question(survey, "qual_hobby_opinions", "long_text", "Your hobby")
    add_question(survey, "qual_pet_opinions", "long_text", "Pets")
    return survey


@pytest.mark.parametrize(
    "name, answers", [("qualcoder_survey456.csv", 11), ("qualcoder_survey789.xlsx", 14)]
)
def test_qualcoder_survey_files_import_through_the_page(
    qualcoder: Survey, alice: Client, interop: Path, name: str, answers: int
) -> None:
    send(alice, qualcoder, name, (interop / name).read_bytes())
    page = alice.get(import_url(qualcoder)).content.decode()
    assert f"Preview: {name}" in page and "<dt>Problems</dt><dd>0</dd>" in page

    # Confirm what the preview shows, as the browser would post it back.
    mapping = {
        f"map-{n}": chosen
        for n, chosen in enumerate(
            alice.session[views_imports._session_key(qualcoder)]["previewed"]["mapping"].values(),
            start=1,
        )
    }
    response = preview_then(alice, qualcoder, "confirm", **mapping)

    assert said(response) == ["Imported 3 responses to qc."]
    assert Answer.objects.filter(response__survey=qualcoder).count() == answers


# --- The individual responses -----------------------------------------------------------------


@pytest.fixture
def answered(pre: Survey) -> Survey:
    """P01 submitted through a link in German; P02 left a draft; someone answered anonymously."""
    participants = {p.code: p for p in pre.study.participants.all()}
    questions = {q.code: q for q in pre.questions.all()}
    p01 = Response.objects.create(
        survey=pre, participant=participants["P01"], language="de", submitted_at=timezone.now()
    )
    for code, item, value in [
        ("trust", "", "sa"),
        ("domains", "", "hiring justice"),
        ("domains", "_other", "Policing"),
        ("rating", "lending", "low"),
    ]:
        Answer.objects.create(response=p01, question=questions[code], item=item, value=value)
    Response.objects.create(survey=pre, participant=participants["P02"], language="en")
    Response.objects.create(survey=pre, source="anonymous link", submitted_at=timezone.now())
    return pre


def test_the_owner_lists_responses_and_filters_them_by_status(
    answered: Survey, alice: Client
) -> None:
    url = reverse("surveys:responses", args=["adm", "pre"])
    page = alice.get(url).content.decode()
    assert "3 responses, 2 submitted" in page
    assert ">P01</a>" in page and ">P02</a>" in page and "Anonymous #" in page
    assert "<td>FI-1</td>" in page

    drafts = alice.get(url, {"status": "draft"}).content.decode()
    assert ">P02</a>" in drafts and ">P01</a>" not in drafts

    submitted = alice.get(url, {"status": "submitted"}).content.decode()
    assert ">P01</a>" in submitted and ">P02</a>" not in submitted


def test_a_long_list_pages_and_keeps_its_filter(pre: Survey, alice: Client) -> None:
    now = timezone.now()
    Response.objects.bulk_create(
        Response(survey=pre, source="anonymous link", submitted_at=now) for _ in range(55)
    )
    url = reverse("surveys:responses", args=["adm", "pre"])

    first = alice.get(url, {"status": "submitted"}).content.decode()
    second = alice.get(url, {"status": "submitted", "page": 2}).content.decode()

    assert first.count("Anonymous #") == 50 and second.count("Anonymous #") == 5
    assert "Page 1 of 2" in first and 'href="?status=submitted&amp;page=2"' in first


def test_the_list_says_what_to_do_when_it_is_empty(pre: Survey, alice: Client) -> None:
    page = alice.get(reverse("surveys:responses", args=["adm", "pre"])).content.decode()
    assert "No responses yet: send the participants their links" in page
    assert "import responses collected elsewhere" in page


def test_one_response_shows_question_and_option_labels(answered: Survey, alice: Client) -> None:
    response = Response.objects.get(participant__code="P01")

    page = alice.get(reverse("surveys:response", args=["adm", "pre", response.pk]))

    text = page.content.decode()
    assert 'I trust algorithms <span class="muted">(trust)</span>' in text
    assert "Strongly agree (sa)" in text
    assert "<li>Hiring decisions (hiring)</li>" in text and "<li>Justice (justice)</li>" in text
    assert "<li>Other: Policing</li>" in text
    assert "<li>Lending: Low (low)</li>" in text
    assert "Anything else?" in text and "Not answered" in text
    assert "Questions answered</dt><dd>3 of 4" in text


def test_a_response_of_another_survey_is_not_found(answered: Survey, alice: Client) -> None:
    other = Survey.objects.create(study=answered.study, slug="post", title="After")
    response = Response.objects.get(participant__code="P01")
    url = reverse("surveys:response", args=["adm", other.slug, response.pk])
    assert alice.get(url).status_code == 404


# --- Who may --------------------------------------------------------------------------------


def urls_of(survey: Survey) -> list[str]:
    response = survey.responses.get(participant__code="P01")
    return [
        reverse("surveys:import_xlsform", args=["adm"]),
        reverse("surveys:export_xlsform", args=["adm", "pre"]),
        reverse("surveys:import_responses", args=["adm", "pre"]),
        reverse("surveys:responses", args=["adm", "pre"]),
        reverse("surveys:response", args=["adm", "pre", response.pk]),
    ]


@pytest.mark.parametrize(
    "who, status", [("mallory", 404), ("victor", 403), ("bob", 403), ("alice", 200)]
)
def test_only_the_owner_opens_the_pages(
    answered: Survey, people: dict[str, User], who: str, status: int
) -> None:
    client = client_for(people[who])
    for url in urls_of(answered):
        response = client.get(url)
        assert response.status_code == status, url
        if status != 200:
            assert "Policing" not in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(answered: Survey) -> None:
    for url in urls_of(answered):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_a_coder_cannot_import(pre: Survey, people: dict[str, User]) -> None:
    before = db_snapshot()
    bob = client_for(people["bob"])
    assert send(bob, pre, "pre.csv", GOOD.encode()).status_code == 403
    response = bob.post(
        reverse("surveys:import_xlsform", args=["adm"]), {"file": upload("f.xlsx", kobo_form())}
    )
    assert response.status_code == 403
    assert db_snapshot() == before


def test_an_archived_study_is_read_but_not_imported_into(answered: Survey, alice: Client) -> None:
    Study.objects.filter(pk=answered.study.pk).update(archived_at=timezone.now())
    import_xlsform_url, export, import_responses_url, listing, one = urls_of(answered)

    for url in (export, listing, one):
        assert alice.get(url).status_code == 200, url
    assert "Import responses from a file" not in alice.get(listing).content.decode()
    for url in (import_xlsform_url, import_responses_url):
        assert alice.get(url).status_code == 403, url
    before = db_snapshot()
    assert send(alice, answered, "pre.csv", GOOD.encode()).status_code == 403
    assert db_snapshot() == before
