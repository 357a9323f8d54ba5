"""Tables and figures as files, from synthetic tables: every format renders, and what a person
or a program gets back is right (formula injection, escaping, percentages, fonts, sizes)."""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
import xml.etree.ElementTree as ET  # our own output, parsed only to check it is well formed

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from PIL import Image

from coding.services import csv_bytes, xlsx_bytes
from exports.base import LABELLED_FORMATS, ExportError, ExportTable, LabelledData
from exports.figures import render_figure, text_colour_on
from exports.renderers import RENDERERS, render, render_workbook

CODES = ["Concept/negotiability", "Concept/explainability", "Concept/accuracy"]
COUNTRIES = ["DE", "FI", "GB", "US"]
NASTY = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "\tx", "\rx"]
META = {
    "study": "adm",
    "by": "country",
    "measure": "participant_share",
    "layer": "consensus",
    "filters": {"workshop": "FI-1"},
    "generated_at": "2025-06-01T12:00:00+00:00",
    "version": "0.1.0",
    "checksum": "sha256:abc123",
}


def crosstab(
    codes: list[str] = CODES, *, groups: list[str] = COUNTRIES, measure: str = "participant_share"
) -> ExportTable:
    """A crosstab as exports.tables makes them: tidy code x country, and its wide pivot with
    totals. Shares are thirds, so that rounding anywhere would show."""
    rows = [
        {"code_path": code, "group": group, "measure": measure, "value": (i + j) / 3}
        for i, code in enumerate(codes)
        for j, group in enumerate(groups)
    ]
    tidy = pd.DataFrame(rows)
    wide = tidy.pivot(index="code_path", columns="group", values="value")
    wide = wide.reindex(index=codes, columns=groups)
    wide.columns.name = None
    wide["Total"] = wide.sum(axis=1)
    wide.loc["Total"] = wide.sum()
    return ExportTable(
        name="crosstab",
        title="Share of participants by country",
        tidy=tidy,
        wide=wide,
        meta={**META, "measure": measure},
        notes=["Chi-square: p = 0.03 (2 cells expect fewer than 5)."],
        percent_columns=groups if measure == "participant_share" else [],
    )


def nasty_table() -> ExportTable:
    """Code and group names a participant could type, each a formula in a spreadsheet."""
    return crosstab(NASTY, groups=["=1+1", *COUNTRIES[1:]])


def read_workbook(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


# --- The registry ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [f for f in RENDERERS if f not in LABELLED_FORMATS])
def test_every_format_renders_with_a_filename_and_type(fmt: str) -> None:
    filename, content_type, content = render(crosstab(), fmt)
    assert filename == f"adm_crosstab_country_participant_share.{fmt}"
    assert content_type == RENDERERS[fmt].content_type
    assert content


@pytest.mark.parametrize("fmt", LABELLED_FORMATS)
def test_spss_and_stata_files_need_a_table_with_one_row_per_person(fmt: str) -> None:
    with pytest.raises(ExportError, match=f"The crosstab table cannot be written as .{fmt}"):
        render(crosstab(), fmt)
    people = ExportTable(
        "participants",
        "Participants",
        pd.DataFrame(),
        pd.DataFrame(),
        meta={"study": "adm"},
        labelled=LabelledData(
            pd.DataFrame({"participant": ["P01", None], "trust": [2.0, None]}),
            {"participant": "Participant code", "trust": "Trust in algorithms"},
            {"trust": {1: "low", 2: "high"}},
        ),
    )
    filename, content_type, content = render(people, fmt)
    assert filename == f"adm_participants.{fmt}"
    assert content_type == RENDERERS[fmt].content_type
    with tempfile.NamedTemporaryFile(suffix=f".{fmt}") as file:
        file.write(content)
        file.flush()
        reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        frame, meta = reader(file.name)
    assert list(frame["participant"]) == ["P01", ""]
    assert frame["trust"][0] == 2.0 and pd.isna(frame["trust"][1])
    assert meta.column_names_to_labels["trust"] == "Trust in algorithms"
    assert meta.variable_value_labels["trust"] == {1.0: "low", 2.0: "high"}


def test_it_refuses_an_unknown_format() -> None:
    with pytest.raises(ExportError, match="Unknown format 'odt'"):
        render(crosstab(), "odt")


# --- xlsx -----------------------------------------------------------------------------------


def test_the_workbook_has_a_formatted_sheet_and_an_about_sheet() -> None:
    _name, _type, content = render(crosstab(), "xlsx")
    workbook = read_workbook(content)
    assert workbook.sheetnames == ["crosstab country share", "About"]
    sheet = workbook["crosstab country share"]
    assert [c.value for c in sheet[1]] == ["Code", *COUNTRIES, "Total"]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "B2"
    assert sheet.auto_filter.ref == "A1:F5"  # header, three codes and the total row
    assert sheet["A5"].value == "Total"
    # FI for explainability is 2/3: shown as 66.7%, stored unrounded.
    assert sheet["C3"].number_format == "0.0%"
    assert sheet["C3"].value == pytest.approx(2 / 3, abs=0, rel=1e-15)
    assert sheet["F2"].number_format == "General"  # the total is not a named fraction column
    assert sheet.column_dimensions["A"].width >= len("Concept/explainability")
    assert sheet["A7"].value.startswith("Chi-square")  # the note, after one blank row

    about = {row[0]: row[1] for row in workbook["About"].iter_rows(values_only=True) if row[0]}
    assert about["Sheet"] == "crosstab country share"
    assert about["Study"] == "adm"
    assert about["Table"] == "crosstab"
    assert about["Title"] == "Share of participants by country"
    assert about["Coding layer"] == "consensus"
    assert about["Filters"] == "workshop: FI-1"
    assert about["Generated"] == "2025-06-01T12:00:00+00:00"
    assert about["Colloquy version"] == "0.1.0"
    assert about["Checksum of the coded data"] == "sha256:abc123"


def test_no_cell_of_the_workbook_is_a_formula() -> None:
    workbook = read_workbook(render(nasty_table(), "xlsx")[2])
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row]
    assert {cell.data_type for cell in cells if cell.value is not None} == {"s", "n"}
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet["A"][1:7]] == NASTY
    assert sheet["B1"].value == "=1+1" and sheet["B1"].data_type == "s"


