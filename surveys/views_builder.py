"""The builder: the owner makes a survey's pages and questions, orders them (buttons, or drag
and drop), translates their texts and previews what respondents see.

Every change goes through surveys.builder; these views read forms and show its refusals beside
the field they concern. Only owners build; an archived study's builder is shown read-only.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language_info
from django.views.decorators.http import require_POST

from studies.access import OWNER, get_study_for_user
from surveys import builder, forms, forms_builder
from surveys.logic import survey_problems
from surveys.models import Answer, Option, Page, Question, Survey
from surveys.views import Texts, language_name, sheets_of, shown_question


def get_survey(request: HttpRequest, slug: str, survey: str, *, write: bool = False) -> Survey:
    """The survey as its study's owner may build it: reading is allowed in an archived study,
    writing is not (403)."""
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=not write)
    found = get_object_or_404(Survey, study=study, slug=survey)
    found.study = study
    return found


def get_question(survey: Survey, question_id: int) -> Question:
    return get_object_or_404(Question, survey=survey, pk=question_id)


def get_page(survey: Survey, page_id: int) -> Page:
    return get_object_or_404(Page, survey=survey, pk=page_id)


def builder_url(survey: Survey, anchor: str = "") -> str:
    url = reverse("surveys:builder", args=[survey.study.slug, survey.slug])
    return f"{url}#{anchor}" if anchor else url


def language_label(code: str) -> str:
    """The language's English name ("German"), for the owner's pages."""
    for tag in (code, code.split("-")[0]):
        try:
            return get_language_info(tag)["name"]
        except KeyError:
            continue
    return code


def base_context(survey: Survey) -> dict:
    return {"study": survey.study, "survey": survey, "readonly": survey.study.is_archived}


@login_required
def build(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    found = get_survey(request, slug, survey)
    answered = dict(
        Answer.objects.filter(question__survey=found)
        .values("question")
        .annotate(n=Count("response", distinct=True))
        .values_list("question", "n")
    )
    arrangement = []
    for page, questions in builder.layout(found):
        items = []
        for question in questions:
            options = list(question.options.all())
            items.append(
                {
                    "question": question,
                    "kind": Question.Kind(question.kind).label,
                    "choices": [o for o in options if o.role == Option.Role.CHOICE],
                    "rows": [o for o in options if o.role == Option.Role.ROW],
                    "answered": answered.get(question.pk, 0),
                }
            )
        arrangement.append((page, items))
    languages = [
        (code, language_label(code), builder.translation_rows(found, code))
        for code in builder.translatable_languages(found)
    ]
    progress = [
        (code, name, sum(1 for row in rows if row.translated), len(rows))
        for code, name, rows in languages
    ]
    context = base_context(found) | {
        "arrangement": arrangement,
        "n_pages": sum(1 for page, _items in arrangement if page is not None),
        "problems": survey_problems(found),
        "kinds": Question.Kind.choices,
        "pages": found.pages.order_by("order", "pk"),
        "translations": progress,
        "language": language_label(found.language),
    }
    return render(request, "surveys/builder/build.html", context)


@login_required
def question_new(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    found = get_survey(request, slug, survey, write=request.method == "POST")
    kind = request.GET.get("kind", Question.Kind.LIKERT5)
    if kind not in Question.Kind.values:
        kind = Question.Kind.LIKERT5
    initial = forms_builder.initial_for_kind(kind)
    page_id = request.GET.get("page", "")
    if page_id.isdigit() and found.pages.filter(pk=page_id).exists():
        initial["page"] = int(page_id)
    else:
        last = found.pages.order_by("order", "pk").last()
        initial["page"] = last.pk if last else None
    form = forms_builder.QuestionForm(request.POST or None, survey=found, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            question = builder.add_question(
                found, form.question_data(), page=form.cleaned_data["page"]
            )
        except ValidationError as error:
            form.refused(error)
        else:
            messages.success(request, f"Added question {question.code}.")
            return redirect(builder_url(found, f"question-{question.pk}"))
    context = base_context(found) | {"form": form, "question": None, "answers": 0}
    return render(request, "surveys/builder/question_form.html", context)


@login_required
def question_edit(request: HttpRequest, slug: str, survey: str, question_id: int) -> HttpResponse:
    found = get_survey(request, slug, survey, write=request.method == "POST")
    question = get_question(found, question_id)
    form = forms_builder.QuestionForm(
        request.POST or None, survey=found, initial=forms_builder.initial_for(question)
    )
    if request.method == "POST" and form.is_valid():
        try:
            builder.update_question(question, form.question_data(), page=form.cleaned_data["page"])
        except ValidationError as error:
            form.refused(error)
        else:
            messages.success(request, f"Saved question {form.cleaned_data['code']}.")
            return redirect(builder_url(found, f"question-{question.pk}"))
    context = base_context(found) | {
        "form": form,
        "question": question,
        "answers": builder.answer_count(question),
    }
    return render(request, "surveys/builder/question_form.html", context)


@login_required
def question_delete(request: HttpRequest, slug: str, survey: str, question_id: int) -> HttpResponse:
    found = get_survey(request, slug, survey, write=request.method == "POST")
    question = get_question(found, question_id)
    if request.method == "POST":
        try:
            deleted = builder.delete_question(question)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(builder_url(found, f"question-{question.pk}"))
        lost = f", and {deleted:,} answer{'s' if deleted != 1 else ''} to it" if deleted else ""
        messages.success(request, f"Deleted question {question.code}{lost}.")
        return redirect(builder_url(found))
    context = base_context(found) | {
        "question": question,
        "answers": builder.answer_count(question),
        "options": question.options.count(),
        "translated": question.translations.count(),
    }
    return render(request, "surveys/builder/question_delete.html", context)


@login_required
def page_new(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    return page_form(request, slug, survey, None)


@login_required
def page_edit(request: HttpRequest, slug: str, survey: str, page_id: int) -> HttpResponse:
    return page_form(request, slug, survey, page_id)


def page_form(request: HttpRequest, slug: str, survey: str, page_id: int | None) -> HttpResponse:
    """A new page (`page_id` None) or one page's title and condition; a condition the builder
    refuses is named beside its field."""
    found = get_survey(request, slug, survey, write=request.method == "POST")
    page = get_page(found, page_id) if page_id is not None else None
    initial = {"title": page.title, "relevant": page.relevant} if page is not None else None
    form = forms_builder.PageForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if page is None:
                page = builder.add_page(found, **form.cleaned_data)
            else:
                builder.update_page(page, **form.cleaned_data)
        except ValidationError as error:
            form.add_error("relevant", error.messages)
        else:
            messages.success(request, f"{'Saved' if page_id else 'Added'} {page}.")
            return redirect(builder_url(found, f"page-{page.pk}"))
    context = base_context(found) | {"form": form, "page": page if page_id else None}
    return render(request, "surveys/builder/page_form.html", context)


@login_required
def page_delete(request: HttpRequest, slug: str, survey: str, page_id: int) -> HttpResponse:
    found = get_survey(request, slug, survey, write=request.method == "POST")
    page = get_page(found, page_id)
    if request.method == "POST":
        try:
            builder.delete_page(page)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(builder_url(found, f"page-{page.pk}"))
        messages.success(request, f"Deleted {page}.")
        return redirect(builder_url(found))
    context = base_context(found) | {"page": page, "n_questions": page.questions.count()}
    return render(request, "surveys/builder/page_delete.html", context)


@login_required
@require_POST
def move(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    """Move one question or page up or down (a plain form), or put the whole survey in the
    order drag and drop sends as JSON: {"pages": [{"page": id or null, "questions": [ids]}]}."""
    found = get_survey(request, slug, survey, write=True)
    if request.content_type == "application/json":
        try:
            sent = json.loads(request.body)
            order = [
                (entry["page"], [int(q) for q in entry["questions"]]) for entry in sent["pages"]
            ]
            builder.reorder(found, order)
        except (ValueError, KeyError, TypeError):
            return JsonResponse({"error": "The order could not be read."}, status=400)
        except ValidationError as error:
            return JsonResponse({"error": " ".join(error.messages)}, status=400)
        return JsonResponse({"saved": True})
    direction = request.POST.get("direction", "")
    if request.POST.get("question", "").isdigit():
        item: Question | Page = get_question(found, int(request.POST["question"]))
        anchor = f"question-{item.pk}"
    elif request.POST.get("page", "").isdigit():
        item = get_page(found, int(request.POST["page"]))
        anchor = f"page-{item.pk}"
    else:
        raise Http404("Nothing to move.")
    try:
        builder.move(item, direction)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        name = f"Question {item.code}" if isinstance(item, Question) else str(item)
        messages.success(request, f"Moved {name} {direction}.")
    return redirect(builder_url(found, anchor))


@login_required
def translations(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    found = get_survey(request, slug, survey, write=request.method == "POST")
    languages = builder.translatable_languages(found)
    language = request.GET.get("lang", "")
    if language not in languages:
        language = languages[0] if languages else ""
    errors: list[str] = []
    if request.method == "POST" and language:
        try:
            done = builder.save_translations(found, language, request.POST.dict())
        except ValidationError as error:
            errors = error.messages
        else:
            total = len(builder.translation_rows(found, language))
            messages.success(
                request,
                f"Saved: {done} of {total} texts translated to {language_label(language)}.",
            )
            return redirect(f"{request.path}?lang={language}")
    rows = builder.translation_rows(found, language) if language else []
    context = base_context(found) | {
        "language": language,
        "language_name": language_label(language) if language else "",
        "original": language_label(found.language),
        "languages": [(code, language_label(code)) for code in languages],
        "rows": rows,
        "done": sum(1 for row in rows if row.translated),
        "errors": errors,
    }
    return render(request, "surveys/builder/translations.html", context)


@login_required
def preview(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    """Every page as the respondent sees it, in any of the survey's languages; nothing can be
    answered or saved, and no response is made."""
    found = get_survey(request, slug, survey)
    language = request.GET.get("lang", "")
    if language not in found.language_list:
        language = found.language
    say = forms.words(language)
    texts = Texts(language, found)
    sheets = [
        {
            "title": texts.label(sheet.page) if sheet.page is not None else "",
            "relevant": sheet.page.relevant if sheet.page is not None else "",
            "questions": [shown_question(q, {}, texts, "", say) for q in sheet.questions],
        }
        for sheet in sheets_of(found)
    ]
    context = {
        "survey": found,
        "study": found.study,
        "language": language,
        "say": say,
        "title": found.title,
        "languages": [
            (code, language_name(code)) for code in found.language_list if code != language
        ],
        "sheets": sheets,
        "back": builder_url(found),
    }
    return render(request, "surveys/builder/preview.html", context)
