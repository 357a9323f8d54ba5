"""The one write path for codings (coding.services.apply_codings): what it costs, and that every
caller (the API one at a time and in bulk, accepting a suggestion, coding search results) gets
the same checks and the same side effects."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from coding.models import Assignment, Code, Coding
from coding.services import CodingSpan, CodingsRefused, apply_codings
from studies.models import Document, Study
from studies.services import import_transcripts
from studies.tokens import issue_token
from tests.helpers import client_for
from tests.test_transcript_import import FI_TXT

CODINGS = "/api/v1/codings/"


def fi_document(study: Study, title: str = "FI-1.txt", text: str = FI_TXT) -> Document:
    fi = study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(study=study, workshop=fi, files=[(title, text.encode())])
    return outcome.document


def post(client: Client, url: str, data: object) -> object:
    return client.post(url, json.dumps(data), content_type="application/json")


@pytest.mark.django_db(transaction=True)
def test_saving_one_coding_with_a_token_costs_at_most_four_statements(
    roster_study: Study, people: dict[str, User]
) -> None:
    """Served as in production (autocommit, no transaction around the request): the token, one
    query checking document, role and code, the insert, and the assignment's status the first
    time. doccano, the fastest Django annotation tool we measured, needs about ten."""
    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    Assignment.objects.create(document=document, coder=people["bob"])
    _token, secret = issue_token(people["bob"], name="script")
    client = Client(HTTP_AUTHORIZATION=f"Token {secret}")
    # The first request also records the token's use (at most once a minute).
    first = {"document": document.pk, "code": code.pk, "start": 0, "end": 5}
    assert post(client, CODINGS, first).status_code == 201

    for start in (6, 12):
        data = {"document": document.pk, "code": code.pk, "start": start, "end": start + 4}
        with CaptureQueriesContext(connection) as queries:
            response = post(client, CODINGS, data)
        assert response.status_code == 201
        assert len(queries) <= 4, [q["sql"] for q in queries]
    assert Assignment.objects.get().status == Assignment.Status.IN_PROGRESS


def test_a_bulk_request_is_checked_in_the_same_few_queries_however_many_items(
    roster_study: Study, people: dict[str, User], django_assert_max_num_queries: object
) -> None:
    documents = [fi_document(roster_study, f"FI-{n}.txt") for n in range(3)]
    code = Code.objects.create(study=roster_study, name="negotiability")
    bob = client_for(people["bob"])
    for size, offset in ((2, 0), (100, 10)):
        items = [
            {
                "document": documents[i % 3].pk,
                "code": code.pk,
                "start": offset + i // 3,
                "end": offset + i // 3 + 3,
            }
            for i in range(size)
        ]
        # session + user, one check for the whole batch, and the insert in a savepoint (the
        # test's transaction) whatever the batch's size.
        with django_assert_max_num_queries(6):
            response = post(bob, "/api/v1/codings/bulk/", items)
        assert response.status_code == 201, response.content
        assert len(response.json()["created"]) == size


def test_accepting_a_suggestion_starts_the_coders_assignment(
    roster_study: Study, people: dict[str, User]
) -> None:
    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    Assignment.objects.create(document=document, coder=people["bob"])
    response = post(
        client_for(people["bob"]),
        "/api/v1/suggestions/",
        {"document": document.pk, "code": code.pk, "start": 0, "end": 5, "verdict": "accepted"},
    )
    assert response.status_code == 201
    assert Assignment.objects.get().status == Assignment.Status.IN_PROGRESS


def test_coding_search_results_starts_the_coders_assignment_and_refuses_a_foreign_document(
    roster_study: Study, people: dict[str, User]
) -> None:
    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    Assignment.objects.create(document=document, coder=people["bob"])
    other = Study.objects.create(slug="other", name="Other")
    other.memberships.create(user=people["bob"], role="coder")
    foreign = Document.objects.create(study=other, title="Elsewhere", text="x" * 50, sha256="-")
    url = reverse("coding:code_results", args=[roster_study.slug])
    bob = client_for(people["bob"])

    refused = bob.post(url, {"result": [f"{foreign.pk}:0:5"], "code": str(code.pk)})
    assert refused.status_code == 400
    assert f"{foreign.pk}:0:5: No such document." in refused.content.decode()
    assert not Coding.objects.exists()

    bob.post(url, {"result": [f"{document.pk}:0:5"], "code": str(code.pk)})
    assert Coding.objects.filter(coder=people["bob"]).count() == 1
    assert Assignment.objects.get().status == Assignment.Status.IN_PROGRESS


def test_apply_codings_reports_every_bad_span_and_writes_nothing(
    roster_study: Study, people: dict[str, User]
) -> None:
    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    group = Code.objects.create(study=roster_study, name="Concept", codable=False)
    spans = [
        CodingSpan(document.pk, code.pk, 0, 5),
        CodingSpan(document.pk, code.pk, 5, 5),
        CodingSpan(document.pk, group.pk, 0, 5),
        CodingSpan(document.pk, code.pk, 0, document.text_length + 1),
        CodingSpan(document.pk, code.pk, 0, 5, consensus=True),
    ]
    with pytest.raises(CodingsRefused) as refused:
        apply_codings(user=people["bob"], spans=spans)
    assert refused.value.errors == {
        1: {"end": ["end must be greater than start."]},
        2: {"code": ["This code groups others and cannot be applied itself."]},
        3: {
            "end": [
                f"end {document.text_length + 1} is past the end of the text "
                f"({document.text_length})."
            ]
        },
        4: {"consensus": ["Only the study's owners write the consensus layer."]},
    }
    assert not Coding.objects.exists()


def test_apply_codings_keeps_existing_codings_once_and_says_which(
    roster_study: Study, people: dict[str, User]
) -> None:
    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    first = apply_codings(user=people["bob"], spans=[CodingSpan(document.pk, code.pk, 0, 5)])
    again = apply_codings(
        user=people["bob"],
        spans=[CodingSpan(document.pk, code.pk, 0, 5), CodingSpan(document.pk, code.pk, 6, 9)],
    )
    assert [c.pk for c in again.existing] == [first.created[0].pk]
    assert [(c.start, c.end) for c in again.created] == [(6, 9)]
    assert Coding.objects.count() == 2


def test_apply_codings_without_rows_checks_the_same_and_counts_what_it_wrote(
    roster_study: Study, people: dict[str, User]
) -> None:
    """The path imports take (rows=False): one statement whatever the number of spans, the
    same refusals, existing spans kept once, and the assignment started."""
    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    Assignment.objects.create(document=document, coder=people["bob"])
    kept = apply_codings(user=people["bob"], spans=[CodingSpan(document.pk, code.pk, 0, 5)])
    spans = [CodingSpan(document.pk, code.pk, n, n + 3) for n in range(0, 60, 3)]
    with pytest.raises(CodingsRefused):
        apply_codings(
            user=people["bob"],
            spans=[*spans, CodingSpan(document.pk, code.pk, 3, 2)],
            rows=False,
        )
    assert Coding.objects.count() == 1
    with CaptureQueriesContext(connection) as queries:
        applied = apply_codings(
            user=people["bob"], spans=[*spans, CodingSpan(document.pk, code.pk, 0, 5)], rows=False
        )
    assert (applied.created_count, applied.existing_count) == (20, 1)
    assert applied.created == applied.existing == []
    assert len([q for q in queries if "INSERT" in q["sql"]]) == 1
    written = Coding.objects.filter(coder=people["bob"]).exclude(pk=kept.created[0].pk)
    assert sorted(written.values_list("start", "end")) == [(n, n + 3) for n in range(0, 60, 3)]
    assert all(c.created_at is not None and not c.consensus for c in written)
    assert Assignment.objects.get().status == Assignment.Status.IN_PROGRESS
    again = apply_codings(user=people["bob"], spans=spans, rows=False)
    assert (again.created_count, again.existing_count) == (0, 20)


def test_apply_codings_without_rows_leaves_an_assignment_waiting_without_own_codings(
    roster_study: Study, people: dict[str, User]
) -> None:
    """Consensus codings are not the coder's own work, so they start no assignment."""
    roster_study.memberships.filter(user=people["bob"]).update(role="owner")
    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    Assignment.objects.create(document=document, coder=people["bob"])
    applied = apply_codings(
        user=people["bob"], spans=[CodingSpan(document.pk, code.pk, 0, 5, True)], rows=False
    )
    assert applied.created_count == 1
    assert Assignment.objects.get().status == Assignment.Status.NOT_STARTED


def test_a_transcript_with_one_coding_cannot_be_replaced_and_says_so_in_the_singular(
    roster_study: Study, people: dict[str, User]
) -> None:
    from studies.importers import FileRejected

    document = fi_document(roster_study)
    code = Code.objects.create(study=roster_study, name="negotiability")
    apply_codings(user=people["bob"], spans=[CodingSpan(document.pk, code.pk, 0, 5)])
    with pytest.raises(FileRejected, match="and 1 coding refers to its text, so it cannot be"):
        fi_document(roster_study, text=FI_TXT + "Aino: Vielä yksi asia.\n")
