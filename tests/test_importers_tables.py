"""Tables (.csv, .xlsx) for rosters and survey responses."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from studies.importers import FileRejected, Table, read_table

INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "interop"


def rows(table: Table) -> list[tuple[int, dict[str, str]]]:
    return [(row.number, row.values) for row in table.rows]


def rejection(data: bytes, filename: str, **limits: int) -> str:
    with pytest.raises(FileRejected) as caught:
        read_table(data, filename, **limits)
    return str(caught.value)


def interop_file(name: str) -> bytes:
    if not INTEROP.is_dir():
        pytest.skip("../shared/interop/ is absent (it ships beside CI, not in a clone)")
    return (INTEROP / name).read_bytes()


def workbook_bytes(*sheet_rows: tuple[object, ...], skip_first: int = 0) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for number, values in enumerate(sheet_rows, start=1 + skip_first):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_sheet_xml_replaced(data: bytes, old: bytes, new: bytes) -> bytes:
    """Rewrite the first sheet's XML, to store a value the way other programs write it."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                assert old in content
                content = content.replace(old, new)
            archive.writestr(member, content)
    return buffer.getvalue()


# CSV


def test_it_reads_a_comma_separated_roster() -> None:
    data = b"participant,workshop,country\nP01, FI-1 ,FI\nP02,FI-1,\n"

    table = read_table(data, "roster.csv")

    assert table.headers == ["participant", "workshop", "country"]
    assert rows(table) == [
        (2, {"participant": "P01", "workshop": "FI-1", "country": "FI"}),
        (3, {"participant": "P02", "workshop": "FI-1", "country": ""}),
    ]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_it_sniffs_semicolons_and_tabs(delimiter: str) -> None:
    data = f"participant{delimiter}comment\nP01{delimiter}Yes, and no, maybe\n".encode()

    table = read_table(data, "roster.csv")

    assert table.headers == ["participant", "comment"]
    assert rows(table) == [(2, {"participant": "P01", "comment": "Yes, and no, maybe"})]


def test_it_reads_a_windows_1252_csv_from_excel() -> None:
    data = "\ufeffTeilnehmer;Stadt\r\nP01;München\r\nP02;Düsseldorf\r\n".encode("utf-8")
    legacy = "Teilnehmer;Stadt\r\nP01;München\r\nP02;Düsseldorf\r\n".encode("cp1252")

    assert (
        rows(read_table(data, "de.csv"))
        == rows(read_table(legacy, "de.csv"))
        == [
            (2, {"Teilnehmer": "P01", "Stadt": "München"}),
            (3, {"Teilnehmer": "P02", "Stadt": "Düsseldorf"}),
        ]
    )


def test_it_keeps_spreadsheet_row_numbers_across_empty_rows_and_multiline_cells() -> None:
    data = b'participant,comment\n\nP01,"first line\nsecond line"\n,\nP02,ok\n'

    table = read_table(data, "roster.csv")

    assert rows(table) == [
        (3, {"participant": "P01", "comment": "first line\nsecond line"}),
        (5, {"participant": "P02", "comment": "ok"}),
    ]


def test_it_fills_missing_trailing_cells_with_empty_strings() -> None:
    table = read_table(b"a,b,c\n1\n", "t.csv")

    assert rows(table) == [(2, {"a": "1", "b": "", "c": ""})]


def test_it_ignores_empty_trailing_cells_and_columns() -> None:
    table = read_table(b"a,b,,\n1,2,,\n", "t.csv")

    assert table.headers == ["a", "b"]
    assert rows(table) == [(2, {"a": "1", "b": "2"})]


def test_it_reads_a_header_without_rows() -> None:
    table = read_table(b"participant,country\n", "roster.csv")

    assert table == Table(headers=["participant", "country"], rows=[])


def test_it_rejects_a_row_with_more_cells_than_headers() -> None:
    data = b"participant,country\nP01,FI\nP02,DE,Berlin\n"

    assert rejection(data, "roster.csv") == (
        "roster.csv, row 3: has more cells than there are column names "
        "(3 cells, 2 names in row 1): extra value 'Berlin'"
    )


def test_it_rejects_duplicate_column_names() -> None:
    assert rejection(b"participant,country,age,Country\n", "roster.csv") == (
        "roster.csv, row 1, column 'Country': the column name appears twice "
        "(columns B and D): column names must be unique"
    )


def test_it_rejects_an_empty_column_name() -> None:
    assert rejection(b"participant,,country\nP01,x,FI\n", "roster.csv") == (
        "roster.csv, row 1: column 2 (B) has no name in the header row"
    )


@pytest.mark.parametrize("data", [b"", b"\n\n", b" , ,\n,,\n"])
def test_it_rejects_an_empty_table(data: bytes) -> None:
    assert rejection(data, "roster.csv") == "roster.csv: is empty"


def test_it_rejects_an_unsupported_table_type() -> None:
    assert rejection(b"%PDF-1.4", "roster.pdf") == (
        "roster.pdf: unsupported file type '.pdf': use .csv or .xlsx"
    )


