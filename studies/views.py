from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from studies.access import get_document_for_user, get_study_for_user
from studies.forms import MemberForm, RosterUploadForm, SpeakerMappingForm, TranscriptUploadForm
from studies.importers import FileRejected
from studies.models import LastOwnerError, Membership, PendingImport, Study
from studies.recordings import recording_context
from studies.services import (
    apply_roster,
    describe_outcomes,
    import_transcripts,
    plan_roster,
    preview_transcript,
)
from studies.views_people import member_page

OWNER = Membership.Role.OWNER
PREVIEW_TURNS = 8
PENDING_LIFETIME = timedelta(days=1)


@login_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = (
        Study.objects.for_user(request.user)
        .annotate(
            n_workshops=Count("workshops", distinct=True),
            n_participants=Count("participants", distinct=True),
            n_documents=Count("documents", distinct=True),
        )
        .order_by("name")
    )
    roles = dict(Membership.objects.filter(user=request.user).values_list("study_id", "role"))
    rows = [
        (study, roles.get(study.pk, "owner" if request.user.is_superuser else ""))
        for study in studies
    ]
    return render(request, "studies/study_list.html", {"rows": rows})


@login_required
def overview(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    workshops = study.workshops.annotate(
        n_participants=Count("participants", distinct=True),
        n_documents=Count("documents", distinct=True),
    )
    words = dict(
        study.documents.values("workshop_id")
        .annotate(words=Sum("word_count"))
        .values_list("workshop_id", "words")
    )
    speaking = dict(
        study.workshops.annotate(
            n=Count("participants", filter=Q(participants__turns__isnull=False), distinct=True)
        ).values_list("pk", "n")
    )
    rows = [(w, words.get(w.pk) or 0, speaking.get(w.pk, 0)) for w in workshops]
    totals = study.documents.aggregate(n=Count("pk"), words=Sum("word_count"))
    context = {
        "study": study,
        "rows": rows,
        "n_participants": study.participants.count(),
        "n_documents": totals["n"],
        "n_words": totals["words"] or 0,
        "variables": study.variables.all(),
        "members": study.memberships.select_related("user").order_by("role", "user__username"),
    }
    return render(request, "studies/overview.html", context)


@login_required
def document_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    documents = study.documents.select_related("workshop").annotate(n_turns=Count("turns"))
    workshop_code = request.GET.get("workshop", "")
    if workshop_code:
        documents = documents.filter(workshop__code=workshop_code)
    page = Paginator(documents.order_by("workshop__code", "title"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "studies/document_list.html",
        {
            "study": study,
            "page": page,
            "workshops": study.workshops.all(),
            "workshop_code": workshop_code,
        },
    )


@login_required
def document_detail(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    document = get_document_for_user(request.user, slug, document_id)
    text = document.text
    turns = [
        {
            "turn": turn,
            "utterance": text[turn.start : turn.end],
            "participant": turn.participant,
        }
        for turn in document.turns.select_related("participant").order_by("seq")
    ]
    speakers: dict[str, dict] = {}
    for row in turns:
        entry = speakers.setdefault(
            row["turn"].speaker,
            {"label": row["turn"].speaker, "participant": row["participant"], "turns": 0},
        )
        entry["turns"] += 1
    context = {
        "study": document.study,
        "document": document,
        "turns": turns,
        "has_times": any(row["turn"].start_ms is not None for row in turns),
        # Text before the first turn's line (a title, a date) is shown above the turns.
        "header": text[: max(text.rfind("\n", 0, turns[0]["turn"].start), 0)].strip()
        if turns
        else "",
        "speakers": sorted(speakers.values(), key=lambda s: -s["turns"]),
        "n_sentences": document.sentences.count(),
        **recording_context(document),
    }
    return render(request, "studies/document_detail.html", context)


@login_required
def participant_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    variables = list(study.variables.all())
    participants = (
        study.participants.select_related("workshop")
        .prefetch_related("values")
        .annotate(n_turns=Count("turns"))
        .order_by("workshop__code", "code")
    )
    workshop_code = request.GET.get("workshop", "")
    if workshop_code:
        participants = participants.filter(workshop__code=workshop_code)
    page = Paginator(participants, 100).get_page(request.GET.get("page"))
    rows = []
    for participant in page:
        values = {v.variable_id: v.value for v in participant.values.all()}
        rows.append((participant, [values.get(var.pk, "") for var in variables]))
    return render(
        request,
        "studies/participant_list.html",
        {
            "study": study,
            "page": page,
            "rows": rows,
            "variables": variables,
            "workshops": study.workshops.all(),
            "workshop_code": workshop_code,
        },
    )


@login_required
def member_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    form = MemberForm(study=study)
    if request.method == "POST":
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        action = request.POST.get("action")
        if action == "add":
            form = MemberForm(request.POST, study=study)
            if form.is_valid():
                member = form.save()
                messages.success(
                    request, f"{member.user.get_username()} joined {study.name} as {member.role}."
                )
                return redirect("studies:members", slug=study.slug)
        else:
            membership = study.memberships.filter(pk=request.POST.get("membership")).first()
            if membership is None:
                raise Http404("No such member.")
            name = membership.user.get_username()
            try:
                if action == "role" and request.POST.get("role") in Membership.Role.values:
                    membership.change_role(request.POST["role"])
                    messages.success(request, f"{name} is now {membership.role}.")
                elif action == "remove":
                    membership.remove()
                    messages.success(request, f"{name} was removed from {study.name}.")
            except LastOwnerError as refused:
                messages.error(request, refused.message)
            return redirect("studies:members", slug=study.slug)
    return member_page(request, study, add_form=form)


# --- Imports --------------------------------------------------------------------------------


@login_required
def import_start(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    # Previews nobody confirmed within a day are abandoned; drop their bytes.
    PendingImport.objects.filter(created_at__lt=timezone.now() - PENDING_LIFETIME).delete()
    transcript_form = TranscriptUploadForm(study=study, prefix="t")
    roster_form = RosterUploadForm(prefix="r")
    if request.method == "POST" and "roster" in request.POST:
        roster_form = RosterUploadForm(request.POST, request.FILES, prefix="r")
        if roster_form.is_valid():
            filename, data = roster_form.cleaned_data["file"]
            try:
                plan_roster(study=study, filename=filename, data=data)
            except FileRejected as exc:
                roster_form.add_error("file", str(exc))
            else:
                pending = PendingImport.objects.create(
                    study=study, user=request.user, kind="roster", filename=filename, data=data
                )
                return redirect("studies:import_review", slug=study.slug, batch=pending.batch)
    elif request.method == "POST":
        transcript_form = TranscriptUploadForm(request.POST, request.FILES, study=study, prefix="t")
        if transcript_form.is_valid():
            workshop = transcript_form.cleaned_data["workshop"]
            files = transcript_form.cleaned_data["files"]
            try:
                for filename, data in files:
                    preview_transcript(study=study, workshop=workshop, filename=filename, data=data)
            except FileRejected as exc:
                transcript_form.add_error("files", str(exc))
            else:
                batch = uuid.uuid4()
                PendingImport.objects.bulk_create(
                    PendingImport(
                        study=study,
                        user=request.user,
                        batch=batch,
                        kind="transcript",
                        workshop=workshop,
                        language=transcript_form.cleaned_data["language"],
                        filename=filename,
                        data=data,
                    )
                    for filename, data in files
                )
                return redirect("studies:import_review", slug=study.slug, batch=batch)
    context = {
        "study": study,
        "transcript_form": transcript_form,
        "roster_form": roster_form,
        "has_workshops": study.workshops.exists(),
    }
    return render(request, "studies/import_start.html", context)


def _pending(request: HttpRequest, study: Study, batch: uuid.UUID) -> list[PendingImport]:
    pending = list(
        PendingImport.objects.filter(study=study, user=request.user, batch=batch)
        .select_related("workshop")
        .order_by("pk")
    )
    if not pending:
        raise Http404("This import was already finished or cancelled.")
    return pending


@login_required
def import_review(request: HttpRequest, slug: str, batch: uuid.UUID) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    pending = _pending(request, study, batch)
    if request.method == "POST" and "cancel" in request.POST:
        PendingImport.objects.filter(pk__in=[p.pk for p in pending]).delete()
        messages.info(request, "Import cancelled: nothing was written.")
        return redirect("studies:import", slug=study.slug)
    if pending[0].kind == PendingImport.Kind.ROSTER:
        return _review_roster(request, study, pending[0])
    return _review_transcripts(request, study, pending)


def _review_roster(request: HttpRequest, study: Study, pending: PendingImport) -> HttpResponse:
    data = bytes(pending.data)
    try:
        plan = plan_roster(study=study, filename=pending.filename, data=data)
    except FileRejected as exc:
        pending.delete()
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect("studies:import", slug=study.slug)
    if request.method == "POST":
        apply_roster(study=study, plan=plan)
        pending.delete()
        messages.success(request, plan.summary())
        return redirect("studies:overview", slug=study.slug)
    return render(
        request,
        "studies/import_roster_review.html",
        {"study": study, "plan": plan, "pending": pending},
    )


def _review_transcripts(
    request: HttpRequest, study: Study, pending: list[PendingImport]
) -> HttpResponse:
    workshop = pending[0].workshop
    try:
        previews = [
            preview_transcript(
                study=study, workshop=workshop, filename=p.filename, data=bytes(p.data)
            )
            for p in pending
        ]
    except FileRejected as exc:
        PendingImport.objects.filter(pk__in=[p.pk for p in pending]).delete()
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect("studies:import", slug=study.slug)
    unmatched = list(dict.fromkeys(label for p in previews for label in p.unmatched))
    mapping_form = SpeakerMappingForm(
        request.POST if request.method == "POST" else None, labels=unmatched, study=study
    )
    error = ""
    if request.method == "POST" and mapping_form.is_valid():
        try:
            outcomes = import_transcripts(
                study=study,
                workshop=workshop,
                files=[(p.filename, bytes(p.data)) for p in pending],
                user=request.user,
                mapping=mapping_form.mapping(),
                language=pending[0].language or None,
            )
        except FileRejected as exc:
            error = f"Nothing was imported: {exc}"
        else:
            PendingImport.objects.filter(pk__in=[p.pk for p in pending]).delete()
            messages.success(request, describe_outcomes(outcomes))
            return redirect("studies:documents", slug=study.slug)
    blocked = [p for p in previews if p.status == "refused"]
    rows = [
        {
            "preview": p,
            "turns": [(t, p.parsed.text[t.start : t.end]) for t in p.parsed.turns[:PREVIEW_TURNS]],
        }
        for p in previews
    ]
    return render(
        request,
        "studies/import_transcripts_review.html",
        {
            "study": study,
            "workshop": workshop,
            "language": pending[0].language or (workshop.language if workshop else "en"),
            "rows": rows,
            "mapping_form": mapping_form,
            "blocked": blocked,
            "error": error,
            "preview_turns": PREVIEW_TURNS,
        },
    )
