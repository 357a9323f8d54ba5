"""The audit trail: each kind of action, done through the pages, the API and the commands, is
listed on the owners' audit page with who did it and through what; the filters, the .csv and
the API read the same list; events outlive the study; a rolled-back change leaves none.

Alice owns the study, Bob codes, Victor views, Mallory is an outsider (tests/conftest.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import html as html_lib
import io
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from coding.models import Code, Coding
from studies.models import AuditEvent, Document, Study
from tests.conftest import ROSTER, Case
from tests.helpers import client_for
from tests.test_transcript_import import FI_TXT
from tests.test_xlsform import xlsform

API = "/api/v1/studies/adm"
PAGE = "/studies/adm/audit/"
CSV = "/studies/adm/audit/audit.csv"


def send(client: object, method: str, url: str, data: object) -> object:
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


def page_rows(client: object, query: str = "") -> list[tuple[str, str, str, str]]:
    """The audit table as (person, channel, kind, what), top to bottom, tags removed."""
    response = client.get(PAGE + query)
    assert response.status_code == 200
    body = response.content.decode()
    table = re.search(r'<table class="data audit">.*?<tbody>(.*?)</tbody>', body, re.DOTALL)
    if table is None:
        return []
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.DOTALL):
        cells = [
            html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", cell).split()))
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        rows.append(tuple(cells[1:]))
    return rows


def assert_listed(
    rows: list[tuple[str, ...]], person: str, channel: str, kind: str, what: str
) -> None:
    """A row by `person` through `channel` of `kind` whose summary contains `what`."""
    found = any(row[:3] == (person, channel, kind) and what in row[3] for row in rows)
    assert found, f"no ({person}, {channel}, {kind}, ...{what}...) in:\n" + "\n".join(
        map(str, rows)
    )


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


# --- Each kind of action, through the real paths ---------------------------------------------


def test_the_page_lists_each_kind_of_action_with_its_person_and_channel(
    roster_study: Study, case: Case, people: dict[str, User], tmp_path: Path
) -> None:
    alice, bob, victor = (client_for(people[name]) for name in ("alice", "bob", "victor"))

    # Study (API): blind coding on.
    assert send(alice, "patch", f"{API}/", {"blind_coding": True}).status_code == 200
    # Import (command): a transcript into FI-1.
    (tmp_path / "FI-1.txt").write_text(FI_TXT, encoding="utf-8")
    call_command(
        "import_transcripts",
        "--study=adm",
        "--workshop=FI-1",
        str(tmp_path / "FI-1.txt"),
        stdout=io.StringIO(),
    )
    document = Document.objects.get(title="FI-1")
    # Codebook (API): a code made, then renamed.
    made = send(alice, "post", f"{API}/codes/", {"name": "trust", "parent": None})
    assert made.status_code == 201, made.content
    code_id = made.json()["id"]
    assert send(alice, "patch", f"{API}/codes/{code_id}/", {"name": "trust in AI"}).status_code
    # Coding (API): Bob codes two passages and removes one.
    for start, end in [(0, 10), (20, 30)]:
        coded = send(
            bob,
            "post",
            "/api/v1/codings/",
            {"document": document.pk, "code": code_id, "start": start, "end": end},
        )
        assert coded.status_code == 201, coded.content
    assert bob.delete(f"/api/v1/codings/{coded.json()['id']}/").status_code == 204
    # Adjudication (page): Alice takes Carol's coding of a sentence of the hiring session.
    start, end = case.unit(3)
    url = reverse("coding:side_by_side", args=["adm", case.document.pk]) + "?a=bob&b=carol"
    alice.post(
        url, {"start": start, "end": end, "code": case.codes["accuracy"].pk, "decision": "b"}
    )
    # Exports: a table on the page, a file through the API, the pack by command.
    download = reverse("exports:download", args=["adm", "csv"]) + "?table=frequencies"
    assert alice.get(download).status_code == 200
    assert bob.get(f"{API}/exports/crosstab.xlsx?by=country").status_code == 200
    call_command("export", "--study=adm", "--pack", "-o", str(tmp_path / "pack.zip"))
    # Members and roles (page): Victor becomes a coder.
    membership = roster_study.memberships.get(user=people["victor"])
    members = reverse("studies:members", args=["adm"])
    alice.post(members, {"action": "role", "membership": membership.pk, "role": "coder"})
    # Survey (command): an XLSForm.
    (tmp_path / "pre.xlsx").write_bytes(xlsform())
    call_command("import_survey", "--study=adm", str(tmp_path / "pre.xlsx"), stdout=io.StringIO())
    # Withdrawal (command): P03 withdraws.
    call_command("withdraw", "--study=adm", "P03", "--yes", stdout=io.StringIO())
    # Privacy (page): a name on the private list.
    privacy = reverse("studies:privacy", args=["adm"])
    alice.post(privacy, {"action": "add", "names": "Leena Salo", "kind": "name"})

    rows = page_rows(alice)

    assert_listed(rows, "alice", "API", "Study changed", "Turned blind coding on")
    assert_listed(rows, "—", "Command", "Import", "Imported 1 transcript into FI-1 (")
    assert_listed(rows, "alice", "API", "Codebook changed", "Created the code 'trust'")
    assert_listed(rows, "alice", "API", "Codebook changed", "Renamed code 'trust' to 'trust in AI'")
    assert_listed(rows, "bob", "—", "Coding", "bob coded 1 passage in FI-1")  # one is left
    assert_listed(rows, "bob", "API", "Coding", "Removed 1 coding of 'trust in AI' from FI-1")
    assert_listed(rows, "alice", "Web", "Adjudication", "Adjudicated 'accuracy' in Hiring session")
    assert_listed(rows, "alice", "Web", "Export", "Exported the frequencies table as .csv")
    assert_listed(rows, "bob", "API", "Export", "Exported the crosstab table as .xlsx")
    assert_listed(rows, "—", "Command", "Export", "Exported the paper pack as .zip")
    assert_listed(rows, "alice", "Web", "Members and roles", "Changed victor's role from viewer")
    assert_listed(rows, "—", "Command", "Survey", "Imported the survey pre_workshop from pre.xlsx")
    assert_listed(rows, "—", "Command", "Withdrawal", "P03")
    assert_listed(rows, "alice", "Web", "Privacy", "Added 1 name to the private list")
    # Newest first; the coding line sits among the events by the time of its latest coding.
    times = [e.created_at for e in AuditEvent.objects.filter(study=roster_study)]
    assert rows[0][3] == AuditEvent.objects.filter(study=roster_study).first().summary
    assert (
        len(rows)
        == len(times)
        + Coding.objects.values("document", "coder", "consensus").order_by().distinct().count()
    )
    coded_at = rows.index(next(r for r in rows if r[3] == "bob coded 1 passage in FI-1"))
    removed_at = rows.index(next(r for r in rows if r[3].startswith("Removed 1 coding")))
    assert removed_at < coded_at  # removed after it was coded: higher up
    # The page is not shown to Victor, now a coder.
    assert victor.get(PAGE).status_code == 403


def test_imports_members_and_the_study_through_pages_and_api_are_listed(
    study: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    roster = SimpleUploadedFile("roster.csv", ROSTER.encode(), content_type="text/csv")
    assert alice.post(f"{API}/imports/roster/?confirm=1", {"file": roster}).status_code == 200
    transcript = SimpleUploadedFile("FI-1.txt", FI_TXT.encode(), content_type="text/plain")
    imported = alice.post(
        f"{API}/imports/transcripts/?confirm=1", {"workshop": "FI-1", "files": [transcript]}
    )
    assert imported.status_code in (200, 201), imported.content
    carol = User.objects.create_user("carol", "carol@example.org", "pw")
    assert send(alice, "post", f"{API}/memberships/", {"username": "carol", "role": "coder"})
    assert alice.post(reverse("studies:archive", args=["adm"])).status_code == 302
    assert alice.post(reverse("studies:restore", args=["adm"])).status_code == 302
    document = study.documents.get()
    assert send(alice, "patch", f"{API}/documents/{document.pk}/", {"title": "Helsinki"})

    rows = page_rows(alice)

    assert_listed(rows, "alice", "API", "Import", "Imported the roster roster.csv: 2 new workshops")
    assert_listed(rows, "alice", "API", "Import", "Imported 1 transcript into FI-1")
    assert_listed(rows, "alice", "API", "Members and roles", "Added carol as coder")
    assert_listed(rows, "alice", "Web", "Study changed", "Archived the study")
    assert_listed(rows, "alice", "Web", "Study changed", "Restored the study")
    assert_listed(
        rows, "alice", "API", "Study changed", "Renamed the document 'FI-1' to 'Helsinki'"
    )
    assert carol.pk


def test_each_action_is_one_event(document: Document, people: dict[str, User]) -> None:
    """A REFI-QDA project import applies a codebook and a roster inside it: one event."""
    alice = client_for(people["alice"])
    before = AuditEvent.objects.count()
    response = alice.get(f"{API}/qdpx/")
    assert response.status_code == 200
    assert AuditEvent.objects.count() == before + 1
    assert AuditEvent.objects.first().summary == "Exported the REFI-QDA project as .qdpx"


# --- Filters, pages and the .csv --------------------------------------------------------------


@pytest.fixture
def trail(codes: dict[str, Code], document: Document, people: dict[str, User]) -> Study:
    """Events by command (roster, transcript, codes), Alice's rename a week ago through the
    API, and Bob's codings."""
    study = document.study
    alice = client_for(people["alice"])
    code = codes["negotiability"]
    assert send(alice, "patch", f"{API}/codes/{code.pk}/", {"name": "negotiation"}).status_code
    AuditEvent.objects.filter(summary__startswith="Renamed").update(
        created_at=timezone.now() - dt.timedelta(days=7)
    )
    Coding.objects.create(document=document, code=code, coder=people["bob"], start=0, end=5)
    return study


