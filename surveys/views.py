"""The respondent's pages: a participant answers a survey through their private link.

No login: the invitation's token is the credential, so the pages show the survey and nothing
else of the study. Answers are saved page by page as a draft; the link resumes where it left
off, and once the response is submitted it cannot be changed through the link.

A survey that allows anonymous answers also opens through its shared anonymous link
(`surveys.distribution.open_link` tells the two apart). There each browser is its own
respondent: its response is remembered in the browser's session, so a draft resumes in the same
browser and another browser starts a new response. Both kinds of link answer through the same
code below; only finding and creating the response differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import get_language_info

from surveys import forms
from surveys.distribution import ANONYMOUS_SOURCE, CLOSED, NOT_OPEN, Link, open_link, state
from surveys.logic import LogicError, references, visible
from surveys.models import OTHER, Answer, Invitation, Page, Question, Response, Survey
from surveys.pseudonymise import attach_mapping, clean_answers
from surveys.services import publish_text_answers

# A respondent posts once per page; far more than that from one link is a script.
RATE_LIMIT = 60
RATE_WINDOW = 10 * 60  # seconds

Answers = dict[tuple[str, str], str]  # (question code, item) -> value


@dataclass
class Sheet:
    """One page as the respondent sees it: a Page, or the questions that have none."""

    page: Page | None
    questions: list[Question]


def sheets_of(survey: Survey) -> list[Sheet]:
    questions = list(
        survey.questions.select_related("page").prefetch_related(
            "translations", "options__translations"
        )
    )
    sheets = [
        Sheet(page, [q for q in questions if q.page_id == page.pk])
        for page in survey.pages.prefetch_related("translations")
    ]
    sheets = [sheet for sheet in sheets if sheet.questions]
    loose = [q for q in questions if q.page_id is None]
    if loose:
        sheets.append(Sheet(None, loose))
    return sheets


def for_logic(answers: Answers) -> dict[str, str]:
    """The answers as display logic reads them: one string per question code."""
    found: dict[str, list[str]] = {}
    for (code, item), value in sorted(answers.items()):
        if item != OTHER:
            found.setdefault(code, []).append(value)
    return {code: " ".join(values) for code, values in found.items()}


def is_shown(sheet: Sheet, answers: Answers) -> bool:
    logic = for_logic(answers)
    if sheet.page is not None and not visible(sheet.page, logic):
        return False
    return any(visible(q, logic) for q in sheet.questions)


def may_follow(sheets: list[Sheet], index: int, answers: Answers) -> bool:
    """Whether a page after `index` is shown, or may be once this page is answered: a later
    page (or one of its questions) whose condition names a question of this page."""
    here = {q.code for q in sheets[index].questions} if sheets else set()
    for sheet in sheets[index + 1 :]:
        if is_shown(sheet, answers):
            return True
        conditions = [q.relevant for q in sheet.questions]
        if sheet.page is not None:
            conditions.append(sheet.page.relevant)
        for condition in filter(None, conditions):
            try:
                if here.intersection(references(condition)):
                    return True
            except LogicError:  # shown anyway (see `visible`), so it may follow
                return True
    return False


def without_hidden(sheets: list[Sheet], answers: Answers) -> Answers:
    """The answers less those of questions their conditions now hide; repeated, since a removed
    answer can hide a later question in turn."""
    questions = [q for sheet in sheets for q in sheet.questions]
    while True:
        logic = for_logic(answers)
        hidden = {q.code for q in questions if not visible(q, logic)}
        kept = {key: value for key, value in answers.items() if key[0] not in hidden}
        if kept == answers:
            return kept
        answers = kept


def choose_language(
    request: HttpRequest, survey: Survey, invitation: Invitation | None, response: Response | None
) -> str:
    offered = survey.language_list
    for wanted in (
        request.GET.get("lang", ""),
        response.language if response else "",
        invitation.language if invitation else "",
    ):
        if wanted in offered:
            return wanted
    return survey.language


def language_name(code: str) -> str:
    try:
        return get_language_info(code)["name_local"]
    except KeyError:
        return code


class Texts:
    """A page's, question's or option's text in the respondent's language, falling back to the
    language the survey is written in."""

    def __init__(self, language: str, survey: Survey) -> None:
        self.language = language if language != survey.language else ""

    def pick(self, item: object, text: str, help_text: str = "") -> tuple[str, str]:
        if self.language:
            for translation in item.translations.all():
                if translation.language == self.language:
                    return translation.text or text, translation.help_text or help_text
        return text, help_text

    def label(self, item: object) -> str:
        if isinstance(item, Page):
            return self.pick(item, item.title)[0]
        return self.pick(item, item.label)[0]


def shown_question(
    question: Question, answers: Answers, texts: Texts, error: str, say: dict[str, str]
) -> dict:
    """What the template needs to draw one question with the answers given so far."""
    label, help_text = texts.pick(question, question.label, question.help_text)
    value = answers.get((question.code, ""), "")
    options = forms.choices(question)
    if options:
        choices = [(o.code, texts.label(o)) for o in options]
    else:
        choices = [(code, code) for code in forms.choice_codes(question)]
    item = {
        "question": question,
        "code": question.code,
        "kind": question.kind,
        "label": label,
        "help_text": help_text,
        "required": question.required,
        "error": error,
        "name": forms.field_name(question),
        "value": value,
    }
    picked = set(value.split())
    item["choices"] = [(code, text, code in picked) for code, text in choices]
    if question.kind == Question.Kind.MULTIPLE and question.allows_other:
        item["other_name"] = forms.field_name(question, "other")
        item["other_value"] = answers.get((question.code, OTHER), "")
        item["other_label"] = say["other"]
    if question.kind == Question.Kind.RANKING:
        ranked = value.split()
        item["ranks"] = [
            {
                "label": say["rank"].format(n=n),
                "name": forms.field_name(question, f"rank{n}"),
                "choices": [
                    (code, text, n <= len(ranked) and ranked[n - 1] == code)
                    for code, text in choices
                ],
            }
            for n in range(1, len(choices) + 1)
        ]
    if question.kind == Question.Kind.MATRIX:
        item["rows"] = [
            {
                "code": row.code,
                "label": texts.label(row),
                "name": forms.field_name(question, row.code),
                "choices": [
                    (code, text, answers.get((question.code, row.code)) == code)
                    for code, text in choices
                ],
            }
            for row in forms.rows(question)
        ]
    return item


def message(request: HttpRequest, context: dict, *keys: str, status: int = 200) -> HttpResponse:
    say = context["say"]
    lines = [say.get(key, key) for key in keys]
    return render(
        request,
        "surveys/message.html",
        {**context, "heading": lines[0], "lines": lines[1:]},
        status=status,
    )


def session_key(survey: Survey) -> str:
    """Where a browser's session remembers its anonymous response to a survey."""
    return f"surveys:anonymous:{survey.pk}"


