import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from coding.reliability import UNITS, ReliabilityReport, compute_reliability, machine_labels
from studies.models import Study


def format_value(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def as_table(report: ReliabilityReport, labels: dict[str, str] | None = None) -> str:
    header = f"{'code':<36}{'units':>8}{'coded':>8}{'agree':>8}{'kappa':>8}{'alpha':>8}  verdict"
    labels = labels or {}
    names = [f"{name} ({labels[name]})" if name in labels else name for name in report.coders]
    lines = [
        f"Unit: {report.unit}; coders: {', '.join(names)}; documents: {len(report.documents)}",
        header,
        "-" * len(header),
    ]
    for row in [*report.codes, report.overall]:
        kappa = row.cohen_kappa if row.cohen_kappa is not None else row.fleiss_kappa
        lines.append(
            f"{row.path[:35]:<36}{row.units:>8,}{row.coded_units:>8,}"
            f"{format_value(row.percent_agreement):>8}{format_value(kappa):>8}"
            f"{format_value(row.krippendorff_alpha):>8}  {row.verdict or ''}"
        )
    lines.append(
        "kappa: Cohen's for two coders, Fleiss' for three or more. Alpha: Krippendorff's "
        "(nominal); >= .800 reliable, .667-.800 tentative (Krippendorff 2004)."
    )
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Inter-coder agreement per code and overall, as JSON or a table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("--unit", choices=UNITS, default="sentence")
        parser.add_argument(
            "--coders", help="Comma-separated usernames (default: everyone who coded)"
        )
        parser.add_argument("--format", choices=["json", "table"], default="table")
        parser.add_argument(
            "--no-machines",
            action="store_true",
            help="Leave machine coders out of the default coders (name one in --coders to pick it)",
        )

    def handle(self, *args: object, **options: object) -> None:
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"--study {options['study']!r}: no such study")
        coders = None
        if options["coders"]:
            names = [name.strip() for name in options["coders"].split(",") if name.strip()]
            users = {u.username: u for u in get_user_model().objects.filter(username__in=names)}
            unknown = [name for name in names if name not in users]
            if unknown:
                raise CommandError(f"--coders: no such user: {', '.join(unknown)}")
            members = set(study.memberships.values_list("user__username", flat=True))
            outsiders = [name for name in names if name not in members]
            if outsiders:
                raise CommandError(
                    f"--coders: not a member of {study.slug}: {', '.join(outsiders)}"
                )
            coders = [users[name] for name in names]
        try:
            report = compute_reliability(
                study, unit=options["unit"], coders=coders, machines=not options["no_machines"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        labels = machine_labels(study)
        if options["format"] == "json":
            found = report.as_json()
            found["machines"] = {name: labels[name] for name in report.coders if name in labels}
            self.stdout.write(json.dumps(found, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(as_table(report, labels))
