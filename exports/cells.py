"""Every number opens its evidence: the items behind one cell of a table.

A cell is named by the table and its options (by, measure, layer, rollup, as for the table),
its `row` and its `group`:
- frequencies: row a code path or "Total", group "all" (the measure names the column);
- crosstab: row a code path or "Total", group one of the table's groups or "Total";
- cooccurrence: row and group two code paths (the same path: the code's segments);
- demographics: row "VARIABLE=VALUE" or "Total" (every participant), group a country or
  "Total"; measure participants or participant_share.

The items come from the same unit frames the table counts (`exports.tables.code_group_units`,
`Sources.pairs`, `Sources.roster`), read through the same `table_sources` (layer and blind
coding included), so the cell's number and its items always agree:
- segments and words: the distinct units of the cell (a coding; a pair of overlapping codings
  for a dimension grouping), the words being the sum of the units' words;
- documents: the distinct documents, each with its units;
- participants and participant_share: the distinct participants, each with their units, the
  share being their number over the group's roster participants (`Grouping.denominators`;
  the whole roster for a Total column);
- co-occurrence: the overlapping pairs of the two codes (the diagonal: the code's codings);
- demographics: the roster's participants with that value in that country.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import pandas as pd
from django.urls import reverse

from studies.models import Study, Turn

from .base import ExportError
from .frame import VARIABLE_PREFIX
from .tables import (
    ALL,
    TOTAL,
    Sources,
    code_group_units,
    get_exporter,
    table_sources,
)

CELL_TABLES = ("frequencies", "crosstab", "cooccurrence", "demographics")
FREQUENCY_MEASURES = ("segments", "participants", "participant_share", "documents", "words")
# What a cell's items are called, by measure.
CELL_UNITS = {
    "segments": "coded segments",
    "words": "coded segments",
    "documents": "documents",
    "participants": "participants",
    "participant_share": "participants",
    "jaccard": "overlapping pairs",
}


@dataclass
class Excerpt:
    """One coded passage: a coding, or the overlap of a pair of codings."""

    unit: str
    document_id: int
    document: str
    workshop: str
    country: str
    code_path: str
    start: int
    end: int
    text: str
    words: int
    participants: list[str]
    speakers: list[str]
    turn: int
    coding_url: str = ""
    other_code_path: str = ""  # the second code of a pair


@dataclass
class CellItem:
    """One thing a cell counts: a coding, a pair, a document or a participant."""

    kind: str  # coding, pair, document, participant
    label: str
    workshop: str = ""
    country: str = ""
    excerpts: list[Excerpt] = field(default_factory=list)


@dataclass
class Cell:
    table: str
    row: str
    group: str
    measure: str
    layer: str | None
    by: str | None
    value: float
    count: int
    denominator: int | None
    items: list[CellItem]

    @property
    def unit(self) -> str:
        """What the items are called: "coded segments", "overlapping pairs", "participants"."""
        if self.table == "cooccurrence":
            return "coded segments" if self.row == self.group else "overlapping pairs"
        if self.measure in ("segments", "words") and any(i.kind == "pair" for i in self.items):
            return "overlapping pairs"
        return CELL_UNITS.get(self.measure, "items")

    @property
    def words(self) -> int:
        return sum(e.words for item in self.items for e in item.excerpts)

    def as_json(self) -> dict:
        return asdict(self)

    def rows(self) -> tuple[list[str], list[list[object]]]:
        """The items flat, one row per excerpt (an item without excerpts: one row), for .csv."""
        columns = [
            "item",
            "kind",
            "code_path",
            "other_code_path",
            "participants",
            "speakers",
            "workshop",
            "country",
            "document",
            "start",
            "end",
            "words",
            "text",
        ]
        out: list[list[object]] = []
        for item in self.items:
            for e in item.excerpts or [None]:
                if e is None:
                    out.append(
                        [
                            item.label,
                            item.kind,
                            "",
                            "",
                            item.label,
                            "",
                            item.workshop,
                            item.country,
                            "",
                            "",
                            "",
                            "",
                            "",
                        ]
                    )
                    continue
                out.append(
                    [
                        item.label,
                        item.kind,
                        e.code_path,
                        e.other_code_path,
                        "; ".join(e.participants),
                        "; ".join(e.speakers),
                        e.workshop,
                        e.country,
                        e.document,
                        e.start,
                        e.end,
                        e.words,
                        e.text,
                    ]
                )
        return columns, out


# --- Finding a cell -------------------------------------------------------------------------


def build_cell(
    study: Study,
    name: str,
    *,
    row: str | None,
    group: str | None,
    by: str | None = None,
    measure: str = "segments",
    layer: str | None = None,
    rollup: bool = False,
    user: object | None = None,
    sources: Sources | None = None,
) -> Cell:
    """The items behind one cell of a table, built as `exports.tables.build_table` builds the
    table (same options, same access and layer rule). A missing row or group is the Total
    (frequencies: "all"). ExportError naming what is wrong for a table without cells or an
    unknown row or group."""
    exporter = get_exporter(name)
    if name not in CELL_TABLES:
        raise ExportError(
            f"The {name} table has no cells to open: open a cell of {', '.join(CELL_TABLES)}."
        )
    exporter.check(measure=measure)
    if sources is None:
        sources = table_sources(study, layer=layer, user=user)
    by = (by or exporter.default_by) if exporter.reads("by") else None
    if not exporter.reads("measure") and name != "demographics":
        measure = "segments"
    if name == "frequencies" and measure not in FREQUENCY_MEASURES:
        raise ExportError(f"Unknown measure '{measure}': use {', '.join(FREQUENCY_MEASURES)}.")
    rollup = rollup and exporter.reads("rollup")
    row = (row or "").strip() or TOTAL
    group = (group or "").strip() or (ALL if name == "frequencies" else TOTAL)
    if name == "cooccurrence":
        cell = _cooccurrence_cell(sources, row, group, measure)
    elif name == "demographics":
        cell = _demographics_cell(sources, row, group, measure)
    else:
        cell = _code_cell(sources, name, by, rollup, row, group, measure)
    cell.layer = sources.layer if exporter.reads_codings else None
    _place(sources, cell, user)
    return cell


def _row_ids(sources: Sources, rows: list[int], row: str, table: str) -> list[int]:
    if row.casefold() == TOTAL.casefold():
        return list(rows)
    paths = sources.tree.path
    found = [pk for pk in rows if paths[pk] == row]
    if not found:
        found = [pk for pk in rows if paths[pk].casefold() == row.casefold()]
    if not found:
        example = paths[rows[0]] if rows else "a code path"
        raise ExportError(
            f"Unknown row '{row}' in the {table} table: a row is the path of one of its codes "
            f"(e.g. '{example}') or {TOTAL}."
        )
    return found


def _code_cell(
    sources: Sources,
    table: str,
    by: str | None,
    rollup: bool,
    row: str,
    group: str,
    measure: str,
) -> Cell:
    grouping, rows, units, people = _units(sources, by, rollup)
    row_ids = _row_ids(sources, rows, row, table)
    if group.casefold() == TOTAL.casefold() or (table == "frequencies" and group == ALL):
        group_value = None
        denominator = len(sources.roster)
    else:
        match = [g for g in grouping.groups if str(g) == group] or [
            g for g in grouping.groups if str(g).casefold() == group.casefold()
        ]
        if not match:
            known = ", ".join(map(str, grouping.groups)) or "none"
            raise ExportError(
                f"Unknown group '{group}' in the {table} table by {grouping.label}: its groups "
                f"are {known}, and {TOTAL}."
            )
        group_value = match[0]
        denominator = int(grouping.denominators.get(group_value, 0))
    chosen = units[units["row"].isin(row_ids)]
    chosen_people = people[people["row"].isin(row_ids)]
    if group_value is not None:
        chosen = chosen[chosen["group"] == group_value]
        chosen_people = chosen_people[chosen_people["group"] == group_value]
    distinct = chosen.drop_duplicates("unit")
    pair = grouping.kind == "dimension"
    excerpts = {
        unit: _excerpt(sources, unit, int(words), pair)
        for unit, words in zip(distinct["unit"], distinct["words"], strict=True)
    }
    ordered = sorted(excerpts.values(), key=lambda e: (e.document, e.start, e.end, e.code_path))
    if measure in ("segments", "words"):
        kind = "pair" if pair else "coding"
        items = [CellItem(kind, _unit_label(e), e.workshop, e.country, [e]) for e in ordered]
        count = len(items)
        value = float(count if measure == "segments" else sum(e.words for e in ordered))
    elif measure == "documents":
        items = []
        for document_id in dict.fromkeys(e.document_id for e in ordered):
            mine = [e for e in ordered if e.document_id == document_id]
            items.append(
                CellItem("document", mine[0].document, mine[0].workshop, mine[0].country, mine)
            )
        count = len(items)
        value = float(count)
    else:
        roster = sources.roster.set_index("participant")
        items = []
        for participant in sorted(set(chosen_people["participant"])):
            mine = chosen_people["participant"] == participant
            theirs = {str(unit) for unit in chosen_people.loc[mine, "unit"]}
            workshop = (
                str(roster.at[participant, "workshop"]) if participant in roster.index else ""
            )
            country = str(roster.at[participant, "country"]) if participant in roster.index else ""
            items.append(
                CellItem(
                    "participant",
                    participant,
                    workshop,
                    country,
                    [e for e in ordered if e.unit in theirs],
                )
            )
        count = len(items)
        value = float(count)
        if measure == "participant_share":
            value = count / denominator if denominator else 0.0
    return Cell(
        table,
        row,
        group,
        measure,
        None,
        by,
        value,
        count,
        denominator if measure == "participant_share" else None,
        items,
    )


def _units(sources: Sources, by: str | None, rollup: bool) -> tuple:
    """code_group_units, once per (by, rollup) of the sources (a page of cells shares them)."""
    cache = sources.__dict__.setdefault("_cell_units", {})
    if (by, rollup) not in cache:
        cache[(by, rollup)] = code_group_units(sources, by, rollup)
    return cache[(by, rollup)]


def _unit_label(e: Excerpt) -> str:
    who = "; ".join(e.participants) or "no participant"
    return f"{who}, {e.document} {e.start}-{e.end}"


def _excerpt(sources: Sources, unit: object, words: int, pair: bool) -> Excerpt:
    """The excerpt of a unit, made once per sources: many cells (a row, its groups, the
    totals) list the same coding."""
    made = sources.__dict__.setdefault("_cell_excerpts", {})
    key = (str(unit), pair)
    if key not in made:
        made[key] = _new_excerpt(sources, unit, words, pair)
    return made[key]


def _new_excerpt(sources: Sources, unit: object, words: int, pair: bool) -> Excerpt:
    frame = _frame_by_id(sources)
    if pair:
        first, second = (int(x) for x in str(unit).split("-"))
        a, b = frame.loc[first], frame.loc[second]
        start, end = max(int(a["start"]), int(b["start"])), min(int(a["end"]), int(b["end"]))
        other = str(b["code_path"])
    else:
        a = frame.loc[int(unit)]
        start, end = int(a["start"]), int(a["end"])
        other = ""
    document_id = int(a["document_id"])
    # A coding's participants; a pair's, those whose turns the overlapping text touches.
    participants = (
        sources.turns.speakers(document_id, start, end) if pair else list(a["participants"])
    )
    return Excerpt(
        unit=str(unit),
        document_id=document_id,
        document=str(a["document"]),
        workshop=str(a["workshop"]),
        country=str(a["country"]),
        code_path=str(a["code_path"]),
        start=start,
        end=end,
        text=sources.texts[document_id][start:end],
        words=words,
        participants=participants,
        speakers=[],
        turn=0,
        other_code_path=other,
    )


def _frame_by_id(sources: Sources) -> pd.DataFrame:
    if "_cells_frame" not in sources.__dict__:
        sources.__dict__["_cells_frame"] = sources.frame.set_index("coding_id", drop=False)
    return sources.__dict__["_cells_frame"]


def _cooccurrence_cell(sources: Sources, row: str, group: str, measure: str) -> Cell:
    rows = sources.codable_rows(rollup=False)
    if row.casefold() == TOTAL.casefold() or group.casefold() == TOTAL.casefold():
        raise ExportError("The cooccurrence table has no totals: a cell is two code paths.")
    (a,) = _row_ids(sources, rows, row, "cooccurrence")[:1]
    try:
        (b,) = _row_ids(sources, rows, group, "cooccurrence")[:1]
    except ExportError:
        raise ExportError(
            f"Unknown group '{group}' in the cooccurrence table: a column is the path of one "
            "of its codes."
        ) from None
    frame = sources.frame
    codes = frame["code_id"].to_numpy()
    ids = frame["coding_id"].to_numpy()
    words = frame["words"].to_numpy()
    segments = frame["code_id"].value_counts()
    if a == b:
        chosen = frame[frame["code_id"] == a]
        excerpts = [
            _excerpt(sources, int(pk), int(w), False)
            for pk, w in zip(chosen["coding_id"], chosen["words"], strict=True)
        ]
        items = [CellItem("coding", _unit_label(e), e.workshop, e.country, [e]) for e in excerpts]
    else:
        items = []
        for i, j in sources.pairs:
            if {int(codes[i]), int(codes[j])} != {a, b}:
                continue
            first, second = (i, j) if int(codes[i]) == a else (j, i)
            unit = f"{ids[first]}-{ids[second]}"
            # A copy: the coding's own excerpt is shared by the cells that list it.
            one = replace(_excerpt(sources, int(ids[first]), int(words[first]), False))
            other = _excerpt(sources, int(ids[second]), int(words[second]), False)
            one.unit = unit
            one.other_code_path = other.code_path
            one.participants = sorted(set(one.participants) | set(other.participants))
            items.append(
                CellItem(
                    "pair",
                    f"{_unit_label(one)} with {other.start}-{other.end}",
                    one.workshop,
                    one.country,
                    [one, other],
                )
            )
    count = len(items)
    value = float(count)
    if measure == "jaccard":
        if a == b:
            value = 1.0 if count else 0.0
        else:
            union = int(segments.get(a, 0)) + int(segments.get(b, 0)) - count
            value = count / union if union > 0 else 0.0
    return Cell("cooccurrence", row, group, measure, None, None, value, count, None, items)


def _demographics_cell(sources: Sources, row: str, group: str, measure: str) -> Cell:
    roster = sources.roster
    if measure not in ("participants", "participant_share"):
        measure = "participants"
    if row.casefold() == TOTAL.casefold():
        chosen = roster
    else:
        name, sep, value = row.partition("=")
        names = {n.casefold(): n for n in sources.variables}
        if not sep or name.strip().casefold() not in names:
            known = ", ".join(sources.variables) or "none"
            raise ExportError(
                f"Unknown row '{row}' in the demographics table: a row is VARIABLE=VALUE "
                f"(the study's variables are {known}) or {TOTAL}."
            )
        column = VARIABLE_PREFIX + names[name.strip().casefold()]
        values = set(roster[column])
        if value not in values:
            shown = ", ".join(sorted(map(str, values))) or "none"
            raise ExportError(
                f"Unknown value '{value}' of {names[name.strip().casefold()]} in the "
                f"demographics table: its values are {shown}."
            )
        chosen = roster[roster[column] == value]
    countries = sorted({c for _w, c in sources.workshops if c} | set(roster["country"]) - {""})
    if group.casefold() == TOTAL.casefold():
        denominator = len(roster)
    else:
        if group not in countries:
            raise ExportError(
                f"Unknown group '{group}' in the demographics table: its columns are the "
                f"countries {', '.join(countries) or 'none'} and {TOTAL}."
            )
        chosen = chosen[chosen["country"] == group]
        denominator = int((roster["country"] == group).sum())
    items = [
        CellItem("participant", str(p), str(w), str(c))
        for p, w, c in zip(
            chosen["participant"], chosen["workshop"], chosen["country"], strict=True
        )
    ]
    count = len(items)
    value = (
        float(count) if measure == "participants" else (count / denominator if denominator else 0.0)
    )
    return Cell(
        "demographics",
        row,
        group,
        measure,
        None,
        None,
        value,
        count,
        denominator if measure == "participant_share" else None,
        items,
    )


# --- Where each excerpt is -------------------------------------------------------------------


def workbench_layer(layer: str | None, user: object | None) -> str:
    """The coding view's layer showing an export layer's codings: consensus, all, or mine for
    the person's own username (another coder's codings are among "all")."""
    if layer == "consensus":
        return "consensus"
    if layer and user is not None and layer == getattr(user, "get_username", lambda: None)():
        return "mine"
    return "all"


def _place(sources: Sources, cell: Cell, user: object | None) -> None:
    """Fill each excerpt's speakers (every speaker whose turn it overlaps, facilitators too),
    its first turn and its link into the coding view at that turn."""
    excerpts = [e for item in cell.items for e in item.excerpts if not e.coding_url]
    if not excerpts:
        return
    turns: dict[int, list[tuple[int, int, int, str]]] = sources.__dict__.setdefault(
        "_cell_turns", {}
    )
    documents = {e.document_id for e in excerpts} - set(turns)
    for document_id in documents:
        turns[document_id] = []
    for document_id, seq, start, end, speaker in (
        Turn.objects.filter(document_id__in=documents)
        .order_by("document_id", "start", "seq")
        .values_list("document_id", "seq", "start", "end", "speaker")
    ):
        turns[document_id].append((seq, start, end, speaker))
    layer = workbench_layer(cell.layer, user)
    slug = sources.study.slug
    for e in excerpts:
        touching = [t for t in turns.get(e.document_id, []) if t[1] < e.end and e.start < t[2]]
        e.speakers = list(dict.fromkeys(t[3] for t in touching))
        e.turn = touching[0][0] if touching else 0
        e.coding_url = (
            reverse("coding:workbench", args=[slug, e.document_id])
            + f"?layer={layer}#turn-{e.turn}"
        )


# --- Links from a table's cells ---------------------------------------------------------------


def cell_params(table: object, row: list[object], column: str) -> dict[str, str] | None:
    """The (row, group, measure) that open the cell at `row` (the wide form's values) and
    `column` (its raw column name) of a built table, or None when it is not a cell with items
    (a label, a column added for another purpose)."""
    name = getattr(table, "name", "")
    meta = getattr(table, "meta", {}) or {}
    if name not in CELL_TABLES or not row:
        return None
    first = str(row[0])
    if name == "frequencies":
        if column not in FREQUENCY_MEASURES:
            return None
        return {"row": first, "group": ALL, "measure": column}
    if name == "crosstab":
        groups = getattr(table, "_cell_groups", None)
        if groups is None:  # once per table, not once per cell
            groups = {str(g) for g in table.tidy["group"]} if "group" in table.tidy else set()
            table._cell_groups = groups
        if column != TOTAL and column not in groups:
            return None
        return {"row": first, "group": column, "measure": str(meta.get("measure") or "segments")}
    if name == "cooccurrence":
        if column == "code_path":
            return None
        return {"row": first, "group": column, "measure": str(meta.get("measure") or "segments")}
    if name == "demographics":
        country, _, kind = column.rpartition(" ")
        if kind not in ("n", "%") or not country:
            return None
        category = str(row[1]) if len(row) > 1 else ""
        cell_row = TOTAL if not category and first == "Participants" else f"{first}={category}"
        measure = "participants" if kind == "n" else "participant_share"
        return {"row": cell_row, "group": country, "measure": measure}
    return None


def cell_href_for(base: str, query: dict[str, str], table: object) -> Callable:
    """A function (row, column) -> the address of that cell's page, or None: `base` is the
    cell page's path, `query` the table's own options (table, by, layer, rollup)."""
    from django.utils.http import urlencode

    def href(row: list[object], column: str) -> str | None:
        params = cell_params(table, row, column)
        if params is None:
            return None
        return base + "?" + urlencode({**query, **params})

    return href
