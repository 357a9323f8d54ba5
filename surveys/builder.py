"""Building an instrument: the one place that adds, changes, moves and deletes a survey's pages,
questions, options and translations. The builder's pages and the API both call these.

Every function runs in one transaction and raises `django.core.exceptions.ValidationError`
with a message per field (`code`, `kind`, `relevant`, `options`, `rows`, ...) when the change
is refused; then nothing was written. Two rules hold everywhere:

- Display logic stays sound: a change (a new condition, a renamed or deleted question, a move)
  that would make any condition refer to an unknown question or to one that comes later is
  refused, with `surveys.logic`'s message naming the condition and the reference.
- Answers are kept: a question that has answers keeps its kind, and an option (or matrix row)
  that answers use is not removed; the message says how many answers use it.

Questions are numbered in the order the respondent meets them: pages in order, each page's
questions in order, the questions without a page last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from surveys.logic import survey_problems
from surveys.models import Answer, Option, Page, Question, Survey, Translation, validate_code

Kind = Question.Kind
LIKERT = {Kind.LIKERT5: 5, Kind.LIKERT7: 7}
CHOICE_KINDS = {Kind.SINGLE, Kind.MULTIPLE, Kind.RANKING}
DEFAULT_LIKERT_LABELS = {
    5: ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"],
    7: [
        "Strongly disagree",
        "Disagree",
        "Somewhat disagree",
        "Neither agree nor disagree",
        "Somewhat agree",
        "Agree",
        "Strongly agree",
    ],
}
DEFAULT_MATRIX_POINTS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]
OPTION_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]*$")
OPTION_CODE_HELP = "letters, digits and underscores (digits alone are fine, as in 1 to 5)"

Pairs = list[tuple[str, str]]


def likert_defaults(kind: str) -> Pairs:
    """A Likert scale's points as (code, label): codes 1..n, every point labelled."""
    labels = DEFAULT_LIKERT_LABELS[LIKERT[kind]]
    return [(str(n), label) for n, label in enumerate(labels, start=1)]


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


# Options written as lines "code = label"


def parse_option_lines(text: str, *, what: str = "option") -> Pairs:
    """`code = label` lines as (code, label) pairs; blank lines are skipped. A line without
    `=` is a label whose code is made from it. Raises ValidationError naming the line."""
    pairs: Pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if "=" in line:
            code, label = (part.strip() for part in line.split("=", 1))
        else:
            code, label = _code_from(line), line
        if not code or not label:
            raise ValidationError(
                f"Line {number} ({line!r}): write the {what} as 'code = label', both filled in."
            )
        pairs.append((code, label))
    return pairs


def option_lines(pairs: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"{code} = {label}" for code, label in pairs)


def _code_from(label: str) -> str:
    code = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    return code if code and code[0].isalpha() else f"o_{code}".rstrip("_")


def _check_pairs(pairs: Pairs, field: str, what: str) -> None:
    seen: set[str] = set()
    for code, label in pairs:
        if not OPTION_CODE.match(code) or len(code) > 64:
            raise ValidationError(
                {field: f"The {what} code {code!r} is not valid: use {OPTION_CODE_HELP}."}
            )
        if code in seen:
            raise ValidationError({field: f"The {what} code {code!r} is used twice."})
        if len(label) > 500:
            raise ValidationError({field: f"The {what} {code!r} has a label over 500 characters."})
        seen.add(code)


# Answers that use an option


def answers_using(question: Question, code: str, *, role: str = Option.Role.CHOICE) -> int:
    """How many answers use an option (a choice's code) or a matrix row (role ROW)."""
    answers = Answer.objects.filter(question=question)
    if role == Option.Role.ROW:
        return answers.filter(item=code).count()
    values = answers.exclude(item="_other").values_list("value", flat=True)
    return sum(1 for value in values if code in value.split())