def response_of(request: HttpRequest, opened: Link) -> Response | None:
    """The response this link (and, for the anonymous link, this browser) has begun, if any."""
    if opened.invitation is not None:
        return Response.objects.filter(
            survey=opened.survey, participant=opened.invitation.participant
        ).first()
    pk = request.session.get(session_key(opened.survey))
    if pk is None:
        return None
    return Response.objects.filter(pk=pk, survey=opened.survey, participant__isnull=True).first()


def respond(request: HttpRequest, link: str) -> HttpResponse:
    opened = open_link(link)
    invitation, survey = opened.invitation, opened.survey
    response = response_of(request, opened)
    language = choose_language(request, survey, invitation, response)
    say = forms.words(language)
    context = {
        "survey": survey,
        "language": language,
        "say": say,
        "title": survey.title,
        "languages": [
            (code, language_name(code)) for code in survey.language_list if code != language
        ],
    }
    refused = 403 if request.method == "POST" else 200
    if response is not None and response.is_submitted:
        return message(request, context, "received", "received_detail", status=refused)
    taking = state(survey)
    if taking == NOT_OPEN:
        opens = say["opens"].format(date=date_format(survey.opens_at, "DATE_FORMAT"))
        return message(request, context, "not_open", opens, status=refused)
    if taking == CLOSED:
        return message(request, context, "closed", "closed_detail", status=refused)

    sheets = sheets_of(survey)
    answers: Answers = {}
    if response is not None:
        answers = {
            (a.question.code, a.item): a.value for a in response.answers.select_related("question")
        }
    texts = Texts(language, survey)
    errors: dict[str, str] = {}

    if request.method == "POST":
        if over_the_limit(rate_key(request, opened, link)):
            return message(request, context, "too_many", status=429)
        index = clamp(request.POST.get("page", ""), len(sheets))
        action = request.POST.get("action", "next")
        answers, errors = read_page(sheets, index, answers, request, language)
        if errors and action != "back":
            return draw(request, context, sheets, index, answers, errors, texts)
        for code in errors:  # going back keeps only what was valid
            answers = {key: value for key, value in answers.items() if key[0] != code}
        answers = without_hidden(sheets, answers)
        if action == "back":
            earlier = [i for i in range(index) if is_shown(sheets[i], answers)]
            target, submit = (earlier[-1] if earlier else index), False
        else:
            later = [i for i in range(index + 1, len(sheets)) if is_shown(sheets[i], answers)]
            # "Next" on a page whose answers hid every later page comes back as the last
            # page, its button now "Submit": nothing is submitted by a button saying "Next".
            shown_as_last = not request.POST.get("more")
            target, submit = (later[0] if later else index), not later and shown_as_last
        if not save(request, opened, language, answers, target, submit, sheets):
            return message(request, context, "received", "received_detail", status=403)
        if action != "back" and target == index and not submit:
            return draw(request, context, sheets, index, answers, {}, texts, last=True)
        query = f"?{urlencode({'lang': language})}" if language != survey.language else ""
        return redirect(request.path + query)

    index = response.page if response is not None else 0
    index = min(index, max(len(sheets) - 1, 0))
    following = [i for i in range(index, len(sheets)) if is_shown(sheets[i], answers)]
    earlier = [i for i in range(index) if is_shown(sheets[i], answers)]
    index = following[0] if following else (earlier[-1] if earlier else 0)
    return draw(request, context, sheets, index, answers, errors, texts)


