"""What every export shares: a table as a tidy frame plus what is needed to show, render and
trace it. Tables are built by the exporters of `exports.tables` (its `EXPORTERS` registry says
which tables there are and what each reads), rendered to files, figures included, by
`exports.renderers.render`; the export page, `manage.py export`, the API and the paper pack only
combine them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

GROUPS_HELP = "country, workshop, document, variable:NAME or dimension:CODE_NAME"
MEASURES = ("segments", "participants", "participant_share", "documents", "words")
FORMATS = ("xlsx", "csv", "tex", "md", "json", "html", "png", "svg", "pdf")
FIGURE_FORMATS = ("png", "svg", "pdf")

# How a person reads a column of the wide form, where its name is for machines: the tidy .csv
# and .json keep `code_path`, the reading forms (page, .xlsx, .tex, .md) say "Code".
READING_HEADERS = {"code_path": "Code"}


def group_header(group: str, size: int) -> str:
    """A group as the share's table and figure show it, with the number of participants it
    has in the roster: "FI (n=12)", so that 33% of 3 people reads differently from 33% of 24."""
    return f"{group} (n={size:,})"


@dataclass
class ExportTable:
    """One table of a study.

    `tidy` is the long form written to .csv/.json: for code tables one row per (code, group)
    with zeros included and at least the columns code_path, group, measure, value (values
    unrounded; participant_share a fraction 0..1). Tables that are not code-by-group (quotes,
    codebook, participants, ...) have their own columns.
    `wide` is the form a person reads (rows x columns, totals included where they make sense),
    used for .xlsx, .tex, .md, the HTML preview and figures.
    `meta` describes it for the "About" sheet and the pack's README: study, layer, by, measure,
    filters, generated_at (ISO), colloquy version, checksum of the coded data.
    `notes` are sentences to print under the table (e.g. the chi-square result or its warning).
    `percent_columns` names wide columns holding fractions to format as percentages.
    `headers` maps wide columns to the header a person reads (e.g. a group with its size);
    columns it does not name are shown under READING_HEADERS or their own name.
    `figure` is the kind of figure drawn when none is asked for, set by the table's exporter;
    None leaves the choice to the figure (tables made elsewhere, e.g. in tests).
    """

    name: str
    title: str
    tidy: pd.DataFrame
    wide: pd.DataFrame
    meta: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    percent_columns: list[str] = field(default_factory=list)
    figure: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, column: object) -> str:
        """The header a wide column is shown under."""
        name = str(column)
        return self.headers.get(name) or READING_HEADERS.get(name, name)

    @property
    def percent_headers(self) -> set[str]:
        """The headers of the columns shown as percentages."""
        return {self.header(column) for column in self.percent_columns}

    def filename(self, fmt: str) -> str:
        parts = [self.meta.get("study", "study"), self.name]
        for key in ("by", "measure"):
            if self.meta.get(key):
                parts.append(str(self.meta[key]).replace(":", "-"))
        return "_".join(p.replace("/", "-").replace(" ", "-") for p in parts) + f".{fmt}"


class ExportError(ValueError):
    """A request for a table that cannot be made (unknown group, variable, measure, layer...),
    with a message naming what is wrong."""
