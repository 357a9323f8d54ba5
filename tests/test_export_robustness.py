"""Findings that rest on one workshop (exports.robustness) against a hand-built study with a
known answer, and against the same figures computed again here from the raw Coding, Turn and
Participant rows.

The study: workshop A-1 (FI) with P01-P03, B-1 (DE) with P04-P11 and C-1 (GB) with P12-P19, 19
participants in all; one transcript per workshop, a turn per participant who speaks, and a
facilitator. Codes under the dimension Concept:
- local: P01 and P02, both of A-1 (flagged: A-1 holds all of them);
- everywhere: P01 of A-1, P04 and P05 of B-1, P12 and P13 of C-1 (not flagged);
- halved: P01-P03 of A-1, P04 and P12 (A-1 holds exactly 60%, which is not more than 60%, but
  leaving A-1 out takes the share from 5/19 to 2/16, less than half: flagged);
- unused: never coded (no figures, not flagged).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from openpyxl import load_workbook

from coding.models import Code, Coding
from exports.pack import build_pack
from exports.renderers import render
from exports.robustness import COLUMNS, DOMINANT_SHARE, FLAG, HALVING, HEADERS, RULE
from exports.tables import build_table
from studies.models import Document, Participant, Study, Turn, Workshop
from studies.services import import_roster
from tests.helpers import client_for

WORKSHOPS = {"A-1": "FI", "B-1": "DE", "C-1": "GB"}
MEMBERS = {
    "A-1": [f"P{n:02d}" for n in range(1, 4)],
    "B-1": [f"P{n:02d}" for n in range(4, 12)],
    "C-1": [f"P{n:02d}" for n in range(12, 20)],
}
SAID = {
    "local": ["P01", "P02"],
    "everywhere": ["P01", "P04", "P05", "P12", "P13"],
    "halved": ["P01", "P02", "P03", "P04", "P12"],
    "unused": [],
}
N = 19


@pytest.fixture
def sites(study: Study, people: dict[str, User]) -> Study:
    rows = ["participant,workshop,country"] + [
        f"{p},{w},{WORKSHOPS[w]}" for w, members in MEMBERS.items() for p in members
    ]
    import_roster(study=study, filename="roster.csv", data=("\n".join(rows) + "\n").encode())
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    codes = {
        name: Code.objects.create(study=study, parent=concept, name=name, order=i)
        for i, name in enumerate(SAID)
    }
    bob = people["bob"]
    for workshop in WORKSHOPS:
        speakers = [("Facilitator", None)] + [(p, p) for p in MEMBERS[workshop]]
        lines = [f"{speaker} talks about decisions that affect people. " for speaker, _ in speakers]
        text = "".join(lines)
        document = Document.objects.create(
            study=study,
            workshop=Workshop.objects.get(study=study, code=workshop),
            title=f"{workshop} transcript",
            text=text,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
        )
        start = 0
        for seq, ((speaker, code), line) in enumerate(zip(speakers, lines, strict=True)):
            participant = Participant.objects.get(study=study, code=code) if code else None
            end = start + len(line)
            Turn.objects.create(
                document=document,
                seq=seq,
                speaker=speaker,
                participant=participant,
                start=start,
                end=end,
            )
            for name, said in SAID.items():
                if code in said:
                    # Inside the turn, so that it overlaps this participant only.
                    Coding.objects.create(
                        document=document, code=codes[name], coder=bob, start=start, end=end - 2
                    )
            if code is None:  # the facilitator's words count for nobody
                Coding.objects.create(
                    document=document, code=codes["local"], coder=bob, start=start, end=end
                )
            start = end
    return study


def independent(study: Study, code_ids: set[int]) -> dict[str, object]:
    """The figures of the codes `code_ids` taken together (a parent with rollup: its subtree),
    from the raw rows: a participant is coded when a coding overlaps one of their turns."""
    roster = {p.code: p.workshop.code for p in Participant.objects.filter(study=study)}
    coded: set[str] = set()
    for coding in Coding.objects.filter(code_id__in=code_ids):
        for turn in Turn.objects.filter(document=coding.document, participant__isnull=False):
            if coding.start < turn.end and turn.start < coding.end:
                coded.add(turn.participant.code)
    everyone = len(roster)
    if not coded:
        return {"coded": 0}
    share = len(coded) / everyone
    left_out = []
    counts = {}
    for workshop in WORKSHOPS:
        members = {p for p, w in roster.items() if w == workshop}
        counts[workshop] = len(coded & members)
        left_out.append(len(coded - members) / (everyone - len(members)))
    largest = max(WORKSHOPS, key=lambda w: counts[w])  # max keeps the first of a tie
    largest_share = counts[largest] / len(coded)
    return {
        "coded": len(coded),
        "loo_share_min": min(left_out),
        "loo_share_max": max(left_out),
        "largest_workshop": largest,
        "largest_workshop_share": largest_share,
        FLAG: largest_share > DOMINANT_SHARE or min(left_out) <= HALVING * share,
    }


def row_of(wide, path: str) -> dict:
    rows = wide[wide["code_path"] == path]
    assert len(rows) == 1, f"{path} is not one row of {list(wide['code_path'])}"
    return rows.iloc[0].to_dict()


def assert_figures(row: dict, expected: dict, where: str) -> None:
    if not expected["coded"]:
        assert row[FLAG] in (False, None), where
        assert all(
            row[c] in ("", None) or (isinstance(row[c], float) and math.isnan(row[c]))
            for c in COLUMNS
            if c != FLAG
        ), where
        return
    for column in ("loo_share_min", "loo_share_max", "largest_workshop_share"):
        assert row[column] == pytest.approx(expected[column]), f"{where}: {column}"
    assert row["largest_workshop"] == expected["largest_workshop"], where
    assert bool(row[FLAG]) is bool(expected[FLAG]), where


def test_the_known_answer(sites: Study) -> None:
    """The figures worked out by hand in the module's docstring."""
    wide = build_table(sites, "frequencies").wide
    local = row_of(wide, "Concept/local")
    assert local["loo_share_min"] == 0
    assert local["loo_share_max"] == pytest.approx(2 / 11)  # without B-1 or C-1: 2 of 11
    assert (local["largest_workshop"], local["largest_workshop_share"]) == ("A-1", 1.0)
    assert local[FLAG] is True
    everywhere = row_of(wide, "Concept/everywhere")
    assert everywhere["loo_share_min"] == pytest.approx(4 / 16)  # without A-1: 4 of 16
    assert everywhere["loo_share_max"] == pytest.approx(3 / 11)  # without B-1 or C-1
    # B-1 and C-1 hold two each: the first in the study's order is named.
    assert (everywhere["largest_workshop"], everywhere["largest_workshop_share"]) == ("B-1", 0.4)
    assert everywhere[FLAG] is False
    halved = row_of(wide, "Concept/halved")
    assert halved["largest_workshop_share"] == pytest.approx(0.6)  # not more than 60%
    assert halved["loo_share_min"] == pytest.approx(2 / 16) and 2 / 16 <= 0.5 * 5 / 19
    assert halved[FLAG] is True
    unused = row_of(wide, "Concept/unused")
    assert unused[FLAG] is False and math.isnan(unused["loo_share_min"])
    # The Total row is not a code: no figures.
    assert all(row_of(wide, "Total")[c] is None for c in COLUMNS)
    participants = dict(zip(wide["code_path"], wide["participants"], strict=True))
    assert participants["Concept/halved"] == 5  # the facilitator's coding counts for nobody


