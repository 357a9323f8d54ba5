"""REFI-QDA on the owner's pages: the study as a .qdpx project and its codebook as a .qdc for
NVivo, ATLAS.ti, MAXQDA or QualCoder, and a project or codebook from one of them imported.

Only owners come here: the project file holds every coder's codings and each participant's
survey answers. An upload waits as a PendingImport between its preview and the confirmation,
as the roster and transcripts of the Import page do (any worker can finish it, and a preview
nobody confirms is dropped after a day). The confirmation is a job (exports.jobs.qdpx_import)
that plans the stored file again (planning writes nothing and gives the same plan for the same
study) and applies it, all or nothing; if the study changed since the preview, the new preview
is shown instead of importing (or, when a worker runs it, the job's page says so). The project
download is a job too (exports.jobs.qdpx_export).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from exports.jobs import plan_digest, start_qdpx_export, start_qdpx_import
from exports.qdpx import QdpxPlan, plan_qdpx, write_qdc
from exports.views import attachment
from studies.access import OWNER, get_study_for_user
from studies.audit import record_export
from studies.importers import FileRejected
from studies.jobs import runs_in_background
from studies.models import Job, PendingImport, Study, Workshop
from studies.pseudonymise import KINDS as PERSONAL_DATA
from studies.views import PENDING_LIFETIME
from studies.views_jobs import job_response

# PendingImport.kind of an uploaded REFI-QDA file.
KIND = PendingImport.Kind.PROJECT
EXTENSIONS = (".qdpx", ".qde", ".qdc")
WORKSHOP_LABEL = "Workshop for participants and sources the file does not place in one"

# The preview's rows: what REFI-QDA calls it, what it becomes here, and the key of the plan's
# new/unchanged counts for it (None: not counted on its own).
ROWS = (
    ("users", "Users", "coders", "coders"),
    ("codes", "Codes", "codes", "codes"),
    ("variables", "Variables", "participant variables", "variables"),
    ("cases", "Cases", "participants", "participants"),
    ("sources", "Sources", "documents", "documents"),
    ("selections", "Selections", "coded passages", None),
    ("codings", "Codings", "codings", "codings"),
    ("notes", "Notes", "memos", "memos"),
    ("sets", "Sets", "workshops", "workshops"),
)


# --- Downloads ------------------------------------------------------------------------------


@login_required
@require_POST
def qdpx_download(request: HttpRequest, slug: str) -> HttpResponse:
    """The whole study as a REFI-QDA project. An archived study can still be exported. A POST:
    it starts work, which a prefetched or crawled link must not."""
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    # A job: a large study's project takes a while to write. With a worker configured this
    # request answers at once with the job's page, which offers the file when it is ready.
    job = start_qdpx_export(study=study, user=request.user)
    if job.status == Job.Status.FAILED and not runs_in_background():
        return HttpResponse(job.error, status=400, content_type="text/plain; charset=utf-8")
    return job_response(request, job)


@login_required
@require_GET
def qdc_download(request: HttpRequest, slug: str) -> HttpResponse:
    """The codebook alone, as a REFI-QDA codebook (.qdc)."""
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    data = write_qdc(study)
    record_export(study, "the codebook", f"{study.slug}.qdc")
    return attachment(data, "application/xml", f"{study.slug}.qdc")


# --- Import ---------------------------------------------------------------------------------


class QdpxUploadForm(forms.Form):
    file = forms.FileField(
        label="Project or codebook file",
        help_text="A REFI-QDA project (.qdpx, or its project.qde alone) or codebook (.qdc), "
        "from NVivo, ATLAS.ti, MAXQDA, QualCoder or Colloquy.",
    )
    workshop = forms.ModelChoiceField(
        queryset=Workshop.objects.none(),
        required=False,
        label=WORKSHOP_LABEL,
        empty_label="None (the file places them all)",
        help_text="Other tools know nothing of workshops: the cases (participants) and sources "
        "of such a file need one to go to.",
    )

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ",".join(EXTENSIONS)
        self.fields["workshop"].queryset = study.workshops.order_by("code")

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
def qdpx_import(request: HttpRequest, slug: str) -> HttpResponse:
    """Upload a file: it is read and checked whole (a bad one is refused beside the field and
    nothing is kept), then it waits for the owner's confirmation on the preview."""
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    # Previews nobody confirmed within a day are abandoned; drop their bytes.
    PendingImport.objects.filter(
        kind=KIND, created_at__lt=timezone.now() - PENDING_LIFETIME
    ).delete()
    form = QdpxUploadForm(study=study)
    if request.method == "POST":
        form = QdpxUploadForm(request.POST, request.FILES, study=study)
        if form.is_valid():
            filename, data = form.cleaned_data["file"]
            workshop = form.cleaned_data["workshop"]
            try:
                plan_qdpx(
                    study=study, filename=filename, data=data, user=request.user, workshop=workshop
                )
            except FileRejected as exc:
                form.add_error("file", str(exc))
            else:
                pending = PendingImport.objects.create(
                    study=study,
                    user=request.user,
                    kind=KIND,
                    workshop=workshop,
                    filename=filename,
                    data=data,
                )
                return redirect("exports:qdpx_review", slug=study.slug, upload=pending.batch)
    return render(
        request,
        "exports/qdpx_import.html",
        {"study": study, "form": form, "has_workshops": study.workshops.exists()},
    )