def test_the_pack_workbook_has_one_uniquely_named_sheet_per_table() -> None:
    long = crosstab()
    long.name = "a table: with [forbidden] *chars?* / \\ and a very long name"
    content = render_workbook([crosstab(), crosstab(measure="segments"), crosstab(), long])
    names = read_workbook(content).sheetnames
    assert names[:3] == [
        "crosstab country share",
        "crosstab country segments",
        "crosstab country share (2)",
    ]
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)
    assert names[-1] == "About" and len(set(names)) == 5


def test_the_codebook_writers_still_work_through_the_shared_helpers() -> None:
    sheet = read_workbook(
        xlsx_bytes(["text", "n"], [["=1", 2], ["plain", None]], title="A:B")
    ).active
    assert (sheet.title, sheet.freeze_panes, sheet["A2"].data_type, sheet["B2"].value) == (
        "A B",
        "A2",
        "s",
        2,
    )
    assert csv_bytes(["text"], [["-1"]]).startswith(b"\xef\xbb\xbf")


# --- csv ------------------------------------------------------------------------------------


def test_csv_is_tidy_unrounded_and_has_a_bom_only_when_asked() -> None:
    table = crosstab()
    plain = render(table, "csv")[2]
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert render(table, "csv", bom=True)[2].startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(plain))
    assert list(back.columns) == ["code_path", "group", "measure", "value"]
    assert len(back) == 12  # one row per (code, group)
    assert back["value"].tolist() == table.tidy["value"].tolist()  # bit for bit


def test_csv_neutralises_every_formula_prefix() -> None:
    rows = read_csv(render(nasty_table(), "csv")[2])
    codes = list(dict.fromkeys(row[0] for row in rows[1:]))
    assert codes == ["'" + name for name in NASTY]
    assert "'=1+1" in {row[1] for row in rows[1:]}
    # Numbers are not text: a value of -1 would stay a number (no quote before it).
    table = crosstab()
    table.tidy["value"] = -1.5
    assert read_csv(render(table, "csv")[2])[1][3] == "-1.5"


# --- tex, md, json, html --------------------------------------------------------------------


def test_tex_is_a_booktabs_table_with_every_special_escaped() -> None:
    table = crosstab(["Concept/R&D 100% $5 #1 a_b {x} ~y ^z \\w"])
    table.title = "Codes & groups_1"
    tex = render(table, "tex")[2].decode()
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert (
        r"Concept/R\&D 100\% \$5 \#1 a\_b \{x\} \textasciitilde{}y \textasciicircum{}z "
        r"\textbackslash{}w" in tex
    )
    assert r"\caption{Codes \& groups\_1}" in tex
    assert r"33.3\%" in tex  # 1/3 as a percentage
    assert r"\textit{Note.} Chi-square" in tex
    assert r"\begin{tabular}{lrrrrr}" in tex


