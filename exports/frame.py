"""The analysis frame: every coding of one layer of a study as one tidy pandas DataFrame, the
source of every code table.

Rules (DESIGN.md, "Data rules"):
- A layer is "consensus" (the adjudicated codings, consensus=True), "all" (every coder's own
  codings, each distinct (document, code, start, end) counted once) or a username (that coder's
  own codings). Without one: "consensus" when the study has any consensus coding, else "all".
- A coding is attributed to the participants whose turns it overlaps
  (turn.start < coding.end and coding.start < turn.end); facilitators (turns without a
  participant) are never counted.
- Withdrawn participants (`studies.withdrawal`) are not in the roster, so in no denominator; a
  coding is never attributed to them, and a coding that overlaps a withdrawn participant's
  (redacted) turns and no other participant's is left out of the frame.
- `words` counts the words of text[start:end] with `studies.nlp.count_words`.

The frame is built from a fixed number of queries (values_list, no per-row queries), however
large the study: the layer check, codes, documents with their texts, codings and turns.

Survey answers join the roster as participant variables: each closed question with one answer
per participant (Likert, single choice, and each row of a matrix) is a roster column
`survey:SURVEY_SLUG/QUESTION_CODE[/ROW]` holding the label (in the survey's first language) of
the participant's submitted answer, "(missing)" without one; a draft is no answer. Multiple
choice, ranking, number, date and text questions have no such column: a participant may have
several answers, or answers too many to be groups. `survey_data` reads one survey, questions,
options and every response, in a fixed number of queries.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from django.contrib.auth import get_user_model

from coding.models import CodeTree, Coding
from studies.models import Document, Participant, ParticipantValue, Study, Turn, Variable
from studies.nlp import count_words
from studies.spans import DocumentSpans
from surveys.models import Answer, Option, Question, Response, Survey, Translation

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
SURVEY_PREFIX = "survey:"
MISSING = "(missing)"
# The question kinds whose answer puts a participant in one group (a matrix: each of its rows).
GROUPABLE_KINDS = (
    Question.Kind.LIKERT5,
    Question.Kind.LIKERT7,
    Question.Kind.SINGLE,
    Question.Kind.MATRIX,
)
LIKERT_KINDS = (Question.Kind.LIKERT5, Question.Kind.LIKERT7)


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
        current = Participant.objects.current().filter(study=study)
        return cls(
            Turn.objects.filter(document__study=study, participant__in=current).values_list(
                "document_id", "start", "end", "participant__code"
            )
        )

    @classmethod
    def withdrawn(cls, study: Study) -> TurnIndex:
        """The (redacted) turns of the study's withdrawn participants."""
        gone = Participant.objects.withdrawn().filter(study=study)
        return cls(
            Turn.objects.filter(document__study=study, participant__in=gone).values_list(
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
    withdrawn = TurnIndex.withdrawn(study)
    records = []
    for (document_id, code_id, start, end), (pk, usernames) in spans.items():
        speakers = turns.speakers(document_id, start, end)
        if not speakers and withdrawn.overlapping(document_id, start, end):
            continue  # only a withdrawn participant's redacted speech
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
                speakers,
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


# --- Surveys --------------------------------------------------------------------------------


@dataclass
class SurveyQuestion:
    """One question of an instrument, as the survey tables read it."""

    code: str
    kind: str
    label: str
    page: str
    required: bool
    relevant: str
    allows_other: bool
    min_value: float | None
    max_value: float | None
    choices: list[tuple[str, str]]  # (code, label) in option order
    rows: list[tuple[str, str]]  # a matrix's rows, (code, label) in order
    languages: list[str]  # the languages it is translated into

    @property
    def kind_label(self) -> str:
        return str(Question.Kind(self.kind).label) if self.kind in Question.Kind else self.kind

    def label_of(self, code: str) -> str:
        """An option's label (its code when it has none, e.g. a Likert point without options)."""
        return dict(self.choices).get(code, code)

    def row_label(self, row: str) -> str:
        return dict(self.rows).get(row, row)


@dataclass
class SurveyRespondent:
    """One response: who gave it (participant code, or "" through an anonymous link), where,
    whether it was submitted, and its answers by (question code, item)."""

    response_id: int
    participant: str
    workshop: str
    country: str
    language: str
    started_at: datetime | None
    submitted_at: datetime | None
    answers: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "submitted" if self.submitted_at is not None else "draft"


@dataclass
class SurveyData:
    slug: str
    title: str
    language: str
    languages: list[str]
    wave_of: str | None  # the slug of the survey this is a later wave of
    questions: list[SurveyQuestion]
    respondents: list[SurveyRespondent]

    def question(self, code: str) -> SurveyQuestion:
        """The question whose code is `code` (case-insensitive), or ExportError naming them."""
        found = {q.code.casefold(): q for q in self.questions}.get(code.casefold())
        if found is None:
            known = ", ".join(q.code for q in self.questions) or "none"
            raise ExportError(
                f"Unknown question '{code}' in the survey '{self.slug}': its questions are {known}."
            )
        return found


def choice_list(kind: str, options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A question's choices; a Likert scale without options has the points 1..k."""
    if not options and kind in LIKERT_KINDS:
        points = 7 if kind == Question.Kind.LIKERT7 else 5
        return [(str(n), str(n)) for n in range(1, points + 1)]
    return options


def study_survey_slugs(study: Study) -> list[str]:
    return list(Survey.objects.filter(study=study).values_list("slug", flat=True))


def unknown_survey(study: Study, slug: str | None) -> ExportError:
    """The error for a survey table or grouping without a survey of the study."""
    known = study_survey_slugs(study)
    listed = ", ".join(known) if known else "none yet (import or build one under Surveys)"
    if not slug:
        return ExportError(f"Choose a survey (survey=SLUG): this study's surveys are {listed}.")
    return ExportError(f"Unknown survey '{slug}': this study's surveys are {listed}.")


def surveys_data(study: Study, slugs: Iterable[str] | None = None) -> dict[str, SurveyData]:
    """The study's surveys (or those of `slugs`) with questions, options and responses, by slug,
    in six queries however many surveys, questions and responses there are."""
    surveys = Survey.objects.filter(study=study).select_related("wave_of")
    if slugs is not None:
        surveys = surveys.filter(slug__in=list(slugs))
    surveys = list(surveys)
    ids = [s.pk for s in surveys]
    options: dict[tuple[int, str], list[tuple[str, str]]] = defaultdict(list)
    for question_id, role, code, label in Option.objects.filter(
        question__survey_id__in=ids
    ).values_list("question_id", "role", "code", "label"):
        options[(question_id, role)].append((code, label))
    languages: dict[int, set[str]] = defaultdict(set)
    for question_id, language in Translation.objects.filter(
        question__survey_id__in=ids
    ).values_list("question_id", "language"):
        languages[question_id].add(language)
    questions: dict[int, list[SurveyQuestion]] = defaultdict(list)
    for question in Question.objects.filter(survey_id__in=ids).select_related("page"):
        page = question.page
        questions[question.survey_id].append(
            SurveyQuestion(
                code=question.code,
                kind=question.kind,
                label=question.label,
                page=(page.title or f"Page {page.order + 1}") if page else "",
                required=question.required,
                relevant=question.relevant,
                allows_other=question.allows_other,
                min_value=question.min_value,
                max_value=question.max_value,
                choices=choice_list(question.kind, options[(question.pk, Option.Role.CHOICE)]),
                rows=options[(question.pk, Option.Role.ROW)],
                languages=sorted(languages[question.pk]),
            )
        )
    respondents: dict[int, list[SurveyRespondent]] = defaultdict(list)
    by_id: dict[int, SurveyRespondent] = {}
    rows = (
        Response.objects.filter(survey_id__in=ids)
        .order_by("participant__code", "started_at", "pk")
        .values_list(
            "pk",
            "survey_id",
            "participant__code",
            "participant__workshop__code",
            "participant__workshop__country",
            "language",
            "started_at",
            "submitted_at",
        )
    )
    for pk, survey_id, code, workshop, country, language, started, submitted in rows:
        respondent = SurveyRespondent(
            pk, code or "", workshop or "", country or "", language, started, submitted
        )
        respondents[survey_id].append(respondent)
        by_id[pk] = respondent
    for response_id, code, item, value in Answer.objects.filter(
        response__survey_id__in=ids
    ).values_list("response_id", "question__code", "item", "value"):
        by_id[response_id].answers[(code, item)] = value
    return {
        survey.slug: SurveyData(
            slug=survey.slug,
            title=survey.title,
            language=survey.language,
            languages=survey.language_list,
            wave_of=survey.wave_of.slug if survey.wave_of else None,
            questions=questions[survey.pk],
            respondents=respondents[survey.pk],
        )
        for survey in surveys
    }


def survey_data(study: Study, slug: str | None) -> SurveyData:
    """One survey of the study (see surveys_data), or ExportError naming the study's surveys."""
    found = surveys_data(study, [slug]).get(slug) if slug else None
    if found is None:
        raise unknown_survey(study, slug)
    return found


def survey_columns(survey: SurveyData) -> dict[str, tuple[SurveyQuestion, str]]:
    """The roster columns of a survey: `survey:SLUG/CODE` (a matrix row: `.../CODE/ROW`) ->
    (question, row or "") for each question a participant's answer puts them in one group of."""
    columns: dict[str, tuple[SurveyQuestion, str]] = {}
    for question in survey.questions:
        if question.kind not in GROUPABLE_KINDS:
            continue
        base = f"{SURVEY_PREFIX}{survey.slug}/{question.code}"
        if question.kind == Question.Kind.MATRIX:
            for row, _label in question.rows:
                columns[f"{base}/{row}"] = (question, row)
        else:
            columns[base] = (question, "")
    return columns


def survey_answer_labels(survey: SurveyData) -> dict[str, dict[str, str]]:
    """column -> participant code -> the label of their submitted answer (see survey_columns)."""
    found: dict[str, dict[str, str]] = {}
    columns = survey_columns(survey)
    for column, (question, row) in columns.items():
        values: dict[str, str] = {}
        for respondent in survey.respondents:
            if not respondent.participant or respondent.submitted_at is None:
                continue
            code = respondent.answers.get((question.code, row))
            if code:
                values[respondent.participant] = question.label_of(code)
        found[column] = values
    return found


def roster_frame(study: Study, *, surveys: bool = True) -> pd.DataFrame:
    """Every participant of the study, whether they spoke or not: participant, workshop,
    country, one `var:NAME` column per variable ("(missing)" where a participant has no
    value) and, with `surveys`, one `survey:...` column per closed question with one answer per
    participant (see the module's rules). The denominators of participant_share come from
    here."""
    variables = list(Variable.objects.filter(study=study).values_list("name", flat=True))
    values: dict[str, dict[str, str]] = defaultdict(dict)
    for code, name, value in ParticipantValue.objects.filter(participant__study=study).values_list(
        "participant__code", "variable__name", "value"
    ):
        values[code][name] = value
    records = []
    for code, workshop, country in (
        Participant.objects.current()
        .filter(study=study)
        .order_by("code")
        .values_list("code", "workshop__code", "workshop__country")
    ):
        own = values.get(code, {})
        records.append(
            [code, workshop, country or ""] + [own.get(name) or MISSING for name in variables]
        )
    columns = ["participant", "workshop", "country"] + [VARIABLE_PREFIX + n for n in variables]
    roster = pd.DataFrame.from_records(records, columns=columns)
    answers: dict[str, dict[str, str]] = {}
    if surveys:
        for survey in surveys_data(study).values():
            answers.update(survey_answer_labels(survey))
    for column, values in answers.items():
        roster[column] = [values.get(code, MISSING) for code in roster["participant"]]
    roster.attrs["variables"] = variables
    roster.attrs["survey_columns"] = list(answers)
    return roster


def participant_columns(frame: pd.DataFrame) -> list[str]:
    """The roster's columns that describe a participant: variables and survey answers."""
    return [c for c in frame if c.startswith((VARIABLE_PREFIX, SURVEY_PREFIX))]


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
    columns and survey answers as `survey:...` columns. Codings that overlap no participant's
    turn (facilitators only) have no row."""
    if frame is None:
        frame = analysis_frame(study, layer=layer, coder=coder, filters=filters)
    if roster is None:
        roster = roster_frame(study)
    exploded = frame.explode("participants").rename(columns={"participants": "participant"})
    exploded = exploded[exploded["participant"].notna()]
    variables = roster[["participant", *participant_columns(roster)]]
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
