"""Distribution: the one place that makes a survey's links, sends them, counts progress and
writes the links file for a mail merge. The owner's pages, the API and commands all call these.

A participant's link is an `Invitation` (one per participant and survey, an unguessable token);
a survey that allows anonymous answers also has one shared link, `Survey.anonymous_token`, and
each anonymous respondent gets a response of their own. Progress counts responses, not links:
a response imported from a file counts as completed for its participant's workshop even though
no link was sent.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils import timezone

from studies.models import Participant
from studies.sheets import write_csv
from studies.wording import plural
from surveys.models import Invitation, Response, Survey, new_token

ANONYMOUS_SOURCE = "anonymous link"

# Statuses of a link, in the order a respondent moves through them.
INVITED = "invited"
STARTED = "started"
COMPLETED = "completed"

# A roster variable under one of these names (any case) holds a participant's e-mail address;
# a new link takes it, and the owner can change it on the links page.
EMAIL_VARIABLES = ("email", "e-mail", "email address", "e-mail address", "mail")

# The e-mail that carries a link, in the languages of the study's workshops; any other
# language falls back to English (as the respondent's pages do, surveys.forms.WORDS).
MAIL_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Survey: {title}",
        "body": "Hello,\n\nplease answer the survey “{title}” through your personal link:\n\n"
        "{url}\n\nYour answers are saved page by page, so you can stop and come back through "
        "the same link. Please do not share it: it is yours alone.{closes}\n\nThank you!\n",
        "closes": "\n\nThe survey closes on {date}.",
    },
    "de": {
        "subject": "Umfrage: {title}",
        "body": "Guten Tag,\n\nbitte beantworten Sie die Umfrage „{title}“ über Ihren "
        "persönlichen Link:\n\n{url}\n\nIhre Antworten werden Seite für Seite gespeichert; "
        "Sie können aufhören und über denselben Link weitermachen. Bitte geben Sie den Link "
        "nicht weiter: Er gilt nur für Sie.{closes}\n\nVielen Dank!\n",
        "closes": "\n\nDie Umfrage schließt am {date}.",
    },
    "fi": {
        "subject": "Kysely: {title}",
        "body": "Hei,\n\nvastaathan kyselyyn ”{title}” henkilökohtaisen linkkisi kautta:\n\n"
        "{url}\n\nVastauksesi tallentuvat sivu kerrallaan, joten voit keskeyttää ja jatkaa "
        "samasta linkistä. Älä jaa linkkiä: se on vain sinun.{closes}\n\nKiitos!\n",
        "closes": "\n\nKysely sulkeutuu {date}.",
    },
}


def mail_words(language: str) -> dict[str, str]:
    base = language.split("-")[0].lower()
    return {**MAIL_WORDS["en"], **MAIL_WORDS.get(base, {})}


# --- Links ------------------------------------------------------------------------------------


def language_for(survey: Survey, participant: Participant) -> str:
    """A participant's link language: their workshop's language (the roster records it there)
    when the survey is offered in it, matching 'en-GB' to 'en' if need be; otherwise the
    language the survey is written in."""
    offered = survey.language_list
    wanted = participant.workshop.language if participant.workshop_id else ""
    if wanted in offered:
        return wanted
    base = wanted.split("-")[0].lower()
    for language in offered:
        if language.split("-")[0].lower() == base:
            return language
    return survey.language


def roster_emails(participants: Iterable[Participant]) -> dict[int, str]:
    """Participant id -> the e-mail address the roster gives, where it gives a valid one."""
    found = {}
    for participant in participants:
        for value in participant.values.all():
            if value.variable.name.strip().lower() in EMAIL_VARIABLES and value.value.strip():
                try:
                    validate_email(value.value.strip())
                except ValidationError:
                    continue
                found[participant.pk] = value.value.strip()
    return found


def create_links(
    survey: Survey,
    participants: Iterable[Participant] | None = None,
    *,
    language: str | None = None,
) -> int:
    """A link for every participant (of the survey's study; all of them by default) who has
    none yet; returns how many were made. Running it again makes none: idempotent."""
    if language is not None and language not in survey.language_list:
        offered = ", ".join(survey.language_list)
        raise ValidationError(f"{language!r} is not one of this survey's languages ({offered}).")
    chosen = Participant.objects.current().filter(study_id=survey.study_id)
    if participants is not None:
        chosen = chosen.filter(pk__in=[p.pk for p in participants])
    chosen = (
        chosen.exclude(survey_invitations__survey=survey)
        .select_related("workshop")
        .prefetch_related("values__variable")
        .order_by("pk")
    )
    with transaction.atomic():
        new = list(chosen)
        emails = roster_emails(new)
        Invitation.objects.bulk_create(
            [
                Invitation(
                    survey=survey,
                    participant=p,
                    language=language or language_for(survey, p),
                    email=emails.get(p.pk, ""),
                )
                for p in new
            ],
            ignore_conflicts=True,  # a link made meanwhile by someone else stays as it was
        )
    return len(new)


def set_email(invitation: Invitation, email: str) -> bool:
    """Change a link's e-mail address ("" removes it); True when it changed. A bad address
    raises ValidationError naming it."""
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(
                f"{email!r} is not an e-mail address (for {invitation.participant.code})."
            ) from None
    if email == invitation.email:
        return False
    invitation.email = email
    invitation.save(update_fields=["email"])
    return True


def link_url(request_or_base: HttpRequest | str, invitation: Invitation) -> str:
    """The full address of a participant's link, from the request or a base URL such as
    'https://colloquy.example.org'."""
    return _absolute(request_or_base, reverse("surveys:respond", args=[invitation.token]))


def anonymous_url(request_or_base: HttpRequest | str, survey: Survey) -> str:
    """The full address of the survey's shared anonymous link, or "" when it has none."""
    if not (survey.allows_anonymous and survey.anonymous_token):
        return ""
    return _absolute(request_or_base, reverse("surveys:respond", args=[survey.anonymous_token]))


def _absolute(request_or_base: HttpRequest | str, path: str) -> str:
    if isinstance(request_or_base, str):
        return request_or_base.rstrip("/") + path
    return request_or_base.build_absolute_uri(path)


def set_anonymous(survey: Survey, allowed: bool) -> None:
    """Turn the shared anonymous link on (making its token the first time) or off. Off keeps
    the token, so turning it on again brings back the same link; `renew_anonymous_link`
    replaces it."""
    survey.allows_anonymous = allowed
    if allowed and not survey.anonymous_token:
        survey.anonymous_token = new_token()
    survey.save(update_fields=["allows_anonymous", "anonymous_token"])


def renew_anonymous_link(survey: Survey) -> None:
    """A new shared link; the old one stops working (its drafts stay in the results)."""
    survey.anonymous_token = new_token()
    survey.save(update_fields=["anonymous_token"])


NOT_OPEN = "not open yet"
OPEN = "open"
CLOSED = "closed"


def state(survey: Survey, now: datetime.datetime | None = None) -> str:
    """Whether the survey takes answers now: NOT_OPEN before its opening time, CLOSED from its
    closing time on, OPEN otherwise."""
    now = now or timezone.now()
    if survey.opens_at and now < survey.opens_at:
        return NOT_OPEN
    if survey.closes_at and now >= survey.closes_at:
        return CLOSED
    return OPEN


@dataclass(frozen=True)
class Link:
    """What a respondent's link opens: a participant's invitation, or the shared anonymous
    link of a survey (invitation None)."""

    survey: Survey
    invitation: Invitation | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.invitation is None


def open_link(token: str) -> Link:
    """The survey a token opens, or 404: a participant's link, or the anonymous link of a
    survey that allows anonymous answers (one that stopped allowing them opens nothing)."""
    invitation = (
        Invitation.objects.select_related("survey", "participant").filter(token=token).first()
    )
    if invitation is not None:
        return Link(invitation.survey, invitation)
    survey = Survey.objects.filter(anonymous_token=token, allows_anonymous=True).first()
    if token and survey is not None:
        return Link(survey)
    raise Http404("No such survey link.")


# --- Sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    sent: int = 0
    without_address: int = 0
    answered: int = 0  # links whose response is submitted: nobody needs reminding

    def summary(self) -> str:
        parts = [f"Sent {plural(self.sent, 'e-mail')}"]
        if self.without_address:
            have = "has" if self.without_address == 1 else "have"
            parts.append(f"{plural(self.without_address, 'link')} {have} no address")
        if self.answered:
            parts.append(f"{plural(self.answered, 'participant')} answered already")
        return "; ".join(parts) + "."


def message_for(invitation: Invitation, *, base_url: str) -> EmailMessage:
    """The e-mail that carries one link, in the link's language where we have words for it."""
    survey = invitation.survey
    words = mail_words(invitation.language or survey.language)
    closes = ""
    if survey.closes_at:
        day = timezone.localtime(survey.closes_at).date()
        closes = words["closes"].format(date=day.isoformat())
    return EmailMessage(
        subject=words["subject"].format(title=survey.title),
        body=words["body"].format(
            title=survey.title, url=link_url(base_url, invitation), closes=closes
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
    )


def send_links(survey: Survey, invitations: Iterable[Invitation], *, base_url: str) -> Sent:
    """E-mail each link that has an address (and whose participant has not submitted yet)
    through Django's mail framework, and note when it was sent. Links of other surveys are
    ignored."""
    ids = [i.pk for i in invitations]
    chosen = list(
        Invitation.objects.filter(survey=survey, pk__in=ids)
        .select_related("survey", "participant")
        .order_by("participant__code")
    )
    submitted = set(
        Response.objects.filter(survey=survey, participant__in=[i.participant_id for i in chosen])
        .filter(submitted_at__isnull=False)
        .values_list("participant_id", flat=True)
    )
    answered = [i for i in chosen if i.participant_id in submitted]
    without = [i for i in chosen if i.participant_id not in submitted and not i.email]
    due = [i for i in chosen if i.participant_id not in submitted and i.email]
    if due:
        with get_connection() as connection:
            connection.send_messages([message_for(i, base_url=base_url) for i in due])
        Invitation.objects.filter(pk__in=[i.pk for i in due]).update(sent_at=timezone.now())
    return Sent(sent=len(due), without_address=len(without), answered=len(answered))


def unsent(survey: Survey) -> QuerySet[Invitation]:
    """The links not e-mailed yet that have an address: what "send all unsent" sends."""
    return survey.invitations.filter(sent_at__isnull=True).exclude(email="")


# --- Progress ---------------------------------------------------------------------------------


@dataclass
class Counts:
    invited: int = 0
    started: int = 0  # a draft, not submitted
    completed: int = 0  # submitted

    def add(self, other: Counts) -> None:
        self.invited += other.invited
        self.started += other.started
        self.completed += other.completed

    @property
    def responded(self) -> int:
        return self.started + self.completed


@dataclass
class Row:
    """One workshop's or country's line of the progress table."""

    label: str
    country: str  # ISO code
    participants: int
    counts: Counts


@dataclass
class Progress:
    by_workshop: list[Row] = field(default_factory=list)
    by_country: list[Row] = field(default_factory=list)
    participants: Counts = field(default_factory=Counts)  # every participant's link and response
    roster: int = 0  # participants on the roster
    anonymous: Counts = field(default_factory=Counts)  # invited stays 0: nobody is invited

    @property
    def total(self) -> Counts:
        both = Counts()
        both.add(self.participants)
        both.add(self.anonymous)
        return both


def progress(survey: Survey) -> Progress:
    """Invited (links made), started (drafts) and completed (submitted) per workshop, per
    country and in total; anonymous responses counted apart. Four queries, whatever the size."""
    workshops = list(
        survey.study.workshops.annotate(n=Count("participants")).order_by("country", "code")
    )
    invited = dict(
        survey.invitations.values("participant__workshop")
        .annotate(n=Count("pk"))
        .values_list("participant__workshop", "n")
    )
    answered = {
        row["participant__workshop"]: row
        for row in survey.responses.filter(participant__isnull=False)
        .values("participant__workshop")
        .annotate(
            started=Count("pk", filter=Q(submitted_at__isnull=True)),
            completed=Count("pk", filter=Q(submitted_at__isnull=False)),
        )
    }
    anonymous = survey.responses.filter(participant__isnull=True).aggregate(
        started=Count("pk", filter=Q(submitted_at__isnull=True)),
        completed=Count("pk", filter=Q(submitted_at__isnull=False)),
    )
    result = Progress(anonymous=Counts(0, anonymous["started"], anonymous["completed"]))
    countries: dict[str, Row] = {}
    for workshop in workshops:
        done = answered.get(workshop.pk, {})
        counts = Counts(
            invited.get(workshop.pk, 0), done.get("started", 0), done.get("completed", 0)
        )
        country = str(workshop.country)
        result.by_workshop.append(Row(workshop.code, country, workshop.n, counts))
        row = countries.setdefault(
            country, Row(workshop.country.name or country, country, 0, Counts())
        )
        row.participants += workshop.n
        result.roster += workshop.n
        row.counts.add(counts)
        result.participants.add(counts)
    result.by_country = list(countries.values())
    return result


def totals(surveys: Iterable[Survey]) -> dict[int, Counts]:
    """Survey id -> its total counts (participants and anonymous together), in two queries:
    for the list of a study's surveys."""
    ids = [s.pk for s in surveys]
    invited = dict(
        Invitation.objects.filter(survey_id__in=ids)
        .values("survey")
        .annotate(n=Count("pk"))
        .values_list("survey", "n")
    )
    responses = {
        row["survey"]: row
        for row in Response.objects.filter(survey_id__in=ids)
        .values("survey")
        .annotate(
            started=Count("pk", filter=Q(submitted_at__isnull=True)),
            completed=Count("pk", filter=Q(submitted_at__isnull=False)),
        )
    }
    return {
        pk: Counts(
            invited.get(pk, 0),
            responses.get(pk, {}).get("started", 0),
            responses.get(pk, {}).get("completed", 0),
        )
        for pk in ids
    }


def statuses(survey: Survey) -> dict[int, str]:
    """Participant id -> STARTED or COMPLETED for those who have a response."""
    return {
        participant: COMPLETED if submitted else STARTED
        for participant, submitted in survey.responses.filter(
            participant__isnull=False
        ).values_list("participant", "submitted_at")
    }


def status_of(invitation: Invitation, found: dict[int, str]) -> str:
    return found.get(invitation.participant_id, INVITED)


def links(survey: Survey) -> list[tuple[Invitation, str]]:
    """Every link of the survey with its status, by workshop and participant code."""
    found = statuses(survey)
    return [
        (invitation, status_of(invitation, found))
        for invitation in survey.invitations.select_related(
            "participant", "participant__workshop"
        ).order_by("participant__workshop__code", "participant__code")
    ]


# --- The links file ---------------------------------------------------------------------------

LINKS_CSV_HEADERS = [
    "participant",
    "workshop",
    "country",
    "language",
    "email",
    "url",
    "status",
    "sent_at",
]


def links_csv(survey: Survey, base_url: str) -> bytes:
    """The links for a mail merge: one row per participant's link, UTF-8 with a BOM so that
    Excel reads the accents, cells guarded against formulas (studies.sheets)."""
    rows = [
        [
            invitation.participant.code,
            invitation.participant.workshop.code,
            str(invitation.participant.workshop.country),
            invitation.language or survey.language,
            invitation.email,
            link_url(base_url, invitation),
            status,
            invitation.sent_at.isoformat() if invitation.sent_at else "",
        ]
        for invitation, status in links(survey)
    ]
    return write_csv(LINKS_CSV_HEADERS, rows, bom=True)
