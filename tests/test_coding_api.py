"""The coding endpoints behind the coding view: validation, permissions, blind coding."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from coding.models import Assignment, Code, Coding, Memo, SuggestionDecision
from studies.models import Document, Study, Workshop
from studies.services import import_transcripts
from tests.helpers import client_for
from tests.test_transcript_import import FI_TXT


def post(client: Client, url: str, data: dict) -> object:
    return client.post(url, json.dumps(data), content_type="application/json")


def span_of(document: Document, words: str) -> tuple[int, int]:
    start = document.text.index(words)
    return start, start + len(words)


CODINGS = "/api/v1/codings/"


def test_a_coder_applies_a_code_and_gets_the_coding_back(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    start, end = span_of(document, "voi valittaa")

    response = post(
        client_for(people["bob"]),
        CODINGS,
        {"document": document.pk, "code": codes["negotiability"].pk, "start": start, "end": end},
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["coder"], body["start"], body["end"], body["consensus"]) == (
        "bob",
        start,
        end,
        False,
    )
    coding = Coding.objects.get(pk=body["id"])
    assert document.text[coding.start : coding.end] == "voi valittaa"
    assert coding.coder == people["bob"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"start": -1}, "start", "Ensure this value is greater than or equal to 0."),
        ({"start": 10, "end": 10}, "end", "end must be greater than start."),
        ({"end": 10_000}, "end", "end 10000 is past the end of the text"),
        ({"code": "concept"}, "code", "This code groups others and cannot be applied itself."),
        ({"consensus": True}, "consensus", "Only the study's owners write the consensus layer."),
    ],
)
def test_bad_codings_are_refused_with_a_field_message(
    document: Document, codes: dict[str, Code], people: dict[str, User], change, field, message
) -> None:
    data = {"document": document.pk, "code": codes["negotiability"].pk, "start": 0, "end": 5}
    data |= {k: (codes[v].pk if k == "code" else v) for k, v in change.items()}

    response = post(client_for(people["bob"]), CODINGS, data)

    assert response.status_code == 400
    assert response.json()[field][0].startswith(message)
    assert not Coding.objects.exists()


def test_a_code_of_another_study_is_refused(document: Document, people: dict[str, User]) -> None:
    other = Study.objects.create(slug="other", name="Other")
    foreign = Code.objects.create(study=other, name="foreign")
    response = post(
        client_for(people["bob"]),
        CODINGS,
        {"document": document.pk, "code": foreign.pk, "start": 0, "end": 5},
    )
    assert response.status_code == 400
    assert response.json() == {"code": ["No such code in this study."]}


def test_the_permission_ladder_for_creating_a_coding(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    data = {"document": document.pk, "code": codes["negotiability"].pk, "start": 0, "end": 5}
    assert post(client_for(None), CODINGS, data).status_code in (401, 403)
    assert post(client_for(people["mallory"]), CODINGS, data).status_code == 404
    assert post(client_for(people["victor"]), CODINGS, data).status_code == 403
    assert post(client_for(people["bob"]), CODINGS, data).status_code == 201
    assert post(client_for(people["alice"]), CODINGS, data).status_code == 201
    assert Coding.objects.count() == 2


def test_the_same_coding_twice_is_stored_once(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    data = {"document": document.pk, "code": codes["negotiability"].pk, "start": 0, "end": 5}
    bob = client_for(people["bob"])
    first = post(bob, CODINGS, data)
    second = post(bob, CODINGS, data)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Coding.objects.count() == 1


def test_overlapping_codings_are_allowed(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    bob = client_for(people["bob"])
    for code, (start, end) in (("negotiability", (0, 30)), ("explainability", (10, 40))):
        data = {"document": document.pk, "code": codes[code].pk, "start": start, "end": end}
        assert post(bob, CODINGS, data).status_code == 201
    assert Coding.objects.count() == 2


def test_only_the_coder_removes_or_recodes_a_coding(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    coding = Coding.objects.create(
        document=document, code=codes["negotiability"], coder=people["bob"], start=0, end=5
    )
    url = f"{CODINGS}{coding.pk}/"
    assert client_for(people["mallory"]).delete(url).status_code == 404
    assert client_for(people["alice"]).delete(url).status_code == 403
    recode = client_for(people["bob"]).patch(
        url, json.dumps({"code": codes["explainability"].pk}), content_type="application/json"
    )
    assert recode.status_code == 200
    coding.refresh_from_db()
    assert coding.code == codes["explainability"]
    moved = client_for(people["bob"]).patch(
        url, json.dumps({"start": 1}), content_type="application/json"
    )
    assert moved.status_code == 400
    assert moved.json() == {"start": ["Only the code of a coding can change."]}
    assert client_for(people["bob"]).delete(url).status_code == 204
    assert not Coding.objects.exists()


def test_blind_coding_withholds_other_coders_codings_from_a_coder(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    carol = User.objects.create_user("carol", password="pw-carol")
    document.study.memberships.create(user=carol, role="coder")
    mine = Coding.objects.create(
        document=document, code=codes["negotiability"], coder=people["bob"], start=0, end=5
    )
    theirs = Coding.objects.create(
        document=document, code=codes["negotiability"], coder=carol, start=6, end=12
    )
    Study.objects.filter(pk=document.study_id).update(blind_coding=True)

    listed = client_for(people["bob"]).get(CODINGS, {"document": document.pk}).json()
    assert [c["id"] for c in listed] == [mine.pk]
    assert client_for(people["bob"]).get(f"{CODINGS}{theirs.pk}/").status_code == 404
    page = client_for(people["bob"]).get(
        reverse("coding:workbench", args=["adm", document.pk]) + "?layer=all"
    )
    data = page.context["data"]
    assert [c["id"] for c in data["codings"]] == [mine.pk]
    assert data["layer"] == "mine"
    assert "carol" not in page.content.decode()
    # The owner still sees everyone's codings.
    owner = client_for(people["alice"]).get(CODINGS, {"document": document.pk}).json()
    assert {c["id"] for c in owner} == {mine.pk, theirs.pk}


def test_without_blind_coding_coders_see_each_other(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    Coding.objects.create(
        document=document, code=codes["negotiability"], coder=people["alice"], start=0, end=5
    )
    page = client_for(people["bob"]).get(
        reverse("coding:workbench", args=["adm", document.pk]) + "?layer=all"
    )
    assert [c["coder"] for c in page.context["data"]["codings"]] == ["alice"]


def test_the_workbench_page_carries_turns_codes_and_codings(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    coding = Coding.objects.create(
        document=document, code=codes["negotiability"], coder=people["bob"], start=0, end=5
    )
    Memo.objects.create(study=document.study, author=people["bob"], coding=coding, text="Why?")
    response = client_for(people["bob"]).get(reverse("coding:workbench", args=["adm", document.pk]))
    data = response.context["data"]
    assert data["canCode"] is True
    assert data["layer"] == "mine"
    assert data["codings"][0] | {"created": ""} == {
        "id": coding.pk,
        "code": codes["negotiability"].pk,
        "coder": "bob",
        "start": 0,
        "end": 5,
        "consensus": False,
        "created": "",
        "memo": "Why?",
    }
    assert {c["path"] for c in data["codes"]} == {
        "Concept",
        "Concept/negotiability",
        "Concept/explainability",
    }
    assert len(data["sentences"]) == document.sentences.count()
    html = response.content.decode()
    assert 'id="wb-data"' in html
    assert "Minusta algoritmin pitäisi osata selittää päätöksensä." in html
    viewer = client_for(people["victor"]).get(
        reverse("coding:workbench", args=["adm", document.pk])
    )
    assert viewer.context["data"]["canCode"] is False
    assert (
        client_for(people["mallory"])
        .get(reverse("coding:workbench", args=["adm", document.pk]))
        .status_code
        == 404
    )


def test_the_owner_writes_the_consensus_layer(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    data = {
        "document": document.pk,
        "code": codes["negotiability"].pk,
        "start": 0,
        "end": 5,
        "consensus": True,
    }
    assert post(client_for(people["alice"]), CODINGS, data).status_code == 201
    assert Coding.objects.get().consensus is True
    page = client_for(people["victor"]).get(
        reverse("coding:workbench", args=["adm", document.pk]) + "?layer=consensus"
    )
    assert len(page.context["data"]["codings"]) == 1


def test_the_first_coding_starts_an_assignment(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    assignment = Assignment.objects.create(document=document, coder=people["bob"])
    post(
        client_for(people["bob"]),
        CODINGS,
        {"document": document.pk, "code": codes["negotiability"].pk, "start": 0, "end": 5},
    )
    assignment.refresh_from_db()
    assert assignment.status == "in_progress"


def test_saving_a_coding_costs_the_same_queries_for_a_long_document(
    roster_study: Study,
    codes: dict[str, Code],
    people: dict[str, User],
    django_assert_num_queries,
) -> None:
    fi = Workshop.objects.get(study=roster_study, code="FI-1")
    long_text = "Aino: " + "Minusta tämä on tärkeää. " * 4000
    documents = [
        import_transcripts(study=roster_study, workshop=fi, files=[(name, text.encode())])[
            0
        ].document
        for name, text in (("short.txt", FI_TXT), ("long.txt", long_text))
    ]
    Coding.objects.bulk_create(
        Coding(
            document=documents[1],
            code=codes["explainability"],
            coder=people["bob"],
            start=i,
            end=i + 3,
        )
        for i in range(0, 3000, 3)
    )
    bob = client_for(people["bob"])
    post(
        bob,
        CODINGS,
        {"document": documents[0].pk, "code": codes["negotiability"].pk, "start": 0, "end": 2},
    )
    for document in documents:
        data = {"document": document.pk, "code": codes["negotiability"].pk, "start": 6, "end": 9}
        # session + user, one query checking the document, the role and the code, and the
        # insert (in a savepoint here, because each test runs inside a transaction).
        with django_assert_num_queries(6):
            assert post(bob, CODINGS, data).status_code == 201


def test_a_memo_on_a_coding_through_the_api(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    coding = Coding.objects.create(
        document=document, code=codes["negotiability"], coder=people["bob"], start=0, end=5
    )
    bob = client_for(people["bob"])
    created = post(bob, "/api/v1/memos/", {"study": "adm", "coding": coding.pk, "text": "Ironic?"})
    assert created.status_code == 201
    memo = Memo.objects.get()
    assert (memo.author, memo.coding, memo.text) == (people["bob"], coding, "Ironic?")
    edit = client_for(people["alice"]).patch(
        f"/api/v1/memos/{memo.pk}/", json.dumps({"text": "no"}), content_type="application/json"
    )
    assert edit.status_code == 403
    viewer = post(client_for(people["victor"]), "/api/v1/memos/", {"study": "adm", "text": "x"})
    assert viewer.status_code == 403
    empty = post(bob, "/api/v1/memos/", {"study": "adm", "text": "  "})
    assert empty.json() == {"text": ["This field may not be blank."]}


def test_accepting_a_suggestion_creates_the_coding_and_rejecting_records_it(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    bob = client_for(people["bob"])
    base = {"document": document.pk, "code": codes["negotiability"].pk}
    accepted = post(
        bob, "/api/v1/suggestions/", base | {"start": 0, "end": 5, "verdict": "accepted"}
    )
    rejected = post(
        bob, "/api/v1/suggestions/", base | {"start": 6, "end": 9, "verdict": "rejected"}
    )
    assert accepted.status_code == rejected.status_code == 201
    assert accepted.json()["coding"]["start"] == 0
    assert rejected.json()["coding"] is None
    assert list(Coding.objects.values_list("start", "end")) == [(0, 5)]
    assert set(SuggestionDecision.objects.values_list("start", "verdict")) == {
        (0, "accepted"),
        (6, "rejected"),
    }
    outsider = post(
        client_for(people["mallory"]),
        "/api/v1/suggestions/",
        base | {"start": 0, "end": 5, "verdict": "rejected"},
    )
    assert outsider.status_code == 404