@pytest.mark.parametrize(
    ("name", "by", "measure", "rollup"),
    [
        ("frequencies", None, "segments", False),
        ("frequencies", None, "segments", True),
        ("crosstab", "country", "participant_share", False),
        ("crosstab", "workshop", "segments", True),
        ("crosstab", "document", "participants", False),
    ],
)
def test_figures_equal_an_independent_computation(
    sites: Study, name: str, by: str | None, measure: str, rollup: bool
) -> None:
    table = build_table(sites, name, by=by, measure=measure, rollup=rollup)
    codes = {c.pk: c for c in Code.objects.filter(study=sites)}

    def subtree(pk: int) -> set[int]:
        found = {pk}
        for child in (c for c in codes.values() if c.parent_id == pk):
            found |= subtree(child.pk)
        return found

    checked = 0
    for code in codes.values():
        path = f"{code.parent.name}/{code.name}" if code.parent else code.name
        if path not in set(table.wide["code_path"]):
            assert not code.codable and not rollup
            continue
        expected = independent(sites, subtree(code.pk) if rollup else {code.pk})
        assert_figures(row_of(table.wide, path), expected, f"{name} {by} {path}")
        # The tidy form carries the same figures on every row of the code.
        tidy = table.tidy[table.tidy["code_path"] == path]
        assert len(tidy) and tidy[FLAG].nunique() == 1
        assert bool(tidy[FLAG].iloc[0]) is bool(expected.get(FLAG, False))
        checked += 1
    assert checked == (5 if rollup else 4)


