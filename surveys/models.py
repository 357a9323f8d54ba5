"""Survey instruments, their private links, and the responses given through them.

`Survey(study, slug, title)`, `Question(survey, code, kind)`, `Option(question, code, label)`,
`Invitation(survey, participant, token)`, `Response(survey, participant, submitted_at)` and
`Answer(response, question, value)` are read by outside scripts (DESIGN.md); keep those names.

Texts are written in the survey's first language; `Translation` holds the others. Answers to
closed questions are stored as option codes, never as labels, so that they compare across
languages: one code for a single choice, a Likert point or a matrix row's rating; the codes
separated by spaces for a multiple choice (as XLSForm writes select_multiple) and for a ranking
(in rank order). A matrix has one Answer per row (`item` names the row); "other, please specify"
text is the Answer whose item is `OTHER`.

A submitted response's long-text answers also become a Document of kind survey text
(`Response.document`), so that they are coded, searched and counted like what participants say
in the workshops.

Display logic (`relevant`) is an expression in the XLSForm subset that `surveys.logic`
evaluates on the server, e.g. `${trust} >= 3 and selected(${domains}, 'hiring')`.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.text import slugify

from studies.models import Document, Participant, Study, language_list, validate_language_list

CODE_HELP = "Letters, digits and underscores, starting with a letter (as in XLSForm names)."
OTHER = "_other"


def validate_code(value: str) -> None:
    if not value or not (value[0].isalpha() and value.replace("_", "a").isalnum()):
        raise ValidationError(f"{value!r} is not a code: {CODE_HELP}")


# Survey slugs that would name one of the Surveys section's own addresses
# (studies/<slug>/surveys/new/, .../import/, and the API's .../surveys/import/).
RESERVED_SLUGS = frozenset({"new", "import"})


def slug_problem(study: Study, slug: str, *, survey: Survey | None = None) -> str | None:
    """Why `slug` cannot name a (new or, with `survey`, this) survey of `study`, or None."""
    if slug in RESERVED_SLUGS:
        return f"'{slug}' names a page of the Surveys section: choose another short name."
    taken = Survey.objects.filter(study=study, slug=slug)
    if survey is not None and survey.pk:
        taken = taken.exclude(pk=survey.pk)
    if taken.exists():
        return f"The study has a survey called '{slug}' already."
    return None


def free_slug(study: Study, wanted: str, *, survey: Survey | None = None) -> str:
    """A slug made from `wanted` (a title or a form id) that no survey of `study` uses and
    that is not reserved: "-2", "-3" ... added as needed."""
    base = slugify(wanted)[:45].strip("-") or "survey"
    slug, number = base, 2
    while slug_problem(study, slug, survey=survey):
        slug, number = f"{base}-{number}", number + 1
    return slug


class Survey(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="surveys")
    slug = models.SlugField(max_length=50)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    languages = models.CharField(
        max_length=200,
        default="en",
        validators=[validate_language_list],
        help_text="BCP 47 tags, comma-separated; the first is the language the texts are "
        "written in, the others are translations.",
    )
    wave_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="waves",
        help_text="A later wave of this survey (post after pre): the same questions, so that "
        "change per participant can be computed.",
    )
    allows_anonymous = models.BooleanField(
        default=False, help_text="Also answerable through one shared link, without a participant."
    )
    anonymous_token = models.CharField(max_length=64, blank=True)
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "created_at", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["study", "slug"], name="survey_unique_slug"),
            models.CheckConstraint(
                condition=Q(opens_at__isnull=True)
                | Q(closes_at__isnull=True)
                | Q(opens_at__lt=models.F("closes_at")),
                name="survey_opens_before_it_closes",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def language_list(self) -> list[str]:
        return language_list(self.languages) or ["en"]

    @property
    def language(self) -> str:
        return self.language_list[0]


class Page(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="pages")
    order = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200, blank=True)
    relevant = models.CharField(
        max_length=1000, blank=True, help_text="Shown only when this condition holds."
    )

    class Meta:
        ordering = ["survey", "order", "pk"]

    def __str__(self) -> str:
        return self.title or f"Page {self.order + 1}"


class Question(models.Model):
    class Kind(models.TextChoices):
        LIKERT5 = "likert5", "Likert, 5 points"
        LIKERT7 = "likert7", "Likert, 7 points"
        SINGLE = "single", "Single choice"
        MULTIPLE = "multiple", "Multiple choice"
        RANKING = "ranking", "Ranking"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        TEXT = "text", "Short text"
        LONG_TEXT = "long_text", "Long text"
        MATRIX = "matrix", "Matrix (one rating per row)"

    CLOSED = {Kind.LIKERT5, Kind.LIKERT7, Kind.SINGLE, Kind.MULTIPLE, Kind.RANKING, Kind.MATRIX}

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    page = models.ForeignKey(
        Page, on_delete=models.SET_NULL, null=True, blank=True, related_name="questions"
    )
    code = models.CharField(max_length=64, validators=[validate_code], help_text=CODE_HELP)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    label = models.TextField()
    help_text = models.TextField(blank=True)
    required = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)
    relevant = models.CharField(
        max_length=1000, blank=True, help_text="Shown (and required) only when this holds."
    )
    allows_other = models.BooleanField(
        default=False, help_text='A multiple choice with "other, please specify".'
    )
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["survey", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "code"], name="question_unique_code"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=models.F("max_value")),
                name="question_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_closed(self) -> bool:
        return self.kind in self.CLOSED


class Option(models.Model):
    """A choice of a closed question, or (role ROW) a row of a matrix, whose choices are the
    matrix question's own options."""

    class Role(models.TextChoices):
        CHOICE = "choice", "Choice"
        ROW = "row", "Matrix row"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    role = models.CharField(max_length=6, choices=Role.choices, default=Role.CHOICE)
    code = models.CharField(max_length=64, validators=[validate_code], help_text=CODE_HELP)
    label = models.CharField(max_length=500)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["question", "role", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["question", "role", "code"], name="option_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.question.code}={self.code}"


class Translation(models.Model):
    """A page's, question's or option's text in one more of the survey's languages."""

    page = models.ForeignKey(
        Page, on_delete=models.CASCADE, null=True, blank=True, related_name="translations"
    )
    question = models.ForeignKey(
        Question, on_delete=models.CASCADE, null=True, blank=True, related_name="translations"
    )
    option = models.ForeignKey(
        Option, on_delete=models.CASCADE, null=True, blank=True, related_name="translations"
    )
    language = models.CharField(max_length=35)
    text = models.TextField(help_text="The title, label or option text.")
    help_text = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(page__isnull=False, question__isnull=True, option__isnull=True)
                | Q(page__isnull=True, question__isnull=False, option__isnull=True)
                | Q(page__isnull=True, question__isnull=True, option__isnull=False),
                name="translation_one_target",
            ),
            models.UniqueConstraint(
                fields=["page", "language"],
                condition=Q(page__isnull=False),
                name="translation_unique_page",
            ),
            models.UniqueConstraint(
                fields=["question", "language"],
                condition=Q(question__isnull=False),
                name="translation_unique_question",
            ),
            models.UniqueConstraint(
                fields=["option", "language"],
                condition=Q(option__isnull=False),
                name="translation_unique_option",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.language}: {self.text[:40]}"


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Invitation(models.Model):
    """A participant's private link to a survey: an unguessable token, no account needed."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="survey_invitations"
    )
    token = models.CharField(max_length=64, unique=True, default=new_token)
    language = models.CharField(max_length=35, blank=True)
    email = models.EmailField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["survey", "participant"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "participant"], name="invitation_one_per_participant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey} for {self.participant}"


class Response(models.Model):
    """One respondent's answers: a draft until submitted (then the link cannot change it)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    participant = models.ForeignKey(
        Participant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="survey_responses",
    )
    invitation = models.OneToOneField(
        Invitation, on_delete=models.SET_NULL, null=True, blank=True, related_name="response"
    )
    language = models.CharField(max_length=35, blank=True)
    page = models.PositiveIntegerField(default=0, help_text="Where a draft resumes.")
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(
        max_length=20, default="link", help_text="link, anonymous link, or import"
    )
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    document = models.OneToOneField(
        Document,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_response",
        help_text="The long-text answers as a document (kind survey text), made on submission "
        "by surveys.services.publish_text_answers.",
    )

    class Meta:
        ordering = ["survey", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "participant"],
                condition=Q(participant__isnull=False),
                name="response_one_per_participant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey} by {self.participant or 'anonymous'}"

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    item = models.CharField(
        max_length=64, blank=True, help_text="A matrix row's code, or _other for 'other' text."
    )
    value = models.TextField()

    class Meta:
        ordering = ["response", "question", "item"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question", "item"], name="answer_unique_item"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question.code}{'.' + self.item if self.item else ''}={self.value[:30]}"
