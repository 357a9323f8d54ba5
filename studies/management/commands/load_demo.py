"""Load the demo study: five workshops in Finland, Germany, the UK and the US, 60 participants and
their transcripts, written for Colloquy. Running it again changes nothing."""

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from studies.models import Membership, Study
from studies.services import describe_outcomes, import_roster, import_transcripts

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
SLUG = "demo"
NAME = "Judging algorithmic decisions (demo)"
DESCRIPTION = (
    "Five workshops in Finland, Germany, the United Kingdom and the United States in which "
    "sixty participants discuss how they judge decisions made by algorithms (explainability, "
    "accuracy, humanity, fairness and negotiability) in hiring, medicine, justice, lending "
    "and welfare. Demo data written for Colloquy."
)
TRANSCRIPTS = {
    "FI-1": "FI-1.txt",
    "DE-1": "DE-1.vtt",
    "GB-1": "GB-1.srt",
    "US-1": "US-1.txt",
    "US-2": "US-2.md",
}
USERS = [
    ("alice", Membership.Role.OWNER),
    ("bob", Membership.Role.CODER),
    ("chloe", Membership.Role.CODER),
    ("victor", Membership.Role.VIEWER),
]
DEBUG_PASSWORD = "colloquy-demo"  # noqa: S105 (only with DEBUG on, printed for the newcomer)


class Command(BaseCommand):
    help = "Create or update the demo study (slug 'demo') with its users. Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            help="Password for newly created demo users (default: 'colloquy-demo' with DEBUG "
            "on, a random one otherwise)",
        )

    def handle(self, *args: object, password: str | None, **options: object) -> None:
        if password is None:
            password = DEBUG_PASSWORD if settings.DEBUG else secrets.token_urlsafe(12)
        User = get_user_model()
        created_users = []
        with transaction.atomic():
            study, created = Study.objects.get_or_create(
                slug=SLUG, defaults={"name": NAME, "description": DESCRIPTION}
            )
            for username, role in USERS:
                user, new = User.objects.get_or_create(
                    username=username, defaults={"email": f"{username}@example.org"}
                )
                if new:
                    user.set_password(password)
                    user.save()
                    created_users.append(username)
                Membership.objects.get_or_create(study=study, user=user, defaults={"role": role})

            roster = DEMO_DIR / "roster.csv"
            plan = import_roster(study=study, filename=roster.name, data=roster.read_bytes())
            self.stdout.write(plan.summary())
            for code, filename in TRANSCRIPTS.items():
                path = DEMO_DIR / filename
                outcomes = import_transcripts(
                    study=study,
                    workshop=study.workshops.get(code=code),
                    files=[(path.name, path.read_bytes())],
                )
                self.stdout.write(f"{code}: {describe_outcomes(outcomes)}")

        self.stdout.write(f"{'Created' if created else 'Updated'} the demo study '{SLUG}'.")
        names = ", ".join(f"{u} ({r})" for u, r in USERS)
        if created_users:
            self.stdout.write(
                f"Demo users {', '.join(created_users)} were created with the password: {password}"
            )
        self.stdout.write(
            f"Log in as one of {names}; existing demo users keep the password they had."
        )
