"""The codebook's rules: creating, editing, moving, merging and deleting codes, and its import and
export as a table."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.contrib.auth.models import User

from coding.models import Code, Coding, Memo, SuggestionDecision, code_paths
from coding.services import (
    CodebookError,
    create_code,
    csv_bytes,
    delete_code,
    export_codebook,
    import_codebook,
    merge_codes,
    move_code,
    plan_codebook,
    plan_delete,
    plan_merge,
    update_code,
    xlsx_bytes,
)
from studies.importers import FileRejected
from studies.models import Document, Study
from studies.services import import_transcripts
from tests.helpers import db_snapshot

TEXT = """Facilitator: Shall we talk about hiring first?
Aino: The system should explain why it said no.
Eero: I would want to argue with it, like with a person.
Aino: Yes, and I want to negotiate the outcome.
"""


@pytest.fixture
def english_document(roster_study: Study) -> Document:
    """FI-1's session as an English transcript."""
    workshop = roster_study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=workshop, files=[("FI-1.txt", TEXT.encode())], language="en"
    )
    return outcome.document


@pytest.fixture
def tree(study: Study) -> dict[str, Code]:
    """Concept (a dimension) with three concepts, and Domain with one."""
    concept = create_code(study=study, name="Concept", codable=False)
    domain = create_code(study=study, name="Domain", codable=False)
    return {
        "Concept": concept,
        "negotiability": create_code(study=study, name="negotiability", parent=concept),
        "explainability": create_code(study=study, name="explainability", parent=concept),
        "accuracy": create_code(study=study, name="accuracy", parent=concept),
        "Domain": domain,
        "hiring": create_code(study=study, name="hiring", parent=domain),
    }


def span(document: Document, words: str) -> tuple[int, int]:
    start = document.text.index(words)
    return start, start + len(words)


def code_at(document: Document, code: Code, coder: User, words: str, **kw: object) -> Coding:
    start, end = span(document, words)
    return Coding.objects.create(
        document=document, code=code, coder=coder, start=start, end=end, **kw
    )


def paths(study: Study) -> list[str]:
    codes = list(study.codes.all())
    found = code_paths(codes)
    return sorted(found.values())


# --- Create and edit ------------------------------------------------------------------------


def test_an_owner_creates_renames_and_recolours_a_code(study: Study) -> None:
    concept = create_code(study=study, name="Concept", codable=False)
    code = create_code(
        study=study,
        name=" negotiabilty ",
        parent=concept,
        definition="Working flexibly around a decision-maker.\r\nBeyond formal criteria.",
        shortcut="3",
        patterns="negotiate | lemma: bargain\nappeal",
    )
    assert code.path == "Concept/negotiabilty"
    assert code.colour.startswith("#") and code.colour != concept.colour
    assert code.definition == "Working flexibly around a decision-maker.\nBeyond formal criteria."
    assert code.patterns == "negotiate\nlemma: bargain\nappeal"

    update_code(code=code, name="negotiability", colour="cc79a7", shortcut=None)
    code.refresh_from_db()
    assert (code.name, code.colour, code.shortcut) == ("negotiability", "#CC79A7", None)


def test_a_name_a_sibling_has_is_refused_whatever_its_letter_case(tree: dict[str, Code]) -> None:
    study = tree["Concept"].study
    with pytest.raises(CodebookError, match="'Concept' already has a code named 'accuracy'"):
        create_code(study=study, name="Accuracy", parent=tree["Concept"])
    with pytest.raises(CodebookError, match="already has a code named 'explainability'"):
        update_code(code=tree["accuracy"], name="explainability")
    with pytest.raises(CodebookError, match="contains '/'"):
        create_code(study=study, name="either/or", parent=tree["Concept"])
    # The same name elsewhere in the tree is fine.
    assert create_code(study=study, name="accuracy", parent=tree["Domain"]).path == (
        "Domain/accuracy"
    )


