"""The study resources of the REST API: a permission ladder for every endpoint and method, and
what each one gives back.

Alice owns the study, Bob codes, Victor views, Mallory is an outsider (she owns another study).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.pagination import PageNumberPagination

from coding.models import Assignment, Code, Coding
from studies.models import Document, Membership, Participant, Study, Workshop
from tests.conftest import ROSTER
from tests.helpers import client_for, db_snapshot
from tests.test_transcript_import import FI_TXT

API = "/api/v1"
STUDY = f"{API}/studies/adm"
BULK = f"{API}/codings/bulk/"
LADDER = ("anonymous", "mallory", "victor", "bob", "alice")


def send(client: Client, method: str, url: str, data: object = None) -> object:
    if method == "get":
        return client.get(url, data or {})
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json")


def climb(
    people: dict[str, User],
    method: str,
    url: str | Callable[[], str],
    expected: dict[str, int],
    data: object = None,
) -> None:
    """Each rung of the ladder gets the status `expected` names; anonymous is always refused."""
    got = {}
    for name in LADDER:
        client = client_for(None if name == "anonymous" else people[name])
        target = url() if callable(url) else url
        got[name] = send(client, method, target, data).status_code
    assert got["anonymous"] in (401, 403)
    assert {k: v for k, v in got.items() if k != "anonymous"} == expected


@pytest.fixture
def other(people: dict[str, User]) -> Document:
    """Mallory's own study, with a workshop, a document and a code."""
    study = Study.objects.create(slug="other", name="Other study")
    Membership.objects.create(study=study, user=people["mallory"], role="owner")
    workshop = Workshop.objects.create(study=study, code="US-1", country="US")
    return Document.objects.create(
        study=study, workshop=workshop, title="Secret", text="Nothing to see here.", sha256="x"
    )


def span_of(document: Document, words: str) -> tuple[int, int]:
    start = document.text.index(words)
    return start, start + len(words)


# --- Studies --------------------------------------------------------------------------------


def test_the_ladder_for_listing_studies(study: Study, people: dict[str, User]) -> None:
    assert client_for(None).get(f"{API}/studies/").status_code in (401, 403)
    for name, expected in [("mallory", []), ("victor", ["adm"]), ("bob", ["adm"])]:
        response = client_for(people[name]).get(f"{API}/studies/")
        assert response.status_code == 200
        assert [s["slug"] for s in response.json()["results"]] == expected
    mine = client_for(people["alice"]).get(f"{API}/studies/").json()
    assert mine["results"] == [
        {
            "slug": "adm",
            "name": "Algorithmic decision-making",
            "description": "",
            "languages": "en",
            "blind_coding": False,
            "role": "owner",
            "archived_at": None,
            "created_at": mine["results"][0]["created_at"],
        }
    ]


def test_the_ladder_for_a_study(document: Document, people: dict[str, User]) -> None:
    climb(people, "get", f"{STUDY}/", {"mallory": 404, "victor": 200, "bob": 200, "alice": 200})
    body = client_for(people["victor"]).get(f"{STUDY}/").json()
    assert body["role"] == "viewer"
    assert body["counts"] == {
        "workshops": 2,
        "participants": 5,
        "variables": 2,
        "documents": 1,
        "codes": 0,
        "codings": 0,
        "members": 3,
        "surveys": 0,
        "survey_responses": 0,
    }


def test_the_ladder_for_changing_a_study(study: Study, people: dict[str, User]) -> None:
    climb(
        people,
        "patch",
        f"{STUDY}/",
        {"mallory": 404, "victor": 403, "bob": 403, "alice": 200},
        {"name": "Renamed", "blind_coding": True},
    )
    study.refresh_from_db()
    assert (study.name, study.blind_coding) == ("Renamed", True)


def test_a_study_slug_cannot_be_changed(study: Study, people: dict[str, User]) -> None:
    response = send(client_for(people["alice"]), "patch", f"{STUDY}/", {"slug": "other"})
    assert response.status_code == 400
    assert response.json()["slug"] == ["A study's slug never changes."]
    assert Study.objects.filter(slug="adm").exists()


# --- Reading what a study holds -------------------------------------------------------------

READERS = {"mallory": 404, "victor": 200, "bob": 200, "alice": 200}


