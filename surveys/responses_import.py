"""Importing responses collected elsewhere (a paper survey typed in, another tool's export).

A response file is a `.csv` or `.xlsx` table: the first column holds the participant's code (or an
alias from the roster), every other column one question (header = the question's code or its
label in any of the survey's languages; `code/row` or `code_row` for a matrix row). Cells become
answers exactly as the respondent's pages store them: option codes for closed questions, ISO dates,
plain numbers.

As with the roster, `plan_responses` reads and checks the whole file writing nothing, and
`apply_responses` writes the checked plan in one transaction: a bad value anywhere leaves the
database as it was. The browser's preview asks the plan for every problem at once
(`collect=True`) and lets the owner change which question a column answers (`mapping`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from studies.audit import record
from studies.importers import FileRejected, TableRow, read_table
from studies.models import AuditEvent, Participant, Study
from studies.services import check_upload_size, parse_number
from studies.wording import plural
from surveys.models import OTHER, Answer, Option, Question, Response, Survey
from surveys.pseudonymise import CleanedAnswers, attach_mapping, clean_answers, is_free_text
from surveys.pseudonymise import summary as pseudonymised_summary
from surveys.services import publish_survey_texts

SOURCE = "import"
LIKERT = {Question.Kind.LIKERT5, Question.Kind.LIKERT7}
SEPARATORS_RE = re.compile(r"[;,]")
DATE_RE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
MAX_LISTED = 12
SAMPLE_ROWS = 5
IGNORE = ""  # a mapping's value for a column that answers nothing


def _fold(text: str) -> str:
    """Case- and space-insensitive: 'Strongly  Agree ' and 'strongly agree' are the same."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Target:
    question: Question
    item: str = ""


@dataclass(frozen=True)
class Problem:
    """One thing in the file that stops the import: where it is, the value, and why."""

    row: int
    column: str
    value: str
    reason: str
    message: str  # the whole one-line message: file, row, column and reason


@dataclass
class ResponsesPlan:
    filename: str
    survey: Survey
    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # header -> question code[/item]
    columns_ignored: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # participants whose response is replaced
    created: list[str] = field(default_factory=list)  # participants answering for the first time
    headers: list[str] = field(default_factory=list)  # as written, the participant's first
    sample: list[TableRow] = field(default_factory=list)  # the first rows, for a preview
    problems: list[Problem] = field(default_factory=list)  # only when planned with collect=True
    # What will be written: (participant, [(question, item, value)]), resolved while planning.
    _responses: list[tuple[Participant, list[tuple[Question, str, str]]]] = field(
        default_factory=list, repr=False
    )
    # Each response's free texts as pseudonymised while planning (the values above are those).
    _cleaned: list[CleanedAnswers] = field(default_factory=list, repr=False)

    @property
    def answers_pseudonymised(self) -> int:
        """How many answers had personal data replaced."""
        return sum(len(c.changed) for c in self._cleaned)

    def summary(self) -> str:
        text = f"Imported {plural(self.rows, 'response')} to {self.survey.slug}"
        if self.replaced:
            text += f" ({plural(len(self.replaced), 'earlier response')} replaced)"
        if self.columns_ignored:
            names = ", ".join(f"'{h}'" for h in self.columns_ignored)
            text += f"; {plural(len(self.columns_ignored), 'column')} ignored: {names}"
        if self.answers_pseudonymised:
            text += f"; {pseudonymised_summary(self._cleaned)}"
        return text + "."


# --- Columns ----------------------------------------------------------------------------------


def _texts(obj: Question | Option, main: str) -> list[str]:
    return [main, *(t.text for t in obj.translations.all())]


def _column_index(questions: list[Question]) -> dict[str, Target]:
    """Every header that names a question (or a matrix row), folded. Codes win over labels."""
    by_code: dict[str, Target] = {}
    by_label: dict[str, Target] = {}
    for question in questions:
        by_code[_fold(question.code)] = Target(question)
        for text in _texts(question, question.label):
            by_label.setdefault(_fold(text), Target(question))
        if question.kind == Question.Kind.MATRIX:
            for row in question.options.all():
                if row.role != Option.Role.ROW:
                    continue
                for sep in ("/", "_"):
                    by_code[_fold(f"{question.code}{sep}{row.code}")] = Target(question, row.code)
        if question.allows_other:
            by_code[_fold(f"{question.code}/{OTHER}")] = Target(question, OTHER)
            by_code[_fold(f"{question.code}{OTHER}")] = Target(question, OTHER)
    return {**by_label, **by_code}


