"""Search the study's transcripts (keyword in context), code the results in one go, and serve
the codebook's suggestions to the coding view."""

from __future__ import annotations

import re
from collections import defaultdict

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_countries import countries

from coding.machine import machine_suggestions
from coding.models import Code, code_paths
from coding.search import (
    DEFAULT_LIMIT,
    describe_lemma_search,
    search,
    sentences_of,
    suggestions,
)
from coding.services import CodingSpan, CodingsRefused, apply_codings, check_codings
from studies.access import get_document_for_user, get_study_for_user
from studies.models import Membership, Study, Turn
from studies.spans import SpanIndex

PAGE_SIZE = 50
RESULT_RE = re.compile(r"(\d{1,12}):(\d{1,12}):(\d{1,12})", re.ASCII)
ID_RE = re.compile(r"\d{1,12}", re.ASCII)
# A page shows 50 results; a post of far more than a few pages is not a person ticking boxes.
MAX_POSTED_RESULTS = 1000
UNITS = [
    ("match", "The match only"),
    ("sentence", "Its sentence"),
    ("turn", "Its whole turn"),
]
MODE_CHOICES = [
    ("word", "Word"),
    ("lemma", "Lemma (every form)"),
    ("phrase", "Phrase"),
]


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Search for", max_length=200, required=False, widget=forms.SearchInput
    )
    mode = forms.ChoiceField(choices=MODE_CHOICES, required=False, widget=forms.RadioSelect)
    workshop = forms.ChoiceField(label="Workshop", required=False)
    country = forms.ChoiceField(label="Country", required=False)
    speaker = forms.CharField(
        label="Speaker",
        max_length=100,
        required=False,
        help_text="A speaker label or a participant code, e.g. P04.",
        widget=forms.TextInput(
            attrs={
                "list": "search-speakers",
                "autocomplete": "off",
                "aria-describedby": "speaker-help",
            }
        ),
    )
    code = forms.TypedChoiceField(label="Inside codings of", coerce=int, required=False)

    def __init__(self, *args: object, study: Study, codes: list[Code], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        workshops = list(study.workshops.order_by("code"))
        self.fields["workshop"].choices = [("", "Any workshop")] + [
            (w.code, f"{w.code} ({w.country.code})") for w in workshops
        ]
        present = sorted({w.country.code for w in workshops if w.country})
        self.fields["country"].choices = [("", "Any country")] + [
            (code, f"{countries.name(code)} ({code})") for code in present
        ]
        paths = code_paths(codes)
        by_path = sorted(
            ((code.pk, paths[code.pk]) for code in codes), key=lambda choice: choice[1].lower()
        )
        self.fields["code"].choices = [("", "Anywhere"), *by_path]


def _codes_for(study: Study) -> list[Code]:
    return list(Code.objects.filter(study=study).order_by("order", "name"))


@login_required
@require_GET
def search_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    role = study.user_role
    codes = _codes_for(study)
    paths = code_paths(codes)
    data = None
    if request.GET:
        data = request.GET.copy()
        data.setdefault("mode", "word")
    form = SearchForm(data, study=study, codes=codes, initial={"mode": "word"})
    context: dict[str, object] = {
        "study": study,
        "form": form,
        "can_code": role != Membership.Role.VIEWER,
        "codable": sorted(
            ((code.pk, paths[code.pk]) for code in codes if code.codable),
            key=lambda choice: choice[1].lower(),
        ),
        "units": UNITS,
        "has_documents": study.documents.exists(),
        "query": "",
        "speakers": sorted(
            set(study.participants.values_list("code", flat=True))
            | set(
                Turn.objects.filter(document__study=study, participant__isnull=True)
                .values_list("speaker", flat=True)
                .distinct()
            )
        ),
    }
    if form.is_valid() and form.cleaned_data["q"].strip():
        data = form.cleaned_data
        mode = data["mode"] or "word"
        # One more than the limit tells the page whether the list was cut short.
        hits = search(
            study,
            data["q"],
            mode=mode,
            workshop=data["workshop"] or None,
            country=data["country"] or None,
            speaker=data["speaker"] or None,
            code=data["code"] if data["code"] not in (None, "") else None,
            access=study.access,
            limit=DEFAULT_LIMIT + 1,
        )
        truncated = len(hits) > DEFAULT_LIMIT
        hits = hits[:DEFAULT_LIMIT]
        page = Paginator(hits, PAGE_SIZE).get_page(request.GET.get("page"))
        context.update(
            {
                "query": data["q"].strip(),
                "mode": mode,
                "mode_label": f"{mode} search",
                "page": page,
                "total": len(hits),
                "truncated": truncated,
                "limit": DEFAULT_LIMIT,
                "filtered": any(data[name] for name in ("workshop", "country", "speaker"))
                or data["code"] not in (None, ""),
                # What lemma mode looked for, per language, so the researcher can judge it.
                "lemma_notes": describe_lemma_search(
                    data["q"],
                    study.documents.order_by().values_list("language", flat=True).distinct(),
                )
                if mode == "lemma"
                else [],
                "back_query": request.GET.urlencode(),
            }
        )
    return render(request, "coding/search.html", context)


def _parse_result(value: str) -> tuple[int, int, int] | None:
    # ASCII digits of a sane length only: int() accepts other scripts' digits, and a
    # 30-digit number would overflow the database's integers before any check could refuse it.
    match = RESULT_RE.fullmatch(value)
    if match is None:
        return None
    document_id, start, end = (int(part) for part in match.groups())
    return document_id, start, end


def _unit_spans(unit: str, document_ids: set[int]) -> dict[int, list[tuple[int, int]]]:
    if unit == "sentence":
        return sentences_of(document_ids)
    spans: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for doc_id, start, end in (
        Turn.objects.filter(document_id__in=document_ids)
        .order_by("document_id", "start")
        .values_list("document_id", "start", "end")
    ):
        spans[doc_id].append((start, end))
    return spans


@login_required
@require_POST
def code_results(request: HttpRequest, slug: str) -> HttpResponse:
    """Apply one code to the ticked search results, as the current user's codings. Results are
    posted as document:start:end; each is checked against the study and the document's length
    before anything is written, and one bad value refuses the whole post."""
    study = get_study_for_user(request.user, slug, min_role=Membership.Role.CODER)
    back = reverse("coding:search", args=[study.slug])
    # The search the form came from, rebuilt through QueryDict so only parameters (never
    # another address) go into the redirect.
    back_query = QueryDict(request.POST.get("query", "")).urlencode()
    if back_query:
        back += "?" + back_query

    posted = request.POST.getlist("result")
    if not posted:
        messages.error(request, "Tick at least one result to code.")
        return redirect(back)
    if len(posted) > MAX_POSTED_RESULTS:
        return HttpResponseBadRequest(f"At most {MAX_POSTED_RESULTS} results can be coded at once.")
    code_value = request.POST.get("code", "")
    if not code_value:
        messages.error(request, "Choose the code to apply to the ticked results.")
        return redirect(back)
    unit = request.POST.get("unit", "match")
    if unit not in dict(UNITS):
        return HttpResponseBadRequest(f"{unit!r} is not a unit: use match, sentence or turn.")
    if not ID_RE.fullmatch(code_value):
        return HttpResponseBadRequest("No such code in this study.")
    results = []
    for value in posted:
        parsed = _parse_result(value)
        if parsed is None:
            return HttpResponseBadRequest(f"{value!r} is not a result (document:start:end).")
        results.append(CodingSpan(parsed[0], int(code_value), parsed[1], parsed[2]))
    try:
        # The results as posted first: a unit is only looked up around a span that is one.
        check_codings(user=request.user, spans=results, study=study)
        spans = results
        if unit != "match":
            units = _unit_spans(unit, {r.document for r in results})
            spans = []
            for r in results:
                covering = SpanIndex.of(units.get(r.document, [])).covering(r.start, r.end)
                start, end = covering or (r.start, r.end)
                spans.append(CodingSpan(r.document, r.code, start, end))
        result = apply_codings(user=request.user, spans=spans, study=study)
    except CodingsRefused as exc:
        return HttpResponseBadRequest(exc.describe(spans=results))
    path = code_paths(_codes_for(study))[int(code_value)]
    new, already = len(result.created), len(result.existing)
    noun = "result" if new == 1 else "results"
    message = f"Coded {new} {noun} with {path}"
    if already:
        message += f" ({already} {'was' if already == 1 else 'were'} already coded)"
    messages.success(request, message + ".")
    return redirect(back)


@login_required
@require_GET
def suggestions_json(request: HttpRequest, slug: str, document_id: int) -> JsonResponse:
    """The codebook's suggestions for this document and user. A viewer gets an empty list
    rather than an error: they may read the document, and there is nothing they could accept."""
    document = get_document_for_user(request.user, slug, document_id)
    if document.study.user_role == Membership.Role.VIEWER:
        return JsonResponse({"suggestions": []})
    found = suggestions(document, user=request.user)
    return JsonResponse(
        {
            "suggestions": [
                {"code": s.code_id, "start": s.start, "end": s.end, "text": s.text} for s in found
            ],
            # The machine coders' suggestions, the least certain first (coding.machine).
            "machine": [
                {
                    "code": s.code_id,
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "confidence": round(s.confidence, 3),
                    "machine": s.machine,
                }
                for s in machine_suggestions(document, user=request.user)
            ],
        }
    )
