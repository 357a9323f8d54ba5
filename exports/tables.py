"""The study's tables, each an `ExportTable` built from the analysis frame.

A table is one `TableExporter` class (its name, label, options, measures, figure and how it is
built) and `EXPORTERS` is the one registry of them, which the export page, the API,
`manage.py export` and the paper pack all read; `build_table(study, name, ...)` is the entry
point for one table.

Counting rules (DESIGN.md, "Data rules"; the frame's rules are in `exports.frame`):
- segments: distinct codings; documents: distinct documents; words: the words of the distinct
  codings; participants: distinct participants whose turns the codings overlap (a participant
  coded in two turns counts once); participant_share: participants / every roster participant
  of the group, whether they spoke or not (document: the participants of its workshop;
  no group or a dimension: the whole roster).
- Group `variable:NAME`: a coding belongs to the value of each participant it overlaps, so a
  coding spanning two participants with different values counts under both (the row total
  counts it once).
- Group `survey:SLUG/CODE` (a matrix row: `survey:SLUG/CODE/ROW`) is a participant variable
  whose values are the labels of a closed question's options, in option order, then
  "(missing)" for those without a submitted answer (`exports.frame`); a coding belongs to the
  answer of each participant it overlaps, as for variables. Only Likert, single choice and
  matrix rows group: they give each participant one answer.
- Group `dimension:NAME` counts co-occurrence: the unit is a pair of overlapping codings of the
  same document and layer, one of a row code and one of a code of that dimension. Its words are
  those of the overlapping region, its participants those whose turns the overlapping region
  touches. The dimension's own codes are not rows.
- rollup: a parent's row counts the distinct units of its whole subtree.
- Totals are counted again over the union, never summed: a participant in two groups is one
  participant in the total.
- Frequencies and crosstabs carry, per code, its participant share with each workshop left out
  and whether it rests on one workshop (`exports.robustness` holds the rule and its thresholds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from coding.models import Code
from coding.reliability import MEASURE_FIELDS, compute_reliability
from studies.access import Access, role_in
from studies.groups import values_order
from studies.models import Document, Study, Variable, Workshop
from studies.nlp import count_words

from .base import (
    GROUPS_HELP,
    MEASURES,
    TOP_DEFAULT,
    ExportError,
    ExportRefused,
    ExportTable,
    LabelledData,
    PackVariant,
    TableExporter,
    group_header,
    variable_name,
)
from .base import (
    OPTIONS as OPTIONS,  # the export page lists the options in this order
)
from .frame import (
    GROUPABLE_KINDS,
    MISSING,
    SURVEY_PREFIX,
    VARIABLE_PREFIX,
    CodeTree,
    SurveyData,
    TurnIndex,
    analysis_frame,
    data_checksum,
    participant_frame,
    roster_frame,
    survey_columns,
    survey_data,
    surveys_data,
)
from .robustness import PERCENT_COLUMNS as ROBUSTNESS_PERCENT
from .robustness import note as robustness_note
from .robustness import with_robustness, workshop_robustness
from .stats import significance_note

TOTAL = "Total"
ALL = "all"
COOCCURRENCE_MEASURES = ("segments", "jaccard")
QUOTE_WORDS = (10, 60)
COUNT_MEASURES = ("segments", "participants")


QUOTE_WINDOW = 20


# --- What a table is built from -------------------------------------------------------------


class Sources:
    """The study's data for one table, each part loaded once and only when needed."""

    def __init__(self, study: Study, layer: str | None, access: Access | None = None) -> None:
        self.study = study
        self.requested_layer = layer
        self.access = access
        self._surveys: dict[str, SurveyData] = {}

    def survey(self, slug: str | None) -> SurveyData:
        """The study's survey `slug` with its questions and responses, read once; ExportError
        naming the study's surveys when it is missing or unknown."""
        if slug not in self._surveys:
            self._surveys[str(slug)] = survey_data(self.study, slug)
        return self._surveys[str(slug)]

    @property
    def sees_responses(self) -> bool:
        return sees_responses(self.access)

    def require_responses(self, what: str) -> None:
        """ExportRefused unless the person may see individual survey responses."""
        if not self.sees_responses:
            raise ExportRefused(
                f"{what}: only the study's owners see individual survey responses; "
                "the survey's results table shows them aggregated."
            )

    @cached_property
    def frame(self) -> pd.DataFrame:
        return analysis_frame(self.study, layer=self.requested_layer)

    @cached_property
    def checksum(self) -> str:
        return data_checksum(self.frame)

    @cached_property
    def pairs(self) -> list[tuple[int, int]]:
        """Every two overlapping codings of the frame (see overlapping_pairs), found once."""
        return overlapping_pairs(self.frame)

    @cached_property
    def layer(self) -> str:
        return str(self.frame.attrs["layer"])

    @cached_property
    def tree(self) -> CodeTree:
        return CodeTree.of(self.study)

    @cached_property
    def roster(self) -> pd.DataFrame:
        return roster_frame(self.study)

    @cached_property
    def people(self) -> pd.DataFrame:
        return participant_frame(self.study, frame=self.frame, roster=self.roster)

    @cached_property
    def workshops(self) -> list[tuple[str, str]]:
        """(code, country) in the study's order."""
        return list(Workshop.objects.filter(study=self.study).values_list("code", "country"))

    @cached_property
    def documents(self) -> list[tuple[int, str, str]]:
        """(id, title, workshop code) by title."""
        rows = Document.objects.filter(study=self.study).order_by("title")
        return [(pk, t, w or "") for pk, t, w in rows.values_list("pk", "title", "workshop__code")]

    @cached_property
    def texts(self) -> dict[int, str]:
        return dict(Document.objects.filter(study=self.study).values_list("pk", "text"))

    @cached_property
    def turns(self) -> TurnIndex:
        return TurnIndex.of(self.study)

    @cached_property
    def variables(self) -> dict[str, tuple[str, list[str]]]:
        """name -> (kind, choices)."""
        rows = Variable.objects.filter(study=self.study).values_list("name", "kind", "choices")
        return {
            name: (kind, [c.strip() for c in choices.splitlines() if c.strip()])
            for name, kind, choices in rows
        }

    def codable_rows(self, *, rollup: bool, exclude: set[int] | None = None) -> list[int]:
        """The codes a table lists, in tree order: codable codes, or with rollup every code
        with a codable code in its subtree."""
        tree = self.tree
        if rollup:
            keep = {a for pk in tree.path if tree.codable[pk] for a in tree.lineage(pk)}
        else:
            keep = {pk for pk in tree.path if tree.codable[pk]}
        exclude = exclude or set()
        return [pk for pk in tree.tree_order() if pk in keep and pk not in exclude]