@pytest.mark.parametrize(
    "resource",
    ["workshops", "participants", "variables", "documents", "codes", "memberships", "assignments"],
)
def test_the_ladder_for_reading_a_study_list(
    document: Document, codes: dict[str, Code], people: dict[str, User], resource: str
) -> None:
    climb(people, "get", f"{STUDY}/{resource}/", READERS)


@pytest.mark.parametrize(
    ("resource", "pick"),
    [
        ("workshops", lambda s: s.workshops.first().pk),
        ("participants", lambda s: s.participants.first().pk),
        ("variables", lambda s: s.variables.first().pk),
        ("documents", lambda s: s.documents.first().pk),
        ("codes", lambda s: s.codes.first().pk),
        ("memberships", lambda s: s.memberships.first().pk),
    ],
)
def test_the_ladder_for_reading_one_object(
    document: Document,
    codes: dict[str, Code],
    people: dict[str, User],
    resource: str,
    pick: Callable[[Study], int],
) -> None:
    climb(people, "get", f"{STUDY}/{resource}/{pick(document.study)}/", READERS)


def test_lists_are_paginated(
    roster_study: Study, people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PAGE_SIZE is read once, when DRF loads; five participants make three pages of two.
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    client = client_for(people["victor"])

    first = client.get(f"{STUDY}/participants/").json()
    last = client.get(f"{STUDY}/participants/", {"page": 3}).json()

    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 5
    assert [p["code"] for p in first["results"]] == ["P01", "P02"]
    assert first["previous"] is None and "page=2" in first["next"]
    assert [p["code"] for p in last["results"]] == ["P05"]
    assert last["next"] is None


def test_lists_follow_the_ordering_parameter(roster_study: Study, people: dict[str, User]) -> None:
    client = client_for(people["victor"])
    down = client.get(f"{STUDY}/participants/", {"ordering": "-code"}).json()
    workshops = client.get(f"{STUDY}/workshops/", {"ordering": "-code"}).json()
    assert [p["code"] for p in down["results"]] == ["P05", "P04", "P03", "P02", "P01"]
    assert [w["code"] for w in workshops["results"]] == ["GB-1", "FI-1"]


def test_participants_carry_their_variable_values(
    roster_study: Study, people: dict[str, User]
) -> None:
    response = client_for(people["victor"]).get(f"{STUDY}/participants/", {"workshop": "GB-1"})
    assert response.json()["results"][0] == {
        "id": Participant.objects.get(code="P04").pk,
        "code": "P04",
        "workshop": "GB-1",
        "aliases": ["Amara", "Dr. Okafor"],
        "values": {"age band": "30-44", "gender": "woman"},
    }


def test_documents_filter_by_workshop_and_leave_the_text_out(
    document: Document, people: dict[str, User]
) -> None:
    gb = document.study.workshops.get(code="GB-1")
    Document.objects.create(
        study=document.study, workshop=gb, title="GB-1 notes", text="Short.", sha256="y"
    )
    client = client_for(people["victor"])

    fi = client.get(f"{STUDY}/documents/", {"workshop": "FI-1"}).json()
    everything = client.get(f"{STUDY}/documents/").json()

    assert [d["title"] for d in fi["results"]] == ["FI-1"]
    assert fi["results"][0]["workshop"] == "FI-1"
    assert "text" not in fi["results"][0]
    assert everything["count"] == 2


def test_a_document_gives_its_text_with_turn_and_sentence_offsets(
    document: Document, people: dict[str, User]
) -> None:
    body = client_for(people["victor"]).get(f"{STUDY}/documents/{document.pk}/").json()

    text = body["text"]
    assert text == document.text
    first = body["turns"][0]
    assert first[:3] == [1, "Fasilitaattori", None]
    aino = next(turn for turn in body["turns"] if turn[1] == "Aino")
    assert aino[2] == "P01"
    assert text[aino[3] : aino[4]].startswith("Minusta algoritmin")
    assert len(body["turns"]) == document.turns.count()
    assert len(body["sentences"]) == document.sentences.count() > 0
    for start, end in body["sentences"]:
        assert 0 <= start < end <= len(text)
    assert any(text[s:e].startswith("Tärkeintä on") for s, e in body["sentences"])


def test_another_studys_document_is_not_found(
    document: Document, other: Document, people: dict[str, User]
) -> None:
    client = client_for(people["bob"])
    assert client.get(f"{STUDY}/documents/{other.pk}/").status_code == 404
    assert client_for(people["mallory"]).get(f"{API}/studies/other/documents/").status_code == 200
    assert client.get(f"{API}/studies/other/documents/").status_code == 404


# --- The codebook ---------------------------------------------------------------------------

OWNERS_ONLY = {"mallory": 404, "victor": 403, "bob": 403, "alice": None}


def only_owner(status: int) -> dict[str, int]:
    return {"mallory": 404, "victor": 403, "bob": 403, "alice": status}


def test_the_ladder_for_creating_a_code(codes: dict[str, Code], people: dict[str, User]) -> None:
    data = {"name": "accuracy", "parent": codes["concept"].pk, "definition": "Being right."}
    climb(people, "post", f"{STUDY}/codes/", only_owner(201), data)
    code = Code.objects.get(name="accuracy")
    assert code.parent == codes["concept"] and code.definition == "Being right."


def test_a_created_code_comes_back_with_its_path(
    codes: dict[str, Code], people: dict[str, User]
) -> None:
    response = send(
        client_for(people["alice"]),
        "post",
        f"{STUDY}/codes/",
        {"name": "humanity", "parent": codes["concept"].pk, "colour": "#d55e00"},
    )
    body = response.json()
    assert body["path"] == "Concept/humanity"
    assert body["colour"] == "#D55E00"  # normalised by the codebook's rules
    assert body["codable"] is True and body["shortcut"] is None


def test_a_duplicate_code_name_is_refused_with_a_field_message(
    codes: dict[str, Code], people: dict[str, User]
) -> None:
    before = db_snapshot()
    response = send(
        client_for(people["alice"]),
        "post",
        f"{STUDY}/codes/",
        {"name": "Negotiability", "parent": codes["concept"].pk},
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["'Concept' already has a code named 'negotiability'."]}
    assert db_snapshot() == before


def test_a_parent_from_another_study_is_refused(
    codes: dict[str, Code], other: Document, people: dict[str, User]
) -> None:
    foreign = Code.objects.create(study=other.study, name="foreign")
    response = send(
        client_for(people["alice"]), "post", f"{STUDY}/codes/", {"name": "x", "parent": foreign.pk}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["parent"]


def test_the_ladder_for_changing_a_code(codes: dict[str, Code], people: dict[str, User]) -> None:
    url = f"{STUDY}/codes/{codes['explainability'].pk}/"
    climb(people, "patch", url, only_owner(200), {"name": "explicability", "shortcut": 2})
    codes["explainability"].refresh_from_db()
    assert (codes["explainability"].name, codes["explainability"].shortcut) == ("explicability", 2)


def test_a_shortcut_clash_is_refused(codes: dict[str, Code], people: dict[str, User]) -> None:
    Code.objects.filter(pk=codes["negotiability"].pk).update(shortcut=1)
    url = f"{STUDY}/codes/{codes['explainability'].pk}/"
    response = send(client_for(people["alice"]), "patch", url, {"shortcut": 1})
    assert response.status_code == 400
    assert "shortcut" in response.json()


def test_the_ladder_for_deleting_a_code(codes: dict[str, Code], people: dict[str, User]) -> None:
    url = f"{STUDY}/codes/{codes['explainability'].pk}/"
    climb(people, "delete", url, only_owner(204))
    assert not Code.objects.filter(name="explainability").exists()


def test_a_code_with_codings_or_children_cannot_be_deleted(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    Coding.objects.create(
        document=document, code=codes["negotiability"], coder=people["bob"], start=0, end=5
    )
    client = client_for(people["alice"])
    used = send(client, "delete", f"{STUDY}/codes/{codes['negotiability'].pk}/")
    parent = send(client, "delete", f"{STUDY}/codes/{codes['concept'].pk}/")
    assert used.status_code == parent.status_code == 400
    assert "has 1 coding, so it cannot be deleted" in used.json()["detail"]
    assert "sub-code" in parent.json()["detail"]
    assert Code.objects.count() == 3


# --- Members --------------------------------------------------------------------------------


def test_the_ladder_for_adding_a_member(
    study: Study, people: dict[str, User], django_user_model: type[User]
) -> None:
    django_user_model.objects.create_user("carol", password="pw")
    climb(
        people,
        "post",
        f"{STUDY}/memberships/",
        only_owner(201),
        {"username": "carol", "role": "coder"},
    )
    assert study.memberships.get(user__username="carol").role == "coder"


def test_adding_an_unknown_user_or_a_member_again_is_refused(
    study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["alice"])
    unknown = send(client, "post", f"{STUDY}/memberships/", {"username": "nobody"})
    again = send(client, "post", f"{STUDY}/memberships/", {"username": "bob"})
    assert unknown.json() == {"username": ["There is no user called 'nobody'."]}
    assert again.json() == {"username": ["bob is already a member of this study."]}


def test_the_ladder_for_changing_a_role(study: Study, people: dict[str, User]) -> None:
    victor = study.memberships.get(user__username="victor")
    climb(people, "patch", f"{STUDY}/memberships/{victor.pk}/", only_owner(200), {"role": "coder"})
    victor.refresh_from_db()
    assert victor.role == "coder"


def test_the_ladder_for_removing_a_member(study: Study, people: dict[str, User]) -> None:
    victor = study.memberships.get(user__username="victor")
    climb(people, "delete", f"{STUDY}/memberships/{victor.pk}/", only_owner(204))
    assert not study.memberships.filter(user__username="victor").exists()


def test_the_last_owner_cannot_be_demoted_or_removed(study: Study, people: dict[str, User]) -> None:
    alice = study.memberships.get(user__username="alice")
    client = client_for(people["alice"])

    demoted = send(client, "patch", f"{STUDY}/memberships/{alice.pk}/", {"role": "viewer"})
    removed = send(client, "delete", f"{STUDY}/memberships/{alice.pk}/")

    assert demoted.status_code == removed.status_code == 400
    assert demoted.json() == {"role": ["alice is the only owner; add another owner first."]}
    assert removed.json() == {"role": ["alice is the only owner and cannot be removed."]}
    alice.refresh_from_db()
    assert alice.role == "owner"

    # With a second owner, the first may step down.
    study.memberships.filter(user__username="bob").update(role="owner")
    stepped = send(client, "patch", f"{STUDY}/memberships/{alice.pk}/", {"role": "coder"})
    assert stepped.status_code == 200


# --- Assignments ----------------------------------------------------------------------------


def test_the_ladder_for_assigning(document: Document, people: dict[str, User]) -> None:
    climb(
        people,
        "post",
        f"{STUDY}/assignments/",
        only_owner(201),
        {"document": document.pk, "coder": "bob"},
    )
    assignment = Assignment.objects.get()
    assert (assignment.coder, assignment.assigned_by) == (people["bob"], people["alice"])


def test_assigning_twice_a_viewer_or_another_studys_document_is_refused(
    document: Document, other: Document, people: dict[str, User]
) -> None:
    client = client_for(people["alice"])
    url = f"{STUDY}/assignments/"
    assert send(client, "post", url, {"document": document.pk, "coder": "bob"}).status_code == 201
    twice = send(client, "post", url, {"document": document.pk, "coder": "bob"})
    viewer = send(client, "post", url, {"document": document.pk, "coder": "victor"})
    foreign = send(client, "post", url, {"document": other.pk, "coder": "bob"})
    assert twice.json() == {"coder": ["bob is already assigned this document."]}
    assert list(viewer.json()) == ["coder"]
    assert list(foreign.json()) == ["document"]
    assert Assignment.objects.count() == 1


def test_coders_list_their_own_assignments_and_owners_see_all(
    document: Document, people: dict[str, User]
) -> None:
    Assignment.objects.create(document=document, coder=people["bob"])
    Assignment.objects.create(document=document, coder=people["alice"], status="done")

    def coders(name: str, **params: str) -> list[str]:
        body = client_for(people[name]).get(f"{STUDY}/assignments/", params).json()
        return sorted(a["coder"] for a in body["results"])

    assert coders("alice") == ["alice", "bob"]
    assert coders("alice", coder="bob") == ["bob"]
    assert coders("alice", status="done") == ["alice"]
    assert coders("alice", document=str(document.pk)) == ["alice", "bob"]
    assert coders("bob") == ["bob"]
    assert coders("bob", coder="alice") == []
    assert coders("victor") == []


def test_the_ladder_for_changing_an_assignments_status(
    document: Document, people: dict[str, User]
) -> None:
    mine = Assignment.objects.create(document=document, coder=people["bob"])
    climb(
        people,
        "patch",
        f"{STUDY}/assignments/{mine.pk}/",
        {"mallory": 404, "victor": 403, "bob": 200, "alice": 403},
        {"status": "done"},
    )
    mine.refresh_from_db()
    assert mine.status == "done"


def test_the_ladder_for_removing_an_assignment(document: Document, people: dict[str, User]) -> None:
    assignment = Assignment.objects.create(document=document, coder=people["bob"])
    climb(people, "delete", f"{STUDY}/assignments/{assignment.pk}/", only_owner(204))
    assert not Assignment.objects.exists()


# --- Codings: filters, blind coding, bulk ---------------------------------------------------


@pytest.fixture
def two_coders(document: Document, codes: dict[str, Code], people: dict[str, User]) -> None:
    start, end = span_of(document, "voi valittaa")
    for name, code in [("alice", "explainability"), ("bob", "negotiability")]:
        Coding.objects.create(
            document=document, code=codes[code], coder=people[name], start=start, end=end
        )


def listed(client: Client, document: Document, **params: object) -> list[str]:
    response = client.get(f"{API}/codings/", {"document": document.pk, **params})
    assert response.status_code == 200
    return sorted(c["coder"] for c in response.json())


def test_the_coding_list_filters_by_code_and_coder(
    document: Document, codes: dict[str, Code], two_coders: None, people: dict[str, User]
) -> None:
    client = client_for(people["victor"])
    assert listed(client, document) == ["alice", "bob"]
    assert listed(client, document, coder="bob") == ["bob"]
    assert listed(client, document, code=codes["explainability"].pk) == ["alice"]
    bad = client.get(f"{API}/codings/", {"document": document.pk, "code": "x"})
    assert bad.status_code == 400


def test_with_blind_coding_a_coder_lists_only_their_own_codings(
    document: Document, codes: dict[str, Code], two_coders: None, people: dict[str, User]
) -> None:
    Study.objects.filter(pk=document.study_id).update(blind_coding=True)
    bob = client_for(people["bob"])
    assert listed(bob, document) == ["bob"]
    assert listed(bob, document, coder="alice") == []
    assert listed(client_for(people["victor"]), document) == ["alice", "bob"]
    assert client_for(people["bob"]).get(f"{STUDY}/").json()["counts"]["codings"] == 1
    assert client_for(people["alice"]).get(f"{STUDY}/").json()["counts"]["codings"] == 2


def bulk_items(document: Document, codes: dict[str, Code]) -> list[dict]:
    spans = [span_of(document, w) for w in ("voi valittaa", "Olen samaa mieltä", "Tärkeintä")]
    return [
        {"document": document.pk, "code": codes["negotiability"].pk, "start": s, "end": e}
        for s, e in spans
    ]


def test_the_ladder_for_bulk_codings(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    items = bulk_items(document, codes)
    assert send(client_for(None), "post", BULK, items).status_code in (401, 403)
    outsider = send(client_for(people["mallory"]), "post", BULK, items)
    assert outsider.status_code == 400
    assert outsider.json()["items"]["0"] == {"document": ["No such document."]}
    assert send(client_for(people["victor"]), "post", BULK, items).status_code == 403
    assert not Coding.objects.exists()
    assert send(client_for(people["bob"]), "post", BULK, items).status_code == 201
    assert send(client_for(people["alice"]), "post", BULK, items).status_code == 201
    assert Coding.objects.filter(coder=people["bob"]).count() == 3
    assert Coding.objects.filter(coder=people["alice"]).count() == 3


def test_bulk_codings_are_created_and_existing_ones_reported(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    Assignment.objects.create(document=document, coder=people["bob"])
    items = bulk_items(document, codes)
    client = client_for(people["bob"])
    assert send(client, "post", BULK, items[:1]).status_code == 201

    response = send(client, "post", BULK, {"codings": [*items, items[1]]})

    assert response.status_code == 201
    body = response.json()
    assert [(c["start"], c["end"]) for c in body["created"]] == [
        (i["start"], i["end"]) for i in items[1:]
    ]
    assert [c["id"] for c in body["existing"]] == [Coding.objects.order_by("pk").first().pk]
    assert all(c["coder"] == "bob" and c["id"] for c in body["created"])
    assert Coding.objects.count() == 3
    assert Assignment.objects.get().status == "in_progress"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"end": 10_000}, "end", "end 10000 is past the end of the text"),
        ({"start": -1}, "start", "Ensure this value is greater than or equal to 0."),
        ({"code": "concept"}, "code", "This code groups others and cannot be applied itself."),
        ({"code": None}, "code", "This field may not be null."),
    ],
)
def test_one_bad_bulk_item_refuses_them_all(
    document: Document,
    codes: dict[str, Code],
    people: dict[str, User],
    change: dict,
    field: str,
    message: str,
) -> None:
    items = bulk_items(document, codes)
    items[2] |= {k: (codes[v].pk if k == "code" and v else v) for k, v in change.items()}
    before = db_snapshot()

    response = send(client_for(people["bob"]), "post", BULK, items)

    assert response.status_code == 400
    errors = response.json()["items"]
    assert list(errors) == ["2"]
    assert errors["2"][field][0].startswith(message)
    assert db_snapshot() == before


def test_bulk_codings_refuse_an_empty_or_oversized_batch(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    client = client_for(people["bob"])
    item = bulk_items(document, codes)[0]
    assert send(client, "post", BULK, []).status_code == 400
    too_many = send(client, "post", BULK, [item] * 1001)
    assert too_many.status_code == 400
    assert "At most 1000" in too_many.json()["codings"][0]
    assert not Coding.objects.exists()


def test_a_bulk_item_of_another_study_is_refused_by_index(
    document: Document, codes: dict[str, Code], other: Document, people: dict[str, User]
) -> None:
    items = bulk_items(document, codes)
    items.append({"document": other.pk, "code": codes["negotiability"].pk, "start": 0, "end": 4})
    response = send(client_for(people["bob"]), "post", BULK, items)
    assert response.status_code == 400
    assert response.json() == {"items": {"3": {"document": ["No such document."]}}}
    assert not Coding.objects.exists()


# --- Imports --------------------------------------------------------------------------------

ROSTER_URL = f"{STUDY}/imports/roster/"
TRANSCRIPTS_URL = f"{STUDY}/imports/transcripts/"


def roster_file(content: str = ROSTER) -> SimpleUploadedFile:
    return SimpleUploadedFile("roster.csv", content.encode(), content_type="text/csv")


def transcript_file(name: str = "FI-1.txt", content: str = FI_TXT) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="text/plain")


def test_the_ladder_for_importing_a_roster(study: Study, people: dict[str, User]) -> None:
    got = {}
    for name in LADDER:
        client = client_for(None if name == "anonymous" else people[name])
        got[name] = client.post(ROSTER_URL, {"file": roster_file()}).status_code
    assert got.pop("anonymous") in (401, 403)
    assert got == {"mallory": 404, "victor": 403, "bob": 403, "alice": 200}


def test_a_roster_preview_writes_nothing_and_confirming_applies_it(
    study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["alice"])
    before = db_snapshot()

    preview = client.post(ROSTER_URL, {"file": roster_file()})

    assert preview.status_code == 200
    body = preview.json()
    assert body["applied"] is False
    assert body["workshops_new"] == ["FI-1", "GB-1"]
    assert body["participants_new"] == ["P01", "P02", "P03", "P04", "P05"]
    assert body["summary"].startswith("Roster roster.csv: 2 new workshops, 5 new participants")
    assert db_snapshot() == before

    confirmed = client.post(f"{ROSTER_URL}?confirm=1", {"file": roster_file()})

    assert confirmed.status_code == 200
    assert confirmed.json()["applied"] is True
    assert study.participants.count() == 5
    again = client.post(ROSTER_URL, {"file": roster_file(), "confirm": "true"}).json()
    assert again["applied"] is False and again["summary"].startswith("No changes")


def test_a_bad_roster_is_refused_with_its_one_line_message(
    study: Study, people: dict[str, User]
) -> None:
    before = db_snapshot()
    bad = ROSTER.replace("P05,GB-1,GB", "P05,GB-1,Atlantis")
    response = client_for(people["alice"]).post(
        f"{ROSTER_URL}?confirm=1", {"file": roster_file(bad)}
    )
    assert response.status_code == 400
    [message] = response.json()["file"]
    assert message.startswith("roster.csv, row 6, column 'country'")
    assert db_snapshot() == before


def test_a_roster_import_needs_a_multipart_file(study: Study, people: dict[str, User]) -> None:
    client = client_for(people["alice"])
    assert client.post(ROSTER_URL, {}).status_code == 400
    assert send(client, "post", ROSTER_URL, {"file": "x"}).status_code == 415


def test_the_ladder_for_importing_transcripts(roster_study: Study, people: dict[str, User]) -> None:
    got = {}
    for name in LADDER:
        client = client_for(None if name == "anonymous" else people[name])
        data = {"workshop": "FI-1", "files": [transcript_file()]}
        got[name] = client.post(TRANSCRIPTS_URL, data).status_code
    assert got.pop("anonymous") in (401, 403)
    assert got == {"mallory": 404, "victor": 403, "bob": 403, "alice": 200}


def test_a_transcript_preview_writes_nothing_and_confirming_imports(
    roster_study: Study, people: dict[str, User]
) -> None:
    client = client_for(people["alice"])
    before = db_snapshot()

    preview = client.post(TRANSCRIPTS_URL, {"workshop": "FI-1", "files": [transcript_file()]})

    assert preview.status_code == 200
    [file] = preview.json()["files"]
    assert (file["title"], file["status"], file["turns"], file["unmatched"]) == (
        "FI-1",
        "new",
        4,
        [],
    )
    speakers = {s["label"]: (s["match"], s["participant"]) for s in file["speakers"]}
    assert speakers == {
        "Fasilitaattori": ("facilitator", None),
        "Aino": ("alias", "P01"),
        "Eero": ("alias", "P02"),
        "P03": ("code", "P03"),
    }
    assert db_snapshot() == before

    confirmed = client.post(
        TRANSCRIPTS_URL, {"workshop": "FI-1", "files": [transcript_file()], "confirm": "1"}
    )

    assert confirmed.status_code == 200
    [outcome] = confirmed.json()["documents"]
    document = Document.objects.get(pk=outcome["id"])
    assert (outcome["status"], outcome["turns"]) == ("created", document.turns.count())
    assert document.imported_by == people["alice"]
    assert confirmed.json()["summary"].startswith("Imported 1 transcript")


def test_unmatched_speakers_show_in_the_preview_and_a_mapping_resolves_them(
    roster_study: Study, people: dict[str, User]
) -> None:
    text = FI_TXT.replace("Eero:", "Stranger:")
    client = client_for(people["alice"])

    preview = client.post(
        TRANSCRIPTS_URL, {"workshop": "FI-1", "files": [transcript_file(content=text)]}
    ).json()
    refused = client.post(
        f"{TRANSCRIPTS_URL}?confirm=1",
        {"workshop": "FI-1", "files": [transcript_file(content=text)]},
    )
    mapped = client.post(
        f"{TRANSCRIPTS_URL}?confirm=1",
        {
            "workshop": "FI-1",
            "files": [transcript_file(content=text)],
            "mapping": json.dumps({"Stranger": "P02"}),
        },
    )

    assert preview["files"][0]["unmatched"] == ["Stranger"]
    assert refused.status_code == 400
    assert "speakers not in the roster: 'Stranger'" in refused.json()["file"][0]
    assert mapped.status_code == 200
    assert Document.objects.get().turns.filter(participant__code="P02").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"workshop": "XX-9"}, "workshop"),
        ({"language": "not a tag"}, "language"),
        ({"mapping": "[1, 2]"}, "mapping"),
        ({"mapping": json.dumps({"Eero": "P99"})}, "mapping"),
    ],
)
def test_bad_transcript_import_fields_are_refused(
    roster_study: Study, people: dict[str, User], data: dict, field: str
) -> None:
    before = db_snapshot()
    response = client_for(people["alice"]).post(
        f"{TRANSCRIPTS_URL}?confirm=1",
        {"workshop": "FI-1", "files": [transcript_file()], **data},
    )
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert db_snapshot() == before


def test_an_empty_transcript_is_refused_as_a_file_error(
    roster_study: Study, people: dict[str, User]
) -> None:
    response = client_for(people["alice"]).post(
        TRANSCRIPTS_URL, {"workshop": "FI-1", "files": [transcript_file("empty.txt", "  \n")]}
    )
    assert response.status_code == 400
    assert response.json() == {"file": ["empty.txt: is empty"]}


def test_existing_api_paths_still_resolve(document: Document, people: dict[str, User]) -> None:
    client = client_for(people["alice"])
    # Reached the reliability view (which wants two coders), not a router's 404.
    reliability = client.get(f"{STUDY}/reliability/")
    assert reliability.status_code == 400 and "coders" in reliability.json()
    assert client.get(f"{STUDY}/exports/codebook/").status_code == 200
