"""Findings that rest on one workshop: how each code's participant share holds when each
workshop is left out in turn.

An effect seen in one data set can vanish in the next, so before a code is reported as a general
finding the tables say whether it stands without any single workshop. For every code of the
frequencies and crosstab tables (`exports.tables`):

- `loo_share_min`, `loo_share_max`: the code's participant share with each workshop left out in
  turn, the smallest and the largest. Leaving a workshop out removes its participants from the
  numerator (the code's coded participants) and from the denominator (the roster's
  participants), so a workshop whose participants never spoke still counts in the roster.
  Workshops whose removal would leave no participant in the roster give no share.
- `largest_workshop`, `largest_workshop_share`: the workshop with most of the code's coded
  participants (ties go to the first in the study's order) and the share of the code's coded
  participants who come from it.
- `rests_on_one_workshop`: the flag, under RULE below (its thresholds are DOMINANT_SHARE and
  HALVING, here and nowhere else).

Who is coded comes from the same unit frames the tables count (`coding_units`, one layer,
rollup as asked; a participant is coded when a coding of the code overlaps their turns) and is
counted with the tables' `measure_series`; a participant belongs to their workshop in the roster.
A code with no coded participant has no figures and is not flagged. Without workshops (or with
one) nothing can be left out, and no code is flagged for leaving one out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from exports.tables import Sources

# The rule's thresholds: the one place they are set.
DOMINANT_SHARE = 0.6  # one workshop holds MORE than this share of a code's coded participants
HALVING = 0.5  # leaving one workshop out brings the share down to this fraction of it, or lower

FLAG = "rests_on_one_workshop"
COLUMNS = ("loo_share_min", "loo_share_max", "largest_workshop", "largest_workshop_share", FLAG)
PERCENT_COLUMNS = ["loo_share_min", "loo_share_max", "largest_workshop_share"]
# The columns as a person reads them (the page, .xlsx, .tex, .md); .csv keeps the names above.
HEADERS = {
    "loo_share_min": "Share, one workshop left out (min)",
    "loo_share_max": "Share, one workshop left out (max)",
    "largest_workshop": "Largest workshop",
    "largest_workshop_share": "Its share of the coded participants",
    FLAG: "Rests on one workshop",
}
NOTE_START = "Codes that rest on one workshop:"

SHORT_RULE = (
    f"one workshop holds more than {DOMINANT_SHARE:.0%} of the code's coded participants, or "
    "leaving one workshop out halves its participant share"
)
RULE = (
    "A code rests on one workshop when one workshop holds more than "
    f"{DOMINANT_SHARE:.0%} of its coded participants, or when leaving one workshop out "
    f"halves its participant share (the share without that workshop is at most {HALVING:.0%} "
    "of the share with every workshop). Leaving a workshop out removes its participants from "
    "both the coded participants and the roster; loo_share_min and loo_share_max are the "
    "smallest and largest share with each workshop left out in turn; largest_workshop_share "
    "is the share of the code's coded participants who come from largest_workshop."
)


def workshop_robustness(sources: Sources, rows: list[int], rollup: bool) -> pd.DataFrame:
    """Per row code (the index, in `rows` order): the COLUMNS above (see the module)."""
    # numpy and pandas here, not above: exports.base reads HEADERS on pages that draw no table.
    import numpy as np
    import pandas as pd

    from exports.tables import coding_units, measure_series, parse_grouping

    grouping = parse_grouping(sources, None)
    _units, people = coding_units(sources, grouping, rows, rollup)
    roster = sources.roster
    workshop_of = dict(zip(roster["participant"], roster["workshop"], strict=True))
    workshops = [code for code, _country in sources.workshops]
    everyone = len(roster)
    in_roster = roster["workshop"].value_counts()
    by_workshop = people.assign(group=people["participant"].map(workshop_of).fillna(""))
    # Distinct coded participants per code, and per code and workshop, counted as the tables do.
    coded = measure_series(people, people, "participants", ["row"]).reindex(rows).fillna(0)
    per_workshop = measure_series(by_workshop, by_workshop, "participants", ["row", "group"])
    per_workshop = (
        per_workshop.unstack("group").reindex(index=rows, columns=workshops).fillna(0)
        if len(per_workshop)
        else pd.DataFrame(0.0, index=rows, columns=workshops)
    )
    records = []
    for row in rows:
        n = float(coded[row])
        if not n:
            records.append((np.nan, np.nan, "", np.nan, False))
            continue
        share = n / everyone
        left_out = [
            (n - per_workshop.loc[row, w]) / (everyone - in_roster.get(w, 0))
            for w in workshops
            if everyone - in_roster.get(w, 0) > 0
        ]
        low = min(left_out) if left_out else np.nan
        high = max(left_out) if left_out else np.nan
        counts = [per_workshop.loc[row, w] for w in workshops]
        largest = workshops[int(np.argmax(counts))] if workshops else ""
        largest_share = max(counts) / n if workshops else np.nan
        rests = bool(
            (largest_share > DOMINANT_SHARE if workshops else False)
            or (left_out and low <= HALVING * share)
        )
        records.append((low, high, largest, largest_share, rests))
    return pd.DataFrame.from_records(records, index=rows, columns=list(COLUMNS))


def flagged(robustness: pd.DataFrame, paths: dict[int, str]) -> list[str]:
    """The code paths flagged as resting on one workshop, in the table's order."""
    return [paths[pk] for pk in robustness.index[robustness[FLAG].astype(bool)]]


def note(robustness: pd.DataFrame, paths: dict[int, str]) -> str:
    """The table's note: which codes rest on one workshop, with the rule in short (RULE in
    full is on the About sheet, in the pack's README and in the project's README)."""
    codes = flagged(robustness, paths)
    which = "; ".join(codes) if codes else "none"
    return f"{NOTE_START} {which} ({SHORT_RULE})."


def has_flag(table: object) -> bool:
    """Whether a table (an ExportTable) carries the flag, so its readers state RULE."""
    wide = getattr(table, "wide", None)
    return wide is not None and FLAG in {str(c) for c in wide.columns}


def with_robustness(
    tidy: pd.DataFrame, wide: pd.DataFrame, robustness: pd.DataFrame, paths: dict[int, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table's tidy and wide forms with the COLUMNS added: in tidy on every row of the code
    (machine-readable: fractions and True/False), in wide beside the code's row; the wide
    form's Total row leaves them empty (a total is not a code)."""
    import pandas as pd

    by_path = robustness.set_axis([paths[pk] for pk in robustness.index])
    tidy = tidy.copy()
    wide = wide.copy()
    for column in COLUMNS:
        values = by_path[column]
        tidy[column] = tidy["code_path"].map(values)
        wide[column] = pd.Series(
            wide["code_path"].map(values).to_numpy(), index=wide.index, dtype=object
        )
        missing = ~wide["code_path"].isin(by_path.index)
        wide.loc[missing, column] = None
    tidy[FLAG] = tidy[FLAG].astype(bool)
    return tidy, wide
