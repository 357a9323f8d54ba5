from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, Q, Sum, When
from django.db.models.functions import Substr
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from studies.access import Access, get_document_for_user, get_study_for_user
from studies.forms import (
    DocumentForm,
    MemberForm,
    ParticipantForm,
    RosterLanguageForm,
    RosterUploadForm,
    SpeakerMappingForm,
    StudyDeleteForm,
    StudyForm,
    TranscriptUploadForm,
    WorkshopForm,
)
from studies.importers import FileRejected
from studies.job_handlers import start_transcript_import
from studies.jobs import jobs_for, runs_in_background
from studies.models import (
    Document,
    Job,
    LastOwnerError,
    Membership,
    Participant,
    ParticipantValue,
    PendingImport,
    Study,
)
from studies.recordings import recording_context
from studies.services import (
    StudyError,
    apply_roster,
    archive_study,
    create_study,
    delete_document,
    delete_study,
    deletion_summary,
    document_attachments,
    plan_roster,
    preview_transcript,
    restore_study,
    update_document,
    update_participant,
    update_study,
    update_workshop,
)
from studies.views_jobs import job_response
from studies.views_people import member_page
from studies.views_privacy import personal_data, posted_decisions

OWNER = Membership.Role.OWNER
PREVIEW_TURNS = 8
PENDING_LIFETIME = timedelta(days=1)


# Counted in a study's or workshop's participants: those who have not withdrawn (the rule is
# Participant.objects.current(); this is the same condition seen from a study or workshop).
CURRENT = Q(participants__withdrawn_at__isnull=True)


@login_required
def study_list(request: HttpRequest) -> HttpResponse:
    studies = (
        Study.objects.for_user(request.user)
        .filter(archived_at__isnull=True)
        .annotate(
            n_workshops=Count("workshops", distinct=True),
            n_participants=Count("participants", filter=CURRENT, distinct=True),
            n_documents=Count("documents", distinct=True),
        )
        .order_by("name")
    )
    roles = dict(Membership.objects.filter(user=request.user).values_list("study_id", "role"))
    rows = [
        (study, roles.get(study.pk, "owner" if request.user.is_superuser else ""))
        for study in studies
    ]
    n_archived = Study.objects.for_user(request.user).filter(archived_at__isnull=False).count()
    return render(request, "studies/study_list.html", {"rows": rows, "n_archived": n_archived})


@login_required
def overview(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    workshops = study.workshops.annotate(
        n_participants=Count("participants", filter=CURRENT, distinct=True),
        n_documents=Count("documents", distinct=True),
    )
    words = dict(
        study.documents.values("workshop_id")
        .annotate(words=Sum("word_count"))
        .values_list("workshop_id", "words")
    )
    speaking = dict(
        study.workshops.annotate(
            n=Count(
                "participants",
                filter=CURRENT & Q(participants__turns__isnull=False),
                distinct=True,
            )
        ).values_list("pk", "n")
    )
    rows = [(w, words.get(w.pk) or 0, speaking.get(w.pk, 0)) for w in workshops]
    totals = study.documents.aggregate(n=Count("pk"), words=Sum("word_count"))
    context = {
        "study": study,
        "rows": rows,
        "n_participants": study.participants.current().count(),
        "n_withdrawn": study.participants.withdrawn().count(),
        "n_documents": totals["n"],
        "n_words": totals["words"] or 0,
        "variables": study.variables.all(),
        "members": study.memberships.select_related("user").order_by("role", "user__username"),
        "n_jobs_running": jobs_for(request.user, study).unfinished().count(),
    }
    return render(request, "studies/overview.html", context)


@login_required
def document_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    # The list shows no text: reading and grouping every transcript's text made this page
    # slower with each import (seconds for a few long transcripts on SQLite).
    documents = (
        study.documents.select_related("workshop").defer("text").annotate(n_turns=Count("turns"))
    )
    workshop_code = request.GET.get("workshop", "")
    if workshop_code:
        documents = documents.filter(workshop__code=workshop_code)
    kind = request.GET.get("kind", "")
    if kind in Document.Kind.values:
        documents = documents.filter(kind=kind)
    else:
        kind = ""
    # Transcripts before the survey texts and notes made beside them, workshop by workshop.
    kind_order = Case(
        *(When(kind=value, then=i) for i, value in enumerate(Document.Kind.values)),
        default=len(Document.Kind.values),
    )
    page = Paginator(documents.order_by(kind_order, "workshop__code", "title"), 50).get_page(
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
            "kinds": Document.Kind.choices,
            "kind": kind,
            "pager_query": urlencode(
                {k: v for k, v in (("workshop", workshop_code), ("kind", kind)) if v}
            ),
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
    # A variable's value, as "<variable id>=<value>" (one select lists them all).
    where = request.GET.get("where", "")
    variable_id, _, value = where.partition("=")
    chosen = next((v for v in variables if str(v.pk) == variable_id), None)
    if chosen is not None:
        participants = participants.filter(values__variable=chosen, values__value=value)
    distinct = _distinct_values(study)
    options = [
        (variable, list(dict.fromkeys(variable.choice_list + distinct.get(variable.pk, []))))
        for variable in variables
    ]
    query = urlencode({k: v for k, v in (("workshop", workshop_code), ("where", where)) if v})
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
            "where": where,
            "where_label": f"{chosen.name} = {value}" if chosen is not None else "",
            "variable_options": options,
            "pager_query": query,
        },
    )