def test_a_shortcut_is_a_digit_that_only_one_code_has(tree: dict[str, Code]) -> None:
    update_code(code=tree["accuracy"], shortcut=1)
    with pytest.raises(CodebookError, match="already used by 'Concept/accuracy'"):
        update_code(code=tree["hiring"], shortcut=1)
    with pytest.raises(CodebookError, match="not a digit from 1 to 9"):
        update_code(code=tree["hiring"], shortcut=12)
    with pytest.raises(CodebookError, match="is not a colour"):
        update_code(code=tree["hiring"], colour="blue")


def test_a_code_with_codings_must_stay_codable(
    tree: dict[str, Code], english_document: Document, people: dict[str, User]
) -> None:
    code_at(english_document, tree["accuracy"], people["bob"], "explain why")
    with pytest.raises(CodebookError, match="has 1 coding, so it must stay codable"):
        update_code(code=tree["accuracy"], codable=False)


# --- Move -----------------------------------------------------------------------------------


def test_a_code_cannot_move_under_itself_or_its_own_descendant(tree: dict[str, Code]) -> None:
    with pytest.raises(CodebookError, match="cannot go under itself"):
        move_code(code=tree["Concept"], parent=tree["Concept"])
    with pytest.raises(CodebookError, match="'accuracy' is inside 'Concept'"):
        move_code(code=tree["Concept"], parent=tree["accuracy"])
    deeper = create_code(study=tree["Concept"].study, name="precision", parent=tree["accuracy"])
    with pytest.raises(CodebookError, match="would loop"):
        move_code(code=tree["Concept"], parent=deeper)
    assert tree["Concept"].__class__.objects.get(pk=tree["Concept"].pk).parent_id is None


def test_a_code_cannot_move_into_a_name_clash_or_another_study(
    tree: dict[str, Code], people: dict[str, User]
) -> None:
    study = tree["Concept"].study
    create_code(study=study, name="hiring", parent=tree["Concept"])
    with pytest.raises(CodebookError, match="'Concept' already has a code named 'hiring'"):
        move_code(code=tree["hiring"], parent=tree["Concept"])
    other = Study.objects.create(slug="other", name="Other")
    elsewhere = create_code(study=other, name="Elsewhere")
    with pytest.raises(CodebookError, match="another study"):
        move_code(code=tree["hiring"], parent=elsewhere)
    assert Code.objects.get(pk=tree["hiring"].pk).parent_id == tree["Domain"].pk


def test_moving_re_parents_and_reorders(tree: dict[str, Code]) -> None:
    study = tree["Concept"].study

    def children(name: str) -> list[str]:
        parent = Code.objects.get(pk=tree[name].pk)
        return [c.name for c in sorted(parent.children.all(), key=lambda c: c.order)]

    assert children("Concept") == ["negotiability", "explainability", "accuracy"]
    move_code(code=tree["accuracy"], parent=tree["Concept"], position=0)
    assert children("Concept") == ["accuracy", "negotiability", "explainability"]
    move_code(code=tree["negotiability"], parent=tree["Domain"])
    assert children("Concept") == ["accuracy", "explainability"]
    assert children("Domain") == ["hiring", "negotiability"]
    move_code(code=tree["negotiability"], parent=None, position=0)
    top = sorted(study.codes.filter(parent=None), key=lambda c: c.order)
    assert [c.name for c in top] == ["negotiability", "Concept", "Domain"]


# --- Merge ----------------------------------------------------------------------------------


