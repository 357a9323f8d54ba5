"""Importing responses collected elsewhere: a .csv or .xlsx whose first column is the participant.

The pre-workshop survey of Alice's study is written in English and translated into German; its
questions are a Likert scale (trust), a multiple choice (domains), a matrix (rating: one rating per
domain), a number (age), a date (attended) and a long text (comments).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, ManagementUtility, call_command
from openpyxl import Workbook

from studies.importers import FileRejected
from studies.models import Study
from studies.services import import_roster
from surveys.models import Answer, Option, Question, Response, Survey, Translation
from surveys.responses_import import import_responses, parse_answer_date, plan_responses
from tests.helpers import db_snapshot

TRUST = [
    ("sd", "Strongly disagree", "Stimme gar nicht zu"),
    ("d", "Disagree", "Stimme nicht zu"),
    ("n", "Neither", "Weder noch"),
    ("a", "Agree", "Stimme zu"),
    ("sa", "Strongly agree", "Stimme voll zu"),
]
DOMAINS = [
    ("hiring", "Hiring decisions", "Einstellung"),
    ("medicine", "Medicine", "Medizin"),
    ("justice", "Justice", "Justiz"),
]


def add_question(survey: Survey, code: str, kind: str, label: str, de: str = "", **kw) -> Question:
    question = Question.objects.create(
        survey=survey, code=code, kind=kind, label=label, order=survey.questions.count(), **kw
    )
    if de:
        Translation.objects.create(question=question, language="de", text=de)
    return question


def add_options(question: Question, options: list[tuple[str, str, str]], role: str = "choice"):
    for order, (code, label, de) in enumerate(options):
        option = Option.objects.create(
            question=question, role=role, code=code, label=label, order=order
        )
        if de:
            Translation.objects.create(option=option, language="de", text=de)


@pytest.fixture
def survey(roster_study: Study) -> Survey:
    survey = Survey.objects.create(
        study=roster_study, slug="pre", title="Before the workshop", languages="en,de"
    )
    trust = add_question(
        survey, "trust", "likert5", "I trust algorithms", "Ich vertraue Algorithmen"
    )
    add_options(trust, TRUST)
    domains = add_question(
        survey, "domains", "multiple", "Which domains?", "Welche Bereiche?", allows_other=True
    )
    add_options(domains, DOMAINS)
    rating = add_question(survey, "rating", "matrix", "Rate each domain")
    add_options(rating, [("low", "Low", "Niedrig"), ("high", "High", "Hoch")])
    add_options(rating, [("hiring", "Hiring", ""), ("lending", "Lending", "")], role="row")
    add_question(survey, "age", "number", "Your age", min_value=18, max_value=99)
    add_question(survey, "attended", "date", "Date of the workshop")
    add_question(survey, "comments", "long_text", "Anything else?")
    return survey


GOOD_CSV = (
    "participant,trust,Welche Bereiche?,domains_other,rating/hiring,RATING_lending,"
    "age,attended,comments,notes\n"
    """P01,Strongly agree,Einstellung; Medizin,,low,Hoch,34,12.03.2025,Fine by me,seen
