"""Tables to files: one small exporter class per format, in the manner of pretix's exporters.

Each exporter has an `identifier` (the format, also the file's extension), a `verbose_name` for
the export page, a `content_type` and `render(table, **options) -> bytes`. `render(table, fmt)`
looks the format up in `RENDERERS` and names the file; `render_workbook(tables)` writes the paper
pack's workbook. A new format is a new class added to `RENDERERS`, not a new `if` branch.

Which form goes where:
- .csv and .json carry the TIDY form (one observation per row, values unrounded), for analysis;
- .xlsx, .tex, .md and the HTML preview carry the WIDE form, for reading; fractions named in
  `percent_columns` are shown as percentages (in .xlsx only the number format changes: the cell
  keeps the unrounded fraction).

Participants' words end up in spreadsheets, so user text never becomes a formula: in .csv a cell
that starts with = + - @ tab or CR gets a leading ' (and defusedcsv handles | and %); in .xlsx
every text cell is stored as a string cell. The cells and writers that apply these rules
(`write_csv`, `write_sheet`, `put_cell`) live in `studies.sheets`, shared with the codebook's
files (`coding.services.csv_bytes`, `xlsx_bytes`).

.sav (SPSS) and .dta (Stata) are written with pyreadstat from the table's `labelled` form (one
row per respondent or participant, with variable and value labels); a table without one (a
crosstab, quotes...) is refused with a message saying which tables can be.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from exports.base import ExportError, ExportTable, LabelledData
from exports.robustness import RULE as ONE_WORKSHOP_RULE
from exports.robustness import has_flag
from studies.sheets import display, is_number, native, put_cell, sheet_title, write_csv, write_sheet

# --- Cells ------------------------------------------------------------------------------------


def column_label(column: object) -> str:
    """A wide column's header: the levels of a multi-level column joined by " / "."""
    if isinstance(column, tuple):
        return " / ".join(str(level) for level in column if str(level) != "")
    return str(column)


def wide_frame(table: ExportTable) -> pd.DataFrame:
    """The wide form as a person reads it, with a plain index and string headers: a named
    index (e.g. the code paths) becomes the first column(s), because every format shows it as
    one, and each column is shown under the table's header for it ("Code", "FI (n=12)")."""
    wide = table.wide
    if not isinstance(wide.index, pd.RangeIndex) or any(n is not None for n in wide.index.names):
        wide = wide.reset_index()
    wide = wide.copy()
    wide.columns = [table.header(column_label(c)) for c in wide.columns]
    return wide


def frame_rows(frame: pd.DataFrame) -> list[list[object]]:
    return [[native(v) for v in row] for row in frame.itertuples(index=False, name=None)]


def numeric_columns(frame: pd.DataFrame) -> list[bool]:
    """Whether each column holds numbers (right-aligned): every present value is a number."""
    flags = []
    for _name, series in frame.items():
        present = [native(v) for v in series if native(v) is not None]
        flags.append(bool(present) and all(is_number(v) for v in present))
    return flags


