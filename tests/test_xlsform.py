"""XLSForm instruments: a KoboToolbox-style form imports, bad forms are refused, ours round-trip."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook
from pyxform.xls2xform import convert

from studies.importers import FileRejected
from studies.models import Study
from surveys.models import Option, Question, Survey, Translation
from surveys.xlsform import export_xlsform, import_xlsform
from tests.helpers import db_snapshot

SURVEY_HEADER = [
    "type", "name", "label::English (en)", "label::Deutsch (de)", "hint::English (en)",
    "hint::Deutsch (de)", "required", "relevant", "constraint", "appearance", "calculation",
]  # fmt: skip
SURVEY_ROWS = [
    ["start", "start"],
    ["note", "intro", "Welcome", "Willkommen"],
    ["begin group", "views", "Your views", "Ihre Ansichten", "", "", "", "", "", "field-list"],
    ["select_one agree", "trust", "I trust algorithms", "Ich vertraue Algorithmen", "", "",
     "yes", "", "", "likert"],
    ["select_multiple domains", "domains", "Which domains?", "Welche Bereiche?", "Any", "Alle",
     "", "${trust} >= 3"],
    ["end group"],
    ["integer", "age", "Your age", "Ihr Alter", "", "", "yes", "", ". >= 18 and . <= 99"],
    ["text", "why", "Why?", "Warum?", "", "", "", "", "", "multiline"],
    ["calculate", "score", "", "", "", "", "", "", "", "", "${age} * 2"],
]  # fmt: skip
CHOICE_ROWS = [["agree", f"a{n}", f"Agree {n}", f"Zustimmung {n}"] for n in range(1, 6)] + [
    ["domains", "hiring", "Hiring", "Einstellung"],
    ["domains", "medicine", "Medicine", "Medizin"],
]


def xlsform(
    survey_rows: list[list[str]] = SURVEY_ROWS,
    choice_rows: list[list[str]] = CHOICE_ROWS,
    settings: dict[str, str] | None = None,
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(SURVEY_HEADER)
    for row in survey_rows:
        sheet.append(row)
    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", "label::English (en)", "label::Deutsch (de)"])
    for row in choice_rows:
        choices.append(row)
    settings = settings or {
        "form_title": "Before the workshop",
        "form_id": "pre_workshop",
        "default_language": "English (en)",
    }
    sheet = workbook.create_sheet("settings")
    sheet.append(list(settings))
    sheet.append(list(settings.values()))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_it_imports_a_kobo_style_form(study: Study) -> None:
    result = import_xlsform(study=study, filename="pre.xlsx", data=xlsform())
    survey = result.survey
    assert (survey.slug, survey.title, survey.language_list) == (
        "pre_workshop", "Before the workshop", ["en", "de"]
    )  # fmt: skip
    questions = {q.code: q for q in survey.questions.all()}
    assert [q.code for q in survey.questions.all()] == ["trust", "domains", "age", "why"]
    assert questions["trust"].kind == Question.Kind.LIKERT5
    assert questions["trust"].required
    assert questions["domains"].kind == Question.Kind.MULTIPLE
    assert questions["domains"].relevant == "${trust} >= 3"
    assert questions["domains"].help_text == "Any"
    assert (questions["age"].kind, questions["age"].min_value, questions["age"].max_value) == (
        Question.Kind.NUMBER, 18, 99
    )  # fmt: skip
    assert questions["why"].kind == Question.Kind.LONG_TEXT
    assert [o.code for o in questions["domains"].options.all()] == ["hiring", "medicine"]
    assert questions["trust"].options.first().label == "Agree 1"

    pages = list(survey.pages.all())
    assert [p.title for p in pages] == ["Your views", ""]
    assert questions["trust"].page == pages[0] and questions["age"].page == pages[1]
    assert pages[0].translations.get().text == "Ihre Ansichten"

    german = Translation.objects.get(question=questions["domains"], language="de")
    assert (german.text, german.help_text) == ("Welche Bereiche?", "Alle")
    assert Translation.objects.get(option__code="medicine").text == "Medizin"

    assert len(result.warnings) == 3
    assert result.warnings[0].startswith("pre.xlsx, sheet 'survey', row 2: start 'start' skipped")
    assert "row 3: note 'intro' skipped" in result.warnings[1]
    assert "row 10: calculate 'score' skipped" in result.warnings[2]


def test_a_table_list_group_of_one_list_is_a_matrix(study: Study) -> None:
    rows = [
        ["begin group", "qualities", "How important?", "Wie wichtig?", "", "", "", "", "",
         "table-list"],
        ["select_one agree", "accuracy", "Accuracy", "Genauigkeit"],
        ["select_one agree", "humanity", "Humanity", "Menschlichkeit"],
        ["end group"],
    ]  # fmt: skip
    survey = import_xlsform(study=study, filename="m.xlsx", data=xlsform(rows)).survey
    matrix = survey.questions.get()
    assert (matrix.code, matrix.kind) == ("qualities", Question.Kind.MATRIX)
    rows_ = matrix.options.filter(role=Option.Role.ROW)
    assert [o.code for o in rows_] == ["accuracy", "humanity"]
    assert matrix.options.filter(role=Option.Role.CHOICE).count() == 5
    assert Translation.objects.get(option=rows_[1]).text == "Menschlichkeit"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [["geopoint", "where", "Where?", "Wo?"]],
            "bad.xlsx, sheet 'survey', row 2, column 'type': 'geopoint': locations",
        ),
        (
            [
                ["begin repeat", "kids", "Kids", "Kinder"],
                ["text", "kid", "Kid", "Kind"],
                ["end repeat"],
            ],
            "bad.xlsx, sheet 'survey', row 2, column 'type': 'begin repeat': repeats",
        ),
        (
            [["text", "q_1", "One", "Eins"], ["text", "q-2", "Two", "Zwei"]],
            "bad.xlsx, sheet 'survey', row 3, column 'name'",
        ),
        (
            [["select_one nolist", "q", "Q", "Q"]],
            "bad.xlsx: is not a valid XLSForm",
        ),
    ],
)
def test_it_refuses_what_it_cannot_represent_and_writes_nothing(
    study: Study, rows: list[list[str]], expected: str
) -> None:
    before = db_snapshot()
    with pytest.raises(FileRejected) as excinfo:
        import_xlsform(study=study, filename="bad.xlsx", data=xlsform(rows))
    assert str(excinfo.value).startswith(expected)
    assert db_snapshot() == before


def test_it_refuses_a_file_that_is_not_a_workbook(study: Study) -> None:
    with pytest.raises(FileRejected, match=r"^form\.xlsx: is not an XLSForm"):
        import_xlsform(study=study, filename="form.xlsx", data=b"type,name\ntext,q\n")


def test_the_command_prints_the_slug_and_warns_on_stderr(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "pre.xlsx"
    path.write_bytes(xlsform())
    out, err = io.StringIO(), io.StringIO()
    call_command("import_survey", "--study", study.slug, str(path), stdout=out, stderr=err)
    assert out.getvalue().strip() == "pre_workshop"
    assert "note 'intro' skipped" in err.getvalue()
    # The same form again is a new survey (a second wave), under a new slug.
    out = io.StringIO()
    call_command("import_survey", "--study", study.slug, str(path), stdout=out, stderr=err)
    assert out.getvalue().strip() == "pre_workshop-2"


def test_the_command_refuses_a_bad_form_in_one_line(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsform([["image", "photo", "Photo", "Foto"]]))
    before = db_snapshot()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_survey", "--study", study.slug, str(path), stdout=io.StringIO())
    message = str(excinfo.value)
    assert message.startswith("bad.xlsx, sheet 'survey', row 2, column 'type'")
    assert "\n" not in message
    assert db_snapshot() == before


def _shape(survey: Survey) -> list[tuple]:
    shape = []
    for page in survey.pages.all():
        shape.append(("page", page.order, page.title, page.relevant))
        shape += sorted(("page-tr", t.language, t.text) for t in page.translations.all())
    for q in survey.questions.all():
        shape.append(
            (q.code, q.kind, q.label, q.help_text, q.required, q.relevant, q.allows_other,
             q.min_value, q.max_value, q.page.order, q.order)
        )  # fmt: skip
        shape += sorted((t.language, t.text, t.help_text) for t in q.translations.all())
        for o in q.options.all():
            shape.append((o.role, o.code, o.label, o.order))
            shape += sorted((t.language, t.text) for t in o.translations.all())
    return shape


def test_an_exported_form_is_valid_and_round_trips(study: Study) -> None:
    rows = [
        *SURVEY_ROWS,
        ["begin group", "qualities", "How important?", "Wie wichtig?", "", "", "", "", "",
         "table-list"],
        ["select_one agree", "accuracy", "Accuracy", "Genauigkeit", "", "", "yes"],
        ["select_one agree", "humanity", "Humanity", "Menschlichkeit", "", "", "yes"],
        ["end group"],
        ["rank domains", "ranked", "Rank them", "Ordnen Sie"],
        ["date", "born", "Born", "Geboren"],
    ]  # fmt: skip
    original = import_xlsform(study=study, filename="pre.xlsx", data=xlsform(rows)).survey
    exported = export_xlsform(original)

    result = convert(xlsform=exported, file_type=".xlsx")
    assert "<h:title>Before the workshop</h:title>" in result.xform

    again = import_xlsform(study=study, filename="again.xlsx", data=exported)
    assert again.warnings == []
    assert again.survey.slug == "pre_workshop-2"
    assert again.survey.language_list == ["en", "de"]
    assert _shape(again.survey) == _shape(original)
