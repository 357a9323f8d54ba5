"""Every number opens its evidence: each cell of a table lists the items behind it, and the
number in the cell equals the number of items listed (for words: the sum of their words).

The demo is loaded once per test that needs it, so the checks over every table, grouping and
measure run inside one test. The demo's people: Alice owns the study, Bob and Chloe code in it,
Victor views it; Mallory is a user of the site who is not a member.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

from exports.cells import build_cell, cell_params
from exports.frame import survey_columns, surveys_data
from exports.renderers import frame_rows, wide_frame
from exports.tables import MEASURES, build_table, dimension_names, table_sources
from studies.models import Study
from tests.helpers import client_for


def groupings(study: Study) -> list[str | None]:
    """Every kind of grouping the demo has: none, places, each variable, a dimension and a
    survey answer."""
    found: list[str | None] = [None, "country", "workshop", "document"]
    found += [f"variable:{n}" for n in study.variables.values_list("name", flat=True)]
    found += [f"dimension:{n}" for n in dimension_names(study)[1:2]]
    columns = [c for s in surveys_data(study).values() for c in survey_columns(s)]
    assert columns, "the demo has survey answers to group by"
    found.append(columns[0])
    return found


def agrees(cell: object, value: float) -> None:
    """The cell's value, its items and the table's number are one."""
    where = f"{cell.table} {cell.row} x {cell.group} ({cell.measure})"
    assert math.isclose(cell.value, value, abs_tol=1e-9), where
    if cell.measure == "words":
        assert cell.words == value, where
    elif cell.measure in ("participant_share",):
        assert cell.denominator is not None, where
        assert math.isclose(cell.count / cell.denominator if cell.denominator else 0, value), where
    elif cell.measure != "jaccard":
        assert cell.count == len(cell.items) == value, where
    if cell.table in ("frequencies", "crosstab"):
        # Every participant and document listed shows the excerpts it is counted for.
        assert all(item.excerpts for item in cell.items), where


def check_table(study: Study, name: str, sources: object, **options: object) -> int:
    """Open every cell of the table as the page links it, and compare; the number of cells."""
    table = build_table(study, name, sources=sources, **options)
    wide = wide_frame(table)
    raw = [str(c) for c in table.wide.columns]
    checked = 0
    for row in frame_rows(wide):
        for column, value in zip(raw, row, strict=True):
            params = cell_params(table, row, column)
            if params is None:
                continue
            cell = build_cell(
                study,
                name,
                by=options.get("by"),
                rollup=bool(options.get("rollup")),
                sources=sources,
                **params,
            )
            agrees(cell, float(value))
            checked += 1
    assert checked, f"{name} {options}: no cell links"
    return checked


def test_every_cell_of_every_table_lists_as_many_items_as_its_number(demo: Study) -> None:
    sources = table_sources(demo, layer="all")
    checked = 0
    for rollup in (False, True):
        checked += check_table(demo, "frequencies", sources, rollup=rollup)
    for by in groupings(demo):
        for measure in MEASURES:
            checked += check_table(demo, "crosstab", sources, by=by, measure=measure)
    checked += check_table(demo, "crosstab", sources, by="country", rollup=True)
    for measure in ("segments", "jaccard"):
        checked += check_table(demo, "cooccurrence", sources, measure=measure)
    checked += check_table(demo, "demographics", sources)
    assert checked > 500


def test_a_cell_lists_its_excerpts_with_who_said_them_and_where(demo: Study) -> None:
    table = build_table(demo, "crosstab", by="country", measure="participants", layer="all")
    wide = table.wide
    row = wide[(wide["code_path"] != "Total") & (wide["FI"] > 0)]["code_path"].iloc[0]
    cell = build_cell(
        demo, "crosstab", row=row, group="FI", by="country", measure="participants", layer="all"
    )
    participant = cell.items[0]
    assert participant.kind == "participant" and participant.country == "FI"
    excerpt = participant.excerpts[0]
    assert participant.label in excerpt.participants
    assert excerpt.speakers, "the speakers' labels as the transcript writes them"
    assert all(participant.label in e.participants for e in participant.excerpts)
    text = demo.documents.get(pk=excerpt.document_id).text
    assert excerpt.text == text[excerpt.start : excerpt.end]
    assert excerpt.country == "FI" and excerpt.workshop.startswith("FI")
    assert excerpt.coding_url.startswith(
        reverse("coding:workbench", args=["demo", excerpt.document_id])
    )
    assert f"#turn-{excerpt.turn}" in excerpt.coding_url


def url(**query: str) -> str:
    from django.utils.http import urlencode

    return reverse("exports:cell", args=["demo"]) + "?" + urlencode(query)


def api(name: str, **query: str) -> str:
    from django.utils.http import urlencode

    return f"/api/v1/studies/demo/exports/{name}/cell/?" + urlencode(query)


def test_who_may_open_a_cell_and_what_a_bad_one_says(demo: Study) -> None:
    alice, bob, mallory = (User.objects.get(username=n) for n in ("alice", "bob", "mallory"))
    query = {"table": "crosstab", "by": "country", "measure": "segments", "layer": "all"}
    assert client_for(mallory).get(url(**query)).status_code == 404
    assert client_for(mallory).get(api("crosstab", **query)).status_code == 404
    assert client_for(None).get(url(**query)).status_code == 302

    # On the Exports page each number of the table links to its cell.
    preview = client_for(alice).get(reverse("exports:page", args=["demo"]), query)
    links = re.findall(r'<td class="num"><a href="([^"]+)">', preview.content.decode())
    assert links and all(html.unescape(link).startswith(url()) for link in links)
    opened = client_for(alice).get(html.unescape(links[0]))
    assert opened.status_code == 200 and "Back to the table" in opened.content.decode()

    page = client_for(alice).get(url(**query, row="Total", group="Total"))
    assert page.status_code == 200
    total = build_table(demo, "crosstab", by="country", layer="all").wide.iloc[-1]["Total"]
    assert f"{total:,} coded segments" in page.content.decode()
    # A long list pages: the first hundred excerpts, then the next page.
    assert total > 100
    assert page.content.decode().count("Open in the coding view") == 100
    assert "Page 1 of" in page.content.decode()

    bad_row = client_for(alice).get(url(**query, row="No/such code", group="FI"))
    assert bad_row.status_code == 400
    assert "Unknown row 'No/such code'" in html.unescape(bad_row.content.decode())
    bad_group = client_for(alice).get(url(**query, row="Total", group="XX"))
    assert bad_group.status_code == 400
    assert "Unknown group 'XX'" in html.unescape(bad_group.content.decode())
    assert "FI" in bad_group.content.decode()
    bad_api = client_for(alice).get(api("crosstab", **query, row="Total", group="XX"))
    assert bad_api.status_code == 400
    assert "Unknown group 'XX'" in json.dumps(bad_api.json())
    no_cells = client_for(alice).get(api("codebook", row="Total", group="Total"))
    assert no_cells.status_code == 400

    data = client_for(alice).get(api("crosstab", **query, row="Total", group="FI")).json()
    assert data["count"] == len(data["items"]) == data["value"]
    assert {item["country"] for item in data["items"]} == {"FI"}

    # Blind coding: a coder sees their own codings only, and no one else's layer.
    demo.blind_coding = True
    demo.save(update_fields=["blind_coding"])
    own = client_for(bob).get(api("crosstab", by="country", row="Total", group="Total")).json()
    assert own["layer"] == "bob"
    mine = build_table(demo, "crosstab", by="country", layer="bob").wide.iloc[-1]["Total"]
    assert own["count"] == len(own["items"]) == mine
    coders = {
        c.coder.get_username()
        for c in demo.documents.first()
        .codings.model.objects.filter(
            pk__in=[int(item["excerpts"][0]["unit"]) for item in own["items"]]
        )
        .select_related("coder")
    }
    assert coders == {"bob"}
    refused = client_for(bob).get(url(**query, row="Total", group="Total"))
    assert refused.status_code == 403
    assert client_for(bob).get(api("crosstab", **query, row="Total")).status_code == 403


def test_the_command_prints_and_writes_a_cell(demo: Study, tmp_path: object) -> None:
    out = io.StringIO()
    call_command(
        "export",
        "--study=demo",
        "--table=crosstab",
        "--by=country",
        "--layer=all",
        "--cell",
        "Total",
        "FI",
        stdout=out,
    )
    table = build_table(demo, "crosstab", by="country", layer="all")
    fi = int(table.wide.iloc[-1]["FI"])
    assert f"{fi:,} coded segments" in out.getvalue()
    target = tmp_path / "cell.json"
    call_command(
        "export",
        "--study=demo",
        "--table=crosstab",
        "--by=country",
        "--layer=all",
        "--cell",
        "Total",
        "FI",
        "--format=json",
        f"-o={target}",
        stdout=io.StringIO(),
    )
    data = json.loads(target.read_text())
    assert data["count"] == len(data["items"]) == fi
    csv_target = tmp_path / "cell.csv"
    call_command(
        "export",
        "--study=demo",
        "--table=crosstab",
        "--by=country",
        "--layer=all",
        "--cell",
        "Total",
        "FI",
        "--format=csv",
        f"-o={csv_target}",
        stdout=io.StringIO(),
    )
    rows = list(csv.DictReader(io.StringIO(csv_target.read_text(encoding="utf-8-sig"))))
    assert len(rows) == fi and {row["country"] for row in rows} == {"FI"}
    with pytest.raises(CommandError, match="Unknown group 'XX'"):
        call_command(
            "export", "--study=demo", "--table=crosstab", "--cell", "Total", "XX", stdout=out
        )
