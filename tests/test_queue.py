"""Assignments, the coder's queue, memos and the blind-coding switch."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from coding.models import Assignment, Code, Coding, Memo
from studies.models import Document, Study
from tests.helpers import client_for


def test_the_owner_assigns_documents_and_the_coder_sees_them_in_the_queue(
    document: Document, people: dict[str, User]
) -> None:
    url = reverse("coding:assignments", args=["adm"])
    assert client_for(people["bob"]).get(url).status_code == 403
    assert client_for(people["mallory"]).get(url).status_code == 404

    response = client_for(people["alice"]).post(
        url, {f"a-{document.pk}-{people['bob'].pk}": "on"}, follow=True
    )

    assert "Assignments saved: 1 added, 0 removed." in response.content.decode()
    queue = client_for(people["bob"]).get(reverse("coding:queue", args=["adm"]))
    html = queue.content.decode()
    assert "FI-1" in html
    assert "1 not started, 0 in progress, 0 done." in html
    # Viewers cannot be assigned (they cannot code).
    client_for(people["alice"]).post(url, {f"a-{document.pk}-{people['victor'].pk}": "on"})
    assert not Assignment.objects.filter(coder=people["victor"]).exists()


def test_unticking_removes_the_assignment_but_not_the_codings(
    document: Document, people: dict[str, User]
) -> None:
    Assignment.objects.create(document=document, coder=people["bob"])
    code = Code.objects.create(study=document.study, name="accuracy")
    Coding.objects.create(document=document, code=code, coder=people["bob"], start=0, end=5)

    client_for(people["alice"]).post(reverse("coding:assignments", args=["adm"]), {})

    assert not Assignment.objects.exists()
    assert Coding.objects.count() == 1


def test_the_queue_shows_how_much_of_each_document_is_coded(
    document: Document, people: dict[str, User]
) -> None:
    Assignment.objects.create(document=document, coder=people["bob"])
    code = Code.objects.create(study=document.study, name="accuracy")
    sentences = list(document.sentences.order_by("seq"))
    # Two of seven sentences: one coding inside the first, one spanning into the third.
    Coding.objects.create(
        document=document,
        code=code,
        coder=people["bob"],
        start=sentences[0].start,
        end=sentences[0].start + 3,
    )
    Coding.objects.create(
        document=document,
        code=code,
        coder=people["alice"],
        start=sentences[4].start,
        end=sentences[5].end,
    )
    Coding.objects.create(
        document=document,
        code=code,
        coder=people["bob"],
        start=sentences[2].start,
        end=sentences[2].end,
    )

    response = client_for(people["bob"]).get(reverse("coding:queue", args=["adm"]))

    [(_assignment, share)] = response.context["rows"]
    assert share == pytest.approx(2 / 7)
    assert "29% of sentences" in response.content.decode()


def test_a_coder_updates_the_status_of_their_own_assignment_only(
    document: Document, people: dict[str, User]
) -> None:
    mine = Assignment.objects.create(document=document, coder=people["bob"])
    alices = Assignment.objects.create(document=document, coder=people["alice"])
    url = reverse("coding:queue", args=["adm"])

    client_for(people["bob"]).post(url, {"assignment": mine.pk, "status": "done"})
    refused = client_for(people["bob"]).post(url, {"assignment": alices.pk, "status": "done"})

    mine.refresh_from_db()
    alices.refresh_from_db()
    assert mine.status == "done"
    assert refused.status_code == 404
    assert alices.status == "not_started"
    assert client_for(people["victor"]).post(url, {"assignment": mine.pk}).status_code == 403


def test_memos_on_the_study_and_a_document(document: Document, people: dict[str, User]) -> None:
    url = reverse("coding:memos", args=["adm"])
    client_for(people["bob"]).post(url, {"text": "Negotiability keeps coming up."})
    client_for(people["bob"]).post(url, {"text": "Good example.", "document": document.pk})
    assert client_for(people["victor"]).post(url, {"text": "x"}).status_code == 403

    html = client_for(people["victor"]).get(url).content.decode()

    assert "Negotiability keeps coming up." in html
    assert "Good example." in html
    assert Memo.objects.get(text="Good example.").document == document


def test_blind_coding_hides_memos_on_other_coders_codings(
    document: Document, people: dict[str, User]
) -> None:
    code = Code.objects.create(study=document.study, name="accuracy")
    alices = Coding.objects.create(
        document=document, code=code, coder=people["alice"], start=0, end=5
    )
    Memo.objects.create(
        study=document.study, author=people["alice"], coding=alices, text="Alice's hunch"
    )
    Study.objects.filter(pk=document.study_id).update(blind_coding=True)

    html = client_for(people["bob"]).get(reverse("coding:memos", args=["adm"])).content.decode()

    assert "Alice&#x27;s hunch" not in html


def test_only_an_owner_turns_blind_coding_on(document: Document, people: dict[str, User]) -> None:
    url = reverse("coding:blind_coding", args=["adm"])
    assert client_for(people["bob"]).post(url, {"blind": "on"}).status_code == 403

    response = client_for(people["alice"]).post(url, {"blind": "on"}, follow=True)

    assert "Blind coding is on" in response.content.decode()
    assert Study.objects.get(slug="adm").blind_coding is True
