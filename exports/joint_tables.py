"""Joint displays of a mixed-methods study: codes beside groups, survey answers and agreement,
each one `TableExporter` registered in `exports.tables.EXPORTERS` beside the other tables, so the
export page, the API, `manage.py export` and the paper pack offer them.

- `quote_matrix`: codes as rows, groups as columns (any grouping of the crosstab: country,
  workshop, variable:NAME, survey:SLUG/CODE...), each cell the `top` most representative quotes
  of that code and group, cited as "P12, FI-1". The quotes are those of the quotes table
  (`QuotesTable`: the same ranking and the same access rule for survey answers); this table only
  lays them out. Its `.docx` is a landscape table for a paper's appendix.
- `survey_by_code`: for one survey question that gives a participant one score (Likert, single
  choice, a matrix row: the option's position 1..k in the question's option order, as the survey
  results score it; a number: its value), the distribution of the answers of the participants
  who raised each code against those who did not, with scipy's Mann-Whitney U test (two-sided)
  and the rank-biserial correlation r = 1 - 2U'/(n1 n2), where U' is the U of those who did not
  raise the code, so r = 2U/(n1 n2) - 1 with U the reported statistic of those who raised it:
  r > 0 when those who raised the code answered higher, r = 1 when every one of them answered
  higher than everyone else. Only submitted responses of roster participants count.
  "Raised a code": the participant's turns carry a coding of the code in the table's layer (the
  people of `coding_units`, as every participants count).
- `code_summary`: per code, the participants who raised it and their share of the roster, the
  workshops they came from, the share of each country's participants, the agreement on the code
  (the reliability table's figures) and its top quotes (the quotes table's), on one sheet.

`exports.tables` imports this module at its end to register the tables, so this module reads
`exports.tables` inside its functions, never at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from surveys.results import answer_number, scale_scores

from .base import ExportError, ExportTable, PackVariant, TableExporter
from .frame import LIKERT_KINDS, SURVEY_PREFIX, SurveyData, SurveyQuestion, surveys_data

if TYPE_CHECKING:
    from studies.models import Study

    from .tables import Sources

SCORED_KINDS = (*LIKERT_KINDS, "single", "matrix", "number")
RAISED = "raised the code"
NOT_RAISED = "did not raise it"


def _quote_text(text: str, cite: str) -> str:
    """One quote as a cell shows it: “text” (P12, FI-1)."""
    return f"“{text}” ({cite})" if cite else f"“{text}”"


def _quotes(sources: Sources, by: str | None, top: int) -> tuple[pd.DataFrame, ExportTable]:
    """The quotes table's quotes for `by` and `top` (its ranking and its rules), with the
    grouping they fall in."""
    from .tables import EXPORTERS, parse_grouping

    grouping = parse_grouping(sources, by)
    quotes = EXPORTERS["quotes"].make(
        sources, by=by, top=top, measure="segments", rollup=False, survey=None
    )
    return grouping, quotes


# --- Quote matrix ---------------------------------------------------------------------------


class QuoteMatrixTable(TableExporter):
    """Codes x groups, each cell the `top` most representative quotes (see the module)."""

    identifier = "quote_matrix"
    verbose_name = "Quote matrix: codes by group"
    fields = ("by", "top")
    default_by = "country"
    pack_formats = ("docx", "xlsx", "md")

    def make(self, sources: Sources, *, by: str | None, top: int, **_: object) -> ExportTable:
        grouping, quotes = _quotes(sources, by, top)
        tidy = quotes.tidy
        rows = sources.codable_rows(rollup=False, exclude=set(grouping.dimension_codes))
        paths = [sources.tree.path[pk] for pk in rows]
        cells: dict[tuple[str, str], list[str]] = {}
        for record in tidy.itertuples(index=False):
            cells.setdefault((record.code_path, record.group), []).append(
                _quote_text(record.text, record.cite)
            )
        wide = pd.DataFrame(
            {
                "code_path": paths,
                **{
                    group: ["\n".join(cells.get((path, group), [])) for path in paths]
                    for group in grouping.groups
                },
            }
        )
        notes = [
            f"Each cell holds up to {top} quote{'s' if top != 1 else ''} of the code in that "
            f"group, cited as participant, workshop; an empty cell: the code has no coded text "
            f"there. {quotes.notes[0]}"
        ]
        return ExportTable(
            self.identifier, f"Quote matrix by {grouping.label}", tidy.copy(), wide, notes=notes
        )

    def pack_variants(self, study: Study) -> Iterator[PackVariant]:
        yield PackVariant(by="country")


# --- Survey answers by code -----------------------------------------------------------------


def _scored_question(
    sources: Sources, by: str | None, survey: str | None
) -> tuple[SurveyData, SurveyQuestion, str]:
    """(survey, question, matrix row or "") named by `by` = survey:SLUG/CODE[/ROW], or by
    `survey` = SLUG with `by` = CODE[/ROW]; ExportError naming what is wrong."""
    usage = (
        "name the question as survey:SURVEY_SLUG/QUESTION_CODE (a matrix row: "
        "survey:SURVEY_SLUG/QUESTION_CODE/ROW), or give survey=SLUG for its first Likert question"
    )
    text = (by or "").strip()
    if text.casefold().startswith(SURVEY_PREFIX):
        slug, _, rest = text[len(SURVEY_PREFIX) :].partition("/")
        slug = slug.strip()
        if survey and survey.strip() != slug:
            raise ExportError(
                f"'{by}' names the survey '{slug}' but the survey option is '{survey}': "
                "give one survey."
            )
    elif survey and text and ":" not in text:
        slug, rest = survey.strip(), text
    elif not text and not survey:
        raise ExportError(f"Which survey question? {usage}.")
    else:
        slug, rest = (survey or "").strip(), ""
        if text:
            raise ExportError(f"'{by}' is not a survey question: {usage}.")
    data = sources.survey(slug)
    code, _, row = rest.partition("/")
    if not code.strip():
        # Only the survey given: its first Likert question, else its first scored one.
        scored = [q for q in data.questions if q.kind in SCORED_KINDS and q.kind != "matrix"]
        likert = [q for q in scored if q.kind in LIKERT_KINDS]
        if not scored:
            raise ExportError(
                f"The survey '{data.slug}' has no question with one score per participant "
                "(Likert, single choice, matrix row or number) to compare codes by."
            )
        return data, (likert or scored)[0], ""
    question = data.question(code.strip())
    if question.kind not in SCORED_KINDS:
        raise ExportError(
            f"The question '{question.code}' ({question.kind_label.lower()}) gives no one score "
            "per participant: compare codes with a Likert, single choice, matrix-row or number "
            "question."
        )
    row = row.strip()
    if question.kind == "matrix":
        rows = {r.casefold(): r for r, _label in question.rows}
        if row.casefold() not in rows:
            known = ", ".join(rows.values()) or "none"
            raise ExportError(
                f"'{by}': the matrix '{question.code}' is compared one row at a time, "
                f"survey:{data.slug}/{question.code}/ROW; its rows are {known}."
            )
        row = rows[row.casefold()]
    elif row:
        raise ExportError(f"'{by}': '{question.code}' is not a matrix, so it has no rows.")
    return data, question, row


def answer_score(question: SurveyQuestion, value: str) -> float | None:
    """A stored answer as a number: a closed answer's position 1..k in the question's option
    order (as the survey results score it), a number's value; None when it is neither."""
    value = (value or "").strip()
    if not value:
        return None
    if question.kind == "number":
        return answer_number(value)
    positions = scale_scores(question.choices)
    return float(positions[value]) if value in positions else None


