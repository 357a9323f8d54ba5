from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.base import FORMATS, GROUPS_HELP, ExportError
from exports.figures import KINDS, SIZES
from exports.pack import build_pack
from exports.renderers import render
from exports.tables import ALL_MEASURES, TABLES, TOP_DEFAULT, build_table
from studies.models import Study


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
        parser.add_argument("-o", "--output", required=True, help="The file to write")

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"--study {options['study']!r}: no such study")
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
        self.stdout.write(f"Wrote {output} ({len(content):,} bytes).")
