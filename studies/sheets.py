"""Spreadsheet cells and writers shared by every part of Colloquy that writes .csv or .xlsx
(the study's tables, the codebook and its reports), so that one set of rules keeps
participants' words from becoming formulas.

- In .csv a cell that starts with = + - @ tab or CR gets a leading ' (`guard_csv_cell`), and
  defusedcsv handles | and %.
- In .xlsx every text cell is stored as a string cell (`put_cell`), never a formula or an error;
  numbers stay numbers.
- Sheet names are valid and unique as Excel compares them (`sheet_title`).

This module is part of the ground layer: it imports no other app.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from typing import Any

# What makes a spreadsheet read a cell as a formula (or, for tab and CR, hides a formula after
# whitespace that some spreadsheets strip).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_MAX = 31
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
COLUMN_WIDTH_MAX = 60


# --- Cells ------------------------------------------------------------------------------------


def native(value: object) -> object:
    """A cell as a plain Python value: None for every kind of missing (None, NaN, pd.NA, NaT),
    numpy scalars as int/float, timestamps as datetimes. Writers and json only know these."""
    import pandas as pd  # here, not above: the pages that import this module need not load it

    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    try:
        if pd.isna(value):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):  # a list or array is not "missing"
        return value
    if hasattr(value, "item") and not isinstance(value, bool | int | float):
        value = value.item()  # numpy scalar
    return value


def is_number(value: object) -> bool:
    # bool is an int to Python but reads as yes/no to people.
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def guard_csv_cell(value: object) -> object:
    """The leading ' that keeps a spreadsheet from running user text as a formula. defusedcsv
    leaves alone a tab or CR at the start and text that looks like a negative number ("-1");
    the design's rule covers all six characters, so it is applied here before defusedcsv."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def display(value: object, *, percent: bool = False) -> str:
    """A cell as a person reads it in .tex, .md and HTML: percentages with one decimal ("45.0%"),
    whole numbers without decimals, other numbers with two; text unchanged; missing empty."""
    value = native(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_number(value):
        number = float(value)  # type: ignore[arg-type]
        if percent:
            return f"{number * 100:.1f}%"
        if isinstance(value, int) or (math.isfinite(number) and number.is_integer()):
            return str(int(number))
        return f"{number:.2f}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


# --- Writers ----------------------------------------------------------------------------------


def write_csv(headers: Sequence[object], rows: Iterable[Sequence[object]], *, bom: bool) -> bytes:
    """A CSV file in UTF-8 (with a BOM when asked, so that Excel reads the accents) through
    defusedcsv. Numbers are written in full (Python's shortest round-tripping repr)."""
    from defusedcsv import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([guard_csv_cell(native(h)) for h in headers])
    for row in rows:
        writer.writerow([guard_csv_cell(native(value)) for value in row])
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


def put_cell(sheet: Any, row: int, column: int, value: object) -> Any:
    """Write one cell. Text always becomes a string cell: openpyxl would otherwise store
    "=cmd|..." as a formula (data type "f") and "#N/A" as an error ("e")."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment

    value = native(value)
    if isinstance(value, str):
        # Control characters are not allowed in a worksheet; they carry no meaning here.
        text = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell = sheet.cell(row=row, column=column, value=text)
        cell.data_type = "s"
        if "\n" in text:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        return cell
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones; meta times are UTC
    if value is not None and not is_number(value) and not isinstance(value, bool | dt.date):
        value = str(value)
        cell = sheet.cell(row=row, column=column, value=value)
        cell.data_type = "s"
        return cell
    return sheet.cell(row=row, column=column, value=value)


def write_sheet(
    sheet: Any,
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    freeze: str | None = "A2",
    autofilter: bool = False,
    percent_columns: Iterable[str] = (),
    notes: Sequence[str] = (),
) -> None:
    """A table on a worksheet: a bold header row, the rows (text as string cells, numbers as
    numbers, fractions in `percent_columns` shown as 0.0% but stored unrounded), column widths
    from the content, frozen panes and an autofilter over the table, notes below it."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    percent = {str(c) for c in percent_columns}
    percent_at = {i for i, h in enumerate(headers, start=1) if str(h) in percent}
    widths = [len(str(h)) for h in headers]
    for column, header in enumerate(headers, start=1):
        put_cell(sheet, 1, column, str(header)).font = bold
    last_row = 1
    for row_number, row in enumerate(rows, start=2):
        last_row = row_number
        for column, value in enumerate(row, start=1):
            value = native(value)
            if value is None or value == "":
                continue
            cell = put_cell(sheet, row_number, column, value)
            shown = display(value, percent=column in percent_at and is_number(value))
            if column in percent_at and is_number(value):
                cell.number_format = "0.0%"
            longest = max((len(line) for line in shown.split("\n")), default=0)
            widths[column - 1] = max(widths[column - 1], min(longest, COLUMN_WIDTH_MAX))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = max(8, width + 2)
    if freeze:
        sheet.freeze_panes = freeze
    if autofilter and headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last_row}"
    if notes:
        italic = Font(italic=True)
        for offset, note in enumerate(notes, start=2):  # one blank row between table and notes
            put_cell(sheet, last_row + offset, 1, note).font = italic


def sheet_title(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name: at most 31 characters, none of []:*?/\\, no apostrophe at
    either end, unique ignoring case (as Excel compares them)."""
    base = _SHEET_NAME_FORBIDDEN.sub(" ", name).strip().strip("'").strip() or "Sheet"
    title = base[:SHEET_NAME_MAX]
    number = 2
    while title.casefold() in taken:
        suffix = f" ({number})"
        title = base[: SHEET_NAME_MAX - len(suffix)].rstrip() + suffix
        number += 1
    taken.add(title.casefold())
    return title
