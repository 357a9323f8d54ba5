"""Checks on .docx and .xlsx files before a library unpacks them.

Both formats are zip archives. A hostile or broken upload can declare gigabytes of content in a
few kilobytes (a zip bomb), and python-docx and openpyxl would inflate it in memory. The central
directory's declared sizes are what we check; Python's zipfile refuses to inflate a member beyond
its declared size (the CRC check fails), so a file cannot lie its way past these limits.
"""

from __future__ import annotations

import io
import zipfile

from . import FileRejected
from .encoding import describe_binary

MAX_MEMBERS = 10_000
# Small members compress very well when they are repetitive XML; the ratio only matters once a
# member is big enough to hurt.
RATIO_APPLIES_ABOVE = 1024 * 1024

_KNOWN_PARTS = (
    ("word/document.xml", "a Word document"),
    ("xl/workbook.xml", "an Excel workbook"),
    ("ppt/presentation.xml", "a PowerPoint presentation"),
    ("content.xml", "an OpenDocument file: save it in the Office format"),
)


def check_zip_package(
    data: bytes,
    filename: str,
    *,
    kind: str,
    required_part: str,
    max_unzipped_bytes: int,
    max_ratio: int,
    max_members: int = MAX_MEMBERS,
) -> None:
    """Refuse anything that is not a safe zip package holding required_part.

    kind names the expected file for the message, e.g. "a Word .docx document".
    """
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise FileRejected(f"is not {kind} ({_looks_like(data)})", filename=filename)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise FileRejected(
            f"is not {kind} (the zip archive is damaged: {exc})", filename=filename
        ) from None

    if len(members) > max_members:
        raise FileRejected(
            f"looks like a zip bomb: it holds {len(members):,} files "
            f"(at most {max_members:,} are allowed)",
            filename=filename,
        )
    total = sum(member.file_size for member in members)
    if total > max_unzipped_bytes:
        raise FileRejected(
            f"looks like a zip bomb: it would unpack to {_megabytes(total)} "
            f"(at most {_megabytes(max_unzipped_bytes)} are allowed)",
            filename=filename,
        )
    for member in members:
        if member.file_size <= RATIO_APPLIES_ABOVE:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > max_ratio:
            raise FileRejected(
                f"looks like a zip bomb: '{member.filename}' is compressed {ratio:,.0f} to 1 "
                f"(at most {max_ratio:,} to 1 is allowed)",
                filename=filename,
            )

    names = {member.filename for member in members}
    if required_part not in names:
        found = next((what for part, what in _KNOWN_PARTS if part in names), None)
        detail = f"it is {found}" if found else f"the zip archive has no {required_part}"
        raise FileRejected(f"is not {kind} ({detail})", filename=filename)


def _looks_like(data: bytes) -> str:
    described = describe_binary(data)
    if described:
        return f"it looks like {described}"
    if b"\x00" not in data[:4096]:
        return "it looks like a plain text file"
    return "it is not a zip archive"


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:,.0f} KB"
    return f"{size / (1024 * 1024):,.1f}".removesuffix(".0") + " MB"
