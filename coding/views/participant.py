"""The coding app's panel on a participant's page (studies.views.PARTICIPANT_PANELS): the
codings on the participant's words, as far as the viewer may see them (blind coding
included, through `Coding.objects.visible_to`)."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Substr

from coding.models import Coding, code_paths
from studies.access import Access
from studies.models import Participant, Turn
from studies.views import ParticipantPanel

EXCERPTS_SHOWN = 100


def codings_on_words(access: Access, participant: Participant) -> object:
    """The codings `access` may see whose span overlaps one of the participant's turns."""
    spoken = Turn.objects.filter(
        document=OuterRef("document"),
        participant=participant,
        start__lt=OuterRef("end"),
        end__gt=OuterRef("start"),
    )
    return (
        Coding.objects.filter(document__study=access.study)
        .by_people()
        .visible_to(access)
        .filter(Exists(spoken))
    )


def codings_panel(access: Access, participant: Participant) -> ParticipantPanel:
    codings = codings_on_words(access, participant)
    paths = code_paths(access.study.codes.all())
    per_code: dict[int, dict] = {}
    for code_id, coder, consensus in codings.values_list("code_id", "coder__username", "consensus"):
        row = per_code.setdefault(
            code_id, {"path": paths.get(code_id, "?"), "n": 0, "coders": set()}
        )
        row["n"] += 1
        row["coders"].add("consensus" if consensus else coder)
    rows = sorted(per_code.values(), key=lambda row: row["path"])
    for row in rows:
        row["coders"] = ", ".join(sorted(row["coders"]))
    excerpts = (
        codings.select_related("document", "coder")
        .defer("document__text")
        .annotate(excerpt=Substr("document__text", F("start") + 1, F("end") - F("start")))
        .order_by("document__title", "start", "end")[:EXCERPTS_SHOWN]
    )
    return ParticipantPanel(
        title=f"Codings on {participant.code}'s words",
        template="coding/participant_codings.html",
        data={
            "rows": rows,
            "total": sum(row["n"] for row in rows),
            "excerpts": [(coding, paths.get(coding.code_id, "?")) for coding in excerpts],
            "shown": EXCERPTS_SHOWN,
            "blind": not access.sees_others,
        },
    )
