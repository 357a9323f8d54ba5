"""`manage.py export`, the paper pack and the export API, end to end on the demo study."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coding.models import Code, Coding
from exports.pack import build_pack
from studies.models import Study
from studies.services import import_transcripts
from tests.helpers import client_for
from tests.test_transcript_import import FI_TXT


def export(*args: str) -> str:
    out = io.StringIO()
    call_command("export", *args, stdout=out)
    return out.getvalue()


def test_a_crosstab_by_country_exports_as_tidy_csv(demo: Study, tmp_path: Path) -> None:
    path = tmp_path / "concept.csv"
    output = export(
        "--study", "demo", "--table", "crosstab", "--by", "country",
        "--measure", "participant_share", "--format", "csv", "-o", str(path),
    )  # fmt: skip

    assert output.startswith(f"Wrote {path}")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert {"code_path", "group", "measure", "value"} <= set(rows[0])
    assert {row["group"] for row in rows} == {"FI", "DE", "GB", "US"}
    codable = Code.objects.filter(study=demo, codable=True).count()
    assert len(rows) == codable * 4  # one row per (code, country), zeros included
    for row in rows:
        assert row["measure"] == "participant_share"
        assert 0.0 <= float(row["value"]) <= 1.0


@pytest.mark.parametrize("fmt", ["xlsx", "tex", "md", "json", "png", "svg", "pdf"])
def test_every_format_is_written(demo: Study, tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"table.{fmt}"
    export(
        "--study",
        "demo",
        "--table",
        "crosstab",
        "--by",
        "workshop",
        "--format",
        fmt,
        "-o",
        str(path),
    )
    content = path.read_bytes()
    signatures = {"xlsx": b"PK", "png": b"\x89PNG", "pdf": b"%PDF"}
    if fmt in signatures:
        assert content.startswith(signatures[fmt])
    elif fmt == "json":
        assert json.loads(content)["table"] == "crosstab"
    else:
        assert b"negotiability" in content


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope", "--pack"], "--study 'nope': no such study"),
        (["--study", "demo", "--table", "crosstab"], "give --table and --format, or --pack"),
    ],
)
def test_the_export_command_refuses_bad_input(demo, tmp_path: Path, args, message) -> None:
    with pytest.raises(CommandError) as excinfo:
        export(*args, "-o", str(tmp_path / "x"))
    assert str(excinfo.value) == message


def test_an_unknown_variable_is_named(demo: Study, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as excinfo:
        export(
            "--study", "demo", "--table", "crosstab", "--by", "variable:shoe size",
            "--format", "csv", "-o", str(tmp_path / "x.csv"),
        )  # fmt: skip
    assert "shoe size" in str(excinfo.value)
    assert not (tmp_path / "x.csv").exists()


def test_the_paper_pack_holds_every_table_and_figure_it_lists(demo: Study, tmp_path: Path) -> None:
    path = tmp_path / "pack.zip"
    export("--study", "demo", "--pack", "-o", str(path))

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        readme = archive.read("README.md").decode()
    assert "demo_tables.xlsx" in names
    listed = {name for name in re.findall(r"`([^`]+)`", readme) if "." in name}
    assert listed, readme
    assert listed <= names
    assert any(name.startswith("figures/") and name.endswith(".png") for name in names)
    assert any(name.startswith("tables/") and name.endswith(".csv") for name in names)
    assert "Checksum of the coded data" in readme


def test_formula_like_code_names_are_neutralised_in_the_pack(demo: Study) -> None:
    # A path starts with its top-level code's name.
    Code.objects.filter(study=demo, name="Concept").update(name="=HYPERLINK(1)")
    with zipfile.ZipFile(io.BytesIO(build_pack(demo))) as archive:
        csvs = [
            archive.read(n).decode("utf-8-sig") for n in archive.namelist() if n.endswith(".csv")
        ]
    text = "\n".join(csvs)
    assert "'=HYPERLINK(1)/negotiability" in text
    assert ",=HYPERLINK" not in text
    assert "\n=HYPERLINK" not in text


def _coded_study(slug: str, copies: int, people: dict[str, User]) -> Study:
    study = Study.objects.create(slug=slug, name=slug)
    study.memberships.create(user=people["bob"], role="coder")
    study.memberships.create(user=people["alice"], role="owner")
    from studies.services import import_roster
    from tests.conftest import ROSTER

    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    codes = [Code.objects.create(study=study, parent=concept, name=f"c{i}") for i in range(3)]
    fi = study.workshops.get(code="FI-1")
    for n in range(copies):
        [outcome] = import_transcripts(
            study=study, workshop=fi, files=[(f"doc-{n}.txt", FI_TXT.encode())]
        )
        for sentence in outcome.document.sentences.all():
            for coder in (people["bob"], people["alice"]):
                Coding.objects.create(
                    document=outcome.document,
                    code=codes[sentence.seq % 3],
                    coder=coder,
                    start=sentence.start,
                    end=sentence.end,
                )
    return study


def test_the_pack_costs_the_same_queries_for_a_ten_times_larger_study(people) -> None:
    counts = []
    for slug, copies in (("small", 1), ("large", 10)):
        study = _coded_study(slug, copies, people)
        with CaptureQueriesContext(connection) as queries:
            build_pack(study)
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_api_gives_tables_as_json_and_files(demo: Study) -> None:
    victor = client_for(User.objects.get(username="victor"))
    response = victor.get("/api/v1/studies/demo/exports/crosstab/", {"by": "country"})
    assert response.status_code == 200
    body = response.json()
    assert body["table"] == "crosstab"
    assert {"code_path", "group", "measure", "value"} <= set(body["columns"])
    xlsx = victor.get("/api/v1/studies/demo/exports/crosstab.xlsx", {"by": "country"})
    assert xlsx.status_code == 200
    assert xlsx["Content-Disposition"].startswith("attachment; filename=")
    assert xlsx.content.startswith(b"PK")
    bad = victor.get("/api/v1/studies/demo/exports/crosstab/", {"by": "variable:shoe size"})
    assert bad.status_code == 400
    assert "shoe size" in bad.json()["detail"]
    mallory = client_for(User.objects.get(username="mallory"))
    assert mallory.get("/api/v1/studies/demo/exports/crosstab/").status_code == 404


def test_blind_coding_limits_a_coders_exports_to_their_own_codings(demo: Study) -> None:
    Study.objects.filter(pk=demo.pk).update(blind_coding=True)
    bob = client_for(User.objects.get(username="bob"))
    assert bob.get("/api/v1/studies/demo/exports/frequencies/", {"layer": "all"}).status_code == 403
    assert (
        bob.get("/api/v1/studies/demo/exports/frequencies/", {"layer": "chloe"}).status_code == 403
    )
    own = bob.get("/api/v1/studies/demo/exports/frequencies/")
    assert own.status_code == 200
    assert own.json()["meta"]["layer"] == "bob"
