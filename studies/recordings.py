"""A transcript's recording: which audio and video files are accepted, storing, replacing and
removing them, and serving them to a player with HTTP range requests.

The type is read from the file's first bytes (its "magic"), never taken from the browser's
Content-Type, and the name's extension must agree with it: a player is handed exactly the kind
of file its Content-Type says, and a mislabelled upload is refused with a message that says what
the file really is. Files go through Django's storage API (local files by default, any
django-storages backend in production) and are only ever read back in chunks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from studies.audit import record
from studies.models import AuditEvent, Document, Recording

# Enough to see a WebM file's track list or an Ogg stream's first header, never the whole file.
HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Format:
    extension: str
    label: str
    container: str  # what the bytes must be (m4a and mp4 share ISO BMFF)
    content_type: str


FORMATS = {
    f.extension: f
    for f in (
        Format(".mp3", "MP3", "mp3", "audio/mpeg"),
        Format(".m4a", "M4A", "mp4", "audio/mp4"),
        Format(".wav", "WAV", "wav", "audio/wav"),
        Format(".ogg", "Ogg", "ogg", "audio/ogg"),
        Format(".webm", "WebM", "webm", "video/webm"),
        Format(".mp4", "MP4", "mp4", "video/mp4"),
    )
}
ACCEPT = ",".join(FORMATS)  # for <input type="file" accept=...>
EXTENSIONS = ", ".join(ext.lstrip(".") for ext in FORMATS)
CONTAINER_NAMES = {
    "mp3": "an MP3 file",
    "wav": "a WAV file",
    "ogg": "an Ogg file",
    "webm": "a WebM file",
    "mp4": "an MP4/M4A file",
}

# ISO base media file brands of the MPEG-4 family that browsers play as MP4/M4A. QuickTime
# (`qt  `) and the image formats that share the box structure (HEIC, AVIF) are not among them.
MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"mp71", b"avc1",
    b"M4A ", b"M4B ", b"M4P ", b"M4V ", b"M4VH", b"M4VP", b"F4V ", b"F4A ", b"dash", b"mmp4",
    b"MSNV", b"NDAS", b"3gp4", b"3gp5", b"3gp6", b"3g2a",
}  # fmt: skip

# Files people mistake for recordings, named in the refusal.
OTHER_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"fLaC", "a FLAC file"),
    (8, b"AVI ", "an AVI video"),
    (0, b"%PDF", "a PDF document"),
    (0, b"PK\x03\x04", "a zip archive (or a Word or Excel file)"),
    (0, b"\x89PNG", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
)


class RecordingRejected(ValueError):
    """A file that cannot be a recording; str(exc) names the file and says why."""


def _mp4_brands(head: bytes) -> set[bytes]:
    size = int.from_bytes(head[:4], "big")
    if size < 16 or size > len(head):
        size = min(len(head), 64)
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, size - 3, 4))
    return brands


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG-1/2/2.5 audio frame header (sync, version, layer, bitrate, sample rate)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    # Layer 00 is AAC in an ADTS stream, not MPEG audio.
    return version != 0b01 and layer != 0b00 and bitrate != 0xF and sample_rate != 0b11


def sniff(head: bytes) -> str | None:
    """The container the bytes start with: "mp3", "wav", "ogg", "webm" or "mp4" (M4A and MP4
    share it), or None for anything else."""
    if head.startswith(b"ID3") or _is_mpeg_audio_frame(head):
        return "mp3"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"\x42\x82" in head[:64]:
        # The EBML header's DocType element (0x4282) says "webm" or "matroska".
        doctype = head[head.index(b"\x42\x82") :][:16]
        return "webm" if b"webm" in doctype else None
    if head[4:8] == b"ftyp" and _mp4_brands(head) & MP4_BRANDS:
        return "mp4"
    return None


def describe(head: bytes) -> str:
    """What a file that is no recording looks like, for the refusal."""
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "a Matroska (.mkv) file, not WebM"
    if head[4:8] == b"ftyp":
        if head[8:12] == b"qt  ":
            return "a QuickTime (.mov) file"
        return f"an ISO media file of the unplayable brand {head[8:12].decode('latin-1')!r}"
    for offset, signature, what in OTHER_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return what
    return "not a file of any of those kinds"


def content_type_of(fmt: Format, head: bytes) -> str:
    """The Content-Type to serve: audio or video, as far as the first bytes tell."""
    video_track = re.search(rb"V_(VP8|VP9|AV1|MPEG4)", head)
    if fmt.container == "webm" and not video_track and re.search(rb"A_(OPUS|VORBIS)", head):
        return "audio/webm"
    if fmt.container == "ogg" and b"\x80theora" in head:
        return "video/ogg"
    return fmt.content_type


def check_recording(name: str, size: int, head: bytes, *, max_bytes: int | None = None) -> str:
    """The Content-Type of a file that may be a transcript's recording; RecordingRejected, with
    a message naming the file, for anything else."""
    limit = settings.COLLOQUY_MAX_RECORDING_BYTES if max_bytes is None else max_bytes
    extension = PurePosixPath(name).suffix.lower()
    fmt = FORMATS.get(extension)
    if fmt is None:
        kind = f"{extension} files" if extension else "files without an extension"
        raise RecordingRejected(
            f"{name}: {kind} cannot be attached; a recording is one of {EXTENSIONS}."
        )
    if size == 0:
        raise RecordingRejected(f"{name} is empty.")
    if size > limit:
        raise RecordingRejected(
            f"{name} is {size / 1024 / 1024:,.0f} MB; a recording may be at most "
            f"{limit / 1024 / 1024:,.0f} MB."
        )
    container = sniff(head)
    if container is None:
        raise RecordingRejected(
            f"{name} is not a recording Colloquy can play: its content is {describe(head)} "
            f"(accepted: {EXTENSIONS})."
        )
    if container != fmt.container:
        raise RecordingRejected(
            f"{name}: its name says {fmt.label}, but its content is {CONTAINER_NAMES[container]}; "
            "rename it to match or upload the right file."
        )
    return content_type_of(fmt, head)


def recording_of(document: Document) -> Recording | None:
    return Recording.objects.filter(document=document).first()


def attach_recording(*, document: Document, upload: UploadedFile, user: object) -> Recording:
    """Store `upload` as the document's recording, replacing any earlier one (whose file is
    deleted once the change is committed). Raises RecordingRejected and writes nothing for a
    file that is not an accepted recording."""
    name = PurePosixPath((upload.name or "").replace("\\", "/")).name or "recording"
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    content_type = check_recording(name, upload.size or 0, head)
    with transaction.atomic():
        # One attachment at a time per document: a second waits instead of colliding.
        Document.objects.select_for_update().filter(pk=document.pk).first()
        recording = recording_of(document) or Recording(document=document)
        old_name = recording.file.name if recording.pk else ""
        recording.content_type = content_type
        recording.size = upload.size
        recording.original_name = name[:255]
        recording.uploaded_by = user if getattr(user, "is_authenticated", False) else None
        recording.created_at = timezone.now()
        recording.file.save(name, upload, save=False)
        storage = recording.file.storage
        try:
            recording.save()
        except BaseException:
            storage.delete(recording.file.name)
            raise
        if old_name:
            transaction.on_commit(partial(storage.delete, old_name))
        record(
            document.study,
            AuditEvent.Action.STUDY,
            f"{'Replaced' if old_name else 'Attached'} the recording of '{document.title}' "
            f"({recording.original_name})",
            user=user,
            details={
                "document": document.pk,
                "file": recording.original_name,
                "bytes": recording.size,
            },
        )
    return recording


def remove_recording(*, document: Document) -> Recording | None:
    """Remove the document's recording, if any; its file goes once the change is committed."""
    recording = recording_of(document)
    if recording is not None:
        with transaction.atomic():
            recording.delete()
            record(
                document.study,
                AuditEvent.Action.STUDY,
                f"Removed the recording of '{document.title}' ({recording.original_name})",
                details={"document": document.pk, "file": recording.original_name},
            )
    return recording


