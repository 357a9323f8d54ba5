"""A transcript's recording: which files are accepted (judged by their bytes, built here), who may
attach, replace, remove and play it, and range requests so that a player can seek."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from studies.models import Document, Recording, Study
from studies.recordings import (
    RangeNotSatisfiable,
    RecordingRejected,
    attach_recording,
    byte_range,
    check_recording,
    sniff,
)
from studies.services import import_transcripts

# --- Small files of each kind, built from their headers ---------------------------------------


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(bytes([128]) * int(seconds * rate))
    return buffer.getvalue()


MPEG_FRAME = b"\xff\xfb\x90\x64" + bytes(200)  # MPEG-1 layer III, 128 kbit/s, 44.1 kHz
MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + MPEG_FRAME
OGG = b"OggS\x00\x02" + bytes(20) + b"\x01vorbis" + bytes(40)
OGG_THEORA = b"OggS\x00\x02" + bytes(20) + b"\x80theora" + bytes(40)


def ebml(doctype: bytes, tracks: bytes = b"") -> bytes:
    header = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(header)]) + header + bytes(16) + tracks


def iso_media(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands + bytes(32)


WEBM_VIDEO = ebml(b"webm", b"\x86\x85V_VP9" + bytes(8) + b"\x86\x86A_OPUS")
WEBM_AUDIO = ebml(b"webm", b"\x86\x86A_OPUS")
MKV = ebml(b"matroska", b"\x86\x85V_VP9")
M4A = iso_media(b"M4A ", b"M4A ", b"mp42", b"isom")
MP4 = iso_media(b"isom", b"isom", b"iso2", b"avc1", b"mp41")
MOV = iso_media(b"qt  ", b"qt  ")
ADTS_AAC = b"\xff\xf1\x50\x80" + bytes(100)


@pytest.mark.parametrize(
    ("data", "container"),
    [
        (MP3_ID3, "mp3"),
        (MPEG_FRAME, "mp3"),
        (wav_bytes(0.1), "wav"),
        (OGG, "ogg"),
        (WEBM_VIDEO, "webm"),
        (M4A, "mp4"),
        (MP4, "mp4"),
        (MKV, None),
        (MOV, None),
        (ADTS_AAC, None),
        (b"RIFF\x24\x00\x00\x00AVI LIST", None),
        (b"Facilitator: hello\n", None),
        (b"", None),
    ],
    ids=[
        "id3",
        "frame",
        "wav",
        "ogg",
        "webm",
        "m4a",
        "mp4",
        "mkv",
        "mov",
        "aac",
        "avi",
        "text",
        "empty",
    ],
)
def test_it_tells_the_container_from_the_first_bytes(data: bytes, container: str | None) -> None:
    assert sniff(data) == container


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("interview.mp3", MP3_ID3, "audio/mpeg"),
        ("interview.MP3", MPEG_FRAME, "audio/mpeg"),
        ("interview.wav", wav_bytes(0.1), "audio/wav"),
        ("interview.ogg", OGG, "audio/ogg"),
        ("interview.ogg", OGG_THEORA, "video/ogg"),
        ("interview.webm", WEBM_VIDEO, "video/webm"),
        ("interview.webm", WEBM_AUDIO, "audio/webm"),
        ("interview.m4a", M4A, "audio/mp4"),
        ("interview.m4a", MP4, "audio/mp4"),
        ("interview.mp4", MP4, "video/mp4"),
    ],
)
def test_it_accepts_a_recording_whose_name_agrees_with_its_content(
    name: str, data: bytes, content_type: str
) -> None:
    assert check_recording(name, len(data), data, max_bytes=10_000) == content_type


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.mp3", wav_bytes(0.1), "a.mp3: its name says MP3, but its content is a WAV file"),
        ("a.mp4", OGG, "a.mp4: its name says MP4, but its content is an Ogg file"),
        ("a.wav", MP3_ID3, "a.wav: its name says WAV, but its content is an MP3 file"),
        ("a.webm", MKV, "a.webm is not a recording Colloquy can play: its content is a Matroska"),
        ("a.mp4", MOV, "a.mp4 is not a recording Colloquy can play: its content is a QuickTime"),
        ("a.mp3", b"Facilitator: hi\n", "a.mp3 is not a recording Colloquy can play"),
        ("a.mp3", ADTS_AAC, "a.mp3 is not a recording"),
        ("a.flac", b"fLaC" + bytes(40), "a.flac: .flac files cannot be attached"),
        ("recording", MP3_ID3, "recording: files without an extension cannot be attached"),
        ("a.mp3", b"", "a.mp3 is empty."),
    ],
)
def test_it_refuses_other_files_naming_them(name: str, data: bytes, message: str) -> None:
    with pytest.raises(RecordingRejected) as refusal:
        check_recording(name, len(data), data, max_bytes=10_000)
    assert str(refusal.value).startswith(message)


def test_it_refuses_a_recording_over_the_size_limit() -> None:
    with pytest.raises(
        RecordingRejected, match=r"^big\.wav is 3 MB; a recording may be at most 2 MB"
    ):
        check_recording("big.wav", 3 * 1024 * 1024, wav_bytes(0.1), max_bytes=2 * 1024 * 1024)


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=900-5000", (900, 999)),
        ("bytes=999-999", (999, 999)),
        (None, None),
        ("", None),
        ("bytes=5-1", None),  # not a valid range: the whole file
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=\u0661-\u0662", None),  # digits, but not ASCII ones
    ],
)
def test_it_reads_one_byte_range(header: str | None, wanted: tuple[int, int] | None) -> None:
    assert byte_range(header, 1000) == wanted


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0"])
def test_a_range_outside_the_file_is_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 1000)


# --- The web pages and the API ----------------------------------------------------------------

VTT = """WEBVTT