def participant_scores(data: SurveyData, question: SurveyQuestion, row: str) -> dict[str, float]:
    """participant code -> score, from the survey's submitted responses of roster participants
    (a participant's later submitted response replaces an earlier one)."""
    scores: dict[str, float] = {}
    for respondent in data.respondents:
        if not respondent.participant or respondent.submitted_at is None:
            continue
        score = answer_score(question, respondent.answers.get((question.code, row), ""))
        if score is not None:
            scores[respondent.participant] = score
        else:
            scores.pop(respondent.participant, None)
    return scores


def rank_biserial(u: float, n1: int, n2: int) -> float:
    """r = 1 - 2U'/(n1 n2) with U' = n1 n2 - U the other sample's statistic: 2U/(n1 n2) - 1."""
    return 1.0 - 2.0 * (n1 * n2 - u) / (n1 * n2)


def mann_whitney(raised: list[float], others: list[float]) -> tuple[float, float, float] | None:
    """(U of `raised`, two-sided p, rank-biserial r) from scipy; None when a side is empty."""
    from scipy.stats import mannwhitneyu

    if not raised or not others:
        return None
    result = mannwhitneyu(raised, others, alternative="two-sided")
    u = float(result.statistic)
    return u, float(result.pvalue), rank_biserial(u, len(raised), len(others))