def answer_count(question: Question) -> int:
    """How many responses answer the question."""
    return Answer.objects.filter(question=question).values("response").distinct().count()


# Display logic


def _problems(survey: Survey) -> list[str]:
    return survey_problems(Survey.objects.get(pk=survey.pk))


def _refuse_new_problems(
    survey: Survey, before: Sequence[str], *, own_name: str = "", field: str = "relevant"
) -> None:
    """Raise if the change made a condition unsound: the item's own condition's problems under
    `relevant`, problems of other items' conditions under `field`."""
    new = [problem for problem in _problems(survey) if problem not in before]
    if not new:
        return
    own = [p for p in new if own_name and p.startswith(f"{own_name}: ")]
    others = [p for p in new if p not in own]
    errors: dict[str, list[str]] = {}
    if own:
        errors["relevant"] = [p.split(": ", 1)[1] for p in own]
    if others:
        errors.setdefault(field, []).extend(others)
    raise ValidationError(errors)


# Order


def layout(survey: Survey) -> list[tuple[Page | None, list[Question]]]:
    """The survey's pages in order with their questions; the questions without a page last
    (under None), when there are any."""
    questions = list(survey.questions.order_by("order", "pk").prefetch_related("options"))
    pages = list(survey.pages.order_by("order", "pk"))
    found: list[tuple[Page | None, list[Question]]] = [
        (page, [q for q in questions if q.page_id == page.pk]) for page in pages
    ]
    loose = [q for q in questions if q.page_id is None]
    if loose:
        found.append((None, loose))
    return found


def _renumber(arrangement: Sequence[tuple[Page | None, Sequence[Question]]]) -> None:
    order = 0
    for page_order, (page, questions) in enumerate(arrangement):
        if page is not None and page.order != page_order:
            page.order = page_order
            page.save(update_fields=["order"])
        for question in questions:
            page_id = page.pk if page is not None else None
            if question.order != order or question.page_id != page_id:
                question.order, question.page_id = order, page_id
                question.save(update_fields=["order", "page"])
            order += 1


def _check_code(survey: Survey, code: str, *, exclude: int | None = None) -> None:
    try:
        validate_code(code)
    except ValidationError as error:
        raise ValidationError({"code": error.messages}) from None
    if len(code) > 64:
        raise ValidationError({"code": "A code has at most 64 characters."})
    taken = survey.questions.filter(code=code).exclude(pk=exclude).exists()
    if taken:
        raise ValidationError(
            {"code": f"The survey already has a question with the code {code!r}."}
        )


# Questions


@dataclass
class QuestionData:
    """What the owner sets on a question; options and rows as (code, label) pairs."""

    code: str
    kind: str
    label: str
    help_text: str = ""
    required: bool = False
    relevant: str = ""
    allows_other: bool = False
    min_value: float | None = None
    max_value: float | None = None
    options: Pairs | None = None  # None: keep (update) or the defaults (Likert, matrix)
    rows: Pairs | None = None


def _check_question(data: QuestionData) -> QuestionData:
    if data.kind not in Kind.values:
        raise ValidationError({"kind": f"{data.kind!r} is not a kind of question."})
    if not data.label.strip():
        raise ValidationError({"label": "A question needs a label: the text respondents read."})
    if data.kind != Kind.NUMBER:
        data.min_value = data.max_value = None
    elif (
        data.min_value is not None
        and data.max_value is not None
        and data.min_value > data.max_value
    ):
        raise ValidationError({"max_value": "The largest number is below the smallest."})
    if data.kind != Kind.MULTIPLE:
        data.allows_other = False
    return data


