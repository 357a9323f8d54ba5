"""Bytes to text for every text format (.txt, .md, .vtt, .srt, .csv).

The result always follows the document rules: NFC, "\\n" line endings, no BOM. Anything that is
not text is refused with a message saying what it looks like, because the usual cause is a file
saved in the wrong format or renamed, and the person can fix that once they know.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from charset_normalizer import from_bytes

from . import FileRejected

# Leading bytes of files that people attach by mistake, and what to tell them. These never start
# a real text file, so they are refused even when the rest would decode.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a zip archive, e.g. a .docx or .xlsx: rename it?"),
    (b"PK\x05\x06", "a zip archive, e.g. a .docx or .xlsx: rename it?"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Word .doc or Excel .xls file: save it as .docx or .xlsx",
    ),
    (b"{\\rtf", "an RTF document: save it as .docx or .txt"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x1aE\xdf\xa3", "a WebM or MKV video"),
)

# Media signatures that are plain letters ("RIFF", "ID3"), which a text could start with: they
# only name the file when NUL bytes near the start confirm that it is binary. MP4 and M4A put a
# size before their tag.
_WEAK_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"ID3", "an MP3 audio file"),
    (0, b"OggS", "an Ogg audio file"),
    (0, b"fLaC", "a FLAC audio file"),
    (0, b"RIFF", "a WAV or AVI file"),
    (4, b"ftyp", "an MP4 or M4A media file"),
)

# Control characters (C0, DEL, C1) other than those that do turn up in real text files: tab,
# newline, vertical tab, form feed, carriage return and the DOS end-of-file marker.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x19\x1b-\x1f\x7f-\x9f]")
_MAX_CONTROL_RATIO = 0.02

# Encodings whose bytes code for the languages of the studies we run (Finnish, German, English)
# when the file is not Unicode; charset-normalizer alone guesses badly on short Western texts.
_WESTERN = "cp1252"


def describe_binary(data: bytes) -> str | None:
    """Name the kind of a non-text file from its first bytes, or None if it is not recognised."""
    for signature, description in _SIGNATURES:
        if data.startswith(signature):
            return description
    if b"\x00" in data[:1024]:
        for offset, signature, description in _WEAK_SIGNATURES:
            if data[offset : offset + len(signature)] == signature:
                return description
    return None


def not_text(filename: str, looks_like: str | None = None) -> FileRejected:
    reason = "does not look like a text file"
    if looks_like:
        reason += f" (it looks like {looks_like})"
    return FileRejected(reason, filename=filename)


def normalise(text: str) -> str:
    """NFC with "\\n" line endings and no BOM: the form every document text is stored in."""
    text = text.removeprefix("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


def decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """Decode a text file, returning (normalised text, the encoding it was read with)."""
    if not data.strip():
        raise FileRejected("is empty", filename=filename)
    looks_like = describe_binary(data)
    if looks_like:
        raise not_text(filename, looks_like)

    text, encoding = _decode(data, filename)

    if len(_CONTROLS.findall(text)) > _MAX_CONTROL_RATIO * len(text):
        raise not_text(filename)

    text = normalise(text)
    if not text.strip():
        raise FileRejected("is empty", filename=filename)
    return text, encoding


def _decode(data: bytes, filename: str) -> tuple[str, str]:
    # UTF-32 first: its little-endian BOM begins with the UTF-16 one.
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError:
                raise not_text(filename) from None

    if b"\x00" in data:
        codec = _bomless_utf16(data)
        if codec is None:
            raise not_text(filename)
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            raise not_text(filename) from None

    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass

    return _decode_legacy(data, filename)


def _bomless_utf16(data: bytes) -> str | None:
    """Recognise UTF-16 without a BOM by where its NUL bytes fall.

    Text in Latin script stored as UTF-16 has a NUL in the high byte of almost every character,
    so nearly half the bytes are NUL and they all sit on one parity. Binary data spreads its NULs.
    """
    if len(data) < 4 or len(data) % 2:
        return None
    even_nuls = data[0::2].count(0)
    odd_nuls = data[1::2].count(0)
    half = len(data) // 2
    if odd_nuls >= 0.3 * half and even_nuls <= 0.02 * half:
        return "utf-16-le"
    if even_nuls >= 0.3 * half and odd_nuls <= 0.02 * half:
        return "utf-16-be"
    return None


def _decode_legacy(data: bytes, filename: str) -> tuple[str, str]:
    # Prefer Windows-1252 whenever charset-normalizer finds it coherent: it rejects cp1252 for
    # Cyrillic, Greek or CJK bytes, but among the encodings it does accept it often ranks an exotic
    # code page first for a short German or Finnish text, which would garble every umlaut.
    western = from_bytes(data, cp_isolation=[_WESTERN]).best()
    if western is not None:
        return str(western), _WESTERN

    best = from_bytes(data).best()
    if best is None:
        raise FileRejected(
            "could not tell which character encoding the text uses: save it as UTF-8 and try again",
            filename=filename,
        )
    return str(best), best.encoding
