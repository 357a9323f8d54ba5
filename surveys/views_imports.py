"""The owner's pages for what comes from elsewhere and what is one person's: an XLSForm in and
out, a file of responses collected by another tool (previewed, its columns mapped, then
imported whole), and the individual responses.

Only owners come here: viewers and coders see aggregated results, never one respondent's
answers. An archived study can be read (the list, one response, the XLSForm) but not changed.

A response file waits in the owner's session between the preview and the confirmation (it is
small: SESSION_FILE_LIMIT), so nothing of it reaches the database before the owner confirms.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.text import get_valid_filename
from django.views.decorators.http import require_GET

from studies.access import OWNER, get_study_for_user
from studies.importers import FileRejected
from studies.models import Study
from studies.services import check_upload_size
from studies.wording import plural
from surveys.models import OTHER, Option, Question, Response, Survey
from surveys.responses_import import (
    IGNORE,
    ResponsesPlan,
    apply_responses,
    column_choices,
    plan_responses,
)
from surveys.xlsform import export_xlsform, import_xlsform

SESSION_FILE_LIMIT = 2 * 1024 * 1024
PROBLEMS_SHOWN = 200
RESPONSES_PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUSES = {"draft": "Draft", "submitted": "Submitted"}


def _survey(study: Study, slug: str) -> Survey:
    survey = Survey.objects.filter(study=study, slug=slug).first()
    if survey is None:
        raise Http404("No such survey in this study.")
    survey.study = study  # keeps study.access for the templates
    return survey


def _survey_url(survey: Survey) -> str:
    """The survey's own page where the builder's pages exist, else its responses."""
    for name in ("surveys:detail", "surveys:list"):
        args = [survey.study.slug, survey.slug] if name == "surveys:detail" else [survey.study.slug]
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return reverse("surveys:responses", args=[survey.study.slug, survey.slug])


class UploadForm(forms.Form):
    file = forms.FileField()

    def __init__(self, *args: object, label: str, accept: str, help_text: str, **kw: object):
        super().__init__(*args, **kw)
        self.fields["file"].label = label
        self.fields["file"].help_text = help_text
        self.fields["file"].widget.attrs.update(accept=accept, **{"aria-describedby": "file-help"})

    def clean_file(self) -> tuple[str, bytes]:
        upload = self.cleaned_data["file"]
        return upload.name, upload.read()


# --- XLSForm in and out -----------------------------------------------------------------------


def _xlsform_form(data: object = None, files: object = None) -> UploadForm:
    return UploadForm(
        data,
        files,
        label="XLSForm file",
        accept=".xlsx",
        help_text="An .xlsx workbook from KoboToolbox, ODK or SurveyCTO: a 'survey' sheet, "
        "a 'choices' sheet, and optionally 'settings' (form_title, form_id, default_language).",
    )


@login_required
def xlsform_import(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    form = _xlsform_form()
    if request.method == "POST":
        form = _xlsform_form(request.POST, request.FILES)
        if form.is_valid():
            filename, data = form.cleaned_data["file"]
            try:
                check_upload_size(data, filename)
                result = import_xlsform(study=study, filename=filename, data=data)
            except FileRejected as exc:
                form.add_error("file", f"Nothing was imported: {exc}")
            else:
                survey = result.survey
                messages.success(
                    request,
                    f"Imported the survey '{survey.title}' ({survey.slug}) from {filename}: "
                    f"{plural(survey.pages.count(), 'page')}, "
                    f"{plural(survey.questions.count(), 'question')}, languages "
                    f"{', '.join(survey.language_list)}.",
                )
                if result.warnings:
                    messages.warning(
                        request,
                        f"Left out, because Colloquy cannot represent "
                        f"{'it' if len(result.warnings) == 1 else 'them'}: "
                        + "; ".join(result.warnings),
                    )
                return redirect(_survey_url(survey))
    return render(request, "surveys/imports/xlsform_import.html", {"study": study, "form": form})


@login_required
@require_GET
def xlsform_export(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    instrument = _survey(study, survey)
    response = HttpResponse(export_xlsform(instrument), content_type=XLSX)
    filename = get_valid_filename(f"{instrument.slug}.xlsx")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Responses from a file --------------------------------------------------------------------


def _responses_form(data: object = None, files: object = None) -> UploadForm:
    return UploadForm(
        data,
        files,
        label="Response file",
        accept=".csv,.xlsx",
        help_text="A .csv or .xlsx: the first column holds the participant's code (or an alias "
        "from the roster), every other column one question, named by its code or its label. "
        f"Up to {SESSION_FILE_LIMIT // (1024 * 1024)} MB.",
    )


def _session_key(survey: Survey) -> str:
    return f"surveys:responses-import:{survey.pk}"


@dataclass
class Pending:
    """The uploaded file waiting for the owner's confirmation, and the choices made so far."""

    filename: str
    data: bytes
    replace: bool = False
    mapping: dict[str, str] | None = None  # None: match the columns by header
    previewed: dict | None = None  # the mapping and replace choice the preview last showed

    @classmethod
    def load(cls, request: HttpRequest, survey: Survey) -> Pending | None:
        stored = request.session.get(_session_key(survey))
        if not isinstance(stored, dict) or "data" not in stored:
            return None
        return cls(
            filename=stored.get("filename") or "responses.csv",
            data=base64.b64decode(stored["data"]),
            replace=bool(stored.get("replace")),
            mapping=stored.get("mapping"),
            previewed=stored.get("previewed"),
        )

    def save(self, request: HttpRequest, survey: Survey) -> None:
        request.session[_session_key(survey)] = {
            "filename": self.filename,
            "data": base64.b64encode(self.data).decode("ascii"),
            "replace": self.replace,
            "mapping": self.mapping,
            "previewed": self.previewed,
        }

    @staticmethod
    def drop(request: HttpRequest, survey: Survey) -> None:
        request.session.pop(_session_key(survey), None)

    def plan(self, survey: Survey) -> ResponsesPlan:
        return plan_responses(
            survey=survey,
            filename=self.filename,
            data=self.data,
            replace=self.replace,
            mapping=self.mapping,
            collect=True,
        )


