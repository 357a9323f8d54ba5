from django.core.management.base import BaseCommand, CommandError, CommandParser

from studies.importers import FileRejected
from studies.management.commands._common import get_study, read_file
from surveys.xlsform import import_xlsform


class Command(BaseCommand):
    help = "Import an XLSForm (.xlsx) as a new survey of the study; prints the survey's slug."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("file", help="The XLSForm, .xlsx")

    def handle(self, *args: object, study: str, file: str, **options: object) -> None:
        target = get_study(study)
        filename, data = read_file(file)
        try:
            result = import_xlsform(study=target, filename=filename, data=data)
        except FileRejected as exc:
            raise CommandError(str(exc)) from None
        for warning in result.warnings:
            self.stderr.write(warning)
        self.stdout.write(result.survey.slug)
