"""What every export shares: a table as a tidy frame plus what is needed to show, render and
trace it. Tables are built by the exporters of `exports.tables` (its `EXPORTERS` registry says
which tables there are and what each reads), rendered to files, figures included, by
`exports.renderers.render`; the export page, `manage.py export`, the API and the paper pack only
combine them.

`TableExporter` (what one table is) lives here rather than in `exports.tables`, so that the
survey tables (`exports.survey_tables`) and the code tables are written against the same base and
registered in the one registry, `exports.tables.EXPORTERS`.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import PermissionDenied

from .robustness import HEADERS as ROBUSTNESS_HEADERS

if TYPE_CHECKING:
    import pandas as pd

    from exports.tables import Sources
    from studies.models import Study

GROUPS_HELP = (
    "country, workshop, document, variable:NAME, dimension:CODE_NAME or "
    "survey:SURVEY_SLUG/QUESTION_CODE (a matrix row: survey:SURVEY_SLUG/QUESTION_CODE/ROW)"
)
MEASURES = ("segments", "participants", "participant_share", "documents", "words")
FORMATS = ("xlsx", "csv", "tex", "docx", "md", "json", "html", "png", "svg", "pdf", "sav", "dta")
FIGURE_FORMATS = ("png", "svg", "pdf")
# SPSS and Stata files: one row per respondent or participant, with variable and value labels;
# only tables that carry `ExportTable.labelled` can be written in them.
LABELLED_FORMATS = ("sav", "dta")

# How a person reads a column of the wide form, where its name is for machines: the tidy .csv
# and .json keep `code_path`, the reading forms (page, .xlsx, .tex, .md) say "Code".
READING_HEADERS = {"code_path": "Code", **ROBUSTNESS_HEADERS}


class RegistryNames(Sequence[str]):
    """Names from the tables' registry (`exports.tables.TABLES` or `ALL_MEASURES`), read the
    first time they are used. The API's schema lists them when its module is imported, and
    importing the registry loads pandas, which the URLconf and every command would then pay."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    @cached_property
    def names(self) -> tuple[str, ...]:
        from exports import tables

        return tuple(getattr(tables, self.attribute))

    def __getitem__(self, index: Any) -> Any:
        return self.names[index]

    def __len__(self) -> int:
        return len(self.names)


TABLE_NAMES = RegistryNames("TABLES")
MEASURE_NAMES = RegistryNames("ALL_MEASURES")


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
    `figure_kinds` are the figures the table can be drawn as, when it is more than its one
    `figure` (a survey's results: Likert bars, matrix heatmaps, mean ranks); [] when there is
    nothing to draw, None for the usual one figure.
    `labelled` is the table as SPSS and Stata read it (see LabelledData), for the tables with one
    row per respondent or participant; None for the others, which cannot be .sav or .dta.
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
    labelled: LabelledData | None = None
    figure_kinds: list[str] | None = None

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
        for key in ("survey", "by", "measure"):
            if self.meta.get(key):
                parts.append(str(self.meta[key]).replace(":", "-"))
        return "_".join(p.replace("/", "-").replace(" ", "-") for p in parts) + f".{fmt}"


@dataclass
class LabelledData:
    """A table as a statistics package reads it (.sav, .dta): `frame` has one column per
    variable, named as Stata and SPSS allow (see `variable_name`), holding numbers, dates,
    datetimes or strings; `variable_labels` say what each column is (the question's label) and
    `value_labels` what each number of a coded column means ({1: "Strongly disagree", ...})."""

    frame: pd.DataFrame
    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[int, str]] = field(default_factory=dict)


# Names neither Stata nor SPSS accepts for a variable (Stata's reserved words, SPSS's keywords),
# compared without case.
RESERVED_NAMES = frozenset(
    {
        *("_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long"),
        *("_n", "_pi", "_pred", "_rc", "_skip", "str", "strl", "using", "with"),
        *("all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to"),
    }
)
NAME_LENGTH = 32  # Stata's limit; SPSS allows 64


def variable_name(raw: str, taken: set[str]) -> str:
    """A variable name Stata and SPSS both accept, made from `raw` (a question code, a matrix
    row's `code_row`...): ASCII letters, digits and _ only, starting with a letter, at most 32
    characters, no reserved word, and unlike every name in `taken` regardless of case (SPSS
    compares without case). Adds the name to `taken`."""
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_text).strip("_") or "v"
    if not name[0].isalpha():
        name = "v" + name
    name = name[:NAME_LENGTH]
    if name.casefold() in RESERVED_NAMES:
        name = name + "_"
    folded = {t.casefold() for t in taken}
    candidate, n = name, 1
    while candidate.casefold() in folded:
        n += 1
        suffix = f"_{n}"
        candidate = name[: NAME_LENGTH - len(suffix)] + suffix
    taken.add(candidate)
    return candidate


class ExportError(ValueError):
    """A request for a table that cannot be made (unknown group, variable, measure, layer...),
    with a message naming what is wrong."""


