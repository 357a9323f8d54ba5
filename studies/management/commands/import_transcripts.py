import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from studies.importers import FileRejected
from studies.management.commands._common import get_study, read_file
from studies.models import Document
from studies.services import describe_outcomes, import_transcripts


class Command(BaseCommand):
    help = (
        "Import transcripts (.txt, .md, .docx, .vtt, .srt) of one workshop, all or nothing. "
        "Every speaker must match a participant code or alias, a facilitator label, or --map."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("--workshop", required=True, help="The workshop's code, e.g. FI-1")
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="LABEL=CODE",
            help="Map a speaker label to a participant code; 'LABEL=' marks a non-participant. "
            "Repeatable.",
        )
        parser.add_argument("--language", help="BCP 47 tag; default: the workshop's language")
        parser.add_argument(
            "--kind", choices=[k.value for k in Document.Kind], default=Document.Kind.TRANSCRIPT
        )
        parser.add_argument(
            "--pseudonymise",
            action="store_true",
            help="Replace personal data before storing (participant names by their codes, the "
            "study's private list, e-mail addresses, phone numbers, web addresses) and print "
            "every replacement",
        )

    def handle(self, *args: object, **options: object) -> None:
        study = get_study(options["study"])
        workshop = study.workshops.filter(code=options["workshop"]).first()
        if workshop is None:
            known = ", ".join(study.workshops.values_list("code", flat=True)) or "none yet"
            raise CommandError(
                f"--workshop {options['workshop']!r}: no such workshop in {study.slug} "
                f"(known: {known})"
            )
        mapping = {}
        for item in options["map"]:
            label, sep, code = item.partition("=")
            if not sep or not label.strip():
                raise CommandError(
                    f"--map {item!r}: use LABEL=CODE (or LABEL= for a non-participant)"
                )
            code = code.strip()
            if code and not study.participants.filter(code=code).exists():
                raise CommandError(f"--map {item!r}: no participant {code!r} in {study.slug}")
            mapping[label.strip()] = code
        files = [read_file(path) for path in options["files"]]
        bar = tqdm(
            total=0,
            desc="Importing",
            unit="char",
            unit_scale=True,
            file=sys.stderr,
            disable=not sys.stderr.isatty(),
        )

        def progress(done: int, total: int, stage: str) -> None:
            bar.total = total
            bar.set_description(stage, refresh=False)
            bar.n = done
            bar.refresh()

        try:
            outcomes = import_transcripts(
                study=study,
                workshop=workshop,
                files=files,
                mapping=mapping,
                language=options["language"],
                kind=options["kind"],
                progress=progress,
                pseudonymise=options["pseudonymise"],
            )
        except FileRejected as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(f"--language: {' '.join(exc.messages)}") from None
        finally:
            bar.close()
        for outcome in outcomes:
            for line in outcome.replacements:
                self.stdout.write(line)
            if options["pseudonymise"] and outcome.status != "unchanged":
                self.stdout.write(f"{outcome.document.title}: {outcome.pseudonymised}.")
        self.stdout.write(describe_outcomes(outcomes))