def test_merging_moves_every_coding_and_memo_and_keeps_identical_codings_once(
    tree: dict[str, Code], english_document: Document, people: dict[str, User]
) -> None:
    bob, alice = people["bob"], people["alice"]
    source, target = tree["negotiability"], tree["explainability"]
    code_at(english_document, source, bob, "negotiate the outcome")
    code_at(english_document, source, bob, "argue with it")
    twin = code_at(english_document, source, alice, "explain why")
    kept = code_at(english_document, target, alice, "explain why")  # identical: alice, same span
    code_at(english_document, target, bob, "explain why")
    code_at(english_document, source, alice, "explain why", consensus=True)  # another layer: moves
    Memo.objects.create(study=source.study, author=bob, code=source, text="Close to appeal?")
    Memo.objects.create(study=source.study, author=alice, code=source, text="See P04.")
    Memo.objects.create(study=source.study, author=alice, coding=twin, text="Clear case.")
    start, end = span(english_document, "argue with it")
    SuggestionDecision.objects.create(
        document=english_document, code=source, user=bob, start=start, end=end, verdict="accepted"
    )
    memos_before, codings_before = Memo.objects.count(), Coding.objects.count()

    plan = plan_merge(source=source, target=target)
    assert plan.summary().startswith(
        "4 codings and 2 memos move to Concept/explainability; Concept/negotiability is deleted."
    )
    assert "1 of these codings is already on Concept/explainability" in plan.summary()
    merge_codes(source=source, target=target)

    assert not Code.objects.filter(pk=source.pk).exists()
    assert Coding.objects.count() == codings_before - 1  # only the identical copy went
    assert Coding.objects.filter(code=target).count() == 5
    assert Memo.objects.count() == memos_before  # nothing is lost
    assert Memo.objects.filter(code=target).count() == 2
    assert Memo.objects.get(text="Clear case.").coding_id == kept.pk
    assert SuggestionDecision.objects.filter(code=target).count() == 1


def test_merging_moves_sub_codes_and_patterns_to_the_target(tree: dict[str, Code]) -> None:
    study = tree["Concept"].study
    update_code(code=tree["negotiability"], patterns="negotiate\nappeal")
    update_code(code=tree["explainability"], patterns="explain")
    create_code(study=study, name="appeal", parent=tree["negotiability"])
    merge_codes(source=tree["negotiability"], target=tree["explainability"])
    assert "Concept/explainability/appeal" in paths(study)
    assert Code.objects.get(pk=tree["explainability"].pk).patterns == "explain\nnegotiate\nappeal"


def test_merges_that_would_lose_or_loop_are_refused(
    tree: dict[str, Code], english_document: Document, people: dict[str, User]
) -> None:
    study = tree["Concept"].study
    with pytest.raises(CodebookError, match="into itself"):
        plan_merge(source=tree["accuracy"], target=tree["accuracy"])
    with pytest.raises(CodebookError, match="'accuracy' is inside 'Concept'"):
        plan_merge(source=tree["Concept"], target=tree["accuracy"])
    other = create_code(study=Study.objects.create(slug="x", name="X"), name="elsewhere")
    with pytest.raises(CodebookError, match="different studies"):
        plan_merge(source=tree["accuracy"], target=other)
    code_at(english_document, tree["accuracy"], people["bob"], "explain why")
    with pytest.raises(CodebookError, match="'Domain' is not codable"):
        merge_codes(source=tree["accuracy"], target=tree["Domain"])
    create_code(study=study, name="hiring", parent=tree["Concept"])
    with pytest.raises(CodebookError, match="Both 'Concept' and 'Domain' have a sub-code"):
        merge_codes(source=tree["Concept"], target=tree["Domain"])
    assert len(paths(study)) == 7
    assert Coding.objects.get().code_id == tree["accuracy"].pk


# --- Delete ---------------------------------------------------------------------------------


def test_a_code_with_codings_or_sub_codes_cannot_be_deleted(
    tree: dict[str, Code], english_document: Document, people: dict[str, User]
) -> None:
    code_at(english_document, tree["accuracy"], people["bob"], "explain why")
    code_at(english_document, tree["accuracy"], people["alice"], "explain why")
    with pytest.raises(CodebookError, match="has 2 codings, so it cannot be deleted: merge it"):
        delete_code(code=tree["accuracy"])
    with pytest.raises(CodebookError, match=r"has 1 sub-code \('hiring'\)"):
        delete_code(code=tree["Domain"])
    assert Code.objects.filter(pk__in=[tree["accuracy"].pk, tree["Domain"].pk]).count() == 2