def _write_options(question: Question, data: QuestionData, *, new: bool) -> None:
    kind = question.kind
    if kind in LIKERT:
        options = (
            data.options if data.options is not None else (likert_defaults(kind) if new else None)
        )
        if options is not None:
            points = LIKERT[kind]
            if len(options) != points:
                raise ValidationError(
                    {
                        "options": f"A {points}-point Likert scale has {points} labelled points, "
                        f"not {len(options)}."
                    }
                )
            codes = [code for code, _label in options]
            kept = [o.code for o in question.options.filter(role=Option.Role.CHOICE)]
            if codes not in ([str(n) for n in range(1, points + 1)], kept):
                # Scores are the codes: results average them and exports label them. (A scale
                # imported with other codes keeps them.)
                raise ValidationError(
                    {
                        "options": f"The points of a Likert scale are coded 1 to {points} in "
                        f"order (found {', '.join(codes)}); change their labels only."
                    }
                )
            set_options(question, options)
    elif kind in CHOICE_KINDS:
        if data.options is not None or new:
            options = data.options or []
            least = 1 if kind == Kind.MULTIPLE else 2
            if len(options) < least:
                raise ValidationError(
                    {
                        "options": f"A {Kind(kind).label.lower()} question needs at least "
                        f"{_plural(least, 'option')}, one per line as 'code = label'."
                    }
                )
            set_options(question, options)
    elif kind == Kind.MATRIX:
        if data.options is not None or new:
            points = data.options if data.options else (DEFAULT_MATRIX_POINTS if new else [])
            if len(points) < 2:
                raise ValidationError(
                    {"options": "A matrix needs at least 2 points of its rating scale."}
                )
            set_options(question, points)
        if data.rows is not None or new:
            if not data.rows:
                raise ValidationError(
                    {"rows": "A matrix needs at least one row, one per line as 'code = label'."}
                )
            set_options(question, data.rows, role=Option.Role.ROW)
    elif new or data.options is not None:
        # Open kinds have no options; a kind change to one is refused earlier if answers exist.
        set_options(question, [])
        set_options(question, [], role=Option.Role.ROW)


def add_question(survey: Survey, data: QuestionData, *, page: Page | None = None) -> Question:
    """A new question at the end of `page` (or of the questions without a page). Likert
    questions get the default labelled points unless `data.options` gives them; a matrix gets
    Low/Medium/High points unless given. Refused (ValidationError) for a bad or taken code, a
    bad condition, a choice question without options or a matrix without rows."""
    data = _check_question(data)
    if page is not None and page.survey_id != survey.pk:
        raise ValidationError({"page": "That page belongs to another survey."})
    with transaction.atomic():
        _check_code(survey, data.code)
        before = _problems(survey)
        question = Question.objects.create(
            survey=survey,
            page=page,
            code=data.code,
            kind=data.kind,
            label=data.label,
            help_text=data.help_text,
            required=data.required,
            relevant=data.relevant.strip(),
            allows_other=data.allows_other,
            min_value=data.min_value,
            max_value=data.max_value,
            order=(survey.questions.aggregate(n=Max("order"))["n"] or 0) + 1,
        )
        _write_options(question, data, new=True)
        arrangement = layout(survey)
        _renumber(arrangement)
        _refuse_new_problems(survey, before, own_name=f"Question {question.code}")
    return question


KEEP = object()  # update_question's page: where it is


