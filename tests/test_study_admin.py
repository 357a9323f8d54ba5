"""Running a study from the browser and the API: creating, editing, archiving, restoring and
deleting it. Alice owns the study, Bob codes, Victor views, Mallory is an outsider."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from coding.models import Code, Coding
from studies.models import Document, Membership, Study
from tests.helpers import client_for


def test_any_signed_in_user_creates_a_study_and_owns_it(people: dict[str, User]) -> None:
    client = client_for(people["mallory"])
    page = client.get(reverse("studies:list"))
    assert reverse("studies:new") in page.content.decode()
    response = client.post(
        reverse("studies:new"),
        {"name": "Judging AI in Ürümqi", "slug": "", "description": "Pilot", "languages": "de, en"},
        follow=True,
    )
    study = Study.objects.get(name="Judging AI in Ürümqi")
    assert study.slug == "judging-ai-in-urumqi"
    assert study.language_list == ["de", "en"]
    assert Membership.objects.get(study=study).user == people["mallory"]
    assert Membership.objects.get(study=study).role == "owner"
    assert "Created Judging AI in Ürümqi" in response.content.decode()


def test_creating_a_study_refuses_a_bad_language_a_taken_slug_and_a_reserved_one(
    study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["mallory"])
    for data, error in [
        ({"name": "X", "slug": "", "languages": "english!"}, "not a language tag"),
        ({"name": "X", "slug": study.slug, "languages": "en"}, "already exists"),
        ({"name": "X", "slug": "new", "languages": "en"}, "names a page of the site"),
        ({"name": "X", "slug": "", "languages": " , "}, "at least one language"),
    ]:
        response = client.post(reverse("studies:new"), data)
        assert response.status_code == 200
        assert error in response.content.decode()
    assert Study.objects.count() == 1


def test_a_slug_made_from_a_taken_name_gets_a_number(study: Study, people: dict[str, User]) -> None:
    client = client_for(people["bob"])
    client.post(reverse("studies:new"), {"name": "adm", "slug": "", "languages": "en"})
    assert Study.objects.filter(slug="adm-2").exists()


def test_the_owner_edits_name_description_and_languages_but_not_the_slug(
    study: Study, people: dict[str, User]
) -> None:
    url = reverse("studies:settings", args=[study.slug])
    response = client_for(people["alice"]).post(
        url,
        {"name": "ADM 2025", "description": "Five workshops", "languages": "fi,en", "slug": "x"},
        follow=True,
    )
    study.refresh_from_db()
    assert (study.name, study.description, study.languages) == (
        "ADM 2025",
        "Five workshops",
        "fi, en",
    )
    assert study.slug == "adm"
    assert "Saved the settings of ADM 2025." in response.content.decode()


def test_the_settings_page_is_for_owners_only(study: Study, people: dict[str, User]) -> None:
    url = reverse("studies:settings", args=[study.slug])
    assert client_for(None).get(url).status_code == 302
    assert client_for(people["mallory"]).get(url).status_code == 404
    assert client_for(people["bob"]).get(url).status_code == 403
    assert client_for(people["victor"]).post(url, {"name": "Mine"}).status_code == 403
    assert client_for(people["alice"]).get(url).status_code == 200
    study.refresh_from_db()
    assert study.name == "Algorithmic decision-making"


def test_archiving_hides_the_study_makes_it_read_only_and_restoring_undoes_it(
    document: Document, people: dict[str, User]
) -> None:
    study = document.study
    owner = client_for(people["alice"])
    archive = reverse("studies:archive", args=[study.slug])
    assert client_for(people["bob"]).post(archive).status_code == 403
    assert client_for(people["mallory"]).post(archive).status_code == 404
    response = owner.post(archive, follow=True)
    assert "Archived Algorithmic decision-making" in response.content.decode()
    study.refresh_from_db()
    assert study.is_archived
    listing = owner.get(reverse("studies:list")).content.decode()
    assert study.get_absolute_url() not in listing
    assert "Archived studies (1)" in listing
    archived = owner.get(reverse("studies:archived")).content.decode()
    assert study.get_absolute_url() in archived and "Restore" in archived
    # Read-only: even its owner changes nothing until it is restored.
    edit = reverse("studies:document_edit", args=[study.slug, document.pk])
    assert owner.post(edit, {"title": "New"}).status_code == 403
    settings = reverse("studies:settings", args=[study.slug])
    assert owner.post(settings, {"name": "New", "languages": "en"}).status_code == 403
    assert owner.get(settings).status_code == 200
    # Members still read it.
    assert client_for(people["victor"]).get(study.get_absolute_url()).status_code == 200

    restore = reverse("studies:restore", args=[study.slug])
    assert client_for(people["bob"]).post(restore).status_code == 403
    response = owner.post(restore, follow=True)
    assert "Restored Algorithmic decision-making" in response.content.decode()
    study.refresh_from_db()
    assert not study.is_archived
    assert study.get_absolute_url() in owner.get(reverse("studies:list")).content.decode()


def test_deleting_a_study_says_what_goes_and_needs_its_name(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    study = document.study
    Coding.objects.create(
        document=document, code=codes["negotiability"], coder=people["bob"], start=0, end=5
    )
    url = reverse("studies:delete", args=[study.slug])
    assert client_for(people["bob"]).get(url).status_code == 403
    assert client_for(people["mallory"]).get(url).status_code == 404
    owner = client_for(people["alice"])
    page = owner.get(url).content.decode()
    turns = document.turns.count()
    for counted in ["1</strong> document", f"{turns}</strong> turns", "1</strong> coding"]:
        assert counted in page
    assert "2</strong> workshops" in page and "5</strong> participants" in page

    wrong = owner.post(url, {"name": "algorithmic decision-making"})
    assert "That is not the study&#x27;s name" in wrong.content.decode()
    assert Study.objects.filter(pk=study.pk).exists()

    done = owner.post(url, {"name": " Algorithmic decision-making "}, follow=True)
    assert not Study.objects.filter(pk=study.pk).exists()
    assert not Coding.objects.exists()
    [message] = [str(m) for m in done.context["messages"]]
    assert message.startswith("Deleted Algorithmic decision-making with "), message
    assert "1 document," in message and "1 coding" in message


def test_an_archived_study_can_be_deleted(study: Study, people: dict[str, User]) -> None:
    client_for(people["alice"]).post(reverse("studies:archive", args=[study.slug]))
    client_for(people["alice"]).post(
        reverse("studies:delete", args=[study.slug]), {"name": study.name}
    )
    assert not Study.objects.exists()


# --- The API ----------------------------------------------------------------------------------


def api(user: User | None) -> object:
    return client_for(user)


def send(client: object, method: str, url: str, data: object = None) -> object:
    return getattr(client, method)(
        url, json.dumps(data) if data is not None else None, content_type="application/json"
    )


def test_the_api_creates_a_study_whose_creator_owns_it(people: dict[str, User]) -> None:
    client = api(people["mallory"])
    response = send(client, "post", "/api/v1/studies/", {"name": "Pilot", "languages": "fi, en"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "pilot" and body["role"] == "owner" and body["languages"] == "fi, en"
    assert Study.objects.get(slug="pilot").memberships.get().user == people["mallory"]
    taken = send(client, "post", "/api/v1/studies/", {"name": "Other", "slug": "pilot"})
    assert taken.status_code == 400 and "slug" in taken.json()
    assert send(api(None), "post", "/api/v1/studies/", {"name": "X"}).status_code in (401, 403)


def test_the_api_edits_a_study_for_owners_only_and_keeps_the_slug(
    study: Study, people: dict[str, User]
) -> None:
    url = f"/api/v1/studies/{study.slug}/"
    assert send(api(people["mallory"]), "patch", url, {"name": "x"}).status_code == 404
    assert send(api(people["bob"]), "patch", url, {"name": "x"}).status_code == 403
    changed = send(api(people["alice"]), "patch", url, {"name": "ADM", "languages": "de"})
    assert changed.status_code == 200 and changed.json()["name"] == "ADM"
    assert send(api(people["alice"]), "patch", url, {"slug": "other"}).status_code == 400
    study.refresh_from_db()
    assert (study.name, study.languages, study.slug) == ("ADM", "de", "adm")


def test_the_api_archives_and_restores(study: Study, people: dict[str, User]) -> None:
    url = f"/api/v1/studies/{study.slug}/"
    assert api(people["mallory"]).post(url + "archive/").status_code == 404
    assert api(people["victor"]).post(url + "archive/").status_code == 403
    archived = api(people["alice"]).post(url + "archive/")
    assert archived.status_code == 200 and archived.json()["archived_at"]
    listed = api(people["alice"]).get("/api/v1/studies/").json()
    assert study.slug not in json.dumps(listed)
    assert study.slug in json.dumps(
        api(people["alice"]).get("/api/v1/studies/?archived=true").json()
    )
    # Read-only while archived.
    assert send(api(people["alice"]), "patch", url, {"name": "x"}).status_code == 403
    assert api(people["bob"]).post(url + "restore/").status_code == 403
    restored = api(people["alice"]).post(url + "restore/")
    assert restored.status_code == 200 and restored.json()["archived_at"] is None


def test_the_api_deletes_a_study_only_with_its_name(
    document: Document, people: dict[str, User]
) -> None:
    study = document.study
    url = f"/api/v1/studies/{study.slug}/"
    assert api(people["mallory"]).delete(url).status_code == 404
    assert (
        api(people["bob"]).delete(url + "?confirm=Algorithmic decision-making").status_code == 403
    )
    refused = api(people["alice"]).delete(url)
    assert refused.status_code == 400
    assert "study's name as confirm" in refused.json()["confirm"][0]
    assert "1 document" in refused.json()["confirm"][0]
    assert Study.objects.filter(pk=study.pk).exists()
    deleted = send(api(people["alice"]), "delete", url, {"confirm": "Algorithmic decision-making"})
    assert deleted.status_code == 200
    assert deleted.json()["deleted"]["document"] == 1
    assert not Study.objects.filter(pk=study.pk).exists()


@pytest.mark.parametrize("slug", ["new", "archived"])
def test_reserved_slugs_are_refused_by_the_api(people: dict[str, User], slug: str) -> None:
    response = send(api(people["alice"]), "post", "/api/v1/studies/", {"name": "X", "slug": slug})
    assert response.status_code == 400
