"""Studies and the workshop data they hold: workshops, participants, documents, turns, sentences.

The field names listed in DESIGN.md ("Interfaces that other tools rely on") are read by outside
scripts; keep them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_countries.fields import CountryField

# A BCP 47 language tag, loosely: a 2-3 letter language, then subtags ("en-GB", "zh-Hant-TW").
BCP47_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def validate_language_tag(value: str) -> None:
    if not BCP47_RE.match(value or ""):
        raise ValidationError(
            f"{value!r} is not a language tag: use a BCP 47 tag such as 'en', 'de' or 'fi-FI'."
        )


class StudyQuerySet(models.QuerySet["Study"]):
    def for_user(self, user: settings.AUTH_USER_MODEL) -> StudyQuerySet:
        """The studies a user may open: their memberships, or every study for a superuser."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(memberships__user=user)


def validate_language_list(value: str) -> None:
    for tag in language_list(value):
        validate_language_tag(tag)


def language_list(value: str) -> list[str]:
    """ "en, de,fi" -> ["en", "de", "fi"]: the tags of a comma-separated list, in order."""
    return [tag.strip() for tag in (value or "").replace(";", ",").split(",") if tag.strip()]


class Study(models.Model):
    slug = models.SlugField(unique=True, max_length=50)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    languages = models.CharField(
        max_length=200,
        default="en",
        validators=[validate_language_list],
        help_text="BCP 47 tags of the study's languages, comma-separated; the first is the "
        "default for new workshops and transcripts.",
    )
    blind_coding = models.BooleanField(
        default=False, help_text="Coders see only their own codings while this is on."
    )
    llm_suggestions = models.BooleanField(
        default=False,
        help_text="Let the configured large language model suggest codes: the study's "
        "pseudonymised text and codebook are sent to it.",
    )
    keep_pseudonyms = models.BooleanField(
        default=False,
        help_text="Keep which real name each pseudonym replaced (owners only). Off: the "
        "mapping is discarded as soon as a text is stored.",
    )
    # Archived: read-only and hidden from the list of studies, until an owner restores it.
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StudyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("studies:overview", args=[self.slug])

    @property
    def language_list(self) -> list[str]:
        return language_list(self.languages)

    @property
    def language(self) -> str:
        """The study's first language: the default for new workshops and transcripts."""
        return (self.language_list or ["en"])[0]

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        CODER = "coder", "Coder"
        VIEWER = "viewer", "Viewer"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "user"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "coder", "viewer"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}) in {self.study}"

    # A study always keeps an owner. The web page and the API both change members through
    # these methods, so the rule, its wording and the audit event live here only.

    @classmethod
    def add(cls, *, study: Study, user: object, role: str) -> Membership:
        """A new member (the web page and the API add members through this)."""
        from studies.audit import record  # studies.audit imports this module

        with transaction.atomic():
            membership = cls.objects.create(study=study, user=user, role=role)
            record(
                study,
                AuditEvent.Action.MEMBERS,
                f"Added {user.get_username()} as {role}",
                details={"member": user.get_username(), "role": role},
            )
        return membership

    def change_role(self, role: str) -> None:
        from studies.audit import record

        with transaction.atomic():
            if role != self.Role.OWNER:
                self._refuse_last_owner("{name} is the only owner; add another owner first.")
            previous, self.role = self.role, role
            self.save(update_fields=["role"])
            if previous != role:
                name = self.user.get_username()
                record(
                    self.study,
                    AuditEvent.Action.MEMBERS,
                    f"Changed {name}'s role from {previous} to {role}",
                    details={"member": name, "from": previous, "to": role},
                )

    def remove(self) -> None:
        from studies.audit import record

        with transaction.atomic():
            self._refuse_last_owner("{name} is the only owner and cannot be removed.")
            name = self.user.get_username()
            record(
                self.study,
                AuditEvent.Action.MEMBERS,
                f"Removed {name} ({self.role}) from the study",
                details={"member": name, "role": self.role},
            )
            self.delete()

    def _refuse_last_owner(self, message: str) -> None:
        # Locked, so that two owners demoting each other at once cannot both succeed.
        owners = list(
            Membership.objects.select_for_update()
            .filter(study_id=self.study_id, role=self.Role.OWNER)
            .values_list("pk", flat=True)
        )
        if owners == [self.pk]:
            raise LastOwnerError(message.format(name=self.user.get_username()))