def test_markdown_escapes_pipes_and_lists_notes() -> None:
    md = render(crosstab(["Concept/a|b"]), "md")[2].decode()
    lines = md.splitlines()
    assert lines[2] == "| Code | DE | FI | GB | US | Total |"
    assert lines[3] == "| :--- | ---: | ---: | ---: | ---: | ---: |"
    assert lines[4].startswith(r"| Concept/a\|b | 0.0% | 33.3% |")
    assert md.rstrip().endswith("*Note.* Chi-square: p = 0.03 (2 cells expect fewer than 5).")


def test_json_is_the_tidy_form_with_null_for_missing() -> None:
    table = crosstab()
    table.tidy.loc[0, "value"] = math.nan
    document = json.loads(render(table, "json")[2].decode("utf-8"))
    assert set(document) == {"table", "title", "meta", "notes", "columns", "rows"}
    assert document["columns"] == ["code_path", "group", "measure", "value"]
    assert document["rows"][0] == ["Concept/negotiability", "DE", "participant_share", None]
    assert document["rows"][1][3] == 1 / 3
    assert document["meta"]["checksum"] == "sha256:abc123"


def test_html_escapes_text_and_right_aligns_numbers() -> None:
    page = render(crosstab(["<script>alert(1)</script>"]), "html")[2].decode()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith('<table class="data">')
    assert '<td class="num">33.3%</td>' in page
    assert '<tr class="total"><th scope="row">Total</th>' in page


# --- Figures --------------------------------------------------------------------------------


def test_png_is_300_dpi_and_as_wide_as_a_column_or_the_page() -> None:
    single = Image.open(io.BytesIO(render_figure(crosstab(), "png")))
    double = Image.open(io.BytesIO(render_figure(crosstab(), "png", size="double")))
    assert single.format == "PNG"
    assert single.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    # bbox_inches="tight" trims whitespace, so a little under (or a hair over) 3.5 and 7.2 in.
    assert 3.2 * 300 <= single.width <= 3.6 * 300
    assert 6.9 * 300 <= double.width <= 7.3 * 300


@pytest.mark.parametrize("kind", ["heatmap", "bars", "stacked"])
def test_every_kind_draws_a_png(kind: str) -> None:
    assert render_figure(crosstab(), "png", kind=kind).startswith(b"\x89PNG\r\n\x1a\n")


def test_svg_keeps_the_study_names_as_text() -> None:
    table = crosstab(groups=["Workshop <1> & co", *COUNTRIES[1:]])
    svg = render_figure(table, "svg", kind="bars")
    root = ET.fromstring(svg)  # noqa: S314
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = "".join(root.itertext())
    for name in ("negotiability", "explainability", "accuracy", "Concept", "Workshop <1> & co"):
        assert name in text
    assert "Share of participants by country" in text
    assert "%" in text  # a share is drawn as a percentage


def test_pdf_embeds_its_fonts() -> None:
    pdf = render_figure(crosstab(), "pdf")
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile2" in pdf  # TrueType (pdf.fonttype 42), not Type 3
    assert render_figure(crosstab(), "pdf") == pdf  # no creation date: same data, same bytes


def test_a_cooccurrence_and_a_one_group_table_draw() -> None:
    tidy = pd.DataFrame(
        [
            {"code_path": a, "group": b, "measure": "segments", "value": 3}
            for a in CODES
            for b in CODES
        ]
    )
    table = ExportTable("cooccurrence", "Codes that co-occur", tidy, tidy.copy())
    assert render_figure(table, "png").startswith(b"\x89PNG")
    frequencies = ExportTable(
        "frequencies",
        "Coded segments per code",
        pd.DataFrame(
            {"code_path": CODES, "group": "all", "measure": "segments", "value": [5, 3, 1]}
        ),
        pd.DataFrame({"code_path": CODES, "segments": [5, 3, 1]}),
    )
    assert render(frequencies, "png")[2].startswith(b"\x89PNG")


def test_a_table_without_a_figure_is_refused_clearly() -> None:
    quotes = ExportTable(
        "quotes",
        "Quotes",
        pd.DataFrame({"code_path": ["a"], "quote": ["x"]}),
        pd.DataFrame({"code_path": ["a"], "quote": ["x"]}),
    )
    with pytest.raises(ExportError, match="The quotes table has no figure"):
        render_figure(quotes, "png")
    with pytest.raises(ExportError, match="Unknown figure kind 'pie'"):
        render_figure(crosstab(), "png", kind="pie")
    with pytest.raises(ExportError, match="Unknown figure size"):
        render_figure(crosstab(), "png", size="poster")


def test_heatmap_text_contrasts_with_its_cell() -> None:
    assert text_colour_on("#00204c") == "white"  # the dark end of cividis
    assert text_colour_on("#ffe945") == "black"  # the light end
