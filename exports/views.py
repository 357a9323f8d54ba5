"""The export page: choose a table, see it and its figure at once, and download it in every
format, or the whole paper pack.

The page, its downloads and the API read the query string through one `ExportChoice` (table,
survey, by, measure, layer, rollup, top, figure, size, bom), so a download is exactly the table
on the screen. Which tables there are and which options each reads come from the registry
(`exports.tables.EXPORTERS`). Options that do not apply to the chosen table are ignored, and
the page says so when one was set to something other than its default.

Blind coding: a coder exports only their own codings while it is on (any other layer would
show how the others coded), so their layer defaults to their own username and any other
choice is refused with 403, as in the API. Owners and viewers choose any layer.

The modules that build and render tables (`exports.tables`, `exports.cells`, `exports.frame`,
`exports.renderers`) load pandas, numpy and matplotlib: they are imported by the functions that
use them, so the URLconf, and every page and command that imports this module for its names,
start without them, and the first request that shows a table pays for them once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from exports.base import (
    FIGURE_FORMATS,
    LABELLED_FORMATS,
    OPTIONS,
    TOP_DEFAULT,
    ExportError,
    ExportRefused,
    ExportTable,
    TableExporter,
)
from exports.jobs import start_pack
from studies.access import get_study_for_user
from studies.audit import record_export
from studies.jobs import runs_in_background
from studies.models import Job, Membership, Study
from studies.views_jobs import job_response
from surveys.models import Survey

User = get_user_model()

# What the page shows on a first visit.
DEFAULT_TABLE = "crosstab"
MEASURE_LABELS = {
    "segments": "Coded segments",
    "participants": "Participants",
    "participant_share": "Share of participants",
    "documents": "Documents",
    "words": "Words coded",
    "jaccard": "Jaccard index (co-occurrence only)",
}
FIGURE_KINDS = {
    "": "Best for the table",
    "heatmap": "Heatmap",
    "bars": "Bars",
    "stacked": "Stacked bars",
    "diverging": "Diverging stacked bars (Likert)",
    "matrix": "Heatmap of a matrix's rows",
    "ranks": "Mean rank (ranking)",
}
FIGURE_SIZES = {"single": "One column (paper)", "double": "Two columns (paper)"}
TOP_LIMIT = 50
CELL_ITEMS_PER_PAGE = 100  # items of a table's cell per page (exports.cells)
TRUE_VALUES = ("1", "on", "true", "yes")

# Which options each table reads is its exporter's say (exports.tables); an option set for a
# table that does not read it is noted on the page.
OPTION_LABELS = {
    "survey": "Survey",
    "by": "Grouping",
    "measure": "Measure",
    "layer": "Layer",
    "rollup": "Roll up child codes",
    "top": "Quotes per code",
}
# Values that mean "not chosen": the form always sends every field, and an untouched field
# should not earn a note. The default table's own grouping is one too (see `not_chosen`).
DEFAULTS = {
    "survey": ("",),
    "by": ("",),
    "measure": ("segments",),
    "layer": ("",),
    "rollup": (False,),
    "top": (TOP_DEFAULT,),
}

# The files offered under the table: (format, extra query, link text).
TABLE_DOWNLOADS = [
    ("xlsx", {}, "Excel (.xlsx)"),
    ("csv", {}, "CSV (.csv)"),
    ("csv", {"bom": "1"}, "CSV for Excel (.csv with BOM)"),
    ("tex", {}, "LaTeX (.tex)"),
    ("docx", {}, "Word (.docx, landscape)"),
    ("md", {}, "Markdown (.md)"),
    ("json", {}, "JSON (.json)"),
]
# Offered for the tables that can be them (one row per respondent or participant).
LABELLED_DOWNLOADS = [
    ("sav", "SPSS (.sav, labelled)"),
    ("dta", "Stata (.dta, labelled)"),
]
FIGURE_DOWNLOADS = [
    ("png", "PNG, 300 dpi (.png)"),
    ("svg", "SVG (.svg)"),
    ("pdf", "PDF (.pdf)"),
]
DOWNLOAD_FORMATS = {fmt for fmt, _query, _label in TABLE_DOWNLOADS} | {
    *FIGURE_FORMATS,
    *LABELLED_FORMATS,
}
SURVEY_LABEL_LENGTH = 70  # a grouping's label in the select, so that it fits a narrow window


def not_chosen(option: str) -> tuple[object, ...]:
    """The values of `option` that mean it was left as it was (DEFAULTS)."""
    from exports.tables import EXPORTERS

    if option == "by":
        return (*DEFAULTS["by"], EXPORTERS[DEFAULT_TABLE].default_by or "")
    return DEFAULTS[option]


def blind_coder(study: Study) -> bool:
    return not study.access.sees_others


def chosen_layer(study: Study, user: object, asked: str) -> str:
    """The layer to export (`exports.tables.export_layer`); 403 when a coder under blind
    coding asks for anyone else's."""
    from exports.tables import export_layer

    return export_layer(study.access, asked) or ""


