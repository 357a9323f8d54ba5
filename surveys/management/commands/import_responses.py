from django.core.management.base import BaseCommand, CommandError, CommandParser

from studies.importers import FileRejected
from studies.management.commands._common import get_study, read_file
from surveys.responses_import import import_responses


class Command(BaseCommand):
    help = (
        "Import survey responses collected elsewhere (.csv or .xlsx): the first column is the "
        "participant, the others are questions (by code or label)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument("--survey", required=True, help="The survey's slug")
        parser.add_argument("file", help="The responses, .csv or .xlsx")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace the responses of participants who have already submitted one",
        )

    def handle(
        self, *args: object, study: str, survey: str, file: str, replace: bool, **options: object
    ) -> None:
        target = get_study(study)
        instrument = target.surveys.filter(slug=survey).first()
        if instrument is None:
            raise CommandError(f"--survey {survey!r}: no such survey in {target.slug}")
        filename, data = read_file(file)
        try:
            plan = import_responses(
                survey=instrument, filename=filename, data=data, replace=replace
            )
        except FileRejected as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(plan.summary())
