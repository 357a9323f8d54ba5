"""Assignments and the coder's queue, memos, and the study's blind-coding switch."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from coding.models import Assignment, Coding, Memo
from studies.access import get_study_for_user
from studies.models import Document, Membership, Sentence
from studies.services import update_study
from studies.spans import DocumentSpans

OWNER = Membership.Role.OWNER
CODER = Membership.Role.CODER


def back(request: HttpRequest, default: str, slug: str) -> HttpResponse:
    """Return to the page the form came from (same site only), else to `default`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default, slug=slug)


def coded_share(document_ids: list[int], user: object) -> dict[int, float]:
    """For each document, the share of its sentences that the user's codings touch."""
    codings = DocumentSpans(
        (document_id, start, end, None)
        for document_id, start, end in Coding.objects.filter(document_id__in=document_ids)
        .layer("mine", user=user)
        .values_list("document_id", "start", "end")
    )
    totals: dict[int, int] = defaultdict(int)
    touched: dict[int, int] = defaultdict(int)
    for document_id, start, end in Sentence.objects.filter(
        document_id__in=document_ids
    ).values_list("document_id", "start", "end"):
        totals[document_id] += 1
        if codings.of(document_id).overlaps(start, end):
            touched[document_id] += 1
    return {d: (touched[d] / totals[d] if totals[d] else 0.0) for d in document_ids}


@login_required
def my_queue(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if request.method == "POST":
        study = get_study_for_user(request.user, slug, min_role=CODER)
        assignment = Assignment.objects.filter(
            pk=request.POST.get("assignment"), document__study=study, coder=request.user
        ).first()
        if assignment is None:
            raise Http404("No such assignment.")
        status = request.POST.get("status")
        if status not in Assignment.Status.values:
            messages.error(request, f"{status!r} is not a status.")
        else:
            assignment.status = status
            assignment.save(update_fields=["status", "updated_at"])
            messages.success(
                request, f"{assignment.document.title}: {assignment.get_status_display().lower()}."
            )
        return back(request, "coding:queue", study.slug)
    assignments = list(
        Assignment.objects.filter(document__study=study, coder=request.user)
        .select_related("document__workshop")
        .order_by("status", "document__title")
    )
    shares = coded_share([a.document_id for a in assignments], request.user)
    rows = [(a, shares.get(a.document_id, 0.0)) for a in assignments]
    counts = {status: 0 for status in Assignment.Status.values}
    for assignment in assignments:
        counts[assignment.status] += 1
    return render(
        request,
        "coding/queue.html",
        {
            "study": study,
            "rows": rows,
            "counts": counts,
            "statuses": Assignment.Status.choices,
        },
    )


@login_required
def assignments(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    coders = [
        m.user
        for m in study.memberships.filter(role__in=[CODER, OWNER])
        .select_related("user")
        .order_by("user__username")
    ]
    documents = list(study.documents.select_related("workshop").order_by("title"))
    if request.method == "POST":
        coder_ids = {str(c.pk): c for c in coders}
        chosen_docs = {str(d.pk): d for d in documents}
        wanted = {
            (doc_id, coder_id)
            for key in request.POST
            if key.startswith("a-")
            for doc_id, coder_id in [key[2:].split("-", 1)]
            if doc_id in chosen_docs and coder_id in coder_ids
        }
        existing = {
            (str(a.document_id), str(a.coder_id)): a
            for a in Assignment.objects.filter(document__study=study)
        }
        created = [
            Assignment(document=chosen_docs[d], coder=coder_ids[c], assigned_by=request.user)
            for d, c in wanted - existing.keys()
        ]
        # Two owners saving at once: the unique pair decides, the second's copy is dropped.
        Assignment.objects.bulk_create(created, ignore_conflicts=True)
        removed = [existing[key].pk for key in existing.keys() - wanted]
        Assignment.objects.filter(pk__in=removed).delete()
        messages.success(
            request, f"Assignments saved: {len(created)} added, {len(removed)} removed."
        )
        return redirect("coding:assignments", slug=study.slug)
    current = {
        (a.document_id, a.coder_id): a for a in Assignment.objects.filter(document__study=study)
    }
    rows = [(d, [(c, current.get((d.pk, c.pk))) for c in coders]) for d in documents]
    return render(
        request,
        "coding/assignments.html",
        {"study": study, "coders": coders, "rows": rows},
    )


@login_required
def memo_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if request.method == "POST":
        study = get_study_for_user(request.user, slug, min_role=CODER)
        text = request.POST.get("text", "").strip()
        document = None
        if request.POST.get("document"):
            document = Document.objects.filter(study=study, pk=request.POST["document"]).first()
            if document is None:
                raise Http404("No such document.")
        if not text:
            messages.error(request, "A memo needs some text.")
        else:
            Memo.objects.create(study=study, author=request.user, document=document, text=text)
            messages.success(request, "Memo saved.")
        return back(request, "coding:memos", study.slug)
    memos = Memo.objects.visible_to(study.access).select_related(
        "author", "document", "code", "coding__code", "coding__document"
    )
    return render(
        request,
        "coding/memos.html",
        {"study": study, "memos": memos[:500], "documents": study.documents.order_by("title")},
    )


@login_required
@require_POST
def blind_coding(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    update_study(study=study, blind_coding=request.POST.get("blind") == "on")
    if study.blind_coding:
        messages.success(request, "Blind coding is on: coders now see only their own codings.")
    else:
        messages.success(request, "Blind coding is off: coders see each other's codings.")
    return redirect("studies:overview", slug=study.slug)
