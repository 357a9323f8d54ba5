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

    def filename(self, fmt: str) -> str:
        parts = [self.meta.get("study", "study"), self.name]
        for key in ("by", "measure"):
            if self.meta.get(key):
                parts.append(str(self.meta[key]).replace(":", "-"))
        return "_".join(p.replace("/", "-").replace(" ", "-") for p in parts) + f".{fmt}"


class ExportError(ValueError):
    """A request for a table that cannot be made (unknown group, variable, measure, layer...),
    with a message naming what is wrong."""