def rate_key(request: HttpRequest, opened: Link, token: str) -> str:
    """What the rate limit counts by: a participant's link; for the shared anonymous link, the
    link and the address it is posted from (its many respondents each post as much as one)."""
    if opened.is_anonymous:
        return f"{token}:{request.META.get('REMOTE_ADDR', '')}"
    return token


def over_the_limit(token: str) -> bool:
    key = f"surveys:posts:{token}"
    cache.add(key, 0, RATE_WINDOW)
    try:
        return cache.incr(key) > RATE_LIMIT
    except ValueError:  # expired between the two calls
        cache.set(key, 1, RATE_WINDOW)
        return False


def clamp(text: str, count: int) -> int:
    try:
        return min(max(int(text), 0), max(count - 1, 0))
    except ValueError:
        return 0


def read_page(
    sheets: list[Sheet], index: int, answers: Answers, request: HttpRequest, language: str
) -> tuple[Answers, dict[str, str]]:
    """The answers with this page's replaced by what was posted, and the errors by code. Each
    question is judged with the answers above it, so a condition on an earlier question of
    the same page holds as the respondent answered it."""
    if not sheets:
        return answers, {}
    sheet = sheets[index]
    codes = {q.code for q in sheet.questions}
    merged = {key: value for key, value in answers.items() if key[0] not in codes}
    errors = {}
    seen = set(request.POST.get("shown", "").split())
    for question in sheet.questions:
        if not visible(question, for_logic(merged)):
            continue
        if question.code not in seen:
            # An answer on this page showed it: the respondent has not seen it yet, so the
            # page comes back with it, without calling that a mistake.
            errors[question.code] = ""
            continue
        read = forms.read(question, request.POST, language)
        merged.update({(question.code, item): value for item, value in read.values.items()})
        if read.error:
            errors[question.code] = read.error
    return merged, errors


