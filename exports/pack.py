"""The paper pack: every table and figure of a study in one zip, with a README listing them.

The set follows what a paper on a multi-site workshop study reports: code frequencies, each
dimension by country, workshop and participant variable, the dimensions crossed with each
other, co-occurrence, quotes, the codebook appendix, agreement, the roster and Table 1, and for
each survey its responses (.csv, .xlsx, .sav, .dta), answers, codebook, results with their
figures and, for a later wave, the change from the earlier one. Which versions of a table go
in, in which formats and with which figures, is its exporter's say (`pack_variants`,
`pack_formats`, `ExportTable.figure_kinds`). Tables the person may not export (individual
survey responses, for anyone but an owner) are listed under "Not included".
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.utils import timezone

from exports.base import FIGURE_FORMATS, ExportError, ExportTable
from exports.renderers import render, render_workbook
from exports.robustness import RULE as ONE_WORKSHOP_RULE
from exports.robustness import has_flag
from exports.tables import EXPORTERS, PackVariant, build_table, table_sources
from studies.models import Study


@dataclass(frozen=True)
class PackItem:
    name: str
    variant: PackVariant


def pack_items(study: Study) -> Iterator[PackItem]:
    """Every table of the registry in its order, in the versions its exporter puts in the pack."""
    for name, exporter in EXPORTERS.items():
        for variant in exporter.pack_variants(study):
            yield PackItem(name, variant)


def build_pack(
    study: Study,
    *,
    layer: str | None = None,
    user: object = None,
    progress: Callable[[int, int, str], object] | None = None,
) -> bytes:
    """A zip of every table (xlsx workbook, and per table csv, tex, md) and figure (png, svg,
    pdf), with README.md saying what each file holds and how it was made. `progress` hears
    (done, total, stage) as tables are built and written (studies.jobs.Progress)."""
    report = progress or (lambda done, total, stage: None)
    tables: list[tuple[PackItem, ExportTable]] = []
    skipped: list[str] = []
    report(0, 0, "Reading the coded data")
    sources = table_sources(study, layer=layer, user=user)
    items = list(pack_items(study))
    # Each table counts once when it is built and once when it is written with its figures.
    steps = 2 * len(items)
    for number, item in enumerate(items):
        report(number, steps, f"Building the table {item.name}")
        by, measure, survey = item.variant.by, item.variant.measure, item.variant.survey
        try:
            table = build_table(
                study, item.name, by=by, measure=measure, survey=survey, sources=sources
            )
        except ExportError as exc:
            # e.g. agreement with fewer than two coders: say so in the README, keep the rest.
            of = f" of {survey}" if survey else ""
            skipped.append(f"- {item.name}{of}{f' by {by}' if by else ''}: {exc}")
            continue
        tables.append((item, table))

    buffer = io.BytesIO()
    lines = [
        f"# {study.name}: tables and figures",
        "",
        f"Made by Colloquy on {timezone.now():%Y-%m-%d %H:%M} UTC.",
    ]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if tables:
            meta = tables[0][1].meta
            lines += [
                f"Layer: {meta.get('layer', '')}. Checksum of the coded data: "
                f"{meta.get('checksum', '')} (the same data gives the same checksum).",
                "",
                "## Files",
                "",
                f"- `{study.slug}_tables.xlsx`: every table below, one sheet each, and an "
                "About sheet.",
            ]
            archive.writestr(f"{study.slug}_tables.xlsx", render_workbook([t for _, t in tables]))
        for number, (item, table) in enumerate(tables):
            report(len(items) + number, steps, f"Writing {table.title} and its figures")
            files = []
            folder = "surveys" if item.variant.survey else "tables"
            for fmt in EXPORTERS[item.name].pack_formats:
                filename, _type, content = render(table, fmt)
                archive.writestr(f"{folder}/{filename}", content)
                files.append(f"`{folder}/{filename}`")
            if item.variant.figure:
                kinds = [None] if table.figure_kinds is None else table.figure_kinds
                for kind in kinds:
                    for fmt in FIGURE_FORMATS:
                        try:
                            filename, _type, content = render(table, fmt, kind=kind)
                        except ExportError as exc:  # nothing to draw: say so, keep the rest
                            skipped.append(f"- the figure of {table.title}: {exc}")
                            break
                        if kind and kind != table.figure:
                            filename = filename.replace(f".{fmt}", f"_{kind}.{fmt}")
                        archive.writestr(f"figures/{filename}", content)
                        files.append(f"`figures/{filename}`")
            lines.append(f"- {table.title}: {', '.join(files)}")
            lines += [f"  - {note}" for note in table.notes]
        if any(has_flag(table) for _item, table in tables):
            # Each table's notes above name its codes that rest on one workshop; the rule once.
            lines += [
                "",
                "## Findings that rest on one workshop",
                "",
                ONE_WORKSHOP_RULE + " The frequencies and crosstab files carry these figures "
                "as the columns loo_share_min, loo_share_max, largest_workshop, "
                "largest_workshop_share and rests_on_one_workshop.",
            ]
        if skipped:
            lines += ["", "## Not included", "", *skipped]
        lines += [
            "",
            "CSV files are tidy (one observation per row: code_path, group, measure, value) "
            "and unrounded; participant_share is a fraction of every participant of the group "
            "in the roster. Cells that begin with = + - @ are prefixed with ' so that "
            "spreadsheets do not run them.",
        ]
        archive.writestr("README.md", "\n".join(lines) + "\n")
    return buffer.getvalue()
