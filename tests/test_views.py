from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from studies.models import Document, PendingImport, Study
from studies.services import import_transcripts
from tests.conftest import ROSTER
from tests.helpers import client_for, db_snapshot
from tests.test_transcript_import import FI_TXT


@pytest.fixture
def transcript(roster_study: Study) -> Document:
    fi = roster_study.workshops.get(code="FI-1")
    text = FI_TXT + "Aino: <script>alert('x')</script> & <b>bold</b>?\n"
    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-1.txt", text.encode())]
    )
    return outcome.document


def study_pages(document: Document) -> list[tuple[str, str]]:
    slug = document.study.slug
    return [
        (reverse("studies:overview", args=[slug]), "viewer"),
        (reverse("studies:documents", args=[slug]), "viewer"),
        (reverse("studies:document", args=[slug, document.pk]), "viewer"),
        (reverse("studies:participants", args=[slug]), "viewer"),
        (reverse("studies:import", args=[slug]), "owner"),
    ]


def test_the_permission_ladder_holds_on_every_study_page(
    transcript: Document, people: dict[str, User]
) -> None:
    rank = {"viewer": 0, "coder": 1, "owner": 2}
    for url, needs in study_pages(transcript):
        anonymous = client_for(None).get(url)
        assert anonymous.status_code == 302, url
        assert anonymous["Location"].startswith(reverse("login")), url
        assert client_for(people["mallory"]).get(url).status_code == 404, url
        for name, role in (("victor", "viewer"), ("bob", "coder"), ("alice", "owner")):
            expected = 200 if rank[role] >= rank[needs] else 403
            assert client_for(people[name]).get(url).status_code == expected, (url, name)


def test_a_document_of_another_study_is_not_found(
    transcript: Document, people: dict[str, User]
) -> None:
    other = Study.objects.create(slug="other", name="Other")
    other.memberships.create(user=people["mallory"], role="owner")
    url = reverse("studies:document", args=["other", transcript.pk])
    assert client_for(people["mallory"]).get(url).status_code == 404


def test_the_study_list_shows_only_my_studies(study: Study, people: dict[str, User]) -> None:
    Study.objects.create(slug="secret", name="Secret study")
    page = client_for(people["bob"]).get(reverse("studies:list")).content.decode()
    assert "Algorithmic decision-making" in page
    assert "Secret study" not in page
    empty = client_for(people["mallory"]).get(reverse("studies:list")).content.decode()
    assert "You are not a member of any study yet" in empty


def test_the_overview_shows_workshops_with_countries_and_counts(
    transcript: Document, people: dict[str, User]
) -> None:
    page = client_for(people["victor"]).get(reverse("studies:overview", args=["adm"]))
    html = page.content.decode()
    assert "Finland (FI)" in html
    assert "United Kingdom (GB)" in html
    assert "12 Mar 2025" in html
    rows = page.context["rows"]
    fi = next(row for row in rows if row[0].code == "FI-1")
    assert (fi[0].n_participants, fi[0].n_documents, fi[2]) == (3, 1, 3)


def test_the_document_view_shows_turns_and_escapes_the_text(
    transcript: Document, people: dict[str, User]
) -> None:
    url = reverse("studies:document", args=["adm", transcript.pk])
    response = client_for(people["victor"]).get(url)
    html = response.content.decode()
    assert response.context["header"] == "Työpaja FI-1, Helsinki"
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;?" in html
    )
    assert "<script>alert" not in html
    assert "Minusta algoritmin pitäisi osata selittää päätöksensä." in html
    assert "Fasilitaattori" in html
    assert 'lang="fi"' in html


def test_lists_say_what_to_do_when_empty(study: Study, people: dict[str, User]) -> None:
    html = (
        client_for(people["alice"]).get(reverse("studies:documents", args=["adm"])).content.decode()
    )
    assert "No transcripts yet" in html
    assert "import a workshop" in html


def upload_roster(client: Client, content: bytes, name: str = "roster.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        reverse("studies:import", args=["adm"]),
        {"roster": "1", "r-file": SimpleUploadedFile(name, content)},
    )


def test_an_owner_imports_a_roster_through_preview_and_confirm(
    study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["alice"])
    response = upload_roster(client, ROSTER.encode())
    assert response.status_code == 302
    review_url = response["Location"]
    assert not study.participants.exists()  # the preview writes nothing

    review = client.get(review_url).content.decode()
    assert "2 new workshops, 5 new participants, 2 new variables" in review

    done = client.post(review_url, {"confirm": "1"}, follow=True)
    assert study.participants.count() == 5
    assert "Roster roster.csv: 2 new workshops" in done.content.decode()
    assert not PendingImport.objects.exists()


def test_a_bad_roster_upload_shows_the_row_and_writes_nothing(
    study: Study, people: dict[str, User]
) -> None:
    before = db_snapshot()
    response = upload_roster(
        client_for(people["alice"]), b"participant,workshop,country\nP1,FI-1,Narnia\n"
    )
    assert response.status_code == 200
    assert (
        "roster.csv, row 2, column &#x27;country&#x27;: unknown country &#x27;Narnia&#x27;"
        in response.content.decode()
    )
    assert db_snapshot() == before
    assert not PendingImport.objects.exists()