class SurveyByCodeTable(TableExporter):
    """A survey question's answers for those who raised each code and those who did not, with
    the Mann-Whitney U test and the rank-biserial r (see the module)."""

    identifier = "survey_by_code"
    verbose_name = "Survey answer by code raised (Mann-Whitney)"
    fields = ("survey", "by")

    def make(
        self, sources: Sources, *, by: str | None, survey: str | None, **_: object
    ) -> ExportTable:
        from .tables import coding_units, parse_grouping

        data, question, row = _scored_question(sources, by, survey)
        scores = participant_scores(data, question, row)
        rows = sources.codable_rows(rollup=False)
        _units, people = coding_units(sources, parse_grouping(sources, None), rows, rollup=False)
        raised_by = people.groupby("row")["participant"].agg(set).to_dict()
        choice = question.kind != "number"
        labels = [label for _code, label in question.choices] if choice else []
        paths = sources.tree.path
        records = []
        for pk in rows:
            raised_people = raised_by.get(pk, set())
            sides = {
                RAISED: [s for p, s in scores.items() if p in raised_people],
                NOT_RAISED: [s for p, s in scores.items() if p not in raised_people],
            }
            test = mann_whitney(sides[RAISED], sides[NOT_RAISED])
            for side, values in sides.items():
                record: dict[str, object] = {"code_path": paths[pk], "group": side}
                record["n"] = len(values)
                for position, label in enumerate(labels, start=1):
                    record[label] = sum(1 for v in values if v == position)
                record["mean"] = float(np.mean(values)) if values else None
                record["median"] = float(np.median(values)) if values else None
                first = side == RAISED and test is not None
                record["u"] = test[0] if first else None
                record["p_value"] = test[1] if first else None
                record["rank_biserial_r"] = test[2] if first else None
                records.append(record)
        columns = ["code_path", "group", "n", *labels, "mean", "median"]
        columns += ["u", "p_value", "rank_biserial_r"]
        tidy = pd.DataFrame.from_records(records, columns=columns)
        asked = question.label + (f" ({question.row_label(row)})" if row else "")
        scoring = (
            f"scores are the options' positions 1..{len(labels)} in the question's order"
            if choice
            else "scores are the numbers given"
        )
        notes = [
            f"“{asked}” ({data.title}): submitted answers of {len(scores)} participants; "
            f"{scoring}. A participant raised a code when their turns carry a coding of it.",
            "u and p_value: scipy's Mann-Whitney U test (two-sided) of those who raised the code "
            "against those who did not; u is the statistic of those who raised it. "
            "rank_biserial_r = 1 - 2U'/(n1 n2) with U' the statistic of those who did not, "
            "that is 2u/(n1 n2) - 1: above 0 when those who raised the code answered higher. "
            "No test where either side has no one.",
            "The codes are tested one by one: read the p values with the number of codes in mind.",
        ]
        headers = {"u": "U", "p_value": "p", "rank_biserial_r": "r (rank-biserial)"}
        return ExportTable(
            self.identifier,
            f"{asked} by code raised",
            tidy,
            tidy.copy(),
            notes=notes,
            headers=headers,
        )

    def pack_variants(self, study: Study) -> Iterator[PackVariant]:
        """Each survey's Likert questions (other questions are one export away)."""
        for data in surveys_data(study).values():
            for question in data.questions:
                if question.kind in LIKERT_KINDS:
                    yield PackVariant(by=f"{SURVEY_PREFIX}{data.slug}/{question.code}")