@dataclass
class PreviewRow:
    label: str
    becomes: str
    in_file: int
    new: int | None
    unchanged: int | None
    updated: int | None


def preview_rows(plan: QdpxPlan) -> list[PreviewRow]:
    report = plan.report()
    updated = {"codes": report["codes_updated"], "cases": report["participants_updated"]}
    return [
        PreviewRow(
            label=label,
            becomes=becomes,
            in_file=report["in_file"].get(kind, 0),
            new=report["new"].get(key, 0) if key else None,
            unchanged=report["unchanged"].get(key) if key else None,
            updated=updated.get(kind),
        )
        for kind, label, becomes, key in ROWS
    ]


def _pending(request: HttpRequest, study: Study, upload: uuid.UUID) -> PendingImport:
    pending = (
        PendingImport.objects.filter(study=study, user=request.user, batch=upload, kind=KIND)
        .select_related("workshop")
        .first()
    )
    if pending is None:
        raise Http404("This import was already finished or cancelled.")
    return pending


def kept_kinds(data: object) -> list[str]:
    """The kinds of personal data the owner keeps as they are: on the review page every kind
    found is replaced until its "Replace" box is cleared ("decided" marks a submitted choice)."""
    if not data.get("decided"):
        return []
    replace = set(data.getlist("replace"))
    return [kind for kind in PERSONAL_DATA if kind not in replace]


@login_required
def qdpx_review(request: HttpRequest, slug: str, upload: uuid.UUID) -> HttpResponse:
    """The preview (what the file holds, what is new, unchanged or skipped and why), then
    Confirm (apply it) or Cancel (drop the upload)."""
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    pending = _pending(request, study, upload)
    start = reverse("exports:qdpx_import", args=[study.slug])
    if request.method == "POST" and "cancel" in request.POST:
        pending.delete()
        messages.info(request, "Import cancelled: nothing was written.")
        return redirect(start)
    keep = kept_kinds(request.POST if request.method == "POST" else request.GET)
    stale = False
    if request.method == "POST" and "confirm" in request.POST:
        # A job: planning and writing a large project takes a while. It plans the stored file
        # again and imports only if that matches the preview the owner confirmed.
        job = start_qdpx_import(
            study=study,
            user=request.user,
            pending=pending,
            pseudonymise=True,
            keep_kinds=keep,
            digest=request.POST.get("digest", ""),
        )
        if runs_in_background() or job.status == Job.Status.DONE:
            return job_response(request, job)
        if not job.data.get("stale"):
            messages.error(request, job.error)
            return redirect(start)
        # The study changed since the preview: the new preview is shown instead.
        stale = True
    try:
        plan = plan_qdpx(
            study=study,
            filename=pending.filename,
            data=bytes(pending.data),
            user=request.user,
            workshop=pending.workshop,
            pseudonymise=True,
            keep_kinds=keep,
        )
    except FileRejected as exc:
        pending.delete()
        messages.error(request, f"Nothing was imported: {exc}")
        return redirect(start)
    report = plan.report()
    return render(
        request,
        "exports/qdpx_review.html",
        {
            "study": study,
            "pending": pending,
            "plan": plan,
            "report": report,
            "rows": preview_rows(plan),
            "digest": plan_digest(plan),
            "stale": stale,
            "workshop_label": WORKSHOP_LABEL,
            "keep": keep,
        },
    )