@dataclass
class ExportChoice:
    """What a request asked for, read from its query string in one way by the page, its
    downloads and the API (table, survey, by, measure, layer, rollup, top, figure, size, bom).
    `problems` are values that could not be read at all (a table name, a number, a figure kind
    or size), reported like the tables' own errors; `ignored` names the options set for a
    table that does not read them."""

    table: str = DEFAULT_TABLE
    survey: str = ""
    by: str = ""
    measure: str = "segments"
    layer: str = ""
    rollup: bool = False
    top: int = TOP_DEFAULT
    figure: str = ""
    size: str = "single"
    bom: bool = False
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_query(
        cls, query: QueryDict, study: Study, user: object, *, table: str | None = None
    ) -> ExportChoice:
        """Read after the access check. `table` is given when the address names it (the API);
        the page reads it from the query, and a first visit gets DEFAULT_TABLE with its
        grouping. A coder under blind coding who asks for another layer gets 403."""
        from exports.tables import EXPORTERS, TABLES

        choice = cls()
        if table is not None or "table" in query:  # otherwise a first visit
            choice.table = query.get("table", "") if table is None else table
            choice.by = query.get("by", "")
        else:
            choice.by = EXPORTERS[choice.table].default_by or ""
        choice.survey = query.get("survey", "").strip()
        choice.measure = query.get("measure") or "segments"
        choice.layer = chosen_layer(study, user, query.get("layer", ""))
        choice.rollup = query.get("rollup", "").lower() in TRUE_VALUES
        choice.figure = query.get("figure", "")
        choice.size = query.get("size") or "single"
        choice.bom = query.get("bom", "").lower() in TRUE_VALUES
        top = query.get("top", "").strip()
        if top:
            if top.isdigit() and 1 <= int(top) <= TOP_LIMIT:
                choice.top = int(top)
            else:
                choice.problems.append(
                    f"Quotes per code must be a whole number from 1 to {TOP_LIMIT}, not “{top}”."
                )
        exporter = choice.exporter
        if exporter is None:
            choice.problems.append(
                f"There is no table “{choice.table}”: choose one of {', '.join(TABLES)}."
            )
            return choice
        if choice.figure not in FIGURE_KINDS:
            choice.problems.append(
                f"There is no figure kind “{choice.figure}”: choose "
                f"{', '.join(kind for kind in FIGURE_KINDS if kind)}."
            )
        if choice.size not in FIGURE_SIZES:
            choice.problems.append(
                f"There is no figure size “{choice.size}”: choose single or double."
            )
        for option, label in OPTION_LABELS.items():
            value = getattr(choice, option)
            if not exporter.reads(option) and value not in not_chosen(option):
                if option == "layer" and blind_coder(study):
                    continue  # set for them, not by them
                if option == "survey":
                    continue  # the page's form always sends the survey chosen in its list
                choice.ignored.append(label)
        return choice

    @property
    def exporter(self) -> TableExporter | None:
        from exports.tables import EXPORTERS

        return EXPORTERS.get(self.table)

    def applies(self, option: str) -> bool:
        return self.exporter is not None and self.exporter.reads(option)

    @property
    def has_figure(self) -> bool:
        return self.exporter is not None and self.exporter.has_figure

    def build(self, study: Study, user: object) -> ExportTable:
        """The table asked for; the exporter ignores the options it does not read."""
        if self.problems:
            raise ExportError(" ".join(self.problems))
        from exports.tables import build_table

        return build_table(
            study,
            self.table,
            by=self.by or None,
            measure=self.measure,
            layer=self.layer or None,
            rollup=self.rollup,
            top=self.top,
            survey=self.survey or None,
            user=user,
        )

    def render(self, table: ExportTable, fmt: str) -> tuple[str, str, bytes]:
        """The table as a file of any format, its figure included: (filename, type, bytes)."""
        from exports import renderers

        return renderers.render(table, fmt, kind=self.figure or None, size=self.size, bom=self.bom)

    def record(self, study: Study, filename: str) -> None:
        """The audit event of a download of this table (page or API): what, as which file,
        and the options that decide whose codings it holds."""
        kind = "figure" if filename.rsplit(".", 1)[-1] in FIGURE_FORMATS else "table"
        options = {"table": self.table, "by": self.by, "measure": self.measure}
        options.update(layer=self.layer, survey=self.survey)
        record_export(study, f"the {self.table} {kind}", filename, details=options)

    def query(self, **extra: str) -> str:
        """The query string that asks for this table again (only the options it reads)."""
        params: dict[str, str] = {"table": self.table}
        if self.applies("survey") and self.survey:
            params["survey"] = self.survey
        if self.applies("by") and self.by:
            params["by"] = self.by
        if self.applies("measure"):
            params["measure"] = self.measure
        if self.layer:
            params["layer"] = self.layer
        if self.applies("rollup") and self.rollup:
            params["rollup"] = "1"
        if self.applies("top"):
            params["top"] = str(self.top)
        if self.has_figure:
            if self.figure:
                params["figure"] = self.figure
            params["size"] = self.size
        params.update(extra)
        return urlencode(params)


