"""Pseudonymisation in the browser and the API: the personal data review of a transcript
import (findings in context, proposed replacements, decisions one by one and per kind, bad
replacements refused with nothing written), the privacy page (who may open it, the private list
never shown back, the mapping kept or deleted) and the API's two endpoints."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from studies.models import (
    AuditEvent,
    Document,
    Membership,
    PendingImport,
    PrivateName,
    Pseudonym,
    Study,
)
from studies.pseudonymise import add_private_names
from studies.services import import_roster
from tests.helpers import client_for, db_snapshot
from tests.test_pseudonymise import DE_TEXT, EN_TEXT, FI_TEXT, ROSTER


@pytest.fixture
def study(people: dict[str, User]) -> Study:
    """Alice owns it, Bob codes, Victor views; Mallory is an outsider. Workshops FI-1, DE-1
    and GB-1 with participants who go by their first names."""
    study = Study.objects.create(slug="priv", name="Privacy", languages="fi, de, en")
    for name, role in (("alice", "owner"), ("bob", "coder"), ("victor", "viewer")):
        Membership.objects.create(study=study, user=people[name], role=role)
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    return study


@pytest.fixture
def alice(people: dict[str, User]) -> Client:
    return client_for(people["alice"])


def upload(client: Client, study: Study, workshop: str, filename: str, text: str) -> str:
    """Upload one transcript on the import page; the review page's address."""
    response = client.post(
        reverse("studies:import", args=[study.slug]),
        {
            "transcripts": "1",
            "t-workshop": study.workshops.get(code=workshop).pk,
            "t-files": [SimpleUploadedFile(filename, text.encode())],
            "t-language": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def form_state(response: object) -> dict[str, str]:
    """What the browser would post from the review page as shown: every ticked box, every
    replacement field, and the list of rows shown."""
    data: dict[str, str] = {}
    for row in response.context["rows"]:
        personal = row["personal"]
        data[f"pd{personal.index}-shown"] = personal.shown
        for group in personal.groups:
            for finding_row in group.rows:
                if finding_row.replace:
                    data[finding_row.field] = "replace"
                data[finding_row.field + "-with"] = finding_row.value
    return data


def rows_by_text(response: object) -> dict[str, object]:
    return {
        row.finding.text: row
        for group in response.context["rows"][0]["personal"].groups
        for row in group.rows
    }


# --- The review ----------------------------------------------------------------------------


def test_the_review_shows_each_finding_in_context_with_its_replacement(
    study: Study, alice: Client
) -> None:
    review = alice.get(upload(alice, study, "GB-1", "GB-1.txt", EN_TEXT))
    html = review.content.decode()
    assert "Personal data" in html
    # In context, highlighted; the proposed replacement in its field.
    assert "Callum&#x27;s loan was refused, and <mark>Dr. Okafor</mark> said so too." in html
    rows = rows_by_text(review)
    assert rows["Dr. Okafor"].value == "[P05]" and rows["Dr. Okafor"].replace
    assert rows["callum.b@example.co.uk"].value == "[EMAIL]"
    assert rows["(0161) 496 0000"].value == "[PHONE]"
    assert rows["www.example.org/loans"].value == "[URL]"
    for label in ("Participant names", "E-mail addresses", "Phone numbers", "Web addresses"):
        assert f"<strong>{label}</strong>" in html
    assert "Replace all" in html and "Keep all" in html
    # Speaker labels: shown as always replaced, not offered as a choice.
    assert "Speaker labels" in html
    labels = review.context["rows"][0]["personal"].labels
    assert [(lb.text, lb.replacement, lb.count) for lb in labels] == [
        ("Amara", "[P05]", 1),
        ("Callum", "[P06]", 1),
    ]
    assert rows["Amara"].finding.start == EN_TEXT.index("Amara,")  # in speech: a choice
    assert re.search(
        r'<input type="checkbox" checked disabled aria-label="Speaker label “Amara”', html
    )
    # The turns shown are those that would be stored.
    assert "Thanks. [P06]" in html and "(0161) 496 0000" not in html.split("<h3>Personal data")[0]
    assert not Document.objects.exists()


def test_an_owner_changes_one_dismisses_one_keeps_a_kind_and_imports(
    study: Study, alice: Client
) -> None:
    review_url = upload(alice, study, "GB-1", "GB-1.txt", EN_TEXT)
    review = alice.get(review_url)
    rows = rows_by_text(review)
    data = form_state(review)
    data[rows["Dr. Okafor"].field + "-with"] = "the doctor"  # changed
    del data[rows["www.example.org/loans"].field]  # dismissed

    # A bulk button: keep every phone number; the page shows the decisions applied.
    updated = alice.post(review_url, {**data, "bulk": "0:phone:dismiss"})
    assert updated.status_code == 200
    rows = rows_by_text(updated)
    assert not rows["(0161) 496 0000"].replace
    assert not rows["www.example.org/loans"].replace
    assert rows["Dr. Okafor"].value == "the doctor" and rows["Dr. Okafor"].replace
    html = updated.content.decode()
    assert "the doctor said so too. Call me on (0161) 496 0000." in html  # the preview turns
    assert "Phone numbers</strong>: 1 found, 0 to be replaced" in html
    assert not Document.objects.exists()

    done = alice.post(review_url, {**form_state(updated), "confirm": "1"}, follow=True)
    assert "Imported 1 transcript" in done.content.decode()
    document = Document.objects.get()
    text = document.text
    assert "Dr. Okafor" not in text and "Amara" not in text and "Callum" not in text
    assert "the doctor said so too. Call me on (0161) 496 0000." in text
    assert "Email [EMAIL] or see www.example.org/loans." in text
    speakers = [
        (t.speaker, t.participant.code if t.participant else None) for t in document.turns.all()
    ]
    assert speakers == [("Facilitator", None), ("P05", "P05"), ("P06", "P06")]
    for turn in document.turns.all():
        assert text[turn.start : turn.end].strip()
    assert text[document.turns.get(seq=2).start :].startswith("Thanks. [P06]")
    assert not PendingImport.objects.exists()
    assert not Pseudonym.objects.exists()  # the study does not keep the mapping


@pytest.mark.parametrize(
    ("workshop", "filename", "text", "found", "context", "gone"),
    [
        (
            "FI-1",
            "FI-1.txt",
            FI_TEXT,
            "Mikolle",
            "aiemmin, ja <mark>Mikolle</mark> sanoin",
            "Mikko",
        ),
        ("DE-1", "DE-1.txt", DE_TEXT, "Annas", "Ja. <mark>Annas</mark> Bewerbung", "Jürgen"),
        ("GB-1", "GB-1.txt", EN_TEXT, "Amara&#x27;s", "<mark>Amara&#x27;s</mark> point", "Amara"),
    ],
)
def test_each_language_is_reviewed_and_imported_pseudonymised(
    study: Study,
    alice: Client,
    workshop: str,
    filename: str,
    text: str,
    found: str,
    context: str,
    gone: str,
) -> None:
    review_url = upload(alice, study, workshop, filename, text)
    review = alice.get(review_url)
    assert context in review.content.decode()
    done = alice.post(review_url, {**form_state(review), "confirm": "1"}, follow=True)
    assert "Imported 1 transcript" in done.content.decode()
    document = Document.objects.get()
    assert gone not in document.text and "[P0" in document.text
    assert all(t.participant or t.speaker in ("Fasilitaattori", "Moderatorin", "Facilitator")
               for t in document.turns.all())  # fmt: skip


def test_a_bad_replacement_is_shown_beside_its_row_and_nothing_is_imported(
    study: Study, alice: Client
) -> None:
    review_url = upload(alice, study, "GB-1", "GB-1.txt", EN_TEXT)
    review = alice.get(review_url)
    rows = rows_by_text(review)
    data = form_state(review)
    data[rows["Dr. Okafor"].field + "-with"] = "x" * 101
    data[rows["callum.b@example.co.uk"].field + "-with"] = "two\nlines"
    before = db_snapshot()
    refused = alice.post(review_url, {**data, "confirm": "1"})
    assert refused.status_code == 200
    html = refused.content.decode()
    assert "Nothing was imported: 2 replacements are not valid" in html
    assert "A replacement has at most 100 characters (101)." in html
    assert "A replacement is one line." in html
    rows = rows_by_text(refused)
    assert rows["Dr. Okafor"].error and rows["Dr. Okafor"].value == "x" * 101
    assert db_snapshot() == before
    assert PendingImport.objects.count() == 1
    # Emptied while ticked means the proposed replacement: that is fine.
    data[rows["Dr. Okafor"].field + "-with"] = ""
    data[rows["callum.b@example.co.uk"].field + "-with"] = "[MAIL]"
    alice.post(review_url, {**data, "confirm": "1"})
    text = Document.objects.get().text
    assert "and [P05] said so too" in text and "Email [MAIL] or" in text


def test_a_transcript_without_personal_data_says_so(study: Study, alice: Client) -> None:
    text = "Facilitator: Should a bank explain a refusal?\nFacilitator: Nobody? Then we stop.\n"
    review = alice.get(upload(alice, study, "GB-1", "GB-1.txt", text))
    assert "No personal data found" in review.content.decode()


def test_names_on_the_private_list_are_found_in_the_review(study: Study, alice: Client) -> None:
    add_private_names(study=study, names=["Leena Salo"], kind="name")
    add_private_names(study=study, names=["Nokia"], kind="organisation")
    text = (
        "Fasilitaattori: Kiitos.\n\nAino: Olin Nokialla töissä, ja Leena Salon tiimi oli siellä.\n"
    )
    review = alice.get(upload(alice, study, "FI-1", "FI-1.txt", text))
    rows = rows_by_text(review)
    assert rows["Nokialla"].value == "[ORGANISATION]"
    assert rows["Leena Salon"].value == "[NAME]"
    assert "Names from the private list" in review.content.decode()


def test_many_findings_fold_into_their_kinds(study: Study, alice: Client) -> None:
    lines = [f"Callum: Write to person{n}@example.org today.\n" for n in range(120)]
    review = alice.get(upload(alice, study, "GB-1", "GB-1.txt", "".join(lines)))
    html = review.content.decode()
    assert "E-mail addresses</strong>: 120 found, 120 to be replaced" in html
    emails = html.split("<strong>E-mail addresses</strong>")[0].rsplit("<details", 1)[1]
    assert "open" not in emails  # folded: the summary gives the counts


def test_a_review_with_hundreds_of_findings_can_be_imported(study: Study, alice: Client) -> None:
    """Two fields a finding: 600 findings post over Django's default limit of 1,000 fields."""
    lines = [f"Callum: Write to person{n}@example.org today.\n" for n in range(600)]
    review_url = upload(alice, study, "GB-1", "GB-1.txt", "".join(lines))
    review = alice.get(review_url)
    data = form_state(review)
    assert len(data) > 1000
    done = alice.post(review_url, {**data, "confirm": "1"})
    assert done.status_code == 302
    stored = Document.objects.get(study=study).text
    assert "@example.org" not in stored and stored.count("[EMAIL]") == 600


# --- The privacy page ---------------------------------------------------------------------


def test_only_owners_open_the_privacy_page(study: Study, people: dict[str, User]) -> None:
    url = reverse("studies:privacy", args=[study.slug])
    assert client_for(people["alice"]).get(url).status_code == 200
    assert client_for(people["bob"]).get(url).status_code == 403
    assert client_for(people["victor"]).get(url).status_code == 403
    assert client_for(people["mallory"]).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 302
    assert (
        client_for(people["bob"]).post(url, {"action": "clear", "confirm": "on"}).status_code == 403
    )
    overview = reverse("studies:overview", args=[study.slug])
    assert url in client_for(people["alice"]).get(overview).content.decode()
    assert url not in client_for(people["bob"]).get(overview).content.decode()


def test_names_added_are_never_shown_back(study: Study, alice: Client) -> None:
    url = reverse("studies:privacy", args=[study.slug])
    typed = alice.post(
        url, {"action": "add", "names": "Leena Salo\nKallion terveysasema\n\n", "kind": "place"}
    )
    assert typed.status_code == 302
    upload_file = SimpleUploadedFile("staff.csv", "Matti Meikäläinen,HR\nOuti Ojala,IT\n".encode())
    filed = alice.post(url, {"action": "add", "file": upload_file, "kind": "name"}, follow=True)
    html = filed.content.decode()
    assert "Added 2 names to the private list." in html
    assert PrivateName.objects.filter(study=study).count() == 4
    page = alice.get(url).content.decode()
    for name in ("Leena", "Salo", "Kallion", "Matti", "Meikäläinen", "Outi", "Ojala"):
        assert name not in page
    assert re.search(r"<dt>Names</dt><dd>2</dd>", page)
    assert re.search(r"<dt>Places</dt><dd>2</dd>", page)
    # A bad line refuses the whole list, naming the line.
    bad = alice.post(url, {"action": "add", "names": "Ok Name\n" + "a " * 7, "kind": "name"})
    assert "line 2: a name of at most 6 words" in bad.content.decode()
    assert PrivateName.objects.filter(study=study).count() == 4
    empty = alice.post(url, {"action": "add", "names": " \n", "kind": "name"})
    assert "Type some names or choose a file of names." in empty.content.decode()


def test_one_name_is_removed_by_typing_it_and_the_whole_list_with_confirmation(
    study: Study, alice: Client
) -> None:
    add_private_names(study=study, names=["Leena Salo", "Nokia", "Outi"], kind="name")
    url = reverse("studies:privacy", args=[study.slug])
    unknown = alice.post(url, {"action": "remove", "name": "Pekka"})
    assert "That name is not on the private list." in unknown.content.decode()
    done = alice.post(url, {"action": "remove", "name": "  leena   SALO "}, follow=True)
    assert "Removed the name from the private list." in done.content.decode()
    assert PrivateName.objects.filter(study=study).count() == 2
    unconfirmed = alice.post(url, {"action": "clear"})
    assert unconfirmed.status_code == 200
    assert PrivateName.objects.filter(study=study).count() == 2
    cleared = alice.post(url, {"action": "clear", "confirm": "on"}, follow=True)
    assert "Removed the whole private list (2 names)." in cleared.content.decode()
    assert not PrivateName.objects.filter(study=study).exists()
    assert AuditEvent.objects.filter(study=study, action=AuditEvent.Action.PRIVACY).count() == 3


def test_the_mapping_is_kept_shown_to_owners_and_deleted_when_turned_off(
    study: Study, alice: Client
) -> None:
    url = reverse("studies:privacy", args=[study.slug])
    assert alice.post(url, {"action": "keep", "keep": "on"}).status_code == 302
    study.refresh_from_db()
    assert study.keep_pseudonyms
    review_url = upload(alice, study, "GB-1", "GB-1.txt", EN_TEXT)
    alice.post(review_url, {**form_state(alice.get(review_url)), "confirm": "1"})
    kept = {(p.original, p.replacement) for p in Pseudonym.objects.filter(study=study)}
    assert ("Dr. Okafor", "[P05]") in kept and ("callum.b@example.co.uk", "[EMAIL]") in kept
    page = alice.get(url).content.decode()
    assert "What each pseudonym replaced" in page
    assert "<td>Dr. Okafor</td><td>[P05]</td><td>participant name</td>" in page

    # Turning it off asks first, then deletes the mapping and says so.
    unconfirmed = alice.post(url, {"action": "keep"})
    assert "Turning this off deletes the" in unconfirmed.content.decode()
    assert Pseudonym.objects.filter(study=study).exists()
    n = Pseudonym.objects.filter(study=study).count()
    off = alice.post(url, {"action": "keep", "confirm": "on"}, follow=True)
    assert f"no longer kept; {n} kept replacements deleted." in off.content.decode()
    assert not Pseudonym.objects.filter(study=study).exists()
    study.refresh_from_db()
    assert not study.keep_pseudonyms
    assert "Dr. Okafor" not in off.content.decode()
    assert AuditEvent.objects.filter(
        study=study, summary__startswith="Turned off keeping the mapping"
    ).exists()


# --- The API ------------------------------------------------------------------------------


def api_upload(client: Client, study: Study, **fields: str) -> object:
    return client.post(
        f"/api/v1/studies/{study.slug}/imports/transcripts/",
        {"workshop": "GB-1", "files": [SimpleUploadedFile("GB-1.txt", EN_TEXT.encode())], **fields},
    )


def test_the_api_imports_transcripts_pseudonymised(study: Study, alice: Client) -> None:
    preview = api_upload(alice, study, pseudonymise="true")
    assert preview.status_code == 200, preview.content
    [file] = preview.json()["files"]
    findings = {f["text"]: f for f in file["pseudonymised"]["findings"]}
    assert findings["Dr. Okafor"]["replacement"] == "[P05]" and findings["Dr. Okafor"]["replaced"]
    labels = [f["text"] for f in file["pseudonymised"]["findings"] if f["speaker_label"]]
    assert labels == ["Amara", "Callum"]
    assert file["pseudonymised"]["report"].startswith("replaced")
    assert not Document.objects.exists()

    done = api_upload(alice, study, pseudonymise="true", confirm="1")
    assert done.status_code == 200, done.content
    [document] = done.json()["documents"]
    assert document["pseudonymised"].startswith("replaced 1 e-mail address")
    assert "Dr. Okafor" not in Document.objects.get().text


def test_the_api_without_pseudonymise_stores_the_text_as_it_is(study: Study, alice: Client) -> None:
    done = api_upload(alice, study, confirm="1")
    assert "pseudonymised" not in done.json()["documents"][0]
    assert "Dr. Okafor" in Document.objects.get().text


def test_the_api_private_list(study: Study, people: dict[str, User]) -> None:
    url = f"/api/v1/studies/{study.slug}/private-names/"
    alice = client_for(people["alice"])
    assert alice.get(url).json() == {
        "counts": {"name": 0, "place": 0, "organisation": 0},
        "total": 0,
    }
    added = alice.post(
        url, {"names": ["Leena Salo", "Nokia", "nokia"], "kind": "organisation"}, "application/json"
    )
    assert added.status_code == 200
    assert added.json()["summary"] == "Added 2 organisations to the private list."
    assert added.json()["counts"]["organisation"] == 2
    assert "Leena" not in alice.get(url).content.decode()
    bad = alice.post(url, {"names": ["Fine", "a b c d e f g"]}, "application/json")
    assert bad.status_code == 400
    assert "names, line 2: a name of at most 6 words" in bad.json()["names"][0]
    wrong_kind = alice.post(url, {"names": ["X"], "kind": "pet"}, "application/json")
    assert wrong_kind.status_code == 400 and "kind" in wrong_kind.json()
    assert PrivateName.objects.filter(study=study).count() == 2
    for name, expected in (("bob", 403), ("victor", 403), ("mallory", 404)):
        assert client_for(people[name]).get(url).status_code == expected
        refused = client_for(people[name]).post(url, {"names": ["Z"]}, "application/json")
        assert refused.status_code == expected
    assert client_for(None).get(url).status_code in (401, 403)