class LastOwnerError(ValidationError):
    """Refused: the change would leave the study without an owner."""


class Workshop(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="workshops")
    code = models.CharField(max_length=32, help_text="Short and unique in the study, e.g. FI-1.")
    country = CountryField()
    site = models.CharField(max_length=200, blank=True, help_text="City or venue.")
    date = models.DateField(null=True, blank=True)
    language = models.CharField(
        max_length=35, default="en", validators=[validate_language_tag], help_text="BCP 47 tag."
    )
    facilitators = models.CharField(
        max_length=500,
        blank=True,
        help_text="Comma-separated names or labels of the facilitators, as they appear in "
        "transcripts. They are speakers without a participant.",
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["study", "date", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="workshop_unique_code"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def facilitator_labels(self) -> list[str]:
        return [name.strip() for name in self.facilitators.split(",") if name.strip()]


class ParticipantQuerySet(models.QuerySet["Participant"]):
    def current(self) -> ParticipantQuerySet:
        """Participants who have not withdrawn: the only ones analyses and exports count, list
        or link to (denominators, attributions, REFI-QDA cases, survey links)."""
        return self.filter(withdrawn_at__isnull=True)

    def withdrawn(self) -> ParticipantQuerySet:
        return self.filter(withdrawn_at__isnull=False)


class Participant(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    code = models.CharField(max_length=32, help_text="Unique in the study, e.g. P07.")
    workshop = models.ForeignKey(Workshop, on_delete=models.RESTRICT, related_name="participants")
    aliases = models.CharField(
        max_length=500,
        blank=True,
        help_text="Comma-separated speaker labels that mean this participant in transcripts.",
    )
    # Set when the participant withdrew: their speech is redacted, their survey answers and
    # variables deleted, and analyses leave them out. Irreversible.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["study", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="participant_unique_code"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def alias_list(self) -> list[str]:
        return [alias.strip() for alias in self.aliases.split(",") if alias.strip()]

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None


class Variable(models.Model):
    """A typed participant attribute (age band, gender, occupation): a REFI-QDA Variable."""

    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        CHOICE = "choice", "Choice"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="variables")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    choices = models.TextField(blank=True, help_text="For a choice variable: one value per line.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="variable_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]


class ParticipantValue(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="values")
    variable = models.ForeignKey(Variable, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(max_length=500, blank=True)
    # A number variable's value again as a number, so that tables sort and bin it numerically.
    number = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "variable"], name="participantvalue_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.variable}={self.value}"


class Document(models.Model):
    class Kind(models.TextChoices):
        TRANSCRIPT = "transcript", "Transcript"
        SURVEY = "survey", "Survey text"
        NOTE = "note", "Note"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="documents")
    workshop = models.ForeignKey(
        Workshop, on_delete=models.RESTRICT, related_name="documents", null=True, blank=True
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TRANSCRIPT)
    title = models.CharField(max_length=200)
    language = models.CharField(max_length=35, default="en", validators=[validate_language_tag])
    # NFC, "\n" line endings; every offset elsewhere is a code point index into it. Never
    # rewritten once turns, sentences or codings point into it.
    text = models.TextField()
    sha256 = models.CharField(max_length=64)
    source_name = models.CharField(max_length=255, blank=True)
    source_format = models.CharField(max_length=10, blank=True)
    word_count = models.PositiveIntegerField(default=0)
    # len(text) in code points, kept because the text never changes once anything points into
    # it: validating a coding's span then needs no read of the text itself.
    text_length = models.PositiveIntegerField(default=0, editable=False)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "title"]
        constraints = [
            models.UniqueConstraint(fields=["study", "title"], name="document_unique_title"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: object, **kwargs: object) -> None:
        self.text_length = len(self.text)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "text" in update_fields:
            kwargs["update_fields"] = {*update_fields, "text_length"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("studies:document", args=[self.study.slug, self.pk])

    def attached_objects(self) -> dict[str, int]:
        """Counts of everything that points into this document's text by offsets (codings,
        suggestion decisions, whatever later features add), its own turns and sentences
        aside, by name ("1 coding", "3 codings"). Non-empty means the text is frozen."""
        counts: dict[str, int] = {}
        for relation in self._meta.related_objects:
            model = relation.related_model
            if model in (Turn, Sentence) or relation.many_to_many:
                continue
            field_names = {f.name for f in model._meta.get_fields()}
            if not {"start", "end"} <= field_names:
                continue
            n = model._default_manager.filter(**{relation.field.name: self}).count()
            if n:
                meta = model._meta
                counts[str(meta.verbose_name if n == 1 else meta.verbose_name_plural)] = n
        return counts


class Turn(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="turns")
    seq = models.PositiveIntegerField()
    speaker = models.CharField(max_length=100, help_text="The label as written in the source.")
    participant = models.ForeignKey(
        Participant, on_delete=models.RESTRICT, related_name="turns", null=True, blank=True
    )
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    start_ms = models.PositiveIntegerField(null=True, blank=True)
    end_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["document", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["document", "seq"], name="turn_unique_seq"),
            models.CheckConstraint(
                condition=Q(start__gte=0) & Q(start__lt=models.F("end")), name="turn_span_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} #{self.seq} {self.speaker}"

    @property
    def is_facilitator(self) -> bool:
        return self.participant_id is None


class Sentence(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="sentences")
    seq = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()

    class Meta:
        ordering = ["document", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["document", "seq"], name="sentence_unique_seq"),
            models.CheckConstraint(
                condition=Q(start__gte=0) & Q(start__lt=models.F("end")),
                name="sentence_span_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document} sentence {self.seq}"


class MemberInvitation(models.Model):
    """An owner's invitation to join a study with a role, sent by e-mail as a signed link that
    expires (`studies.invitations`). Accepting creates the account when there is none, or adds
    the membership to the signed-in user's. (A survey's private link is `surveys.Invitation`.)"""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when the invitation names an existing username.",
    )
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(email="") | Q(user__isnull=False), name="invitation_names_someone"
            ),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "coder", "viewer"]), name="invitation_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.invitee} as {self.role} in {self.study}"

    @property
    def invitee(self) -> str:
        return self.user.get_username() if self.user_id else self.email

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