@dataclass
class Grouping:
    """How codings fall into groups, with each group's roster denominator."""

    by: str | None
    kind: str  # none, country, workshop, document, variable, survey, dimension
    groups: list[str]
    denominators: dict[str, int]
    column: str = ""  # the frame column holding the group (country, workshop, ...)
    dimension_codes: dict[int, str] = field(default_factory=dict)  # code id -> group label

    @property
    def label(self) -> str:
        return self.by or "all"

    @property
    def per_participant(self) -> bool:
        """A participant's attribute (a variable or a survey answer), not the coding's own."""
        return self.kind in ("variable", "survey")


def dimension_names(study: Study) -> list[str]:
    """The codebook's dimensions: top-level codes that are not codable and have children."""
    return list(
        Code.objects.filter(study=study, parent=None, codable=False, children__isnull=False)
        .distinct()
        .order_by("order", "name")
        .values_list("name", flat=True)
    )


def survey_grouping(sources: Sources, by: str, name: str) -> Grouping:
    """`survey:SLUG/CODE[/ROW]`: participants by their submitted answer (see the module)."""
    slug, _, rest = name.partition("/")
    code, _, row = rest.partition("/")
    if not code:
        raise ExportError(
            f"'{by}' names no question: group by survey:SURVEY_SLUG/QUESTION_CODE "
            "(a matrix row: survey:SURVEY_SLUG/QUESTION_CODE/ROW)."
        )
    survey = sources.survey(slug.strip())
    question = survey.question(code.strip())
    if question.kind not in GROUPABLE_KINDS:
        raise ExportError(
            f"The question '{question.code}' ({question.kind_label.lower()}) cannot group "
            f"participants in '{by}': only Likert, single choice and matrix-row questions give "
            "each participant one answer; multiple choice, ranking, number, date and text "
            "questions do not."
        )
    if question.kind == "matrix":
        rows = {r.casefold(): r for r, _label in question.rows}
        if row.strip().casefold() not in rows:
            known = ", ".join(rows.values()) or "none"
            raise ExportError(
                f"'{by}': the matrix '{question.code}' groups by one of its rows, "
                f"survey:{survey.slug}/{question.code}/ROW; its rows are {known}."
            )
        row = rows[row.strip().casefold()]
    elif row:
        raise ExportError(f"'{by}': '{question.code}' is not a matrix, so it has no rows.")
    column = f"{SURVEY_PREFIX}{survey.slug}/{question.code}" + (f"/{row}" if row else "")
    roster = sources.roster
    counts = roster[column].value_counts().to_dict() if column in roster else {}
    labels = list(dict.fromkeys(label for _code, label in question.choices))
    groups = labels + ([MISSING] if counts.get(MISSING) else [])
    return Grouping(column, "survey", groups, {g: counts.get(g, 0) for g in groups}, column)


def parse_grouping(sources: Sources, by: str | None) -> Grouping:
    """GROUP: country, workshop, document, variable:NAME, dimension:CODE_NAME or
    survey:SURVEY_SLUG/QUESTION_CODE[/ROW]."""
    roster = sources.roster
    everyone = len(roster)
    if by in (None, ""):
        return Grouping(None, "none", [ALL], {ALL: everyone})
    kind, _, name = by.partition(":")
    kind = kind.strip().lower()
    name = name.strip()
    if kind == "country" and not name:
        groups = sorted({country for _code, country in sources.workshops if country})
        counts = roster["country"].value_counts().to_dict()
        return Grouping(by, "country", groups, {g: counts.get(g, 0) for g in groups}, "country")
    if kind == "workshop" and not name:
        groups = [code for code, _country in sources.workshops]
        counts = roster["workshop"].value_counts().to_dict()
        return Grouping(by, "workshop", groups, {g: counts.get(g, 0) for g in groups}, "workshop")
    if kind == "document" and not name:
        counts = roster["workshop"].value_counts().to_dict()
        groups = [title for _pk, title, _w in sources.documents]
        denominators = {title: counts.get(w, 0) for _pk, title, w in sources.documents}
        return Grouping(by, "document", groups, denominators, "document")
    if kind == "variable" and name:
        names = {n.casefold(): n for n in sources.variables}
        if name.casefold() not in names:
            known = ", ".join(sources.variables) or "none"
            raise ExportError(
                f"Unknown variable '{name}' in '{by}': the study's variables are {known}."
            )
        name = names[name.casefold()]
        column = VARIABLE_PREFIX + name
        counts = roster[column].value_counts().to_dict() if len(roster) else {}
        var_kind, choices = sources.variables[name]
        groups = values_order(var_kind, choices, set(counts))
        return Grouping(by, "variable", groups, {g: counts.get(g, 0) for g in groups}, column)
    if kind == "dimension" and name:
        tree = sources.tree
        dimensions = [
            pk for pk in tree.tree_order() if tree.parent[pk] is None and not tree.codable[pk]
        ]
        root = next((pk for pk in dimensions if tree.name[pk].casefold() == name.casefold()), None)
        if root is None:
            known = ", ".join(tree.name[pk] for pk in dimensions) or "none"
            raise ExportError(
                f"Unknown dimension '{name}' in '{by}': a dimension is a top-level code that "
                f"is not codable; this study's are {known}."
            )
        prefix = tree.path[root] + "/"
        codes = {
            pk: tree.path[pk].removeprefix(prefix)
            for pk in tree.tree_order()
            if pk in tree.subtree(root) and tree.codable[pk]
        }
        groups = list(codes.values())
        return Grouping(
            by, "dimension", groups, dict.fromkeys(groups, everyone), dimension_codes=codes
        )
    if kind == "survey" and name:
        return survey_grouping(sources, by, name)
    raise ExportError(f"Unknown group '{by}': use {GROUPS_HELP}.")


