"""The survey builder: pages, questions of every kind, options, order, translations.

Alice owns the study and builds; Bob (coder) and Victor (viewer) may not; Mallory is an
outsider. The write functions in surveys.builder are tested first, then the pages over them.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from studies.models import Study
from surveys import builder
from surveys.builder import QuestionData
from surveys.models import Answer, Page, Question, Response, Survey
from tests.helpers import client_for


@pytest.fixture
def survey(roster_study: Study) -> Survey:
    return Survey.objects.create(
        study=roster_study, slug="trust", title="Trust in decisions", languages="en,de"
    )


@pytest.fixture
def pages(survey: Survey) -> list[Page]:
    return [
        builder.add_page(survey, title="About you"),
        builder.add_page(survey, title="Your views"),
    ]


def codes_in_order(survey: Survey) -> list[tuple[str, list[str]]]:
    return [
        (str(page) if page else "-", [q.code for q in questions])
        for page, questions in builder.layout(survey)
    ]


def answer(survey: Survey, roster_study: Study, question: Question, value: str) -> Response:
    participant = roster_study.participants.exclude(survey_responses__survey=survey).first()
    response = Response.objects.create(
        survey=survey, participant=participant, submitted_at=timezone.now()
    )
    Answer.objects.create(response=response, question=question, value=value)
    return response


# The write functions


def test_it_adds_a_question_of_every_kind(survey: Survey, pages: list[Page]) -> None:
    extra = {
        "single": {"options": [("yes", "Yes"), ("no", "No")]},
        "multiple": {"options": [("hiring", "Hiring")], "allows_other": True},
        "ranking": {"options": [("a", "Accuracy"), ("n", "Negotiability")]},
        "number": {"min_value": 18, "max_value": 99},
        "matrix": {"rows": [("speed", "Speed"), ("fairness", "Fairness")]},
    }
    for kind in Question.Kind.values:
        builder.add_question(
            survey,
            QuestionData(code=f"q_{kind}", kind=kind, label=f"A {kind}?", **extra.get(kind, {})),
            page=pages[0],
        )
    assert survey.questions.count() == len(Question.Kind.values)
    likert7 = survey.questions.get(code="q_likert7")
    assert next(o.label for o in likert7.options.all()) == "Strongly disagree"
    assert [o.code for o in likert7.options.all()] == [str(n) for n in range(1, 8)]
    assert survey.questions.get(code="q_multiple").allows_other
    assert survey.questions.get(code="q_number").max_value == 99
    matrix = survey.questions.get(code="q_matrix")
    assert [o.code for o in matrix.options.filter(role="row")] == ["speed", "fairness"]
    assert [o.code for o in matrix.options.filter(role="choice")] == ["low", "medium", "high"]
    assert not survey.questions.get(code="q_text").options.exists()


def test_it_refuses_a_bad_or_taken_code(survey: Survey) -> None:
    with pytest.raises(ValidationError) as bad:
        builder.add_question(survey, QuestionData(code="1st", kind="text", label="Why?"))
    assert "not a code" in str(bad.value.message_dict["code"])
    builder.add_question(survey, QuestionData(code="why", kind="text", label="Why?"))
    with pytest.raises(ValidationError) as taken:
        builder.add_question(survey, QuestionData(code="why", kind="text", label="Why again?"))
    assert "already has a question with the code 'why'" in str(taken.value)
    assert survey.questions.count() == 1


def test_a_likert_scale_keeps_its_codes_and_number_of_points(survey: Survey) -> None:
    points = [("1", "No"), ("2", "Rather no"), ("3", "Unsure"), ("4", "Rather yes"), ("5", "Yes")]
    with pytest.raises(ValidationError) as too_few:
        builder.add_question(
            survey, QuestionData(code="t", kind="likert5", label="T", options=points[:4])
        )
    assert "has 5 labelled points, not 4" in too_few.value.message_dict["options"][0]
    recoded = [("a", "No"), *points[1:]]
    with pytest.raises(ValidationError) as renamed:
        builder.add_question(
            survey, QuestionData(code="t", kind="likert5", label="T", options=recoded)
        )
    assert "coded 1 to 5 in order (found a, 2, 3, 4, 5)" in renamed.value.message_dict["options"][0]
    trust = builder.add_question(
        survey, QuestionData(code="t", kind="likert5", label="T", options=points)
    )
    assert [o.label for o in trust.options.all()] == [label for _code, label in points]


def test_it_refuses_a_choice_question_without_options(survey: Survey) -> None:
    with pytest.raises(ValidationError) as error:
        builder.add_question(survey, QuestionData(code="c", kind="single", label="Pick"))
    assert "at least 2 options" in str(error.value.message_dict["options"])
    assert not survey.questions.exists()


def test_it_refuses_conditions_on_unknown_or_later_questions(
    survey: Survey, pages: list[Page]
) -> None:
    with pytest.raises(ValidationError) as unknown:
        builder.add_question(
            survey,
            QuestionData(code="why", kind="text", label="Why?", relevant="${nope} = 'x'"),
        )
    assert "${nope}, no such question" in unknown.value.message_dict["relevant"][0]
    with pytest.raises(ValidationError) as syntax:
        builder.add_question(
            survey, QuestionData(code="why", kind="text", label="Why?", relevant="${a} =")
        )
    assert "Expected a value" in syntax.value.message_dict["relevant"][0]
    builder.add_question(survey, QuestionData(code="a", kind="text", label="A"), page=pages[1])
    with pytest.raises(ValidationError) as later:
        builder.add_question(
            survey,
            QuestionData(code="b", kind="text", label="B", relevant="${a} = 'x'"),
            page=pages[0],
        )
    assert "does not come earlier" in later.value.message_dict["relevant"][0]
    assert list(survey.questions.values_list("code", flat=True)) == ["a"]


def test_it_moves_questions_up_and_down_and_across_pages(survey: Survey, pages: list[Page]) -> None:
    for code, page in [("a", 0), ("b", 0), ("c", 1)]:
        builder.add_question(
            survey, QuestionData(code=code, kind="text", label=code), page=pages[page]
        )
    builder.move(survey.questions.get(code="b"), "up")
    assert codes_in_order(survey) == [("About you", ["b", "a"]), ("Your views", ["c"])]
    builder.move(survey.questions.get(code="a"), "down")
    assert codes_in_order(survey) == [("About you", ["b"]), ("Your views", ["a", "c"])]
    builder.move(pages[1], "up")
    assert codes_in_order(survey) == [("Your views", ["a", "c"]), ("About you", ["b"])]
    orders = list(survey.questions.order_by("order").values_list("code", flat=True))
    assert orders == ["a", "c", "b"]


def test_a_move_that_breaks_a_condition_is_refused(survey: Survey, pages: list[Page]) -> None:
    builder.add_question(survey, QuestionData(code="a", kind="text", label="A"), page=pages[0])
    builder.add_question(
        survey,
        QuestionData(code="b", kind="text", label="B", relevant="${a} != ''"),
        page=pages[0],
    )
    with pytest.raises(ValidationError) as error:
        builder.move(survey.questions.get(code="b"), "up")
    assert "refers to ${a}, which does not come earlier" in str(error.value)
    assert codes_in_order(survey) == [("About you", ["a", "b"]), ("Your views", [])]


def test_an_edit_moves_a_question_to_another_page_unless_that_breaks_a_condition(
    survey: Survey, pages: list[Page], people: dict[str, User]
) -> None:
    builder.add_question(survey, QuestionData(code="a", kind="text", label="A"), page=pages[0])
    b = builder.add_question(
        survey, QuestionData(code="b", kind="text", label="B", relevant="${a}"), page=pages[1]
    )
    a = survey.questions.get(code="a")
    alice = client_for(people["alice"])
    data = {"code": "a", "kind": "text", "label": "A", "page": pages[1].pk}
    html = alice.post(url(survey, f"questions/{a.pk}/"), data).content.decode()
    assert "Question b: its condition refers to ${a}, which does not come earlier" in html
    assert codes_in_order(survey) == [("About you", ["a"]), ("Your views", ["b"])]
    data = {"code": "b", "kind": "text", "label": "B", "relevant": "${a}", "page": pages[0].pk}
    assert alice.post(url(survey, f"questions/{b.pk}/"), data).status_code == 302
    assert codes_in_order(survey) == [("About you", ["a", "b"]), ("Your views", [])]


def test_it_reorders_as_drag_and_drop_sends(survey: Survey, pages: list[Page]) -> None:
    a = builder.add_question(survey, QuestionData(code="a", kind="text", label="A"), page=pages[0])
    b = builder.add_question(survey, QuestionData(code="b", kind="text", label="B"), page=pages[0])
    builder.reorder(survey, [(pages[1].pk, [b.pk]), (pages[0].pk, [a.pk])])
    assert codes_in_order(survey) == [("Your views", ["b"]), ("About you", ["a"])]
    with pytest.raises(ValidationError):
        builder.reorder(survey, [(pages[1].pk, [b.pk]), (pages[0].pk, [])])


def test_a_question_with_answers_keeps_its_kind_and_used_options(
    survey: Survey, roster_study: Study
) -> None:
    consent = builder.add_question(
        survey,
        QuestionData(
            code="consent", kind="single", label="Agree?", options=[("yes", "Yes"), ("no", "No")]
        ),
    )
    answer(survey, roster_study, consent, "yes")
    answer(survey, roster_study, consent, "yes")
    with pytest.raises(ValidationError) as kind:
        builder.update_question(consent, QuestionData(code="consent", kind="text", label="Agree?"))
    assert "2 responses already answer this question" in kind.value.message_dict["kind"][0]
    with pytest.raises(ValidationError) as removed:
        builder.update_question(
            consent,
            QuestionData(
                code="consent",
                kind="single",
                label="Agree?",
                options=[("no", "No"), ("maybe", "Maybe")],
            ),
        )
    assert "'yes' (Yes) is used by 2 answers" in removed.value.message_dict["options"][0]
    builder.update_question(
        consent,
        QuestionData(
            code="consent",
            kind="single",
            label="Do you agree?",
            options=[("yes", "Yes, I do"), ("no", "No"), ("maybe", "Maybe")],
        ),
    )
    consent.refresh_from_db()
    assert consent.label == "Do you agree?"
    assert [o.label for o in consent.options.all()] == ["Yes, I do", "No", "Maybe"]


def test_a_renamed_code_that_breaks_a_condition_is_refused(survey: Survey) -> None:
    a = builder.add_question(survey, QuestionData(code="a", kind="text", label="A"))
    builder.add_question(survey, QuestionData(code="b", kind="text", label="B", relevant="${a}"))
    with pytest.raises(ValidationError) as error:
        builder.update_question(a, QuestionData(code="renamed", kind="text", label="A"))
    assert "Question b: its condition refers to ${a}" in error.value.message_dict["code"][0]
    with pytest.raises(ValidationError):
        builder.delete_question(a)
    assert survey.questions.filter(code="a").exists()


def test_it_saves_translations_and_counts_them(survey: Survey, pages: list[Page]) -> None:
    builder.add_question(
        survey,
        QuestionData(
            code="consent",
            kind="single",
            label="Agree?",
            help_text="Choose one",
            options=[("yes", "Yes"), ("no", "No")],
        ),
        page=pages[0],
    )
    rows = builder.translation_rows(survey, "de")
    # Two page titles, the label and help, two options.
    assert len(rows) == 6
    posted = {row.name: "" for row in rows}
    posted[rows[0].name] = "Über Sie"
    consent = next(r for r in rows if r.kind == "question" and r.field == "text")
    posted[consent.name] = "Einverstanden?"
    assert builder.save_translations(survey, "de", posted) == 2
    assert survey.pages.get(title="About you").translations.get(language="de").text == "Über Sie"
    with pytest.raises(ValidationError):
        builder.set_translation(pages[0], "en", "About you")


# The pages


def url(survey: Survey, rest: str = "") -> str:
    return f"/studies/{survey.study.slug}/surveys/{survey.slug}/build/{rest}"


def test_the_owner_builds_a_page_and_questions_of_every_kind(
    survey: Survey, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    response = alice.get(url(survey))
    assert response.status_code == 200
    assert "No pages or questions yet" in response.content.decode()
    response = alice.post(url(survey, "pages/new/"), {"title": "About you", "relevant": ""})
    assert response.status_code == 302
    page = survey.pages.get()
    form = alice.get(url(survey, "questions/new/?kind=likert5")).content.decode()
    assert "1 = Strongly disagree" in form
    lines = {
        "likert5": "1 = Strongly disagree\n2 = Disagree\n3 = Neutral\n4 = Agree\n5 = Agree a lot",
        "likert7": "\n".join(f"{n} = Point {n}" for n in range(1, 8)),
        "single": "yes = Yes\nno = No",
        "multiple": "hiring = Hiring\nmedicine = Medicine",
        "ranking": "accuracy = Accuracy\nnegotiability = Negotiability",
        "matrix": "low = Low\nhigh = High",
    }
    for kind in Question.Kind.values:
        data = {
            "code": f"q_{kind}",
            "kind": kind,
            "label": f"A {kind} question?",
            "page": page.pk,
            "options": lines.get(kind, ""),
            "rows": "speed = Speed\nfairness = Fairness",
            "min_value": "1",
            "max_value": "10",
            "allows_other": "on",
        }
        response = alice.post(url(survey, "questions/new/"), data)
        assert response.status_code == 302, response.content.decode()
    assert survey.questions.count() == len(Question.Kind.values)
    assert survey.questions.get(code="q_likert5").options.get(code="3").label == "Neutral"
    assert survey.questions.get(code="q_multiple").allows_other
    assert not survey.questions.get(code="q_single").allows_other
    assert survey.questions.get(code="q_number").max_value == 10
    assert survey.questions.get(code="q_text").min_value is None
    page_html = alice.get(url(survey)).content.decode()
    assert "A matrix question?" in page_html
    assert "Rows: Speed · Fairness" in page_html


def test_a_bad_code_and_a_bad_condition_are_named_beside_their_fields(
    survey: Survey, pages: list[Page], people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    builder.add_question(survey, QuestionData(code="later", kind="text", label="L"), page=pages[1])
    data = {"code": "2nd", "kind": "text", "label": "Why?", "page": pages[0].pk}
    response = alice.post(url(survey, "questions/new/"), data)
    assert response.status_code == 200
    assert "&#x27;2nd&#x27; is not a code" in response.content.decode()
    data |= {"code": "why", "relevant": "${later} = 'x'"}
    html = alice.post(url(survey, "questions/new/"), data).content.decode()
    assert "its condition refers to ${later}, which does not come earlier" in html
    data |= {"relevant": "${nobody} = 'x'"}
    html = alice.post(url(survey, "questions/new/"), data).content.decode()
    assert "refers to ${nobody}, no such question" in html
    data |= {"kind": "single", "relevant": "", "options": "yes Yes = \n"}
    html = alice.post(url(survey, "questions/new/"), data).content.decode()
    assert "Line 1" in html
    assert not survey.questions.filter(code="why").exists()


def test_move_buttons_and_the_drag_endpoint_reorder(
    survey: Survey, pages: list[Page], people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    a = builder.add_question(survey, QuestionData(code="a", kind="text", label="A"), page=pages[0])
    b = builder.add_question(survey, QuestionData(code="b", kind="text", label="B"), page=pages[0])
    response = alice.post(url(survey, "move/"), {"question": b.pk, "direction": "up"})
    assert response.status_code == 302
    assert response.url.endswith(f"#question-{b.pk}")
    assert codes_in_order(survey)[0] == ("About you", ["b", "a"])
    alice.post(url(survey, "move/"), {"page": pages[1].pk, "direction": "up"})
    assert [title for title, _codes in codes_in_order(survey)] == ["Your views", "About you"]
    order = {
        "pages": [
            {"page": pages[0].pk, "questions": [a.pk]},
            {"page": pages[1].pk, "questions": [b.pk]},
        ]
    }
    response = alice.post(url(survey, "move/"), json.dumps(order), content_type="application/json")
    assert response.status_code == 200
    assert codes_in_order(survey) == [("About you", ["a"]), ("Your views", ["b"])]
    bad = {"pages": [{"page": pages[0].pk, "questions": [a.pk]}]}
    response = alice.post(url(survey, "move/"), json.dumps(bad), content_type="application/json")
    assert response.status_code == 400
    assert "every page and question" in response.json()["error"]


def test_the_translations_page_counts_and_saves(
    survey: Survey, pages: list[Page], people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    builder.add_question(
        survey,
        QuestionData(code="ok", kind="single", label="OK?", options=[("y", "Yes"), ("n", "No")]),
        page=pages[0],
    )
    html = alice.get(url(survey, "translations/")).content.decode()
    assert "0 of 5 texts translated to German" in html
    assert html.count('class="missing"') == 5
    rows = builder.translation_rows(survey, "de")
    posted = {row.name: "" for row in rows} | {rows[0].name: "Über Sie", rows[2].name: "OK?"}
    response = alice.post(url(survey, "translations/?lang=de"), posted, follow=True)
    assert "Saved: 2 of 5 texts translated to German." in response.content.decode()
    assert pages[0].translations.get(language="de").text == "Über Sie"
    assert "2 of 5 texts translated to German" in alice.get(url(survey)).content.decode()


def test_a_kind_change_is_refused_when_answers_exist(
    survey: Survey, roster_study: Study, people: dict[str, User]
) -> None:
    q = builder.add_question(
        survey,
        QuestionData(code="ok", kind="single", label="OK?", options=[("y", "Y"), ("n", "N")]),
    )
    answer(survey, roster_study, q, "y")
    alice = client_for(people["alice"])
    data = {"code": "ok", "kind": "text", "label": "OK?", "options": "y = Y\nn = N"}
    html = alice.post(url(survey, f"questions/{q.pk}/"), data).content.decode()
    assert "1 response already answers this question, so its kind stays single choice" in html
    data = {"code": "ok", "kind": "single", "label": "OK?", "options": "n = N\nm = M"}
    html = alice.post(url(survey, f"questions/{q.pk}/"), data).content.decode()
    assert "is used by 1 answer," in html
    q.refresh_from_db()
    assert q.kind == "single"
    assert "answered by 1 respondent" in alice.get(url(survey)).content.decode()


def test_the_preview_shows_the_questions_and_saves_nothing(
    survey: Survey, pages: list[Page], people: dict[str, User]
) -> None:
    builder.add_question(survey, QuestionData(code="ok", kind="text", label="Fine?"), page=pages[0])
    html = client_for(people["alice"]).get(url(survey, "preview/")).content.decode()
    assert "Fine?" in html
    assert "Nothing can be answered or saved" in html
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    ("who", "status"), [("bob", 403), ("victor", 403), ("mallory", 404), (None, 302)]
)
def test_only_the_owner_builds(
    survey: Survey, pages: list[Page], people: dict[str, User], who: str | None, status: int
) -> None:
    client = client_for(people[who] if who else None)
    q = builder.add_question(survey, QuestionData(code="ok", kind="text", label="F"), page=pages[0])
    for path in ["", "questions/new/", f"questions/{q.pk}/", "translations/", "preview/"]:
        assert client.get(url(survey, path)).status_code == status, path
    response = client.post(url(survey, "move/"), {"question": q.pk, "direction": "down"})
    assert response.status_code == status
    data = {"code": "x", "kind": "text", "label": "X"}
    assert client.post(url(survey, "questions/new/"), data).status_code == status
    assert not survey.questions.filter(code="x").exists()


def test_an_archived_study_is_read_only(
    survey: Survey, pages: list[Page], people: dict[str, User]
) -> None:
    q = builder.add_question(survey, QuestionData(code="ok", kind="text", label="F"), page=pages[0])
    Study.objects.filter(pk=survey.study.pk).update(archived_at=timezone.now())
    alice = client_for(people["alice"])
    html = alice.get(url(survey)).content.decode()
    assert "read-only" in html
    assert "Move up" not in html
    assert alice.get(url(survey, f"questions/{q.pk}/")).status_code == 200
    data = {"code": "ok", "kind": "text", "label": "Changed"}
    assert alice.post(url(survey, f"questions/{q.pk}/"), data).status_code == 403
    response = alice.post(url(survey, "move/"), {"question": q.pk, "direction": "down"})
    assert response.status_code == 403
    q.refresh_from_db()
    assert q.label == "F"


def test_deleting_says_what_is_lost_and_keeps_pages_with_questions(
    survey: Survey, pages: list[Page], roster_study: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    q = builder.add_question(survey, QuestionData(code="ok", kind="text", label="F"), page=pages[0])
    answer(survey, roster_study, q, "Fine")
    html = alice.get(url(survey, f"questions/{q.pk}/delete/")).content.decode()
    assert "the answers of 1 response to it" in html
    response = alice.post(url(survey, f"pages/{pages[0].pk}/delete/"), follow=True)
    assert "About you holds 1 question: move them to another page" in response.content.decode()
    assert survey.pages.filter(pk=pages[0].pk).exists()
    response = alice.post(url(survey, f"questions/{q.pk}/delete/"), follow=True)
    assert "Deleted question ok, and 1 answer to it." in response.content.decode()
    assert not Answer.objects.exists()
    alice.post(url(survey, f"pages/{pages[0].pk}/delete/"))
    assert list(survey.pages.values_list("title", flat=True)) == ["Your views"]


def test_a_page_condition_is_checked_beside_its_field(
    survey: Survey, pages: list[Page], people: dict[str, User]
) -> None:
    builder.add_question(survey, QuestionData(code="late", kind="text", label="L"), page=pages[1])
    alice = client_for(people["alice"])
    data = {"title": "About you", "relevant": "${late} = 'x'"}
    html = alice.post(url(survey, f"pages/{pages[0].pk}/"), data).content.decode()
    assert "its condition refers to ${late}, which does not come earlier" in html
    pages[0].refresh_from_db()
    assert pages[0].relevant == ""
    data = {"title": "Your views", "relevant": "${late} = 'x'"}
    html = alice.post(url(survey, f"pages/{pages[1].pk}/"), data).content.decode()
    assert "its condition refers to ${late}, which does not come earlier" in html
