"""The coding view: a transcript turn by turn, with the study's codebook and the codings of the
chosen layer. The page carries its data as JSON; static/coding/workbench.js draws the highlights
and saves codings through the REST API without reloading."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

from coding.models import LAYERS, Assignment, Code, Coding, Memo, code_paths, layer_choices
from studies.access import get_document_for_user
from studies.models import Membership
from studies.recordings import recording_of


@login_required
def workbench(request: HttpRequest, slug: str, document_id: int) -> HttpResponse:
    document = get_document_for_user(request.user, slug, document_id)
    study = document.study
    access = study.access
    role = access.role
    available = layer_choices(access)
    # A coder opens their own codings; everyone else the coders' codings together.
    default = "mine" if role == Membership.Role.CODER else "all"
    layer = request.GET.get("layer", default)
    if layer not in available:
        layer = default if default in available else available[0]

    codings = (
        Coding.objects.filter(document=document).layer(layer, user=request.user).visible_to(access)
    )
    coding_rows = list(
        codings.order_by("start", "end", "pk").values_list(
            "pk", "code_id", "coder__username", "start", "end", "consensus", "created_at"
        )
    )
    memo_by_coding: dict[int, str] = {}
    if coding_rows:
        for coding_id, text in (
            Memo.objects.visible_to(access)
            .filter(coding__in=[row[0] for row in coding_rows])
            .values_list("coding_id", "text")
        ):
            memo_by_coding.setdefault(coding_id, text)

    codes = list(Code.objects.filter(study=study).order_by("order", "name"))
    paths = code_paths(codes)
    text = document.text
    turns = list(document.turns.select_related("participant").order_by("seq"))
    can_code = access.can_code and (layer != "consensus" or access.is_owner)
    data = {
        "document": {"id": document.pk, "title": document.title, "length": len(text)},
        "user": request.user.get_username(),
        "role": role,
        "layer": layer,
        "canCode": can_code,
        "consensus": layer == "consensus",
        "codes": [
            {
                "id": code.pk,
                "name": code.name,
                "path": paths[code.pk],
                "colour": code.colour,
                "shortcut": code.shortcut,
                "codable": code.codable,
                "parent": code.parent_id,
            }
            for code in codes
        ],
        "codings": [
            {
                "id": pk,
                "code": code_id,
                "coder": coder,
                "start": start,
                "end": end,
                "consensus": consensus,
                "created": created.isoformat(),
                "memo": memo_by_coding.get(pk),
            }
            for pk, code_id, coder, start, end, consensus, created in coding_rows
        ],
        "sentences": list(document.sentences.order_by("seq").values_list("start", "end")),
        "urls": {
            "codings": reverse("coding-list"),
            "memos": reverse("memo-list"),
            "decisions": reverse("suggestion-list"),
            "suggestions": _suggestions_url(study.slug, document.pk),
            # "More like this" on a coding: a training example for the learned engine.
            "steer": reverse("study-machine-steer", args=[study.slug]) if can_code else "",
        },
        "csrf": get_token(request),
        "study": study.slug,
    }
    assignment = None
    if access.can_code:
        assignment = Assignment.objects.filter(document=document, coder=request.user).first()
    context = {
        "study": study,
        "document": document,
        "turns": [(turn, text[turn.start : turn.end]) for turn in turns],
        "has_times": any(turn.start_ms is not None for turn in turns),
        "data": data,
        "layer": layer,
        "layers": [(key, LAYERS[key]) for key in available],
        "codable_count": sum(1 for code in codes if code.codable),
        "assignment": assignment,
        "statuses": Assignment.Status.choices,
        "recording": recording_of(document),
    }
    return render(request, "coding/workbench.html", context)


def _suggestions_url(slug: str, document_id: int) -> str:
    return reverse("coding:suggestions", args=[slug, document_id])
