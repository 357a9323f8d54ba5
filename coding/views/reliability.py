"""Inter-coder reliability pages: the agreement table, agreement rounds, and the side-by-side
comparison of two coders where an owner adjudicates into the consensus layer.

Blind coding: these pages show every coder's codings (the side-by-side view) or figures derived
from them (a code's agreement tells a coder whether the others applied it). While blind coding
is on, a coder therefore sees only a note that reliability is available to owners; owners always
see everything, and viewers, who may read every layer anyway, see the figures read-only. The
rounds list stays open to every member: it names documents and coders, never codings.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from itertools import combinations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from coding.adjudication import (
    AdjudicationError,
    accept_agreements,
    adjudicate,
    adjudication_progress,
    close_round,
    decision_map,
    start_round,
)
from coding.jobs import start_reliability
from coding.models import AdjudicationDecision, AgreementRound, Code, Coding, code_paths
from coding.reliability import (
    UNITS,
    ReliabilityReport,
    Scope,
    ScopeError,
    alpha_verdict,
    compare_coders,
    machine_labels,
    study_coders,
    unit_spans,
)
from studies.access import get_document_for_user, get_study_for_user
from studies.jobs import jobs_for, runs_in_background
from studies.models import Document, Job, Membership, Study, Turn
from studies.spans import SpanIndex
from studies.views_jobs import job_response
from studies.wording import plural

User = get_user_model()
OWNER = Membership.Role.OWNER
CODER = Membership.Role.CODER
# Reading units for the side-by-side view; a character is a unit to measure, not to read.
COMPARE_UNITS = ("sentence", "turn")
UNIT_LABELS = {"sentence": "Sentence", "turn": "Speaker turn", "character": "Character"}


def blind_wall(request: HttpRequest, study: Study) -> HttpResponse | None:
    """The note a coder gets instead of any reliability page while blind coding is on."""
    if not study.access.sees_others:
        return render(request, "coding/reliability_blind.html", {"study": study})
    return None


def asked_scope(study: Study, query: object) -> Scope:
    """What the page's form asks to compare (GET to show, POST to compute as a job)."""
    try:
        return Scope.of(
            study,
            unit=query.get("unit", ""),
            round_id=query.get("round", ""),
            wanted=query.getlist("coder"),
            machines=query.get("machines") != "off",
        )
    except ScopeError as error:
        raise Http404(str(error)) from None


def finished_report(request: HttpRequest, study: Study) -> tuple[Job, Scope] | None:
    """The reliability job `?job=` names: one of the requester's, done, in this study."""
    job_id = request.GET.get("job", "")
    if not job_id:
        return None
    job = None
    if job_id.isdigit():
        job = (
            jobs_for(request.user, study)
            .filter(pk=job_id, kind="reliability", status=Job.Status.DONE)
            .first()
        )
    if job is None:
        raise Http404("No such finished agreement job of yours in this study.")
    try:
        return job, Scope.from_params(study, job.params)
    except ScopeError as error:
        raise Http404(str(error)) from None