def test_the_filters_narrow_the_list(trail: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    week_ago = (timezone.localdate() - dt.timedelta(days=7)).isoformat()
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()

    by_kind = page_rows(alice, "?kind=codebook")
    by_person = page_rows(alice, "?person=bob")
    by_days = page_rows(alice, f"?since={week_ago}&until={yesterday}")
    today = page_rows(alice, f"?since={timezone.localdate().isoformat()}")
    coding = page_rows(alice, "?kind=coding&person=alice")

    assert {row[2] for row in by_kind} == {"Codebook changed"}
    assert len(by_kind) == 4  # three codes made, one renamed
    assert by_person == [("bob", "—", "Coding", "bob coded 1 passage in FI-1")]
    assert by_days == [
        ("alice", "API", "Codebook changed", "Renamed code 'negotiability' to 'negotiation'")
    ]
    assert not any("Renamed" in row[3] for row in today)
    assert coding == []
    body = alice.get(PAGE + "?kind=coding&person=alice").content.decode()
    assert "Nothing matches these filters" in body


def test_a_bad_filter_is_named_and_left_out(trail: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    response = alice.get(PAGE + "?since=31.12.2025&kind=teleport")
    body = html_lib.unescape(response.content.decode())
    assert response.status_code == 200
    assert "since: “31.12.2025” is not a date like 2026-03-31." in body
    assert "kind: there is no kind of action “teleport”" in body
    assert len(page_rows(alice, "?since=31.12.2025")) == len(page_rows(alice))
    assert alice.get(CSV + "?since=yesterday").status_code == 400
    api = alice.get(f"{API}/audit/?since=yesterday&kind=x")
    assert api.status_code == 400
    assert api.json()["since"] == ["“yesterday” is not a date like 2026-03-31."]
    assert "kind" in api.json()


def test_the_page_has_pages_of_a_hundred(trail: Study, people: dict[str, User]) -> None:
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(study=trail, study_slug="adm", action="export", summary=f"Export {n}")
            for n in range(120)
        ]
    )
    alice = client_for(people["alice"])
    first = alice.get(PAGE + "?kind=export").content.decode()
    assert "Page 1 of 2" in first
    assert 'href="?kind=export&amp;page=2"' in first
    assert len(page_rows(alice, "?kind=export&page=2")) == 20