# --- Side-by-side summary per code ----------------------------------------------------------


class CodeSummaryTable(TableExporter):
    """Per code: participants, their workshops, each country's share, agreement, top quotes."""

    identifier = "code_summary"
    verbose_name = "Summary per code"
    fields = ("top",)

    def make(self, sources: Sources, *, top: int, **_: object) -> ExportTable:
        from .tables import EXPORTERS, _grid, coding_units, parse_grouping

        rows = sources.codable_rows(rollup=False)
        paths = sources.tree.path
        everyone = len(sources.roster)
        overall = parse_grouping(sources, None)
        units, people = coding_units(sources, overall, rows, rollup=False)
        counted, *_rest = _grid(units, people, "participants", overall, rows, everyone)
        share, *_rest = _grid(units, people, "participant_share", overall, rows, everyone)
        workshops = parse_grouping(sources, "workshop")
        units, people = coding_units(sources, workshops, rows, rollup=False)
        per_workshop, *_rest = _grid(units, people, "participants", workshops, rows, everyone)
        countries = parse_grouping(sources, "country")
        units, people = coding_units(sources, countries, rows, rollup=False)
        per_country, *_rest = _grid(units, people, "participant_share", countries, rows, everyone)
        notes = []
        agreement: dict[str, tuple[object, object]] = {}
        try:
            if sources.access is not None and not sources.access.sees_others:
                # Blind coding: agreement figures derive from the other coders' work.
                raise ExportError("they are hidden from coders while blind coding is on")
            reliability = EXPORTERS["reliability"].make(sources)
        except ExportError as exc:
            notes.append(f"No agreement figures: {str(exc).rstrip('.')}.")
        else:
            agreement = {
                r.code_path: (r.percent_agreement, r.krippendorff_alpha)
                for r in reliability.wide.itertuples(index=False)
            }
            notes.append(reliability.notes[0])
        _grouping, quotes = _quotes(sources, None, top)
        quoted: dict[str, list[str]] = {}
        for record in quotes.tidy.itertuples(index=False):
            quoted.setdefault(record.code_path, []).append(_quote_text(record.text, record.cite))
        country_columns = {group: f"share {group}" for group in countries.groups}
        records = []
        for pk in rows:
            path = paths[pk]
            found = per_workshop.loc[pk]
            record: dict[str, object] = {
                "code_path": path,
                "participants": int(counted.loc[pk].iloc[0]),
                "participant_share": float(share.loc[pk].iloc[0]),
                "workshops": "; ".join(f"{w} ({int(found[w])})" for w in found.index if found[w]),
            }
            for group, column in country_columns.items():
                record[column] = float(per_country.loc[pk, group])
            percent, alpha = agreement.get(path, (None, None))
            record["percent_agreement"] = percent
            record["krippendorff_alpha"] = alpha
            record["quotes"] = "\n".join(quoted.get(path, []))
            records.append(record)
        columns = ["code_path", "participants", "participant_share", "workshops"]
        columns += [*country_columns.values(), "percent_agreement", "krippendorff_alpha", "quotes"]
        wide = pd.DataFrame.from_records(records, columns=columns)
        headers = {
            column: f"{group} share (n={countries.denominators.get(group, 0):,})"
            for group, column in country_columns.items()
        }
        headers["participant_share"] = f"share of all (n={everyone:,})"
        headers["workshops"] = "workshops (participants)"
        notes.insert(
            0,
            "participants: roster participants whose turns carry the code; shares are of every "
            "participant of the country (or of the roster) whether they spoke or not; "
            f"quotes: the {top} most representative (the quotes table's choice).",
        )
        return ExportTable(
            self.identifier,
            "Summary per code",
            wide.copy(),
            wide,
            notes=notes,
            percent_columns=["participant_share", *country_columns.values(), "percent_agreement"],
            headers=headers,
        )


JOINT_EXPORTERS = (QuoteMatrixTable(), SurveyByCodeTable(), CodeSummaryTable())
