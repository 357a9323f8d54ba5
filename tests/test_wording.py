"""Numbers in messages read as English: '1 new workshop', never '1 new workshops'. One helper
(studies.wording.plural) writes them for every app."""

from __future__ import annotations

import ast
from pathlib import Path

from studies.models import Study
from studies.services import import_roster
from studies.wording import plural

ROOT = Path(__file__).resolve().parents[1]

ONE_PERSON_ROSTER = """participant,workshop,country,language,age band
P01,FI-1,FI,fi,30-44
"""


def test_plural_counts_one_as_singular_and_groups_thousands() -> None:
    assert plural(1, "new workshop") == "1 new workshop"
    assert plural(0, "new workshop") == "0 new workshops"
    assert plural(1512, "turn") == "1,512 turns"
    assert plural(2, "of these codings is", "of these codings are") == "2 of these codings are"


def test_a_roster_of_one_says_one_workshop_one_participant_one_variable(study: Study) -> None:
    plan = import_roster(study=study, filename="one.csv", data=ONE_PERSON_ROSTER.encode())

    assert plan.summary() == "Roster one.csv: 1 new workshop, 1 new participant, 1 new variable."

    again = import_roster(study=study, filename="one.csv", data=ONE_PERSON_ROSTER.encode())
    assert again.summary() == (
        "No changes: the 1 participant in one.csv is already in the study as the file describes it."
    )


def test_plural_is_defined_once_in_the_ground_layer() -> None:
    defined = [
        path.relative_to(ROOT).as_posix()
        for app in ("studies", "coding", "exports", "surveys")
        for path in (ROOT / app).rglob("*.py")
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "plural"
            for node in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert defined == ["studies/wording.py"]