def test_it_rejects_a_workbook_named_csv() -> None:
    assert rejection(workbook_bytes(("a",)), "roster.csv") == (
        "roster.csv: does not look like a text file "
        "(it looks like a zip archive, e.g. a .docx or .xlsx: rename it?)"
    )


def test_it_reads_the_qualcoder_survey_csv() -> None:
    table = read_table(interop_file("qualcoder_survey456.csv"), "qualcoder_survey456.csv")

    assert table.headers == ["Case", "Age", "Gender", "Interest", "freetext"]
    first, second = table.rows[0], table.rows[1]
    assert first.number == 2
    assert first.values["Case"] == "ID4"
    assert first.values["Age"] == "24"
    assert first.values["freetext"].startswith("I wanted to do some more studies but after")
    assert second.values == {
        "Case": "ID5",
        "Age": "",
        "Gender": "m",
        "Interest": "golf",
        "freetext": "I needed to upskill in some areas for my work. "
        "But work and family life have prevented me from having enough time.",
    }
    # A trailing space inside the quoted answer is stripped.
    assert table.rows[2].values["freetext"].endswith("doing my gardening.")


# Excel


def test_it_reads_an_xlsx_sheet_with_dates_and_whole_numbers() -> None:
    data = workbook_bytes(
        (" participant ", "age", "date", "started", "score", "notes"),
        ("P01", 24, dt.date(2025, 3, 12), dt.datetime(2025, 3, 12, 14, 30), 3.5, "  kind  "),
        (None, None, None, None, None, None),
        ("P02", 37, dt.datetime(2025, 3, 13), None, True, None),
    )
    # openpyxl writes 24 as "24"; other programs write "24.0", which reads back as a float.
    data = with_sheet_xml_replaced(data, b"<v>24</v>", b"<v>24.0</v>")

    table = read_table(data, "roster.xlsx")

    assert table.headers == ["participant", "age", "date", "started", "score", "notes"]
    assert rows(table) == [
        (
            2,
            {
                "participant": "P01",
                "age": "24",
                "date": "2025-03-12",
                "started": "2025-03-12T14:30:00",
                "score": "3.5",
                "notes": "kind",
            },
        ),
        (
            4,
            {
                "participant": "P02",
                "age": "37",
                "date": "2025-03-13",
                "started": "",
                "score": "True",
                "notes": "",
            },
        ),
    ]


def test_it_counts_xlsx_rows_from_the_top_of_the_sheet() -> None:
    table = read_table(workbook_bytes(("participant",), ("P01",), skip_first=2), "r.xlsx")

    assert table.headers == ["participant"]
    assert rows(table) == [(4, {"participant": "P01"})]


def test_it_rejects_an_empty_workbook() -> None:
    assert rejection(workbook_bytes(), "roster.xlsx") == "roster.xlsx: is empty"


def test_it_rejects_duplicate_columns_in_a_workbook() -> None:
    assert rejection(workbook_bytes(("id", "age", "id"), ("P1", 3, "x")), "r.xlsx") == (
        "r.xlsx, row 1, column 'id': the column name appears twice (columns A and C): "
        "column names must be unique"
    )


def test_it_rejects_a_csv_named_xlsx() -> None:
    assert rejection(b"participant,country\nP01,FI\n", "roster.xlsx") == (
        "roster.xlsx: is not an Excel .xlsx workbook (it looks like a plain text file)"
    )


def test_it_rejects_a_word_document_named_xlsx() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")

    assert rejection(buffer.getvalue(), "roster.xlsx") == (
        "roster.xlsx: is not an Excel .xlsx workbook (it is a Word document)"
    )


def test_it_rejects_a_workbook_that_is_a_zip_bomb() -> None:
    source = zipfile.ZipFile(io.BytesIO(workbook_bytes(("a",), ("b",))))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            archive.writestr(member, source.read(member))
        archive.writestr("xl/media/padding.bin", bytes(8 * 1024 * 1024))

    message = rejection(buffer.getvalue(), "bomb.xlsx")

    assert message.startswith(
        "bomb.xlsx: looks like a zip bomb: 'xl/media/padding.bin' is compressed"
    )
    assert message.endswith("to 1 (at most 100 to 1 is allowed)")


def test_it_rejects_a_damaged_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<broken")

    assert rejection(buffer.getvalue(), "broken.xlsx").startswith(
        "broken.xlsx: is not a readable Excel .xlsx workbook ("
    )


def test_it_reads_the_qualcoder_survey_workbook() -> None:
    table = read_table(interop_file("qualcoder_survey789.xlsx"), "qualcoder_survey789.xlsx")

    assert table.headers == [
        "Case",
        "Age",
        "Gender",
        "Interest",
        "Qual_hobby_opinions",
        "Qual_pet_opinions",
    ]
    assert [row.number for row in table.rows] == [2, 3, 4]
    assert [row.values["Case"] for row in table.rows] == ["ID7", "ID8", "ID9"]
    assert [row.values["Age"] for row in table.rows] == ["33", "", "55"]
    assert table.rows[1].values["Qual_pet_opinions"] == "A fish"