def test_an_owner_imports_transcripts_mapping_an_unknown_speaker(
    roster_study: Study, people: dict[str, User]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(people["alice"])
    fi = roster_study.workshops.get(code="FI-1")
    text = FI_TXT + "Vieras: Saanko kysyä jotain?\n"
    response = client.post(
        reverse("studies:import", args=["adm"]),
        {
            "transcripts": "1",
            "t-workshop": fi.pk,
            "t-files": [SimpleUploadedFile("FI-1.txt", text.encode())],
            "t-language": "",
        },
    )
    assert response.status_code == 302
    review_url = response["Location"]

    review = client.get(review_url)
    html = review.content.decode()
    assert "Speaker “Vieras”" in html
    assert "Not matched" in html
    assert "Olen samaa mieltä." in html  # the preview shows parsed turns
    assert not Document.objects.exists()

    unmapped = client.post(review_url, {"confirm": "1", "speaker_0": ""})
    assert unmapped.status_code == 200
    assert not Document.objects.exists()

    done = client.post(review_url, {"confirm": "1", "speaker_0": "-"}, follow=True)
    assert "Imported 1 transcript: 5 turns" in done.content.decode()
    document = Document.objects.get()
    assert document.turns.get(speaker="Vieras").participant is None
    assert document.imported_by == people["alice"]


def test_a_bad_transcript_upload_shows_the_reason(
    roster_study: Study, people: dict[str, User]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    fi = roster_study.workshops.get(code="FI-1")
    response = client_for(people["alice"]).post(
        reverse("studies:import", args=["adm"]),
        {
            "transcripts": "1",
            "t-workshop": fi.pk,
            "t-files": [SimpleUploadedFile("x.docx", b"hello")],
        },
    )
    assert response.status_code == 200
    assert "x.docx: is not a Word .docx document" in response.content.decode()
    assert not PendingImport.objects.exists()


def test_cancelling_an_import_forgets_the_upload(study: Study, people: dict[str, User]) -> None:
    client = client_for(people["alice"])
    review_url = upload_roster(client, ROSTER.encode())["Location"]
    client.post(review_url, {"cancel": "1"})
    assert not PendingImport.objects.exists()
    assert not study.participants.exists()
    assert client.get(review_url).status_code == 404


def test_another_owner_cannot_open_my_pending_import(study: Study, people: dict[str, User]) -> None:
    review_url = upload_roster(client_for(people["alice"]), ROSTER.encode())["Location"]
    carol = User.objects.create_user("carol", password="pw-carol")
    study.memberships.create(user=carol, role="owner")
    assert client_for(carol).get(review_url).status_code == 404


def test_an_upload_over_the_limit_is_refused_on_the_page(
    roster_study: Study, people: dict[str, User], settings
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.COLLOQUY_MAX_UPLOAD_BYTES = 1024 * 1024
    fi = roster_study.workshops.get(code="FI-1")
    big = SimpleUploadedFile("big.txt", b"Aino: " + b"sana " * 300_000)
    response = client_for(people["alice"]).post(
        reverse("studies:import", args=["adm"]),
        {"transcripts": "1", "t-workshop": fi.pk, "t-files": [big]},
    )
    assert response.status_code == 200
    assert "big.txt is 1.4 MB; the limit is 1 MB." in response.content.decode()
    assert not PendingImport.objects.exists()
    assert not Document.objects.exists()


def test_the_documents_list_filters_by_kind_and_lists_transcripts_first(
    transcript: Document, people: dict[str, User]
) -> None:
    study = transcript.study
    note = Document.objects.create(
        study=study, kind=Document.Kind.NOTE, title="A note", text="Seen.", sha256="x"
    )
    survey_text = Document.objects.create(
        study=study,
        kind=Document.Kind.SURVEY,
        workshop=transcript.workshop,
        title="After the workshop · P01",
        text="Better.",
        sha256="y",
    )
    client = client_for(people["victor"])
    url = reverse("studies:documents", args=[study.slug])
    page = client.get(url).context["page"]
    assert list(page) == [transcript, survey_text, note]
    assert list(client.get(url, {"kind": "survey"}).context["page"]) == [survey_text]
    # An unknown kind is no filter at all, and the pager keeps the filters.
    assert len(client.get(url, {"kind": "nonsense"}).context["page"]) == 3
    response = client.get(url, {"kind": "survey", "workshop": "FI-1"})
    assert response.context["pager_query"] == "workshop=FI-1&kind=survey"
    assert list(client.get(url, {"kind": "transcript", "workshop": "DE-1"}).context["page"]) == []
    assert (
        "No documents of this kind in DE-1"
        in client.get(url, {"kind": "transcript", "workshop": "DE-1"}).content.decode()
    )
