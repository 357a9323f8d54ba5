"""The analysis frame: every coding of one layer of a study as one tidy pandas DataFrame, the
source of every code table.

Rules (DESIGN.md, "Data rules"):
- A layer is "consensus" (the adjudicated codings, consensus=True), "all" (every coder's own
  codings, each distinct (document, code, start, end) counted once) or a username (that coder's
  own codings). Without one: "consensus" when the study has any consensus coding, else "all".
- A coding is attributed to the participants whose turns it overlaps
  (turn.start < coding.end and coding.start < turn.end); facilitators (turns without a
  participant) are never counted.
- `words` counts the words of text[start:end] with `studies.nlp.count_words`.

The frame is built from a fixed number of queries (values_list, no per-row queries), however
large the study: the layer check, codes, documents with their texts, codings and turns.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable

import pandas as pd
from django.contrib.auth import get_user_model

from coding.models import CodeTree, Coding
from studies.models import Document, Participant, ParticipantValue, Study, Turn, Variable
from studies.nlp import count_words
from studies.spans import DocumentSpans

from .base import ExportError

LAYERS = ("consensus", "all")
FRAME_COLUMNS = [
    "coding_id",
    "document_id",
    "document",
    "workshop",
    "country",
    "code_id",
    "code",
    "code_path",
    "dimension",
    "coder",
    "n_coders",
    "layer",
    "start",
    "end",
    "words",
    "participants",
]
VARIABLE_PREFIX = "var:"
MISSING = "(missing)"


# --- Layers ---------------------------------------------------------------------------------


def resolve_layer(study: Study, layer: str | None) -> tuple[str, int | None]:
    """(layer, coder id for a username layer). Raises ExportError for an unknown username."""
    if layer in (None, ""):
        has_consensus = Coding.objects.filter(document__study=study, consensus=True).exists()
        return ("consensus" if has_consensus else "all"), None
    if layer in LAYERS:
        return layer, None
    user_id = get_user_model().objects.filter(username=layer).values_list("pk", flat=True).first()
    if user_id is None:
        raise ExportError(
            f"Unknown layer '{layer}': use consensus, all, or the username of a coder of the study."
        )
    return layer, user_id


# --- Turns ----------------------------------------------------------------------------------


class TurnIndex(DocumentSpans[str]):
    """The participant turns of each document, to find who a span overlaps."""

    @classmethod
    def of(cls, study: Study) -> TurnIndex:
        return cls(
            Turn.objects.filter(document__study=study, participant__isnull=False).values_list(
                "document_id", "start", "end", "participant__code"
            )
        )

    def speakers(self, document_id: int, start: int, end: int) -> list[str]:
        """Participant codes (sorted, distinct) whose turns overlap [start, end)."""
        return sorted(set(self.overlapping(document_id, start, end)))


# --- Frames ---------------------------------------------------------------------------------


def analysis_frame(
    study: Study,
    *,
    layer: str | None = None,
    coder: str | None = None,
    filters: dict[str, Iterable] | None = None,
) -> pd.DataFrame:
    """One row per coding of the layer (see the module's rules). `coder` is a shorthand for a
    username layer. `filters` keeps rows whose `workshop`, `country`, `document`, `code_path`
    or `document_id` is in the given values. The resolved layer is in `frame.attrs["layer"]`."""
    if coder:
        if layer not in (None, "", coder):
            raise ExportError(f"Give either the layer '{layer}' or the coder '{coder}', not both.")
        layer = coder
    resolved, coder_id = resolve_layer(study, layer)
    tree = CodeTree.of(study)
    documents = {
        pk: (title, workshop or "", country or "", text)
        for pk, title, workshop, country, text in Document.objects.filter(study=study).values_list(
            "pk", "title", "workshop__code", "workshop__country", "text"
        )
    }
    codings = Coding.objects.filter(document__study=study).layer(
        coder_id if coder_id is not None else resolved
    )
    rows = codings.order_by("pk").values_list(
        "pk", "document_id", "code_id", "coder__username", "start", "end"
    )
    # (document, code, start, end) -> [coding id, coders]; in "all" a span coded by several
    # coders is one row (the lowest id), its coders joined.
    spans: dict[tuple[int, int, int, int], tuple[int, list[str]]] = {}
    for pk, document_id, code_id, username, start, end in rows:
        key = (document_id, code_id, start, end)
        if key in spans:
            spans[key][1].append(username)
        else:
            spans[key] = (pk, [username])
    turns = TurnIndex.of(study)
    records = []
    for (document_id, code_id, start, end), (pk, usernames) in spans.items():
        title, workshop, country, text = documents[document_id]
        names = sorted(set(usernames))
        records.append(
            (
                pk,
                document_id,
                title,
                workshop,
                country,
                code_id,
                tree.name[code_id],
                tree.path[code_id],
                tree.dimension(code_id),
                ", ".join(names),
                len(names),
                resolved,
                start,
                end,
                count_words(text[start:end]),
                turns.speakers(document_id, start, end),
            )
        )
    frame = pd.DataFrame.from_records(records, columns=FRAME_COLUMNS)
    for column in ("coding_id", "document_id", "code_id", "n_coders", "start", "end", "words"):
        frame[column] = frame[column].astype("int64")
    frame = frame.sort_values(["document", "start", "end", "code_path"], kind="stable")
    frame = _apply_filters(frame, filters).reset_index(drop=True)
    frame.attrs["layer"] = resolved
    frame.attrs["study"] = study.slug
    return frame


def _apply_filters(frame: pd.DataFrame, filters: dict[str, Iterable] | None) -> pd.DataFrame:
    if not filters:
        return frame
    for column, values in filters.items():
        if column not in ("workshop", "country", "document", "document_id", "code_path"):
            raise ExportError(
                f"Unknown filter '{column}': use workshop, country, document, document_id "
                "or code_path."
            )
        wanted = [values] if isinstance(values, str | int) else list(values)
        frame = frame[frame[column].isin(wanted)]
    return frame


def roster_frame(study: Study) -> pd.DataFrame:
    """Every participant of the study, whether they spoke or not: participant, workshop,
    country and one `var:NAME` column per variable ("(missing)" where a participant has no
    value). The denominators of participant_share come from here."""
    variables = list(Variable.objects.filter(study=study).values_list("name", flat=True))
    values: dict[str, dict[str, str]] = defaultdict(dict)
    for code, name, value in ParticipantValue.objects.filter(participant__study=study).values_list(
        "participant__code", "variable__name", "value"
    ):
        values[code][name] = value
    records = []
    for code, workshop, country in (
        Participant.objects.filter(study=study)
        .order_by("code")
        .values_list("code", "workshop__code", "workshop__country")
    ):
        own = values.get(code, {})
        records.append(
            [code, workshop, country or ""] + [own.get(name) or MISSING for name in variables]
        )
    columns = ["participant", "workshop", "country"] + [VARIABLE_PREFIX + n for n in variables]
    roster = pd.DataFrame.from_records(records, columns=columns)
    roster.attrs["variables"] = variables
    return roster


def participant_frame(
    study: Study,
    *,
    layer: str | None = None,
    coder: str | None = None,
    filters: dict[str, Iterable] | None = None,
    frame: pd.DataFrame | None = None,
    roster: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (coding, participant) with the participant's variables as `var:NAME`
    columns. Codings that overlap no participant's turn (facilitators only) have no row."""
    if frame is None:
        frame = analysis_frame(study, layer=layer, coder=coder, filters=filters)
    if roster is None:
        roster = roster_frame(study)
    exploded = frame.explode("participants").rename(columns={"participants": "participant"})
    exploded = exploded[exploded["participant"].notna()]
    variables = roster[["participant", *[c for c in roster if c.startswith(VARIABLE_PREFIX)]]]
    merged = exploded.merge(variables, on="participant", how="left")
    merged.attrs = dict(frame.attrs)
    return merged.reset_index(drop=True)


def data_checksum(frame: pd.DataFrame) -> str:
    """sha256 of the sorted (document_id, code_id, coder, start, end) rows: the same coded data
    gives the same checksum, so a regenerated table can be checked against a published one."""
    rows = sorted(
        f"{d}\t{c}\t{u}\t{s}\t{e}"
        for d, c, u, s, e in frame[["document_id", "code_id", "coder", "start", "end"]]
        .drop_duplicates()
        .itertuples(index=False, name=None)
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()