@login_required
def reliability(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if wall := blind_wall(request, study):
        return wall
    report = job = None
    problem = ""
    decisions = 0
    if found := finished_report(request, study):
        # A table computed as a job: shown as it was when the job finished.
        job, scope = found
        report = ReliabilityReport.from_stored(job.data)
        labels = job.data.get("machines", {})
    else:
        scope = asked_scope(study, request.GET)
        labels = machine_labels(study)
        if not study.documents.exists():
            problem = "no documents"
        elif not (decisions := scope.job_size(study)):
            # A large table is computed on request, as a job (see coding.jobs); this one now.
            try:
                report = scope.compute(study)
            except ValueError as error:
                problem = str(error)
    shown = set(report.coders) if report else set(scope.wanted)
    pairs = list(combinations(report.coders, 2)) if report else []
    return render(
        request,
        "coding/reliability.html",
        {
            "study": study,
            "report": report,
            "job": job,
            "decisions": decisions,
            "wanted": scope.wanted,
            "background": runs_in_background(),
            "problem": problem,
            "unit": scope.unit,
            "units": [(key, UNIT_LABELS[key]) for key in UNITS],
            "candidates": [
                (c.get_username(), c.get_username() in shown, labels.get(c.get_username(), ""))
                for c in scope.candidates
            ],
            "machines": scope.machines,
            "machine_labels": [(name, labels[name]) for name in shown if name in labels],
            "rounds": list(study.agreement_rounds.all()),
            "agreement_round": scope.agreement_round,
            "pairs": pairs,
            "code_rows": [(row, alpha_verdict(row.krippendorff_alpha)) for row in report.codes]
            if report
            else [],
            "overall_verdict": alpha_verdict(report.overall.krippendorff_alpha) if report else None,
            "compare_unit": scope.unit if scope.unit in COMPARE_UNITS else "sentence",
        },
    )


@login_required
@require_POST
def reliability_job(request: HttpRequest, slug: str) -> HttpResponse:
    """Compute the form's table as a job: the way a large study's agreement is computed."""
    study = get_study_for_user(request.user, slug)
    if wall := blind_wall(request, study):
        return wall
    scope = asked_scope(study, request.POST)
    job = start_reliability(study=study, user=request.user, scope=scope)
    if job.status == Job.Status.FAILED and not runs_in_background():
        messages.error(request, job.error)
        return redirect(reliability_url(study, scope))
    return job_response(request, job)


def reliability_url(study: Study, scope: Scope) -> str:
    """The Reliability page showing `scope`."""
    query = {"unit": scope.unit, "coder": scope.wanted}
    if scope.agreement_round is not None:
        query["round"] = scope.agreement_round.pk
    if not scope.machines:
        query["machines"] = "off"
    url = reverse("coding:reliability", kwargs={"slug": study.slug})
    return f"{url}?{urlencode(query, doseq=True)}"


# Agreement rounds --------------------------------------------------------------------------------


class RoundForm(forms.Form):
    SCOPES = [
        ("all", "Every document of the study"),
        ("chosen", "The documents ticked below"),
        ("sample", "A random sample of the documents (of those ticked, if any)"),
    ]

    name = forms.CharField(max_length=200, label="Name", help_text="For example “Pilot, March”.")
    unit = forms.ChoiceField(
        choices=[(key, UNIT_LABELS[key]) for key in UNITS], initial="sentence", label="Unit"
    )
    coders = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Coders",
        help_text="Two or more; each is assigned every document of the round.",
    )
    scope = forms.ChoiceField(
        choices=SCOPES, initial="all", widget=forms.RadioSelect, label="Documents"
    )
    documents = forms.ModelMultipleChoiceField(
        queryset=Document.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Chosen documents",
    )
    share = forms.FloatField(
        min_value=1,
        max_value=100,
        required=False,
        label="Sample size (% of documents)",
        help_text="Rounded up to whole documents.",
    )
    seed = forms.IntegerField(
        min_value=0,
        max_value=2**62,
        required=False,
        label="Seed",
        help_text="Leave empty for a new random seed; the seed is recorded so the sample can be "
        "drawn again.",
    )

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["coders"].queryset = User.objects.filter(
            memberships__study=study, memberships__role__in=[CODER, OWNER]
        ).order_by("username")
        self.fields["documents"].queryset = study.documents.order_by("title")

    def clean(self) -> dict:
        data = super().clean()
        scope = data.get("scope")
        if data.get("coders") is not None and len(data["coders"]) < 2:
            self.add_error("coders", "Choose at least two coders.")
        if scope == "chosen" and not data.get("documents"):
            self.add_error("documents", "Tick the documents of the round.")
        if scope == "sample" and data.get("share") is None:
            self.add_error("share", "Give the share of documents to sample.")
        return data