def group_choices(study: Study) -> list[tuple[str, list[tuple[str, str]]]]:
    """The groupings for a crosstab, as option groups: places, participant variables, the
    codebook's dimensions (top-level codes that are not codable and have children) and the
    answers to each survey's closed questions ("Survey title: question label")."""
    from exports.tables import dimension_names

    variables = study.variables.order_by("order", "name").values_list("name", flat=True)
    dimensions = dimension_names(study)
    groups = [
        ("Where", [("country", "Country"), ("workshop", "Workshop"), ("document", "Document")]),
        ("Participant variable", [(f"variable:{name}", name) for name in variables]),
        ("Codebook dimension", [(f"dimension:{name}", name) for name in dimensions]),
        ("Survey answer", survey_groupings(study)),
    ]
    return [(label, options) for label, options in groups if options]


def survey_groupings(study: Study) -> list[tuple[str, str]]:
    """(by, label) for every closed question a participant answers once, per survey: the
    roster's survey columns (`exports.frame.survey_columns`)."""
    from exports.frame import survey_columns, surveys_data

    found = []
    for survey in surveys_data(study).values():
        for column, (question, row) in survey_columns(survey).items():
            label = f"{survey.title}: {question.label}" + (
                f": {question.row_label(row)}" if row else ""
            )
            if len(label) > SURVEY_LABEL_LENGTH:
                label = label[: SURVEY_LABEL_LENGTH - 1].rstrip() + "…"
            found.append((column, label))
    return found


def survey_choices(study: Study) -> list[tuple[str, str]]:
    return list(Survey.objects.filter(study=study).values_list("slug", "title"))