00:00:00.000 --> 00:00:01.000
<v Aino>The system should explain why it said no.

00:00:01.500 --> 00:00:02.500
<v Eero>I would want to argue with it, like with a person.

00:00:03.000 --> 00:00:04.000
<v Aino>Otherwise nobody can trust it.
"""


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def timed(roster_study: Study) -> Document:
    """A three-turn transcript with times, imported from WebVTT."""
    fi = roster_study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("session.vtt", VTT.encode())], language="en"
    )
    return outcome.document


def login(people: dict[str, User], name: str) -> Client:
    client = Client()
    if name != "anonymous":
        client.force_login(people[name])
    return client


def page_url(document: Document, action: str = "") -> str:
    base = f"/studies/{document.study.slug}/documents/{document.pk}/recording/"
    return base + (f"{action}/" if action else "")


def api_url(document: Document) -> str:
    return f"/api/v1/studies/{document.study.slug}/documents/{document.pk}/recording/"


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def recorded(timed: Document, people: dict[str, User]) -> tuple[Document, bytes]:
    """The timed transcript with a WAV recording of 2 seconds (16,044 bytes)."""
    data = wav_bytes(2.0)
    attach_recording(document=timed, upload=upload("session.wav", data), user=people["alice"])
    return timed, data


def test_an_owner_attaches_a_recording_from_the_transcript_page(
    timed: Document, people: dict[str, User], media_root: Path
) -> None:
    client = login(people, "alice")
    data = wav_bytes(1.0)
    response = client.post(page_url(timed, "attach"), {"file": upload("session.wav", data)})
    assert response.status_code == 302
    assert response["Location"] == timed.get_absolute_url() + "#recording"
    recording = Recording.objects.get(document=timed)
    assert (recording.original_name, recording.content_type, recording.size) == (
        "session.wav",
        "audio/wav",
        len(data),
    )
    assert recording.uploaded_by == people["alice"]
    [path] = stored_files(media_root)
    assert path.parent.name == str(timed.study_id) and path.read_bytes() == data
    assert "session" not in path.name  # the stored name is random

    page = client.get(timed.get_absolute_url()).content.decode()
    assert "Attached session.wav (7.9\xa0KB)." in page
    assert f'<audio controls preload="metadata" data-player src="{page_url(timed)}"' in page
    assert 'aria-label="Play from 0:00:01"' in page
    assert 'data-start-ms="1500" data-end-ms="2500"' in page
    assert "studies/player.js" in page
    workbench = client.get(f"/studies/{timed.study.slug}/documents/{timed.pk}/code/")
    assert workbench.status_code == 200
    assert b"data-player" in workbench.content and b"studies/player.js" in workbench.content


def test_a_page_without_a_recording_has_no_player(timed: Document, people: dict[str, User]) -> None:
    page = login(people, "victor").get(timed.get_absolute_url()).content.decode()
    assert "data-player" not in page and "player.js" not in page
    assert "No recording is attached to this transcript." in page
    assert "Attach a recording" not in page
    owner_page = login(people, "alice").get(timed.get_absolute_url()).content.decode()
    assert "Attach a recording" in owner_page
    assert 'accept=".mp3,.m4a,.wav,.ogg,.webm,.mp4"' in owner_page


def test_a_wrong_file_is_refused_by_name_and_nothing_is_written(
    timed: Document, people: dict[str, User], media_root: Path
) -> None:
    client = login(people, "alice")
    response = client.post(
        page_url(timed, "attach"), {"file": upload("session.mp3", wav_bytes(0.5))}, follow=True
    )
    assert "session.mp3: its name says MP3, but its content is a WAV file" in (
        response.content.decode()
    )
    assert not Recording.objects.exists()
    assert stored_files(media_root) == []
    response = client.post(page_url(timed, "attach"), {}, follow=True)
    assert "Choose an audio or video file to attach." in response.content.decode()


def test_a_recording_over_the_limit_is_refused(
    timed: Document, people: dict[str, User], settings: object, media_root: Path
) -> None:
    settings.COLLOQUY_MAX_RECORDING_BYTES = 1024
    response = login(people, "alice").post(
        page_url(timed, "attach"), {"file": upload("long.wav", wav_bytes(1.0))}, follow=True
    )
    assert "long.wav is 0 MB; a recording may be at most 0 MB" in response.content.decode()
    assert stored_files(media_root) == []


def test_replacing_a_recording_deletes_the_old_file(
    recorded: tuple[Document, bytes],
    people: dict[str, User],
    media_root: Path,
    django_capture_on_commit_callbacks: object,
) -> None:
    document, _ = recorded
    [old] = stored_files(media_root)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(people, "alice").post(
            page_url(document, "attach"), {"file": upload("take2.ogg", OGG)}, follow=True
        )
    assert "Replaced the recording with take2.ogg" in response.content.decode()
    [new] = stored_files(media_root)
    assert new != old and new.read_bytes() == OGG
    recording = Recording.objects.get(document=document)
    assert (recording.original_name, recording.content_type) == ("take2.ogg", "audio/ogg")


def test_an_owner_removes_a_recording_after_confirming(
    recorded: tuple[Document, bytes],
    people: dict[str, User],
    media_root: Path,
    django_capture_on_commit_callbacks: object,
) -> None:
    document, _ = recorded
    client = login(people, "alice")
    confirm = client.get(page_url(document, "remove")).content.decode()
    assert "The file <strong>session.wav</strong> (15.7\xa0KB) is deleted" in confirm
    assert "codings and memos stay" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page_url(document, "remove"), follow=True)
    assert "Removed the recording session.wav." in response.content.decode()
    assert not Recording.objects.exists() and stored_files(media_root) == []
    assert client.get(page_url(document)).status_code == 404


def test_deleting_the_document_deletes_its_recording_file(
    recorded: tuple[Document, bytes], media_root: Path, django_capture_on_commit_callbacks: object
) -> None:
    document, _ = recorded
    with django_capture_on_commit_callbacks(execute=True):
        document.delete()
    assert stored_files(media_root) == []


# The access ladder: anonymous -> login, outsider -> 404, below the role -> 403, else allowed.
@pytest.mark.parametrize(
    ("person", "play", "attach", "remove"),
    [
        ("anonymous", 302, 302, 302),
        ("mallory", 404, 404, 404),
        ("victor", 200, 403, 403),
        ("bob", 200, 403, 403),
        ("alice", 200, 302, 200),
    ],
)
def test_members_play_and_only_owners_change_the_recording(
    recorded: tuple[Document, bytes],
    people: dict[str, User],
    person: str,
    play: int,
    attach: int,
    remove: int,
) -> None:
    document, _ = recorded
    client = login(people, person)
    played = client.get(page_url(document))
    assert played.status_code == play
    if person == "anonymous":
        assert played["Location"].startswith("/login/")
    attached = client.post(page_url(document, "attach"), {"file": upload("x.ogg", OGG)})
    assert attached.status_code == attach
    assert client.get(page_url(document, "remove")).status_code == remove
    expected = "x.ogg" if person == "alice" else "session.wav"
    assert Recording.objects.get(document=document).original_name == expected


def test_an_archived_study_keeps_playing_but_refuses_changes(
    recorded: tuple[Document, bytes], people: dict[str, User]
) -> None:
    document, _ = recorded
    Study.objects.filter(pk=document.study_id).update(archived_at=timezone.now())
    client = login(people, "alice")
    assert client.get(page_url(document)).status_code == 200
    assert (
        client.post(page_url(document, "attach"), {"file": upload("x.ogg", OGG)}).status_code == 403
    )
    assert client.post(page_url(document, "remove")).status_code == 403
    assert "Attach a recording" not in client.get(document.get_absolute_url()).content.decode()


# --- Serving with ranges ----------------------------------------------------------------------


def body(response: object) -> bytes:
    return b"".join(response.streaming_content)


def test_it_serves_the_whole_file_saying_that_ranges_are_accepted(
    recorded: tuple[Document, bytes], people: dict[str, User]
) -> None:
    document, data = recorded
    response = login(people, "victor").get(page_url(document))
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == 'inline; filename="session.wav"'
    assert "Content-Range" not in response
    # Streamed in chunks, never read whole: 16,044 bytes come in pieces of at most 64 KiB.
    chunks = list(response.streaming_content)
    assert b"".join(chunks) == data


def test_it_reads_a_large_file_in_chunks(timed: Document, people: dict[str, User]) -> None:
    data = wav_bytes(20.0)  # 160,044 bytes
    attach_recording(document=timed, upload=upload("long.wav", data), user=people["alice"])
    response = login(people, "bob").get(page_url(timed))
    chunks = list(response.streaming_content)
    assert len(chunks) == 3 and max(map(len, chunks)) == 64 * 1024
    assert b"".join(chunks) == data


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-199", 100, 199),
        ("bytes=16000-", 16000, 16043),
        ("bytes=-44", 16000, 16043),
        ("bytes=16040-99999", 16040, 16043),
        ("bytes=-99999", 0, 16043),
    ],
)
def test_it_serves_the_range_asked_for(
    recorded: tuple[Document, bytes], people: dict[str, User], header: str, first: int, last: int
) -> None:
    document, data = recorded
    assert len(data) == 16044
    response = login(people, "victor").get(page_url(document), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/16044"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == data[first : last + 1]


@pytest.mark.parametrize("header", ["bytes=16044-", "bytes=20000-20100", "bytes=-0"])
def test_a_range_past_the_end_gets_416(
    recorded: tuple[Document, bytes], people: dict[str, User], header: str
) -> None:
    document, _ = recorded
    response = login(people, "victor").get(page_url(document), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */16044"


def test_a_range_for_an_older_file_gets_the_whole_new_one(
    recorded: tuple[Document, bytes], people: dict[str, User]
) -> None:
    document, data = recorded
    client = login(people, "victor")
    etag = client.get(page_url(document))["ETag"]
    same = client.get(page_url(document), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert same.status_code == 206
    other = client.get(page_url(document), HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert other.status_code == 200 and body(other) == data


# --- The API ----------------------------------------------------------------------------------


def api_client(people: dict[str, User], name: str) -> APIClient:
    client = APIClient()
    if name != "anonymous":
        client.force_authenticate(people[name])
    return client


def test_an_owner_puts_replaces_and_deletes_a_recording_through_the_api(
    timed: Document,
    people: dict[str, User],
    media_root: Path,
    django_capture_on_commit_callbacks: object,
) -> None:
    client = api_client(people, "alice")
    created = client.put(api_url(timed), {"file": upload("s.m4a", M4A)}, format="multipart")
    assert created.status_code == 201, created.content
    assert created.json() | {"created_at": None} == {
        "original_name": "s.m4a",
        "content_type": "audio/mp4",
        "size": len(M4A),
        "uploaded_by": "alice",
        "created_at": None,
    }
    with django_capture_on_commit_callbacks(execute=True):
        replaced = client.put(
            api_url(timed), {"file": upload("s.webm", WEBM_VIDEO)}, format="multipart"
        )
    assert replaced.status_code == 200 and replaced.json()["content_type"] == "video/webm"
    [path] = stored_files(media_root)
    assert path.read_bytes() == WEBM_VIDEO

    got = client.get(api_url(timed), HTTP_RANGE="bytes=0-3", HTTP_ACCEPT="video/*")
    assert got.status_code == 206 and body(got) == b"\x1a\x45\xdf\xa3"
    assert got["Content-Range"] == f"bytes 0-3/{len(WEBM_VIDEO)}"

    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(api_url(timed)).status_code == 204
    assert stored_files(media_root) == []
    assert client.get(api_url(timed)).status_code == 404
    assert client.delete(api_url(timed)).status_code == 404


def test_the_api_refuses_a_wrong_file_naming_it(
    timed: Document, people: dict[str, User], media_root: Path
) -> None:
    client = api_client(people, "alice")
    response = client.put(api_url(timed), {"file": upload("s.ogg", MP4)}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {
        "file": [
            "s.ogg: its name says Ogg, but its content is an MP4/M4A file; rename it to "
            "match or upload the right file."
        ]
    }
    missing = client.put(api_url(timed), {}, format="multipart")
    assert missing.status_code == 400 and "as 'file'" in missing.json()["file"][0]
    assert not Recording.objects.exists() and stored_files(media_root) == []


@pytest.mark.parametrize(
    ("person", "get", "put", "delete"),
    [
        ("anonymous", 401, 401, 401),
        ("mallory", 404, 404, 404),
        ("victor", 200, 403, 403),
        ("bob", 200, 403, 403),
    ],
)
def test_the_api_lets_members_download_and_only_owners_change(
    recorded: tuple[Document, bytes],
    people: dict[str, User],
    person: str,
    get: int,
    put: int,
    delete: int,
) -> None:
    document, data = recorded
    client = api_client(people, person)
    response = client.get(api_url(document))
    assert response.status_code == get
    if get == 200:
        assert body(response) == data
    assert (
        client.put(
            api_url(document), {"file": upload("x.ogg", OGG)}, format="multipart"
        ).status_code
        == put
    )
    assert client.delete(api_url(document)).status_code == delete
    assert Recording.objects.get(document=document).original_name == "session.wav"