def test_the_csv_has_the_filters_of_the_page_and_defuses_formulas(
    trail: Study, people: dict[str, User]
) -> None:
    # A username may start with @ (Django allows it); a spreadsheet would read "@eve coded ..."
    # as a formula.
    eve = User.objects.create_user("@eve", "eve@example.org", "pw")
    trail.memberships.create(user=eve, role="coder")
    code = Code.objects.get(name="negotiation")
    Coding.objects.create(document=trail.documents.get(), code=code, coder=eve, start=6, end=9)
    alice = client_for(people["alice"])

    page = alice.get(PAGE + "?kind=coding").content.decode()
    response = alice.get(CSV + "?kind=coding")

    assert f'href="{CSV}?kind=coding"' in page
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="adm-audit.csv"' in response["Content-Disposition"]
    rows = csv_rows(response.content)
    assert list(rows[0]) == ["time", "person", "channel", "kind", "summary", "details"]
    assert sorted(row["summary"] for row in rows) == [
        "'@eve coded 1 passage in FI-1",
        "bob coded 1 passage in FI-1",
    ]
    eves = next(row for row in rows if row["person"] == "'@eve")
    assert eves["kind"] == "coding" and eves["channel"] == ""
    assert json.loads(eves["details"])["codings"] == 1
    dt.datetime.fromisoformat(eves["time"])
    # Downloading the trail is itself an export.
    assert AuditEvent.objects.first().summary == "Exported the audit trail as .csv"