def grouping_options(study: Study, chosen: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The groupings offered, with the one asked for kept even when the study has no such
    group, so that the form shows what was asked beside the message saying what is wrong."""
    groups = [("", [("", "Not grouped")]), *group_choices(study)]
    if chosen and all(chosen != key for _label, options in groups for key, _ in options):
        groups.append(("Asked for", [(chosen, chosen)]))
    return groups


def layer_choices(study: Study, user: object) -> list[tuple[str, str]]:
    if blind_coder(study):
        return [(user.get_username(), f"My codings ({user.get_username()})")]
    coders = (
        User.objects.filter(
            Q(memberships__study=study, memberships__role=Membership.Role.CODER)
            | Q(codings__document__study=study, codings__consensus=False)
        )
        .distinct()
        .order_by("username")
        .values_list("username", flat=True)
    )
    return [
        ("", "Default (consensus, or all)"),
        ("consensus", "Consensus (adjudicated)"),
        ("all", "All coders (each distinct span once)"),
        *[(name, f"{name}'s codings") for name in coders],
    ]


@login_required
def export_page(request: HttpRequest, slug: str) -> HttpResponse:
    from exports import renderers
    from exports.cells import cell_href_for
    from exports.tables import ALL_MEASURES, EXPORTERS

    study = get_study_for_user(request.user, slug)
    choice = ExportChoice.from_query(request.GET, study, request.user)
    table = None
    preview = ""
    notes: list[str] = []
    long_columns: list[int] = []
    error = ""
    try:
        table = choice.build(study, request.user)
        # Each number of a table with cells links to the items behind it (exports.cells).
        _name, _type, content = renderers.render(
            table,
            "html",
            cell_href=cell_href_for(cell_base(study), cell_query(choice, table), table),
        )
        # The renderer escapes every cell: the fragment is safe to insert as it is.
        preview = content.decode("utf-8")
        # The fragment may carry the notes itself; otherwise they are listed under it.
        notes = [] if "table-note" in preview else table.notes
        preview = mark_safe(preview)  # noqa: S308
        long_columns = long_text_columns(table)
    except ExportError as exc:
        error = str(exc)

    def download(fmt: str, **extra: str) -> str:
        return reverse("exports:download", args=[study.slug, fmt]) + "?" + choice.query(**extra)

    return render(
        request,
        "exports/page.html",
        {
            "study": study,
            "choice": choice,
            "table": table,
            "preview": preview,
            "notes": notes,
            "long_columns": long_columns,
            "error": error,
            "tables": [(key, exporter.verbose_name) for key, exporter in EXPORTERS.items()],
            "hidden_options": hidden_options(),
            "groups": grouping_options(study, choice.by),
            "surveys": survey_choices(study),
            "measures": [(m, MEASURE_LABELS.get(m, m)) for m in ALL_MEASURES],
            "layers": layer_choices(study, request.user),
            "figure_kinds": list(FIGURE_KINDS.items()),
            "figure_sizes": list(FIGURE_SIZES.items()),
            "table_downloads": [
                (download(fmt, **extra), label) for fmt, extra, label in TABLE_DOWNLOADS
            ]
            + [
                (download(fmt), label)
                for fmt, label in LABELLED_DOWNLOADS
                if table is not None and table.labelled is not None
            ],
            "figure_downloads": [(download(fmt), label) for fmt, label in FIGURE_DOWNLOADS],
            "figure_url": download("png"),
            "pack_url": reverse("exports:pack", args=[study.slug]),
            "pack_layer": choice.layer,
            "blind": blind_coder(study),
            # A table with no rows has nothing to draw (the PNG would be a 400).
            "show_figure": choice.has_figure
            and table is not None
            and not table.tidy.empty
            and table.figure_kinds != [],
        },
    )


def cell_base(study: Study) -> str:
    return reverse("exports:cell", args=[study.slug])


def cell_query(choice: ExportChoice, table: ExportTable) -> dict[str, str]:
    """The options that name a table's cells besides the row, group and measure."""
    query = {"table": choice.table}
    if table.meta.get("by"):
        query["by"] = str(table.meta["by"])
    if choice.layer:
        query["layer"] = choice.layer
    if choice.applies("rollup") and choice.rollup:
        query["rollup"] = "1"
    return query


@login_required
def export_cell(request: HttpRequest, slug: str) -> HttpResponse:
    """The items behind one number of a table (exports.cells): the excerpts, participants,
    documents or pairs it counts, each excerpt linked to its place in the coding view. The
    table's options are read as the page reads them; a missing row or group is the Total."""
    from exports.cells import build_cell

    study = get_study_for_user(request.user, slug)
    choice = ExportChoice.from_query(request.GET, study, request.user)
    row, group = request.GET.get("row", ""), request.GET.get("group", "")
    cell, error = None, ""
    try:
        if choice.problems:
            raise ExportError(" ".join(choice.problems))
        cell = build_cell(
            study,
            choice.table,
            row=row,
            group=group,
            by=choice.by or None,
            measure=request.GET.get("measure") or "segments",
            layer=choice.layer or None,
            rollup=choice.rollup,
            user=request.user,
        )
    except ExportRefused:
        raise
    except ExportError as exc:
        error = str(exc)
    back = reverse("exports:page", args=[study.slug]) + "?" + choice.query()
    page = Paginator(cell.items if cell else [], CELL_ITEMS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "pager_query": urlencode([(k, v) for k, v in request.GET.items() if k != "page"]),
        "study": study,
        "cell": cell,
        "error": error,
        "back": back,
        "table_label": choice.exporter.verbose_name if choice.exporter else choice.table,
        "unit": cell.unit if cell else "",
        "count_text": f"{cell.count:,}" if cell else "",
        "words_text": f"{cell.words:,}" if cell else "",
        "share_text": (
            f"{cell.value:.1%}"
            if cell and cell.measure == "participant_share"
            else f"{cell.value:.3f}"
            if cell
            else ""
        ),
    }
    return render(request, "exports/cell.html", context, status=400 if error else 200)


def hidden_options() -> list[tuple[str, list[str]]]:
    """Per table, the form's options it does not read (the page hides them; the server ignores
    them anyway): its options, and the figure's when it has none."""
    from exports.tables import EXPORTERS

    hidden = []
    for key, exporter in EXPORTERS.items():
        unread = [option for option in OPTIONS if not exporter.reads(option)]
        hidden.append((key, [*unread, *([] if exporter.has_figure else ["figure"])]))
    return hidden


def long_text_columns(table: ExportTable) -> list[int]:
    """1-based positions of preview columns holding running text (quotes, definitions), which
    the browser would otherwise squeeze into a narrow column of one word per line."""
    from exports import renderers

    wide = renderers.wide_frame(table)
    found = []
    for position, column in enumerate(wide.columns, start=1):
        lengths = [len(value) for value in wide[column] if isinstance(value, str)]
        if lengths and max(lengths) > 60:
            found.append(position)
    return found


def attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@login_required
def export_download(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    choice = ExportChoice.from_query(request.GET, study, request.user)
    try:
        if fmt not in DOWNLOAD_FORMATS:
            raise ExportError(
                f"There is no format “{fmt}”: choose one of {', '.join(sorted(DOWNLOAD_FORMATS))}."
            )
        table = choice.build(study, request.user)
        filename, content_type, content = choice.render(table, fmt)
    except ExportError as exc:
        status = 403 if isinstance(exc, PermissionDenied) else 400
        return HttpResponse(str(exc), status=status, content_type="text/plain; charset=utf-8")
    choice.record(study, filename)
    return attachment(content, content_type, filename)


@login_required
@require_POST
def export_pack(request: HttpRequest, slug: str) -> HttpResponse:
    """Start the paper pack (a POST: it is work, which a prefetched or crawled link must not
    start)."""
    study = get_study_for_user(request.user, slug)
    layer = chosen_layer(study, request.user, request.POST.get("layer", ""))
    # A job: drawing every figure takes seconds. With a worker configured this request answers
    # at once with the job's page, which offers the file when it is ready.
    job = start_pack(study=study, user=request.user, layer=layer)
    if job.status == Job.Status.FAILED and not runs_in_background():
        return HttpResponse(job.error, status=400, content_type="text/plain; charset=utf-8")
    return job_response(request, job)