@receiver(post_delete, sender=Recording)
def _delete_file(sender: type[Recording], instance: Recording, **kwargs: object) -> None:
    # Also when a document or study is deleted: the stored file must not outlive its row.
    if instance.file.name:
        transaction.on_commit(partial(instance.file.storage.delete, instance.file.name))


# --- Serving, with range requests -----------------------------------------------------------


class RangeNotSatisfiable(Exception):
    """A Range header none of whose bytes are in the file (answered with 416)."""


_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte positions, inclusive, that a `Range` header asks for, clamped to
    the file; None to send the whole file: no header, one that does not parse, or several ranges
    (RFC 9110 lets a server ignore a Range header; players ask for one range). Raises
    RangeNotSatisfiable when the range starts past the end or asks for the last 0 bytes."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(end, size - 1)


class _RangeReader:
    """The bytes first..first+length-1 of an open file, in chunks; Django calls close() when
    the response is done, also when the client goes away or nothing was read (HEAD)."""

    def __init__(self, handle: IO[bytes], first: int, length: int) -> None:
        self.handle = handle
        self.first = first
        self.length = length

    def __iter__(self) -> Iterator[bytes]:
        self.handle.seek(self.first)
        remaining = self.length
        while remaining > 0:
            chunk = self.handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()


def recording_response(request: HttpRequest, recording: Recording) -> HttpResponse:
    """The recording's bytes for a player: all of them (200) or the one range asked for (206),
    416 for a range outside the file. Always `Accept-Ranges: bytes`, so players know they may
    seek. Callers have already checked that the person may see the document."""
    size = recording.size
    etag = '"' + hashlib.sha256(recording.file.name.encode()).hexdigest()[:32] + '"'
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, no-transform",
        "Content-Disposition": content_disposition_header(False, recording.original_name),
    }
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        range_header = None  # the file changed since the player's first request: send it all
    try:
        wanted = byte_range(range_header, size)
    except RangeNotSatisfiable:
        response = HttpResponse(status=416, headers=headers)
        response["Content-Range"] = f"bytes */{size}"
        return response
    first, last = wanted if wanted is not None else (0, size - 1)
    try:
        handle = recording.file.storage.open(recording.file.name, "rb")
    except FileNotFoundError:
        raise Http404("The file of this recording is missing from storage.") from None
    response = StreamingHttpResponse(
        _RangeReader(handle, first, last - first + 1),
        status=200 if wanted is None else 206,
        content_type=recording.content_type,
        headers=headers,
    )
    response["Content-Length"] = str(max(last - first + 1, 0))
    if wanted is not None:
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return response


def recording_context(document: Document) -> dict[str, object]:
    """What a page showing the document needs for its player and upload form."""
    return {
        "recording": recording_of(document),
        "recording_accept": ACCEPT,
        "recording_extensions": EXTENSIONS,
        "recording_limit_mb": settings.COLLOQUY_MAX_RECORDING_BYTES // (1024 * 1024),
    }