def _target_key(target: Target) -> str:
    return target.question.code + (f"/{target.item}" if target.item else "")


def _targets(questions: list[Question]) -> dict[str, Target]:
    """Every question (or matrix row, or 'other' text) a column can answer, by its key."""
    targets: dict[str, Target] = {}
    for question in questions:
        if question.kind == Question.Kind.MATRIX:
            for row in question.options.all():
                if row.role == Option.Role.ROW:
                    targets[f"{question.code}/{row.code}"] = Target(question, row.code)
        else:
            targets[question.code] = Target(question)
        if question.allows_other:
            targets[f"{question.code}/{OTHER}"] = Target(question, OTHER)
    return targets


def column_choices(survey: Survey) -> list[tuple[str, str]]:
    """(key, label) of everything a column can answer, in the survey's order: what a mapping
    may name."""
    questions = list(survey.questions.prefetch_related("options").all())
    labels = []
    for key, target in _targets(questions).items():
        question = target.question
        if target.item == OTHER:
            text = f"{question.label} (other, please specify)"
        elif target.item:
            row = next(o for o in question.options.all() if o.code == target.item)
            text = f"{question.label}: {row.label}"
        else:
            text = question.label
        labels.append((key, f"{key} · {' '.join(text.split())[:80]}"))
    return labels


# --- Values -----------------------------------------------------------------------------------


class BadValue(ValueError):
    """A cell that is not an answer to its question; the message says what would be."""


def _choices(question: Question) -> list[Option]:
    return [o for o in question.options.all() if o.role == Option.Role.CHOICE]


def _choice_index(question: Question) -> dict[str, str]:
    """Folded code, label (any language) and, for a Likert scale, point number -> option code."""
    index: dict[str, str] = {}
    choices = _choices(question)
    for option in choices:
        for text in _texts(option, option.label):
            index.setdefault(_fold(text), option.code)
    if question.kind in LIKERT:
        for number, option in enumerate(choices, start=1):
            index.setdefault(str(number), option.code)
    for option in choices:  # a code always means itself, whatever a label says
        index[_fold(option.code)] = option.code
    return index


def _use_one_of(question: Question) -> str:
    choices = _choices(question)
    listed = ", ".join(
        o.code if _fold(o.code) == _fold(o.label) else f"{o.code} ({o.label})"
        for o in choices[:MAX_LISTED]
    )
    if len(choices) > MAX_LISTED:
        listed += f" and {len(choices) - MAX_LISTED} more"
    return f"use one of {listed}" + (" or the point's number" if question.kind in LIKERT else "")


def _one_choice(question: Question, index: dict[str, str], raw: str) -> str:
    code = index.get(_fold(raw))
    if code is None:
        raise BadValue(f"'{raw}' is not an answer to {question.code}: {_use_one_of(question)}")
    return code


def _several_choices(question: Question, index: dict[str, str], raw: str) -> str:
    whole = index.get(_fold(raw))
    if whole is not None:
        return whole
    codes: list[str] = []
    for part in SEPARATORS_RE.split(raw):
        if not part.strip():
            continue
        # A label may hold spaces ("Hiring decisions"); split on spaces only when it is not one.
        code = index.get(_fold(part))
        pieces = [(part, code)] if code else [(w, index.get(_fold(w))) for w in part.split()]
        for word, code in pieces:
            if code is None:
                raise BadValue(
                    f"'{word.strip()}' (in '{raw}') is not an answer to {question.code}: "
                    f"{_use_one_of(question)}"
                )
            if code in codes:
                if question.kind == Question.Kind.RANKING:
                    raise BadValue(f"'{raw}' ranks {code} twice: a ranking names each once")
                continue
            codes.append(code)
    return " ".join(codes)


def _number(question: Question, raw: str) -> str:
    number = parse_number(raw.strip())
    if number is None:
        raise BadValue(f"'{raw}' is not a number ({question.code} is a number question)")
    low, high = question.min_value, question.max_value
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = " to ".join("…" if b is None else _plain(b) for b in (low, high))
        raise BadValue(f"'{raw}' is outside {question.code}'s range of {bounds}")
    return _plain(number)


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def parse_answer_date(raw: str) -> dt.date:
    """ISO (2025-03-12, with or without a time), or day/month/year (12.3.2025, 12/03/2025).
    A slash date whose first two numbers could each be the month is refused: the file may be
    American (month/day/year)."""
    text = raw.strip()
    iso = text[:10] if len(text) > 10 and text[10] in "T " else text
    try:
        return dt.date.fromisoformat(iso)
    except ValueError:
        pass
    match = DATE_RE.match(text)
    if not match:
        raise BadValue(f"'{raw}' is not a date: write it as YYYY-MM-DD")
    first, second, year = (int(g) for g in match.groups())
    if "/" in text and first <= 12 and second <= 12 and first != second:
        raise BadValue(f"'{raw}' is ambiguous (day/month or month/day): write it as YYYY-MM-DD")
    day, month = (second, first) if second > 12 else (first, second)
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise BadValue(f"'{raw}' is not a date: write it as YYYY-MM-DD") from None


