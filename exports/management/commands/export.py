import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.base import FIGURE_FORMATS, FORMATS, GROUPS_HELP, ExportError
from exports.cells import Cell, build_cell
from exports.figures import KINDS, SIZES
from exports.pack import build_pack
from exports.renderers import render
from exports.tables import ALL_MEASURES, TABLES, TOP_DEFAULT, build_table
from studies.audit import record_export
from studies.models import Study
from studies.sheets import write_csv


class Command(BaseCommand):
    help = "Export a table or figure of a study, or the whole paper pack (--pack)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("--table", choices=TABLES)
        parser.add_argument("--survey", help="The survey's slug, for the survey tables")
        parser.add_argument("--by", help=GROUPS_HELP)
        parser.add_argument("--measure", default="segments", help=", ".join(ALL_MEASURES))
        parser.add_argument(
            "--layer", help="consensus, all, or a username (default: consensus where it exists)"
        )
        parser.add_argument("--rollup", action="store_true", help="Roll child codes up")
        parser.add_argument("--top", type=int, default=TOP_DEFAULT, help="Quotes per code")
        parser.add_argument("--format", choices=[f for f in FORMATS if f != "html"])
        parser.add_argument("--figure", choices=KINDS)
        parser.add_argument("--size", choices=list(SIZES), default="single")
        parser.add_argument("--bom", action="store_true", help="UTF-8 BOM in .csv, for Excel")
        parser.add_argument("--pack", action="store_true", help="Every table and figure, zipped")
        parser.add_argument(
            "--cell",
            nargs=2,
            metavar=("ROW", "GROUP"),
            help="The items behind one cell of --table (a code path or Total, and a group or "
            "Total); printed, or written with -o as --format csv or json",
        )
        parser.add_argument("-o", "--output", help="The file to write")

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"--study {options['study']!r}: no such study")
        if options["cell"]:
            self.write_cell(study, options)
            return
        if not options["output"]:
            raise CommandError("give -o FILE to write")
        output = Path(options["output"])
        if not output.parent.is_dir():
            raise CommandError(f"-o {output}: the folder {output.parent} does not exist")
        try:
            if options["pack"]:
                content = build_pack(study, layer=options["layer"])
            else:
                if not options["table"] or not options["format"]:
                    raise CommandError("give --table and --format, or --pack")
                table = build_table(
                    study,
                    options["table"],
                    by=options["by"],
                    measure=options["measure"],
                    layer=options["layer"],
                    rollup=options["rollup"],
                    top=options["top"],
                    survey=options["survey"],
                )
                _name, _type, content = render(
                    table,
                    options["format"],
                    kind=options["figure"],
                    size=options["size"],
                    bom=options["bom"],
                )
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        output.write_bytes(content)
        if options["pack"]:
            record_export(study, "the paper pack", output.name, details={"layer": options["layer"]})
        else:
            kind = "figure" if options["format"] in FIGURE_FORMATS else "table"
            record_export(
                study,
                f"the {options['table']} {kind}",
                output.name,
                details={k: options[k] for k in ("table", "by", "measure", "layer", "survey")},
            )
        self.stdout.write(f"Wrote {output} ({len(content):,} bytes).")

    def write_cell(self, study: Study, options: dict) -> None:
        """--cell ROW GROUP: the items behind one number of a table (exports.cells)."""
        if not options["table"]:
            raise CommandError("give --table with --cell")
        fmt = options["format"]
        if fmt not in (None, "csv", "json"):
            raise CommandError(f"--format {fmt}: a cell is written as csv or json")
        output = Path(options["output"]) if options["output"] else None
        if output is not None and not output.parent.is_dir():
            raise CommandError(f"-o {output}: the folder {output.parent} does not exist")
        row, group = options["cell"]
        try:
            cell = build_cell(
                study,
                options["table"],
                row=row,
                group=group,
                by=options["by"],
                measure=options["measure"],
                layer=options["layer"],
                rollup=options["rollup"],
            )
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        if fmt is None and output is not None:
            fmt = "json" if output.suffix == ".json" else "csv"
        if fmt == "json":
            content = json.dumps(cell.as_json(), ensure_ascii=False, indent=2).encode("utf-8")
        elif fmt == "csv":
            columns, rows = cell.rows()
            content = write_csv(columns, rows, bom=options["bom"])
        else:
            self.stdout.write(cell_text(cell))
            return
        if output is None:
            self.stdout.write(content.decode("utf-8"))
            return
        output.write_bytes(content)
        record_export(
            study,
            f"the items behind {row} x {group} of the {options['table']} table",
            output.name,
            details={"table": options["table"], "row": row, "group": group},
        )
        self.stdout.write(f"Wrote {output} ({cell.count:,} items).")


def cell_text(cell: Cell) -> str:
    """A cell for reading in a terminal: its number, then each item with its excerpts."""
    lines = [
        f"{cell.row} x {cell.group} ({cell.table}, {cell.measure}): {cell.count:,} {cell.unit}"
    ]
    if cell.measure == "words":
        lines[0] += f", {cell.words:,} words"
    for item in cell.items:
        place = ", ".join(filter(None, [item.workshop, item.country]))
        lines.append(f"- {item.label}" + (f" ({place})" if place else ""))
        for e in item.excerpts:
            who = ", ".join(e.speakers) or "no speaker"
            lines.append(f"    {e.document} {e.start}-{e.end}, {who}: {e.text.strip()}")
    return "\n".join(lines)
