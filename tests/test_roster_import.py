from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest

from studies.importers import FileRejected
from studies.models import Participant, ParticipantValue, Study, Variable, Workshop
from studies.services import import_roster, plan_roster
from tests.conftest import ROSTER
from tests.helpers import db_snapshot


def test_it_creates_workshops_participants_and_variables(study: Study) -> None:
    plan = import_roster(study=study, filename="roster.csv", data=ROSTER.encode())

    assert plan.workshops_new == ["FI-1", "GB-1"]
    assert len(plan.participants_new) == 5
    fi = Workshop.objects.get(study=study, code="FI-1")
    assert (fi.country.code, fi.site, fi.date, fi.language) == (
        "FI",
        "Helsinki",
        dt.date(2025, 3, 12),
        "fi",
    )
    assert fi.facilitator_labels == ["Fasilitaattori"]
    p04 = Participant.objects.get(study=study, code="P04")
    assert p04.workshop.code == "GB-1"
    assert p04.alias_list == ["Amara", "Dr. Okafor"]
    age = Variable.objects.get(study=study, name="age band")
    assert age.kind == "choice"
    assert age.choice_list == ["18-29", "30-44", "45-59", "60+"]
    assert ParticipantValue.objects.get(participant=p04, variable__name="gender").value == "woman"
    assert plan.summary() == (
        "Roster roster.csv: 2 new workshops, 5 new participants, 2 new variables."
    )


def test_reimporting_an_identical_roster_changes_nothing_and_says_so(study: Study) -> None:
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    before = db_snapshot()

    plan = import_roster(study=study, filename="roster.csv", data=ROSTER.encode())

    assert not plan.has_changes
    assert plan.summary() == (
        "No changes: all 5 participants in roster.csv are already in the study as the file "
        "describes them."
    )
    assert db_snapshot() == before


def test_it_updates_a_changed_participant(study: Study) -> None:
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    changed = ROSTER.replace(
        "P05,GB-1,GB,Manchester,2025-05-08,en-GB,,Callum,60+,man",
        "P05,GB-1,GB,Manchester,2025-05-08,en-GB,,Callum,45-59,man",
    )

    plan = import_roster(study=study, filename="roster.csv", data=changed.encode())

    assert plan.participants_changed == ["P05"]
    assert plan.participants_unchanged == 4
    value = ParticipantValue.objects.get(participant__code="P05", variable__name="age band")
    assert value.value == "45-59"


def test_it_reads_an_xlsx_roster_with_typed_number_column(study: Study) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Participant", "Workshop", "Country", "Date", "Age [number]", "Occupation"])
    sheet.append(["P01", "DE-1", "DE", dt.date(2025, 4, 3), 34, "nurse"])
    sheet.append(["P02", "DE-1", "DE", dt.date(2025, 4, 3), 61.5, "judge"])
    buffer = io.BytesIO()
    book.save(buffer)

    import_roster(study=study, filename="roster.xlsx", data=buffer.getvalue())

    workshop = Workshop.objects.get(study=study, code="DE-1")
    assert workshop.date == dt.date(2025, 4, 3)
    assert workshop.country.code == "DE"
    age = Variable.objects.get(study=study, name="Age")
    assert age.kind == "number"
    values = dict(
        ParticipantValue.objects.filter(variable=age).values_list("participant__code", "number")
    )
    assert values == {"P01": 34.0, "P02": 61.5}


BAD_ROSTERS = [
    (
        "participant,workshop,country\nP01,FI-1,FI\nP02,FI-1,FI\nP01,FI-1,FI\n",
        "roster.csv, row 4, column 'participant': duplicate participant code 'P01' (also in row 2)",
    ),
    (
        "participant,workshop,country\nP01,FI-1,FI\nP02,XX-1,Atlantis\n",
        "roster.csv, row 3, column 'country': unknown country 'Atlantis' (use an ISO code)",
    ),
    (
        "participant,country\nP01,FI\n",
        "roster.csv, row 1: has no 'workshop' column (required; found 'participant', 'country')",
    ),
    (
        "code,workshop,country,date\nP01,FI-1,FI,2025-13-45\n",
        "roster.csv, row 2, column 'date': bad date '2025-13-45' (use YYYY-MM-DD)",
    ),
    (
        "participant,workshop\nP01,FI-9\n",
        "roster.csv, row 2, column 'workshop': unknown workshop 'FI-9': create it first, or give "
        "its country in a 'country' column so the roster creates it",
    ),
    (
        "participant,workshop,country\nP01,FI-1,FI\nP02,FI-1,DE\n",
        "roster.csv, row 3, column 'country': "
        "workshop FI-1 has country 'DE' here but 'FI' in row 2",
    ),
    (
        "participant,workshop,country,age [number]\nP01,FI-1,FI,34\nP02,FI-1,FI,about forty\n",
        "roster.csv, row 3, column 'age [number]': 'about forty' is not a number",
    ),
    (
        "participant,workshop,country,language\nP01,FI-1,FI,Finnish!\n",
        "roster.csv, row 2, column 'language': 'Finnish!' is not a BCP 47 language tag",
    ),
    ("participant,workshop\n", "roster.csv: has a header but no participant rows"),
]


@pytest.mark.parametrize(("content", "message"), BAD_ROSTERS)
def test_a_bad_roster_is_refused_with_its_row_and_column_and_writes_nothing(
    roster_study: Study, content: str, message: str
) -> None:
    before = db_snapshot()

    with pytest.raises(FileRejected) as excinfo:
        import_roster(study=roster_study, filename="roster.csv", data=content.encode())

    assert str(excinfo.value) == message
    assert db_snapshot() == before


def test_planning_writes_nothing(study: Study) -> None:
    before = db_snapshot()
    plan = plan_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    assert plan.has_changes
    assert db_snapshot() == before


def test_qualcoder_survey_export_reads_as_a_roster_with_a_workshop_column(
    study: Study, interop: Path
) -> None:
    # QualCoder's case table has no workshop; adding one column is all a user has to do.
    with (interop / "qualcoder_survey456.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.reader(source))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*rows[0], "workshop", "country"])
    writer.writerows([*row, "QC-1", "GB"] for row in rows[1:] if row)

    import_roster(study=study, filename="survey456.csv", data=out.getvalue().encode())

    assert study.participants.filter(code="ID4").exists()
    assert Variable.objects.get(study=study, name="Age").kind == "number"
    assert ParticipantValue.objects.get(participant__code="ID4", variable__name="Age").value == "24"
