from django.core.management.base import BaseCommand, CommandError, CommandParser

from studies.importers import FileRejected
from studies.management.commands._common import get_study, read_file
from studies.models import BCP47_RE
from studies.services import import_roster


class Command(BaseCommand):
    help = "Import a roster (.csv or .xlsx): workshops, participants and their variables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("file", help="The roster, .csv or .xlsx")
        parser.add_argument(
            "--language",
            help="BCP 47 tag of new workshops the roster gives no language for "
            "(default: the study's first language)",
        )

    def handle(
        self, *args: object, study: str, file: str, language: str | None, **options: object
    ) -> None:
        target = get_study(study)
        filename, data = read_file(file)
        if language and not BCP47_RE.match(language):
            raise CommandError(f"--language {language!r}: not a BCP 47 tag such as 'en' or 'fi'")
        try:
            plan = import_roster(study=target, filename=filename, data=data, language=language)
        except FileRejected as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(plan.summary())
