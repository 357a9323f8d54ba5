"""The joint displays: the quote matrix (.docx read back, .md, .xlsx), a survey answer by code
raised (Mann-Whitney against scipy from the raw rows) and the summary per code.

The study is the one of tests.test_survey_exports (conftest's roster: P01, P02, P03 in FI-1;
P04, P05 in GB-1; Bob's codings), with one more survey that everyone answered:

    negotiability: P01 ("argue with the bank", "appeal again"), P01 and P02 ("loan. The
                   machine"), P04 ("bargain with whoever"), and the facilitator ("went wrong")
    accuracy:      P02 ("machine was accurate"), P05 ("accurate and fair")
    opinion/trust (Likert): P01 sa, P02 d, P03 n, P04 a, P05 sd;  opinion/age: 34 41 29 55 62
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from docx import Document as WordDocument
from docx.enum.section import WD_ORIENT
from openpyxl import load_workbook
from scipy import stats

from coding.models import Coding
from exports.base import ExportError, ExportRefused
from exports.joint_tables import rank_biserial
from exports.pack import build_pack
from exports.renderers import render
from exports.tables import EXPORTERS, LayerRefused, build_table
from studies.models import Participant, Study, Turn
from surveys.models import Answer, Option, Question, Response, Survey
from tests.test_survey_exports import TRUST, add_options, add_question, build_joined

OPINION = {
    "P01": ("sa", "34"),
    "P02": ("d", "41"),
    "P03": ("n", "29"),
    "P04": ("a", "55"),
    "P05": ("sd", "62"),
}


@pytest.fixture
def joint(roster_study: Study, people: dict[str, User]) -> dict:
    data = build_joined(roster_study, people)
    survey = Survey.objects.create(study=roster_study, slug="opinion", title="Opinions")
    trust = add_question(survey, "trust", "likert5", "Do you trust algorithms?")
    add_options(trust, TRUST)
    add_question(survey, "age", "number", "Your age")
    add_question(survey, "comment", "long_text", "Anything else?")
    matrix = add_question(survey, "quality", "matrix", "How important")
    add_options(matrix, [("low", "Low"), ("high", "High")])
    add_options(matrix, [("hiring", "hiring")], role="row")
    when = timezone.make_aware(dt.datetime(2025, 3, 12, 10, 30))
    for code, (answer, age) in OPINION.items():
        response = Response.objects.create(
            survey=survey,
            participant=Participant.objects.get(study=roster_study, code=code),
            language="en",
            submitted_at=when,
        )
        Answer.objects.create(response=response, question=trust, value=answer)
        Answer.objects.create(
            response=response, question=survey.questions.get(code="age"), value=age
        )
    # A draft says nothing: P05's draft answer must not count.
    draft = Response.objects.create(survey=survey, participant=None, language="en")
    Answer.objects.create(response=draft, question=trust, value="sa")
    return {**data, "opinion": survey}


# --- Quote matrix ---------------------------------------------------------------------------------


def test_the_quote_matrix_docx_reads_back_as_a_landscape_table(joint: dict) -> None:
    table = build_table(joint["study"], "quote_matrix", by="workshop", top=2)
    _name, _type, content = render(table, "docx")
    word = WordDocument(io.BytesIO(content))
    section = word.sections[0]
    assert section.orientation == WD_ORIENT.LANDSCAPE
    assert section.page_width > section.page_height
    [grid] = word.tables
    cells = [[cell.text for cell in row.cells] for row in grid.rows]
    assert cells[0] == ["Code", "FI-1", "GB-1"]
    assert [row[0] for row in cells[1:]] == ["Concept/negotiability", "Concept/accuracy"]
    negotiability, accuracy = cells[1], cells[2]
    assert accuracy[1:] == [
        "“machine was accurate” (P02, FI-1)",
        "“accurate and fair” (P05, GB-1)",
    ]
    assert negotiability[2] == "“bargain with whoever” (P04, GB-1)"
    # FI-1 has four negotiability codings: the cell holds the quotes table's two, in its order.
    quotes = build_table(joint["study"], "quotes", by="workshop", top=2).tidy
    chosen = quotes[(quotes["code_path"] == "Concept/negotiability") & (quotes["group"] == "FI-1")]
    expected = [f"“{t}” ({c})" for t, c in zip(chosen["text"], chosen["cite"], strict=True)]
    assert len(expected) == 2
    assert negotiability[1].split("\n") == expected


def test_the_quote_matrix_as_markdown_and_xlsx(joint: dict) -> None:
    table = build_table(joint["study"], "quote_matrix", by="country", top=1)
    markdown = render(table, "md")[2].decode()
    assert "| Code | FI | GB |" in markdown
    assert "“bargain with whoever” (P04, GB-1)" in markdown
    workbook = load_workbook(io.BytesIO(render(table, "xlsx")[2]))
    sheet = workbook.worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=1, max_row=3)]
    assert rows[0] == ["Code", "FI", "GB"]
    assert rows[2] == [
        "Concept/accuracy",
        "“machine was accurate” (P02, FI-1)",
        "“accurate and fair” (P05, GB-1)",
    ]
    assert "About" in workbook.sheetnames


def test_the_quote_matrix_is_in_the_pack_as_docx(joint: dict) -> None:
    with zipfile.ZipFile(io.BytesIO(build_pack(joint["study"]))) as archive:
        names = archive.namelist()
        readme = archive.read("README.md").decode()
    assert "tables/adm_quote_matrix_country.docx" in names
    assert "tables/adm_quote_matrix_country.md" in names
    assert any(name.startswith("tables/adm_survey_by_code_survey-opinion-trust") for name in names)
    assert "Summary per code" in readme


def test_bad_groupings_are_named(joint: dict, people: dict) -> None:
    with pytest.raises(ExportError, match="Unknown variable 'nope'"):
        build_table(joint["study"], "quote_matrix", by="variable:nope")
    with pytest.raises(ExportError, match="top must be at least 1"):
        build_table(joint["study"], "quote_matrix", top=0)
    # Quotes beside a survey answer show one person's answer: owners only, as in the quotes table.
    with pytest.raises(ExportRefused):
        build_table(
            joint["study"], "quote_matrix", by="survey:opinion/trust", user=people["victor"]
        )
    owner = build_table(
        joint["study"], "quote_matrix", by="survey:opinion/trust", user=people["alice"]
    )
    assert list(owner.wide.columns)[1:] == [label for _code, label in TRUST]


# --- A survey answer by code raised ---------------------------------------------------------------


def raised_by_hand(study: Study, code_name: str) -> set[str]:
    """Participants whose turns a coding of the code overlaps, from the raw rows."""
    found = set()
    for coding in Coding.objects.filter(document__study=study, code__name=code_name):
        for turn in Turn.objects.filter(document=coding.document, participant__isnull=False):
            if turn.start < coding.end and coding.start < turn.end:
                found.add(turn.participant.code)
    return found


def scores_by_hand(survey: Survey, code: str) -> dict[str, float]:
    question = Question.objects.get(survey=survey, code=code)
    order = list(
        Option.objects.filter(question=question, role="choice")
        .order_by("order")
        .values_list("code", flat=True)
    )
    scores = {}
    for answer in Answer.objects.filter(
        question=question, response__submitted_at__isnull=False, response__participant__isnull=False
    ).select_related("response__participant"):
        value = order.index(answer.value) + 1 if order else float(answer.value)
        scores[answer.response.participant.code] = float(value)
    return scores


@pytest.mark.parametrize("question", ["trust", "age"])
def test_mann_whitney_equals_scipy_from_the_raw_rows(joint: dict, question: str) -> None:
    study = joint["study"]
    table = build_table(study, "survey_by_code", by=f"survey:opinion/{question}")
    scores = scores_by_hand(joint["opinion"], question)
    assert len(scores) == 5
    tidy = table.tidy.set_index(["code_path", "group"])
    for name in ("negotiability", "accuracy"):
        raised = raised_by_hand(study, name)
        inside = [s for p, s in scores.items() if p in raised]
        outside = [s for p, s in scores.items() if p not in raised]
        expected = stats.mannwhitneyu(inside, outside, alternative="two-sided")
        row = tidy.loc[(f"Concept/{name}", "raised the code")]
        other = tidy.loc[(f"Concept/{name}", "did not raise it")]
        assert (row["n"], other["n"]) == (len(inside), len(outside))
        assert row["u"] == pytest.approx(expected.statistic)
        assert row["p_value"] == pytest.approx(expected.pvalue)
        n1, n2 = len(inside), len(outside)
        assert row["rank_biserial_r"] == pytest.approx(
            1 - 2 * (n1 * n2 - expected.statistic) / (n1 * n2)
        )
        assert row["mean"] == pytest.approx(sum(inside) / n1)
        assert other["mean"] == pytest.approx(sum(outside) / n2)
    assert raised_by_hand(study, "negotiability") == {"P01", "P02", "P04"}


def test_a_likert_question_shows_its_distribution(joint: dict) -> None:
    table = build_table(joint["study"], "survey_by_code", survey="opinion", by="trust")
    row = table.tidy.set_index(["code_path", "group"]).loc[("Concept/accuracy", "raised the code")]
    # accuracy: P02 (Disagree) and P05 (Strongly disagree)
    assert [row[label] for _code, label in TRUST] == [1, 1, 0, 0, 0]
    assert "U" in render(table, "md")[2].decode()


def test_rank_biserial_is_one_when_every_raiser_answered_higher() -> None:
    result = stats.mannwhitneyu([4, 5], [1, 2, 3], alternative="two-sided")
    assert rank_biserial(float(result.statistic), 2, 3) == pytest.approx(1.0)
    result = stats.mannwhitneyu([1, 2], [3, 4, 5], alternative="two-sided")
    assert rank_biserial(float(result.statistic), 2, 3) == pytest.approx(-1.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "Which survey question"),
        ({"by": "survey:opinion/nope"}, "Unknown question 'nope'"),
        ({"by": "survey:nope/trust"}, "Unknown survey 'nope'"),
        ({"by": "survey:opinion/comment"}, "gives no one score per participant"),
        ({"by": "survey:opinion/quality"}, "its rows are hiring"),
        ({"by": "survey:opinion/trust/x"}, "not a matrix"),
        ({"by": "survey:opinion/trust", "survey": "pre"}, "give one survey"),
        ({"by": "country"}, "'country' is not a survey question"),
    ],
)
def test_bad_survey_options_are_named(joint: dict, options: dict, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        build_table(joint["study"], "survey_by_code", **options)


def test_a_matrix_row_is_scored_and_an_empty_side_is_not_tested(joint: dict) -> None:
    table = build_table(joint["study"], "survey_by_code", by="survey:pre/quality/hiring")
    # pre/quality.hiring: P01 high, P04 mid; both raised negotiability, so nobody is outside.
    row = table.tidy.set_index(["code_path", "group"]).loc[
        ("Concept/negotiability", "raised the code")
    ]
    assert row["n"] == 2 and row["mean"] == pytest.approx(2.5)
    assert row["u"] is None or row["u"] != row["u"]  # None or NaN: no test


# --- Summary per code -----------------------------------------------------------------------------


def test_the_summary_per_code_equals_a_hand_count(joint: dict) -> None:
    table = build_table(joint["study"], "code_summary", top=1)
    rows = table.wide.set_index("code_path")
    negotiability = rows.loc["Concept/negotiability"]
    assert negotiability["participants"] == 3  # P01, P02, P04
    assert negotiability["participant_share"] == pytest.approx(3 / 5)
    assert negotiability["workshops"] == "FI-1 (2); GB-1 (1)"
    assert negotiability["share FI"] == pytest.approx(2 / 3)
    assert negotiability["share GB"] == pytest.approx(1 / 2)
    accuracy = rows.loc["Concept/accuracy"]
    assert (accuracy["participants"], accuracy["workshops"]) == (2, "FI-1 (1); GB-1 (1)")
    assert accuracy["share FI"] == pytest.approx(1 / 3)
    assert accuracy["quotes"].count("“") == 1
    # One coder: no agreement, and the table says why.
    assert negotiability["percent_agreement"] is None
    assert any("No agreement figures" in note for note in table.notes)
    assert "FI share (n=3)" in render(table, "html")[2].decode()


def test_the_summary_holds_the_reliability_tables_agreement(case, people: dict) -> None:
    study = case.document.study
    summary = build_table(study, "code_summary").wide.set_index("code_path")
    reliability = build_table(study, "reliability").wide.set_index("code_path")
    for path in ("negotiability", "accuracy", "explainability"):
        assert summary.loc[path, "percent_agreement"] == pytest.approx(
            reliability.loc[path, "percent_agreement"]
        )
        assert summary.loc[path, "krippendorff_alpha"] == pytest.approx(
            reliability.loc[path, "krippendorff_alpha"], nan_ok=True
        )
    # While blind coding is on, a coder sees no agreement and exports only their own layer.
    study.blind_coding = True
    study.save()
    blind = build_table(study, "code_summary", user=case.bob)
    assert blind.meta["layer"] == "bob"
    assert blind.wide["percent_agreement"].isna().all()
    with pytest.raises(LayerRefused):
        build_table(study, "quote_matrix", user=case.bob, layer="carol")
    mine = build_table(study, "quote_matrix", by="workshop", user=case.bob)
    assert mine.meta["layer"] == "bob"
    carol_only = "wants a guess."
    assert carol_only not in mine.tidy["text"].str.cat()


def test_the_joint_tables_are_in_the_registry() -> None:
    assert {"quote_matrix", "survey_by_code", "code_summary"} <= set(EXPORTERS)


def test_a_survey_alone_compares_its_first_likert_question(joint: dict) -> None:
    table = build_table(joint["study"], "survey_by_code", survey="opinion")
    assert table.title == "Do you trust algorithms? by code raised"
    empty = Survey.objects.create(study=joint["study"], slug="empty", title="Nothing closed")
    add_question(empty, "comment", "long_text", "Anything else?")
    with pytest.raises(ExportError, match="has no question with one score per participant"):
        build_table(joint["study"], "survey_by_code", survey="empty")


def test_the_exports_page_shows_the_summary_and_the_matrix(joint: dict, people: dict) -> None:
    from django.urls import reverse

    from tests.helpers import client_for

    victor = client_for(people["victor"])
    url = reverse("exports:page", args=[joint["study"].slug])
    page = victor.get(url, {"table": "code_summary", "top": "1"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Summary per code" in text and "FI-1 (2); GB-1 (1)" in text
    page = victor.get(url, {"table": "quote_matrix", "by": "workshop"})
    assert page.status_code == 200
    assert "“bargain with whoever” (P04, GB-1)" in page.content.decode()
    download = victor.get(
        reverse("exports:download", args=[joint["study"].slug, "xlsx"]),
        {"table": "survey_by_code", "by": "survey:opinion/trust"},
    )
    assert download.status_code == 200
