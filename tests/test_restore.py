"""Backup and restore through REFI-QDA: the demo study exported as .qdpx with
`manage.py export_qdpx`, deleted, and imported into a new study with `manage.py import_qdpx`
comes back with everything a .qdpx carries: the codebook (tree, colours, definitions and
criteria), every document's text byte for byte with its turns, every coding of every coder and
of the consensus, memos, and participants with their workshops and variables. What it does
not carry (assignments, the audit trail, ...) the deployment guide lists."""

from __future__ import annotations

import io
from pathlib import Path

from django.contrib.auth.models import User
from django.core.management import call_command

from coding.models import Assignment, Code, CodeTree, Coding, Memo
from coding.services import CodingSpan, apply_codings
from studies.models import Document, ParticipantValue, Study, Turn, Variable
from studies.services import create_study, delete_study

ROOT = Path(__file__).resolve().parents[1]


def codebook(study: Study) -> list[tuple]:
    paths = CodeTree.of(study).path
    return sorted(
        (
            paths[c.pk],
            c.colour.upper(),
            c.codable,
            c.definition,
            c.inclusion,
            c.exclusion,
            c.example,
        )
        for c in Code.objects.filter(study=study)
    )


def documents(study: Study) -> dict[str, tuple]:
    return {
        d.title: (d.text.encode(), d.kind, d.language, d.workshop.code if d.workshop else None)
        for d in study.documents.select_related("workshop")
    }


def turns(study: Study) -> list[tuple]:
    return sorted(
        Turn.objects.filter(document__study=study).values_list(
            "document__title", "seq", "speaker", "participant__code", "start", "end"
        )
    )


def person(user: User, names: dict[str, str]) -> str:
    """The person behind an account: a restored coder's account keeps their name."""
    return names.get(user.username, user.username)


def codings(study: Study, names: dict[str, str]) -> list[tuple]:
    paths = CodeTree.of(study).path
    return sorted(
        (
            c.document.title,
            paths[c.code_id],
            "consensus" if c.consensus else person(c.coder, names),
            c.start,
            c.end,
        )
        for c in Coding.objects.filter(document__study=study).select_related("document", "coder")
    )


def memos(study: Study, names: dict[str, str]) -> list[tuple]:
    paths = CodeTree.of(study).path
    rows = []
    for memo in Memo.objects.filter(study=study).select_related(
        "document", "coding__document", "author"
    ):
        if memo.coding_id:
            c = memo.coding
            target = ("coding", c.document.title, paths[c.code_id], c.start, c.end)
        elif memo.code_id:
            target = ("code", paths[memo.code_id])
        elif memo.document_id:
            target = ("document", memo.document.title)
        else:
            target = ("study",)
        rows.append((target, person(memo.author, names), memo.text))
    return sorted(rows)


def participants(study: Study) -> list[tuple]:
    return sorted(study.participants.values_list("code", "workshop__code", "workshop__country"))


def variables(study: Study, names: list[str]) -> list[tuple]:
    return sorted(
        ParticipantValue.objects.filter(
            participant__study=study, variable__name__in=names
        ).values_list("participant__code", "variable__name", "variable__kind", "value")
    )


def test_the_demo_exported_deleted_and_imported_loses_nothing_a_qdpx_carries(
    demo: Study, tmp_path: Path
) -> None:
    alice = User.objects.get(username="alice")
    # The consensus layer too: an adjudicated coding of Alice's, the owner.
    coded = Coding.objects.filter(document__study=demo).order_by("pk").first()
    apply_codings(
        user=alice,
        spans=[CodingSpan(coded.document_id, coded.code_id, coded.start, coded.end, True)],
    )
    Memo.objects.create(
        study=demo, author=coded.coder, coding=coded, text="Says it twice.\nSecond line: ü 😀"
    )
    Memo.objects.create(study=demo, author=alice, document=coded.document, text="Noisy room.")
    assignments = Assignment.objects.filter(document__study=demo).count()
    variable_names = list(Variable.objects.filter(study=demo).values_list("name", flat=True))
    before = {
        "codebook": codebook(demo),
        "documents": documents(demo),
        "turns": turns(demo),
        "codings": codings(demo, {}),
        "memos": memos(demo, {}),
        "participants": participants(demo),
        "variables": variables(demo, variable_names),
    }
    assert all(before.values()), [name for name, rows in before.items() if not rows]
    assert {row[2] for row in before["codings"]} >= {"bob", "chloe", "consensus"}
    assert {row[0][0] for row in before["memos"]} >= {"coding", "code", "document"}
    backup = tmp_path / "demo.qdpx"

    call_command("export_qdpx", "--study", "demo", "-o", str(backup), stdout=io.StringIO())
    delete_study(study=demo, confirmation=demo.name)
    assert not Study.objects.filter(slug="demo").exists()
    assert not Coding.objects.exists()
    restored = create_study(owner=alice, name="Demo, restored", slug="restored")
    call_command("import_qdpx", str(backup), "--study", "restored", stdout=io.StringIO())

    # The coders' accounts stayed when the study went; restored coders are new accounts that
    # keep the file's name for the person (an owner can invite them to the account).
    names = {
        u.username: u.first_name
        for u in User.objects.filter(memberships__study=restored)
        if u.first_name and u.first_name != u.username
    }
    assert codebook(restored) == before["codebook"]
    assert documents(restored) == before["documents"]
    assert turns(restored) == before["turns"]
    assert codings(restored, names) == before["codings"]
    assert memos(restored, names) == before["memos"]
    assert participants(restored) == before["participants"]
    assert variables(restored, variable_names) == before["variables"]
    assert Document.objects.filter(study=restored).count() == len(before["documents"])

    # What a .qdpx does not carry is not there, and the deployment guide says so.
    assert assignments and not Assignment.objects.filter(document__study=restored).exists()
    guide = " ".join((ROOT / "docs" / "deploy.md").read_text().split())
    for missing in ("assignments", "suggestion decisions", "survey questionnaires", "audit trail"):
        assert missing in guide.split("It does **not** carry:")[1].split("keep the database")[0]
