"""Load the demo study: five workshops in Finland, Germany, the UK and the US, 60 participants and
their transcripts (studies.demo), the codebook and two coders' codings (coding.demo), and the
pre- and post-workshop surveys the participants answered (surveys.demo), all written for
Colloquy. Running it again changes nothing. The command lives in `exports`, the one app that
may import both `coding` and `surveys`, whose data it loads."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from coding.demo import CODEBOOK, create_demo_codings
from coding.models import Assignment, Code, Coding, Memo
from coding.services import import_codebook
from studies.demo import load_workshops
from studies.models import Document, Membership, Study, Turn
from surveys.demo import load_surveys

SLUG = "demo"
NAME = "Judging algorithmic decisions (demo)"
DESCRIPTION = (
    "Five workshops in Finland, Germany, the United Kingdom and the United States in which "
    "sixty participants discuss how they judge decisions made by algorithms (explainability, "
    "accuracy, humanity, fairness and negotiability) in hiring, medicine, justice, lending "
    "and welfare. Demo data written for Colloquy."
)
USERS = [
    ("alice", Membership.Role.OWNER),
    ("bob", Membership.Role.CODER),
    ("chloe", Membership.Role.CODER),
    ("victor", Membership.Role.VIEWER),
]
CODERS = ["bob", "chloe"]
MEMOS = [
    (
        "alice",
        "study",
        "Negotiability came up unprompted in every workshop before we named it: people "
        "distinguish a friendly human from one who can actually change the outcome.",
    ),
    (
        "bob",
        "code",
        "Boundary with humanity: code negotiability only when the speaker wants to influence "
        "the decision, not merely to be treated kindly.",
    ),
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

    def _code_the_demo(self, study: Study) -> None:
        """Two coders' codings of every transcript, their assignments, and a few memos; only
        what is missing is added, so running the command again changes nothing."""
        User = get_user_model()
        coders = [User.objects.get(username=name) for name in CODERS]
        owner = User.objects.get(username="alice")
        codes = list(Code.objects.filter(study=study))
        documents = list(study.documents.filter(kind=Document.Kind.TRANSCRIPT).order_by("title"))
        created = 0
        for seed, document in enumerate(documents):
            created += create_demo_codings(document, codes, coders, seed=seed)
            for coder in coders:
                Assignment.objects.get_or_create(
                    document=document,
                    coder=coder,
                    defaults={"status": Assignment.Status.DONE, "assigned_by": owner},
                )
        if created:
            self.stdout.write(
                f"Coded the transcripts as {' and '.join(CODERS)}: {created:,} codings."
            )
        negotiability = Code.objects.get(study=study, name="negotiability")
        for author, target, text in MEMOS:
            fields = {"study": study, "author": User.objects.get(username=author), "text": text}
            if target == "code":
                fields["code"] = negotiability
            Memo.objects.get_or_create(**fields)

    def _mentions(self, study: Study) -> dict[str, dict[str, int]]:
        """Participant code -> concept -> how many coded segments (any coder's) of that concept
        lie in the participant's turns: what the demo's survey answers follow."""
        turns: dict[int, list[tuple[int, int, str]]] = {}
        for document_id, start, end, code in Turn.objects.filter(
            document__study=study, participant__isnull=False
        ).values_list("document_id", "start", "end", "participant__code"):
            turns.setdefault(document_id, []).append((start, end, code))
        mentions: dict[str, dict[str, int]] = {}
        for document_id, concept, start in Coding.objects.filter(
            document__study=study, code__parent__name="Concept"
        ).values_list("document_id", "code__name", "start"):
            for turn_start, turn_end, participant in turns.get(document_id, ()):
                if turn_start <= start < turn_end:
                    counts = mentions.setdefault(participant, {})
                    counts[concept] = counts.get(concept, 0) + 1
        return mentions

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

            load_workshops(study, self.stdout.write)
            codebook = CODEBOOK
            plan = import_codebook(study=study, filename=codebook.name, data=codebook.read_bytes())
            self.stdout.write(plan.summary())
            self._code_the_demo(study)
            load_surveys(study, self.stdout.write, mentions=self._mentions(study))

        self.stdout.write(f"{'Created' if created else 'Updated'} the demo study '{SLUG}'.")
        names = ", ".join(f"{u} ({r})" for u, r in USERS)
        if created_users:
            self.stdout.write(
                f"Demo users {', '.join(created_users)} were created with the password: {password}"
            )
        self.stdout.write(
            f"Log in as one of {names}; existing demo users keep the password they had."
        )
