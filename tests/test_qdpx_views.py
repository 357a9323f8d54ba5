"""REFI-QDA on the owner's pages: the project (.qdpx) and codebook (.qdc) downloads, and the
Import project page (upload, a preview of what the file holds and what of it comes in, then
confirm), owners only, with a bad file refused beside its field and nothing written.

Alice owns the study, Bob codes, Victor views, Mallory is an outsider."""

from __future__ import annotations

import html
import io
import re
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from coding.models import Code, Coding, Memo
from coding.services import CodingSpan, apply_codings
from exports.qdpx import write_qdpx
from studies.models import Document, Membership, Participant, PendingImport, Study
from studies.services import archive_study, create_study
from tests.conftest import INTEROP
from tests.helpers import client_for, db_snapshot
from tests.test_qdpx import FOREIGN_QDE, WINDOWS_TEXT, G, make_qdpx


def code_it(document: Document, codes: dict[str, Code], coder: User) -> Study:
    """The study with its transcript, codebook, one coding of the coder's and a memo on it."""
    [coding] = apply_codings(
        user=coder, spans=[CodingSpan(document.pk, codes["negotiability"].pk, 0, 40)]
    ).created
    Memo.objects.create(study=document.study, author=coder, coding=coding, text="Why?")
    return document.study


@pytest.fixture
def coded(document: Document, codes: dict[str, Code], people: dict[str, User]) -> Study:
    return code_it(document, codes, people["bob"])


@pytest.fixture
def copy(people: dict[str, User]) -> Study:
    """A new, empty study of Alice's to import into."""
    return create_study(owner=people["alice"], name="The copy", slug="copy")


def import_url(study: Study) -> str:
    return reverse("exports:qdpx_import", args=[study.slug])


def upload(client: object, study: Study, name: str, data: bytes, workshop: str = "") -> object:
    return client.post(
        import_url(study), {"file": SimpleUploadedFile(name, data), "workshop": workshop}
    )


def text_of(response: object) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def digest_of(page: object) -> str:
    return re.search(r'name="digest" value="([0-9a-f]+)"', page.content.decode()).group(1)


# The page flow --------------------------------------------------------------------------------


def test_an_owner_imports_a_project_after_seeing_what_it_holds(
    coded: Study, copy: Study, people: dict[str, User]
) -> None:
    data, counts = write_qdpx(coded)
    alice = client_for(people["alice"])

    form = alice.get(import_url(copy))
    assert form.status_code == 200
    assert "Project or codebook file" in text_of(form)

    uploaded = upload(alice, copy, "adm.qdpx", data)
    assert uploaded.status_code == 302
    pending = PendingImport.objects.get(study=copy, kind="qdpx")
    assert uploaded["Location"] == reverse("exports:qdpx_review", args=["copy", pending.batch])
    # Previewing writes nothing.
    assert not copy.documents.exists() and not Code.objects.filter(study=copy).exists()

    preview = alice.get(uploaded["Location"])
    assert preview.status_code == 200
    shown = text_of(preview)
    assert "Review import: adm.qdpx" in shown
    assert "adm.qdpx: adds 3 codes" in shown
    counts_table = shown.split('id="qdpx-counts"')[1].split("</table>")[0]
    rows = {
        row[0]: row[1:]
        for row in re.findall(
            r'<th scope="row">(\w+)</th> <td>[^<]*</td> <td class="num">([\d,]+)</td> '
            r'<td class="num">([^<]+)</td>',
            counts_table,
        )
    }
    assert rows["Codes"] == ("3", "3")
    assert rows["Cases"] == (str(counts.cases), str(counts.cases))
    assert rows["Sources"] == ("1", "1")
    assert rows["Codings"] == ("1", "1")
    assert rows["Notes"] == ("1", "1")
    assert rows["Sets"] == ("2", "2")
    # Alice coded nothing: her user is skipped, and the page says why.
    assert "1 user with no codings or notes in the file (no account is made)" in shown

    done = alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": digest_of(preview)})
    assert done.status_code == 302
    assert done["Location"] == reverse("studies:overview", args=["copy"])
    overview = alice.get(done["Location"])
    assert "adm.qdpx: adds 3 codes" in text_of(overview)
    assert not PendingImport.objects.exists()
    document = copy.documents.get()
    assert document.text == coded.documents.get().text
    # Bob's coding keeps its coder: a coder account of the copy named after him.
    coding = Coding.objects.get(document=document)
    assert (coding.coder.first_name, coding.start, coding.end) == ("bob", 0, 40)
    assert Membership.objects.get(study=copy, user=coding.coder).role == "coder"
    assert "User &#x27;bob&#x27; becomes the coder account" in shown
    assert Memo.objects.get(study=copy).text == "Why?"
    assert Participant.objects.filter(study=copy).count() == counts.cases

    # The same file again: nothing new, and the page says so without an Import button.
    again = alice.get(upload(alice, copy, "adm.qdpx", data)["Location"])
    assert "No changes: everything in adm.qdpx is already in the study." in text_of(again)
    assert 'name="confirm"' not in again.content.decode()
    before = db_snapshot()
    back = alice.post(again.request["PATH_INFO"], {"cancel": "1"})
    assert back["Location"] == import_url(copy)
    assert db_snapshot() == before and not PendingImport.objects.exists()