# --- Units: what is counted, and in which (row, group) ------------------------------------


def _row_codes(tree: CodeTree, code_id: int, rows: set[int], rollup: bool) -> list[int]:
    found = tree.lineage(code_id) if rollup else [code_id]
    return [pk for pk in found if pk in rows]


def overlapping_pairs(frame: pd.DataFrame) -> list[tuple[int, int]]:
    """Positions (i, j), i < j, of every two rows of the frame in the same document whose spans
    overlap (a.start < b.end and b.start < a.end); each pair once."""
    order = np.lexsort((frame["start"].to_numpy(), frame["document_id"].to_numpy()))
    documents = frame["document_id"].to_numpy()[order]
    starts = frame["start"].to_numpy()[order]
    ends = frame["end"].to_numpy()[order]
    pairs: list[tuple[int, int]] = []
    n = len(order)
    for i in range(n):
        j = i + 1
        # Sorted by start within a document: later rows overlap while they start before i ends.
        while j < n and documents[j] == documents[i] and starts[j] < ends[i]:
            a, b = int(order[i]), int(order[j])
            pairs.append((min(a, b), max(a, b)))
            j += 1
    return pairs


def _coding_units_flat(
    sources: Sources, grouping: Grouping, rows: list[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """coding_units when each coding counts for its own code only (no rollup), with pandas
    instead of a loop over the codings."""
    frame = sources.frame
    chosen = frame[frame["code_id"].isin(rows)]
    units = pd.DataFrame(
        {
            "unit": chosen["coding_id"].to_numpy(),
            "row": chosen["code_id"].to_numpy(),
            "group": chosen[grouping.column].to_numpy()
            if grouping.column and not grouping.per_participant
            else ALL,
            "document_id": chosen["document_id"].to_numpy(),
            "words": chosen["words"].to_numpy(),
        }
    )
    people = sources.people
    picked = people[people["code_id"].isin(rows)]
    people_units = pd.DataFrame(
        {
            "unit": picked["coding_id"].to_numpy(),
            "row": picked["code_id"].to_numpy(),
            "group": picked[grouping.column].to_numpy() if grouping.column else ALL,
            "participant": picked["participant"].to_numpy(),
        }
    )
    if grouping.per_participant:
        by_value = people_units[["unit", "row", "group"]].drop_duplicates()
        units = units.drop(columns="group").merge(by_value, on=["unit", "row"], how="inner")
    return units, people_units


def coding_units(
    sources: Sources, grouping: Grouping, rows: list[int], rollup: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(units, people) for groupings other than dimension. units: unit, row, group,
    document_id, words; people: unit, row, group, participant. The unit is the coding."""
    tree, row_set = sources.tree, set(rows)
    frame = sources.frame
    if not rollup:
        return _coding_units_flat(sources, grouping, rows)
    unit_records: list[tuple] = []
    for coding_id, code_id, document_id, words, group in zip(
        frame["coding_id"],
        frame["code_id"],
        frame["document_id"],
        frame["words"],
        frame[grouping.column]
        if grouping.column and not grouping.per_participant
        else [ALL] * len(frame),
        strict=True,
    ):
        for row in _row_codes(tree, code_id, row_set, rollup):
            unit_records.append((coding_id, row, group, document_id, words))
    units = pd.DataFrame.from_records(
        unit_records, columns=["unit", "row", "group", "document_id", "words"]
    )
    people = sources.people
    people_records: list[tuple] = []
    group_of_person = (
        people[grouping.column]
        if grouping.column
        else pd.Series([ALL] * len(people), index=people.index)
    )
    for coding_id, code_id, participant, group in zip(
        people["coding_id"], people["code_id"], people["participant"], group_of_person, strict=True
    ):
        for row in _row_codes(tree, code_id, row_set, rollup):
            people_records.append((coding_id, row, group, participant))
    people_units = pd.DataFrame.from_records(
        people_records, columns=["unit", "row", "group", "participant"]
    )
    if grouping.per_participant:
        # A coding belongs to the values of the participants it overlaps.
        by_value = people_units[["unit", "row", "group"]].drop_duplicates()
        units = units.drop(columns="group").merge(by_value, on=["unit", "row"], how="inner")
    return units, people_units


def dimension_units(
    sources: Sources, grouping: Grouping, rows: list[int], rollup: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(units, people) for a dimension grouping: the unit is a pair of overlapping codings,
    one of a row code, one of the dimension's codes (see the module's rules)."""
    tree, row_set = sources.tree, set(rows)
    frame = sources.frame
    codes = frame["code_id"].to_numpy()
    coding_ids = frame["coding_id"].to_numpy()
    documents = frame["document_id"].to_numpy()
    starts, ends = frame["start"].to_numpy(), frame["end"].to_numpy()
    dims = grouping.dimension_codes
    texts = sources.texts
    unit_records: list[tuple] = []
    people_records: list[tuple] = []
    for i, j in sources.pairs:
        for a, b in ((i, j), (j, i)):
            if int(codes[b]) not in dims or int(codes[a]) in dims:
                continue
            row_codes = _row_codes(tree, int(codes[a]), row_set, rollup)
            if not row_codes:
                continue
            document_id = int(documents[a])
            start, end = max(starts[a], starts[b]), min(ends[a], ends[b])
            unit = f"{coding_ids[a]}-{coding_ids[b]}"
            group = dims[int(codes[b])]
            words = count_words(texts[document_id][start:end])
            speakers = sources.turns.speakers(document_id, int(start), int(end))
            for row in row_codes:
                unit_records.append((unit, row, group, document_id, words))
                people_records.extend((unit, row, group, p) for p in speakers)
    units = pd.DataFrame.from_records(
        unit_records, columns=["unit", "row", "group", "document_id", "words"]
    )
    people = pd.DataFrame.from_records(
        people_records, columns=["unit", "row", "group", "participant"]
    )
    return units, people


def measure_series(
    units: pd.DataFrame,
    people: pd.DataFrame,
    measure: str,
    keys: list[str],
    denominators: Callable[[pd.Index], pd.Series] | None = None,
) -> pd.Series:
    """The measure per combination of `keys` (columns of units and people), distinct counts."""
    if measure == "segments":
        return units.drop_duplicates([*keys, "unit"]).groupby(keys).size()
    if measure == "documents":
        return units.drop_duplicates([*keys, "document_id"]).groupby(keys).size()
    if measure == "words":
        return units.drop_duplicates([*keys, "unit"]).groupby(keys)["words"].sum()
    counted = people.drop_duplicates([*keys, "participant"]).groupby(keys).size()
    if measure == "participants":
        return counted
    assert denominators is not None
    return counted / denominators(counted.index)


# --- Code by group tables -------------------------------------------------------------------


def _grid(
    units: pd.DataFrame,
    people: pd.DataFrame,
    measure: str,
    grouping: Grouping,
    rows: list[int],
    everyone: int,
) -> tuple[pd.DataFrame, pd.Series, pd.Series, float]:
    """(rows x groups values, row totals, column totals, grand total)."""
    denominators = grouping.denominators

    def per_group(index: pd.Index) -> pd.Series:
        groups = index.get_level_values("group")
        values = [denominators.get(g, 0) or np.nan for g in groups]
        return pd.Series(values, index=index, dtype=float)

    def per_everyone(index: pd.Index) -> pd.Series:
        return pd.Series(float(everyone) if everyone else np.nan, index=index)

    cells = measure_series(units, people, measure, ["row", "group"], per_group)
    grid = (
        cells.unstack("group").reindex(index=rows, columns=grouping.groups).fillna(0).astype(float)
        if len(cells)
        else pd.DataFrame(0.0, index=rows, columns=grouping.groups)
    )
    row_totals = measure_series(units, people, measure, ["row"], per_everyone)
    row_totals = row_totals.reindex(rows).fillna(0).astype(float)
    # Column and grand totals count distinct units of the listed codable rows once each.
    column_totals = measure_series(units, people, measure, ["group"], per_group)
    column_totals = column_totals.reindex(grouping.groups).fillna(0).astype(float)
    units_all = units.assign(_all=TOTAL)
    people_all = people.assign(_all=TOTAL)
    grand = measure_series(units_all, people_all, measure, ["_all"], per_everyone)
    return grid, row_totals, column_totals, float(grand.get(TOTAL, 0.0))


def _counts_frames(
    sources: Sources, grouping: Grouping, rows: list[int], rollup: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if grouping.kind == "dimension":
        return dimension_units(sources, grouping, rows, rollup)
    return coding_units(sources, grouping, rows, rollup)


def code_group_units(
    sources: Sources, by: str | None, rollup: bool
) -> tuple[Grouping, list[int], pd.DataFrame, pd.DataFrame]:
    """(grouping, rows, units, people) of a codes-by-group table: what the frequencies and
    crosstab tables count, and what a cell's drill-down (exports.cells) lists, so that the
    number in a cell and the items behind it come from the same units. A dimension's own
    codes (and its root) are not rows."""
    grouping = parse_grouping(sources, by)
    exclude = (
        set(grouping.dimension_codes) | {sources.tree.root(next(iter(grouping.dimension_codes)))}
        if grouping.dimension_codes
        else set()
    )
    rows = sources.codable_rows(rollup=rollup, exclude=exclude)
    units, people = _counts_frames(sources, grouping, rows, rollup)
    return grouping, rows, units, people


class CrosstabTable(TableExporter):
    """Codes x groups with MEASURE (see the module's rules); chi-square for counts."""

    identifier = "crosstab"
    verbose_name = "Crosstab: codes by group"
    fields = ("by", "measure", "rollup")
    measures = MEASURES
    figure = "heatmap"
    default_by = "country"

    def make(
        self, sources: Sources, *, by: str | None, measure: str, rollup: bool, **_: object
    ) -> ExportTable:
        grouping, rows, units, people = code_group_units(sources, by, rollup)
        grid, row_totals, column_totals, grand = _grid(
            units, people, measure, grouping, rows, len(sources.roster)
        )
        paths = sources.tree.path
        tidy = _tidy(grid, measure, paths, grouping)
        wide = grid.copy()
        wide.index = [paths[pk] for pk in rows]
        wide[TOTAL] = row_totals.to_numpy()
        wide.loc[TOTAL] = [*column_totals.to_numpy(), grand]
        if measure != "participant_share":
            wide = wide.astype("int64")
        wide.index.name = "code_path"
        wide = wide.reset_index()
        notes = [_rule_note(grouping, measure)]
        if measure in COUNT_MEASURES:
            tested = grid
            if rollup:
                leaves = [pk for pk in rows if not (sources.tree.subtree(pk) - {pk}) & set(rows)]
                tested = grid.loc[leaves]
            notes.append(significance_note(tested.to_numpy()))
            if measure == "participants" or grouping.kind in ("variable", "survey", "dimension"):
                notes.append(
                    "One participant or segment can fall in several cells, so the counts are not "
                    "independent observations: read the test as descriptive."
                )
        percent, headers = [], {}
        if measure == "participant_share":
            percent = [*grouping.groups, TOTAL]
            # Each share's denominator beside it: the group's participants in the roster.
            sizes = {g: grouping.denominators.get(g, 0) for g in grouping.groups}
            headers = {g: group_header(g, n) for g, n in sizes.items()}
            headers[TOTAL] = group_header(TOTAL, len(sources.roster))
        # Whether each code's finding rests on one workshop (exports.robustness).
        robust = workshop_robustness(sources, rows, rollup)
        tidy, wide = with_robustness(tidy, wide, robust, paths)
        notes.append(robustness_note(robust, paths))
        percent = [*percent, *ROBUSTNESS_PERCENT]
        title = f"{measure.replace('_', ' ').capitalize()} by {grouping.label}"
        return ExportTable(
            self.identifier,
            title,
            tidy,
            wide,
            notes=notes,
            percent_columns=percent,
            headers=headers,
        )

    def pack_variants(self, study: Study) -> Iterator[PackVariant]:
        """What a paper on a multi-site workshop study reports: each dimension by country (as
        counts, people and shares, the shares drawn), by workshop, by each participant variable,
        crossed with the other dimensions (drawn), and by each survey's one-answer questions.
        Other views are one `manage.py export` away, which keeps the pack quick to make."""
        yield PackVariant(by="country", measure="segments")
        yield PackVariant(by="country", measure="participants")
        yield PackVariant(by="country", measure="participant_share", figure=True)
        yield PackVariant(by="workshop", measure="participant_share")
        for name in study.variables.order_by("order", "name").values_list("name", flat=True):
            yield PackVariant(by=f"variable:{name}", measure="participants")
        for dimension in dimension_names(study)[1:]:
            yield PackVariant(by=f"dimension:{dimension}", figure=True)
        # Codes by each survey's Likert and single-choice answers (a matrix's rows are one
        # `manage.py export --by survey:SLUG/CODE/ROW` away).
        for survey in surveys_data(study).values():
            for column, (_question, row) in survey_columns(survey).items():
                if not row:
                    yield PackVariant(by=column, measure="participant_share")


def _tidy(
    grid: pd.DataFrame, measure: str, paths: dict[int, str], grouping: Grouping
) -> pd.DataFrame:
    records = []
    for pk, values in grid.iterrows():
        for group in grouping.groups:
            record = {
                "code_path": paths[pk],
                "group": group,
                "measure": measure,
                "value": float(values[group]),
            }
            if measure == "participant_share":
                record["denominator"] = grouping.denominators.get(group, 0)
            records.append(record)
    columns = ["code_path", "group", "measure", "value"]
    if measure == "participant_share":
        columns.append("denominator")
    tidy = pd.DataFrame.from_records(records, columns=columns)
    if measure != "participant_share":
        tidy["value"] = tidy["value"].astype("int64")
    return tidy


def _rule_note(grouping: Grouping, measure: str) -> str:
    if grouping.kind == "dimension":
        return (
            f"Counts co-occurrence with the {grouping.by.split(':', 1)[1]} codes: overlapping "
            "codings of the same document and layer; participants are those whose turns the "
            "overlapping text touches."
        )
    if measure == "participant_share":
        return (
            "Share of each group's participants in the roster (speaking or not) whose turns "
            "carry the code; the total is the share of all participants."
        )
    if grouping.kind == "variable":
        return "A segment counts under the value of each participant whose turns it overlaps."
    if grouping.kind == "survey":
        return (
            "A segment counts under the answer of each participant whose turns it overlaps; "
            f"{MISSING} holds those without a submitted answer."
        )
    return "Totals count distinct segments, participants and documents, not sums of the cells."


class FrequenciesTable(TableExporter):
    """Per code: segments, participants, participant_share (of the whole roster), documents,
    words; with rollup a parent counts the distinct codings of its subtree."""

    identifier = "frequencies"
    verbose_name = "Code frequencies"
    fields = ("measure", "rollup")
    measures = MEASURES
    figure = "bars"
    one_measure = False  # every measure is a column

    def make(self, sources: Sources, *, rollup: bool, **_: object) -> ExportTable:
        grouping, rows, units, people = code_group_units(sources, None, rollup)
        everyone = len(sources.roster)
        paths = sources.tree.path
        columns: dict[str, list[float]] = {}
        totals: dict[str, float] = {}
        records = []
        for name in ("segments", "participants", "participant_share", "documents", "words"):
            grid, _rows, _columns, grand = _grid(units, people, name, grouping, rows, everyone)
            columns[name] = list(grid[ALL])
            totals[name] = grand
            for pk, value in zip(rows, grid[ALL], strict=True):
                records.append((paths[pk], ALL, name, float(value)))
        tidy = pd.DataFrame.from_records(
            records, columns=["code_path", "group", "measure", "value"]
        )
        wide = pd.DataFrame({"code_path": [paths[pk] for pk in rows], **columns})
        wide.loc[len(wide)] = [TOTAL, *totals.values()]
        for name in ("segments", "participants", "documents", "words"):
            wide[name] = wide[name].astype("int64")
        notes = [
            "participant_share is the share of all roster participants whose turns carry the code; "
            "totals count distinct segments, participants and documents."
        ]
        if rollup:
            notes.append("A parent code counts the distinct segments of its whole subtree.")
        # Whether each code's finding rests on one workshop (exports.robustness).
        robust = workshop_robustness(sources, rows, rollup)
        tidy, wide = with_robustness(tidy, wide, robust, paths)
        notes.append(robustness_note(robust, paths))
        return ExportTable(
            self.identifier,
            "Code frequencies",
            tidy,
            wide,
            notes=notes,
            percent_columns=["participant_share", *ROBUSTNESS_PERCENT],
        )


# --- Co-occurrence --------------------------------------------------------------------------


class CooccurrenceTable(TableExporter):
    """Code x code: the number of pairs of overlapping codings (same document and layer, each
    pair once, two codings of the same code not counted); the diagonal holds the code's
    segments. measure="jaccard": co-occurrences / (a + b - co-occurrences), diagonal 1."""

    identifier = "cooccurrence"
    verbose_name = "Co-occurrence of codes"
    fields = ("measure",)
    measures = COOCCURRENCE_MEASURES
    figure = "heatmap"

    def make(self, sources: Sources, *, measure: str, **_: object) -> ExportTable:
        rows = sources.codable_rows(rollup=False)
        frame = sources.frame
        position = {pk: i for i, pk in enumerate(rows)}
        matrix = np.zeros((len(rows), len(rows)))
        codes = frame["code_id"].to_numpy()
        if sources.pairs:
            pairs = np.asarray(sources.pairs)
            a = np.array([position.get(int(c), -1) for c in codes[pairs[:, 0]]])
            b = np.array([position.get(int(c), -1) for c in codes[pairs[:, 1]]])
            keep = (a >= 0) & (b >= 0) & (a != b)
            np.add.at(matrix, (a[keep], b[keep]), 1)
            np.add.at(matrix, (b[keep], a[keep]), 1)
        counts = pd.DataFrame(matrix, index=rows, columns=rows)
        segments = frame["code_id"].value_counts()
        for pk in rows:
            counts.loc[pk, pk] = float(segments.get(pk, 0))
        values = counts
        if measure == "jaccard":
            diagonal = np.diag(counts.to_numpy())
            union = diagonal[:, None] + diagonal[None, :] - counts.to_numpy()
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(union > 0, counts.to_numpy() / union, 0.0)
            np.fill_diagonal(ratio, np.where(diagonal > 0, 1.0, 0.0))
            values = pd.DataFrame(ratio, index=rows, columns=rows)
        paths = sources.tree.path
        records = [
            (paths[a], paths[b], measure, float(values.loc[a, b])) for a in rows for b in rows
        ]
        tidy = pd.DataFrame.from_records(
            records, columns=["code_path", "group", "measure", "value"]
        )
        if measure == "segments":
            tidy["value"] = tidy["value"].astype("int64")
        wide = values.copy()
        wide.index = [paths[pk] for pk in rows]
        wide.columns = [paths[pk] for pk in rows]
        wide.index.name = "code_path"
        wide = wide.reset_index()
        percent = [paths[pk] for pk in rows] if measure == "jaccard" else []
        notes = [
            "Two codings co-occur when they overlap in the same document and layer; each pair is "
            "counted once. The diagonal holds each code's segments."
        ]
        return ExportTable(
            self.identifier, "Code co-occurrence", tidy, wide, notes=notes, percent_columns=percent
        )


# --- Quotes ---------------------------------------------------------------------------------


class QuotesTable(TableExporter):
    """The `top` most representative excerpts per code (and group). Representative, in order:
    agreed (a consensus coding, or in the "all" layer a span both/several coders applied);
    then of a readable length (10-60 words) and, among those, closest to 30 words; then spread
    across participants (an excerpt of a participant not yet quoted for that code and group
    goes first, looking at most top x QUOTE_WINDOW candidates down the ranking); ties by document
    and position, so the choice is stable."""

    identifier = "quotes"
    verbose_name = "Quotes per code"
    fields = ("by", "top")

    def make(self, sources: Sources, *, by: str | None, top: int, **_: object) -> ExportTable:
        grouping = parse_grouping(sources, by)
        if grouping.kind == "survey":
            # A quote names its speaker, so beside an answer it shows that person's answer.
            sources.require_responses("Quotes by a survey answer")
        exclude = set(grouping.dimension_codes)
        rows = sources.codable_rows(rollup=False, exclude=exclude)
        frame = sources.frame.set_index("coding_id", drop=False)
        if grouping.kind == "dimension":
            units, _people = dimension_units(sources, grouping, rows, rollup=False)
            units["unit"] = units["unit"].str.split("-").str[0].astype("int64")
        else:
            units, _people = coding_units(sources, grouping, rows, rollup=False)
        pairs = units[["row", "group", "unit"]].drop_duplicates()
        texts = sources.texts
        low, high = QUOTE_WORDS
        records = []
        paths = sources.tree.path
        for (row, group), chosen in pairs.groupby(["row", "group"], sort=False):
            candidates = frame.loc[chosen["unit"].to_numpy()]
            agreed = (candidates["layer"] == "consensus") | (candidates["n_coders"] >= 2)
            readable = candidates["words"].between(low, high)
            ranked = candidates.assign(
                _agreed=~agreed,
                _readable=~readable,
                _distance=(candidates["words"] - 30).abs(),
            ).sort_values(["_agreed", "_readable", "_distance", "document", "start"], kind="stable")
            picked: list[pd.Series] = []
            quoted: set[str] = set()
            # The spreading rule only looks a little way down the ranking.
            remaining = [r for _i, r in ranked.head(top * QUOTE_WINDOW).iterrows()]
            while remaining and len(picked) < top:
                fresh = next(
                    (r for r in remaining if not set(r["participants"]) & quoted), remaining[0]
                )
                remaining = [r for r in remaining if r["coding_id"] != fresh["coding_id"]]
                picked.append(fresh)
                quoted.update(fresh["participants"])
            for rank, quote in enumerate(picked, start=1):
                speakers = list(quote["participants"])
                # The excerpt without the spaces around it; start and end follow the text.
                raw = texts[quote["document_id"]][quote["start"] : quote["end"]]
                text = raw.strip()
                start = int(quote["start"]) + (len(raw) - len(raw.lstrip()))
                end = start + len(text)
                cite = ", ".join(filter(None, ["; ".join(speakers), quote["workshop"]]))
                records.append(
                    {
                        "code_path": paths[row],
                        "group": group,
                        "rank": rank,
                        "text": text,
                        "participants": "; ".join(speakers),
                        "workshop": quote["workshop"],
                        "country": quote["country"],
                        "cite": cite,
                        "document": quote["document"],
                        "start": start,
                        "end": end,
                        "words": int(quote["words"]),
                        "agreed": bool(quote["layer"] == "consensus" or quote["n_coders"] >= 2),
                    }
                )
        columns = [
            "code_path",
            "group",
            "rank",
            "text",
            "participants",
            "workshop",
            "country",
            "cite",
            "document",
            "start",
            "end",
            "words",
            "agreed",
        ]
        tidy = pd.DataFrame.from_records(records, columns=columns)
        order = {pk: i for i, pk in enumerate(rows)}
        path_order = {paths[pk]: i for pk, i in order.items()}
        group_order = {g: i for i, g in enumerate(grouping.groups)}
        if len(tidy):
            tidy = tidy.sort_values(
                ["code_path", "group", "rank"],
                key=lambda s: (
                    s.map(path_order)
                    if s.name == "code_path"
                    else s.map(group_order)
                    if s.name == "group"
                    else s
                ),
                kind="stable",
            ).reset_index(drop=True)
        wide = tidy if by else tidy.drop(columns="group")
        notes = [
            "Representative excerpts: agreed codings first (consensus, or applied by two or more "
            f"coders), then those of {low}-{high} words closest to 30, spread across participants."
        ]
        return ExportTable(self.identifier, "Representative quotes", tidy, wide, notes=notes)


# --- Appendix tables ------------------------------------------------------------------------


class CodebookTable(TableExporter):
    """The codebook in tree order with each code's segments, participants and documents in
    the layer; a grouping code (not codable) counts the distinct codings of its subtree."""

    identifier = "codebook"
    verbose_name = "Codebook"

    def make(self, sources: Sources, **_: object) -> ExportTable:
        tree = sources.tree
        order = tree.tree_order()
        grouping = parse_grouping(sources, None)
        units, people = coding_units(sources, grouping, order, rollup=True)
        own_units, own_people = coding_units(sources, grouping, order, rollup=False)
        everyone = len(sources.roster)
        texts = {
            pk: (d, i, e, x)
            for pk, d, i, e, x in Code.objects.filter(study=sources.study).values_list(
                "pk", "definition", "inclusion", "exclusion", "example"
            )
        }
        counted: dict[str, pd.Series] = {}
        for name in ("segments", "participants", "documents"):
            rolled, *_ = _grid(units, people, name, grouping, order, everyone)
            own, *_ = _grid(own_units, own_people, name, grouping, order, everyone)
            counted[name] = pd.Series(
                [own.loc[pk, ALL] if tree.codable[pk] else rolled.loc[pk, ALL] for pk in order],
                index=order,
            )
        wide = pd.DataFrame(
            {
                "code_path": [tree.path[pk] for pk in order],
                "definition": [texts[pk][0] for pk in order],
                "inclusion": [texts[pk][1] for pk in order],
                "exclusion": [texts[pk][2] for pk in order],
                "example": [texts[pk][3] for pk in order],
                "codable": [tree.codable[pk] for pk in order],
                **{name: counted[name].astype("int64").to_numpy() for name in counted},
            }
        )
        notes = ["A grouping code (not codable) counts the distinct segments of its subtree."]
        return ExportTable(self.identifier, "Codebook", wide.copy(), wide, notes=notes)


class ReliabilityTable(TableExporter):
    """Agreement per code over sentence units of every document, between the study's coders
    (everyone with codings of their own), and pooled over all codes."""

    identifier = "reliability"
    verbose_name = "Inter-coder agreement"
    reads_codings = False

    def make(self, sources: Sources, **_: object) -> ExportTable:
        if sources.access is not None and not sources.access.sees_others:
            # The reliability pages' rule (Access.sees_others): agreement compares the coders'
            # work, which a coder does not see while coding blind.
            raise ExportRefused(
                "While blind coding is on, coders see no agreement figures: they compare "
                "everyone's codings."
            )
        try:
            report = compute_reliability(sources.study, unit="sentence")
        except ValueError as exc:
            raise ExportError(f"No reliability table: {exc}.") from None
        measures = [name for name in MEASURE_FIELDS if name != "notes"]
        records = []
        for agreement in [*report.codes, report.overall]:
            data = agreement.as_json()
            records.append(
                {
                    "code_path": data.get("code", "overall"),
                    **{m: data[m] for m in measures},
                    "notes": "; ".join(data["notes"]),
                }
            )
        wide = pd.DataFrame.from_records(records, columns=["code_path", *measures, "notes"])
        notes = [
            f"Agreement between {', '.join(report.coders)} over sentence units of "
            f"{len(report.documents)} documents; the last row pools every (unit, code) decision."
        ]
        return ExportTable(
            self.identifier,
            "Inter-coder reliability",
            wide.copy(),
            wide,
            notes=notes,
            percent_columns=["percent_agreement"],
        )


class ParticipantsTable(TableExporter):
    """The roster with its variables and, per participant, the coded segments their turns
    carry in the layer, the distinct codes and the documents."""

    identifier = "participants"
    verbose_name = "Participants"

    def make(self, sources: Sources, **_: object) -> ExportTable:
        roster = sources.roster
        people = sources.people
        grouped = people.groupby("participant")
        segments = grouped["coding_id"].nunique()
        codes = grouped["code_id"].nunique()
        documents = grouped["document_id"].nunique()
        tidy = roster.copy()
        for name, series in (("segments", segments), ("codes", codes), ("documents", documents)):
            tidy[name] = tidy["participant"].map(series).fillna(0).astype("int64")
        tidy = tidy[[c for c in tidy.columns if not c.startswith(SURVEY_PREFIX)]]
        wide = tidy.rename(columns=_strip_variable_prefix(tidy.columns))
        return ExportTable(
            self.identifier,
            "Participants",
            tidy,
            wide,
            notes=["Segments: codings of the layer that overlap the participant's turns."],
            labelled=_labelled_participants(tidy),
        )


PARTICIPANT_LABELS = {
    "participant": "Participant code",
    "workshop": "Workshop",
    "country": "Country (ISO 3166)",
    "segments": "Coded segments in the participant's turns",
    "codes": "Distinct codes in the participant's turns",
    "documents": "Documents with the participant's coded turns",
}


def _labelled_participants(tidy: pd.DataFrame) -> LabelledData:
    """The roster for SPSS and Stata: a variable's values as text, "(missing)" left empty."""
    taken: set[str] = set()
    columns: dict[str, list] = {}
    labels: dict[str, str] = {}
    for column in tidy.columns:
        plain = column.removeprefix(VARIABLE_PREFIX)
        name = variable_name(plain, taken)
        values = tidy[column].tolist()
        if column.startswith(VARIABLE_PREFIX):
            values = [None if v == MISSING else v for v in values]
        columns[name] = values
        labels[name] = PARTICIPANT_LABELS.get(column, plain)
    return LabelledData(pd.DataFrame(columns), labels)


def _strip_variable_prefix(columns: pd.Index) -> dict[str, str]:
    taken = {c for c in columns if not c.startswith(VARIABLE_PREFIX)}
    renamed = {}
    for column in columns:
        if column.startswith(VARIABLE_PREFIX):
            plain = column.removeprefix(VARIABLE_PREFIX)
            if plain not in taken:
                renamed[column] = plain
    return renamed


class DemographicsTable(TableExporter):
    """Table 1: for each variable and value, participants per country and in total, with the
    share of that country's (or of all) participants in the roster."""

    identifier = "demographics"
    verbose_name = "Demographics (Table 1)"
    reads_codings = False

    def make(self, sources: Sources, **_: object) -> ExportTable:
        roster = sources.roster
        countries = sorted({c for _w, c in sources.workshops if c} | set(roster["country"]) - {""})
        per_country = roster["country"].value_counts().to_dict()
        everyone = len(roster)
        records = []
        wide_rows = []
        for name, (kind, choices) in sources.variables.items():
            column = VARIABLE_PREFIX + name
            present = set(roster[column])
            for value in values_order(kind, choices, present):
                chosen = roster[roster[column] == value]
                row: dict[str, object] = {"variable": name, "category": value}
                counts = chosen["country"].value_counts().to_dict()
                for country, n, of in [
                    *[(c, counts.get(c, 0), per_country.get(c, 0)) for c in countries],
                    (TOTAL, len(chosen), everyone),
                ]:
                    share = n / of if of else 0.0
                    records.append((name, value, country, "participants", float(n)))
                    records.append((name, value, country, "participant_share", share))
                    row[f"{country} n"] = n
                    row[f"{country} %"] = share
                wide_rows.append(row)
        tidy = pd.DataFrame.from_records(
            records, columns=["variable", "category", "group", "measure", "value"]
        )
        columns = ["variable", "category"] + [
            f"{c} {s}" for c in [*countries, TOTAL] for s in ("n", "%")
        ]
        wide = pd.DataFrame.from_records(wide_rows, columns=columns)
        header = {"variable": "Participants", "category": ""}
        for country in [*countries, TOTAL]:
            header[f"{country} n"] = per_country.get(country, 0) if country != TOTAL else everyone
            header[f"{country} %"] = 1.0 if header[f"{country} n"] else 0.0
        wide = pd.concat([pd.DataFrame([header], columns=columns), wide], ignore_index=True)
        percent = [f"{c} %" for c in [*countries, TOTAL]]
        return ExportTable(
            self.identifier,
            "Participants by variable and country",
            tidy,
            wide,
            notes=["Percentages are shares of each country's participants in the roster."],
            percent_columns=percent,
        )


# --- The registry: the only list of tables ---------------------------------------------------
# The survey tables and the joint displays (quote matrix, survey answer by code, summary per
# code) are written in their own modules against the same base (exports.base).
from .joint_tables import JOINT_EXPORTERS  # noqa: E402
from .survey_tables import SURVEY_EXPORTERS  # noqa: E402

# The export page, the API, `manage.py export` and the paper pack offer these, in this order.

EXPORTERS: dict[str, TableExporter] = {
    exporter.identifier: exporter
    for exporter in (
        FrequenciesTable(),
        CrosstabTable(),
        CooccurrenceTable(),
        QuotesTable(),
        CodebookTable(),
        ReliabilityTable(),
        ParticipantsTable(),
        DemographicsTable(),
        *SURVEY_EXPORTERS,
        *JOINT_EXPORTERS,
    )
}
TABLES = tuple(EXPORTERS)
# Every measure some table accepts, in the order the tables list them.
ALL_MEASURES = tuple(dict.fromkeys(m for exporter in EXPORTERS.values() for m in exporter.measures))


def get_exporter(name: str) -> TableExporter:
    """The table called `name`, or ExportError naming the tables there are."""
    exporter = EXPORTERS.get(name)
    if exporter is None:
        raise ExportError(f"Unknown table '{name}': use one of {', '.join(TABLES)}.")
    return exporter


def sees_responses(access: Access | None) -> bool:
    """Whether `access` may export individual survey responses (the rule for every survey
    table and grouping that shows one person's answers): owners only; viewers and coders see
    results aggregated. Without `access` (a command run by the server's operator): yes."""
    return access is None or access.is_owner


class LayerRefused(ExportRefused):
    """A layer the person may not export: a refusal of access (403 from pages and the API),
    and an ExportError to code that builds tables."""


def export_layer(access: Access | None, asked: str | None) -> str | None:
    """The layer `access` may export, the one rule for the page, the API and the pack: while
    blind coding is on, a coder exports only their own codings (Access.sees_others), so their
    layer is their username and any other is refused. Without `access` (a command run by the
    server's operator) every layer may be exported."""
    if access is None or access.sees_others:
        return asked or None
    own = access.user.get_username()
    if asked and asked != own:
        raise LayerRefused(
            f"While blind coding is on, coders export only their own codings (layer “{own}”)."
        )
    return own


def table_sources(study: Study, *, layer: str | None = None, user: object | None = None) -> Sources:
    """The data several tables of one study and layer can share (see build_table), as `user`
    may see them."""
    access = Access(study, user, role_in(study, user)) if user is not None else None
    return Sources(study, export_layer(access, layer), access)


def build_table(
    study: Study,
    name: str,
    *,
    by: str | None = None,
    measure: str = "segments",
    layer: str | None = None,
    rollup: bool = False,
    top: int = TOP_DEFAULT,
    survey: str | None = None,
    user: object | None = None,
    sources: Sources | None = None,
) -> ExportTable:
    """One of the study's tables (see `EXPORTERS` and the module's rules). Raises ExportError
    naming what is wrong for an unknown table, group, variable, dimension, measure, layer or
    survey (ExportRefused for a table the user may not see).
    Tables made together (the paper pack) pass one `sources`, so the data is read once."""
    exporter = get_exporter(name)
    exporter.check(measure=measure, top=top)
    if sources is None:
        sources = table_sources(study, layer=layer, user=user)
    return exporter.build(sources, by=by, measure=measure, rollup=rollup, top=top, survey=survey)