def update_question(question: Question, data: QuestionData, *, page: Any = KEEP) -> Question:
    """Change a question's code, kind, texts, condition, range, options or rows (options and
    rows None: kept), and move it to the end of another `page` (None: no page) if given.
    Refused when it has answers and the kind changes or an option that answers use goes; when
    a new code or place breaks another question's condition; or when its own condition refers
    to an unknown or later question."""
    data = _check_question(data)
    survey = question.survey
    if page is not KEEP and page is not None and page.survey_id != survey.pk:
        raise ValidationError({"page": "That page belongs to another survey."})
    with transaction.atomic():
        question = Question.objects.select_for_update().get(pk=question.pk)
        _check_code(survey, data.code, exclude=question.pk)
        if data.kind != question.kind:
            used = answer_count(question)
            if used:
                raise ValidationError(
                    {
                        "kind": f"{_plural(used, 'response')} already "
                        f"{'answers' if used == 1 else 'answer'} this question, so "
                        f"its kind stays {Kind(question.kind).label.lower()}. Add a new question "
                        "for the new kind instead."
                    }
                )
        before = _problems(survey)
        kind_changed = data.kind != question.kind
        for name in (
            "code",
            "kind",
            "label",
            "help_text",
            "required",
            "allows_other",
            "min_value",
            "max_value",
        ):
            setattr(question, name, getattr(data, name))
        question.relevant = data.relevant.strip()
        question.save()
        _write_options(question, data, new=kind_changed)
        moved = page is not KEEP and page != question.page
        if moved:
            _renumber(_to_page(question, page))
        _refuse_new_problems(
            survey,
            before,
            own_name=f"Question {question.code}",
            field="page" if moved else "code",
        )
    return question


def delete_question(question: Question) -> int:
    """Delete a question with its options, translations and answers; the number of answers
    deleted. Refused when another question's or page's condition refers to it."""
    survey = question.survey
    with transaction.atomic():
        before = _problems(survey)
        answers = Answer.objects.filter(question=question).count()
        question.delete()
        _renumber(layout(survey))
        _refuse_new_problems(survey, before, field="__all__")
    return answers


def set_options(question: Question, pairs: Pairs, *, role: str = Option.Role.CHOICE) -> None:
    """Make the question's options (or matrix rows, role ROW) exactly `pairs` (code, label),
    in that order. Options keep their translations by code; removing one that answers use is
    refused, naming how many answers use it."""
    field = "rows" if role == Option.Role.ROW else "options"
    what = "row" if role == Option.Role.ROW else "option"
    _check_pairs(pairs, field, what)
    with transaction.atomic():
        existing = {o.code: o for o in question.options.filter(role=role)}
        wanted = dict(pairs)
        for code, option in existing.items():
            if code in wanted:
                continue
            used = answers_using(question, code, role=role)
            if used:
                raise ValidationError(
                    {
                        field: f"The {what} {code!r} ({option.label}) is used by "
                        f"{_plural(used, 'answer')}, so it cannot be removed (its label can "
                        "change)."
                    }
                )
            option.delete()
        for order, (code, label) in enumerate(pairs):
            option = existing.get(code)
            if option is None:
                Option.objects.create(
                    question=question, role=role, code=code, label=label, order=order
                )
            elif option.label != label or option.order != order:
                option.label, option.order = label, order
                option.save(update_fields=["label", "order"])


# Pages


def add_page(survey: Survey, *, title: str = "", relevant: str = "") -> Page:
    """A new page at the end of the survey; refused when its condition is unsound."""
    with transaction.atomic():
        before = _problems(survey)
        page = Page.objects.create(
            survey=survey,
            title=title.strip(),
            relevant=relevant.strip(),
            order=(survey.pages.aggregate(n=Max("order"))["n"] or 0) + 1,
        )
        _renumber(layout(survey))
        page.refresh_from_db()
        _refuse_new_problems(survey, before, own_name=str(page))
    return page


def update_page(page: Page, *, title: str, relevant: str) -> Page:
    """Change a page's title and condition; refused when the condition is unsound."""
    with transaction.atomic():
        before = _problems(page.survey)
        page.title, page.relevant = title.strip(), relevant.strip()
        page.save(update_fields=["title", "relevant"])
        _refuse_new_problems(page.survey, before, own_name=str(page))
    return page


def delete_page(page: Page) -> None:
    """Delete an empty page; refused while questions are on it (move or delete them first)."""
    n = page.questions.count()
    if n:
        raise ValidationError(
            f"{page} holds {_plural(n, 'question')}: move them to another page or delete them "
            "first."
        )
    with transaction.atomic():
        survey = page.survey
        page.delete()
        _renumber(layout(survey))