def _distinct_values(study: Study) -> dict[int, list[str]]:
    values: dict[int, list[str]] = {}
    rows = (
        ParticipantValue.objects.filter(variable__study=study)
        .exclude(value="")
        .values_list("variable_id", "value")
        .distinct()
        .order_by("variable_id", "number", "value")
    )
    for variable_id, value in rows:
        values.setdefault(variable_id, []).append(value)
    return values


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
        PendingImport.objects.filter(
            study=study,
            user=request.user,
            batch=batch,
            kind__in=(PendingImport.Kind.TRANSCRIPT, PendingImport.Kind.ROSTER),
        )
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
    language_form = None
    if plan.workshops_need_language:
        language_form = RosterLanguageForm(
            request.POST if request.method == "POST" else None,
            study=study,
            workshops=plan.workshops_need_language,
        )
    if request.method == "POST" and (language_form is None or language_form.is_valid()):
        language = language_form.cleaned_data["language"] if language_form else None
        apply_roster(study=study, plan=plan, language=language)
        pending.delete()
        messages.success(request, plan.summary())
        return redirect("studies:overview", slug=study.slug)
    return render(
        request,
        "studies/import_roster_review.html",
        {"study": study, "plan": plan, "pending": pending, "language_form": language_form},
    )


def _review_transcripts(
    request: HttpRequest, study: Study, pending: list[PendingImport]
) -> HttpResponse:
    workshop = pending[0].workshop
    # The web import always pseudonymises: the reviewer's decisions come with the form.
    post = request.POST if request.method == "POST" else None
    language = pending[0].language or None
    decisions, refused = [], []
    try:
        previews = []
        for index, p in enumerate(pending):
            preview = preview_transcript(
                study=study,
                workshop=workshop,
                filename=p.filename,
                data=bytes(p.data),
                pseudonymise=True,
                language=language,
            )
            chosen, errors = posted_decisions(post, index, preview.pseudonymised.findings)
            if chosen.each or chosen.kinds:
                preview = preview_transcript(
                    study=study,
                    workshop=workshop,
                    filename=p.filename,
                    data=bytes(p.data),
                    pseudonymise=True,
                    decisions=chosen,
                    language=language,
                )
            previews.append(preview)
            decisions.append(chosen)
            refused.append(errors)
    except FileRejected as exc:
        PendingImport.objects.filter(pk__in=[p.pk for p in pending]).delete()
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect("studies:import", slug=study.slug)
    unmatched = list(dict.fromkeys(label for p in previews for label in p.unmatched))
    confirm = request.method == "POST" and "confirm" in request.POST
    # Updating the preview keeps the speakers chosen so far without judging them yet.
    mapping_form = SpeakerMappingForm(
        request.POST if confirm else None,
        initial={k: v for k, v in request.POST.items() if k.startswith("speaker_")},
        labels=unmatched,
        study=study,
        workshop=workshop,
    )
    error = ""
    bad = sum(len(errors) for errors in refused)
    if confirm and bad:
        error = (
            f"Nothing was imported: {bad} replacement{'s are' if bad > 1 else ' is'} not "
            "valid (see the marked rows under Personal data)."
        )
    elif confirm and mapping_form.is_valid():
        # A job: sentence splitting a long transcript takes seconds; with a worker configured
        # this request answers at once and the job's page shows its progress.
        job = start_transcript_import(
            study=study,
            user=request.user,
            batch=pending[0].batch,
            mapping=mapping_form.mapping(),
            language=pending[0].language or None,
            pseudonymise=True,
            decisions={p.filename: d for p, d in zip(pending, decisions, strict=True)},
        )
        if job.status == Job.Status.FAILED and not runs_in_background():
            error = job.error
        else:
            return job_response(request, job)
    blocked = [p for p in previews if p.status == "refused"]
    rows = [
        {
            "preview": p,
            "turns": [(t, p.parsed.text[t.start : t.end]) for t in p.parsed.turns[:PREVIEW_TURNS]],
            "personal": personal_data(index, p.pseudonymised, post, refused[index]),
        }
        for index, p in enumerate(previews)
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


# --- Running a study: create, edit, archive, delete -----------------------------------------


@login_required
def study_new(request: HttpRequest) -> HttpResponse:
    """Any signed-in user starts a study and becomes its owner."""
    form = StudyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            study = create_study(
                owner=request.user,
                name=data["name"],
                slug=data["slug"],
                description=data["description"],
                languages=data["languages"],
            )
        except StudyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"Created {study.name} (/{study.slug}/). You own it: import a roster to add "
                "workshops and participants.",
            )
            return redirect("studies:overview", slug=study.slug)
    return render(request, "studies/study_form.html", {"form": form})