def test_deleting_an_unused_code_deletes_its_memos_and_says_so(
    tree: dict[str, Code], english_document: Document, people: dict[str, User]
) -> None:
    code = tree["hiring"]
    Memo.objects.create(study=code.study, author=people["alice"], code=code, text="Unused?")
    SuggestionDecision.objects.create(
        document=english_document, code=code, user=people["bob"], start=0, end=5, verdict="rejected"
    )
    assert plan_delete(code=code).summary() == (
        "Deleting Domain/hiring also deletes its definition and criteria, 1 memo and "
        "1 suggestion decision. This cannot be undone."
    )
    delete_code(code=code)
    assert not Code.objects.filter(name="hiring").exists()
    assert not Memo.objects.exists() and not SuggestionDecision.objects.exists()


# --- Import and export ----------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def read_xlsx(data: bytes) -> list[list[object]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


@pytest.fixture
def described(tree: dict[str, Code]) -> Study:
    update_code(
        code=tree["negotiability"],
        definition="Going beyond formal criteria: working flexibly around a decision-maker.",
        inclusion="Talk of arguing, appealing, bargaining.",
        exclusion="A plain wish for explanation: use explainability.",
        example="I want to negotiate the outcome.",
        shortcut=1,
        patterns="negotiate\nlemma: appeal",
        colour="#CC79A7",
    )
    update_code(code=tree["accuracy"], definition='=HYPERLINK("http://x", "click")')
    return tree["Concept"].study


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_codebook_survives_an_export_and_import_round_trip(described: Study, fmt: str) -> None:
    exported = export_codebook(described, fmt)
    copy = Study.objects.create(slug="copy", name="Copy")
    plan = import_codebook(study=copy, filename=f"codebook.{fmt}", data=exported)
    assert plan.summary() == f"Codebook codebook.{fmt}: 6 new codes."
    assert export_codebook(copy, "csv") == export_codebook(described, "csv")
    negotiability = Code.objects.get(study=copy, name="negotiability")
    assert negotiability.shortcut == 1
    assert negotiability.patterns == "negotiate\nlemma: appeal"
    assert not Code.objects.get(study=copy, name="Concept").codable
    assert Code.objects.get(study=copy, name="accuracy").definition.startswith("=HYPERLINK")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reimporting_an_identical_codebook_changes_nothing_and_says_so(
    described: Study, fmt: str
) -> None:
    exported = export_codebook(described, fmt)
    before = db_snapshot()
    plan = import_codebook(study=described, filename=f"codebook.{fmt}", data=exported)
    assert plan.summary() == f"No changes: the codebook already matches codebook.{fmt} (6 codes)."
    assert db_snapshot() == before