def meta_text(value: object) -> str:
    """A meta value on one line: filters as "key: value; ...", lists joined by commas."""
    if isinstance(value, dict):
        return "; ".join(f"{k}: {meta_text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple | set):
        return ", ".join(meta_text(v) for v in value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


# Known meta keys in the order the About sheet lists them; others follow as they come.
META_LABELS = {
    "study": "Study",
    "study_name": "Study name",
    "layer": "Coding layer",
    "by": "Grouped by",
    "measure": "Measure",
    "filters": "Filters",
    "generated_at": "Generated",
    "version": "Colloquy version",
    "colloquy_version": "Colloquy version",
    "checksum": "Checksum of the coded data",
}


def about_rows(table: ExportTable) -> list[tuple[str, str]]:
    rows = [("Table", table.name), ("Title", table.title)]
    known = [key for key in META_LABELS if key in table.meta]
    others = [key for key in table.meta if key not in META_LABELS]
    for key in known + others:
        label = META_LABELS.get(key) or key.replace("_", " ").capitalize()
        rows.append((label, meta_text(table.meta[key])))
    rows += [("Note", note) for note in table.notes]
    if has_flag(table):  # the rule behind the rests_on_one_workshop column, in full
        rows.append(("Rests on one workshop", ONE_WORKSHOP_RULE))
    return rows


# --- Workbooks ------------------------------------------------------------------------------

SHORT_MEASURES = {"participant_share": "share", "participants": "people"}


def sheet_base(table: ExportTable) -> str:
    """A short name for a table's sheet: a pack holds several crosstabs, told apart by what
    they are grouped by and measure ("crosstab country share"); the About sheet has titles."""
    by = str(table.meta.get("by") or "").split(":")[-1]
    measure = str(table.meta.get("measure") or "")
    return " ".join(part for part in (table.name, by, SHORT_MEASURES.get(measure, measure)) if part)


def write_table_sheet(sheet: Any, table: ExportTable) -> None:
    wide = wide_frame(table)
    write_sheet(
        sheet,
        list(wide.columns),
        frame_rows(wide),
        # Under the header and right of the first column: the code names stay in view.
        freeze="B2" if len(wide.columns) > 1 else "A2",
        autofilter=True,
        percent_columns=sorted(table.percent_headers),
        notes=table.notes,
    )


def write_about_sheet(
    sheet: Any, tables: Sequence[ExportTable], sheet_names: Sequence[str]
) -> None:
    """What the workbook holds and how it was made: for each table its sheet, the study, the
    filters, the layer, when and by which Colloquy version, and the checksum of the coded data."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    put_cell(sheet, 1, 1, "Made with Colloquy").font = Font(bold=True, size=12)
    row = 3
    widths = [10, 10]
    for table, name in zip(tables, sheet_names, strict=True):
        put_cell(sheet, row, 1, "Sheet").font = bold
        put_cell(sheet, row, 2, name).font = bold
        row += 1
        for label, value in about_rows(table):
            put_cell(sheet, row, 1, label)
            put_cell(sheet, row, 2, value)
            widths = [max(widths[0], len(label)), max(widths[1], min(len(value), 80))]
            row += 1
        row += 1
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width + 2


def workbook_bytes(tables: Sequence[ExportTable]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    taken: set[str] = {"about"}  # the About sheet's name is reserved
    names = []
    for index, table in enumerate(tables):
        sheet = workbook.active if index == 0 else workbook.create_sheet()
        sheet.title = sheet_title(sheet_base(table), taken)
        names.append(sheet.title)
        write_table_sheet(sheet, table)
    about = workbook.create_sheet("About") if tables else workbook.active
    about.title = "About"
    write_about_sheet(about, tables, names)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- Text formats ---------------------------------------------------------------------------

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_TEX_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _TEX_SPECIALS))


def tex_escape(text: str) -> str:
    # One pass, so the braces of "\textbackslash{}" are not escaped again.
    text = " ".join(text.split())  # a line break inside a cell would end the row's line
    return _TEX_SPECIAL_RE.sub(lambda m: _TEX_SPECIALS[m.group()], text)


def markdown_escape(text: str) -> str:
    # A pipe would end the cell; a backslash before it must not swallow our escape.
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", r"\|")


def is_total_row(row: Sequence[object]) -> bool:
    return bool(row) and str(row[0]).strip().casefold() in {"total", "all", "totals"}


# --- The exporters --------------------------------------------------------------------------


class Renderer(ABC):
    """One output format: every exporter renders a table to the bytes of one file."""

    identifier: ClassVar[str]
    verbose_name: ClassVar[str]
    content_type: ClassVar[str]
    extension: ClassVar[str]

    @abstractmethod
    def render(self, table: ExportTable, **options: Any) -> bytes: ...


class XlsxRenderer(Renderer):
    identifier = "xlsx"
    verbose_name = "Excel workbook (.xlsx)"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    extension = "xlsx"

    def render(self, table: ExportTable, **options: Any) -> bytes:
        return workbook_bytes([table])


class CsvRenderer(Renderer):
    identifier = "csv"
    verbose_name = "CSV, tidy (.csv)"
    content_type = "text/csv; charset=utf-8"
    extension = "csv"

    def render(self, table: ExportTable, *, bom: bool = False, **options: Any) -> bytes:
        return write_csv(list(table.tidy.columns), frame_rows(table.tidy), bom=bom)


class TexRenderer(Renderer):
    """A booktabs table (needs \\usepackage{booktabs} in the preamble)."""

    identifier = "tex"
    verbose_name = "LaTeX table (.tex)"
    content_type = "application/x-tex; charset=utf-8"
    extension = "tex"

    def render(self, table: ExportTable, **options: Any) -> bytes:
        wide = wide_frame(table)
        numeric = numeric_columns(wide)
        percent = table.percent_headers
        spec = "".join("r" if flag else "l" for flag in numeric)
        label = re.sub(r"[^A-Za-z0-9:-]+", "-", f"tab:{table.name}-{table.meta.get('by', '')}")
        lines = [
            r"\begin{table}[htbp]",
            r"\centering",
            rf"\caption{{{tex_escape(table.title)}}}",
            rf"\label{{{label.strip('-')}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(tex_escape(c) for c in wide.columns) + r" \\",
            r"\midrule",
        ]
        for row in frame_rows(wide):
            if is_total_row(row):
                lines.append(r"\midrule")
            cells = [
                tex_escape(display(v, percent=name in percent and is_number(v)))
                for name, v in zip(wide.columns, row, strict=True)
            ]
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        if table.notes:
            lines.append(
                r"\par\smallskip{\footnotesize\textit{Note.} "
                + " ".join(tex_escape(n) for n in table.notes)
                + "}"
            )
        lines.append(r"\end{table}")
        return ("\n".join(lines) + "\n").encode("utf-8")


class MarkdownRenderer(Renderer):
    identifier = "md"
    verbose_name = "Markdown table (.md)"
    content_type = "text/markdown; charset=utf-8"
    extension = "md"

    def render(self, table: ExportTable, **options: Any) -> bytes:
        wide = wide_frame(table)
        percent = table.percent_headers
        rule = ["---:" if flag else ":---" for flag in numeric_columns(wide)]
        lines = [
            f"**{markdown_escape(table.title)}**",
            "",
            "| " + " | ".join(markdown_escape(c) for c in wide.columns) + " |",
            "| " + " | ".join(rule) + " |",
        ]
        for row in frame_rows(wide):
            cells = [
                markdown_escape(display(v, percent=name in percent and is_number(v)))
                for name, v in zip(wide.columns, row, strict=True)
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if table.notes:
            lines += ["", *(f"*Note.* {markdown_escape(n)}" for n in table.notes)]
        return ("\n".join(lines) + "\n").encode("utf-8")


class DocxRenderer(Renderer):
    """A Word table for a paper's appendix: the title, the wide form as a table on a landscape
    page (its header row repeated on every page), and the notes under it."""

    identifier = "docx"
    verbose_name = "Word table (.docx)"
    content_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    extension = "docx"

    def render(self, table: ExportTable, **options: Any) -> bytes:
        from docx import Document
        from docx.enum.section import WD_ORIENT
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Cm, Pt

        document = Document()
        section = document.sections[0]
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Cm(29.7), Cm(21.0)
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Cm(1.5))
        document.styles["Normal"].font.size = Pt(9)
        document.add_heading(table.title, level=2)
        wide = wide_frame(table)
        percent = table.percent_headers
        grid = document.add_table(rows=1, cols=len(wide.columns))
        grid.style = "Table Grid"
        header = grid.rows[0]
        repeat = OxmlElement("w:tblHeader")
        repeat.set(qn("w:val"), "true")
        header._tr.get_or_add_trPr().append(repeat)
        for cell, name in zip(header.cells, wide.columns, strict=True):
            cell.text = ""
            cell.paragraphs[0].add_run(str(name)).bold = True
        for row in frame_rows(wide):
            cells = grid.add_row().cells
            for cell, name, value in zip(cells, wide.columns, row, strict=True):
                cell.text = docx_text(display(value, percent=name in percent and is_number(value)))
        for note in table.notes:
            document.add_paragraph(docx_text(note)).runs[0].italic = True
        buffer = io.BytesIO()
        document.save(buffer)
        return buffer.getvalue()


def docx_text(text: str) -> str:
    """Text Word accepts: XML forbids most control characters (a line break stays)."""
    return "".join(c for c in text if c in "\n\t" or ord(c) >= 32)


class JsonRenderer(Renderer):
    identifier = "json"
    verbose_name = "JSON, tidy (.json)"
    content_type = "application/json"
    extension = "json"

    def render(self, table: ExportTable, **options: Any) -> bytes:
        document = {
            "table": table.name,
            "title": table.title,
            "meta": table.meta,
            "notes": list(table.notes),
            "columns": [str(c) for c in table.tidy.columns],
            "rows": frame_rows(table.tidy),  # NaN is None here, so null in the file
        }
        # allow_nan=False: a NaN that slipped through would make invalid JSON; fail loudly.
        text = json.dumps(
            document, ensure_ascii=False, indent=1, allow_nan=False, default=meta_text
        )
        return text.encode("utf-8")


class HtmlRenderer(Renderer):
    """The page preview: a fragment, every value escaped, to be included as it is."""

    identifier = "html"
    verbose_name = "HTML table (preview)"
    content_type = "text/html; charset=utf-8"
    extension = "html"

    def render(self, table: ExportTable, *, cell_href: Any = None, **options: Any) -> bytes:
        """`cell_href(row, column)`, when given, is the address of the items behind a number
        (row: the wide form's values, column: its own name) or None: the number becomes a link."""
        wide = wide_frame(table)
        numeric = numeric_columns(wide)
        percent = table.percent_headers
        esc = html.escape
        raw = table.wide
        if not isinstance(raw.index, pd.RangeIndex) or any(n is not None for n in raw.index.names):
            raw = raw.reset_index()
        raw_columns = [column_label(c) for c in raw.columns]
        parts = [f'<table class="data">\n<caption>{esc(table.title)}</caption>\n<thead><tr>']
        for name, flag in zip(wide.columns, numeric, strict=True):
            css = ' class="num"' if flag else ""
            parts.append(f'<th scope="col"{css}>{esc(name)}</th>')
        parts.append("</tr></thead>\n<tbody>\n")
        for row in frame_rows(wide):
            parts.append('<tr class="total">' if is_total_row(row) else "<tr>")
            for index, (name, value) in enumerate(zip(wide.columns, row, strict=True)):
                text = esc(display(value, percent=name in percent and is_number(value)))
                if index == 0 and not numeric[0]:
                    parts.append(f'<th scope="row">{text}</th>')
                elif is_number(value):
                    href = cell_href(row, raw_columns[index]) if cell_href else None
                    if href:
                        text = f'<a href="{esc(href)}">{text}</a>'
                    parts.append(f'<td class="num">{text}</td>')
                else:
                    parts.append(f"<td>{text}</td>")
            parts.append("</tr>\n")
        parts.append("</tbody>\n</table>\n")
        parts += [f'<p class="table-note">{esc(note)}</p>\n' for note in table.notes]
        return "".join(parts).encode("utf-8")


class FigureRenderer(Renderer):
    """A figure format through `exports.figures`, so that `render(table, "png")` works like
    any table format. Options: kind ("heatmap", "bars", "stacked"; by default the table's own)
    and size ("single", "double"); the others are for table formats."""

    def render(
        self, table: ExportTable, *, kind: str | None = None, size: str = "single", **options: Any
    ) -> bytes:
        from exports.figures import render_figure  # matplotlib only when a figure is asked for

        return render_figure(table, self.identifier, kind=kind, size=size)


class PngRenderer(FigureRenderer):
    identifier = "png"
    verbose_name = "Figure, PNG 300 dpi (.png)"
    content_type = "image/png"
    extension = "png"


class SvgRenderer(FigureRenderer):
    identifier = "svg"
    verbose_name = "Figure, SVG (.svg)"
    content_type = "image/svg+xml"
    extension = "svg"


class PdfRenderer(FigureRenderer):
    identifier = "pdf"
    verbose_name = "Figure, PDF (.pdf)"
    content_type = "application/pdf"
    extension = "pdf"


class LabelledRenderer(Renderer):
    """A statistics package's file with variable and value labels, from `table.labelled`."""

    package: ClassVar[str]

    def render(self, table: ExportTable, **options: Any) -> bytes:
        if table.labelled is None:
            raise ExportError(
                f"The {table.name} table cannot be written as .{self.extension}: {self.package} "
                "files hold tables with one row per respondent or participant (survey responses, "
                "participants). Export it as .xlsx or .csv instead."
            )
        frame = labelled_frame(table.labelled)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"table.{self.extension}"
            self.write(frame, table, path)
            return path.read_bytes()

    @abstractmethod
    def write(self, frame: pd.DataFrame, table: ExportTable, path: Path) -> None: ...


def labelled_frame(labelled: LabelledData) -> pd.DataFrame:
    """The columns as pyreadstat writes them: numbers as floats (missing NaN), datetimes as
    datetime64, dates as dates, and text as strings with "" for a missing one (Stata's writer
    cannot store a missing long string)."""
    frame = labelled.frame.copy()
    for name in frame.columns:
        present = [v for v in frame[name] if v is not None and not pd.isna(v)]
        if present and all(isinstance(v, dt.datetime) for v in present):
            frame[name] = pd.to_datetime(frame[name])
        elif present and all(isinstance(v, dt.date) for v in present):
            continue
        elif present and all(isinstance(v, int | float) for v in present):
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        elif not present and name in labelled.value_labels:
            frame[name] = pd.Series(float("nan"), index=frame.index, dtype="float64")
        else:
            texts = [
                "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
                for v in frame[name]
            ]
            frame[name] = pd.Series(texts, index=frame.index, dtype=object)
    return frame


class SavRenderer(LabelledRenderer):
    identifier = "sav"
    verbose_name = "SPSS data file, labelled (.sav)"
    content_type = "application/x-spss-sav"
    extension = "sav"
    package = "SPSS"

    def write(self, frame: pd.DataFrame, table: ExportTable, path: Path) -> None:
        import pyreadstat

        labelled = table.labelled
        pyreadstat.write_sav(
            frame,
            str(path),
            file_label=table.title[:64],
            column_labels=labelled.variable_labels,
            variable_value_labels=labelled.value_labels,
        )


class DtaRenderer(LabelledRenderer):
    identifier = "dta"
    verbose_name = "Stata data file, labelled (.dta)"
    content_type = "application/x-stata-dta"
    extension = "dta"
    package = "Stata"

    def write(self, frame: pd.DataFrame, table: ExportTable, path: Path) -> None:
        import pyreadstat

        labelled = table.labelled
        # Stata keeps at most 80 characters of a variable's or the file's label.
        labels = {name: label[:80] for name, label in labelled.variable_labels.items()}
        pyreadstat.write_dta(
            frame,
            str(path),
            file_label=table.title[:80],
            column_labels=labels,
            variable_value_labels=labelled.value_labels,
        )


RENDERERS: dict[str, Renderer] = {
    renderer.identifier: renderer
    for renderer in (
        XlsxRenderer(),
        CsvRenderer(),
        TexRenderer(),
        MarkdownRenderer(),
        DocxRenderer(),
        JsonRenderer(),
        HtmlRenderer(),
        PngRenderer(),
        SvgRenderer(),
        PdfRenderer(),
        SavRenderer(),
        DtaRenderer(),
    )
}


def render(table: ExportTable, fmt: str, **options: Any) -> tuple[str, str, bytes]:
    """The table as a file: (filename, content type, bytes). Every caller passes the options it
    has (kind, size, bom); each format reads those it knows and ignores the rest."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        raise ExportError(f"Unknown format '{fmt}': use one of {', '.join(RENDERERS)}.")
    return (
        table.filename(renderer.extension),
        renderer.content_type,
        renderer.render(table, **options),
    )


def render_workbook(tables: list[ExportTable]) -> bytes:
    """The paper pack's workbook: one sheet per table (named after the table) and an About sheet."""
    return workbook_bytes(tables)