# Moving


def move(item: Question | Page, direction: str) -> None:
    """Move a question or page one place "up" or "down". A question at the top of its page
    moves up to the end of the page before, at the bottom down to the start of the next one.
    Refused when a condition would then refer to a question that comes later."""
    if direction not in ("up", "down"):
        raise ValidationError(f"{direction!r} is not a direction: up or down.")
    survey = item.survey
    arrangement = [(page, list(questions)) for page, questions in layout(survey)]
    step = -1 if direction == "up" else 1
    if isinstance(item, Page):
        pages = [entry for entry in arrangement if entry[0] is not None]
        loose = [entry for entry in arrangement if entry[0] is None]
        at = next(i for i, (page, _q) in enumerate(pages) if page.pk == item.pk)
        if not 0 <= at + step < len(pages):
            return
        pages[at], pages[at + step] = pages[at + step], pages[at]
        arrangement = pages + loose
    else:
        at_page = next(
            i
            for i, (_p, questions) in enumerate(arrangement)
            if any(q.pk == item.pk for q in questions)
        )
        questions = arrangement[at_page][1]
        at = next(i for i, q in enumerate(questions) if q.pk == item.pk)
        if 0 <= at + step < len(questions):
            questions[at], questions[at + step] = questions[at + step], questions[at]
        elif 0 <= at_page + step < len(arrangement):
            moved = questions.pop(at)
            target = arrangement[at_page + step][1]
            if step < 0:
                target.append(moved)
            else:
                target.insert(0, moved)
        else:
            return
    _apply(survey, arrangement)


def reorder(survey: Survey, pages: Sequence[tuple[int | None, Sequence[int]]]) -> None:
    """Put the survey in the given order: (page id, [question ids]) in page order, the page
    id None for the questions without a page (drag and drop sends this). Every page and
    question of the survey must be named exactly once."""
    own_pages = {p.pk: p for p in survey.pages.all()}
    own_questions = {q.pk: q for q in survey.questions.all()}
    page_ids = [page_id for page_id, _q in pages if page_id is not None]
    question_ids = [qid for _p, ids in pages for qid in ids]
    if sorted(page_ids) != sorted(own_pages) or sorted(question_ids) != sorted(own_questions):
        raise ValidationError(
            "The new order must name every page and question of this survey exactly once; "
            "reload the page and try again."
        )
    arrangement = [
        (own_pages[page_id] if page_id is not None else None, [own_questions[q] for q in ids])
        for page_id, ids in pages
    ]
    arrangement = [entry for entry in arrangement if entry[0] is not None] + [
        entry for entry in arrangement if entry[0] is None and entry[1]
    ]
    _apply(survey, arrangement)


def move_to_page(question: Question, page: Page | None) -> None:
    """Move a question to the end of another page (None: the questions without a page)."""
    if page is not None and page.survey_id != question.survey_id:
        raise ValidationError({"page": "That page belongs to another survey."})
    _apply(question.survey, _to_page(question, page))


def _to_page(question: Question, page: Page | None) -> list[tuple[Page | None, list[Question]]]:
    arrangement = [
        (p, [q for q in questions if q.pk != question.pk])
        for p, questions in layout(question.survey)
    ]
    target = next((entry for entry in arrangement if entry[0] == page), None)
    if target is None:
        arrangement.append((None, []))
        target = arrangement[-1]
    target[1].append(question)
    return arrangement


def _apply(survey: Survey, arrangement: Sequence[tuple[Page | None, Sequence[Question]]]) -> None:
    with transaction.atomic():
        before = _problems(survey)
        _renumber(arrangement)
        new = [p for p in _problems(survey) if p not in before]
        if new:
            raise ValidationError("That order would break display logic: " + "; ".join(new) + ".")


# Translations


def translatable_languages(survey: Survey) -> list[str]:
    """The languages texts are translated into: every language of the survey but the first."""
    return survey.language_list[1:]


