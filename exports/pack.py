"""The paper pack: every table and figure of a study in one zip, with a README listing them.

The set follows what a paper on a multi-site workshop study reports: code frequencies, each
dimension by country, workshop and participant variable, the dimensions crossed with each
other, co-occurrence, quotes, the codebook appendix, agreement, the roster and Table 1. Which
versions of a table go in, and with which figure, is its exporter's say (`pack_variants`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils import timezone

from exports.base import FIGURE_FORMATS, ExportError, ExportTable
from exports.renderers import render, render_workbook
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


def build_pack(study: Study, *, layer: str | None = None, user: object = None) -> bytes:
    """A zip of every table (xlsx workbook, and per table csv, tex, md) and figure (png, svg,
    pdf), with README.md saying what each file holds and how it was made."""
    tables: list[tuple[PackItem, ExportTable]] = []
    skipped: list[str] = []
    sources = table_sources(study, layer=layer, user=user)
    for item in pack_items(study):
        by, measure = item.variant.by, item.variant.measure
        try:
            table = build_table(study, item.name, by=by, measure=measure, sources=sources)
        except ExportError as exc:
            # e.g. agreement with fewer than two coders: say so in the README, keep the rest.
            skipped.append(f"- {item.name}{f' by {by}' if by else ''}: {exc}")
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
        for item, table in tables:
            files = []
            for fmt in ("csv", "tex", "md"):
                filename, _type, content = render(table, fmt)
                archive.writestr(f"tables/{filename}", content)
                files.append(f"`tables/{filename}`")
            if item.variant.figure:
                for fmt in FIGURE_FORMATS:
                    filename, _type, content = render(table, fmt)
                    archive.writestr(f"figures/{filename}", content)
                    files.append(f"`figures/{filename}`")
            lines.append(f"- {table.title}: {', '.join(files)}")
            lines += [f"  - {note}" for note in table.notes]
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
