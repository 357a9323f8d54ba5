"""The demo study's surveys, written for Colloquy: a questionnaire before the workshop (`pre`) and
one after it (`post`, a wave of `pre`), in English, German and Finnish, answered by the sixty
demo participants through their private links.

The instruments are written as XLSForm workbooks and read by `surveys.xlsform`, as an owner's
would be. The answers are made up, seeded per participant so the demo is the same everywhere,
and follow what each participant said in their workshop: `mentions` counts, per participant
code, the coded segments of each quality in their turns. Those who talked about a quality rate
it as more important and rank it higher; after the workshop negotiability matters a little more
on average and trust in algorithms is a little lower. Long-text answers are composed in the
respondent's language from the sentences in `surveys.demo.texts`.

Four participants never answer `pre`; two of them answer neither; three leave `post`
unfinished. `manage.py load_demo` (in exports, which reads the codings) calls `load_surveys`.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.db import transaction
from openpyxl import Workbook

from studies.models import Participant, ParticipantValue, Study
from surveys.demo import texts
from surveys.demo.texts import LANGUAGES, QUALITIES
from surveys.models import OTHER, Answer, Invitation, Response, Survey
from surveys.services import publish_survey_texts
from surveys.xlsform import import_xlsform

MISSING_PRE = ("P11", "P24", "P36", "P53")  # never answer the first survey
MISSING_POST = ("P24", "P53")  # nor the second
DRAFTS_POST = ("P09", "P31", "P47")  # start the second survey and leave it unfinished
LANGUAGE_BY_COUNTRY = {"FI": "fi", "DE": "de"}  # everyone else answers in English
AGE_BANDS = {"18-29": (18, 29), "30-44": (30, 44), "45-59": (45, 59), "60+": (60, 79)}
# How important a quality is to someone who never mentioned it (1-5), before the workshop.
BASE_IMPORTANCE = {"explainability": 3.2, "accuracy": 3.4, "humanity": 3.0, "negotiability": 2.4}
ACCEPTED = {"hiring": 0.5, "medicine": 0.55, "justice": 0.2, "lending": 0.55, "welfare": 0.35}

Answers = dict[tuple[str, str], str]  # (question code, item) -> value


# --- The instruments --------------------------------------------------------------------------


def _row(
    kind: str,
    name: str = "",
    labels: Mapping[str, str] | None = None,
    hints: Mapping[str, str] | None = None,
    *,
    required: str = "",
    relevant: str = "",
    constraint: str = "",
    appearance: str = "",
) -> list[str]:
    return [
        kind,
        name,
        *((labels or {}).get(lang, "") for lang in LANGUAGES),
        *((hints or {}).get(lang, "") for lang in LANGUAGES),
        required,
        relevant,
        constraint,
        appearance,
    ]


def _question(kind: str, code: str, **extra: str) -> list[str]:
    return _row(kind, code, texts.QUESTIONS[code], texts.HINTS.get(code), **extra)


def _page(name: str, rows: list[list[str]]) -> list[list[str]]:
    return [
        _row("begin group", name, texts.PAGES[name], appearance="field-list"),
        *rows,
        _row("end group"),
    ]


def survey_rows(wave: str) -> list[list[str]]:
    """The XLSForm `survey` sheet of one wave: three pages."""
    matrix = [
        _row("begin group", "importance", texts.QUESTIONS["importance"], appearance="table-list"),
        *(_row("select_one importance_likert", q, texts.ROWS[q]) for q in QUALITIES),
        _row("end group"),
    ]
    views = [
        _question("select_one trust_likert", "trust", required="yes", appearance="likert"),
        *matrix,
        _question("rank qualities", "rank_qualities"),
    ]
    experience = [
        _question("select_one yes_no", "affected"),
        _question("text", "affected_story", relevant="${affected} = 'yes'", appearance="multiline"),
        _question("select_multiple domains or_other", "domains"),
    ]
    if wave == "pre":
        last = _page(
            "about_page",
            [
                _question("integer", "age", constraint=". >= 18 and . <= 99"),
                _question("text", "acceptable", appearance="multiline"),
            ],
        )
    else:
        last = _page(
            "looking_back_page",
            [
                _question("text", "acceptable", appearance="multiline"),
                _question("text", "changed", appearance="multiline"),
            ],
        )
    return [*_page("trust_page", views), *_page("experience_page", experience), *last]


def instrument(wave: str) -> bytes:
    """One wave as an XLSForm workbook, every text in English, German and Finnish."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    names = texts.LANGUAGE_NAMES
    sheet.append(
        [
            "type",
            "name",
            *(f"label::{names[lang]} ({lang})" for lang in LANGUAGES),
            *(f"hint::{names[lang]} ({lang})" for lang in LANGUAGES),
            "required",
            "relevant",
            "constraint",
            "appearance",
        ]
    )
    for row in survey_rows(wave):
        sheet.append(row)
    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", *(f"label::{names[lang]} ({lang})" for lang in LANGUAGES)])
    for list_name, options in texts.CHOICES.items():
        for code, labels in options:
            choices.append([list_name, code, *(labels[lang] for lang in LANGUAGES)])
    settings = workbook.create_sheet("settings")
    settings.append(["form_title", "form_id", "default_language"])
    settings.append([texts.TITLES[wave], wave, "English (en)"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _survey(study: Study, wave: str, say: Callable[[str], object]) -> Survey:
    survey = study.surveys.filter(slug=wave).first()
    if survey is None:
        result = import_xlsform(
            study=study, filename=f"{wave}.xlsx", data=instrument(wave), slug=wave
        )
        for warning in result.warnings:
            say(warning)
        survey = result.survey
        say(f"Survey '{survey.title}' ({wave}): {survey.questions.count()} questions.")
    return survey


# --- The respondents --------------------------------------------------------------------------


def _clamp(value: float) -> int:
    return max(1, min(5, round(value)))


@dataclass
class Respondent:
    """Everything one participant answers in both waves, drawn once from their own seed."""

    language: str
    answers: dict[str, Answers] = field(default_factory=dict)
    timing: dict[str, tuple[dt.datetime, dt.datetime]] = field(default_factory=dict)


def respondent(
    participant: Participant, mentions: Mapping[str, int], variables: Mapping[str, str]
) -> Respondent:
    rng = random.Random(f"colloquy-demo-survey/{participant.code}")
    workshop = participant.workshop
    language = LANGUAGE_BY_COUNTRY.get(str(workshop.country), "en")
    said = {q: min(mentions.get(q, 0), 3) for q in QUALITIES}

    importance = {
        q: _clamp(BASE_IMPORTANCE[q] + 0.5 * said[q] + rng.gauss(0, 0.7)) for q in QUALITIES
    }
    later = dict(importance)
    for q in QUALITIES:
        if q == "negotiability":
            later[q] = _clamp(
                importance[q] + rng.choices([-1, 0, 1, 2], [0.05, 0.55, 0.35, 0.05])[0]
            )
        else:
            later[q] = _clamp(importance[q] + rng.choices([-1, 0, 1], [0.15, 0.7, 0.15])[0])
    trust = _clamp(3.3 + rng.gauss(0, 0.9) - (0.6 if said["negotiability"] >= 2 else 0))
    trust_later = _clamp(trust + rng.choices([-1, 0, 1], [0.35, 0.55, 0.1])[0])

    def ranking(scores: Mapping[str, int]) -> list[str]:
        keys = {q: scores[q] + 0.2 * said[q] + 0.8 * rng.random() for q in QUALITIES}
        return sorted(QUALITIES, key=lambda q: -keys[q])

    rank, rank_later = ranking(importance), ranking(later)

    p_yes = {"a lot": 0.55, "some": 0.35}.get(variables.get("experience with AI decisions"), 0.2)
    roll = rng.random()
    affected = "yes" if roll < p_yes else "no" if roll < p_yes + (1 - p_yes) * 0.7 else "not_sure"

    lean = 0.08 * (trust - 3) - (0.1 if said["negotiability"] >= 2 else 0)
    domains = [d for d, p in ACCEPTED.items() if rng.random() < p + lean]
    domains_later = [d for d in texts.DOMAINS if (d in domains) != (rng.random() < 0.1)]
    other = rng.choice(texts.OTHER_AREAS[language]) if rng.random() < 0.12 else ""

    low, high = AGE_BANDS.get(variables.get("age band", ""), (25, 65))
    age = rng.randint(low, high)

    def acceptable(order: list[str]) -> str:
        sentences = [rng.choice(texts.ACCEPTABLE[language][q]) for q in order[:2]]
        if rng.random() < 0.5:
            sentences.append(rng.choice(texts.CLOSERS[language]))
        return " ".join(sentences)

    event = rng.choice(texts.STORY_EVENTS[language])
    feelings = rng.sample(texts.STORY_FEELINGS[language], 2)
    more = later["negotiability"] > importance["negotiability"]
    changed = rng.choice((texts.CHANGED_MORE if more else texts.CHANGED_SAME)[language])
    if trust_later < trust and rng.random() < 0.7:
        changed += " " + texts.TRUST_DOWN[language]

    def wave(scores: dict[str, int], trust_: int, order: list[str], picked: list[str]) -> Answers:
        answers: Answers = {("trust", ""): str(trust_), ("rank_qualities", ""): " ".join(order)}
        answers.update({("importance", q): str(scores[q]) for q in QUALITIES})
        answers[("affected", "")] = affected
        if picked:
            answers[("domains", "")] = " ".join(picked)
        if other:
            answers[("domains", OTHER)] = other
        return answers

    person = Respondent(language=language)
    pre = wave(importance, trust, rank, domains)
    post = wave(later, trust_later, rank_later, domains_later)
    if affected == "yes":
        pre[("affected_story", "")] = f"{event} {feelings[0]}"
        post[("affected_story", "")] = f"{event} {feelings[1]}"
    pre[("age", "")] = str(age)
    pre[("acceptable", "")] = acceptable(rank)
    post[("acceptable", "")] = acceptable(rank_later)
    post[("changed", "")] = changed
    person.answers = {"pre": pre, "post": post}

    day = workshop.date or dt.date(2025, 3, 1)
    for name, offset in (("pre", -rng.randint(2, 10)), ("post", rng.randint(1, 14))):
        moment = dt.datetime.combine(
            day + dt.timedelta(days=offset),
            dt.time(rng.randint(8, 21), rng.randint(0, 59)),
            tzinfo=dt.UTC,
        )
        person.timing[name] = (moment, moment + dt.timedelta(minutes=rng.randint(4, 16)))
    return person


def _variables(study: Study) -> dict[int, dict[str, str]]:
    values: dict[int, dict[str, str]] = {}
    for participant_id, name, value in ParticipantValue.objects.filter(
        participant__study=study
    ).values_list("participant_id", "variable__name", "value"):
        values.setdefault(participant_id, {})[name] = value
    return values


# --- Loading ----------------------------------------------------------------------------------


def _invite(survey: Survey, participants: list[Participant]) -> dict[int, Invitation]:
    invited = {i.participant_id: i for i in survey.invitations.all()}
    new = [
        Invitation(
            survey=survey,
            participant=p,
            language=LANGUAGE_BY_COUNTRY.get(str(p.workshop.country), "en"),
        )
        for p in participants
        if p.pk not in invited
    ]
    Invitation.objects.bulk_create(new)
    invited.update({i.participant_id: i for i in new})
    return invited


def _respond(
    survey: Survey,
    participants: list[Participant],
    people: dict[int, Respondent],
    invitations: dict[int, Invitation],
) -> tuple[int, int]:
    """Create the responses that are missing: (submitted, unfinished)."""
    answered = set(survey.responses.values_list("participant_id", flat=True))
    wave = survey.slug
    questions = {q.code: q for q in survey.questions.all()}
    last_page = survey.pages.count() - 1
    responses: list[Response] = []
    for participant in participants:
        code = participant.code
        if participant.pk in answered or (wave == "pre" and code in MISSING_PRE):
            continue
        if wave == "post" and code in MISSING_POST:
            continue
        draft = wave == "post" and code in DRAFTS_POST
        started, finished = people[participant.pk].timing[wave]
        responses.append(
            Response(
                survey=survey,
                participant=participant,
                invitation=invitations[participant.pk],
                language=people[participant.pk].language,
                page=1 if draft else last_page,
                submitted_at=None if draft else finished,
                source="link",
            )
        )
    Response.objects.bulk_create(responses)
    answers: list[Answer] = []
    for response in responses:
        person = people[response.participant_id]
        started, finished = person.timing[wave]
        # auto_now_add stamped them with today; a respondent took the survey back then.
        response.started_at, response.updated_at = started, finished
        for (code, item), value in person.answers[wave].items():
            if response.submitted_at is None and code not in ("trust", "importance"):
                continue  # a draft stopped after the first page's ratings
            answers.append(
                Answer(response=response, question=questions[code], item=item, value=value)
            )
    Response.objects.bulk_update(responses, ["started_at", "updated_at"])
    Answer.objects.bulk_create(answers, batch_size=500)
    if responses:
        publish_survey_texts(
            survey=survey,
            participants=[r.participant for r in responses if r.submitted_at is not None],
        )
    drafts = sum(1 for r in responses if r.submitted_at is None)
    return len(responses) - drafts, drafts


def load_surveys(
    study: Study, say: Callable[[str], object], *, mentions: Mapping[str, Mapping[str, int]]
) -> None:
    """Create the two surveys, invite every participant and add the answers that are missing;
    running it again changes nothing. `mentions`: participant code -> quality -> the number of
    coded segments of that quality in the participant's turns."""
    with transaction.atomic():
        pre = _survey(study, "pre", say)
        post = _survey(study, "post", say)
        if post.wave_of_id != pre.pk:
            post.wave_of = pre
            post.save(update_fields=["wave_of"])
        participants = list(study.participants.select_related("workshop").order_by("code"))
        variables = _variables(study)
        people = {
            p.pk: respondent(p, mentions.get(p.code, {}), variables.get(p.pk, {}))
            for p in participants
        }
        for survey in (pre, post):
            invitations = _invite(survey, participants)
            submitted, drafts = _respond(survey, participants, people, invitations)
            if submitted or drafts:
                say(
                    f"{survey.title}: {len(invitations)} invited, {submitted} answered"
                    + (f", {drafts} unfinished" if drafts else "")
                    + "."
                )
