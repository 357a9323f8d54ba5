"""Tables (.csv, .xlsx): participant rosters and survey responses.

Every cell becomes a stripped string, so the service that stores them sees one shape whichever
program wrote the file. Row numbers are those the person sees in their spreadsheet, so that an
error can send them to the right row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from . import (
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_UNZIPPED_BYTES,
    SUPPORTED_TABLE_EXTENSIONS,
    FileRejected,
    Table,
    TableRow,
    extension_of,
    unsupported,
)
from .encoding import decode_text
from .zipsafety import check_zip_package

_DELIMITERS = (",", ";", "\t")
# Beyond this, a float is not an integer the person typed, whatever its value.
_LARGEST_EXACT_INTEGER = 2**53


def read_table(
    data: bytes,
    filename: str,
    *,
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES,
    max_ratio: int = DEFAULT_MAX_RATIO,
) -> Table:
    """Read the first sheet of a .csv or .xlsx file: a header row, then one row per record."""
    ext = extension_of(filename)
    if ext == ".csv":
        records = _csv_records(data, filename)
    elif ext == ".xlsx":
        records = _xlsx_records(
            data, filename, max_unzipped_bytes=max_unzipped_bytes, max_ratio=max_ratio
        )
    else:
        raise unsupported(filename, SUPPORTED_TABLE_EXTENSIONS)
    return _build_table(records, filename)


def _build_table(records: Iterable[tuple[int, list[str]]], filename: str) -> Table:
    headers: list[str] | None = None
    header_row = 0
    rows: list[TableRow] = []
    for number, cells in records:
        if not any(cells):
            continue
        if headers is None:
            headers = _headers(cells, number, filename)
            header_row = number
            continue
        extra = [cell for cell in cells[len(headers) :] if cell]
        if extra:
            raise FileRejected(
                f"has more cells than there are column names ({len(cells)} cells, "
                f"{len(headers)} names in row {header_row}): extra value '{extra[0][:40]}'",
                filename=filename,
                line=number,
            )
        padded = cells[: len(headers)] + [""] * (len(headers) - len(cells))
        rows.append(TableRow(number=number, values=dict(zip(headers, padded, strict=True))))
    if headers is None:
        raise FileRejected("is empty", filename=filename)
    return Table(headers=headers, rows=rows)


def _headers(cells: list[str], number: int, filename: str) -> list[str]:
    # Spreadsheets often carry formatted but empty columns at the right; they are not columns.
    while cells and not cells[-1]:
        cells = cells[:-1]
    seen: dict[str, int] = {}
    for position, header in enumerate(cells, start=1):
        if not header:
            raise FileRejected(
                f"column {position} ({_column_letter(position)}) has no name in the header row",
                filename=filename,
                line=number,
            )
        # Names that differ only in case would be the same variable to everyone reading them.
        key = header.casefold()
        if key in seen:
            raise FileRejected(
                f"the column name appears twice (columns {_column_letter(seen[key])} and "
                f"{_column_letter(position)}): column names must be unique",
                filename=filename,
                line=number,
                column=header,
            )
        seen[key] = position
    return cells


def _column_letter(position: int) -> str:
    letters = ""
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _csv_records(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    text, _ = decode_text(data, filename)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    records = []
    try:
        # One record is one spreadsheet row, even when a quoted cell spans several lines; a blank
        # line is an (empty) row too, as in Excel.
        for number, cells in enumerate(reader, start=1):
            records.append((number, [cell.strip() for cell in cells]))
    except csv.Error as exc:
        raise FileRejected(
            f"cannot be read as CSV ({exc})", filename=filename, line=len(records) + 1
        ) from None
    return records


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header row into the most columns (comma on a tie).

    csv.Sniffer guesses from character frequencies and is easily misled by commas in free-text
    answers; the header row is short and written by the researcher, so it is a safer witness.
    """
    first_line = next((line for line in text.split("\n", 50) if line.strip()), "")
    counts = {
        delimiter: len(next(csv.reader([first_line], delimiter=delimiter), []))
        for delimiter in _DELIMITERS
    }
    return max(_DELIMITERS, key=lambda delimiter: counts[delimiter])


@contextmanager
def open_workbook(
    data: bytes, filename: str, *, max_unzipped_bytes: int, max_ratio: int
) -> Iterator[object]:
    """An .xlsx file as an openpyxl read-only workbook, after the zip-bomb checks, closed when
    done; a damaged file is a FileRejected naming it. Every workbook importer opens here."""
    check_zip_package(
        data,
        filename,
        kind="an Excel .xlsx workbook",
        required_part="xl/workbook.xml",
        max_unzipped_bytes=max_unzipped_bytes,
        max_ratio=max_ratio,
    )
    # Imported here: openpyxl is slow to import and only this path needs it.
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        raise FileRejected(
            f"is not a readable Excel .xlsx workbook ({exc})", filename=filename
        ) from None
    try:
        yield workbook
    finally:
        workbook.close()


def _xlsx_records(
    data: bytes, filename: str, *, max_unzipped_bytes: int, max_ratio: int
) -> list[tuple[int, list[str]]]:
    with open_workbook(
        data, filename, max_unzipped_bytes=max_unzipped_bytes, max_ratio=max_ratio
    ) as workbook:
        if not workbook.worksheets:
            raise FileRejected("is empty", filename=filename)
        sheet = workbook.worksheets[0]
        # Some writers record a wrong used range, and read-only mode would trust it.
        sheet.reset_dimensions()
        records = []
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                records.append((number, [_cell_text(value) for value in values]))
        except Exception as exc:
            raise FileRejected(
                f"is not a readable Excel .xlsx workbook ({exc})",
                filename=filename,
                line=len(records) + 1,
            ) from None
        return records


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < _LARGEST_EXACT_INTEGER:
        # Excel stores every number as a float: an age of 24 arrives as 24.0.
        return str(int(value))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()
