"""A transcript's recording on the web: members play it (streamed with range requests, so the
player can seek), owners attach, replace and remove it from the transcript's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from studies.access import get_document_for_user
from studies.models import Document, Membership, Recording
from studies.recordings import (
    RecordingRejected,
    attach_recording,
    recording_of,
    recording_response,
    remove_recording,
)

OWNER = Membership.Role.OWNER


def _recording_or_404(document: Document) -> Recording:
    recording = recording_of(document)
    if recording is None:
        raise Http404("This transcript has no recording.")
    return recording


@login_required
@require_safe
def recording_file(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    document = get_document_for_user(request.user, slug, document_id)
    return recording_response(request, _recording_or_404(document))


@login_required
@require_POST
def recording_attach(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    document = get_document_for_user(request.user, slug, document_id, min_role=OWNER)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose an audio or video file to attach.")
    else:
        replacing = recording_of(document) is not None
        try:
            recording = attach_recording(document=document, upload=upload, user=request.user)
        except RecordingRejected as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                f"{'Replaced the recording with' if replacing else 'Attached'} "
                f"{recording.original_name} ({filesizeformat(recording.size)}).",
            )
    return redirect(document.get_absolute_url() + "#recording")


@login_required
@require_http_methods(["GET", "POST"])
def recording_remove(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    document = get_document_for_user(request.user, slug, document_id, min_role=OWNER)
    recording = _recording_or_404(document)
    if request.method == "POST":
        remove_recording(document=document)
        messages.success(request, f"Removed the recording {recording.original_name}.")
        return redirect(document.get_absolute_url())
    return render(
        request,
        "studies/recording_remove.html",
        {"study": document.study, "document": document, "recording": recording},
    )