def test_the_api_lists_the_same_trail_with_the_same_filters(
    trail: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    body = alice.get(f"{API}/audit/?kind=codebook&person=alice").json()
    assert body["count"] == 1 and body["next"] is None
    [entry] = body["results"]
    assert entry["person"] == "alice" and entry["channel"] == "api"
    assert entry["kind"] == "codebook" and entry["kind_label"] == "Codebook changed"
    assert entry["summary"] == "Renamed code 'negotiability' to 'negotiation'"
    coding = alice.get(f"{API}/audit/?person=bob").json()["results"]
    assert [(e["kind"], e["channel"], e["summary"]) for e in coding] == [
        ("coding", None, "bob coded 1 passage in FI-1")
    ]
    everything = alice.get(f"{API}/audit/").json()
    assert everything["count"] == len(page_rows(alice))


# --- Who sees it ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [PAGE, CSV, f"{API}/audit/"])
def test_only_owners_see_the_trail(trail: Study, people: dict[str, User], url: str) -> None:
    got = {
        name: client_for(people[name]).get(url).status_code
        for name in ("mallory", "victor", "bob", "alice")
    }
    assert got == {"mallory": 404, "victor": 403, "bob": 403, "alice": 200}
    anonymous = client_for(None).get(url)
    assert anonymous.status_code in (302, 401, 403)


def test_owners_find_the_trail_from_the_overview(study: Study, people: dict[str, User]) -> None:
    overview = reverse("studies:overview", args=["adm"])
    assert f'href="{PAGE}"' in client_for(people["alice"]).get(overview).content.decode()
    assert f'href="{PAGE}"' not in client_for(people["bob"]).get(overview).content.decode()


def test_an_archived_studys_owners_still_read_the_trail(
    trail: Study, people: dict[str, User]
) -> None:
    alice = client_for(people["alice"])
    alice.post(reverse("studies:archive", args=["adm"]))
    assert_listed(page_rows(alice), "alice", "Web", "Study changed", "Archived the study")


# --- Durability -----------------------------------------------------------------------------


def test_events_outlive_the_deleted_study(trail: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    recorded = AuditEvent.objects.filter(study=trail).count()

    response = alice.delete(f"{API}/?confirm=Algorithmic decision-making")

    assert response.status_code == 200, response.content
    assert not Study.objects.filter(slug="adm").exists()
    kept = AuditEvent.objects.filter(study_slug="adm")
    assert kept.count() == recorded + 1
    assert not kept.filter(study__isnull=False).exists()
    last = kept.first()
    assert (last.username, last.via, last.action) == ("alice", "api", "study")
    assert last.summary.startswith("Deleted the study 'Algorithmic decision-making' (")


def test_a_refused_import_records_nothing(roster_study: Study, people: dict[str, User]) -> None:
    before = AuditEvent.objects.count()
    bad = ROSTER.replace("P05,GB-1,GB", "P05,GB-1,Atlantis")
    roster = SimpleUploadedFile("roster.csv", bad.encode(), content_type="text/csv")
    response = client_for(people["alice"]).post(
        f"{API}/imports/roster/?confirm=1", {"file": roster}
    )
    assert response.status_code == 400
    assert AuditEvent.objects.count() == before


def test_a_change_rolled_back_after_its_event_leaves_no_event(
    trail: Study, people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event is written inside the change's transaction: when the change fails after it,
    the event goes with it."""

    def fail(obj: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("studies.services._delete_with_files", fail)
    before = list(AuditEvent.objects.values_list("pk", flat=True))
    alice = client_for(people["alice"])
    alice.raise_request_exception = True
    with pytest.raises(RuntimeError):
        alice.delete(f"{API}/?confirm=Algorithmic decision-making")
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == before
    assert Study.objects.filter(slug="adm").exists()


def test_a_rolled_back_transcript_import_records_nothing(
    roster_study: Study, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("studies.services.insert_rows", fail)
    (tmp_path / "FI-1.txt").write_text(FI_TXT, encoding="utf-8")
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError):
        call_command(
            "import_transcripts",
            "--study=adm",
            "--workshop=FI-1",
            str(tmp_path / "FI-1.txt"),
            stdout=io.StringIO(),
        )
    assert AuditEvent.objects.count() == before
    assert not Document.objects.exists()