def _posted_mapping(request: HttpRequest, plan: ResponsesPlan) -> dict[str, str]:
    """The column selects of the preview: `map-N` names the file's Nth answer column."""
    return {
        header: request.POST.get(f"map-{n}", IGNORE)
        for n, header in enumerate(plan.headers[1:], start=1)
    }


@login_required
def responses_import(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    instrument = _survey(study, survey)
    here = reverse("surveys:import_responses", args=[study.slug, instrument.slug])
    pending = Pending.load(request, instrument)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = _responses_form()

    if action == "cancel":
        Pending.drop(request, instrument)
        messages.info(request, "Import cancelled: nothing was written.")
        return redirect(here)

    if action == "upload":
        form = _responses_form(request.POST, request.FILES)
        if form.is_valid():
            filename, data = form.cleaned_data["file"]
            if len(data) > SESSION_FILE_LIMIT:
                form.add_error(
                    "file",
                    f"{filename} is {len(data) / 1048576:.1f} MB; files up to "
                    f"{SESSION_FILE_LIMIT // (1024 * 1024)} MB can be previewed here. Split it, "
                    "or import it with manage.py import_responses.",
                )
            else:
                upload = Pending(filename=filename, data=data)
                try:
                    upload.plan(instrument)  # a file that cannot be read at all stops here
                except FileRejected as exc:
                    form.add_error("file", f"Nothing was imported: {exc}")
                else:
                    upload.save(request, instrument)
                    return redirect(here)
        pending = None  # a new upload replaces any earlier one only once it can be read

    if pending is None:
        return render(
            request,
            "surveys/imports/responses_upload.html",
            {"study": study, "survey": instrument, "form": form},
        )

    try:
        if action in ("preview", "confirm"):
            shown = pending.plan(instrument)
            posted = {
                "mapping": _posted_mapping(request, shown),
                "replace": request.POST.get("replace") == "1",
            }
            if action == "confirm" and posted == pending.previewed:
                pending.mapping, pending.replace = posted["mapping"], posted["replace"]
                plan = pending.plan(instrument)
                if not plan.problems:
                    apply_responses(plan=plan, imported_by=request.user)
                    Pending.drop(request, instrument)
                    messages.success(request, plan.summary())
                    return redirect("surveys:responses", slug=study.slug, survey=instrument.slug)
                messages.error(request, "Nothing was imported: the file has problems.")
            elif action == "confirm":
                messages.warning(
                    request,
                    "The columns or the replace choice changed since the preview, so nothing "
                    "was imported: check the preview below and confirm again.",
                )
            pending.mapping, pending.replace = posted["mapping"], posted["replace"]
            pending.save(request, instrument)
            return redirect(here)
        plan = pending.plan(instrument)
    except FileRejected as exc:
        Pending.drop(request, instrument)
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect(here)
    return _preview(request, instrument, pending, plan)


def _preview(
    request: HttpRequest, survey: Survey, pending: Pending, plan: ResponsesPlan
) -> HttpResponse:
    choices = column_choices(survey)
    keys = {key for key, _ in choices}
    columns = []
    mapping: dict[str, str] = {}
    for n, header in enumerate(plan.headers):
        chosen = plan.columns.get(header, IGNORE)
        chosen = chosen if chosen in keys else IGNORE
        if n:
            mapping[header] = chosen
        columns.append(
            {
                "n": n,
                "header": header,
                "chosen": chosen,
                "values": [row.values[header] for row in plan.sample],
                "problem": any(p.column == header and p.row == 1 for p in plan.problems),
            }
        )
    # Confirming imports exactly what this page shows.
    pending.previewed = {"mapping": mapping, "replace": pending.replace}
    pending.save(request, survey)
    return render(
        request,
        "surveys/imports/responses_preview.html",
        {
            "study": survey.study,
            "survey": survey,
            "pending": pending,
            "plan": plan,
            "columns": columns,
            "choices": choices,
            "sample_rows": [row.number for row in plan.sample],
            "problems": plan.problems[:PROBLEMS_SHOWN],
            "problems_hidden": max(len(plan.problems) - PROBLEMS_SHOWN, 0),
            "n_mapped": len(plan.columns) - sum(1 for c in columns if c["problem"]),
        },
    )


# --- Individual responses ---------------------------------------------------------------------


def _responses(survey: Survey, status: str) -> QuerySet[Response]:
    responses = survey.responses.select_related("participant__workshop").order_by(
        "participant__code", "started_at", "pk"
    )
    if status == "draft":
        responses = responses.filter(submitted_at__isnull=True)
    elif status == "submitted":
        responses = responses.filter(submitted_at__isnull=False)
    return responses


@login_required
@require_GET
def response_list(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    instrument = _survey(study, survey)
    status = request.GET.get("status", "")
    status = status if status in STATUSES else ""
    page = Paginator(_responses(instrument, status), RESPONSES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "surveys/imports/response_list.html",
        {
            "study": study,
            "survey": instrument,
            "page": page,
            "status": status,
            "statuses": STATUSES,
            "pager_query": f"status={status}" if status else "",
            "n_all": instrument.responses.count(),
            "n_submitted": instrument.responses.filter(submitted_at__isnull=False).count(),
        },
    )


@dataclass
class Shown:
    """One question and what the respondent answered, in words (codes beside them)."""

    question: Question
    answers: list[tuple[str, str]]  # (what it is about: a matrix row, "other" or "", the answer)


def _option_text(options: dict[str, Option], code: str) -> str:
    option = options.get(code)
    return f"{option.label} ({code})" if option is not None else code


def _shown(question: Question, values: dict[str, str]) -> Shown:
    choices = {o.code: o for o in question.options.all() if o.role == Option.Role.CHOICE}
    rows = [o for o in question.options.all() if o.role == Option.Role.ROW]
    answers: list[tuple[str, str]] = []
    if question.kind == Question.Kind.MATRIX:
        for row in rows:
            if row.code in values:
                answers.append((row.label, _option_text(choices, values[row.code])))
    elif "" in values:
        value = values[""]
        if question.kind in (Question.Kind.MULTIPLE, Question.Kind.RANKING):
            codes = value.split()
            texts = [_option_text(choices, code) for code in codes]
            if question.kind == Question.Kind.RANKING:
                texts = [f"{n}. {text}" for n, text in enumerate(texts, start=1)]
            answers += [("", text) for text in texts]
        elif question.is_closed:
            answers.append(("", _option_text(choices, value)))
        else:
            answers.append(("", value))
    if OTHER in values:
        answers.append(("Other", values[OTHER]))
    return Shown(question, answers)


@login_required
@require_GET
def response_detail(request: HttpRequest, slug: str, survey: str, response_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    instrument = _survey(study, survey)
    response = (
        instrument.responses.select_related("participant__workshop", "imported_by")
        .filter(pk=response_id)
        .first()
    )
    if response is None:
        raise Http404("No such response to this survey.")
    values: dict[str, dict[str, str]] = {}
    for answer in response.answers.select_related("question"):
        values.setdefault(answer.question.code, {})[answer.item] = answer.value
    questions = instrument.questions.select_related("page").prefetch_related("options")
    shown = [_shown(question, values.get(question.code, {})) for question in questions]
    return render(
        request,
        "surveys/imports/response_detail.html",
        {
            "study": study,
            "survey": instrument,
            "response": response,
            "shown": shown,
            "n_answered": sum(1 for s in shown if s.answers),
        },
    )