def test_an_import_creates_new_codes_updates_existing_ones_and_implies_parents(
    described: Study,
) -> None:
    update_code(code=Code.objects.get(name="accuracy"), shortcut=2)
    table = (
        "Path,Colour,Definition,Shortcut,Codable\n"
        "Concept/accuracy,#009E73,Correct decisions.,1,yes\n"
        "Concept/negotiability,,,2,\n"
        "Quality/Humanity/empathy,,Being treated as a person.,,\n"
    )
    plan = plan_codebook(study=described, filename="codebook.csv", data=table.encode())
    assert [(c.path, c.action, c.row) for c in plan.changes] == [
        ("Concept/accuracy", "update", 2),
        ("Concept/negotiability", "update", 3),
        ("Quality", "new", None),
        ("Quality/Humanity", "new", None),
        ("Quality/Humanity/empathy", "new", 4),
    ]
    assert plan.changes[0].fields == ["colour", "definition", "shortcut"]
    import_codebook(study=described, filename="codebook.csv", data=table.encode())
    accuracy = Code.objects.get(name="accuracy")
    negotiability = Code.objects.get(name="negotiability")
    # The two shortcuts swapped places in one import.
    assert (accuracy.shortcut, negotiability.shortcut) == (1, 2)
    assert negotiability.definition == ""  # an empty cell in a present column clears it
    assert negotiability.example == "I want to negotiate the outcome."  # absent column: kept
    assert not Code.objects.get(name="Humanity").codable
    assert Code.objects.get(name="empathy").codable


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "path,colour\nConcept/trust,#0072B2\nConcept/fairness,red\n",
            "codebook.csv, row 3, column 'colour': 'red' is not a colour",
        ),
        (
            "path,definition\nConcept/trust,a\nconcept/trust,b\n",
            "codebook.csv, row 3, column 'path': duplicate path 'concept/trust' (also in row 2)",
        ),
        (
            "path,shortcut\nConcept/trust,12\n",
            "codebook.csv, row 2, column 'shortcut': The shortcut '12' is not a digit from 1 to 9",
        ),
        (
            "path,shortcut\nConcept/trust,4\nConcept/fairness,4\n",
            "codebook.csv, row 3, column 'shortcut': the shortcut 4 is used twice (also in row 2)",
        ),
        (
            "path,shortcut\nConcept/trust,1\n",
            "codebook.csv, row 2, column 'shortcut': the shortcut 1 is already used by "
            "'Concept/negotiability'",
        ),
        (
            "path,codable\nConcept/trust,maybe\n",
            "codebook.csv, row 2, column 'codable': 'maybe' is not yes or no",
        ),
        (
            "path,defintion\nConcept/trust,a\n",
            "codebook.csv, row 1, column 'defintion': unknown column 'defintion'",
        ),
        ("path\nConcept//trust\n", "codebook.csv, row 2, column 'path': the path"),
        (
            "path\nconcept/trust\n",
            "codebook.csv, row 2, column 'path': 'concept' differs from the existing code "
            "'Concept' only in letter case",
        ),
        ("name\ntrust\n", "codebook.csv, row 1: has no 'path' column"),
    ],
)
def test_a_bad_codebook_is_refused_with_its_row_and_column_and_writes_nothing(
    described: Study, table: str, message: str
) -> None:
    before = db_snapshot()
    with pytest.raises(FileRejected) as refused:
        import_codebook(study=described, filename="codebook.csv", data=table.encode())
    assert str(refused.value).startswith(message)
    assert db_snapshot() == before


def test_a_code_with_codings_cannot_be_imported_as_not_codable(
    described: Study, english_document: Document, people: dict[str, User]
) -> None:
    code_at(english_document, Code.objects.get(name="accuracy"), people["bob"], "explain why")
    before = db_snapshot()
    with pytest.raises(FileRejected, match="row 2, column 'codable': 'Concept/accuracy' has 1"):
        import_codebook(
            study=described, filename="codebook.csv", data=b"path,codable\nConcept/accuracy,no\n"
        )
    assert db_snapshot() == before


def test_formula_injection_is_neutralised_in_csv_and_xlsx(described: Study) -> None:
    payloads = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tindented", "\rreturn", "plain"]
    rows = [[value, 1] for value in payloads]
    assert [row[0] for row in read_csv(csv_bytes(["text", "n"], rows))[1:]] == [
        "'=1+2",
        "'+SUM(A1)",
        "'-2+3",
        "'@cmd",
        "'\tindented",
        "'\rreturn",
        "plain",
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(["text", "n"], rows, title="t"))).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in cells] == payloads
    assert {cell.data_type for cell in cells} == {"s"}
    assert sheet["B2"].value == 1 and sheet.freeze_panes == "A2" and sheet["A1"].font.bold

    # And in the codebook's own exports, from which the text comes back unchanged.
    exported = read_csv(export_codebook(described, "csv"))
    accuracy = next(row for row in exported if row[0] == "Concept/accuracy")
    assert accuracy[2] == '\'=HYPERLINK("http://x", "click")'
    workbook = openpyxl.load_workbook(io.BytesIO(export_codebook(described, "xlsx")))
    definition = next(
        row[2] for row in workbook.active.iter_rows() if row[0].value == "Concept/accuracy"
    )
    assert (definition.value, definition.data_type) == ('=HYPERLINK("http://x", "click")', "s")