def set_translation(
    item: Page | Question | Option, language: str, text: str, help_text: str = ""
) -> Translation | None:
    """Store an item's text (a page's title, a question's label and help, an option's label)
    in one of the survey's other languages; empty text and help remove the translation."""
    survey = item.question.survey if isinstance(item, Option) else item.survey
    if language not in translatable_languages(survey):
        raise ValidationError(
            {
                "language": f"{language!r} is not one of this survey's translation languages "
                f"({', '.join(translatable_languages(survey)) or 'none'})."
            }
        )
    target: dict[str, Any] = {
        {Page: "page", Question: "question", Option: "option"}[type(item)]: item
    }
    text, help_text = text.strip(), help_text.strip()
    if isinstance(item, Option) and len(text) > 500:
        raise ValidationError({"text": "An option's label has at most 500 characters."})
    with transaction.atomic():
        if not text and not help_text:
            Translation.objects.filter(language=language, **target).delete()
            return None
        translation, _created = Translation.objects.update_or_create(
            language=language, **target, defaults={"text": text, "help_text": help_text}
        )
    return translation


@dataclass
class TranslationRow:
    """One text to translate: what it belongs to, the original and its translation."""

    item: Page | Question | Option
    kind: str  # page, question, option, row
    field: str  # text or help_text
    original: str
    translated: str
    name: str  # the form field's name

    @property
    def missing(self) -> bool:
        return bool(self.original) and not self.translated


def translation_rows(survey: Survey, language: str) -> list[TranslationRow]:
    """Every text of the survey to translate into `language`, in the respondent's order:
    page titles, question labels and help texts, option and row labels."""
    rows: list[TranslationRow] = []

    def existing(item: Page | Question | Option) -> Translation | None:
        return next((t for t in item.translations.all() if t.language == language), None)

    def add(item: Any, kind: str, field: str, original: str, prefix: str) -> None:
        translation = existing(item)
        translated = getattr(translation, field, "") if translation else ""
        rows.append(
            TranslationRow(item, kind, field, original, translated, f"{prefix}-{item.pk}-{field}")
        )

    pages = survey.pages.prefetch_related("translations")
    questions = survey.questions.prefetch_related("translations", "options__translations")
    by_page: dict[int | None, list[Question]] = {}
    for question in questions.order_by("order", "pk"):
        by_page.setdefault(question.page_id, []).append(question)
    for page in [*pages.order_by("order", "pk"), None]:
        if page is not None and page.title:
            add(page, "page", "text", page.title, "page")
        for question in by_page.get(page.pk if page else None, []):
            add(question, "question", "text", question.label, "question")
            if question.help_text:
                add(question, "question", "help_text", question.help_text, "question")
            for option in question.options.all():
                kind = "row" if option.role == Option.Role.ROW else "option"
                add(option, kind, "text", option.label, "option")
    return rows


def save_translations(survey: Survey, language: str, posted: dict[str, str]) -> int:
    """Store the translations posted by field name (as `translation_rows` names them) in one
    transaction; the number of texts now translated."""
    rows = translation_rows(survey, language)
    by_item: dict[tuple[str, int], dict[str, str]] = {}
    items: dict[tuple[str, int], Any] = {}
    for row in rows:
        key = (type(row.item).__name__, row.item.pk)
        items[key] = row.item
        current = by_item.setdefault(key, {"text": "", "help_text": ""})
        current[row.field] = posted.get(row.name, row.translated)
    with transaction.atomic():
        for key, values in by_item.items():
            item = items[key]
            if not values["text"].strip() and values["help_text"].strip():
                name = getattr(item, "code", str(item))
                raise ValidationError(
                    {"text": f"{name}: translate the label too, not only the help text."}
                )
            set_translation(item, language, values["text"], values["help_text"])
    return sum(1 for row in translation_rows(survey, language) if row.translated)