def recording_path(recording: Recording, filename: str) -> str:
    # A random name: the stored file's address must not be guessable from the study or title.
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"recordings/{recording.document.study_id}/{uuid.uuid4().hex}{suffix}"


class Recording(models.Model):
    """The audio or video of a transcript, played beside it. Stored through Django's storage
    API (local files by default) and served only to the study's members, with range requests
    so that seeking works in long files."""

    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="recording")
    file = models.FileField(upload_to=recording_path, max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Recording of {self.document}"

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")


class PendingImport(models.Model):
    """An uploaded file waiting for the owner to confirm its preview. Holding the bytes in the
    database (rather than on one server's disk) lets any worker finish the import."""

    class Kind(models.TextChoices):
        TRANSCRIPT = "transcript", "Transcript"
        ROSTER = "roster", "Roster"
        PROJECT = "qdpx", "REFI-QDA project"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="pending_imports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    batch = models.UUIDField(default=uuid.uuid4, db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    workshop = models.ForeignKey(
        Workshop, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    language = models.CharField(max_length=35, blank=True)
    filename = models.CharField(max_length=255)
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.filename}"


class PrivateName(models.Model):
    """A name an owner listed for pseudonymisation (staff, places, employers): only a keyed hash
    of its folded form is kept, so the list is never shown back, nor readable from the
    database; `studies.pseudonymise` finds it in a text by hashing the text's words alike."""

    class Kind(models.TextChoices):
        NAME = "name", "Name"
        PLACE = "place", "Place"
        ORGANISATION = "organisation", "Organisation"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="private_names")
    digest = models.CharField(max_length=64)
    words = models.PositiveSmallIntegerField(help_text="How many words the name has.")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.NAME)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["study", "digest"], name="privatename_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.words} words) in {self.study}"