@login_required
def rounds(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    form = None
    if request.method == "POST":
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        form = RoundForm(request.POST, study=study)
        if form.is_valid():
            data = form.cleaned_data
            scope = data["scope"]
            try:
                agreement_round = start_round(
                    study=study,
                    name=data["name"],
                    user=request.user,
                    coders=list(data["coders"]),
                    documents=list(data["documents"]) if data["documents"] else None,
                    share=data["share"] / 100 if scope == "sample" else None,
                    seed=data["seed"] if scope == "sample" else None,
                    unit=data["unit"],
                )
            except AdjudicationError as error:
                form.add_error(None, str(error))
            else:
                count = agreement_round.documents.count()
                messages.success(
                    request,
                    f"Round “{agreement_round.name}” started: {plural(count, 'document')} "
                    f"assigned to {plural(agreement_round.coders.count(), 'coder')}; blind "
                    "coding is on until you close it.",
                )
                return redirect("coding:rounds", slug=study.slug)
    elif study.user_role == OWNER:
        form = RoundForm(study=study)
    listed = list(study.agreement_rounds.prefetch_related("coders").select_related("created_by"))
    counts = {
        row.pk: row.documents.count()  # a handful of rounds per study: one small query each
        for row in listed
    }
    return render(
        request,
        "coding/reliability_rounds.html",
        {
            "study": study,
            "form": form,
            "rounds": [(row, counts[row.pk]) for row in listed],
            "has_open": any(row.is_open for row in listed),
        },
        status=400 if form is not None and form.is_bound else 200,
    )


@login_required
@require_POST
def round_close(request: HttpRequest, slug: str, round_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    agreement_round = AgreementRound.objects.filter(study=study, pk=round_id).first()
    if agreement_round is None:
        raise Http404("No such round in this study.")
    try:
        close_round(agreement_round=agreement_round, user=request.user)
    except AdjudicationError as error:
        messages.error(request, str(error))
    else:
        state = "on" if agreement_round.blind_before else "off"
        messages.success(
            request,
            f"Round “{agreement_round.name}” closed; blind coding is {state} again, as before it.",
        )
    return redirect("coding:rounds", slug=study.slug)


# Comparing two coders ----------------------------------------------------------------------------


def pick_pair(request: HttpRequest, study: Study) -> tuple[object, object] | None:
    """Coders A and B from ?a=&b= (usernames of the study's coders), or None when not chosen.
    A name that is not one of the study's coders is a 404, as any object of another study."""
    names = (request.GET.get("a", ""), request.GET.get("b", ""))
    if not all(names):
        return None
    by_name = {coder.get_username(): coder for coder in study_coders(study)}
    if names[0] not in by_name or names[1] not in by_name:
        raise Http404("No such coder in this study.")
    return by_name[names[0]], by_name[names[1]]


def compare_unit(request: HttpRequest) -> str:
    unit = request.GET.get("unit", "sentence")
    return unit if unit in COMPARE_UNITS else "sentence"


@login_required
def compare(request: HttpRequest, slug: str) -> HttpResponse:
    """Choose two coders; then every document either of them coded, with adjudication progress."""
    study = get_study_for_user(request.user, slug)
    if wall := blind_wall(request, study):
        return wall
    unit = compare_unit(request)
    pair = pick_pair(request, study)
    if pair is None and not (request.GET.get("a") or request.GET.get("b")):
        # The usual case needs no choice: exactly two people have coded.
        who = list(
            User.objects.filter(codings__document__study=study, codings__consensus=False)
            .distinct()
            .order_by("username")
        )
        if len(who) == 2:
            pair = (who[0], who[1])
    rows = []
    if pair is not None and pair[0].pk != pair[1].pk:
        coder_a, coder_b = pair
        document_ids = set(
            Coding.objects.filter(
                document__study=study, consensus=False, coder__in=[coder_a, coder_b]
            ).values_list("document_id", flat=True)
        )
        for document in study.documents.filter(pk__in=document_ids).select_related("workshop"):
            decided, total = adjudication_progress(document, coder_a, coder_b, unit)
            rows.append((document, decided, total))
        rows.sort(key=lambda row: row[0].title)
    elif pair is not None:
        messages.error(request, "Choose two different coders.")
        pair = None
    return render(
        request,
        "coding/reliability_compare.html",
        {
            "study": study,
            "pair": pair,
            "unit": unit,
            "units": [(key, UNIT_LABELS[key]) for key in COMPARE_UNITS],
            "coders": [c.get_username() for c in study_coders(study)],
            "rows": rows,
            "query": urlencode(
                {
                    "a": pair[0].get_username() if pair else "",
                    "b": pair[1].get_username() if pair else "",
                    "unit": unit,
                }
            ),
        },
    )


@dataclass
class Difference:
    code: Code
    side: str  # "a" when only coder A applied the code, "b" when only B did
    decision: AdjudicationDecision | None


@dataclass
class UnitRow:
    seq: int
    start: int
    end: int
    text: str
    a: list[Code]
    b: list[Code]
    consensus: list[Code]
    differences: list[Difference] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.differences)


@dataclass
class TurnGroup:
    turn: Turn | None
    rows: list[UnitRow]


def build_rows(
    document: Document,
    coder_a: object,
    coder_b: object,
    unit: str,
    code_filter: Code | None,
    codes: dict[int, Code],
) -> list[TurnGroup]:
    """The document unit by unit, grouped under the speaker turn each unit starts in."""
    only = {code_filter.pk} if code_filter else None
    comparisons = compare_coders(document, coder_a, coder_b, unit=unit, codes=only)
    decisions = decision_map(document, coder_a, coder_b)
    consensus_spans: dict[int, list[tuple[int, int]]] = {}
    consensus = Coding.objects.filter(document=document, consensus=True)
    if only:
        consensus = consensus.filter(code_id__in=only)
    for code_id, start, end in consensus.values_list("code_id", "start", "end"):
        consensus_spans.setdefault(code_id, []).append((start, end))
    consensus_index = {code_id: SpanIndex.of(spans) for code_id, spans in consensus_spans.items()}

    def ordered(ids: set[int]) -> list[Code]:
        return sorted((codes[i] for i in ids if i in codes), key=lambda c: c.path_label)

    turns = list(document.turns.select_related("participant").order_by("start"))
    turn_starts = [turn.start for turn in turns]
    text = document.text
    groups: list[TurnGroup] = []
    for seq, comparison in enumerate(comparisons, start=1):
        start, end = comparison.start, comparison.end
        row = UnitRow(
            seq=seq,
            start=start,
            end=end,
            text=text[start:end],
            a=ordered(comparison.a),
            b=ordered(comparison.b),
            consensus=ordered(
                {i for i, index in consensus_index.items() if index.overlapping(start, end)}
            ),
        )
        for code in ordered(comparison.a ^ comparison.b):
            row.differences.append(
                Difference(
                    code=code,
                    side="a" if code.pk in comparison.a else "b",
                    decision=decisions.get((start, end, code.pk)),
                )
            )
        at = bisect.bisect_right(turn_starts, start) - 1
        turn = turns[at] if at >= 0 else None
        if not groups or groups[-1].turn is not turn:
            groups.append(TurnGroup(turn=turn, rows=[]))
        groups[-1].rows.append(row)
    return groups


def side_by_side_url(
    slug: str, document_id: int, a: str, b: str, unit: str, code: str, only: bool
) -> str:
    query = {"a": a, "b": b, "unit": unit}
    if code:
        query["code"] = code
    if only:
        query["only"] = "1"
    return reverse("coding:side_by_side", args=[slug, document_id]) + "?" + urlencode(query)


DECISION_DONE = {
    "a": "{code}: took {a}'s coding in this {unit}.",
    "b": "{code}: took {b}'s coding in this {unit}.",
    "both": "{code}: took both codings in this {unit}.",
    "neither": "{code}: left out of the consensus in this {unit}.",
    "edit": "{code}: marked for editing by hand; code this {unit} in the consensus layer of "
    "the coding view.",
}


@login_required
def side_by_side(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    document = get_document_for_user(request.user, slug, document_id)
    study = document.study
    if wall := blind_wall(request, study):
        return wall
    pair = pick_pair(request, study)
    unit = compare_unit(request)
    if pair is None or pair[0].pk == pair[1].pk:
        messages.error(request, "Choose two different coders to compare.")
        choose = reverse("coding:compare", args=[study.slug])
        return redirect(f"{choose}?{urlencode({'unit': unit})}")
    coder_a, coder_b = pair
    all_codes = list(Code.objects.filter(study=study).order_by("order", "name"))
    paths = code_paths(all_codes)
    for code in all_codes:
        # Computed once from the list (Code.path reads the whole codebook each time).
        code.path_label = paths[code.pk]
    codes = {code.pk: code for code in all_codes}
    code_param = request.GET.get("code", "")
    code_filter = codes.get(int(code_param)) if code_param.isdigit() else None
    only_differences = request.GET.get("only") == "1"
    here = side_by_side_url(
        study.slug,
        document.pk,
        coder_a.get_username(),
        coder_b.get_username(),
        unit,
        str(code_filter.pk) if code_filter else "",
        only_differences,
    )

    if request.method == "POST":
        study.access.require(OWNER)
        return adjudicate_post(request, document, coder_a, coder_b, unit, codes, here)

    groups = build_rows(document, coder_a, coder_b, unit, code_filter, codes)
    shown_units = sum(len(group.rows) for group in groups)
    differing = sum(1 for group in groups for row in group.rows if row.differs)
    if only_differences:
        groups = [
            TurnGroup(turn=group.turn, rows=[row for row in group.rows if row.differs])
            for group in groups
        ]
        groups = [group for group in groups if group.rows]
    decided, total = adjudication_progress(document, coder_a, coder_b, unit)
    return render(
        request,
        "coding/side_by_side.html",
        {
            "study": study,
            "document": document,
            "coder_a": coder_a.get_username(),
            "coder_b": coder_b.get_username(),
            "unit": unit,
            "unit_label": UNIT_LABELS[unit].lower(),
            "units": [(key, UNIT_LABELS[key]) for key in COMPARE_UNITS],
            "codes": [code for code in all_codes if code.codable],
            "code_filter": code_filter,
            "only_differences": only_differences,
            "groups": groups,
            "shown_units": shown_units,
            "differing": differing,
            "decided": decided,
            "total": total,
            "is_owner": study.user_role == OWNER,
            "choices": AdjudicationDecision.Choice.choices,
            "here": here,
            "list_url": reverse("coding:compare", args=[study.slug])
            + "?"
            + urlencode({"a": coder_a.get_username(), "b": coder_b.get_username(), "unit": unit}),
            "workbench_url": reverse("coding:workbench", args=[study.slug, document.pk])
            + "?layer=consensus",
        },
    )


def adjudicate_post(
    request: HttpRequest,
    document: Document,
    coder_a: object,
    coder_b: object,
    unit: str,
    codes: dict[int, Code],
    here: str,
) -> HttpResponse:
    names = {"a": coder_a.get_username(), "b": coder_b.get_username()}
    if request.POST.get("action") == "accept":
        copied = accept_agreements(
            document=document, coder_a=coder_a, coder_b=coder_b, unit=unit, user=request.user
        )
        if copied:
            messages.success(
                request,
                f"Accepted {copied} agreement{'' if copied == 1 else 's'} "
                "into the consensus layer.",
            )
        else:
            messages.info(request, "No new agreements to accept: the consensus layer has them.")
        return redirect(here)

    try:
        start = int(request.POST.get("start", ""))
        end = int(request.POST.get("end", ""))
        code = codes[int(request.POST.get("code", ""))]
    except (KeyError, ValueError):
        raise Http404("No such unit or code.") from None
    if (start, end) not in set(unit_spans(document, unit)):
        raise Http404(f"No {unit} [{start}, {end}) in this document.")
    decision = request.POST.get("decision", "")
    try:
        adjudicate(
            document=document,
            code=code,
            unit_start=start,
            unit_end=end,
            decision=decision,
            coder_a=coder_a,
            coder_b=coder_b,
            user=request.user,
        )
    except AdjudicationError as error:
        messages.error(request, str(error))
    else:
        done = DECISION_DONE[decision].format(code=code.name, unit=unit, **names)
        messages.success(request, done)
    return redirect(f"{here}#u-{start}")
