import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.qdpx import apply_qdpx, plan_qdpx
from studies.importers import FileRejected
from studies.management.commands._common import get_study, read_file
from studies.models import Workshop


class Command(BaseCommand):
    help = (
        "Import a REFI-QDA project (.qdpx, .qde) or codebook (.qdc) written by NVivo, "
        "ATLAS.ti, MAXQDA, QualCoder or Colloquy into a study, all of it or nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The .qdpx, .qde or .qdc file")
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument(
            "--workshop",
            help="The workshop (its code) for the cases and sources the file does not place in one",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would come in; write nothing"
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON")
        parser.add_argument(
            "--pseudonymise",
            action="store_true",
            help="Replace personal data in the sources' text before storing it (participant "
            "names by their codes, the private list, e-mail, phone and web addresses); the "
            "codings move with the text",
        )

    def handle(
        self,
        *args: object,
        file: str,
        study: str,
        workshop: str | None,
        dry_run: bool,
        json: bool,
        pseudonymise: bool = False,
        **options: object,
    ) -> None:
        target = get_study(study)
        chosen = None
        if workshop:
            chosen = Workshop.objects.filter(study=target, code__iexact=workshop).first()
            if chosen is None:
                codes = ", ".join(target.workshops.values_list("code", flat=True)) or "none yet"
                raise CommandError(
                    f"--workshop {workshop!r}: no such workshop (the study has {codes})"
                )
        filename, data = read_file(file)
        try:
            plan = plan_qdpx(
                study=target,
                filename=filename,
                data=data,
                workshop=chosen,
                pseudonymise=pseudonymise,
            )
            if not dry_run:
                apply_qdpx(study=target, plan=plan)
        except FileRejected as exc:
            raise CommandError(str(exc)) from None
        report = plan.report()
        if json:
            self.stdout.write(_json(report))
            return
        self.stdout.write(describe(report, dry_run=dry_run))


def _json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False)


def describe(report: dict, *, dry_run: bool = False) -> str:
    lines = [("Would import: " if dry_run else "") + str(report["summary"])]
    held = ", ".join(f"{n:,} {k}" for k, n in report["in_file"].items() if n)
    lines.append(f"In the file: {held or 'nothing we read'}.")
    for item in report["pseudonymised"]:
        examples = ", ".join(f"{a!r} -> {b}" for a, b in item["examples"])
        lines.append(f"Pseudonymised: {item['what'].lower()}: {item['count']:,} ({examples}).")
    for item in report["skipped"]:
        lines.append(f"Skipped: {item['text']}.")
    lines.extend(f"Note: {note}." for note in report["notes"])
    return "\n".join(lines)