class ExportRefused(ExportError, PermissionDenied):
    """A table the person may not export: a refusal of access (403 from pages and the API),
    and an ExportError to code that builds tables (the pack lists it as not included)."""


def colloquy_version() -> str:
    """The installed package's version, else pyproject.toml's, else "dev"."""
    try:
        return metadata.version("colloquy")
    except metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "dev"


# --- What a table is: one exporter class each ----------------------------------------------

# The options a table may read, in the order the export page lists them.
OPTIONS = ("survey", "by", "measure", "layer", "rollup", "top")
TOP_DEFAULT = 3


@dataclass(frozen=True)
class PackVariant:
    """One version of a table in the paper pack: the options it is made with, and whether its
    figure goes in too."""

    by: str | None = None
    measure: str = "segments"
    figure: bool = False
    survey: str | None = None


class TableExporter(ABC):
    """One table of a study, in the manner of pretix's exporters: everything the export page,
    the API, `manage.py export` and the paper pack know about a table is said here, once.

    - `identifier`: its name in URLs, query strings and `--table`; `verbose_name`: its label
      on the export page.
    - `fields`: the options it reads besides the layer (some of survey, by, measure, rollup,
      top); `measures`: those it accepts when it reads a measure; `default_by`: its grouping
      when none is given.
    - `reads_codings`: it counts the codings of one layer, so it reads `layer` and its meta
      names the layer and the checksum of the coded data.
    - `figure`: the kind of figure drawn for it unless another is asked for; None when it has
      no figure.
    - `one_measure`: it shows the one measure asked for (and its files are named after it);
      False for a table with a column per measure.
    - `individual`: it shows individual survey responses, which only those who may see them
      export (`exports.tables.sees_responses`); others get ExportRefused.
    - `pack_formats`: the files the paper pack holds of it (its figure besides).

    `build(sources, **options)` makes the table with its meta; a table implements `make`.
    Options it does not read are ignored, so every caller passes the same ones.
    """

    identifier: ClassVar[str]
    verbose_name: ClassVar[str]
    fields: ClassVar[tuple[str, ...]] = ()
    measures: ClassVar[tuple[str, ...]] = ()
    default_by: ClassVar[str | None] = None
    reads_codings: ClassVar[bool] = True
    figure: ClassVar[str | None] = None
    one_measure: ClassVar[bool] = True
    individual: ClassVar[bool] = False
    pack_formats: ClassVar[tuple[str, ...]] = ("csv", "tex", "md")

    @property
    def options(self) -> tuple[str, ...]:
        """Every option the table reads, in the order of OPTIONS."""
        read = {*self.fields, *(("layer",) if self.reads_codings else ())}
        return tuple(option for option in OPTIONS if option in read)

    def reads(self, option: str) -> bool:
        return option in self.options

    @property
    def has_figure(self) -> bool:
        return self.figure is not None

    def check(self, *, measure: str = "segments", top: int = TOP_DEFAULT) -> None:
        """ExportError naming an option value the table cannot use, before any data is read."""
        if self.reads("measure") and measure not in self.measures:
            raise ExportError(f"Unknown measure '{measure}': use {', '.join(self.measures)}.")
        if self.reads("top") and top < 1:
            raise ExportError("top must be at least 1.")

    def build(
        self,
        sources: Sources,
        *,
        by: str | None = None,
        measure: str = "segments",
        rollup: bool = False,
        top: int = TOP_DEFAULT,
        survey: str | None = None,
    ) -> ExportTable:
        """The table of `sources` (one study and layer) with its meta."""
        self.check(measure=measure, top=top)
        if self.individual:
            sources.require_responses(self.verbose_name)
        by = (by or self.default_by) if self.reads("by") else None
        measure = measure if self.reads("measure") else "segments"
        rollup = rollup and self.reads("rollup")
        survey = survey if self.reads("survey") else None
        table = self.make(sources, by=by, measure=measure, rollup=rollup, top=top, survey=survey)
        table.figure = table.figure or self.figure
        table.meta = {
            "study": sources.study.slug,
            "table": self.identifier,
            "title": table.title,
            **({"survey": survey} if survey else {}),
            "by": by,
            "measure": measure if self.reads("measure") and self.one_measure else None,
            "layer": sources.layer if self.reads_codings else None,
            "rollup": rollup,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "version": colloquy_version(),
            "checksum": sources.checksum if self.reads_codings else None,
        }
        return table

    @abstractmethod
    def make(
        self,
        sources: Sources,
        *,
        by: str | None,
        measure: str,
        rollup: bool,
        top: int,
        survey: str | None,
    ) -> ExportTable:
        """The table itself (its name, title, tidy and wide forms, notes)."""

    def pack_variants(self, study: Study) -> Iterator[PackVariant]:
        """The versions of the table in the paper pack: by default one, with its figure."""
        yield PackVariant(figure=self.has_figure)
