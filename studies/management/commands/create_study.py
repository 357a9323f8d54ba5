from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug
from django.db import transaction

from studies.audit import record
from studies.models import AuditEvent, Membership, Study


class Command(BaseCommand):
    help = "Create a study, optionally with an owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Short name used in URLs, e.g. adm-workshops")
        parser.add_argument("--name", required=True, help="The study's full name")
        parser.add_argument("--owner", help="Username of an existing user who will own it")

    def handle(
        self, *args: object, slug: str, name: str, owner: str | None, **options: object
    ) -> None:
        try:
            validate_slug(slug)
        except ValidationError:
            raise CommandError(
                f"slug {slug!r}: use letters, numbers, hyphens or underscores only"
            ) from None
        if len(slug) > 50:
            raise CommandError(f"slug {slug!r}: at most 50 characters")
        if not name.strip():
            raise CommandError("--name: the study needs a name")
        if Study.objects.filter(slug=slug).exists():
            raise CommandError(f"slug {slug!r}: a study with this slug already exists")
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(
                    f"--owner {owner!r}: no such user (create it with createsuperuser)"
                )
        with transaction.atomic():
            study = Study.objects.create(slug=slug, name=name.strip())
            if user is not None:
                Membership.objects.create(study=study, user=user, role=Membership.Role.OWNER)
            record(
                study,
                AuditEvent.Action.STUDY,
                f"Created the study '{study.name}'",
                details={"slug": slug, "owner": owner if user is not None else None},
            )
        self.stdout.write(
            f"Created study {slug} ({study.name})" + (f", owned by {owner}." if user else ".")
        )
