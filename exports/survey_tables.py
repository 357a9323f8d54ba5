"""The survey tables: a survey's responses, answers, instrument, results and change between
waves, each one `TableExporter` registered in `exports.tables.EXPORTERS` beside the code tables,
so that the export page, the API, `manage.py export --survey SLUG` and the paper pack offer them.

Every survey table reads the `survey` option (the survey's slug); without one, or with one the
study does not have, it raises ExportError naming the study's surveys. None reads codings.

Forms of the answers (DESIGN.md: closed answers are option codes, never labels):
- `survey_responses` is wide, one row per respondent: participant (code; empty for an anonymous
  link), workshop, country, status (submitted or draft), submitted_at, language, then one column
  per question: a matrix one per row (`code.row`), a multiple choice its codes space-separated
  as stored, and its "other" text in `code_other` when it allows one. Its `.sav` and `.dta`
  (`labelled_responses`) carry variable and value labels instead: single-valued closed answers
  (Likert, single choice, matrix rows) as 1..k in option order, a multiple choice as one 0/1
  indicator per option, a ranking as one rank per option, numbers as numbers, dates as dates.
- `survey_answers` is tidy and long: one row per answer (a matrix row, a chosen option of a
  multiple choice, a ranked option with its place as the item), its label in the survey's first
  language.
- `survey_codebook` is the instrument, one row per question.
- `survey_results` and `survey_change` are `surveys.results.summarise` and `wave_change` as
  tables, overall or by country, workshop or participant variable.

Individual responses (`survey_responses`, `survey_answers`) are for those who may see them
(`exports.tables.sees_responses`); results are aggregated and open to every member.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from studies.groups import UnknownGroup
from surveys.models import OTHER, Question, Survey
from surveys.results import ResultsError, scale_scores, summarise, wave_change

from .base import (
    ExportError,
    ExportTable,
    LabelledData,
    PackVariant,
    TableExporter,
    variable_name,
)
from .frame import GROUPABLE_KINDS, LIKERT_KINDS, SurveyData, SurveyQuestion, SurveyRespondent

if TYPE_CHECKING:
    from studies.models import Study

    from .tables import Sources

RESPONDENT_COLUMNS = ["participant", "workshop", "country", "status", "submitted_at", "language"]
RESPONDENT_LABELS = {
    "participant": "Participant code",
    "workshop": "Workshop",
    "country": "Country (ISO 3166)",
    "status": "Response status (submitted or draft)",
    "submitted_at": "Submitted at (UTC)",
    "language": "Language the survey was answered in",
}
INDICATOR_LABELS = {0: "not chosen", 1: "chosen"}
SINGLE_KINDS = (Question.Kind.LIKERT5, Question.Kind.LIKERT7, Question.Kind.SINGLE)
RESULTS_GROUPS = "country, workshop or variable:NAME"


def _number(value: str) -> float | str:
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return value


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def _timestamp(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else ""


def _order(respondents: list[SurveyRespondent]) -> list[SurveyRespondent]:
    """Participants by code, then the anonymous responses in the order they came."""
    return sorted(respondents, key=lambda r: (r.participant == "", r.participant))


def _respondent_cells(respondent: SurveyRespondent) -> dict[str, object]:
    return {
        "participant": respondent.participant,
        "workshop": respondent.workshop,
        "country": respondent.country,
        "status": respondent.status,
        "submitted_at": _timestamp(respondent.submitted_at),
        "language": respondent.language,
    }


def response_columns(question: SurveyQuestion) -> list[tuple[str, str]]:
    """The wide columns of a question: (column, item of the Answer it reads)."""
    if question.kind == Question.Kind.MATRIX:
        return [(f"{question.code}.{row}", row) for row, _label in question.rows]
    columns = [(question.code, "")]
    if question.kind == Question.Kind.MULTIPLE and question.allows_other:
        columns.append((question.code + OTHER, OTHER))
    return columns


def _answer_cell(question: SurveyQuestion, item: str, value: str | None) -> object:
    if value is None or value == "":
        return None
    if question.kind == Question.Kind.NUMBER and item == "":
        return _number(value)
    return value


def _survey(sources: Sources, survey: str | None) -> SurveyData:
    return sources.survey(survey)


def _survey_slugs(study: Study, *, waves_only: bool = False) -> list[str]:
    surveys = Survey.objects.filter(study=study)
    if waves_only:
        surveys = surveys.filter(wave_of__isnull=False)
    return list(surveys.values_list("slug", flat=True))


class SurveyTable(TableExporter):
    """What the survey tables share: they read the survey option and no codings."""

    fields: ClassVar[tuple[str, ...]] = ("survey",)
    reads_codings = False

    def pack_variants(self, study: Study) -> Iterator[PackVariant]:
        for slug in _survey_slugs(study):
            yield PackVariant(survey=slug, figure=self.has_figure)


# --- Responses, wide ------------------------------------------------------------------------


class SurveyResponsesTable(SurveyTable):
    """One row per respondent (see the module's rules)."""

    identifier = "survey_responses"
    verbose_name = "Survey responses (one row per respondent)"
    individual = True
    pack_formats = ("csv", "xlsx", "sav", "dta")

    def make(self, sources: Sources, *, survey: str | None, **_: object) -> ExportTable:
        data = _survey(sources, survey)
        columns = list(RESPONDENT_COLUMNS)
        for question in data.questions:
            columns += [column for column, _item in response_columns(question)]
        records = []
        for respondent in _order(data.respondents):
            record = _respondent_cells(respondent)
            for question in data.questions:
                for column, item in response_columns(question):
                    value = respondent.answers.get((question.code, item))
                    record[column] = _answer_cell(question, item, value)
            records.append(record)
        wide = pd.DataFrame.from_records(records, columns=columns)
        submitted = sum(r.submitted_at is not None for r in data.respondents)
        notes = [
            f"{len(data.respondents)} responses to “{data.title}”, {submitted} submitted. "
            "Closed answers are option codes (see the survey's codebook); a multiple choice "
            "lists its codes separated by spaces, a ranking in rank order."
        ]
        return ExportTable(
            self.identifier,
            f"Responses: {data.title}",
            wide.copy(),
            wide,
            notes=notes,
            labelled=labelled_responses(data),
        )


def labelled_responses(data: SurveyData) -> LabelledData:
    """The responses as SPSS and Stata read them (see the module's rules)."""
    taken: set[str] = set()
    columns: dict[str, list[object]] = {}
    labels: dict[str, str] = {}
    value_labels: dict[str, dict[int, str]] = {}
    respondents = _order(data.respondents)

    def add(raw: str, label: str, values: list, codes: dict[int, str] | None = None) -> None:
        name = variable_name(raw, taken)
        columns[name] = values
        labels[name] = label
        if codes:
            value_labels[name] = codes

    add("participant", RESPONDENT_LABELS["participant"], [r.participant for r in respondents])
    add("workshop", RESPONDENT_LABELS["workshop"], [r.workshop for r in respondents])
    add("country", RESPONDENT_LABELS["country"], [r.country for r in respondents])
    add("status", RESPONDENT_LABELS["status"], [r.status for r in respondents])
    add(
        "submitted_at",
        RESPONDENT_LABELS["submitted_at"],
        [
            r.submitted_at.astimezone(dt.UTC).replace(tzinfo=None) if r.submitted_at else None
            for r in respondents
        ],
    )
    add("language", RESPONDENT_LABELS["language"], [r.language for r in respondents])
    for question in data.questions:
        code, kind = question.code, question.kind

        def answers(item: str, question: SurveyQuestion = question) -> list[str | None]:
            return [r.answers.get((question.code, item)) or None for r in respondents]

        if kind in SINGLE_KINDS or kind == Question.Kind.MATRIX:
            points = scale_scores(question.choices)
            codes = {points[c]: label for c, label in question.choices}
            items = question.rows if kind == Question.Kind.MATRIX else [("", "")]
            for row, row_label in items:
                raw = f"{code}_{row}" if row else code
                label = f"{question.label}: {row_label}" if row else question.label
                values = [points.get(v) if v else None for v in answers(row)]
                add(raw, label, [float(v) if v is not None else None for v in values], codes)
        elif kind in (Question.Kind.MULTIPLE, Question.Kind.RANKING):
            given = [v.split() if v else None for v in answers("")]
            for option, option_label in question.choices:
                if kind == Question.Kind.MULTIPLE:
                    values = [None if g is None else float(option in g) for g in given]
                    label, codes = f"{question.label}: {option_label}", INDICATOR_LABELS
                else:
                    values = [
                        None if g is None or option not in g else float(g.index(option) + 1)
                        for g in given
                    ]
                    label, codes = f"{question.label}: rank of {option_label}", None
                add(f"{code}_{option}", label, values, codes)
            if kind == Question.Kind.MULTIPLE and question.allows_other:
                add(code + OTHER, f"{question.label}: other", answers(OTHER))
        elif kind == Question.Kind.NUMBER:
            numbers = [_number(v) if v else None for v in answers("")]
            add(code, question.label, [v if isinstance(v, float) else None for v in numbers])
        elif kind == Question.Kind.DATE:
            add(code, question.label, [_date(v) if v else None for v in answers("")])
        else:
            add(code, question.label, answers(""))
    return LabelledData(pd.DataFrame(columns), labels, value_labels)


# --- Answers, long --------------------------------------------------------------------------


class SurveyAnswersTable(SurveyTable):
    """One row per answer (see the module's rules)."""

    identifier = "survey_answers"
    verbose_name = "Survey answers (long: one row per answer)"
    individual = True
    pack_formats = ("csv",)

    def make(self, sources: Sources, *, survey: str | None, **_: object) -> ExportTable:
        data = _survey(sources, survey)
        records = []
        for respondent in _order(data.respondents):
            who = [
                respondent.participant,
                respondent.workshop,
                respondent.country,
                respondent.status,
            ]
            for question in data.questions:
                for item, value, label in _answer_rows(question, respondent):
                    records.append([*who, question.code, item, value, label])
        columns = [
            "participant",
            "workshop",
            "country",
            "status",
            "question",
            "item",
            "value",
            "label",
        ]
        tidy = pd.DataFrame.from_records(records, columns=columns)
        notes = [
            "One row per answer: a matrix row's item is the row's code, a ranked option's item "
            f"is its place, an “other” text's item is {OTHER}; labels are in the survey's first "
            f"language ({data.language})."
        ]
        return ExportTable(
            self.identifier, f"Answers: {data.title}", tidy, tidy.copy(), notes=notes
        )


def _answer_rows(
    question: SurveyQuestion, respondent: SurveyRespondent
) -> Iterator[tuple[str, str, str]]:
    """(item, value, label) for each of the respondent's answers to the question."""
    kind = question.kind
    if kind == Question.Kind.MATRIX:
        for row, _row_label in question.rows:
            value = respondent.answers.get((question.code, row))
            if value:
                yield row, value, question.label_of(value)
        return
    value = respondent.answers.get((question.code, ""))
    if value and kind == Question.Kind.MULTIPLE:
        for code in value.split():
            yield "", code, question.label_of(code)
    elif value and kind == Question.Kind.RANKING:
        for place, code in enumerate(value.split(), start=1):
            yield str(place), code, question.label_of(code)
    elif value and kind in SINGLE_KINDS:
        yield "", value, question.label_of(value)
    elif value:
        yield "", value, ""
    other = respondent.answers.get((question.code, OTHER))
    if other:
        yield OTHER, other, ""


# --- The instrument -------------------------------------------------------------------------


class SurveyCodebookTable(SurveyTable):
    """The instrument, one row per question: page, code, kind, label, required, display
    condition, options code=label, matrix rows, range, the columns it has in the responses,
    and the languages it is translated into."""

    identifier = "survey_codebook"
    verbose_name = "Survey codebook (the instrument)"
    pack_formats = ("csv", "xlsx")

    def make(self, sources: Sources, *, survey: str | None, **_: object) -> ExportTable:
        data = _survey(sources, survey)
        records = []
        for question in data.questions:
            low, high = question.min_value, question.max_value
            span = "" if low is None and high is None else f"{_num(low)}..{_num(high)}"
            records.append(
                {
                    "page": question.page,
                    "question": question.code,
                    "kind": question.kind,
                    "label": question.label,
                    "required": question.required,
                    "relevant": question.relevant,
                    "options": "; ".join(f"{c}={label}" for c, label in question.choices)
                    if question.kind in Question.CLOSED
                    else "",
                    "rows": "; ".join(f"{c}={label}" for c, label in question.rows),
                    "other": question.allows_other,
                    "range": span,
                    "columns": " ".join(c for c, _item in response_columns(question)),
                    "groups_codes": question.kind in GROUPABLE_KINDS,
                    "translations": ", ".join(question.languages),
                }
            )
        columns = [
            "page",
            "question",
            "kind",
            "label",
            "required",
            "relevant",
            "options",
            "rows",
            "other",
            "range",
            "columns",
            "groups_codes",
            "translations",
        ]
        wide = pd.DataFrame.from_records(records, columns=columns)
        others = ", ".join(data.languages[1:]) or "no other language"
        notes = [
            f"Texts in {data.language}; translated into {others}. "
            "Closed answers are stored as the option codes listed here. groups_codes: the "
            "question can group a crosstab of codes (survey:SLUG/CODE, a matrix row "
            "survey:SLUG/CODE/ROW)."
        ]
        return ExportTable(
            self.identifier, f"Codebook: {data.title}", wide.copy(), wide, notes=notes
        )


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


# --- Results --------------------------------------------------------------------------------


def _model(sources: Sources, slug: str | None) -> Survey:
    data = _survey(sources, slug)  # the error naming the surveys, when there is one
    return Survey.objects.select_related("study", "wave_of").get(
        study=sources.study, slug=data.slug
    )


def _results_group(by: str | None) -> str | None:
    if by and by.partition(":")[0].strip().lower() in ("survey", "dimension", "document"):
        raise ExportError(
            f"Survey results cannot be grouped by '{by}': group them by {RESULTS_GROUPS}."
        )
    return by or None


def _computed(compute: Callable, model: Survey, by: str | None) -> list:
    """surveys.results' `summarise` or `wave_change` of a survey, its refusals (an unknown
    group, a survey that is no later wave) as ExportError."""
    try:
        return compute(model, by=_results_group(by))
    except (UnknownGroup, ResultsError) as exc:
        raise ExportError(str(exc)) from None


RESULT_COLUMNS = [
    "question",
    "question_label",
    "kind",
    "item",
    "item_label",
    "group",
    "option",
    "option_label",
    "score",
    "respondents",
    "n",
    "missing",
    "count",
    "share",
    "mean",
    "median",
    "sd",
    "min",
    "max",
    "mean_rank",
]


class SurveyResultsTable(SurveyTable):
    """Per question, item and option (and group): respondents, n, missing, count, share;
    a Likert scale's or matrix row's mean and median score; a ranking's mean rank per option;
    a number's summary (see `surveys.results`)."""

    identifier = "survey_results"
    verbose_name = "Survey results (counts and shares per question)"
    fields = ("survey", "by")
    figure = "diverging"
    pack_formats = ("csv",)

    def make(
        self, sources: Sources, *, survey: str | None, by: str | None, **_: object
    ) -> ExportTable:
        model = _model(sources, survey)
        results = _computed(summarise, model, by)
        records: list[dict[str, object]] = []
        for result in results:
            groups = result.groups if by else [result.overall]
            for group in groups:
                base = {
                    "question": result.code,
                    "question_label": result.label,
                    "kind": result.kind,
                    "item": "",
                    "item_label": "",
                    "group": group.group,
                    "respondents": group.respondents,
                    "n": group.n,
                    "missing": group.missing,
                }
                if group.rows:
                    for row in group.rows:
                        for option in row.counts:
                            records.append(
                                {
                                    **base,
                                    "item": row.code,
                                    "item_label": row.label,
                                    "n": row.n,
                                    "missing": row.missing,
                                    **_option_cells(option),
                                    "mean": row.mean,
                                }
                            )
                elif group.options:
                    for option in group.options:
                        cells = _option_cells(option)
                        records.append(
                            {**base, **cells, "mean": group.mean, "median": group.median}
                        )
                elif group.ranks:
                    for rank in group.ranks:
                        records.append(
                            {
                                **base,
                                "option": rank.code,
                                "option_label": rank.label,
                                "count": rank.n,
                                "mean_rank": rank.mean_rank,
                            }
                        )
                elif group.number is not None:
                    number = group.number
                    records.append(
                        {
                            **base,
                            "mean": number.mean,
                            "median": number.median,
                            "sd": number.sd,
                            "min": number.min,
                            "max": number.max,
                        }
                    )
                else:
                    records.append(base)
        tidy = pd.DataFrame.from_records(records, columns=RESULT_COLUMNS)
        tidy = tidy.astype({"respondents": "Int64", "n": "Int64", "missing": "Int64"})
        wide = tidy.drop(columns=[] if by else ["group"])
        notes = [
            "n: respondents who answered the question (or matrix row); missing: those who did "
            "not, display logic included; share: count / n (a multiple choice's shares can add "
            "up to more than 100%). Scores are positions 1..k in option order; a ranking's mean "
            "rank is 1 for first place. Submitted responses only."
        ]
        # The figures there is something to draw for.
        scored = set(tidy[tidy["score"].notna()]["kind"])
        ranked = tidy["mean_rank"].notna().any()
        figures = [
            figure
            for figure, drawable in (
                ("diverging", bool(scored & {*LIKERT_KINDS, Question.Kind.MATRIX})),
                ("matrix", Question.Kind.MATRIX in scored),
                ("ranks", ranked),
            )
            if drawable
        ]
        return ExportTable(
            self.identifier,
            f"Results: {model.title}" + (f" by {by}" if by else ""),
            tidy,
            wide,
            notes=notes,
            percent_columns=["share"],
            figure=figures[0] if figures else None,
            figure_kinds=figures,
        )


def _option_cells(option: object) -> dict[str, object]:
    return {
        "option": option.code,
        "option_label": option.label,
        "score": option.score,
        "count": option.count,
        "share": option.share,
    }


CHANGE_COLUMNS = [
    "question",
    "item",
    "label",
    "question_label",
    "kind",
    "group",
    "n_pairs",
    "mean_before",
    "mean_after",
    "mean_difference",
    "median_difference",
    "statistic",
    "p_value",
    "rank_biserial",
    "reason",
]


class SurveyChangeTable(SurveyTable):
    """For a later wave: per Likert, number or matrix-row item and group, the participants
    answering in both waves (n_pairs), the means before and after, the mean and median
    difference, the Wilcoxon signed-rank test (W, p) and the rank-biserial correlation."""

    identifier = "survey_change"
    verbose_name = "Survey change between waves (Wilcoxon)"
    fields = ("survey", "by")
    pack_formats = ("csv",)

    def make(
        self, sources: Sources, *, survey: str | None, by: str | None, **_: object
    ) -> ExportTable:
        model = _model(sources, survey)
        results = _computed(wave_change, model, by)
        records = []
        for result in results:
            for change in result.groups if by else [result.overall]:
                records.append(
                    [
                        result.code,
                        result.item,
                        result.label,
                        result.question_label,
                        result.kind,
                        change.group,
                        change.n_pairs,
                        change.mean_before,
                        change.mean_after,
                        change.mean_difference,
                        change.median_difference,
                        change.statistic,
                        change.p_value,
                        change.rank_biserial,
                        change.reason,
                    ]
                )
        tidy = pd.DataFrame.from_records(records, columns=CHANGE_COLUMNS)
        wide = tidy.drop(columns=[] if by else ["group"])
        earlier = model.wave_of.title if model.wave_of else ""
        notes = [
            f"Change per participant from “{earlier}” to “{model.title}”: pairs are "
            "participants with a submitted response in both waves who answered the item in "
            "both. statistic and p_value: scipy's Wilcoxon signed-rank test (two-sided, pairs "
            "without a difference dropped); rank_biserial: the matched-pairs rank-biserial "
            "correlation, +1 when everybody rose."
        ]
        return ExportTable(
            self.identifier,
            f"Change: {earlier} to {model.title}" + (f" by {by}" if by else ""),
            tidy,
            wide,
            notes=notes,
        )

    def pack_variants(self, study: Study) -> Iterator[PackVariant]:
        for slug in _survey_slugs(study, waves_only=True):
            yield PackVariant(survey=slug)


SURVEY_EXPORTERS = (
    SurveyResponsesTable(),
    SurveyAnswersTable(),
    SurveyCodebookTable(),
    SurveyResultsTable(),
    SurveyChangeTable(),
)