p02,stimme  NICHT zu,hiring justice,,,,,2025-05-08,,
Callum,3,"medicine,hiring",Policing,high,low,61.0,13/05/2025,,
"""
)


def answers_of(survey: Survey, code: str) -> dict[str, str]:
    response = Response.objects.get(survey=survey, participant__code=code)
    return {
        a.question.code + (f"/{a.item}" if a.item else ""): a.value
        for a in response.answers.select_related("question")
    }


def test_it_imports_a_csv_with_option_codes(survey: Survey, people: dict[str, User]) -> None:
    plan = import_responses(
        survey=survey, filename="pre.csv", data=GOOD_CSV.encode(), imported_by=people["alice"]
    )

    assert plan.summary() == "Imported 3 responses to pre; 1 column ignored: 'notes'."
    assert answers_of(survey, "P01") == {
        "trust": "sa",
        "domains": "hiring medicine",
        "rating/hiring": "low",
        "rating/lending": "high",
        "age": "34",
        "attended": "2025-03-12",
        "comments": "Fine by me",
    }
    # Empty cells are missing answers, not empty ones.
    assert answers_of(survey, "P02") == {
        "trust": "d",
        "domains": "hiring justice",
        "attended": "2025-05-08",
    }
    # Found by alias; a Likert point by its number; "other" text in its own item.
    assert answers_of(survey, "P05") == {
        "trust": "n",
        "domains": "medicine hiring",
        "domains/_other": "Policing",
        "rating/hiring": "high",
        "rating/lending": "low",
        "age": "61",
        "attended": "2025-05-13",
    }
    responses = Response.objects.filter(survey=survey)
    assert {r.source for r in responses} == {"import"}
    assert all(r.is_submitted and r.imported_by == people["alice"] for r in responses)


def test_it_imports_an_xlsx(survey: Survey) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Participant", "I trust algorithms", "domains", "age", "attended"])
    sheet.append(["P03", "agree", "Justice", 44, None])
    sheet.append(["P04", "Stimme voll zu", None, 29.0, dt.datetime(2025, 5, 8)])
    buffer = io.BytesIO()
    book.save(buffer)

    plan = import_responses(survey=survey, filename="pre.xlsx", data=buffer.getvalue())

    assert plan.summary() == "Imported 2 responses to pre."
    assert answers_of(survey, "P03") == {"trust": "a", "domains": "justice", "age": "44"}
    assert answers_of(survey, "P04") == {"trust": "sa", "age": "29", "attended": "2025-05-08"}


@pytest.mark.parametrize(
    "header, value, message",
    [
        (
            "trust",
            "very much",
            "pre.csv, row 3, column 'trust': 'very much' is not an answer to trust: use one of "
            "sd (Strongly disagree), d (Disagree), n (Neither), a (Agree), sa (Strongly agree) "
            "or the point's number",
        ),
        ("trust", "6", "row 3, column 'trust': '6' is not an answer to trust"),
        (
            "domains",
            "hiring; cooking",
            "row 3, column 'domains': 'cooking' (in 'hiring; cooking') is not an answer to domains",
        ),
        ("rating_hiring", "medium", "row 3, column 'rating_hiring': 'medium' is not an answer"),
        ("age", "forty", "row 3, column 'age': 'forty' is not a number"),
        ("age", "120", "row 3, column 'age': '120' is outside age's range of 18 to 99"),
        ("attended", "03/04/2025", "row 3, column 'attended': '03/04/2025' is ambiguous"),
        ("attended", "31.02.2025", "row 3, column 'attended': '31.02.2025' is not a date"),
        ("attended", "next week", "row 3, column 'attended': 'next week' is not a date"),
    ],
)
def test_it_refuses_a_bad_value_naming_row_column_and_value(
    survey: Survey, header: str, value: str, message: str
) -> None:
    data = f"participant,{header}\nP01,\nP02,{value}\n".encode()
    before = db_snapshot()

    with pytest.raises(FileRejected) as caught:
        import_responses(survey=survey, filename="pre.csv", data=data)

    assert message in str(caught.value)
    assert db_snapshot() == before


def test_it_refuses_an_unknown_participant(survey: Survey) -> None:
    before = db_snapshot()
    with pytest.raises(FileRejected) as caught:
        import_responses(survey=survey, filename="pre.csv", data=b"id,trust\nP01,1\nP99,2\n")
    assert str(caught.value).startswith(
        "pre.csv, row 3, column 'id': 'P99' is not a participant of adm"
    )
    assert db_snapshot() == before


def test_it_refuses_a_participant_twice(survey: Survey) -> None:
    before = db_snapshot()
    with pytest.raises(FileRejected) as caught:
        import_responses(survey=survey, filename="pre.csv", data=b"id,trust\nP01,1\naino,2\n")
    assert "row 3, column 'id': 'aino' (P01) already answered in row 2" in str(caught.value)
    assert db_snapshot() == before


def test_it_refuses_two_columns_for_one_question(survey: Survey) -> None:
    with pytest.raises(FileRejected, match="columns 'trust' and 'I trust algorithms' both"):
        import_responses(
            survey=survey, filename="pre.csv", data=b"id,trust,I trust algorithms\nP01,1,2\n"
        )


def test_it_refuses_a_matrix_column_without_a_row(survey: Survey) -> None:
    with pytest.raises(FileRejected, match="row 1, column 'rating': rating is a matrix"):
        import_responses(survey=survey, filename="pre.csv", data=b"id,rating\nP01,low\n")


def test_it_replaces_a_submitted_response_only_when_asked(survey: Survey) -> None:
    import_responses(survey=survey, filename="pre.csv", data=b"id,trust,age\nP01,1,30\n")
    before = db_snapshot()

    with pytest.raises(FileRejected) as caught:
        import_responses(survey=survey, filename="pre.csv", data=b"id,trust\nP02,2\nP01,5\n")
    assert "row 3, column 'id': P01 has already submitted a response to pre" in str(caught.value)
    assert db_snapshot() == before

    plan = plan_responses(
        survey=survey, filename="pre.csv", data=b"id,trust\nP02,2\nP01,5\n", replace=True
    )
    assert plan.replaced == ["P01"]
    assert db_snapshot() == before  # planning writes nothing
    import_responses(
        survey=survey, filename="pre.csv", data=b"id,trust\nP02,2\nP01,5\n", replace=True
    )
    assert answers_of(survey, "P01") == {"trust": "sa"}  # the age is gone with the old answers
    assert Response.objects.filter(survey=survey).count() == 2


def test_dates_are_read_in_the_usual_forms() -> None:
    assert str(parse_answer_date("2025-03-12")) == "2025-03-12"
    assert str(parse_answer_date("2025-03-12T10:30:00")) == "2025-03-12"
    assert str(parse_answer_date("12.3.2025")) == "2025-03-12"
    assert str(parse_answer_date("25/12/2025")) == "2025-12-25"
    assert str(parse_answer_date("12/25/2025")) == "2025-12-25"
    assert str(parse_answer_date("05/05/2025")) == "2025-05-05"


def test_the_command_imports_and_prints_a_summary(survey: Survey, tmp_path: Path) -> None:
    path = tmp_path / "pre.csv"
    path.write_text(GOOD_CSV)
    out = io.StringIO()

    call_command("import_responses", "--study", "adm", "--survey", "pre", str(path), stdout=out)

    assert out.getvalue().strip() == "Imported 3 responses to pre; 1 column ignored: 'notes'."
    with pytest.raises(CommandError, match="P01 has already submitted"):
        call_command("import_responses", "--study", "adm", "--survey", "pre", str(path))
    out = io.StringIO()
    call_command(
        "import_responses", "--study", "adm", "--survey", "pre", str(path), "--replace", stdout=out
    )
    assert "3 earlier responses replaced" in out.getvalue()


def test_the_command_refuses_bad_input_writing_nothing(survey: Survey, tmp_path: Path) -> None:
    path = tmp_path / "pre.csv"
    path.write_text("participant,age\nP01,33\nP02,abc\n")
    before = db_snapshot()
    with pytest.raises(CommandError) as caught:
        call_command("import_responses", "--study", "adm", "--survey", "pre", str(path))
    assert str(caught.value) == (
        "pre.csv, row 3, column 'age': 'abc' is not a number (age is a number question)"
    )
    with pytest.raises(CommandError, match="--survey 'post': no such survey in adm"):
        call_command("import_responses", "--study", "adm", "--survey", "post", str(path))
    assert db_snapshot() == before


def test_it_exits_non_zero_from_the_shell(survey: Survey, tmp_path: Path) -> None:
    path = tmp_path / "pre.csv"
    path.write_text("participant,age\nP07,33\n")
    with pytest.raises(SystemExit) as caught:
        ManagementUtility(
            ["manage.py", "import_responses", "--study", "adm", "--survey", "pre", str(path)]
        ).execute()
    assert caught.value.code != 0


# --- QualCoder's survey exports ---------------------------------------------------------------


@pytest.fixture
def qualcoder(study: Study) -> Survey:
    """A study whose roster holds QualCoder's cases ID4 to ID9, and a survey with their columns:
    age a number, gender and interest short texts, the opinions long texts."""
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


def test_qualcoder_survey_files_import(qualcoder: Survey, interop: Path) -> None:
    csv_plan = import_responses(
        survey=qualcoder,
        filename="qualcoder_survey456.csv",
        data=(interop / "qualcoder_survey456.csv").read_bytes(),
    )
    xlsx_plan = import_responses(
        survey=qualcoder,
        filename="qualcoder_survey789.xlsx",
        data=(interop / "qualcoder_survey789.xlsx").read_bytes(),
    )

    assert csv_plan.summary() == "Imported 3 responses to qc."
    assert xlsx_plan.summary() == "Imported 3 responses to qc."
    assert answers_of(qualcoder, "ID4")["age"] == "24"
    assert "age" not in answers_of(qualcoder, "ID5")
    assert answers_of(qualcoder, "ID6")["interest"] == "gardening"
    assert answers_of(qualcoder, "ID7")["age"] == "33"
    assert answers_of(qualcoder, "ID8")["qual_pet_opinions"] == "A fish"
    assert answers_of(qualcoder, "ID9")["gender"] == "f"
    assert (
        Answer.objects.filter(response__survey=qualcoder).count() == 11 + 14
    )  # every cell but the missing ages