def locked_response(request: HttpRequest, opened: Link) -> Response:
    """The link's response, locked for the change, made on the first save. Inside a
    transaction."""
    invitation = opened.invitation
    if invitation is not None:
        response, _created = Response.objects.select_for_update().get_or_create(
            survey=opened.survey,
            participant=invitation.participant,
            defaults={"invitation": invitation, "source": "link"},
        )
        return response
    key = session_key(opened.survey)
    response = (
        Response.objects.select_for_update()
        .filter(pk=request.session.get(key), survey=opened.survey, participant__isnull=True)
        .first()
    )
    if response is None:
        response = Response.objects.create(survey=opened.survey, source=ANONYMOUS_SOURCE)
        request.session[key] = response.pk
    return response


def save(
    request: HttpRequest,
    opened: Link,
    language: str,
    answers: Answers,
    page: int,
    submit: bool,
    sheets: Iterable[Sheet],
) -> bool:
    """Store the draft (or the submitted response); False if it was submitted meanwhile."""
    by_code = {q.code: q for sheet in sheets for q in sheet.questions}
    with transaction.atomic():
        response = locked_response(request, opened)
        if response.is_submitted:
            return False
        response.language = language
        rows = [
            (by_code[code], item, value)
            for (code, item), value in answers.items()
            if code in by_code
        ]
        # Free texts are pseudonymised before they are stored (those stored already were).
        cleaned = clean_answers(response, rows, stored=response.answers.all())
        response.answers.all().delete()
        Answer.objects.bulk_create(
            Answer(response=response, question=question, item=item, value=value)
            for (question, item, _given), value in zip(rows, cleaned.values, strict=True)
        )
        cleaned.keep()
        response.page = page
        if submit:
            response.submitted_at = timezone.now()
        response.save()
        if submit:
            publish_text_answers(response)  # long-text answers become a survey text document
            attach_mapping(response.survey, [response])
    return True


def draw(
    request: HttpRequest,
    context: dict,
    sheets: list[Sheet],
    index: int,
    answers: Answers,
    errors: dict[str, str],
    texts: Texts,
    *,
    last: bool = False,
) -> HttpResponse:
    """The page `index`; `last` shows it as the last page (its button "Submit") even where a
    later page's condition names one of its questions: the answers just given hid them."""
    say = context["say"]
    shown = [i for i, sheet in enumerate(sheets) if i == index or is_shown(sheet, answers)]
    questions = []
    if sheets:
        logic = for_logic(answers)
        questions = [
            shown_question(q, answers, texts, errors.get(q.code, ""), say)
            for q in sheets[index].questions
            if visible(q, logic)
        ]
    page = sheets[index].page if sheets else None
    position = shown.index(index) + 1 if sheets else 1
    return render(
        request,
        "surveys/respond.html",
        {
            **context,
            "description": context["survey"].description if position == 1 else "",
            "page_title": texts.label(page) if page is not None else "",
            "questions": questions,
            "index": index,
            "mistakes": any(errors.values()),
            "appeared": any(not error for error in errors.values()),
            "shown": " ".join(q["code"] for q in questions),
            "progress": say["page_of"].format(n=position, total=len(shown)),
            "first": position == 1,
            "last": last or (position == len(shown) and not may_follow(sheets, index, answers)),
        },
        status=200,
    )