@login_required
def archived_list(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.for_user(request.user).filter(archived_at__isnull=False)
    roles = dict(Membership.objects.filter(user=request.user).values_list("study_id", "role"))
    rows = [
        (study, roles.get(study.pk, OWNER if request.user.is_superuser else ""))
        for study in studies.order_by("-archived_at")
    ]
    return render(request, "studies/archived_list.html", {"rows": rows})


@login_required
def study_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """Owners change the name, description and languages; archive and delete start here."""
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    if request.method == "POST":
        study.access.require(OWNER)  # an archived study is read-only until restored
    form = StudyForm(request.POST or None, instance=study)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            update_study(
                study=study,
                name=data["name"],
                description=data["description"],
                languages=data["languages"],
            )
        except StudyError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Saved the settings of {study.name}.")
            return redirect("studies:settings", slug=study.slug)
    return render(
        request,
        "studies/study_settings.html",
        {"study": study, "form": form, "summary": deletion_summary(study).describe()},
    )


@login_required
@require_POST
def study_archive(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    archive_study(study=study)
    messages.success(
        request,
        f"Archived {study.name}: it is read-only and listed under Archived studies, where an "
        "owner restores it.",
    )
    return redirect("studies:list")


@login_required
@require_POST
def study_restore(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    restore_study(study=study)
    messages.success(request, f"Restored {study.name}: its members can change it again.")
    return redirect("studies:overview", slug=study.slug)


@login_required
def study_delete(request: HttpRequest, slug: str) -> HttpResponse:
    """Delete a study after its owner typed its name, on a page that says what goes."""
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    form = StudyDeleteForm(request.POST or None, study=study)
    if request.method == "POST" and form.is_valid():
        name = study.name
        summary = delete_study(study=study, confirmation=form.cleaned_data["name"])
        lost = summary.describe()
        messages.success(request, f"Deleted {name}" + (f" with {lost}." if lost else "."))
        return redirect("studies:list")
    return render(
        request,
        "studies/study_delete.html",
        {"study": study, "form": form, "summary": deletion_summary(study)},
    )


# --- Documents and workshops ----------------------------------------------------------------


@login_required
def document_edit(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    """Rename a document or move it to another workshop."""
    document = get_document_for_user(request.user, slug, document_id, min_role=OWNER)
    form = DocumentForm(request.POST or None, document=document)
    if request.method == "POST" and form.is_valid():
        old_title = document.title
        old_workshop = document.workshop
        try:
            update_document(
                document=document,
                title=form.cleaned_data["title"],
                workshop=form.cleaned_data["workshop"],
            )
        except StudyError as exc:
            form.add_error(None, str(exc))
        else:
            changes = []
            if document.title != old_title:
                changes.append(f"renamed {old_title} to {document.title}")
            if document.workshop != old_workshop:
                changes.append(f"moved it to {document.workshop.code}")
            messages.success(
                request,
                ("Saved: " + " and ".join(changes) + ".") if changes else "Nothing changed.",
            )
            return redirect(document.get_absolute_url())
    return render(
        request,
        "studies/document_edit.html",
        {"study": document.study, "document": document, "form": form},
    )


@login_required
def document_delete(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    """Confirm, naming what goes with the document (codings, memos, a recording...)."""
    document = get_document_for_user(request.user, slug, document_id, min_role=OWNER)
    summary = deletion_summary(document)
    attached = document_attachments(summary)
    if request.method == "POST":
        title = document.title
        delete_document(document=document, confirm=True)
        messages.success(
            request, f"Deleted {title}" + (f" and its {attached}." if attached else ".")
        )
        return redirect("studies:documents", slug=document.study.slug)
    return render(
        request,
        "studies/document_delete.html",
        {
            "study": document.study,
            "document": document,
            "summary": summary.describe(),
            "attached": attached,
        },
    )


@login_required
def workshop_edit(request: HttpRequest, slug: str, workshop_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    workshop = study.workshops.filter(pk=workshop_id).first()
    if workshop is None:
        raise Http404("No such workshop in this study.")
    form = WorkshopForm(request.POST or None, instance=workshop)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            update_workshop(workshop=study.workshops.get(pk=workshop_id), **changes)
        except (StudyError, ValidationError) as exc:
            form.add_error(None, "; ".join(getattr(exc, "messages", [str(exc)])))
        else:
            code = changes.get("code", workshop.code)
            messages.success(
                request,
                f"Saved workshop {code}." if changes else f"Workshop {code}: nothing changed.",
            )
            return redirect("studies:overview", slug=study.slug)
    return render(
        request,
        "studies/workshop_edit.html",
        {"study": study, "workshop": workshop, "form": form},
    )


# --- Participants ---------------------------------------------------------------------------


@dataclass
class ParticipantPanel:
    """A section of a participant's page that an app built on this one provides (the coding
    app: the codings on their words; later the survey app: their answers). `template` is
    rendered with the page's context and `data`."""

    title: str
    template: str
    data: dict = field(default_factory=dict)


# Each app adds a function in its AppConfig.ready(), so that the foundation names none of them.
# A provider gets the viewer's Access and the participant, and returns a panel or None.
PARTICIPANT_PANELS: list[Callable[[Access, Participant], ParticipantPanel | None]] = []
TURNS_PER_PAGE = 100


def participant_url(participant: Participant, study: Study) -> str:
    return reverse("studies:participant", args=[study.slug, participant.pk])


@login_required
def participant_detail(request: HttpRequest, slug: str, participant_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    participant = study.participants.filter(pk=participant_id).select_related("workshop").first()
    if participant is None:
        raise Http404("No such participant in this study.")
    variables = list(study.variables.all())
    form = None
    if study.access.is_owner and not study.is_archived and participant.withdrawn_at is None:
        form = ParticipantForm(request.POST or None, participant=participant, variables=variables)
    if request.method == "POST":
        study.access.require(OWNER)
        if form is not None and form.is_valid():
            try:
                update_participant(
                    participant=participant,
                    values=form.values(),
                    aliases=form.cleaned_data["aliases"],
                )
            except StudyError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Saved {participant.code}'s variables.")
                return redirect(
                    "studies:participant", slug=study.slug, participant_id=participant.pk
                )
    stored = {v.variable_id: v.value for v in participant.values.all()}
    turns = (
        participant.turns.select_related("document")
        .annotate(utterance=Substr("document__text", F("start") + 1, F("end") - F("start")))
        .defer("document__text")
        .order_by("document__title", "seq")
    )
    page = Paginator(turns, TURNS_PER_PAGE).get_page(request.GET.get("page"))
    panels = [
        panel
        for provider in PARTICIPANT_PANELS
        if (panel := provider(study.access, participant)) is not None
    ]
    return render(
        request,
        "studies/participant_detail.html",
        {
            "study": study,
            "participant": participant,
            "values": [(v, stored.get(v.pk, "")) for v in variables],
            "form": form,
            "page": page,
            "n_documents": participant.turns.values("document").distinct().count(),
            "panels": panels,
        },
    )