def _converter(question: Question, item: str) -> Callable[[str], str]:
    if is_free_text(question, item):
        return lambda raw: raw.strip()
    if question.kind == Question.Kind.NUMBER:
        return lambda raw: _number(question, raw)
    if question.kind == Question.Kind.DATE:
        return lambda raw: parse_answer_date(raw).isoformat()
    index = _choice_index(question)
    if question.kind in (Question.Kind.MULTIPLE, Question.Kind.RANKING):
        return lambda raw: _several_choices(question, index, raw)
    return lambda raw: _one_choice(question, index, raw)


# --- Participants -----------------------------------------------------------------------------


def _participant_index(study: Study) -> dict[str, Participant]:
    index: dict[str, Participant] = {}
    participants = list(study.participants.all())
    for participant in participants:
        for alias in participant.alias_list:
            index.setdefault(alias.casefold(), participant)
    for participant in participants:
        index[participant.code.casefold()] = participant
    return index


# --- Plan and apply ---------------------------------------------------------------------------


def plan_responses(
    *,
    survey: Survey,
    filename: str,
    data: bytes,
    replace: bool = False,
    mapping: dict[str, str] | None = None,
    collect: bool = False,
) -> ResponsesPlan:
    """Read and check a response file completely, writing nothing. Every problem is a
    FileRejected naming the row, the column and the value; with `collect`, the problems in
    columns and rows are gathered in `plan.problems` instead (a file that cannot be read at all
    is still refused at once).

    `mapping` overrides the matching by header: header -> a key of `column_choices`, or IGNORE.
    Columns it does not name are matched by header."""
    check_upload_size(data, filename)
    table = read_table(data, filename)
    if not table.rows:
        raise FileRejected("has a header but no response rows", filename=filename)
    if len(table.headers) < 2:
        raise FileRejected(
            "has only one column: the first column is the participant, the others the questions",
            filename=filename,
            line=1,
        )

    questions = list(
        survey.questions.prefetch_related("translations", "options__translations").all()
    )
    index = _column_index(questions)
    targets = _targets(questions)
    mapping = mapping or {}
    plan = ResponsesPlan(
        filename=filename,
        survey=survey,
        rows=len(table.rows),
        headers=list(table.headers),
        sample=table.rows[:SAMPLE_ROWS],
    )

    def refuse(reason: str, *, line: int, column: str, value: str) -> None:
        problem = FileRejected(reason, filename=filename, line=line, column=column)
        if not collect:
            raise problem
        plan.problems.append(Problem(line, column, value, reason, str(problem)))

    id_header, *answer_headers = table.headers
    mapped: dict[str, Target] = {}
    seen: dict[Target, str] = {}
    for header in answer_headers:
        if header in mapping:
            key = mapping[header]
            if key != IGNORE and key not in targets:
                raise FileRejected(
                    f"'{key}' is not a question of {survey.slug}",
                    filename=filename,
                    line=1,
                    column=header,
                )
            target = targets.get(key)
        else:
            target = index.get(_fold(header))
        if target is None:
            plan.columns_ignored.append(header)
            continue
        if target in seen:
            plan.columns[header] = _target_key(target)  # shown in a preview beside the problem
            refuse(
                f"columns '{seen[target]}' and '{header}' both answer {_target_key(target)}",
                line=1,
                column=header,
                value=header,
            )
            continue
        if target.question.kind == Question.Kind.MATRIX and not target.item:
            rows = [o.code for o in target.question.options.all() if o.role == Option.Role.ROW]
            refuse(
                f"{target.question.code} is a matrix: name one of its rows in each column's "
                f"header, e.g. '{target.question.code}/{rows[0] if rows else 'row'}'",
                line=1,
                column=header,
                value=header,
            )
            continue
        seen[target] = header
        mapped[header] = target
        plan.columns[header] = _target_key(target)
    converters = {h: _converter(t.question, t.item) for h, t in mapped.items()}

    participants = _participant_index(survey.study)
    existing = {r.participant_id: r for r in survey.responses.filter(participant__isnull=False)}
    first_row: dict[int, int] = {}
    for row in table.rows:
        raw_id = row.values[id_header].strip()
        if not raw_id:
            refuse("the participant is empty", line=row.number, column=id_header, value="")
            continue
        participant = participants.get(raw_id.casefold())
        if participant is None:
            refuse(
                f"'{raw_id}' is not a participant of {survey.study.slug} (neither a code nor an "
                "alias in the roster): import the roster first",
                line=row.number,
                column=id_header,
                value=raw_id,
            )
            continue
        if participant.withdrawn_at is not None:
            refuse(
                f"{participant.code} withdrew on {participant.withdrawn_at:%Y-%m-%d}: remove "
                "their row, as their answers are not stored again",
                line=row.number,
                column=id_header,
                value=raw_id,
            )
            continue
        if participant.pk in first_row:
            refuse(
                f"'{raw_id}' ({participant.code}) already answered in row "
                f"{first_row[participant.pk]}: one row per participant",
                line=row.number,
                column=id_header,
                value=raw_id,
            )
            continue
        first_row[participant.pk] = row.number
        earlier = existing.get(participant.pk)
        if earlier is not None:
            if earlier.is_submitted and not replace:
                refuse(
                    f"{participant.code} has already submitted a response to {survey.slug}: "
                    "import with replace to replace it",
                    line=row.number,
                    column=id_header,
                    value=raw_id,
                )
                continue
            plan.replaced.append(participant.code)
        else:
            plan.created.append(participant.code)
        answers: list[tuple[Question, str, str]] = []
        for header, target in mapped.items():
            raw = row.values[header]
            if not raw.strip():
                continue  # an empty cell is a missing answer
            try:
                value = converters[header](raw)
            except BadValue as exc:
                refuse(str(exc), line=row.number, column=header, value=raw)
                continue
            if value:
                answers.append((target.question, target.item, value))
        # Free texts are pseudonymised now, so the preview says what the import will store.
        language = earlier.language if earlier is not None else ""
        cleaned = clean_answers(
            Response(survey=survey, participant=participant, language=language), answers
        )
        answers = [(q, i, value) for (q, i, _), value in zip(answers, cleaned.values, strict=True)]
        plan._cleaned.append(cleaned)
        plan._responses.append((participant, answers))
    return plan