def test_a_dimension_crosstab_carries_the_figures_of_its_row_codes(sites: Study) -> None:
    domain = Code.objects.create(study=sites, name="Domain", codable=False, order=1)
    Code.objects.create(study=sites, parent=domain, name="hiring")
    table = build_table(sites, "crosstab", by="dimension:Domain")
    row = row_of(table.wide, "Concept/local")
    assert row[FLAG] is True and row["largest_workshop"] == "A-1"
    assert row_of(table.wide, "Concept/everywhere")[FLAG] is False


def test_csv_and_xlsx_carry_the_columns_and_the_about_sheet_states_the_rule(sites: Study) -> None:
    for name, by in (("frequencies", None), ("crosstab", "country")):
        table = build_table(sites, name, by=by)
        _filename, _type, content = render(table, "csv")
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        assert set(COLUMNS) <= set(rows[0])
        flags = {r["code_path"]: r[FLAG] for r in rows}
        assert flags["Concept/local"] == "True" and flags["Concept/everywhere"] == "False"

        _filename, _type, content = render(table, "xlsx")
        book = load_workbook(io.BytesIO(content))
        sheet = book.worksheets[0]
        header = [cell.value for cell in sheet[1]]
        # The reading form names the columns in words; the .csv keeps the names above.
        assert {HEADERS[column] for column in COLUMNS} <= set(header), header
        about = " ".join(
            str(cell.value) for row in book["About"].iter_rows() for cell in row if cell.value
        )
        assert RULE in about
        assert "Codes that rest on one workshop: Concept/local; Concept/halved (" in about


def test_the_rule_states_its_thresholds_and_the_readme_states_the_same() -> None:
    assert "more than 60%" in RULE and "halves" in RULE and "at most 50%" in RULE
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    paragraph = " ".join(readme.split("**Findings that rest on one workshop.**", 1)[1].split())
    assert f"holds more than {DOMINANT_SHARE:.0%} of its coded participants" in paragraph
    assert f"at most {HALVING:.0%} of the share with every workshop" in paragraph


def test_the_pack_readme_names_the_flagged_codes_next_to_each_table(sites: Study) -> None:
    with zipfile.ZipFile(io.BytesIO(build_pack(sites))) as archive:
        readme = archive.read("README.md").decode()
    flagged = "Codes that rest on one workshop: Concept/local; Concept/halved ("
    notes_of: dict[str, list[str]] = {}
    title = ""
    for line in readme.splitlines():
        if line.startswith("- ") and ": " in line:
            title = line[2:].split(": ", 1)[0]
            notes_of[title] = []
        elif line.startswith("  - ") and title:
            notes_of[title].append(line[4:])
    marked = {t for t, notes in notes_of.items() if any(n.startswith(flagged) for n in notes)}
    expected = {"Code frequencies", "Segments by country", "Participant share by workshop"}
    assert expected <= marked, notes_of
    # Tables without the columns (the codebook, quotes...) carry no such note.
    assert not any("Codebook" in t or "quotes" in t.lower() for t in marked)
    assert readme.count(RULE) == 1


def test_the_exports_page_shows_the_flag_in_words(sites: Study, people: dict[str, User]) -> None:
    client = client_for(people["victor"])
    url = reverse("exports:page", args=[sites.slug])
    page = client.get(url, {"table": "crosstab", "by": "country", "measure": "participants"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "rests_on_one_workshop" in html
    assert "Codes that rest on one workshop: Concept/local; Concept/halved (" in html
    assert "Does a finding rest on one workshop?" in html
    # The flag in words in the code's own row, not only a colour.
    rows = {
        path: row
        for row in re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S)
        for path in ("Concept/local", "Concept/everywhere")
        if f">{path}<" in row
    }
    cells = {
        path: re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for path, row in rows.items()
    }
    assert re.sub(r"<[^>]+>", "", cells["Concept/local"][-1]).strip() == "yes"
    assert re.sub(r"<[^>]+>", "", cells["Concept/everywhere"][-1]).strip() == "no"
