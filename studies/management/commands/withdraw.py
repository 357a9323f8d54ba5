from django.core.management.base import BaseCommand, CommandError, CommandParser

from studies.management.commands._common import get_study
from studies.withdrawal import WithdrawalRefused, withdraw_participant, withdrawal_preview


class Command(BaseCommand):
    help = (
        "Withdraw a participant (irreversible): their speech is redacted in place, their "
        "variables, survey answers and links deleted, and analyses leave them out. Without "
        "--yes it prints what would happen and changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", metavar="PARTICIPANT_CODE", help="e.g. P07")
        parser.add_argument("--study", required=True, help="The study's slug")
        parser.add_argument(
            "--yes", action="store_true", help="Withdraw them: without it, only a preview"
        )

    def handle(self, *args: object, code: str, study: str, yes: bool, **options: object) -> None:
        found = get_study(study)
        participant = found.participants.filter(code__iexact=code.strip()).first()
        if participant is None:
            raise CommandError(f"{code!r}: no such participant in {found.slug}")
        if participant.withdrawn_at is not None:
            raise CommandError(
                f"{participant.code} already withdrew on {participant.withdrawn_at:%Y-%m-%d}; "
                "nothing was changed"
            )
        if not yes:
            preview = withdrawal_preview(participant)
            self.stdout.write(f"Withdrawing {participant.code} from {found.slug} would do this:")
            for line in preview.lines():
                self.stdout.write(f"- {line}")
            raise CommandError(
                f"Nothing was changed: withdrawing is irreversible; add --yes to withdraw "
                f"{participant.code}"
            )
        try:
            summary = withdraw_participant(participant=participant, confirmation=participant.code)
        except WithdrawalRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(summary.describe())