def apply_responses(
    *, plan: ResponsesPlan, imported_by: AbstractBaseUser | None = None
) -> ResponsesPlan:
    """Write a checked plan in one transaction: each participant's response, submitted now,
    replacing their earlier one (a draft, or a submitted one the plan was told to replace).
    A plan with problems writes nothing."""
    if plan.problems:
        first = plan.problems[0]
        raise FileRejected(
            first.reason,
            filename=plan.filename,
            line=first.row,
            column=first.column,
        )
    now = timezone.now()
    survey = plan.survey
    with transaction.atomic():
        existing = {
            r.participant_id: r
            for r in Response.objects.select_for_update().filter(
                survey=survey, participant__in=[p for p, _ in plan._responses]
            )
        }
        answers: list[Answer] = []
        written: list[Response] = []
        for participant, rows in plan._responses:
            response = existing.get(participant.pk)
            if response is None:
                response = Response(survey=survey, participant=participant)
            else:
                response.answers.all().delete()
            response.submitted_at = now
            response.source = SOURCE
            response.imported_by = imported_by
            response.save()
            written.append(response)
            answers.extend(
                Answer(response=response, question=q, item=item, value=value)
                for q, item, value in rows
            )
        Answer.objects.bulk_create(answers)
        for cleaned in plan._cleaned:
            cleaned.keep(user=imported_by)  # what each pseudonym replaced, if the study keeps it
        # Long-text answers become survey text documents, in the same transaction.
        publish_survey_texts(
            survey=survey, participants=[p for p, _ in plan._responses], filename=plan.filename
        )
        attach_mapping(survey, written)
        record(
            survey.study,
            AuditEvent.Action.IMPORT,
            plan.summary().rstrip(".") + f" from {plan.filename}",
            user=imported_by,
            details={
                "survey": survey.pk,
                "file": plan.filename,
                "responses": plan.rows,
                "replaced": len(plan.replaced),
            },
        )
    return plan


def import_responses(
    *,
    survey: Survey,
    filename: str,
    data: bytes,
    replace: bool = False,
    imported_by: AbstractBaseUser | None = None,
) -> ResponsesPlan:
    plan = plan_responses(survey=survey, filename=filename, data=data, replace=replace)
    return apply_responses(plan=plan, imported_by=imported_by)