def test_the_imported_document_opens_in_the_coding_view_with_its_codings(
    coded: Study, copy: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    preview = alice.get(upload(alice, copy, "adm.qdpx", write_qdpx(coded)[0])["Location"])
    alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": digest_of(preview)})
    document = copy.documents.get()
    page = alice.get(reverse("coding:workbench", args=[copy.slug, document.pk]) + "?layer=all")
    assert page.status_code == 200
    assert "negotiability" in page.content.decode()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.qdpx", b"PK\x03\x04 not really a zip", "broken.qdpx: is not a .qdpx package"),
        ("notes.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
        ("p.qdpx", make_qdpx("<Project"), "not well-formed XML"),
    ],
)
def test_a_bad_file_is_refused_beside_the_field_and_nothing_is_written(
    copy: Study, people: dict[str, User], name: str, data: bytes, message: str
) -> None:
    before = db_snapshot()
    page = upload(client_for(people["alice"]), copy, name, data)
    assert page.status_code == 200
    field = re.search(
        r'<div class="field has-error">.*?</div>', page.content.decode(), re.DOTALL
    ).group(0)
    assert 'name="file"' in field and message in html.unescape(field)
    assert db_snapshot() == before
    assert not PendingImport.objects.exists()


def test_a_foreign_file_places_its_cases_in_the_chosen_workshop(
    roster_study: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    data = make_qdpx(FOREIGN_QDE, {f"sources/{G['src2']}.txt": WINDOWS_TEXT.encode()})

    without = upload(alice, roster_study, "foreign.qdpx", data)
    assert "Case &#x27;Anna&#x27; belongs to no workshop" in without.content.decode()

    gb = roster_study.workshops.get(code="GB-1")
    chosen = upload(alice, roster_study, "foreign.qdpx", data, workshop=str(gb.pk))
    preview = alice.get(chosen["Location"])
    shown = text_of(preview)
    assert "Some QDA 3.1" in shown and "Foreign project" in shown
    assert "1 PDF source: Colloquy holds text only" in shown
    # Accounts made for the file's users are named in the notes.
    assert "Worth knowing" in shown
    alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": digest_of(preview)})
    assert Participant.objects.get(study=roster_study, code="Anna").workshop == gb


def test_a_preview_the_study_outgrew_is_shown_again_not_imported(
    coded: Study, copy: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    preview = alice.get(upload(alice, copy, "adm.qdpx", write_qdpx(coded)[0])["Location"])
    page = alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": "0" * 64})
    assert page.status_code == 200
    assert "The study changed since this preview was made" in text_of(page)
    assert not copy.documents.exists()
    assert PendingImport.objects.filter(study=copy).exists()


def test_cancel_drops_the_upload(coded: Study, copy: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    review = upload(alice, copy, "adm.qdpx", write_qdpx(coded)[0])["Location"]
    cancelled = alice.post(review, {"cancel": "1"}, follow=True)
    assert "Import cancelled: nothing was written." in text_of(cancelled)
    assert not PendingImport.objects.exists() and not copy.documents.exists()
    assert alice.get(review).status_code == 404


def test_the_real_nvivo_file_comes_in_through_the_page(people: dict[str, User]) -> None:
    path = INTEROP / "nvivo15_mac_codebook_two_sources.qdpx"
    if not path.is_file():
        pytest.skip("../shared/interop/ is absent (it ships beside CI, not in a clone)")
    study = create_study(owner=people["alice"], name="From NVivo", slug="nvivo")
    alice = client_for(people["alice"])
    preview = alice.get(upload(alice, study, path.name, path.read_bytes())["Location"])
    shown = text_of(preview)
    assert "NVivo for Mac" in shown
    assert "adds 262 codes, 2 documents" in shown
    alice.post(preview.request["PATH_INFO"], {"confirm": "1", "digest": digest_of(preview)})
    assert Code.objects.filter(study=study).count() == 262
    assert study.documents.count() == 2


# Who may --------------------------------------------------------------------------------------


def test_only_owners_import(coded: Study, people: dict[str, User]) -> None:
    url = import_url(coded)
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert client_for(people["mallory"]).get(url).status_code == 404
    for name in ("bob", "victor"):
        assert client_for(people[name]).get(url).status_code == 403, name
    data = write_qdpx(coded)[0]
    assert upload(client_for(people["bob"]), coded, "adm.qdpx", data).status_code == 403
    assert upload(client_for(people["mallory"]), coded, "adm.qdpx", data).status_code == 404
    assert not PendingImport.objects.exists()


def test_an_upload_waits_for_the_owner_who_made_it_only(
    coded: Study, copy: Study, people: dict[str, User]
) -> None:
    review = upload(client_for(people["alice"]), copy, "adm.qdpx", write_qdpx(coded)[0])
    olga = User.objects.create_user("olga", password="pw-olga")
    Membership.objects.create(study=copy, user=olga, role="owner")
    assert client_for(olga).get(review["Location"]).status_code == 404
    Membership.objects.create(study=copy, user=people["bob"], role="coder")
    assert client_for(people["bob"]).get(review["Location"]).status_code == 403
    assert client_for(people["mallory"]).get(review["Location"]).status_code == 404
    # A transcript upload is not a project upload.
    transcript = PendingImport.objects.create(
        study=copy, user=people["alice"], kind="transcript", filename="a.txt", data=b"A: hi\n"
    )
    url = reverse("exports:qdpx_review", args=[copy.slug, transcript.batch])
    assert client_for(people["alice"]).get(url).status_code == 404


def test_an_archived_study_exports_but_takes_no_import(
    coded: Study, people: dict[str, User]
) -> None:
    archive_study(study=coded)
    alice = client_for(people["alice"])
    assert alice.post(reverse("exports:qdpx", args=[coded.slug])).status_code == 200
    assert alice.get(import_url(coded)).status_code == 403


# Downloads and links ---------------------------------------------------------------------------


def test_the_downloads_are_the_project_and_the_codebook(
    coded: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    project = alice.post(reverse("exports:qdpx", args=[coded.slug]))
    assert project.status_code == 200
    assert project["Content-Type"] == "application/zip"
    assert 'filename="adm.qdpx"' in project["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(project.content)) as archive:
        assert "project.qde" in archive.namelist()
        assert b"negotiability" in archive.read("project.qde")

    codebook = alice.get(reverse("exports:qdc", args=[coded.slug]))
    assert codebook.status_code == 200
    assert codebook["Content-Type"] == "application/xml"
    assert 'filename="adm.qdc"' in codebook["Content-Disposition"]
    assert b"urn:QDA-XML:codebook:1.0" in codebook.content
    assert b"negotiability" in codebook.content


@pytest.mark.parametrize(("name", "method"), [("qdpx", "post"), ("qdc", "get")])
def test_only_owners_download(coded: Study, people: dict[str, User], name, method) -> None:
    # The project is made by a job, started by a POST; the codebook is read by a GET.
    url = reverse(f"exports:{name}", args=[coded.slug])
    anonymous = getattr(client_for(None), method)(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert getattr(client_for(people["mallory"]), method)(url).status_code == 404
    for person in ("bob", "victor"):
        response = getattr(client_for(people[person]), method)(url)
        assert response.status_code == 403, person
        assert b"negotiability" not in response.content
    other = "get" if method == "post" else "post"
    assert getattr(client_for(people["alice"]), other)(url).status_code == 405


def test_owners_find_export_and_import_on_the_overview_and_exports_pages(
    coded: Study, people: dict[str, User]
) -> None:
    links = [
        reverse("exports:qdpx", args=[coded.slug]),
        reverse("exports:qdc", args=[coded.slug]),
        import_url(coded),
    ]
    for page in ("studies:overview", "exports:page"):
        url = reverse(page, args=[coded.slug])
        owner = client_for(people["alice"]).get(url).content.decode()
        assert f'action="{links[0]}"' in owner, page
        assert all(f'href="{link}"' in owner for link in links[1:]), page
        for name in ("bob", "victor"):
            member = client_for(people[name]).get(url).content.decode()
            assert not any(link in member for link in links), (page, name)
    overview = text_of(client_for(people["alice"]).get(reverse("studies:overview", args=["adm"])))
    assert "Export project (.qdpx)" in overview and "Import project" in overview
    workshop_import = client_for(people["alice"]).get(reverse("studies:import", args=["adm"]))
    assert f'href="{import_url(coded)}"' in workshop_import.content.decode()
