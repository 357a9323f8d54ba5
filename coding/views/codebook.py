"""The codebook pages: the codebook itself (read like a paper's methods appendix, with counts),
one code's page with its memos and its report of every excerpt, and the owner's tools to add,
edit, move, merge, delete, import and export codes.

Everyone in the study reads; only owners change the codebook; coders and owners write memos.
Counts and excerpts come from the chosen layer of codings and respect blind coding: a coder in
a blind study sees only their own codings, in numbers as well as in text.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import F, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Greatest, Substr
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django_countries import countries

from coding.models import LAYERS, Code, Coding, CodingQuerySet, Memo, code_paths, layer_choices
from coding.services import (
    CodebookError,
    apply_codebook,
    create_code,
    csv_bytes,
    delete_code,
    descendant_ids,
    export_codebook,
    merge_codes,
    move_code,
    next_colour,
    plan_codebook,
    plan_delete,
    plan_merge,
    sibling_position,
    tree_order,
    update_code,
    xlsx_bytes,
)
from studies.access import get_study_for_user
from studies.audit import record_export
from studies.importers import FileRejected
from studies.models import Membership, Study, Turn
from studies.spans import DocumentSpans
from studies.wording import plural

OWNER = Membership.Role.OWNER
CODER = Membership.Role.CODER

EXCERPTS_PER_PAGE = 25
CONTEXT_CHARS = 120
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_COLUMNS = (
    "code_path",
    "document",
    "workshop",
    "country",
    "participant",
    "speaker",
    "coder",
    "start",
    "end",
    "text",
)


# --- Layers and counts ----------------------------------------------------------------------


def chosen_layer(request: HttpRequest, study: Study) -> str:
    """The layer asked for, if `study.access` may read it; else the coders' codings together
    (a blind coder: their own)."""
    available = layer_choices(study.access)
    layer = request.GET.get("layer", "")
    if layer in available:
        return layer
    return "all" if "all" in available else available[0]


def layer_codings(study: Study, user: object, layer: str) -> CodingQuerySet:
    return Coding.objects.filter(code__study=study).layer(layer, user=user).visible_to(study.access)


@dataclass
class Tally:
    """What a paper reports for a code: coded segments (each distinct span once, however many
    coders applied it), documents, distinct participants whose turns the codings overlap, and
    coders."""

    segments: set[tuple[int, int, int]] = field(default_factory=set)
    documents: set[int] = field(default_factory=set)
    participants: set[int] = field(default_factory=set)
    coders: set[int] = field(default_factory=set)

    def add(self, other: Tally) -> None:
        self.segments |= other.segments
        self.documents |= other.documents
        self.participants |= other.participants
        self.coders |= other.coders

    @property
    def n_segments(self) -> int:
        return len(self.segments)

    @property
    def n_documents(self) -> int:
        return len(self.documents)

    @property
    def n_participants(self) -> int:
        return len(self.participants)

    @property
    def n_coders(self) -> int:
        return len(self.coders)


def tally_codings(codings: QuerySet[Coding]) -> dict[int, Tally]:
    """Counts per code id from two queries however many codes and codings there are."""
    rows = list(codings.values_list("code_id", "document_id", "coder_id", "start", "end"))
    turns = DocumentSpans(
        Turn.objects.filter(
            document__in=codings.values("document_id"), participant__isnull=False
        ).values_list("document_id", "start", "end", "participant_id")
    )
    tallies: dict[int, Tally] = {}
    for code_id, document_id, coder_id, start, end in rows:
        tally = tallies.setdefault(code_id, Tally())
        tally.segments.add((document_id, start, end))
        tally.documents.add(document_id)
        tally.coders.add(coder_id)
        tally.participants.update(turns.overlapping(document_id, start, end))
    return tallies


# --- Access ---------------------------------------------------------------------------------


def _code(study: Study, code_id: object) -> Code:
    try:
        code = Code.objects.filter(study=study, pk=int(code_id)).first()
    except (TypeError, ValueError):
        code = None
    if code is None:
        raise Http404("No such code in this study.")
    code.study = study
    return code


def _to_codebook(study: Study, code: Code | None = None) -> HttpResponse:
    url = reverse("coding:codebook", args=[study.slug])
    return redirect(f"{url}#code-{code.pk}" if code is not None else url)


def _not_get(request: HttpRequest) -> HttpResponse | None:
    # Asked after the access helper, so that an outsider gets 404 whatever the method.
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return None


def _download(content: bytes, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- The codebook ---------------------------------------------------------------------------


@login_required
def codebook(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if request.method == "POST":
        # The up and down buttons beside each code.
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        code = _code(study, request.POST.get("code"))
        index, _count = sibling_position(code)
        step = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
        if step is None:
            messages.error(request, "Move a code up or down.")
        else:
            move_code(code=code, parent=code.parent, position=max(0, index + step))
        return _to_codebook(study, code)

    layer = chosen_layer(request, study)
    codes = list(Code.objects.filter(study=study))
    tree = tree_order(codes)
    tallies = tally_codings(layer_codings(study, request.user, layer))
    has_children = {code.parent_id for code in codes}
    siblings: dict[int | None, list[int]] = {}
    for code, _depth in tree:
        siblings.setdefault(code.parent_id, []).append(code.pk)

    # A parent's heading counts everything coded in its branch (a participant once).
    subtree: dict[int, Tally] = {}
    for code, _depth in reversed(tree):
        total = subtree.setdefault(code.pk, Tally())
        total.add(tallies.get(code.pk, Tally()))
        if code.parent_id is not None:
            subtree.setdefault(code.parent_id, Tally()).add(total)

    sections: list[dict] = []
    for code, depth in tree:
        entry = {
            "code": code,
            "depth": depth,
            "tally": tallies.get(code.pk, Tally()),
            "branch": subtree[code.pk] if code.pk in has_children else None,
            "has_children": code.pk in has_children,
            "first": siblings[code.parent_id][0] == code.pk,
            "last": siblings[code.parent_id][-1] == code.pk,
        }
        if depth == 0:
            dimension = not code.codable and code.pk in has_children
            if dimension or not sections or sections[-1]["dimension"] is not None:
                sections.append({"dimension": entry if dimension else None, "entries": []})
            if dimension:
                continue
        section = sections[-1]
        entry["depth"] = depth - 1 if section["dimension"] is not None else depth
        section["entries"].append(entry)

    context = {
        "study": study,
        "sections": sections,
        "n_codes": len(codes),
        "layer": layer,
        "layers": [(key, LAYERS[key]) for key in layer_choices(study.access)],
        "is_owner": study.access.is_owner,
        "blind_self": not study.access.sees_others,
    }
    return render(request, "coding/codebook.html", context)


@login_required
def codebook_csv(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if refused := _not_get(request):
        return refused
    content = export_codebook(study, "csv")
    record_export(study, "the codebook", f"{study.slug}-codebook.csv")
    return _download(content, f"{study.slug}-codebook.csv", "text/csv; charset=utf-8")


@login_required
def codebook_xlsx(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if refused := _not_get(request):
        return refused
    content = export_codebook(study, "xlsx")
    record_export(study, "the codebook", f"{study.slug}-codebook.xlsx")
    return _download(content, f"{study.slug}-codebook.xlsx", XLSX)


# --- Adding and editing codes ---------------------------------------------------------------

SHORTCUT_CHOICES = [("", "None"), *((str(i), str(i)) for i in range(1, 10))]


class CodeForm(forms.Form):
    name = forms.CharField(max_length=100)
    parent = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="Parent", help_text="Where it sits."
    )
    colour = forms.CharField(max_length=7, widget=forms.TextInput(attrs={"type": "color"}))
    definition = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    inclusion = forms.CharField(
        required=False,
        label="Include when",
        help_text="When to apply this code.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    exclusion = forms.CharField(
        required=False,
        label="Exclude when",
        help_text="When not to apply it, and what to use instead.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    example = forms.CharField(
        required=False,
        label="Example quote",
        help_text="A typical passage this code applies to.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    codable = forms.BooleanField(
        required=False,
        help_text="Off for a grouping such as a dimension (Concept, Domain): it is never applied.",
    )
    shortcut = forms.TypedChoiceField(
        choices=SHORTCUT_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        help_text="The digit that applies this code in the coding view.",
    )
    patterns = forms.CharField(
        required=False,
        label="Suggestion patterns",
        help_text=Code._meta.get_field("patterns").help_text,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(
        self, *args: object, study: Study, code: Code | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        if code is not None:
            # A code's place in the tree changes on the move page, which checks for loops.
            del self.fields["parent"]
        else:
            self.fields["parent"].choices = parent_choices(study)


def parent_choices(study: Study, moving: Code | None = None) -> list[tuple[str, str]]:
    codes = list(Code.objects.filter(study=study))
    paths = code_paths(codes)
    excluded = {moving.pk, *descendant_ids(moving)} if moving is not None else set()
    return [("", "(top level)")] + [
        (str(code.pk), paths[code.pk])
        for code, _depth in tree_order(codes)
        if code.pk not in excluded
    ]


def _form_error(form: forms.Form, error: CodebookError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error))


@login_required
def code_new(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    initial = {"colour": next_colour(study), "codable": True, "parent": request.GET.get("parent")}
    form = CodeForm(request.POST or None, study=study, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = dict(form.cleaned_data)
        parent_id = values.pop("parent")
        parent = _code(study, parent_id) if parent_id else None
        try:
            code = create_code(study=study, parent=parent, **values)
        except CodebookError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Added the code {code.path}.")
            return _to_codebook(study, code)
    return render(
        request, "coding/codebook_form.html", {"study": study, "form": form, "code": None}
    )


@login_required
def code_edit(request: HttpRequest, slug: str, code_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    code = _code(study, code_id)
    initial = {
        "name": code.name,
        "colour": code.colour,
        "definition": code.definition,
        "inclusion": code.inclusion,
        "exclusion": code.exclusion,
        "example": code.example,
        "codable": code.codable,
        "shortcut": str(code.shortcut or ""),
        "patterns": code.patterns,
    }
    form = CodeForm(request.POST or None, study=study, code=code, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            update_code(code=code, **form.cleaned_data)
        except CodebookError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Saved {code.path}.")
            return _to_codebook(study, code)
    return render(
        request, "coding/codebook_form.html", {"study": study, "form": form, "code": code}
    )


class MoveForm(forms.Form):
    parent = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False, label="New parent"
    )


@login_required
def code_move(request: HttpRequest, slug: str, code_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    code = _code(study, code_id)
    form = MoveForm(request.POST or None, initial={"parent": code.parent_id})
    form.fields["parent"].choices = parent_choices(study, moving=code)
    if request.method == "POST" and form.is_valid():
        parent_id = form.cleaned_data["parent"]
        parent = _code(study, parent_id) if parent_id else None
        try:
            move_code(code=code, parent=parent)
        except CodebookError as exc:
            _form_error(form, exc)
        else:
            where = f"under {parent.path}" if parent else "to the top level"
            messages.success(request, f"Moved {code.name} {where}.")
            return _to_codebook(study, code)
    return render(
        request, "coding/codebook_move.html", {"study": study, "code": code, "form": form}
    )


# --- Merging and deleting -------------------------------------------------------------------


@login_required
def code_merge(request: HttpRequest, slug: str, code_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    source = _code(study, code_id)
    choices = [c for c in parent_choices(study, moving=source) if c[0]]
    target_id = request.POST.get("target") or request.GET.get("target")
    target = _code(study, target_id) if target_id else None
    plan, error = None, ""
    if target is not None:
        try:
            if request.method == "POST":
                plan = merge_codes(source=source, target=target)
            else:
                plan = plan_merge(source=source, target=target)
        except CodebookError as exc:
            error = str(exc)
        else:
            if request.method == "POST":
                messages.success(
                    request,
                    f"Merged {plan.source_path} into {plan.target_path}: "
                    f"{plural(plan.codings, 'coding')} and {plural(plan.memos, 'memo')} moved.",
                )
                return redirect("coding:code", slug=study.slug, code_id=target.pk)
    context = {
        "study": study,
        "code": source,
        "target": target,
        "choices": choices,
        "plan": plan,
        "error": error,
    }
    return render(request, "coding/codebook_merge.html", context)


@login_required
def code_delete(request: HttpRequest, slug: str, code_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    code = _code(study, code_id)
    try:
        plan = delete_code(code=code) if request.method == "POST" else plan_delete(code=code)
    except CodebookError as exc:
        return render(
            request,
            "coding/codebook_delete.html",
            {"study": study, "code": code, "plan": None, "refusal": str(exc)},
            status=409 if request.method == "POST" else 200,
        )
    if request.method == "POST":
        lost = f" and {plural(plan.memos, 'memo')}" if plan.memos else ""
        messages.success(request, f"Deleted the code {plan.path}{lost}.")
        return _to_codebook(study)
    return render(
        request,
        "coding/codebook_delete.html",
        {"study": study, "code": code, "plan": plan, "refusal": ""},
    )


# --- Import ---------------------------------------------------------------------------------


class CodebookUploadForm(forms.Form):
    file = forms.FileField(
        label="Codebook file",
        help_text="A .csv or .xlsx table with a 'path' column; see the columns below.",
    )

    def clean_file(self) -> tuple[str, bytes]:
        upload = self.cleaned_data["file"]
        limit = settings.COLLOQUY_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"{upload.name} is {upload.size / 1048576:.1f} MB; the limit is "
                f"{limit / 1048576:.0f} MB."
            )
        return PurePath(upload.name).name[:255], upload.read()


@login_required
def codebook_import(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload, then a preview of every change, then confirm. The preview page carries the file
    back in a hidden field, so any server can finish the import and nothing waits in storage;
    the confirmation plans again and refuses if the codebook changed in between."""
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    form = CodebookUploadForm()
    context: dict = {"study": study}
    if request.method == "POST" and "cancel" in request.POST:
        messages.info(request, "Import cancelled: nothing was written.")
        return _to_codebook(study)
    if request.method == "POST" and "confirm" in request.POST:
        filename = PurePath(request.POST.get("filename", "")).name[:255]
        try:
            data = base64.b64decode(request.POST.get("payload", ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        try:
            with transaction.atomic():
                plan = plan_codebook(study=study, filename=filename, data=data)
                stale = plan.digest() != request.POST.get("digest")
                if not stale:
                    apply_codebook(study=study, plan=plan)
        except FileRejected as exc:
            messages.error(request, f"Nothing was imported: {exc}")
            return redirect("coding:codebook_import", slug=study.slug)
        if not stale:
            messages.success(request, plan.summary())
            return _to_codebook(study)
        context |= {"plan": plan, "stale": True, "filename": filename}
        context["payload"] = request.POST.get("payload", "")
        return render(request, "coding/codebook_import.html", context)
    if request.method == "POST":
        form = CodebookUploadForm(request.POST, request.FILES)
        if form.is_valid():
            filename, data = form.cleaned_data["file"]
            try:
                plan = plan_codebook(study=study, filename=filename, data=data)
            except FileRejected as exc:
                form.add_error("file", str(exc))
            else:
                context |= {
                    "plan": plan,
                    "filename": filename,
                    "payload": base64.b64encode(data).decode("ascii"),
                }
                return render(request, "coding/codebook_import.html", context)
    context["form"] = form
    return render(request, "coding/codebook_import.html", context)


# --- One code: its page, memos and report ---------------------------------------------------


@dataclass
class ReportFilter:
    layer: str
    coder: str
    workshop: str
    country: str

    def query(self, **extra: object) -> str:
        params = {k: v for k, v in vars(self).items() if v} | {k: v for k, v in extra.items() if v}
        return urlencode(params)


def report_filter(request: HttpRequest, study: Study) -> ReportFilter:
    return ReportFilter(
        layer=chosen_layer(request, study),
        coder=request.GET.get("coder", "").strip(),
        workshop=request.GET.get("workshop", "").strip(),
        country=request.GET.get("country", "").strip().upper(),
    )


def report_codings(study: Study, user: object, code: Code, chosen: ReportFilter) -> QuerySet:
    codings = layer_codings(study, user, chosen.layer).filter(code=code)
    if chosen.coder:
        codings = codings.filter(coder__username=chosen.coder)
    if chosen.workshop:
        codings = codings.filter(document__workshop__code=chosen.workshop)
    if chosen.country:
        codings = codings.filter(document__workshop__country=chosen.country)
    return codings.order_by("document__title", "start", "end", "coder__username")


def excerpt_values(codings: QuerySet) -> QuerySet:
    """One dict per coding with its quoted text and some text either side, cut in the database
    so that a long transcript is never loaded whole."""
    # Substr counts characters from 1 in SQLite and PostgreSQL alike; offsets count from 0.
    before_start = Greatest(F("start") - CONTEXT_CHARS, Value(0), output_field=IntegerField())
    return codings.annotate(
        quote=Substr("document__text", F("start") + 1, F("end") - F("start")),
        before=Substr("document__text", before_start + 1, F("start") - before_start),
        after=Substr("document__text", F("end") + 1, Value(CONTEXT_CHARS)),
    ).values(
        "pk",
        "document_id",
        "start",
        "end",
        "quote",
        "before",
        "after",
        "consensus",
        "document__title",
        "document__workshop__code",
        "document__workshop__country",
        "coder__username",
    )


def attach_speakers(rows: list[dict], turns: QuerySet[Turn]) -> None:
    """Add each excerpt's speakers [(label, participant code or None)] and first turn number."""
    index = DocumentSpans(
        (document_id, start, end, (seq, speaker, participant))
        for document_id, start, end, seq, speaker, participant in turns.values_list(
            "document_id", "start", "end", "seq", "speaker", "participant__code"
        )
    )
    for row in rows:
        found = sorted(index.overlapping(row["document_id"], row["start"], row["end"]))
        row["turn"] = found[0][0] if found else None
        row["speakers"] = list(dict.fromkeys((speaker, code) for _seq, speaker, code in found))


def _trim_context(row: dict) -> None:
    # Cut the context at a word, so that it does not start or end in the middle of one.
    before, after = row["before"] or "", row["after"] or ""
    if row["start"] > CONTEXT_CHARS and " " in before:
        before = "…" + before.split(" ", 1)[1]
    if len(after) == CONTEXT_CHARS and " " in after:
        after = after.rsplit(" ", 1)[0] + "…"
    row["before"], row["after"] = before, after


@login_required
def code_detail(request: HttpRequest, slug: str, code_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    code = _code(study, code_id)
    if request.method == "POST":
        study = get_study_for_user(request.user, slug, min_role=CODER)
        text = request.POST.get("text", "").strip()
        if not text:
            messages.error(request, "A memo needs some text.")
        else:
            Memo.objects.create(study=study, author=request.user, code=code, text=text)
            messages.success(request, f"Memo saved on {code.name}.")
        return redirect(code.get_absolute_url() + "#memos")

    chosen = report_filter(request, study)
    codings = report_codings(study, request.user, code, chosen)
    page = Paginator(excerpt_values(codings), EXCERPTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page)
    spans: dict[int, tuple[int, int]] = {}
    for row in rows:
        low, high = spans.get(row["document_id"], (row["start"], row["end"]))
        spans[row["document_id"]] = (min(low, row["start"]), max(high, row["end"]))
    turns = Turn.objects.none()
    if spans:
        near = Q()
        for document_id, (low, high) in spans.items():
            near |= Q(document_id=document_id, start__lt=high, end__gt=low)
        turns = Turn.objects.filter(near)
    attach_speakers(rows, turns)
    for row in rows:
        _trim_context(row)
        row["country_name"] = countries.name(row["document__workshop__country"] or "")

    visible = layer_codings(study, request.user, chosen.layer).filter(code=code)
    tally = tally_codings(visible).get(code.pk, Tally())
    coders = sorted(set(visible.values_list("coder__username", flat=True)))
    workshops = list(study.workshops.order_by("code").values_list("code", "country"))
    context = {
        "study": study,
        "code": code,
        "ancestors": code.ancestors(),
        "path": code.path,
        "children": sorted(code.children.all(), key=lambda c: (c.order, c.name.casefold())),
        "memos": Memo.objects.visible_to(study.access)
        .filter(code=code)
        .select_related("author")
        .order_by("-created_at"),
        "can_write_memo": study.access.can_code,
        "is_owner": study.access.is_owner,
        "tally": tally,
        "page": page,
        "rows": rows,
        "filter": chosen,
        "layers": [(key, LAYERS[key]) for key in layer_choices(study.access)],
        "coders": coders,
        "workshops": [w for w, _country in workshops],
        "countries": sorted({(c, countries.name(c)) for _w, c in workshops if c}),
        "query": chosen.query(),
        "filtered": bool(chosen.coder or chosen.workshop or chosen.country),
        "blind_self": not study.access.sees_others,
    }
    return render(request, "coding/code_detail.html", context)


def report_rows(study: Study, user: object, code: Code, chosen: ReportFilter) -> list[list]:
    codings = report_codings(study, user, code, chosen)
    rows = list(excerpt_values(codings))
    attach_speakers(rows, Turn.objects.filter(document__in=codings.values("document_id")))
    path = code.path
    table = []
    for row in rows:
        participants = [p for _speaker, p in row["speakers"] if p]
        table.append(
            [
                path,
                row["document__title"],
                row["document__workshop__code"] or "",
                row["document__workshop__country"] or "",
                "; ".join(dict.fromkeys(participants)),
                "; ".join(speaker for speaker, _p in row["speakers"]),
                row["coder__username"],
                row["start"],
                row["end"],
                row["quote"],
            ]
        )
    return table


def _report_filename(study: Study, code: Code, ext: str) -> str:
    return f"{study.slug}-{slugify(code.path.replace('/', '-')) or code.pk}-report.{ext}"


@login_required
def code_report_csv(request: HttpRequest, slug: str, code_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if refused := _not_get(request):
        return refused
    code = _code(study, code_id)
    rows = report_rows(study, request.user, code, report_filter(request, study))
    filename = _report_filename(study, code, "csv")
    record_export(study, f"the report on '{code.name}'", filename, details={"code": code.pk})
    return _download(csv_bytes(REPORT_COLUMNS, rows), filename, "text/csv; charset=utf-8")


@login_required
def code_report_xlsx(request: HttpRequest, slug: str, code_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if refused := _not_get(request):
        return refused
    code = _code(study, code_id)
    rows = report_rows(study, request.user, code, report_filter(request, study))
    content = xlsx_bytes(REPORT_COLUMNS, rows, title=code.name)
    filename = _report_filename(study, code, "xlsx")
    record_export(study, f"the report on '{code.name}'", filename, details={"code": code.pk})
    return _download(content, filename, XLSX)
