"""Display logic: the XLSForm subset, read by a hand-written parser and never by `eval`."""

from __future__ import annotations

import pytest

from studies.models import Study
from surveys.logic import LogicError, parse, problems, references, survey_problems, visible
from surveys.models import Page, Question, Survey


def holds(expression: str, **answers: str) -> bool:
    return parse(expression).evaluate(answers)


def test_it_compares_a_number_like_answer_with_a_number_numerically() -> None:
    assert holds("${trust} >= 3", trust="10")
    assert not holds("${trust} < 3", trust="10")
    assert holds("${trust} = 3", trust="3.0")
    assert holds("${age} > 17.5", age=" 18 ")


def test_it_compares_text_as_text() -> None:
    assert holds("${consent} = 'yes'", consent="yes")
    assert holds('${consent} != "yes"', consent="no")
    assert holds("${a} = ${b}", a="x", b="x")


def test_an_unanswered_question_is_empty() -> None:
    assert not holds("${trust} >= 3")
    assert not holds("${trust} < 3")
    assert holds("${trust} != 3")
    assert holds("${name} = ''")
    assert not holds("string-length(${name}) > 0")
    assert holds("string-length(${name}) > 0", name="Aino")


def test_and_binds_tighter_than_or() -> None:
    # a or (b and c): true when a alone holds.
    assert holds("${a} = 1 or ${b} = 1 and ${c} = 1", a="1", b="0", c="0")
    assert not holds("(${a} = 1 or ${b} = 1) and ${c} = 1", a="1", b="0", c="0")
    assert not holds("${a} = 1 and ${b} = 1 or ${c} = 1", a="1", b="0", c="0")
    assert holds("${a} = 1 and ${b} = 1 or ${c} = 1", a="0", b="0", c="1")


def test_not_and_the_functions() -> None:
    assert holds("not(${consent} = 'no')", consent="yes")
    assert not holds("not(${consent} = 'no')", consent="no")
    assert holds("selected(${domains}, 'hiring')", domains="medicine hiring")
    assert not holds("selected(${domains}, 'hire')", domains="medicine hiring")
    assert holds("count-selected(${domains}) = 2", domains="medicine hiring")
    assert holds("count-selected(${domains}) = 0")
    assert holds("true()") and not holds("false()")
    assert holds("${trust} >= 3 and selected(${domains}, 'hiring')", trust="4", domains="hiring")


def test_references_lists_each_code_once_in_order() -> None:
    assert references("${b} > 1 or selected(${a}, 'x') and ${b} < 5") == ["b", "a"]
    assert references("  ") == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "empty at position 1"),
        ("${trust} >=", "Expected a value, found the end at position 12"),
        ("${trust} > 3)", "Unexpected ')' at position 13"),
        ("(${trust} > 3", "Expected ')', found the end at position 14"),
        ("${trust} ?? 3", "Unexpected '?' at position 10"),
        ("${1abc} = 1", "reference must look like ${code} at position 1"),
        ("${a} = 'open", "text is not closed at position 8"),
        ("upper(${a})", "Unknown function 'upper' at position 1"),
        ("selected(${a})", "selected() takes 2 argument(s), not 1 at position 1"),
        ("1 < ${a} < 3", "cannot be chained"),
        ("and ${a}", "'and' needs something on its left at position 1"),
        ("${a} = 1 or", "Expected a value, found the end"),
        ("not ${a}", "Expected '(' after not, found '${a}'"),
    ],
)
def test_it_names_the_position_of_bad_syntax(expression: str, message: str) -> None:
    with pytest.raises(LogicError) as raised:
        parse(expression)
    assert message in str(raised.value)


def test_it_never_runs_python() -> None:
    with pytest.raises(LogicError):
        parse("__import__('os').system('true')")


def test_a_condition_may_refer_only_to_earlier_questions() -> None:
    found = problems(
        [
            ("Page 1", "", ""),
            ("Question a", "a", ""),
            ("Question b", "b", "${a} = 1 and ${c} = 2"),
            ("Question c", "c", "${zzz} = 1"),
            ("Question d", "d", "${d} = 1 or"),
        ]
    )
    assert found == [
        "Question b: its condition refers to ${c}, which does not come earlier",
        "Question c: its condition refers to ${zzz}, no such question",
        "Question d: Expected a value, found the end at position 12 of '${d} = 1 or'",
    ]


@pytest.mark.django_db
def test_visible_reads_the_question_and_its_page() -> None:
    study = Study.objects.create(slug="s", name="S")
    survey = Survey.objects.create(study=study, slug="v", title="V")
    second = Page.objects.create(survey=survey, order=1, relevant="${consent} = 'yes'")
    consent = Question.objects.create(survey=survey, code="consent", kind="single", label="?")
    age = Question.objects.create(
        survey=survey, code="age", kind="number", label="Age", page=second, order=1
    )
    why = Question.objects.create(
        survey=survey,
        code="why",
        kind="text",
        label="Why",
        page=second,
        order=2,
        relevant="${age} >= 18",
    )
    assert visible(consent, {})
    assert not visible(second, {}) and not visible(age, {})
    assert visible(age, {"consent": "yes"})
    assert not visible(why, {"consent": "yes", "age": "12"})
    assert visible(why, {"consent": "yes", "age": "40"})
    # A broken condition shows the question rather than losing it.
    why.relevant = "${age} >="
    assert visible(why, {"consent": "yes"})
    why.save()
    # The question without a page comes last, after the page that refers to it.
    assert survey_problems(survey) == [
        "Page 2: its condition refers to ${consent}, which does not come earlier",
        "Question why: Expected a value, found the end at position 10 of '${age} >='",
    ]