class Pseudonym(models.Model):
    """What a pseudonym replaced in one text, kept only while the study's keep_pseudonyms is
    on, and shown only to owners."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="pseudonyms")
    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, null=True, blank=True, related_name="pseudonyms"
    )
    where = models.CharField(
        max_length=200, blank=True, help_text="The text it was in, when that is not a document."
    )
    kind = models.CharField(max_length=20)
    original = models.CharField(max_length=500)
    replacement = models.CharField(max_length=100)
    count = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "document", "replacement", "original"]

    def __str__(self) -> str:
        return f"{self.replacement} in {self.document or self.where}"


class AuditEvent(models.Model):
    """Who did what to a study, when, and through what (`studies.audit.record`). Kept when the
    study or the person is deleted, with their names as they were."""

    class Action(models.TextChoices):
        STUDY = "study", "Study changed"
        IMPORT = "import", "Import"
        CODEBOOK = "codebook", "Codebook changed"
        CODING = "coding", "Coding"
        ADJUDICATION = "adjudication", "Adjudication"
        EXPORT = "export", "Export"
        MEMBERS = "members", "Members and roles"
        PRIVACY = "privacy", "Privacy"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        SURVEY = "survey", "Survey"
        MODEL = "model", "Model call"

    study = models.ForeignKey(
        Study, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events"
    )
    study_slug = models.CharField(max_length=50, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    via = models.CharField(max_length=10, blank=True, help_text="web, api, command or job")
    action = models.CharField(max_length=20, choices=Action.choices)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["study", "action", "created_at"], name="auditevent_study_action"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.username or '-'} {self.summary}"


class APITokenQuerySet(models.QuerySet["APIToken"]):
    def active(self) -> APITokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class APIToken(models.Model):
    """A personal token for scripts (`Authorization: Token clq_...`). Only the SHA-256 of the
    secret is kept: a leaked database does not leak working tokens, and the owner sees the
    secret once, when it is made. The prefix (its first characters) tells tokens apart."""

    SCHEME = "clq_"
    PREFIX_LENGTH = 8
    # last_used_at is written at most this often, so a busy script does not write on every call.
    TOUCH_INTERVAL_SECONDS = 60

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = APITokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, *, user: object, name: str) -> tuple[APIToken, str]:
        """A new token and its secret; the secret is returned here and nowhere else."""
        secret = cls.SCHEME + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, prefix=secret[: cls.PREFIX_LENGTH], key_hash=cls.hash_of(secret)
        )
        return token, secret

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        """Record a use, at most once per TOUCH_INTERVAL_SECONDS; a conditional UPDATE, so
        concurrent requests do not each write."""
        now = timezone.now()
        stale = now - dt.timedelta(seconds=self.TOUCH_INTERVAL_SECONDS)
        if self.last_used_at is not None and self.last_used_at > stale:
            return
        APIToken.objects.filter(pk=self.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
        self.last_used_at = now


def job_result_path(job: Job, filename: str) -> str:
    # A random folder per job: a result's address is never guessable from another's.
    return f"jobs/{job.study_id}/{uuid.uuid4().hex}/{PurePosixPath(filename).name}"


class JobQuerySet(models.QuerySet["Job"]):
    def unfinished(self) -> JobQuerySet:
        return self.filter(status__in=(Job.Status.QUEUED, Job.Status.RUNNING))


class Job(models.Model):
    """Long work (an import with its sentence splitting, a paper pack, a model's training) that
    runs through the task queue (`studies.jobs`), owned by the study and the person who started
    it: its progress, its outcome, and the file it made, served to that person only."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="jobs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, help_text="What sort of work: import, pack, ...")
    title = models.CharField(max_length=200, help_text="What the job does, for its page.")
    handler = models.CharField(max_length=200, help_text="Dotted path of the function it runs.")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=200, blank=True, help_text="What it is doing now.")
    message = models.TextField(blank=True, help_text="The outcome, when it is done.")
    error = models.TextField(blank=True, help_text="Why it failed, for the person who started it.")
    next_url = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="The outcome for the API.")
    result = models.FileField(upload_to=job_result_path, blank=True, max_length=300)
    result_name = models.CharField(max_length=255, blank=True)
    result_type = models.CharField(max_length=100, blank=True)
    result_size = models.PositiveBigIntegerField(default=0)
    result_expired = models.BooleanField(default=False)
    task_id = models.CharField(max_length=64, blank=True)
    via = models.CharField(
        max_length=10, blank=True, help_text="How it was asked for (web, api): for the audit."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["study", "user", "-created_at"], name="job_study_user"),
            models.Index(fields=["status", "heartbeat_at"], name="job_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(done__lte=models.F("total")) | Q(total=0),
                name="job_progress_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("studies:job", kwargs={"slug": self.study.slug, "job_id": self.pk})

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))

    @property
    def has_file(self) -> bool:
        return bool(self.result) and not self.result_expired
