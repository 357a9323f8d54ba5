"""REFI-QDA through the API: GET /api/v1/studies/{slug}/qdpx/ and /qdc/ download the project
and the codebook; POST /qdpx/ imports a project or codebook (201 when something was written,
200 for a dry run or a file with nothing new, 400 for a refused file, nothing written then).
Owners only: outsiders get 404, other members 403, anonymous requests 401."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from coding.models import Code, Coding
from coding.services import create_code
from exports.qdpx import write_qdc, write_qdpx
from studies.models import Document, Participant, Study
from studies.services import archive_study, create_study
from studies.tokens import issue_token
from tests.helpers import client_for, db_snapshot
from tests.test_qdpx import FOREIGN_QDE, WINDOWS_TEXT, G, make_qdpx
from tests.test_qdpx_views import code_it


def qdpx_url(slug: str) -> str:
    return f"/api/v1/studies/{slug}/qdpx/"


def qdc_url(slug: str) -> str:
    return f"/api/v1/studies/{slug}/qdc/"


@pytest.fixture
def coded(document: Document, codes: dict[str, Code], people: dict[str, User]) -> Study:
    """Alice's study with a transcript, a codebook, a coding of Bob's and a memo on it."""
    return code_it(document, codes, people["bob"])


@pytest.fixture
def copy(people: dict[str, User]) -> Study:
    return create_study(owner=people["alice"], name="The copy", slug="copy")


def post_file(client: Client, slug: str, name: str, data: bytes, **fields: str) -> object:
    return client.post(qdpx_url(slug), {"file": SimpleUploadedFile(name, data), **fields})


# Downloads -------------------------------------------------------------------------------------


def test_an_owner_downloads_the_project_and_the_codebook(
    coded: Study, people: dict[str, User]
) -> None:
    _token, secret = issue_token(people["alice"], name="script")
    api = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    # Whatever the client asks for, the file comes back.
    project = api.get(qdpx_url(coded.slug), HTTP_ACCEPT="application/zip")
    assert project.status_code == 200
    assert project["Content-Type"] == "application/zip"
    assert 'filename="adm.qdpx"' in project["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(project.content)) as archive:
        assert b'origin="Colloquy"' in archive.read("project.qde")

    codebook = api.get(qdc_url(coded.slug))
    assert codebook.status_code == 200
    assert codebook["Content-Type"] == "application/xml"
    assert 'filename="adm.qdc"' in codebook["Content-Disposition"]
    assert b"<CodeBook" in codebook.content and b"negotiability" in codebook.content


@pytest.mark.parametrize("url", [qdpx_url, qdc_url], ids=["qdpx", "qdc"])
def test_only_owners_download(coded: Study, people: dict[str, User], url: object) -> None:
    address = url(coded.slug)
    assert client_for(None).get(address).status_code in (401, 403)
    outsider = client_for(people["mallory"]).get(address)
    assert outsider.status_code == 404 and outsider["Content-Type"] == "application/json"
    for name in ("bob", "victor"):
        member = client_for(people[name]).get(address)
        assert member.status_code == 403, name
        assert b"negotiability" not in member.content
    assert client_for(people["alice"]).get(url("no-such-study")).status_code == 404


def test_an_archived_study_still_exports_but_imports_nothing(
    coded: Study, people: dict[str, User]
) -> None:
    archive_study(study=coded)
    alice = client_for(people["alice"])
    assert alice.get(qdpx_url(coded.slug)).status_code == 200
    assert alice.get(qdc_url(coded.slug)).status_code == 200
    before = db_snapshot()
    refused = post_file(alice, coded.slug, "adm.qdpx", write_qdpx(coded)[0])
    assert refused.status_code == 403
    assert db_snapshot() == before


# Import ----------------------------------------------------------------------------------------


def test_an_import_answers_201_with_the_report_and_again_200_with_no_changes(
    coded: Study, copy: Study, people: dict[str, User]
) -> None:
    data, counts = write_qdpx(coded)
    alice = client_for(people["alice"])

    first = post_file(alice, copy.slug, "adm.qdpx", data)
    assert first.status_code == 201, first.content
    report = first.json()
    assert report["applied"] is True and report["dry_run"] is False
    assert report["file"] == "adm.qdpx" and report["origin"] == "Colloquy"
    assert report["in_file"] == {
        "users": counts.users,
        "codes": 3,
        "variables": counts.variables,
        "cases": 5,
        "sources": 1,
        "selections": 1,
        "codings": 1,
        "notes": 1,
        "sets": 2,
    }
    assert report["new"]["codes"] == 3 and report["new"]["documents"] == 1
    assert report["new"]["codings"] == 1 and report["new"]["participants"] == 5
    assert {"what": "users with no codings or notes in the file (no account is made)",
            "count": 1,
            "text": "1 user with no codings or notes in the file (no account is made)",
            } in report["skipped"]  # fmt: skip
    assert any("becomes the coder account" in note for note in report["notes"])
    assert report["summary"].startswith("adm.qdpx: adds 3 codes")
    assert Code.objects.filter(study=copy).count() == 3
    assert Coding.objects.filter(document__study=copy).count() == 1

    before = db_snapshot()
    second = post_file(alice, copy.slug, "adm.qdpx", data)
    assert second.status_code == 200
    assert second.json()["applied"] is False
    assert second.json()["summary"] == (
        "No changes: everything in adm.qdpx is already in the study."
    )
    assert second.json()["unchanged"]["codes"] == 3
    assert db_snapshot() == before


@pytest.mark.parametrize("where", ["form", "query"])
def test_a_dry_run_reports_and_writes_nothing(
    coded: Study, copy: Study, people: dict[str, User], where: str
) -> None:
    data = write_qdpx(coded)[0]
    alice = client_for(people["alice"])
    before = db_snapshot()
    if where == "form":
        answer = post_file(alice, copy.slug, "adm.qdpx", data, dry_run="true")
    else:
        answer = alice.post(
            qdpx_url(copy.slug) + "?dry_run=1", {"file": SimpleUploadedFile("adm.qdpx", data)}
        )
    assert answer.status_code == 200
    body = answer.json()
    assert body["applied"] is False and body["dry_run"] is True
    assert body["new"]["codes"] == 3 and body["new"]["documents"] == 1
    assert db_snapshot() == before


def test_the_workshop_takes_what_the_file_does_not_place(
    roster_study: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    data = make_qdpx(FOREIGN_QDE, {f"sources/{G['src2']}.txt": WINDOWS_TEXT.encode()})

    before = db_snapshot()
    nowhere = post_file(alice, roster_study.slug, "foreign.qdpx", data)
    assert nowhere.status_code == 400
    [message] = nowhere.json()["file"]
    assert "Case 'Anna' belongs to no workshop" in message
    unknown = post_file(alice, roster_study.slug, "foreign.qdpx", data, workshop="XX-9")
    assert unknown.status_code == 400
    assert unknown.json() == {"workshop": ["No workshop 'XX-9' in this study (it has FI-1, GB-1)."]}
    assert db_snapshot() == before

    # A workshop's code, in any case.
    done = post_file(alice, roster_study.slug, "foreign.qdpx", data, workshop="gb-1")
    assert done.status_code == 201
    body = done.json()
    assert body["origin"] == "Some QDA 3.1" and body["project"] == "Foreign project"
    assert body["skipped"] == [
        {
            "what": "PDF sources: Colloquy holds text only",
            "count": 1,
            "text": "1 PDF source: Colloquy holds text only",
        }
    ]
    anna = Participant.objects.get(study=roster_study, code="Anna")
    assert anna.workshop.code == "GB-1"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.qdpx", b"PK\x03\x04 not really a zip", "broken.qdpx: is not a .qdpx package"),
        ("notes.pdf", b"%PDF-1.4", "notes.pdf: unsupported file type '.pdf'"),
        ("p.qdpx", make_qdpx("<Project"), "not well-formed XML"),
        ("x.qde", b"<Codebook/>", "its root element is <Codebook>"),
    ],
)
def test_a_bad_file_answers_400_with_one_line_and_writes_nothing(
    copy: Study, people: dict[str, User], name: str, data: bytes, message: str
) -> None:
    before = db_snapshot()
    answer = post_file(client_for(people["alice"]), copy.slug, name, data)
    assert answer.status_code == 400
    [reason] = answer.json()["file"]
    assert message in reason and "\n" not in reason
    assert db_snapshot() == before


def test_no_file_is_a_400(copy: Study, people: dict[str, User]) -> None:
    answer = client_for(people["alice"]).post(qdpx_url(copy.slug), {"dry_run": "true"})
    assert answer.status_code == 400
    assert answer.json() == {"file": ["Upload one .qdpx, .qde or .qdc file as 'file'."]}


def test_only_owners_import(coded: Study, people: dict[str, User]) -> None:
    data = write_qdpx(coded)[0]
    before = db_snapshot()
    assert post_file(client_for(None), coded.slug, "adm.qdpx", data).status_code in (401, 403)
    assert post_file(client_for(people["mallory"]), coded.slug, "adm.qdpx", data).status_code == (
        404
    )
    for name in ("bob", "victor"):
        answer = post_file(client_for(people[name]), coded.slug, "adm.qdpx", data)
        assert answer.status_code == 403, name
    # An outsider learns nothing from a bad file either: 404 first.
    bad = post_file(client_for(people["mallory"]), coded.slug, "x.pdf", b"%PDF")
    assert bad.status_code == 404
    assert db_snapshot() == before


def test_a_script_imports_a_codebook_with_a_token(copy: Study, people: dict[str, User]) -> None:
    """Scripts send a token and no CSRF cookie; a .qdc brings codes alone."""
    source = create_study(owner=people["alice"], name="Codes", slug="codes")
    create_code(study=source, name="fairness")
    _token, secret = issue_token(people["alice"], name="script")
    api = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {secret}")
    answer = api.post(
        qdpx_url(copy.slug), {"file": SimpleUploadedFile("codes.qdc", write_qdc(source))}
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["new"]["codes"] == 1
    assert answer.json()["in_file"]["sources"] == 0
    assert Code.objects.get(study=copy).name == "fairness"
