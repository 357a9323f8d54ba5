"""Owners rename a document, move it to another workshop and delete it (at once when nothing
was added to it; after a confirmation naming the codings, memos and recording that go with it
otherwise); they edit a workshop. The pages and the API use the same services."""

from __future__ import annotations

import json

from django.contrib.auth.models import User
from django.urls import reverse

from coding.models import Code, Coding, Memo
from studies.models import Document, Study
from tests.helpers import client_for


def send(client: object, method: str, url: str, data: object) -> object:
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def coded(document: Document, codes: dict[str, Code], people: dict[str, User]) -> None:
    for start, end in [(0, 5), (10, 20)]:
        coding = Coding.objects.create(
            document=document,
            code=codes["negotiability"],
            coder=people["bob"],
            start=start,
            end=end,
        )
    Memo.objects.create(study=document.study, author=people["bob"], coding=coding, text="why")
    Memo.objects.create(study=document.study, author=people["alice"], document=document, text="x")


def test_the_owner_renames_and_moves_a_document_keeping_its_text_and_codings(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    coded(document, codes, people)
    gb = document.study.workshops.get(code="GB-1")
    detail = client_for(people["alice"]).get(document.get_absolute_url()).content.decode()
    url = reverse("studies:document_edit", args=[document.study.slug, document.pk])
    assert f'href="{url}"' in detail
    response = client_for(people["alice"]).post(
        url, {"title": "Helsinki session", "workshop": gb.pk}, follow=True
    )
    assert (
        "Saved: renamed FI-1 to Helsinki session and moved it to GB-1." in response.content.decode()
    )
    document.refresh_from_db()
    assert (document.title, document.workshop) == ("Helsinki session", gb)
    assert Coding.objects.filter(document=document).count() == 2


def test_a_document_keeps_a_title_of_its_own(document: Document, people: dict[str, User]) -> None:
    Document.objects.create(study=document.study, title="Other", text="x")
    url = reverse("studies:document_edit", args=[document.study.slug, document.pk])
    response = client_for(people["alice"]).post(
        url, {"title": "Other", "workshop": document.workshop_id}
    )
    assert "Another document of this study is called" in response.content.decode()
    document.refresh_from_db()
    assert document.title == "FI-1"


def test_only_owners_change_documents(document: Document, people: dict[str, User]) -> None:
    for name in ("edit", "delete"):
        url = reverse(f"studies:document_{name}", args=[document.study.slug, document.pk])
        assert client_for(None).get(url).status_code == 302
        assert client_for(people["mallory"]).get(url).status_code == 404
        assert client_for(people["bob"]).post(url, {"title": "x"}).status_code == 403
        assert client_for(people["victor"]).get(url).status_code == 403
    assert Document.objects.filter(pk=document.pk, title="FI-1").exists()
    viewer_page = client_for(people["victor"]).get(document.get_absolute_url()).content.decode()
    assert "Rename or move" not in viewer_page


def test_deleting_a_document_with_nothing_attached_just_confirms(
    document: Document, people: dict[str, User]
) -> None:
    url = reverse("studies:document_delete", args=[document.study.slug, document.pk])
    page = client_for(people["alice"]).get(url).content.decode()
    assert "Nothing has been coded or noted in this document yet" in page
    response = client_for(people["alice"]).post(url, follow=True)
    assert "Deleted FI-1." in response.content.decode()
    assert not Document.objects.filter(pk=document.pk).exists()


def test_deleting_a_coded_document_names_the_codings_and_memos_that_go(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    coded(document, codes, people)
    url = reverse("studies:document_delete", args=[document.study.slug, document.pk])
    page = client_for(people["alice"]).get(url).content.decode()
    assert "This document has <strong>2 codings, 2 memos</strong>" in page
    assert "Delete the document and its 2 codings, 2 memos" in page
    assert Document.objects.filter(pk=document.pk).exists()
    response = client_for(people["alice"]).post(url, follow=True)
    assert "Deleted FI-1 and its 2 codings, 2 memos." in response.content.decode()
    assert not Coding.objects.exists() and not Memo.objects.exists()
    assert document.study.participants.count() == 5


def test_the_owner_edits_a_workshop_from_the_overview(
    roster_study: Study, people: dict[str, User]
) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    url = reverse("studies:workshop_edit", args=[roster_study.slug, fi.pk])
    overview = client_for(people["alice"]).get(roster_study.get_absolute_url()).content.decode()
    assert f'href="{url}"' in overview
    assert (
        url not in client_for(people["bob"]).get(roster_study.get_absolute_url()).content.decode()
    )
    data = {
        "code": "FI-2",
        "site": "Tampere",
        "date": "2025-04-01",
        "country": "FI",
        "language": "sv-FI",
    }
    response = client_for(people["alice"]).post(url, data, follow=True)
    assert "Saved workshop FI-2." in response.content.decode()
    fi.refresh_from_db()
    assert (fi.code, fi.site, str(fi.date), fi.country.code, fi.language) == (
        "FI-2",
        "Tampere",
        "2025-04-01",
        "FI",
        "sv-FI",
    )
    clash = client_for(people["alice"]).post(url, data | {"code": "gb-1"})
    assert "Another workshop of this study has the code gb-1" in clash.content.decode()
    bad = client_for(people["alice"]).post(url, data | {"language": "Finnish!"})
    assert "not a language tag" in bad.content.decode()
    assert client_for(people["bob"]).post(url, data).status_code == 403
    assert client_for(people["mallory"]).get(url).status_code == 404


# --- The API ----------------------------------------------------------------------------------


def test_the_api_renames_moves_and_deletes_documents(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    url = f"/api/v1/studies/{document.study.slug}/documents/{document.pk}/"
    owner = client_for(people["alice"])
    assert send(client_for(people["mallory"]), "patch", url, {"title": "x"}).status_code == 404
    assert send(client_for(people["bob"]), "patch", url, {"title": "x"}).status_code == 403
    moved = send(owner, "patch", url, {"title": "Renamed", "workshop": "GB-1"})
    assert moved.status_code == 200, moved.content
    assert (moved.json()["title"], moved.json()["workshop"]) == ("Renamed", "GB-1")
    unknown = send(owner, "patch", url, {"workshop": "XX-9"})
    assert unknown.status_code == 400 and "No workshop 'XX-9'" in unknown.json()["workshop"][0]

    coded(document, codes, people)
    assert client_for(people["bob"]).delete(url).status_code == 403
    refused = owner.delete(url)
    assert refused.status_code == 400
    assert "2 codings, 2 memos" in refused.json()["confirm"][0]
    assert Document.objects.filter(pk=document.pk).exists()
    deleted = owner.delete(url + "?confirm=true")
    assert deleted.status_code == 200
    assert deleted.json()["deleted"]["codings"] == 2
    assert not Document.objects.filter(pk=document.pk).exists()


def test_the_api_deletes_an_uncoded_document_at_once(
    document: Document, people: dict[str, User]
) -> None:
    url = f"/api/v1/studies/{document.study.slug}/documents/{document.pk}/"
    assert client_for(people["alice"]).delete(url).status_code == 200
    assert not Document.objects.filter(pk=document.pk).exists()


def test_the_api_edits_a_workshop(roster_study: Study, people: dict[str, User]) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    url = f"/api/v1/studies/{roster_study.slug}/workshops/{fi.pk}/"
    assert send(client_for(people["mallory"]), "patch", url, {"site": "x"}).status_code == 404
    assert send(client_for(people["victor"]), "patch", url, {"site": "x"}).status_code == 403
    changed = send(client_for(people["alice"]), "patch", url, {"site": "Espoo", "country": "se"})
    assert changed.status_code == 200
    assert (changed.json()["site"], changed.json()["country"]) == ("Espoo", "SE")
    for bad in ({"country": "Narnia"}, {"language": "x!"}, {"code": "GB-1"}):
        assert send(client_for(people["alice"]), "patch", url, bad).status_code == 400
    fi.refresh_from_db()
    assert (fi.code, fi.site, fi.language) == ("FI-1", "Espoo", "fi")
